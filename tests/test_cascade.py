"""The cascade build (SPEC §4) on real git repos whose recipes record what they were given.

Every repo of ``tests/ecosystem.py`` carries ``build.py``: it appends one JSON line per
successful run to ``OTTO_TEST_LOG`` (task, cwd, HEAD, ``OTTO_*``, what its checkout held
before it ran, start/end times), so ``eco.built()`` is the exact list of recipes that ran.

The expected rebuild sets are computed here from the known shape of the cascade
(``TASK_DEPS``), never by asking the code under test.

Most builds run doit in this process (``open_environment`` + ``engine.run``, or ``inv build``);
the doit command line itself (exit codes, ``-f`` from another directory, kill -9) runs as
a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ottodeploy import engine
from ottodeploy.cli.console import ConsoleReporter
from ottodeploy.environment import open_environment
from ottodeploy.root import DeployRoot
from ottodeploy.state import Records
from ottodeploy.store import Store
from tests.cascade_model import (
    ALL_TASKS,
    BRANCH,
    closure_of,
    downstream,
    upstream,
)
from tests.conftest import PROJECT, run_inv
from tests.ecosystem import NAMES, Ecosystem
from tests.gitrepos import git


def test_expected_closures_match_spec_examples() -> None:
    """The test's own model of the cascade agrees with SPEC §4's worked examples."""
    assert closure_of(["metakit"]) == {"metakit_publish", "ottochain_assembly", "ottochain_image",
                                       "sdk_build", "services_image", "explorer_image"}
    assert closure_of(["explorer"]) == {"explorer_image"}
    assert closure_of(["tessellation"]) == ALL_TASKS - {"monitoring_config"}


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    built: list[str]
    records: list[dict[str, Any]]

    def record(self, task: str) -> dict[str, Any]:
        (rec,) = [r for r in self.records if r["task"] == task]
        return rec


def build(eco: Ecosystem, env: str = "scratch", tasks: Iterable[str] = (), jobs: int = 1) -> Run:
    """Build ``env`` in this process (doit underneath); which recipes ran, in order."""
    eco.clear_log()
    opened = open_environment(DeployRoot.locate(eco.root), env)
    code = engine.run(opened, list(tasks), ConsoleReporter(), jobs).code
    return Run(code, eco.built(), eco.records())


def assert_order(records: list[dict[str, Any]]) -> None:
    """Every recipe started after every upstream recipe of the same run had finished."""
    by_task = {r["task"]: r for r in records}
    position = {r["task"]: i for i, r in enumerate(records)}
    for task, rec in by_task.items():
        for dep in upstream(task):
            if dep in by_task:
                assert position[dep] < position[task], f"{dep} logged after {task}"
                assert by_task[dep]["end"] <= rec["start"], f"{task} started before {dep} ended"


def assert_once(built: list[str]) -> None:
    twice = sorted({t for t in built if built.count(t) > 1})
    assert not twice, f"tasks ran twice: {twice}"


def change(eco: Ecosystem, name: str, tag: str = "1") -> str:
    """One commit on the branch the scratch environment follows for ``name``; its SHA."""
    return eco.repos[name].commit(f"fix: change {name} {tag}", {f"changes/{tag}.txt": tag},
                                  branch=BRANCH[name])


def state_dir(eco: Ecosystem, env: str = "scratch") -> Path:
    return eco.root.resolve() / ".ottodeploy" / env


def edit_env(eco: Ecosystem, env: str, old: str, new: str) -> None:
    path = eco.root / "manifests" / "environments" / f"{env}.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def edit_components(eco: Ecosystem, old: str, new: str) -> None:
    path = eco.root / "manifests" / "components.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def doit_cli(eco: Ecosystem, *args: str, cwd: Path | None = None,
             extra_env: dict[str, str] | None = None, timeout: float = 120) \
        -> subprocess.CompletedProcess[str]:
    """The real doit command line on the project's dodo.py, started from another folder."""
    where = cwd or eco.base
    return subprocess.run(
        [sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), *args],
        cwd=where, env={**os.environ, **(extra_env or {})}, capture_output=True, text=True,
        timeout=timeout, check=False)


