"""Resolving sources against the real ecosystem repos (reached through file:// URLs).

Positive cases check the commit and version each kind of pin gives; the failures
check that a ref, tag or commit that does not exist is bad input (exit 2, file and
line named) and that a repo that cannot be reached is an operation failure (exit 1).
The last tests look at how the work is done: every repo read at once, one
``ls-remote`` per repo, and no fetch when nothing changed.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import ottodeploy.git
import ottodeploy.resolve
from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from ottodeploy.core.sources import Resolution
from ottodeploy.git import RemoteRefs
from ottodeploy.manifests import load_project
from ottodeploy.mirror import Mirror
from ottodeploy.process import Completed
from ottodeploy.resolve import resolve
from ottodeploy.root import DeployRoot
from tests.conftest import run_inv
from tests.ecosystem import Ecosystem
from tests.gitrepos import GitRepo, git

GOLDEN = Path(__file__).parent / "golden"
ENV_FILE = "manifests/environments/scratch.yaml"


def write_env(eco: Ecosystem, sources: str, *, mode: str = "branch") -> None:
    """scratch.yaml with ``sources`` (indented lines) starting on line 4."""
    eco.write(ENV_FILE, f"name: scratch\nmode: {mode}\nsources:\n{sources}")


def resolve_scratch(eco: Ecosystem) -> Resolution:
    return resolve(load_project(DeployRoot(eco.root), "scratch"))


def remote_rev(repo: GitRepo, rev: str) -> str:
    """What the remote (not the work clone) says ``rev`` is."""
    return git(repo.remote, "rev-parse", rev)


# --- what each pin resolves to ---------------------------------------------------------------


def test_branch_resolves_to_its_tip(eco: Ecosystem) -> None:
    write_env(eco, "  tessellation: {ref: main}\n  monitoring: {ref: develop}\n")
    res = resolve_scratch(eco)
    assert res.sources["tessellation"].sha == remote_rev(eco.repos["tessellation"], "main")
    assert res.sources["monitoring"].pin == "ref"
    # a new commit on the branch is seen by the next resolve
    new = eco.repos["monitoring"].commit("feat: more", {"m.txt": "m"}, branch="develop")
    assert resolve_scratch(eco).sources["monitoring"].sha == new


@pytest.mark.parametrize("tag", [
    "v4.0.0-rc.10",  # lightweight tag: points at the commit itself
    "v4.0.0",        # annotated tag: peeled to its commit, never the tag object
])
def test_tag_ref_resolves_to_the_commit(eco: Ecosystem, tag: str) -> None:
    write_env(eco, f"  tessellation: {{ref: {tag}}}\n")
    src = resolve_scratch(eco).sources["tessellation"]
    repo = eco.repos["tessellation"]
    assert src.sha == remote_rev(repo, f"{tag}^{{commit}}")
    assert src.ref == tag
    assert git(repo.remote, "cat-file", "-t", src.sha) == "commit"


def test_annotated_tag_object_is_not_the_answer(
        ecosystem_template: tuple[Path, dict[str, GitRepo]]) -> None:
    # guards the test above: for v4.0.0 the tag object and its commit differ
    repo = ecosystem_template[1]["tessellation"]
    assert remote_rev(repo, "v4.0.0") != remote_rev(repo, "v4.0.0^{commit}")


@pytest.mark.parametrize(("written", "tag"), [
    ("4.0.0", "v4.0.0"),    # version without v: tag v<version>
    ("v4.0.0", "v4.0.0"),   # version with v: the same tag
])
def test_version_resolves_to_v_tag(eco: Ecosystem, written: str, tag: str) -> None:
    write_env(eco, f"  tessellation: {{version: {written}}}\n", mode="version")
    src = resolve_scratch(eco).sources["tessellation"]
    assert (src.pin, src.ref, src.version) == ("version", tag, "4.0.0")
    assert src.sha == remote_rev(eco.repos["tessellation"], f"{tag}^{{commit}}")


def test_version_resolves_to_bare_tag(eco: Ecosystem) -> None:
    # repos that tag without the v prefix: tag <version>
    repo = eco.repos["monitoring"]
    head = repo.commit("feat: bare tagged", {"b.txt": "b"}, branch="develop")
    repo.tag("0.2.0", annotated=True)
    write_env(eco, "  monitoring: {version: 0.2.0}\n", mode="version")
    src = resolve_scratch(eco).sources["monitoring"]
    assert (src.ref, src.sha, src.version) == ("0.2.0", head, "0.2.0")


@pytest.mark.parametrize(("rev", "version"), [
    ("develop", "0.6.2-dev.3"),    # a sha that is a branch tip
    ("develop~1", "0.6.2-dev.2"),  # a sha no ref points at: found in the history
    ("v0.6.1", "0.6.1"),           # the commit of a tag
])
def test_sha_pin_is_verified(eco: Ecosystem, rev: str, version: str) -> None:
    sha = remote_rev(eco.repos["ottochain"], f"{rev}^{{commit}}")
    write_env(eco, "  tessellation: {ref: main}\n  metakit: {ref: main}\n"
                   f"  ottochain: {{sha: {sha}}}\n")
    src = resolve_scratch(eco).sources["ottochain"]
    assert (src.pin, src.ref, src.sha, src.version) == ("sha", sha, sha, version)


def test_repo_of_a_source_overrides_components(eco: Ecosystem) -> None:
    fork = GitRepo.create(eco.base, "monitoring-fork")
    fork_sha = fork.commit("feat: the fork", {"f.txt": "fork"})
    write_env(eco, f"  monitoring: {{repo: {fork.url}, ref: main}}\n"
                   "  tessellation: {repo: ../remotes/tessellation.git, ref: main}\n")
    res = resolve_scratch(eco)
    assert (res.sources["monitoring"].repo, res.sources["monitoring"].sha) == (fork.url, fork_sha)
    assert fork_sha != remote_rev(eco.repos["monitoring"], "main")
    # a relative path is taken from the deploy root
    assert res.sources["tessellation"].repo == "../remotes/tessellation.git"
    assert res.sources["tessellation"].sha == remote_rev(eco.repos["tessellation"], "main")


def test_full_ref_names_pick_branch_or_tag(eco: Ecosystem) -> None:
    repo = eco.repos["ottochain"]
    repo.tag("develop", target="main")  # now 'develop' is both, on different commits
    write_env(eco, "  tessellation: {ref: main}\n  metakit: {ref: main}\n"
                   "  ottochain: {ref: refs/heads/develop}\n")
    assert resolve_scratch(eco).sources["ottochain"].sha == remote_rev(repo, "refs/heads/develop")
    write_env(eco, "  tessellation: {ref: main}\n  metakit: {ref: main}\n"
                   "  ottochain: {ref: refs/tags/develop}\n")
    assert resolve_scratch(eco).sources["ottochain"].sha == remote_rev(repo, "main")


# --- versions of branch builds (SPEC §3) -----------------------------------------------------


def _on_release_and_rc(eco: Ecosystem) -> str:
    # v4.0.0-rc.10 and v4.0.0 on one commit: the release beats its prerelease
    del eco
    return "4.0.0"


def _after_release(eco: Ecosystem) -> str:
    eco.repos["monitoring"].commit("fix: a", {"a": "1"}, branch="develop")
    eco.repos["monitoring"].commit("fix: b", {"b": "2"})
    return "0.1.1-dev.2"


def _after_prerelease(eco: Ecosystem) -> str:
    repo = eco.repos["monitoring"]
    repo.commit("feat: rc", {"rc": "1"}, branch="develop")
    repo.tag("v0.2.0-rc.1")
    for i in range(3):
        repo.commit(f"fix: {i}", {"f": str(i)})
    return "0.2.0-rc.1.dev.3"


def _several_tags_on_one_commit(eco: Ecosystem) -> str:
    repo = eco.repos["monitoring"]
    repo.commit("feat: x", {"x": "1"}, branch="develop")
    for tag, annotated in [("v1.1.0", True), ("v1.3.0-rc.2", False), ("v1.2.0", False)]:
        repo.tag(tag, annotated=annotated)
    return "1.3.0-rc.2"  # the highest version, even a prerelease one


def _non_version_tags_ignored(eco: Ecosystem) -> str:
    repo = eco.repos["monitoring"]
    repo.commit("chore: x", {"x": "1"}, branch="develop")
    repo.tag("deployed-to-prod")
    repo.tag("latest", annotated=True)
    repo.commit("chore: y", {"y": "1"})
    return "0.1.1-dev.2"


def _no_tag_at_all(eco: Ecosystem) -> str:
    fresh = GitRepo.create(eco.base, "fresh")
    for i in range(4):
        fresh.commit(f"feat: {i}", {"n": str(i)})
    fresh.branch("develop")
    components = eco.components_text().replace(eco.urls["monitoring"], fresh.url)
    eco.write("manifests/components.yaml", components)
    return "0.0.0-dev.4"


def _on_tag_itself(eco: Ecosystem) -> str:
    repo = eco.repos["monitoring"]
    repo.commit("feat: z", {"z": "1"}, branch="develop")
    repo.tag("v0.5.0", annotated=True)
    return "0.5.0"


@pytest.mark.parametrize("scenario", [
    _on_release_and_rc, _after_release, _after_prerelease, _several_tags_on_one_commit,
    _non_version_tags_ignored, _no_tag_at_all, _on_tag_itself,
], ids=lambda f: f.__name__.strip("_"))
def test_branch_build_version(eco: Ecosystem, scenario: Callable[[Ecosystem], str]) -> None:
    expected = scenario(eco)
    source = "tessellation" if scenario is _on_release_and_rc else "monitoring"
    ref = "main" if source == "tessellation" else "develop"
    write_env(eco, f"  {source}: {{ref: {ref}}}\n")
    assert resolve_scratch(eco).sources[source].version == expected


def test_develop_of_ottochain_counts_from_its_last_release(eco: Ecosystem) -> None:
    # the ecosystem's own shape: v0.6.1 plus three commits on develop
    res = resolve_scratch(eco)
    assert res.sources["ottochain"].version == "0.6.2-dev.3"
    assert res.sources["metakit"].version == "0.2.0"


# --- resolve --json --------------------------------------------------------------------------


def test_resolve_json_matches_golden(eco: Ecosystem) -> None:
    result = run_inv("resolve", "scratch", "--json")
    assert result.code == 0, result
    assert result.stderr == ""
    data = json.loads(result.stdout)
    for name, src in data["sources"].items():
        repo = eco.repos[name]
        assert src["sha"] == remote_rev(repo, src["ref"])
        src["sha"] = "<sha>"
        src["repo"] = src["repo"].replace(str(eco.base), "<eco>")
    expected = json.loads((GOLDEN / "resolve_scratch.json").read_text())
    assert data == expected


def test_resolve_table(eco: Ecosystem) -> None:
    result = run_inv("resolve", "scratch")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["source", "repo", "ref", "sha", "version"]
    otto = next(ln.split() for ln in lines if ln.startswith("ottochain "))
    sha = remote_rev(eco.repos["ottochain"], "develop")
    assert otto[2:] == ["develop", sha[:12], "0.6.2-dev.3"]


# --- what does not exist is bad input --------------------------------------------------------

MISSING = [
    # a branch that does not exist, with a suggestion
    ("  monitoring: {ref: develp}\n", 4, ["sources.monitoring.ref", "ref 'develp' not found",
                                          "did you mean 'develop'?"]),
    # a version without a tag, with the newest tags
    ("  monitoring: {version: 9.9.9}\n", 4, ["sources.monitoring.version",
                                            "version 9.9.9 not found", "no tag v9.9.9 or 9.9.9",
                                            "newest tags: v0.1.0"]),
    # 40 hex that is no commit of the repo
    ("  tessellation: {ref: main}\n  monitoring: {sha: " + "0123456789" * 4 + "}\n", 5,
     ["sources.monitoring.sha", "commit 0123456789012345678901234567890123456789 not found"]),
]


@pytest.mark.parametrize(("sources", "line", "expect"), MISSING,
                         ids=["ref", "version", "sha"])
@pytest.mark.parametrize("command", [("check", "scratch"), ("resolve", "scratch", "--json")],
                         ids=["check", "resolve-json"])
def test_missing_is_bad_input(eco: Ecosystem, sources: str, line: int, expect: list[str],
                              command: tuple[str, ...]) -> None:
    write_env(eco, sources)
    result = run_inv(*command)
    assert result.code == EXIT_BAD_INPUT, result
    assert f"{ENV_FILE}:{line}: " in result.stderr
    for text in expect:
        assert text in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == "" or command[0] == "check"
    assert not list((eco.root / "lockfiles").iterdir())


def test_ref_both_branch_and_tag_is_bad_input(eco: Ecosystem) -> None:
    eco.repos["ottochain"].tag("develop", target="main")
    write_env(eco, "  tessellation: {ref: main}\n  metakit: {ref: main}\n"
                   "  ottochain: {ref: develop}\n")
    result = run_inv("check", "scratch")
    assert result.code == EXIT_BAD_INPUT, result
    assert f"{ENV_FILE}:6: sources.ottochain.ref: 'develop' is both a branch and a tag" \
        in result.stderr
    assert "refs/heads/develop" in result.stderr


def test_every_missing_ref_is_reported_at_once(eco: Ecosystem) -> None:
    write_env(eco, "  tessellation: {ref: nope-1}\n  metakit: {version: 7.7.7}\n"
                   "  monitoring: {ref: nope-2}\n")
    result = run_inv("check", "scratch")
    assert result.code == EXIT_BAD_INPUT
    assert f"{ENV_FILE}: 3 problems" in result.stderr
    for line, text in [(4, "nope-1"), (5, "7.7.7"), (6, "nope-2")]:
        assert re.search(rf"{ENV_FILE}:{line}: .*{text}", result.stderr)


def test_unreachable_repo_is_an_operation_failure(eco: Ecosystem) -> None:
    write_env(eco, "  tessellation: {ref: main}\n"
                   "  monitoring: {repo: file:///nonexistent/monitoring.git, ref: main}\n")
    for command in [("check", "scratch"), ("resolve", "scratch", "--json")]:
        result = run_inv(*command)
        assert result.code == EXIT_FAILED, result
        assert "file:///nonexistent/monitoring.git" in result.stderr
        assert "Traceback" not in result.output
        assert result.stdout == "" or command[0] == "check"


# --- how the work is done --------------------------------------------------------------------


def test_all_repos_are_read_at_once(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    # every ls-remote waits until all seven are in flight: only parallel reads get through
    real = ottodeploy.git.ls_remote
    barrier = threading.Barrier(len(eco.repos), timeout=30)
    threads: Counter[str] = Counter()
    calls: list[str] = []

    def reading(url: str) -> RemoteRefs:
        calls.append(url)
        threads[threading.current_thread().name] += 1
        barrier.wait()
        return real(url)

    monkeypatch.setattr(ottodeploy.resolve, "ls_remote", reading)
    res = resolve_scratch(eco)
    assert len(res.sources) == len(eco.repos)
    assert sorted(calls) == sorted(eco.urls.values())  # one ls-remote per repo
    assert len(threads) == len(eco.repos)
    assert threading.current_thread().name not in threads


def test_one_ls_remote_per_repo(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    # two sources reading one repo: it is listed once
    real = ottodeploy.git.ls_remote
    calls: list[str] = []

    def reading(url: str) -> RemoteRefs:
        calls.append(url)
        return real(url)

    monkeypatch.setattr(ottodeploy.resolve, "ls_remote", reading)
    url = eco.urls["tessellation"]
    write_env(eco, f"  tessellation: {{ref: main}}\n  monitoring: {{repo: {url}, ref: develop}}\n")
    res = resolve_scratch(eco)
    assert calls == [url]
    assert res.sources["monitoring"].sha == res.sources["tessellation"].sha


def test_unchanged_ecosystem_is_not_fetched_again(eco: Ecosystem,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # every git command the tool runs, and every commit it needs history for
    commands: list[list[str]] = []
    asked: list[str] = []
    real_git = ottodeploy.git.git
    real_ensure = Mirror.ensure_commit

    def recording_git(args: Sequence[str], **kw: Any) -> Completed:
        commands.append(list(args))
        return real_git(args, **kw)

    def ensure(self: Mirror, sha: str, **kw: Any) -> bool:
        asked.append(self.url)
        return real_ensure(self, sha, **kw)

    monkeypatch.setattr(ottodeploy.git, "git", recording_git)
    monkeypatch.setattr(Mirror, "ensure_commit", ensure)
    first = resolve_scratch(eco)
    assert sorted(asked) == sorted(eco.urls.values())  # versions need history once
    assert any(c[0] == "clone" for c in commands)

    commands.clear()
    asked.clear()
    assert resolve_scratch(eco) == first
    assert asked == []
    assert sorted(commands) == sorted(["ls-remote", url] for url in eco.urls.values())

    # a new commit in one repo: only that repo's history is read again
    commands.clear()
    eco.repos["explorer"].commit("fix: x", {"x": "1"}, branch="develop")
    third = resolve_scratch(eco)
    assert asked == [eco.urls["explorer"]]
    assert third.sources["explorer"].version == "1.0.1-dev.1"
    assert {c[1] for c in commands if c[0] == "--git-dir"} == {
        str(Mirror(DeployRoot(eco.root).cache, eco.urls["explorer"]).path)}

    # a new tag changes that repo's tag list: its version is computed again
    asked.clear()
    eco.repos["sdk"].tag("v0.3.1", target="main")
    resolve_scratch(eco)
    assert asked == [eco.urls["sdk"]]


# A new tag changes the versions computed from the mirror, also when the mirror already
# holds the commit (or, a partial clone, would lazily fetch just that commit).


def test_new_tag_on_a_known_commit_changes_the_version(eco: Ecosystem) -> None:
    write_env(eco, "  monitoring: {ref: develop}\n")
    assert resolve_scratch(eco).sources["monitoring"].version == "0.1.0"
    eco.repos["monitoring"].tag("v0.5.0", target="develop")
    assert resolve_scratch(eco).sources["monitoring"].version == "0.5.0"


def test_new_tagged_commit_after_the_mirror_exists(eco: Ecosystem) -> None:
    write_env(eco, "  monitoring: {ref: develop}\n")
    resolve_scratch(eco)
    eco.repos["monitoring"].commit("feat: x", {"x": "1"}, branch="develop")
    eco.repos["monitoring"].tag("v0.5.0", annotated=True)
    assert resolve_scratch(eco).sources["monitoring"].version == "0.5.0"
