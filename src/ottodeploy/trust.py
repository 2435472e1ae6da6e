"""The approval gate of ``approval_required`` environments (SPEC §6a).

What an approval covers is the *deploy definition*: everything a deploy reads
from the deploy repo — all of ``manifests/``, ``deploy/``, ``scripts/`` and
every file a component names in ``deploy.files``. The gate, in order:

1. The deploy definition has no uncommitted change: ``git status`` under those
   paths, untracked and ignored files included, must be empty.
2. The newest first-parent commit that changed any of it is found (a merge
   counts when it changed them relative to the branch it was merged into).
3. That commit must be a verified approval, by either proof:
   a. a signed approval merge (``signatures``): its SSH signature verifies
      against ``manifests/approvers``, the signer is the ``Approved-by:``
      trailer's email and wrote or committed nothing in the merged range;
   b. a reviewed GitHub pull request (``pullreviews``), asked of the API.
   A commit message's text is never evidence of anything.

Which ``manifests/approvers`` a merge is checked against: the file as it was
before the merge (at its first parent). That version is trusted when it is
the file's first version (trust on first use) or when the change that made it
is itself a verified approval, checked the same way, back to the first
version. A merge that adds the file where it never was is checked against the
file it adds (trust on first use). ``approvers_status`` says which case holds,
for ``inv check``.

Refusals are ``ApprovalError`` (exit 1) naming the paths or the commit and
every reason each proof gave.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .core.approvals import Approval
from .core.errors import ApprovalError, NotApproved
from .core.models import ComponentsFile
from .history import DeployHistory
from .root import DeployRoot

DEFINITION_DIRS = ("manifests", "deploy", "scripts")
APPROVERS = "manifests/approvers"
_SHOWN = 10


def how_to_approve(env: str) -> str:
    return (f"promote into {env} (inv promote FROM {env}) and approve the promotion branch with "
            'a signed merge (inv approve promote/... --by "Name <email>"), or merge its '
            "reviewed pull request on GitHub")


def definition_paths(components: ComponentsFile) -> list[str]:
    """The deploy definition's paths, relative to the deploy root."""
    files = {f for c in components.components.values() if c.deploy for f in c.deploy.files}
    return [*DEFINITION_DIRS, *sorted(files - set(DEFINITION_DIRS))]


@dataclass
class Verifier:
    """Verifies commits of one deploy repo; each commit is judged once per verifier."""

    history: DeployHistory
    environ: Mapping[str, str]
    _verdicts: dict[str, Approval | NotApproved] = field(default_factory=dict)

    def verify(self, commit: str) -> Approval:
        """``commit`` as a verified approval, or ``NotApproved`` with every proof's reason."""
        if commit not in self._verdicts:
            self._verdicts[commit] = self._judge(commit)
        verdict = self._verdicts[commit]
        if isinstance(verdict, NotApproved):
            raise verdict
        return verdict

    def _judge(self, commit: str) -> Approval | NotApproved:
        from .pullreviews import verify_pull_request
        from .signatures import verify_signed_merge

        reasons = []
        try:
            return verify_signed_merge(self.history, commit, self.approvers_for)
        except NotApproved as exc:
            reasons.append(f"not a signed approval merge: {exc.reason}")
        try:
            return verify_pull_request(commit, self.environ)
        except NotApproved as exc:
            reasons.append(f"not a reviewed pull request: {exc.reason}")
        return NotApproved("; ".join(reasons))

    def approvers_for(self, merge: str) -> tuple[str, str]:
        """The allowed-signers text ``merge`` is checked against, and where it comes from."""
        h = self.history
        first = h.parents(merge)[0]
        before = h.blob(first, APPROVERS)
        if before is None:
            if h.changes([APPROVERS], rev=first, limit=1):
                raise NotApproved(f"{APPROVERS} was removed before this merge; it can only be "
                                  "brought back by an approval checked against a version of it")
            own = h.blob(merge, APPROVERS)
            if own is None:
                raise NotApproved(f"there is no {APPROVERS} to check signatures against")
            return own, f"{APPROVERS} added by this merge (trusted on first use)"
        changed = h.changes([APPROVERS], rev=first, limit=1)[0]
        if self.first_version(changed):
            return before, f"{APPROVERS} as added in {changed[:7]} (trusted on first use)"
        try:
            approval = self.verify(changed)
        except NotApproved as exc:
            raise NotApproved(f"{APPROVERS} as of {changed[:7]} is not trusted: that change is "
                              f"not a verified approval ({exc.reason})") from None
        return before, f"{APPROVERS} as of {approval.commit[:7]}, approved by {approval.approver}"

    def first_version(self, commit: str) -> bool:
        """True when ``commit`` is the only first-parent change of the approvers file up to it."""
        return self.history.changes([APPROVERS], rev=commit, limit=2) == [commit]


def gate(root: DeployRoot, env: str, components: ComponentsFile, *,
         environ: Mapping[str, str] | None = None) -> Approval:
    """The deploy definition is committed and its newest change is a verified approval."""
    h = DeployHistory.open(root)
    paths = definition_paths(components)
    how = how_to_approve(env)
    dirty = h.dirty(paths)
    if dirty:
        shown = ", ".join(dirty[:_SHOWN]) + (f" and {len(dirty) - _SHOWN} more"
                                             if len(dirty) > _SHOWN else "")
        verb = "has" if len(dirty) == 1 else "have"
        raise ApprovalError(f"{env} requires approval, but {shown} {verb} uncommitted changes "
                            "(the deploy definition must be committed and approved)", hint=how)
    newest = h.changes(paths, limit=1) if h.head() else []
    if not newest:
        raise ApprovalError(f"{env} requires approval, but its deploy definition "
                            f"({', '.join(paths)}) was never committed", hint=how)
    commit = newest[0]
    try:
        return Verifier(h, os.environ if environ is None else environ).verify(commit)
    except NotApproved as exc:
        subject = h.out(["log", "-1", "--format=%s", commit])
        raise ApprovalError(
            f"{env} requires approval, but the last change to its deploy definition "
            f"({commit[:7]} {subject!r}) is not a verified approval: {exc.reason}",
            hint=how) from None


@dataclass(frozen=True)
class ApproversStatus:
    ok: bool
    text: str          # one line, starting with "manifests/approvers: "


def approvers_status(root: DeployRoot, *,
                     environ: Mapping[str, str] | None = None) -> ApproversStatus:
    """Which case of trust holds for the approvers file at HEAD (for ``inv check``)."""
    h = DeployHistory.open(root)
    label = f"{APPROVERS}:"
    if h.dirty([APPROVERS]):
        return ApproversStatus(False, f"{label} has uncommitted changes")
    if h.head() is None or h.blob("HEAD", APPROVERS) is None:
        return ApproversStatus(False, f"{label} missing, so no signed approval can be verified")
    changes = h.changes([APPROVERS])
    first, newest = changes[-1], changes[0]
    verifier = Verifier(h, os.environ if environ is None else environ)
    if verifier.first_version(newest):
        return ApproversStatus(True, f"{label} trusted on first use (added in {first[:7]})")
    try:
        approval = verifier.verify(newest)
    except NotApproved as exc:
        return ApproversStatus(False, f"{label} changed in {newest[:7]} without a verified "
                                      f"approval: {exc.reason}")
    return ApproversStatus(True, f"{label} changed in {newest[:7]}, approved by "
                                 f"{approval.approver}; first version trusted on first use "
                                 f"(added in {first[:7]})")
