"""What an environment remembers between runs, under ``.ottodeploy/<env>/``.

``records/<task>.json`` holds, per task, the build key of its last success, the
inputs that made the key, the outputs it left and the image it produced. A
record is written atomically the moment its task succeeds, so a run killed
halfway (doit itself writes its database only at the end of a run) still
remembers every task that finished. A task is up to date when its record's key
equals its current key and its outputs are still there.

``deploy.lock`` is held while a deploy of the environment runs: created
exclusively, naming its holder (pid, host, start time); a lock whose process
is gone is taken over.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

from . import atomicfile
from .core.errors import LockHeld
from .core.keys import TaskSpec
from .core.plan import Record


class Records:
    """The per-task records of one environment."""

    def __init__(self, env_state: Path) -> None:
        self.folder = env_state / "records"

    def path(self, task: str) -> Path:
        return self.folder / f"{task}.json"

    def get(self, task: str) -> Record | None:
        try:
            data = json.loads(self.path(task).read_text())
            return Record(**data)
        except (OSError, ValueError, TypeError):
            return None

    def put(self, record: Record) -> None:
        atomicfile.write_text(self.path(record.task), json.dumps(record._asdict(), indent=1))

    def drop(self, task: str) -> None:
        with suppress(FileNotFoundError):
            self.path(task).unlink()

    def all(self) -> dict[str, Record]:
        out = {}
        if self.folder.is_dir():
            for p in sorted(self.folder.glob("*.json")):
                rec = self.get(p.stem)
                if rec is not None:
                    out[rec.task] = rec
        return out


def outputs_present(record: Record, out_dir: Path) -> bool:
    return all((out_dir / rel).exists() for rel in record.outputs)


def missing_outputs(records: Records, specs: Mapping[str, TaskSpec]) -> dict[str, list[str]]:
    """Per task, the recorded outputs no longer in its ``OTTO_OUT`` (for ``plan``)."""
    out: dict[str, list[str]] = {}
    for name, spec in specs.items():
        record = records.get(name)
        if record is not None:
            missing = [rel for rel in record.outputs if not (Path(spec.out_dir) / rel).exists()]
            if missing:
                out[name] = missing
    return out


# --- the deploy lock -------------------------------------------------------------------------


class Holder(NamedTuple):
    pid: int
    host: str
    started: float
    command: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"pid {self.pid} on {self.host}, since {when} ({self.command})"


def _alive(holder: Holder) -> bool:
    import socket

    from .process import pid_running

    if holder.host != socket.gethostname():
        return True  # cannot tell: a lock of another machine is respected
    return pid_running(holder.pid)


@contextmanager
def env_lock(env_state: Path, command: str, warn: Any = None) -> Iterator[Holder]:
    """Hold the environment's deploy lock; ``LockHeld`` at once when someone else has it."""
    import socket

    path = env_state / "deploy.lock"
    me = Holder(os.getpid(), socket.gethostname(), time.time(), command)
    for _ in range(3):
        if atomicfile.create_exclusive(path, json.dumps(me._asdict())):
            break
        try:
            other = Holder(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            other = None
        if other is not None and _alive(other):
            raise LockHeld(f"another deploy of this environment is running: {other.describe()}",
                           hint=f"wait for it, or remove {path} if you are sure it is gone")
        if warn is not None:
            what = other.describe() if other else "an unreadable lock"
            warn(f"taking over a stale deploy lock left by {what}")
        with suppress(FileNotFoundError):
            path.unlink()
    else:
        raise LockHeld(f"could not take the deploy lock {path}")
    try:
        yield me
    finally:
        with suppress(FileNotFoundError):
            current = json.loads(path.read_text())
            if current.get("pid") == me.pid and current.get("started") == me.started:
                path.unlink()
