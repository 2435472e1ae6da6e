"""``inv commits.lint``, ``inv release.next-version``, ``inv bump`` and ``inv ci-matrix``.

The work is done in ``ottodeploy.release`` and ``ottodeploy.cimatrix``; these
functions pick the defaults (the deploy repo, the cache) and render the results.
"""

from __future__ import annotations

from pathlib import Path

from ..cimatrix import CiMatrix, ci_matrix
from ..release import (
    Bump,
    LintReport,
    RepoVersion,
    Say,
    bump,
    deploy_repo,
    lint_range,
    local_repo,
    next_version_of,
    open_repo,
    raise_for_lint,
)
from ..root import DeployRoot


def lint(root: DeployRoot, repo: str | None, rev_range: str | None) -> LintReport:
    target = local_repo(Path(repo)) if repo else deploy_repo(root)
    return lint_range(target, rev_range)


def render_lint(report: LintReport) -> list[str]:
    lines = [f"commits.lint {report.repo} {report.range}: {report.checked} commits"
             + (f" ({report.exempt} merges exempt)" if report.exempt else "")]
    for v in report.violations:
        lines.append(f"  {v.short} {v.subject}")
        lines += [f"          - {p}" for p in v.problems]
    if report.ok:
        lines.append("  all conventional")
    return lines


def check_lint(report: LintReport) -> None:
    raise_for_lint(report)


def next_version(root: DeployRoot, repo: str, since: str | None, *, bump_minor_pre_major: bool,
                 bump_patch_for_minor_pre_major: bool) -> RepoVersion:
    return next_version_of(open_repo(repo, root.cache), since,
                           bump_minor_pre_major=bump_minor_pre_major,
                           bump_patch_for_minor_pre_major=bump_patch_for_minor_pre_major)


def render_next_version(found: RepoVersion) -> list[str]:
    result = found.result
    since = f"tag {found.tag}" if found.tag else "no version tag: every commit"
    lines = [f"{found.repo} at {(found.head or 'no commits')[:12]}, since {since}",
             f"  current: {result.current or 'none'}"]
    if result.next:
        lines.append(f"  next:    {result.next} ({result.bump} bump)")
    else:
        lines.append("  next:    no release (nothing since it bumps the version)")
    for c in result.commits:
        lines.append(f"  {c.sha[:7]} {c.effect:<5} {c.subject}")
    return lines


def bump_component(root: DeployRoot, env: str, component: str, version: str, *,
                   say: Say) -> Bump:
    return bump(root, env, component, version, say=say)


def render_bump(result: Bump) -> list[str]:
    if not result.commit:
        return []
    lines = [result.diff.rstrip("\n")] if result.diff else []
    lines.append(f"bump branch {result.branch} ({result.commit[:12]})")
    if result.pull_request:
        lines.append(f"pull request: {result.pull_request}")
    else:
        lines.append("push it and open a pull request (set GITHUB_TOKEN to have bump do it)")
    return lines


def matrix(root: DeployRoot, env: str, since: str | None) -> CiMatrix:
    return ci_matrix(root, env, since)
