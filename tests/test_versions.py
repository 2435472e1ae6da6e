"""Version parsing, tags, versions of branch builds and npm-style ranges (SPEC §3)."""

from __future__ import annotations

import pytest
import semver

from ottodeploy.core.versions import (
    Range,
    best_tag,
    bump_version,
    dev_version,
    normalize_version,
    parse_version,
    release_part,
    tag_version,
)

V = semver.Version.parse


# --- parse_version / normalize_version ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", V("1.2.3")),  # plain release
        ("v1.2.3", V("1.2.3")),  # leading v, as in tags
        ("1.2.3-rc.1", V("1.2.3-rc.1")),  # prerelease
        ("0.6.2-dev.5", V("0.6.2-dev.5")),  # a branch build's version
        ("v1.2.3-rc.1+build.7", V("1.2.3-rc.1+build.7")),  # prerelease and build
        ("10.20.30", V("10.20.30")),  # multi-digit parts
    ],
)
def test_parse_version_accepts(text: str, expected: semver.Version) -> None:
    assert parse_version(text) == expected
    assert str(parse_version(text)) == str(expected)  # build metadata kept too


@pytest.mark.parametrize(
    "text",
    [
        "1.2",  # two parts only
        "1.10",  # looks like a version, is not one
        "1",  # one part
        "v",  # just the prefix
        "",  # nothing
        "vv1.2.3",  # one v only
        "V1.2.3",  # the prefix is lowercase
        "01.2.3",  # leading zero
        "1.2.3-",  # empty prerelease
        "1.2.3.4",  # four parts
        " 1.2.3",  # surrounding whitespace is not trimmed
        "latest",  # a word
    ],
)
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a semantic version") as info:
        parse_version(text)
    assert repr(text) in str(info.value)  # the message quotes the bad text


def test_parse_version_message_is_exact() -> None:
    # the wording the brief promises, so callers can show it as is
    with pytest.raises(ValueError) as info:
        parse_version("1.2")
    assert str(info.value) == (
        "'1.2' is not a semantic version (expected X.Y.Z, optionally with a leading v)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v0.6.1", "0.6.1"),  # the v goes
        ("0.6.1", "0.6.1"),  # already canonical
        ("v1.0.0-rc.1+b.2", "1.0.0-rc.1+b.2"),  # prerelease and build stay
    ],
)
def test_normalize_version(text: str, expected: str) -> None:
    assert normalize_version(text) == expected


def test_release_part_drops_prerelease_and_build() -> None:
    assert release_part(V("1.2.3-rc.1+b")) == V("1.2.3")
    assert str(release_part(V("1.2.3-rc.1+b"))) == "1.2.3"


# --- tags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.2.3", "1.2.3"),  # the usual tag
        ("1.2.3", "1.2.3"),  # without v
        ("v1.2.3-rc.1", "1.2.3-rc.1"),  # prerelease tag
        ("refs/tags/v2.0.0", "2.0.0"),  # a full ref name from ls-remote
        ("v1.2", None),  # not semver
        ("release-1", None),  # a name
        ("latest", None),  # a moving tag
        ("ottochain-v1.2.3", None),  # a component-prefixed tag is not this repo's version
        ("v1.2.3^{}", None),  # a peeled ls-remote line must be cleaned by the caller
    ],
)
def test_tag_version(tag: str, expected: str | None) -> None:
    version = tag_version(tag)
    assert (str(version) if version is not None else None) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["v1.2.3"], "v1.2.3"),  # one tag
        (["v1.2.3", "v1.3.0"], "v1.3.0"),  # the highest version wins
        (["v1.3.0", "v1.2.3"], "v1.3.0"),  # whatever the order
        (["v1.2.3-rc.2", "v1.2.3"], "v1.2.3"),  # a release over its prerelease
        (["v1.2.3", "v1.2.3-rc.2"], "v1.2.3"),  # ... in either order
        (["v1.2.3-rc.2", "v1.2.3-rc.10"], "v1.2.3-rc.10"),  # numeric prerelease order
        (["1.2.3", "v1.2.3"], "v1.2.3"),  # v1.2.3 preferred over 1.2.3
        (["v1.2.3", "1.2.3"], "v1.2.3"),  # ... in either order
        (["1.2.4", "v1.2.3"], "1.2.4"),  # but a higher plain version still wins
        (["latest", "v1.2", "stable", "v0.9.0"], "v0.9.0"),  # non-semver tags ignored
        (["v1.2.3+build.9", "v1.2.3"], "v1.2.3"),  # same version: the name without build
        (["refs/tags/1.2.3", "refs/tags/v1.2.3"], "refs/tags/v1.2.3"),  # full ref names
    ],
)
def test_best_tag(tags: list[str], expected: str) -> None:
    found = best_tag(tags)
    assert found is not None
    assert found[0] == expected
    assert found[1] == tag_version(expected)


