"""SIGINT and SIGTERM stop a command cleanly (SPEC §6a), attacked the way it was broken.

Each test runs ``inv`` as a real process, in its own session, with a marker in its
environment (``OTTO_TEST_MARK``) that every process it starts inherits. The signal is
sent while the run waits at a known point — a recipe (``OTTO_TEST_SLEEP``), a deploy
step (``hold-<component>``), a smoke check (a server answering 503), the e2e run — and
then the promise is checked: exit 143 (SIGTERM) or 130 (SIGINT), one line on stderr
saying so, no traceback, no process carrying the marker left alive (a zombie waiting for
a parent to reap it runs nothing, and does not count), the deploy and build locks free,
and a ``failed`` lockfile with ``interrupted`` exactly when the deploy stage had begun.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_inv
from tests.deploykit import (
    DEPLOYS,
    ServiceServer,
    deployed,
    inv_process,
    lockfiles,
    read_lock,
    set_deploys,
    set_env,
    smoke_checks,
    wait_for,
)
from tests.ecosystem import Ecosystem

INFRA = {"nodes": [{"host": "127.0.0.1", "name": n} for n in ("node1", "node2", "node3")],
         "services_host": "127.0.0.1"}
SIGNALS = [pytest.param(signal.SIGTERM, 143, "SIGTERM", id="SIGTERM"),
           pytest.param(signal.SIGINT, 130, "SIGINT", id="SIGINT")]


@pytest.fixture
def server(eco: Ecosystem) -> Iterator[ServiceServer]:
    with ServiceServer(eco.root) as srv:
        yield srv


@pytest.fixture
def site(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> Ecosystem:
    """Deploy sections and addresses; each test sets its smoke checks and e2e (``checks``)."""
    set_deploys(eco)
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(INFRA))
    (eco.root / "deployed").mkdir()
    return eco


def checks(eco: Ecosystem, server: ServiceServer, *, timeout: float = 2,
           e2e: str | None = "default") -> None:
    """scratch's smoke checks (each retried for ``timeout`` s) and e2e run."""
    run = f"python3 deploy/e2e.py {server.port}" if e2e == "default" else e2e
    set_env(eco, smoke=smoke_checks(server.port, timeout), e2e={"run": run} if run else None)


# --- the run, and what it leaves ------------------------------------------------------------


def marked(mark: str) -> list[tuple[int, str]]:
    """Live processes (pid, command) whose environment carries ``OTTO_TEST_MARK=mark``."""
    needle = f"OTTO_TEST_MARK={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            found.append((int(entry.name), cmd))
    return found


@dataclass
class Run:
    proc: subprocess.Popen[str]
    mark: str
    out: Path
    err: Path

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def signal(self, sig: int, *, group: bool = False) -> int:
        """Send ``sig`` (to the whole process group, as a terminal's Ctrl-C does); the status."""
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=120)

    def stop(self) -> None:
        """Teardown: whatever the test left, killed (the assertions are made before)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pid, _ in marked(self.mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    runs: list[Run] = []

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        mark = uuid.uuid4().hex
        out, err = tmp_path / f"out-{len(runs)}.log", tmp_path / f"err-{len(runs)}.log"
        with out.open("w") as o, err.open("w") as e:
            proc = inv_process(*args, stdout=o, stderr=e, start_new_session=True,
                               env={**os.environ, "OTTO_TEST_MARK": mark, **(env or {})})
        started = Run(proc, mark, out, err)
        runs.append(started)
        return started

    yield run
    for r in runs:
        r.stop()


def lock_free(eco: Ecosystem, name: str) -> bool:
    """Nobody holds ``.ottodeploy/scratch/<name>`` and no holder's description is left."""
    from ottodeploy.locks import hold

    path = eco.root / ".ottodeploy" / "scratch" / name
    if path.exists() and path.read_text():
        return False
    with hold(path, "test", "test"):   # LockHeld if anyone holds it
        return True


def assert_stopped_cleanly(run: Run, code: int, name: str, eco: Ecosystem, status: int) -> str:
    """The common promise; returns the one line on stderr."""
    assert status == code, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"ottodeploy: interrupted ({name}): "), lines
    assert "Traceback" not in run.stdout + run.stderr
    assert marked(run.mark) == [], "processes of the run outlived it"
    assert lock_free(eco, "deploy.lock")
    assert lock_free(eco, "build.lock")
    return lines[0]


