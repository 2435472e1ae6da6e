"""Signals: SIGINT and SIGTERM stop a command cleanly and leave nothing running (SPEC §6a).

``stoppable(what)`` wraps one command (``cli.guarded`` wraps every invoke task in
it). While it is active:

1. The first SIGINT or SIGTERM is recorded, every child process the tool runs is
   sent SIGTERM (its whole process group when it leads one), and ``Interrupted``
   (``core.errors``) is raised in the main thread, where Python runs signal
   handlers, at whatever point it was: ``with`` blocks and ``finally`` clauses
   release the locks as for any error. Later signals are only noted: the stop is
   under way. A signal the kernel hands to another thread is passed on to the main
   thread (``_forwarding``), so a main thread asleep on a lock still wakes.
2. Every child is ``tracked`` while it runs (``process`` starts them all through
   it). A child whose owner sees an exception, or that ends after the signal, is
   stopped by its owner (``Child.stop``): SIGTERM, then, for whatever of its group
   still lives ``grace()`` seconds (10) after the signal, SIGKILL. Children of worker
   threads (parallel recipes, checks over ssh, checkouts) end the same way; their
   threads see ``requested()`` and stop waiting, and no new process starts
   (``refuse_new``).
3. When the command ends, ``stoppable`` waits until every tracked child is gone
   (killing what is left at the deadline), puts the previous handlers back, and
   makes sure the command ends in ``Interrupted`` whatever error the stop caused on
   its way (a killed step is a failed step, but the exit status is the signal's).
   ``requested()`` stays true until the next command starts, so a worker thread that
   could not be joined (one being started as the signal came) still stops.

``deferred()`` marks a stretch that must not be cut, such as writing the record of
an interrupted deploy: a signal inside it is recorded and raised when it ends.
``attempt(fn)`` runs ``fn`` with signals raising again, inside such a stretch, and
returns the interruption as a value instead of raising it. Spawning a child and
tracking it is such a stretch too, so a signal never falls between the two.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .core.errors import Interrupted, OttodeployError

GRACE_VARIABLE = "OTTODEPLOY_STOP_GRACE"
DEFAULT_GRACE = 10.0
_NAMES: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
_POLL = 0.05
_REAP_WAIT = 5.0   # after SIGKILL, how long the end of a command waits for owners to reap

P = TypeVar("P", bound="subprocess.Popen[Any]")


def grace() -> float:
    """Seconds between SIGTERM and SIGKILL (``OTTODEPLOY_STOP_GRACE``, default 10)."""
    try:
        return max(0.0, float(os.environ.get(GRACE_VARIABLE, DEFAULT_GRACE)))
    except ValueError:
        return DEFAULT_GRACE


def group_alive(pgid: int) -> bool:
    """Whether a live process (not a zombie) is in process group ``pgid``."""
    try:
        names = [p.name for p in Path("/proc").iterdir()]
    except OSError:  # no /proc: ask the kernel (zombies count there)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for name in names:
        if not name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


# Plain classes, not dataclasses: they are made when the module loads, on every command.
class Child:
    """A process the tool started; ``group``: it leads its own process group."""

    def __init__(self, proc: subprocess.Popen[Any], group: bool) -> None:
        self.proc, self.group = proc, group

    def send(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)

    def stop(self, deadline: float) -> None:
        """SIGTERM; SIGKILL for whatever of it still lives at ``deadline``; reaped."""
        self.send(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        if self.group:
            while group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(_POLL)
        self.send(signal.SIGKILL)
        self.proc.wait()

    def kill(self) -> None:
        self.send(signal.SIGKILL)
        self.proc.wait()


class _State:
    def __init__(self, *, active: bool = False) -> None:
        self.reset(active=active)

    def reset(self, *, active: bool) -> None:
        self.active = active
        self.signal: str | None = None
        self.raised = False           # the interruption was raised (or returned) once
        self.raising = True           # False inside ``deferred``
        self.holding = 0              # spawning a child: no raise until it is tracked
        self.deadline = 0.0
        self.children: dict[int, Child] = {}


_state = _State()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def requested() -> str | None:
    """The signal that asked this command to stop (``SIGINT``/``SIGTERM``), or None."""
    return _state.signal


def _raise_pending() -> None:
    state = _state
    if (state.signal is not None and not state.raised and state.raising
            and state.holding == 0 and _main_thread()):
        state.raised = True
        raise Interrupted(state.signal)


def _handle(signum: int, _frame: object) -> None:
    state = _state
    if state.signal is None:
        state.signal = _NAMES.get(signum, f"signal {signum}")
        state.deadline = time.monotonic() + grace()
        for child in list(state.children.values()):
            child.send(signal.SIGTERM)
    _raise_pending()


def refuse_new() -> None:
    """Nothing starts once a stop was asked for (``Interrupted`` in the main thread)."""
    if _state.signal is None:
        return
    if _main_thread() and _state.raising:
        _state.raised = True
        raise Interrupted(_state.signal)
    if not _main_thread():
        raise OttodeployError(f"not started: {_state.signal} received, the command is stopping")


@contextlib.contextmanager
def tracked(spawn: Callable[[], P], *, group: bool) -> Iterator[P]:
    """Start a child with ``spawn`` and track it until the block ends.

    On an exception in the block the child is stopped (``Interrupted``: TERM, then KILL
    at the deadline) or killed (anything else); after a signal, whatever is left of its
    group is stopped too.
    """
    refuse_new()
    state = _state
    main = _main_thread()
    state.holding += main           # no raise between the start and the tracking
    try:
        proc = spawn()
    except BaseException:
        state.holding -= main
        raise
    child = Child(proc, group)
    state.children[proc.pid] = child
    try:
        state.holding -= main
        if state.signal is not None:
            child.send(signal.SIGTERM)   # the signal came while it started
        _raise_pending()
        yield proc
    except Interrupted:
        child.stop(state.deadline)
        raise
    except BaseException:
        if state.signal is not None:
            child.stop(state.deadline)
        else:
            child.kill()
        raise
    else:
        if state.signal is not None:
            child.stop(state.deadline)   # the leader ended; the rest of its group too
    finally:
        state.children.pop(proc.pid, None)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Signals inside the block are recorded, and raised when it ends (see the module doc)."""
    if not _main_thread():
        yield
        return
    state = _state
    before = state.raising
    state.raising = False
    try:
        yield
    finally:
        state.raising = before
    _raise_pending()


