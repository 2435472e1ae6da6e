"""The one door to git.

Every git call is ``git`` plus an argument list through ``process.run``, with
prompts disabled, so a manifest value can never become shell syntax; a repo
address starting with ``-`` never reaches git (``refnames.repo_problem``).

Remote state is read with one ``git ls-remote`` per repo: branch tips, tags
(annotated tags peeled through their ``^{}`` lines) and ``HEAD``. History is
kept in a bare mirror per repo under the cache, cloned once with
``--filter=blob:none`` (history without file contents; transports that ignore
the filter give a full clone) and fetched incrementally afterwards. Checkouts
are worktrees of that mirror, so a recipe gets a real git tree (tags and
history included, as sbt-dynver expects) at exactly one SHA. A file lock per
mirror serialises fetches and worktree changes across threads and processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from .core.errors import GitError, ProcessFailed, ResolveError
from .process import Completed, run

GITHUB = "https://github.com/{}.git"
_OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+")
LS_REMOTE_TIMEOUT = 60.0
FETCH_TIMEOUT = 1800.0


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
        raise ResolveError(f"cannot read repo {url}: {exc.message}",
                           hint="check the address and your access (git credentials, network)") \
            from None
    return RemoteRefs.parse(url, done.stdout)


# --- mirrors ---------------------------------------------------------------------------------


class Mirror:
    """A bare, blobless mirror of one repo under ``cache/mirrors``."""

    def __init__(self, cache: Path, url: str) -> None:
        self.url = url
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", url.rstrip("/").rsplit("/", 1)[-1])[:40]
        self.path = cache / "mirrors" / f"{stem.removesuffix('.git')}-{digest}.git"
        self._lockfile = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self._lockfile.parent.mkdir(parents=True, exist_ok=True)
        with self._lockfile.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _git(self, args: Sequence[str], **kw: object) -> Completed:
        return git(["--git-dir", str(self.path), *args], **kw)  # type: ignore[arg-type]

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file()

    def fetch(self) -> None:
        """Clone on first use, else fetch every branch and tag (prunes what went away)."""
        with self.locked():
            self._fetch_unlocked()

    def _fetch_unlocked(self) -> None:
        if not self.exists():
            tmp = self.path.with_name(self.path.name + f".tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                git(["clone", "--quiet", "--bare", "--filter=blob:none", self.url, str(tmp)],
                    timeout=FETCH_TIMEOUT)
            except GitError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise ResolveError(f"cannot clone {self.url}: {exc.message}") from None
            tmp.rename(self.path)
            return
        try:
            self._git(["fetch", "--quiet", "--prune", "--tags", "origin",
                       "+refs/heads/*:refs/heads/*"], timeout=FETCH_TIMEOUT)
        except GitError as exc:
            raise ResolveError(f"cannot fetch {self.url}: {exc.message}") from None

    def has_commit(self, sha: str) -> bool:
        if not self.exists():
            return False
        done = self._git(["cat-file", "-e", f"{sha}^{{commit}}"], check=False)
        return done.returncode == 0

    def ensure_commit(self, sha: str, *, refresh: bool = False) -> bool:
        """Make ``sha`` present, fetching when needed; False when the repo does not have it.

        ``refresh`` fetches even when the commit is there, so branches and tags are current
        (a new tag on an old commit changes the versions computed from the mirror).
        """
        if not refresh and self.has_commit(sha):
            return True
        with self.locked():
            if not refresh and self.has_commit(sha):
                return True
            self._fetch_unlocked()
            if self.has_commit(sha):
                return True
            # servers that allow it hand out commits no ref points at
            self._git(["fetch", "--quiet", "origin", sha], check=False, timeout=FETCH_TIMEOUT)
            return self.has_commit(sha)

    def describe(self, sha: str) -> tuple[list[str], int]:
        """Tags on the nearest tagged ancestor of ``sha`` and the commits since it.

        ``git describe`` finds the tag with the fewest commits between it and
        ``sha`` (``rev-list --count TAG..SHA``); every tag on that tag's commit
        is returned so the caller can choose the highest version. No tag gives
        ``([], number of commits)``.
        """
        from .core.versions import tag_version

        exclude: list[str] = []
        while True:
            args = ["describe", "--tags", "--long", "--abbrev=40", "--candidates=100",
                    "--match", "v[0-9]*", "--match", "[0-9]*"]
            for tag in exclude:
                args += ["--exclude", tag]
            done = self._git([*args, sha], check=False)
            if done.returncode != 0:
                count = self._git(["rev-list", "--count", sha]).stdout.strip()
                return [], int(count)
            tag, count, _ = done.stdout.strip().rsplit("-", 2)
            if tag_version(tag) is None:
                exclude.append(tag)
                continue
            commit = self._git(["rev-parse", f"{tag}^{{commit}}"]).stdout.strip()
            tags = self._git(["tag", "--points-at", commit]).stdout.split()
            return [t for t in tags if t not in exclude], int(count)

    def log_between(self, older: str, newer: str) -> list[tuple[str, str]]:
        """Commits in ``older..newer`` as (sha, subject), newest first."""
        out = self._git(["log", "--format=%H%x00%s", f"{older}..{newer}"]).stdout
        rows = [line.split("\0", 1) for line in out.splitlines() if "\0" in line]
        return [(sha, subject) for sha, subject in rows]

    def checkout(self, sha: str, dest: Path) -> None:
        """A clean worktree of ``sha`` at ``dest`` (created, or reset and cleaned)."""
        with self.locked():
            if (dest / ".git").is_file():
                done = git(["checkout", "--quiet", "--force", "--detach", sha], cwd=dest,
                           check=False)
                if done.returncode == 0:
                    git(["clean", "-ffdxq"], cwd=dest)
                    return
            shutil.rmtree(dest, ignore_errors=True)
            # a run killed inside `worktree add` leaves it registered and locked: unlock it,
            # prune it, and force twice (git's way to override a missing, locked worktree)
            self._git(["worktree", "unlock", str(dest)], check=False)
            self._git(["worktree", "prune"])
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._git(["worktree", "add", "--quiet", "--force", "--force", "--detach",
                       str(dest), sha])


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
