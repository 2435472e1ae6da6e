"""``inv approve BRANCH --by "Name <email>"``: merge a promotion with its approval recorded.

The merge itself is ``approval.approve`` (``--no-ff`` with an ``Approved-by:``
trailer, refused for the promotion's own author). Then everyone configured
for notifications is told which environment's promotion was approved, by whom.
"""

from __future__ import annotations

from ..approval import approve
from ..reporting import Reporter, note
from ..root import DeployRoot
from .promote import BRANCH


def approve_branch(root: DeployRoot, branch: str, by: str, *, reporter: Reporter) -> str:
    from ..notify import notify

    sha = approve(root, branch, by)
    note(reporter, f"approved {branch}: merged as {sha[:12]}")
    named = BRANCH.fullmatch(branch)
    env = named["env"] if named else branch.removeprefix("promote/")
    notify(root, "promotion-approved", env=env, detail=f"{branch} approved by {by}")
    return sha
