"""``inv approve BRANCH --by "Name <email>"``: merge a promotion with its approval recorded.

The merge itself is ``approval.approve``: ``--no-ff``, an ``Approved-by:``
trailer and the approver's signature, refused for anyone who authored or
committed a commit of the branch. The new merge is then verified the way a
deploy will verify it (``approval.signature_check``), so a key missing from
``manifests/approvers`` is said now, not at deploy time. Then everyone configured
for notifications is told which environment's promotion was approved, by whom.
"""

from __future__ import annotations

from ..approval import approve
from ..reporting import Reporter, note, warn
from ..root import DeployRoot
from .promote import BRANCH


def approve_branch(root: DeployRoot, branch: str, by: str | None, *, reporter: Reporter,
                   signing_key: str | None = None) -> str:
    from ..approval import signature_check
    from ..notify import notify

    sha = approve(root, branch, by, signing_key)
    note(reporter, f"approved {branch}: merged as {sha[:12]}, signed")
    if problem := signature_check(root, sha):
        warn(reporter, f"deploys will not accept this approval as it is: {problem}")
    named = BRANCH.fullmatch(branch)
    env = named["env"] if named else branch.removeprefix("promote/")
    notify(root, "promotion-approved", env=env, detail=f"{branch} approved by {by}")
    return sha
