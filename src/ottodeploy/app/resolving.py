"""``inv resolve ENV [--json]``: every source of an environment with its repo, ref, SHA, version."""

from __future__ import annotations

from typing import Any

from ..manifests import load_project
from ..resolve import Resolution, resolve
from ..root import DeployRoot


def resolve_env(root: DeployRoot, env: str) -> Resolution:
    return resolve(load_project(root, env))


def resolution_json(res: Resolution) -> dict[str, Any]:
    return {
        "environment": res.environment,
        "sources": {
            name: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version,
                   "pinned_by": s.pin}
            for name, s in res.sources.items()
        },
    }


def resolution_table(res: Resolution) -> list[str]:
    rows = [("source", "repo", "ref", "sha", "version")]
    rows += [(n, s.repo, s.ref, s.sha[:12], s.version) for n, s in res.sources.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
