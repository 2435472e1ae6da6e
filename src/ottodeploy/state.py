"""What an environment remembers between runs, under ``.ottodeploy/<env>/``.

``records/<task>.json`` holds, per task, the build key of its last success, the
inputs that made the key, the outputs it left and the image it produced. A
record is written atomically the moment its task succeeds, so a run killed
halfway (doit itself writes its database only at the end of a run) still
remembers every task that finished. A task is up to date when its record's key
equals its current key and its outputs are still there. A record that cannot
be read (not JSON, the wrong fields or types, a folder) is set aside with a
warning (``statefiles``) and the task counts as never built.

``resolution.json`` is the last successful resolution of the environment's sources:
the exact commits and versions, when they were read, and the requests (repo, ref,
version or sha) they answered. ``plan --offline`` and ``doit`` without a network
use it, saying how old it is; it is refused when the manifest asks for other refs
now, as the answer would be to another question.

``deploy.lock`` is held while a deploy of the environment runs, ``build.lock``
while anything builds it (a deploy holds both): kernel locks (``locks.hold``)
that die with their holder, so there is nothing stale to take over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import atomicfile
from .core.record import Record
from .core.sources import Resolution, ResolvedSource, SourceRequest
from .statefiles import clear_way, read_json, set_aside

if TYPE_CHECKING:
    from .locks import Holder


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


# --- the last resolution, for offline answers ------------------------------------------------


class StoredResolution(NamedTuple):
    resolution: Resolution
    resolved_at: float             # seconds since the epoch
    requests: list[list[str]]      # [name, url, pin, value] per source, as resolved

    def answers(self, requests: Iterable[SourceRequest]) -> bool:
        """Whether it was made for exactly these requests (the manifest asks the same)."""
        return self.requests == _request_rows(requests)

    def when(self, now: float) -> str:
        """``2026-02-10T14:23:07Z, 3h ago``."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.resolved_at))
        return f"{stamp}, {ago(max(0, int(now - self.resolved_at)))} ago"


def _request_rows(requests: Iterable[SourceRequest]) -> list[list[str]]:
    return [[r.name, r.url, r.pin, r.value] for r in requests]


def ago(seconds: int) -> str:
    """An age as a person says it: ``45s``, ``12m``, ``3h``, ``2d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class LastResolution:
    """``.ottodeploy/<env>/resolution.json`` (see the module docstring)."""

    def __init__(self, env_state: Path) -> None:
        self.path = env_state / "resolution.json"

    def save(self, requests: Iterable[SourceRequest], resolution: Resolution) -> None:
        data = {"environment": resolution.environment, "resolved_at": round(time.time(), 3),
                "requests": _request_rows(requests),
                "sources": {n: s.to_json() for n, s in resolution.sources.items()}}
        atomicfile.write_text(self.path, json.dumps(data, indent=1), durable=False)  # a cache

    def offline_hint(self, env: str, requests: Iterable[SourceRequest]) -> str:
        """What can answer without the repos: the stored resolution and its age, or nothing."""
        base = "check the network, the address and your git credentials"
        stored = self.load()
        if stored is None or not stored.answers(requests):
            return f"{base} (no stored resolution of {env} answers its refs offline)"
        return (f"{base}; offline, `inv plan {env} --offline` and `doit list env={env}` use "
                f"its last resolution ({stored.when(time.time())})")

    def load(self) -> StoredResolution | None:
        try:
            data = json.loads(self.path.read_text())
            sources = {n: ResolvedSource(**s) for n, s in data["sources"].items()}
            return StoredResolution(Resolution(str(data["environment"]), sources),
                                    float(data["resolved_at"]), list(data["requests"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


# --- the deploy and build locks (kernel locks, see ``locks``) --------------------------------


@contextmanager
def env_lock(env_state: Path, command: str) -> Iterator[Holder]:
    """Hold the environment's deploy lock; ``LockHeld`` at once, naming the holder, if taken."""
    from .locks import hold

    with hold(env_state / "deploy.lock", command, "deploy of this environment") as me:
        yield me


@contextmanager
def build_lock(env_state: Path, command: str) -> Iterator[Holder]:
    """Hold the environment's build lock: builds and deploys never interleave their records."""
    from .locks import hold

    with hold(env_state / "build.lock", command, "build of this environment") as me:
        from .leftovers import reap

        reap(env_state)   # recipes a killed build left running: nothing else builds now
        yield me
