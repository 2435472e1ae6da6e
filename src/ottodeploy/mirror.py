"""Mirrors: a bare, blobless copy of each repo under the cache, and worktrees of it.

History is kept in a bare mirror per repo under ``.ottodeploy/cache/mirrors``,
cloned once with ``--filter=blob:none`` (history without file contents;
transports that ignore the filter give a full clone) and fetched incrementally
afterwards. Checkouts are worktrees of that mirror, so a recipe gets a real
git tree (tags and history included, as sbt-dynver expects) at exactly one
SHA. A file lock per mirror serialises fetches and worktree changes across
threads and processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import git as door
from .core.errors import GitError, ResolveError, UsageError
from .process import Completed

FETCH_TIMEOUT = 1800.0


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
        return door.git(["--git-dir", str(self.path), *args], **kw)  # type: ignore[arg-type]

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
                door.git(["clone", "--quiet", "--bare", "--filter=blob:none", self.url, str(tmp)],
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
                done = door.git(["checkout", "--quiet", "--force", "--detach", sha], cwd=dest,
                           check=False)
                if done.returncode == 0:
                    door.git(["clean", "-ffdxq"], cwd=dest)
                    return
            shutil.rmtree(dest, ignore_errors=True)
            # a run killed inside `worktree add` leaves it registered and locked: unlock it,
            # prune it, and force twice (git's way to override a missing, locked worktree)
            self._git(["worktree", "unlock", str(dest)], check=False)
            self._git(["worktree", "prune"])
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._git(["worktree", "add", "--quiet", "--force", "--force", "--detach",
                       str(dest), sha])


def open_repo(repo: str, cache: Path) -> door.Repo:
    """A local path as it is, any other address through a mirror under ``cache``."""
    door.refuse_option(repo, "REPO")
    path = Path(repo).expanduser()
    if path.is_dir():
        return door.local_repo(path)
    url = door.repo_url(repo, Path.cwd())
    if not door.ADDRESS.match(url):
        raise UsageError(f"{repo!r} is neither a directory nor a repository address",
                         hint="give a path, a URL (https://, file://, ssh://) or owner/name")
    mirror = Mirror(cache, url)
    mirror.fetch()
    return door.Repo(url, mirror.path, bare=True)