@pytest.mark.parametrize(
    "tags",
    [
        [],  # no tags on the commit
        ["latest", "release-1", "v1.2"],  # only non-semver tags
    ],
)
def test_best_tag_none(tags: list[str]) -> None:
    assert best_tag(tags) is None


def test_best_tag_accepts_any_iterable() -> None:
    # a generator is consumed once, not twice
    assert best_tag(t for t in ["v0.1.0", "v0.2.0"]) == ("v0.2.0", V("0.2.0"))


# --- versions of branch builds (SPEC §3) -----------------------------------------------


@pytest.mark.parametrize(
    ("base", "n", "expected"),
    [
        ("1.2.3", 0, "1.2.3"),  # exactly on a release tag: the tag's version
        ("1.2.3-rc.1", 0, "1.2.3-rc.1"),  # exactly on a prerelease tag
        ("1.2.3", 5, "1.2.4-dev.5"),  # N commits after a release: next patch, dev.N
        ("0.6.1", 1, "0.6.2-dev.1"),  # the SPEC's develop example shape
        ("1.2.9", 3, "1.2.10-dev.3"),  # patch carries into two digits
        ("4.0.0-rc.10", 2, "4.0.0-rc.10.dev.2"),  # after a prerelease: X.Y.Z-P.dev.N
        ("1.0.0-beta", 7, "1.0.0-beta.dev.7"),  # a one-identifier prerelease
        (None, 12, "0.0.0-dev.12"),  # no tag at all: 0.0.0-dev.<all commits>
        ("1.2.3+build.4", 0, "1.2.3"),  # build metadata dropped on the tag
        ("1.2.3+build.4", 2, "1.2.4-dev.2"),  # and after it
        ("1.2.3-rc.1+b", 2, "1.2.3-rc.1.dev.2"),  # and after a prerelease
    ],
)
def test_dev_version(base: str | None, n: int, expected: str) -> None:
    assert dev_version(V(base) if base is not None else None, n) == expected


@pytest.mark.parametrize(
    ("base", "n"),
    [
        ("1.2.3", 1),  # after a release
        ("1.2.3", 40),  # many commits after
        ("1.2.3-rc.1", 1),  # after a prerelease
        ("0.0.1-alpha", 3),  # after an alphanumeric prerelease
    ],
)
def test_dev_version_sorts_between_tag_and_next_release(base: str, n: int) -> None:
    tag = V(base)
    dev = V(dev_version(tag, n))
    assert tag < dev < tag.bump_patch()
    if tag.prerelease:
        # before the release the prerelease leads to
        assert dev < release_part(tag)
        if tag.prerelease.split(".")[-1].isdigit():
            # and before the next numbered prerelease (rc.1.dev.N < rc.2); after a bare
            # "alpha" the next "alpha.0" sorts lower, as semver orders numbers first
            assert dev < tag.bump_prerelease()


def test_dev_versions_of_one_line_sort_by_commit_count() -> None:
    # later builds of develop sort after earlier ones (dev.10 > dev.9)
    assert V(dev_version(V("0.6.1"), 9)) < V(dev_version(V("0.6.1"), 10))


def test_dev_version_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        dev_version(V("1.2.3"), -1)


