"""``$OTTO_REMOTE`` (``ottodeploy.remote``), hosts with private addresses, smoke ``via: ssh``.

The shim is run as deploy scripts run it: the executable ``write_shim`` makes, configured by
``OTTO_REMOTE_CONFIG`` from ``config_for``. ``local`` runs here; ``ssh`` goes to a real sshd
on 127.0.0.1 (every host of the inventory is that server).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from ottodeploy.core.errors import BadInput
from ottodeploy.core.models import Deploy, Environment, HostsFile, Infrastructure, SmokeCheck
from ottodeploy.inventory import Host, Inventory, host_variables, inventory
from ottodeploy.remote import Remote, config_for, write_shim
from ottodeploy.smoke import expand, run_checks
from tests.conftest import PROJECT
from tests.deployhosts import ssh_infrastructure
from tests.servers import HttpRecorder, Response, SshServer, free_port

SECRET = "s3cret-keystore-password"
TOKEN = "ghp_shimTokenSecret99"


def local_hosts() -> Inventory:
    return Inventory((Host("node1", "127.0.0.1", index=1, private_address="10.0.0.1"),
                      Host("node2", "127.0.0.1", index=2)), Host("svc", "127.0.0.1"))


def shim_env(tmp_path: Path, infra: Infrastructure, hosts: Inventory,
             **extra: str) -> tuple[Path, dict[str, str]]:
    shim = write_shim(tmp_path / "bin")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "OTTO_REMOTE_CONFIG": config_for(infra, hosts, ["CL_KEYSTORE_PASSWORD"]),
           "CL_KEYSTORE_PASSWORD": SECRET, "GITHUB_TOKEN": TOKEN, **extra}
    return shim, env


def call(shim: Path, env: Mapping[str, str], *args: str, stdin: str | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shim), *args], env=dict(env), input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=cwd, check=False)


LOCAL = Infrastructure(target="local")


# --- local target ------------------------------------------------------------------------


def test_local_runs_shell_text_and_argv_exactly_and_passes_the_exit_status(
        tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts())
    done = call(shim, env, "node1", "--", "echo hi | tr a-z A-Z; exit 7")
    assert (done.returncode, done.stdout) == (7, "HI\n")
    assert done.stderr == "[node1] echo hi | tr a-z A-Z; exit 7\n"
    # several arguments are an argv: nothing in them is shell
    done = call(shim, env, "node2", "--", "printf", "%s|", "a b", "$HOME", ";id", "`x`")
    assert (done.returncode, done.stdout) == (0, "a b|$HOME|;id|`x`|")
    assert done.stderr == "[node2] printf '%s|' 'a b' '$HOME' ';id' '`x`'\n"
    # pipefail: a failing stage fails the command
    assert call(shim, env, "node1", "--", "false | cat").returncode == 1


def test_stdin_reaches_the_command_only_with_stdin(tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts())
    assert call(shim, env, "node1", "--", "cat", stdin="data\n").stdout == ""
    assert call(shim, env, "node1", "--stdin", "--", "cat", stdin="data\n").stdout == "data\n"


def test_put_copies_a_file(tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts())
    (tmp_path / "a.yml").write_text("services: {}\n")
    done = call(shim, env, "svc", "--put", str(tmp_path / "a.yml"), str(tmp_path / "b.yml"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.yml").read_text() == "services: {}\n"
    assert done.stderr == f"[svc] put {tmp_path / 'a.yml'} {tmp_path / 'b.yml'}\n"
    missing = call(shim, env, "svc", "--put", str(tmp_path / "nope"), str(tmp_path / "c"))
    assert missing.returncode == 2 and "is not a file" in missing.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["node9", "--", "true"], "unknown host 'node9' (this environment's hosts: node1, node2, svc)"),
    (["node1"], "usage:"),                              # neither a command nor --put
    (["node1", "--retry"], "needs a value"),
    (["node1", "--bogus", "--", "true"], "unknown option '--bogus'"),
    (["--", "true"], "usage:"),                         # no host
])
def test_bad_calls_exit_2_saying_why(tmp_path: Path, args: list[str], message: str) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts())
    done = call(shim, env, *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_without_its_configuration_it_refuses(tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts())
    del env["OTTO_REMOTE_CONFIG"]
    done = call(shim, env, "node1", "--", "true")
    assert done.returncode == 2 and "OTTO_REMOTE_CONFIG is not set" in done.stderr
    env["OTTO_REMOTE_CONFIG"] = "{not json"
    assert call(shim, env, "node1", "--", "true").returncode == 2


def test_dry_run_prints_redacted_commands_and_runs_nothing(tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts(), OTTO_DRY_RUN="1")
    marker = tmp_path / "ran"
    done = call(shim, env, "node1", "--stdin", "--dry-output", "PEER-ID", "--",
                f"touch {marker}; echo {SECRET} {TOKEN}", stdin="keystore bytes\n")
    assert done.returncode == 0
    assert not marker.exists()
    assert done.stdout == "PEER-ID\n"
    assert done.stderr == f"[node1] touch {marker}; echo *** *** < stdin\n"
    waits = call(shim, env, "node2", "--retry", "90", "--every", "5", "--", "false")
    assert (waits.returncode, waits.stderr) == (0, "[node2] (retry 90x5s) false\n")
    put = call(shim, env, "svc", "--put", str(tmp_path / "absent"), "/opt/x")
    assert put.returncode == 0 and not Path("/opt/x").exists()


def test_retry_runs_until_success_and_says_when_it_gives_up(tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, LOCAL, local_hosts())
    counter = tmp_path / "count"
    counter.write_text("0")
    script = f'n=$(cat {counter}); echo $((n + 1)) > {counter}; [ "$n" -ge 2 ]'
    done = call(shim, env, "node1", "--retry", "5", "--every", "0", "--", script)
    assert done.returncode == 0
    assert counter.read_text() == "3\n"                            # third attempt passed
    assert done.stderr.count("[node1]") == 1                       # printed once
    failed = call(shim, env, "node1", "--retry", "3", "--every", "0", "--", "exit 4")
    assert failed.returncode == 4
    assert "[node1] gave up after 3 attempts (exit 4)" in failed.stderr


# --- ssh target --------------------------------------------------------------------------


def ssh_hosts(sshd: SshServer) -> Inventory:
    return Inventory((Host("node1", sshd.host, index=1), Host("node2", sshd.host, index=2,
                                                               port=free_port())), None)


def test_ssh_runs_through_the_server_with_the_environments_key_and_known_hosts(
        sshd: SshServer, tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, ssh_infrastructure(sshd), ssh_hosts(sshd))
    done = call(shim, env, "node1", "--", 'echo "$SSH_CONNECTION" | wc -w; exit 3')
    assert (done.returncode, done.stdout.strip()) == (3, "4")       # it came through sshd
    target = tmp_path / "remote" / "secret"
    target.parent.mkdir()
    done = call(shim, env, "node1", "--stdin", "--", f"umask 077 && cat > {target}",
                stdin=SECRET)
    assert done.returncode == 0, done.stderr
    assert target.read_text() == SECRET and target.stat().st_mode & 0o777 == 0o600
    assert SECRET not in done.stderr + done.stdout
    (tmp_path / "compose.yml").write_text("services: {}\n")
    put = call(shim, env, "node1", "--put", str(tmp_path / "compose.yml"),
               str(tmp_path / "remote" / "compose.yml"))
    assert put.returncode == 0, put.stderr
    assert (tmp_path / "remote" / "compose.yml").read_text() == "services: {}\n"
    # a host where no server listens: ssh's own status
    assert call(shim, env, "node2", "--", "true").returncode == 255


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


def test_a_secret_on_stdin_is_on_no_command_line_while_it_travels(
        sshd: SshServer, tmp_path: Path) -> None:
    shim, env = shim_env(tmp_path, ssh_infrastructure(sshd), ssh_hosts(sshd))
    hold, got = tmp_path / "hold", tmp_path / "got"
    hold.write_text("")
    proc = subprocess.Popen(
        [str(shim), "node1", "--stdin", "--",
         f"cat > {got}; while [ -e {hold} ]; do sleep 0.05; done"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert proc.stdin is not None
        proc.stdin.write(SECRET)
        proc.stdin.close()
        deadline = time.monotonic() + 30
        while not (got.exists() and got.read_text() == SECRET) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got.read_text() == SECRET
        seen = cmdlines()
        assert "ottodeploy.remote" in seen and f"cat > {got}" in seen  # the call is running
        assert SECRET not in seen
    finally:
        hold.unlink()
        proc.wait(30)
    assert proc.returncode == 0


# --- hosts: private addresses ------------------------------------------------------------


def environment(target: str = "ssh") -> Environment:
    return Environment.model_validate({
        "name": "scratch", "mode": "branch", "sources": {},
        "infrastructure": {"target": target, "nodes": ["node1", "node2"],
                           "services_host": "svc"}})


def test_private_addresses_come_from_the_infrastructure_variable_or_hosts_yaml() -> None:
    variable = json.dumps({
        "nodes": [{"name": "node1", "host": "203.0.113.1", "private_host": "10.0.0.1"},
                  {"name": "node2", "host": "203.0.113.2"}],
        "services_host": {"host": "203.0.113.10", "private_host": "10.0.0.10"}})
    inv = inventory(environment(), None, {"SCRATCH_INFRASTRUCTURE": variable})
    assert [(h.address, h.private) for h in inv.all()] == [
        ("203.0.113.1", "10.0.0.1"), ("203.0.113.2", "203.0.113.2"),   # none: the public one
        ("203.0.113.10", "10.0.0.10")]
    assert host_variables(inv, inv.nodes[1]) == {
        "OTTO_NODE_COUNT": "2", "OTTO_NODES": "node1,node2",
        "OTTO_NODE1_NAME": "node1", "OTTO_NODE1_ADDRESS": "203.0.113.1",
        "OTTO_NODE1_PRIVATE_ADDRESS": "10.0.0.1",
        "OTTO_NODE2_NAME": "node2", "OTTO_NODE2_ADDRESS": "203.0.113.2",
        "OTTO_NODE2_PRIVATE_ADDRESS": "203.0.113.2",
        "OTTO_SERVICES_HOST_NAME": "svc", "OTTO_SERVICES_HOST_ADDRESS": "203.0.113.10",
        "OTTO_SERVICES_HOST_PRIVATE_ADDRESS": "10.0.0.10",
        "OTTO_HOST": "node2", "OTTO_HOST_ADDRESS": "203.0.113.2",
        "OTTO_HOST_PRIVATE_ADDRESS": "203.0.113.2", "OTTO_NODE_INDEX": "2"}
    # the services host as a plain string (today's secrets), and hosts.yaml's private_address
    hosts = HostsFile.model_validate({"hosts": {
        "node1": {"address": "198.51.100.1", "private_address": "192.168.0.1"},
        "node2": {"address": "198.51.100.2"}}})
    inv = inventory(environment(), hosts, {"SCRATCH_INFRASTRUCTURE": json.dumps(
        {"nodes": [], "services_host": "198.51.100.9"})})
    assert [(h.address, h.private) for h in inv.all()] == [
        ("198.51.100.1", "192.168.0.1"), ("198.51.100.2", "198.51.100.2"),
        ("198.51.100.9", "198.51.100.9")]


@pytest.mark.parametrize("variable", [
    # an address that would be shell in a remote command line
    {"nodes": [{"name": "node1", "host": "1.2.3.4; rm -rf /"}], "services_host": "1.2.3.5"},
    {"nodes": [{"name": "node1", "host": "1.2.3.4", "private_host": "$(id)"}]},
    {"nodes": [{"name": "node1", "host": "-oProxyCommand=x"}]},   # an ssh option
    {"nodes": [{"name": "node1", "host": 7}]},                   # not a string
    {"nodes": [], "services_host": {"private_host": "10.0.0.1"}},  # no public address
])
def test_an_address_that_is_not_a_host_is_bad_input(variable: object) -> None:
    with pytest.raises(BadInput) as caught:
        inventory(environment(), None, {"SCRATCH_INFRASTRUCTURE": json.dumps(variable)})
    assert caught.value.exit_code == 2
    assert "SCRATCH_INFRASTRUCTURE" in str(caught.value)


def test_infrastructure_from_todays_secrets() -> None:
    script = PROJECT / "scripts" / "infrastructure-from-secrets.sh"
    secrets = {"HETZNER_NODE1_IP": "203.0.113.1", "HETZNER_NODE1_PRIVATE_IP": "10.0.0.1",
               "HETZNER_NODE2_IP": "203.0.113.2", "HETZNER_NODE2_PRIVATE_IP": "10.0.0.2",
               "HETZNER_NODE3_IP": "203.0.113.3",
               "HETZNER_SERVICES_IP": "203.0.113.10", "HETZNER_SERVICES_PRIVATE_IP": "10.0.0.10"}
    base = {"PATH": os.environ["PATH"]}
    done = subprocess.run([str(script)], env={**base, **secrets}, capture_output=True,
                          text=True, timeout=30, check=True)
    data = json.loads(done.stdout)
    assert data == {"nodes": [
        {"name": "node1", "host": "203.0.113.1", "private_host": "10.0.0.1"},
        {"name": "node2", "host": "203.0.113.2", "private_host": "10.0.0.2"},
        {"name": "node3", "host": "203.0.113.3"}],
        "services_host": {"host": "203.0.113.10", "private_host": "10.0.0.10"}}
    env = Environment.model_validate({
        "name": "scratch", "mode": "branch", "sources": {},
        "infrastructure": {"nodes": ["node1", "node2", "node3"], "services_host": "svc"}})
    inv = inventory(env, None, {"SCRATCH_INFRASTRUCTURE": done.stdout})
    assert [h.private for h in inv.all()] == ["10.0.0.1", "10.0.0.2", "203.0.113.3",
                                              "10.0.0.10"]
    # another prefix; a bad address; no node at all
    staging = {f"STAGING_{k}": v for k, v in secrets.items()}
    assert json.loads(subprocess.run([str(script), "STAGING_HETZNER"], env={**base, **staging},
                                     capture_output=True, text=True, check=True).stdout) == data
    for bad in ({**secrets, "HETZNER_NODE2_PRIVATE_IP": "10.0.0.2 x"}, {}):
        failed = subprocess.run([str(script)], env={**base, **bad}, capture_output=True,
                                text=True, timeout=30, check=False)
        assert failed.returncode == 2 and failed.stdout == "" and "error:" in failed.stderr


# --- the Deploy model --------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "message"), [
    ({"on": "none", "once": True}, "names the hosts it needs"),
    ({"on": "nodes", "once": True, "run": "x", "files": ["a.yml"]}, "copies its files itself"),
    ({"on": "nodes", "run": "x", "env": ["lower_case"]}, "String should match pattern"),
    ({"on": "nodes", "run": "x", "env": ["A=B"]}, "String should match pattern"),
])
def test_deploy_sections_that_cannot_work_are_rejected(spec: dict[str, object],
                                                      message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Deploy.model_validate(spec)


# --- smoke via ssh -----------------------------------------------------------------------


def node_info(state: str) -> Response:
    return Response(200, body={"state": state, "id": "abc"})


def test_expand_renders_private_addresses_and_picks_the_host_curl_runs_on() -> None:
    hosts = local_hosts()
    checks = [SmokeCheck.model_validate(c) for c in (
        {"url": "http://${host.private}:9000/node/info", "via": "ssh"},
        {"url": "http://127.0.0.1:9200/node/info", "via": "ssh", "on": "nodes"},
        {"url": "http://127.0.0.1:3001/api/health", "via": "ssh"},
        {"url": "http://${services_host.private}:4000/health"},
    )]
    got = [(r.name, r.url, r.via_host) for r in expand(checks, {}, hosts)]
    assert got == [
        ("smoke[0]@node1", "http://10.0.0.1:9000/node/info", "node1"),
        ("smoke[0]@node2", "http://127.0.0.1:9000/node/info", "node2"),
        ("smoke[1]@node1", "http://127.0.0.1:9200/node/info", "node1"),
        ("smoke[1]@node2", "http://127.0.0.1:9200/node/info", "node2"),
        ("smoke[2]", "http://127.0.0.1:3001/api/health", "svc"),
        ("smoke[3]", "http://127.0.0.1:4000/health", ""),
    ]


def test_smoke_via_ssh_is_curl_on_the_host(sshd: SshServer) -> None:
    hosts = Inventory((Host("node1", sshd.host, index=1), Host("node2", sshd.host, index=2)),
                      Host("svc", sshd.host, port=free_port()))
    remote = Remote.for_environment(ssh_infrastructure(sshd), hosts)
    with HttpRecorder() as node:
        node.add_route("GET", "/node/info", node_info("Ready"))
        node.add_route("GET", "/cluster/info", Response(200, body=[{"id": "a"}, {"id": "b"}]))
        url = f"http://127.0.0.1:{node.port}"
        checks = [SmokeCheck.model_validate(c) for c in (
            {"name": "ml0", "url": f"{url}/node/info", "via": "ssh", "on": "nodes",
             "json": {"state": "Ready"}},
            {"name": "cluster", "url": f"{url}/cluster/info", "via": "ssh", "on": "node1",
             "json": {"#": 2}},
        )]
        result = run_checks(checks, {}, hosts, remote)
        assert result.ok, result.results
        assert [r.name for r in result.results] == ["ml0@node1", "ml0@node2", "cluster"]
        assert result.results[0].url == f"{url}/node/info (on node1)"
        assert len(node.requests) == 3
        assert all("curl" in (r.header("User-Agent") or "") for r in node.requests)

        # the same expectations and retries as a request from here; a failure names the host
        node.add_route("GET", "/node/info", node_info("WaitingForReady"))
        failing = [SmokeCheck.model_validate(
            {"name": "ml0", "url": f"{url}/node/info", "via": "ssh", "on": "node1",
             "json": {"state": "Ready"}, "timeout": 1.5})]
        result = run_checks(failing, {}, hosts, remote)
        (only,) = result.results
        assert not only.ok and only.attempts >= 2
        assert only.message == (f"GET {url}/node/info on node1: expected state == 'Ready', "
                                "got 'WaitingForReady'")
        # a status, a host that does not answer ssh, no target given
        node.add_route("GET", "/nope", Response(404, body=b"not here"))
        bad = [SmokeCheck.model_validate(c) for c in (
            {"name": "missing", "url": f"{url}/nope", "via": "ssh", "on": "node1",
             "timeout": 0.5},
            {"name": "svc", "url": f"{url}/node/info", "via": "ssh", "timeout": 0.5},
        )]
        results = run_checks(bad, {}, hosts, remote).results
        assert results[0].message == f"GET {url}/nope on node1: expected status 200, got 404"
        assert results[1].message == f"GET {url}/node/info on svc: cannot reach svc over ssh"
        assert run_checks(bad[:1], {}, hosts, None).results[0].message.endswith(
            "'via: ssh' needs the environment's target")
