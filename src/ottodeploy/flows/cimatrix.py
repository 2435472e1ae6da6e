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

``fan_out`` says whether spreading the waves over runners can pay at all. The tasks of a
wave are independent, and one runner running ``inv deploy ENV --jobs N`` already builds N
of them at once; every fanned-out wave costs a job's start-up on top (a runner, checkout,
setup, install: about half a minute on GitHub, seconds under act) and the deploy job's own
start-up after the last wave. So in ``auto`` mode the waves fan out only when one of them
holds more tasks than ``runner_jobs``; otherwise the plan's runner deploys by itself, with
the same parallelism and no job start-ups (what it cannot weigh: tasks that each need a
whole runner's CPU; set ``runner_jobs`` lower then). ``always`` and ``never`` decide without
asking (a workflow's configuration, e.g. to keep every task in its own job for the logs).

``--deploy-here`` completes the decision on the machine that made it: when the waves do
not fan out, the environment is deployed there and then (``flows.deploy``, ``runner_jobs``
tasks at once), at the SHAs and versions this plan resolved (``OTTODEPLOY_PINNED_SHAS``),
so a workflow's plan job that deploys starts Python, loads the manifests and resolves once.

``--since current`` names the environment's current lockfile (none yet: as without
``--since``), so a workflow needs no second command to find it.

``sources`` gives every source's resolution as this run made it (repo, ref, sha,
version): a workflow hands the SHAs to its later jobs (``OTTODEPLOY_PINNED_SHAS``), so
they build and deploy exactly what was planned even when a branch moves meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.errors import UsageError
from ..core.graph import ArtifactGraph
from ..environment import OpenEnvironment, open_environment
from ..lockfile import LockedFile, current, locate, read
from ..reporting import Reporter
from ..root import DeployRoot
from .build import plan_of
from .stages import DeployReport


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


FAN_OUT_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class FanOut:
    """Whether the waves are spread over runners, and why (see the module docstring)."""

    chosen: bool
    mode: str
    runner_jobs: int
    widest: int
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "mode": self.mode, "runner_jobs": self.runner_jobs,
                "widest_wave": self.widest, "why": self.why}


def fan_out(waves: list[list[str]], mode: str = "auto", runner_jobs: int = 2) -> FanOut:
    """Spread ``waves`` over runners, or build them on the plan's runner (module docstring)."""
    if mode not in FAN_OUT_MODES:
        raise UsageError(f"--fan-out must be one of {', '.join(FAN_OUT_MODES)}, not {mode!r}")
    if runner_jobs < 1:
        raise UsageError(f"--runner-jobs must be 1 or more, not {runner_jobs}")
    widest = max((len(w) for w in waves), default=0)
    if not waves:
        return FanOut(False, mode, runner_jobs, 0, "nothing to build")
    if mode != "auto":
        return FanOut(mode == "always", mode, runner_jobs, widest, f"--fan-out {mode}")
    if widest > runner_jobs:
        return FanOut(True, mode, runner_jobs, widest,
                      f"a wave of {widest} tasks is wider than one runner builds at once "
                      f"({runner_jobs})")
    return FanOut(False, mode, runner_jobs, widest,
                  f"no wave is wider than one runner builds at once ({widest} <= "
                  f"{runner_jobs}): more runners would add their start-up and save nothing")


@dataclass
class CiMatrix:
    environment: str
    since: str | None
    waves: list[list[MatrixTask]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)     # task -> where the registry has it
    fan_out: FanOut = field(default_factory=lambda: fan_out([]))
    # the commits the waves build, (repo url, sha): ``deploy_here`` fetches them early
    commits: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def tasks(self) -> list[str]:
        return [t.task for wave in self.waves for t in wave]

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "since": self.since,
                "waves": [[t.to_json() for t in wave] for wave in self.waves],
                "skipped": self.skipped, "sources": self.sources, "stored": self.stored,
                "fan_out": self.fan_out.to_json()}


def ci_matrix(root: DeployRoot, env: str, since: str | None = None, *,
              mode: str = "auto", runner_jobs: int = 2) -> CiMatrix:
    """The tasks of ``env`` that would run, in waves (see the module docstring)."""
    fan_out([], mode, runner_jobs)   # bad options fail before anything is resolved
    opened = open_environment(root, env)
    lockfile: LockedFile | None
    if since == "current" and not (root.lockfiles / since).is_file():
        lockfile = current(root, opened.name)
    else:
        lockfile = read(root, locate(root, since)) if since else None
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
    commits = sorted({(specs[t.task].url, t.sha) for wave in waves for t in wave})
    return CiMatrix(opened.name, lockfile.name if lockfile else None, waves,
                    [t for t in specs if t not in reasons], sources, stored,
                    fan_out([[t.task for t in w] for w in waves], mode, runner_jobs), commits)


def _in_registry(opened: OpenEnvironment, tasks: list[str]) -> dict[str, str]:
    """The ``tasks`` whose artifacts the registry holds by their current keys, and where."""
    from .. import engine
    from ..build import in_registry
    from ..process import parallel
    from ..reporting import Silent

    ctx = engine.context(engine.BuildRun(opened, Silent()))
    found = parallel(lambda task: in_registry(ctx, opened.specs[task]), tasks)
    return {task: ref for task, ref in zip(tasks, found, strict=True) if ref is not None}


def deploy_here(root: DeployRoot, matrix: CiMatrix, reporter: Reporter) -> DeployReport:
    """Deploy ``matrix``'s environment at its resolution, ``runner_jobs`` tasks at once."""
    import json
    import os

    from ..resolve import PINNED_SHAS_VAR
    from .deploy import deploy

    pins = {name: {"sha": s["sha"], "version": s["version"]}
            for name, s in matrix.sources.items()}
    _fetch_early(root, matrix.commits)
    saved = os.environ.get(PINNED_SHAS_VAR)
    os.environ[PINNED_SHAS_VAR] = json.dumps(pins, sort_keys=True)
    try:
        return deploy(root, matrix.environment, reporter=reporter,
                      jobs=matrix.fan_out.runner_jobs)
    finally:
        if saved is None:
            os.environ.pop(PINNED_SHAS_VAR, None)
        else:
            os.environ[PINNED_SHAS_VAR] = saved


def _fetch_early(root: DeployRoot, commits: list[tuple[str, str]]) -> None:
    """Fetch the commits the build needs into their mirrors while the deploy checks and
    takes its locks: the first task of the cascade then finds its repo here. In the
    background; a failure is the build's to report (it fetches again, under the same
    per-mirror lock)."""
    from concurrent.futures import ThreadPoolExecutor

    from ..mirror import Mirror

    if not commits:
        return
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch")
    for url, sha in commits:
        pool.submit(Mirror(root.cache, url).ensure_commit, sha)
    pool.shutdown(wait=False)

