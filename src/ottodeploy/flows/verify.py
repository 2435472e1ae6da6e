"""``inv verify ENV``: rerun the smoke checks against what the current lockfile says is deployed.

The environment's manifests are validated first (bad input before any lock).
Under the deploy lock, so a verify never judges a deploy that is still
running, the checks run with the values of the environment's current
lockfile. When they pass nothing changes; when one fails the lockfile's
healthy mark is taken back (``lockfile.mark_failed``), a notification is sent
and the command fails.
"""

from __future__ import annotations

import time

from ..core.errors import DeployError
from ..environment import OpenEnvironment, open_environment
from ..lockfile import LockedFile, current, mark_failed
from ..reporting import Reporter, note
from ..root import DeployRoot


def verify(root: DeployRoot, env: str, *, reporter: Reporter) -> LockedFile:
    from ..state import env_lock

    opened = open_environment(root, env, resolve=False, validate=True)
    locked = current(root, opened.name)
    if locked is None:
        raise DeployError(f"{opened.name} has no lockfile: nothing is known to be deployed")
    with env_lock(opened.state, f"verify {opened.name}"):
        return _verify(opened, current(root, opened.name) or locked, reporter)


def _verify(opened: OpenEnvironment, locked: LockedFile, reporter: Reporter) -> LockedFile:
    from ..notify import notify
    from ..remote import Remote
    from ..smoke import run_checks

    values = {n: {"ref": s.ref or s.sha, "sha": s.sha, "version": s.version or "",
                  "repo": s.repo} for n, s in locked.lock.sources.items()}
    note(reporter, f"verify {opened.name} against {locked.name} ({locked.lock.status})")
    environment = opened.project.environment
    result = run_checks(environment.smoke, values, opened.hosts,
                        Remote.for_environment(environment.infrastructure, opened.hosts))
    for r in result.results:
        reporter.emit("check", name=r.name, url=r.url, state="passed" if r.ok else "failed",
                      message="" if r.ok else r.message, attempts=r.attempts)
    if result.ok:
        note(reporter, f"verify: {len(result.results)} checks passed")
        return locked
    failed = next(r for r in result.results if not r.ok)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    marked = mark_failed(locked, {"smoke": "failed", "verify": "failed"},
                         f"verify at {stamp}: {failed.name}: {failed.message}")
    notify(opened.root, "verify-failed", env=opened.name,
           detail=f"{locked.name}: {failed.message}")
    raise DeployError(f"verify of {opened.name} failed: {failed.name}: {failed.message}",
                      hint=f"{marked.name} is now marked failed")
