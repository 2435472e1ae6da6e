"""``inv verify ENV``: rerun the smoke checks against what the current lockfile says is deployed.

The environment's manifests are validated first (bad input before any lock).
Under the deploy lock, so a verify never judges a deploy that is still
running, the checks run with the values of the environment's current
lockfile; a check still failing after a few seconds is reported as waiting,
with its last problem, every few seconds (``smoke.run_checks``).

Every verify is recorded in the lockfile's ``verifications`` (SPEC §6a): when
(``at``), the ``result``, each check's outcome and, for a failure, the
``reason`` (``check NAME: problem``); the file is rewritten atomically. A
failure also takes the lockfile's healthy mark back for good (``status:
failed``, so it is never promoted again), sends a notification and fails the
command. A signal stops it before anything is written.
"""

from __future__ import annotations

import re

from ..core.errors import DeployError
from ..core.lockmodels import Verification
from ..environment import OpenEnvironment, open_environment
from ..lockfile import LockedFile, add_verification, current, utc_timestamp
from ..reporting import Reporter, note
from ..root import DeployRoot

_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9 ._@\[\]-]")


def verify(root: DeployRoot, env: str, *, reporter: Reporter) -> LockedFile:
    from ..state import env_lock

    opened = open_environment(root, env, resolve=False, validate=True)
    locked = current(root, opened.name)
    if locked is None:
        raise DeployError(f"{opened.name} has no lockfile: nothing is known to be deployed")
    with env_lock(opened.state, f"verify {opened.name}"):
        return _verify(opened, current(root, opened.name) or locked, reporter)


def check_name(name: str) -> str:
    """A check's name as a key of ``verifications[].checks`` (letters, digits, ``._@[]-``)."""
    cleaned = _NOT_IN_NAME.sub("-", name).strip()[:128]
    return cleaned if cleaned[:1].isalnum() else f"check-{cleaned}"[:128]


def _verify(opened: OpenEnvironment, locked: LockedFile, reporter: Reporter) -> LockedFile:
    from ..notify import notify
    from ..remote import Remote
    from ..smoke import run_checks

    values = {n: {"ref": s.ref or s.sha, "sha": s.sha, "version": s.version or "",
                  "repo": s.repo} for n, s in locked.lock.sources.items()}
    note(reporter, f"verify {opened.name} against {locked.name} ({locked.lock.status})")
    environment = opened.project.environment
    result = run_checks(environment.smoke, values, opened.hosts,
                        Remote.for_environment(environment.infrastructure, opened.hosts),
                        reporter)
    for r in result.results:
        reporter.emit("check", name=r.name, url=r.url, state="passed" if r.ok else "failed",
                      message="" if r.ok else r.message, attempts=r.attempts)
    checks = {check_name(r.name): "passed" if r.ok else "failed" for r in result.results}
    failed = next((r for r in result.results if not r.ok), None)
    reason = None if failed is None else f"check {failed.name}: {failed.message}"[:2000]
    verification = Verification.model_validate({
        "at": utc_timestamp(), "result": "failed" if failed else "passed", "checks": checks,
        "reason": reason})
    marked = add_verification(locked, verification)
    if failed is None:
        note(reporter, f"verify: {len(result.results)} checks passed "
                       f"(recorded in {marked.name})")
        return marked
    notify(opened.root, "verify-failed", env=opened.name,
           detail=f"{locked.name}: {failed.message}")
    raise DeployError(f"verify of {opened.name} failed: {failed.name}: {failed.message}",
                      hint=f"{marked.name} is now marked failed")
