"""Running one task of the cascade: every artifact ends as one content digest (SPEC §4, §4a).

Identity. A non-image task's outputs are packed into the store (``store.put_outputs``,
an OCI artifact shared by every environment of the root); an image task's identity is
the image its recipe wrote as an OCI layout among its outputs (``store.put_layout``),
or else the image it pushed, read back from its registry. A record (``state.Records``)
holds the task's build key and that digest; the bytes stay in the store or registry.

A task is up to date when its record holds its current key, its digest is still
available (in the store, or a pushed image) and, when a lockfile is being replayed,
is the locked digest; an image must also carry the readable tag this run wants.
Otherwise ``run_task`` does the least that makes it so, in this order:

1. Released sources (version mode, or pinned by version): nothing is built; an image
   task checks that ``<image>:<version>`` exists in its registry and records its digest.
2. Replays: the locked digest is used as it is when the store has it, the remote store
   gives it, or (a pushed image) its registry still has it.
3. The same key already built: a record of this environment (a new readable tag is a
   retag), the store (another environment, another run: ``reused``), the remote store
   (``pulled``, another machine built it), or an image's ``bk-<key16>`` tag.
4. Otherwise the recipe runs with ``bash -c`` in a clean worktree of the component at
   its SHA, with a fresh empty ``OTTO_OUT`` and every upstream output as a read-only
   folder unpacked from its digest; its declared outputs are copied into ``OTTO_OUT``,
   which is then put into the store (and removed), or the pushed image read back. With
   ``cache`` on, outputs go to the remote store and images get their ``bk-`` tag. When a
   lockfile wanted a digest, the new one is compared: ``reproduced`` true or false.

The record is written atomically when the task succeeds. Failures come back as an
``Outcome`` (doit actions report failure by returning it). An unreachable registry is a
cache miss with a warning; a registry that sends or acknowledges bytes other than their
digest names (``IntegrityError``) fails the task: a tampered remote store stops the run.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import leftovers
from .core.errors import IntegrityError, OttodeployError, RegistryError, StoreError
from .core.keys import TaskSpec
from .core.record import Record, needs_retag
from .reporting import Reporter, Silent, output_to
from .state import Records
from .store import Store, cache_tag
from .uploads import Uploads

if TYPE_CHECKING:
    from .core.imageref import ImageRef
    from .registry import RegistryClient

log = logging.getLogger("ottodeploy.build")
IN_STORE, IN_REGISTRY = "store", "registry"


class Outcome(NamedTuple):
    task: str
    ok: bool
    how: str              # built | reused | pulled | retagged | verified | released | failed
    message: str = ""
    duration: float = 0.0


class Wanted(NamedTuple):
    """What a replayed lockfile recorded for a task: deploy exactly these bytes."""

    digest: str
    key: str


class BuildContext:
    """One environment's build: where its state is, the store, the remote, the reporter."""

    def __init__(self, env: str, env_state: Path, cache: Path,
                 reporter: Reporter | None = None,
                 recipe_timeout: float | None = None,
                 specs: Mapping[str, TaskSpec] | None = None,
                 store: Store | None = None, remote: str | None = None,
                 wanted: Mapping[str, Wanted] | None = None) -> None:
        self.env = env
        self.specs: Mapping[str, TaskSpec] = specs or {}
        self.env_state = env_state
        self.cache = cache
        self.store = store or Store(cache.parent / "store")
        self.remote = remote
        self.wanted: Mapping[str, Wanted] = wanted or {}
        self.reporter: Reporter = reporter or Silent()
        self.recipe_timeout = recipe_timeout
        self._registry: RegistryClient | None = None
        self._lock = threading.Lock()
        self._checkouts: dict[str, Future[Path]] | None = None
        self._folders: dict[tuple[str, str], str] = {}   # (task, key) -> its unpacked outputs
        self.unavailable: set[str] = set()  # registries that failed this run (cache skipped)
        self.uploads = Uploads()   # in line unless the run waits for them (``engine.run``)

    def prepare_checkouts(self, specs: Iterable[TaskSpec]) -> None:
        """Start making the clean checkouts of ``specs`` that will build, in the background.

        A task on the critical path then finds its worktree ready instead of creating it
        after its upstream finished; the first call wins, later calls do nothing.
        """
        with self._lock:
            if self._checkouts is not None:
                return
            todo = [s for s in specs if not s.released and not up_to_date(self, s)
                    and self.store.lookup(s.key) is None]
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

    def available(self, record: Record) -> bool:
        """The record's artifact can still be had: in the store, or a pushed image."""
        if record.digest is None:
            return False
        if record.extra.get("in") == IN_REGISTRY:
            return True
        return self.store.has(record.digest)

    def outputs(self, specs: Iterable[TaskSpec]) -> dict[str, str]:
        """The read-only folders of the stored artifacts of ``specs`` (current keys only).

        A task's folder is looked up once per build: a task runs at most once in a build,
        before anything that needs its outputs, and an unpacked folder never changes, so
        every task below it (a deep cascade gives each task hundreds upstream) reuses it.
        """
        records = self.records
        out = {}
        for spec in specs:
            folder = self._folders.get((spec.task, spec.key))
            if folder is None:
                record = records.get(spec.task)
                if (record is None or record.key != spec.key or not record.digest
                        or record.extra.get("in") != IN_STORE
                        or not self.store.has(record.digest)):
                    continue
                folder = str(self.store.unpack(record.digest))
                with self._lock:
                    self._folders[(spec.task, spec.key)] = folder
            out[spec.task] = folder
        return out


