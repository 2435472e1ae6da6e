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
    chapter = {n: out.split(f"### {n}.")[1].split(f"### {n + 1}.")[0] for n in range(1, 10)}

    # the three nodes each answer on their own port, as themselves
    node_ports = re.findall(r"ok\s+node(\d)-ready: http://127\.0\.0\.1:(\d+)/", chapter[4])
    assert sorted(n for n, _ in node_ports) == ["1", "2", "3"]
    assert len({port for _, port in node_ports}) == 3
    assert re.search(r"ok\s+cluster-size", chapter[4])

    # a services-only commit redeploys services alone; the rest is as deployed
    assert re.search(r"services_image: built in", chapter[5])
    assert "-> services on" in chapter[5]
    assert "-> ottochain on" not in chapter[5]
    assert "ottochain: unchanged" in chapter[5]

    # the promotion's deploy is refused until it is approved, then ships demo's bytes
    assert "refused (exit 1): beta requires approval" in chapter[6]
    assert "approved by Demo Approver" in chapter[7] and "signed merge" in chapter[7]
    assert "cascade: 8 reused" in chapter[7]
    assert not re.search(r": built in", chapter[7])

    # the incremental rebuild after the metakit commit: metakit and below, not tessellation
    assert "new SHA for metakit" in chapter[8]
    for task in ("tessellation_publish", "monitoring_config"):
        assert f"{task}: up to date" in chapter[9]
    for task in ("metakit_publish", "ottochain_assembly", "ottochain_image"):
        assert re.search(rf"{task}: built in", chapter[9]), (task, chapter[9])
    # smoke included the deployed-commit check, and it passed
    assert re.search(r"ok\s+services-commit", out)
    # the diff tells a rebuild of the same commit from a change of commit
    assert re.search(r"ottochain\s+differs .*the same commit, other bytes", out)

    lockfiles = {p.name: yaml.safe_load(p.read_text()) for p in root.lockfiles.glob("*.yaml")}

    def written(name: str) -> tuple[str, int]:  # two deploys within one minute: -2, -3, ...
        counter = re.search(r"-\d{4}-\d\d-\d\d-\d{4}(?:-(\d+))?\.yaml$", name)
        assert counter, name
        return str(lockfiles[name]["timestamp"]), int(counter.group(1) or 1)

    by_env: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(lockfiles, key=written):
        by_env.setdefault(str(lockfiles[name]["environment"]), []).append(lockfiles[name])
    assert len(by_env["demo"]) == 3 and len(by_env["beta"]) == 1
    assert all(lock["status"] == "healthy" for lock in lockfiles.values())
    # beta runs exactly what the promoted demo lockfile locked: sources and bytes
    promoted, beta = by_env["demo"][1], by_env["beta"][0]
    assert {n: s["sha"] for n, s in beta["sources"].items()} == \
        {n: s["sha"] for n, s in promoted["sources"].items()}
    assert {t: a["digest"] for t, a in beta["artifacts"].items()} == \
        {t: a["digest"] for t, a in promoted["artifacts"].items()}
    assert beta["approval"]["kind"] == "signed merge"
    assert beta["approval"]["approver"] == "Demo Approver <approver@example.invalid>"
    # the metakit commit changed the bytes below it in the newest demo lockfile
    newest = by_env["demo"][2]
    assert newest["artifacts"]["ottochain_image"]["digest"] != \
        promoted["artifacts"]["ottochain_image"]["digest"]
    assert newest["artifacts"]["tessellation_publish"]["digest"] == \
        promoted["artifacts"]["tessellation_publish"]["digest"]

    # nothing is left running: every process the deploys started is gone, no pid file stays
    started = [int(pid) for pid in re.findall(r"started \(pid (\d+)\)", out)]
    assert len(started) == 16  # demo 5, services alone 1, beta 5, demo after metakit 5
    assert not [p for p in started if pid_running(p)]
    assert not _pids(base)
    assert "stopped 10 demo processes (demo/explorer, demo/node1" in out


def test_the_demo_runs_again_and_keep_leaves_services_until_stopped(tmp_path: Path) -> None:
    first = Collected()
    demo.run(tmp_path, reporter=first, keep=True)
    lines = [e["text"] for e in first.of("note")]
    base = sandbox.base_dir(tmp_path)
    pids = _pids(base)
    try:
        assert len(pids) == 10 and all(pid_running(p) for p in pids)
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

