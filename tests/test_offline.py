"""Without the repos: one line that says so, and answers from the last resolution.

The repos are made unreachable for real, by renaming the folder that holds them.
Every successful resolution is stored per environment (``.ottodeploy/<env>/resolution.json``);
``plan --offline`` and ``doit`` without a network use it and say how old it is; a manifest
that asks for other refs since is not answered from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT, run_inv
from tests.ecosystem import Ecosystem

HOURS_3 = 3 * 3600 + 5


def unreachable(eco: Ecosystem) -> None:
    (eco.base / "remotes").rename(eco.base / "remotes-gone")


def stored(eco: Ecosystem, env: str = "scratch") -> Path:
    return eco.root / ".ottodeploy" / env / "resolution.json"


def age_it(eco: Ecosystem, seconds: int) -> str:
    """Make the stored resolution ``seconds`` old; returns its UTC stamp as the tool prints it."""
    path = stored(eco)
    data = json.loads(path.read_text())
    data["resolved_at"] = time.time() - seconds
    path.write_text(json.dumps(data))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(data["resolved_at"]))


def doit(eco: Ecosystem, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "OTTODEPLOY_ROOT": str(eco.root)})


@pytest.mark.parametrize("argv", [("plan", "scratch"), ("resolve", "scratch"),
                                  ("build", "scratch"), ("check", "scratch")])
def test_unreachable_repos_are_one_line_with_a_hint(eco: Ecosystem, argv: tuple[str, ...]) -> None:
    unreachable(eco)
    result = run_inv(*argv)
    assert result.code == 1, result.output
    first, hint, *rest = result.stderr.splitlines()
    assert rest == []
    assert first.startswith("ottodeploy: error: cannot reach 7 repos (tessellation, metakit, "
                            "ottochain, sdk and 3 more): ")
    assert "does not appear to be a git repository" in first
    assert hint.startswith("  hint: check the network")
    assert "no stored resolution of scratch" in hint


def test_plan_offline_answers_from_the_last_resolution_and_says_how_old(eco: Ecosystem) -> None:
    online = run_inv("plan", "scratch", "--json")
    assert online.code == 0, online.output
    assert stored(eco).is_file()
    stamp = age_it(eco, HOURS_3)
    unreachable(eco)

    result = run_inv("plan", "scratch")
    assert result.code == 1
    assert f"`inv plan scratch --offline` and `doit list env=scratch` use its last " \
           f"resolution ({stamp}, 3h ago)" in result.stderr

    result = run_inv("plan", "scratch", "--offline")
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"offline: no repo was read; scratch's last resolution, made {stamp} (3h ago), answers")
    data = json.loads(run_inv("plan", "scratch", "--offline", "--json").stdout)
    assert data["resolution"]["offline"] is True
    assert data["resolution"]["resolved_at"] == stamp
    assert data["resolution"]["age_seconds"] >= HOURS_3
    # the same tasks, keys and reasons as online: nothing differs but where the SHAs came from
    assert data["tasks"] == json.loads(online.stdout)["tasks"]


def test_doit_list_without_the_repos_uses_the_last_resolution(eco: Ecosystem) -> None:
    assert run_inv("resolve", "scratch").code == 0
    age_it(eco, HOURS_3)
    unreachable(eco)
    done = doit(eco, "list", "env=scratch")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "metakit_publish" in done.stdout
    lines = done.stderr.splitlines()
    assert lines[0].startswith("ottodeploy: warning: cannot reach 7 repos")
    assert "offline: using scratch's last resolution (" in lines[1] and "3h ago)" in lines[1]


def test_a_manifest_changed_since_is_not_answered_from_an_old_resolution(
        eco: Ecosystem) -> None:
    assert run_inv("plan", "scratch").code == 0
    env_file = eco.root / "manifests" / "environments" / "scratch.yaml"
    env_file.write_text(env_file.read_text().replace("sdk: {type: ecosystem, ref: develop}",
                                                     "sdk: {type: ecosystem, ref: main}"))
    unreachable(eco)
    result = run_inv("plan", "scratch", "--offline")
    assert result.code == 1
    assert "scratch's last resolution (" in result.stderr
    assert "answered other refs: its manifest changed since" in result.stderr
    done = doit(eco, "list", "env=scratch")
    assert done.returncode == 1
    assert "cannot reach 7 repos" in done.stderr


def test_no_stored_resolution_is_said_plainly(eco: Ecosystem) -> None:
    result = run_inv("plan", "scratch", "--offline")
    assert result.code == 1
    assert "scratch has no stored resolution" in result.stderr
    assert "inv resolve scratch" in result.stderr


def test_check_stores_nothing(eco: Ecosystem) -> None:
    assert run_inv("check", "scratch").code == 0
    assert not stored(eco).exists()
