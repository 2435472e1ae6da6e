"""``inv diff ENV_A ENV_B``: per component, the same or different, with the commits between.

Both environments' current lockfiles are read. A component is the same when
both locked the same SHA; otherwise, when both come from the same repo, the
commits in each direction are listed from the repo's mirror.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import DeployError
from ..lockfile import LockedFile, current
from ..root import DeployRoot


def diff(root: DeployRoot, a: str, b: str) -> dict[str, Any]:
    from ..git import repo_url
    from ..mirror import Mirror

    sides: dict[str, LockedFile] = {}
    for env in (root.environment(a), root.environment(b)):
        locked = current(root, env)
        if locked is None:
            raise DeployError(f"{env} has no lockfile: nothing is known to be deployed")
        sides[env] = locked
    la, lb = sides[a].lock, sides[b].lock
    components: dict[str, Any] = {}
    for name in dict.fromkeys([*la.sources, *lb.sources]):
        sa, sb = la.sources.get(name), lb.sources.get(name)
        entry: dict[str, Any] = {
            "same": bool(sa and sb and sa.sha == sb.sha),
            "a": {"sha": sa.sha, "version": sa.version, "ref": sa.ref} if sa else None,
            "b": {"sha": sb.sha, "version": sb.version, "ref": sb.ref} if sb else None,
        }
        if sa and sb and sa.sha != sb.sha and sa.repo == sb.repo:
            mirror = Mirror(root.cache, repo_url(sa.repo, root.path))
            if mirror.ensure_commit(sa.sha) and mirror.ensure_commit(sb.sha):
                entry["commits_a_to_b"] = [{"sha": s, "subject": m}
                                           for s, m in mirror.log_between(sa.sha, sb.sha)]
                entry["commits_b_to_a"] = [{"sha": s, "subject": m}
                                           for s, m in mirror.log_between(sb.sha, sa.sha)]
        components[name] = entry
    return {"a": a, "b": b, "lockfiles": {a: sides[a].name, b: sides[b].name},
            "components": components}
