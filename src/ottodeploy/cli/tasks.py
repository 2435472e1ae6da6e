"""The invoke collection: each task calls one flow and renders what it returns.

``collection(door)`` builds it: ``tasks/__init__.py`` (``inv``) gives the deploy
repo's folder as ``door``, the ``ottodeploy`` console script (``cli.program``) none.
Each task is a ``cli.command.Command``: ``--help``, required options and the
environment arguments are handled there, and the deploy root of the run is
``command.root_of`` (``--root``, ``OTTODEPLOY_ROOT``, the nearest deploy root above
the working directory, the door's folder).
"""

from __future__ import annotations

from pathlib import Path

from invoke.collection import Collection

from ..reporting import Reporter
from ..root import DeployRoot
from . import json_text, print_json, say
from .command import command, root_of


def _root(c) -> DeployRoot:  # type: ignore[no-untyped-def]
    return root_of(c)


def _reporter(events: bool) -> Reporter:
    from .console import ConsoleReporter, JsonLinesReporter

    return JsonLinesReporter() if events else ConsoleReporter()


def _lines(lines: list[str]) -> None:
    for line in lines:
        say(line)


EVENTS = ("print one JSON object per line as things happen, instead of text "
          "(schema/events.schema.json)")
JSON = "print one JSON document, and nothing else on stdout"
ENV = "the environment (a file in manifests/environments/)"
DRY_RUN = "print the plan and touch nothing"
JOBS = "independent tasks built at once"
ALLOW_SHA = "pin by sha where a locked commit has no release tag"
LOCKFILE = "a lockfile: a path, or a file name in lockfiles/"
ALL = "run every component's deploy step, also those whose deploy fingerprint did not change"


@command(positional=["env"],
         help={"env": ENV, "offline": "check files and declared versions only; no repo is read",
               "json": JSON})
def check(c, env, offline=False, json=False):  # type: ignore[no-untyped-def]
    """Schema, refs/versions exist, compatibility matrix."""
    from ..flows.check import check as run_check
    from ..flows.check import raise_for
    from . import render

    report = run_check(_root(c), env, offline=offline)
    if json:
        print_json(report.to_json())
    else:
        _lines(render.check(report))
    raise_for(report)


@command(positional=["env"], help={"env": ENV, "json": JSON})
def resolve(c, env, json=False):  # type: ignore[no-untyped-def]
    """Every source with repo, ref, sha, version."""
    from ..flows.resolve import resolve_env
    from . import render

    res = resolve_env(_root(c), env)
    if json:
        print_json(render.resolution_json(res))
    else:
        _lines(render.resolution(res))


@command(positional=["env"], iterable=["task"],
         help={"env": ENV, "task": "a task to build, with what it needs (none: every task)",
               "jobs": JOBS, "events": EVENTS})
def build(c, env, task=None, jobs=1, events=False):  # type: ignore[no-untyped-def]
    """Build the cascade (doit underneath): only what changed, and everything below it."""
    from ..flows.build import build as run_build

    run_build(_root(c), env, list(task or []), _reporter(events), jobs)


@command(positional=["env"],
         help={"env": ENV, "json": JSON,
               "offline": "read no repo: use the environment's last resolution (says its age)"})
def plan(c, env, json=False, offline=False):  # type: ignore[no-untyped-def]
    """Which tasks would run, and why, without building."""
    from ..flows.build import plan_env
    from . import render

    result = plan_env(_root(c), env, offline=offline)
    if json:
        print_json(result.to_json())
    else:
        _lines(render.plan(result))


@command(positional=["env"], iterable=["only"],
         help={"env": ENV, "dry_run": DRY_RUN, "jobs": JOBS, "all": ALL, "events": EVENTS,
               "only": "deploy only this component (or several, comma-separated); the "
                       "others are carried over from the current healthy lockfile"})
def deploy(c, env, dry_run=False, jobs=1, all=False, only=None,  # type: ignore[no-untyped-def]
           events=False):
    """check -> build or verify -> deploy -> smoke -> e2e -> lockfile."""
    from ..flows.deploy import deploy as run_deploy

    run_deploy(_root(c), env, reporter=_reporter(events), dry_run=dry_run, jobs=jobs,
               everything=all, only=list(only or []))


