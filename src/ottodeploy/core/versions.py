"""Version arithmetic: parsing, tags, versions of branch builds, npm-style ranges.

Versions are strict semantic versions (``X.Y.Z`` with an optional prerelease and
build) as the ``semver`` package reads them; a single leading ``v`` is accepted, as in
tag names. A tag names a version when it is ``vX.Y.Z`` or ``X.Y.Z``; of several tags
on one commit the highest version wins (a release beats its own prereleases) and
``v1.2.3`` beats a plain ``1.2.3``.

A branch build is versioned from its nearest tag and the number of commits since it
(SPEC §3): on the tag itself the tag's version, after a release ``X.Y.Z`` the next
patch's dev prerelease ``X.Y.(Z+1)-dev.N``, after a prerelease ``X.Y.Z-P`` the
version ``X.Y.Z-P.dev.N``, and without any tag ``0.0.0-dev.N``. Each of these sorts
after the tag it counts from and before the next release.

Ranges follow npm: ``||`` separates alternatives, whitespace-separated comparators
inside one are ANDed. ``^``, ``~``, x-ranges (``1.2.x``, ``1``, ``*``), partial
versions after an operator (``>=1.2``) and hyphen ranges (``1.2 - 2``) are first
rewritten into plain comparators exactly as npm's ``semver`` does (so ``^0.2.3`` is
``>=0.2.3 <0.3.0-0``). A candidate is then compared by its release part only: its
prerelease and build are dropped, so ``0.6.2-dev.5`` and ``0.6.2-rc.1`` both count as
``0.6.2`` (SPEC §3). A bound that itself names a prerelease is kept as written, so
``=1.0.0-rc.1`` matches nothing and ``>=1.0.0-rc.1`` accepts ``1.0.0-rc.0``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import semver

Part = Literal["major", "minor", "patch"]
Operator = Literal[">=", ">", "<=", "<", "="]

_TAG_REFS_PREFIX = "refs/tags/"


def parse_version(text: str) -> semver.Version:
    """``1.2.3``, ``v1.2.3``, ``1.2.3-rc.1+build.7``; anything else is a ValueError."""
    body = text[1:] if text.startswith("v") else text
    try:
        return semver.Version.parse(body)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a semantic version (expected X.Y.Z, optionally with a leading v)"
        ) from None


def normalize_version(text: str) -> str:
    """The canonical spelling of a version: ``v0.6.1`` -> ``0.6.1``."""
    return str(parse_version(text))


def release_part(version: semver.Version) -> semver.Version:
    """``X.Y.Z`` of a version, without prerelease and build."""
    return semver.Version(version.major, version.minor, version.patch)


def tag_version(tag_name: str) -> semver.Version | None:
    """The version a tag names (``v1.2.3``, ``1.2.3-rc.1``), or None for any other tag.

    A full ref name (``refs/tags/v1.2.3``) is accepted too.
    """
    try:
        return parse_version(_bare_tag(tag_name))
    except ValueError:
        return None


def best_tag(tag_names: Iterable[str]) -> tuple[str, semver.Version] | None:
    """The tag that names one commit's version, among all the tags on that commit.

    The highest version wins; for the same version ``v1.2.3`` is preferred over
    ``1.2.3``, then the shortest name (no build metadata), then the smallest name, so
    the answer never depends on the order the tags were listed in. Tags that are not
    versions are ignored; None when no tag is a version.
    """
    candidates = [(name, v) for name in tag_names if (v := tag_version(name)) is not None]
    if not candidates:
        return None
    top = max(version for _, version in candidates)
    tied = [c for c in candidates if c[1] == top]  # equal up to build metadata
    return min(tied, key=lambda c: _tie_break(_bare_tag(c[0])))


def _tie_break(name: str) -> tuple[bool, int, str]:
    return (not name.startswith("v"), len(name), name)


def _bare_tag(name: str) -> str:
    return name.removeprefix(_TAG_REFS_PREFIX)


def dev_version(base: semver.Version | None, commits_since: int) -> str:
    """The version of a build ``commits_since`` commits after the tag ``base`` (SPEC §3).

    ``base`` is the version of the nearest reachable tag, None when there is none (then
    ``commits_since`` counts every commit). Build metadata is dropped.
    """
    if commits_since < 0:
        raise ValueError(f"commits since the tag cannot be negative (got {commits_since})")
    if base is None:
        return f"0.0.0-dev.{commits_since}"
    if commits_since == 0:
        return str(base.replace(build=None))
    if base.prerelease:
        return f"{base.major}.{base.minor}.{base.patch}-{base.prerelease}.dev.{commits_since}"
    return f"{base.major}.{base.minor}.{base.patch + 1}-dev.{commits_since}"


def bump_version(version: semver.Version, part: Part) -> semver.Version:
    """The next release after ``version`` for a ``part`` bump, as ``npm version`` does.

    From a release the part is incremented and the lower parts reset. A prerelease
    ``X.Y.Z-P`` is already on its way to ``X.Y.Z``: when that release is at least the
    requested bump (a patch bump; a minor bump with Z = 0; a major bump with
    Y = Z = 0) the answer is ``X.Y.Z``, otherwise the release part is bumped
    (``1.2.1-rc.1`` + minor -> ``1.3.0``, ``2.0.0-rc.1`` + major -> ``2.0.0``).
    """
    release = release_part(version)
    if version.prerelease and (
        part == "patch"
        or (part == "minor" and version.patch == 0)
        or (part == "major" and version.minor == 0 and version.patch == 0)
    ):
        return release
    if part == "major":
        return release.bump_major()
    if part == "minor":
        return release.bump_minor()
    return release.bump_patch()


# --- ranges --------------------------------------------------------------------------

_NUM = r"0|[1-9]\d*"
_XR = rf"(?:{_NUM}|[xX*])"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_PARTIAL = re.compile(
    rf"v?(?P<major>{_XR})(?:\.(?P<minor>{_XR})(?:\.(?P<patch>{_XR})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?"
)
_OPERATOR = re.compile(r">=|<=|>|<|=|~>|~|\^")
_PLAIN_OPERATORS: dict[str, Operator] = {">=": ">=", ">": ">", "<=": "<=", "<": "<", "=": "="}

_NEVER = semver.Version(0, 0, 0, "0")
_TESTS: dict[str, Callable[[semver.Version, semver.Version], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
}


@dataclass(frozen=True)
class _Partial:
    """A version in a range where a missing or ``x`` part is None: ``1.2`` = (1, 2, None)."""

    major: int | None
    minor: int | None
    patch: int | None
    prerelease: str | None

    def full(self) -> semver.Version:
        return semver.Version(self.major or 0, self.minor or 0, self.patch or 0, self.prerelease)


@dataclass(frozen=True)
class Comparator:
    """One plain comparison, ``>=0.5.0``, that every range is rewritten into."""

    op: Operator
    version: semver.Version

    def test(self, version: semver.Version) -> bool:
        return _TESTS[self.op](version, self.version)

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True)
class Range:
    """An npm-style version range, as written in compatibility.yaml.

    ``alternatives`` holds one tuple of comparators per ``||`` branch; an empty tuple
    accepts every version.
    """

    text: str
    alternatives: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        if not text.strip():
            raise ValueError("empty version range (write '*' to accept any version)")
        alternatives = []
        for alternative in text.split("||"):
            if not alternative.strip():
                raise ValueError(f"range {text!r} has an empty alternative around '||'")
            try:
                alternatives.append(_parse_alternative(alternative))
            except ValueError as exc:
                raise ValueError(f"range {text!r}: {exc}") from None
        return cls(text, tuple(alternatives))

    def satisfied_by(self, version: str | semver.Version) -> bool:
        """Whether ``version``'s release part (prerelease and build dropped) is in range."""
        candidate = parse_version(version) if isinstance(version, str) else version
        release = release_part(candidate)
        return any(all(c.test(release) for c in alt) for alt in self.alternatives)

    @property
    def canonical(self) -> str:
        """The range as plain comparators, ``^0.2.3`` -> ``>=0.2.3 <0.3.0-0``."""
        return " || ".join(" ".join(map(str, alt)) or "*" for alt in self.alternatives)

    def __str__(self) -> str:
        return self.text


