"""Built once, named by content, deployed as recorded (SPEC §4a), tried the way it breaks.

Real git repos, the real ``docker-registry`` on 127.0.0.1 for the remote store, real
deploy steps (tests/deploykit.py's recorder). The test ecosystem's image recipes write an
OCI layout of ``<task> at <commit>`` into OTTO_OUT (reproducible), or, with
``OTTO_TEST_NOISE``, add the time (a recipe that never reproduces).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.lockfile import history
from ottodeploy.root import DeployRoot
from ottodeploy.store import Store
from tests.cascade_model import ALL_TASKS, closure_of
from tests.conftest import PROJECT, run_inv
from tests.deploykit import (
    ServiceServer,
    configure,
    deployed,
    inv_process,
    lockfiles,
    read_lock,
    set_env,
    smoke_checks,
    wait_for,
)
from tests.deployrepo import branches, dgit, init_deploy_repo
from tests.ecosystem import Ecosystem
from tests.servers import registry_blob
from tests.signing import Person, make_people


@pytest.fixture
def server(eco: Ecosystem) -> Iterator[ServiceServer]:
    with ServiceServer(eco.root) as srv:
        yield srv


@pytest.fixture
def site(eco: Ecosystem, server: ServiceServer) -> Ecosystem:
    """scratch and beta deploy to the tests' local site."""
    configure(eco, server.port)
    set_env(eco, "beta", smoke=smoke_checks(server.port),
            e2e={"run": f"python3 deploy/e2e.py {server.port}"})
    return eco


def newest(eco: Ecosystem, env: str) -> dict[str, Any]:
    """The environment's current lockfile, as the tool orders them (by timestamp)."""
    return read_lock(history(DeployRoot(eco.root), env)[-1].path)


def digests(lock: dict[str, Any]) -> dict[str, str]:
    return {task: entry["digest"] for task, entry in lock["artifacts"].items()}


def steps(eco: Ecosystem, since: int = 0) -> list[dict[str, Any]]:
    return deployed(eco)[since:]


def empty_the_store(eco: Ecosystem) -> None:
    store = eco.root / ".ottodeploy" / "store"
    for folder in store.rglob("*"):
        if folder.is_dir():
            folder.chmod(0o755)
    shutil.rmtree(store)


# --- promotion, replay and rollback build nothing ----------------------------------------------


def test_a_promotion_into_a_branch_environment_builds_nothing_and_ships_the_same_bytes(
        site: Ecosystem) -> None:
    eco = site
    init_deploy_repo(eco, origin=False)
    assert run_inv("deploy", "scratch").code == 0
    scratch = newest(eco, "scratch")
    result = run_inv("promote", "scratch", "beta")
    assert result.code == 0, result.output
    (branch,) = branches(eco)
    dgit(eco, "merge", "--quiet", "--no-edit", branch)       # beta needs no approval here
    eco.clear_log()
    before = len(deployed(eco))
    result = run_inv("deploy", "beta")
    assert result.code == 0, result.output
    assert eco.built() == []                                  # not one recipe ran
    beta = newest(eco, "beta")
    assert digests(beta) == digests(scratch)                  # what was tested is what ships
    assert {n: s["sha"] for n, s in beta["sources"].items()} == \
        {n: s["sha"] for n, s in scratch["sources"].items()}
    for step in steps(eco, before):
        task = f"{step['component']}_image"
        assert step["env"]["OTTO_IMAGE"] == beta["artifacts"][task]["ref"]
    # and diff sees no difference, in commits nor in bytes
    data = json.loads(run_inv("diff", "scratch", "beta", "--json").stdout)
    assert all(c["same"] for c in data["components"].values()), data