def missing_artifacts(ctx: BuildContext, specs: Iterable[TaskSpec]) -> dict[str, list[str]]:
    """Per task whose record holds its current key, the artifact that can no longer be had
    (for ``plan``'s reasons)."""
    records = ctx.records
    out = {}
    for spec in specs:
        record = records.get(spec.task)
        if (record is not None and record.key == spec.key and not spec.released
                and not ctx.available(record)):
            out[spec.task] = [f"stored artifact {record.digest or '(none recorded)'}"]
    return out


def up_to_date(ctx: BuildContext, spec: TaskSpec) -> bool:
    if spec.released and spec.image_ref:
        return False  # a released image is checked on every run: it may have been deleted
    record = ctx.records.get(spec.task)
    if record is None or record.key != spec.key:
        return False
    wanted = ctx.wanted.get(spec.task)
    if wanted is not None and record.digest != wanted.digest:
        return False
    if spec.released:
        return True
    return ctx.available(record) and not needs_retag(record, spec)


def run_task(ctx: BuildContext, spec: TaskSpec) -> Outcome:
    start = time.monotonic()
    try:
        how, record = _run(ctx, spec)
    except OttodeployError as exc:
        return Outcome(spec.task, False, "failed", str(exc), time.monotonic() - start)
    duration = time.monotonic() - start
    ctx.records.put(record._replace(finished=time.time(), duration=duration, how=how))
    return Outcome(spec.task, True, how, "", duration)


def _record(spec: TaskSpec, digest: str | None = None, where: str | None = None,
            image_ref: str | None = None, **extra: object) -> Record:
    more = {"in": where, **extra} if where else dict(extra)
    return Record(task=spec.task, key=spec.key, inputs=spec.inputs, image_ref=image_ref,
                  digest=digest, extra=more)


