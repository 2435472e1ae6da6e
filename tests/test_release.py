"""The release flow (issue 8) on real git repos: commits.lint, release.next-version, bump.

Lint and next-version run on small repos made here with ``GitRepo`` (conventional and
broken histories, tags, merges); next-version also reads a repo by its ``file://`` URL,
through the mirror cache. Bump runs on the ``eco`` fixture's deploy root made into a git
repo, with new release tags in the component repos; its branch is read back with git.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from tests.conftest import Result, run_inv
from tests.ecosystem import Ecosystem
from tests.gitrepos import GitRepo, git
from tests.servers import HttpRecorder, Response

GOLDEN = Path(__file__).parent / "golden"
SHA = re.compile(r"\b[0-9a-f]{40}\b")


def lint(*args: str) -> Result:
    return run_inv("commits.lint", *args)


def lint_json(*args: str) -> dict[str, Any]:
    result = lint(*args, "--json")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def short(sha: str) -> str:
    return sha[:7]


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A repo whose history is conventional up to its release tag v1.0.0."""
    r = GitRepo.create(tmp_path, "component")
    r.commit("feat: initial", {"a.txt": "a\n"})
    r.commit("fix: first bug", {"a.txt": "b\n"})
    r.tag("v1.0.0", annotated=True)
    return r


# --- commits.lint ----------------------------------------------------------------------------


def test_lint_of_a_conventional_range_exits_0(repo: GitRepo) -> None:
    repo.commit("feat(api): add export\n\nWith a body.\n\nRefs: #12")
    repo.commit("chore: tidy")
    result = lint("--repo", str(repo.work))
    assert result.code == 0, result
    assert "v1.0.0..HEAD: 2 commits" in result.stdout
    data = lint_json("--repo", str(repo.work))
    assert data["range"] == "v1.0.0..HEAD"
    assert (data["ok"], data["checked"], data["violations"]) == (True, 2, [])


def test_lint_lists_each_violation_with_its_short_sha_and_problems(repo: GitRepo) -> None:
    good = repo.commit("feat: fine")
    bad = {
        repo.commit("Fix the thing"): "not a conventional commit header",
        repo.commit("fixup! feat: fine"): "must be squashed",
        repo.commit("Feat: capital type"): "must be lowercase",
        repo.commit("feat:no space"): "exactly one space",
    }
    result = lint("--repo", str(repo.work))
    assert result.code == EXIT_FAILED, result
    listed = [ln.split()[0] for ln in result.stdout.splitlines()[1:]
              if not ln.strip().startswith("-")]
    assert listed == [short(sha) for sha in reversed(bad)]  # newest first, good ones left out
    for problem in bad.values():
        assert problem in result.stdout
    assert short(good) not in result.stdout
    assert "4 of 5 commits in v1.0.0..HEAD are not conventional" in result.stderr
    assert "Traceback" not in result.output
    data = lint_json("--repo", str(repo.work))
    assert data["ok"] is False
    assert [v["sha"] for v in data["violations"]] == list(reversed(bad))  # newest first
    assert [v["short"] for v in data["violations"]] == [short(s) for s in reversed(bad)]
    assert all(v["problems"] for v in data["violations"])


def test_default_range_starts_at_the_newest_version_tag(tmp_path: Path) -> None:
    r = GitRepo.create(tmp_path, "c")
    first = r.commit("chore: scaffold")
    old_bad = r.commit("initial import")  # before the release: not linted by default
    r.tag("v0.1.0")
    r.commit("feat: a")
    r.tag("not-a-version")                # ignored: names no version
    r.commit("fix: b")
    data = lint_json("--repo", str(r.work))
    assert (data["range"], data["checked"], data["ok"]) == ("v0.1.0..HEAD", 2, True)
    # an explicit range reaches further back
    data = lint_json("--repo", str(r.work), "--range", f"{first}..HEAD")
    assert data["checked"] == 3  # A..B excludes A itself
    assert [v["sha"] for v in data["violations"]] == [old_bad]
    # no version tag at all: every commit
    untagged = GitRepo.create(tmp_path, "untagged")
    untagged.commit("initial import")
    untagged.commit("feat: a")
    data = lint_json("--repo", str(untagged.work))
    assert (data["range"], data["checked"]) == ("HEAD", 2)
    assert [v["subject"] for v in data["violations"]] == ["initial import"]