def the_lock(eco: Ecosystem) -> dict[str, Any]:
    (path,) = lockfiles(eco)
    return read_lock(path)


# --- inv deploy, in each stage ---------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code", "name"), SIGNALS)
def test_a_signal_during_a_recipe_writes_nothing(
        site: Ecosystem, server: ServiceServer, start: Any, tmp_path: Path, sig: int, code: int,
        name: str) -> None:
    checks(site, server)
    started = tmp_path / "started"
    run = start("deploy", "scratch",
                env={"OTTO_TEST_SLEEP": "300", "OTTO_TEST_STARTED": str(started)})
    wait_for(lambda: started.exists() and started.read_text().strip() != "",
             what="a recipe to start")
    line = assert_stopped_cleanly(run, code, name, site, run.signal(sig))
    assert "deploy stopped" in line
    assert lockfiles(site) == []          # the deploy stage had not begun: no record
    assert deployed(site) == []
    assert "== deploy" not in run.stdout


@pytest.mark.parametrize(("sig", "code", "name"), SIGNALS)
def test_a_signal_during_a_deploy_step_stops_it_and_records_a_failed_lockfile(
        site: Ecosystem, server: ServiceServer, start: Any, sig: int, code: int,
        name: str) -> None:
    checks(site, server)
    deployed_dir = site.root / "deployed"
    (deployed_dir / "hold-services").write_text("")
    run = start("deploy", "scratch")
    holding = deployed_dir / "holding-services"
    wait_for(lambda: holding.exists() and holding.read_text() != "",
             what="the services deploy step to start")
    step = int(holding.read_text())
    line = assert_stopped_cleanly(run, code, name, site, run.signal(sig))
    assert not Path(f"/proc/{step}").exists() or "Z" in Path(f"/proc/{step}/stat").read_text()
    lock = the_lock(site)
    assert lock["status"] == "failed"
    assert lock["interrupted"] == name
    assert lock["tests"] == {"deploy": "interrupted", "smoke": "skipped", "e2e": "skipped"}
    assert f"stopped by {name} during the deploy stage" in lock["note"]
    (path,) = lockfiles(site)
    assert f"lockfiles/{path.name} records it" in line
    # the step held: the components after it never ran, the one before did
    assert [s["component"] for s in deployed(site)] == ["ottochain"] * 3
    assert f"scratch: failed (interrupted by {name}) since " in run_inv("status").stdout


@pytest.mark.parametrize(("sig", "code", "name"), SIGNALS)
def test_a_signal_during_smoke_records_the_smoke_stage(
        site: Ecosystem, server: ServiceServer, start: Any, sig: int, code: int,
        name: str) -> None:
    checks(site, server, timeout=300, e2e=None)
    server.mode = "503"
    run = start("deploy", "scratch")
    wait_for(lambda: any(r.path == "/version" for r in server.recorder.requests),
             what="the smoke checks to ask")
    assert_stopped_cleanly(run, code, name, site, run.signal(sig))
    lock = the_lock(site)
    assert (lock["status"], lock["interrupted"]) == ("failed", name)
    assert lock["tests"] == {"deploy": "passed", "smoke": "interrupted", "e2e": "skipped"}


@pytest.mark.parametrize(("sig", "code", "name"), SIGNALS)
def test_a_signal_during_e2e_stops_its_process_group(
        site: Ecosystem, server: ServiceServer, start: Any, sig: int, code: int,
        name: str) -> None:
    # e2e starts a child of its own that outlives its shell unless its group is stopped
    site.write("deploy/e2e-hold.sh", "sleep 300 &\necho $! > deployed/e2e-child\n"
                                     "touch deployed/holding-e2e\nwait\n")
    checks(site, server, e2e="bash deploy/e2e-hold.sh")
    run = start("deploy", "scratch")
    wait_for((site.root / "deployed" / "holding-e2e").exists, what="e2e to start")
    child = int((site.root / "deployed" / "e2e-child").read_text())
    assert_stopped_cleanly(run, code, name, site, run.signal(sig))
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()
    lock = the_lock(site)
    assert (lock["status"], lock["interrupted"]) == ("failed", name)
    assert lock["tests"] == {"deploy": "passed", "smoke": "passed", "e2e": "interrupted"}