# --- bump_version --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "part", "expected"),
    [
        ("1.2.3", "patch", "1.2.4"),  # release: patch
        ("1.2.3", "minor", "1.3.0"),  # release: minor resets patch
        ("1.2.3", "major", "2.0.0"),  # release: major resets the rest
        ("0.0.0", "major", "1.0.0"),  # from nothing
        ("1.2.3+b", "patch", "1.2.4"),  # build dropped
        ("1.2.0-rc.1", "patch", "1.2.0"),  # prerelease: finishing it is the patch
        ("1.2.0-rc.1", "minor", "1.2.0"),  # X.Y.0 already is the minor bump
        ("1.2.0-rc.1", "major", "2.0.0"),  # not a major bump: bump the release part
        ("1.2.1-rc.1", "minor", "1.3.0"),  # X.Y.1 is not a minor bump
        ("2.0.0-rc.1", "major", "2.0.0"),  # X.0.0 already is the major bump
        ("2.0.0-rc.1", "minor", "2.0.0"),  # and also covers a minor bump
    ],
)
def test_bump_version(current: str, part: str, expected: str) -> None:
    assert str(bump_version(V(current), part)) == expected  # type: ignore[arg-type]


# --- ranges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (">=0.5.0 <1.0.0", ">=0.5.0 <1.0.0"),  # AND of two comparators (compatibility.yaml)
        (">1.2.3", ">1.2.3"),  # every plain operator
        ("<=1.2.3", "<=1.2.3"),
        ("=1.2.3", "=1.2.3"),
        ("1.2.3", "=1.2.3"),  # a bare version is exact
        ("v1.2.3", "=1.2.3"),  # with a v
        (">= 1.2.3", ">=1.2.3"),  # space between operator and version (npm)
        ("^1.2.3", ">=1.2.3 <2.0.0-0"),  # caret: same major
        ("^0.2.3", ">=0.2.3 <0.3.0-0"),  # caret below 1.0: same minor
        ("^0.0.3", ">=0.0.3 <0.0.4-0"),  # caret at 0.0.z: that patch only
        ("^1.2.x", ">=1.2.0 <2.0.0-0"),  # caret with x patch
        ("^1.x", ">=1.0.0 <2.0.0-0"),  # caret with x minor
        ("^0.0.x", ">=0.0.0 <0.1.0-0"),  # caret 0.0.x
        ("^0.0", ">=0.0.0 <0.1.0-0"),  # caret with a missing patch
        ("^0.x", ">=0.0.0 <1.0.0-0"),  # caret 0.x
        ("^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"),  # caret from a prerelease
        ("^*", "*"),  # caret of anything
        ("~1.2.3", ">=1.2.3 <1.3.0-0"),  # tilde: same minor
        ("~1.2", ">=1.2.0 <1.3.0-0"),  # tilde with a missing patch
        ("~1", ">=1.0.0 <2.0.0-0"),  # tilde with only a major
        ("~0.2.3", ">=0.2.3 <0.3.0-0"),  # tilde below 1.0
        ("~>1.2", ">=1.2.0 <1.3.0-0"),  # npm's ~> alias
        ("1.2.x", ">=1.2.0 <1.3.0-0"),  # x-range on the patch
        ("1.x", ">=1.0.0 <2.0.0-0"),  # x-range on the minor
        ("1.*", ">=1.0.0 <2.0.0-0"),  # * as the wildcard
        ("1.X", ">=1.0.0 <2.0.0-0"),  # X as the wildcard
        ("1", ">=1.0.0 <2.0.0-0"),  # a bare partial is an x-range
        ("1.2", ">=1.2.0 <1.3.0-0"),  # ... on the patch
        ("=1.2", ">=1.2.0 <1.3.0-0"),  # = with a partial is the x-range too
        ("*", "*"),  # anything
        ("x", "*"),  # anything, spelled x
        (">=1.2", ">=1.2.0"),  # a partial after >= means .0
        (">=1", ">=1.0.0"),
        (">1", ">=2.0.0"),  # >1 is above every 1.x
        (">1.2", ">=1.3.0"),  # >1.2 is above every 1.2.x
        ("<1.2", "<1.2.0-0"),  # below 1.2.0
        ("<=1.2", "<1.3.0-0"),  # <=1.2 includes every 1.2.x
        ("<=1", "<2.0.0-0"),
        (">=*", "*"),  # >= anything
        ("<*", "<0.0.0-0"),  # < anything: nothing
        (">*", "<0.0.0-0"),  # > anything: nothing
        ("1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"),  # hyphen range, inclusive
        ("1.2 - 2.3.4", ">=1.2.0 <=2.3.4"),  # partial lower end
        ("1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"),  # partial upper end takes its minor line
        ("1.2.3 - 2", ">=1.2.3 <3.0.0-0"),  # ... or its major line
        ("* - 2", "<3.0.0-0"),  # no lower end
        ("1.0.0 || >=2.0.0 <3.0.0", "=1.0.0 || >=2.0.0 <3.0.0"),  # OR of alternatives
        ("^1.0.0 || ^2.0.0", ">=1.0.0 <2.0.0-0 || >=2.0.0 <3.0.0-0"),  # OR of carets
        ("1.2.3 - 1.5.0 || 2.x", ">=1.2.3 <=1.5.0 || >=2.0.0 <3.0.0-0"),  # hyphen in an OR
    ],
)
def test_range_desugars_like_npm(text: str, canonical: str) -> None:
    rng = Range.parse(text)
    assert rng.canonical == canonical
    assert str(rng) == text  # str() gives the original text back


