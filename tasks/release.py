"""The release flow's doors: ``commits.lint``, ``release.next-version``, ``bump``, ``ci-matrix``."""

from __future__ import annotations

from invoke import Collection, task

from ottodeploy.app import guarded, print_json, say
from tasks import root  # defined before tasks/__init__.py imports this module


@task(help={"repo": "the repository (default: the deploy repo)",
            "range": "A..B (default: the newest version tag..HEAD, or every commit)",
            "json": "print one JSON document"})
@guarded
def lint(c, repo=None, range=None, json=False):  # type: ignore[no-untyped-def]
    """Every commit message in the range follows conventional commits."""
    from ottodeploy.app.release import check_lint, render_lint
    from ottodeploy.app.release import lint as run_lint

    report = run_lint(root(), repo, range)
    if json:
        print_json(report.to_json())
    else:
        for line in render_lint(report):
            say(line)
    check_lint(report)


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
    from ottodeploy.app.release import next_version as compute
    from ottodeploy.app.release import render_next_version

    found = compute(root(), repo, since, bump_minor_pre_major=bump_minor_pre_major,
                    bump_patch_for_minor_pre_major=bump_patch_for_minor_pre_major)
    if json:
        print_json(found.to_json())
    else:
        for line in render_next_version(found):
            say(line)


@task(positional=["env", "component", "version"])
@guarded
def bump(c, env, component, version):  # type: ignore[no-untyped-def]
    """Pin COMPONENT at VERSION in a version environment, on branch bump/<component>-<version>."""
    from ottodeploy.app.release import bump_component, render_bump

    for line in render_bump(bump_component(root(), env, component, version, say=say)):
        say(line)


@task(positional=["env"], help={"since": "compare build keys with this lockfile's"})
@guarded
def ci_matrix(c, env, since=None):  # type: ignore[no-untyped-def]
    """The tasks a CI run builds, in waves (always JSON)."""
    from ottodeploy.app.release import matrix

    print_json(matrix(root(), env, since).to_json())


commits = Collection("commits", lint)
release = Collection("release", next_version)
