"""The test servers themselves: sshd takes the system ssh client, the recorder records."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.servers import (
    HttpRecorder,
    RecordedRequest,
    Response,
    SshServer,
    run_registry,
)

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


# -- sshd --------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the ssh client")
def test_sshd_accepts_the_system_ssh_client(sshd: SshServer, tmp_path: Path) -> None:
    assert sshd.host == "127.0.0.1"
    run = subprocess.run(
        ["ssh", *sshd.ssh_args(), sshd.destination, "true"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    out = subprocess.run(
        ["ssh", *sshd.ssh_args(), sshd.destination, "echo $((6 * 7)); whoami"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.split() == ["42", sshd.user]
    # scp (SFTP underneath since OpenSSH 9) works too
    src, dst = tmp_path / "compose.yml", tmp_path / "copied.yml"
    src.write_text("services: {}\n")
    subprocess.run(
        ["scp", *sshd.scp_args(), str(src), f"{sshd.destination}:{dst}"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert dst.read_text() == "services: {}\n"


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the ssh client")
def test_sshd_rejects_an_unknown_host_key(sshd: SshServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    args = [a.replace(str(sshd.known_hosts_file), str(empty)) for a in sshd.ssh_args()]
    run = subprocess.run(
        ["ssh", *args, sshd.destination, "true"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 255
    assert "Host key verification failed" in run.stderr


# -- docker-registry as a plain context manager ---------------------------------------


def test_run_registry_outside_pytest_fixtures(tmp_path: Path) -> None:
    if shutil.which("docker-registry") is None and not Path("/usr/bin/docker-registry").exists():
        pytest.skip("docker-registry not installed (apt package docker-registry)")
    with run_registry(tmp_path / "reg") as address:
        host, port = address.split(":")
        assert host == "127.0.0.1"
        with _NO_PROXY.open(f"http://{address}/v2/", timeout=5) as resp:
            assert resp.status == 200
            assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert _refuses(int(port))


# -- HttpRecorder ------------------------------------------------------------------------


def test_recorder_records_requests(http_recorder: HttpRecorder) -> None:
    session = requests.Session()
    session.trust_env = False
    resp = session.post(
        f"{http_recorder.url}/hook?channel=ops&x=1&x=2",
        json={"text": "deployed"},
        headers={"X-Custom": "yes"},
        timeout=5,
    )
    assert resp.status_code == 200
    assert resp.json() == {"ok": True}
    (req,) = http_recorder.requests
    assert (req.method, req.path) == ("POST", "/hook")
    assert req.query == {"channel": ["ops"], "x": ["1", "2"]}
    assert req.param("channel") == "ops"
    assert req.header("x-custom") == "yes"
    assert req.header("content-type") == "application/json"
    assert req.json() == {"text": "deployed"}


def test_recorder_answers_queue_then_routes_then_handler(http_recorder: HttpRecorder) -> None:
    http_recorder.queue(Response(201, {"X-First": "1"}, "first"), (202, {}, {"n": 2}))
    http_recorder.add_route("GET", "/health", Response(200, body={"status": "ok"}))
    http_recorder.handler = lambda r: (418, {"X-Path": r.path}, b"teapot")
    session = requests.Session()
    session.trust_env = False
    first = session.get(f"{http_recorder.url}/health", timeout=5)
    assert (first.status_code, first.headers["X-First"], first.text) == (201, "1", "first")
    assert session.get(f"{http_recorder.url}/any", timeout=5).json() == {"n": 2}
    assert session.get(f"{http_recorder.url}/health?x=1", timeout=5).json() == {"status": "ok"}
    other = session.put(f"{http_recorder.url}/else", data=b"raw", timeout=5)
    assert (other.status_code, other.headers["X-Path"], other.content) == (418, "/else", b"teapot")
    head = session.head(f"{http_recorder.url}/health", timeout=5)
    assert head.status_code == 418  # no HEAD route: the handler answers, without a body
    assert [r.method for r in http_recorder.requests] == ["GET", "GET", "GET", "PUT", "HEAD"]
    assert http_recorder.requests[3].body == b"raw"


def test_recorder_broken_handler_answers_500(http_recorder: HttpRecorder) -> None:
    def broken(request: RecordedRequest) -> Response:
        raise RuntimeError("boom")

    http_recorder.handler = broken
    with pytest.raises(urllib.error.HTTPError) as info:
        _NO_PROXY.open(f"{http_recorder.url}/x", timeout=5)
    assert info.value.code == 500


def test_recorder_delay_simulates_a_hanging_server(http_recorder: HttpRecorder) -> None:
    http_recorder.queue(Response(200, delay=30))
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.Timeout):
        session.post(f"{http_recorder.url}/slow", data=b"{}", timeout=0.3)
    assert len(http_recorder.wait_for(1, timeout=5)) == 1
    # the recorder is still responsive for others, and closing does not wait 30 s
    assert session.get(f"{http_recorder.url}/fast", timeout=5).status_code == 200


def test_recorder_reads_chunked_bodies(http_recorder: HttpRecorder) -> None:
    session = requests.Session()
    session.trust_env = False
    session.post(f"{http_recorder.url}/chunks", data=iter([b"ab", b"cde"]), timeout=5)
    assert http_recorder.requests[0].body == b"abcde"
    assert http_recorder.requests[0].header("Transfer-Encoding") == "chunked"


def test_recorder_as_a_plain_context_manager() -> None:
    with HttpRecorder(handler=lambda r: (200, {}, {"echo": r.path})) as rec:
        with _NO_PROXY.open(f"{rec.url}/ping", timeout=5) as resp:
            assert json.loads(resp.read()) == {"echo": "/ping"}
        port = rec.port
    assert _refuses(port)
