"""The hostile-lockfile corpus: every lockfile read is validated like a manifest (SPEC §6a).

Every file under ``tests/lockfiles/invalid/`` is ``tests/lockfiles/valid.yaml`` (every
field of a lockfile, old and new artifact shapes, valid) with one mistake: a value
that would reach git, a shell or a registry (``$(...)``, backticks, ``--options``,
``;``, newlines), one too long, of the wrong type, a YAML 1.1 trap, a duplicate or
unknown key. Its five-line header says what the report must hold::

    # <what the case covers>
    # expect: <text the error must contain>      (one or more)
    # expect-line: <N> | none                    (the line of the mistake; none: the whole file)

Files that cannot be stored as text are generated below. Each case is put into a fresh
copy of the test ecosystem's deploy root as ``lockfiles/scratch-2026-02-10-1423.yaml``
and both ``inv deploy-lockfile`` and ``inv promote-lockfile`` must refuse it: exit 2,
the file, the line and the mistake in one problem, no traceback, nothing written, and
git never run (a ``git`` first on ``PATH`` records every call).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ottodeploy.core.errors import EXIT_BAD_INPUT
from ottodeploy.core.lockmodels import LockedArtifact
from ottodeploy.manifests import load_lockfile
from ottodeploy.root import DeployRoot
from tests.conftest import Result, run_inv
from tests.ecosystem import Ecosystem
from tests.gitrepos import GitRepo

HERE = Path(__file__).parent / "lockfiles"
CORPUS = HERE / "invalid"
NAME = "scratch-2026-02-10-1423.yaml"
DISPLAY = f"lockfiles/{NAME}"
VALID = (HERE / "valid.yaml").read_text()


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    expect: tuple[str, ...]
    line: int | None


def _from_file(path: Path) -> Case:
    text = path.read_text()
    expect = tuple(m.group(1) for m in re.finditer(r"^# expect: (.+)$", text, re.MULTILINE))
    line = re.search(r"^# expect-line: (\d+|none)$", text, re.MULTILINE)
    assert expect, f"{path.name} has no '# expect:' line"
    assert line, f"{path.name} has no '# expect-line:' line"
    return Case(path.name, path.read_bytes(), expect,
                None if line.group(1) == "none" else int(line.group(1)))


def _laughs() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, (prev, cur) in enumerate(zip("abcdefgh", "bcdefghi", strict=True)):
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
        del i
    return ("\n".join(lines) + "\n").encode()


GENERATED = [
    # a NUL byte: a binary file, not YAML
    Case("nul_bytes.yaml", VALID.replace("status: healthy", "status: healthy\x00").encode(),
         ("contains a NUL byte",), 8),
    # Latin-1 text in a ref
    Case("invalid_utf8.yaml", VALID.encode().replace(b"ref: develop", b"ref: d\xe9velop"),
         ("is not UTF-8 text",), 12),
    # over the size limit: refused before it is parsed
    Case("too_large.yaml", VALID.encode() + b"note: " + b"x" * 1_000_001 + b"\n",
         ("larger than 1000000 bytes",), None),
    # aliases that expand to a billion values
    Case("billion_laughs.yaml", _laughs(), ("more than 200000 values",), None),
    # nested 200 levels deep
    Case("nesting_200_deep.yaml", ("note:\n" + "".join(" " * (i + 1) + "a:\n"
                                                         for i in range(200))).encode(),
         ("nested deeper than 64 levels",), 66),
]
CASES = [_from_file(p) for p in sorted(CORPUS.glob("*.yaml"))] + GENERATED


def test_the_corpus_covers_every_field_and_form() -> None:
    assert len(CASES) >= 80
    names = {c.name for c in CASES}
    assert len(names) == len(CASES)
    for part in ("repo_", "ref_", "sha_", "version_", "artifact_string_", "artifact_ref_",
                 "artifact_tag_", "artifact_digest_", "artifact_key_", "build_key_",
                 "manifest_digest_", "tests_", "environment_", "status_", "mode_",
                 "timestamp_", "replay_of_", "note_", "duplicate_key_", "unknown_key_"):
        assert any(n.startswith(part) for n in names), part
    for form in ("command", "backticks", "leading_dash", "semicolon", "newline", "too_long"):
        assert sum(1 for n in names if form in n) >= 2, form


def test_the_base_of_the_corpus_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "lockfiles" / NAME
    path.parent.mkdir()
    path.write_text(VALID)
    lock = load_lockfile(DeployRoot(tmp_path), path)
    image = lock.artifacts["ottochain_image"]
    assert isinstance(image, LockedArtifact) and image.digest.startswith("sha256:")
    assert lock.artifacts["sdk_build"] == "key:" + "e" * 64      # the old shape, kept


@pytest.fixture(scope="module")
def pristine(ecosystem_template: tuple[Path, dict[str, GitRepo]],
             tmp_path_factory: pytest.TempPathFactory) -> Ecosystem:
    template, repos = ecosystem_template
    return Ecosystem.copy(template, repos, tmp_path_factory.mktemp("invalid-locks") / "eco")


@pytest.fixture
def root(pristine: Ecosystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the deploy root, and a ``git`` on PATH that records being run."""
    dest = tmp_path / "deploy"
    shutil.copytree(pristine.root, dest)
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(dest))
    spy = tmp_path / "bin"
    spy.mkdir()
    real = shutil.which("git")
    (spy / "git").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/git-calls\nexec {real} "$@"\n')
    (spy / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}{os.environ['PATH']}")
    return dest


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def assert_refused(case: Case, result: Result, root: Path, before: dict[str, str]) -> None:
    report = result.stderr
    assert result.code == EXIT_BAD_INPUT, result
    assert DISPLAY in report
    for text in case.expect:
        assert text in report, f"{text!r} not in:\n{report}"
    if case.line is None:
        assert re.search(rf"{re.escape(DISPLAY)}:\d+:", report) is None, report
    else:
        assert f"{DISPLAY}:{case.line}: " in report, report
    many = re.search(rf"{re.escape(DISPLAY)}: (\d+) problems", report)
    assert many is None, f"one mistake, one problem:\n{report}"
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert snapshot(root) == before
    assert not (root.parent / "git-calls").exists(), "git ran before the lockfile was checked"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_hostile_lockfile_is_bad_input(root: Path, case: Case) -> None:
    (root / "lockfiles" / NAME).write_bytes(case.content)
    before = snapshot(root)
    assert_refused(case, run_inv("deploy-lockfile", NAME), root, before)
    assert_refused(case, run_inv("promote-lockfile", NAME, "beta"), root, before)


def test_the_spy_sees_git(root: Path) -> None:
    # the spy itself works: a command that does run git is recorded
    run_inv("resolve", "scratch", "--json")
    assert (root.parent / "git-calls").read_text().count("ls-remote") >= 1
