"""Strict YAML loading that never lies about what a file says.

PyYAML speaks YAML 1.1: ``1.10`` becomes the float 1.1, ``no`` becomes False,
a duplicate key silently wins and ``!!python/object`` tags construct objects.
This module therefore composes the node tree (no construction) and builds plain
Python values itself:

* mapping keys are the key's text as written (``on:`` stays ``"on"``); a key
  given twice is an error naming both lines;
* only the core tags are accepted; any explicit tag (``!!python/...``,
  ``!custom``) and merge keys (``<<``) are refused;
* every scalar remembers its text, so a validator that wanted a string and got
  ``1.1`` or ``False`` can say "write ``"1.10"``";
* the line of every key and item is recorded in a ``Positions`` map, keyed by
  the key path, so every later error can name the line;
* size, nesting depth and node count are bounded, and the text must be UTF-8.

All problems of a file are raised together as one ``ManifestError``.

The node tree is composed by libyaml when PyYAML has it (the same tree, marks and
tags, an order of magnitude faster: a deploy reads every lockfile); a text libyaml
refuses is composed again by PyYAML itself, so every syntax error reads as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .core.errors import ManifestError, Problem

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_CORE_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

_Path = tuple[str | int, ...]


@dataclass
class Positions:
    """Where each key path of a document starts (1-based lines) and how scalars were written."""

    lines: dict[_Path, int] = field(default_factory=dict)
    texts: dict[_Path, str] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def text(self, path: Sequence[str | int]) -> str | None:
        return self.texts.get(tuple(path))


@dataclass
class Document:
    """A loaded YAML file: its values, where they came from, and its display name."""

    data: Any
    positions: Positions
    file: str

    def problem(self, path: Sequence[str | int], message: str, hint: str | None = None) -> Problem:
        return Problem(tuple(path), message, self.positions.line(path), hint)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = Positions()
        self.problems: list[Problem] = []
        self.nodes = 0

    def fail(self, path: _Path, node: yaml.Node, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(path, message, node.start_mark.line + 1, hint))

    def build(self, node: yaml.Node, path: _Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} values (alias expansion?)")
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        self.positions.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _CORE_TAGS:
            self.fail(path, node, f"YAML tag {node.tag!r} is not allowed", "remove the tag")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: _Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # the resolver tags a plain << as a merge key
                self.fail((*path, "<<"), key_node, "merge keys (<<) are not allowed",
                          "write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _CORE_TAGS:
                self.fail(path, key_node, "mapping keys must be plain names")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.fail((*path, key), key_node,
                          f"duplicate key {key!r} (first given on line {seen[key]})",
                          "each key may appear once")
                continue
            seen[key] = line
            self.positions.lines[(*path, key)] = line
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _scalar(self, node: yaml.ScalarNode, path: _Path) -> Any:
        text = str(node.value)
        self.positions.texts[path] = text
        if node.tag == _STR:
            return text
        if node.tag == "tag:yaml.org,2002:timestamp":
            return text  # timestamps stay as written; the models parse them
        constructor = yaml.SafeLoader.yaml_constructors[node.tag]
        return constructor(_SCALAR_LOADER, node)


class _TooBig(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


_SCALAR_LOADER = yaml.SafeLoader("")


def _read(path: Path, display: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(display, [Problem((), "file not found")]) from None
    except OSError as exc:
        raise ManifestError(display, [Problem((), f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise ManifestError(display, [Problem((), f"file is larger than {MAX_BYTES} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(display, [Problem((), "is not UTF-8 text", line)]) from None


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)   # libyaml's parser, when PyYAML has it


def _compose(text: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except (yaml.YAMLError, RecursionError):
            pass  # said again below, in PyYAML's words
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse(text: str, display: str) -> Document:
    """Parse YAML ``text`` strictly; ``display`` names the file in errors."""
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ManifestError(display, [Problem((), "contains a NUL byte (binary file?)", line)])
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        where = mark.line + 1 if mark else None
        # an unclosed quote or bracket is noticed far from where it was opened: say where
        opened = None
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != where:
            opened = f"{exc.context} that starts on line {exc.context_mark.line + 1}"
        raise ManifestError(display, [Problem((), f"YAML syntax error: {what}", where, opened)]) \
            from None
    except yaml.YAMLError as exc:
        raise ManifestError(display, [Problem((), f"YAML syntax error: {exc}")]) from None
    except RecursionError:
        raise ManifestError(display, [Problem((), "nested too deeply")]) from None
    builder = _Builder(display)
    if node is None:
        return Document(None, builder.positions, display)
    try:
        data = builder.build(node, (), 0)
    except _TooBig as exc:
        raise ManifestError(display, [Problem((), str(exc), exc.line)]) from None
    except RecursionError:
        raise ManifestError(display, [Problem((), "nested too deeply")]) from None
    if builder.problems:
        raise ManifestError(display, builder.problems)
    return Document(data, builder.positions, display)


def load(path: Path, display: str | None = None) -> Document:
    """Load ``path`` strictly. ``display`` is how the file is named in errors."""
    name = display or str(path)
    return parse(_read(path, name), name)
