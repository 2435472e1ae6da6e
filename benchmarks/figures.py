"""The figures of the speed suite (see ``benchmarks/__main__.py`` for what each one means).

Timed commands run as real subprocesses (``doit`` with this project's dodo.py,
``git ls-remote``), each several times, and the median is kept. Baselines are
measured in the same run on the same machine, so the ratios hold across
machines even where the seconds do not.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DODO = PROJECT / "dodo.py"
sys.path.insert(0, str(PROJECT))

from tests.cascade_model import BRANCH, closure_of  # noqa: E402
from tests.ecosystem import NAMES, Ecosystem, build_template  # noqa: E402
from tests.gitrepos import GIT_ENV, GitRepo  # noqa: E402

from benchmarks.p9 import p9_workflow  # noqa: E402


@dataclass
class Figure:
    name: str
    what: str
    value: str
    baseline: str
    ratio: float | None
    goal: str
    met: bool


def table(figures: Iterable[Figure]) -> str:
    rows = [("figure", "what", "measured", "baseline", "ratio", "goal", "met")]
    for f in figures:
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        rows.append((f.name, f.what, f.value, f.baseline, ratio, f.goal, "yes" if f.met else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def env_with(root: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **GIT_ENV, "OTTODEPLOY_ROOT": str(root)}
    env.pop("OTTO_TEST_SLEEP", None)
    env.update(extra)
    return env


def doit(root: Path, *args: str, check: bool = True, **extra: str) -> None:
    subprocess.run([sys.executable, "-m", "doit", "-f", str(DODO), *args],
                   env=env_with(root, **extra), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=check, cwd=root)


def ls_remote_all(urls: list[str]) -> None:
    def one(url: str) -> None:
        subprocess.run(["git", "ls-remote", url], stdout=subprocess.DEVNULL, check=True)

    with ThreadPoolExecutor(max_workers=min(16, len(urls))) as pool:
        list(pool.map(one, urls))


def bare_doit_time(workdir: Path, tasks: int, runs: int) -> float:
    """No-op time of a plain dodo.py with ``tasks`` config_changed tasks."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "dodo.py").write_text(
        "from doit.tools import config_changed\n"
        "DOIT_CONFIG = {'backend': 'json', 'dep_file': '.doit.json', 'verbosity': 0}\n"
        "def task_bare():\n"
        f"    for i in range({tasks}):\n"
        "        yield {'name': str(i), 'actions': ['true'],\n"
        "               'uptodate': [config_changed({'i': i, 'sha': 'x' * 40})]}\n")

    def run() -> None:
        subprocess.run([sys.executable, "-m", "doit"], cwd=workdir, stdout=subprocess.DEVNULL,
                       check=True)

    run()
    return median_time(run, runs)


class Workspace:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ottodeploy-bench-"))
        template = self.tmp / "template"
        repos = build_template(template)
        self.eco = Ecosystem.copy(template, repos, self.tmp / "eco")
        self.eco.log = self.tmp / "recipes.jsonl"

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def built(self) -> list[str]:
        if not self.eco.log.exists():
            return []
        return [json.loads(x)["task"] for x in self.eco.log.read_text().splitlines() if x]

    def build(self, *args: str, **extra: str) -> list[str]:
        self.eco.log.unlink(missing_ok=True)
        doit(self.eco.root, *args, OTTO_TEST_LOG=str(self.eco.log), **extra)
        return self.built()


# --- the figures -----------------------------------------------------------------------------


def p1_noop(ws: Workspace, runs: int) -> Figure:
    root = ws.eco.root
    doit(root, "env=scratch", OTTO_TEST_LOG=str(ws.eco.log))
    ours = median_time(lambda: doit(root, "ottochain_image", "env=scratch"), runs)
    urls = list(ws.eco.urls.values())
    bare = bare_doit_time(ws.tmp / "bare7", 8, runs)
    remote = median_time(lambda: ls_remote_all(urls), runs)
    base = bare + remote
    ratio = ours / base
    return Figure("P1", "no-op doit ottochain_image, 7 repos", f"{ours:.3f}s",
                  f"{base:.3f}s (doit {bare:.3f} + ls-remote {remote:.3f})", ratio, "<= 1.30x",
                  ratio <= 1.3)


