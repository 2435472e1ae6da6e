"""Real git repositories for tests: a bare remote plus a work clone per repo.

Modelled on west's test helpers: ``GitRepo.create`` makes the pair, ``commit``
writes files and commits, ``tag`` makes lightweight or annotated tags, and
every change is pushed so the remote (reached through ``file://``) sees it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    full = {**os.environ, **GIT_ENV, **(env or {})}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=full, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout.strip()


@dataclass
class GitRepo:
    """``remote`` is the bare repo the tool reads; ``work`` is where tests make commits."""

    remote: Path
    work: Path

    @property
    def url(self) -> str:
        return f"file://{self.remote}"

    @classmethod
    def create(cls, base: Path, name: str, *, branch: str = "main") -> GitRepo:
        remote = base / "remotes" / f"{name}.git"
        work = base / "work" / name
        remote.mkdir(parents=True)
        work.mkdir(parents=True)
        git(remote, "init", "--quiet", "--bare", f"--initial-branch={branch}")
        git(work, "init", "--quiet", f"--initial-branch={branch}")
        git(work, "remote", "add", "origin", str(remote))
        return cls(remote, work)

    def relocate(self, old: Path, new: Path) -> GitRepo:
        """The same repo after its base folder was copied from ``old`` to ``new``."""
        remote = new / self.remote.relative_to(old)
        work = new / self.work.relative_to(old)
        git(work, "remote", "set-url", "origin", str(remote))
        return GitRepo(remote, work)

    def commit(
        self,
        message: str,
        files: Mapping[str, str] | None = None,
        *,
        branch: str | None = None,
        date: str | None = None,
    ) -> str:
        if branch is not None:
            self.checkout(branch)
        for rel, text in (files or {}).items():
            path = self.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if rel.endswith((".sh", ".py")):
                path.chmod(0o755)
        git(self.work, "add", "-A")
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else None
        git(self.work, "commit", "--quiet", "--allow-empty", "-m", message, env=env)
        self.push()
        return self.head()

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")

    def current_branch(self) -> str:
        return git(self.work, "rev-parse", "--abbrev-ref", "HEAD")

    def checkout(self, branch: str, *, create_from: str | None = None) -> None:
        if create_from is not None:
            git(self.work, "checkout", "--quiet", "-b", branch, create_from)
        else:
            git(self.work, "checkout", "--quiet", branch)

    def branch(self, name: str, start: str = "HEAD") -> None:
        git(self.work, "branch", name, start)
        git(self.work, "push", "--quiet", "origin", name)

    def tag(self, name: str, *, annotated: bool = False, target: str = "HEAD") -> None:
        if annotated:
            git(self.work, "tag", "-a", name, "-m", f"release {name}", target)
        else:
            git(self.work, "tag", name, target)
        git(self.work, "push", "--quiet", "origin", f"refs/tags/{name}")

    def tags(self) -> list[str]:
        return git(self.work, "tag", "--list").split()

    def delete_remote_branch(self, name: str) -> None:
        git(self.work, "push", "--quiet", "origin", f":refs/heads/{name}")

    def push(self) -> None:
        git(self.work, "push", "--quiet", "origin", "HEAD")

    def rev(self, rev: str) -> str:
        return git(self.work, "rev-parse", rev)