def _run(ctx: BuildContext, spec: TaskSpec) -> tuple[str, Record]:
    say = output_to(ctx.reporter, spec.task)
    if spec.released:
        if not spec.image_ref:
            return "released", _record(spec)
        released = _verify_released(ctx, spec)
        say(f"released image {spec.image_ref} exists ({released[:19]})")
        return "verified", _record(spec, released, IN_REGISTRY, spec.image_ref)

    wanted = ctx.wanted.get(spec.task)
    if wanted is not None:
        found = _obtain(ctx, spec, wanted.digest)
        if found is not None:
            how, where = found
            say(f"the locked {wanted.digest[:19]} is here ({how})")
            return how, _record(spec, wanted.digest, where, spec.image_ref)

    previous = ctx.records.get(spec.task)
    if previous is not None and previous.key == spec.key and ctx.available(previous):
        if previous.extra.get("in") == IN_REGISTRY and spec.image_ref:
            digest = _retag(ctx, spec, previous.digest or "")
            if digest is not None:
                say(f"same build, new tag: {spec.image_ref}")
                return "retagged", _record(spec, digest, IN_REGISTRY, spec.image_ref)
        else:
            return "retagged", previous._replace(image_ref=spec.image_ref)

    stored = ctx.store.lookup(spec.key)
    if stored is not None:
        say(f"stored for this key already: {stored[:19]}")
        return "reused", _record(spec, stored, IN_STORE, spec.image_ref)
    pulled = _pull(ctx, spec)
    if pulled is not None:
        say(f"pulled {pulled[:19]} from the remote store {ctx.remote}")
        return "pulled", _record(spec, pulled, IN_STORE, spec.image_ref)
    if spec.image_ref and spec.cache and not spec.outputs:
        cached = _from_cache(ctx, spec)
        if cached is not None:
            say(f"reused {spec.image}:{spec.cache_tag} from the registry cache")
            return "reused", _record(spec, cached, IN_REGISTRY, spec.image_ref)

    digest, where = _build(ctx, spec, say)
    extra: dict[str, object] = {}
    if wanted is not None:
        extra = {"reproduced": digest == wanted.digest, "wanted": wanted.digest}
        verdict = "reproduced" if digest == wanted.digest else "NOT reproduced"
        say(f"rebuilt at the locked SHAs: {verdict} ({digest[:19]}, locked {wanted.digest[:19]})")
    if spec.cache:
        if where == IN_STORE:
            ctx.uploads.add(spec.task, lambda: _push(ctx, spec, digest))
        elif spec.image_ref:
            ctx.uploads.add(spec.task, lambda: _publish_cache_tag(ctx, spec))
    return "built", _record(spec, digest, where, spec.image_ref, **extra)


def checkout_for(ctx: BuildContext, spec: TaskSpec) -> Path:
    """A clean worktree of the task's component at its SHA."""
    from .mirror import Mirror

    mirror = Mirror(ctx.cache, spec.url)
    if not mirror.ensure_commit(spec.sha):
        raise OttodeployError(f"{spec.task}: commit {spec.sha} is not in {spec.url}")
    checkout = ctx.env_state / "checkouts" / spec.task
    mirror.checkout(spec.sha, checkout)
    return checkout


def _build(ctx: BuildContext, spec: TaskSpec, say: Callable[[str], None]) -> tuple[str, str]:
    """Run the recipe; the new artifact's digest and where it is (store or registry)."""
    from .core.variables import upstream, variables
    from .layoutdir import remove_tree
    from .process import stream

    checkout = ctx.checkout(spec)
    tmp = ctx.env_state / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"out-{spec.task}-", dir=tmp))
    try:
        inputs = ctx.outputs(upstream(spec, ctx.specs))
        env = {**os.environ, **variables(ctx.env, spec, ctx.specs, str(out), inputs)}
        say(f"$ {spec.run}")
        with leftovers.running(ctx.env_state, spec.task) as token:
            code, _tail = stream(["bash", "-c", spec.run], cwd=checkout, env={**env, **token},
                                 on_line=say, timeout=ctx.recipe_timeout)
        if code != 0:
            status = "timed out" if code is None else f"exited with {code}"
            raise OttodeployError(f"task {spec.task} failed: recipe {status}: {spec.run}",
                                  hint=f"its checkout is kept at {checkout}")
        _collect_outputs(spec, checkout, out)
        return _identity(ctx, spec, out)
    except StoreError as exc:
        raise OttodeployError(f"task {spec.task} failed: {exc.message}") from None
    finally:
        remove_tree(out)  # a copy of an upstream folder in it may be read-only


