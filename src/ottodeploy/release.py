"""The release flow: commit lint, the next version of a repo, and version bumps.

Linting (``inv commits.lint``). The range is ``A..B`` as git reads it (a range
starting with ``-`` is refused before git sees it); by default it runs from the
newest version tag reachable from HEAD to HEAD, or over every commit when no
tag is reachable. Every message in it is read by ``commits.lint_message``;
merge commits (more than one parent, or git's and GitHub's merge messages) are
exempt. A violation names the commit's short SHA, its first line and each
problem.

Next version (``inv release.next-version``). A local path is read where it is;
any other address is cloned or fetched into a mirror under the cache. The
current version is the highest version tag (``vX.Y.Z``, ``v`` optional)
reachable from HEAD — for a mirror, the remote's default branch — or the tag
given with ``--since``; every commit after it up to HEAD goes through
``commits.next_version`` (release-please's rules, with its two pre-1.0 options).

Bumping (``inv bump ENV COMPONENT VERSION``). ENV must be a version
environment and list COMPONENT; pinning what it already pins is a no-op. The
version must exist as tag ``v<version>`` or ``<version>`` in the component's
repo (one ``git ls-remote``). The compatibility matrix is checked with the new
version against the versions the environment declares, and a violation that
involves COMPONENT refuses the bump. The manifest as committed at HEAD is
re-pinned in place (``editing.set_pins``: comments and order kept), validated,
and committed on ``bump/<component>-<version>`` with git plumbing, so the
current branch and working tree are untouched. With ``GITHUB_TOKEN`` the
branch is pushed and a pull request opened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.commits import NextVersion, is_merge, lint_message, next_version
from .core.errors import (
    BumpError,
    CommitLintFailed,
    CompatibilityError,
    GitError,
    ManifestError,
    UsageError,
)
from .core.versions import best_tag, normalize_version, tag_version
from .git import (
    Mirror,
    commit_on_new_branch,
    current_branch,
    git,
    ls_remote,
    repo_url,
    show_file,
    toplevel,
)
from .process import Completed
from .root import DeployRoot, check_env_name

Say = Callable[[str], None]
_RECORD = "\x1e"
_FIELD = "\x00"
_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|[^/\s]+@[^/\s:]+:")


# --- repositories ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Repo:
    """A repository git commands run in: a work tree or bare repo, or a cache mirror."""

    location: str
    path: Path
    bare: bool = False

    def git(self, args: list[str], *, check: bool = True) -> Completed:
        if self.bare:
            return git(["--git-dir", str(self.path), *args], check=check)
        return git(args, cwd=self.path, check=check)

    def head(self) -> str | None:
        done = self.git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False)
        return done.stdout.strip() or None

    def tag_exists(self, tag: str) -> bool:
        done = self.git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
                        check=False)
        return done.returncode == 0

    def newest_version_tag(self) -> str | None:
        """The highest version tag reachable from HEAD (a release beats its prereleases)."""
        if self.head() is None:
            return None
        tags = self.git(["tag", "--merged", "HEAD"]).stdout.split()
        best = best_tag(tags)
        return best[0] if best else None

    def log(self, rev_range: str) -> list[tuple[str, int, str]]:
        """``(sha, number of parents, message)`` of every commit in ``rev_range``, newest first."""
        done = self.git(["log", "--no-color", "--format=%H %P%x00%B%x1e",
                         "--end-of-options", rev_range, "--"], check=False)
        if done.returncode != 0:
            why = _git_complaint(done)
            raise UsageError(f"range {rev_range!r} cannot be read in {self.location}: {why}",
                             hint="write A..B with revisions that exist (tags, branches, SHAs)")
        out = []
        for record in done.stdout.split(_RECORD):
            head, sep, message = record.lstrip("\n").partition(_FIELD)
            if sep:
                sha, *parents = head.split()
                out.append((sha, len(parents), message))
        return out


def local_repo(path: Path) -> Repo:
    """The git repository at ``path`` (work tree or bare); bad input when there is none."""
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory", hint="give the path of a git repository")
    done = git(["rev-parse", "--is-bare-repository"], cwd=path, check=False)
    if done.returncode != 0:
        raise UsageError(f"{path} is not a git repository")
    if done.stdout.strip() == "true":
        return Repo(str(path.resolve()), path.resolve())
    top = git(["rev-parse", "--show-toplevel"], cwd=path).stdout.strip()
    return Repo(top, Path(top))


def open_repo(repo: str, cache: Path) -> Repo:
    """A local path as it is, any other address through a mirror under ``cache``."""
    _refuse_option(repo, "REPO")
    path = Path(repo).expanduser()
    if path.is_dir():
        return local_repo(path)
    url = repo_url(repo, Path.cwd())
    if not _ADDRESS.match(url):
        raise UsageError(f"{repo!r} is neither a directory nor a repository address",
                         hint="give a path, a URL (https://, file://, ssh://) or owner/name")
    mirror = Mirror(cache, url)
    mirror.fetch()
    return Repo(url, mirror.path, bare=True)


def _refuse_option(text: str, what: str) -> None:
    if not text or text.startswith("-"):
        raise UsageError(f"{what} {text!r} is not acceptable: it must not be empty or start "
                         "with '-'")


def _git_complaint(done: Completed) -> str:
    lines = [ln.removeprefix("fatal: ") for ln in done.stderr.splitlines() if ln.strip()]
    return lines[0] if lines else f"git exit {done.returncode}"


# --- commits.lint ----------------------------------------------------------------------------


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
        _refuse_option(rev_range, "range")
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


# --- release.next-version --------------------------------------------------------------------


@dataclass(frozen=True)
class RepoVersion:
    repo: str
    head: str | None
    tag: str | None
    result: NextVersion

    def to_json(self) -> dict[str, Any]:
        return {**self.result.as_dict(), "repo": self.repo, "tag": self.tag, "head": self.head}


def next_version_of(repo: Repo, since: str | None = None, *, bump_minor_pre_major: bool = False,
                    bump_patch_for_minor_pre_major: bool = False) -> RepoVersion:
    """The version release-please would cut next from ``repo``'s HEAD."""
    head = repo.head()
    if since is not None:
        _refuse_option(since, "--since")
        if tag_version(since) is None:
            raise UsageError(f"--since {since!r} is not a version tag", hint="e.g. --since v1.2.0")
        if not repo.tag_exists(since):
            raise UsageError(f"tag {since!r} not found in {repo.location}")
        tag: str | None = since
    else:
        tag = repo.newest_version_tag()
    if head is None:
        messages: list[tuple[str, str]] = []
    else:
        messages = [(sha, msg) for sha, _, msg in repo.log(f"{tag}..HEAD" if tag else "HEAD")]
    current = tag_version(tag) if tag else None
    result = next_version(current, messages, bump_minor_pre_major=bump_minor_pre_major,
                          bump_patch_for_minor_pre_major=bump_patch_for_minor_pre_major)
    return RepoVersion(repo.location, head, tag, result)


