"""``inv ci-matrix``: the affected tasks of a CI run, in waves that respect the cascade.

The expected sets and wave orders are worked out here from the cascade's known shape
(``tests.cascade_model.TASK_DEPS``, the table test_cascade.py uses too), never by asking
the code under test. Records come from real builds (``inv build``); lockfiles are written with the
library's own writer holding the keys the cascade has now.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ottodeploy.core.errors import EXIT_BAD_INPUT
from ottodeploy.environment import open_environment
from ottodeploy.flows.cimatrix import fan_out
from ottodeploy.lockfile import new_lockfile, write_new
from ottodeploy.root import DeployRoot
from tests.cascade_model import BRANCH, TASK_DEPS, upstream
from tests.conftest import run_inv
from tests.ecosystem import NAMES, Ecosystem

GOLDEN = Path(__file__).parent / "golden"


def downstream_of(component: str) -> set[str]:
    mine = {t for t in TASK_DEPS if t.startswith(f"{component}_")}
    return mine | {t for t in TASK_DEPS if upstream(t) & mine}


def matrix(*args: str) -> dict[str, Any]:
    result = run_inv("ci-matrix", *args)
    assert result.code == 0, result
    data: dict[str, Any] = json.loads(result.stdout)  # stdout is one JSON document
    return data


def waves(data: dict[str, Any]) -> list[list[str]]:
    return [[t["task"] for t in wave] for wave in data["waves"]]


def assert_waves_respect_the_cascade(data: dict[str, Any]) -> None:
    """Every task's running upstream tasks are in earlier waves; no wave is empty."""
    wave_of = {t: n for n, wave in enumerate(waves(data)) for t in wave}
    assert all(waves(data))
    for task, n in wave_of.items():
        for dep in upstream(task) & set(wave_of):
            assert wave_of[dep] < n, f"{dep} (wave {wave_of[dep]}) before {task} (wave {n})"
        # and a task sits as early as it can: right after its deepest running upstream
        assert n == 1 + max((wave_of[d] for d in upstream(task) & set(wave_of)), default=-1)


def commit(eco: Ecosystem, component: str, text: str = "change") -> str:
    return eco.repos[component].commit(f"feat: {text}", {f"{text}.txt": text},
                                       branch=BRANCH[component])


def build(env: str = "scratch") -> None:
    result = run_inv("build", env)
    assert result.code == 0, result


def write_lockfile(eco: Ecosystem, env: str = "scratch", drop: tuple[str, ...] = ()) -> str:
    """A healthy lockfile holding every current build key (but ``drop``'s); its file name."""
    root = DeployRoot(eco.root)
    cascade = open_environment(root, env)
    assert cascade.resolution is not None
    lock = new_lockfile(
        environment=env, status="healthy", mode=cascade.static.mode,
        sources={n: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version}
                 for n, s in cascade.resolution.sources.items()},
        build_keys={t: s.key for t, s in cascade.specs.items() if t not in drop})
    return write_new(root, lock).name


# --- without --since: this machine's records -------------------------------------------------


def test_first_run_lists_every_task_in_golden_waves(eco: Ecosystem) -> None:
    data = matrix("scratch")
    assert_waves_respect_the_cascade(data)
    assert waves(data) == [
        ["tessellation_publish", "monitoring_config"],
        ["metakit_publish"],
        ["ottochain_assembly"],
        ["ottochain_image", "sdk_build"],
        ["services_image"],
        ["explorer_image"],
    ]
    specs = open_environment(DeployRoot(eco.root), "scratch").specs
    for entry in (t for w in data["waves"] for t in w):
        assert (entry["key"], entry["sha"]) == (specs[entry["task"]].key,
                                                specs[entry["task"]].sha)
    for task in specs.values():   # the resolution every later job of a workflow pins
        assert data["sources"][task.component]["sha"] == task.sha
    text = json.dumps(data)
    for name in NAMES:
        text = text.replace(eco.repos[name].url, f"<{name}>")
    normalised = json.loads(re.sub(r"\b[0-9a-f]{40,64}\b", "<hex>", text))
    assert normalised == json.loads((GOLDEN / "ci_matrix_scratch.json").read_text())


def test_after_one_explorer_commit_only_explorer_image(eco: Ecosystem) -> None:
    build()
    assert matrix("scratch")["waves"] == []
    sha = commit(eco, "explorer")
    data = matrix("scratch")
    assert waves(data) == [["explorer_image"]]
    [[entry]] = data["waves"]
    assert (entry["component"], entry["artifact"], entry["sha"]) == ("explorer", "image", sha)
    assert "new SHA for explorer" in entry["reason"]
    assert "explorer_image" not in data["skipped"]
    assert len(data["skipped"]) == len(TASK_DEPS) - 1


