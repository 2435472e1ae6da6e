"""The pin change that ``promote`` and ``bump`` share: a reviewed edit of one environment.

1. The target environment's manifest as committed at HEAD of the deploy
   repo (not the working tree: a promotion is a commit, and uncommitted edits
   are not part of it). No git repository, or the file not committed: refused.
2. New pins are written into that text in place (``editing.set_pins``): the
   file's own settings, comments and key order stay.
3. The result is validated like any manifest (shape, then the checks against
   ``components.yaml``), and the compatibility matrix is checked with the
   versions the new pins stand for.
4. It is committed on a new branch with git plumbing
   (``git.commit_on_new_branch``), so the current branch, index and working
   tree stay exactly as they were; the diff against HEAD is kept for the user.
5. With ``GITHUB_TOKEN`` the branch is pushed and a pull request opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core.compat import Violation, violations
from ..core.errors import GitError, ManifestError, OttodeployError
from ..core.models import ComponentsFile, Environment
from ..editing import PinKind, set_pins
from ..git import commit_on_new_branch, current_branch, git, show_file, toplevel
from ..manifests import check_environment, load_compatibility, validate
from ..root import DeployRoot
from ..yamlfile import parse


@dataclass(frozen=True)
class Committed:
    """One environment's manifest as committed at HEAD."""

    top: Path            # the deploy repo's top level
    path: str            # the manifest, relative to ``top``
    text: str
    environment: Environment


def committed_manifest(root: DeployRoot, env: str, error: type[OttodeployError],
                       what: str, changes: str) -> Committed:
    """Step 1: ``env``'s manifest at HEAD, else ``error``.

    ``what`` completes "cannot be ..." ("promoted into"), ``changes`` names the changes
    ("promotions") in "... are commits".
    """
    top = toplevel(root.path)
    if top is None:
        raise error(f"{root.path} is not a git repository; {changes} are commits")
    path = str(root.env_file(env).resolve().relative_to(top.resolve()))
    try:
        text = show_file(top, "HEAD", path)
    except GitError:
        raise error(f"{path} is not committed at HEAD, so it cannot be {what}",
                    hint=f"commit {path} first") from None
    return Committed(top, path, text, validate(Environment, parse(text, path)))


def repin(committed: Committed, pins: Mapping[str, tuple[PinKind, str]],
          components: ComponentsFile, env: str, purpose: str) -> tuple[str, Environment]:
    """Steps 2 and 3 (shape and semantics): the new text and what it says."""
    new_text = set_pins(committed.text, pins)
    new_doc = parse(new_text, committed.path)
    new_env = validate(Environment, new_doc)
    problems = check_environment(new_env, new_doc, components, expected_name=env)
    if problems:
        raise ManifestError(committed.path, problems,
                            hint=f"the {purpose} manifest would not be valid")
    return new_text, new_env


def compatibility(root: DeployRoot, components: ComponentsFile,
                  versions: Mapping[str, str]) -> list[Violation]:
    """Step 3 (the matrix): every violation of ``versions``."""
    return violations(load_compatibility(root, components), versions)


def free_branch(top: Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... when it is taken."""
    candidate, n = name, 1
    while git(["rev-parse", "--verify", "--quiet", f"refs/heads/{candidate}"], cwd=top,
              check=False).returncode == 0:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def commit(committed: Committed, branch: str, new_text: str, message: str) -> tuple[str, str]:
    """Step 4: the commit on the new ``branch`` and its diff against HEAD."""
    sha = commit_on_new_branch(committed.top, branch, {committed.path: new_text}, message)
    diff = git(["diff", "--no-color", "--no-ext-diff", "HEAD", sha, "--", committed.path],
               cwd=committed.top).stdout
    return sha, diff


def publish(top: Path, branch: str, title: str, body: str) -> str | None:
    """Step 5: push ``branch`` and open its pull request when GitHub is configured.

    Returns the pull request's address ("already open" when GitHub said so), or None
    when there is no token.
    """
    from ..github import configured, open_pull_request

    environ = dict(os.environ)
    if not configured(environ):
        return None
    base = current_branch(top) or "main"
    git(["push", "--quiet", "origin", f"refs/heads/{branch}:refs/heads/{branch}"], cwd=top)
    pr = open_pull_request(environ, head=branch, base=base, title=title, body=body)
    return pr.url or "already open"