# --- bump ------------------------------------------------------------------------------------


@dataclass
class Bump:
    environment: str
    component: str
    version: str          # bare: 0.4.0
    old: str              # the old pin, "version v0.3.0"
    new: str = ""         # the new pin, "version v0.4.0"; empty when nothing changes
    tag_commit: str = ""
    branch: str = ""
    commit: str = ""
    diff: str = ""
    pull_request: str | None = None
    warnings: list[str] = field(default_factory=list)


def bump(root: DeployRoot, env: str, component: str, version: str, *, say: Say) -> Bump:
    """Pin ``component`` at ``version`` in ``env`` on a new branch (module docstring)."""
    from .core.compat import violations
    from .core.models import Environment
    from .editing import set_pins
    from .manifests import check_environment, load_compatibility, load_project, validate
    from .yamlfile import parse

    check_env_name(env)
    try:
        bare = normalize_version(version)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    project = load_project(root, env)
    if project.environment.mode != "version":
        raise UsageError(f"{env} is a {project.environment.mode} environment; bump pins "
                         "versions in version environments",
                         hint="repoint a branch environment by editing its ref")
    if component not in project.environment.sources:
        raise UsageError(f"{env} has no source {component!r}",
                         hint="sources: " + ", ".join(project.environment.sources))

    top = toplevel(root.path)
    if top is None:
        raise BumpError(f"{root.path} is not a git repository; a bump is a commit")
    path = str(root.env_file(env).resolve().relative_to(top.resolve()))
    try:
        text = show_file(top, "HEAD", path)
    except GitError:
        raise BumpError(f"{path} is not committed at HEAD, so it cannot be bumped",
                        hint=f"commit {path} first") from None
    doc = parse(text, path)
    target = validate(Environment, doc)
    if target.mode != "version" or component not in target.sources:
        raise BumpError(f"{path} at HEAD differs from the working tree in mode or sources",
                        hint=f"commit {path} first")
    source = target.sources[component]
    old = next(f"{k} {v}" for k in ("version", "sha", "ref") if (v := getattr(source, k)))
    result = Bump(env, component, bare, old)
    if source.version is not None and normalize_version(source.version) == bare:
        say(f"{env} already pins {component} {bare}; nothing to do")
        return result

    repo = source.repo or project.components.components[component].repo
    remote = ls_remote(repo_url(repo, root.path))
    tag = next((t for t in (f"v{bare}", bare) if remote.commit_of(f"refs/tags/{t}")), None)
    if tag is None:
        newest = sorted(((v, t) for t in remote.tags if (v := tag_version(t)) is not None),
                        reverse=True)[:5]
        raise UsageError(f"version {bare} not found in {repo}: no tag v{bare} or {bare}",
                         hint="newest tags: " + (", ".join(t for _, t in newest) or "none"))
    result.tag_commit = remote.commit_of(f"refs/tags/{tag}") or ""

    versions = {n: normalize_version(s.version) for n, s in target.sources.items()
                if s.version is not None}
    versions[component] = bare
    matrix = load_compatibility(root, project.components)
    found = violations(matrix, versions)
    blocking = [str(v) for v in found if component in (v.component, v.dependency)]
    if blocking:
        raise CompatibilityError(blocking)
    result.warnings = [f"already violated in {env}: {v}" for v in found
                       if component not in (v.component, v.dependency)]
    for warning in result.warnings:
        say(f"warning: {warning}")

    new_text = set_pins(text, {component: ("version", tag)})
    new_doc = parse(new_text, path)
    problems = check_environment(validate(Environment, new_doc), new_doc, project.components,
                                 expected_name=env)
    if problems:
        raise ManifestError(path, problems, hint="the bumped manifest would not be valid")
    result.new = f"version {tag}"
    result.branch = f"bump/{component}-{bare}"
    message = (f"chore({env}): bump {component} to {bare}\n\n"
               f"{component}: {old} -> {result.new} (tag {tag} is {result.tag_commit}).\n")
    result.commit = _commit(top, result.branch, path, new_text, message)
    result.diff = git(["diff", "HEAD", result.commit, "--", path], cwd=top).stdout
    say(f"committed {result.commit[:12]} on {result.branch}: {component} {old} -> {result.new}")
    _publish(top, result, message)
    return result


def _commit(top: Path, branch: str, path: str, text: str, message: str) -> str:
    """A new commit on ``branch``; an existing branch is reused only when it holds ``text``."""
    ref = f"refs/heads/{branch}"
    done = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=top, check=False)
    existing = done.stdout.strip()
    if not existing:
        return commit_on_new_branch(top, branch, {path: text}, message)
    try:
        same = show_file(top, existing, path) == text
    except GitError:
        same = False
    if not same:
        raise BumpError(f"branch {branch} already exists with a different {path}",
                        hint=f"merge or delete it first: git branch -D {branch}")
    return existing


def _publish(top: Path, result: Bump, message: str) -> None:
    from .github import configured, open_pull_request

    environ = dict(os.environ)
    if not configured(environ):
        return
    base = current_branch(top) or "main"
    git(["push", "--quiet", "origin", f"refs/heads/{result.branch}:refs/heads/{result.branch}"],
        cwd=top)
    title, _, body = message.partition("\n\n")
    pr = open_pull_request(environ, head=result.branch, base=base, title=title, body=body)
    result.pull_request = pr.url or "already open"
