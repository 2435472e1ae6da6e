"""Recipe and deploy-step variables from plain values (core.variables)."""

from __future__ import annotations

from pathlib import Path

from ottodeploy.core.keys import plan_tasks
from ottodeploy.core.variables import deploy_variables, var_name, variables
from tests.test_keys import SHA, cascade, sources


def specs() -> dict:  # type: ignore[type-arg]
    return plan_tasks(cascade(), sources(), Path("/state/scratch"))


def test_names_are_upper_case_with_underscores() -> None:
    assert var_name("ottochain-sdk.v2") == "OTTOCHAIN_SDK_V2"
    assert var_name("a/b c") == "A_B_C"


def test_a_recipe_gets_its_own_values_and_every_upstream_task() -> None:
    all_specs = specs()
    env = variables("scratch", all_specs["leaf_image"], all_specs)
    assert env["OTTO_ENV"] == "scratch"
    assert env["OTTO_COMPONENT"] == "leaf" and env["OTTO_ARTIFACT"] == "image"
    assert env["OTTO_SHA"] == SHA["leaf"] and env["OTTO_SHORT_SHA"] == SHA["leaf"][:7]
    assert env["OTTO_KEY"] == all_specs["leaf_image"].key
    assert env["OTTO_IMAGE"] == f"reg.example/leaf:main-{SHA['leaf'][:7]}"
    # mid directly, up through mid: both, with their outputs; side is not upstream
    assert env["OTTO_DEP_MID_SHA"] == SHA["mid"]
    assert env["OTTO_DEP_UP_SHA"] == SHA["up"]
    assert env["OTTO_DEP_UP_OUT_BUILD"] == "/state/scratch/out/up/build"
    assert not [k for k in env if k.startswith("OTTO_DEP_SIDE")]


def test_build_with_values_are_given_as_written() -> None:
    all_specs = specs()
    env = variables("scratch", all_specs["mid_build"], all_specs)
    assert env["OTTO_BUILD_WITH_UP"] == "main"       # the ref, interpolated as written
    assert "OTTO_IMAGE" not in env


def test_a_deploy_step_gets_the_exact_image_and_what_it_depends_on() -> None:
    all_specs = specs()
    exact = f"reg.example/leaf@sha256:{'e' * 64}"
    env = deploy_variables("beta", "leaf", sources()["leaf"], all_specs, {"leaf_image": exact})
    assert env["OTTO_IMAGE"] == exact and env["OTTO_IMAGE_IMAGE"] == exact
    assert env["OTTO_OUT_IMAGE"] == "/state/scratch/out/leaf/image"
    assert env["OTTO_DEP_MID_SHA"] == SHA["mid"]
    assert not [k for k in env if k.startswith("OTTO_DEP_") and "_OUT_" in k]


def test_without_a_known_digest_the_readable_reference_is_given() -> None:
    all_specs = specs()
    env = deploy_variables("beta", "leaf", sources()["leaf"], all_specs, {})
    assert env["OTTO_IMAGE"] == all_specs["leaf_image"].image_ref
