"""Loading the files of a deploy root, in the order west validates a manifest.

1. The file is read strictly (``yamlfile``): syntax, duplicate keys, tags.
2. Its shape is validated against the pydantic model (``models``); pydantic's
   errors are translated into ``Problem`` s with the key path and the line,
   with a hint where YAML 1.1 changed what was written (``1.10``, ``no``).
3. Semantic checks that relate files: an environment's name equals its file
   name, its sources name known components, everything a source depends on is
   in the environment, ``${...}`` references name sources that exist, a
   ``version`` environment pins only versions or SHAs, the cascade has no cycle.
   Aliases (former names of components) are mapped to the component first
   (``aliases``). Only a source that is built needs what its component depends
   on: a released one (version mode, or pinned by version) is used as released,
   so a component nothing builds may be left out of an environment, and the
   graph then has no edge to it.

Every stage collects all problems of a file before raising one ``ManifestError``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .aliases import alias_problems, canonical_environment, canonical_matrix
from .core.errors import ManifestError, Problem, UsageError
from .core.graph import ArtifactGraph, ComponentSpec, GraphError, build_graph
from .core.interpolate import references
from .core.lockmodels import UNION_TAGS, Lockfile
from .core.models import (
    SMOKE_PLAIN_NAMES,
    CompatibilityFile,
    ComponentsFile,
    Environment,
    HostsFile,
)
from .root import DeployRoot
from .yamlfile import Document, load

M = TypeVar("M", bound=BaseModel)


# --- shape validation ------------------------------------------------------------------------


def validate(model: type[M], doc: Document) -> M:
    """Validate ``doc`` against ``model``; every error of the file in one ``ManifestError``."""
    if not isinstance(doc.data, dict):
        got = "an empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        raise ManifestError(doc.file, [Problem((), f"expected a mapping at the top, got {got}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        # a union's member tag is not a key the user wrote: leave it out of key paths
        errors: list[dict[str, Any]] = [
            {**e, "loc": tuple(p for p in e["loc"] if p not in UNION_TAGS)} for e in exc.errors()]
        misspelt = _misspelt_required(errors)
        problems = [_translate(model, doc, err) for err in errors
                    if tuple(err["loc"]) not in misspelt]
        raise ManifestError(doc.file, _dedupe(problems)) from None


def _misspelt_required(errors: Sequence[Any]) -> set[tuple[str | int, ...]]:
    """Missing keys that an unknown key beside them misspells: one mistake, reported once."""
    missing = [tuple(e["loc"]) for e in errors if e["type"] == "missing"]
    found: set[tuple[str | int, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            beside = [str(m[-1]) for m in missing if m[:-1] == loc[:-1]]
            close = difflib.get_close_matches(str(loc[-1]), beside, n=1)
            if close:
                found.add((*loc[:-1], close[0]))
    return found


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _translate(model: type[BaseModel], doc: Document, err: Any) -> Problem:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    kind: str = err["type"]
    is_key = bool(loc) and loc[-1] == "[key]"
    path = loc[:-1] if is_key else loc
    value = err.get("input")
    text = doc.positions.text(path)
    msg: str = err["msg"]
    hint = None
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(model, path[:-1])
        msg = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
        elif allowed:
            hint = "allowed: " + ", ".join(allowed)
    elif kind == "missing":
        msg = "required key is missing"
    elif is_key and kind == "string_pattern_mismatch":
        msg = f"{path[-1]!r} is not a valid name"
        hint = "lowercase letters, digits and '-', starting with a letter"
    elif kind == "string_type" and isinstance(value, (bool, int, float)) and text is not None:
        msg = f"{text!r} was read by YAML as the {type(value).__name__} {value!r}"
        hint = f'quote it: "{text}"'
    elif kind.startswith("value_error") or kind == "assertion_error":
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif kind == "string_pattern_mismatch":
        msg = f"{value!r} does not match {err.get('ctx', {}).get('pattern', 'the expected form')}"
    elif text is not None and not is_key:
        msg = f"{msg}, got {text!r}"  # pydantic's own wording, plus what was written
    return Problem(path, msg, doc.positions.line(path), hint)


def _allowed_keys(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The keys a mapping at ``path`` of ``model`` may hold (for 'did you mean')."""
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, f in annotation.model_fields.items():
            if part in (name, f.alias):
                return _unwrap(f.annotation)
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return _unwrap(args[1])
    if origin is list and args:
        return _unwrap(args[0])
    return None


def _unwrap(annotation: Any) -> Any:
    while True:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated or (origin in (typing.Union, types.UnionType) and args):
            annotation = args[0]
        else:
            return annotation


def load_file(root: DeployRoot, path: Path, model: type[M]) -> tuple[M, Document]:
    doc = load(path, root.display(path))
    return validate(model, doc), doc


# --- the project: components + one environment ---------------------------------------------


@dataclass(frozen=True)
class Project:
    """The components of the deploy root and one environment, checked against each other."""

    root: DeployRoot
    components: ComponentsFile
    environment: Environment
    env_doc: Document
    components_doc: Document

    @cached_property
    def graph(self) -> ArtifactGraph:
        """The artifact graph restricted to the environment's sources."""
        return environment_graph(self.components, self.environment)

    @property
    def env_display(self) -> str:
        return self.env_doc.file


