"""The shipped deploy scripts (``deploy/``): strict bash, pinned images, production's order.

Dry runs go through the real ``$OTTO_REMOTE`` with a 3-node inventory and are compared with
golden sequences written from ECOSYSTEM.md's procedure (``tests/golden/deploy/``; rewrite
with ``OTTODEPLOY_UPDATE_GOLDEN=1`` and review the diff). The properties the goldens must
have are asserted on their own as well, so a golden rewritten carelessly still fails.
Real runs go through the ``ssh`` target to a real sshd whose ``docker`` records its argv
(``tests/deployhosts.py``): files, modes, ``.env`` and secrets on the host are real.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT
from tests.deployhosts import (
    DIGEST,
    IMAGES,
    SECRETS,
    RecordingHost,
    ScriptRun,
    dry_inventory,
    recording_host,
    script_run,
    ssh_infrastructure,
    ssh_inventory,
)

__all__ = ["recording_host"]  # the fixture, used by name

GOLDEN = PROJECT / "tests" / "golden" / "deploy"
DEPLOY = PROJECT / "deploy"
SCRIPTS = sorted([*DEPLOY.rglob("*.sh"), *(PROJECT / "scripts").glob("*.sh")])
INFRA = ssh_infrastructure(None)


def check_golden(name: str, lines: list[str]) -> None:
    path = GOLDEN / name
    text = "\n".join(lines) + "\n"
    if os.environ.get("OTTODEPLOY_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with OTTODEPLOY_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def assert_no_secret(text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked"


# --- the files ---------------------------------------------------------------------------


def test_every_script_is_strict_bash_and_passes_shellcheck() -> None:
    assert len(SCRIPTS) >= 7, SCRIPTS
    for script in SCRIPTS:
        text = script.read_text()
        if script.name == "lib.sh":          # sourced, never run
            assert text.startswith("# shellcheck shell=bash\n")
            continue
        assert text.startswith("#!/usr/bin/env bash\n"), script
        assert "\nset -euo pipefail\n" in text, script
        assert os.access(script, os.X_OK), f"{script} is not executable"
    if shutil.which("shellcheck") is None:
        if os.environ.get("OTTODEPLOY_CI"):
            pytest.fail("shellcheck is missing — required when OTTODEPLOY_CI is set")
        pytest.skip("shellcheck is missing (apt package shellcheck)")
    done = subprocess.run(["shellcheck", "-x", *[str(s.relative_to(PROJECT)) for s in SCRIPTS]],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_image_is_pinned_and_nothing_says_latest() -> None:
    compose_files = sorted(DEPLOY.rglob("*.yml"))
    images = []
    for path in compose_files:
        data = yaml.safe_load(path.read_text())
        for service in (data.get("services") or {}).values():
            if "image" in service:
                images.append((path.name, service["image"]))
    assert len(images) >= 15, images
    for where, image in images:
        if image.startswith("${"):
            # the component's own image: a required variable, no default to fall back to
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", image), (where, image)
        else:
            name, _, tag = image.rpartition(":")
            assert name and re.match(r"v?\d", tag), (where, image)
    # outside the comments that tell why (production's defect 1), `latest` appears nowhere
    for path in [*DEPLOY.rglob("*"), PROJECT / "manifests" / "components.yaml"]:
        if path.is_file() and path.suffix != ".md":
            code = [line for line in path.read_text().splitlines()
                    if not line.lstrip().startswith(("#", "<!--"))]
            assert not re.search(r"\blatest\b", "\n".join(code)), f"{path} mentions latest"


# --- dry runs: production's sequence -----------------------------------------------------


def full_dry_run(wipe: bool) -> list[str]:
    env = {"OTTO_WIPE_STATE": "1"} if wipe else {}
    lines = []
    for component in ("ottochain", "services", "explorer", "watchdog"):
        run = script_run(component, dry_inventory(), INFRA, dry_run=True, extra_env=env)
        assert run.result.ok, run.output
        assert_no_secret(run.output)
        lines += [f"# {component}", *run.remote_commands]
    return lines


def test_first_deploy_of_three_nodes_matches_the_golden_sequence() -> None:
    lines = full_dry_run(wipe=True)
    check_golden("first-deploy-3-nodes.txt", lines)
    text = "\n".join(lines)
    assert "latest" not in text
    for image in re.findall(r"ghcr\.io/[\w./-]+[@:][\w:]+", text):
        assert image.endswith(f"@{DIGEST}"), image


def test_update_without_wipe_skips_genesis_and_keeps_state() -> None:
    lines = full_dry_run(wipe=False)
    check_golden("update-3-nodes.txt", lines)
    text = "\n".join(lines)
    assert "create-genesis" not in text and "rm -rf" not in text
    assert "FLUSHALL" not in text and "DROP SCHEMA" not in text
    # genesis is decided by node 1's genesis.address, and TOKEN_ID read from it
    assert "[node1] test -s /opt/ottochain/genesis/genesis.address" in lines
    assert "[node1] cat /opt/ottochain/genesis/genesis.address" in lines


def test_the_metagraph_starts_layer_by_layer_across_the_nodes_and_joins_node1_privately() -> None:
    run = script_run("ottochain", dry_inventory(), INFRA, dry_run=True,
                     extra_env={"OTTO_WIPE_STATE": "1"})
    cmds = run.remote_commands
    index = {c: i for i, c in reversed(list(enumerate(cmds)))}  # first occurrence

    def at(text: str) -> int:
        return index[text]

    first_up = min(i for i, c in enumerate(cmds) if "docker compose up -d" in c)
    env_writes = [i for i, c in enumerate(cmds) if "/opt/ottochain/.env.tmp" in c]
    assert len([i for i in env_writes if i < first_up]) == 3        # .env on every node first
    assert all(c.endswith("< stdin") for c in cmds if "key.p12" in c)  # keystores on stdin
    previous_end = -1
    for layer, port in (("gl0", 9000), ("ml0", 9200), ("dl1", 9400)):
        ups = [cmds.index(f"[node{n}] cd /opt/ottochain && docker compose up -d {layer}",
                          previous_end + 1) for n in (1, 2, 3)]
        ready1 = cmds.index(f"[node1] (retry 90x5s) curl -sf http://127.0.0.1:{port}/node/info"
                            f" | jq -e '.state == \"Ready\"' >/dev/null", ups[2])
        joins = [cmds.index(
            f"[node{n}] (retry 5x5s) docker exec {layer} curl -sf -X POST "
            f"http://127.0.0.1:{port + 2}/cluster/join -H 'Content-Type: application/json' "
            f"-d '{{\"id\":\"dry-run-show-id-node1\",\"ip\":\"10.0.0.1\",\"p2pPort\":{port + 1}}}'",
            ready1) for n in (2, 3)]
        size = cmds.index(f"[node1] (retry 60x5s) curl -sf http://127.0.0.1:{port}/cluster/info"
                          f" | jq -e 'length >= 3' >/dev/null", joins[1])
        all_ready = [cmds.index(f"[node{n}] (retry 60x5s) curl -sf http://127.0.0.1:{port}/node/"
                                f"info | jq -e '.state == \"Ready\"' >/dev/null", size)
                     for n in (1, 2, 3)]
        assert ups == sorted(ups) and ready1 < joins[0] < joins[1] < size < min(all_ready)
        assert previous_end < ups[0]
        previous_end = max(all_ready)
    # genesis before the first layer, on node 1, from key 1's address
    assert at("[node1] echo dry-run-show-address-node1,1000000000000000 > "
              "/opt/ottochain/genesis/genesis.csv") < first_up
    assert any("ml0.jar create-genesis genesis.csv" in c for c in cmds[:at(
        "[node2] cd /opt/ottochain && docker compose up -d gl0")])
    # the public addresses never appear in the node procedure: it runs on private ones
    assert "203.0.113." not in "\n".join(cmds)
    assert_no_secret(run.output)


def test_one_node_has_no_joins() -> None:
    run = script_run("ottochain", dry_inventory(count=1), INFRA, dry_run=True)
    assert run.result.ok, run.output
    cmds = "\n".join(run.remote_commands)
    assert "cluster/join" not in cmds and "ReadyToJoin" not in cmds
    assert "jq -e 'length >= 1'" in cmds and "[node2]" not in cmds


@pytest.mark.parametrize("image", [
    "ghcr.io/scasplte2/ottochain-metagraph:latest",   # a moving tag
    "ghcr.io/scasplte2/ottochain-metagraph:0.7.16",   # a tag, even a version's, can move
    "ghcr.io/scasplte2/ottochain-metagraph",          # no tag at all means latest
])
def test_an_image_not_pinned_by_digest_is_refused_before_any_remote_command(image: str) -> None:
    for component in ("ottochain", "services", "explorer", "watchdog"):
        run = script_run(component, dry_inventory(), INFRA, dry_run=True, image=image)
        assert not run.result.ok
        assert run.remote_commands == []
        assert "must be an image reference by digest" in run.output


def test_a_real_run_without_a_secret_stops_before_any_remote_command() -> None:
    secrets = {k: SECRETS[k] for k in ("CL_KEYSTORE_NODE1", "GITHUB_TOKEN")}
    run = script_run("ottochain", dry_inventory(), INFRA, dry_run=False, secrets=secrets)
    assert not run.result.ok
    assert run.remote_commands == []
    assert "CL_KEYSTORE_PASSWORD is not set" in run.output


# --- real runs through ssh, with a recording docker --------------------------------------


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line and not line.startswith("#"))


class StandInNode:
    """What the layers would answer on 127.0.0.1 once started: /node/info Ready, a cluster of
    one. Layer ports are fixed (9000, 9200, 9400); a port in use skips the test."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[int, str]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                port = int(self.server.server_address[1])  # type: ignore[index]  # (host, port)
                requests.append((port, self.path))
                body = {"/node/info": {"state": "Ready", "id": f"layer-{port}"},
                        "/cluster/info": [{"id": f"layer-{port}"}]}.get(self.path)
                data = json.dumps(body).encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.servers = []
        try:
            for port in (9000, 9200, 9400):
                self.servers.append(ThreadingHTTPServer(("127.0.0.1", port), Handler))
        except OSError as exc:
            self.close()
            pytest.skip(f"a layer port is in use on this machine: {exc}")
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def stand_in_node() -> Iterator[StandInNode]:
    node = StandInNode()
    try:
        yield node
    finally:
        node.close()


