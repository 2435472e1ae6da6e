"""Uploads to the remote store run behind the build (``uploads.Uploads``), and still
decide the run's outcome.

A downstream task does not wait for its upstream's upload: the test holds tessellation's
upload until metakit's recipe has started, which a synchronous upload could never allow. A
registry that acknowledges other bytes than the upload's digest still fails the build, at
its end, naming the task; nothing is deployed after it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ottodeploy import build as build_module
from ottodeploy.core.errors import OttodeployError
from ottodeploy.core.keys import TaskSpec
from tests.conftest import run_inv
from tests.ecosystem import Ecosystem


def _cached(eco: Ecosystem) -> None:
    eco.write("manifests/components.yaml", eco.components_text(cache=True))


def _started(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_downstream_task_starts_before_its_upstream_upload_ends(
        eco: Ecosystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cached(eco)
    started = tmp_path / "started"
    monkeypatch.setenv("OTTO_TEST_STARTED", str(started))
    uploads: list[tuple[str, list[str]]] = []

    def held_push(ctx: build_module.BuildContext, spec: TaskSpec, digest: str) -> None:
        if spec.task == "tessellation_publish":
            deadline = time.monotonic() + 20
            while "metakit_publish" not in _started(started) and time.monotonic() < deadline:
                time.sleep(0.02)
        uploads.append((spec.task, _started(started)))

    monkeypatch.setattr(build_module, "_push", held_push)
    result = run_inv("build", "scratch")
    assert result.code == 0, result.output
    tessellation = dict(uploads)["tessellation_publish"]
    assert "metakit_publish" in tessellation      # started while tessellation's upload waited
    # every output that went to the store was uploaded, before the build ended
    assert {task for task, _ in uploads} >= {"tessellation_publish", "metakit_publish",
                                             "ottochain_assembly", "sdk_build",
                                             "monitoring_config"}


def test_an_upload_the_registry_got_wrong_fails_the_build_and_nothing_deploys(
        eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    _cached(eco)

    def tampering_push(ctx: build_module.BuildContext, spec: TaskSpec, digest: str) -> None:
        if spec.task == "sdk_build":
            raise OttodeployError(f"task {spec.task} failed: the registry acknowledged other "
                                  f"bytes than {digest[:19]}")

    monkeypatch.setattr(build_module, "_push", tampering_push)
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    assert "task sdk_build failed: the registry acknowledged other bytes" in result.output
    assert "Traceback" not in result.output
    lockfiles = list((eco.root / "lockfiles").glob("scratch-*.yaml"))
    assert all("status: healthy" not in p.read_text() for p in lockfiles)
    assert not (eco.root / "deployed").exists() or not any((eco.root / "deployed").iterdir())
