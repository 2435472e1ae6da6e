"""``inv commits.lint [--repo PATH] [--range A..B]``: every commit is a conventional commit.

The range is ``A..B`` as git reads it (a range starting with ``-`` is refused
before git sees it); by default it runs from the newest version tag reachable
from HEAD to HEAD, or over every commit when no tag is reachable. Every
message in it is read by ``core.commits.lint_message``; merge commits (more
than one parent, or git's and GitHub's merge messages) are exempt. A
violation names the commit's short SHA, its first line and each problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.commits import is_merge, lint_message
from ..core.errors import CommitLintFailed, UsageError
from ..git import Repo, refuse_option, toplevel
from ..root import DeployRoot


@dataclass(frozen=True)
class LintViolation:
    sha: str
    subject: str
    problems: list[str]

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass
class LintReport:
    repo: str
    range: str
    checked: int = 0
    exempt: int = 0       # merge commits
    violations: list[LintViolation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "range": self.range, "ok": self.ok, "checked": self.checked,
                "exempt": self.exempt,
                "violations": [{"sha": v.sha, "short": v.short, "subject": v.subject,
                                "problems": v.problems} for v in self.violations]}


def deploy_repo(root: DeployRoot) -> Repo:
    """The git repository holding the deploy root (``commits.lint``'s default)."""
    top = toplevel(root.path) if root.path.is_dir() else None
    if top is None:
        raise UsageError(f"the deploy root {root.path} is not in a git repository",
                         hint="pass --repo PATH")
    return Repo(str(top), top)


def lint_range(repo: Repo, rev_range: str | None = None) -> LintReport:
    """Lint every commit of ``rev_range`` (default: newest version tag..HEAD, or all)."""
    if rev_range is None:
        if repo.head() is None:
            return LintReport(repo.location, "HEAD (no commits yet)")
        tag = repo.newest_version_tag()
        rev_range = f"{tag}..HEAD" if tag else "HEAD"
    else:
        refuse_option(rev_range, "range")
        if ".." not in rev_range:
            raise UsageError(f"range {rev_range!r} is not A..B",
                             hint="e.g. --range v1.2.0..HEAD or --range origin/main..HEAD")
    report = LintReport(repo.location, rev_range)
    for sha, parents, message in repo.log(rev_range):
        report.checked += 1
        if parents > 1 or is_merge(message):
            report.exempt += 1
            continue
        problems = lint_message(message)
        if problems:
            first = message.strip().splitlines()[0] if message.strip() else ""
            report.violations.append(LintViolation(sha, first, problems))
    return report


def raise_for_lint(report: LintReport) -> None:
    if report.violations:
        raise CommitLintFailed(
            f"{len(report.violations)} of {report.checked} commits in {report.range} are not "
            "conventional commits",
            hint="reword them (git rebase -i) as 'type(scope): subject'")
