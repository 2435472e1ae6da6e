"""What an environment remembers between runs, under ``.ottodeploy/<env>/``.

``records/<task>.json`` holds, per task, the build key of its last success, the
inputs that made the key, the outputs it left and the image it produced. A
record is written atomically the moment its task succeeds, so a run killed
halfway (doit itself writes its database only at the end of a run) still
remembers every task that finished. A task is up to date when its record's key
equals its current key and its outputs are still there. A record that cannot
be read (not JSON, the wrong fields or types, a folder) is set aside with a
warning (``statefiles``) and the task counts as never built.

``deploy.lock`` is held while a deploy of the environment runs, ``build.lock``
while anything builds it (a deploy holds both): kernel locks (``locks.hold``)
that die with their holder, so there is nothing stale to take over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from . import atomicfile
from .core.keys import TaskSpec
from .core.plan import Record
from .locks import Holder, hold
from .statefiles import clear_way, read_json, set_aside


class Records:
    """The per-task records of one environment."""

    def __init__(self, env_state: Path) -> None:
        self.folder = env_state / "records"

    def path(self, task: str) -> Path:
        return self.folder / f"{task}.json"

    def get(self, task: str) -> Record | None:
        """The task's record; None when it has none, or had a corrupt one (set aside)."""
        path = self.path(task)
        data = read_json(path, _is_record, "a task record")
        if data is None:
            return None
        try:
            return Record(**data)
        except TypeError as exc:
            set_aside(path, f"not a task record: {exc}")
            return None

    def put(self, record: Record) -> None:
        clear_way(self.folder, folder=True)
        clear_way(self.path(record.task))
        atomicfile.write_text(self.path(record.task), json.dumps(record._asdict(), indent=1))

    def drop(self, task: str) -> None:
        with suppress(FileNotFoundError):
            self.path(task).unlink()

    def all(self) -> dict[str, Record]:
        out = {}
        clear_way(self.folder, folder=True)
        if self.folder.is_dir():
            for p in sorted(self.folder.glob("*.json")):
                rec = self.get(p.stem)
                if rec is not None:
                    out[rec.task] = rec
        return out


_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "task": (str,), "key": (str,), "inputs": (dict,), "outputs": (list,),
    "image_ref": (str, type(None)), "digest": (str, type(None)), "finished": (int, float),
    "duration": (int, float), "how": (str,), "extra": (dict,)}


def _is_record(data: Any) -> bool:
    """A mapping holding ``task`` and ``key``, each known field of its type."""
    if not isinstance(data, dict) or not {"task", "key"} <= data.keys():
        return False
    for name, kinds in _RECORD_TYPES.items():
        if name in data and not isinstance(data[name], kinds):
            return False
    return all(isinstance(o, str) for o in data.get("outputs", []))


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
