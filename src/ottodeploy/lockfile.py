"""Lockfiles: the exact state of a deploy, in DESIGN.md §6's shape.

A lockfile is written once a deploy has reached its deploy stage, atomically,
under ``lockfiles/<env>-<YYYY-MM-DD-HHMM>.yaml`` (UTC); a second deploy in the
same minute gets ``-2``, ``-3``: the name is claimed with an exclusive link,
so two writers never share a file. Readers never trust file names: they read
every lockfile, keep those whose ``environment`` matches, and order them by
``timestamp`` (then by modification time for two in one second). A lockfile's
status can only be taken back (healthy -> failed, by ``inv verify``), never
forward.

The record is never lost (SPEC §6a). ``require_writable`` proves, before a
deploy starts, that a file can be created, written, synced and removed in
``lockfiles/``. Should the write fail anyway (disk full, read-only, permissions),
``write_new_or_keep`` keeps the lockfile at ``.ottodeploy/<env>/unwritten-lockfile.yaml``
(an older one there is renamed, not replaced) and its text goes with the error,
so it is printed in full. A lockfile that cannot be read is skipped by
``history`` with a warning naming it and its problem: the commands that read
many lockfiles go on with the others, while ``read`` (one file asked for) fails.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import __version__, atomicfile
from .core.errors import ManifestError, OttodeployError, RecordError, UsageError
from .core.lockmodels import Lockfile, Verification
from .root import DeployRoot

_NAME = re.compile(r"[a-z][a-z0-9-]*-\d{4}-\d\d-\d\d-\d{4}(-\d+)?\.yaml")
UNWRITTEN = "unwritten-lockfile.yaml"
log = logging.getLogger("ottodeploy.lockfile")


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


@dataclass(frozen=True)
class Written:
    """Where a new lockfile went: ``lockfiles/``, or (``problem`` says why not) the fallback."""

    path: Path | None          # None: nowhere but in ``text``
    text: str
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.name if self.path else "(not written)"

    def shown(self, root: DeployRoot) -> str:
        return root.display(self.path) if self.path else "(not written)"

    def where(self, root: DeployRoot) -> str:
        """How the record of the deploy can be found, said in a few words."""
        if not self.problem:
            return f"{self.shown(root)} records it"
        kept = f"it was kept at {self.shown(root)}" if self.path else "nor could it be kept"
        return (f"its lockfile could not be written in {root.display(root.lockfiles)}/ "
                f"({self.problem}); {kept}, and here it is in full")

    def in_full(self) -> str:
        """The lockfile's text when it is not where it belongs, else nothing."""
        return self.text.rstrip("\n") if self.problem else ""


def write_new_or_keep(root: DeployRoot, lock: Lockfile) -> Written:
    """``write_new``; when that fails, the lockfile kept under ``.ottodeploy/<env>/``."""
    text = render(lock)
    try:
        return Written(write_new(root, lock), text)
    except OSError as exc:
        problem = exc.strerror or str(exc)
    fallback = root.state / lock.environment / UNWRITTEN
    try:
        if fallback.is_file():  # an earlier lost record stays, under its own name
            fallback.replace(fallback.with_name(
                f"unwritten-lockfile-{fallback.stat().st_mtime_ns}.yaml"))
        atomicfile.write_text(fallback, text)
    except OSError:
        return Written(None, text, problem)
    return Written(fallback, text, problem)


def require_writable(root: DeployRoot) -> None:
    """``RecordError`` unless a lockfile-sized file can be made and removed in ``lockfiles/``."""
    folder = root.lockfiles
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".writable-", suffix=".tmp", dir=folder)
        try:
            os.write(fd, b"# probe: can a lockfile be written here?\n" * 100)
            os.fsync(fd)
        finally:
            os.close(fd)
            Path(probe).unlink()
    except OSError as exc:
        raise RecordError(
            f"{root.display(folder)}/ is not writable ({exc.strerror or exc}): the record of "
            "this deploy could not be kept, so nothing was deployed",
            hint="make it writable, with room for a few kilobytes, and deploy again") from None


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
    """Every readable lockfile (of ``env``), oldest first, ordered by timestamp.

    One that cannot be read is left out, with a warning naming it and its problem.
    """
    out = []
    if root.lockfiles.is_dir():
        for path in root.lockfiles.glob("*.yaml"):
            try:
                locked = read(root, path)
                mtime = path.stat().st_mtime_ns
            except (OttodeployError, OSError, UnicodeError) as exc:
                _skipped(root, path, exc)
                continue
            if env is None or locked.lock.environment == env:
                out.append((locked, mtime))
    return [f for f, _ in sorted(out, key=lambda p: (p[0].lock.timestamp, p[1], p[0].name))]


def _skipped(root: DeployRoot, path: Path, exc: BaseException) -> None:
    if isinstance(exc, ManifestError):
        problem = exc.problems[0].render(None)
        if len(exc.problems) > 1:
            problem += f" (and {len(exc.problems) - 1} more)"
    elif isinstance(exc, OSError):
        problem = exc.strerror or str(exc)
    else:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    log.warning("skipped %s, which cannot be read: %s", root.display(path), problem,
                extra={"once": True})


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


def add_verification(locked: LockedFile, verification: Verification) -> LockedFile:
    """``locked`` with ``verification`` appended, rewritten in place (atomically).

    A failed verification also takes the healthy mark back: ``status: failed``, ``smoke``
    and ``verify`` failed in ``tests``, the reason in ``note``. ``RecordError`` (with the
    lockfile in full) when the file cannot be rewritten.
    """
    update: dict[str, Any] = {"verifications": [*locked.lock.verifications, verification]}
    if verification.result == "failed":
        update |= {"status": "failed",
                   "tests": {**locked.lock.tests, "smoke": "failed", "verify": "failed"},
                   "note": f"verify at {verification.at}: {verification.reason}"}
    lock = locked.lock.model_copy(update=update)
    try:
        replace(locked.path, lock)
    except OSError as exc:
        raise RecordError(f"{locked.name} could not be rewritten with this verification "
                          f"({exc.strerror or exc}); here it is in full\n"
                          + render(lock).rstrip("\n"),
                          hint="make lockfiles/ writable and put this text in its place") \
            from None
    return LockedFile(locked.path, lock)


def artifact_digests(lock: Lockfile) -> dict[str, str | None]:
    """Per artifact task, the content digest the lockfile names (None: an old entry that
    named only a build key or a tag)."""
    from .core.imageref import image_digest
    from .core.lockmodels import LockedArtifact

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
