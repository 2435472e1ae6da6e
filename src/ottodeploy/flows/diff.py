"""``inv diff ENV_A ENV_B``: per component, the same or different, with the commits between.

Both environments' current lockfiles are read. A component is the same when both
locked the same SHA and every artifact of it has the same content digest on both
sides: the same commit built into other bytes is a difference (``"bytes": "differ"``,
with the differing artifacts' digests on both sides). When the SHAs differ and both
come from the same repo, the commits in each direction are listed from its mirror.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import DeployError
from ..lockfile import LockedFile, artifact_digests, component_of, current
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
    da, db = artifact_digests(la), artifact_digests(lb)
    components: dict[str, Any] = {}
    for name in dict.fromkeys([*la.sources, *lb.sources]):
        sa, sb = la.sources.get(name), lb.sources.get(name)
        tasks = sorted({t for t in [*da, *db] if component_of(t) == name})
        bytes_differ = {t: {"a": da.get(t), "b": db.get(t)} for t in tasks
                        if da.get(t) and db.get(t) and da.get(t) != db.get(t)}
        entry: dict[str, Any] = {
            "same": bool(sa and sb and sa.sha == sb.sha and not bytes_differ),
            "a": {"sha": sa.sha, "version": sa.version, "ref": sa.ref,
                  "artifacts": {t: da.get(t) for t in tasks if t in da}} if sa else None,
            "b": {"sha": sb.sha, "version": sb.version, "ref": sb.ref,
                  "artifacts": {t: db.get(t) for t in tasks if t in db}} if sb else None,
        }
        if bytes_differ:
            entry["bytes"] = "differ"
            entry["artifacts"] = bytes_differ
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
