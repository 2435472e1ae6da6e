"""``inv deploy-lockfile FILE`` and ``inv rollback ENV``: redeploy what a lockfile recorded.

``deploy-lockfile`` replays a lockfile's exact SHAs into its own environment,
whatever the branches say now (another environment's lockfile is refused:
that is what promotion is for). ``rollback`` replays the newest healthy
lockfile older than the environment's current one. Both are ``inv deploy``
with the lockfile's sources and its digests (``flows.deploy``): what is stored is
deployed as it is, nothing is rebuilt; a component whose deploy fingerprint equals
the newest lockfile's is left running unless ``--all``.
"""

from __future__ import annotations

from ..core.errors import PromotionError
from ..lockfile import current, locate, newest_healthy, read
from ..reporting import Reporter, note
from ..root import DeployRoot
from .deploy import DeployReport, deploy


def deploy_lockfile(root: DeployRoot, name: str, *, reporter: Reporter, into: str | None = None,
                    dry_run: bool = False, everything: bool = False) -> DeployReport:
    locked = read(root, locate(root, name))
    env = locked.lock.environment
    if into and into != env:
        raise PromotionError(
            f"{locked.name} is a lockfile of {env}; it cannot be deployed into {into}",
            hint=f"promote it instead: inv promote-lockfile {locked.name} {into}")
    note(reporter, f"replaying {locked.name} ({locked.lock.status}, {locked.lock.timestamp}) "
                   f"into {env}")
    return deploy(root, env, reporter=reporter, dry_run=dry_run, replay=locked,
                  everything=everything)


def rollback(root: DeployRoot, env: str, *, reporter: Reporter,
             dry_run: bool = False, everything: bool = False) -> DeployReport:
    env = root.environment(env)
    now = current(root, env)
    if now is None:
        raise PromotionError(f"{env} has no lockfile, so there is nothing to roll back from")
    target = newest_healthy(root, env, before=now)
    if target is None:
        raise PromotionError(f"{env} has no healthy lockfile older than {now.name}")
    note(reporter, f"rolling {env} back from {now.name} to {target.name}")
    return deploy(root, env, reporter=reporter, dry_run=dry_run, replay=target,
                  everything=everything)
