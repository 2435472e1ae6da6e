"""The speed suite's figures run in a small, quick form: what they count must hold.

Times are never asserted (they depend on the machine); the counts a figure stands on
are: no recipe runs on a no-op, a replay, a promotion or a rollback; no deploy step runs
on a no-op redeploy; every rebuild set is exact; the generated ecosystem builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks import cascade, deploys, scale
from benchmarks.kit import Figure, Workspace, table

from tests.gitrepos import GitRepo


@pytest.fixture
def ws(ecosystem_template: tuple[Path, dict[str, GitRepo]]) -> Iterator[Workspace]:
    workspace = Workspace(ecosystem_template)
    try:
        yield workspace
    finally:
        workspace.close()


def test_p1_a_noop_build_runs_no_recipe(ws: Workspace) -> None:
    figure = cascade.p1_noop(ws, runs=1)
    assert figure.counts == {"tasks": 8, "builds": 0}


def test_p2_every_rebuild_set_is_the_downstream_closure(ws: Workspace) -> None:
    figure = cascade.p2_exactness(ws, random_sets=2)
    assert figure.counts == {"sets": 9, "exact": 9}
    assert figure.met


def test_p3_the_one_second_recipes_build_every_task(ws: Workspace) -> None:
    assert cascade.p3_parallel(ws).counts == {"builds": 8}


def test_p4_the_generated_ecosystem_builds_and_is_read_again(ws: Workspace) -> None:
    figure = scale.p4_scale(ws, runs=1, sizes=(12, 25))
    assert figure.counts == {"components": 25}
    assert figure.ratio is not None and figure.ratio > 0


def test_p5_a_replay_of_stored_artifacts_builds_nothing(ws: Workspace) -> None:
    figure = deploys.p5_replay(ws)
    assert figure.counts == {"builds": 0, "steps": 1}   # services went back
    assert figure.met


def test_p7_a_noop_redeploy_runs_no_deploy_step(ws: Workspace) -> None:
    figure = deploys.p7_noop_deploy(ws, runs=1)
    assert figure.counts == {"builds": 0, "steps": 0}


def test_p8_promotions_and_a_rollback_build_nothing(ws: Workspace) -> None:
    figure = deploys.p8_promote_rollback(ws, runs=1, step_seconds=0)
    assert figure.counts == {"builds": 0, "steps": 5}   # ottochain on 3 nodes, services, explorer


def test_the_table_has_a_row_per_figure() -> None:
    rows = [Figure("P1", "a", "1s", "1s", 1.0, "<= 1x", True),
            Figure("P5", "b", "0 builds", "-", None, "0 builds", False)]
    lines = table(rows).splitlines()
    assert [ln.split()[0] for ln in lines] == ["figure", "------", "P1", "P5"]
    assert lines[2].endswith("yes") and lines[3].endswith("NO")
