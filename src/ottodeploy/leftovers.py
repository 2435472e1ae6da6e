"""Recipes left running by a build that died outright: found and stopped by the next build.

A recipe runs in a session of its own (``process.stream``), so that SIGINT and SIGTERM can
stop its whole process group (``interrupts``). The price: a build killed outright (SIGKILL,
the OOM killer) cannot take its recipe along, and the recipe would run on, writing into the
checkout the next build of that task uses. So each recipe is given a random token in its
environment (``OTTO_RUN_TOKEN``) and listed under ``.ottodeploy/<env>/running/<task>``
while it runs. Whoever next takes the environment's build lock — which then no live build
holds, so every listed recipe is a leftover — looks for processes carrying a listed token
(``/proc/<pid>/environ``: this user's processes) and kills their process groups with
SIGKILL, says so on stderr, and forgets the entries. The token is random, so a recycled
PID is never taken for a recipe. Where there is no ``/proc``, nothing is found.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from . import atomicfile

log = logging.getLogger(__name__)

VAR = "OTTO_RUN_TOKEN"
_PROC = Path("/proc")


@contextlib.contextmanager
def running(env_state: Path, task: str) -> Iterator[dict[str, str]]:
    """List ``task``'s recipe as running while the block runs; the variables to give it."""
    # imported only when a recipe runs: off a no-op build's path
    import secrets

    entry = env_state / "running" / task
    token = secrets.token_hex(16)
    atomicfile.write_text(entry, token + "\n", durable=False)
    try:
        yield {VAR: token}
    finally:
        entry.unlink(missing_ok=True)


def reap(env_state: Path) -> list[str]:
    """Stop the recipes a dead build left running; the tasks they were building."""
    folder = env_state / "running"
    if not folder.is_dir():
        return []
    entries: dict[bytes, Path] = {}
    for entry in folder.iterdir():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            entries[f"{VAR}={entry.read_text().strip()}".encode()] = entry
    groups: dict[int, Path] = {}
    if entries and _PROC.is_dir():
        for proc in _PROC.iterdir():
            if not proc.name.isdigit():
                continue
            try:
                variables = (proc / "environ").read_bytes().split(b"\0")
                found = next((entries[v] for v in variables if v in entries), None)
                if found is not None:
                    groups[os.getpgid(int(proc.name))] = found
            except (OSError, ProcessLookupError):
                continue   # gone meanwhile, or not ours to read
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    for entry in entries.values():
        entry.unlink(missing_ok=True)
    stopped = sorted({entry.name for entry in groups.values()})
    if stopped:
        log.warning("stopped the recipe of %s, left running by a build that was killed",
                    ", ".join(stopped))
    return stopped
