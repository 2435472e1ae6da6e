"""Running one task of the cascade.

A task is up to date when its record holds its current build key, its outputs
are still in ``OTTO_OUT`` and, for an image made in a registry, the image
already carries the readable tag this run wants (a ref renamed onto the same
SHA only needs a retag). Otherwise ``run_task`` does the least that makes it
so, in this order:

1. Released sources (version mode, or pinned by version): nothing is built;
   an image task checks that ``<image>:<version>`` exists in its registry.
2. Same key, new readable tag: the recorded manifest is tagged again.
3. Registry cache: when ``<image>:bk-<key16>`` exists, the readable tag is
   pointed at it and nothing is built. An unreachable registry is a miss.
4. Otherwise the recipe runs with ``bash -c`` in a clean worktree of the
   component at its SHA, with the ``OTTO_*`` variables; its declared outputs
   are copied into a fresh ``OTTO_OUT``; an image is then also tagged
   ``bk-<key16>`` so the next machine can reuse it.

The record is written atomically when the task succeeds. Failures come back
as an ``Outcome`` (doit actions report failure by returning it).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .core.errors import OttodeployError, RegistryError
from .core.keys import TaskSpec
from .core.plan import Record, needs_retag
from .core.variables import variables
from .mirror import Mirror
from .process import stream
from .reporting import Reporter, Silent, output_to
from .state import Records, outputs_present

if TYPE_CHECKING:
    from .registry import RegistryClient

log = logging.getLogger("ottodeploy.build")


class Outcome(NamedTuple):
    task: str
    ok: bool
    how: str              # built | reused | retagged | verified | released | failed
    message: str = ""
    duration: float = 0.0


class BuildContext:
    """Where one environment's build keeps its state, and how it talks to the person."""

    def __init__(self, env: str, env_state: Path, cache: Path,
                 reporter: Reporter | None = None,
                 recipe_timeout: float | None = None,
                 specs: Mapping[str, TaskSpec] | None = None) -> None:
        self.env = env
        self.specs: Mapping[str, TaskSpec] = specs or {}
        self.env_state = env_state
        self.cache = cache
        self.reporter: Reporter = reporter or Silent()
        self.recipe_timeout = recipe_timeout
        self._registry: RegistryClient | None = None
        self._lock = threading.Lock()
        self._checkouts: dict[str, Future[Path]] | None = None
        self.unavailable: set[str] = set()  # registries that failed this run (cache skipped)

    def prepare_checkouts(self, specs: Iterable[TaskSpec]) -> None:
        """Start making the clean checkouts of ``specs`` that will build, in the background.

        A task on the critical path then finds its worktree ready instead of creating it
        after its upstream finished; the first call wins, later calls do nothing.
        """
        with self._lock:
            if self._checkouts is not None:
                return
            records = self.records
            todo = [s for s in specs if not s.released and not up_to_date(records, s)]
            pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="checkout")
            self._checkouts = {s.task: pool.submit(checkout_for, self, s) for s in todo}
            pool.shutdown(wait=False)

    def checkout(self, spec: TaskSpec) -> Path:
        with self._lock:
            ready = (self._checkouts or {}).pop(spec.task, None)
        if ready is not None:
            try:
                return ready.result()
            except OttodeployError:
                pass  # made again below, so the error is reported by the task itself
        return checkout_for(self, spec)

    @property
    def records(self) -> Records:
        return Records(self.env_state)

    def registry(self) -> RegistryClient:
        with self._lock:
            if self._registry is None:
                from .registry import RegistryClient

                self._registry = RegistryClient()
            return self._registry


def up_to_date(records: Records, spec: TaskSpec) -> bool:
    if spec.released and spec.image_ref:
        return False  # a released image is checked on every run: it may have been deleted
    record = records.get(spec.task)
    return (record is not None and record.key == spec.key
            and outputs_present(record, Path(spec.out_dir)) and not needs_retag(record, spec))


def run_task(ctx: BuildContext, spec: TaskSpec) -> Outcome:
    start = time.monotonic()
    try:
        how, record = _run(ctx, spec)
    except OttodeployError as exc:
        return Outcome(spec.task, False, "failed", str(exc), time.monotonic() - start)
    duration = time.monotonic() - start
    ctx.records.put(record._replace(finished=time.time(), duration=duration, how=how))
    return Outcome(spec.task, True, how, "", duration)


def _record(spec: TaskSpec, **kw: object) -> Record:
    return Record(task=spec.task, key=spec.key, inputs=spec.inputs, **kw)  # type: ignore[arg-type]


