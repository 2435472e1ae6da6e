"""``inv set-ref ENV COMPONENT (REF | --sha SHA | --version V) [--commit]`` (SPEC §5a).

Edits run on a copy of this repository's own manifests (comments, blank lines, block
style: the files people keep) under ``OTTODEPLOY_ROOT``; ``--commit`` runs on the test
ecosystem's deploy root made a git repository. Every bad input is checked to leave the
file byte-for-byte as it was.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ottodeploy.core.commits import lint_message
from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from tests.conftest import PROJECT, Result
from tests.deployrepo import cli, dgit, init_deploy_repo, inv_subprocess
from tests.ecosystem import Ecosystem

SHA = "0123456789abcdef0123456789abcdef01234567"
SCRATCH = "manifests/environments/scratch.yaml"
STAGING = "manifests/environments/staging.yaml"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This repository's manifests in a deploy root of their own."""
    dest = tmp_path / "root"
    shutil.copytree(PROJECT / "manifests", dest / "manifests")
    (dest / "lockfiles").mkdir()
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(dest))
    return dest


def set_ref(*args: str) -> Result:
    return cli("set-ref", *args)


def assert_refused(result: Result, code: int, *words: str) -> None:
    assert result.code == code, result
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, (word, result.stderr)


# --- edits that keep the file as it was ------------------------------------------------------


def test_a_ref_replaces_the_ref_and_nothing_else(root: Path) -> None:
    before = (root / SCRATCH).read_text()
    result = set_ref("scratch", "tessellation", "feature/faster-snapshots")
    assert result.code == 0, result
    # the end-of-line comment stays on the pin; every other byte is unchanged
    expected = before.replace("ref: main  # or a custom branch",
                              "ref: feature/faster-snapshots  # or a custom branch", 1)
    assert expected != before
    assert (root / SCRATCH).read_text() == expected
    assert "sources.tessellation ref main -> ref feature/faster-snapshots" in result.stdout


def test_a_sha_takes_the_refs_place_and_build_with_stays(root: Path) -> None:
    before = (root / SCRATCH).read_text()
    result = set_ref("scratch", "ottochain", "--sha", SHA)
    assert result.code == 0, result
    expected = before.replace("    repo: scasplte2/ottochain\n    ref: develop\n",
                              f"    repo: scasplte2/ottochain\n    sha: {SHA}\n", 1)
    assert expected != before
    assert (root / SCRATCH).read_text() == expected


def test_a_version_in_a_branch_environment_drops_build_with(root: Path) -> None:
    result = set_ref("scratch", "metakit", "--version", "v0.2.0")
    assert result.code == 0, result
    text = (root / SCRATCH).read_text()
    block = text.split("  metakit:\n", 1)[1].split("\n\n", 1)[0]
    # a source used at a release is not built, so what it is built with goes (SPEC §3)
    assert block == "    type: upstream\n    repo: Constellation-Labs/metakit\n    version: v0.2.0"


def test_a_version_environment_takes_a_version(root: Path) -> None:
    before = (root / STAGING).read_text()
    assert "version: 0.7.16  #" in before
    result = set_ref("staging", "ottochain", "--version", "v0.7.17")
    assert result.code == 0, result
    assert (root / STAGING).read_text() == before.replace("version: 0.7.16  #",
                                                          "version: v0.7.17  #")


def test_the_same_pin_again_changes_nothing(root: Path) -> None:
    before = (root / STAGING).read_bytes()
    # v optional: v0.7.16 is what 0.7.16 already says
    result = set_ref("staging", "ottochain", "--version", "v0.7.16")
    assert result.code == 0, result
    assert "nothing to do" in result.stdout
    assert (root / STAGING).read_bytes() == before


# --- bad input: exit 2, nothing written ------------------------------------------------------


