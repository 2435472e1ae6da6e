"""Conventional commits and release-please's next version (DESIGN.md §2)."""

from __future__ import annotations

import pytest
import semver

from ottodeploy.core.commits import (
    DEFAULT_TYPES,
    ConventionalCommit,
    Effect,
    NextVersion,
    effect_of,
    is_merge,
    lint_message,
    next_version,
    parse_message,
)

V = semver.Version.parse


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # the simplest header
        ("feat: add x", ConventionalCommit("feat", None, False, "add x")),
        # a scope
        (
            "fix(api): handle empty tags",
            ConventionalCommit("fix", "api", False, "handle empty tags"),
        ),
        # breaking via "!"
        ("feat!: drop v1 api", ConventionalCommit("feat", None, True, "drop v1 api")),
        # scope and "!"
        ("refactor(core)!: rename", ConventionalCommit("refactor", "core", True, "rename")),
        # a scope with a slash, a dot and a dash
        (
            "chore(deps/sbt-plugin.x): bump",
            ConventionalCommit("chore", "deps/sbt-plugin.x", False, "bump"),
        ),
        # a colon inside the subject stays in the subject
        ("docs: explain a: b", ConventionalCommit("docs", None, False, "explain a: b")),
        # a trailing newline (as git log prints) is not part of the subject
        ("ci: cache sbt\n", ConventionalCommit("ci", None, False, "cache sbt")),
        # every default type parses
        *[(f"{t}: x", ConventionalCommit(t, None, False, "x")) for t in DEFAULT_TYPES],
    ],
)
def test_parse_header(message: str, expected: ConventionalCommit) -> None:
    assert parse_message(message) == expected
    assert lint_message(message) == []


def test_parse_body_and_footers() -> None:
    # body paragraphs, then footers of every form; a line that starts no footer
    # continues the previous footer's value
    message = (
        "feat(sdk): add typed snapshots\n"
        "\n"
        "First paragraph\n"
        "still first.\n"
        "\n"
        "Second paragraph.\n"
        "\n"
        "Refs #123\n"
        "Reviewed-by: Ada Lovelace\n"
        "Co-authored-by: Bob <bob@example.com>\n"
        "Note: this note\n"
        "spans two lines\n"
    )
    commit = parse_message(message)
    assert commit.type == "feat"
    assert commit.scope == "sdk"
    assert commit.subject == "add typed snapshots"
    assert commit.body == "First paragraph\nstill first.\n\nSecond paragraph."
    assert commit.footers == (
        ("Refs", "123"),
        ("Reviewed-by", "Ada Lovelace"),
        ("Co-authored-by", "Bob <bob@example.com>"),
        ("Note", "this note\nspans two lines"),
    )
    assert commit.breaking is False


@pytest.mark.parametrize(
    ("message", "breaking", "footers"),
    [
        # BREAKING CHANGE footer after a body
        (
            "fix: x\n\nbody\n\nBREAKING CHANGE: the api moved",
            True,
            (("BREAKING CHANGE", "the api moved"),),
        ),
        # the hyphenated synonym
        ("fix: x\n\nBREAKING-CHANGE: gone", True, (("BREAKING-CHANGE", "gone"),)),
        # footers only, no body
        (
            "chore: x\n\nBREAKING CHANGE: node 18\nRefs: #4",
            True,
            (("BREAKING CHANGE", "node 18"), ("Refs", "#4")),
        ),
        # footer paragraphs separated by a blank line are all footers
        (
            "fix: x\n\nBREAKING CHANGE: a\n\nRefs #9",
            True,
            (("BREAKING CHANGE", "a"), ("Refs", "9")),
        ),
        # BREAKING CHANGE in the body, followed by prose: still breaking (release-please)
        ("fix: x\n\nBREAKING CHANGE: a\n\nmore explanation", True, ()),
        # "!" and a footer together
        ("feat!: x\n\nBREAKING CHANGE: y", True, (("BREAKING CHANGE", "y"),)),
        # lowercase "breaking change" is not the token (it must be uppercase)
        ("fix: x\n\nbreaking change: not really", False, ()),
        # lowercase hyphenated token is an ordinary footer, not a breaking one
        ("fix: x\n\nbreaking-change: no", False, (("breaking-change", "no"),)),
        # the words mid-line are just prose
        ("fix: x\n\nthis is not a BREAKING CHANGE: at all", False, ()),
    ],
)
def test_breaking_changes(
    message: str, breaking: bool, footers: tuple[tuple[str, str], ...]
) -> None:
    commit = parse_message(message)
    assert commit.breaking is breaking
    assert commit.footers == footers


