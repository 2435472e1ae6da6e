"""``${name.field}`` interpolation.

A text may name another source's ``ref``, ``sha``, ``version`` or ``repo``
(and, where the caller allows them, plain names such as ``${services_host}``).
``references`` parses a text into its references without values, so a manifest
can be checked before anything is resolved; ``render`` substitutes values.
``$`` not followed by ``{`` is kept as written, so shell text passes through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

FIELDS = ("ref", "sha", "version", "repo")
_EXPR = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[a-z][a-z0-9-]*")


class InterpolationError(ValueError):
    """A reference that cannot be understood or filled in."""


def references(text: str, *, plain: frozenset[str] = frozenset()) -> list[tuple[str, str | None]]:
    """The ``(source, field)`` pairs in ``text``; ``(name, None)`` for allowed plain names."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            return out
        match = _EXPR.match(text, start)
        if match is None:
            raise InterpolationError(f"unterminated '${{' at position {start + 1}")
        expr = match.group(1).strip()
        if expr in plain:
            out.append((expr, None))
        else:
            name, dot, fld = expr.partition(".")
            if not dot or not _NAME.fullmatch(name):
                expected = "${source.field}"
                if plain:
                    expected += " or ${" + "}, ${".join(sorted(plain)) + "}"
                raise InterpolationError(f"'${{{expr}}}' is not of the form {expected}")
            if fld not in FIELDS:
                raise InterpolationError(
                    f"'${{{expr}}}': unknown field {fld!r} (expected one of {', '.join(FIELDS)})")
            out.append((name, fld))
        pos = match.end()


def render(text: str, values: Mapping[str, Mapping[str, str]],
           plain: Mapping[str, str] | None = None) -> str:
    """Substitute every reference in ``text``; unknown sources are an error."""
    plain = plain or {}
    references(text, plain=frozenset(plain))  # validates the whole text first

    def sub(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr in plain:
            return plain[expr]
        name, _, fld = expr.partition(".")
        if name not in values:
            raise InterpolationError(f"'${{{expr}}}': unknown source {name!r}")
        return values[name][fld]

    return _EXPR.sub(sub, text)
