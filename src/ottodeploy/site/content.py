"""The status site as plain values: what each page shows, gathered by ``flows.site``.

Nothing here reads a file or runs a process; ``render`` turns these values into
HTML with nothing but the templates, so the same values always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..core.lockmodels import Lockfile, Verification
from ..core.overview import ArtifactView, Column, CompatCheck, ComponentChange, Health

TaskState = Literal["rebuild", "up to date", "unknown"]


@dataclass(frozen=True)
class LockEntry:
    """One lockfile on its environment's page."""

    name: str                                   # file name, also its copy under lockfiles/
    lock: Lockfile
    health: Health
    artifacts: list[ArtifactView]
    changes: list[ComponentChange] | None       # None: the environment's first lockfile
    approved_at: str = ""                       # date of the approval commit, when known

    @property
    def anchor(self) -> str:
        return self.name.removesuffix(".yaml")


@dataclass(frozen=True)
class EnvironmentPage:
    environment: str
    mode: str
    approval_required: bool
    description: str
    entries: list[LockEntry]                    # newest first
    verifications: list[tuple[LockEntry, Verification]]  # newest first

    @property
    def file(self) -> str:
        return f"env-{self.environment}.html"


@dataclass(frozen=True)
class PlannedNode:
    task: str
    component: str
    artifact: str
    state: TaskState
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class CascadePage:
    environment: str
    basis: str                                  # how the plan was made, said on the page
    nodes: list[PlannedNode]
    svg: str | None                             # inline SVG from dot, None without Graphviz

    @property
    def file(self) -> str:
        return f"cascade-{self.environment}.html"

    @property
    def rebuilds(self) -> int:
        return sum(1 for n in self.nodes if n.state == "rebuild")


@dataclass(frozen=True)
class CompatibilityPage:
    ranges: list[tuple[str, str, str]]          # (component, dependency, range)
    checks: dict[str, list[CompatCheck] | None]  # per environment; None: nothing deployed


@dataclass(frozen=True)
class SiteContent:
    components: list[str]                       # rows of the overview, cascade order
    columns: list[Column]                       # promotion order
    environments: list[EnvironmentPage]
    cascades: list[CascadePage]
    compatibility: CompatibilityPage
    lockfiles: dict[str, Path] = field(default_factory=dict)  # file name -> where it is
    skipped: list[str] = field(default_factory=list)          # unreadable lockfiles, why
    approved_at: dict[str, str] = field(default_factory=dict)  # env -> date of its approval
