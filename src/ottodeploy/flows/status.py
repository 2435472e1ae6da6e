"""``inv status [--env ENV]``: what is deployed where.

Every lockfile of the root is read once; per environment the newest by
``timestamp`` (never by file name) is its current state: its sources (SHA, version),
its artifacts by content digest, when it was last verified (``verified_at``), the
verification that stands (``verification``: for a failed lockfile the verify that
failed it, when and why) and the signal that cut its deploy short, if one did. A
lockfile that cannot be read is skipped with a warning (``lockfile.history``).
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from ..lockfile import LockedFile, artifact_digests, history
from ..root import DeployRoot


def status(root: DeployRoot, env: str | None = None) -> dict[str, Any]:
    envs = [root.environment(env)] if env else root.environments()
    by_env: dict[str, list[LockedFile]] = {e: [] for e in envs}
    for f in history(root):
        if f.lock.environment in by_env:
            by_env[f.lock.environment].append(f)
    out: dict[str, Any] = {}
    now = time.time()
    for e in envs:
        files = by_env[e]
        if not files:
            out[e] = {"lockfile": None, "status": None, "timestamp": None, "sources": {}}
            continue
        f = files[-1]
        stamp = calendar.timegm(time.strptime(f.lock.timestamp, "%Y-%m-%dT%H:%M:%SZ"))
        out[e] = {
            "lockfile": f.name, "status": f.lock.status, "timestamp": f.lock.timestamp,
            "age_seconds": max(0, int(now - stamp)),
            "sources": {n: {"sha": s.sha, "version": s.version, "ref": s.ref}
                        for n, s in f.lock.sources.items()},
            "artifacts": artifact_digests(f.lock),
            **_verified(f),
        }
    return {"environments": out}


def _verified(f: LockedFile) -> dict[str, Any]:
    """When it was last verified; the verification that stands (for a failed lockfile, the
    newest failed one: a later pass never makes it healthy again); the signal that cut its
    deploy short, if one did."""
    history = f.lock.verifications
    failed = [v for v in history if v.result == "failed"]
    standing = failed[-1] if f.lock.status == "failed" and failed else (
        history[-1] if history else None)
    return {"verified_at": history[-1].at if history else None,
            "verification": standing.model_dump(exclude_none=True) if standing else None,
            "interrupted": f.lock.interrupted}
