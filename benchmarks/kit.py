"""What every figure shares: the result row, medians, the real commands, the test ecosystem.

Timed commands run as real subprocesses (``doit`` with this project's dodo.py, ``inv``,
``git ls-remote``), each several times, and the median is kept. Baselines are measured
in the same run on the same machine, so the ratios hold across machines even where the
seconds do not.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
DODO = PROJECT / "dodo.py"
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from tests.ecosystem import Ecosystem, build_template  # noqa: E402
from tests.gitrepos import GIT_ENV, GitRepo  # noqa: E402


@dataclass
class Figure:
    name: str
    what: str
    value: str
    baseline: str
    ratio: float | None
    goal: str
    met: bool
    counts: dict[str, int] = field(default_factory=dict)   # what a test can check (not times)


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


def medians(runs: int, **fns: Callable[[], object]) -> dict[str, float]:
    """The median time of each of ``fns``, run in turns (a, b, a, b, ...), so that a change in
    the machine's load during the measurement weighs on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def env_with(root: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **GIT_ENV, "OTTODEPLOY_ROOT": str(root)}
    for name in ("OTTO_TEST_SLEEP", "OTTO_TEST_LOG", "OTTODEPLOY_LOG"):
        env.pop(name, None)
    env.update(extra)
    return env


def doit(root: Path, *args: str, **extra: str) -> None:
    subprocess.run([sys.executable, "-m", "doit", "-f", str(DODO), *args],
                   env=env_with(root, **extra), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, cwd=root)


def inv(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``inv ARGS`` on the deploy root ``root``, as its own process; fails loudly."""
    done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(PROJECT), *args],
                          env=env_with(root, **extra), cwd=root, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"inv {' '.join(args)} exited {done.returncode}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


def events(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The ``--events`` lines of a command's output."""
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def ls_remote_all(urls: list[str]) -> None:
    def one(url: str) -> None:
        subprocess.run(["git", "ls-remote", url], stdout=subprocess.DEVNULL, check=True)

    with ThreadPoolExecutor(max_workers=min(16, len(urls))) as pool:
        list(pool.map(one, urls))


def bare_doit(workdir: Path, tasks: int) -> Callable[[], None]:
    """A no-op run of a plain dodo.py with ``tasks`` config_changed tasks (run once here)."""
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
    return run


class Workspace:
    """A fresh copy of the tests' seven-repo ecosystem in a temporary folder (made here, or
    copied from a ``template`` made by ``build_template``)."""

    def __init__(self, template: tuple[Path, dict[str, GitRepo]] | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ottodeploy-bench-"))
        if template is None:
            template = self.tmp / "template", build_template(self.tmp / "template")
        self.eco = Ecosystem.copy(*template, self.tmp / "eco")
        self.eco.log = self.tmp / "recipes.jsonl"

    def close(self) -> None:
        for folder in self.tmp.rglob("*"):     # the store's unpacked folders are read-only
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def built(self) -> list[str]:
        """The tasks whose recipes ran since the log was last cleared."""
        return self.eco.built()

    def build(self, *args: str, **extra: str) -> list[str]:
        self.eco.clear_log()
        doit(self.eco.root, *args, OTTO_TEST_LOG=str(self.eco.log), **extra)
        return self.built()
