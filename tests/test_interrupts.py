"""``interrupts``: how a signal becomes ``Interrupted``, in this process (pytest's main thread).

The end-to-end promise (real ``inv`` processes, every stage) is ``test_signals``; these
pin the mechanism down where a race would make it flaky: a signal the kernel gives a
worker thread while the main thread sleeps on a lock, a signal inside a stretch that
must not be cut, a child started after the signal, and the state left for threads that
outlive the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from ottodeploy import interrupts
from ottodeploy.core.errors import Interrupted, OttodeployError
from ottodeploy.process import run


@pytest.mark.timeout(30)  # unbroken, the main thread would sleep on its lock for ever
def test_a_signal_given_to_a_worker_thread_still_wakes_the_main_thread() -> None:
    lock = threading.Lock()
    lock.acquire()

    main = Path(f"/proc/self/task/{threading.main_thread().native_id}/stat")

    def signal_myself() -> None:
        # delivered to this thread: Python would run the handler only once the main
        # thread runs, and the main thread sleeps on ``lock`` (state S) by then
        while main.read_text().rsplit(")", 1)[1].split()[0] != "S":
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    with pytest.raises(Interrupted) as caught, interrupts.stoppable("waiting"):
        threading.Thread(target=signal_myself).start()
        lock.acquire()
        pytest.fail("the main thread got the lock instead of the signal")
    assert caught.value.exit_code == 143
    assert str(caught.value) == "interrupted (SIGTERM): waiting stopped"


def signalled_while_waiting() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    threading.Event().wait(60)
    pytest.fail("the wait was not interrupted")


def test_a_signal_inside_a_deferred_stretch_is_raised_when_it_ends() -> None:
    done = []
    with pytest.raises(Interrupted) as caught, interrupts.stoppable("record"), \
            interrupts.deferred():
        stop = interrupts.attempt(signalled_while_waiting)
        assert stop is not None and stop.signal == "SIGINT"
        os.kill(os.getpid(), signal.SIGINT)          # a second one: only noted
        done.append("the record was written")
        raise stop.with_detail("deploy of x stopped; the record says so")
    assert done == ["the record was written"]
    assert caught.value.exit_code == 130
    assert str(caught.value) == "interrupted (SIGINT): deploy of x stopped; the record says so"


def test_a_signal_between_attempt_and_its_end_is_not_lost() -> None:
    with pytest.raises(Interrupted), interrupts.stoppable("record"), interrupts.deferred():
        os.kill(os.getpid(), signal.SIGTERM)      # recorded, not raised, here
        assert interrupts.requested() == "SIGTERM"
        stop = interrupts.attempt(lambda: None)
        assert stop is not None and stop.signal == "SIGTERM"
        raise stop


def test_nothing_starts_after_the_signal_and_worker_threads_see_it() -> None:
    seen: list[str | None] = []
    refused: list[str] = []

    def worker() -> None:
        seen.append(interrupts.requested())
        try:
            run(["true"])
        except OttodeployError as exc:
            refused.append(str(exc))

    with pytest.raises(Interrupted), interrupts.stoppable("build"):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
        pytest.fail("deferred must raise the signal when it ends")
    assert seen == ["SIGTERM"]
    assert refused == ["not started: SIGTERM received, the command is stopping"]
    # still true after the command, for a thread it could not join; reset by the next one
    assert interrupts.requested() == "SIGTERM"
    with interrupts.stoppable("next"):
        assert interrupts.requested() is None
        assert run(["true"]).returncode == 0


def test_a_running_child_is_stopped_with_its_group(tmp_path: Path) -> None:
    from ottodeploy.process import stream

    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "ready":
            os.kill(os.getpid(), signal.SIGTERM)

    script = "sleep 300 & echo $! > child; echo ready; wait"
    with pytest.raises(Interrupted), interrupts.stoppable("e2e"):
        stream(["bash", "-c", script], cwd=tmp_path, env=None, on_line=on_line)
    child = int((tmp_path / "child").read_text())
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(child)], capture_output=True,
                           text=True, check=False).stdout.strip()
    assert state in ("", "Z"), f"the group's other process still runs ({state})"
