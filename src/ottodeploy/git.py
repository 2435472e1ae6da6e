"""The one door to git.

Every git call is ``git`` plus an argument list through ``process.run``, with
prompts disabled, so a manifest value can never become shell syntax; a repo
address starting with ``-`` never reaches git (``refnames.repo_problem``).

Remote state is read with one ``git ls-remote`` per repo: branch tips, tags
(annotated tags peeled through their ``^{}`` lines) and ``HEAD``; history
lives in mirrors (``mirror``). A ``Repo`` is a repository commands run in (a
work tree, a bare repo or a mirror); ``toplevel`` is the one way to find the
repository holding a folder; ``commit_on_new_branch`` commits without
touching the current branch, index or working tree.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from .core.errors import GitError, ProcessFailed, RepoUnreachable, UsageError
from .process import Completed, run

GITHUB = "https://github.com/{}.git"
_OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+")
LS_REMOTE_TIMEOUT = 60.0
_RECORD = "\x1e"
_FIELD = "\x00"
ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|[^/\s]+@[^/\s:]+:")


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env["LC_ALL"] = "C"
    return env


def git(args: Sequence[str], *, cwd: Path | None = None, timeout: float | None = 600.0,
        check: bool = True, env: Mapping[str, str] | None = None) -> Completed:
    """Run ``git ARGS``; failures become ``GitError`` naming the command and its output."""
    full = {**git_env(), **(env or {})}
    try:
        return run(["git", *args], cwd=cwd, env=full, timeout=timeout, check=check)
    except ProcessFailed as exc:
        raise GitError(exc.message) from None


def repo_url(repo: str, base: Path) -> str:
    """Where git finds ``repo``: ``owner/name`` is GitHub, relative paths are under ``base``."""
    if repo.startswith(("./", "../")):
        return str((base / repo).resolve())
    if _OWNER_NAME.fullmatch(repo) and "://" not in repo:
        return GITHUB.format(repo)
    return repo


class RemoteRefs(NamedTuple):
    """What ``git ls-remote`` said about one repo."""

    url: str
    refs: dict[str, str]     # full ref -> object id
    peeled: dict[str, str]   # tag ref -> commit it points to

    @classmethod
    def parse(cls, url: str, text: str) -> RemoteRefs:
        out = cls(url, {}, {})
        for line in text.splitlines():
            sha, _, name = line.partition("\t")
            if not name:
                continue
            if name.endswith("^{}"):
                out.peeled[name[:-3]] = sha
            else:
                out.refs[name] = sha
        return out

    def commit_of(self, full_ref: str) -> str | None:
        if full_ref in self.peeled:
            return self.peeled[full_ref]
        return self.refs.get(full_ref)

    def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names: a full ref, a branch or a tag; ambiguity is an error."""
        if ref.startswith("refs/") or ref == "HEAD":
            return self.commit_of(ref)
        branch = self.commit_of(f"refs/heads/{ref}")
        tag = self.commit_of(f"refs/tags/{ref}")
        if branch and tag and branch != tag:
            raise AmbiguousRef(ref)
        return branch or tag

    def version_tag(self, bare: str) -> str | None:
        """The tag of released version ``bare`` (no leading v): ``v<bare>``, else ``<bare>``."""
        return next((t for t in (f"v{bare}", bare) if self.commit_of(f"refs/tags/{t}")), None)

    @property
    def tags(self) -> dict[str, str]:
        """Tag name -> commit."""
        return {ref[len("refs/tags/"):]: self.commit_of(ref) or sha
                for ref, sha in self.refs.items() if ref.startswith("refs/tags/")}

    def tags_at(self, commit: str) -> list[str]:
        return sorted(name for name, sha in self.tags.items() if sha == commit)

    @property
    def tags_digest(self) -> str:
        lines = sorted(f"{sha} {name}" for name, sha in self.tags.items())
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]

    def has_commit_tip(self, sha: str) -> bool:
        return sha in self.refs.values() or sha in self.peeled.values()


class AmbiguousRef(ValueError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"{ref!r} is both a branch and a tag on different commits")
        self.ref = ref


def ls_remote(url: str) -> RemoteRefs:
    """All refs of ``url`` (one network round trip)."""
    try:
        done = git(["ls-remote", url], timeout=LS_REMOTE_TIMEOUT)
    except GitError as exc:
        raise RepoUnreachable([url], [unreachable_reason(url, exc.message)]) from None
    return RemoteRefs.parse(url, done.stdout)


def unreachable_reason(url: str, output: str) -> str:
    """git's first ``fatal:`` line about ``url``, without the address (the same for many)."""
    fatal = [ln.split("fatal:", 1)[1].strip() for ln in output.splitlines() if "fatal:" in ln]
    if not fatal:
        lines = [ln.strip(" |") for ln in output.splitlines() if ln.strip(" |")]
        return lines[-1] if lines else "no answer"
    reason = fatal[0]
    for form in (f"unable to access '{url}/': ", f"unable to access '{url}': ", f"'{url}' ",
                 f"'{url}/' ", url):
        reason = reason.replace(form, "")
    return reason.strip() or fatal[0]


# --- commits that leave the working tree alone -----------------------------------------------


def toplevel(path: Path) -> Path | None:
    done = git(["rev-parse", "--show-toplevel"], cwd=path, check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def current_branch(top: Path) -> str | None:
    done = git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd=top, check=False)
    return done.stdout.strip() or None


def show_file(top: Path, rev: str, path: str) -> str:
    return git(["show", f"{rev}:{path}"], cwd=top).stdout


def commit_on_new_branch(top: Path, branch: str, files: Mapping[str, str], message: str) -> str:
    """Commit ``files`` (path -> text) on top of HEAD as new ``branch``; returns the commit.

    Uses a private index and plumbing (hash-object, update-index, write-tree,
    commit-tree, update-ref), so the current branch, the index and the working
    tree stay exactly as they were. The branch must not exist yet.
    """
    import tempfile

    head = git(["rev-parse", "HEAD"], cwd=top).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(["read-tree", head], cwd=top, env=env)
        for path, text in files.items():
            blob = run(["git", "hash-object", "-w", "--stdin", "--path", path], cwd=top,
                       env={**git_env(), **env}, input_text=text).stdout.strip()
            git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], cwd=top,
                env=env)
        tree = git(["write-tree"], cwd=top, env=env).stdout.strip()
    commit = run(["git", "commit-tree", tree, "-p", head, "-F", "-"], cwd=top, env=git_env(),
                 input_text=message).stdout.strip()
    git(["update-ref", f"refs/heads/{branch}", commit, ""], cwd=top)
    return commit


# --- repositories ----------------------------------------------------------------------------


class Repo(NamedTuple):
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
        from .core.versions import best_tag

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


def refuse_option(text: str, what: str) -> None:
    if not text or text.startswith("-"):
        raise UsageError(f"{what} {text!r} is not acceptable: it must not be empty or start "
                         "with '-'")


def _git_complaint(done: Completed) -> str:
    lines = [ln.removeprefix("fatal: ") for ln in done.stderr.splitlines() if ln.strip()]
    return lines[0] if lines else f"git exit {done.returncode}"
