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


@task(positional=["env"], help={"dry_run": "print the plan and touch nothing",
                                "jobs": "independent tasks built at once"})
@guarded
def deploy(c, env, dry_run=False, jobs=1):  # type: ignore[no-untyped-def]
    """check -> build or verify -> deploy -> smoke -> e2e -> lockfile."""
    from ottodeploy.app.deploy import deploy_env

    deploy_env(root(), env, say=say, dry_run=dry_run, jobs=jobs)


@task(positional=["env"])
@guarded
def verify(c, env):  # type: ignore[no-untyped-def]
    """Rerun smoke against what is deployed; a failure marks the lockfile failed."""
    from ottodeploy.app.deploy import verify as run_verify

    run_verify(root(), env, say=say)


@task(positional=["lockfile"], help={"env": "refuse unless the lockfile belongs to ENV",
                                     "dry_run": "print the plan and touch nothing"})
@guarded
def deploy_lockfile(c, lockfile, env=None, dry_run=False):  # type: ignore[no-untyped-def]
    """Replay a lockfile exactly (a path, or a file name in lockfiles/)."""
    from ottodeploy.app.deploy import deploy_lockfile as replay

    replay(root(), lockfile, say=say, into=env, dry_run=dry_run)


@task(positional=["env"], help={"dry_run": "print the plan and touch nothing"})
@guarded
def rollback(c, env, dry_run=False):  # type: ignore[no-untyped-def]
    """Redeploy ENV's newest healthy lockfile older than the current one."""
    from ottodeploy.app.deploy import rollback as run_rollback

    run_rollback(root(), env, say=say, dry_run=dry_run)


@task(help={"env": "only this environment", "json": "print one JSON document"})
@guarded
def status(c, env=None, json=False):  # type: ignore[no-untyped-def]
    """What is deployed where (the newest lockfile of each environment)."""
    from ottodeploy.app.deploy import render_status
    from ottodeploy.app.deploy import status as read_status

    data = read_status(root(), env)
    if json:
        print_json(data)
    else:
        for line in render_status(data):
            say(line)


@task(positional=["env_a", "env_b"], help={"json": "print one JSON document"})
@guarded
def diff(c, env_a, env_b, json=False):  # type: ignore[no-untyped-def]
    """Per component: same or different between two environments' deployments."""
    from ottodeploy.app.deploy import diff as run_diff
    from ottodeploy.app.deploy import render_diff

    data = run_diff(root(), env_a, env_b)
    if json:
        print_json(data)
    else:
        for line in render_diff(data):
            say(line)


@task(positional=["from_env", "to_env"],
      help={"allow_sha": "pin by sha where a locked commit has no release tag"})
@guarded
def promote(c, from_env, to_env, allow_sha=False):  # type: ignore[no-untyped-def]
    """FROM's newest healthy lockfile into TO's manifest, on a promotion branch."""
    from ottodeploy.app.promote import promote_env, render_promotion

    for line in render_promotion(promote_env(root(), from_env, to_env, allow_sha, say=say)):
        say(line)


@task(positional=["lockfile", "env"],
      help={"allow_sha": "pin by sha where a locked commit has no release tag"})
@guarded
def promote_lockfile(c, lockfile, env, allow_sha=False):  # type: ignore[no-untyped-def]
    """A given lockfile into ENV's manifest, on a promotion branch."""
    from ottodeploy.app.promote import promote_file, render_promotion

    for line in render_promotion(promote_file(root(), lockfile, env, allow_sha, say=say)):
        say(line)


@task(positional=["branch"], help={"by": "the approver, 'Name <email>'"})
@guarded
def approve(c, branch, by=""):  # type: ignore[no-untyped-def]
    """Merge a promotion branch with an Approved-by trailer."""
    from ottodeploy.app.promote import approve_branch

    approve_branch(root(), branch, by, say=say)


@task(positional=["env", "component", "ref"],
      help={"env": "the environment whose manifest changes",
            "component": "the source to repoint",
            "ref": "the branch or tag (with --sha: the commit SHA; with --version: the version)",
            "sha": "REF is a full 40-hex commit SHA: pin sha:",
            "version": "REF is a released version (v optional): pin version:",
            "commit": "commit the file, and only it, on the current branch"})
@guarded
def set_ref(c, env, component, ref, sha=False, version=False,  # type: ignore[no-untyped-def]
            commit=False):
    """ENV COMPONENT (REF | --sha SHA | --version V): repoint one source, comments kept."""
    from ottodeploy.setref import requested_pin
    from ottodeploy.setref import set_ref as repoint

    kind, value = requested_pin(ref, sha=sha, version=version)
    repoint(root(), env, component, kind, value, commit=commit, say=say)


@task(help={"dest": "folder to write the schemas into (default: schema/ of this repo)"})
@guarded
def schema(c, dest=None):  # type: ignore[no-untyped-def]
    """Write the JSON Schemas of the manifest files."""
    from ottodeploy.app.schema import write_schemas

    for path in write_schemas(Path(dest) if dest else HERE / "schema"):
        say(str(path))


@task(help={"keep": "leave the demo's services running", "stop": "stop a kept demo's services"})
@guarded
def demo(c, keep=False, stop=False):  # type: ignore[no-untyped-def]
    """The whole flow on a sandbox ecosystem (seven local repos, local services)."""
    from ottodeploy import demo as sandbox_demo

    if stop:
        say("stopped: " + (", ".join(sandbox_demo.stop(HERE)) or "nothing was running"))
        return
    sandbox_demo.run(HERE, say=say, keep=keep)


ns = Collection(check, resolve, build, plan, deploy, verify, deploy_lockfile, rollback, status,
                diff, promote, promote_lockfile, approve, set_ref, schema, demo)
ns.configure({"run": {"in_stream": False}})

from tasks.release import bump, ci_matrix, commits, release  # noqa: E402  (the release flow)

ns.add_task(bump)
ns.add_task(ci_matrix)
ns.add_collection(commits)
ns.add_collection(release)