def test_after_a_metakit_commit_metakit_to_explorer_in_five_waves(eco: Ecosystem) -> None:
    build()
    commit(eco, "metakit")
    data = matrix("scratch")
    assert_waves_respect_the_cascade(data)
    assert {t for w in waves(data) for t in w} == downstream_of("metakit")
    assert waves(data) == [
        ["metakit_publish"],
        ["ottochain_assembly"],
        ["ottochain_image", "sdk_build"],
        ["services_image"],
        ["explorer_image"],
    ]


# --- with --since: a lockfile's build keys ---------------------------------------------------


def test_since_a_lockfile_with_the_current_keys_lists_nothing(eco: Ecosystem) -> None:
    name = write_lockfile(eco)
    data = matrix("scratch", "--since", name)
    assert (data["since"], data["waves"]) == (name, [])
    # nothing was built on this machine: the lockfile alone decides
    assert not (eco.root / ".ottodeploy" / "scratch" / "records").exists()


def test_since_a_lockfile_then_an_sdk_commit_lists_sdk_and_below(eco: Ecosystem) -> None:
    name = write_lockfile(eco)
    commit(eco, "sdk")
    data = matrix("scratch", "--since", str(eco.root / "lockfiles" / name))  # a path works too
    assert waves(data) == [["sdk_build"], ["services_image"], ["explorer_image"]]
    assert all(t["reason"] == f"build key differs from {name}" for w in data["waves"] for t in w)


def test_key_comparison_alone_finds_the_whole_downstream_closure(eco: Ecosystem) -> None:
    # Tasks below a change are listed although nothing but their upstream changed:
    # a build key holds the keys of everything upstream, so theirs differ too.
    for component in ("ottochain", "metakit", "tessellation"):
        name = write_lockfile(eco)
        commit(eco, component, f"change-{component}")
        data = matrix("scratch", "--since", name)
        assert {t for w in waves(data) for t in w} == downstream_of(component), component
        assert_waves_respect_the_cascade(data)


def test_a_task_the_lockfile_has_no_key_for_runs(eco: Ecosystem) -> None:
    name = write_lockfile(eco, drop=("services_image",))
    data = matrix("scratch", "--since", name)
    assert waves(data) == [["services_image"]]
    assert data["waves"][0][0]["reason"] == f"no build key in {name}"


def test_since_a_missing_lockfile_is_bad_input(eco: Ecosystem) -> None:
    result = run_inv("ci-matrix", "scratch", "--since", "scratch-2026-01-01-0000.yaml")
    assert result.code == EXIT_BAD_INPUT, result
    assert "no lockfile 'scratch-2026-01-01-0000.yaml'" in result.stderr
    assert result.stdout == ""


def test_unknown_environment_is_bad_input(eco: Ecosystem) -> None:
    result = run_inv("ci-matrix", "nowhere")
    assert result.code == EXIT_BAD_INPUT, result
    assert result.stdout == ""


# --- what the registry already holds needs no job ----------------------------------------------


