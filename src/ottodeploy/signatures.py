"""Signed approval merges (SPEC §6a, proof 1), checked with git itself.

A commit is a signed approval merge when all of this holds:

1. It has exactly two parents and merges something: ``merge^1..merge^2`` is
   not empty.
2. Its header carries an SSH signature (``gpgsig``/``gpgsig-sha256`` starting
   ``-----BEGIN SSH SIGNATURE-----``). Only SSH signatures can be checked
   against an allowed-signers file; an OpenPGP signature is not accepted here.
3. Its message has exactly one ``Approved-by: Name <email>`` trailer.
4. ``git verify-commit`` succeeds with ``gpg.ssh.allowedSignersFile`` set to
   the approvers file it must be checked against (a temporary copy of the
   committed text; ``trust.Verifier.approvers_for`` chooses it), and git
   reports the signature good (``%G?`` is ``G``) for a principal (``%GS``)
   equal, ignoring case, to the trailer's email. ``gpg.ssh.program`` is pinned
   to ``ssh-keygen`` so a repository's own config cannot swap the verifier.
5. The signer is neither author nor committer (raw ``%ae``/``%ce``: no
   mailmap, which the repository itself could rewrite) of any commit in
   ``merge^1..merge^2``.
6. The merge's tree is exactly what merging its parents gives
   (``git merge-tree --write-tree``): a signed merge cannot smuggle in a change
   that neither side contains.

Any failure is ``NotApproved`` with the reason.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from .core.approvals import Approval
from .core.errors import NotApproved
from .history import DeployHistory

PERSON = re.compile(r"\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>\s@]+@[^<>\s@]+)>\s*")
_SSH_SIGNATURE = re.compile(r"^gpgsig(?:-sha256)? -----BEGIN SSH SIGNATURE-----$", re.MULTILINE)
_STATUS = {
    "B": "the signature is bad",
    "U": "its signing key is not listed for anyone",
    "X": "the signature has expired",
    "Y": "the signing key has expired",
    "R": "the signing key is revoked",
    "E": "the signature cannot be checked",
    "N": "it is not signed",
}
_PINNED = ["-c", "gpg.ssh.program=ssh-keygen", "-c", "log.showSignature=false"]

ApproversFor = Callable[[str], tuple[str, str]]


def parse_person(text: str) -> tuple[str, str] | None:
    match = PERSON.fullmatch(text or "")
    return (match["name"], match["email"]) if match else None


def _header(h: DeployHistory, commit: str) -> str:
    raw = h.git(["cat-file", "commit", commit]).stdout
    return raw.split("\n\n", 1)[0]


def verify_signed_merge(h: DeployHistory, commit: str, approvers_for: ApproversFor) -> Approval:
    parents = h.parents(commit)
    if len(parents) != 2:
        raise NotApproved("it is not a merge of one branch (an approval merges with --no-ff)")
    first, second = parents
    merged = h.out([*_PINNED, "log", "--format=%H%x00%ae%x00%ce", f"{first}..{second}"])
    if not merged:
        raise NotApproved("it merges nothing: its second parent is already in its first")
    if not _SSH_SIGNATURE.search(_header(h, commit)):
        raise NotApproved("it carries no SSH signature")
    trailers = [t for t in h.out(
        [*_PINNED, "log", "-1", "--format=%(trailers:key=Approved-by,valueonly,unfold)",
         commit]).splitlines() if t.strip()]
    if len(trailers) != 1:
        raise NotApproved("it has no Approved-by trailer" if not trailers
                          else f"it has {len(trailers)} Approved-by trailers")
    person = parse_person(trailers[0])
    if person is None:
        raise NotApproved(f"its Approved-by trailer {trailers[0]!r} is not 'Name <email>'")
    email = person[1]
    allowed, origin = approvers_for(commit)
    status, signer, key = _verify(h, commit, allowed)
    if status != "G":
        why = _STATUS.get(status, f"git reports signature status {status!r}")
        raise NotApproved(f"{why} (checked against {origin})")
    if signer.lower() != email.lower():
        raise NotApproved(f"it is signed by {signer}, but its Approved-by trailer names {email}")
    for line in merged.splitlines():
        sha, author, committer = line.split("\0")
        if email.lower() in (author.lower(), committer.lower()):
            role = "wrote" if author.lower() == email.lower() else "committed"
            raise NotApproved(f"the approver {email} {role} {sha[:7]}, which it merges; "
                              "someone else must approve it")
    result = h.git(["merge-tree", "--write-tree", first, second], check=False)
    tree = h.out(["rev-parse", f"{commit}^{{tree}}"])
    if result.returncode != 0 or result.stdout.split("\n", 1)[0].strip() != tree:
        raise NotApproved("its tree is not the clean merge of its parents (it changes more than "
                          "it merges)")
    return Approval(commit, "signed merge", trailers[0].strip(),
                    f"signed merge, key {key} listed for {signer} in {origin}")


def _verify(h: DeployHistory, commit: str, allowed: str) -> tuple[str, str, str]:
    """git's verdict on ``commit``'s signature against ``allowed``: (%G?, %GS, %GK)."""
    with tempfile.TemporaryDirectory(prefix="ottodeploy-approvers-") as tmp:
        signers = Path(tmp) / "allowed_signers"
        signers.write_text(allowed)
        config = [*_PINNED, "-c", f"gpg.ssh.allowedSignersFile={signers}"]
        verified = h.git([*config, "verify-commit", commit], check=False)
        out = h.git([*config, "log", "-1", "--format=%G?%x00%GS%x00%GK", commit]).stdout
    status, signer, key = [*out.strip("\n").split("\0"), "", "", ""][:3]
    if verified.returncode != 0 and status == "G":
        status = "E"
    return status, signer, key
