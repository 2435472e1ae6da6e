"""``inv build ENV [--task T]... [--jobs N]`` and ``inv plan ENV [--json]``.

``build`` is doit underneath, in this process, on the same tasks ``dodo.py``
gives (so ``doit`` and ``inv build`` share state and keys): the environment is
opened once (``environment.open_environment``), its tasks run by
``engine.run``. ``plan`` asks the same records and the store what would run and
why (``core.plan``), and builds nothing; ``plan --offline`` asks them with the
environment's last stored resolution instead of the repos, and says how old it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import engine
from ..build import Wanted, missing_artifacts
from ..core.errors import BuildError
from ..core.plan import Offline, Plan, plan
from ..environment import OpenEnvironment, open_environment
from ..reporting import Reporter, Silent
from ..root import DeployRoot
from ..state import build_lock


def build(root: DeployRoot, env: str, tasks: list[str], reporter: Reporter,
          jobs: int = 1) -> engine.BuildRun:
    opened = open_environment(root, env)
    with build_lock(opened.state, f"build {opened.name}"):
        done = engine.run(opened, tasks, reporter, jobs)
    if done.code != 0:
        raise BuildError(f"build of {env} failed (doit exit status {done.code})")
    return done


def plan_of(opened: OpenEnvironment, wanted: Mapping[str, Wanted] | None = None) -> Plan:
    """What a build would do; ``wanted``: a replay's locked digests (used when stored)."""
    ctx = engine.context(engine.BuildRun(opened, Silent(), dict(wanted or {})))
    stored = {}
    for task, spec in opened.specs.items():
        locked = ctx.wanted.get(task)
        digest = locked.digest if locked and ctx.store.has(locked.digest) else \
            ctx.store.lookup(spec.key)
        if digest is not None:
            stored[task] = digest
    return plan(opened.name, opened.specs, opened.records.all(),
                missing_artifacts(ctx, opened.specs.values()), stored)


def plan_env(root: DeployRoot, env: str, *, offline: bool = False) -> Plan:
    opened = open_environment(root, env, offline=offline)
    result = plan_of(opened)
    if opened.resolved_at is None:
        return result
    import dataclasses
    import time

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(opened.resolved_at))
    age = max(0, int(time.time() - opened.resolved_at))
    return dataclasses.replace(result, offline=Offline(stamp, age))
