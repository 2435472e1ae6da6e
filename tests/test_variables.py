"""Recipe and deploy-step variables from plain values (core.variables)."""

from __future__ import annotations

from ottodeploy.core.keys import TaskSpec, plan_tasks
from ottodeploy.core.variables import deploy_variables, upstream, var_name, variables
from tests.test_keys import SHA, cascade, sources

OUT = "/state/scratch/tmp/out-leaf_image-x1"
STORED = {"up_build": "/store/unpacked/aaa", "mid_build": "/store/unpacked/bbb"}


def specs() -> dict[str, TaskSpec]:
    return plan_tasks(cascade(), sources())


def test_names_are_upper_case_with_underscores() -> None:
    assert var_name("ottochain-sdk.v2") == "OTTOCHAIN_SDK_V2"
    assert var_name("a/b c") == "A_B_C"


def test_upstream_is_every_task_below_once() -> None:
    all_specs = specs()
    assert {s.task for s in upstream(all_specs["leaf_image"], all_specs)} == \
        {"mid_build", "up_build"}
    assert upstream(all_specs["side_build"], all_specs) == []


def test_a_recipe_gets_its_own_values_and_every_upstream_task() -> None:
    all_specs = specs()
    env = variables("scratch", all_specs["leaf_image"], all_specs, OUT, STORED)
    assert env["OTTO_ENV"] == "scratch"
    assert env["OTTO_COMPONENT"] == "leaf" and env["OTTO_ARTIFACT"] == "image"
    assert env["OTTO_SHA"] == SHA["leaf"] and env["OTTO_SHORT_SHA"] == SHA["leaf"][:7]
    assert env["OTTO_KEY"] == all_specs["leaf_image"].key
    assert env["OTTO_OUT"] == OUT                       # this run's fresh folder
    assert env["OTTO_IMAGE"] == f"reg.example/leaf:main-{SHA['leaf'][:7]}"
    # mid directly, up through mid: both, with their stored outputs; side is not upstream
    assert env["OTTO_DEP_MID_SHA"] == SHA["mid"]
    assert env["OTTO_DEP_UP_SHA"] == SHA["up"]
    assert env["OTTO_DEP_UP_OUT_BUILD"] == "/store/unpacked/aaa"
    assert env["OTTO_DEP_MID_OUT_BUILD"] == "/store/unpacked/bbb"
    assert not [k for k in env if k.startswith("OTTO_DEP_SIDE")]


def test_an_upstream_task_without_stored_outputs_gives_no_out_variable() -> None:
    all_specs = specs()
    env = variables("scratch", all_specs["leaf_image"], all_specs, OUT, {"mid_build": "/x"})
    assert env["OTTO_DEP_MID_OUT_BUILD"] == "/x"
    assert "OTTO_DEP_UP_OUT_BUILD" not in env and env["OTTO_DEP_UP_SHA"] == SHA["up"]


def test_build_with_values_are_given_as_written() -> None:
    all_specs = specs()
    env = variables("scratch", all_specs["mid_build"], all_specs, OUT, STORED)
    assert env["OTTO_BUILD_WITH_UP"] == "main"       # the ref, interpolated as written
    assert "OTTO_IMAGE" not in env


def test_a_deploy_step_gets_images_by_digest_and_stored_folders_only() -> None:
    all_specs = specs()
    exact = f"reg.example/leaf@sha256:{'e' * 64}"
    tag = all_specs["leaf_image"].image_ref or ""
    outputs = {"leaf_image": "/store/unpacked/ccc", **STORED}
    env = deploy_variables("beta", "leaf", sources()["leaf"], all_specs,
                           {"leaf_image": (exact, tag)}, outputs)
    assert env["OTTO_IMAGE"] == exact and env["OTTO_IMAGE_IMAGE"] == exact
    assert env["OTTO_IMAGE_TAG"] == tag == env["OTTO_IMAGE_TAG_IMAGE"]
    assert env["OTTO_OUT_IMAGE"] == "/store/unpacked/ccc"
    assert env["OTTO_DEP_MID_OUT_BUILD"] == "/store/unpacked/bbb"
    assert env["OTTO_DEP_UP_OUT_BUILD"] == "/store/unpacked/aaa"
    # nothing of upstream but its outputs: an upstream commit that leaves them as they
    # were changes nothing a deploy step is given
    assert not [k for k in env if k.startswith("OTTO_DEP_") and "_OUT_" not in k]


def test_a_deploy_step_without_a_digest_gets_no_image() -> None:
    env = deploy_variables("beta", "leaf", sources()["leaf"], specs(), {}, {})
    assert "OTTO_IMAGE" not in env and "OTTO_OUT_IMAGE" not in env
