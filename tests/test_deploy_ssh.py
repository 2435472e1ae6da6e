"""The ``ssh`` deploy target (SPEC §6) against a real sshd on a loopback port.

The ``sshd`` fixture runs OpenSSH's server on 127.0.0.1 with its own host key; the
environment names the client key, the known_hosts file and strict host key checking,
as a real one would. Each node of the environment is that same server; ``remote_dir``
is a temporary folder, so what arrived "remotely" can be read back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_inv
from tests.deploykit import SHA40, all_text, healthy, lockfiles, read_lock, set_deploys, set_env
from tests.ecosystem import Ecosystem
from tests.servers import HttpRecorder, Response, SshServer, free_port

TOKEN = "ghp_testsecret123"
RUN = ('echo "$OTTO_HOST $OTTO_NODE_INDEX $OTTO_IMAGE" >> deployed.txt; '
       'env > "env-$OTTO_HOST.txt"; pwd > "pwd-$OTTO_HOST.txt"; '
       'echo "deployed $OTTO_COMPONENT to $OTTO_HOST ($OTTO_HOST_ADDRESS)"; '
       'echo "token: [$GITHUB_TOKEN]"')


def ssh_infrastructure(sshd: SshServer, nodes: list[str] | None = None) -> dict[str, Any]:
    return {"target": "ssh", "nodes": nodes or ["node1", "node2"], "services_host": "svc",
            "ssh": {"user": sshd.user, "port": sshd.port,
                    "known_hosts": str(sshd.known_hosts_file),
                    "identity_file": str(sshd.identity_file),
                    "strict_host_key_checking": "yes", "connect_timeout": 5}}


def addresses(names: list[str]) -> str:
    return json.dumps({"nodes": [{"host": "127.0.0.1", "name": n} for n in names],
                       "services_host": "127.0.0.1"})


@pytest.fixture
def remote(eco: Ecosystem, tmp_path: Path) -> Path:
    """The remote_dir of the deployed component (created by the deploy, not by the test)."""
    path = tmp_path / "remote" / "ottochain"
    set_deploys(eco, {"ottochain": {"on": "nodes", "files": ["deploy/compose.yml"],
                                    "remote_dir": str(path), "run": RUN}})
    return path


def test_ssh_deploy_copies_files_runs_per_node_and_stops_at_a_failing_host(
        eco: Ecosystem, sshd: SshServer, remote: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(eco, infrastructure=ssh_infrastructure(sshd))
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", addresses(["node1", "node2"]))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output

    # the files of deploy.files arrived in remote_dir, unchanged
    assert (remote / "compose.yml").read_text() == \
        (eco.root / "deploy" / "compose.yml").read_text()
    # the command ran there, once per node, in order, with the exact variables
    (path,) = lockfiles(eco)
    lock = read_lock(path)
    sha = lock["sources"]["ottochain"]["sha"]
    assert SHA40.fullmatch(sha)
    locked = lock["artifacts"]["ottochain_image"]
    assert locked["tag"] == f"{eco.registry}/scasplte2/ottochain-metagraph:develop-{sha[:7]}"
    image = locked["ref"]           # what the nodes were given: the image by its digest
    assert image == f"{eco.registry}/scasplte2/ottochain-metagraph@{locked['digest']}"
    assert (remote / "deployed.txt").read_text().splitlines() == [
        f"node1 1 {image}", f"node2 2 {image}"]
    for node in ("node1", "node2"):
        assert Path((remote / f"pwd-{node}.txt").read_text().strip()) == remote
        env = dict(line.split("=", 1) for line in
                   (remote / f"env-{node}.txt").read_text().splitlines() if "=" in line)
        assert env["OTTO_SHA"] == sha
        assert env["OTTO_VERSION"] == "0.6.2-dev.3"
        assert env["OTTO_HOST"] == node
        assert env["OTTO_HOST_ADDRESS"] == "127.0.0.1"
        assert env["OTTO_IMAGE"] == image
        assert "SSH_CONNECTION" in env           # it really came through sshd
        # nothing of the local environment went along: no token, no OTTODEPLOY_ROOT
        assert "GITHUB_TOKEN" not in env
        assert "OTTODEPLOY_ROOT" not in env
    assert TOKEN not in all_text(remote.iterdir())
    # remote output reaches the terminal, prefixed by component and host
    assert "  ottochain@node1 | deployed ottochain to node1 (127.0.0.1)" in result.stdout
    assert "  ottochain@node2 | token: []" in result.stdout
    assert TOKEN not in result.output
    assert TOKEN not in path.read_text()
    assert lock["status"] == "healthy"

    # a remote command that fails stops the deploy at that host
    set_deploys(eco, {"ottochain": {"on": "nodes", "remote_dir": str(remote),
                                    "run": 'echo "starting on $OTTO_HOST"; exit 9'}})
    failed = run_inv("deploy", "scratch")
    assert failed.code == 1, failed.output
    assert "  ottochain@node1 | starting on node1" in failed.stdout
    assert "deploy of ottochain to node1 (127.0.0.1) exited with 9" in failed.output
    assert "ottochain@node2" not in failed.stdout      # the first failing host stops it
    assert sorted(read_lock(p)["status"] for p in lockfiles(eco)) == ["failed", "healthy"]


def test_a_host_without_an_address_is_bad_input_naming_where_to_set_it(
        eco: Ecosystem, sshd: SshServer, remote: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(eco, infrastructure=ssh_infrastructure(sshd))
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", addresses(["node1"]))   # node2 missing
    result = run_inv("deploy", "scratch")
    assert result.code == 2, result.output
    assert "host 'node2' of environment scratch has no address" in result.stderr
    assert "SCRATCH_INFRASTRUCTURE" in result.stderr
    assert "manifests/hosts.yaml" in result.stderr
    assert "Traceback" not in result.output
    assert eco.built() == [] and lockfiles(eco) == []
    assert not remote.exists()


def test_hosts_yaml_addresses_and_an_unreachable_host_named_in_the_failure(
        eco: Ecosystem, sshd: SshServer, remote: Path) -> None:
    set_env(eco, infrastructure=ssh_infrastructure(sshd))
    # addresses from hosts.yaml: node1 without a port (infrastructure.ssh.port applies),
    # node2 on a port of this machine where nothing listens
    eco.write("manifests/hosts.yaml", "hosts:\n  node1: {address: 127.0.0.1}\n"
              f"  node2: {{address: 127.0.0.1, port: {free_port()}}}\n"
              "  svc: {address: 127.0.0.1}\n")
    result = run_inv("deploy", "scratch")
    assert result.code == 1, result.output
    assert re.search(r"cannot reach node2 \(127\.0\.0\.1\)", result.output)
    assert "deploy of scratch failed" in result.stderr
    assert (remote / "deployed.txt").read_text().splitlines()[0].startswith("node1 1 ")
    assert len((remote / "deployed.txt").read_text().splitlines()) == 1
    (path,) = lockfiles(eco)
    lock = read_lock(path)
    assert lock["status"] == "failed"
    assert lock["tests"]["deploy"] == "failed"
    assert "node2" in lock["note"]
    assert healthy(eco) == []


# --- once steps, deploy secrets, smoke via ssh (SPEC §3a) --------------------------------

PASSWORD = "keystore-Pa55word-secret"
ONCE_SH = r'''set -euo pipefail
for i in $(seq 1 "$OTTO_NODE_COUNT"); do
  name=OTTO_NODE${i}_NAME; private=OTTO_NODE${i}_PRIVATE_ADDRESS
  "$OTTO_REMOTE" "${!name}" -- \
    "mkdir -p $OTTO_REMOTE_DIR && echo ${!name} ${!private} $OTTO_IMAGE >>$OTTO_REMOTE_DIR/once.txt"
done
printf %s "$CL_KEYSTORE_PASSWORD" |
  "$OTTO_REMOTE" "$OTTO_NODE2_NAME" --stdin -- "cat > $OTTO_REMOTE_DIR/secret"
echo "the password is $CL_KEYSTORE_PASSWORD"
env > "$OTTO_REMOTE_DIR/../once-env.txt"
'''
PER_HOST = ('printf %s "$CL_KEYSTORE_PASSWORD" > "secret-$OTTO_HOST"; env > "env-$OTTO_HOST.txt"; '
            'echo "services sees $CL_KEYSTORE_PASSWORD on $OTTO_HOST_PRIVATE_ADDRESS"')


def private_addresses(names: list[str]) -> str:
    return json.dumps({"nodes": [{"host": "127.0.0.1", "name": n, "private_host": f"10.0.0.{i}"}
                                 for i, n in enumerate(names, start=1)],
                       "services_host": {"host": "127.0.0.1", "private_host": "10.0.0.10"}})


def test_a_once_step_orchestrates_the_hosts_with_secrets_on_stdin_and_smoke_runs_on_them(
        eco: Ecosystem, sshd: SshServer, tmp_path: Path, http_recorder: HttpRecorder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    remote = tmp_path / "remote" / "ottochain"
    services = tmp_path / "remote" / "services"
    eco.write("deploy/once.sh", ONCE_SH)
    set_deploys(eco, {
        "ottochain": {"on": "nodes", "once": True, "run": "bash deploy/once.sh",
                      "remote_dir": str(remote), "env": ["CL_KEYSTORE_PASSWORD"]},
        "services": {"on": "services_host", "run": PER_HOST, "remote_dir": str(services),
                     "env": ["CL_KEYSTORE_PASSWORD"]}})
    http_recorder.add_route("GET", "/node/info", Response(200, body={"state": "Ready"}))
    set_env(eco, infrastructure=ssh_infrastructure(sshd), smoke=[
        {"name": "ml0", "via": "ssh", "on": "nodes", "url": f"{http_recorder.url}/node/info",
         "json": {"state": "Ready"}, "timeout": 20}])
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", private_addresses(["node1", "node2"]))
    monkeypatch.setenv("CL_KEYSTORE_PASSWORD", PASSWORD)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output

    (path,) = lockfiles(eco)
    lock = read_lock(path)
    image = lock["artifacts"]["ottochain_image"]["ref"]
    # once: run here a single time, reaching each node through $OTTO_REMOTE over ssh
    assert (remote / "once.txt").read_text().splitlines() == [
        f"node1 10.0.0.1 {image}", f"node2 10.0.0.2 {image}"]
    assert "-> ottochain on this machine (once)" in result.stdout
    assert f"  ottochain | [node1] mkdir -p {remote} && echo node1 10.0.0.1 {image}" in \
        result.stdout
    assert f"  ottochain | [node2] cat > {remote}/secret < stdin" in result.stdout
    assert (remote / "secret").read_text() == PASSWORD       # it travelled on stdin
    assert "  ottochain | the password is ***" in result.stdout
    local_env = dict(line.split("=", 1) for line in
                     (remote.parent / "once-env.txt").read_text().splitlines() if "=" in line)
    assert local_env["CL_KEYSTORE_PASSWORD"] == PASSWORD     # named in deploy.env
    assert "GITHUB_TOKEN" not in local_env                   # not named: not given
    assert PASSWORD not in local_env["OTTO_REMOTE_CONFIG"]
    assert local_env["OTTO_DRY_RUN"] == "0"
    assert local_env["OTTO_NODE2_PRIVATE_ADDRESS"] == "10.0.0.2"
    assert local_env["OTTO_SERVICES_HOST_PRIVATE_ADDRESS"] == "10.0.0.10"
    # per host, over ssh: the secret in the remote environment, never on its command line
    assert (services / "secret-svc").read_text() == PASSWORD
    remote_env = dict(line.split("=", 1) for line in
                      (services / "env-svc.txt").read_text().splitlines() if "=" in line)
    assert remote_env["OTTO_HOST_PRIVATE_ADDRESS"] == "10.0.0.10"
    assert remote_env["OTTO_REMOTE_DIR"] == str(services)
    assert "GITHUB_TOKEN" not in remote_env
    assert "  services@svc | services sees *** on 10.0.0.10" in result.stdout
    # smoke: curl on each node, through ssh
    assert f"ok   ml0@node1: {http_recorder.url}/node/info (on node1)" in result.stdout
    assert len(http_recorder.requests) >= 2
    assert lock["status"] == "healthy" and lock["tests"]["smoke"] == "passed"
    for text in (result.output, path.read_text()):
        assert PASSWORD not in text and TOKEN not in text


def test_a_secret_a_deploy_needs_but_nobody_set_is_bad_input(
        eco: Ecosystem, sshd: SshServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_deploys(eco, {"ottochain": {"on": "nodes", "once": True, "run": "true",
                                    "env": ["CL_KEYSTORE_PASSWORD", "CL_KEYSTORE_NODE1"]}})
    set_env(eco, infrastructure=ssh_infrastructure(sshd))
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", private_addresses(["node1", "node2"]))
    monkeypatch.setenv("CL_KEYSTORE_NODE1", "a2V5")
    monkeypatch.delenv("CL_KEYSTORE_PASSWORD", raising=False)
    result = run_inv("deploy", "scratch")
    assert result.code == 2, result.output
    assert ("components.ottochain.deploy.env: CL_KEYSTORE_PASSWORD not set in the environment"
            in result.stderr)
    assert "Traceback" not in result.output
    assert eco.built() == [] and lockfiles(eco) == []
