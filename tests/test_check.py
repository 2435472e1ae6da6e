"""``inv check ENV [--offline] [--json]`` against the test ecosystem."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

import ottodeploy.git
import ottodeploy.resolve
from ottodeploy.core.errors import EXIT_FAILED
from tests.conftest import run_inv
from tests.ecosystem import VERSION_ENV, Ecosystem

SDK_VIOLATION = "sdk 0.3.0 requires ottochain >=0.5.0 <1.0.0, but ottochain is 1.0.0"
SERVICES_VIOLATION = "services 1.0.0 requires ottochain >=0.5.0 <1.0.0, but ottochain is 1.0.0"


def stages(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\w+)\s+(ok|skipped|failed)", stdout, re.MULTILINE))


@pytest.mark.parametrize(("env", "offline", "expected"), [
    # branch env online: refs resolved, matrix checked with the repos' versions
    ("scratch", False, {"files": "ok", "refs": "ok", "compatibility": "ok"}),
    # branch env offline: versions come from the repos, so the matrix is skipped
    ("scratch", True, {"files": "ok", "refs": "skipped", "compatibility": "skipped"}),
    # version env online: the tags exist and the declared versions are compatible
    ("staging", False, {"files": "ok", "refs": "ok", "compatibility": "ok"}),
    # version env offline: the declared versions are checked without any repo
    ("prod", True, {"files": "ok", "refs": "skipped", "compatibility": "ok"}),
])
def test_check_passes(eco: Ecosystem, env: str, offline: bool, expected: dict[str, str]) -> None:
    result = run_inv("check", env, *(["--offline"] if offline else []))
    assert result.code == 0, result
    assert result.stderr == ""
    assert stages(result.stdout) == expected
    if offline and env == "scratch":
        assert "compatibility  skipped (branch environment: versions come from the repos)" \
            in result.stdout


def pin_ottochain_1_0_0(eco: Ecosystem) -> None:
    """staging with ottochain 1.0.0, which sdk's and services' ranges (<1.0.0) refuse.

    The release is tagged on a branch of its own, so develop's version (scratch) keeps
    counting from v0.6.1.
    """
    otto = eco.repos["ottochain"]
    otto.checkout("release/1.0", create_from="main")
    otto.commit("feat!: new data types", {"src/v1.scala": "1\n"})
    otto.tag("v1.0.0", annotated=True)
    text = VERSION_ENV.format(name="staging", approval="false")
    eco.write("manifests/environments/staging.yaml",
              text.replace("ottochain: {type: core, version: v0.6.1}",
                           "ottochain: {type: core, version: 1.0.0}"))


@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_incompatible_versions_fail_listing_every_violation(eco: Ecosystem,
                                                            offline: bool) -> None:
    pin_ottochain_1_0_0(eco)
    result = run_inv("check", "staging", *(["--offline"] if offline else []))
    assert result.code == EXIT_FAILED, result
    assert "compatibility matrix violated (2)" in result.stderr
    assert SDK_VIOLATION in result.stderr
    assert SERVICES_VIOLATION in result.stderr
    assert stages(result.stdout)["compatibility"] == "failed"
    assert "Traceback" not in result.output


def test_incompatible_branch_build_fails_online_only(eco: Ecosystem) -> None:
    # develop's version comes from its tags: v1.0.0 on develop makes ottochain 1.0.0
    eco.repos["ottochain"].tag("v1.0.0", target="develop")
    online = run_inv("check", "scratch")
    assert online.code == EXIT_FAILED, online
    assert SDK_VIOLATION in online.stderr
    assert SERVICES_VIOLATION in online.stderr
    offline = run_inv("check", "scratch", "--offline")
    assert offline.code == 0
    assert stages(offline.stdout)["compatibility"] == "skipped"


@pytest.mark.parametrize("env", ["scratch", "staging"])
def test_offline_never_runs_git(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch,
                                env: str) -> None:
    ran: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        ran.append(args)
        raise AssertionError(f"offline check ran {args!r}")

    monkeypatch.setattr(ottodeploy.git, "git", refuse)
    monkeypatch.setattr(ottodeploy.resolve, "ls_remote", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    result = run_inv("check", env, "--offline")
    assert result.code == 0, result
    assert ran == []
    assert not (eco.root / ".ottodeploy").exists()


def test_the_guard_above_sees_git(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    # the same patch on an online check does catch git: the offline test can fail
    ran: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        ran.append(args)
        raise AssertionError("git")

    monkeypatch.setattr(ottodeploy.git, "git", refuse)
    with pytest.raises(AssertionError, match="git"):
        run_inv("check", "scratch")
    assert ran


@pytest.mark.parametrize(("args", "code", "ok"), [
    (("check", "scratch", "--json"), 0, True),                  # online, passing
    (("check", "scratch", "--offline", "--json"), 0, True),     # offline, matrix skipped
    (("check", "staging", "--json"), EXIT_FAILED, False),       # violations: still one document
])
def test_check_json_is_one_document(eco: Ecosystem, args: tuple[str, ...], code: int,
                                    ok: bool) -> None:
    pin_ottochain_1_0_0(eco)
    result = run_inv(*args)
    assert result.code == code, result
    data = json.loads(result.stdout)  # the whole of stdout is one JSON value
    assert isinstance(data, dict)
    assert data["environment"] == args[1]
    assert data["ok"] is ok
    assert set(data["stages"]) == {"files", "refs", "compatibility"}
    if not ok:
        assert sorted(data["violations"]) == [SDK_VIOLATION, SERVICES_VIOLATION]