def test_tasks_the_registry_holds_by_key_need_no_job(
        eco: Ecosystem, registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """scratch built and pushed everything; beta (no lockfile, nothing built on this
    runner) has the same sources, so the same keys: nothing to build. After one services
    commit, services and explorer alone."""
    monkeypatch.setenv("OTTODEPLOY_STORE_REGISTRY", f"{registry}/store")
    monkeypatch.setenv("OTTO_TEST_PUSH", "1")        # images go to their own repositories
    eco.write("manifests/components.yaml", eco.components_text(registry=registry, cache=True))
    assert run_inv("build", "scratch").code == 0
    shutil.rmtree(eco.root / ".ottodeploy")          # another runner: nothing local
    data = matrix("beta")
    assert data["waves"] == []
    assert set(data["stored"]) == set(TASK_DEPS)
    keys = open_environment(DeployRoot(eco.root), "beta").specs
    assert data["stored"]["sdk_build"] == f"{registry}/store/sdk:bk-{keys['sdk_build'].key[:16]}"
    assert data["stored"]["services_image"] == \
        f"{registry}/ottobot-ai/ottochain-services:bk-{keys['services_image'].key[:16]}"
    commit(eco, "services")
    data = matrix("beta")
    assert waves(data) == [["services_image"], ["explorer_image"]]
    assert set(data["stored"]) == set(TASK_DEPS) - {"services_image", "explorer_image"}
    # a registry that cannot be reached holds nothing: every task runs
    monkeypatch.setenv("OTTODEPLOY_STORE_REGISTRY", "127.0.0.1:9/store")
    eco.write("manifests/components.yaml", eco.components_text(registry="127.0.0.1:9",
                                                               cache=True))
    assert {t for w in waves(matrix("beta")) for t in w} == set(TASK_DEPS)


@pytest.mark.parametrize(("waves", "mode", "jobs", "chosen"), [
    ([["a", "b"], ["c"]], "auto", 2, False),      # one runner builds a and b at once
    ([["a", "b", "c"], ["d"]], "auto", 2, True),  # a third task would wait for a runner
    ([["a", "b"], ["c"]], "auto", 1, True),
    ([["a"], ["b"], ["c"]], "auto", 1, False),    # a chain: more runners save nothing
    ([["a"], ["b"]], "always", 4, True),
    ([["a", "b", "c"]], "never", 1, False),
    ([], "always", 2, False),                     # nothing to build: nothing to fan out
])
def test_fan_out_only_when_a_wave_is_wider_than_one_runner(
        waves: list[list[str]], mode: str, jobs: int, chosen: bool) -> None:
    decided = fan_out(waves, mode, jobs)
    assert decided.chosen is chosen
    assert decided.widest == max((len(w) for w in waves), default=0)
    assert decided.why


def test_ci_matrix_decides_the_fan_out_and_refuses_bad_options(eco: Ecosystem) -> None:
    default = json.loads(run_inv("ci-matrix", "scratch").stdout)["fan_out"]
    assert (default["chosen"], default["widest_wave"], default["runner_jobs"]) == (False, 2, 2)
    one = json.loads(run_inv("ci-matrix", "scratch", "--runner-jobs", "1").stdout)["fan_out"]
    assert one["chosen"] is True
    assert "wider than one runner builds at once (1)" in one["why"]
    for args, message in ((("--fan-out", "sometimes"), "--fan-out must be one of"),
                          (("--runner-jobs", "0"), "--runner-jobs must be 1 or more")):
        bad = run_inv("ci-matrix", "scratch", *args)
        assert bad.code == 2, bad.output
        assert message in bad.output and "Traceback" not in bad.output


def test_since_current_compares_with_the_current_lockfile(eco: Ecosystem) -> None:
    first = json.loads(run_inv("ci-matrix", "scratch", "--since", "current").stdout)
    assert first["since"] is None and len(first["waves"]) == 6   # no lockfile yet
    assert run_inv("deploy", "scratch").code == 0
    after = json.loads(run_inv("ci-matrix", "scratch", "--since", "current").stdout)
    [lockfile] = sorted(p.name for p in (eco.root / "lockfiles").glob("scratch-*.yaml"))
    assert after["since"] == lockfile
    assert after["waves"] == []
    assert after["fan_out"]["why"] == "nothing to build"


def test_deploy_here_deploys_at_the_planned_shas_unless_the_waves_fan_out(
        eco: Ecosystem, tmp_path: Path) -> None:
    """One process plans and, when fanning out cannot pay, deploys what it planned."""
    out = tmp_path / "matrix.json"
    assert run_inv("ci-matrix", "scratch", "--deploy-here").code == 2      # needs --out
    spread = run_inv("ci-matrix", "scratch", "--runner-jobs", "1", "--out", str(out),
                     "--deploy-here")
    assert spread.code == 0, spread.output
    assert json.loads(out.read_text())["fan_out"]["chosen"] is True
    assert not list((eco.root / "lockfiles").glob("scratch-*.yaml"))  # the waves will build
    assert spread.stdout == ""

    here = run_inv("ci-matrix", "scratch", "--out", str(out), "--deploy-here")
    assert here.code == 0, here.output
    planned = json.loads(out.read_text())
    assert planned["fan_out"]["chosen"] is False
    assert "cascade: 8 built" in here.stdout                      # the deploy's progress
    [lockfile] = (eco.root / "lockfiles").glob("scratch-*.yaml")
    locked = yaml.safe_load(lockfile.read_text())
    assert locked["status"] == "healthy"
    assert {n: s["sha"] for n, s in locked["sources"].items()} == \
        {n: s["sha"] for n, s in planned["sources"].items()}
    assert "OTTODEPLOY_PINNED_SHAS" not in os.environ   # given back
