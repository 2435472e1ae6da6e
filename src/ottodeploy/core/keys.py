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

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from .imageref import image_tag
from .interpolate import render
from .sources import ResolvedSource, SourceRequest

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
    store_registry: str | None = None      # components.yaml's store.registry

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
            store_registry=data.get("store_registry"),
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


def plan_tasks(static: StaticCascade, resolved: Mapping[str, ResolvedSource]) \
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
        image_ref = None
        if t.image:
            image_ref = f"{t.image}:{image_tag(src.pin, src.ref, src.sha, src.version)}"
        spec = TaskSpec(
            task=t.task, component=t.component, artifact=t.artifact, deps=t.deps,
            key=canonical_key(inputs), inputs=inputs, released=released, run=t.run,
            outputs=t.outputs, image=t.image, image_ref=image_ref, cache=t.cache,
            repo=src.repo, url=src.url, sha=src.sha, ref=src.ref, version=src.version,
            build_with=build_with,
        )
        specs[t.task] = spec
    return specs
