"""Former names of components: ``aliases`` in components.yaml (SPEC §3a).

A component may be known by names it had before a rename (``watchdog`` was
``monitoring``: ``aliases: [monitoring]``). An environment, compatibility.yaml
or an imported file may write an alias wherever it names a component; loading
maps it to the component's own name before anything else looks at the file, so
the graph, builds, lockfiles and reports only ever see the real name.

1. ``alias_problems`` checks components.yaml: an alias is not another
   component's name, and is given once (by one component, once).
2. ``canonical_environment`` renames ``sources.<alias>`` to the component, and
   ``${alias.field}`` in ``build_with`` and smoke texts with it; the document's
   line map gets the new key paths too, so later errors still name the line.
   A component named twice (by its name and an alias, or by two aliases) is an
   error naming the second key.
3. ``canonical_matrix`` does the same for compatibility.yaml's two levels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .core.errors import Problem
from .core.models import CompatibilityFile, ComponentsFile, Environment
from .yamlfile import Document

_REF = re.compile(r"\$\{(\s*)([a-z][a-z0-9-]*)\.")


def alias_table(components: ComponentsFile) -> dict[str, str]:
    """alias -> component (the first component giving an alias wins; see ``alias_problems``)."""
    table: dict[str, str] = {}
    for name, comp in components.components.items():
        for alias in comp.aliases:
            table.setdefault(alias, name)
    return table


def alias_problems(components: ComponentsFile, doc: Document) -> list[Problem]:
    """An alias that is a component's name, or that is given more than once."""
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    for name, comp in components.components.items():
        for i, alias in enumerate(comp.aliases):
            path = ("components", name, "aliases", i)
            if alias in components.components:
                problems.append(doc.problem(path, f"alias {alias!r} is the name of a component",
                                            "an alias is a former name no component has now"))
            elif alias in owner:
                first = owner[alias]
                where = "here" if first == name else f"by {first!r}"
                problems.append(doc.problem(path, f"alias {alias!r} is already given {where}",
                                            "each alias belongs to one component, once"))
            else:
                owner[alias] = name
    return problems


def canonical_name(name: str, table: Mapping[str, str]) -> str:
    return table.get(name, name)


def rename_refs(text: str, table: Mapping[str, str]) -> str:
    """``text`` with every ``${alias.field}`` written ``${component.field}``."""
    if not table or "${" not in text:
        return text
    return _REF.sub(lambda m: f"${{{m.group(1)}{table.get(m.group(2), m.group(2))}.", text)


def _copy_lines(doc: Document, old: tuple[str | int, ...], new: tuple[str | int, ...]) -> None:
    lines = doc.positions.lines
    for path, line in list(lines.items()):
        if path[: len(old)] == old:
            lines.setdefault((*new, *path[len(old):]), line)


def canonical_environment(env: Environment, doc: Document, components: ComponentsFile) \
        -> tuple[Environment, list[Problem]]:
    """``env`` with aliases replaced by component names, and the problems doing so found."""
    table = alias_table(components)
    if not table:
        return env, []
    problems: list[Problem] = []
    sources = {}
    named_by: dict[str, str] = {}
    for key, source in env.sources.items():
        name = canonical_name(key, table)
        if name in named_by:
            problems.append(doc.problem(
                ("sources", key),
                f"{key!r} names component {name!r}, already listed as {named_by[name]!r}",
                f"{key!r} is an alias of {name!r}: keep one of them"))
            continue
        named_by[name] = key
        if name != key:
            _copy_lines(doc, ("sources", key), ("sources", name))
        sources[name] = source.model_copy(update={"build_with": {
            k: rename_refs(v, table) for k, v in source.build_with.items()}})
    smoke = [check.model_copy(update={
        "url": rename_refs(check.url, table),
        "json_": {k: rename_refs(v, table) if isinstance(v, str) else v
                  for k, v in check.json_.items()}}) for check in env.smoke]
    return env.model_copy(update={"sources": sources, "smoke": smoke}), problems


def canonical_matrix(matrix: CompatibilityFile, doc: Document, components: ComponentsFile) \
        -> tuple[CompatibilityFile, list[Problem]]:
    """compatibility.yaml with aliases replaced by component names, and the problems found."""
    table = alias_table(components)
    if not table:
        return matrix, []
    problems: list[Problem] = []
    out: dict[str, dict[str, str]] = {}
    for key, deps in matrix.compatibility.items():
        name = canonical_name(key, table)
        if name in out:
            problems.append(doc.problem(("compatibility", key),
                                        f"{key!r} names component {name!r} a second time",
                                        "merge its ranges into one entry"))
            continue
        ranges: dict[str, str] = {}
        for dep_key, text in deps.items():
            dep = canonical_name(dep_key, table)
            if dep in ranges:
                problems.append(doc.problem(("compatibility", key, dep_key),
                                            f"{dep_key!r} names component {dep!r} a second time",
                                            "keep one range"))
                continue
            ranges[dep] = text
            if dep != dep_key:
                _copy_lines(doc, ("compatibility", key, dep_key), ("compatibility", key, dep))
        if name != key:
            _copy_lines(doc, ("compatibility", key), ("compatibility", name))
        out[name] = ranges
    return matrix.model_copy(update={"compatibility": out}), problems
