"""Lockfiles: the exact state of a deploy, in DESIGN.md §6's shape.

A lockfile is written once a deploy has reached its deploy stage, atomically,
under ``lockfiles/<env>-<YYYY-MM-DD-HHMM>.yaml`` (UTC); a second deploy in the
same minute gets ``-2``, ``-3``: the name is claimed with an exclusive link,
so two writers never share a file. Readers never trust file names: they read
every lockfile, keep those whose ``environment`` matches, and order them by
``timestamp`` (then by modification time for two in one second). A lockfile's
status can only be taken back (healthy -> failed, by ``inv verify``), never
forward.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import __version__, atomicfile
from .core.errors import UsageError
from .core.models import Lockfile
from .root import DeployRoot

_NAME = re.compile(r"[a-z][a-z0-9-]*-\d{4}-\d\d-\d\d-\d{4}(-\d+)?\.yaml")


@dataclass(frozen=True)
class LockedFile:
    path: Path
    lock: Lockfile

    @property
    def name(self) -> str:
        return self.path.name


def utc_timestamp(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def render(lock: Lockfile) -> str:
    """YAML in DESIGN.md §6's order; optional fields left out when empty."""
    data: dict[str, Any] = {
        "timestamp": lock.timestamp,
        "environment": lock.environment,
        "status": lock.status,
        "sources": {n: {k: v for k, v in s.model_dump().items() if v is not None}
                    for n, s in lock.sources.items()},
        "artifacts": {k: v if isinstance(v, str) else v.model_dump(exclude_none=True)
                      for k, v in lock.artifacts.items()},
        "tests": dict(lock.tests),
    }
    if lock.components:
        data["components"] = {n: c.model_dump(exclude_none=True)
                              for n, c in lock.components.items()}
    for key in ("mode", "tool_version", "manifest_digest", "definition_digest", "replay_of",
                "carried_from", "interrupted", "note"):
        value = getattr(lock, key)
        if value is not None:
            data[key] = value
    if lock.approval is not None:
        data["approval"] = lock.approval.model_dump(exclude_none=True)
    if lock.build_keys:
        data["build_keys"] = dict(lock.build_keys)
    if lock.verifications:
        data["verifications"] = [v.model_dump(exclude_none=True) for v in lock.verifications]
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120)


def write_new(root: DeployRoot, lock: Lockfile) -> Path:
    """Write ``lock`` under a name no other lockfile has; returns its path."""
    stamp = lock.timestamp  # 2026-02-10T14:23:07Z
    minute = f"{stamp[0:10]}-{stamp[11:13]}{stamp[14:16]}"
    text = render(lock)
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        path = root.lockfiles / f"{lock.environment}-{minute}{suffix}.yaml"
        if atomicfile.create_exclusive(path, text):
            return path
    raise UsageError(f"too many lockfiles for {lock.environment} in minute {minute}")


def replace(path: Path, lock: Lockfile) -> None:
    atomicfile.write_text(path, render(lock))


def new_lockfile(**fields: Any) -> Lockfile:
    fields.setdefault("timestamp", utc_timestamp())
    fields.setdefault("tool_version", __version__)
    return Lockfile.model_validate(fields)


def read(root: DeployRoot, path: Path) -> LockedFile:
    from .manifests import load_lockfile

    return LockedFile(path, load_lockfile(root, path))


def locate(root: DeployRoot, name: str) -> Path:
    """A LOCKFILE argument: a path, or a bare file name looked up in ``lockfiles/``."""
    given = Path(name)
    if given.is_file():
        return given.resolve()
    if "/" not in name and (root.lockfiles / name).is_file():
        return root.lockfiles / name
    raise UsageError(f"no lockfile {name!r}",
                     hint=f"give a path or a file name in {root.display(root.lockfiles)}/")


def history(root: DeployRoot, env: str | None = None) -> list[LockedFile]:
    """Every lockfile (of ``env``), oldest first, ordered by timestamp."""
    out = []
    if root.lockfiles.is_dir():
        for path in root.lockfiles.glob("*.yaml"):
            locked = read(root, path)
            if env is None or locked.lock.environment == env:
                out.append(locked)
    return sorted(out, key=lambda f: (f.lock.timestamp, f.path.stat().st_mtime_ns, f.name))


def current(root: DeployRoot, env: str) -> LockedFile | None:
    files = history(root, env)
    return files[-1] if files else None


def newest_healthy(root: DeployRoot, env: str, before: LockedFile | None = None) \
        -> LockedFile | None:
    files = history(root, env)
    if before is not None:
        files = files[: [f.path for f in files].index(before.path)]
    healthy = [f for f in files if f.lock.status == "healthy"]
    return healthy[-1] if healthy else None


def mark_failed(locked: LockedFile, tests: Mapping[str, str], note: str) -> LockedFile:
    lock = locked.lock.model_copy(update={"status": "failed",
                                          "tests": {**locked.lock.tests, **tests},
                                          "note": note})
    replace(locked.path, lock)
    return LockedFile(locked.path, lock)


def artifact_digests(lock: Lockfile) -> dict[str, str | None]:
    """Per artifact task, the content digest the lockfile names (None: an old entry that
    named only a build key or a tag)."""
    from .core.imageref import image_digest
    from .core.models import LockedArtifact

    out: dict[str, str | None] = {}
    for task, entry in lock.artifacts.items():
        if isinstance(entry, LockedArtifact):
            out[task] = entry.digest
        else:
            out[task] = None if entry.startswith("key:") else image_digest(entry)
    return out


def component_of(task: str) -> str:
    """The component of an artifact task (``ottochain_image`` -> ``ottochain``)."""
    return task.split("_", 1)[0]


def looks_like_lockfile_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None