def test_ctrl_c_reaches_the_whole_group_and_still_ends_in_one_line(
        site: Ecosystem, server: ServiceServer, start: Any) -> None:
    """A terminal's Ctrl-C signals inv and every process of its group at once."""
    checks(site, server)
    deployed_dir = site.root / "deployed"
    (deployed_dir / "hold-explorer").write_text("")
    run = start("deploy", "scratch")
    wait_for((deployed_dir / "holding-explorer").exists, what="the explorer step")
    assert_stopped_cleanly(run, 130, "SIGINT", site, run.signal(signal.SIGINT, group=True))
    assert the_lock(site)["interrupted"] == "SIGINT"


def test_a_step_that_ignores_sigterm_is_killed_after_the_grace(
        site: Ecosystem, server: ServiceServer, start: Any) -> None:
    """TERM, then KILL: neither a step nor a child it left behind in its group survives."""
    checks(site, server)
    site.write("deploy/stubborn.sh",
               "trap '' TERM\n(trap '' TERM; sleep 300) &\n"
               "touch deployed/holding-stubborn\nwhile true; do sleep 0.1; done\n")
    set_deploys(site, {**DEPLOYS, "services": {"on": "services_host",
                                                "run": "bash deploy/stubborn.sh"}})
    run = start("deploy", "scratch", env={"OTTODEPLOY_STOP_GRACE": "1"})
    wait_for((site.root / "deployed" / "holding-stubborn").exists, what="the stubborn step")
    assert marked(run.mark)      # the run and its step are alive
    assert_stopped_cleanly(run, 143, "SIGTERM", site, run.signal(signal.SIGTERM))
    assert the_lock(site)["tests"]["deploy"] == "interrupted"


# --- the other commands -----------------------------------------------------------------------


def test_inv_build_stops_its_recipes_and_releases_the_build_lock(
        site: Ecosystem, server: ServiceServer, start: Any, tmp_path: Path) -> None:
    checks(site, server)
    started = tmp_path / "started"
    run = start("build", "scratch", "--jobs", "2",
                env={"OTTO_TEST_SLEEP": "300", "OTTO_TEST_STARTED": str(started)})
    wait_for(lambda: started.exists() and started.read_text().strip() != "",
             what="a recipe to start")
    status = run.signal(signal.SIGTERM)
    assert status == 143, run.stdout + run.stderr
    assert "ottodeploy: interrupted (SIGTERM): build stopped" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert marked(run.mark) == []
    assert lock_free(site, "build.lock")
    assert site.built() == []          # nothing recorded as built by a killed recipe


def test_inv_verify_is_stopped_before_it_writes(
        site: Ecosystem, server: ServiceServer, start: Any) -> None:
    checks(site, server, timeout=300, e2e=None)
    assert run_inv("deploy", "scratch").code == 0
    (path,) = lockfiles(site)
    before = path.read_bytes()
    server.mode = "503"
    asked = len(server.recorder.requests)
    run = start("verify", "scratch")
    wait_for(lambda: len(server.recorder.requests) > asked, what="verify to ask")
    assert_stopped_cleanly(run, 130, "SIGINT", site, run.signal(signal.SIGINT))
    assert path.read_bytes() == before    # neither a verification nor a failed mark


def test_inv_rollback_interrupted_in_its_deploy_stage_records_the_replay(
        site: Ecosystem, server: ServiceServer, start: Any) -> None:
    checks(site, server)
    assert run_inv("deploy", "scratch").code == 0
    site.repos["services"].commit("fix: services", {"s.txt": "1"}, branch="develop")
    assert run_inv("deploy", "scratch").code == 0   # so rolling back redeploys the services
    first, second = sorted(lockfiles(site), key=lambda p: p.stat().st_mtime_ns)
    (site.root / "deployed" / "hold-services").write_text("")
    run = start("rollback", "scratch")
    wait_for((site.root / "deployed" / "holding-services").exists, what="the rollback's step")
    assert_stopped_cleanly(run, 143, "SIGTERM", site, run.signal(signal.SIGTERM))
    (new,) = set(lockfiles(site)) - {first, second}
    lock = read_lock(new)
    assert (lock["status"], lock["interrupted"]) == ("failed", "SIGTERM")
    assert lock["replay_of"] == first.name

