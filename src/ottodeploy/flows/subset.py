"""``inv deploy ENV --only C[,C]``: deploy some components, carry the rest over (SPEC §3a).

The named components are resolved as the manifest says, built (or verified) with what
they need, and deployed; smoke and e2e run in full. Everything else the new lockfile
says — the other sources, their artifacts' digests and build keys, their components'
entries — is carried over unchanged from the environment's newest lockfile, which must
be healthy: it is the record of what runs there, so the new lockfile again names exactly
what runs. What the named components are built with comes from the same carried
sources (``--only services`` builds the services against the sdk that runs), and the
compatibility matrix is checked on that combination.

Refused: a name that is not a source of the environment with a deploy step (exit 2),
and an environment whose newest lockfile is missing or not healthy (exit 1: deploy it
whole). Where the environment requires approval, the carried lockfile must be the
committed record a replay would need (``replayable``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..artifacts import Recorded
from ..core.errors import DeployError, UsageError
from ..core.lockmodels import LockedArtifact, Lockfile
from ..core.sources import Resolution, ResolvedSource
from ..environment import OpenEnvironment
from ..lockfile import LockedFile, current
from ..root import DeployRoot


def named(opened: OpenEnvironment, only: Iterable[str]) -> tuple[str, ...]:
    """The components ``--only`` names, comma-separated or repeated, checked."""
    names = tuple(dict.fromkeys(n.strip() for item in only for n in item.split(",") if n.strip()))
    project = opened.project
    deployable = [c for c in project.graph.component_order
                  if c in project.environment.sources
                  and (spec := project.components.components[c].deploy) is not None
                  and spec.on != "none" and spec.run is not None]
    wrong = [n for n in names if n not in deployable]
    if not names or wrong:
        what = f"{wrong[0]!r} is not a component {opened.name} deploys" if wrong else \
            "names no component"
        raise UsageError(f"--only {what}", hint="components with a deploy step in "
                         f"{opened.name}: {', '.join(deployable) or 'none'}")
    return names


def carried_lockfile(root: DeployRoot, env: str) -> LockedFile:
    """The environment's newest lockfile, which must be healthy: the rest is carried from it."""
    newest = current(root, env)
    if newest is None or newest.lock.status != "healthy":
        why = f"{env} has no lockfile" if newest is None else \
            f"{env}'s newest lockfile {newest.name} is {newest.lock.status}"
        raise DeployError(f"--only carries the other components over from {env}'s current "
                          f"healthy lockfile, and {why}",
                          hint=f"deploy the whole environment: inv deploy {env}")
    return newest


def mixed(resolution: Resolution, carried: Lockfile, only: Sequence[str]) -> Resolution:
    """The named components as resolved now; every other source as the lockfile has it."""
    sources: dict[str, ResolvedSource] = {}
    for name, now in resolution.sources.items():
        locked = carried.sources.get(name)
        if name in only or locked is None:
            sources[name] = now
        else:
            sources[name] = now._replace(
                repo=locked.repo, pin=locked.pinned_by or now.pin,
                ref=locked.ref or locked.sha, sha=locked.sha,
                version=(locked.version or now.version) if locked.sha == now.sha
                else (locked.version or ""), tags_digest="")
    missing = [n for n, s in sources.items() if not s.version]
    if missing:
        raise DeployError(f"the current lockfile names no version for {', '.join(missing)}",
                          hint="deploy the whole environment")
    return Resolution(resolution.environment, sources)


def tasks(opened: OpenEnvironment, only: Sequence[str]) -> list[str]:
    """The build tasks of the named components (doit adds what they need)."""
    return [t for c in only for t in opened.project.graph.tasks_of(c)]


def lockfile_fields(opened: OpenEnvironment, carried: LockedFile, built: Recorded,
                    only: Sequence[str]) -> dict[str, Any]:
    """The new lockfile's artifacts, build keys and components: built ones, then carried."""
    graph = opened.project.graph
    mine = graph.upstream(tasks(opened, only))
    artifacts: dict[str, Any] = dict(built.entries)
    keys = {t: opened.specs[t].key for t in mine}
    for task, entry in carried.lock.artifacts.items():
        if task not in mine:
            artifacts[task] = entry.model_dump(exclude_none=True) \
                if isinstance(entry, LockedArtifact) else entry
    for task, key in carried.lock.build_keys.items():
        keys.setdefault(task, key)
    components = {name: {"deployed": "unchanged",
                         **({"fingerprint": c.fingerprint} if c.fingerprint else {})}
                  for name, c in carried.lock.components.items() if name not in only}
    return {"artifacts": artifacts, "build_keys": keys, "components": components,
            "carried_from": carried.name}