def test_replay_and_rollback_with_stored_artifacts_run_no_recipe(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    first = newest(eco, "scratch")
    eco.repos["services"].commit("feat: services moves on", {"m.txt": "1"}, branch="develop")
    assert run_inv("deploy", "scratch").code == 0
    eco.clear_log()
    dry = run_inv("rollback", "scratch", "--dry-run")
    assert dry.code == 0, dry.output
    assert "== build (dry run): 0 of 8 tasks would run" in dry.stdout
    result = run_inv("rollback", "scratch")
    assert result.code == 0, result.output
    assert eco.built() == []
    rolled = newest(eco, "scratch")
    assert digests(rolled) == digests(first)
    # only services went back: its fingerprint changed, the others' did not
    assert {n: c["deployed"] for n, c in rolled["components"].items()} == \
        {"ottochain": "unchanged", "services": True, "explorer": "unchanged"}


def test_a_lost_store_is_rebuilt_and_reported_reproduced(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    locked = history(DeployRoot(eco.root), "scratch")[-1].path
    first = read_lock(locked)
    empty_the_store(eco)
    eco.clear_log()
    result = run_inv("deploy-lockfile", locked.name)
    assert result.code == 0, result.output
    assert set(eco.built()) == ALL_TASKS                       # nothing stored: all rebuilt
    replayed = newest(eco, "scratch")
    assert digests(replayed) == digests(first)
    assert {t: e.get("reproduced") for t, e in replayed["artifacts"].items()} == \
        dict.fromkeys(ALL_TASKS, True)


def test_a_recipe_that_does_not_reproduce_is_recorded_as_such(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    monkeypatch.setenv("OTTO_TEST_NOISE", "1")
    assert run_inv("deploy", "scratch").code == 0
    locked = history(DeployRoot(eco.root), "scratch")[-1].path
    first = read_lock(locked)
    empty_the_store(eco)
    result = run_inv("deploy-lockfile", locked.name)
    assert result.code == 0, result.output                   # scratch needs no approval
    replayed = newest(eco, "scratch")
    for task in ("ottochain_image", "services_image", "explorer_image"):
        entry = replayed["artifacts"][task]
        assert entry["reproduced"] is False
        assert entry["digest"] != first["artifacts"][task]["digest"]  # the new bytes, named
    assert "NOT reproduced" in result.stdout


# --- approval-required: bytes that were not approved are refused --------------------------------


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("keys"))


def approved_beta(eco: Ecosystem, people: dict[str, Person]) -> str:
    """beta requires approval; scratch deployed, promoted to beta, approved by bob; the name
    of beta's healthy lockfile (committed)."""
    path = eco.root / "manifests" / "environments" / "beta.yaml"
    path.write_text(path.read_text().replace("auto_deploy: true\n",
                                             "auto_deploy: true\napproval_required: true\n"))
    assert "approval_required: true" in path.read_text()
    eco.write("manifests/approvers",
              people["alice"].allowed_signer() + people["bob"].allowed_signer())
    init_deploy_repo(eco, origin=False)
    assert run_inv("deploy", "scratch").code == 0
    assert run_inv("promote", "scratch", "beta").code == 0
    (branch,) = branches(eco)
    bob = people["bob"]
    approve = run_inv("approve", branch, "--by", bob.by, "--signing-key", str(bob.key))
    assert approve.code == 0, approve.output
    result = run_inv("deploy", "beta")
    assert result.code == 0, result.output
    assert f"approved by {bob.by}" in result.stdout
    name = history(DeployRoot(eco.root), "beta")[-1].name
    dgit(eco, "add", "lockfiles")
    dgit(eco, "commit", "--quiet", "-m", "chore(lock): beta")
    return name


def test_bytes_that_do_not_reproduce_are_refused_where_approval_is_required(
        site: Ecosystem, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    monkeypatch.setenv("OTTO_TEST_NOISE", "1")
    name = approved_beta(eco, people)
    beta = read_lock(eco.root / "lockfiles" / name)
    assert beta["approval"]["approver"] == people["bob"].by
    empty_the_store(eco)
    before = (len(deployed(eco)), lockfiles(eco))
    result = run_inv("deploy-lockfile", name)
    assert result.code == 1, result.output
    assert "into other bytes than" in result.stderr and "were not approved" in result.stderr
    assert (len(deployed(eco)), lockfiles(eco)) == before     # nothing deployed, no lockfile


def test_a_reproducible_replay_is_accepted_where_approval_is_required(
        site: Ecosystem, people: dict[str, Person]) -> None:
    eco = site
    name = approved_beta(eco, people)
    empty_the_store(eco)
    result = run_inv("deploy-lockfile", name)
    assert result.code == 0, result.output
    replayed = newest(eco, "beta")
    assert all(e["reproduced"] is True for e in replayed["artifacts"].values())


# --- incremental deploy ---------------------------------------------------------------------


def test_a_services_commit_redeploys_services_alone_and_a_noop_runs_no_step(
        site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    eco.repos["services"].commit("fix: services only", {"s.txt": "1"}, branch="develop")
    before = len(deployed(eco))
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    assert [s["component"] for s in steps(eco, before)] == ["services"]
    lock = newest(eco, "scratch")
    assert {n: c["deployed"] for n, c in lock["components"].items()} == \
        {"ottochain": "unchanged", "services": True, "explorer": "unchanged"}
    assert "-- explorer: unchanged" in result.stdout
    # explorer was rebuilt (its key holds the services') into the same bytes
    assert set(eco.built()) >= {"services_image", "explorer_image"}

    before = len(deployed(eco))
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    assert steps(eco, before) == []                          # a no-op redeploy: no step
    assert "== smoke" in result.stdout and "== e2e" in result.stdout   # tests in full
    result = run_inv("deploy", "scratch", "--all")
    assert result.code == 0, result.output
    assert [s["component"] for s in steps(eco, before)] == \
        ["ottochain"] * 3 + ["services", "explorer"]


def test_a_changed_deploy_file_redeploys_the_components_that_read_it(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    before = len(deployed(eco))
    eco.write("deploy/record.py", (eco.root / "deploy" / "record.py").read_text() + "\n# v2\n")
    assert run_inv("deploy", "scratch").code == 0
    assert {s["component"] for s in steps(eco, before)} == {"ottochain", "services", "explorer"}


# --- a build racing a deploy ----------------------------------------------------------------


def test_a_build_during_the_deploy_stage_cannot_change_what_ships(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0            # everything built and stored
    hold = eco.root / "deployed" / "hold-explorer"
    hold.write_text("")
    deploy = inv_process("deploy", "scratch", "--all")
    try:
        wait_for((eco.root / "deployed" / "holding-explorer").exists,
                 what="the deploy to reach explorer's step")
        # services moves on while the deploy stage runs
        eco.repos["services"].commit("feat: a new services commit", {"n.txt": "1"},
                                     branch="develop")
        # while the deploy stage runs: a build of the same environment is refused (locked) ...
        same = run_inv("build", "scratch")
        assert same.code == 1 and "build of this environment" in same.stderr, same.output
        doit = subprocess.run(["doit", "-f", str(PROJECT / "dodo.py"), "env=scratch"],
                              cwd=eco.root, capture_output=True, text=True, timeout=120,
                              check=False)
        assert doit.returncode != 0 and "build of this environment" in doit.stdout + doit.stderr
        # ... and beta builds the new commit into the shared store meanwhile
        newer = run_inv("build", "beta")
        assert newer.code == 0, newer.output
    finally:
        hold.unlink()
        out, err = deploy.communicate(timeout=120)
    assert deploy.returncode == 0, out + err
    lock = newest(eco, "scratch")
    shipped = {s["component"]: s["env"] for s in deployed(eco) if s["env"]["OTTO_ENV"] ==
               "scratch"}
    # every step got the digests the deploy's own build recorded, and the lockfile says so
    for component in ("ottochain", "services", "explorer"):
        entry = lock["artifacts"][f"{component}_image"]
        assert shipped[component]["OTTO_IMAGE"] == entry["ref"]
        folder = Path(shipped[component]["OTTO_OUT_IMAGE"])
        assert folder.name == entry["digest"].removeprefix("sha256:")
        assert (folder / "built.txt").read_text().split()[2] == \
            lock["sources"][component]["sha"]                 # the files of that commit
    beta_services = Store.of_root(eco.root).lookup(
        read_records(eco, "beta")["services_image"]["key"])
    assert beta_services is not None
    assert beta_services != lock["artifacts"]["services_image"]["digest"]
    assert lock["sources"]["services"]["sha"] != eco.repos["services"].rev("develop")


def read_records(eco: Ecosystem, env: str) -> dict[str, dict[str, Any]]:
    folder = eco.root / ".ottodeploy" / env / "records"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


# --- another machine, the same registry ------------------------------------------------------


def test_a_second_machine_builds_nothing_the_first_pushed(
        eco: Ecosystem, registry: str, tmp_path: Path) -> None:
    components = eco.root / "manifests" / "components.yaml"
    components.write_text(f"store: {{registry: {registry}/ottodeploy-store}}\n"
                          + eco.components_text(registry=registry, cache=True))
    assert run_inv("build", "scratch").code == 0
    assert set(eco.built()) == ALL_TASKS
    first = read_records(eco, "scratch")
    # the second machine: a copy of the deploy root without its .ottodeploy/ (no store)
    second = tmp_path / "machine2"
    shutil.copytree(eco.root, second, ignore=shutil.ignore_patterns(".ottodeploy"))
    eco.clear_log()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OTTODEPLOY_ROOT", str(second))
        result = run_inv("build", "scratch")
    assert result.code == 0, result.output
    assert eco.built() == []                                  # pulled, not built
    again = {t: json.loads(p.read_text()) for t, p in
             ((p.stem, p) for p in (second / ".ottodeploy" / "scratch" / "records").glob("*"))}
    assert {t: r["digest"] for t, r in again.items()} == {t: r["digest"] for t, r in first.items()}
    assert {r["how"] for r in again.values()} == {"pulled"}
    # an upstream commit: only what is below it is built on the second machine
    eco.repos["sdk"].commit("feat: sdk moves", {"x.txt": "1"}, branch="develop")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OTTODEPLOY_ROOT", str(second))
        assert run_inv("build", "scratch").code == 0
    assert set(eco.built()) == closure_of(["sdk"])


def test_a_tampered_blob_in_the_remote_store_fails_the_build_instead_of_being_used(
        eco: Ecosystem, registry_storage: tuple[str, Path], tmp_path: Path) -> None:
    """Content addressing is the defence: a registry whose copy of an output changed (a
    corrupt disk, an attacker with write access to its storage) is caught by the digest,
    and the build stops there, naming it, rather than quietly building around it."""
    registry, storage = registry_storage
    components = eco.root / "manifests" / "components.yaml"
    components.write_text(f"store: {{registry: {registry}/ottodeploy-store}}\n"
                          + eco.components_text(registry=registry, cache=True))
    assert run_inv("build", "scratch").code == 0
    sdk = read_records(eco, "scratch")["sdk_build"]
    manifest = json.loads((eco.root / ".ottodeploy" / "store" / "blobs" / "sha256" /
                           sdk["digest"].removeprefix("sha256:")).read_bytes())
    [layer] = manifest["layers"]
    blob = registry_blob(storage, layer["digest"])
    blob.write_bytes(blob.read_bytes()[:-8] + b"tampered")
    second = tmp_path / "machine2"
    shutil.copytree(eco.root, second, ignore=shutil.ignore_patterns(".ottodeploy"))
    eco.clear_log()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OTTODEPLOY_ROOT", str(second))
        result = run_inv("build", "scratch", "--task", "services_image")
    assert result.code == 1, result.output
    assert f"blob {layer['digest']} arrived with other bytes" in result.output
    assert "corrupt or was tampered with" in result.output
    assert "sdk_build" in result.output
    assert "services_image" not in eco.built() and "sdk_build" not in eco.built()


# --- differences in bytes, and garbage -------------------------------------------------------


def test_diff_reports_the_same_commit_built_into_other_bytes(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    monkeypatch.setenv("OTTO_TEST_NOISE", "1")
    assert run_inv("deploy", "scratch").code == 0
    empty_the_store(eco)
    assert run_inv("deploy", "beta").code == 0               # the same SHAs, rebuilt: new bytes
    data = json.loads(run_inv("diff", "scratch", "beta", "--json").stdout)
    for name, component in data["components"].items():
        assert component["a"]["sha"] == component["b"]["sha"], name
        assert component["same"] is False and component["bytes"] == "differ", name
    pair = data["components"]["services"]["artifacts"]["services_image"]
    assert pair["a"] != pair["b"] and pair["a"].startswith("sha256:")
    text = run_inv("diff", "scratch", "beta").stdout
    assert "services       differs" in text and "the same commit, other bytes" in text


def test_gc_keeps_what_lockfiles_reference(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    kept = digests(newest(eco, "scratch"))
    eco.repos["services"].commit("feat: one", {"a.txt": "1"}, branch="develop")
    assert run_inv("build", "beta").code == 0                 # a build no lockfile names
    orphan = read_records(eco, "beta")["services_image"]["digest"]
    assert orphan not in kept.values()
    # everything is older than a week, and beta's records are forgotten
    shutil.rmtree(eco.root / ".ottodeploy" / "beta")
    index = eco.root / ".ottodeploy" / "store" / "index.json"
    data = json.loads(index.read_text())
    for entry in data["manifests"]:
        entry["annotations"]["org.opencontainers.image.created"] = "2020-01-01T00:00:00+00:00"
    index.write_text(json.dumps(data))
    for blob in (eco.root / ".ottodeploy" / "store" / "blobs" / "sha256").iterdir():
        os.utime(blob, (1577836800, 1577836800))   # 2020-01-01
    result = run_inv("gc", "--json")
    assert result.code == 0, result.output
    freed = {f["digest"] for f in json.loads(result.stdout)["freed"]}
    assert orphan in freed
    store = Store.of_root(eco.root)
    assert all(store.has(d) for d in kept.values())
    assert not store.has(orphan)
    # and the kept lockfile still deploys without a recipe
    eco.clear_log()
    name = history(DeployRoot(eco.root), "scratch")[-1].name
    result = run_inv("deploy-lockfile", name)
    assert result.code == 0, result.output
    assert eco.built() == []
