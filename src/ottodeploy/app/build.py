"""``inv build ENV [--task T]... [--jobs N]`` and ``inv plan ENV [--json]``.

``build`` is doit underneath, in this process, on the same tasks ``dodo.py``
gives (so ``doit`` and ``inv build`` share state and keys); ``plan`` asks the
same records what would run and why, and builds nothing.
"""

from __future__ import annotations

from ..errors import BuildError
from ..plan import Plan, plan
from ..root import DeployRoot
from ..state import Records, build_lock
from ..taskgen import load_cascade, run_doit


def build(root: DeployRoot, env: str, tasks: list[str], jobs: int = 1) -> None:
    cascade = load_cascade(root, env)
    with build_lock(cascade.env_state, f"build {cascade.env}"):
        code = run_doit(cascade, tasks, jobs)
    if code != 0:
        raise BuildError(f"build of {cascade.env} failed (doit exit status {code})")


def plan_env(root: DeployRoot, env: str) -> Plan:
    cascade = load_cascade(root, env)
    return plan(cascade.env, cascade.specs, Records(cascade.env_state))


def render_plan(result: Plan) -> list[str]:
    n = len(result.to_run)
    lines = [f"plan {result.environment}: {n} of {len(result.tasks)} tasks would run"]
    width = max((len(t.task) for t in result.tasks), default=0)
    for t in result.tasks:
        why = "; ".join(t.reasons) if t.run else "up to date"
        lines.append(f"  {'run ' if t.run else 'skip'}  {t.task.ljust(width)}  {why}")
    return lines
