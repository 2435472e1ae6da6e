"""The compatibility matrix (SPEC §3, DESIGN.md §4).

For every component C that the matrix constrains and the environment holds,
and every dependency D of C named there that the environment also holds, D's
version must satisfy C's range for D. Ranges are npm-style (``versions.Range``);
a dev or RC version counts as its release part. Every violation is collected,
each naming both components, their versions and the range.

A range is checked only when both of its components are in the environment
with a known version. ``unchecked`` lists the others, so a report can say what
it did not check: a component an environment leaves out (SPEC §3a), or one
pinned by sha when no repo was read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .models import CompatibilityFile
from .versions import Range


@dataclass(frozen=True)
class Violation:
    component: str
    component_version: str
    dependency: str
    dependency_version: str
    range: str

    def __str__(self) -> str:
        return (f"{self.component} {self.component_version} requires {self.dependency} "
                f"{self.range}, but {self.dependency} is {self.dependency_version}")


def violations(matrix: CompatibilityFile, versions: Mapping[str, str]) -> list[Violation]:
    found = []
    for comp, deps in matrix.compatibility.items():
        if comp not in versions:
            continue
        for dep, text in deps.items():
            if dep in versions and not Range.parse(text).satisfied_by(versions[dep]):
                found.append(Violation(comp, versions[comp], dep, versions[dep], text))
    return found


def unchecked(matrix: CompatibilityFile, present: Collection[str],
              versions: Mapping[str, str], env: str) -> list[str]:
    """Each range ``violations`` could not check, and why (``services requires sdk, ...``)."""
    out = []
    for comp, deps in matrix.compatibility.items():
        for dep in deps:
            missing = [n for n in (comp, dep) if n not in present]
            unknown = [n for n in (comp, dep) if n in present and n not in versions]
            if missing:
                verb = "is" if len(missing) == 1 else "are"
                out.append(f"{comp} requires {dep}, {' and '.join(missing)} {verb} not in {env}")
            elif unknown:
                verb = "has" if len(unknown) == 1 else "have"
                out.append(f"{comp} requires {dep}, {' and '.join(unknown)} {verb} no version "
                           "without reading its repo")
    return out
