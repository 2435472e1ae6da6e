"""Conventional commits, and the next version release-please would cut from them.

A message is read line by line. Comment lines (``#`` first, as git's default cleanup
drops them) and everything below git's scissors line are ignored. The first line is
the header ``type(scope)!: subject``; a body, if any, starts after one blank line. The
trailing paragraphs that each start with a footer (``Token: value``, ``Token #value``,
``BREAKING CHANGE: ...``) are the footers; a line in them that starts no footer
continues the previous footer's value. A commit is breaking when its header has ``!``
or a ``BREAKING CHANGE:``/``BREAKING-CHANGE:`` line appears below the header (body or
footer: release-please reads both).

Some messages are not conventional and are classified before any of that: merge
commits (``Merge branch ...``, ``Merge pull request #N ...``) are exempt, they pass the
lint and change no version; ``fixup!``/``squash!``/``amend!`` commits and git's own
``Revert "..."`` messages are violations (release-please would skip the revert, so it
must be reworded as ``revert: ...``).

The next version follows release-please's default strategy: every commit has an
effect (breaking: major; feat: minor; fix, perf, revert, deps: patch; other types:
none), with the pre-1.0 options turning breaking into minor and feat into patch; the
bump is the largest effect. Commits whose header is not conventional have no effect.
Without a current version the bump applies to 0.0.0. From a prerelease the bump is
taken as ``npm version`` does (``versions.bump_version``): ``1.2.0-rc.1`` plus a fix or
feat gives ``1.2.0``, plus a breaking change ``2.0.0``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

import semver

from .versions import bump_version

Effect = Literal["major", "minor", "patch", "none"]

DEFAULT_TYPES: tuple[str, ...] = (
    "feat",
    "fix",
    "perf",
    "revert",
    "docs",
    "style",
    "chore",
    "refactor",
    "test",
    "build",
    "ci",
    "deps",
)
PATCH_TYPES = frozenset({"fix", "perf", "revert", "deps"})
BREAKING_TOKENS = frozenset({"BREAKING CHANGE", "BREAKING-CHANGE"})

_RANK: dict[Effect, int] = {"none": 0, "patch": 1, "minor": 2, "major": 3}

_HEADER_FORM = "'type(scope)!: subject', e.g. 'fix(api): handle empty tags'"
_MERGE = re.compile(
    r"Merge (?:branch|branches|remote-tracking branch|pull request|tag|commit"
    r"|[0-9a-f]{7,40}\b)"
)
_AUTOSQUASH = re.compile(r"(fixup|squash|amend)! ")
_GIT_REVERT = re.compile(r'Revert ".*"')
# "BREAKING CHANGE" is the one token with a space, and it must be uppercase (the
# conventional commits spec); other tokens are one word, any case.
_FOOTER = re.compile(r"(?P<token>BREAKING CHANGE|[A-Za-z][A-Za-z0-9-]*)(?:: | #)(?P<value>.*)")
_TYPE = re.compile(r"[^(!:\s]*")
_BREAKING_LINE = re.compile(r"BREAKING[ -]CHANGE: ")
_SCISSORS = re.compile(r"# -+ >8 -+")


@dataclass(frozen=True)
class ConventionalCommit:
    """One parsed message: ``type(scope)!: subject``, body and footers."""

    type: str
    scope: str | None
    breaking: bool
    subject: str
    body: str = ""
    footers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Reading:
    """What one message turned out to be: a commit (when its header parses) and problems."""

    commit: ConventionalCommit | None
    problems: list[str]
    exempt: bool = False


def parse_message(message: str, *, types: Collection[str] = DEFAULT_TYPES) -> ConventionalCommit:
    """The conventional commit in ``message``; ValueError saying everything that is wrong."""
    reading = _read(message, types)
    if reading.exempt:
        raise ValueError(f"{_first_line(message)!r} is a merge commit, not a conventional commit")
    if reading.problems or reading.commit is None:
        raise ValueError("; ".join(reading.problems))
    return reading.commit


def lint_message(message: str, *, types: Collection[str] = DEFAULT_TYPES) -> list[str]:
    """What is wrong with ``message`` as a conventional commit; empty when it is fine."""
    return _read(message, types).problems


def is_merge(message: str) -> bool:
    """Whether ``message`` is a merge commit's generated message (exempt from the lint)."""
    return bool(_MERGE.match(_first_line(message)))


