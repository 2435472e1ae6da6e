"""An error inside the deploy stage still ends in a record (SPEC §6a: "the record is never lost").

A failing step or check is an ordinary failure; these are the other ones — something the
deploy stage did not expect raises. The lockfile is written anyway, ``failed``, with the
stage the error ended marked failed and the error in its note; a known error then ends
the command as a failed deploy (exit 1), an unknown one (a defect) is raised again, with
its traceback, only after the record is on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ottodeploy.core.errors import DeployError
from ottodeploy.flows import stages
from ottodeploy.flows.deploy import deploy
from ottodeploy.reporting import Collected
from ottodeploy.root import DeployRoot
from tests.deploykit import ServiceServer, configure, deployed, lockfiles, read_lock
from tests.ecosystem import Ecosystem


@pytest.fixture
def site(eco: Ecosystem) -> Iterator[Ecosystem]:
    with ServiceServer(eco.root) as server:
        configure(eco, server.port)
        yield eco


def _raises(exc: Exception) -> Any:
    def run_checks(*_: Any, **__: Any) -> Any:
        raise exc
    return run_checks


def test_a_known_error_in_the_smoke_stage_is_recorded_and_fails_the_deploy(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stages, "run_checks", _raises(DeployError("ssh: connection refused")))
    with pytest.raises(DeployError, match="the smoke stage failed: ssh: connection refused"):
        deploy(DeployRoot(site.root), "scratch", reporter=Collected())
    (path,) = lockfiles(site)
    lock = read_lock(path)
    assert lock["status"] == "failed"
    assert lock["tests"] == {"deploy": "passed", "smoke": "failed", "e2e": "skipped"}
    assert lock["note"] == "the smoke stage failed: ssh: connection refused"
    assert {c["component"] for c in deployed(site)} == {"ottochain", "services", "explorer"}


def test_a_defect_in_the_deploy_stage_is_raised_after_the_record_is_written(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("OTTO_IMAGE")
    monkeypatch.setattr(stages, "fingerprint", broken)
    with pytest.raises(KeyError, match="OTTO_IMAGE"):
        deploy(DeployRoot(site.root), "scratch", reporter=Collected())
    (path,) = lockfiles(site)
    lock = read_lock(path)
    assert (lock["status"], lock["tests"]["deploy"]) == ("failed", "failed")
    assert lock["note"] == "the deploy stage failed: 'OTTO_IMAGE'"
    assert deployed(site) == []


def test_a_failing_smoke_after_unchanged_components_says_how_to_redeploy_them(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    deploy(DeployRoot(site.root), "scratch", reporter=Collected())
    # nothing changed, so no step runs; what runs is checked again, and fails
    monkeypatch.setattr(stages, "run_checks", _raises(DeployError("node1: connection refused")))
    with pytest.raises(DeployError) as failed:
        deploy(DeployRoot(site.root), "scratch", reporter=Collected())
    hint = failed.value.hint or ""
    assert "ottochain, services, explorer were not redeployed (deployed as before)" in hint
    assert "inv deploy scratch --all redeploys every component" in hint
    (failed_lock,) = [lock for lock in map(read_lock, lockfiles(site))
                      if lock["status"] == "failed"]
    assert {c["deployed"] for c in failed_lock["components"].values()} == {"unchanged"}