def p0_resolve(ws: Workspace, runs: int) -> Figure:
    """Resolving 7 repos against resolving 1: with one ls-remote each in parallel, ~1x."""
    from ottodeploy.manifests import load_project
    from ottodeploy.resolve import resolve
    from ottodeploy.root import DeployRoot

    root = DeployRoot(ws.eco.root)
    one = ws.eco.root / "manifests" / "environments" / "one.yaml"
    one.write_text("name: one\nmode: branch\nsources:\n  tessellation: {ref: main}\n")
    projects = {n: load_project(root, n) for n in ("scratch", "one")}
    cold = {}
    for name, project in projects.items():  # first resolution: clones the mirrors
        start = time.perf_counter()
        resolve(project, cache=ws.tmp / f"cold-{name}")
        cold[name] = time.perf_counter() - start
    warm = {n: median_time(lambda p=p: resolve(p), runs) for n, p in projects.items()}
    # local repos answer at once: what remains is starting 7 git processes on few cores,
    # so the baseline is resolving them one after another (7 x one repo)
    serial = 7 * warm["one"]
    ratio = warm["scratch"] / serial
    return Figure("P0", f"resolve 7 repos; 1 repo takes {warm['one']:.3f}s (cold, mirrors "
                        f"cloned: {cold['scratch']:.2f}s vs {cold['one']:.2f}s)",
                  f"{warm['scratch']:.3f}s", f"{serial:.3f}s (7 x 1 repo)", ratio, "<= 1.00x",
                  ratio <= 1.0)


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
                  f"{exact}/{len(sets)}", "-", None, "100 %", share == 1.0)


def p3_parallel(ws: Workspace) -> Figure:
    from ottodeploy.core.graph import build_graph
    from ottodeploy.manifests import component_specs, load_components
    from ottodeploy.root import DeployRoot

    components, _ = load_components(DeployRoot(ws.eco.root))
    graph = build_graph(component_specs(components))
    critical, chain = graph.critical_path(dict.fromkeys(graph.nodes, 1.0))
    state = ws.eco.root / ".ottodeploy" / "beta"
    shutil.rmtree(state, ignore_errors=True)
    doit(ws.eco.root, "list", "env=beta")  # resolve and cache outside the timed run
    start = time.perf_counter()
    doit(ws.eco.root, "-n", "4", "-P", "thread", "env=beta", OTTO_TEST_SLEEP="1")
    wall = time.perf_counter() - start
    ratio = wall / critical
    return Figure("P3", f"doit -n 4, 1 s recipes, {len(graph.nodes)} tasks", f"{wall:.2f}s",
                  f"critical path {critical:.0f}s ({len(chain)} tasks)", ratio, "<= 1.15x",
                  ratio <= 1.15)


def _scale_ecosystem(base: Path, count: int, width: int = 10) -> Path:
    """``count`` components in layers of ``width``; each depends on up to 3 of the layer above."""
    rng = random.Random(count)
    names = [f"c{i:03d}" for i in range(count)]
    root = base / "deploy"
    lines = ["components:"]
    env = ["name: scratch", "mode: branch", "sources:"]
    for i, name in enumerate(names):
        repo = GitRepo.create(base, name)
        repo.commit(f"feat: {name}", {"README.md": name})
        layer = i // width
        above = names[(layer - 1) * width: layer * width] if layer else []
        deps = sorted(rng.sample(above, min(len(above), rng.randint(1, 3)))) if above else []
        lines += [f"  {name}:", f"    repo: {repo.url}", f"    depends_on: [{', '.join(deps)}]",
                  "    artifacts:", "      build: {run: 'true'}"]
        env.append(f"  {name}: {{ref: main}}")
    (root / "manifests" / "environments").mkdir(parents=True)
    (root / "manifests" / "components.yaml").write_text("\n".join(lines) + "\n")
    (root / "manifests" / "environments" / "scratch.yaml").write_text("\n".join(env) + "\n")
    (root / "manifests" / "compatibility.yaml").write_text("compatibility: {}\n")
    return root