def test_metagraph_on_a_real_host_first_deploy_with_genesis_then_an_update(
        recording_host: RecordingHost, stand_in_node: StandInNode, tmp_path: Path) -> None:
    sshd = recording_host.sshd
    remote = tmp_path / "opt" / "ottochain"
    (remote / "ml0-data").mkdir(parents=True)
    (remote / "ml0-data" / "old-snapshot").write_text("state of an earlier cluster")
    (remote / "tools").mkdir()
    (remote / "tools" / "cl-wallet-4.0.0-rc.10.jar").write_text("jar")   # no download here
    hosts, infra = ssh_inventory(sshd), ssh_infrastructure(sshd)

    # first deploy: node 1 has no genesis.address, so genesis, wiping what was there
    run = script_run("ottochain", hosts, infra, dry_run=False, remote_dir=str(remote))
    assert run.result.ok, run.output
    assert_no_secret(run.output)
    assert "genesis: yes (node 1 has no genesis.address)" in run.output
    assert not (remote / "ml0-data" / "old-snapshot").exists()
    assert (remote / "genesis" / "genesis.csv").read_text() == \
        "DAG0fakeAddressOfKey1,1000000000000000\n"
    keys = remote / "keys"
    assert mode(keys) == 0o700 and mode(keys / "key.p12") == 0o600
    assert (keys / "key.p12").read_bytes() == b"keystore-of-node-1"
    for layer in ("gl0", "ml0", "dl1"):
        assert (remote / f"{layer}-data").is_dir() and (remote / f"{layer}-logs").is_dir()
    for name in ("docker-compose.yml", "logback.xml", "promtail.yml"):
        assert (remote / name).read_text() == (DEPLOY / "metagraph" / name).read_text()
    env = read_env(remote / ".env")
    assert mode(remote / ".env") == 0o600
    image = f"{IMAGES['ottochain']}@{DIGEST}"
    peer = "id" + hashlib.sha256(str(keys).encode()).hexdigest()[:16]
    assert env["IMAGE"] == image
    assert env["EXTERNAL_IP"] == "10.0.0.1" and env["NODE1_IP"] == "10.0.0.1"
    assert env["IS_INITIAL"] == "true" and env["KEYS_DIR"] == str(keys)
    assert env["DATA_DIR"] == str(remote)
    assert env["CL_PASSWORD"] == f"'{SECRETS['CL_KEYSTORE_PASSWORD']}'"  # literal for compose
    assert env["GL0_PEER_ID"] == env["ML0_PEER_ID"] == peer
    assert env["TOKEN_ID"] == "DAG8tokenIdFromGenesis"                   # from create-genesis
    assert env["LOKI_URL"] == "http://10.0.0.10:3100/loki/api/v1/push"
    assert "-Xmx4g" in env["ML0_JAVA_OPTS"] and "UseZGC" in env["GL0_JAVA_OPTS"]
    compose = (remote / "docker-compose.yml").read_text()
    for required in set(re.findall(r"\$\{([A-Z0-9_]+):\?", compose)):
        assert env.get(required), f"the compose file needs {required}"

    entries = recording_host.docker_entries()
    calls = [e["argv"] for e in entries]
    login = next(e for e in entries if e["argv"][0] == "login")
    assert login["argv"] == ["login", "ghcr.io", "--username", "ottodeploy", "--password-stdin"]
    assert login["stdin_sha256"] == hashlib.sha256(SECRETS["GITHUB_TOKEN"].encode()).hexdigest()
    assert ["pull", image] in calls
    ups = [c[3:] for c in calls if c[:3] == ["compose", "up", "-d"]]
    # genesis GL0 on node 1, then the layers in order, then the exporters
    assert ups == [["gl0"], ["gl0"], ["ml0"], ["dl1"], ["node-exporter", "promtail"]]
    genesis_at = next(i for i, c in enumerate(calls) if "create-genesis" in c)
    assert calls.index(["compose", "up", "-d", "gl0"]) < genesis_at < \
        calls.index(["compose", "up", "-d", "ml0"])
    assert_no_secret(repr(entries))
    # every wait polled the layer's own port: Ready, then the cluster's size
    assert {(9000, "/node/info"), (9200, "/cluster/info"), (9400, "/node/info")} <= \
        set(stand_in_node.requests)

    # an update: node 1 has genesis.address, so no genesis; state and TOKEN_ID stay
    (remote / "ml0-data" / "snapshot").write_text("state of this cluster")
    again = script_run("ottochain", hosts, infra, dry_run=False, remote_dir=str(remote))
    assert again.result.ok, again.output
    assert "genesis:" not in again.output
    assert (remote / "ml0-data" / "snapshot").exists()
    assert read_env(remote / ".env")["TOKEN_ID"] == "DAG8tokenIdFromGenesis"
    assert sum("create-genesis" in c for c in recording_host.docker_calls()) == 1


