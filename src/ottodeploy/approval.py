"""Approval gates for environments with ``approval_required`` (SPEC §6).

``approve`` merges a ``promote/*`` branch into the current branch with
``--no-ff`` and an ``Approved-by: Name <email>`` trailer, refusing an approver
whose email is the promotion commit's author's (case-insensitive).

``require_approval`` walks the current branch's first-parent history for the
newest commit that changed the environment's manifest. That commit must be an
approval merge (a merge whose second parent came from ``promote/*`` and whose
message carries the trailer) or GitHub's merge commit of a pull request from a
``promote/*`` branch; a manifest with uncommitted changes, or last changed by
anything else, is refused with how to approve. Replaying a lockfile that was
healthy in the same environment needs no new approval.

Locally the trailer is an audit record, not authentication; on GitHub the pull
request review and the workflow's protected environment enforce it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .core.errors import ApprovalError, GitError, UsageError
from .git import git, toplevel
from .lockfile import LockedFile
from .root import DeployRoot

_PERSON = re.compile(r"\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>\s@]+@[^<>\s@]+)>\s*")
_GITHUB_MERGE = re.compile(r"Merge pull request #\d+ from [^\s/]+/promote/\S+")
_APPROVAL_MERGE = re.compile(r"Merge branch '(promote/[^']+)'")


@dataclass(frozen=True)
class Approval:
    commit: str
    kind: str            # "approval merge" | "pull request merge" | "replay"
    approved_by: str | None


def _toplevel(root: DeployRoot) -> Path:
    top = toplevel(root.path)
    if top is None:
        raise ApprovalError(f"{root.path} is not a git repository, so approvals cannot be checked",
                            hint="the deploy repo must be a git checkout with history")
    return top


def manifest_path(root: DeployRoot, env: str) -> str:
    top = _toplevel(root)
    return str(root.env_file(env).resolve().relative_to(top.resolve()))


def require_approval(root: DeployRoot, env: str, *, replay: LockedFile | None = None,
                     say: Callable[[str], None] = lambda _: None) -> Approval:
    if replay is not None and replay.lock.environment == env and replay.lock.status == "healthy":
        say(f"   approval: {replay.name} was healthy in {env}; no new approval needed")
        return Approval("", "replay", None)
    top = _toplevel(root)
    path = manifest_path(root, env)
    how = (f"promote into {env} (inv promote FROM {env}) and approve the promotion branch "
           f'(inv approve promote/... --by "Name <email>"), or merge its pull request')
    dirty = git(["status", "--porcelain", "--", path], cwd=top).stdout.strip()
    if dirty:
        raise ApprovalError(f"{env} requires approval, but {path} has uncommitted changes",
                            hint=how)
    commit = git(["log", "--first-parent", "-n1", "--format=%H", "--", path], cwd=top)
    sha = commit.stdout.strip()
    if not sha:
        raise ApprovalError(f"{env} requires approval, but {path} was never committed", hint=how)
    parents = git(["rev-list", "--parents", "-n1", sha], cwd=top).stdout.split()[1:]
    body = git(["log", "-1", "--format=%B", sha], cwd=top).stdout
    subject = body.splitlines()[0] if body else ""
    if len(parents) >= 2:
        trailer = git(["log", "-1", "--format=%(trailers:key=Approved-by,valueonly)", sha],
                      cwd=top).stdout.strip()
        if _APPROVAL_MERGE.match(subject) and trailer:
            say(f"   approval: {sha[:7]} approved by {trailer.splitlines()[0]}")
            return Approval(sha, "approval merge", trailer.splitlines()[0])
        if _GITHUB_MERGE.match(subject):
            say(f"   approval: {sha[:7]} is the merge of a reviewed promotion pull request")
            return Approval(sha, "pull request merge", None)
    raise ApprovalError(
        f"{env} requires approval, but the last change to {path} ({sha[:7]} {subject!r}) "
        "is not an approved promotion", hint=how)


def parse_person(text: str) -> tuple[str, str]:
    match = _PERSON.fullmatch(text or "")
    if not match:
        raise UsageError(f"--by {text!r} is not 'Name <email>'")
    return match["name"], match["email"]


def approve(root: DeployRoot, branch: str, by: str) -> str:
    """Merge the promotion ``branch`` with an ``Approved-by`` trailer; returns the merge SHA."""
    from .core.refnames import ref_problem

    name, email = parse_person(by)
    if (problem := ref_problem(branch)) or not branch.startswith("promote/"):
        raise UsageError(f"{branch!r} is not a promotion branch"
                         + (f": {problem}" if problem else " (promote/...)"))
    top = _toplevel(root)
    if git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=top,
           check=False).returncode != 0:
        raise UsageError(f"no branch {branch!r} in {top}")
    if git(["merge-base", "--is-ancestor", f"refs/heads/{branch}", "HEAD"], cwd=top,
           check=False).returncode == 0:
        # git would say "Already up to date" and record nothing: no approval to claim
        raise ApprovalError(f"{branch} is already merged into the current branch; "
                            "there is nothing left to approve")
    author = git(["log", "-1", "--format=%ae", f"refs/heads/{branch}"], cwd=top).stdout.strip()
    if author.lower() == email.lower():
        raise ApprovalError(
            f"{email} wrote the promotion on {branch}; someone else must approve it")
    message = f"Merge branch '{branch}'\n\nApproved-by: {name} <{email}>\n"
    try:
        git(["merge", "--no-ff", "--no-edit", "-m", message, f"refs/heads/{branch}"], cwd=top)
    except GitError as exc:
        git(["merge", "--abort"], cwd=top, check=False)
        raise ApprovalError(f"merging {branch} failed: {exc.message}") from None
    return git(["rev-parse", "HEAD"], cwd=top).stdout.strip()
