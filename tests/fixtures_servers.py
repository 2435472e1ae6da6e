"""Pytest fixtures around ``tests/servers.py`` (register with ``pytest_plugins``).

``registry`` and ``sshd`` are function-scoped: each starts in well under a second, and a
fresh server per test keeps tests independent (no shared tags, keys or state). A missing
binary skips the test, naming the apt package, unless ``OTTODEPLOY_CI`` is set: then it
fails, so CI never silently skips what it was meant to run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.servers import HttpRecorder, ServerUnavailable, SshServer, run_registry, run_sshd


def _unavailable(exc: ServerUnavailable) -> NoReturn:
    if os.environ.get("OTTODEPLOY_CI"):
        pytest.fail(f"{exc} — required when OTTODEPLOY_CI is set")
    pytest.skip(str(exc))


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh docker-registry on 127.0.0.1; the value is ``"127.0.0.1:<port>"``."""
    workdir: Path = tmp_path_factory.mktemp("registry")
    with contextlib.ExitStack() as stack:
        try:
            address = stack.enter_context(run_registry(workdir))
        except ServerUnavailable as exc:
            _unavailable(exc)
        yield address


@pytest.fixture
def registry_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Like ``registry``, with the folder it stores under: ``(address, storage)``."""
    workdir: Path = tmp_path_factory.mktemp("registry")
    with contextlib.ExitStack() as stack:
        try:
            address = stack.enter_context(run_registry(workdir))
        except ServerUnavailable as exc:
            _unavailable(exc)
        yield address, workdir


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A fresh sshd on 127.0.0.1 accepting ``sshd.identity_file`` for the current user."""
    workdir: Path = tmp_path_factory.mktemp("sshd")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(run_sshd(workdir))
        except ServerUnavailable as exc:
            _unavailable(exc)
        yield server


@pytest.fixture
def http_recorder() -> Iterator[HttpRecorder]:
    """A recording HTTP server on 127.0.0.1 (``.url``, ``.requests``, ``.queue()``...)."""
    with HttpRecorder() as recorder:
        yield recorder
