"""What a CI run configures from outside the manifests: the remote store, the planned SHAs.

``OTTODEPLOY_STORE_REGISTRY`` names the remote store instead of (or without)
components.yaml's ``store.registry``, so one set of manifests runs against ghcr.io on
GitHub and a loopback registry in tests; it never changes a build key.
``OTTODEPLOY_PINNED_SHAS`` makes every job of a run resolve the sources to the SHAs its
planning job resolved, so a branch that moves meanwhile cannot split the run.
Real repos, the real ``docker-registry`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest

from ottodeploy.core.errors import EXIT_BAD_INPUT, UsageError
from ottodeploy.environment import STORE_REGISTRY_VAR, open_environment, store_registry
from ottodeploy.resolve import PINNED_SHAS_VAR, Pinned, pinned_sources
from ottodeploy.root import DeployRoot
from tests.cascade_model import ALL_TASKS
from tests.conftest import run_inv
from tests.ecosystem import Ecosystem
from tests.gitrepos import git

# --- OTTODEPLOY_STORE_REGISTRY -----------------------------------------------------------------


def test_the_variable_overrides_the_manifest_and_empty_means_unset() -> None:
    configured = "ghcr.io/ottobot-ai/ottodeploy-store"
    assert store_registry(configured, {}) == configured
    assert store_registry(None, {}) is None
    assert store_registry(configured, {STORE_REGISTRY_VAR: ""}) == configured
    assert store_registry(configured, {STORE_REGISTRY_VAR: " 127.0.0.1:5000/s "}) == \
        "127.0.0.1:5000/s"
    assert store_registry(None, {STORE_REGISTRY_VAR: "127.0.0.1:5000/s"}) == "127.0.0.1:5000/s"


@pytest.mark.parametrize("bad", ["127.0.0.1:5000", "ghcr.io/o/s:tag", "ghcr.io/o/s@sha256:00",
                                 "ghcr.io/O/$(id)"])
def test_a_malformed_registry_is_bad_input_naming_the_variable(bad: str) -> None:
    with pytest.raises(UsageError) as caught:
        store_registry(None, {STORE_REGISTRY_VAR: bad})
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert STORE_REGISTRY_VAR in caught.value.message


def tags(registry: str, repository: str) -> list[str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{registry}/v2/{repository}/tags/list", timeout=5) as resp:
        return sorted(json.load(resp).get("tags") or [])


def test_outputs_go_to_the_configured_store_with_the_keys_unchanged(
        eco: Ecosystem, registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = DeployRoot(eco.root)
    keys = {t: s.key for t, s in open_environment(root, "scratch").specs.items()}  # cascade cached
    monkeypatch.setenv(STORE_REGISTRY_VAR, f"{registry}/ci-store")
    opened = open_environment(root, "scratch")
    assert opened.store_registry == f"{registry}/ci-store"    # read now, not from the cache
    assert {t: s.key for t, s in opened.specs.items()} == keys
    result = run_inv("build", "scratch")
    assert result.code == 0, result.output
    assert set(eco.built()) == ALL_TASKS
    assert tags(registry, "ci-store/sdk") == [f"bk-{keys['sdk_build'][:16]}"]
    # a malformed value stops a build before anything runs, naming the variable
    monkeypatch.setenv(STORE_REGISTRY_VAR, "not a registry")
    bad = run_inv("build", "scratch")
    assert bad.code == EXIT_BAD_INPUT and STORE_REGISTRY_VAR in bad.output


# --- OTTODEPLOY_PINNED_SHAS --------------------------------------------------------------------


def test_pinned_shas_parse() -> None:
    sha = "a" * 40
    assert pinned_sources({}) == {}
    assert pinned_sources({PINNED_SHAS_VAR: f'{{"ottochain": "{sha}"}}'}) == {
        "ottochain": Pinned(sha)}
    assert pinned_sources({PINNED_SHAS_VAR: json.dumps(
        {"ottochain": {"sha": sha, "version": "0.6.2-dev.3"}})}) == {
        "ottochain": Pinned(sha, "0.6.2-dev.3")}
    for bad in ("[1]", "{", '{"ottochain": "develop"}', '{"ottochain": 1}',
                json.dumps({"ottochain": {"sha": sha, "version": "latest"}}),
                json.dumps({"ottochain": {"version": "1.0.0"}})):
        with pytest.raises(UsageError):
            pinned_sources({PINNED_SHAS_VAR: bad})


def test_a_branch_that_moves_after_the_plan_is_built_as_planned(
        eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = json.loads(run_inv("ci-matrix", "scratch").stdout)["sources"]
    assert planned["ottochain"]["ref"] == "develop"
    shas = {name: source["sha"] for name, source in planned.items()}
    moved = eco.repos["ottochain"].commit("feat: lands mid-run", {"x.txt": "1"},
                                          branch="develop")
    assert moved != shas["ottochain"]
    monkeypatch.setenv(PINNED_SHAS_VAR, json.dumps(shas))
    result = run_inv("resolve", "scratch", "--json")
    assert result.code == 0, result.output
    sources = json.loads(result.stdout)["sources"]
    assert {n: s["sha"] for n, s in sources.items()} == shas
    assert sources["ottochain"]["ref"] == "develop"          # recorded as written
    assert sources["ottochain"]["version"] == planned["ottochain"]["version"]
    assert run_inv("build", "scratch", "--task", "ottochain_assembly").code == 0
    heads = {r["task"]: r["head"] for r in eco.records()}
    assert heads["ottochain_assembly"] == shas["ottochain"]
    # with the planned versions, no job reads a repo's history (no clone) to compute them
    shutil.rmtree(eco.root / ".ottodeploy")
    monkeypatch.setenv(PINNED_SHAS_VAR, json.dumps(
        {name: {"sha": s["sha"], "version": s["version"]} for name, s in planned.items()}))
    again = json.loads(run_inv("resolve", "scratch", "--json").stdout)["sources"]
    assert {n: (s["sha"], s["version"]) for n, s in again.items()} == {
        n: (s["sha"], s["version"]) for n, s in planned.items()}
    mirrors = eco.root / ".ottodeploy" / "cache"
    assert not list(mirrors.rglob("HEAD")), \
        sorted(mirrors.rglob("*"))[:5]
    # unset: the moved branch is what resolves
    monkeypatch.delenv(PINNED_SHAS_VAR)
    assert json.loads(run_inv("resolve", "scratch", "--json").stdout)["sources"][
        "ottochain"]["sha"] == moved


def test_pins_that_do_not_fit_the_environment_are_bad_input(
        eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = git(eco.repos["sdk"].remote, "rev-parse", "develop")
    monkeypatch.setenv(PINNED_SHAS_VAR, json.dumps({"nosuch": sha}))
    result = run_inv("resolve", "scratch")
    assert result.code == EXIT_BAD_INPUT and "nosuch" in result.output
    monkeypatch.setenv(PINNED_SHAS_VAR, json.dumps({"sdk": "f" * 40}))
    result = run_inv("resolve", "scratch")
    assert result.code == EXIT_BAD_INPUT and "f" * 40 in result.output   # not in the repo
