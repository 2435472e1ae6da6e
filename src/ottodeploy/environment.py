"""Opening an environment: the one load every command starts from.

``open_environment(root, name)`` returns one ``OpenEnvironment`` value that
holds everything a command reads about the environment, each part loaded at
most once:

1. The name is checked once (``DeployRoot.environment``): a valid name whose
   file exists, else bad input listing the environments of the root.
2. The static cascade (``core.keys.StaticCascade``): the bytes of
   ``components.yaml`` and the environment's file are hashed with the tool's
   version and the root's path (relative repos resolve against it); when
   ``.ottodeploy/<env>/cascade.json`` holds the cascade for that digest it is
   used as it is, so a no-op build never validates the manifests again.
   Otherwise the manifests are loaded and validated (``manifests``) and the
   cascade is derived from them and cached (a corrupt cache is set aside with
   a warning, ``statefiles``).
3. The sources: resolved with one ``git ls-remote`` per repo, in parallel
   (``resolve``), or taken from a lockfile's exact SHAs (``resolution=``), or
   not at all (``resolve=False``: ``check --offline``), or from the last
   resolution stored under ``.ottodeploy/<env>/`` (``offline=True``: ``plan
   --offline``, ``doit`` without a network; ``state.LastResolution``), which
   every successful resolution here rewrites. Should a source fail to resolve,
   the manifests are loaded properly so the error names the file, the key and
   the line; should repos be unreachable, one line says so, and its hint says
   whether (and how old) a stored resolution can answer offline.
4. The build keys of every task (``core.keys.plan_tasks``).

Where the remote store is (``OpenEnvironment.store_registry``) is configuration:
``OTTODEPLOY_STORE_REGISTRY`` when set, else ``components.yaml``'s
``store.registry``, so one set of manifests and workflows runs against ghcr.io on
GitHub and against a loopback registry in tests. It is read when the build starts,
never cached with the cascade, and it is not part of any build key: the same sources
have the same keys whichever registry shares their outputs.

The validated manifests (``project``), the compatibility matrix and the host
inventory are loaded when first asked for, and then kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, atomicfile
from .core.errors import OttodeployError, RepoUnreachable, ResolveError, UsageError
from .core.keys import StaticCascade, StaticTask, TaskSpec, digest_text, plan_tasks
from .core.sources import Resolution
from .root import DeployRoot
from .state import LastResolution

if TYPE_CHECKING:
    from .core.models import CompatibilityFile
    from .git import RemoteRefs
    from .inventory import Inventory
    from .manifests import Project
    from .state import Records


STORE_REGISTRY_VAR = "OTTODEPLOY_STORE_REGISTRY"


def store_registry(configured: str | None,
                   environ: Mapping[str, str] | None = None) -> str | None:
    """The remote store's registry path: ``OTTODEPLOY_STORE_REGISTRY`` when set and not
    empty (validated like ``store.registry``), else ``configured`` (components.yaml's)."""
    value = (os.environ if environ is None else environ).get(STORE_REGISTRY_VAR, "").strip()
    if not value:
        return configured
    from pydantic import ValidationError

    from .core.models import StoreConfig

    try:
        return StoreConfig(registry=value).registry
    except ValidationError as exc:
        why = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ")
                        for e in exc.errors())
        raise UsageError(f"{STORE_REGISTRY_VAR}: {why}",
                         hint="a registry and repository prefix, e.g. "
                              "127.0.0.1:5000/ottodeploy-store; unset it to use "
                              "components.yaml's store.registry") from None


class OpenEnvironment:
    """One environment of a deploy root, opened once for a command.

    A plain class, not a dataclass: it loads on every command, a no-op build's too.
    """

    def __init__(self, root: DeployRoot, name: str, static: StaticCascade,
                 resolution: Resolution | None = None,
                 specs: dict[str, TaskSpec] | None = None, _project: Project | None = None,
                 resolved_at: float | None = None) -> None:
        self.root, self.name, self.static = root, name, static
        self.resolution = resolution
        self.specs: dict[str, TaskSpec] = {} if specs is None else specs
        self._project = _project
        self.resolved_at = resolved_at      # when the resolution is a stored one: its time

    @property
    def state(self) -> Path:
        """``.ottodeploy/<env>/``: this environment's records, locks and doit database."""
        return self.root.state / self.name

    @property
    def file(self) -> Path:
        return self.root.env_file(self.name)

    @property
    def project(self) -> Project:
        """The validated manifests (components and this environment), loaded on first use."""
        if self._project is None:
            from .manifests import load_project

            self._project = load_project(self.root, self.name)
        return self._project

    @cached_property
    def compatibility(self) -> CompatibilityFile:
        from .manifests import load_compatibility

        return load_compatibility(self.root, self.project.components)

    @cached_property
    def hosts(self) -> Inventory:
        """Where the environment's hosts are (bad input when one has no address)."""
        from .inventory import inventory
        from .manifests import load_hosts

        return inventory(self.project.environment, load_hosts(self.root))

    @property
    def store_registry(self) -> str | None:
        """The remote store (module docstring): the environment variable, else the manifest."""
        return store_registry(self.static.store_registry)

    @property
    def records(self) -> Records:
        from .state import Records

        return Records(self.state)

    def with_resolution(self, resolution: Resolution) -> OpenEnvironment:
        """The same environment with other exact sources (a lockfile's), keys recomputed."""
        return OpenEnvironment(self.root, self.name, self.static, resolution,
                               plan_tasks(self.static, resolution.sources),
                               self._project)