def component_specs(components: ComponentsFile,
                    only: Mapping[str, object] | None = None) -> list[ComponentSpec]:
    """The graph's view of the components (of ``only``, without edges to the others)."""
    return [
        ComponentSpec(name, tuple(d for d in c.depends_on
                                  if only is None or d.partition(".")[0] in only),
                      {a: tuple(art.needs) for a, art in c.artifacts.items()})
        for name, c in components.components.items()
        if only is None or name in only
    ]


def environment_graph(components: ComponentsFile, env: Environment) -> ArtifactGraph:
    return build_graph(component_specs(components, env.sources))


def load_components(root: DeployRoot) -> tuple[ComponentsFile, Document]:
    comps, doc = load_file(root, root.components_file, ComponentsFile)
    problems = alias_problems(comps, doc)
    try:
        build_graph(component_specs(comps))
    except GraphError as exc:
        problems.extend(doc.problem(p.path, p.message) for p in exc.problems)
    if problems:
        raise ManifestError(doc.file, problems)
    return comps, doc


def load_environment_file(root: DeployRoot, env: str) -> tuple[Environment, Document]:
    path = root.env_file(env)
    if not path.is_file():
        known = ", ".join(root.environments()) or "none"
        raise UsageError(f"unknown environment {env!r}: {root.display(path)} does not exist",
                         hint=f"environments here: {known}")
    return load_file(root, path, Environment)


def load_project(root: DeployRoot, env: str) -> Project:
    components, comp_doc = load_components(root)
    environment, env_doc = load_environment_file(root, env)
    problems = check_environment(environment, env_doc, components, expected_name=env)
    if problems:
        raise ManifestError(env_doc.file, problems)
    environment = canonical_environment(environment, env_doc, components)[0]
    return Project(root, components, environment, env_doc, comp_doc)


def check_environment(env: Environment, doc: Document, components: ComponentsFile,
                      expected_name: str) -> list[Problem]:
    """Semantic checks of one environment against components.yaml."""
    env, problems = canonical_environment(env, doc, components)
    if env.name != expected_name:
        problems.append(doc.problem(("name",), f"name {env.name!r} does not match the file name",
                                    f"write name: {expected_name}"))
    known = components.components
    for name, src in env.sources.items():
        path = ("sources", name)
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "components.yaml defines: " \
                + ", ".join(known)
            problems.append(doc.problem(path, f"unknown component {name!r}", hint))
            continue
        if env.mode == "version" and src.pin == "ref":
            problems.append(doc.problem(
                (*path, "ref"), "a version environment pins sources by version or sha",
                f"replace ref: {src.ref} with version: X.Y.Z"))
        if src.pin == "version" and src.build_with:
            problems.append(doc.problem(
                (*path, "build_with"),
                "a source pinned by version is not built, so build_with has no effect",
                "remove build_with or pin by ref"))
        built = env.mode == "branch" and src.pin != "version"
        for dep in known[name].depends_on if built else ():
            dep_comp = dep.partition(".")[0]
            if dep_comp not in env.sources:
                problems.append(doc.problem(
                    path, f"{name!r} depends on {dep_comp!r}, which this environment does not list",
                    f"add sources.{dep_comp}, or pin {name} by version to use its release"))
        for key, text in src.build_with.items():
            problems.extend(_unknown_refs(doc, (*path, "build_with", key), text, env.sources))
    for i, check in enumerate(env.smoke):
        problems.extend(_unknown_refs(doc, ("smoke", i, "url"), check.url, env.sources,
                                      SMOKE_PLAIN_NAMES))
        for field, expected in check.json_.items():
            if isinstance(expected, str):
                problems.extend(_unknown_refs(doc, ("smoke", i, "json", field), expected,
                                              env.sources, SMOKE_PLAIN_NAMES))
    if not problems:
        try:
            environment_graph(components, env)
        except GraphError as exc:
            problems.extend(doc.problem(p.path, p.message) for p in exc.problems)
    return problems


def _unknown_refs(doc: Document, path: tuple[str | int, ...], text: str,
                  sources: Mapping[str, object],
                  plain: frozenset[str] = frozenset()) -> list[Problem]:
    from .core.interpolate import InterpolationError

    try:
        refs = references(text, plain=plain)
    except InterpolationError as exc:
        return [doc.problem(path, str(exc))]
    return [doc.problem(path, f"'${{{name}.{field}}}' names unknown source {name!r}")
            for name, field in refs if field is not None and name not in sources]


def load_compatibility(root: DeployRoot, components: ComponentsFile) -> CompatibilityFile:
    compat, doc = load_file(root, root.compatibility_file, CompatibilityFile)
    compat, problems = canonical_matrix(compat, doc, components)
    for name, deps in compat.compatibility.items():
        if name not in components.components:
            problems.append(doc.problem(("compatibility", name), f"unknown component {name!r}"))
        for dep in deps:
            if dep not in components.components:
                problems.append(doc.problem(("compatibility", name, dep),
                                            f"unknown component {dep!r}"))
            elif dep == name:
                problems.append(doc.problem(("compatibility", name, dep),
                                            "a component cannot constrain itself"))
    if problems:
        raise ManifestError(doc.file, problems)
    return compat


def load_hosts(root: DeployRoot) -> HostsFile | None:
    if not root.hosts_file.is_file():
        return None
    return load_file(root, root.hosts_file, HostsFile)[0]


def load_lockfile(root: DeployRoot, path: Path) -> Lockfile:
    from .core.errors import LockfileError

    try:
        return load_file(root, path, Lockfile)[0]
    except ManifestError as exc:
        raise LockfileError(exc.file, exc.problems) from None
