"""Helpers for the deploy tests: deploy sections, a deployed "service", lockfile reading.

The deploy root of ``eco`` gets a ``deploy/record.py`` script that every component's
``deploy.run`` calls. It appends what it was given (``OTTO_*``, cwd) to
``deployed/log.jsonl``, and for ``services`` writes ``deployed/services.json`` (the
deployed state: SHA, version, image), which ``ServiceServer`` (an ``HttpRecorder`` on
127.0.0.1) serves as ``/version``. Files under ``deployed/`` steer it from the test:
``fail-<component>`` makes that component's deploy exit 4, ``hold-<component>`` makes it
wait (after writing ``holding-<component>``) until the test removes the hold file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT
from tests.ecosystem import Ecosystem
from tests.servers import HttpRecorder, RecordedRequest, Response

RECORD_PY = r'''#!/usr/bin/env python3
"""Test deploy script: record what the deploy gave us; write the services state file."""
import json, os, pathlib, sys, time

component = os.environ["OTTO_COMPONENT"]
host = os.environ.get("OTTO_HOST", "?")
out = pathlib.Path("deployed")
out.mkdir(exist_ok=True)
env = {k: v for k, v in os.environ.items()
       if k.startswith("OTTO_") and not k.startswith("OTTO_TEST")}
print(f"deploying {component} to {host} ({os.environ.get('OTTO_IMAGE', 'no image')})")
hold = out / f"hold-{component}"
if hold.exists():
    (out / f"holding-{component}").write_text(str(os.getpid()))
    deadline = time.time() + 120
    while hold.exists() and time.time() < deadline:
        time.sleep(0.05)
if (out / f"fail-{component}").exists():
    print(f"{component} refuses to start on {host}", file=sys.stderr)
    sys.exit(4)
fd = os.open(out / "log.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, (json.dumps({"component": component, "cwd": os.getcwd(), "env": env}) + "\n").encode())
os.close(fd)
if component == "services":
    state = {"sha": env["OTTO_SHA"], "version": env["OTTO_VERSION"],
             "image": env.get("OTTO_IMAGE")}
    (out / "services.json").write_text(json.dumps(state))
'''

E2E_PY = r'''#!/usr/bin/env python3
"""Test e2e: the services answer with the commit the deploy says it deployed."""
import json, os, sys, urllib.request

port = sys.argv[1]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
url = f"http://{os.environ['OTTO_SERVICES_HOST']}:{port}/version"
with opener.open(url, timeout=5) as response:
    body = json.load(response)
ok = body["commit"] == os.environ["OTTO_SERVICES_SHA"]
print(f"e2e: services answer {body['commit'][:7]}: {'ok' if ok else 'MISMATCH'}")
if os.path.exists("deployed/fail-e2e"):
    print("e2e: scenario failed on purpose")
    sys.exit(5)
sys.exit(0 if ok else 1)
'''

# Where each component is deployed in these tests (the rest have no deploy section).
DEPLOYS: dict[str, dict[str, Any]] = {
    "ottochain": {"on": "nodes", "run": "python3 deploy/record.py"},
    "services": {"on": "services_host", "run": "python3 deploy/record.py"},
    "explorer": {"on": "services_host", "run": "python3 deploy/record.py"},
    "monitoring": {"on": "none"},
}
NODES = ["node1", "node2", "node3"]
# The branch each source follows in scratch and beta, and the version a deploy computes for
# its tip in the template ecosystem (SPEC §3: ottochain is 3 commits past v0.6.1).
BRANCH = {"tessellation": "main", "metakit": "main", "ottochain": "develop", "sdk": "develop",
          "services": "develop", "explorer": "develop", "monitoring": "develop"}
VERSIONS = {"tessellation": "4.0.0", "metakit": "0.2.0", "ottochain": "0.6.2-dev.3",
            "sdk": "0.3.0", "services": "1.0.0", "explorer": "1.0.0", "monitoring": "0.1.0"}
SERVICES_HOST = "services-scratch"

SHA40 = re.compile(r"\b[0-9a-f]{40}\b")


def set_deploys(eco: Ecosystem, deploys: dict[str, dict[str, Any]] | None = None) -> None:
    """Write deploy sections into components.yaml and the recording deploy script."""
    path = eco.root / "manifests" / "components.yaml"
    data = yaml.safe_load(path.read_text())
    for name, spec in (DEPLOYS if deploys is None else deploys).items():
        data["components"][name]["deploy"] = spec
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    eco.write("deploy/record.py", RECORD_PY)
    eco.write("deploy/e2e.py", E2E_PY)
    eco.write("deploy/compose.yml", "services:\n  app:\n    image: ${OTTO_IMAGE}\n")


def set_env(eco: Ecosystem, env: str = "scratch", *, infrastructure: dict[str, Any] | None = None,
            smoke: list[dict[str, Any]] | None = None, e2e: dict[str, Any] | None = None) -> None:
    """Replace the environment's infrastructure (and set smoke/e2e) in its manifest."""
    path = eco.root / "manifests" / "environments" / f"{env}.yaml"
    text = path.read_text()
    old = "infrastructure: {target: local}\n"
    assert old in text, text
    infra = infrastructure or {"target": "local", "nodes": NODES, "services_host": SERVICES_HOST}
    extra: dict[str, Any] = {"infrastructure": infra}
    if smoke is not None:
        extra["smoke"] = smoke
    if e2e is not None:
        extra["e2e"] = e2e
    path.write_text(text.replace(old, yaml.safe_dump(extra, sort_keys=False)))


