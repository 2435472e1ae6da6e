"""Shared fixtures: the session's git ecosystem template, a copy per test, command runners."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ecosystem import Ecosystem, build_template
from tests.gitrepos import GIT_ENV, GitRepo

pytest_plugins = ["tests.fixtures_servers"]

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _git_identity() -> Iterator[None]:
    """Commits made by the tool under test get a stable identity; no user config leaks in."""
    saved = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _no_signal_left_over() -> Iterator[None]:
    """A signal a test sent stays recorded until the next command starts (``interrupts``);
    tests that call the library below any command start clean instead."""
    from ottodeploy import interrupts

    yield
    interrupts._state.reset(active=False)


@pytest.fixture(scope="session")
def ecosystem_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, GitRepo]]:
    base = tmp_path_factory.mktemp("ecosystem-template")
    return base, build_template(base)


@pytest.fixture
def eco(ecosystem_template: tuple[Path, dict[str, GitRepo]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Ecosystem:
    """A private copy of the ecosystem; OTTODEPLOY_ROOT points at its deploy root."""
    template, repos = ecosystem_template
    eco = Ecosystem.copy(template, repos, tmp_path / "eco")
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(eco.root))
    monkeypatch.setenv("OTTO_TEST_LOG", str(eco.log))
    return eco


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_inv(*argv: str) -> Result:
    """``inv ARGV`` in this process, with the project's collection; exit code captured."""
    from invoke.program import Program
    from tasks import ns

    program = Program(namespace=ns, name="inv", binary="inv")
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            program.run(["inv", *argv], exit=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def inv() -> object:
    return run_inv
