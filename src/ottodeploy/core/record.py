"""What an environment remembers of a task's last success, and what it says about the task.

Kept apart from ``plan`` (which explains a whole build): a no-op build reads records
and nothing of the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .keys import TaskSpec


class Record(NamedTuple):
    task: str
    key: str
    inputs: Mapping[str, Any]
    outputs: Sequence[str] = ()          # (records before the store: files under OTTO_OUT)
    image_ref: str | None = None         # the readable reference made or verified
    digest: str | None = None            # the artifact's content digest
    finished: float = 0.0
    duration: float = 0.0
    how: str = "built"                   # built | reused | pulled | retagged | verified | released
    extra: Mapping[str, Any] = {}        # in: store | registry; reproduced, wanted (a replay)


def needs_retag(record: Record, spec: TaskSpec) -> bool:
    """The task pushed an image whose readable tag in its registry is not the one this run
    wants (an image kept in the store has no tag to move: the lockfile names it by digest)."""
    return bool(spec.image_ref and record.digest and record.image_ref != spec.image_ref
                and record.extra.get("in") != "store")