def test_a_footer_like_line_inside_the_body_stays_body() -> None:
    # "Example: ..." opens a middle paragraph; the last paragraph is prose, so neither
    # is a footer
    commit = parse_message("docs: x\n\nExample: foo\n\nAnd then prose.")
    assert commit.footers == ()
    assert commit.body == "Example: foo\n\nAnd then prose."


def test_comments_and_scissors_are_ignored() -> None:
    # what git's editor template leaves in a commit-msg hook's file
    message = (
        "fix: z\n"
        "# Please enter the commit message for your changes.\n"
        "\n"
        "Body.\n"
        "# ------------------------ >8 ------------------------\n"
        "diff --git a/x b/x\n"
    )
    commit = parse_message(message)
    assert commit.subject == "z"
    assert commit.body == "Body."


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("", "empty"),  # nothing
        ("\n\n# only a comment\n", "empty"),  # only a comment
        ("added stuff", "not a conventional commit header"),  # no type at all
        ("Feat: x", "lowercase"),  # uppercase type
        ("feat2: x", "lowercase"),  # digits in the type
        ("feature: x", "not one of"),  # unknown type
        ("wip: x", "not one of"),  # another unknown type
        ("feat(): x", "scope is empty"),  # empty scope
        ("feat( ): x", "scope is empty"),  # blank scope
        ("feat(a(b)): x", "parentheses"),  # nested parentheses
        ("feat(api: x", "not closed"),  # unclosed scope
        ("feat(a)(b): x", "expected ': '"),  # two scopes
        ("feat : x", "expected ': '"),  # space before the colon
        ("feat!!: x", "expected ': '"),  # doubled bang
        ("feat:x", "exactly one space"),  # no space after the colon
        ("feat:  x", "exactly one space"),  # two spaces after the colon
        ("feat: ", "subject"),  # empty subject
        ("feat:", "subject"),  # no subject
        (": x", "does not start with a type"),  # missing type
        ("feat: x\nbody right away", "blank line"),  # body glued to the header
        ("fixup! feat: x", "squashed"),  # autosquash leftovers are violations
        ("squash! fix: y", "squashed"),
        ("amend! fix: y", "squashed"),
        ('Revert "feat: x"\n\nThis reverts commit abc1234.', "revert:"),  # git's revert
    ],
)
def test_lint_problems(message: str, problem: str) -> None:
    problems = lint_message(message)
    assert problems, message
    assert any(problem in p for p in problems), problems
    with pytest.raises(ValueError) as info:
        parse_message(message)
    assert problem in str(info.value)


def test_lint_reports_every_problem_of_a_header() -> None:
    # an uppercase type and an empty scope are both reported
    problems = lint_message("Feat(): x")
    assert len(problems) == 2
    assert "lowercase" in problems[0]
    assert "scope is empty" in problems[1]


@pytest.mark.parametrize(
    "message",
    [
        "Merge branch 'feat/a' into develop",  # local merge
        "Merge pull request #42 from org/feat/x\n\nfeat: x",  # GitHub merge
        "Merge remote-tracking branch 'origin/develop'",  # pull with merge
        "Merge tag 'v1.2.3'",  # merging a tag
        "Merge 1a2b3c4 into 5d6e7f8",  # GitHub's PR test merge
    ],
)
def test_merges_are_exempt(message: str) -> None:
    assert is_merge(message)
    assert lint_message(message) == []
    with pytest.raises(ValueError, match="merge commit"):
        parse_message(message)
    row = next_version(V("1.0.0"), [("abc", message)]).commits[0]
    assert (row.effect, row.error, row.conventional) == ("none", None, False)


@pytest.mark.parametrize(
    "message",
    [
        "Merged stuff",  # not git's wording
        "merge: x",  # a type, not a merge
        "Merge the feature",  # prose
    ],
)
def test_lookalike_merges_are_not_exempt(message: str) -> None:
    assert not is_merge(message)
    assert lint_message(message)