def _identity(ctx: BuildContext, spec: TaskSpec, out: Path) -> tuple[str, str]:
    if spec.image_ref:
        layouts = sorted(p.parent for p in out.rglob("oci-layout") if p.is_file())
        if layouts:
            digest = ctx.store.put_layout(spec.key, layouts[0], component=spec.component,
                                          artifact=spec.artifact)
            return digest, IN_STORE
        pushed = _read_back(ctx, spec)
        return pushed, IN_REGISTRY
    entries = sorted(p.name for p in out.iterdir())
    digest = ctx.store.put_outputs(spec.key, out, entries, component=spec.component,
                                   artifact=spec.artifact)
    return digest, IN_STORE


def _collect_outputs(spec: TaskSpec, checkout: Path, out: Path) -> None:
    """Copy the declared outputs (globs relative to the checkout) into ``out``."""
    for pattern in spec.outputs:
        matches = sorted(checkout.glob(pattern))
        if not matches:
            raise OttodeployError(
                f"task {spec.task} failed: declared output {pattern!r} was not produced",
                hint=f"the recipe ran in {checkout}")
        for src in matches:
            dest = out / src.relative_to(checkout)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dest, follow_symlinks=False)


# --- the store and registries ------------------------------------------------------------


def _obtain(ctx: BuildContext, spec: TaskSpec, digest: str) -> tuple[str, str] | None:
    """A locked digest from here, the remote store or the image's registry; None if none has it."""
    if ctx.store.has(digest):
        return "reused", IN_STORE
    if ctx.remote and spec.cache:
        from .core.imageref import parse_image_ref

        ref = parse_image_ref(f"{ctx.remote}/{spec.component}").with_digest(digest)
        if _guarded(ctx, ref.registry, spec, lambda: ctx.store.pull(ctx.registry(), ref)):
            return "pulled", IN_STORE
    if spec.image_ref:
        from .core.imageref import parse_image_ref

        ref = parse_image_ref(spec.image_ref).with_digest(digest)
        if _guarded(ctx, ref.registry, spec, lambda: ctx.registry().manifest_digest(ref)):
            return "reused", IN_REGISTRY
    return None


def _pull(ctx: BuildContext, spec: TaskSpec) -> str | None:
    if not ctx.remote or not spec.cache:
        return None
    from .core.imageref import parse_image_ref

    ref = parse_image_ref(f"{ctx.remote}/{spec.component}:{cache_tag(spec.key)}")
    found = _guarded(ctx, ref.registry, spec,
                     lambda: ctx.store.pull(ctx.registry(), ref, key=spec.key))
    return str(found) if found else None


def _push(ctx: BuildContext, spec: TaskSpec, digest: str) -> None:
    if not ctx.remote:
        return
    ref = f"{ctx.remote}/{spec.component}:{cache_tag(spec.key)}"
    _guarded(ctx, ref.split("/", maxsplit=1)[0], spec,
             lambda: ctx.store.push(spec.key, digest, ctx.registry(), ref))


def _guarded(ctx: BuildContext, registry: str, spec: TaskSpec,
             call: Callable[[], object]) -> object:
    """``call``, with an unreachable registry a miss and one warning per registry and run.

    A registry that serves (or acknowledges) bytes other than their digest names is not a
    miss: the task fails, so a tampered or corrupt remote store stops the run instead of
    being quietly built around.
    """
    if registry in ctx.unavailable:
        return None
    try:
        return call()
    except IntegrityError as exc:
        raise OttodeployError(f"task {spec.task} failed: {exc.message}", hint=exc.hint) from None
    except (RegistryError, StoreError) as exc:
        with ctx._lock:
            first = registry not in ctx.unavailable
            ctx.unavailable.add(registry)
        if first:
            log.warning("%s: registry cache %s unavailable, building without it (%s)", spec.task,
                        registry, exc.message)
        return None


