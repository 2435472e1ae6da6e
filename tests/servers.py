"""Real servers on 127.0.0.1 for tests, benchmarks and the demo.

Each server is a plain context manager (no pytest needed), so benchmarks can reuse them;
``tests/fixtures_servers.py`` wraps them as fixtures.

- ``run_registry``: Debian's ``docker-registry`` (distribution v2) with filesystem storage
  under a work directory, on a free port; ready once ``GET /v2/`` answers.
  ``registry_blob`` finds a blob's file in that storage (to tamper with it).
- ``run_sshd``: OpenSSH's ``sshd`` in the foreground with its own host key, a client key
  in ``authorized_keys`` and a ``known_hosts`` for the client; ready once it sends its
  ``SSH-`` banner.
- ``HttpRecorder``: a threaded ``http.server`` that records every request and answers
  from a queue of canned responses, per-route handlers, or one general handler.

A missing binary raises ``ServerUnavailable`` (naming the apt package); the fixtures turn
it into a skip, or into a failure when ``OTTODEPLOY_CI`` is set.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"


class ServerUnavailable(RuntimeError):
    """The server's binary is not installed here."""

    def __init__(self, binary: str, apt_package: str) -> None:
        super().__init__(f"{binary} not found (install the apt package {apt_package})")
        self.apt_package = apt_package


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _log_tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return ""


# -- docker-registry -------------------------------------------------------------------