def test_two_nodes_with_one_key_are_refused_before_any_env_is_written(
        recording_host: RecordingHost, tmp_path: Path) -> None:
    sshd = recording_host.sshd
    (recording_host.state / "same-ids").write_text("")
    remote = tmp_path / "ottochain"
    (remote / "tools").mkdir(parents=True)
    (remote / "tools" / "cl-wallet-4.0.0-rc.10.jar").write_text("jar")
    run = script_run("ottochain", ssh_inventory(sshd, count=2), ssh_infrastructure(sshd),
                     dry_run=False, remote_dir=str(remote), extra_env={"WAIT_SECONDS": "0"})
    assert not run.result.ok
    assert "node 2 has the same peer id as node 1" in run.output
    assert (remote / "keys2" / "key.p12").read_bytes() == b"keystore-of-node-2"
    assert not (remote / ".env").exists()
    assert not any(c[:2] == ["compose", "up"] for c in recording_host.docker_calls())


def services_host_run(recording_host: RecordingHost, tmp_path: Path, component: str,
                      hold: str | None = None) -> tuple[Path, ScriptRun]:
    sshd = recording_host.sshd
    metagraph = tmp_path / "metagraph"
    (metagraph / "genesis").mkdir(parents=True, exist_ok=True)
    (metagraph / "genesis" / "genesis.address").write_text("DAG9metagraphId")
    remote = tmp_path / ("monitoring" if component == "watchdog" else "services")
    if hold:
        (recording_host.state / f"hold-{hold}").write_text("")
    run = script_run(component, ssh_inventory(sshd, count=3), ssh_infrastructure(sshd),
                     dry_run=False, remote_dir=str(remote),
                     extra_env={"METAGRAPH_DIR": str(metagraph)})
    return remote, run


