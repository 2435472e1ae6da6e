"""``inv deploy`` with the ``local`` target (SPEC §6): stages, variables, failures, locks.

The thing being deployed is real: every component's ``deploy.run`` runs
``deploy/record.py`` in the deploy root (it logs what it was given, and the services
component writes ``deployed/services.json``), and a test-owned HTTP server on 127.0.0.1
(``ServiceServer``) serves the deployed commit as ``/version``. The smoke checks and the
e2e script ask that server, so a deploy is healthy only when the right commit answers.

Deploys run in this process (``run_inv``) except where the command line itself is the
point (a second process holding the lock, kill -9).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ottodeploy.store import Store
from tests.conftest import run_inv
from tests.deploykit import (
    BRANCH,
    NODES,
    SERVICES_HOST,
    SHA40,
    VERSIONS,
    ServiceServer,
    configure,
    deployed,
    healthy,
    inv_process,
    lockfiles,
    read_lock,
    set_deploys,
    set_env,
    stages,
    tips,
    wait_for,
)
from tests.ecosystem import Ecosystem
from tests.servers import HttpRecorder

IMAGES = {"ottochain": "scasplte2/ottochain-metagraph", "services": "ottobot-ai/ottochain-services",
          "explorer": "ottobot-ai/ottochain-explorer"}
ALL_TASKS = {"tessellation_publish", "metakit_publish", "ottochain_assembly", "ottochain_image",
             "sdk_build", "services_image", "explorer_image", "monitoring_config"}
INFRA = {"nodes": [{"host": "127.0.0.1", "name": n} for n in NODES],
         "services_host": "127.0.0.1"}


@pytest.fixture
def server(eco: Ecosystem) -> Iterator[ServiceServer]:
    with ServiceServer(eco.root) as srv:
        yield srv


@pytest.fixture
def site(eco: Ecosystem, server: ServiceServer, monkeypatch: pytest.MonkeyPatch) -> Ecosystem:
    """scratch with deploy sections, smoke checks, e2e and addresses from SCRATCH_INFRASTRUCTURE."""
    configure(eco, server.port)
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(INFRA))
    return eco


def lock_path(eco: Ecosystem, env: str = "scratch") -> Path:
    return eco.root / ".ottodeploy" / env / "deploy.lock"


def lock_free(eco: Ecosystem, env: str = "scratch") -> bool:
    """Nobody holds the environment's deploy lock and no holder's description is left."""
    from ottodeploy.locks import hold

    path = lock_path(eco, env)
    if path.exists() and path.read_text():
        return False
    with hold(path, "test", "test"):   # LockHeld if someone holds it
        return True


def image(eco: Ecosystem, component: str, sha: str) -> str:
    return f"{eco.registry}/{IMAGES[component]}:develop-{sha[:7]}"


def records_snapshot(eco: Ecosystem, env: str = "scratch") -> dict[str, bytes]:
    folder = eco.root / ".ottodeploy" / env / "records"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*"))} if folder.is_dir() else {}


def the_lockfile(eco: Ecosystem) -> dict[str, Any]:
    (path,) = lockfiles(eco)
    return read_lock(path)


# --- the whole pipeline ----------------------------------------------------------------------


def test_local_deploy_runs_every_stage_and_locks_the_exact_state(
        site: Ecosystem, server: ServiceServer) -> None:
    eco = site
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    assert stages(result.stdout) == ["check", "build", "deploy", "smoke", "e2e", "lockfile"]
    assert set(eco.built()) == ALL_TASKS

    # components deployed in cascade order, each to its hosts, with the exact variables
    sha = tips(eco, BRANCH)
    lock = the_lockfile(eco)
    steps = deployed(eco)
    assert [(s["component"], s["env"]["OTTO_HOST"]) for s in steps] == [
        *[("ottochain", n) for n in NODES], ("services", SERVICES_HOST),
        ("explorer", SERVICES_HOST)]
    for s in steps:
        env, component = s["env"], s["component"]
        assert Path(s["cwd"]) == eco.root.resolve()
        assert env["OTTO_ENV"] == "scratch"
        assert env["OTTO_COMPONENT"] == component
        assert env["OTTO_SHA"] == sha[component]
        assert env["OTTO_SHORT_SHA"] == sha[component][:7]
        assert env["OTTO_REF"] == "develop"
        assert env["OTTO_VERSION"] == VERSIONS[component]
        assert env["OTTO_HOST_ADDRESS"] == "127.0.0.1"
        # the image by the digest the lockfile records, the readable tag beside it
        locked = lock["artifacts"][f"{component}_image"]
        assert env["OTTO_IMAGE"] == locked["ref"] == \
            f"{eco.registry}/{IMAGES[component]}@{locked['digest']}"
        assert env["OTTO_IMAGE_TAG"] == locked["tag"] == image(eco, component, sha[component])
        # the image's files, unpacked read-only from the store by that digest
        assert env["OTTO_OUT_IMAGE"].endswith(locked["digest"].removeprefix("sha256:"))
    assert [s["env"]["OTTO_NODE_INDEX"] for s in steps[:3]] == ["1", "2", "3"]
    # the services host deploy gets the stored outputs it was built from, by digest, and
    # nothing else of its dependencies (what it is given changes only with what it deploys)
    services_env = steps[3]["env"]
    sdk_digest = lock["artifacts"]["sdk_build"]["digest"].removeprefix("sha256:")
    assert services_env["OTTO_DEP_SDK_OUT_BUILD"].endswith(f"/store/unpacked/{sdk_digest}")
    assert (Path(services_env["OTTO_DEP_SDK_OUT_BUILD"]) / "out" / "build.txt").is_file()
    assert "OTTO_DEP_SDK_SHA" not in services_env
    # the deploy step's output reaches the terminal, prefixed by component and host
    assert f"  services@{SERVICES_HOST} | deploying services to {SERVICES_HOST}" in result.stdout
    assert "monitoring" not in {s["component"] for s in steps}      # deploy.on: none

    # the smoke checks asked the server: commit, array length, and each node
    paths = [r.path for r in server.recorder.requests]
    assert paths.count("/version") >= 2  # smoke + e2e
    assert "/peers" in paths
    assert paths.count("/health") >= len(NODES)
    for node in NODES:
        assert re.search(rf"ok +node@{node}: http://127\.0\.0\.1:{server.port}/health",
                         result.stdout)
    assert f"e2e: services answer {sha['services'][:7]}: ok" in result.stdout

    # the lockfile
    (path,) = lockfiles(eco)
    stamp = lock["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert path.name == f"scratch-{stamp[:10]}-{stamp[11:13]}{stamp[14:16]}.yaml"
    assert f"== lockfile lockfiles/{path.name} (healthy)" in result.stdout
    assert lock["environment"] == "scratch"
    assert lock["status"] == "healthy"
    assert list(lock)[:6] == ["timestamp", "environment", "status", "sources", "artifacts",
                              "tests"]
    assert lock["tests"] == {"deploy": "passed", "smoke": "passed", "e2e": "passed"}
    assert set(lock["sources"]) == set(BRANCH)
    for name, src in lock["sources"].items():
        assert SHA40.fullmatch(src["sha"]), src
        assert src["sha"] == sha[name]
        assert src["ref"] == BRANCH[name]
        assert src["version"] == VERSIONS[name]
        assert src["repo"] == eco.repos[name].url
    assert set(lock["artifacts"]) == ALL_TASKS
    records = eco.root / ".ottodeploy" / "scratch" / "records"
    store = Store.of_root(eco.root)
    for task in ALL_TASKS:
        record = json.loads((records / f"{task}.json").read_text())
        assert lock["build_keys"][task] == record["key"]
        entry = lock["artifacts"][task]
        assert (entry["key"], entry["digest"]) == (record["key"], record["digest"])
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"])
        assert store.has(entry["digest"])            # the bytes are in the store
        assert ("ref" in entry) == task.endswith("_image")
    # every component that deploys, deployed (nothing was deployed before)
    assert {n: c["deployed"] for n, c in lock["components"].items()} == \
        {"ottochain": True, "services": True, "explorer": True}
    assert lock_free(eco)


def test_with_a_registry_images_are_deployed_and_locked_by_digest(
        eco: Ecosystem, registry: str, server: ServiceServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ottodeploy.core.imageref import parse_image_ref
    from ottodeploy.registry import RegistryClient

    eco.write("manifests/components.yaml", eco.components_text(registry=registry, cache=True))
    configure(eco, server.port)
    monkeypatch.setenv("OTTO_TEST_PUSH", "1")            # image recipes push a real image
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    lock = the_lockfile(eco)
    sha = tips(eco, BRANCH)
    by_component = {s["component"]: s["env"]["OTTO_IMAGE"] for s in deployed(eco)}
    with RegistryClient() as client:
        for component, repo in IMAGES.items():
            tag = f"{registry}/{repo}:develop-{sha[component][:7]}"
            digest = client.manifest_digest(parse_image_ref(tag))
            assert digest is not None and digest.startswith("sha256:")
            exact = f"{registry}/{repo}@{digest}"
            entry = lock["artifacts"][f"{component}_image"]
            assert (entry["ref"], entry["tag"], entry["digest"]) == (exact, tag, digest)
            assert by_component[component] == exact       # the deploy got the pushed bytes


def test_addresses_come_from_the_variable_then_hosts_yaml(
        eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    set_deploys(eco)
    set_env(eco)  # no smoke: the addresses below are not this machine's
    eco.write("manifests/hosts.yaml", "hosts:\n"
              "  node1: {address: 10.1.0.1}\n  node2: {address: 10.1.0.2}\n"
              "  node3: {address: 10.1.0.3}\n  services-scratch: {address: 10.1.0.9}\n")
    assert run_inv("deploy", "scratch").code == 0
    first = {(s["env"]["OTTO_HOST"], s["env"]["OTTO_HOST_ADDRESS"]) for s in deployed(eco)}
    assert first == {("node1", "10.1.0.1"), ("node2", "10.1.0.2"), ("node3", "10.1.0.3"),
                     (SERVICES_HOST, "10.1.0.9")}
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(
        {"nodes": [{"host": "10.2.0.1", "name": "node1"}], "services_host": "10.2.0.9"}))
    plan = run_inv("deploy", "scratch", "--dry-run")
    assert plan.code == 0, plan.output
    second = set(re.findall(r"^   \w+ -> ([\w-]+) \(([\d.]+)\):", plan.stdout, re.MULTILINE))
    # the variable wins where it names a host; hosts.yaml fills in the rest
    assert second == {("node1", "10.2.0.1"), ("node2", "10.1.0.2"), ("node3", "10.1.0.3"),
                      (SERVICES_HOST, "10.2.0.9")}


def test_malformed_infrastructure_variable_is_bad_input(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", "{nodes: node1}")
    result = run_inv("deploy", "scratch")
    assert result.code == 2, result.output
    assert "SCRATCH_INFRASTRUCTURE is not JSON" in result.stderr
    assert "Traceback" not in result.output
    assert site.built() == [] and lockfiles(site) == []


def test_a_component_deploying_on_hosts_the_environment_lacks_is_bad_input_before_building(
        eco: Ecosystem) -> None:
    set_deploys(eco)
    set_env(eco, infrastructure={"target": "local", "services_host": "svc"})
    result = run_inv("deploy", "scratch")
    assert result.code == 2, result.output
    assert "manifests/environments/scratch.yaml" in result.stderr
    assert "infrastructure.nodes" in result.stderr
    assert "ottochain" in result.stderr
    assert eco.built() == []
    assert lockfiles(eco) == [] and deployed(eco) == []


# --- failures ----------------------------------------------------------------------------


def test_smoke_or_e2e_failure_writes_a_failed_lockfile_and_exits_1(
        site: Ecosystem, server: ServiceServer) -> None:
    sha = tips(site, BRANCH)["services"]
    failures = [
        ("wrong", f"expected commit == '{sha}', got '{'0' * 40}'"),
        ("503", "expected status 200, got 503"),
    ]
    for mode, expected in failures:
        server.mode = mode
        before = lockfiles(site)
        result = run_inv("deploy", "scratch")
        assert result.code == 1, result.output
        assert stages(result.stdout) == ["check", "build", "deploy", "smoke", "lockfile"]
        assert expected in result.stdout
        assert re.search(r"FAIL version: http://127\.0\.0\.1:\d+/version", result.stdout)
        assert "deploy of scratch failed: smoke check version" in result.stderr
        assert "Traceback" not in result.output
        (path,) = [p for p in lockfiles(site) if p not in before]
        lock = read_lock(path)
        assert lock["status"] == "failed"
        assert lock["tests"] == {"deploy": "passed", "smoke": "failed", "e2e": "skipped"}
        assert lock["note"].startswith("smoke check version:")
        assert lock["sources"]["services"]["sha"] == sha
        assert lock_free(site)

    server.mode = "ok"
    (site.root / "deployed" / "fail-e2e").write_text("")
    before = lockfiles(site)
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    assert stages(result.stdout) == ["check", "build", "deploy", "smoke", "e2e", "lockfile"]
    assert "  e2e | e2e: scenario failed on purpose" in result.stdout
    assert "deploy of scratch failed: e2e failed" in result.stderr
    (path,) = [p for p in lockfiles(site) if p not in before]
    lock = read_lock(path)
    assert lock["status"] == "failed"
    assert lock["tests"] == {"deploy": "passed", "smoke": "passed", "e2e": "failed"}
    assert len(lockfiles(site)) == 3
    assert healthy(site) == []


def test_a_failing_deploy_step_stops_the_deploy_and_fails_the_lockfile(
        site: Ecosystem, server: ServiceServer) -> None:
    (site.root / "deployed").mkdir()
    (site.root / "deployed" / "fail-services").write_text("")
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    assert stages(result.stdout) == ["check", "build", "deploy", "lockfile"]
    assert f"services@{SERVICES_HOST} | services refuses to start" in result.stdout
    assert f"deploy of services to {SERVICES_HOST} exited with 4" in result.output
    # later components were not deployed, and nothing was smoke-tested
    assert [s["component"] for s in deployed(site)] == ["ottochain"] * 3
    assert server.recorder.requests == []
    lock = the_lockfile(site)
    assert lock["status"] == "failed"
    assert lock["tests"] == {"deploy": "failed", "smoke": "skipped", "e2e": "skipped"}
    assert healthy(site) == []


def test_a_build_failure_writes_no_lockfile_and_deploys_nothing(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTTO_TEST_FAIL", "services_image")
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    assert stages(result.stdout) == ["check", "build"]
    assert "services_image" in result.stderr
    assert "no lockfile written" in result.stderr
    assert lockfiles(site) == []
    assert deployed(site) == []
    assert "explorer_image" not in site.built()
    assert lock_free(site)


def test_an_incompatible_matrix_stops_before_anything_is_built(site: Ecosystem) -> None:
    site.write("manifests/compatibility.yaml",
               "compatibility:\n  services:\n    sdk: \">=5.0.0\"\n")
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    assert "compatibility matrix violated" in result.stderr
    assert "sdk" in result.stderr and ">=5.0.0" in result.stderr
    assert stages(result.stdout) == ["check"]
    assert site.built() == []
    assert lockfiles(site) == [] and deployed(site) == []
    assert lock_free(site)


# --- dry run -----------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_touches_nothing(site: Ecosystem) -> None:
    eco = site
    assert run_inv("deploy", "scratch").code == 0
    eco.repos["services"].commit("fix: services change", {"s.txt": "1"}, branch="develop")
    before_records = records_snapshot(eco)
    before_locks = lockfiles(eco)
    before_deployed = deployed(eco)
    eco.clear_log()

    result = run_inv("deploy", "scratch", "--dry-run")
    assert result.code == 0, result.output
    out = result.stdout
    assert "== build (dry run): 2 of 8 tasks would run" in out
    assert re.search(r"^   services_image: ", out, re.MULTILINE)
    assert re.search(r"^   explorer_image: ", out, re.MULTILINE)
    for node in NODES:
        assert f"   ottochain -> {node} (127.0.0.1): python3 deploy/record.py" in out
    assert f"   services -> {SERVICES_HOST} (127.0.0.1)" in out
    assert "== smoke (dry run): 3 checks" in out
    assert "dry run: nothing was built, deployed or written" in out

    assert eco.built() == []
    assert records_snapshot(eco) == before_records
    assert lockfiles(eco) == before_locks
    assert deployed(eco) == before_deployed
    assert lock_free(eco)


# --- verify ------------------------------------------------------------------------------


def test_verify_passes_quietly_and_a_failure_marks_the_lockfile_failed(
        site: Ecosystem, server: ServiceServer) -> None:
    assert run_inv("deploy", "scratch").code == 0
    (path,) = lockfiles(site)
    before = path.read_bytes()
    ok = run_inv("verify", "scratch")
    assert ok.code == 0, ok.output
    assert "verify: 5 checks passed" in ok.stdout
    passed = read_lock(path)     # SPEC §6a: a pass is recorded too, nothing else changes
    assert [v["result"] for v in passed.pop("verifications")] == ["passed"]
    assert passed == yaml.safe_load(before)

    server.mode = "wrong"
    bad = run_inv("verify", "scratch")
    assert bad.code == 1, bad.output
    assert "verify of scratch failed: version" in bad.stderr
    assert f"{path.name} is now marked failed" in bad.stderr
    lock = read_lock(path)
    assert lock["status"] == "failed"
    assert lock["tests"]["smoke"] == "failed"
    assert lock["tests"]["verify"] == "failed"
    assert "version" in lock["note"] and "expected commit" in lock["note"]
    assert lockfiles(site) == [path]      # marked in place, no new file
    # everything else of the lockfile is kept
    kept = read_lock(path)
    old = yaml.safe_load(before)
    for key in ("timestamp", "environment", "sources", "artifacts", "build_keys"):
        assert kept[key] == old[key]


def test_verify_without_a_lockfile_fails(site: Ecosystem) -> None:
    result = run_inv("verify", "scratch")
    assert result.code == 1
    assert "scratch has no lockfile" in result.stderr


# --- one deploy at a time ----------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_one_deploy_at_a_time_and_a_dead_holders_description_blocks_nothing(
        site: Ecosystem, tmp_path: Path) -> None:
    eco = site
    (eco.root / "deployed").mkdir()
    hold = eco.root / "deployed" / "hold-services"
    hold.write_text("")
    log = (tmp_path / "first.log").open("w")
    first = inv_process("deploy", "scratch", stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for((eco.root / "deployed" / "holding-services").exists, what="the first deploy")
        second = inv_process("deploy", "scratch", stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1, out + err
        assert "another deploy of this environment is running" in err
        assert f"pid {first.pid} on {socket.gethostname()}" in err
        assert "== build" not in out   # refused before building
        assert first.poll() is None    # the holder was not disturbed
    finally:
        hold.unlink()
        code = first.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "first.log").read_text()
    assert len(lockfiles(eco)) == 1 and len(healthy(eco)) == 1
    assert lock_free(eco)

    # a description left by a holder that is gone locks nothing: the kernel lock died with it
    pid = dead_pid()
    lock_path(eco).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                          "started": 1.0, "command": "deploy scratch"}))
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    assert "stale" not in result.output and "taking over" not in result.output
    assert len(healthy(eco)) == 2
    assert lock_free(eco)


def test_kill_9_during_a_deploy_leaves_no_healthy_lockfile_and_a_takeable_lock(
        site: Ecosystem, tmp_path: Path) -> None:
    eco = site
    deployed_dir = eco.root / "deployed"
    deployed_dir.mkdir()
    hold = deployed_dir / "hold-explorer"            # the last component waits
    hold.write_text("")
    with (tmp_path / "killed.log").open("w") as log:
        proc = inv_process("deploy", "scratch", stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
        try:
            holding = deployed_dir / "holding-explorer"
            wait_for(holding.exists, what="the explorer deploy to start")
            assert [s["component"] for s in deployed(eco)] == ["ottochain"] * 3 + ["services"]
            assert lock_path(eco).exists()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            # the deploy step runs in its own session: stop it as well
            step = int(holding.read_text() or 0) if holding.exists() else 0
            if step:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(os.getpgid(step), signal.SIGKILL)
            hold.unlink()
    assert proc.returncode == -signal.SIGKILL
    assert healthy(eco) == []
    assert lockfiles(eco) == []                      # killed before the lockfile stage
    left = json.loads(lock_path(eco).read_text())
    assert left["pid"] == proc.pid

    holding.unlink()
    (deployed_dir / "log.jsonl").unlink()
    result = run_inv("deploy", "scratch")   # at once: nothing to take over, nobody to wait for
    assert result.code == 0, result.output
    assert "stale" not in result.output and "taking over" not in result.output
    assert [s["component"] for s in deployed(eco)] == ["ottochain"] * 3 + ["services", "explorer"]
    assert len(healthy(eco)) == 1
    assert lock_free(eco)


# --- secrets -----------------------------------------------------------------------------


def test_secrets_never_appear_in_output_lockfiles_or_state(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    token, hook_secret = "ghp_testsecret123", "T000/B000/hooksecret456"
    with HttpRecorder() as hook:
        webhook = f"{hook.url}/services/{hook_secret}"
        monkeypatch.setenv("GITHUB_TOKEN", token)
        monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook)
        # a careless deploy step and e2e that print the secrets
        set_deploys(eco, {"services": {
            "on": "services_host",
            "run": "python3 deploy/record.py && "
                   'echo "token=$GITHUB_TOKEN hook=$SLACK_WEBHOOK_URL"'}})
        path = eco.root / "manifests" / "environments" / "scratch.yaml"
        path.write_text(path.read_text().replace(
            "run: python3 deploy/e2e.py", "run: echo e2e $GITHUB_TOKEN && python3 deploy/e2e.py"))
        ok = run_inv("deploy", "scratch")
        assert ok.code == 0, ok.output
        (eco.root / "deployed" / "fail-explorer").write_text("")
        set_deploys(eco, {"explorer": {
            "on": "services_host",
            "run": 'echo "failing with $GITHUB_TOKEN" >&2; python3 deploy/record.py'}})
        bad = run_inv("deploy", "scratch")
        assert bad.code == 1, bad.output
        hook.wait_for(4)
        posted = [r.body.decode() for r in hook.requests]

    printed = ok.output + bad.output
    assert "token=*** hook=***" in printed       # the step printed them; the tool redacted
    assert "failing with ***" in printed
    assert "e2e ***" in printed
    written = [p for p in [*lockfiles(eco), *(eco.root / ".ottodeploy").rglob("*")]
               if p.is_file() and "cache" not in p.relative_to(eco.root).parts]
    assert len(lockfiles(eco)) == 2
    for secret in (token, hook_secret, webhook):
        assert secret not in printed
        for p in written:
            assert secret.encode() not in p.read_bytes(), p
        for body in posted:
            assert secret not in body
    assert any("deploy healthy" in body for body in posted)
    assert any("deploy FAILED" in body for body in posted)
