"""What a build left, named as the lockfile names it (SPEC §3, §4a).

After the build of a deploy, every task's record of the current key names one content
digest: in the store (packed outputs, or an image its recipe wrote as a layout) or in a
registry (a pushed image). ``recorded`` reads them once, and from then on the deploy
works from these values only — never from the records again — so a build started
meanwhile (another environment, or a doit run after the deploy's build) cannot change
what the deploy ships nor what its lockfile says:

- ``entries``: the lockfile's ``artifacts``: ``{ref, tag, digest, key}`` for an image
  (``ref`` is ``<image>@<digest>``, ``tag`` the readable ``<image>:<tag>``),
  ``{digest, key}`` for other outputs, ``reproduced`` when a replay rebuilt one;
  released artifacts that are not images are left out (nothing of them is built);
- ``images``: task -> (``<image>@<digest>``, ``<image>:<tag>``) for deploy steps;
- ``outputs``: task -> the read-only folder unpacked from its stored digest;
- ``not_reproduced``: the tasks a replay had to rebuild into other bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .build import IN_STORE, BuildContext
from .core.errors import BuildError
from .core.keys import TaskSpec


@dataclass
class Recorded:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, tuple[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    not_reproduced: list[str] = field(default_factory=list)


def recorded(ctx: BuildContext, specs: Iterable[TaskSpec]) -> Recorded:
    """The digests the build left for ``specs`` (see the module docstring)."""
    records = ctx.records
    out = Recorded()
    for spec in specs:
        record = records.get(spec.task)
        if record is None or record.key != spec.key:
            raise BuildError(f"{spec.task} has no record of its build key after the build",
                             hint="a build of this environment ran at the same time; retry")
        if record.digest is None:
            if spec.image_ref:
                raise BuildError(f"{spec.task}: no digest is known for {spec.image_ref}")
            continue  # a released artifact that is not an image: nothing of it was built
        entry: dict[str, Any] = {"digest": record.digest, "key": spec.key}
        if spec.image_ref and spec.image:
            exact = f"{spec.image}@{record.digest}"
            entry = {"ref": exact, "tag": spec.image_ref, **entry}
            out.images[spec.task] = (exact, spec.image_ref)
        wanted = ctx.wanted.get(spec.task)
        if wanted is not None and record.extra.get("wanted") == wanted.digest:
            entry["reproduced"] = bool(record.extra["reproduced"])
            if not entry["reproduced"]:
                out.not_reproduced.append(spec.task)
        out.entries[spec.task] = entry
        if record.extra.get("in") == IN_STORE:
            out.outputs[spec.task] = str(ctx.store.unpack(record.digest))
    return out
