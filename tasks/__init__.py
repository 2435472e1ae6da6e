"""The invoke collection: doors into ``ottodeploy.app``, a few lines each."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, task

from ottodeploy.app import guarded, print_json, say
from ottodeploy.root import DeployRoot

HERE = Path(__file__).resolve().parent.parent


def root() -> DeployRoot:
    return DeployRoot.locate(HERE)


@task(positional=["env"], help={"offline": "check files and declared versions only",
                                "json": "print one JSON document"})
@guarded
def check(c, env, offline=False, json=False):  # type: ignore[no-untyped-def]
    """Schema, refs/versions exist, compatibility matrix."""
    from ottodeploy.app.check import check as run_check
    from ottodeploy.app.check import raise_for, render

    report = run_check(root(), env, offline=offline)
    if json:
        print_json(report.to_json())
    else:
        for line in render(report):
            say(line)
    raise_for(report)


@task(positional=["env"], help={"json": "print one JSON document"})
@guarded
def resolve(c, env, json=False):  # type: ignore[no-untyped-def]
    """Every source with repo, ref, sha, version."""
    from ottodeploy.app.resolving import resolution_json, resolution_table, resolve_env

    res = resolve_env(root(), env)
    if json:
        print_json(resolution_json(res))
    else:
        for line in resolution_table(res):
            say(line)


@task(positional=["env"], iterable=["task"],
      help={"task": "a task to build with what it needs (repeatable; none = all)",
            "jobs": "independent tasks built at once"})
@guarded
def build(c, env, task=None, jobs=1):  # type: ignore[no-untyped-def]
    """Build the cascade (doit underneath): only what changed, and everything below it."""
    from ottodeploy.app.build import build as run_build

    run_build(root(), env, list(task or []), jobs)


@task(positional=["env"], help={"json": "print one JSON document"})
@guarded
def plan(c, env, json=False):  # type: ignore[no-untyped-def]
    """Which tasks would run, and why, without building."""
    from ottodeploy.app.build import plan_env, render_plan

    result = plan_env(root(), env)
    if json:
        print_json(result.to_json())
    else:
        for line in render_plan(result):
            say(line)


ns = Collection(check, resolve, build, plan)
ns.configure({"run": {"in_stream": False}})