@command(iterable=["env"],
      help={"env": "an environment to follow (repeatable, or comma-separated; named ones are "
                   "deployed even with auto_deploy off); default: every environment with "
                   "auto_deploy: true",
            "component": "with --ref: only environments whose source COMPONENT follows REF "
                         "(a push that component's repository announced)",
            "ref": "the branch that moved (refs/heads/ is dropped)",
            "dry_run": "say what would be deployed and deploy nothing",
            "json": "print one JSON document (progress goes to stderr)",
            "events": EVENTS})
def auto_deploy(c, env=None, component=None, ref=None,  # type: ignore[no-untyped-def]
                dry_run=False, json=False, events=False):
    """Deploy the environments whose tracked branches or deploy definition moved."""
    from ..flows.autodeploy import auto_deploy as follow
    from ..flows.autodeploy import raise_for
    from . import render
    from .console import ConsoleReporter

    reporter = _reporter(events) if events or not json else ConsoleReporter(to_stderr=True)
    report = follow(_root(c), list(env or []), component=component, ref=ref, dry_run=dry_run,
                    reporter=reporter)
    if json:
        print_json(report.to_json())
    elif not events:
        _lines(render.auto_deploy(report))
    raise_for(report)


@command(positional=["env"], help={"env": ENV, "events": EVENTS})
def verify(c, env, events=False):  # type: ignore[no-untyped-def]
    """Rerun smoke against what is deployed; a failure marks the lockfile failed."""
    from ..flows.verify import verify as run_verify

    run_verify(_root(c), env, reporter=_reporter(events))


@command(positional=["lockfile"],
         help={"lockfile": LOCKFILE, "env": "refuse unless the lockfile belongs to ENV",
               "dry_run": DRY_RUN, "all": ALL, "events": EVENTS})
def deploy_lockfile(c, lockfile, env=None, dry_run=False, all=False, events=False):  # type: ignore[no-untyped-def]
    """Replay a lockfile exactly (a path, or a file name in lockfiles/)."""
    from ..flows.replay import deploy_lockfile as replay

    replay(_root(c), lockfile, reporter=_reporter(events), into=env, dry_run=dry_run,
           everything=all)


@command(positional=["env"],
         help={"env": ENV, "dry_run": DRY_RUN, "all": ALL, "events": EVENTS})
def rollback(c, env, dry_run=False, all=False, events=False):  # type: ignore[no-untyped-def]
    """Redeploy ENV's newest healthy lockfile older than the current one."""
    from ..flows.replay import rollback as run_rollback

    run_rollback(_root(c), env, reporter=_reporter(events), dry_run=dry_run, everything=all)


@command(help={"env": "only this environment", "json": JSON})
def status(c, env=None, json=False):  # type: ignore[no-untyped-def]
    """What is deployed where (the newest lockfile of each environment)."""
    from ..flows.status import status as read_status
    from . import render

    data = read_status(_root(c), env)
    if json:
        print_json(data)
    else:
        _lines(render.status(data))


@command(positional=["env_a", "env_b"],
         help={"env_a": "one environment", "env_b": "the environment to compare it with",
               "json": JSON})
def diff(c, env_a, env_b, json=False):  # type: ignore[no-untyped-def]
    """Per component: same or different between two environments' deployments."""
    from ..flows.diff import diff as run_diff
    from . import render

    data = run_diff(_root(c), env_a, env_b)
    if json:
        print_json(data)
    else:
        _lines(render.diff(data))


@command(positional=["from_env", "to_env"],
         help={"from_env": "the environment whose newest healthy lockfile is promoted",
               "to_env": "the environment whose manifest receives it",
               "allow_sha": ALLOW_SHA, "events": EVENTS})
def promote(c, from_env, to_env, allow_sha=False, events=False):  # type: ignore[no-untyped-def]
    """FROM's newest healthy lockfile into TO's manifest, on a promotion branch."""
    from ..flows.promote import promote as run_promote
    from . import render

    result = run_promote(_root(c), from_env, to_env, reporter=_reporter(events),
                         allow_sha=allow_sha)
    if not events:
        _lines(render.promotion(result))


@command(positional=["lockfile", "env"],
         help={"lockfile": LOCKFILE, "env": "the environment whose manifest receives it",
               "allow_sha": ALLOW_SHA, "events": EVENTS})
def promote_lockfile(c, lockfile, env, allow_sha=False, events=False):  # type: ignore[no-untyped-def]
    """A given lockfile into ENV's manifest, on a promotion branch."""
    from ..flows.promote import promote_file
    from . import render

    result = promote_file(_root(c), lockfile, env, reporter=_reporter(events),
                          allow_sha=allow_sha)
    if not events:
        _lines(render.promotion(result))