def plan_json(eco: Ecosystem, env: str = "scratch") -> dict[str, Any]:
    result = run_inv("plan", env, "--json")
    assert result.code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def planned_runs(eco: Ecosystem, env: str = "scratch") -> set[str]:
    return {t["task"] for t in plan_json(eco, env)["tasks"] if t["run"]}


# --- order and the first build ---------------------------------------------------------------


def test_first_build_runs_every_task_once_in_cascade_order(eco: Ecosystem) -> None:
    run = build(eco)
    assert run.code == 0
    assert_once(run.built)
    assert set(run.built) == ALL_TASKS
    assert_order(run.records)
    again = build(eco)
    assert again.code == 0
    assert again.built == []


def test_a_target_builds_only_what_it_needs(eco: Ecosystem) -> None:
    run = build(eco, tasks=["ottochain_image"])
    assert run.code == 0
    assert set(run.built) == {"ottochain_image"} | upstream("ottochain_image")
    assert_order(run.records)

    # after a metakit commit, building sdk rebuilds the metakit -> sdk path only ...
    build(eco)
    change(eco, "metakit")
    run = build(eco, tasks=["sdk_build"])
    assert set(run.built) == {"metakit_publish", "ottochain_assembly", "sdk_build"}
    # ... and the rest of the closure follows in the full build, nothing twice
    rest = build(eco)
    assert set(rest.built) == closure_of(["metakit"]) - set(run.built)
    assert_once(run.built + rest.built)


# --- exactness -------------------------------------------------------------------------------


def rebuild_problems(run: Run, names: Iterable[str], shas: dict[str, str]) -> list[str]:
    """What is wrong with ``run``, the build after commits to ``names`` (empty: nothing)."""
    problems = []
    expected = closure_of(names)
    if run.code != 0:
        problems.append(f"doit exit status {run.code}")
    twice = sorted({t for t in run.built if run.built.count(t) > 1})
    if twice:
        problems.append(f"ran twice: {twice}")
    if set(run.built) != expected:
        problems.append(f"extra: {sorted(set(run.built) - expected)}, "
                        f"missing: {sorted(expected - set(run.built))}")
    try:
        assert_order(run.records)
    except AssertionError as exc:
        problems.append(f"order: {exc}")
    problems += [f"{r['task']} built at {r['head'][:7]}, not {shas[c][:7]}" for r in run.records
                 if (c := r["env"]["OTTO_COMPONENT"]) in shas and r["head"] != shas[c]]
    return problems


def assert_each_change_rebuilds_its_closure(eco: Ecosystem,
                                            change_sets: list[tuple[str, ...]]) -> None:
    """From an up-to-date cascade, one change set after another: each rebuilds its closure.

    Every step starts from a fully built state (the previous step's build), so a task
    left out of one step would show up as an extra in the next; all problems are
    collected so one run reports every change set that went wrong.
    """
    first = build(eco)
    assert first.code == 0
    assert set(first.built) == ALL_TASKS
    wrong: dict[str, list[str]] = {}
    for i, names in enumerate(change_sets):
        shas = {name: change(eco, name, f"step-{i}") for name in names}
        problems = rebuild_problems(build(eco), names, shas)
        if problems:
            wrong["+".join(names)] = problems
    assert wrong == {}
    assert build(eco).built == []


def test_one_commit_to_any_repo_rebuilds_exactly_its_downstream_closure(
        eco: Ecosystem) -> None:
    assert_each_change_rebuilds_its_closure(eco, [(name,) for name in NAMES])


def test_commits_to_several_repos_rebuild_the_union_of_their_closures(eco: Ecosystem) -> None:
    assert_each_change_rebuilds_its_closure(eco, [
        ("metakit", "explorer"),
        ("sdk", "monitoring"),
        ("tessellation", "services"),
        NAMES,
    ])