def manifest_digest(root: DeployRoot, name: str) -> str | None:
    """What the static cascade depends on: the tool, the root's path and the two files."""
    try:
        return digest_text(__version__.encode(), str(root.path).encode(),
                           root.components_file.read_bytes(), root.env_file(name).read_bytes())
    except OSError:
        return None


def static_cascade(project: Project, digest: str) -> StaticCascade:
    """What the manifests of ``project`` say about its environment's cascade."""
    from .resolve import source_requests

    graph = project.graph
    env = project.environment
    tasks = []
    for task in graph.order:
        comp_name, art_name = graph.nodes[task]
        art = project.components.components[comp_name].artifacts[art_name]
        tasks.append(StaticTask(
            task=task, component=comp_name, artifact=art_name, deps=graph.deps[task],
            run=art.run, needs=tuple(art.needs), outputs=tuple(art.outputs), image=art.image,
            cache=art.cache, build_with=dict(env.sources[comp_name].build_with)))
    return StaticCascade(
        environment=env.name, mode=env.mode, digest=digest,
        sources=tuple(source_requests(project)), tasks=tuple(tasks),
        component_order=tuple(graph.component_order),
        component_deps={c: graph.component_deps[c] for c in graph.component_order},
        store_registry=project.components.store.registry if project.components.store else None)


def _cached_static(cache_file: Path, digest: str | None) -> StaticCascade | None:
    """The cached cascade for ``digest``; a corrupt cache is set aside and made again."""
    from .statefiles import clear_way, read_json, set_aside

    clear_way(cache_file)
    data = read_json(cache_file, lambda d: isinstance(d, dict) and isinstance(d.get("digest"), str),
                     "a cached cascade (a mapping with a digest)")
    if digest is None or data is None or data.get("digest") != digest:
        return None
    try:
        return StaticCascade.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        set_aside(cache_file, f"not a cached cascade: {type(exc).__name__} {exc}")
        return None


def open_environment(root: DeployRoot, name: str, *, resolve: bool = True,
                     resolution: Resolution | None = None, validate: bool = False,
                     keep_cascade: bool = True, offline: bool = False) -> OpenEnvironment:
    """Open ``name`` (see the module docstring).

    ``resolution`` replaces resolving the manifest's refs (a lockfile's exact SHAs);
    ``resolve=False`` opens it without contacting any repo (no keys then);
    ``offline`` takes the last stored resolution instead of reading the repos;
    ``validate`` loads and validates the manifests even when the cached cascade would do;
    ``keep_cascade=False`` writes nothing under ``.ottodeploy/`` (``check`` changes nothing).
    """
    name = root.environment(name)
    digest = manifest_digest(root, name)
    cache_file = root.state / name / "cascade.json"
    project: Project | None = None
    static = None if validate else _cached_static(cache_file, digest)
    if static is None:
        from .manifests import load_project

        project = load_project(root, name)
        static = static_cascade(project, digest or "")
        if digest is not None and keep_cascade:
            atomicfile.write_text(cache_file, json.dumps(static.to_json()), durable=False)
    opened = OpenEnvironment(root, name, static, _project=project)
    if resolution is not None:
        return opened.with_resolution(resolution)
    if offline:
        return last_resolved(opened)
    if not resolve:
        return opened
    return resolved(opened, keep=keep_cascade)


def resolved(opened: OpenEnvironment, *, keep: bool = True,
             remotes: Callable[[], Mapping[str, RemoteRefs]] | None = None) -> OpenEnvironment:
    """``opened`` with its sources resolved now (step 3), stored as its last resolution
    unless ``keep`` is false. ``remotes`` gives the repos' refs when they are already being
    read (``resolve.start_reading``); it raises as reading them here would."""
    from .resolve import resolve_requests

    static = opened.static
    last = LastResolution(opened.state)
    try:
        listing = remotes() if remotes is not None else None
        found, misses = resolve_requests(static.sources, opened.root.cache, listing)
    except RepoUnreachable as exc:
        raise exc.with_hint(last.offline_hint(opened.name, static.sources)) from None
    if misses:
        from .resolve import resolve as resolve_project

        resolve_project(opened.project)  # raises with file, key and line
        raise OttodeployError("sources changed while resolving; run again")
    result = Resolution(opened.name, found)
    if keep:
        last.save(static.sources, result)
    return opened.with_resolution(result)


def last_resolved(opened: OpenEnvironment) -> OpenEnvironment:
    """``opened`` with its last stored resolution; refused when there is none for its refs."""
    import time

    stored = LastResolution(opened.state).load()
    if stored is None:
        raise ResolveError(f"{opened.name} has no stored resolution: it was never resolved "
                           "with its repos reachable",
                           hint=f"resolve it once online: inv resolve {opened.name}")
    if not stored.answers(opened.static.sources):
        raise ResolveError(f"{opened.name}'s last resolution ({stored.when(time.time())}) "
                           "answered other refs: its manifest changed since",
                           hint=f"resolve it online again: inv resolve {opened.name}")
    out = opened.with_resolution(stored.resolution)
    out.resolved_at = stored.resolved_at
    return out
