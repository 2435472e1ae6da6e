"""``inv verify`` keeps a history in the lockfile and ``status`` says when and why (SPEC §6a).

Each verify appends ``{at, result, checks, reason}`` to the current lockfile's
``verifications``; a failure also sets ``status: failed``, for good: a later pass is
recorded, but never makes the lockfile healthy (so promotable) again. The rewritten
file must still pass the lockfile validation every reader applies. While a check
waits, ``check`` events with ``state: waiting`` and its last problem are reported.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ottodeploy.lockfile import newest_healthy
from ottodeploy.manifests import load_lockfile
from ottodeploy.root import DeployRoot
from tests.conftest import run_inv
from tests.deploykit import (
    ServiceServer,
    configure,
    inv_process,
    lockfiles,
    read_lock,
    set_deploys,
    set_env,
    smoke_checks,
)
from tests.ecosystem import Ecosystem

INFRA = {"nodes": [{"host": "127.0.0.1", "name": n} for n in ("node1", "node2", "node3")],
         "services_host": "127.0.0.1"}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CHECKS = {"version", "peers", "node@node1", "node@node2", "node@node3"}


@pytest.fixture
def server(eco: Ecosystem) -> Iterator[ServiceServer]:
    with ServiceServer(eco.root) as srv:
        yield srv


@pytest.fixture
def deployed(eco: Ecosystem, server: ServiceServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """scratch deployed, healthy; its lockfile."""
    configure(eco, server.port)
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(INFRA))
    assert run_inv("deploy", "scratch").code == 0
    (path,) = lockfiles(eco)
    return path


def valid(eco: Ecosystem, path: Path) -> None:
    """The rewritten lockfile passes the validation of every lockfile read."""
    load_lockfile(DeployRoot(eco.root), path)


def test_every_verify_is_recorded_and_a_failure_is_final(
        eco: Ecosystem, server: ServiceServer, deployed: Path) -> None:
    path = deployed
    deploy_time = read_lock(path)["timestamp"]

    assert run_inv("verify", "scratch").code == 0
    (first,) = read_lock(path)["verifications"]
    assert first["result"] == "passed" and STAMP.fullmatch(first["at"])
    assert first["checks"] == dict.fromkeys(CHECKS, "passed")
    assert "reason" not in first
    assert read_lock(path)["status"] == "healthy"
    valid(eco, path)

    server.mode = "wrong"
    bad = run_inv("verify", "scratch")
    assert bad.code == 1, bad.output
    lock = read_lock(path)
    assert lock["status"] == "failed"
    assert [v["result"] for v in lock["verifications"]] == ["passed", "failed"]
    failed = lock["verifications"][1]
    assert failed["checks"]["version"] == "failed"
    assert failed["reason"].startswith("check version: GET http://127.0.0.1:")
    assert "expected commit ==" in failed["reason"]
    valid(eco, path)
    assert newest_healthy(DeployRoot(eco.root), "scratch") is None    # never promotable

    # status says when and why, instead of "failed since <deploy time>"
    text = run_inv("status", "--env", "scratch")
    assert text.code == 0, text.output
    assert text.stdout.startswith(f"scratch: failed (verify at {failed['at']}: "
                                  f"check version: GET http://127.0.0.1:"), text.stdout
    assert f") since {deploy_time} (" in text.stdout.splitlines()[0]
    data = json.loads(run_inv("status", "--env", "scratch", "--json").stdout)
    st = data["environments"]["scratch"]
    assert st["verified_at"] == failed["at"]
    assert st["verification"] == failed

    # a later pass is recorded too, and changes nothing about the verdict
    server.mode = "ok"
    again = run_inv("verify", "scratch")
    assert again.code == 0, again.output
    lock = read_lock(path)
    assert [v["result"] for v in lock["verifications"]] == ["passed", "failed", "passed"]
    assert lock["status"] == "failed"
    assert lockfiles(eco) == [path]          # rewritten in place, no new file
    valid(eco, path)
    shown = json.loads(run_inv("status", "--env", "scratch", "--json").stdout)
    st = shown["environments"]["scratch"]
    assert st["verified_at"] == lock["verifications"][2]["at"]
    assert st["verification"] == failed          # the verify that failed it still stands
    assert f"\nscratch: failed (verify at {failed['at']}: " in run_inv("status").stdout


def test_a_check_name_no_lockfile_key_allows_is_recorded_under_a_safe_name(
        eco: Ecosystem, server: ServiceServer, monkeypatch: pytest.MonkeyPatch) -> None:
    set_deploys(eco)
    checks = smoke_checks(server.port)[:1]
    checks[0]["name"] = "version: the commit/öß"
    set_env(eco, smoke=checks)
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(INFRA))
    assert run_inv("deploy", "scratch").code == 0
    assert run_inv("verify", "scratch").code == 0
    (path,) = lockfiles(eco)
    (entry,) = read_lock(path)["verifications"]
    assert entry["checks"] == {"version- the commit---": "passed"}
    valid(eco, path)


def test_progress_is_reported_while_a_check_waits(
        eco: Ecosystem, server: ServiceServer, deployed: Path) -> None:
    """``--events``: a ``check`` event says ``waiting`` and why; the check then passes."""
    set_env_timeout(eco, server, 120)
    server.mode = "503"
    proc = inv_process("verify", "scratch", "--events", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        waiting = None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "check" and event["state"] == "waiting":
                waiting = event
                server.mode = "ok"        # it answers now: the wait ends
                break
        assert waiting is not None, proc.stderr.read() if proc.stderr else ""
        rest = [json.loads(line) for line in proc.stdout]
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0
    assert waiting["message"].endswith("expected status 200, got 503")
    assert waiting["attempts"] >= 2
    assert {e["name"] for e in rest if e["event"] == "check" and e["state"] == "passed"} \
        == CHECKS


def set_env_timeout(eco: Ecosystem, server: ServiceServer, timeout: float) -> None:
    """scratch's checks retried for ``timeout`` seconds (its manifest edited in place)."""
    path = eco.root / "manifests" / "environments" / "scratch.yaml"
    text = path.read_text()
    assert "timeout: 2\n" in text
    path.write_text(text.replace("timeout: 2\n", f"timeout: {timeout:g}\n"))
