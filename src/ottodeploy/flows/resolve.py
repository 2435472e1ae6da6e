"""``inv resolve ENV [--json]``: every source of an environment with its repo, ref, SHA, version.

The environment's manifests are validated, then every source is resolved with
one ``git ls-remote`` per repo (``resolve``), exactly as a build resolves them.
"""

from __future__ import annotations

from ..core.sources import Resolution
from ..environment import open_environment
from ..resolve import resolve
from ..root import DeployRoot


def resolve_env(root: DeployRoot, env: str) -> Resolution:
    return resolve(open_environment(root, env, resolve=False, validate=True).project)
