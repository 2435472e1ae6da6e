"""The invoke collection: each task calls one flow and renders what it returns.

``collection(default_root)`` builds it; ``tasks/__init__.py`` (``inv``) gives
the deploy repo's folder as the default root. ``OTTODEPLOY_ROOT`` overrides it.
"""

from __future__ import annotations

from pathlib import Path

from invoke.collection import Collection
from invoke.tasks import task

from ..reporting import Reporter
from ..root import DeployRoot
from . import guarded, print_json, say


def _root(c) -> DeployRoot:  # type: ignore[no-untyped-def]
    return DeployRoot.locate(Path(c.config.ottodeploy.root))


def _reporter(events: bool) -> Reporter:
    from .console import ConsoleReporter, JsonLinesReporter

    return JsonLinesReporter() if events else ConsoleReporter()


def _lines(lines: list[str]) -> None:
    for line in lines:
        say(line)


EVENTS = "print one JSON object per line as things happen (for agents), instead of text"


@task(positional=["env"], help={"offline": "check files and declared versions only",
                                "json": "print one JSON document"})
@guarded
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


@task(positional=["env"], help={"json": "print one JSON document"})
@guarded
def resolve(c, env, json=False):  # type: ignore[no-untyped-def]
    """Every source with repo, ref, sha, version."""
    from ..flows.resolve import resolve_env
    from . import render

    res = resolve_env(_root(c), env)
    if json:
        print_json(render.resolution_json(res))
    else:
        _lines(render.resolution(res))


@task(positional=["env"], iterable=["task"],
      help={"task": "a task to build with what it needs (repeatable; none = all)",
            "jobs": "independent tasks built at once", "events": EVENTS})
@guarded
def build(c, env, task=None, jobs=1, events=False):  # type: ignore[no-untyped-def]
    """Build the cascade (doit underneath): only what changed, and everything below it."""
    from ..flows.build import build as run_build

    run_build(_root(c), env, list(task or []), _reporter(events), jobs)


@task(positional=["env"], help={"json": "print one JSON document"})
@guarded
def plan(c, env, json=False):  # type: ignore[no-untyped-def]
    """Which tasks would run, and why, without building."""
    from ..flows.build import plan_env
    from . import render

    result = plan_env(_root(c), env)
    if json:
        print_json(result.to_json())
    else:
        _lines(render.plan(result))


ALL = "run every component's deploy step, also those whose fingerprint did not change"


@task(positional=["env"], help={"dry_run": "print the plan and touch nothing",
                                "jobs": "independent tasks built at once", "all": ALL,
                                "events": EVENTS})
@guarded
def deploy(c, env, dry_run=False, jobs=1, all=False, events=False):  # type: ignore[no-untyped-def]
    """check -> build or verify -> deploy -> smoke -> e2e -> lockfile."""
    from ..flows.deploy import deploy as run_deploy

    run_deploy(_root(c), env, reporter=_reporter(events), dry_run=dry_run, jobs=jobs,
               everything=all)


@task(iterable=["env"],
      help={"env": "an environment to follow (repeatable, or comma-separated; named ones are "
                   "deployed even with auto_deploy off); default: every environment with "
                   "auto_deploy: true",
            "component": "with --ref: only environments whose source COMPONENT follows REF "
                         "(a push that component's repository announced)",
            "ref": "the branch that moved (refs/heads/ is dropped)",
            "dry_run": "say what would be deployed and deploy nothing",
            "json": "print one JSON document (progress goes to stderr)",
            "events": EVENTS})
@guarded
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


@task(positional=["env"], help={"events": EVENTS})
@guarded
def verify(c, env, events=False):  # type: ignore[no-untyped-def]
    """Rerun smoke against what is deployed; a failure marks the lockfile failed."""
    from ..flows.verify import verify as run_verify

    run_verify(_root(c), env, reporter=_reporter(events))


@task(positional=["lockfile"], help={"env": "refuse unless the lockfile belongs to ENV",
                                     "dry_run": "print the plan and touch nothing",
                                     "all": ALL, "events": EVENTS})
@guarded
def deploy_lockfile(c, lockfile, env=None, dry_run=False, all=False, events=False):  # type: ignore[no-untyped-def]
    """Replay a lockfile exactly (a path, or a file name in lockfiles/)."""
    from ..flows.replay import deploy_lockfile as replay

    replay(_root(c), lockfile, reporter=_reporter(events), into=env, dry_run=dry_run,
           everything=all)


@task(positional=["env"], help={"dry_run": "print the plan and touch nothing", "all": ALL,
                                "events": EVENTS})
@guarded
def rollback(c, env, dry_run=False, all=False, events=False):  # type: ignore[no-untyped-def]
    """Redeploy ENV's newest healthy lockfile older than the current one."""
    from ..flows.replay import rollback as run_rollback

    run_rollback(_root(c), env, reporter=_reporter(events), dry_run=dry_run, everything=all)


@task(help={"env": "only this environment", "json": "print one JSON document"})
@guarded
def status(c, env=None, json=False):  # type: ignore[no-untyped-def]
    """What is deployed where (the newest lockfile of each environment)."""
    from ..flows.status import status as read_status
    from . import render

    data = read_status(_root(c), env)
    if json:
        print_json(data)
    else:
        _lines(render.status(data))


@task(positional=["env_a", "env_b"], help={"json": "print one JSON document"})
@guarded
def diff(c, env_a, env_b, json=False):  # type: ignore[no-untyped-def]
    """Per component: same or different between two environments' deployments."""
    from ..flows.diff import diff as run_diff
    from . import render

    data = run_diff(_root(c), env_a, env_b)
    if json:
        print_json(data)
    else:
        _lines(render.diff(data))