def _parse_alternative(text: str) -> tuple[Comparator, ...]:
    # Glue a lone operator to the version after it: ">= 1.2.3" is ">=1.2.3", as in npm.
    tokens: list[str] = []
    pending = ""
    for word in text.split():
        if _OPERATOR.fullmatch(word):
            if pending:
                raise ValueError(f"operator {pending!r} is followed by another operator")
            pending = word
            continue
        tokens.append(pending + word)
        pending = ""
    if pending:
        raise ValueError(f"operator {pending!r} is not followed by a version")

    if "-" in tokens:
        if len(tokens) != 3 or tokens[1] != "-":
            raise ValueError(f"{text.strip()!r}: a hyphen range is 'A - B' and nothing else")
        return _hyphen(_partial(tokens[0]), _partial(tokens[2]))

    out: list[Comparator] = []
    for token in tokens:
        out.extend(_comparators(token))
    return tuple(out)


def _partial(text: str) -> _Partial:
    match = _PARTIAL.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a version or version pattern")
    parts = [match["major"], match["minor"], match["patch"]]
    numbers: list[int | None] = []
    for part in parts:
        if part is None or part in ("x", "X", "*"):
            numbers.append(None)
        elif numbers and numbers[-1] is None:
            raise ValueError(f"{text!r} has a number after a wildcard")
        else:
            numbers.append(int(part))
    if (match["pre"] or match["build"]) and numbers[2] is None:
        raise ValueError(f"{text!r} has a prerelease or build without a full X.Y.Z")
    return _Partial(numbers[0], numbers[1], numbers[2], match["pre"])