@pytest.mark.parametrize(("args", "words"), [
    # a ref git would take but a shell would run
    (["scratch", "ottochain", "$(id)"], ["not allowed in a ref name"]),
    # a trailing slash, a space
    (["scratch", "ottochain", "feature/"], ["must not start or end with '/'"]),
    (["scratch", "ottochain", "a b"], ["not allowed in a ref name"]),
    # git's own ref-format rules
    (["scratch", "ottochain", "feature..x"], ["must not contain '..'"]),
    (["scratch", "ottochain", "feature/x.lock"], [".lock"]),
    # a short sha, an upper-case sha
    (["scratch", "ottochain", "--sha", SHA[:12]], ["40-hex"]),
    (["scratch", "ottochain", "--sha", SHA.upper()], ["40-hex"]),
    # not semver
    (["staging", "ottochain", "--version", "1.2"], ["not a semantic version"]),
    (["staging", "ottochain", "--version", "latest"], ["not a semantic version"]),
    # a version environment pins by version or sha
    (["staging", "ottochain", "develop"], ["version environment"]),
    # both kinds at once
    (["scratch", "ottochain", "--sha", "--version", SHA], ["exclude each other"]),
    # an unknown component, with the sources listed
    (["scratch", "ottochian", "develop"], ["no source 'ottochian'", "ottochain"]),
    # an unknown environment, with the environments listed
    (["qa", "ottochain", "develop"], ["unknown environment 'qa'", "scratch"]),
    # not an environment name at all
    (["../prod", "ottochain", "develop"], ["not a valid name"]),
])
def test_bad_input_exits_2_and_writes_nothing(root: Path, args: list[str],
                                              words: list[str]) -> None:
    files = {p: p.read_bytes() for p in (root / "manifests").rglob("*") if p.is_file()}
    result = set_ref(*args)
    assert_refused(result, EXIT_BAD_INPUT, *words)
    assert {p: p.read_bytes() for p in (root / "manifests").rglob("*") if p.is_file()} == files


def test_a_broken_file_elsewhere_in_the_root_is_refused_first(root: Path) -> None:
    """Validated like `check --offline`: every file of the root, not only the edited one."""
    compat = root / "manifests" / "compatibility.yaml"
    text = compat.read_text()
    compat.write_text(text.replace("  sdk:\n    ottochain:", "  sdk:\n    ottochian:"))
    before = (root / SCRATCH).read_bytes()
    result = set_ref("scratch", "ottochain", "feature/x")
    assert_refused(result, EXIT_BAD_INPUT, "compatibility.yaml", "ottochian")
    assert (root / SCRATCH).read_bytes() == before


def test_an_incompatible_version_is_refused_with_exit_1(root: Path) -> None:
    before = (root / STAGING).read_bytes()
    # sdk and services require ottochain <1.0.0
    result = set_ref("staging", "ottochain", "--version", "1.0.0")
    assert_refused(result, EXIT_FAILED, "requires ottochain >=0.5.0 <1.0.0")
    assert (root / STAGING).read_bytes() == before


def test_as_the_workflows_call_it_a_real_process(root: Path) -> None:
    """`inv set-ref` as deploy-branch.yml runs it: its own process, exit code, no traceback."""
    done = inv_subprocess("set-ref", "scratch", "ottochain", "--sha", SHA,
                          env={"OTTODEPLOY_ROOT": str(root)})
    assert done.returncode == 0, done.stderr
    assert f"sha: {SHA}" in (root / SCRATCH).read_text()
    bad = inv_subprocess("set-ref", "scratch", "ottochain", "a b",
                         env={"OTTODEPLOY_ROOT": str(root)})
    assert bad.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in bad.stderr
    assert "not allowed in a ref name" in bad.stderr


# --- --commit --------------------------------------------------------------------------------


@pytest.fixture
def repo(eco: Ecosystem) -> Ecosystem:
    init_deploy_repo(eco, origin=False)
    return eco


def head(eco: Ecosystem) -> str:
    return dgit(eco, "rev-parse", "HEAD")


