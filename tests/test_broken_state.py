"""Broken state never blocks an environment (SPEC §6a).

Every state file a build reads — doit's database, a task's record, the cached
cascade, the version cache — is replaced by each kind of garbage a crash, a full
disk or a person leaves behind. The next command must warn naming the file, move it
aside as ``<name>.corrupt-<stamp>``, rebuild it, and succeed. A lockfile that cannot
be read blocks only the command asked for that very file; the commands that read
many (status, diff, rollback, promote, verify) skip it with a warning.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_inv
from tests.deployrepo import cli, init_deploy_repo, write_lock
from tests.ecosystem import Ecosystem

STATE = ".ottodeploy/scratch"


def random_bytes(path: Path) -> None:
    path.write_bytes(b"\xff\xfe\x00garbage\x81\x92" * 40)


def truncated(path: Path) -> None:
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("a folder where a file belongs\n")


def wrong_types(path: Path) -> None:
    data = WRONG[path.name]
    if path.name == "cascade.json":   # the right digest (so it would be used), broken tasks
        data = {**json.loads(path.read_text()), "tasks": "none"}
    path.write_text(json.dumps(data))


# valid JSON, wrong shape: what each reader would choke on further in
WRONG: dict[str, object] = {
    "doit.json": {"sdk_build": {"_values_:": 5, "checker:": [], "deps:": "x"}},
    "sdk_build.json": {"task": "sdk_build", "key": 7, "inputs": [], "outputs": 3},
    "cascade.json": {},
    "versions.json": {"repo sha": {"tags": 1, "version": None}},
}

GARBAGE: list[Callable[[Path], None]] = [random_bytes, truncated, empty, folder, wrong_types]
FILES = [f"{STATE}/doit.json", f"{STATE}/records/sdk_build.json", f"{STATE}/cascade.json",
         ".ottodeploy/cache/versions.json"]


def asides(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


@pytest.mark.parametrize("rel", FILES, ids=[Path(f).name for f in FILES])
@pytest.mark.parametrize("spoil", GARBAGE, ids=[g.__name__ for g in GARBAGE])
def test_garbage_in_a_state_file_is_set_aside_and_rebuilt(
        eco: Ecosystem, rel: str, spoil: Callable[[Path], None]) -> None:
    assert run_inv("build", "scratch").code == 0
    path = eco.root / rel
    assert path.is_file(), f"{rel} is not written by a build"
    spoil(path)
    eco.clear_log()

    result = run_inv("build", "scratch")
    assert result.code == 0, result.output
    assert "Traceback" not in result.output
    warning = [line for line in result.stderr.splitlines() if "is corrupt" in line]
    assert len(warning) == 1, result.stderr
    assert warning[0].startswith(f"ottodeploy: warning: {path} is corrupt (")
    (aside,) = asides(path)
    assert f"moved it to {aside.name}" in warning[0]
    assert path.is_file()                              # made again ...
    json.loads(path.read_text())                       # ... and readable
    # nothing is rebuilt: a lost record is found again in the store by its build key
    assert eco.built() == []
    if path.name == "sdk_build.json":
        assert "sdk_build: reused" in result.stdout, result.stdout
    again = run_inv("build", "scratch")
    assert again.code == 0 and "is corrupt" not in again.stderr


@pytest.mark.parametrize(("name", "command"), [("deploy.lock", "deploy"), ("build.lock", "build"),
                                               ("records", "build")])
def test_a_file_or_folder_of_the_wrong_kind_blocks_nothing(eco: Ecosystem, name: str,
                                                           command: str) -> None:
    assert run_inv(command, "scratch").code == 0
    path = eco.root / STATE / name
    if path.is_dir():
        shutil.rmtree(path)
        path.write_text("a file where a folder belongs\n")
    else:
        path.unlink(missing_ok=True)
        path.mkdir()
    result = run_inv(command, "scratch")
    assert result.code == 0, result.output
    assert f"{path} is corrupt" in result.stderr
    assert len(asides(path)) == 1


def test_a_broken_doit_database_does_not_stop_doit_itself(eco: Ecosystem) -> None:
    """``doit`` run directly (``dodo.py``) gets the same repair before doit reads its file."""
    import subprocess
    import sys

    from tests.conftest import PROJECT

    assert run_inv("build", "scratch").code == 0
    db = eco.root / STATE / "doit.json"
    truncated(db)
    done = subprocess.run([sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"),
                           "env=scratch"], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{db} is corrupt" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# --- lockfiles --------------------------------------------------------------------------------


def test_a_truncated_lockfile_of_one_environment_leaves_the_others_readable(
        eco: Ecosystem) -> None:
    init_deploy_repo(eco)
    branch = {"tessellation": "main", "metakit": "main", "ottochain": "develop",
              "sdk": "develop", "services": "develop", "explorer": "develop",
              "monitoring": "develop"}
    versions = {"tessellation": "4.0.0", "metakit": "0.2.0", "ottochain": "0.6.2-dev.3",
                "sdk": "0.3.0", "services": "1.0.0", "explorer": "1.0.0", "monitoring": "0.1.0"}
    write_lock(eco, "scratch", timestamp="2026-01-01T00:00:00Z", mode="branch")
    write_lock(eco, "scratch", timestamp="2026-01-02T00:00:00Z", revs=branch,
               versions=versions, mode="branch")
    write_lock(eco, "staging", timestamp="2026-01-01T00:00:00Z")
    broken = write_lock(eco, "beta", timestamp="2026-01-03T00:00:00Z", mode="branch")
    truncated(broken)
    shown = f"lockfiles/{broken.name}"

    for args, code in ((["status"], 0), (["status", "--json"], 0),
                       (["diff", "scratch", "staging"], 0),
                       (["rollback", "scratch", "--dry-run"], 0),
                       (["verify", "scratch"], 0),
                       (["promote", "scratch", "beta"], 0),
                       (["status", "--env", "beta"], 0)):
        result = cli(*args)
        assert result.code == code, (args, result.output)
        assert "Traceback" not in result.output
        warnings = [ln for ln in result.stderr.splitlines() if shown in ln]
        assert len(warnings) == 1, (args, result.stderr)     # once per command
        assert warnings[0].startswith(f"ottodeploy: warning: skipped {shown}, which cannot be "
                                      "read: "), warnings
    status = json.loads(cli("status", "--json").stdout)["environments"]
    assert status["scratch"]["timestamp"] == "2026-01-02T00:00:00Z"
    assert status["beta"]["lockfile"] is None

    # the one command asked for that very file: bad input, as always
    asked = cli("deploy-lockfile", broken.name)
    assert asked.code == 2, asked.output
    assert shown in asked.stderr and "Traceback" not in asked.output


def test_a_lockfile_that_is_not_even_text_is_skipped_too(eco: Ecosystem) -> None:
    write_lock(eco, "scratch", timestamp="2026-01-01T00:00:00Z")
    (eco.root / "lockfiles" / "beta-2026-01-01-0000.yaml").write_bytes(b"\xff\x00\xfe" * 30)
    (eco.root / "lockfiles" / "beta-2026-01-02-0000.yaml").mkdir()
    result = cli("status", "--json")
    assert result.code == 0, result.output
    data = yaml.safe_load(result.stdout)      # stdout stays one JSON document
    assert data["environments"]["scratch"]["lockfile"]
    assert "skipped lockfiles/beta-2026-01-01-0000.yaml" in result.stderr
    assert "skipped lockfiles/beta-2026-01-02-0000.yaml" in result.stderr
