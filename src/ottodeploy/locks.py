"""Kernel locks: one deploy, one build of an environment at a time (SPEC §6).

``hold(path, ...)`` opens ``path`` (created if needed, never followed through
a symlink, never inherited by child processes) and asks the kernel for an
exclusive ``flock`` without waiting. Exactly one open file holds it; every
other taker is refused at once. The holder then writes who it is (pid, host,
command, start) into the file, so a refused taker can name it. The lock lives
exactly as long as the holder's file descriptor: a holder that exits, crashes
or is killed with SIGKILL releases it by dying, so there is no stale lock, no
PID check and no takeover — and so no race between takers. On a clean release
the holder empties the file before closing it, so a description is never
left behind. The file itself is never deleted: deleting a lock file while
another process has it open would let two processes lock two different files
of the same name.

A refused taker reads the holder's description; the holder writes it right
after it got the lock, so an empty file is read again for a moment before the
holder is called unknown.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from .core.errors import LockHeld, OttodeployError

DESCRIBE_WAIT = 0.5  # seconds a refused taker waits for the holder to say who it is


class Holder(NamedTuple):
    pid: int
    host: str
    started: float
    command: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"pid {self.pid} on {self.host}, since {when} ({self.command})"


def _open(path: Path) -> int:
    from .statefiles import clear_way

    path.parent.mkdir(parents=True, exist_ok=True)
    clear_way(path)  # a folder in its place holds no lock: set aside, not fatal (SPEC §6a)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o644)
    except OSError as exc:
        raise OttodeployError(f"cannot open the lock file {path}: {exc.strerror}",
                              hint="it must be a regular file the deploying user can write") \
            from None


def _read_holder(fd: int) -> Holder | None:
    deadline = time.monotonic() + DESCRIBE_WAIT
    while True:
        try:
            data = json.loads(os.pread(fd, 4096, 0) or b"null")
            if isinstance(data, dict):
                return Holder(int(data["pid"]), str(data["host"]), float(data["started"]),
                              str(data["command"]))
        except (OSError, ValueError, TypeError, KeyError):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


@contextlib.contextmanager
def hold(path: Path, command: str, what: str) -> Iterator[Holder]:
    """Hold the kernel lock on ``path``; ``LockHeld`` at once, naming the holder, if taken.

    ``command`` is what this process says it is doing; ``what`` names the kind of work
    in the refusal ("deploy of this environment", "build of scratch").
    """
    fd = _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_holder(fd)
            who = other.describe() if other else "a process that has not said who it is"
            raise LockHeld(f"another {what} is running: {who}",
                           hint="wait for it to finish: the lock is released when that "
                                "process ends") from None
        me = Holder(os.getpid(), socket.gethostname(), time.time(), command)
        text = json.dumps(me._asdict()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
        try:
            yield me
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock

