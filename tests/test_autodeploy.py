"""``inv auto-deploy`` (SPEC §6b): branch environments follow their branches.

The test ecosystem's scratch and beta are branch environments on the ``local`` target
whose components' deploy steps run ``deploy/record.py`` (tests/deploykit.py): every step
that ran is a line in ``deployed/log.jsonl``, every recipe that ran a line in the
ecosystem's recipe log, so "nothing was deployed" and "deployed once per SHA" are read
from what really ran. scratch follows ottochain's ``develop``, beta its ``main``; both
follow ``develop`` of services. Commits are real commits pushed to the component repos.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from ottodeploy.locks import hold
from ottodeploy.manifests import load_environment_file
from ottodeploy.root import DeployRoot
from tests.conftest import PROJECT, Result, run_inv
from tests.deploykit import (
    deployed,
    inv_process,
    lockfiles,
    read_lock,
    set_deploys,
    set_env,
    wait_for,
)
from tests.ecosystem import Ecosystem

OTTOCHAIN_FOLLOWED = "  ottochain:\n    type: core\n    ref: develop\n"


@pytest.fixture
def site(eco: Ecosystem) -> Ecosystem:
    """scratch on ottochain develop, beta on ottochain main; both deploy locally."""
    set_deploys(eco)
    for env in ("scratch", "beta"):
        set_env(eco, env)
    beta = eco.root / "manifests" / "environments" / "beta.yaml"
    text = beta.read_text()
    assert OTTOCHAIN_FOLLOWED in text
    beta.write_text(text.replace(OTTOCHAIN_FOLLOWED, OTTOCHAIN_FOLLOWED.replace("develop",
                                                                               "main")))
    return eco


def auto(*args: str) -> tuple[Result, dict[str, Any]]:
    """``inv auto-deploy --json ARGS``: the result and the environments of its document."""
    result = run_inv("auto-deploy", "--json", *args)
    assert "Traceback" not in result.output, result.output
    try:
        data = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON document:\n{result.output}")
    return result, data["environments"]


def actions(envs: dict[str, Any]) -> dict[str, str]:
    return {name: o["action"] for name, o in envs.items()}


def lock_of(eco: Ecosystem, outcome: dict[str, Any]) -> dict[str, Any]:
    return read_lock(eco.root / "lockfiles" / outcome["lockfile"])


def env_locks(eco: Ecosystem, env: str) -> list[dict[str, Any]]:
    locks = [read_lock(p) for p in lockfiles(eco)]
    return sorted((lk for lk in locks if lk["environment"] == env), key=lambda lk: lk["timestamp"])


def deployed_shas(eco: Ecosystem, component: str = "ottochain") -> list[str]:
    """The SHA each deploy step of ``component`` was given, in order (one per node)."""
    return [s["env"]["OTTO_SHA"] for s in deployed(eco) if s["component"] == component]


def commit(eco: Ecosystem, component: str, branch: str = "develop") -> str:
    repo = eco.repos[component]
    sha = repo.commit(f"feat: {component} moves", {"moved.txt": repo.head()}, branch=branch)
    repo.checkout("main")
    return sha


def deployed_once(site: Ecosystem) -> dict[str, Any]:
    """The first run: scratch and beta were never deployed, so both deploy."""
    result, envs = auto()
    assert result.code == 0, result.output
    assert actions(envs) == {"beta": "deploy", "prod": "skipped", "scratch": "deploy",
                             "staging": "skipped"}
    return envs


# --- what moves, deploys ---------------------------------------------------------------------


def test_nothing_moved_nothing_runs(site: Ecosystem) -> None:
    first = deployed_once(site)
    assert first["scratch"]["reason"] == "never deployed (no healthy lockfile)"
    assert first["scratch"]["status"] == "healthy"
    assert "auto_deploy is false" in first["prod"]["reason"]
    steps, locks = len(deployed(site)), lockfiles(site)
    site.clear_log()

    result, envs = auto()
    assert result.code == 0, result.output
    assert actions(envs) == {"beta": "up-to-date", "prod": "skipped", "scratch": "up-to-date",
                             "staging": "skipped"}
    assert envs["scratch"]["lockfile"] == first["scratch"]["lockfile"]
    assert envs["beta"]["reason"] == f"at the SHAs and deploy definition of " \
                                     f"{first['beta']['lockfile']}"
    assert site.built() == []                       # no recipe ran
    assert len(deployed(site)) == steps             # no deploy step ran
    assert lockfiles(site) == locks                 # no lockfile written
    assert "== deploy" not in result.output and "== build" not in result.output


def test_a_commit_deploys_exactly_the_environments_following_its_branch(site: Ecosystem) -> None:
    deployed_once(site)
    beta_before = env_locks(site, "beta")
    sha = commit(site, "ottochain")

    result, envs = auto()
    assert result.code == 0, result.output
    assert actions(envs)["scratch"] == "deploy" and actions(envs)["beta"] == "up-to-date"
    assert envs["scratch"]["status"] == "healthy"
    assert envs["scratch"]["reason"].startswith("ottochain develop ")
    assert envs["scratch"]["reason"].endswith(f" -> {sha[:7]}")
    lock = lock_of(site, envs["scratch"])
    assert lock["status"] == "healthy"
    assert lock["sources"]["ottochain"]["sha"] == sha
    assert lock["definition_digest"].startswith("sha256:")
    assert deployed_shas(site)[-3:] == [sha] * 3    # on each node
    assert env_locks(site, "beta") == beta_before

    # a branch both follow: both deploy
    services = commit(site, "services")
    result, envs = auto()
    assert result.code == 0, result.output
    assert actions(envs)["scratch"] == actions(envs)["beta"] == "deploy"
    for env in ("scratch", "beta"):
        assert lock_of(site, envs[env])["sources"]["services"]["sha"] == services


def test_component_and_ref_only_look_at_the_environments_following_them(
        site: Ecosystem) -> None:
    deployed_once(site)
    sha = commit(site, "ottochain")
    commit(site, "services")                        # moved too, but was not announced

    result, envs = auto("--component", "ottochain", "--ref", "refs/heads/main")
    assert result.code == 0, result.output
    assert actions(envs) == {"beta": "deploy", "prod": "skipped", "scratch": "skipped",
                             "staging": "skipped"}
    assert envs["scratch"]["reason"] == "does not follow ottochain at main"

    result, envs = auto("--component", "ottochain", "--ref", "develop")
    assert result.code == 0, result.output
    assert actions(envs)["scratch"] == "deploy"
    assert actions(envs)["beta"] == "skipped"
    assert lock_of(site, envs["scratch"])["sources"]["ottochain"]["sha"] == sha


def test_a_changed_manifest_deploys_its_environment_only(site: Ecosystem) -> None:
    deployed_once(site)
    scratch = site.root / "manifests" / "environments" / "scratch.yaml"
    scratch.write_text(scratch.read_text().replace("mode: branch\n",
                                                   "mode: branch\ndescription: feature x\n"))
    result, envs = auto()
    assert result.code == 0, result.output
    assert actions(envs)["scratch"] == "deploy" and actions(envs)["beta"] == "up-to-date"
    assert envs["scratch"]["reason"] == "deploy definition changed"

    # a deploy script is part of every environment's definition
    record = site.root / "deploy" / "record.py"
    record.write_text(record.read_text() + "# changed\n")
    result, envs = auto()
    assert actions(envs)["scratch"] == actions(envs)["beta"] == "deploy"


def test_a_lockfile_without_a_definition_fingerprint_is_compared_by_its_manifest_digest(
        site: Ecosystem) -> None:
    first = deployed_once(site)
    for name in (first["scratch"]["lockfile"], first["beta"]["lockfile"]):
        path = site.root / "lockfiles" / name
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                                if not line.startswith("definition_digest:")))
    record = site.root / "deploy" / "record.py"
    record.write_text(record.read_text() + "# not in the manifest digest\n")
    result, envs = auto()
    assert actions(envs)["scratch"] == actions(envs)["beta"] == "up-to-date", result.output
    beta = site.root / "manifests" / "environments" / "beta.yaml"
    beta.write_text(beta.read_text() + "# in it\n")
    result, envs = auto()
    assert actions(envs)["scratch"] == "up-to-date" and actions(envs)["beta"] == "deploy"


def test_an_environment_with_auto_deploy_off_deploys_only_when_named(site: Ecosystem) -> None:
    beta = site.root / "manifests" / "environments" / "beta.yaml"
    beta.write_text(beta.read_text().replace("auto_deploy: true", "auto_deploy: false"))
    result, envs = auto()
    assert actions(envs)["beta"] == "skipped" and actions(envs)["scratch"] == "deploy"
    assert env_locks(site, "beta") == []

    result, envs = auto("--env", "beta", "--dry-run")
    assert result.code == 0, result.output
    assert envs == {"beta": {"action": "deploy", "reason": "never deployed (no healthy lockfile)",
                             "lockfile": None, "status": "dry-run"}}
    assert env_locks(site, "beta") == []

    result, envs = auto("--env", "beta")
    assert result.code == 0, result.output
    assert list(envs) == ["beta"] and envs["beta"]["status"] == "healthy"


def test_dry_run_deploys_nothing(site: Ecosystem) -> None:
    deployed_once(site)
    commit(site, "ottochain")
    site.clear_log()
    steps, locks = len(deployed(site)), lockfiles(site)
    result, envs = auto("--dry-run")
    assert result.code == 0, result.output
    assert envs["scratch"]["action"] == "deploy" and envs["scratch"]["status"] == "dry-run"
    assert (site.built(), len(deployed(site)), lockfiles(site)) == ([], steps, locks)
    # the text form says the same
    text = run_inv("auto-deploy", "--dry-run")
    assert text.code == 0, text.output
    assert "scratch  would deploy" in text.stdout


# --- busy, bursts, failures ------------------------------------------------------------------


def test_a_held_lock_is_busy_and_exit_0(site: Ecosystem) -> None:
    deployed_once(site)
    commit(site, "ottochain")
    with hold(site.root / ".ottodeploy" / "scratch" / "deploy.lock", "deploy scratch", "test"):
        result, envs = auto()
    assert result.code == 0, result.output
    assert envs["scratch"]["action"] == "busy"
    assert "another deploy of this environment is running" in envs["scratch"]["reason"]
    assert envs["beta"]["action"] == "up-to-date"
    # the next run deploys what the busy one could not
    result, envs = auto()
    assert envs["scratch"]["action"] == "deploy" and envs["scratch"]["status"] == "healthy"


def test_a_burst_of_commits_deploys_each_sha_at_most_once_and_ends_at_the_newest(
        site: Ecosystem, tmp_path: Path) -> None:
    deployed_once(site)
    first = commit(site, "ottochain")
    hold_file = site.root / "deployed" / "hold-services"
    hold_file.write_text("")
    log = (tmp_path / "holder.log").open("w")
    holder = inv_process("auto-deploy", stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for((site.root / "deployed" / "holding-services").exists, what="the first deploy")
        second = commit(site, "ottochain")
        third = commit(site, "ottochain")
        result, envs = auto()                        # while the first still deploys
        assert result.code == 0, result.output
        assert envs["scratch"]["action"] == "busy"
    finally:
        hold_file.unlink()
        code = holder.wait(timeout=120)
        log.close()
    assert code == 0, (tmp_path / "holder.log").read_text()

    for _ in range(2):                               # the backstop runs, then runs again
        result, envs = auto()
        assert result.code == 0, result.output
    assert envs["scratch"]["action"] == "up-to-date"
    locks = env_locks(site, "scratch")
    shas = [lk["sources"]["ottochain"]["sha"] for lk in locks]
    assert shas[-1] == third
    assert second not in shas                        # coalesced into the newest
    assert len(shas) == len(set(shas)) == 3          # first deploy, `first`, `third`
    assert shas[1] == first
    assert all(n == 3 for n in Counter(deployed_shas(site)).values())   # 3 nodes, one deploy


def test_a_failed_deploy_exits_1_and_is_not_retried_until_something_moves(
        site: Ecosystem) -> None:
    deployed_once(site)
    commit(site, "ottochain")
    (site.root / "deployed" / "fail-ottochain").write_text("")
    result, envs = auto()
    assert result.code == EXIT_FAILED, result.output
    assert envs["scratch"]["action"] == "deploy" and envs["scratch"]["status"] == "failed"
    assert lock_of(site, envs["scratch"])["status"] == "failed"
    assert envs["scratch"]["exit_code"] == EXIT_FAILED
    assert "deploy of scratch failed" in result.stderr
    assert envs["beta"]["action"] == "up-to-date"   # the others were still looked at

    steps = len(deployed(site))
    result, envs = auto()
    assert result.code == 0, result.output
    assert envs["scratch"]["action"] == "skipped"
    assert "the last deploy of exactly this state failed" in envs["scratch"]["reason"]
    assert len(deployed(site)) == steps

    (site.root / "deployed" / "fail-ottochain").unlink()
    sha = commit(site, "ottochain")
    result, envs = auto()
    assert result.code == 0, result.output
    assert lock_of(site, envs["scratch"])["sources"]["ottochain"]["sha"] == sha


def test_a_broken_environment_is_reported_and_the_others_still_follow(site: Ecosystem) -> None:
    deployed_once(site)
    sha = commit(site, "ottochain")
    beta = site.root / "manifests" / "environments" / "beta.yaml"
    beta.write_text(beta.read_text().replace("mode: branch", "mode: branchy"))
    result, envs = auto()
    assert result.code == EXIT_BAD_INPUT, result.output
    assert envs["beta"]["action"] == "skipped" and envs["beta"]["exit_code"] == EXIT_BAD_INPUT
    assert "manifests/environments/beta.yaml" in envs["beta"]["reason"]
    assert lock_of(site, envs["scratch"])["sources"]["ottochain"]["sha"] == sha


@pytest.mark.parametrize(("args", "why"), [
    (["--component", "ottochain"], "--component and --ref go together"),
    (["--ref", "develop"], "--component and --ref go together"),
    (["--component", "nope", "--ref", "develop"], "'nope' is not a component"),
    (["--component", "ottochain", "--ref", "$(id)"], "--ref '$(id)'"),
    (["--env", "nope"], "unknown environment 'nope'"),
])
def test_bad_arguments_are_bad_input_and_deploy_nothing(site: Ecosystem, args: list[str],
                                                        why: str) -> None:
    result = run_inv("auto-deploy", *args)
    assert result.code == EXIT_BAD_INPUT, result.output
    assert why in result.stderr
    assert "Traceback" not in result.output
    assert lockfiles(site) == [] and deployed(site) == []


def test_an_alias_names_its_component(site: Ecosystem) -> None:
    components = site.root / "manifests" / "components.yaml"
    components.write_text(components.read_text().replace(
        "  ottochain:\n    repo:", "  ottochain:\n    aliases: [metagraph]\n    repo:", 1))
    result, envs = auto("--component", "metagraph", "--ref", "develop")
    assert result.code == 0, result.output
    assert actions(envs)["scratch"] == "deploy" and actions(envs)["beta"] == "skipped"


def test_the_shipped_manifests_auto_deploy_scratch_and_beta_only() -> None:
    """DESIGN.md §3's table: scratch on push, beta on push to develop, the others promoted."""
    root = DeployRoot(PROJECT)
    found = {name: load_environment_file(root, name)[0] for name in root.environments()}
    assert {n: (e.auto_deploy, e.approval_required) for n, e in found.items()} == {
        "beta": (True, False), "prod": (False, True), "scratch": (True, False),
        "staging": (False, False)}