@command(positional=["branch"], required=["by"],
         help={"branch": "the promotion branch to merge (promote/<from>-to-<to>-<stamp>)",
               "by": "the approver, 'Name <email>'",
               "signing_key": "sign with this key (an SSH key file sets gpg.format=ssh); "
                              "default: your git user.signingkey"})
def approve(c, branch, by=None, signing_key=None):  # type: ignore[no-untyped-def]
    """Merge a promotion branch, signed, with an Approved-by trailer."""
    from ..flows.approve import approve_branch

    approve_branch(_root(c), branch, by, reporter=_reporter(False), signing_key=signing_key)


@command(positional=["env", "component", "ref"],
         help={"env": "the environment whose manifest changes",
               "component": "the source to repoint",
               "ref": "the branch or tag (with --sha: the commit SHA; with --version: the "
                      "version)",
               "sha": "REF is a full 40-hex commit SHA: pin sha:",
               "version": "REF is a released version (v optional): pin version:",
               "commit": "commit the file, and only it, on the current branch"})
def set_ref(c, env, component, ref, sha=False, version=False,  # type: ignore[no-untyped-def]
            commit=False):
    """ENV COMPONENT (REF | --sha SHA | --version V): repoint one source, comments kept."""
    from ..flows.setref import requested_pin
    from ..flows.setref import set_ref as repoint

    kind, value = requested_pin(ref, sha=sha, version=version)
    repoint(_root(c), env, component, kind, value, commit=commit, reporter=_reporter(False))


@command(help={"dest": "folder to write the schemas into (default: schema/ of the deploy root)"})
def schema(c, dest=None):  # type: ignore[no-untyped-def]
    """Write the JSON Schemas of the manifest files and of the --events stream."""
    from ..flows.schema import write_schemas

    for path in write_schemas(Path(dest) if dest else _root(c).path / "schema"):
        say(str(path))


@command(help={"keep": "leave the demo's services running and print their addresses",
               "stop": "stop a kept demo's services"})
def demo(c, keep=False, stop=False):  # type: ignore[no-untyped-def]
    """The whole flow on a sandbox ecosystem (seven local repos, local services)."""
    from ..core.errors import UsageError
    from ..demo import base_dir, project_of
    from ..demo import stop as stop_demo
    from .demo import run as run_demo

    door = c.config.ottodeploy.door
    here = project_of(Path(door) if door else _root(c).path)
    if stop:
        say("stopped: " + (", ".join(stop_demo(here)) or "nothing was running"))
        return
    if Path.cwd().resolve().is_relative_to(base_dir(here)):
        raise UsageError("inv demo makes its sandbox anew, and you are inside it",
                         hint=f"run it from {here}")
    run_demo(here, reporter=_reporter(False), keep=keep)


@command(name="import", positional=["path"],
         help={"path": "a checkout of the team's deploy repo (the folder holding "
                       "environments/)",
               "dry_run": "print the diff and the report; write nothing", "json": JSON})
def import_(c, path, dry_run=False, json=False):  # type: ignore[no-untyped-def]
    """This tool's manifests from the team's environments, versions.yaml, compatibility.yaml."""
    import sys

    from ..flows.importing import plan_import, render_result, write

    result = plan_import(_root(c), Path(path))
    if not dry_run:
        write(result)
    if json:
        print_json(result.to_json(dry_run=dry_run))
        return
    if dry_run:
        sys.stdout.write(result.diff())
    _lines(render_result(result, dry_run=dry_run))


@command(help={"keep": "keep what the newest N lockfiles of every environment reference "
                       "(default 5)",
            "json": JSON})
def gc(c, keep=5, json=False):  # type: ignore[no-untyped-def]
    """Remove from the local store what recent lockfiles and builds do not need."""
    from ..flows.gc import collect
    from . import render

    result = collect(_root(c), keep=keep)
    if json:
        print_json(result.to_json())
    else:
        _lines(render.gc(result))


# --- the release flow ----------------------------------------------------------------------


@command(help={"repo": "the repository (default: the deploy repo)",
               "range": "A..B (default: the newest version tag..HEAD, or every commit)",
               "json": JSON})
def lint(c, repo=None, range=None, json=False):  # type: ignore[no-untyped-def]
    """Every commit message in the range follows conventional commits."""
    from ..flows.lint import deploy_repo, lint_range, raise_for_lint
    from ..git import local_repo
    from . import render

    target = local_repo(Path(repo)) if repo else deploy_repo(_root(c))
    report = lint_range(target, range)
    if json:
        print_json(report.to_json())
    else:
        _lines(render.lint(report))
    raise_for_lint(report)


