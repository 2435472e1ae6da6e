"""``inv gc [--keep N]``: free the local store of what no recent lockfile or build needs.

Kept: every digest and build key named by the newest N lockfiles of each environment
(by timestamp, healthy or not: a failed deploy may still be running, and rollback
needs older healthy ones among them), every digest the records of each environment
hold for their current tasks, and everything the store indexed in the last 7 days.
The rest is removed by ``store.Store.gc``: index entries, blobs nothing live
references, and unpacked folders. The result lists what was freed, and how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.lockmodels import LockedArtifact
from ..lockfile import history
from ..root import DeployRoot
from ..state import Records
from ..store import Store

RECENT_DAYS = 7


@dataclass
class Collected:
    kept_lockfiles: int
    kept: int
    freed: list[tuple[str, int]] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(size for _, size in self.freed)

    def to_json(self) -> dict[str, Any]:
        return {"kept_lockfiles": self.kept_lockfiles, "kept": self.kept,
                "freed": [{"digest": d, "bytes": n} for d, n in self.freed],
                "bytes_freed": self.bytes_freed}


def collect(root: DeployRoot, *, keep: int = 5) -> Collected:
    by_env: dict[str, list[Any]] = {}
    for locked in history(root):
        by_env.setdefault(locked.lock.environment, []).append(locked)
    keep_set: set[str] = set()
    newest = [f for files in by_env.values() for f in files[-max(keep, 0):]] if keep else []
    for locked in newest:
        for entry in locked.lock.artifacts.values():
            if isinstance(entry, LockedArtifact):
                keep_set.update((entry.digest, entry.key))
        keep_set.update(locked.lock.build_keys.values())
    for env in root.environments():
        for record in Records(root.state / env).all().values():
            if record.digest:
                keep_set.add(record.digest)
    store = Store.of_root(root.path)
    freed = store.gc(keep_set, younger_than_days=RECENT_DAYS)
    return Collected(len(newest), len(keep_set), freed)