def test_commit_commits_that_file_alone_on_the_current_branch(repo: Ecosystem) -> None:
    dgit(repo, "switch", "--quiet", "-c", "try-feature")
    # something else staged: it must stay staged, not ride along
    repo.write("manifests/environments/beta.yaml",
               (repo.root / "manifests/environments/beta.yaml").read_text() + "# staged\n")
    dgit(repo, "add", "manifests/environments/beta.yaml")
    before = head(repo)
    result = set_ref("scratch", "ottochain", "feature/x", "--commit")
    assert result.code == 0, result
    assert dgit(repo, "rev-parse", "HEAD~1") == before
    assert dgit(repo, "symbolic-ref", "--short", "HEAD") == "try-feature"
    files = dgit(repo, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert files == [SCRATCH]
    assert "ref: feature/x" in dgit(repo, "show", f"HEAD:{SCRATCH}")
    message = dgit(repo, "log", "-1", "--format=%B")
    assert message.startswith("chore(scratch): point ottochain at ref feature/x\n")
    assert "ottochain: ref develop -> ref feature/x" in message
    assert lint_message(message) == []
    # the working tree is clean for that file, and beta's change is still staged
    assert dgit(repo, "status", "--porcelain", "--", SCRATCH) == ""
    assert dgit(repo, "diff", "--cached", "--name-only") == "manifests/environments/beta.yaml"
    assert f"committed {head(repo)[:12]} on try-feature" in result.stdout


def test_commit_refuses_a_file_with_changes_of_its_own(repo: Ecosystem) -> None:
    path = repo.root / SCRATCH
    path.write_text(path.read_text() + "# mine\n")
    dirty = path.read_bytes()
    before = head(repo)
    result = set_ref("scratch", "ottochain", "feature/x", "--commit")
    assert_refused(result, EXIT_FAILED, "uncommitted changes")
    assert path.read_bytes() == dirty
    assert head(repo) == before


def test_commit_refuses_a_detached_head(repo: Ecosystem) -> None:
    dgit(repo, "switch", "--quiet", "--detach", "HEAD")
    before = (repo.root / SCRATCH).read_bytes()
    result = set_ref("scratch", "ottochain", "feature/x", "--commit")
    assert_refused(result, EXIT_FAILED, "detached")
    assert (repo.root / SCRATCH).read_bytes() == before


def test_a_failed_commit_puts_the_file_back(repo: Ecosystem) -> None:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    before_text, before_head = (repo.root / SCRATCH).read_bytes(), head(repo)
    result = set_ref("scratch", "ottochain", "feature/x", "--commit")
    assert_refused(result, EXIT_FAILED, "no commits today")
    assert (repo.root / SCRATCH).read_bytes() == before_text
    assert head(repo) == before_head


def test_commit_of_the_same_pin_commits_nothing(repo: Ecosystem) -> None:
    before = head(repo)
    result = set_ref("scratch", "ottochain", "develop", "--commit")
    assert result.code == 0, result
    assert head(repo) == before
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo.root, text=True,
                            capture_output=True, check=True).stdout
    assert status == ""


def test_commit_outside_a_repository_is_refused(eco: Ecosystem) -> None:
    before = (eco.root / SCRATCH).read_bytes()
    result = set_ref("scratch", "ottochain", "feature/x", "--commit")
    assert_refused(result, EXIT_FAILED, "not in a git repository")
    assert (eco.root / SCRATCH).read_bytes() == before


def test_a_version_keeps_the_comment_and_the_blank_line_after_the_block(root: Path) -> None:
    path = root / SCRATCH
    text = path.read_text()
    path.write_text(text.replace("    ref: develop\n    build_with:",
                                 "    ref: develop  # feature work\n    build_with:", 1))
    result = set_ref("scratch", "ottochain", "--version", "v0.6.1")
    assert result.code == 0, result
    assert ("    repo: scasplte2/ottochain\n    version: v0.6.1  # feature work\n\n  # the "
            in path.read_text())
