"""``${name.field}`` references: parsing without values, and substitution."""

from __future__ import annotations

import pytest

from ottodeploy.core.interpolate import InterpolationError, references, render

PLAIN = frozenset({"host", "services_host"})
VALUES = {
    "tessellation": {"ref": "main", "sha": "a" * 40, "version": "4.0.0", "repo": "o/t"},
    "metakit": {"ref": "v0.2.0", "sha": "b" * 40, "version": "0.2.0", "repo": "o/m"},
}


@pytest.mark.parametrize(("text", "refs"), [
    # no reference at all
    ("sbt publishLocal", []),
    # shell variables pass through: $ not followed by {
    ("echo $HOME $1 $$", []),
    # one reference
    ("${tessellation.ref}", [("tessellation", "ref")]),
    # every field, in order of appearance
    ("${a.ref}/${b.sha}/${c.version}/${d.repo}",
     [("a", "ref"), ("b", "sha"), ("c", "version"), ("d", "repo")]),
    # spaces inside the braces are ignored
    ("${ tessellation.sha }", [("tessellation", "sha")]),
    # names with digits and dashes
    ("x${ottochain-sdk2.version}y", [("ottochain-sdk2", "version")]),
])
def test_references(text: str, refs: list[tuple[str, str]]) -> None:
    assert references(text) == refs


def test_plain_names_only_where_allowed() -> None:
    text = "http://${services_host}:4000/${services.sha}?h=${host}"
    assert references(text, plain=PLAIN) == [("services_host", None), ("services", "sha"),
                                             ("host", None)]
    with pytest.raises(InterpolationError, match=r"'\$\{services_host\}' is not of the form"):
        references(text)


@pytest.mark.parametrize(("text", "message"), [
    # an unterminated reference names its position
    ("abc ${tessellation.ref", "unterminated '${' at position 5"),
    # a field that does not exist lists the ones that do
    ("${tessellation.branch}", "unknown field 'branch' (expected one of ref, sha, version, repo)"),
    # no field
    ("${tessellation}", "'${tessellation}' is not of the form ${source.field}"),
    # empty braces
    ("${}", "'${}' is not of the form"),
    # a name that is not a source name
    ("${Tessellation.ref}", "is not of the form"),
    # a second reference broken after a good one
    ("${a.ref} ${b.nope}", "unknown field 'nope'"),
    # nested braces are not a thing
    ("${${a.ref}.sha}", "is not of the form"),
])
def test_reference_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as info:
        references(text)
    assert message in str(info.value)


def test_error_lists_plain_names_when_allowed() -> None:
    with pytest.raises(InterpolationError, match=r"or \$\{host\}, \$\{services_host\}"):
        references("${nope}", plain=PLAIN)


@pytest.mark.parametrize(("text", "out"), [
    # fields of two sources
    ("${tessellation.ref}@${metakit.version}", "main@0.2.0"),
    # shell text untouched around it
    ("echo $HOME ${tessellation.sha}", "echo $HOME " + "a" * 40),
    # spaces inside braces
    ("${ metakit.repo }", "o/m"),
    # nothing to substitute
    ("plain", "plain"),
])
def test_render(text: str, out: str) -> None:
    assert render(text, VALUES) == out


def test_render_plain_names() -> None:
    text = "http://${services_host}:4000/v?c=${tessellation.sha}"
    assert render(text, VALUES, {"services_host": "10.0.0.2"}) == \
        "http://10.0.0.2:4000/v?c=" + "a" * 40


@pytest.mark.parametrize(("text", "message"), [
    # a source that has no value
    ("${sdk.ref}", "'${sdk.ref}': unknown source 'sdk'"),
    # the whole text is checked before anything is substituted
    ("${tessellation.ref} ${x.bad}", "unknown field 'bad'"),
    ("${tessellation.ref", "unterminated"),
])
def test_render_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message.replace("$", r"\$").replace("{", r"\{")):
        render(text, VALUES)