def attempt(fn: Callable[[], object]) -> Interrupted | None:
    """Run ``fn`` with signals raising; the interruption that stopped it, or None."""
    state = _state
    if not _main_thread():
        fn()
        return None
    before = state.raising
    try:
        try:
            state.raising = True
            _raise_pending()
            fn()
        finally:
            state.raising = before
    except Interrupted as stop:
        return stop
    if state.signal is not None and not state.raised:
        state.raised = True
        return Interrupted(state.signal)
    return None


def _finish() -> None:
    """Wait for every tracked child to be gone; at the deadline kill what is left."""
    state = _state
    state.raising = False
    while state.children and time.monotonic() < state.deadline:
        time.sleep(_POLL)
    for child in list(state.children.values()):
        child.send(signal.SIGKILL)
    end = time.monotonic() + _REAP_WAIT
    while state.children and time.monotonic() < end:
        time.sleep(_POLL)


@contextlib.contextmanager
def _forwarding() -> Iterator[None]:
    """Pass a signal the kernel gave another thread on to the main thread.

    Python runs a handler in the main thread, once that thread runs: a SIGTERM the
    kernel delivers to a worker thread while the main thread sleeps on a lock (doit's
    result queue) would wait until a recipe ends by itself. So the byte the C-level
    handler writes to the wakeup fd is read by a watcher thread, which sends the signal
    to the main thread itself (once: its wait is then interrupted and the handler runs).
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        forwarded = False
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return  # the write end is closed: the command is over
            wanted = [b for b in data if b in _NAMES]
            if wanted and not forwarded and _state.signal is None:
                forwarded = True
                with contextlib.suppress(OSError):
                    signal.pthread_kill(main, wanted[0])

    watcher = threading.Thread(target=watch, name="signal-forwarder", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.close(write_fd)
        watcher.join(timeout=5)
        os.close(read_fd)


@contextlib.contextmanager
def stoppable(what: str) -> Iterator[None]:
    """SIGINT and SIGTERM stop the block as the module doc says; ``what`` names the command."""
    if _state.active or not _main_thread():
        yield
        return
    _state.reset(active=True)
    previous = {s: signal.signal(s, _handle) for s in _NAMES}
    try:
        with _forwarding():
            try:
                yield
            except Interrupted as stop:
                _finish()
                if stop.detail:
                    raise
                raise stop.with_detail(f"{what} stopped") from None
            except BaseException as exc:
                if _state.signal is None:
                    raise
                _finish()
                raise Interrupted(_state.signal, f"{what} stopped") from exc
            if _state.signal is not None:
                _finish()
                raise Interrupted(_state.signal, f"{what} stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # ``signal`` stays set until the next command: a worker thread the command could not
        # join (one started just as the signal came) still sees ``requested()`` and ends
        _state.active = False
