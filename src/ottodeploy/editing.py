"""Editing an environment manifest the way ``yq -i`` would: only what changes changes.

The file is loaded with ruamel.yaml's round-trip loader, which keeps comments,
key order, quoting and flow style; a source's pin is replaced in place (the new
key takes the old key's position and its end-of-line comment), and the file is
written back with the indentation it was read with. A source pinned by version
is not built, so its ``build_with`` goes away with the old pin.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

PinKind = Literal["ref", "version", "sha"]
PIN_KEYS: tuple[PinKind, ...] = ("ref", "version", "sha")


def _yaml_for(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _indentation(text: str) -> tuple[int, int, int]:
    """Mapping indent, sequence indent and dash offset as the file uses them."""
    mapping = 2
    key_indent: int | None = None     # the last ``key:`` line with nothing after it
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue                  # comments and blank lines between a key and its value
        child = re.match(r"^(\s*)(- )?\S", line)
        if key_indent is not None and child:
            step = len(child.group(1)) - key_indent
            if child.group(2) and step >= 0:
                return mapping, step + 2, step
            if step > 0 and not child.group(2):
                mapping = step
        key = re.match(r"^(\s*)[^\s#-][^:]*:\s*(#.*)?$", line)
        key_indent = len(key.group(1)) if key else None
    return mapping, mapping, 0


def load(text: str) -> tuple[YAML, Any]:
    yaml = _yaml_for(text)
    return yaml, yaml.load(text)


def dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def set_pin(source: CommentedMap, kind: PinKind, value: str) -> None:
    """Pin one source mapping by ``kind``, in the old pin's place, keeping its comment.

    An end-of-line comment keeps its distance from the value (ruamel would keep it at
    its old column, or one space after a longer value).
    """
    old = next((k for k in PIN_KEYS if k in source), None)
    old_width = len(old) + len(str(source[old])) if old else 0
    if old == kind:
        source[kind] = value
    else:
        position = list(source.keys()).index(old) if old else len(source)
        comment = source.ca.items.pop(old, None) if old else None
        if old:
            del source[old]
        source.insert(position, kind, value)
        if comment is not None:
            source.ca.items[kind] = comment
    tokens = source.ca.items.get(kind)
    token = tokens[2] if tokens and len(tokens) > 2 else None
    if old and token is not None and getattr(token, "column", None) is not None:
        token.column += len(kind) + len(value) - old_width
    if kind == "version" and "build_with" in source:
        _drop_keeping_trailer(source, "build_with")


def _drop_keeping_trailer(mapping: CommentedMap, key: str) -> None:
    """Delete ``key``; the blank lines or comment that followed its value stay in the file.

    ruamel stores what follows a nested mapping on its last key, so deleting the
    mapping would also delete the blank line that separated this block from the next.
    """
    value = mapping[key]
    trailer = None
    if isinstance(value, CommentedMap) and value:
        last = list(value.keys())[-1]
        tokens = value.ca.items.get(last)
        trailer = tokens[2] if tokens and len(tokens) > 2 else None
    keys = list(mapping.keys())
    del mapping[key]
    if trailer is None or keys[-1] != key or not mapping:
        return
    previous = list(mapping.keys())[-1]
    tokens = mapping.ca.items.setdefault(previous, [None, None, None, None])
    if tokens[2] is None:
        tokens[2] = trailer
    else:  # after an end-of-line comment: add the blank lines and comments that followed
        tokens[2].value = tokens[2].value.rstrip("\n") + "\n" + trailer.value.lstrip("\n") \
            if not trailer.value.startswith("\n") else tokens[2].value.rstrip("\n") + trailer.value


def same_pin(old_kind: str, old_value: str, kind: PinKind, value: str) -> bool:
    """Whether two pins name the same thing (``v0.6.1`` and ``0.6.1`` are one version)."""
    if old_kind != kind:
        return False
    if kind == "version":
        return old_value.removeprefix("v").removeprefix("V") == value.removeprefix("v")\
            .removeprefix("V")
    return old_value == value


def set_pins(text: str, pins: Mapping[str, tuple[PinKind, str]]) -> str:
    """``text`` with each named source re-pinned; everything else as it was."""
    yaml, data = load(text)
    sources = data["sources"]
    for name, (kind, value) in pins.items():
        set_pin(sources[name], kind, value)
    return dump(yaml, data)