def test_types_can_be_overridden() -> None:
    # a project that allows "feature" but not "feat"
    assert lint_message("feature: x", types={"feature", "fix"}) == []
    assert "not one of: feature, fix" in lint_message("feat: x", types={"feature", "fix"})[0]
    assert parse_message("feature: x", types=["feature"]).type == "feature"


# --- effects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "effect"),
    [
        ("feat: x", "minor"),  # feature
        ("fix: x", "patch"),  # fix
        ("perf: x", "patch"),  # performance
        ("revert: feat: x", "patch"),  # a conventional revert
        ("deps: bump tessellation", "patch"),  # dependency update
        ("docs: x", "none"),  # hidden types bump nothing
        ("style: x", "none"),
        ("chore: x", "none"),
        ("refactor: x", "none"),
        ("test: x", "none"),
        ("build: x", "none"),
        ("ci: x", "none"),
        ("feat!: x", "major"),  # breaking via "!"
        ("chore!: drop node 16", "major"),  # breaking wins even on a hidden type
        ("fix: x\n\nBREAKING CHANGE: y", "major"),  # breaking via footer
    ],
)
def test_effect_of_after_1_0(message: str, effect: Effect) -> None:
    assert effect_of(parse_message(message), V("1.4.2")) == effect


@pytest.mark.parametrize(
    ("message", "current", "minor_pre_major", "patch_for_minor", "effect"),
    [
        ("feat!: x", "0.6.1", False, False, "major"),  # no options: breaking is major
        ("feat!: x", "0.6.1", True, False, "minor"),  # bump-minor-pre-major
        ("feat!: x", "1.6.1", True, False, "major"),  # ... only before 1.0
        ("feat: x", "0.6.1", False, False, "minor"),  # no options: feat is minor
        ("feat: x", "0.6.1", False, True, "patch"),  # bump-patch-for-minor-pre-major
        ("feat: x", "1.6.1", False, True, "minor"),  # ... only before 1.0
        ("feat!: x", "0.6.1", True, True, "minor"),  # both: breaking minor
        ("feat: x", "0.6.1", True, True, "patch"),  # both: feat patch
        ("fix: x", "0.6.1", True, True, "patch"),  # fixes unaffected
        ("feat!: x", "0.9.0-rc.1", True, False, "minor"),  # a 0.x prerelease is pre-major
    ],
)
def test_effect_of_pre_1_0(
    message: str, current: str, minor_pre_major: bool, patch_for_minor: bool, effect: Effect
) -> None:
    commit = parse_message(message)
    got = effect_of(
        commit,
        V(current),
        bump_minor_pre_major=minor_pre_major,
        bump_patch_for_minor_pre_major=patch_for_minor,
    )
    assert got == effect


# --- next version --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "messages", "bump", "next_"),
    [
        ("1.2.3", ["fix: a"], "patch", "1.2.4"),  # one fix
        ("1.2.3", ["fix: a", "feat: b"], "minor", "1.3.0"),  # the largest effect wins
        ("1.2.3", ["feat: b", "fix: a"], "minor", "1.3.0"),  # in any order
        ("1.2.3", ["fix: a", "feat!: b", "feat: c"], "major", "2.0.0"),  # breaking
        ("1.2.3", ["docs: a", "chore: b"], "none", None),  # nothing releasable
        ("1.2.3", [], "none", None),  # no commits at all
        ("1.2.3", ["wip", "Merge branch 'x'"], "none", None),  # nothing conventional
        ("0.6.1", ["feat!: b"], "major", "1.0.0"),  # pre-1.0 without options
        ("1.2.0-rc.1", ["fix: a"], "patch", "1.2.0"),  # prerelease: finish it
        ("1.2.0-rc.1", ["feat: a"], "minor", "1.2.0"),  # 1.2.0 already is the minor
        ("1.2.0-rc.1", ["feat!: a"], "major", "2.0.0"),  # a major goes past it
        ("1.2.1-rc.1", ["feat: a"], "minor", "1.3.0"),  # 1.2.1 is not a minor bump
        ("1.2.3+build.5", ["fix: a"], "patch", "1.2.4"),  # build metadata dropped
    ],
)
def test_next_version(current: str, messages: list[str], bump: Effect, next_: str | None) -> None:
    result = next_version(V(current), [(f"sha{i}", m) for i, m in enumerate(messages)])
    assert result.current == current
    assert result.bump == bump
    assert result.next == next_