def in_registry(ctx: BuildContext, spec: TaskSpec) -> str | None:
    """Where another runner would find the task's artifact by its build key without
    building it (``<store>/<component>:bk-<key16>``, or an image's own ``bk-`` tag), or
    None. One ``HEAD``; an unreachable registry is a miss with a warning."""
    from .core.imageref import parse_image_ref

    if spec.released or not spec.cache:
        return None
    refs = []
    if ctx.remote:
        refs.append(f"{ctx.remote}/{spec.component}:{cache_tag(spec.key)}")
    if spec.image_ref and not spec.outputs:
        refs.append(str(parse_image_ref(spec.image_ref).with_tag(spec.cache_tag)))
    for ref in refs:
        parsed = parse_image_ref(ref)
        if _guarded(ctx, parsed.registry, spec, partial(ctx.registry().manifest_digest, parsed)):
            return ref
    return None


def _image_digest(ctx: BuildContext, spec: TaskSpec) -> tuple[ImageRef, str | None]:
    """``spec``'s image reference and the digest the registry has for it (None: not there)."""
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    return ref, ctx.registry().manifest_digest(ref)


def _verify_released(ctx: BuildContext, spec: TaskSpec) -> str:
    try:
        ref, digest = _image_digest(ctx, spec)
    except RegistryError as exc:
        raise OttodeployError(f"task {spec.task}: cannot check released image "
                              f"{spec.image_ref}: {exc.message}") from None
    if digest is None:
        raise OttodeployError(
            f"task {spec.task}: released image {spec.image_ref} does not exist "
            f"(image {spec.image}, tag {ref.tag})",
            hint=f"was {spec.component} {spec.version} released with its image?")
    return digest


def _read_back(ctx: BuildContext, spec: TaskSpec) -> str:
    """The digest of the image the recipe pushed (HEAD), or why there is none."""
    try:
        _, digest = _image_digest(ctx, spec)
    except RegistryError as exc:
        raise OttodeployError(f"task {spec.task} failed: cannot read back {spec.image_ref}: "
                              f"{exc.message}",
                              hint="an image recipe pushes its image (OTTO_IMAGE) or writes an "
                                   "OCI image layout among its outputs") from None
    if digest is None:
        raise OttodeployError(f"task {spec.task} failed: the recipe did not push "
                              f"{spec.image_ref}",
                              hint="an image recipe pushes its image (OTTO_IMAGE) or writes an "
                                   "OCI image layout among its outputs")
    return digest


def _retag(ctx: BuildContext, spec: TaskSpec, digest: str) -> str | None:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    try:
        return ctx.registry().retag(ref.with_digest(digest), ref.tag or "latest")
    except IntegrityError as exc:
        raise OttodeployError(f"task {spec.task} failed: {exc.message}", hint=exc.hint) from None
    except RegistryError as exc:
        log.warning("%s: cannot retag %s (%s); building instead", spec.task, spec.image_ref,
                    exc.message)
        return None


def _from_cache(ctx: BuildContext, spec: TaskSpec) -> str | None:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    cached = ref.with_tag(spec.cache_tag)

    def lookup() -> str | None:
        if ctx.registry().manifest_digest(cached) is None:
            return None
        return ctx.registry().retag(cached, ref.tag or "latest")

    found = _guarded(ctx, ref.registry, spec, lookup)
    return str(found) if found else None


def _publish_cache_tag(ctx: BuildContext, spec: TaskSpec) -> None:
    from .core.imageref import parse_image_ref

    assert spec.image_ref is not None
    ref = parse_image_ref(spec.image_ref)
    _guarded(ctx, ref.registry, spec, lambda: ctx.registry().retag(ref, spec.cache_tag))