def _run(ctx: BuildContext, spec: TaskSpec) -> tuple[str, Record]:
    say = _sayer(ctx, spec)
    previous = ctx.records.get(spec.task)
    if spec.released:
        if not spec.image_ref:
            return "released", _record(spec)
        released = _verify_released(ctx, spec)
        say(f"released image {spec.image_ref} exists ({released[:19]})")
        return "verified", _record(spec, image_ref=spec.image_ref, digest=released)

    if (previous and previous.key == spec.key and spec.image_ref and previous.digest
            and outputs_present(previous, Path(spec.out_dir))):
        digest = _retag(ctx, spec, previous.digest)
        if digest is not None:
            say(f"same build, new tag: {spec.image_ref}")
            return "retagged", _record(spec, outputs=previous.outputs, image_ref=spec.image_ref,
                                       digest=digest)

    if spec.image_ref and spec.cache and not spec.outputs:
        digest = _from_cache(ctx, spec)
        if digest is not None:
            say(f"reused {spec.image}:{spec.cache_tag} from the registry cache")
            return "reused", _record(spec, image_ref=spec.image_ref, digest=digest)

    outputs = _build(ctx, spec, say)
    pushed = _publish_cache_tag(ctx, spec) if spec.image_ref and spec.cache else None
    return "built", _record(spec, outputs=outputs, image_ref=spec.image_ref, digest=pushed)


def _sayer(ctx: BuildContext, spec: TaskSpec) -> Callable[[str], None]:
    return output_to(ctx.reporter, spec.task)


def checkout_for(ctx: BuildContext, spec: TaskSpec) -> Path:
    """A clean worktree of the task's component at its SHA."""
    mirror = Mirror(ctx.cache, spec.url)
    if not mirror.ensure_commit(spec.sha):
        raise OttodeployError(f"{spec.task}: commit {spec.sha} is not in {spec.url}")
    checkout = ctx.env_state / "checkouts" / spec.task
    mirror.checkout(spec.sha, checkout)
    return checkout


def _build(ctx: BuildContext, spec: TaskSpec, say: Callable[[str], None]) -> list[str]:
    checkout = ctx.checkout(spec)
    out_dir = Path(spec.out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    env = {**os.environ, **variables(ctx.env, spec, ctx.specs)}
    say(f"$ {spec.run}")
    code, _tail = stream(["bash", "-c", spec.run], cwd=checkout, env=env,
                        on_line=say, timeout=ctx.recipe_timeout)
    if code != 0:
        status = "timed out" if code is None else f"exited with {code}"
        raise OttodeployError(f"task {spec.task} failed: recipe {status}: {spec.run}",
                              hint=f"its checkout is kept at {checkout}")
    return _collect_outputs(spec, checkout, out_dir)


def _collect_outputs(spec: TaskSpec, checkout: Path, out_dir: Path) -> list[str]:
    copied: list[str] = []
    for pattern in spec.outputs:
        matches = sorted(checkout.glob(pattern))
        if not matches:
            raise OttodeployError(
                f"task {spec.task} failed: declared output {pattern!r} was not produced",
                hint=f"the recipe ran in {checkout}")
        for src in matches:
            rel = src.relative_to(checkout)
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dest)
            copied.append(str(rel))
    return sorted(set(copied))


# --- registry --------------------------------------------------------------------------------


def _verify_released(ctx: BuildContext, spec: TaskSpec) -> str:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    try:
        digest = ctx.registry().manifest_digest(ref)
    except RegistryError as exc:
        raise OttodeployError(f"task {spec.task}: cannot check released image "
                              f"{spec.image_ref}: {exc.message}") from None
    if digest is None:
        raise OttodeployError(
            f"task {spec.task}: released image {spec.image_ref} does not exist "
            f"(image {spec.image}, tag {ref.tag})",
            hint=f"was {spec.component} {spec.version} released with its image?")
    return digest


def _retag(ctx: BuildContext, spec: TaskSpec, digest: str) -> str | None:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    try:
        return ctx.registry().retag(ref.with_digest(digest), ref.tag or "latest")
    except RegistryError as exc:
        log.warning("%s: cannot retag %s (%s); building instead", spec.task, spec.image_ref,
                    exc.message)
        return None


def _from_cache(ctx: BuildContext, spec: TaskSpec) -> str | None:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    cached = ref.with_tag(spec.cache_tag)
    if ref.registry in ctx.unavailable:
        return None
    try:
        if ctx.registry().manifest_digest(cached) is None:
            return None
        return ctx.registry().retag(cached, ref.tag or "latest")
    except RegistryError as exc:
        ctx.unavailable.add(ref.registry)
        log.warning("%s: registry cache unavailable, building without it (%s)", spec.task,
                    exc.message)
        return None


def _publish_cache_tag(ctx: BuildContext, spec: TaskSpec) -> str | None:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    if ref.registry in ctx.unavailable:
        return None  # already warned: one timeout per registry and run is enough
    try:
        digest = ctx.registry().manifest_digest(ref)
        if digest is None:
            log.warning("%s: the recipe did not push %s; registry cache not updated",
                        spec.task, spec.image_ref)
            return None
        ctx.registry().retag(ref, spec.cache_tag)
    except RegistryError as exc:
        log.warning("%s: registry cache not updated (%s)", spec.task, exc.message)
        return None
    return digest
