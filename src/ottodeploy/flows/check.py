"""``inv check ENV [--offline]``: is this environment deployable as written?

In order, stopping at the first stage that fails: every file of the deploy root
parses and validates (components, compatibility, hosts, the environment);
then, unless ``--offline``, every ref, version and sha exists in its repo; then
the compatibility matrix holds for the environment's versions. Offline, a
version environment is checked with its declared versions; a branch
environment's versions come from its repos, so its matrix check is skipped and
reported as such. Ranges that name a component the environment leaves out (or
one without a known version) are not checked, and the report lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.compat import Violation, unchecked, violations
from ..core.errors import CompatibilityError
from ..core.sources import Resolution
from ..environment import open_environment
from ..manifests import load_hosts
from ..root import DeployRoot


@dataclass
class CheckReport:
    environment: str
    stages: dict[str, str] = field(default_factory=dict)   # stage -> ok | skipped | failed
    details: dict[str, str] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    resolution: Resolution | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "ok": not self.violations,
            "stages": self.stages,
            "details": self.details,
            "violations": [str(v) for v in self.violations],
            "not_checked": self.not_checked,
        }


def check(root: DeployRoot, env: str, *, offline: bool = False) -> CheckReport:
    """Check ``env``; raises on bad input, returns the report (with any violations)."""
    opened = open_environment(root, env, resolve=False, validate=True, keep_cascade=False)
    matrix = opened.compatibility
    load_hosts(root)
    report = CheckReport(opened.name)
    report.stages["files"] = "ok"
    environment = opened.project.environment
    versions: dict[str, str] | None = None
    if offline:
        report.stages["refs"] = "skipped"
        report.details["refs"] = "--offline: no repo was contacted"
        if environment.mode == "version":
            from ..core.versions import normalize_version

            versions = {n: normalize_version(s.version) for n, s in environment.sources.items()
                        if s.version is not None}
        else:
            report.stages["compatibility"] = "skipped"
            report.details["compatibility"] = "branch environment: versions come from the repos"
    else:
        from ..resolve import resolve

        report.resolution = resolve(opened.project, remember=False)  # check writes nothing
        report.stages["refs"] = "ok"
        report.details["refs"] = f"{len(report.resolution.sources)} sources resolved"
        versions = report.resolution.versions()
    if versions is not None:
        report.violations = violations(matrix, versions)
        report.stages["compatibility"] = "failed" if report.violations else "ok"
        count = sum(1 for c, deps in matrix.compatibility.items() if c in versions
                    for d in deps if d in versions)
        report.not_checked = unchecked(matrix, environment.sources, versions, env)
        report.details["compatibility"] = f"{count} constraints checked" + (
            f", {len(report.not_checked)} not checked" if report.not_checked else "")
    return report


def raise_for(report: CheckReport) -> None:
    if report.violations:
        raise CompatibilityError([str(v) for v in report.violations])