@command(positional=["repo"],
         help={"repo": "a local path or a URL (fetched into the cache)",
               "since": "the release tag to count from (default: the newest reachable)",
               "bump_minor_pre_major": "before 1.0.0 a breaking change bumps the minor",
               "bump_patch_for_minor_pre_major": "before 1.0.0 a feat bumps the patch",
               "json": JSON})
def next_version(c, repo, since=None, bump_minor_pre_major=False,  # type: ignore[no-untyped-def]
                 bump_patch_for_minor_pre_major=False, json=False):
    """The next version release-please would cut from REPO (a path or a URL)."""
    from ..flows.nextversion import next_version_of
    from ..mirror import open_repo
    from . import render

    found = next_version_of(open_repo(repo, _root(c).cache), since,
                            bump_minor_pre_major=bump_minor_pre_major,
                            bump_patch_for_minor_pre_major=bump_patch_for_minor_pre_major)
    if json:
        print_json(found.to_json())
    else:
        _lines(render.next_version(found))


@command(positional=["env", "component", "version"],
         help={"env": "a version environment", "component": "the source to pin",
               "version": "a released version of it (its tag must exist)"})
def bump(c, env, component, version):  # type: ignore[no-untyped-def]
    """Pin COMPONENT at VERSION in a version environment, on branch bump/<component>-<version>."""
    from ..flows.bump import bump as run_bump
    from . import render

    _lines(render.bump(run_bump(_root(c), env, component, version, reporter=_reporter(False))))


@command(positional=["env"],
         help={"env": ENV,
               "since": "compare build keys with this lockfile's (" + LOCKFILE + "; `current`: "
                        "the environment's current lockfile)",
               "fan_out": "spread the waves over runners: auto (only when a wave is wider than "
                          "--runner-jobs), always or never",
               "runner_jobs": "tasks one runner builds at once, its `inv deploy --jobs`",
               "out": "write the JSON to this file instead of stdout",
               "deploy_here": "when the waves do not fan out, deploy ENV right here (as `inv "
                              "deploy ENV --jobs RUNNER_JOBS`, at the SHAs just resolved); "
                              "needs --out",
               "events": EVENTS})
def ci_matrix(c, env, since=None, fan_out="auto", runner_jobs=2,  # type: ignore[no-untyped-def]
              out=None, deploy_here=False, events=False):
    """The tasks a CI run builds, in waves, and whether to fan them out (always JSON)."""
    from ..atomicfile import write_text
    from ..core.errors import UsageError
    from ..flows.cimatrix import ci_matrix as matrix
    from ..flows.cimatrix import deploy_here as deploy_now

    if deploy_here and not out:
        raise UsageError("--deploy-here needs --out FILE: stdout carries the deploy's progress")
    found = matrix(_root(c), env, since, mode=fan_out, runner_jobs=runner_jobs)
    if out:
        write_text(Path(out), json_text(found.to_json()), durable=False)
    else:
        print_json(found.to_json())
    if deploy_here and not found.fan_out.chosen:
        deploy_now(_root(c), found, _reporter(events))


@command(help={"out": "folder to write the site into (default: site/ of the deploy root); "
                   "replaced whole",
            "offline": "contact no repo: commits only from mirrors already here, the cascade "
                       "from the current lockfiles and the last build records"})
def site(c, out=None, offline=False):  # type: ignore[no-untyped-def]
    """A static status site: environments, versions, digests, history, cascade, matrix."""
    from ..flows.site import build_site

    build_site(_root(c), Path(out).resolve() if out else None, offline=offline,
               reporter=_reporter(False))

def collection(door: Path | None, program: str = "inv") -> Collection:
    """The tasks; ``door`` is the folder of ``tasks/`` (the root when no other is found)."""
    ns = Collection(check, resolve, build, plan, deploy, verify, deploy_lockfile, rollback,
                    status, diff, promote, promote_lockfile, approve, set_ref, schema, demo,
                    import_, gc, bump, ci_matrix, site, auto_deploy)
    ns.add_collection(Collection("commits", lint))
    ns.add_collection(Collection("release", next_version))
    ns.configure({"run": {"in_stream": False},
                  "ottodeploy": {"door": str(door) if door else None, "root": None,
                                 "program": program}})
    for name in ns.task_names:
        ns[name].cli_name = name  # help names a task as it is typed: commits.lint
    return ns
