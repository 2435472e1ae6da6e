"""The test suite's own model of the cascade, written out by hand from SPEC §1.

Expected rebuild sets are computed from this table, never by asking the code under
test, so a test of exactness cannot agree with a bug by construction.
"""

from __future__ import annotations

from collections.abc import Iterable

from tests.ecosystem import NAMES

# SPEC §1's cascade as tests/ecosystem.py's components.yaml declares it:
# task -> the tasks it directly depends on.
TASK_DEPS: dict[str, set[str]] = {
    "tessellation_publish": set(),
    "metakit_publish": {"tessellation_publish"},
    "ottochain_assembly": {"tessellation_publish", "metakit_publish"},
    "ottochain_image": {"ottochain_assembly", "tessellation_publish", "metakit_publish"},
    "sdk_build": {"ottochain_assembly"},               # depends_on: [ottochain.assembly]
    "services_image": {"sdk_build"},
    "explorer_image": {"services_image"},
    "monitoring_config": set(),
}
ALL_TASKS = set(TASK_DEPS)
COMPONENT_TASKS: dict[str, set[str]] = {
    name: {t for t in TASK_DEPS if t.startswith(f"{name}_")} for name in NAMES
}
# The branch each component's source follows in the scratch and beta environments.
BRANCH = {"tessellation": "main", "metakit": "main", "ottochain": "develop", "sdk": "develop",
          "services": "develop", "explorer": "develop", "monitoring": "develop"}


def downstream(tasks: Iterable[str]) -> set[str]:
    """``tasks`` and everything that depends on them, directly or not."""
    out = set(tasks)
    grew = True
    while grew:
        grew = False
        for task, deps in TASK_DEPS.items():
            if task not in out and deps & out:
                out.add(task)
                grew = True
    return out


def upstream(task: str) -> set[str]:
    """Everything ``task`` depends on, directly or not (without ``task``)."""
    out: set[str] = set()
    stack = list(TASK_DEPS[task])
    while stack:
        t = stack.pop()
        if t not in out:
            out.add(t)
            stack.extend(TASK_DEPS[t])
    return out


def closure_of(components: Iterable[str]) -> set[str]:
    return downstream(set().union(*(COMPONENT_TASKS[c] for c in components)))