@pytest.mark.parametrize(
    ("messages", "minor_pre_major", "patch_for_minor", "bump", "next_"),
    [
        (["fix: a"], False, False, "patch", "0.0.1"),  # first release from a fix
        (["feat: a"], False, False, "minor", "0.1.0"),  # from a feature
        (["feat!: a"], False, False, "major", "1.0.0"),  # from a breaking change
        (["feat!: a"], True, False, "minor", "0.1.0"),  # 0.0.0 is pre-major
        (["feat: a"], False, True, "patch", "0.0.1"),  # ... for both options
        (["chore: a"], False, False, "none", None),  # nothing to release yet
    ],
)
def test_next_version_without_a_tag(
    messages: list[str],
    minor_pre_major: bool,
    patch_for_minor: bool,
    bump: Effect,
    next_: str | None,
) -> None:
    result = next_version(
        None,
        [("s", m) for m in messages],
        bump_minor_pre_major=minor_pre_major,
        bump_patch_for_minor_pre_major=patch_for_minor,
    )
    assert result.current is None
    assert (result.bump, result.next) == (bump, next_)


def test_next_version_pre_major_options() -> None:
    # the options reach effect_of: a breaking change on 0.6.1 is a minor bump
    messages = [("a", "feat!: new snapshot format"), ("b", "fix: x")]
    assert next_version(V("0.6.1"), messages, bump_minor_pre_major=True).next == "0.7.0"
    assert next_version(
        V("0.6.1"), [("a", "feat: x")], bump_patch_for_minor_pre_major=True
    ).next == ("0.6.2")


def test_next_version_rows_cover_every_commit() -> None:
    messages = [
        ("c4", "feat(sdk)!: typed snapshots\n\nBREAKING CHANGE: old types gone"),
        ("c3", "Merge pull request #7 from org/fix-x"),
        ("c2", "quick fix"),
        ("c1", "fix: handle x\nno blank line"),
        ("c0", "fixup! fix: handle x"),
    ]
    result = next_version(V("1.0.0"), messages)
    assert result.bump == "major"
    assert result.next == "2.0.0"
    rows = {row.sha: row for row in result.commits}
    assert [row.sha for row in result.commits] == ["c4", "c3", "c2", "c1", "c0"]  # order kept
    # a clean breaking feature
    assert (rows["c4"].subject, rows["c4"].effect, rows["c4"].breaking) == (
        "feat(sdk)!: typed snapshots",
        "major",
        True,
    )
    assert rows["c4"].error is None
    # a merge: exempt, no effect, no error
    assert (rows["c3"].effect, rows["c3"].error) == ("none", None)
    # not conventional: no effect, an error saying why
    assert rows["c2"].effect == "none"
    assert rows["c2"].type is None
    assert rows["c2"].error is not None
    assert "not a conventional commit header" in rows["c2"].error
    # a conventional header with a layout problem still counts, and says what is wrong
    assert rows["c1"].effect == "patch"
    assert rows["c1"].error is not None
    assert "blank line" in rows["c1"].error
    # an autosquash leftover counts for nothing and is flagged
    assert rows["c0"].effect == "none"
    assert rows["c0"].error is not None
    assert "squashed" in rows["c0"].error


def test_next_version_as_dict_has_the_spec_shape() -> None:
    result = next_version(V("0.6.1"), [("abc123", "fix: x")])
    doc = result.as_dict()
    assert {"current", "next", "bump", "commits"} <= doc.keys()
    assert (doc["current"], doc["next"], doc["bump"]) == ("0.6.1", "0.6.2", "patch")
    assert doc["commits"] == [
        {
            "sha": "abc123",
            "subject": "fix: x",
            "effect": "patch",
            "type": "fix",
            "breaking": False,
            "error": None,
        }
    ]


def test_next_version_is_a_value() -> None:
    # same input, same answer
    messages = [("a", "feat: x"), ("b", "fix: y")]
    first: NextVersion = next_version(V("1.0.0"), messages)
    assert first == next_version(V("1.0.0"), messages)
