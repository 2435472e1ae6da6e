"""Which tasks a build would run, and why, without building anything.

Tasks are visited in topological order. A task runs (its recipe) when it has no record
in this environment, when its build key differs from its record's (the
reasons come from comparing the inputs that made each key: a new SHA, a new
version, a changed recipe or ``build_with``, an upstream task whose key
changed), when its outputs are gone, or when its image only needs the new
readable tag. An upstream task that reruns with the same key (its outputs were
deleted) does not make anything below it rerun. A task that would run but whose key
the store already holds runs no recipe: it is reused, and the plan says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .keys import TaskSpec
from .record import Record, needs_retag


@dataclass(frozen=True)
class PlannedTask:
    task: str
    component: str
    run: bool
    reasons: list[str] = field(default_factory=list)
    key: str = ""
    sha: str = ""
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "component": self.component, "run": self.run,
                "reasons": self.reasons, "key": self.key, "sha": self.sha,
                "version": self.version}


@dataclass(frozen=True)
class Offline:
    """The stored resolution a plan was made from, instead of reading the repos."""

    resolved_at: str      # UTC, ISO 8601
    age_seconds: int

    def to_json(self) -> dict[str, Any]:
        return {"offline": True, "resolved_at": self.resolved_at,
                "age_seconds": self.age_seconds}


@dataclass(frozen=True)
class Plan:
    environment: str
    tasks: list[PlannedTask]
    offline: Offline | None = None

    @property
    def to_run(self) -> list[str]:
        return [t.task for t in self.tasks if t.run]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"environment": self.environment,
                               "tasks": [t.to_json() for t in self.tasks]}
        if self.offline is not None:
            out["resolution"] = self.offline.to_json()
        return out


def plan(env: str, specs: Mapping[str, TaskSpec], records: Mapping[str, Record],
         missing: Mapping[str, Sequence[str]],
         stored: Mapping[str, str] | None = None) -> Plan:
    """What a build of ``specs`` would run given the last ``records`` of the environment,
    the recorded artifacts now ``missing`` (task -> what), and what the store already
    holds for a task's key (``stored``: task -> digest; such a task runs no recipe)."""
    rekeyed: set[str] = set()   # tasks that run because their key changed
    out = []
    for spec in specs.values():
        record = records.get(spec.task)
        reasons = reasons_for(env, spec, record, rekeyed, missing.get(spec.task, ()))
        if record is None or record.key != spec.key:
            rekeyed.add(spec.task)
        digest = (stored or {}).get(spec.task)
        if reasons and digest is not None and not spec.released:
            reasons = [f"reused from the store ({digest[:19]}): {'; '.join(reasons)}"]
            out.append(PlannedTask(spec.task, spec.component, False, reasons, spec.key,
                                   spec.sha, spec.version))
            continue
        out.append(PlannedTask(spec.task, spec.component, bool(reasons), reasons, spec.key,
                               spec.sha, spec.version))
    return Plan(env, out)


def reasons_for(env: str, spec: TaskSpec, record: Record | None, rekeyed: set[str],
                missing: Sequence[str] = ()) -> list[str]:
    if record is None:
        return [f"never built in {env}"]
    reasons: list[str] = []
    if record.key != spec.key:
        old, new = record.inputs, spec.inputs
        if old.get("sha") != new["sha"]:
            reasons.append(f"new SHA for {spec.component}: "
                           f"{str(old.get('sha'))[:7]} -> {new['sha'][:7]}")
        elif old.get("version") != new["version"]:
            reasons.append(f"new version for {spec.component}: "
                           f"{old.get('version')} -> {new['version']}")
        if old.get("released") != new["released"]:
            reasons.append("now " + ("released (verify only)" if new["released"] else "built"))
        if old.get("recipe") != new["recipe"]:
            reasons.append("recipe changed")
        if old.get("build_with") != new["build_with"]:
            reasons.append("build_with changed")
        old_deps: Mapping[str, str] = old.get("deps", {})
        for dep, key in new["deps"].items():
            if old_deps.get(dep) != key:
                verb = "rebuilt" if dep in rekeyed else "changed"
                reasons.append(f"upstream {dep} {verb}")
        if set(old_deps) != set(new["deps"]):
            reasons.append("dependencies changed")
        return reasons or ["build key changed"]
    if missing:
        reasons.append(f"output missing: {missing[0]}"
                       + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""))
    if needs_retag(record, spec):
        reasons.append(f"retag image as {spec.image_ref}")
    return reasons
