"""``inv approve`` and the approval check of ``inv deploy`` / ``rollback`` / ``deploy-lockfile``.

``approve`` merges a ``promote/*`` or ``bump/*`` branch into the current branch
with ``git merge --no-ff -S``: an ``Approved-by: Name <email>`` trailer, signed
with the approver's git signing key (the configured ``user.signingkey``, or
``--signing-key PATH``: an SSH key file sets ``gpg.format=ssh`` for this merge
only). It refuses an approver who authored or committed any commit the merge
brings in (``HEAD..BRANCH``, not only the tip), and a merge that cannot be
signed is undone.

``require_approval`` is what a deploy of an ``approval_required`` environment
calls before it locks anything: a replayed lockfile must pass
``replay.require_replayable``, and the deploy definition must pass
``trust.gate`` (SPEC §6a).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .core.approvals import Approval
from .core.errors import ApprovalError, GitError, UsageError
from .history import DeployHistory
from .lockfile import LockedFile
from .manifests import Project
from .root import DeployRoot
from .signatures import parse_person as _parse
from .trust import gate

__all__ = ["Approval", "approve", "parse_person", "require_approval"]

BRANCHES = ("promote/", "bump/")
_SSH_KEY_STARTS = ("ssh-", "sk-ssh-", "ecdsa-", "sk-ecdsa-", "-----BEGIN OPENSSH PRIVATE KEY")


def require_approval(project: Project, *, replay: LockedFile | None = None,
                     carried: LockedFile | None = None,
                     say: Callable[[str], None] = lambda _: None) -> Approval:
    """Refuse (``ApprovalError``) unless ``project``'s environment may be deployed as it is.

    Returns the approval the deploy's lockfile records: the deploy definition's, or for a
    replay the approval its sources stand on (the replayed lockfile's, still verified), so a
    lockfile of a replay can itself be replayed later. ``carried`` (``deploy --only``) is
    checked as a replay, and the new lockfile records the deploy definition's approval.
    """
    from .replayable import require_replayable

    env = project.environment.name
    sources = None
    for locked in (replay, carried):
        if locked is not None:
            sources = require_replayable(project, locked)
            say(f"   approval: {locked.name} is committed and was healthy in {env}; its "
                f"sources are what {sources.commit[:7]} approved and need no new approval")
    approval = gate(project.root, env, project.components)
    say(f"   approval: {approval.describe()}")
    if replay is None or sources is None:
        return approval
    detail = (f"{sources.detail}; replayed from {replay.name}, its deploy definition "
              f"approved in {approval.commit[:7]} by {approval.approver}")
    return Approval(sources.commit, sources.kind, sources.approver, detail[:500])


def parse_person(text: str | None) -> tuple[str, str]:
    if text is None:
        raise UsageError('--by is required: who approves, as "Name <email>"')
    person = _parse(text)
    if person is None:
        raise UsageError(f"--by {text!r} is not 'Name <email>'")
    return person


def signing_config(key: str | None) -> list[str]:
    """``git -c`` options that sign with ``key``: an SSH key file, or an OpenPGP key id."""
    if not key:
        return []
    path = Path(key).expanduser()
    if path.is_file():
        try:
            start = path.read_text(errors="replace")[:64]
        except OSError as exc:
            raise UsageError(f"--signing-key {key}: cannot read it ({exc.strerror})") from None
        if key.endswith(".pub") or start.startswith(_SSH_KEY_STARTS):
            return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={path.resolve()}"]
    elif "/" in key or key.endswith(".pub"):
        raise UsageError(f"--signing-key {key}: no such file")
    return ["-c", f"user.signingkey={key}"]


def approve(root: DeployRoot, branch: str, by: str | None,
            signing_key: str | None = None) -> str:
    """Merge ``branch`` signed, with an ``Approved-by`` trailer; returns the merge SHA."""
    from .core.refnames import ref_problem

    name, email = parse_person(by)
    if (problem := ref_problem(branch)) or not branch.startswith(BRANCHES):
        raise UsageError(f"{branch!r} is not a promotion branch"
                         + (f": {problem}" if problem else " (promote/... or bump/...)"))
    config = signing_config(signing_key)
    h = DeployHistory.open(root)
    ref = f"refs/heads/{branch}"
    if h.git(["rev-parse", "--verify", "--quiet", ref], check=False).returncode != 0:
        raise UsageError(f"no branch {branch!r} in {h.top}")
    if h.git(["merge-base", "--is-ancestor", ref, "HEAD"], check=False).returncode == 0:
        # git would say "Already up to date" and record nothing: no approval to claim
        raise ApprovalError(f"{branch} is already merged into the current branch; "
                            "there is nothing left to approve")
    for line in h.out(["-c", "log.showSignature=false", "log",
                       "--format=%H%x00%ae%x00%ce", f"HEAD..{ref}"]).splitlines():
        sha, author, committer = line.split("\0")
        if email.lower() in (author.lower(), committer.lower()):
            raise ApprovalError(
                f"{email} wrote the promotion on {branch} (authored or committed {sha[:7]}); "
                "someone else must approve it")
    message = f"Merge branch '{branch}'\n\nApproved-by: {name} <{email}>\n"
    try:
        h.git([*config, "merge", "--no-ff", "--no-edit", "-S", "-m", message, ref],
              env={"GIT_EDITOR": "true"})
    except GitError as exc:
        conflicted = bool(h.git(["ls-files", "--unmerged"], check=False).stdout.strip())
        h.git(["merge", "--abort"], check=False)
        what = "merging" if conflicted else "signing"
        raise ApprovalError(f"{what} {branch} failed: {exc.message}",
                            hint="sign with your git signing key (user.signingkey, "
                                 "gpg.format) or name one: --signing-key PATH"
                            if what == "signing" else None) from None
    return h.out(["rev-parse", "HEAD"])


def signature_check(root: DeployRoot, commit: str) -> str | None:
    """Why ``commit`` would not pass as a signed approval merge today, or None."""
    from .core.errors import NotApproved
    from .signatures import verify_signed_merge
    from .trust import Verifier

    verifier = Verifier(DeployHistory.open(root), os.environ)
    try:
        verify_signed_merge(verifier.history, commit, verifier.approvers_for)
    except NotApproved as exc:
        return exc.reason
    return None