def test_services_on_a_real_host_get_their_images_by_digest_through_an_env_compose_reads(
        recording_host: RecordingHost, tmp_path: Path) -> None:
    remote, run = services_host_run(recording_host, tmp_path, "services")
    assert run.result.ok, run.output
    assert_no_secret(run.output)
    assert mode(remote) == 0o700 and mode(remote / ".env") == 0o600
    env = read_env(remote / ".env")
    assert env["SERVICES_IMAGE"] == f"{IMAGES['services']}@{DIGEST}"
    assert env["METAGRAPH_ID"] == "DAG9metagraphId"
    assert env["DATABASE_URL"] == "'postgresql://ottochain:pg%2FPass%20word%2542@postgres:5432/ottochain'"
    assert env["ML0_URL"] == "http://127.0.0.1:9200"                 # node 1's public address
    assert env["DL1_URLS"] == ",".join(["http://127.0.0.1:9400"] * 3)
    assert env["INDEXER_CALLBACK_URL"] == "http://10.0.0.10:3031/webhook/snapshot"
    # every variable the compose files require is in the .env
    for name in ("base.yml", "services.yml", "traffic.yml", "nginx.yml"):
        text = (remote / "compose" / name).read_text()
        assert text == (DEPLOY / "services" / "compose" / name).read_text()
        for required in re.findall(r"\$\{([A-Z_]+):\?", text):
            assert env.get(required), f"{name} needs {required}"
    calls = recording_host.docker_calls()
    compose = ["compose", "--project-name", "ottochain-services", "--project-directory",
               str(remote), "--env-file", f"{remote}/.env",
               *[a for f in ("base", "services", "traffic", "nginx")
                 for a in ("-f", f"{remote}/compose/{f}.yml")]]
    assert calls[-2:] == [[*compose, "pull"], [*compose, "up", "-d", "--remove-orphans"]]
    assert (remote / "nginx" / "ottochain.conf").exists()


