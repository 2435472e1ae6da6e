"""The deploy repo's own git history, as the approval checks read it (SPEC §6a).

The deploy root may be a folder inside a larger repository, so paths are kept
relative to the root and turned into paths relative to the repository's top
for git. Every call goes through ``git.git`` (argument lists, prompts off)
with ``GIT_NO_REPLACE_OBJECTS`` set, so ``git replace`` cannot make one commit
pass for another.

- ``changes(paths)``: the first-parent commits (newest first) whose tree
  differs from their first parent's in ``paths``; a merge counts when it
  changed them relative to the branch it was merged into.
- ``dirty(paths)``: what ``git status`` reports under ``paths``, untracked and
  ignored files included.
- ``blob(rev, path)``: a file's text at a commit (None when it has none);
  ``hash_file`` and ``blob_id`` compare bytes on disk with a committed blob.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .core.errors import ApprovalError, GitError
from .git import git
from .process import Completed
from .root import DeployRoot

_ENV = {"GIT_NO_REPLACE_OBJECTS": "1"}


@dataclass(frozen=True)
class DeployHistory:
    root: DeployRoot
    top: Path
    prefix: str            # the deploy root relative to ``top``: "" or "sub/dir/"

    @classmethod
    def open(cls, root: DeployRoot) -> DeployHistory:
        try:
            done = git(["rev-parse", "--show-toplevel"], cwd=root.path, env=_ENV)
        except GitError:
            raise ApprovalError(
                f"{root.path} is not a git repository, so approvals cannot be checked",
                hint="the deploy repo must be a git checkout with history") from None
        top = Path(done.stdout.strip()).resolve()
        rel = root.path.resolve().relative_to(top).as_posix()
        return cls(root, top, "" if rel == "." else f"{rel}/")

    def git(self, args: Sequence[str], *, check: bool = True,
            env: dict[str, str] | None = None) -> Completed:
        return git(list(args), cwd=self.top, check=check, env={**_ENV, **(env or {})})

    def out(self, args: Sequence[str]) -> str:
        return self.git(args).stdout.strip()

    def spec(self, path: str) -> str:
        """A root-relative path as a literal pathspec for git (no globs, no magic)."""
        return f":(literal){self.prefix}{path}"

    def rel(self, path: Path) -> str:
        """A path inside the deploy root, relative to the root."""
        return path.resolve().relative_to(self.root.path.resolve()).as_posix()

    def head(self) -> str | None:
        done = self.git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False)
        return done.stdout.strip() or None

    def dirty(self, paths: Sequence[str]) -> list[str]:
        """Root-relative paths under ``paths`` that differ from HEAD (untracked, ignored too)."""
        done = self.git(["status", "--porcelain=v1", "-z", "--untracked-files=all",
                         "--ignored=matching", "--no-renames", "--",
                         *(self.spec(p) for p in paths)])
        out = []
        for entry in done.stdout.split("\0"):
            if len(entry) > 3:
                name = entry[3:]
                out.append(name.removeprefix(self.prefix))
        return sorted(set(out))

    def changes(self, paths: Sequence[str], rev: str = "HEAD", limit: int | None = None) \
            -> list[str]:
        """First-parent commits up to ``rev`` that changed ``paths``, newest first."""
        args = ["log", "--first-parent", "--format=%H", *([f"-n{limit}"] if limit else []),
                rev, "--", *(self.spec(p) for p in paths)]
        return self.out(args).split()

    def parents(self, commit: str) -> list[str]:
        return self.out(["rev-list", "--parents", "-n1", commit]).split()[1:]

    def blob(self, rev: str, path: str) -> str | None:
        """The text of root-relative ``path`` at ``rev``, or None when it is not a file there."""
        spec = f"{rev}:{self.prefix}{path}"
        if self.git(["cat-file", "-t", spec], check=False).stdout.strip() != "blob":
            return None
        return self.git(["cat-file", "blob", spec]).stdout

    def blob_id(self, rev: str, path: str) -> str | None:
        done = self.git(["rev-parse", "--verify", "--quiet", f"{rev}:{self.prefix}{path}"],
                        check=False)
        return done.stdout.strip() or None

    def hash_file(self, path: Path) -> str:
        """The blob id of a file's bytes as they are on disk (no filters applied)."""
        return self.out(["hash-object", "--no-filters", "--", str(path)])

    def mode(self, rev: str, path: str) -> str | None:
        """The tree entry mode of ``path`` at ``rev`` (100644, 100755, 120000 ...)."""
        out = self.out(["ls-tree", "-z", rev, "--", f"{self.prefix}{path}"])
        return out.split(" ", 1)[0] if out else None

