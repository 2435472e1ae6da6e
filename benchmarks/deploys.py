"""The deploy figures: P5 replay, P7 no-op redeploy, P8 promote, deploy and roll back.

The ecosystem gets a small site (``Site``): the ``local`` target, three nodes and a
services host; ottochain deploys on each node, services and explorer on the services
host, as in the tests. Every deploy step runs ``deploy/step.py``, which appends what it
deployed to ``deployed/steps.jsonl`` and sleeps ``BENCH_DEPLOY_SLEEP`` seconds (standing
for a real ``docker compose up``). Builds are counted from the recipes' own log and deploy
steps from the step script's, never from what the tool says it did.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from tests.gitrepos import git

from benchmarks.kit import PROJECT, Figure, Workspace, env_with, events, inv, medians

STEP_PY = r'''#!/usr/bin/env python3
"""Benchmark deploy step: say what was deployed, then take BENCH_DEPLOY_SLEEP seconds."""
import json, os, pathlib, time

out = pathlib.Path("deployed")
out.mkdir(exist_ok=True)
line = {"component": os.environ["OTTO_COMPONENT"], "host": os.environ.get("OTTO_HOST"),
        "image": os.environ.get("OTTO_IMAGE"), "sha": os.environ["OTTO_SHA"]}
time.sleep(float(os.environ.get("BENCH_DEPLOY_SLEEP", "0")))
with open(out / "steps.jsonl", "a") as log:
    log.write(json.dumps(line) + "\n")
'''

DEPLOYS = {"ottochain": {"on": "nodes", "run": "python3 deploy/step.py"},
           "services": {"on": "services_host", "run": "python3 deploy/step.py"},
           "explorer": {"on": "services_host", "run": "python3 deploy/step.py"},
           "monitoring": {"on": "none"}}
INFRASTRUCTURE = "infrastructure: {target: local, nodes: [node1, node2, node3], " \
                 "services_host: services}\n"
STEP_SECONDS = 1.0          # a deploy step's time where the figure times the deploy stage


class Site:
    """The workspace's deploy root with deploy steps, on scratch and beta."""

    def __init__(self, ws: Workspace, *, repo: bool = False) -> None:
        self.ws = ws
        self.root = ws.eco.root
        path = self.root / "manifests" / "components.yaml"
        data = yaml.safe_load(path.read_text())
        for name, spec in DEPLOYS.items():
            data["components"][name]["deploy"] = spec
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        ws.eco.write("deploy/step.py", STEP_PY)
        for env in ("scratch", "beta"):
            env_file = self.root / "manifests" / "environments" / f"{env}.yaml"
            env_file.write_text(env_file.read_text().replace("infrastructure: {target: local}\n",
                                                             INFRASTRUCTURE))
        if repo:  # promotion commits on a branch of the deploy repo
            ws.eco.write(".gitignore", ".ottodeploy/\ndeployed/\n")
            self.git("init", "--quiet", "--initial-branch=main")
            self.git("add", "-A")
            self.git("commit", "--quiet", "-m", "chore: deploy repo")

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def steps(self) -> list[dict[str, Any]]:
        log = self.root / "deployed" / "steps.jsonl"
        return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []

    def run(self, *args: str, sleep: float = 0.0) -> tuple[subprocess.CompletedProcess[str],
                                                          int, int]:
        """``inv ARGS``; what it printed, the recipes and the deploy steps it ran."""
        self.ws.eco.clear_log()
        before = len(self.steps())
        done = inv(self.root, *args, OTTO_TEST_LOG=str(self.ws.eco.log),
                   BENCH_DEPLOY_SLEEP=str(sleep))
        return done, len(self.ws.built()), len(self.steps()) - before

    def promote(self, from_env: str, to_env: str) -> None:
        """``inv promote`` and the promotion branch merged (the environment needs no approval)."""
        self.run("promote", from_env, to_env)
        branches = self.git("branch", "--list", "--format=%(refname:short)", "promote/*")
        newest = sorted(branches.split())[-1]
        self.git("merge", "--quiet", "--no-edit", newest)
        self.git("branch", "--quiet", "-D", newest)

    def commit_app(self, n: int) -> None:
        """A new release of the application layer: ottochain, services and explorer move."""
        for name in ("ottochain", "services", "explorer"):
            self.ws.eco.repos[name].commit(f"feat: {name} change {n}", {f"app-{n}.txt": str(n)},
                                           branch="develop")

    def lockfiles(self, env: str) -> list[Path]:
        from ottodeploy.lockfile import history
        from ottodeploy.root import DeployRoot

        return [f.path for f in history(DeployRoot(self.root), env)]


