"""``inv deploy ENV --only C[,C]`` (SPEC §3a): a subset deployed, the rest carried over.

The lockfile it writes must still name exactly what runs: the named components at their
new commits and digests, every other component as the current healthy lockfile had it
(even when its branch moved meanwhile), and the named ones built against the carried
sources. Refused: names that are not deployable components of the environment (exit 2),
and an environment whose newest lockfile is not healthy (exit 1), with nothing written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.lockfile import history
from ottodeploy.root import DeployRoot
from tests.conftest import run_inv
from tests.deploykit import ServiceServer, configure, deployed, lockfiles, read_lock
from tests.ecosystem import Ecosystem


@pytest.fixture
def site(eco: Ecosystem) -> Iterator[Ecosystem]:
    with ServiceServer(eco.root) as server:
        configure(eco, server.port)
        yield eco


def newest(eco: Ecosystem) -> dict[str, Any]:
    return read_lock(history(DeployRoot(eco.root), "scratch")[-1].path)


def test_only_services_deploys_services_and_carries_the_rest(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    first = newest(eco)
    # both services and explorer move; only services is deployed
    services_sha = eco.repos["services"].commit("fix: services", {"s.txt": "1"},
                                                branch="develop")
    eco.repos["explorer"].commit("feat: explorer", {"e.txt": "1"}, branch="develop")
    before = len(deployed(eco))

    result = run_inv("deploy", "scratch", "--only", "services")
    assert result.code == 0, result.output
    assert [s["component"] for s in deployed(eco)[before:]] == ["services"]
    lock = newest(eco)
    assert lock["status"] == "healthy" and lock["carried_from"] == Path(
        history(DeployRoot(eco.root), "scratch")[-2].path).name
    assert lock["sources"]["services"]["sha"] == services_sha
    # explorer's commit moved, but what runs is the carried one: sources, digests, keys
    for name in ("explorer", "ottochain", "sdk", "metakit", "tessellation"):
        assert lock["sources"][name] == first["sources"][name], name
    for task in ("explorer_image", "ottochain_image", "sdk_build"):
        assert lock["artifacts"][task] == first["artifacts"][task], task
        assert lock["build_keys"][task] == first["build_keys"][task], task
    assert lock["artifacts"]["services_image"]["digest"] != \
        first["artifacts"]["services_image"]["digest"]
    assert {n: c["deployed"] for n, c in lock["components"].items()} == \
        {"ottochain": "unchanged", "services": True, "explorer": "unchanged"}
    assert lock["tests"] == {"deploy": "passed", "smoke": "passed", "e2e": "passed"}
    # the services got the image the lockfile names
    step = deployed(eco)[-1]
    assert step["env"]["OTTO_IMAGE"] == lock["artifacts"]["services_image"]["ref"]

    # a whole deploy afterwards takes explorer's new commit, and leaves services as it is
    before = len(deployed(eco))
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    assert [s["component"] for s in deployed(eco)[before:]] == ["explorer"]
    assert "carried_from" not in newest(eco)


def test_only_takes_several_components_comma_separated_or_repeated(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    for args in (["--only", "services,explorer"], ["--only", "explorer", "--only", "services"]):
        before = len(deployed(eco))
        result = run_inv("deploy", "scratch", *args, "--all")
        assert result.code == 0, result.output
        assert [s["component"] for s in deployed(eco)[before:]] == ["services", "explorer"]


def test_only_refuses_what_scratch_does_not_deploy(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    before, files = len(deployed(eco)), lockfiles(eco)
    for name, why in [("nonesuch", "'nonesuch' is not a component scratch deploys"),
                      ("metakit", "'metakit' is not a component scratch deploys"),  # built only
                      (",", "names no component")]:
        result = run_inv("deploy", "scratch", "--only", name)
        assert result.code == 2, result.output
        assert why in result.stderr and "ottochain, services, explorer" in result.stderr
        assert "Traceback" not in result.output
    assert len(deployed(eco)) == before and lockfiles(eco) == files


def test_only_needs_a_healthy_current_lockfile(site: Ecosystem) -> None:
    eco = site
    result = run_inv("deploy", "scratch", "--only", "services")
    assert result.code == 1, result.output
    assert "scratch has no lockfile" in result.stderr
    assert lockfiles(eco) == [] and deployed(eco) == []

    assert run_inv("deploy", "scratch").code == 0
    (eco.root / "deployed" / "fail-explorer").write_text("")
    assert run_inv("deploy", "scratch", "--all").code == 1          # newest is now failed
    (eco.root / "deployed" / "fail-explorer").unlink()
    files, before = lockfiles(eco), len(deployed(eco))
    result = run_inv("deploy", "scratch", "--only", "services")
    assert result.code == 1, result.output
    assert "is failed" in result.stderr and "inv deploy scratch" in result.stderr
    assert lockfiles(eco) == files and len(deployed(eco)) == before