@pytest.mark.parametrize(
    ("text", "version", "ok"),
    [
        # the compatibility.yaml examples
        (">=0.5.0 <1.0.0", "0.5.0", True),  # lower bound included
        (">=0.5.0 <1.0.0", "0.9.9", True),  # inside
        (">=0.5.0 <1.0.0", "1.0.0", False),  # upper bound excluded
        (">=0.5.0 <1.0.0", "0.4.9", False),  # below
        (">=0.2.0", "0.2.0", True),
        (">=0.2.0", "v3.0.0", True),  # a v on the candidate is fine
        # every operator
        (">1.2.3", "1.2.3", False),
        (">1.2.3", "1.2.4", True),
        ("<1.2.3", "1.2.2", True),
        ("<1.2.3", "1.2.3", False),
        ("<=1.2.3", "1.2.3", True),
        ("<=1.2.3", "1.2.4", False),
        ("=1.2.3", "1.2.3", True),
        ("=1.2.3", "1.2.4", False),
        ("1.2.3", "1.2.3", True),  # bare = exact
        # caret and tilde bounds
        ("^1.2.3", "1.9.9", True),
        ("^1.2.3", "2.0.0", False),
        ("^1.2.3", "1.2.2", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.3", True),
        ("^0.0.3", "0.0.4", False),
        ("~1.2.3", "1.2.9", True),
        ("~1.2.3", "1.3.0", False),
        # x-ranges and partials
        ("1.x", "1.99.0", True),
        ("1.x", "2.0.0", False),
        ("1.2.x", "1.2.7", True),
        ("1.2.x", "1.3.0", False),
        ("*", "0.0.0", True),
        (">1.2", "1.2.99", False),
        (">1.2", "1.3.0", True),
        ("<=1.2", "1.2.99", True),
        ("<=1.2", "1.3.0", False),
        ("<*", "0.0.0", False),
        # hyphen ranges
        ("1.2.3 - 2.3.4", "1.2.3", True),
        ("1.2.3 - 2.3.4", "2.3.4", True),
        ("1.2.3 - 2.3.4", "2.3.5", False),
        ("1.2.3 - 2.3", "2.3.99", True),
        ("1.2.3 - 2.3", "2.4.0", False),
        # OR
        ("<1.0.0 || >=2.0.0", "1.5.0", False),
        ("<1.0.0 || >=2.0.0", "0.5.0", True),
        ("<1.0.0 || >=2.0.0", "2.1.0", True),
    ],
)
def test_range_satisfied_by(text: str, version: str, ok: bool) -> None:
    assert Range.parse(text).satisfied_by(version) is ok


@pytest.mark.parametrize(
    ("text", "version", "ok"),
    [
        (">=0.5.0 <1.0.0", "0.6.2-dev.5", True),  # a develop build of a compatible line
        (">=0.5.0 <1.0.0", "0.5.0-dev.1", True),  # counts as 0.5.0, the lower bound
        (">=0.5.0 <1.0.0", "1.0.0-rc.1", False),  # an RC of 1.0.0 is 1.0.0: not <1.0.0
        (">=0.5.0 <1.0.0", "0.4.9-dev.3", False),  # a build of a line below the range
        (">=4.0.0", "4.0.0-rc.10", True),  # an RC of the bound itself passes
        ("^4.0.0", "4.0.0-rc.10", True),  # ... also through a caret
        ("4.0.0", "4.0.0-rc.10", True),  # exact match by release part
        ("4.0.0", "4.0.0+build.1", True),  # build metadata ignored
        ("~0.6.0", "0.6.2-dev.5", True),  # tilde line
        ("1.x", "1.0.0-alpha", True),  # x-range
        ("=1.0.0-rc.1", "1.0.0-rc.1", False),  # a prerelease bound: candidate is 1.0.0
        (">=1.0.0-rc.1", "1.0.0-rc.0", True),  # ... which passes any prerelease bound below
    ],
)
def test_range_matches_prereleases_by_release_part(text: str, version: str, ok: bool) -> None:
    assert Range.parse(text).satisfied_by(version) is ok
    # a semver.Version candidate behaves the same as its text
    assert Range.parse(text).satisfied_by(V(version)) is ok


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),  # empty string
        ("   ", "empty"),  # blank
        (">=banana", "banana"),  # not a version
        (">>1.0.0", ">1.0.0"),  # doubled operator
        ("=>1.0.0", ">1.0.0"),  # operator written backwards
        ("1.0.0 ||", "empty alternative"),  # dangling OR
        ("|| 1.0.0", "empty alternative"),  # leading OR
        ("1.0.0 || || 2.0.0", "empty alternative"),  # empty middle alternative
        ("1.0.0 | 2.0.0", "'|'"),  # single pipe
        (">=", "not followed by a version"),  # operator alone
        (">= >= 1.0.0", "another operator"),  # two operators
        ("1.0.0 -", "hyphen range"),  # hyphen without an upper end
        ("- 1.0.0", "hyphen range"),  # hyphen without a lower end
        ("1.0.0 - 2.0.0 - 3.0.0", "hyphen range"),  # two hyphens
        (">=1.0.0 - 2.0.0", ">=1.0.0"),  # operator inside a hyphen range
        ("1.x.3", "number after a wildcard"),  # wildcard then number
        ("1.2.x-rc.1", "prerelease"),  # prerelease on a partial
        ("1.2.3.4", "1.2.3.4"),  # four parts
        (">=1.2.3<2.0.0", "1.2.3<2.0.0"),  # comparators must be space-separated
        ("^", "not followed by a version"),  # caret alone
        ("01.2.3", "01.2.3"),  # leading zero
        ("latest", "latest"),  # a tag name
    ],
)
def test_bad_ranges(text: str, names: str) -> None:
    with pytest.raises(ValueError) as info:
        Range.parse(text)
    assert names in str(info.value)  # the message names the bad part


def test_bad_range_message_quotes_the_range() -> None:
    with pytest.raises(ValueError) as info:
        Range.parse(">=0.5.0 <banana")
    assert str(info.value).startswith("range '>=0.5.0 <banana': ")


def test_satisfied_by_rejects_a_bad_candidate() -> None:
    with pytest.raises(ValueError, match="is not a semantic version"):
        Range.parse("*").satisfied_by("develop")


def test_range_is_a_value() -> None:
    # equal texts parse to equal ranges; different spellings keep their own text
    assert Range.parse("^1.2.3") == Range.parse("^1.2.3")
    assert Range.parse("^1.2.3").canonical == Range.parse(">=1.2.3 <2.0.0-0").canonical
    assert Range.parse("^1.2.3") != Range.parse(">=1.2.3 <2.0.0-0")
