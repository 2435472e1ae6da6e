"""Build keys from plain values (core.keys): what changes a key, and what must not."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ottodeploy.core.keys import StaticCascade, StaticTask, TaskSpec, canonical_key, plan_tasks
from ottodeploy.core.sources import ResolvedSource, SourceRequest

SHA = {"up": "1" * 40, "mid": "2" * 40, "leaf": "3" * 40, "side": "4" * 40}


def task(component: str, artifact: str = "build", deps: tuple[str, ...] = (),
         build_with: Mapping[str, str] | None = None, image: str | None = None,
         run: str = "make") -> StaticTask:
    return StaticTask(f"{component}_{artifact}", component, artifact, deps, run, (), ("out/*",),
                      image, True, dict(build_with or {}))


def cascade(mode: str = "branch", **overrides: StaticTask) -> StaticCascade:
    tasks = {
        "up_build": task("up"),
        "mid_build": task("mid", deps=("up_build",), build_with={"up": "${up.ref}"}),
        "leaf_image": task("leaf", "image", deps=("mid_build",), image="reg.example/leaf"),
        "side_build": task("side"),
    }
    tasks.update(overrides)
    sources = tuple(SourceRequest(n, f"o/{n}", f"https://x/{n}.git", "ref", "main") for n in SHA)
    return StaticCascade("scratch", mode, "digest", sources, tuple(tasks.values()),  # type: ignore[arg-type]
                         tuple(SHA), dict.fromkeys(SHA, ()))


def sources(**changes: str) -> dict[str, ResolvedSource]:
    out = {}
    for name, tip in SHA.items():
        ref, version, sha = "main", "1.0.0", tip
        value = changes.get(name)
        if value is not None and value.startswith("ref:"):
            ref = value[4:]
        elif value is not None and value.startswith("version:"):
            version = value[8:]
        elif value is not None:
            sha = value
        out[name] = ResolvedSource(name, f"o/{name}", f"https://x/{name}.git", "ref", ref, sha,
                                   version, "")
    return out


def keys(static: StaticCascade | None = None, changes: Mapping[str, str] | None = None) \
        -> dict[str, str]:
    specs = plan_tasks(static or cascade(), sources(**(changes or {})))
    return {name: spec.key for name, spec in specs.items()}


BASE = keys()


def changed(other: dict[str, str]) -> set[str]:
    return {t for t in BASE if BASE[t] != other[t]}


# each case: one change to the inputs, and exactly the tasks whose keys must change
@pytest.mark.parametrize(("change", "expected"), [
    ({"up": "9" * 40}, {"up_build", "mid_build", "leaf_image"}),   # a commit upstream cascades
    ({"leaf": "9" * 40}, {"leaf_image"}),                           # a leaf commit stays a leaf
    ({"side": "9" * 40}, {"side_build"}),                           # an unrelated component
    ({"mid": "version:1.1.0"}, {"mid_build", "leaf_image"}),        # a new version tag
    ({"up": "ref:feature/x"}, set()),                              # a ref renamed onto the SHA
])
def test_what_a_change_rebuilds(change: dict[str, str], expected: set[str]) -> None:
    assert changed(keys(changes=change)) == expected


def test_build_with_counts_the_sha_not_the_ref_name() -> None:
    # mid builds with ${up.ref}: the key holds up's SHA, so renaming up's branch changes nothing
    specs = plan_tasks(cascade(), sources(up="ref:other"))
    assert specs["mid_build"].inputs["build_with"] == {"up": SHA["up"]}
    assert specs["mid_build"].build_with == {"up": "other"}   # the recipe still sees the name


def test_a_recipe_change_rekeys_the_task_and_everything_below() -> None:
    other = keys(cascade(mid_build=task("mid", deps=("up_build",), build_with={"up": "${up.ref}"},
                                        run="make release")))
    assert changed(other) == {"mid_build", "leaf_image"}


def test_released_sources_have_other_keys_than_built_ones() -> None:
    assert changed(keys(cascade(mode="version"))) == set(BASE)


def test_keys_do_not_depend_on_the_environment() -> None:
    static = cascade()
    beta = static._replace(environment="beta", digest="another manifest digest")
    a = plan_tasks(static, sources())
    b = plan_tasks(beta, sources())
    assert {t: s.key for t, s in a.items()} == {t: s.key for t, s in b.items()}


def test_the_key_is_the_hash_of_its_canonical_inputs() -> None:
    spec: TaskSpec = plan_tasks(cascade(), sources())["leaf_image"]
    assert spec.key == canonical_key(spec.inputs)
    assert spec.inputs["deps"] == {"mid_build": BASE["mid_build"]}
    assert canonical_key({"b": 1, "a": [1, 2]}) == canonical_key({"a": [1, 2], "b": 1})
    assert canonical_key({"a": [1, 2]}) != canonical_key({"a": [2, 1]})


def test_image_tags_follow_the_pin() -> None:
    specs = plan_tasks(cascade(), sources(leaf="ref:feat/My_Thing"))
    assert specs["leaf_image"].image_ref == f"reg.example/leaf:feat-my_thing-{SHA['leaf'][:7]}"
    released = plan_tasks(cascade(mode="version"), sources(leaf="version:2.0.0"))
    assert released["leaf_image"].released