def test_ref_renamed_onto_the_same_sha_rebuilds_nothing(eco: Ecosystem) -> None:
    assert build(eco).code == 0
    keys = {t: Records(state_dir(eco)).get(t).key for t in ALL_TASKS}  # type: ignore[union-attr]
    otto, tess = eco.repos["ottochain"], eco.repos["tessellation"]
    otto.branch("feature/fast-sync", otto.rev("develop"))
    tess.branch("release/4.x", tess.rev("main"))
    edit_env(eco, "scratch", "ottochain:\n    type: core\n    ref: develop",
             "ottochain:\n    type: core\n    ref: feature/fast-sync")
    # metakit and ottochain are built with "${tessellation.ref}": a new name, the same SHA
    edit_env(eco, "scratch", "tessellation: {type: upstream, ref: main}",
             "tessellation: {type: upstream, ref: release/4.x}")
    assert planned_runs(eco) == set()
    run = build(eco)
    assert run.code == 0
    assert run.built == []
    assert {t: Records(state_dir(eco)).get(t).key for t in ALL_TASKS} == keys  # type: ignore[union-attr]

    # the new names are what a later build is given
    change(eco, "metakit")
    run = build(eco)
    assert set(run.built) == closure_of(["metakit"])
    assert run.record("metakit_publish")["env"]["OTTO_BUILD_WITH_TESSELLATION"] == "release/4.x"
    assert run.record("ottochain_assembly")["env"]["OTTO_REF"] == "feature/fast-sync"
    assert run.record("ottochain_image")["env"]["OTTO_IMAGE"].endswith(
        f":feature-fast-sync-{otto.rev('develop')[:7]}")


def test_new_tag_that_changes_a_branch_version_rebuilds_that_component_and_below(
        eco: Ecosystem) -> None:
    """SPEC §3/§4: the key holds the component's version, and a new tag can change it alone."""
    assert build(eco).code == 0
    otto = eco.repos["ottochain"]
    tip = otto.rev("develop")
    otto.tag("v0.7.0", target=tip)  # develop's tip was 0.6.2-dev.3
    reasons = {t["task"]: t["reasons"] for t in plan_json(eco)["tasks"] if t["run"]}
    assert set(reasons) == closure_of(["ottochain"])
    assert any("new version for ottochain" in r and "0.7.0" in r
               for r in reasons["ottochain_assembly"]), reasons["ottochain_assembly"]
    run = build(eco)
    assert run.code == 0
    assert set(run.built) == closure_of(["ottochain"])
    assert_once(run.built)
    assert run.record("ottochain_assembly")["env"]["OTTO_VERSION"] == "0.7.0"
    assert run.record("ottochain_assembly")["head"] == tip
    assert run.record("sdk_build")["env"]["OTTO_DEP_OTTOCHAIN_VERSION"] == "0.7.0"
    assert build(eco).built == []


def test_new_tag_that_does_not_change_a_version_rebuilds_nothing(eco: Ecosystem) -> None:
    assert build(eco).code == 0
    eco.repos["ottochain"].tag("build-42", target=eco.repos["ottochain"].rev("develop"))
    # tessellation's main already carries v4.0.0: a release wins over its prereleases
    eco.repos["tessellation"].tag("v4.0.0-rc.11", target=eco.repos["tessellation"].rev("main"))
    assert planned_runs(eco) == set()
    assert build(eco).built == []


# --- variables, checkouts, outputs -----------------------------------------------------------


def test_recipes_get_the_otto_variables(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTTO_PASSTHROUGH_CHECK", "kept")  # the rest of the environment passes
    run = build(eco)
    assert run.code == 0
    state = state_dir(eco)
    sha = {n: eco.repos[n].rev(BRANCH[n]) for n in NAMES}
    outs = {t: run.record(t)["env"]["OTTO_OUT"] for t in ALL_TASKS}
    records = Records(state)

    for task in ALL_TASKS:
        rec = run.record(task)
        env = rec["env"]
        component, artifact = task.split("_", 1)
        assert env["OTTO_ENV"] == "scratch"
        assert env["OTTO_COMPONENT"] == component
        assert env["OTTO_ARTIFACT"] == artifact
        assert env["OTTO_REPO"] == eco.urls[component]
        assert env["OTTO_REF"] == BRANCH[component]
        assert env["OTTO_SHA"] == sha[component]
        assert env["OTTO_SHORT_SHA"] == sha[component][:7]
        assert re.fullmatch(r"[0-9a-f]{64}", env["OTTO_KEY"])
        assert env["OTTO_KEY"] == records.get(task).key  # type: ignore[union-attr]
        assert Path(env["OTTO_OUT"]).resolve().is_relative_to(state)
        assert env["OTTO_PASSTHROUGH_CHECK"] == "kept"
        # a checkout of exactly that commit, under the environment's state, clean
        assert rec["head"] == env["OTTO_SHA"]
        assert Path(rec["cwd"]).resolve().is_relative_to(state)
        assert Path(rec["cwd"]).resolve() != Path.cwd().resolve()
        assert rec["status"] == []
        if task.endswith("_image"):
            assert env["OTTO_IMAGE"].endswith(f":develop-{sha[component][:7]}")
        else:
            assert "OTTO_IMAGE" not in env
    assert len({outs[t] for t in ALL_TASKS}) == len(ALL_TASKS)  # one OTTO_OUT per artifact
    assert len({run.record(t)["env"]["OTTO_KEY"] for t in ALL_TASKS}) == len(ALL_TASKS)

    versions = {r["task"]: r["env"]["OTTO_VERSION"] for r in run.records}
    assert versions["tessellation_publish"] == "4.0.0"   # v4.0.0 over v4.0.0-rc.10
    assert versions["metakit_publish"] == "0.2.0"
    assert versions["ottochain_assembly"] == versions["ottochain_image"] == "0.6.2-dev.3"
    assert versions["sdk_build"] == "0.3.0"

    otto = run.record("ottochain_assembly")["env"]
    assert otto["OTTO_BUILD_WITH_TESSELLATION"] == "main"   # the interpolated text
    assert otto["OTTO_BUILD_WITH_METAKIT"] == "main"
    assert otto["OTTO_DEP_TESSELLATION_SHA"] == sha["tessellation"]
    assert otto["OTTO_DEP_TESSELLATION_VERSION"] == "4.0.0"
    # upstream outputs: the read-only folders unpacked from their stored digests, never the
    # OTTO_OUT the upstream recipe wrote into (that was fresh, and is gone)
    store = Store.of_root(eco.root)

    def unpacked(task: str) -> str:
        digest = records.get(task).digest  # type: ignore[union-attr]
        assert digest is not None
        return str(store.unpack(digest))

    for dep in ("tessellation_publish", "metakit_publish"):
        folder = otto[f"OTTO_DEP_{dep.split('_')[0].upper()}_OUT_PUBLISH"]
        digest = records.get(dep).digest  # type: ignore[union-attr]
        assert digest is not None and folder == str(store.unpack(digest))
        assert folder != outs[dep] and not Path(outs[dep]).exists()
        assert (Path(folder) / "out" / "publish.txt").is_file()
        assert not os.access(folder, os.W_OK) or os.geteuid() == 0
        assert Path(folder).stat().st_mode & 0o222 == 0   # read-only, even for root's eyes
    assert otto["OTTO_DEP_METAKIT_SHA"] == sha["metakit"]
    assert otto["OTTO_DEP_METAKIT_VERSION"] == "0.2.0"

    image = run.record("ottochain_image")["env"]
    assert image["OTTO_IMAGE"] == \
        f"{eco.registry}/scasplte2/ottochain-metagraph:develop-{sha['ottochain'][:7]}"
    assert image["OTTO_BUILD_WITH_TESSELLATION"] == "main"

    metakit = run.record("metakit_publish")["env"]
    assert metakit["OTTO_BUILD_WITH_TESSELLATION"] == "main"
    assert metakit["OTTO_DEP_TESSELLATION_OUT_PUBLISH"] == unpacked("tessellation_publish")
    assert not any(k.startswith("OTTO_DEP_METAKIT") for k in metakit)

    sdk = run.record("sdk_build")["env"]
    assert sdk["OTTO_DEP_OTTOCHAIN_SHA"] == sha["ottochain"]
    assert sdk["OTTO_DEP_OTTOCHAIN_VERSION"] == "0.6.2-dev.3"
    assert sdk["OTTO_DEP_OTTOCHAIN_OUT_ASSEMBLY"] == unpacked("ottochain_assembly")
    assert "OTTO_DEP_OTTOCHAIN_OUT_IMAGE" not in sdk       # it depends on ottochain.assembly only
    assert not any(k.startswith("OTTO_BUILD_WITH_") for k in sdk)

    services = run.record("services_image")["env"]
    assert services["OTTO_DEP_SDK_SHA"] == sha["sdk"]
    assert services["OTTO_DEP_SDK_OUT_BUILD"] == unpacked("sdk_build")
    assert services["OTTO_IMAGE"] == \
        f"{eco.registry}/ottobot-ai/ottochain-services:develop-{sha['services'][:7]}"
    explorer = run.record("explorer_image")["env"]
    assert explorer["OTTO_DEP_SERVICES_SHA"] == sha["services"]

    monitoring = run.record("monitoring_config")["env"]
    assert not any(k.startswith(("OTTO_DEP_", "OTTO_BUILD_WITH_")) for k in monitoring)


def test_variable_names_are_upper_cased_with_dashes_as_underscores(eco: Ecosystem) -> None:
    edit_components(eco, 'config: {run: "python3 build.py config", outputs: ["out/config.txt"]}',
                    'grafana-config: {run: "python3 build.py grafana-config", '
                    'outputs: ["out/grafana-config.txt"]}')
    edit_components(eco, "depends_on: [services]", "depends_on: [services, monitoring]")
    run = build(eco)
    assert run.code == 0, run
    assert "monitoring_grafana-config" in run.built
    explorer = run.record("explorer_image")["env"]
    grafana = run.record("monitoring_grafana-config")["env"]
    grafana_digest = Records(state_dir(eco)).get("monitoring_grafana-config").digest  # type: ignore[union-attr]
    assert grafana_digest is not None and grafana["OTTO_OUT"] != \
        explorer["OTTO_DEP_MONITORING_OUT_GRAFANA_CONFIG"]
    assert explorer["OTTO_DEP_MONITORING_OUT_GRAFANA_CONFIG"] == \
        str(Store.of_root(eco.root).unpack(grafana_digest))
    assert grafana["OTTO_ARTIFACT"] == "grafana-config"


def test_recipes_run_in_a_clean_checkout_at_the_new_sha(eco: Ecosystem) -> None:
    # monitoring's recipe leaves a stray file (and build.py leaves out/) in its checkout
    edit_components(eco, '"python3 build.py config"',
                    '"python3 build.py config && echo left > stray.txt && mkdir -p tmp '
                    '&& echo x > tmp/cache.bin"')
    first = build(eco)
    assert first.code == 0
    checkout = Path(first.record("monitoring_config")["cwd"])
    assert (checkout / "stray.txt").exists()
    new = change(eco, "monitoring")
    # a file of the previous commit that the new one deletes must go too
    repo = eco.repos["ottochain"]
    repo.checkout("develop")
    (repo.work / "README.md").unlink()
    otto = repo.commit("chore: drop README")
    run = build(eco)
    assert run.code == 0
    mon = run.record("monitoring_config")
    assert mon["head"] == new == mon["env"]["OTTO_SHA"]
    assert mon["status"] == [], "the checkout was not clean before the recipe ran"
    assert mon["dirty"] == []
    assembly = run.record("ottochain_assembly")
    assert assembly["head"] == otto
    assert assembly["status"] == []
    assert not (Path(assembly["cwd"]) / "README.md").exists()


def test_outputs_are_stored_by_digest_and_a_lost_one_reruns_only_its_task(
        eco: Ecosystem) -> None:
    run = build(eco)
    assert run.code == 0
    sha = eco.repos["ottochain"].rev("develop")
    records, store = Records(state_dir(eco)), Store.of_root(eco.root)
    digest = {t: records.get(t).digest for t in ALL_TASKS}  # type: ignore[union-attr]
    stored = {t: Path(store.unpack(d)) for t, d in digest.items() if d}
    jars = list(stored["ottochain_assembly"].rglob("*.jar"))
    assert [j.name for j in jars] == [f"ottochain_assembly-{sha[:7]}.jar"]
    assert jars[0].read_text() == f"jar {sha}"
    published = list(stored["tessellation_publish"].rglob("publish.txt"))
    assert len(published) == 1
    assert json.loads(published[0].read_text())["task"] == "tessellation_publish"
    # undeclared files stay behind: only declared outputs (and what a recipe writes into its
    # OTTO_OUT) are stored; an image without a registry is stored as its filesystem
    assert not list(stored["tessellation_publish"].rglob("*.jar"))
    assert [p.name for p in stored["services_image"].rglob("*") if p.is_file()] == ["built.txt"]
    # every OTTO_OUT was fresh and is gone
    assert all(not Path(run.record(t)["env"]["OTTO_OUT"]).exists() for t in ALL_TASKS)

    # the stored artifact is lost (its manifest blob removed): that task reruns, alone
    blob = store.path / "blobs" / "sha256" / digest["ottochain_assembly"].removeprefix("sha256:")  # type: ignore[union-attr]
    blob.unlink()
    assert planned_runs(eco) == {"ottochain_assembly"}
    rerun = build(eco)
    assert rerun.built == ["ottochain_assembly"]  # its key did not change: nothing below runs
    assert records.get("ottochain_assembly").digest == digest["ottochain_assembly"]  # type: ignore[union-attr]
    assert blob.exists()                          # the same bytes again
    assert build(eco).built == []


def test_a_declared_output_the_recipe_does_not_make_fails_the_task(
        eco: Ecosystem, capsys: pytest.CaptureFixture[str]) -> None:
    edit_components(eco, 'outputs: ["out/config.txt"]',
                    'outputs: ["out/config.txt", "dist/*.tar.gz"]')
    run = build(eco, tasks=["monitoring_config"])
    assert run.code != 0
    err = capsys.readouterr().err
    assert "monitoring_config" in err
    assert "dist/*.tar.gz" in err
    assert "Traceback" not in err
    assert Records(state_dir(eco)).get("monitoring_config") is None
    edit_components(eco, 'outputs: ["out/config.txt", "dist/*.tar.gz"]',
                    'outputs: ["out/config.txt"]')
    assert build(eco, tasks=["monitoring_config"]).built == ["monitoring_config"]


# --- environments ----------------------------------------------------------------------------


def test_environments_keep_separate_state_and_share_what_is_built(eco: Ecosystem) -> None:
    assert set(build(eco, "scratch").built) == ALL_TASKS
    beta = build(eco, "beta")
    assert beta.code == 0
    assert beta.built == []      # same sources, same keys: built once, for both (SPEC §4)
    scratch_records = Records(state_dir(eco, "scratch")).all()
    beta_records = Records(state_dir(eco, "beta")).all()
    assert set(beta_records) == ALL_TASKS
    assert {t: r.how for t, r in beta_records.items()} == dict.fromkeys(ALL_TASKS, "reused")
    assert {t: r.digest for t, r in beta_records.items()} == \
        {t: r.digest for t, r in scratch_records.items()}
    assert build(eco, "scratch").built == []     # building beta did not invalidate scratch
    assert build(eco, "beta").built == []

    change(eco, "explorer")
    beta = build(eco, "beta")
    assert beta.built == ["explorer_image"]
    for rec in beta.records:
        assert rec["env"]["OTTO_ENV"] == "beta"
        assert Path(rec["cwd"]).resolve().is_relative_to(state_dir(eco, "beta"))
        assert Path(rec["env"]["OTTO_OUT"]).resolve().is_relative_to(state_dir(eco, "beta"))
    assert build(eco, "scratch").built == []     # beta built the same key: scratch reuses it
    assert Records(state_dir(eco, "scratch")).get("explorer_image").how == "reused"  # type: ignore[union-attr]
    assert not state_dir(eco, "staging").exists()


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["ottochain_assembly", "services_image"])
def test_a_failure_stops_downstream_and_the_fix_rebuilds_only_the_rest(
        eco: Ecosystem, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    artifact = failing.split("_", 1)[1]
    monkeypatch.setenv("OTTO_TEST_FAIL", failing)
    eco.clear_log()
    result = run_inv("build", "scratch")
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines()
             if failing in ln and f"python3 build.py {artifact}" in ln]
    assert lines, result.stderr
    assert any(re.search(r"\b3\b", ln) for ln in lines), lines   # the recipe's exit code
    first = eco.built()
    assert failing not in first
    assert not downstream([failing]) & set(first), "something downstream of the failure ran"
    assert upstream(failing) <= set(first)
    recorded = set(Records(state_dir(eco)).all())
    assert recorded == set(first)

    monkeypatch.delenv("OTTO_TEST_FAIL")
    rerun = build(eco)
    assert rerun.code == 0
    assert_once(rerun.built)
    assert set(rerun.built) == ALL_TASKS - set(first)
    assert downstream([failing]) <= set(rerun.built)
    if "monitoring_config" in first:  # the one independent task ran before the failure
        assert set(rerun.built) == downstream([failing])
    assert build(eco).built == []