def effect_of(
    commit: ConventionalCommit,
    current: semver.Version,
    *,
    bump_minor_pre_major: bool = False,
    bump_patch_for_minor_pre_major: bool = False,
) -> Effect:
    """What ``commit`` does to the version after ``current``, by release-please's rules."""
    pre_major = current.major == 0
    if commit.breaking:
        return "minor" if pre_major and bump_minor_pre_major else "major"
    if commit.type == "feat":
        return "patch" if pre_major and bump_patch_for_minor_pre_major else "minor"
    if commit.type in PATCH_TYPES:
        return "patch"
    return "none"


@dataclass(frozen=True)
class CommitEffect:
    """One row of a next-version report; ``subject`` is the message's first line."""

    sha: str
    subject: str
    effect: Effect
    type: str | None = None
    breaking: bool = False
    error: str | None = None  # why the message is not a clean conventional commit

    @property
    def conventional(self) -> bool:
        return self.type is not None


@dataclass(frozen=True)
class NextVersion:
    """The version release-please would cut next (``next`` is None when nothing bumps)."""

    current: str | None
    next: str | None
    bump: Effect
    commits: list[CommitEffect] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The ``release.next-version --json`` document (SPEC §5), with extra fields."""
        return {
            "current": self.current,
            "next": self.next,
            "bump": self.bump,
            "commits": [
                {
                    "sha": c.sha,
                    "subject": c.subject,
                    "effect": c.effect,
                    "type": c.type,
                    "breaking": c.breaking,
                    "error": c.error,
                }
                for c in self.commits
            ],
        }


def next_version(
    current: semver.Version | None,
    messages: Sequence[tuple[str, str]],
    *,
    bump_minor_pre_major: bool = False,
    bump_patch_for_minor_pre_major: bool = False,
    types: Collection[str] = DEFAULT_TYPES,
) -> NextVersion:
    """The next release after ``current`` given the ``(sha, message)`` pairs since it.

    The order of ``messages`` does not matter for the version; the rows keep it. A
    commit whose header is conventional counts even when the lint has complaints about
    the rest of it (the complaint is in its ``error``); merges, autosquash commits and
    anything else without a conventional header count as ``none``.
    """
    base = current if current is not None else semver.Version(0, 0, 0)
    rows: list[CommitEffect] = []
    bump: Effect = "none"
    for sha, message in messages:
        reading = _read(message, types)
        error = "; ".join(reading.problems) or None
        commit = reading.commit
        if commit is None:
            rows.append(CommitEffect(sha, _first_line(message), "none", error=error))
            continue
        effect = effect_of(
            commit,
            base,
            bump_minor_pre_major=bump_minor_pre_major,
            bump_patch_for_minor_pre_major=bump_patch_for_minor_pre_major,
        )
        rows.append(
            CommitEffect(sha, _first_line(message), effect, commit.type, commit.breaking, error)
        )
        if _RANK[effect] > _RANK[bump]:
            bump = effect
    following = None if bump == "none" else str(bump_version(base, bump))
    return NextVersion(
        current=str(current) if current is not None else None,
        next=following,
        bump=bump,
        commits=rows,
    )


# --- reading a message ----------------------------------------------------------------


def _lines(message: str) -> list[str]:
    """The message as git would store it: no comments, nothing below the scissors."""
    out: list[str] = []
    for line in message.splitlines():
        if _SCISSORS.fullmatch(line.rstrip()):
            break
        if not line.startswith("#"):
            out.append(line.rstrip())
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def _first_line(message: str) -> str:
    lines = _lines(message)
    return lines[0] if lines else ""


def _read(message: str, types: Collection[str]) -> _Reading:
    lines = _lines(message)
    if not lines:
        return _Reading(None, ["the commit message is empty"])
    header = lines[0]
    if _MERGE.match(header):
        return _Reading(None, [], exempt=True)
    autosquash = _AUTOSQUASH.match(header)
    if autosquash:
        word = autosquash.group(1)
        return _Reading(
            None,
            [
                f"{word}! commit {header!r} must be squashed before it lands "
                "(git rebase -i --autosquash)"
            ],
        )
    if _GIT_REVERT.fullmatch(header):
        return _Reading(
            None,
            [
                f"{header!r} is git's revert message, which release-please skips; "
                "reword it as 'revert: <the reverted header>'"
            ],
        )

    parsed = _parse_header(header, types)
    if isinstance(parsed, list):
        return _Reading(None, parsed)
    type_, scope, bang, subject = parsed

    problems: list[str] = []
    if len(lines) > 1 and lines[1]:
        problems.append("the body must be separated from the header by a blank line")
        rest = lines[1:]
    else:
        rest = lines[2:]
    body_lines, footers = _split_footers(rest)
    breaking = (
        bang
        or any(token in BREAKING_TOKENS for token, _ in footers)
        or any(_BREAKING_LINE.match(line) for line in body_lines)
    )
    commit = ConventionalCommit(
        type=type_,
        scope=scope,
        breaking=breaking,
        subject=subject,
        body="\n".join(body_lines).strip("\n"),
        footers=footers,
    )
    return _Reading(commit, problems)


def _parse_header(
    header: str, types: Collection[str]
) -> tuple[str, str | None, bool, str] | list[str]:
    """``(type, scope, bang, subject)`` of a header, or the list of what is wrong with it."""
    if ":" not in header:
        return [f"header {header!r} is not a conventional commit header (expected {_HEADER_FORM})"]
    match = _TYPE.match(header)
    type_ = match.group() if match else ""
    pos = len(type_)
    problems: list[str] = []
    if not type_:
        return [f"header {header!r} does not start with a type (expected {_HEADER_FORM})"]
    if not re.fullmatch(r"[a-z]+", type_):
        problems.append(f"type {type_!r} must be lowercase letters only")
    elif type_ not in types:
        problems.append(f"type {type_!r} is not one of: {', '.join(sorted(types))}")

    scope: str | None = None
    if header.startswith("(", pos):
        close = header.find(")", pos)
        if close < 0:
            return [*problems, f"scope in {header!r} is not closed with ')'"]
        scope = header[pos + 1 : close]
        pos = close + 1
        if "(" in scope:
            return [*problems, f"scope in {header!r} must not contain parentheses"]
        if not scope.strip():
            problems.append("scope is empty (leave out the parentheses for no scope)")
    bang = header.startswith("!", pos)
    if bang:
        pos += 1

    if not header.startswith(":", pos):
        problems.append(
            f"expected ': ' after {header[:pos]!r}, found {header[pos : pos + 10]!r} "
            f"(expected {_HEADER_FORM})"
        )
        return problems
    subject = header[pos + 1 :]
    if not subject.strip():
        problems.append("the subject after ': ' is empty")
    elif not subject.startswith(" ") or subject.startswith("  "):
        problems.append(f"expected exactly one space after the ':' in {header!r}")
    if problems:
        return problems
    return type_, scope, bang, subject[1:]


def _split_footers(lines: list[str]) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """The body lines and the footers of what follows the header."""
    # Paragraph starts, last first: footers are the trailing paragraphs that each open
    # with a footer token.
    starts = [i for i, line in enumerate(lines) if line and (i == 0 or not lines[i - 1])]
    first_footer = len(lines)
    for start in reversed(starts):
        if not _is_footer_start(lines[start]):
            break
        first_footer = start
    footers: list[tuple[str, str]] = []
    for line in lines[first_footer:]:
        match = _FOOTER.fullmatch(line)
        if match:
            footers.append((match["token"], match["value"]))
        elif line and footers:
            token, value = footers[-1]
            footers[-1] = (token, f"{value}\n{line}")
    return lines[:first_footer], tuple(footers)


def _is_footer_start(line: str) -> bool:
    return _FOOTER.fullmatch(line) is not None