def test_explorer_and_monitoring_on_a_real_host(recording_host: RecordingHost,
                                               tmp_path: Path) -> None:
    remote, run = services_host_run(recording_host, tmp_path, "explorer")
    assert run.result.ok, run.output
    assert read_env(remote / "explorer.env")["EXPLORER_IMAGE"] == f"{IMAGES['explorer']}@{DIGEST}"
    assert recording_host.docker_calls()[-1][-3:] == ["up", "-d", "--remove-orphans"]

    remote, run = services_host_run(recording_host, tmp_path, "watchdog")
    assert run.result.ok, run.output
    assert_no_secret(run.output)
    assert read_env(remote / ".env")["WATCHDOG_IMAGE"] == f"{IMAGES['watchdog']}@{DIGEST}"
    prometheus = (remote / "prometheus" / "prometheus.yml").read_text()
    scrape = {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
              for job in yaml.safe_load(prometheus)["scrape_configs"]}
    assert scrape["node"] == ["10.0.0.1:9500", "10.0.0.2:9500", "10.0.0.3:9500",
                              "10.0.0.10:9500"]
    assert scrape["ml0"] == ["10.0.0.1:9200", "10.0.0.2:9200", "10.0.0.3:9200"]
    alertmanager = (remote / "alertmanager" / "alertmanager.yml").read_text()
    telegram = yaml.safe_load(alertmanager)["receivers"][0]["telegram_configs"][0]
    assert telegram["chat_id"] == int(SECRETS["TELEGRAM_ALERT_CHAT_ID"])
    assert telegram["bot_token_file"] == "/run/secrets/telegram_bot_token"
    assert SECRETS["TELEGRAM_ALERT_BOT_TOKEN"] not in alertmanager
    secrets = remote / "secrets"
    assert mode(secrets) == 0o700
    for name, secret, owner in (("telegram_bot_token", "TELEGRAM_ALERT_BOT_TOKEN", 65534),
                                ("grafana_admin_password", "GRAFANA_ADMIN_PASSWORD", 472),
                                ("postgres_password", "POSTGRES_PASSWORD", 65534)):
        assert (secrets / name).read_text() == SECRETS[secret]
        assert mode(secrets / name) == 0o400
        assert (secrets / name).stat().st_uid == owner
    assert mode(remote / "watchdog.env") == 0o600
    monitoring = (remote / "compose" / "monitoring.yml").read_text()
    assert 'GF_SERVER_HTTP_PORT: "3001"' in monitoring          # the port nginx proxies to
    assert "proxy_pass http://127.0.0.1:3001" in (DEPLOY / "services" / "nginx" /
                                                  "ottochain.conf").read_text()


def cmdlines() -> str:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                out.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                    "utf-8", "replace"))
            except OSError:
                continue
    return "\n".join(out)


def test_secrets_are_never_on_a_command_line_while_a_deploy_runs(
        recording_host: RecordingHost, tmp_path: Path) -> None:
    holding = recording_host.state / "holding"
    outcome: dict[str, ScriptRun] = {}
    worker = threading.Thread(target=lambda: outcome.update(
        run=services_host_run(recording_host, tmp_path, "watchdog", hold="login")[1]))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not holding.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert holding.exists(), "the deploy never reached docker login"
        seen = cmdlines()
        assert "ottodeploy.remote" in seen or "otto-remote" in seen   # the step is running
        assert_no_secret(seen)
    finally:
        (recording_host.state / "hold-login").unlink(missing_ok=True)
        worker.join(60)
    assert outcome["run"].result.ok