def test_kill_9_mid_cascade_keeps_what_finished(eco: Ecosystem, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    started = tmp_path / "started.txt"
    # each recipe sleeps long enough that the one killed mid-recipe is still running, in a
    # session of its own, when the next build takes the lock and stops it
    env = {**os.environ, "OTTO_TEST_SLEEP": "1.5", "OTTO_TEST_STARTED": str(started)}

    def begun() -> list[str]:
        return started.read_text().split() if started.exists() else []

    def worktree_being_added() -> bool:
        # git marks a worktree "locked" while `git worktree add` makes it; a kill right then
        # is test_a_checkout_half_made_by_a_killed_run_is_recovered's case, not this one's
        mirrors = eco.root / ".ottodeploy" / "cache" / "mirrors"
        return any(mirrors.glob("*/worktrees/*/locked"))

    with (tmp_path / "doit.out").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), "env=scratch"],
            cwd=elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        # kill once two recipes have finished and a third is sleeping in its recipe
        while (len(eco.built()) < 2 or len(begun()) <= len(eco.built())
               or worktree_being_added()):
            assert proc.poll() is None, (tmp_path / "doit.out").read_text()
            assert time.monotonic() < deadline, "the cascade did not get going"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    finished = eco.built()
    killed = begun()[-1]
    assert killed not in finished
    assert 2 <= len(finished) < len(ALL_TASKS)
    assert list(elsewhere.iterdir()) == []  # state is under the deploy root, not the cwd
    assert set(Records(state_dir(eco)).all()) == set(finished)

    running = state_dir(eco) / "running"
    assert [p.name for p in running.iterdir()] == [killed]   # its recipe outlived the build

    rerun = build(eco)
    assert rerun.code == 0
    assert not any(running.iterdir())
    assert_once(rerun.built)            # the leftover was stopped before it could finish
    assert set(rerun.built) == ALL_TASKS - set(finished)
    assert killed in rerun.built
    assert_order(rerun.records)
    assert set(Records(state_dir(eco)).all()) == ALL_TASKS
    assert build(eco).built == []


