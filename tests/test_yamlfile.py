"""Strict YAML loading: plain values, lines of every key, and every refusal with its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.errors import ManifestError
from ottodeploy.yamlfile import MAX_BYTES, MAX_DEPTH, load, parse


def problems(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(ManifestError) as info:
        parse(text, "f.yaml")
    assert info.value.file == "f.yaml"
    return [(p.line, p.message + (f" ({p.hint})" if p.hint else "")) for p in info.value.problems]


@pytest.mark.parametrize(("text", "data"), [
    # plain mapping with the YAML 1.1 scalar types PyYAML knows
    ("a: 1\nb: 1.5\nc: true\nd: null\ne: text\n",
     {"a": 1, "b": 1.5, "c": True, "d": None, "e": "text"}),
    # keys stay as written: YAML 1.1 would turn on/yes/no into booleans
    ("on: 1\nyes: 2\nno: 3\n", {"on": 1, "yes": 2, "no": 3}),
    # numeric keys are names too
    ("1: a\n1.10: b\n", {"1": "a", "1.10": "b"}),
    # timestamps stay text; the models check their form
    ("t: 2026-02-10T14:23:07Z\nd: 2026-02-10\n", {"t": "2026-02-10T14:23:07Z", "d": "2026-02-10"}),
    # explicit core tags are fine: !!str keeps 1.10 as written
    ("v: !!str 1.10\n", {"v": "1.10"}),
    # a quoted << is an ordinary key, not a merge
    ('"<<": x\n', {"<<": "x"}),
    # a small alias is expanded
    ("a: &x [1, 2]\nb: *x\n", {"a": [1, 2], "b": [1, 2]}),
    # nested lists and mappings
    ("s:\n  - {u: 1}\n  - [a, b]\n", {"s": [{"u": 1}, ["a", "b"]]}),
    # comments only: no document
    ("# nothing\n", None),
    # a byte order mark is not part of the text
    ("\ufeffa: 1\n", {"a": 1}),
])
def test_values(text: str, data: Any) -> None:
    assert parse(text, "f.yaml").data == data


def test_lines_and_texts() -> None:
    doc = parse("name: x\nsources:\n  a:\n    ref: main\n    v: 1.10\nlist:\n  - x\n  - y: 2\n",
                "f.yaml")
    pos = doc.positions
    assert pos.line(("sources", "a", "ref")) == 4
    assert pos.line(("list", 1, "y")) == 8
    assert pos.line(("list", 0)) == 7
    # a path that is not there falls back to its nearest ancestor
    assert pos.line(("sources", "a", "missing", "deeper")) == 3
    assert pos.line(("nothing",)) == 1
    # how the scalar was written, for 'quote it' hints
    assert doc.data["sources"]["a"]["v"] == 1.1
    assert pos.text(("sources", "a", "v")) == "1.10"
    assert doc.problem(("sources", "a", "v"), "bad").line == 5


@pytest.mark.parametrize(("text", "line", "message"), [
    # duplicate keys name both lines
    ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first given on line 1)"),
    # duplicates deep inside
    ("s:\n  x: {ref: a, ref: b}\n", 2, "duplicate key 'ref'"),
    # python object construction
    ("a: !!python/object/apply:os.system [id]\n", 1, "'tag:yaml.org,2002:python/object/apply"),
    # other non-core YAML tags
    ("a: !!binary aGVsbG8=\n", 1, "YAML tag 'tag:yaml.org,2002:binary' is not allowed"),
    ("a: !!set {x}\n", 1, "YAML tag 'tag:yaml.org,2002:set' is not allowed"),
    # application tags
    ("a:\n  b: !ENV ${HOME}\n", 2, "YAML tag '!ENV' is not allowed"),
    # merge keys
    ("base: &b {x: 1}\nc:\n  <<: *b\n", 3, "merge keys (<<) are not allowed"),
    # complex keys
    ("? [a, b]\n: c\n", 1, "mapping keys must be plain names"),
    # syntax: tab indentation
    ("a:\n\tb: 1\n", 2, "YAML syntax error: found character '\\t' that cannot start any token"),
    # syntax: an unclosed flow sequence names where it was opened
    ("a: [1, 2\nb: 3\n", 2, "while parsing a flow sequence that starts on line 1"),
    # syntax: an unclosed quote is noticed at the end of the file
    ('a: "x\nb: 1\n', 3, "while scanning a quoted scalar that starts on line 1"),
    # an alias to an anchor that does not exist
    ("a: *nope\n", 1, "found undefined alias 'nope'"),
    # NUL bytes: a binary file
    ("a: 1\nb: \x00\n", 2, "contains a NUL byte (binary file?)"),
    # too deep
    ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", 1,
     f"nested deeper than {MAX_DEPTH} levels"),
])
def test_refusals(text: str, line: int, message: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0][0] == line
    assert message in found[0][1]


def test_depth_limit_is_exact() -> None:
    # values MAX_DEPTH levels below the top still load; one level more does not
    ok = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert parse(ok, "f.yaml").data is not None
    deeper = "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    assert "nested deeper" in problems(deeper)[0][1]


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    found = problems("\n".join(lines) + "\n")
    assert found == [(None, "more than 200000 values (alias expansion?)")]


def test_all_problems_of_a_file_together() -> None:
    found = problems("a: 1\na: 2\nb: !x y\nc:\n  <<: {d: 1}\n")
    assert [line for line, _ in found] == [2, 3, 5]


@pytest.mark.parametrize(("content", "line", "message"), [
    # Latin-1 on line 2
    (b"a: 1\nb: caf\xe9\n", 2, "is not UTF-8 text"),
    # UTF-16
    ("a: 1\n".encode("utf-16"), 1, "is not UTF-8 text"),
    # over the size limit
    (b"a: " + b"x" * MAX_BYTES + b"\n", None, f"file is larger than {MAX_BYTES} bytes"),
])
def test_load_refuses_bytes(tmp_path: Path, content: bytes, line: int | None,
                            message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    with pytest.raises(ManifestError) as info:
        load(path, "shown.yaml")
    [problem] = info.value.problems
    assert (problem.line, problem.message) == (line, message)
    assert str(info.value).startswith("shown.yaml")


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="file not found"):
        load(tmp_path / "nope.yaml")


def test_load_names_the_file_as_displayed(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("a: 1\n")
    assert load(path, "manifests/f.yaml").file == "manifests/f.yaml"
    assert load(path).file == str(path)