def p5_replay(ws: Workspace) -> Figure:
    """An older lockfile of scratch replayed with every artifact it names in the store."""
    site = Site(ws)
    site.run("deploy", "scratch")
    ws.eco.repos["services"].commit("feat: services moves on", {"m.txt": "1"}, branch="develop")
    site.run("deploy", "scratch")
    older = site.lockfiles("scratch")[0]
    ws.eco.clear_log()
    before = len(site.steps())
    subprocess.run([str(PROJECT / "scripts" / "deploy-from-lockfile.sh"), str(older)],
                   env=env_with(ws.eco.root, OTTO_TEST_LOG=str(ws.eco.log)), check=True,
                   cwd=ws.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    builds, steps = len(ws.built()), len(site.steps()) - before
    return Figure("P5", f"deploy-from-lockfile of an older lockfile ({steps} deploy steps: "
                        "services went back)", f"{builds} builds", "-", None, "0 builds",
                  builds == 0, {"builds": builds, "steps": steps})


def p7_noop_deploy(ws: Workspace, runs: int) -> Figure:
    site = Site(ws)
    site.run("deploy", "scratch")
    counts = []

    def redeploy() -> None:
        _, builds, steps = site.run("deploy", "scratch")
        counts.append((builds, steps))

    times = medians(runs, ours=redeploy, check=lambda: inv(ws.eco.root, "check", "scratch"))
    ours, check = times["ours"], times["check"]
    builds = max(b for b, _ in counts)
    steps = max(s for _, s in counts)
    ratio = ours / check
    return Figure("P7", f"no-op inv deploy scratch ({steps} deploy steps, {builds} builds)",
                  f"{ours:.2f}s", f"{check:.2f}s (inv check)", ratio, "<= 1.50x, 0 steps",
                  ratio <= 1.5 and steps == 0 and builds == 0, {"builds": builds, "steps": steps})


def _deploy_stage(lines: list[dict[str, Any]]) -> float:
    """Seconds from the deploy stage's start to the lockfile (no smoke or e2e here)."""
    start = next(e["at"] for e in lines if e["event"] == "stage" and e["stage"] == "deploy")
    end = next(e["at"] for e in lines if e["event"] == "lockfile")
    return float(end - start)


def p8_promote_rollback(ws: Workspace, runs: int, step_seconds: float = STEP_SECONDS) -> Figure:
    site = Site(ws, repo=True)
    site.run("deploy", "scratch")
    builds = []
    for n in (1, 2):
        if n == 2:
            site.commit_app(n)
            site.run("deploy", "scratch")
        site.promote("scratch", "beta")
        _, built, _ = site.run("deploy", "beta")
        builds.append(built)
    walls, stages, rollback_builds, rollback_steps = [], [], [], []
    for _ in range(runs):   # each rollback goes back to the other healthy lockfile of beta
        start = time.perf_counter()
        done, built, steps = site.run("rollback", "beta", "--events", sleep=step_seconds)
        walls.append(time.perf_counter() - start)
        stages.append(_deploy_stage(events(done)))
        rollback_builds.append(built)
        rollback_steps.append(steps)
    wall, stage = statistics.median(walls), statistics.median(stages)
    ratio = wall / stage
    worst = max(builds + rollback_builds)
    return Figure("P8", f"promote+deploy beta x2 ({'+'.join(map(str, builds))} builds); inv "
                        f"rollback beta ({max(rollback_builds)} builds, "
                        f"{min(rollback_steps)} steps of {step_seconds:.0f} s)",
                  f"{wall:.2f}s", f"{stage:.2f}s (its deploy stage)", ratio,
                  "0 builds, <= 1.20x", worst == 0 and ratio <= 1.2,
                  {"builds": worst, "steps": min(rollback_steps)})