def configure(eco: Ecosystem, port: int, env: str = "scratch", *, timeout: float = 2,
              e2e: bool = True) -> None:
    """The tests' usual site: deploy sections, three nodes and a services host, smoke, e2e."""
    set_deploys(eco)
    set_env(eco, env, smoke=smoke_checks(port, timeout),
            e2e={"run": f"python3 deploy/e2e.py {port}"} if e2e else None)


def smoke_checks(port: int, timeout: float = 2) -> list[dict[str, Any]]:
    """The checks of the tests' environment: the deployed commit, an array length, per node."""
    base = f"http://${{services_host}}:{port}"
    return [
        {"name": "version", "url": f"{base}/version",
         "json": {"commit": "${services.sha}", "version": "${services.version}", "peers.#": 3},
         "timeout": timeout},
        {"name": "peers", "url": f"{base}/peers", "json": {"#": 3},
         "timeout": timeout},
        {"name": "node", "url": f"http://${{host}}:{port}/health", "json": {"status": "ok"},
         "timeout": timeout},
    ]


@dataclass
class ServiceServer:
    """The deployed services as an HTTP server: ``/version`` from the state file."""

    root: Path
    mode: str = "ok"                 # ok | wrong | 503
    recorder: HttpRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = HttpRecorder(self._handle)

    def __enter__(self) -> ServiceServer:
        self.recorder.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.recorder.close()

    @property
    def port(self) -> int:
        return self.recorder.port

    def state(self) -> dict[str, Any] | None:
        try:
            text = (self.root / "deployed" / "services.json").read_text()
            data: dict[str, Any] = json.loads(text)
        except (OSError, ValueError):
            return None
        return data

    def _handle(self, request: RecordedRequest) -> Response:
        if self.mode == "503":
            return Response(503, body={"status": "starting"})
        if request.path == "/health":
            return Response(200, body={"status": "ok"})
        if request.path == "/peers":
            return Response(200, body=[{"id": n} for n in NODES])
        if request.path == "/version":
            state = self.state()
            if state is None:
                return Response(404, body={"error": "not deployed"})
            commit = "0" * 40 if self.mode == "wrong" else state["sha"]
            return Response(200, body={"commit": commit, "version": state["version"],
                                       "image": state["image"], "peers": [1, 2, 3]})
        return Response(404, body={"error": request.path})


def deployed(eco: Ecosystem) -> list[dict[str, Any]]:
    """What the deploy script recorded, in order."""
    log = eco.root / "deployed" / "log.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def lockfiles(eco: Ecosystem) -> list[Path]:
    folder = eco.root / "lockfiles"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def read_lock(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def healthy(eco: Ecosystem, env: str = "scratch") -> list[Path]:
    return [p for p in lockfiles(eco)
            if read_lock(p)["environment"] == env and read_lock(p)["status"] == "healthy"]


def stages(output: str) -> list[str]:
    """The ``== stage`` headings of a deploy's output, by their first word."""
    return [line.split()[1] for line in output.splitlines() if line.startswith("== ")]


def inv_process(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """``inv ARGS`` as its own process (the project's tasks; OTTODEPLOY_ROOT from the env)."""
    return subprocess.Popen([sys.executable, "-m", "invoke", "--search-root", str(PROJECT), *args],
                            cwd=PROJECT, text=True, **popen)


def fixed_clock(monkeypatch: pytest.MonkeyPatch, *stamps: str) -> None:
    """Lockfiles written in this process get these timestamps, in order."""
    it = iter(stamps)
    monkeypatch.setattr("ottodeploy.lockfile.utc_timestamp", lambda now=None: next(it))


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def tips(eco: Ecosystem, branches: dict[str, str]) -> dict[str, str]:
    """The SHA of each repo's branch, read from its remote (what a deploy must resolve)."""
    from tests.gitrepos import git

    return {n: git(eco.repos[n].remote, "rev-parse", f"refs/heads/{b}")
            for n, b in branches.items()}


def all_text(paths: Iterable[Path]) -> str:
    out = []
    for p in paths:
        try:
            out.append(p.read_text(errors="replace"))
        except OSError:
            continue
    return "\n".join(out)
