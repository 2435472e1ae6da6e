"""deploy-branch.yml run for real with act, end to end (SPEC §4a, §9; tests/actkit.py).

plan → one matrix job per task in waves → deploy (``vars.OTTODEPLOY_FAN_OUT`` = always), or
plan and deploy in one job (the default for a cascade no wider than one runner builds at
once), on a copy of this repository whose
manifests are the test ecosystem's: its seven local repos under GitHub-style owner/name
names (``OTTODEPLOY_GIT_BASE`` maps them to the local repos), its recipes pushing images
to a loopback ``docker-registry`` (``OTTO_TEST_PUSH``), and components.yaml naming
ghcr.io's store, which ``vars.OTTODEPLOY_STORE_REGISTRY`` replaces with the same loopback
registry: the workflow files and the manifests are used as they are, everything else is
configuration. The jobs share nothing but that registry (no cache, no artifacts); each
wave job pulls what it needs, checked against its digest, and the deploy job builds
nothing.

The recipes log every build (``OTTO_TEST_LOG``), the registry is read through its own API
(not through the code under test), and every run asserts that nothing left the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.actkit import Act, ActRun, act_session
from tests.actsite import DEPLOY, GITHUB, PLAN, STORE, ActSite
from tests.cascade_model import ALL_TASKS, downstream, upstream
from tests.conftest import run_inv
from tests.ecosystem import Ecosystem
from tests.gitrepos import git
from tests.servers import registry_blob

pytestmark = pytest.mark.act



@pytest.fixture(scope="module")
def act(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Act]:
    with act_session(tmp_path_factory.mktemp("act")) as harness:
        yield harness


@pytest.fixture
def site(eco: Ecosystem, registry_storage: tuple[str, Path], tmp_path: Path) -> ActSite:
    registry, storage = registry_storage
    return ActSite.make(eco, registry, storage, tmp_path)


def task_jobs(run: ActRun) -> dict[str, int]:
    """The wave jobs' tasks and their waves: act names a matrix entry of a called workflow
    ``Wave 4-2/Build task/doit sdk_build`` (entry 2 of wave 4)."""
    out = {}
    for job in run.jobs:
        if job.name.startswith("Wave "):
            wave, _, rest = job.name.partition("/")
            out[rest.rsplit("doit ", 1)[-1].strip()] = int(wave.split()[1].split("-")[0])
    return out


def expected_waves(tasks: set[str]) -> dict[str, int]:
    """Worked out from the test's own model of the cascade: a task's wave is one more than
    the deepest wave of the running tasks it needs, directly or through others."""
    wave: dict[str, int] = {}
    while len(wave) < len(tasks):
        for task in sorted(tasks - set(wave)):
            needed = upstream(task) & tasks
            if needed <= set(wave):
                wave[task] = 1 + max((wave[u] for u in needed), default=0)
    return wave


def assert_ok(run: ActRun) -> None:
    assert run.code == 0, run.summary()
    assert all(j.result == "success" for j in run.jobs), run.summary()
    assert run.outbound == [], run.summary()


def assert_jobs(run: ActRun, tasks: set[str]) -> None:
    """plan, one wave job per task in its wave, deploy: nothing else."""
    assert task_jobs(run) == expected_waves(tasks), run.summary()
    others = {j.name for j in run.jobs if not j.name.startswith("Wave ")}
    assert others == {PLAN, DEPLOY}, run.summary()


def test_dispatch_then_push_build_each_task_once_and_deploy_from_the_store(
        act: Act, site: ActSite) -> None:
    eco = site.eco
    before = git(site.origin, "rev-parse", "main")
    tip = git(eco.repos["ottochain"].remote, "rev-parse", "develop")

    # workflow_dispatch, scratch, ottochain repointed (at develop's tip, by SHA)
    run = site.dispatch(act, environment="scratch", ottochain_ref=tip, fan_out="always")
    print(run.summary())
    assert_ok(run)
    assert_jobs(run, ALL_TASKS)
    for job in run.jobs:   # every job made the dispatch's edit
        if job.name != PLAN:
            assert job.step("Repoint ottochain at the requested ref").result == "success"
    # every task was built once, by its own wave job; the deploy job built none
    assert sorted(eco.built()) == sorted(ALL_TASKS)
    deploy = "".join(run.job(DEPLOY).output)
    assert "cascade: 5 pulled, 3 reused" in deploy    # outputs from the store, images by tag
    assert "building " not in deploy
    [scratch] = site.new_lockfiles(before)
    assert (scratch["environment"], scratch["status"]) == ("scratch", "healthy")
    assert scratch["sources"]["ottochain"]["ref"] == tip           # the override ran
    assert {n: s["repo"] for n, s in scratch["sources"].items()} == GITHUB
    assert set(scratch["artifacts"]) == ALL_TASKS
    for task, entry in scratch["artifacts"].items():   # what the wave jobs pushed
        assert entry["digest"] == site.pushed(task, entry["key"], entry.get("tag")), task
    assert git(site.origin, "diff", "--stat", before, "main", "--", "manifests/") == ""

    # one upstream commit, then a push to develop deploys beta: its sources are scratch's
    # but for services, so only services and what is below it run; the rest is in the store
    site.pull()
    git(site.repo, "switch", "--quiet", "-c", "develop")
    git(site.repo, "push", "--quiet", "origin", "develop")
    head = git(site.repo, "rev-parse", "HEAD")
    services = eco.repos["services"].commit("feat: services moves", {"s.txt": "1"},
                                            branch="develop")
    again = site.run(act, "push", {"ref": "refs/heads/develop", "before": head, "after": head},
                     fan_out="always")
    print(again.summary())
    assert_ok(again)
    affected = downstream({"services_image"})
    assert_jobs(again, affected)
    plan = "".join(again.job(PLAN).output)
    for task in ALL_TASKS - affected:
        assert f"in the store already: {task}" in plan
    assert sorted(eco.built()) == sorted(affected)
    assert "cascade: 5 pulled, 3 reused" in "".join(again.job(DEPLOY).output)
    [beta] = site.new_lockfiles(head, "develop")
    assert (beta["environment"], beta["status"]) == ("beta", "healthy")
    assert beta["sources"]["services"]["sha"] == services
    assert beta["sources"]["ottochain"]["ref"] == "develop"
    for task in ALL_TASKS - affected:   # built once, for scratch: the same bytes
        assert beta["artifacts"][task]["digest"] == scratch["artifacts"][task]["digest"]
    for task in affected:
        entry = beta["artifacts"][task]
        assert entry["digest"] != scratch["artifacts"][task]["digest"]
        assert entry["digest"] == site.pushed(task, entry["key"], entry.get("tag")), task


def test_a_tampered_upstream_in_the_store_fails_the_run_before_anything_deploys(
        act: Act, site: ActSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone with write access to the registry's storage (or a failing disk) changes the
    bytes of sdk's stored output. The wave job that needs it pulls it, finds other bytes
    than the digest names, and fails; nothing below it runs, nothing deploys."""
    eco = site.eco
    # scratch built on another machine (this process), into the same registry
    monkeypatch.setenv("OTTODEPLOY_STORE_REGISTRY", f"{site.registry}/{STORE}")
    monkeypatch.setenv("OTTO_TEST_PUSH", "1")
    for key, value in {"GIT_CONFIG_COUNT": "1",
                       "GIT_CONFIG_KEY_0": f"url.{site.git_base}.insteadOf",
                       "GIT_CONFIG_VALUE_0": "https://github.com/"}.items():
        monkeypatch.setenv(key, value)
    built = run_inv("build", "scratch")
    assert built.code == 0, built.output
    record = json.loads((eco.root / ".ottodeploy" / "scratch" / "records" /
                         "sdk_build.json").read_text())
    manifest = json.loads((eco.root / ".ottodeploy" / "store" / "blobs" / "sha256" /
                           record["digest"].removeprefix("sha256:")).read_bytes())
    [layer] = manifest["layers"]
    blob = registry_blob(site.storage, layer["digest"])
    blob.write_bytes(blob.read_bytes()[:-8] + b"tampered")

    eco.repos["services"].commit("feat: services moves", {"s.txt": "1"}, branch="develop")
    git(site.repo, "switch", "--quiet", "-c", "develop")
    git(site.repo, "push", "--quiet", "origin", "develop")
    head = git(site.repo, "rev-parse", "HEAD")
    run = site.run(act, "push", {"ref": "refs/heads/develop", "before": head, "after": head},
                   fan_out="always")
    print(run.summary())
    assert run.code != 0
    assert run.outbound == [], run.summary()
    assert jobs_of(run) == {PLAN: "success",
                            "Wave 1/Build task/doit services_image": "failure"}, run.summary()
    failed = "".join(run.job("Wave 1/Build task/doit services_image").output)
    assert f"blob {layer['digest']} arrived with other bytes" in failed
    assert "corrupt or was tampered with" in failed
    assert eco.built() == []                       # nothing was built around it
    assert site.new_lockfiles(head, "develop") == []
    assert git(site.origin, "rev-parse", "develop") == head