def _comparators(token: str) -> list[Comparator]:
    match = _OPERATOR.match(token)
    op = match.group() if match else ""
    try:
        partial = _partial(token[len(op) :])
    except ValueError as exc:
        raise ValueError(f"{exc} (in {token!r})" if op else str(exc)) from None
    if op == "^":
        return _caret(partial)
    if op in ("~", "~>"):
        return _tilde(partial)
    return _xrange(op, partial)


def _caret(p: _Partial) -> list[Comparator]:
    """``^``: changes that do not modify the left-most non-zero part (npm)."""
    if p.major is None:
        return []
    if p.minor is None:
        return [_ge(p.major, 0, 0), _lt(p.major + 1, 0, 0)]
    if p.patch is None:
        upper = (0, p.minor + 1, 0) if p.major == 0 else (p.major + 1, 0, 0)
        return [_ge(p.major, p.minor, 0), _lt(*upper)]
    if p.major == 0 and p.minor == 0:
        upper = (0, 0, p.patch + 1)
    elif p.major == 0:
        upper = (0, p.minor + 1, 0)
    else:
        upper = (p.major + 1, 0, 0)
    return [Comparator(">=", p.full()), _lt(*upper)]


def _tilde(p: _Partial) -> list[Comparator]:
    """``~``: patch-level changes when a minor is given, minor-level otherwise (npm)."""
    if p.major is None:
        return []
    if p.minor is None:
        return [_ge(p.major, 0, 0), _lt(p.major + 1, 0, 0)]
    return [Comparator(">=", p.full()), _lt(p.major, p.minor + 1, 0)]


def _xrange(op: str, p: _Partial) -> list[Comparator]:
    """A plain comparator or x-range: ``1.2.3``, ``>=1.2``, ``<=1.x``, ``1.*``, ``*`` (npm)."""
    if p.major is not None and p.minor is not None and p.patch is not None:
        return [Comparator(_PLAIN_OPERATORS[op or "="], p.full())]
    if p.major is None:
        # ">*" and "<*" accept nothing; every other operator with "*" accepts anything.
        return [Comparator("<", _NEVER)] if op in (">", "<") else []
    major, minor = p.major, p.minor
    if op in ("", "="):
        if minor is None:
            return [_ge(major, 0, 0), _lt(major + 1, 0, 0)]
        return [_ge(major, minor, 0), _lt(major, minor + 1, 0)]
    if op == ">":  # >1 is >=2.0.0, >1.2 is >=1.3.0
        return [_ge(major + 1, 0, 0) if minor is None else _ge(major, minor + 1, 0)]
    if op == "<=":  # <=1 is <2.0.0-0, <=1.2 is <1.3.0-0
        return [_lt(major + 1, 0, 0) if minor is None else _lt(major, minor + 1, 0)]
    if op == "<":  # <1.2 is <1.2.0-0
        return [_lt(major, minor or 0, 0)]
    return [_ge(major, minor or 0, 0)]  # >=1.2 is >=1.2.0


def _hyphen(low: _Partial, high: _Partial) -> tuple[Comparator, ...]:
    """``A - B``: inclusive at both ends; a partial upper end takes its whole line (npm)."""
    out: list[Comparator] = []
    if low.major is not None:
        out.append(Comparator(">=", low.full()))
    if high.major is None:
        pass
    elif high.minor is None:
        out.append(_lt(high.major + 1, 0, 0))
    elif high.patch is None:
        out.append(_lt(high.major, high.minor + 1, 0))
    else:
        out.append(Comparator("<=", high.full()))
    return tuple(out)


def _ge(major: int, minor: int, patch: int) -> Comparator:
    return Comparator(">=", semver.Version(major, minor, patch))


def _lt(major: int, minor: int, patch: int) -> Comparator:
    # "-0" is the lowest prerelease of a version, so "<2.0.0-0" excludes 2.0.0's
    # prereleases too (npm's bound; candidates are release parts here anyway).
    return Comparator("<", semver.Version(major, minor, patch, "0"))
