"""Hosts for the deploy-script tests: a real sshd whose PATH starts with a recording ``docker``.

There is no Docker engine here, so ``docker`` on the "remote" PATH is ``RECORDING_DOCKER``:
it appends its argv (and a SHA-256 of what it read on stdin, never the text) to
``docker.jsonl`` and answers the few commands whose output the scripts use: ``ps``
(nothing), ``run … cl-wallet … show-id`` (an id derived from the mounted keys folder, or
one id for all when ``same-ids`` exists), ``show-address``, ``create-genesis`` (writes
``genesis.snapshot`` and ``genesis.address`` into the mounted genesis folder). Everything
else — files, modes, ``.env``, curl, bash — is real. ``hold-<subcommand>`` makes a call
wait (after writing ``holding``) until the test removes it.

``script_run`` runs a shipped deploy script exactly as a deploy does (``remote.run_once``
with ``remote.config_for``), with an inventory whose nodes all are that sshd.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.models import Infrastructure, SshOptions
from ottodeploy.inventory import Host, Inventory, host_variables
from ottodeploy.remote import config_for, run_once
from ottodeploy.targets import Step, StepResult
from tests.conftest import PROJECT
from tests.servers import ServerUnavailable, SshServer, run_sshd

RECORDING_DOCKER = r'''#!PYTHON
"""Recording docker: argv to docker.jsonl, canned answers; no engine."""
import hashlib, json, os, pathlib, sys, time

state = pathlib.Path(__file__).resolve().parent.parent
argv = sys.argv[1:]
entry = {"argv": argv}
words = set(argv)
if "--password-stdin" in words:
    entry["stdin_sha256"] = hashlib.sha256(sys.stdin.buffer.read()).hexdigest()
with open(state / "docker.jsonl", "a") as log:
    log.write(json.dumps(entry) + "\n")
sub = next((a for a in argv if a in ("pull", "login", "ps", "run", "compose", "exec")), "")
hold = state / f"hold-{sub}"
if hold.exists():
    (state / "holding").write_text(str(os.getpid()))
    deadline = time.time() + 60
    while hold.exists() and time.time() < deadline:
        time.sleep(0.02)

def mount(target):
    for i, a in enumerate(argv):
        if a == "-v" and argv[i + 1].split(":")[1] == target:
            return pathlib.Path(argv[i + 1].split(":")[0])
    raise SystemExit(f"recording docker: no volume for {target}")

if sub == "run" and argv[-1] == "show-id":
    keys = str(mount("/ottochain/keys"))
    same = (state / "same-ids").exists()
    print("id" + ("0" * 16 if same else hashlib.sha256(keys.encode()).hexdigest()[:16]))
elif sub == "run" and argv[-1] == "show-address":
    print("DAG0fakeAddressOfKey1")
elif sub == "run" and "create-genesis" in argv:
    genesis = mount("/ottochain/genesis")
    (genesis / "genesis.snapshot").write_text("snapshot")
    (genesis / "genesis.address").write_text("DAG8tokenIdFromGenesis")
'''


@dataclass(frozen=True)
class RecordingHost:
    """An sshd whose sessions find the recording docker first on PATH."""

    sshd: SshServer
    state: Path                       # docker.jsonl, hold-* files

    def docker_calls(self) -> list[list[str]]:
        import json

        log = self.state / "docker.jsonl"
        if not log.exists():
            return []
        return [json.loads(line)["argv"] for line in log.read_text().splitlines()]

    def docker_entries(self) -> list[dict[str, Any]]:
        import json

        log = self.state / "docker.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def recording_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingHost]:
    state = tmp_path_factory.mktemp("host")
    bindir = state / "bin"
    bindir.mkdir()
    docker = bindir / "docker"
    docker.write_text(RECORDING_DOCKER.replace("PYTHON", sys.executable, 1))
    docker.chmod(0o755)
    path = f"{bindir}:/usr/local/bin:/usr/bin:/bin"
    with contextlib.ExitStack() as stack:
        try:
            sshd = stack.enter_context(
                run_sshd(state / "sshd", extra_config=f"SetEnv PATH={path}\n"))
        except ServerUnavailable as exc:
            if os.environ.get("OTTODEPLOY_CI"):
                pytest.fail(f"{exc} — required when OTTODEPLOY_CI is set")
            pytest.skip(str(exc))
        yield RecordingHost(sshd, state)


DIGEST = "sha256:" + "3" * 64
IMAGES = {"ottochain": "ghcr.io/scasplte2/ottochain-metagraph",
          "services": "ghcr.io/ottobot-ai/ottochain-services",
          "explorer": "ghcr.io/ottobot-ai/ottochain-explorer",
          "watchdog": "ghcr.io/ottobot-ai/ottochain-watchdog"}
VERSIONS = {"ottochain": "0.7.16", "services": "1.0.3", "explorer": "0.9.0", "watchdog": "1.5.0"}
SCRIPTS = {"ottochain": "deploy/metagraph/deploy.sh", "services": "deploy/services/deploy.sh",
           "explorer": "deploy/explorer/deploy.sh", "watchdog": "deploy/monitoring/deploy.sh"}
DIRS = {"ottochain": "/opt/ottochain", "services": "/opt/ottochain-services",
        "explorer": "/opt/ottochain-services", "watchdog": "/opt/ottochain-monitoring"}
# Values no output, log, file name or command line may show; long enough to be redacted.
SECRETS = {
    "CL_KEYSTORE_NODE1": "a2V5c3RvcmUtb2Ytbm9kZS0x",     # base64 of keystore-of-node-1
    "CL_KEYSTORE_NODE2": "a2V5c3RvcmUtb2Ytbm9kZS0y",
    "CL_KEYSTORE_NODE3": "a2V5c3RvcmUtb2Ytbm9kZS0z",
    "CL_KEYSTORE_PASSWORD": "kp-Xy7$q-pass word",         # $ and a space: literal in the .env
    "GITHUB_TOKEN": "ghp_deployTokenSecret42",
    "POSTGRES_PASSWORD": "pg/Pass word%42",               # must be escaped in DATABASE_URL
    "GRAFANA_ADMIN_PASSWORD": "grafana-admin-S3cret",
    "TELEGRAM_ALERT_BOT_TOKEN": "123456:tg-bot-S3cret",
    "TELEGRAM_ALERT_CHAT_ID": "-100987654321",
}
NEEDS = {"ottochain": ["CL_KEYSTORE_NODE1", "CL_KEYSTORE_NODE2", "CL_KEYSTORE_NODE3",
                       "CL_KEYSTORE_PASSWORD", "GITHUB_TOKEN"],
         "services": ["GITHUB_TOKEN", "POSTGRES_PASSWORD"], "explorer": ["GITHUB_TOKEN"],
         "watchdog": ["GITHUB_TOKEN", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
                      "TELEGRAM_ALERT_BOT_TOKEN", "TELEGRAM_ALERT_CHAT_ID"]}


def dry_inventory(count: int = 3) -> Inventory:
    """Documentation addresses (RFC 5737): public 203.0.113.x, private 10.0.0.x."""
    nodes = tuple(Host(f"node{i}", f"203.0.113.{i}", index=i, private_address=f"10.0.0.{i}")
                  for i in range(1, count + 1))
    return Inventory(nodes, Host("services-scratch", "203.0.113.10", private_address="10.0.0.10"))


def ssh_inventory(sshd: SshServer, count: int = 1) -> Inventory:
    """Every host is the sshd (public 127.0.0.1); private addresses are distinct labels."""
    nodes = tuple(Host(f"node{i}", sshd.host, index=i, private_address=f"10.0.0.{i}")
                  for i in range(1, count + 1))
    return Inventory(nodes, Host("services-scratch", sshd.host, private_address="10.0.0.10"))


def ssh_infrastructure(sshd: SshServer | None) -> Infrastructure:
    if sshd is None:
        return Infrastructure(target="ssh")
    return Infrastructure(target="ssh", ssh=SshOptions(
        user=sshd.user, port=sshd.port, known_hosts=str(sshd.known_hosts_file),
        identity_file=str(sshd.identity_file), strict_host_key_checking="yes",
        connect_timeout=5))


@dataclass
class ScriptRun:
    result: StepResult
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def remote_commands(self) -> list[str]:
        return [line for line in self.lines if line.startswith("[")]


def script_run(component: str, hosts: Inventory, infra: Infrastructure, *,
               dry_run: bool, remote_dir: str | None = None,
               secrets: Mapping[str, str] | None = None, image: str | None = None,
               extra_env: Mapping[str, str] | None = None, timeout: float = 120) -> ScriptRun:
    """Run a shipped deploy script as ``inv deploy`` does for a once step."""
    variables = {"OTTO_ENV": "scratch", "OTTO_COMPONENT": component,
                 "OTTO_IMAGE": image or f"{IMAGES[component]}@{DIGEST}",
                 "OTTO_IMAGE_TAG": f"{IMAGES[component]}:{VERSIONS[component]}",
                 "OTTO_VERSION": VERSIONS[component], "OTTO_SHA": "c0ffee" + "0" * 34,
                 **host_variables(hosts, None)}
    names = NEEDS[component]
    given = {n: SECRETS[n] for n in names} if secrets is None else dict(secrets)
    step = Step(component, None, SCRIPTS[component], variables, (),
                remote_dir or DIRS[component], timeout, given)
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
               "LANG": "C.UTF-8", **(extra_env or {})}
    lines: list[str] = []
    result = run_once(step, PROJECT, environ, config_for(infra, hosts, names), lines.append,
                      dry_run=dry_run)
    return ScriptRun(result, lines)
