"""A verified approval, as a value (SPEC §6a): which commit, how it was proven, by whom."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Approval:
    """A verified approval: the commit, how it was proven, who approved, in words."""

    commit: str
    kind: str          # "signed merge" | "pull request"
    approver: str      # "Name <email>" of a signed merge, "@login" on GitHub
    detail: str

    def describe(self) -> str:
        return f"{self.commit[:7]} approved by {self.approver} ({self.detail})"