def _registry_ready(port: int) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{LOOPBACK}:{port}/v2/", timeout=1) as resp:
            return int(resp.status) == 200
    except (OSError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def run_registry(workdir: Path, *, startup_timeout: float = 15.0) -> Iterator[str]:
    """Run a docker-registry storing under ``workdir``; yields ``"127.0.0.1:<port>"``."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        raise ServerUnavailable("docker-registry", "docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    # REGISTRY_* variables would override the config file: keep them out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    for _attempt in range(3):  # the free port may be taken before the registry binds it
        port = free_port()
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {LOOPBACK}:{port}\n  secret: ottodeploy-tests\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        )
        log = workdir / "registry.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        try:
            deadline = time.monotonic() + startup_timeout
            while proc.poll() is None and time.monotonic() < deadline:
                if _registry_ready(port):
                    break
                time.sleep(0.02)
            else:
                if proc.poll() is None:
                    raise RuntimeError(f"docker-registry did not answer:\n{_log_tail(log)}")
                continue  # exited (port taken?): try another port
            yield f"{LOOPBACK}:{port}"
            return
        finally:
            _stop(proc)
    raise RuntimeError(f"docker-registry would not start:\n{_log_tail(workdir / 'registry.log')}")


def registry_blob(storage: Path, digest: str) -> Path:
    """Where a docker-registry storing under ``storage`` (its workdir, or a folder above it)
    keeps the bytes of blob ``digest`` (distribution v2's filesystem layout)."""
    hexa = digest.removeprefix("sha256:")
    found = sorted(storage.glob(f"**/docker/registry/v2/blobs/sha256/{hexa[:2]}/{hexa}/data"))
    if len(found) != 1:
        raise LookupError(f"blob {digest} under {storage}: {found}")
    return found[0]


# -- sshd ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    user: str
    identity_file: Path
    known_hosts_file: Path

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}"

    def _options(self) -> list[str]:
        opts = [
            f"UserKnownHostsFile={self.known_hosts_file}",
            "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
            "BatchMode=yes",
            "IdentitiesOnly=yes",
            "ConnectTimeout=10",
        ]
        return [arg for opt in opts for arg in ("-o", opt)]

    def ssh_args(self) -> list[str]:
        """Options for ``ssh`` (then the destination and the command)."""
        return ["-p", str(self.port), "-i", str(self.identity_file), *self._options()]

    def scp_args(self) -> list[str]:
        """Options for ``scp`` (which spells the port ``-P``)."""
        return ["-P", str(self.port), "-i", str(self.identity_file), *self._options()]


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _ssh_banner(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@contextlib.contextmanager
def run_sshd(workdir: Path, *, startup_timeout: float = 15.0,
             extra_config: str = "") -> Iterator[SshServer]:
    """Run ``sshd -D`` on 127.0.0.1 accepting a fresh key for the current user.

    ``extra_config``: more sshd_config lines (``SetEnv PATH=...`` for a recording tool).
    """
    sshd = "/usr/sbin/sshd"
    if not Path(sshd).exists() or shutil.which("ssh-keygen") is None:
        raise ServerUnavailable("sshd", "openssh-server")
    workdir.mkdir(parents=True, exist_ok=True)
    host_key, client_key = workdir / "host_ed25519", workdir / "id_ed25519"
    _keygen(host_key, "ottodeploy-test-host")
    _keygen(client_key, "ottodeploy-test-client")
    authorized = workdir / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    config, log = workdir / "sshd_config", workdir / "sshd.log"
    for _attempt in range(3):
        port = free_port()
        config.write_text(
            f"ListenAddress {LOOPBACK}\nPort {port}\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {workdir / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nAcceptEnv LANG LC_* OTTO_*\n"
            "Subsystem sftp internal-sftp\n"  # scp speaks SFTP since OpenSSH 9
            + extra_config
        )
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + startup_timeout
            while proc.poll() is None and time.monotonic() < deadline:
                if _ssh_banner(port):
                    break
                time.sleep(0.02)
            else:
                if proc.poll() is None:
                    raise RuntimeError(f"sshd did not answer:\n{_log_tail(log)}")
                continue
            known_hosts = workdir / "known_hosts"
            key_type, key = host_key.with_suffix(".pub").read_text().split()[:2]
            known_hosts.write_text(f"[{LOOPBACK}]:{port} {key_type} {key}\n")
            yield SshServer(LOOPBACK, port, getpass.getuser(), client_key, known_hosts)
            return
        finally:
            _stop(proc)
    raise RuntimeError(f"sshd would not start:\n{_log_tail(log)}")


# -- HTTP recorder ---------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), default)

    def json(self) -> Any:
        return json.loads(self.body)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    """A canned answer. ``body`` may be bytes, str, or anything JSON-serialisable."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = b""
    delay: float = 0.0  # seconds to wait before answering (a slow or hanging server)

    def encoded(self) -> tuple[dict[str, str], bytes]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            data = self.body
        elif isinstance(self.body, str):
            data = self.body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", "application/json")
        return headers, data


HandlerResult = Response | tuple[int, Mapping[str, str], Any]
Handler = Callable[[RecordedRequest], HandlerResult]


def _as_response(result: HandlerResult) -> Response:
    if isinstance(result, Response):
        return result
    status, headers, body = result
    return Response(status, dict(headers), body)


class HttpRecorder:
    """Records every request; answers from, in order: queued responses, a route, the handler.

    >>> with HttpRecorder() as rec:
    ...     rec.add_route("POST", "/hook", Response(200, body={"ok": True}))
    ...     # point the code under test at rec.url, then inspect rec.requests
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler
        self.default = Response(200, body={"ok": True})
        self._queue: list[Response] = []
        self._routes: dict[tuple[str, str], Handler | Response] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.host_port = f"{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> HttpRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping on a delay
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def queue(self, *responses: Response | tuple[int, Mapping[str, str], Any]) -> None:
        """Answer the next requests (any path) with these, in order."""
        with self._lock:
            self._queue.extend(_as_response(r) for r in responses)

    def add_route(self, method: str, path: str, answer: Handler | Response) -> None:
        """Answer ``method path`` (query string ignored) with a response or a handler."""
        with self._lock:
            self._routes[(method.upper(), path)] = answer

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests arrived (or timeout); returns them."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._requests) >= count, timeout=timeout)
            return list(self._requests)

    def _answer(self, request: RecordedRequest) -> Response:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            if self._queue:
                return self._queue.pop(0)
            route = self._routes.get((request.method, request.path))
        if isinstance(route, Response):
            return route
        if route is not None:
            return _as_response(route(request))
        if self.handler is not None:
            return _as_response(self.handler(request))
        return self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                split = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    body=self._read_body(),
                )
                try:
                    response = recorder._answer(request)
                except Exception as exc:  # a broken test handler must still answer
                    response = Response(500, body=f"handler failed: {exc!r}")
                if response.delay and recorder._closing.wait(response.delay):
                    return
                headers, data = response.encoded()
                with contextlib.suppress(OSError):
                    self.send_response(response.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if "content-length" not in {k.lower() for k in headers}:
                        self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return _Handler
