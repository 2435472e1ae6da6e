"""The embedded demo (SPEC §7): the whole story runs, locks healthy states, stops its processes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ottodeploy import demo as sandbox
from ottodeploy.cli import demo
from ottodeploy.cli.console import ConsoleReporter
from ottodeploy.process import pid_running
from ottodeploy.reporting import Collected
from ottodeploy.root import DeployRoot
from tests.conftest import run_inv


def _pids(base: Path) -> list[int]:
    return [json.loads(p.read_text())["pid"] for p in base.rglob("run/*/*.pid")]


def test_the_demo_tells_the_whole_story_and_cleans_up(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environ = dict(os.environ)
    demo.run(tmp_path, reporter=ConsoleReporter())  # build progress to stdout too, in order
    assert dict(os.environ) == environ  # the demo's git identity etc. do not leak out
    out = capsys.readouterr().out
    base = sandbox.base_dir(tmp_path)
    root = DeployRoot(base / "deploy")

    # every chapter ran, in order
    chapters = re.findall(r"^### (\d+)\.", out, re.M)
    assert chapters == [str(n) for n in range(1, 11)], out
    # the incremental rebuild after the metakit commit: metakit and below, not tessellation
    after = out.split("### 7.")[1].split("### 8.")[0]
    assert "tessellation_publish: up to date" in after
    assert "monitoring_config: up to date" in after
    for task in ("metakit_publish", "ottochain_assembly", "sdk_build", "services_image",
                 "explorer_image"):
        assert re.search(rf"{task}: built in", after), (task, after)
    # the plan said why before it happened
    assert "new SHA for metakit" in out.split("### 6.")[1].split("### 7.")[0]
    # smoke included the deployed-commit check, and it passed
    assert re.search(r"ok\s+services-commit", out)

    lockfiles = {p.name: yaml.safe_load(p.read_text()) for p in root.lockfiles.glob("*.yaml")}
    by_env: dict[str, list[dict[str, Any]]] = {}
    for lock in lockfiles.values():
        by_env.setdefault(str(lock["environment"]), []).append(lock)
    assert len(by_env["demo"]) == 2 and len(by_env["beta"]) == 1
    assert all(lock["status"] == "healthy" for lock in lockfiles.values())
    # beta runs exactly what demo's newest lockfile locked (the promotion)
    newest_demo = max(by_env["demo"], key=lambda lock: str(lock["timestamp"]))
    beta = by_env["beta"][0]
    assert {n: s["sha"] for n, s in beta["sources"].items()} == \
        {n: s["sha"] for n, s in newest_demo["sources"].items()}

    # nothing is left running
    pids = _pids(base)
    assert not [p for p in pids if pid_running(p)]
    assert "stopped 6 demo processes" in out


def test_the_demo_runs_again_and_keep_leaves_services_until_stopped(tmp_path: Path) -> None:
    first = Collected()
    demo.run(tmp_path, reporter=first, keep=True)
    lines = [e["text"] for e in first.of("note")]
    base = sandbox.base_dir(tmp_path)
    pids = _pids(base)
    try:
        assert len(pids) == 6 and all(pid_running(p) for p in pids)
        assert any("inv demo --stop" in line for line in lines)
        # a second run first stops the kept processes and starts from a fresh sandbox
        second = Collected()
        demo.run(tmp_path, reporter=second)
        again = [e["text"] for e in second.of("note")]
        assert not [p for p in pids if pid_running(p)]
        assert any("demo finished" in line for line in again)
    finally:
        sandbox.stop(tmp_path)
    assert not [p for p in _pids(base) if pid_running(p)]


def test_inv_demo_stop_with_nothing_running() -> None:
    result = run_inv("demo", "--stop")
    assert result.code == 0, result.output
    assert result.stdout.startswith("stopped: ")

