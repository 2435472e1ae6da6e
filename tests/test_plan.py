"""Plan reasons from plain values (core.plan): records and missing outputs passed in."""

from __future__ import annotations

from ottodeploy.core.keys import TaskSpec, plan_tasks
from ottodeploy.core.plan import plan
from ottodeploy.core.record import Record
from tests.test_keys import cascade, sources


def specs(**changes: str) -> dict[str, TaskSpec]:
    return plan_tasks(cascade(), sources(**changes))


def records_of(built: dict[str, TaskSpec], **extra: object) -> dict[str, Record]:
    return {t: Record(task=t, key=s.key, inputs=s.inputs, image_ref=s.image_ref,
                      digest=f"sha256:{'d' * 64}",
                      extra={"in": "registry" if s.image_ref else "store"},
                      **extra) for t, s in built.items()}  # type: ignore[arg-type]


def reasons(result: object) -> dict[str, list[str]]:
    return {t.task: t.reasons for t in result.tasks if t.run}  # type: ignore[attr-defined]


def test_never_built_runs_everything() -> None:
    assert reasons(plan("scratch", specs(), {}, {})) == {
        t: ["never built in scratch"] for t in specs()}


def test_same_keys_and_outputs_run_nothing() -> None:
    current = specs()
    result = plan("scratch", current, records_of(current), {})
    assert result.to_run == []


def test_a_new_upstream_sha_names_the_cause_all_the_way_down() -> None:
    old = specs()
    new = specs(up="9" * 40)
    got = reasons(plan("scratch", new, records_of(old), {}))
    assert got["up_build"] == [f"new SHA for up: {'1' * 7} -> {'9' * 7}"]
    assert got["mid_build"] == ["build_with changed", "upstream up_build rebuilt"]
    assert got["leaf_image"] == ["upstream mid_build rebuilt"]
    assert "side_build" not in got


def test_a_new_version_and_a_missing_output() -> None:
    old = specs()
    got = reasons(plan("scratch", specs(side="version:2.0.0"), records_of(old),
                       {"up_build": ["stored artifact sha256:dd"]}))
    assert got["side_build"] == ["new version for side: 1.0.0 -> 2.0.0"]
    assert got["up_build"] == ["output missing: stored artifact sha256:dd"]
    # an upstream rerun with the same key does not make anything below it rerun
    assert "mid_build" not in got


def test_a_pushed_image_under_another_readable_tag_is_retagged() -> None:
    old = specs()
    new = specs(leaf="ref:release")   # same SHA, new branch name: same key, new tag
    got = reasons(plan("scratch", new, records_of(old), {}))
    assert got == {"leaf_image": [f"retag image as {new['leaf_image'].image_ref}"]}
    # an image kept in the store has no tag to move: nothing to do
    stored = {t: r._replace(extra={"in": "store"}) for t, r in records_of(old).items()}
    assert reasons(plan("scratch", new, stored, {})) == {}
