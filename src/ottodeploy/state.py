"""What an environment remembers between runs, under ``.ottodeploy/<env>/``.

``records/<task>.json`` holds, per task, the build key of its last success, the
inputs that made the key, the outputs it left and the image it produced. A
record is written atomically the moment its task succeeds, so a run killed
halfway (doit itself writes its database only at the end of a run) still
remembers every task that finished. A task is up to date when its record's key
equals its current key and its outputs are still there.

``deploy.lock`` is held while a deploy of the environment runs, ``build.lock``
while anything builds it (a deploy holds both): kernel locks (``locks.hold``)
that die with their holder, so there is nothing stale to take over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from . import atomicfile
from .core.plan import Record
from .locks import Holder, hold


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


# --- the deploy and build locks (kernel locks, see ``locks``) --------------------------------


@contextmanager
def env_lock(env_state: Path, command: str) -> Iterator[Holder]:
    """Hold the environment's deploy lock; ``LockHeld`` at once, naming the holder, if taken."""
    with hold(env_state / "deploy.lock", command, "deploy of this environment") as me:
        yield me


@contextmanager
def build_lock(env_state: Path, command: str) -> Iterator[Holder]:
    """Hold the environment's build lock: builds and deploys never interleave their records."""
    with hold(env_state / "build.lock", command, "build of this environment") as me:
        yield me
