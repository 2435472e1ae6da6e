"""``ottodeploy`` from anywhere, and the deploy root each command finds (SPEC §2, §5a).

The console script runs as the user runs it: its own process, started in a folder
inside a deploy root or outside one with ``--root``. ``inv`` and ``doit`` find the
root they are started in too: a subfolder of a deploy root, or the demo's sandbox,
which carries its own ``dodo.py`` and ``tasks/`` doors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.ecosystem import BRANCH_ENV, Ecosystem

SCRIPT = Path(sys.executable).parent / "ottodeploy"


def run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "OTTODEPLOY_ROOT"}
    return subprocess.run(argv, cwd=cwd, env={**environ, **env}, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def root(eco: Ecosystem) -> Path:
    """The test deploy root, with an environment the project's own root lacks."""
    assert SCRIPT.is_file(), "the console script is missing: pip install -e '.[dev]'"
    eco.write("manifests/environments/feature-x.yaml", BRANCH_ENV.format(name="feature-x"))
    (eco.root / "deploy" / "scripts").mkdir(parents=True)
    return eco.root


def test_from_a_subfolder_of_a_deploy_root_it_finds_that_root(root: Path) -> None:
    done = run([str(SCRIPT), "status"], cwd=root / "deploy" / "scripts")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "feature-x: nothing deployed (no lockfile)" in done.stdout
    # the same task as inv: --json is one document
    done = run([str(SCRIPT), "status", "--json"], cwd=root / "manifests")
    assert done.returncode == 0 and '"feature-x"' in done.stdout


def test_from_outside_it_takes_root_or_says_where_it_looked(root: Path,
                                                            tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for argv in ([str(SCRIPT), "--root", str(root), "status", "--env", "feature-x"],
                 [str(SCRIPT), "status", "--env", "feature-x", "--root", str(root)]):
        done = run(argv, cwd=outside)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout == "feature-x: nothing deployed (no lockfile)\n"
    done = run([str(SCRIPT), "status"], cwd=outside, OTTODEPLOY_ROOT=str(root))
    assert "feature-x" in done.stdout
    done = run([str(SCRIPT), "status"], cwd=outside)
    assert done.returncode == 2
    assert f"not inside a deploy root: no folder from {outside} up holds" in done.stderr
    assert "--root PATH" in done.stderr and "Traceback" not in done.stderr
    done = run([str(SCRIPT), "--root", str(outside), "status"], cwd=outside)
    assert done.returncode == 2 and "manifests/environments is not a folder" in done.stderr


def test_help_is_the_same_either_way(root: Path) -> None:
    one = run([str(SCRIPT), "diff", "--help"], cwd=root)
    other = run([str(SCRIPT), "--help", "diff"], cwd=root)
    assert one.returncode == other.returncode == 0
    assert one.stdout == other.stdout
    assert one.stdout.startswith("Usage: ottodeploy diff [options] ENV_A ENV_B\n")
    assert "--root" in run([str(SCRIPT), "--help"], cwd=root).stdout


def test_inv_from_inside_a_deploy_root_reports_that_root(root: Path) -> None:
    # inv's collection is the project's (found with --search-root), its root the one it is in
    done = run(["inv", "--search-root", str(PROJECT), "status"], cwd=root / "deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "feature-x" in done.stdout


def test_in_the_demo_sandbox_inv_and_doit_work_on_the_sandbox(tmp_path: Path) -> None:
    from ottodeploy.demo import base_dir
    from ottodeploy.demo.sandbox import create

    sandbox = create(base_dir(tmp_path))
    inside = sandbox.root / "manifests"
    done = run(["inv", "status"], cwd=inside)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["beta: nothing deployed (no lockfile)",
                                        "demo: nothing deployed (no lockfile)"]
    done = run([sys.executable, "-m", "doit", "list", "env=demo"], cwd=sandbox.root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "metakit_publish" in done.stdout and "explorer_image" in done.stdout
    done = run([str(SCRIPT), "plan", "demo"], cwd=inside)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("plan demo: ")
    # the sandbox's state is its own
    assert (sandbox.root / ".ottodeploy" / "demo").is_dir()
    # the demo is not remade from inside the sandbox it would delete
    done = run(["inv", "demo"], cwd=inside)
    assert done.returncode == 2 and "you are inside it" in done.stderr
    assert f"run it from {tmp_path}" in done.stderr
    assert inside.is_dir()
