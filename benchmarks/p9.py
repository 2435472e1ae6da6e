"""P9: ``deploy-branch.yml`` under act, the distributed engine run for real (SPEC §9).

The test ecosystem (seven repos, eight tasks, six waves deep) with 1 s recipes, deployed by
``deploy-branch.yml`` on ``workflow_dispatch`` (scratch) with act on this machine, the jobs
sharing outputs through a loopback ``docker-registry`` only (tests/actsite.py sets it up as
the act tests do). As configured by default (``OTTODEPLOY_FAN_OUT`` unset: auto), the plan
job finds no wave wider than one runner builds at once and builds and deploys by itself:
that run is the figure. Then every key is changed (a commit to both roots of the cascade)
and the same workflow runs fanned out (``always``: plan, one job per task in its wave,
deploy), for comparison.

Baseline, measured in the same benchmark run with the same act harness: the cascade's
critical path plus one job's fixed overhead — a workflow of one job with the steps every
job of deploy-branch.yml starts with (checkout, setup-python, ``pip install -e .``) and
nothing else. SPEC §8's critical path is the longest chain of recipe times; a recipe's time
is what it logs itself (the 1 s sleep plus its git calls and image push), and the ratio
against the nominal 1 s per recipe is printed beside it. A truly empty job (one ``true``
step) is measured too, for scale. Goal: wall <= 1.3x the baseline.

A fanned-out run pays one job's overhead per level (plan, each wave, deploy: 8 levels here)
on top of the critical path; that is why auto does not fan out a cascade this narrow.
"""

from __future__ import annotations

import contextlib
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.actkit import ActRun

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
        moves = iter(range(1, 100))

        def every_key_changes() -> None:
            """A commit to both roots of the cascade: all 8 build keys change."""
            site.pull()     # the lockfile the last run committed, as a real checkout has it
            n = next(moves)
            for name, branch in (("tessellation", "main"), ("monitoring", "develop")):
                ws.eco.repos[name].commit(f"feat: {name} moves", {"p9.txt": str(n)},
                                          branch=branch)

        def deploy(fan_out: str | None) -> tuple[ActRun, list[dict[str, Any]]]:
            done = site.run(act, "workflow_dispatch", {"inputs": {"environment": "scratch"}},
                            env={"OTTO_TEST_SLEEP": "1"}, fan_out=fan_out)
            return done, ws.eco.records()

        defaults = []
        for n in range(runs):
            if n:
                every_key_changes()
            defaults.append(deploy(None))
        every_key_changes()
        spread, spread_records = deploy("always")
    for label, (done, _) in (*((f"default (auto), run {n + 1}", d)
                               for n, d in enumerate(defaults)),
                             ("fanned out (always)", (spread, spread_records))):
        print(f"-- {label}")
        print(done.summary())
        for job in done.jobs:   # where each job's time went
            print(f"  {job.name}: " + ", ".join(f"{s.name[:24]} {s.seconds:.1f}"
                                                 for s in job.steps if s.seconds >= 0.05))
    for done, records in (*defaults, (spread, spread_records)):
        built = sorted(r["task"] for r in records)
        if done.code != 0 or done.outbound or built != sorted(graph.nodes):
            return missing(f"a run failed or built {built}: see above")
    waves = {j.name.split("/", 1)[0].split("-")[0] for j in spread.jobs
             if j.name.startswith("Wave")}
    levels = 2 + len(waves)          # plan, the waves, deploy: one after another

    def recipe_path(records: list[dict[str, Any]]) -> float:
        """SPEC §8: the critical path is the longest chain of recipe times. The recipes sleep
        1 s and then do their own work (git calls; an image recipe imports a registry client
        and pushes its image), which no build tool can take off them: a recipe's time is
        what it logged itself (start before the sleep, end after the push)."""
        return graph.critical_path({r["task"]: r["end"] - r["start"] for r in records})[0]

    ratios = [done.seconds / (recipe_path(records) + overhead) for done, records in defaults]
    ratio = statistics.median(ratios)
    wall_s = statistics.median(done.seconds for done, _ in defaults)
    measured = statistics.median(recipe_path(records) for _, records in defaults)
    nominal = wall_s / (critical + overhead)
    jobs = {len(done.jobs) for done, _ in defaults}
    what = (f"deploy-branch.yml under act, {len(graph.nodes)} tasks, 1 s recipes, median of "
            f"{runs} runs ({', '.join(f'{r:.2f}x' for r in ratios)}): {'/'.join(map(str, jobs))} "
            f"job (the plan job builds and deploys: no wave is wider than its --jobs 2); against "
            f"the nominal 1 s x {len(chain)} = {critical:.0f}s path: {nominal:.2f}x. Fanned out "
            f"(OTTODEPLOY_FAN_OUT=always): {len(spread.jobs)} jobs in {levels} levels, "
            f"{spread.seconds:.1f}s = "
            f"{spread.seconds / (recipe_path(spread_records) + overhead):.2f}x. An empty job "
            f"{empty_job:.2f}s")
    return Figure("P9", what, f"{wall_s:.1f}s",
                  f"{measured + overhead:.1f}s (critical path of recipe times {measured:.1f}s "
                  f"over {len(chain)} tasks + one job's fixed steps {overhead:.1f}s)", ratio,
                  "<= 1.30x", ratio <= 1.3)
