"""Comments attached to key paths by line, and put back after a rewrite (``yamlcomments``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ottodeploy import editing
from ottodeploy.adoption.yamlcomments import Provenance, Trivia, comments_of, render
from ottodeploy.yamlfile import parse
from tests.conftest import PROJECT
from tests.teamfixtures import TEAM, TODAY

TRICKY = """\
# header

top:  # eol of a mapping key
  url: "http://x/#frag"  # the real comment
  plain: a#b
  run: |
    # this line is content, not a comment
    echo '#'
  # above a list
  list:
    - {a: 1}  # on an item
    # above the second item
    - b

# above the last key
last: 'x # y'

# footer
"""


def roundtrip(text: str) -> str:
    doc = parse(text, "t.yaml")
    comments = comments_of(text, doc)
    dumper, data = editing.load(text)
    prov = Provenance()
    prov.add((), comments, ())
    return str(render(dumper, data, prov, comments.header, comments.footer))


SAMPLES = {
    "tricky": TRICKY,
    # (ruamel writes a null as nothing, so files holding one are left out)
    **{f"team {k}": v for k, v in TEAM.items() if "null" not in v},
    **{f"today {k}": v for k, v in TODAY.items() if "null" not in v},
    **{f"shipped {p.name}": p.read_text()
       for p in sorted((PROJECT / "manifests").rglob("*.yaml")) if p.name != "components.yaml"},
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_rewrite_without_changes_gives_the_text_back(name: str) -> None:
    # every comment where it was, and nothing else added (lines of blanks become empty)
    text = SAMPLES[name]
    expected = "\n".join(ln if ln.strip() else "" for ln in text.split("\n"))
    assert roundtrip(text) == expected


def test_comments_are_found_only_outside_scalars() -> None:
    comments = comments_of(TRICKY, parse(TRICKY, "t.yaml"))
    assert comments.header == ("# header", "")
    assert comments.footer == ("", "# footer")
    assert comments.by_path[("top",)] == Trivia((), "  # eol of a mapping key")
    assert comments.by_path[("top", "url")] == Trivia((), "  # the real comment")
    assert ("top", "plain") not in comments.by_path
    assert ("top", "run") not in comments.by_path
    assert comments.by_path[("top", "list")] == Trivia(("# above a list",), None)
    assert comments.by_path[("top", "list", 0)] == Trivia((), "  # on an item")
    assert comments.by_path[("top", "list", 1)] == Trivia(("# above the second item",), None)
    assert comments.by_path[("last",)] == Trivia(("", "# above the last key"), None)
    assert "# this line is content, not a comment" not in comments.all_lines()


def test_comments_follow_a_key_to_its_new_place() -> None:
    text = "a:\n  # about b\n  b: 1  # one\nc: 2\n"
    comments = comments_of(text, parse(text, "t.yaml"))
    dumper, _ = editing.load(text)
    prov = Provenance()
    prov.add(("moved", "renamed"), comments, ("a", "b"))
    out = render(dumper, {"c": 2, "moved": {"x": 0, "renamed": 1}}, prov)
    assert out == "c: 2\nmoved:\n  x: 0\n  # about b\n  renamed: 1  # one\n"
    # and a second rewrite of that output by the same rule changes nothing
    again = comments_of(out, parse(out, "o.yaml"))
    prov2 = Provenance()
    prov2.add((), again, ())
    assert render(dumper, editing.load(out)[1], prov2, again.header, again.footer) == out


def test_a_blank_line_is_not_put_between_a_key_and_its_first_child() -> None:
    text = "a:\n  x: 1\n\n  b: 2\n"
    comments = comments_of(text, parse(text, "t.yaml"))
    dumper, _ = editing.load(text)
    prov = Provenance()
    prov.add(("a",), comments, ("a",))
    assert render(dumper, {"a": {"b": 2}}, prov) == "a:\n  b: 2\n"


def test_the_roundtrip_reads_every_shipped_manifest() -> None:
    # the samples above include them all: a new shipped file is covered without editing here
    shipped = {p.name for p in (PROJECT / "manifests").rglob("*.yaml")} - {"components.yaml"}
    assert shipped <= {Path(k.split(" ", 1)[1]).name for k in SAMPLES if k.startswith("shipped")}
