"""``ci-matrix``: the tasks a CI run must build, in waves a workflow can fan out.

The environment is resolved and every task's build key computed as for a build
(``environment.open_environment``). Which tasks run:

- by default, what ``plan`` says from this machine's records (never built, a
  changed key, missing outputs, an image to retag);
- with ``--since LOCKFILE``, every task whose key differs from the lockfile's
  ``build_keys`` entry or that has none. CI runners share nothing but the
  registry, so the last lockfile is their only memory. A build key holds
  the keys of everything upstream, so a commit anywhere changes the key of each
  task below it: comparing keys alone finds the whole affected set.

Either way, a task whose key the registry already holds (the remote store, or an
image's ``bk-`` tag: another environment or run built the same sources) needs no
job: the jobs after it pull it by its key (``stored`` says where; one ``HEAD`` per
task, in parallel; an unreachable registry means it is built).

The tasks that run are grouped into waves: a task's wave is one more than the
deepest wave of the running tasks it depends on, directly or through tasks that
do not run (``graph.ArtifactGraph.waves``). So every wave needs only what
earlier waves built, and the tasks of one wave are independent of each other.

``sources`` gives every source's resolution as this run made it (repo, ref, sha,
version): a workflow hands the SHAs to its later jobs (``OTTODEPLOY_PINNED_SHAS``), so
they build and deploy exactly what was planned even when a branch moves meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.graph import ArtifactGraph
from ..environment import OpenEnvironment, open_environment
from ..lockfile import LockedFile, locate, read
from ..root import DeployRoot
from .build import plan_of


@dataclass(frozen=True)
class MatrixTask:
    task: str
    component: str
    artifact: str
    key: str
    sha: str
    version: str
    reason: str

    def to_json(self) -> dict[str, str]:
        # flat string values: each entry is one `matrix.include` row of a workflow
        return {"task": self.task, "component": self.component, "artifact": self.artifact,
                "key": self.key, "sha": self.sha, "version": self.version,
                "reason": self.reason}


@dataclass
class CiMatrix:
    environment: str
    since: str | None
    waves: list[list[MatrixTask]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)     # task -> where the registry has it

    @property
    def tasks(self) -> list[str]:
        return [t.task for wave in self.waves for t in wave]

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "since": self.since,
                "waves": [[t.to_json() for t in wave] for wave in self.waves],
                "skipped": self.skipped, "sources": self.sources, "stored": self.stored}


def ci_matrix(root: DeployRoot, env: str, since: str | None = None) -> CiMatrix:
    """The tasks of ``env`` that would run, in waves (see the module docstring)."""
    lockfile: LockedFile | None = read(root, locate(root, since)) if since else None
    opened = open_environment(root, env)
    specs = opened.specs
    reasons: dict[str, str] = {}
    if lockfile is None:
        for planned in plan_of(opened).tasks:
            if planned.run:
                reasons[planned.task] = "; ".join(planned.reasons)
    else:
        keys = lockfile.lock.build_keys
        for name, spec in specs.items():
            if name not in keys:
                reasons[name] = f"no build key in {lockfile.name}"
            elif keys[name] != spec.key:
                reasons[name] = f"build key differs from {lockfile.name}"

    stored = _in_registry(opened, sorted(reasons))
    for task in stored:
        del reasons[task]

    graph = ArtifactGraph(nodes={t.task: (t.component, t.artifact) for t in specs.values()},
                          deps={t.task: t.deps for t in specs.values()})
    waves = [[MatrixTask(t, specs[t].component, specs[t].artifact, specs[t].key, specs[t].sha,
                         specs[t].version, reasons[t]) for t in wave]
             for wave in graph.waves(reasons)]
    resolved = opened.resolution.sources if opened.resolution else {}
    sources = {n: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version}
               for n, s in resolved.items()}
    return CiMatrix(opened.name, lockfile.name if lockfile else None, waves,
                    [t for t in specs if t not in reasons], sources, stored)


def _in_registry(opened: OpenEnvironment, tasks: list[str]) -> dict[str, str]:
    """The ``tasks`` whose artifacts the registry holds by their current keys, and where."""
    from .. import engine
    from ..build import in_registry
    from ..process import parallel
    from ..reporting import Silent

    ctx = engine.context(engine.BuildRun(opened, Silent()))
    found = parallel(lambda task: in_registry(ctx, opened.specs[task]), tasks)
    return {task: ref for task, ref in zip(tasks, found, strict=True) if ref is not None}
