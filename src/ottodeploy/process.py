"""The one door to other processes.

Every subprocess the tool starts goes through ``run`` (output captured) or
``stream`` (output passed on line by line as it comes). Commands are argument
lists, never a shell string built from manifest values; the command is logged
as ``cwd$ cmd``; a failure becomes a ``ProcessFailed`` that says what was run,
where, its exit status and the tail of what it printed, with secrets redacted.
Every child is tracked by ``interrupts`` while it runs, so SIGINT and SIGTERM stop
it (its process group, for ``stream`` and ``passthrough``) and nothing outlives the
command; an exception while one runs kills its group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, TypeVar

from . import interrupts
from .core.errors import OttodeployError, ProcessFailed
from .redact import redact

T = TypeVar("T")
R = TypeVar("R")
MAX_PARALLEL = 16
log = logging.getLogger("ottodeploy.process")
_TAIL_LINES = 20


class Completed(NamedTuple):
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def failed(args: Sequence[str], cwd: Path | None, returncode: int | None, output: str, *,
           what: str | None = None) -> ProcessFailed:
    """The ``ProcessFailed`` for a command: what ran, where, its status and output's tail."""
    status = "timed out" if returncode is None else f"exit {returncode}"
    tail = "\n".join(output.strip().splitlines()[-_TAIL_LINES:])
    text = f"{what or 'command failed'} ({status}): {describe(args, cwd)}"
    if tail:
        text += "\n" + "\n".join(f"  | {ln}" for ln in tail.splitlines())
    return ProcessFailed(redact(text), args=tuple(args), returncode=returncode, output=output)


def describe(args: Sequence[str], cwd: Path | None = None) -> str:
    return f"{cwd or '.'}$ {shlex.join(args)}"


def _env(env: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if env is None else dict(env)


def run(args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None, check: bool = True, input_text: str | None = None,
        what: str | None = None) -> Completed:
    """Run ``args`` to completion with output captured."""
    log.debug("%s", redact(describe(args, cwd)))
    try:
        with interrupts.tracked(lambda: subprocess.Popen(
                list(args), cwd=cwd, env=_env(env), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        ), group=False) as proc:
            try:
                stdout, stderr = proc.communicate(input_text, timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
                raise failed(args, cwd, None, stderr or stdout, what=what) from None
    except FileNotFoundError:
        raise OttodeployError(f"{args[0]}: command not found (needed for {describe(args, cwd)})") \
            from None
    done = Completed(tuple(args), proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise failed(args, cwd, proc.returncode, stderr or stdout, what=what)
    return done


def stream(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None,
           on_line: Callable[[str], None], timeout: float | None = None,
           input_text: str | None = None) -> tuple[int | None, str]:
    """Run ``args`` passing each line of output (stdout and stderr merged) to ``on_line``.

    ``input_text`` (secrets, for one) is written to the process's stdin, never its arguments.
    Returns the exit status (None when killed for the timeout) and the output's last lines.
    """
    log.debug("%s", redact(describe(args, cwd)))
    tail: list[str] = []
    try:
        with interrupts.tracked(lambda: subprocess.Popen(
                list(args), cwd=cwd, env=_env(env), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL if input_text is None else subprocess.PIPE, text=True,
                encoding="utf-8", errors="replace", start_new_session=True,
        ), group=True) as proc:
            code, fired = _follow(proc, on_line, tail, timeout, input_text)
    except FileNotFoundError:
        raise OttodeployError(f"{args[0]}: command not found") from None
    return (None if fired else code), "\n".join(tail)


def _follow(proc: subprocess.Popen[str], on_line: Callable[[str], None], tail: list[str],
            timeout: float | None, input_text: str | None) -> tuple[int, bool]:
    """Pass ``proc``'s lines on until it ends; its status and whether the timeout killed it."""
    if input_text is not None:
        threading.Thread(target=_feed, args=(proc, input_text), daemon=True).start()
    fired = threading.Event()
    timer = None
    if timeout is not None:

        def expire() -> None:
            fired.set()
            _kill_group(proc)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            on_line(line)
            tail.append(line)
            if len(tail) > _TAIL_LINES:
                del tail[0]
        return proc.wait(), fired.is_set()
    finally:
        if timer is not None:
            timer.cancel()


def _feed(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(OSError):  # the process may exit without reading it all
        proc.stdin.write(text)
    with contextlib.suppress(OSError):
        proc.stdin.close()


def passthrough(args: Sequence[str], *, stdin: bool = False,
                env: Mapping[str, str] | None = None, timeout: float | None = None) -> int:
    """Run ``args`` with this process's stdout and stderr (and stdin if ``stdin``); its status.

    For commands run on behalf of a script (``ottodeploy.remote``): their output is the
    script's. 124 when killed for the timeout, 127 when the program does not exist.
    """
    log.debug("%s", redact(describe(args)))
    try:
        with interrupts.tracked(lambda: subprocess.Popen(
                list(args), env=_env(env), stdin=None if stdin else subprocess.DEVNULL,
                start_new_session=True), group=True) as proc:
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                return 124
    except FileNotFoundError:
        return 127


def _kill_group(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, dead but unreaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass  # no /proc: fall back to the signal test
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` over ``items`` in threads, results in order; the first exception is raised."""
    todo = list(items)
    if len(todo) <= 1:
        return [fn(x) for x in todo]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(todo))) as pool:
        return list(pool.map(fn, todo))