def test_merge_commits_are_exempt(repo: GitRepo) -> None:
    repo.checkout("topic", create_from="main")
    repo.commit("feat: on a topic branch", {"t.txt": "t\n"})
    repo.checkout("main")
    repo.commit("fix: on main", {"m.txt": "m\n"})
    # a true merge (two parents) with a message that is not conventional at all
    git(repo.work, "merge", "--no-ff", "--quiet", "-m", "Integrate the topic work", "topic")
    # and GitHub's merge message on a squash-like single-parent commit
    repo.commit("Merge pull request #7 from owner/topic")
    data = lint_json("--repo", str(repo.work))
    assert data["ok"] is True, data
    assert (data["checked"], data["exempt"]) == (4, 2)


@pytest.mark.parametrize("args, message", [
    # a revision that does not exist
    (["--range", "nosuch..HEAD"], "range 'nosuch..HEAD' cannot be read"),
    # an option smuggled in as a range never reaches git
    (["--range", "--output=/tmp/ottodeploy-lint-x"], "must not be empty or start with '-'"),
    (["--range", "-n1..HEAD"], "must not be empty or start with '-'"),
    # one revision is not a range
    (["--range", "HEAD"], "is not A..B"),
])
def test_bad_range_is_bad_input(repo: GitRepo, args: list[str], message: str) -> None:
    result = lint("--repo", str(repo.work), *args)
    assert result.code == EXIT_BAD_INPUT, result
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not Path("/tmp/ottodeploy-lint-x").exists()


def test_bad_repo_is_bad_input(tmp_path: Path) -> None:
    for path, message in [(tmp_path / "missing", "is not a directory"),
                          (tmp_path, "is not a git repository")]:
        result = lint("--repo", str(path))
        assert result.code == EXIT_BAD_INPUT, result
        assert message in result.stderr


# --- the deploy repo -------------------------------------------------------------------------


def make_deploy_repo(eco: Ecosystem, staging: str | None = None) -> None:
    """The deploy root as a git repo with its manifests committed (state ignored)."""
    if staging is not None:
        eco.write("manifests/environments/staging.yaml", staging)
    eco.write(".gitignore", ".ottodeploy/\n")
    git(eco.root, "init", "--quiet", "--initial-branch=main")
    git(eco.root, "add", "-A")
    git(eco.root, "commit", "--quiet", "-m", "chore: deploy repo")


def test_lint_defaults_to_the_deploy_repo(eco: Ecosystem) -> None:
    make_deploy_repo(eco)
    assert lint().code == 0
    eco.write("lockfiles/.keep", "")
    git(eco.root, "add", "-A")
    git(eco.root, "commit", "--quiet", "-m", "wip")
    result = lint()
    assert result.code == EXIT_FAILED, result
    assert str(eco.root) in result.stdout
    assert "wip" in result.stdout


def test_lint_outside_a_git_repo_is_bad_input(eco: Ecosystem) -> None:
    result = lint()
    assert result.code == EXIT_BAD_INPUT, result
    assert "is not in a git repository" in result.stderr
    assert "--repo" in result.stderr


# --- release.next-version --------------------------------------------------------------------


def next_version(*args: str) -> Result:
    return run_inv("release.next-version", *args)