def test_a_checkout_half_made_by_a_killed_run_is_recovered(eco: Ecosystem) -> None:
    """The state ``kill -9`` during ``git worktree add`` leaves: registered, locked, no tree."""
    run = build(eco)
    assert run.code == 0
    checkout = Path(run.record("metakit_publish")["cwd"])
    git(checkout, "worktree", "lock", "--reason", "initializing", str(checkout))
    shutil.rmtree(checkout)
    change(eco, "metakit")
    again = build(eco)
    assert again.code == 0
    assert set(again.built) == closure_of(["metakit"])


# --- plan ------------------------------------------------------------------------------------


def test_plan_json_says_what_would_run_and_why(eco: Ecosystem) -> None:
    fresh = plan_json(eco)
    assert fresh["environment"] == "scratch"
    assert {t["task"] for t in fresh["tasks"]} == ALL_TASKS
    for t in fresh["tasks"]:
        assert t["run"] is True
        assert t["reasons"] and all(isinstance(r, str) for r in t["reasons"])
    assert build(eco).code == 0
    assert all(t["run"] is False for t in plan_json(eco)["tasks"])

    old = eco.repos["metakit"].rev("main")
    new = change(eco, "metakit")
    tasks = {t["task"]: t for t in plan_json(eco)["tasks"]}
    running = {name for name, t in tasks.items() if t["run"]}
    assert running == closure_of(["metakit"])
    assert any(r.startswith("new SHA for metakit") and old[:7] in r and new[:7] in r
               for r in tasks["metakit_publish"]["reasons"]), tasks["metakit_publish"]
    for name in ("ottochain_assembly", "ottochain_image"):
        assert "upstream metakit_publish rebuilt" in tasks[name]["reasons"], tasks[name]
        assert not any(r.startswith("new SHA") for r in tasks[name]["reasons"])
    for name in ("sdk_build", "services_image", "explorer_image"):
        assert any(r.startswith("upstream ") and r.split()[1] in running
                   for r in tasks[name]["reasons"]), tasks[name]
    for name in ALL_TASKS - running:
        assert tasks[name]["reasons"] == []

    text = run_inv("plan", "scratch")
    assert text.code == 0
    assert f"{len(running)} of {len(ALL_TASKS)} tasks would run" in text.stdout

    eco.clear_log()
    built = run_inv("build", "scratch")
    assert built.code == 0, built.output
    assert set(eco.built()) == running
    assert all(t["run"] is False for t in plan_json(eco)["tasks"])