def p4_scale(ws: Workspace, runs: int, sizes: tuple[int, ...] = (30, 300)) -> Figure:
    per: dict[int, tuple[float, float]] = {}
    for n in sizes:
        base = ws.tmp / f"scale{n}"
        root = _scale_ecosystem(base, n)
        doit(root, "-n", "4", "-P", "thread", "env=scratch")
        ours = median_time(lambda root=root: doit(root, "env=scratch"), runs)
        urls = [f"file://{base}/remotes/c{i:03d}.git" for i in range(n)]
        bare = bare_doit_time(ws.tmp / f"bare{n}", n, runs)
        remote = median_time(lambda urls=urls: ls_remote_all(urls), runs)
        per[n] = (ours, bare + remote)
    big = max(sizes)
    ours, base = per[big]
    ratio = ours / base
    small = min(sizes)
    # cost per component beyond the fixed start-up cost (the smallest run)
    slope = (per[big][0] - per[small][0]) / (big - small) * 1000
    detail = ", ".join(f"{n}: {o:.2f}s vs {b:.2f}s" for n, (o, b) in per.items())
    return Figure("P4", f"no-op, {big} components ({detail}; +{slope:.1f} ms/component)",
                  f"{ours:.2f}s", f"{base:.2f}s", ratio, "<= 1.50x", ratio <= 1.5)


def p5_replay(ws: Workspace) -> Figure:
    env = env_with(ws.eco.root, OTTO_TEST_LOG=str(ws.eco.log))
    inv = [sys.executable, "-m", "invoke", "--search-root", str(PROJECT)]
    subprocess.run([*inv, "deploy", "scratch"], env=env, check=True, cwd=PROJECT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lockfiles = sorted((ws.eco.root / "lockfiles").glob("scratch-*.yaml"))
    ws.eco.log.unlink(missing_ok=True)
    subprocess.run([str(PROJECT / "scripts" / "deploy-from-lockfile.sh"), str(lockfiles[-1])],
                   env=env, check=True, cwd=ws.tmp, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    builds = len(ws.built())
    return Figure("P5", "deploy-from-lockfile, artifacts all present", f"{builds} builds", "-",
                  None, "0 builds", builds == 0)


def p6_leaf(ws: Workspace) -> Figure:
    ws.build("env=scratch")
    ws.eco.repos["explorer"].commit("fix: explorer only", {"leaf.txt": "1"}, branch="develop")
    start = time.perf_counter()
    rebuilt = ws.build("env=scratch", OTTO_TEST_SLEEP="1")
    ours = time.perf_counter() - start
    serial = _serial_full_rebuild(ws)
    ratio = ours / serial
    return Figure("P6", f"explorer commit ({len(rebuilt)} rebuilt) vs serial rebuild of all",
                  f"{ours:.2f}s", f"{serial:.2f}s", ratio, "<= 0.20x", ratio <= 0.2)


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
        subprocess.run(["python3", "build.py", artifact], cwd=dest, check=True,
                       stdout=subprocess.DEVNULL,
                       env={**os.environ, "OTTO_COMPONENT": component, "OTTO_TEST_SLEEP": "1"})
    return time.perf_counter() - start


def run_all(only: list[str] | None, *, quick: bool) -> list[Figure]:
    import compileall

    # doit and the other installed packages have their bytecode compiled at install time;
    # an editable install of this package does not (and PYTHONDONTWRITEBYTECODE may keep
    # Python from caching it), so compile it as `pip install .` would before timing
    compileall.compile_dir(str(PROJECT / "src"), quiet=1)
    runs = 3 if quick else 7
    plan: list[tuple[str, Callable[[Workspace], Figure]]] = [
        ("P0", lambda ws: p0_resolve(ws, runs)),
        ("P1", lambda ws: p1_noop(ws, runs)),
        ("P2", lambda ws: p2_exactness(ws, 5 if quick else 20)),
        ("P3", p3_parallel),
        ("P4", lambda ws: p4_scale(ws, 3 if quick else 5)),
        ("P5", p5_replay),
        ("P6", p6_leaf),
        ("P9", p9_workflow),
    ]
    results = []
    for name, fn in plan:
        if only and name not in only:
            continue
        ws = Workspace()
        try:
            print(f"{name} ...", flush=True)
            figure = fn(ws)
            print(f"{name}: {figure.value} vs {figure.baseline}"
                  + (f" = {figure.ratio:.2f}x" if figure.ratio is not None else "")
                  + f" (goal {figure.goal})", flush=True)
            results.append(figure)
        finally:
            ws.close()
    return results