def released_history(tmp_path: Path) -> GitRepo:
    """v1.2.0, then fixes, a feature, hidden types, a merge and a broken message.

    Every commit has its own date, so ``git log`` lists them in one order on every run.
    """
    dates = iter(f"2026-01-01T00:00:{s:02d}Z" for s in range(60))
    r = GitRepo.create(tmp_path, "lib")

    def commit(message: str, files: dict[str, str]) -> None:
        r.commit(message, files, date=next(dates))

    commit("feat: initial", {"a.txt": "0\n"})
    r.tag("v1.1.0")
    commit("fix: before the release", {"a.txt": "1\n"})
    r.tag("v1.2.0", annotated=True)
    commit("fix(api): handle empty tags", {"a.txt": "2\n"})
    r.checkout("feature", create_from="main")
    commit("feat: add export\n\nExports everything.", {"b.txt": "b\n"})
    r.checkout("main")
    commit("docs: readme", {"README.md": "r\n"})
    date = next(dates)
    git(r.work, "merge", "--no-ff", "--quiet", "-m", "Merge branch 'feature'", "feature",
        env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    commit("updated stuff", {"a.txt": "3\n"})
    commit("chore(deps): bump things", {"a.txt": "4\n"})
    r.push()
    return r


def normalised(data: dict[str, Any], repo: str) -> dict[str, Any]:
    text = json.dumps(data).replace(repo, "<repo>")
    out: dict[str, Any] = json.loads(SHA.sub("<sha>", text))
    return out


def test_next_version_json_matches_golden(tmp_path: Path) -> None:
    r = released_history(tmp_path)
    result = next_version(r.url, "--json")
    assert result.code == 0, result
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["head"] == r.head()
    log = git(r.work, "log", "--format=%H", "v1.2.0..HEAD").split()
    assert [c["sha"] for c in data["commits"]] == log
    expected = json.loads((GOLDEN / "next_version.json").read_text())
    assert normalised(data, r.url) == expected
    # the work tree by its path gives the same answer
    local = json.loads(next_version(str(r.work), "--json").stdout)
    assert normalised(local, str(r.work)) == expected


def test_next_version_summary(tmp_path: Path) -> None:
    r = released_history(tmp_path)
    result = next_version(str(r.work))
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert "since tag v1.2.0" in lines[0]
    assert lines[1].split() == ["current:", "1.2.0"]
    assert lines[2].split() == ["next:", "1.3.0", "(minor", "bump)"]
    assert any(ln.split()[1:3] == ["minor", "feat:"] for ln in lines[3:])


def test_a_url_is_fetched_again_for_new_commits(tmp_path: Path) -> None:
    r = released_history(tmp_path)
    assert json.loads(next_version(r.url, "--json").stdout)["next"] == "1.3.0"
    r.commit("feat!: drop the old api")
    data = json.loads(next_version(r.url, "--json").stdout)
    assert (data["next"], data["bump"], data["head"]) == ("2.0.0", "major", r.head())


@pytest.mark.parametrize("messages, options, expected", [
    # pre-1.0 without options: a breaking change still makes 1.0.0
    (["feat!: new api", "feat: more"], [], ("1.0.0", "major")),
    # --bump-minor-pre-major: breaking is minor before 1.0.0
    (["feat!: new api", "feat: more"], ["--bump-minor-pre-major"], ("0.5.0", "minor")),
    # --bump-patch-for-minor-pre-major: a feat is a patch before 1.0.0
    (["feat: more", "fix: x"], ["--bump-patch-for-minor-pre-major"], ("0.4.3", "patch")),
    # both options, breaking in the footer
    (["feat: more\n\nBREAKING CHANGE: gone"],
     ["--bump-minor-pre-major", "--bump-patch-for-minor-pre-major"], ("0.5.0", "minor")),
    # only hidden types: no release
    (["docs: a", "chore: b"], [], (None, "none")),
])
def test_pre_major_options(tmp_path: Path, messages: list[str], options: list[str],
                           expected: tuple[str | None, str]) -> None:
    r = GitRepo.create(tmp_path, "pre")
    r.commit("feat: initial")
    r.tag("v0.4.2")
    for m in messages:
        r.commit(m)
    data = json.loads(next_version(str(r.work), *options, "--json").stdout)
    assert (data["current"], data["next"], data["bump"]) == ("0.4.2", *expected)


def test_without_a_tag_every_commit_counts_from_nothing(tmp_path: Path) -> None:
    r = GitRepo.create(tmp_path, "new")
    r.commit("chore: scaffold")
    r.commit("feat: first feature")
    data = json.loads(next_version(str(r.work), "--json").stdout)
    assert (data["current"], data["tag"], data["next"], len(data["commits"])) == \
        (None, None, "0.1.0", 2)


def test_since_a_given_tag(tmp_path: Path) -> None:
    r = released_history(tmp_path)
    data = json.loads(next_version(str(r.work), "--since", "v1.1.0", "--json").stdout)
    assert (data["current"], data["tag"], data["next"]) == ("1.1.0", "v1.1.0", "1.2.0")
    assert "fix: before the release" in [c["subject"] for c in data["commits"]]


def test_bad_since_is_bad_input(tmp_path: Path) -> None:
    r = released_history(tmp_path)
    for since, message in [
        ("v9.9.9", "tag 'v9.9.9' not found"),               # a tag that does not exist
        ("feature", "is not a version tag"),                # names no version (a branch)
        ("-v1.0.0", "must not be empty or start with '-'"),  # never handed to git
    ]:
        result = next_version(str(r.work), "--since", since)
        assert result.code == EXIT_BAD_INPUT, result
        assert message in result.stderr


def test_unreachable_or_meaningless_repo(tmp_path: Path) -> None:
    # a URL that cannot be read: the operation failed
    result = next_version(f"file://{tmp_path}/nothing.git")
    assert result.code == EXIT_FAILED, result
    assert "cannot clone" in result.stderr
    # neither a directory nor an address: bad input
    result = next_version(str(tmp_path / "nothing"))
    assert result.code == EXIT_BAD_INPUT, result
    assert "neither a directory nor a repository address" in result.stderr


# --- bump ------------------------------------------------------------------------------------

STAGING = """\
# Staging: release candidates, promoted by hand.
name: staging
mode: version
auto_deploy: false   # deploy-version.yml only
sources:
  tessellation: {type: upstream, version: v4.0.0}
  metakit: {type: upstream, version: v0.2.0}
  # the core
  ottochain: {type: core, version: v0.6.1}  # last release
  sdk:
    type: ecosystem
    version: v0.3.0   # types match ottochain 0.6
  services: {type: ecosystem, version: v1.0.0}
  explorer: {type: ecosystem, version: v1.0.0}
  monitoring: {type: ecosystem, version: v0.1.0}

infrastructure: {target: local}   # tests run locally
"""
STAGING_PATH = "manifests/environments/staging.yaml"


def release(eco: Ecosystem, name: str, tag: str) -> str:
    repo = eco.repos[name]
    sha = repo.commit(f"feat: {name} for {tag}", {"CHANGES": tag}, branch="main")
    repo.tag(tag, annotated=True)
    return sha


def branches(eco: Ecosystem) -> list[str]:
    return git(eco.root, "branch", "--format=%(refname:short)").split()


def test_bump_commits_one_changed_line_on_a_new_branch(eco: Ecosystem) -> None:
    make_deploy_repo(eco, STAGING)
    head = git(eco.root, "rev-parse", "HEAD")
    tag_commit = release(eco, "sdk", "v0.4.0")
    result = run_inv("bump", "staging", "sdk", "0.4.0")
    assert result.code == 0, result
    assert "bump/sdk-0.4.0" in branches(eco)
    new = git(eco.root, "show", f"bump/sdk-0.4.0:{STAGING_PATH}").splitlines()
    old = STAGING.splitlines()
    assert len(new) == len(old)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed == [("    version: v0.3.0   # types match ottochain 0.6",
                        "    version: v0.4.0   # types match ottochain 0.6")]
    # one commit on top of HEAD, with the conventional message
    assert git(eco.root, "rev-parse", "bump/sdk-0.4.0^") == head
    message = git(eco.root, "log", "-1", "--format=%B", "bump/sdk-0.4.0")
    assert message.splitlines()[0] == "chore(staging): bump sdk to 0.4.0"
    assert tag_commit in message
    # the current branch, index and working tree are untouched
    assert git(eco.root, "rev-parse", "HEAD") == head
    assert git(eco.root, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(eco.root, "status", "--porcelain") == ""
    assert (eco.root / STAGING_PATH).read_text() == STAGING
    # the output shows the diff and the branch; the commit lints clean
    assert "+    version: v0.4.0" in result.stdout
    assert "bump branch bump/sdk-0.4.0" in result.stdout
    assert lint("--range", "main..bump/sdk-0.4.0").code == 0


def test_bump_by_sha_pin_becomes_a_version_pin(eco: Ecosystem) -> None:
    sha = git(eco.repos["monitoring"].remote, "rev-parse", "v0.1.0^{commit}")
    make_deploy_repo(eco, STAGING.replace("version: v0.1.0", f"sha: {sha}"))
    release(eco, "monitoring", "v0.2.0")
    result = run_inv("bump", "staging", "monitoring", "v0.2.0")
    assert result.code == 0, result
    text = git(eco.root, "show", f"bump/monitoring-0.2.0:{STAGING_PATH}")
    assert "  monitoring: {type: ecosystem, version: v0.2.0}" in text.splitlines()


def test_incompatible_bump_is_refused_and_writes_nothing(eco: Ecosystem) -> None:
    make_deploy_repo(eco, STAGING)
    release(eco, "ottochain", "v1.0.0")
    result = run_inv("bump", "staging", "ottochain", "1.0.0")
    assert result.code == EXIT_FAILED, result
    assert "compatibility matrix violated (2)" in result.stderr
    assert "sdk 0.3.0 requires ottochain >=0.5.0 <1.0.0, but ottochain is 1.0.0" in result.stderr
    assert "services 1.0.0 requires ottochain" in result.stderr
    assert branches(eco) == ["main"]
    assert git(eco.root, "status", "--porcelain") == ""


@pytest.mark.parametrize("env, component, version, message", [
    # a version without a release tag in the component's repo
    ("staging", "sdk", "9.9.9", "version 9.9.9 not found in"),
    # not a version at all
    ("staging", "sdk", "latest", "is not a semantic version"),
    # a branch environment has no versions to bump
    ("scratch", "sdk", "0.3.0", "scratch is a branch environment"),
    # a component the environment does not list
    ("staging", "wallet", "1.0.0", "staging has no source 'wallet'"),
    # an environment that does not exist
    ("nowhere", "sdk", "0.3.0", "unknown environment 'nowhere'"),
])
def test_bump_bad_input_exits_2(eco: Ecosystem, env: str, component: str, version: str,
                                message: str) -> None:
    make_deploy_repo(eco, STAGING)
    result = run_inv("bump", env, component, version)
    assert result.code == EXIT_BAD_INPUT, result
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert branches(eco) == ["main"]


def test_unknown_version_names_the_newest_tags(eco: Ecosystem) -> None:
    make_deploy_repo(eco, STAGING)
    result = run_inv("bump", "staging", "tessellation", "v5.0.0")
    assert result.code == EXIT_BAD_INPUT
    assert "newest tags: v4.0.0, v4.0.0-rc.10" in result.stderr


@pytest.mark.parametrize("version", ["0.3.0", "v0.3.0"])
def test_bump_to_the_pinned_version_does_nothing(eco: Ecosystem, version: str) -> None:
    make_deploy_repo(eco, STAGING)
    result = run_inv("bump", "staging", "sdk", version)
    assert result.code == 0, result
    assert "already pins sdk 0.3.0; nothing to do" in result.stdout
    assert branches(eco) == ["main"]


def test_bump_again_reuses_its_branch(eco: Ecosystem) -> None:
    make_deploy_repo(eco, STAGING)
    release(eco, "sdk", "v0.4.0")
    assert run_inv("bump", "staging", "sdk", "0.4.0").code == 0
    first = git(eco.root, "rev-parse", "bump/sdk-0.4.0")
    assert run_inv("bump", "staging", "sdk", "0.4.0").code == 0
    assert git(eco.root, "rev-parse", "bump/sdk-0.4.0") == first


def test_bump_outside_a_git_repo_fails(eco: Ecosystem) -> None:
    release(eco, "sdk", "v0.4.0")
    result = run_inv("bump", "staging", "sdk", "0.4.0")
    assert result.code == EXIT_FAILED, result
    assert "is not a git repository; bumps are commits" in result.stderr


def test_bump_with_github_token_pushes_and_opens_a_pull_request(
        eco: Ecosystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_deploy_repo(eco, STAGING)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(eco.root, "remote", "add", "origin", str(origin))
    release(eco, "sdk", "v0.4.0")
    token = "ghs_" + "x" * 36
    with HttpRecorder() as api:
        api.add_route("POST", "/repos/owner/deploy/pulls",
                      Response(201, body={"number": 7, "html_url": "https://example.invalid/7"}))
        monkeypatch.setenv("GITHUB_TOKEN", token)
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "owner/deploy")
        result = run_inv("bump", "staging", "sdk", "0.4.0")
        assert result.code == 0, result
        [request] = api.requests
    assert request.header("Authorization") == f"Bearer {token}"
    body = request.json()
    assert (body["head"], body["base"]) == ("bump/sdk-0.4.0", "main")
    assert body["title"] == "chore(staging): bump sdk to 0.4.0"
    assert "pull request: https://example.invalid/7" in result.stdout
    assert token not in result.output
    assert git(origin, "rev-parse", "bump/sdk-0.4.0") == git(eco.root, "rev-parse",
                                                              "bump/sdk-0.4.0")