@task(positional=["from_env", "to_env"],
      help={"allow_sha": "pin by sha where a locked commit has no release tag",
            "events": EVENTS})
@guarded
def promote(c, from_env, to_env, allow_sha=False, events=False):  # type: ignore[no-untyped-def]
    """FROM's newest healthy lockfile into TO's manifest, on a promotion branch."""
    from ..flows.promote import promote as run_promote
    from . import render

    result = run_promote(_root(c), from_env, to_env, reporter=_reporter(events),
                         allow_sha=allow_sha)
    if not events:
        _lines(render.promotion(result))


@task(positional=["lockfile", "env"],
      help={"allow_sha": "pin by sha where a locked commit has no release tag",
            "events": EVENTS})
@guarded
def promote_lockfile(c, lockfile, env, allow_sha=False, events=False):  # type: ignore[no-untyped-def]
    """A given lockfile into ENV's manifest, on a promotion branch."""
    from ..flows.promote import promote_file
    from . import render

    result = promote_file(_root(c), lockfile, env, reporter=_reporter(events),
                          allow_sha=allow_sha)
    if not events:
        _lines(render.promotion(result))


@task(positional=["branch"],
      help={"by": "the approver, 'Name <email>' (required)",
            "signing_key": "sign with this key (an SSH key file sets gpg.format=ssh); "
                           "default: your git user.signingkey"})
@guarded
def approve(c, branch, by=None, signing_key=None):  # type: ignore[no-untyped-def]
    """Merge a promotion branch, signed, with an Approved-by trailer."""
    from ..flows.approve import approve_branch

    approve_branch(_root(c), branch, by, reporter=_reporter(False), signing_key=signing_key)


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
    from ..flows.setref import requested_pin
    from ..flows.setref import set_ref as repoint

    kind, value = requested_pin(ref, sha=sha, version=version)
    repoint(_root(c), env, component, kind, value, commit=commit, reporter=_reporter(False))


@task(help={"dest": "folder to write the schemas into (default: schema/ of the deploy root)"})
@guarded
def schema(c, dest=None):  # type: ignore[no-untyped-def]
    """Write the JSON Schemas of the manifest files."""
    from ..flows.schema import write_schemas

    for path in write_schemas(Path(dest) if dest else Path(c.config.ottodeploy.root) / "schema"):
        say(str(path))


@task(help={"keep": "leave the demo's services running", "stop": "stop a kept demo's services"})
@guarded
def demo(c, keep=False, stop=False):  # type: ignore[no-untyped-def]
    """The whole flow on a sandbox ecosystem (seven local repos, local services)."""
    from ..demo import stop as stop_demo
    from .demo import run as run_demo

    here = Path(c.config.ottodeploy.root)
    if stop:
        say("stopped: " + (", ".join(stop_demo(here)) or "nothing was running"))
        return
    run_demo(here, reporter=_reporter(False), keep=keep)


@task(name="import", positional=["path"],
      help={"path": "a checkout of the team's deploy repo (the folder holding environments/)",
            "dry_run": "print the diff and the report; write nothing",
            "json": "print one JSON document"})
@guarded
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


@task(help={"keep": "keep what the newest N lockfiles of every environment reference (default 5)",
            "json": "print one JSON document"})
@guarded
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


@task(help={"repo": "the repository (default: the deploy repo)",
            "range": "A..B (default: the newest version tag..HEAD, or every commit)",
            "json": "print one JSON document"})
@guarded
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


@task(positional=["repo"],
      help={"repo": "a local path or a URL (fetched into the cache)",
            "since": "the release tag to count from (default: the newest reachable)",
            "bump_minor_pre_major": "before 1.0.0 a breaking change bumps the minor",
            "bump_patch_for_minor_pre_major": "before 1.0.0 a feat bumps the patch",
            "json": "print one JSON document"})
@guarded
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


@task(positional=["env", "component", "version"])
@guarded
def bump(c, env, component, version):  # type: ignore[no-untyped-def]
    """Pin COMPONENT at VERSION in a version environment, on branch bump/<component>-<version>."""
    from ..flows.bump import bump as run_bump
    from . import render

    _lines(render.bump(run_bump(_root(c), env, component, version, reporter=_reporter(False))))


@task(positional=["env"], help={"since": "compare build keys with this lockfile's"})
@guarded
def ci_matrix(c, env, since=None):  # type: ignore[no-untyped-def]
    """The tasks a CI run builds, in waves (always JSON)."""
    from ..flows.cimatrix import ci_matrix as matrix

    print_json(matrix(_root(c), env, since).to_json())


@task(help={"out": "folder to write the site into (default: site/ of the deploy root); "
                   "replaced whole",
            "offline": "contact no repo: commits only from mirrors already here, the cascade "
                       "from the current lockfiles and the last build records"})
@guarded
def site(c, out=None, offline=False):  # type: ignore[no-untyped-def]
    """A static status site: environments, versions, digests, history, cascade, matrix."""
    from ..flows.site import build_site

    build_site(_root(c), Path(out).resolve() if out else None, offline=offline,
               reporter=_reporter(False))


def collection(default_root: Path) -> Collection:
    """The tasks, with ``default_root`` as the deploy root unless ``OTTODEPLOY_ROOT`` says."""
    ns = Collection(check, resolve, build, plan, deploy, auto_deploy, verify, deploy_lockfile,
                    rollback,
                    status, diff, promote, promote_lockfile, approve, set_ref, schema, demo,
                    import_, gc,
                    bump, ci_matrix, site)
    ns.add_collection(Collection("commits", lint))
    ns.add_collection(Collection("release", next_version))
    ns.configure({"run": {"in_stream": False},
                  "ottodeploy": {"root": str(default_root)}})
    return ns
