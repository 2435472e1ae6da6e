"""Kernel locks (SPEC §6): exactly one holder, a dead holder's lock free at once, the holder named.

Issue 13 found 2 to 5 simultaneous holders of the PID-file lock in 20 of 20 rounds of 8
takers behind a barrier. Here the same race runs for many rounds against ``locks.hold``
with real processes; a holder killed with SIGKILL is replaced at once, by nobody's
cleanup; a build and a deploy of one environment never run together.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.errors import EXIT_FAILED, LockHeld, OttodeployError
from ottodeploy.locks import hold
from ottodeploy.state import build_lock, env_lock
from tests.conftest import run_inv

TAKERS = 8
ROUNDS = 40


def _taker(path: str, start: Any, tried: Any, done: Any, results: Any, rounds: int) -> None:
    """Each round: wait for everyone, try once, wait until all tried, then let go."""
    for n in range(rounds):
        start.wait(timeout=60)
        try:
            with hold(Path(path), f"taker {os.getpid()}", "test"):
                results.put((n, "held"))
                tried.wait(timeout=60)   # hold it until every taker has tried
        except LockHeld as exc:
            named = "another test is running: pid" in exc.message
            results.put((n, "refused, holder named" if named else "refused, holder unknown"))
            tried.wait(timeout=60)
        done.wait(timeout=60)


def test_takers_behind_a_barrier_get_exactly_one_holder_every_round(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    start, tried, done = (ctx.Barrier(TAKERS) for _ in range(3))
    results = ctx.Queue()
    path = str(tmp_path / "env" / "deploy.lock")
    procs = [ctx.Process(target=_taker, args=(path, start, tried, done, results, ROUNDS))
             for _ in range(TAKERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in range(TAKERS * ROUNDS)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    holders = {n: sum(1 for m, what in outcomes if m == n and what == "held")
               for n in range(ROUNDS)}
    assert holders == dict.fromkeys(range(ROUNDS), 1)
    assert {what for _, what in outcomes} == {"held", "refused, holder named"}


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ottodeploy.locks import hold
    with hold(Path(sys.argv[1]), "deploy prod", "deploy of this environment"):
        print("holding", flush=True)
        time.sleep(600)
""")


def start_holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_the_refused_taker_sees_the_holder_and_a_killed_holder_frees_the_lock(
        tmp_path: Path) -> None:
    path = tmp_path / "prod" / "deploy.lock"
    proc = start_holder(path)
    try:
        with pytest.raises(LockHeld) as info, hold(path, "deploy prod", "deploy of prod"):
            pytest.fail("two holders")
        text = str(info.value)
        assert f"another deploy of prod is running: pid {proc.pid} on {socket.gethostname()}" \
            in text
        assert "(deploy prod)" in text and "since 20" in text
        assert "released when that process ends" in text
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # nobody cleaned up: the kernel released the lock with the process
    with hold(path, "deploy prod", "deploy of prod") as me:
        assert me.pid == os.getpid()
        assert f'"pid": {os.getpid()}' in path.read_text()
    assert path.read_text() == ""    # a clean release leaves no description behind
    assert path.exists()             # and never deletes the file


def test_a_stale_description_without_a_lock_blocks_nobody(tmp_path: Path) -> None:
    path = tmp_path / "deploy.lock"
    path.write_text('{"pid": 1, "host": "elsewhere", "started": 1.0, "command": "deploy"}')
    with hold(path, "deploy", "deploy"):
        assert '"host": "elsewhere"' not in path.read_text()


def test_a_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "deploy.lock").symlink_to(victim)
    with pytest.raises(OttodeployError, match="cannot open the lock file"), \
            env_lock(tmp_path / "env", "deploy"):
        pytest.fail("locked through a symlink")
    assert victim.read_text() == "keep me"


def test_deploy_and_build_locks_are_separate_and_each_exclusive(tmp_path: Path) -> None:
    state = tmp_path / "scratch"
    with env_lock(state, "deploy scratch"), build_lock(state, "deploy scratch"):
        with pytest.raises(LockHeld, match="another build of this environment is running"), \
                build_lock(state, "build scratch"):
            pytest.fail("two builds")
        with pytest.raises(LockHeld, match="another deploy of this environment is running"), \
                env_lock(state, "deploy scratch"):
            pytest.fail("two deploys")
    with build_lock(state, "build scratch"):
        pass


def test_inv_build_is_refused_while_the_environment_is_being_deployed(
        eco: Any, tmp_path: Path) -> None:
    proc = start_holder(eco.root / ".ottodeploy" / "scratch" / "build.lock")
    try:
        result = run_inv("build", "scratch")
    finally:
        proc.kill()
        proc.wait()
    assert result.code == EXIT_FAILED, result
    assert f"another build of this environment is running: pid {proc.pid}" in result.stderr
    assert "Traceback" not in result.output
    assert eco.built() == []
    assert run_inv("build", "scratch", "--task", "monitoring_config").code == 0
