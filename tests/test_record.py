"""The record is never lost (SPEC §6a): a read-only or a full ``lockfiles/``.

A read-only ``lockfiles/`` is a read-only bind mount of the folder onto itself
(root ignores permissions, so ``chmod`` proves nothing for root; it is the
fallback for a user who may not mount). A full one is a 256 KiB tmpfs that a
deploy step mounts on ``lockfiles/`` and fills — after the preflight has passed,
as a disk fills while a deploy runs. Every mount is undone at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_inv
from tests.deploykit import (
    DEPLOYS,
    ServiceServer,
    configure,
    deployed,
    lockfiles,
    read_lock,
    set_deploys,
)
from tests.ecosystem import Ecosystem

INFRA = {"nodes": [{"host": "127.0.0.1", "name": n} for n in ("node1", "node2", "node3")],
         "services_host": "127.0.0.1"}
FILL = """\
import pathlib, subprocess, sys
subprocess.run(["python3", "deploy/record.py"], check=True)
target = pathlib.Path("lockfiles")
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(target)], check=True)
try:
    with open(target / "filler", "wb") as f:
        f.write(b"x" * 1024 * 1024)
except OSError as exc:
    print(f"lockfiles/ is full now: {exc.strerror}")
"""


def _mount(*args: str) -> bool:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    return done.returncode == 0


@pytest.fixture
def tmpfs_allowed(tmp_path: Path) -> None:
    """Skip unless this process may mount a tmpfs (root in a machine that allows it)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)):
        pytest.skip("a tmpfs cannot be mounted here")
    subprocess.run(["umount", str(probe)], check=True)


@pytest.fixture
def unmount() -> Iterator[list[Path]]:
    """Folders to unmount at teardown (the newest mount first)."""
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def read_only(folder: Path, unmount: list[Path]) -> None:
    """``folder`` read-only for this process, root or not."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    if not _mount("--bind", str(folder), str(folder)):
        pytest.skip("root, but not allowed to mount: a read-only folder cannot be made")
    unmount.append(folder)
    if not _mount("-o", "remount,ro,bind", str(folder)):
        pytest.skip("cannot remount read-only")


@pytest.fixture
def server(eco: Ecosystem) -> Iterator[ServiceServer]:
    with ServiceServer(eco.root) as srv:
        yield srv


@pytest.fixture
def site(eco: Ecosystem, server: ServiceServer, monkeypatch: pytest.MonkeyPatch) -> Ecosystem:
    configure(eco, server.port)
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(INFRA))
    (eco.root / "lockfiles").mkdir(exist_ok=True)
    return eco


def test_a_read_only_lockfiles_folder_refuses_the_deploy_before_anything_runs(
        site: Ecosystem, unmount: list[Path]) -> None:
    read_only(site.root / "lockfiles", unmount)
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("ottodeploy: error: lockfiles/ is not writable (Read-only file "
                            "system)") or "Permission denied" in first, first
    assert "nothing was deployed" in result.stderr
    assert "Traceback" not in result.output
    assert "== build" not in result.stdout and "== deploy" not in result.stdout
    assert site.built() == [] and deployed(site) == []
    assert lockfiles(site) == []
    assert not (site.root / ".ottodeploy" / "scratch" / "deploy.lock").exists()  # never locked


def test_a_disk_that_fills_during_the_deploy_keeps_the_lockfile_and_prints_it(
        site: Ecosystem, unmount: list[Path], tmpfs_allowed: None) -> None:
    unmount.append(site.root / "lockfiles")
    site.write("deploy/fill.py", FILL)
    set_deploys(site, {**DEPLOYS, "explorer": {"on": "services_host",
                                                "run": "python3 deploy/fill.py"}})
    result = run_inv("deploy", "scratch")
    assert "lockfiles/ is full now: No space left on device" in result.stdout
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    first, _, rest = result.stderr.partition("\n")
    assert first == ("ottodeploy: error: deploy of scratch healthy, but its lockfile could not "
                     "be written in lockfiles/ (No space left on device); it was kept at "
                     ".ottodeploy/scratch/unwritten-lockfile.yaml, and here it is in full")
    kept = site.root / ".ottodeploy" / "scratch" / "unwritten-lockfile.yaml"
    lock = yaml.safe_load(kept.read_text())
    assert yaml.safe_load(rest) == lock          # the whole lockfile, on stderr
    assert lock["status"] == "healthy" and lock["environment"] == "scratch"
    assert set(lock["sources"]) == set(DEPLOYS) | {"tessellation", "metakit", "sdk"}
    assert [p.name for p in lockfiles(site)] == []    # only the filler in the full folder
    assert [c["component"] for c in deployed(site)][-1] == "explorer"   # it did deploy


def test_when_the_record_cannot_be_kept_anywhere_stderr_still_holds_it(
        site: Ecosystem, unmount: list[Path], tmpfs_allowed: None) -> None:
    # a folder where the fallback file would go: it cannot be written there either
    (site.root / ".ottodeploy" / "scratch" / "unwritten-lockfile.yaml").mkdir(parents=True)
    site.write("deploy/fill.py", FILL)
    unmount.append(site.root / "lockfiles")
    set_deploys(site, {**DEPLOYS, "explorer": {"on": "services_host",
                                                "run": "python3 deploy/fill.py"}})
    result = run_inv("deploy", "scratch")
    assert "lockfiles/ is full now" in result.stdout
    assert result.code == 1, result.output
    first, _, rest = result.stderr.partition("\n")
    assert "nor could it be kept, and here it is in full" in first
    assert yaml.safe_load(rest)["status"] == "healthy"
    assert "Traceback" not in result.output


def test_verify_that_cannot_rewrite_its_lockfile_prints_it_and_changes_nothing(
        site: Ecosystem, server: ServiceServer, unmount: list[Path]) -> None:
    assert run_inv("deploy", "scratch").code == 0
    (path,) = lockfiles(site)
    before = path.read_bytes()
    read_only(site.root / "lockfiles", unmount)
    server.mode = "wrong"
    result = run_inv("verify", "scratch")
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    first, _, rest = result.stderr.partition("\n")
    assert f"{path.name} could not be rewritten with this verification" in first
    shown = yaml.safe_load(rest.split("\n  hint:")[0])
    assert shown["status"] == "failed"
    assert shown["verifications"][-1]["result"] == "failed"
    assert path.read_bytes() == before
    with contextlib.suppress(OSError):
        path.parent.chmod(0o755)
    assert read_lock(path)["status"] == "healthy"
