"""Comments of a YAML file, attached to key paths, and put back after a rewrite.

A rewrite that renames keys, moves a mapping one level up or brings a value
over from another file cannot rely on where ruamel.yaml happens to hang a
comment (it hangs the comment above a key on the end of the value before it).
So comments are attached to key paths by line, and the rewritten document is
written by ruamel.yaml without comments and then given them back:

1. ``comments_of`` finds every comment of a text: a ``#`` outside every token
   the YAML scanner produced (so never one inside a quoted or block scalar).
   What sits between a key (or list item) and the content line above it -
   comment lines and blank lines - is that key's ``above``; a comment at the end
   of a key's line is its ``eol``. Where several keys start on one line, the
   outermost one owns the comments. The lines before the first content line are
   the file's ``header``, those after the last its ``footer``.
2. The caller says where each part of the new document came from
   (``Provenance``: an output path prefix, the source's comments, the source
   path prefix), and ``render`` dumps the document, finds the line of every
   output path, and puts each path's comments above it and at its line's end,
   re-indented to where the key now is; then the header and the footer.

Run on its own output, ``comments_of`` finds exactly the comments ``render``
placed, so a rewrite of a rewrite changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..yamlfile import Document, parse

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Trivia:
    """What belongs to one key: the lines above it and its end-of-line comment."""

    above: tuple[str, ...] = ()   # comment lines (stripped of indentation) or "" for blank
    eol: str | None = None        # the spacing and the comment, as written

    def __bool__(self) -> bool:
        return bool(self.above) or self.eol is not None


@dataclass(frozen=True)
class Comments:
    """Every comment of one file, by the key path it belongs to."""

    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    by_path: Mapping[Path_, Trivia] = field(default_factory=dict)

    def all_lines(self) -> list[str]:
        """Every comment line (for tests and reports)."""
        out = [ln for ln in (*self.header, *self.footer) if ln]
        for t in self.by_path.values():
            out += [ln for ln in t.above if ln]
            if t.eol:
                out.append(t.eol.strip())
        return out


def _comment_starts(text: str) -> dict[int, int]:
    """Line (0-based) -> column of the comment on it, for every comment of ``text``."""
    covered: list[tuple[int, int]] = [(t.start_mark.index, t.end_mark.index)
                                      for t in yaml.scan(text, Loader=yaml.SafeLoader)
                                      if t.start_mark.index < t.end_mark.index]
    covered.sort()
    starts: dict[int, int] = {}
    line_start = 0
    spans = iter(covered)
    span = next(spans, None)
    for number, line in enumerate(text.split("\n")):
        col = line.find("#")
        while col >= 0:
            index = line_start + col
            while span is not None and span[1] <= index:
                span = next(spans, None)
            inside = span is not None and span[0] <= index < span[1]
            if not inside and (col == 0 or line[col - 1] in " \t"):
                starts[number] = col
                break
            col = line.find("#", col + 1)
        line_start += len(line) + 1
    return starts


def _outermost(lines: Mapping[Path_, int]) -> dict[int, Path_]:
    """Line (1-based) -> the shortest path starting on it."""
    out: dict[int, Path_] = {}
    for path, line in lines.items():
        if path and (line not in out or len(path) < len(out[line])):
            out[line] = path
    return out


def comments_of(text: str, doc: Document) -> Comments:
    """The comments of ``text`` (``doc`` is its strict parse, for the lines of its keys)."""
    starts = _comment_starts(text)
    raw = text.split("\n")

    def kind(n: int) -> str:  # n is 0-based
        line = raw[n]
        if not line.strip():
            return "blank"
        col = starts.get(n)
        if col is not None and not line[:col].strip():
            return "comment"
        return "content"

    content = [n for n in range(len(raw)) if kind(n) == "content"]
    if not content:
        lines = tuple(raw[n].strip() for n in range(len(raw)) if kind(n) == "comment")
        return Comments(header=lines)
    first, last = content[0], content[-1]
    header = tuple(raw[n].strip() for n in range(first))
    footer = tuple(raw[n].strip() for n in range(last + 1, len(raw)))
    while footer and not footer[-1]:
        footer = footer[:-1]
    owners = _outermost(doc.positions.lines)
    by_path: dict[Path_, Trivia] = {}
    for line, path in owners.items():
        n = line - 1
        above: list[str] = []
        k = n - 1
        while k > first and kind(k) != "content":
            above.append(raw[k].strip())
            k -= 1
        eol = None
        col = starts.get(n)
        if col is not None and raw[n][:col].strip():
            eol = raw[n][len(raw[n][:col].rstrip()):].rstrip()
        if above or eol:
            by_path[path] = Trivia(tuple(reversed(above)), eol)
    return Comments(header, footer, by_path)


@dataclass
class Provenance:
    """Where the parts of a new document came from: output prefix -> (comments, source prefix)."""

    parts: list[tuple[Path_, Comments, Path_]] = field(default_factory=list)
    given: dict[Path_, Trivia] = field(default_factory=dict)   # for paths made up here

    def add(self, out_prefix: Iterable[str | int], comments: Comments,
            src_prefix: Iterable[str | int]) -> None:
        self.parts.append((tuple(out_prefix), comments, tuple(src_prefix)))

    def put(self, path: Iterable[str | int], trivia: Trivia) -> None:
        self.given[tuple(path)] = trivia

    def trivia(self, path: Path_) -> Trivia:
        if path in self.given:
            return self.given[path]
        best: tuple[Path_, Comments, Path_] | None = None
        for part in self.parts:
            prefix = part[0]
            if path[: len(prefix)] == prefix and (best is None or len(prefix) > len(best[0])):
                best = part
        if best is None:
            return Trivia()
        return best[1].by_path.get((*best[2], *path[len(best[0]):]), Trivia())


def bare(value: Any) -> Any:
    """A copy of a round-trip value without its comments (flow style and quoting kept)."""
    if isinstance(value, CommentedMap):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = bare(v)
        if value.fa.flow_style():
            out.fa.set_flow_style()
        return out
    if isinstance(value, CommentedSeq):
        seq = CommentedSeq(bare(v) for v in value)
        if value.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        return bare(CommentedMap(value))
    if isinstance(value, list):
        return bare(CommentedSeq(value))
    return value


def render(dumper: YAML, data: Any, provenance: Provenance, header: Iterable[str] = (),
           footer: Iterable[str] = (), display: str = "<output>") -> str:
    """``data`` as YAML text with the comments ``provenance`` assigns to its paths."""
    out = io.StringIO()
    dumper.dump(bare(data), out)
    text = out.getvalue()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    owners: dict[int, list[Path_]] = {}
    for path, line in parse(text, display).positions.lines.items():
        if path:
            owners.setdefault(line, []).append(path)
    for line in sorted(owners, reverse=True):
        above: list[str] = []
        eol = None
        for path in sorted(owners[line], key=len):
            t = provenance.trivia(path)
            above += t.above
            eol = eol or t.eol
        n = line - 1
        if any(p == q[: len(p)] for p in owners.get(line - 1, ()) for q in owners[line]):
            while above and not above[0]:
                above.pop(0)  # no blank line between a key and its first child
        if eol:
            lines[n] += eol
        indent = lines[n][: len(lines[n]) - len(lines[n].lstrip())]
        lines[n:n] = [f"{indent}{a}" if a else "" for a in above]
    return "\n".join([*header, *lines, *footer]) + "\n"
