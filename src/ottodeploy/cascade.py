"""The cascade of one environment: its tasks, their build keys, their variables.

``StaticCascade`` is everything the manifests say, in plain JSON-able values:
what each source asks for and, per artifact task, its recipe, dependencies and
``build_with`` templates. It depends only on the manifest files, so it can be
cached by their digest and the no-op path never has to validate them again.

``plan_tasks`` combines it with the resolved sources into ``TaskSpec`` s. The
build key of a task (SPEC §4) is the SHA-256 of a canonical JSON document of:
the component's SHA and version, whether it is built or released, the recipe
(run, image, outputs, needs, cache), its ``build_with`` values rendered with
every ``${x.ref}`` replaced by x's SHA, and the keys of every task it depends
on. Tasks are visited in topological order, so each dependency's key is known
when it is needed. A ref renamed onto the same SHA changes no key; a commit
anywhere changes the key of that component's tasks and of everything below.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .core.interpolate import render
from .resolve import ResolvedSource, SourceRequest

if TYPE_CHECKING:
    from .manifests import Project

KEY_SCHEMA = 1


class StaticTask(NamedTuple):
    task: str
    component: str
    artifact: str
    deps: tuple[str, ...]
    run: str
    needs: tuple[str, ...]
    outputs: tuple[str, ...]
    image: str | None
    cache: bool
    build_with: Mapping[str, str]


class StaticCascade(NamedTuple):
    environment: str
    mode: Literal["branch", "version"]
    digest: str
    sources: tuple[SourceRequest, ...]
    tasks: tuple[StaticTask, ...]
    component_order: tuple[str, ...]
    component_deps: Mapping[str, tuple[str, ...]]

    def to_json(self) -> dict[str, Any]:
        return {**self._asdict(), "sources": [s._asdict() for s in self.sources],
                "tasks": [t._asdict() for t in self.tasks]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StaticCascade:
        return cls(
            environment=data["environment"],
            mode=data["mode"],
            digest=data["digest"],
            sources=tuple(SourceRequest(**s) for s in data["sources"]),
            tasks=tuple(StaticTask(**{**t, "deps": tuple(t["deps"]), "needs": tuple(t["needs"]),
                                      "outputs": tuple(t["outputs"])}) for t in data["tasks"]),
            component_order=tuple(data["component_order"]),
            component_deps={k: tuple(v) for k, v in data["component_deps"].items()},
        )

    def task(self, name: str) -> StaticTask:
        for t in self.tasks:
            if t.task == name:
                return t
        raise KeyError(name)


class TaskSpec(NamedTuple):
    """One task ready to run: what it is, its key, the image it makes, its variables."""

    task: str
    component: str
    artifact: str
    deps: tuple[str, ...]
    key: str
    inputs: Mapping[str, Any]          # what went into the key, for `plan`'s reasons
    released: bool                     # pinned by version: verify, never build
    run: str
    outputs: tuple[str, ...]
    image: str | None
    image_ref: str | None              # the readable reference: repo:tag
    cache: bool
    repo: str
    url: str
    sha: str
    ref: str
    version: str
    out_dir: str
    build_with: Mapping[str, str]      # interpolated as written (a ref stays a ref)

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def cache_tag(self) -> str:
        return f"bk-{self.key[:16]}"


def digest_text(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def canonical_key(inputs: Mapping[str, Any]) -> str:
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=4096)
def var_name(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def ref_slug(ref: str) -> str:
    """A git ref name (``feat/My_Thing``) as a valid image tag fragment (``feat-my_thing``)."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", ref.strip().lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")
    return slug[:100].rstrip("-.") or "ref"


def image_tag(pin: str, ref: str, sha: str, version: str) -> str:
    """SPEC §4: ``<ref-slug>-<sha7>`` for branch builds, ``<version>`` for released images."""
    if pin == "version":
        return version
    slug = "sha" if pin == "sha" else ref_slug(ref.removeprefix("refs/heads/"))
    return f"{slug}-{sha[:7]}"


def plan_tasks(static: StaticCascade, resolved: Mapping[str, ResolvedSource], state_dir: Path) \
        -> dict[str, TaskSpec]:
    """Every task of the cascade with its key and variables, in topological order."""
    values = {n: r.fields() for n, r in resolved.items()}
    key_values = {n: {**r.fields(), "ref": r.sha} for n, r in resolved.items()}
    specs: dict[str, TaskSpec] = {}
    for t in static.tasks:
        src = resolved[t.component]
        released = static.mode == "version" or src.pin == "version"
        build_with = {k: render(v, values) for k, v in t.build_with.items()}
        inputs = {
            "schema": KEY_SCHEMA,
            "component": t.component,
            "artifact": t.artifact,
            "sha": src.sha,
            "version": src.version,
            "released": released,
            "recipe": {"run": t.run, "image": t.image, "outputs": list(t.outputs),
                       "needs": list(t.needs), "cache": t.cache},
            "build_with": {k: render(v, key_values) for k, v in t.build_with.items()},
            "deps": {d: specs[d].key for d in t.deps},
        }
        out_dir = state_dir / "out" / t.component / t.artifact
        image_ref = None
        if t.image:
            image_ref = f"{t.image}:{image_tag(src.pin, src.ref, src.sha, src.version)}"
        spec = TaskSpec(
            task=t.task, component=t.component, artifact=t.artifact, deps=t.deps,
            key=canonical_key(inputs), inputs=inputs, released=released, run=t.run,
            outputs=t.outputs, image=t.image, image_ref=image_ref, cache=t.cache,
            repo=src.repo, url=src.url, sha=src.sha, ref=src.ref, version=src.version,
            out_dir=str(out_dir), build_with=build_with,
        )
        specs[t.task] = spec
    return specs


def variables(env_name: str, spec: TaskSpec, specs: Mapping[str, TaskSpec]) -> dict[str, str]:
    """SPEC §4's ``OTTO_*`` variables of one task (made when it runs, not on every load).

    ``OTTO_DEP_<D>_*`` covers every task upstream of this one, the component's own earlier
    artifacts (``needs``) included, so a recipe finds every output it may use.
    """
    env = {
        "OTTO_ENV": env_name,
        "OTTO_COMPONENT": spec.component,
        "OTTO_ARTIFACT": spec.artifact,
        "OTTO_REPO": spec.repo,
        "OTTO_REPO_URL": spec.url,
        "OTTO_REF": spec.ref,
        "OTTO_SHA": spec.sha,
        "OTTO_SHORT_SHA": spec.sha[:7],
        "OTTO_VERSION": spec.version,
        "OTTO_OUT": spec.out_dir,
        "OTTO_KEY": spec.key,
    }
    if spec.image_ref:
        env["OTTO_IMAGE"] = spec.image_ref
    for k, v in spec.build_with.items():
        env[f"OTTO_BUILD_WITH_{var_name(k)}"] = v
    seen: set[str] = set()
    stack = list(spec.deps)
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        dep = specs[d]
        stack.extend(dep.deps)
        prefix = f"OTTO_DEP_{var_name(dep.component)}"
        env[f"{prefix}_SHA"] = dep.sha
        env[f"{prefix}_VERSION"] = dep.version
        env[f"{prefix}_OUT_{var_name(dep.artifact)}"] = dep.out_dir
        if dep.image_ref:
            env[f"{prefix}_IMAGE_{var_name(dep.artifact)}"] = dep.image_ref
    return env


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
        component_deps={c: graph.component_deps[c] for c in graph.component_order})