# --- parallel --------------------------------------------------------------------------------


def test_independent_tasks_build_in_parallel(eco: Ecosystem,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTTO_TEST_SLEEP", "0.5")
    eco.clear_log()
    result = run_inv("build", "scratch", "--jobs", "4")
    assert result.code == 0, result.output
    records = eco.records()
    assert_once([r["task"] for r in records])
    assert {r["task"] for r in records} == ALL_TASKS
    assert_order(records)
    span = {r["task"]: (r["start"], r["end"]) for r in records}
    (a0, a1), (b0, b1) = span["ottochain_image"], span["sdk_build"]
    assert a0 < b1 and b0 < a1, "ottochain_image and sdk_build did not overlap"


# --- the doit door ---------------------------------------------------------------------------


def test_doit_cli_lists_and_builds_from_another_directory(eco: Ecosystem, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = doit_cli(eco, "list", "env=scratch", cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert names == ALL_TASKS
    default = doit_cli(eco, "list", cwd=elsewhere)      # env defaults to scratch
    assert default.returncode == 0, default.stderr
    assert {ln.split()[0] for ln in default.stdout.splitlines() if ln.strip()} == ALL_TASKS

    eco.clear_log()
    built = doit_cli(eco, "ottochain_image", "env=scratch", cwd=elsewhere)
    assert built.returncode == 0, built.stdout + built.stderr
    assert set(eco.built()) == {"ottochain_image"} | upstream("ottochain_image")
    assert list(elsewhere.iterdir()) == []
    assert set(Records(state_dir(eco)).all()) == {"ottochain_image"} | upstream("ottochain_image")
    assert (state_dir(eco) / "doit.json").exists()
    # what doit recorded, inv sees: the rest only
    eco.clear_log()
    assert run_inv("build", "scratch").code == 0
    assert set(eco.built()) == ALL_TASKS - {"ottochain_image"} - upstream("ottochain_image")


def test_doit_cli_unknown_environment_is_bad_input(eco: Ecosystem) -> None:
    done = doit_cli(eco, "list", "env=nope")
    assert done.returncode == 2
    assert "nope" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    bad = doit_cli(eco, "env=Not_A_Name")
    assert bad.returncode == 2
    assert "Not_A_Name" in bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr


def test_doit_cli_unknown_task_keeps_doits_code(eco: Ecosystem) -> None:
    done = doit_cli(eco, "no_such_task", "env=scratch")
    assert done.returncode == 3
    assert "no_such_task" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert eco.built() == []


@pytest.mark.parametrize(("file", "old", "new", "named"), [
    ("manifests/environments/scratch.yaml", "auto_deploy: true",
     "auto_deploy: true\nautodeploy: false", "autodeploy"),
    ("manifests/components.yaml", "depends_on: [services]", "depends_on: [servicez]",
     "servicez"),
], ids=["env-unknown-key", "components-unknown-dependency"])
def test_doit_cli_bad_manifest_at_load_time_exits_2(eco: Ecosystem, file: str, old: str,
                                                    new: str, named: str) -> None:
    path = eco.root / file
    path.write_text(path.read_text().replace(old, new))
    done = doit_cli(eco, "env=scratch")
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr
    assert Path(file).name in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert eco.built() == []


def test_doit_cli_failed_task_exits_non_zero_and_names_it(eco: Ecosystem) -> None:
    done = doit_cli(eco, "env=scratch", extra_env={"OTTO_TEST_FAIL": "explorer_image"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "explorer_image" in done.stderr
    assert "python3 build.py image" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert set(eco.built()) == ALL_TASKS - {"explorer_image"}
    assert set(Records(state_dir(eco)).all()) == ALL_TASKS - {"explorer_image"}


def test_inv_build_unknown_task_is_bad_input(eco: Ecosystem) -> None:
    result = run_inv("build", "scratch", "--task", "no_such_task")
    assert result.code == 2
    assert "no_such_task" in result.stderr
    assert "Traceback" not in result.output
    assert eco.built() == []