def jobs_of(run: ActRun) -> dict[str, str]:
    return {j.name: j.result for j in run.jobs}


def test_by_default_the_plan_job_builds_and_deploys_when_fanning_out_cannot_pay(
        act: Act, site: ActSite) -> None:
    """The test cascade's widest wave is two tasks, which one runner builds at once
    (``--jobs 2``): extra runners would only add their start-up. So the plan job builds
    every task itself, deploys and commits the lockfile; no wave or deploy job runs. The
    store still receives every output (a later fanned-out run or another environment
    finds it there)."""
    eco = site.eco
    before = git(site.origin, "rev-parse", "main")
    run = site.dispatch(act, environment="scratch")
    print(run.summary())
    assert_ok(run)
    assert [j.name for j in run.jobs] == [PLAN]
    plan = "".join(run.job(PLAN).output)
    assert "not fanned out, deployed by this job: no wave is wider than one runner builds " \
           "at once (2 <= 2)" in plan
    assert not run.job(PLAN).ran("inv check")   # the deploy checks first itself
    assert "cascade: 8 built" in plan and "lockfile" in plan
    assert run.job(PLAN).step("Commit the lockfile").result == "success"
    assert sorted(eco.built()) == sorted(ALL_TASKS)      # each task once, by this job
    [scratch] = site.new_lockfiles(before)
    assert (scratch["environment"], scratch["status"]) == ("scratch", "healthy")
    assert set(scratch["artifacts"]) == ALL_TASKS
    for task, entry in scratch["artifacts"].items():   # in the store under its key
        assert entry["digest"] == site.pushed(task, entry["key"], entry.get("tag")), task
    assert git(site.origin, "diff", "--stat", before, "main", "--", "manifests/") == ""

    # nothing changed: the next run has nothing to build, and builds nothing
    site.pull()
    again = site.dispatch(act, environment="scratch")
    assert_ok(again)
    assert [j.name for j in again.jobs] == [PLAN]
    assert "not fanned out, deployed by this job: nothing to build" in \
        "".join(again.job(PLAN).output)
    assert eco.built() == []
