"""The artifact graph: order, closures, artifact-level deps, waves, critical path, cycles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from ottodeploy.core.graph import ArtifactGraph, ComponentSpec, GraphError, build_graph, task_name


def spec(name: str, depends_on: Sequence[str] = (),
         artifacts: Mapping[str, Sequence[str]] | None = None) -> ComponentSpec:
    arts = {"build": ()} if artifacts is None else artifacts
    return ComponentSpec(name, tuple(depends_on), {a: tuple(n) for a, n in arts.items()})


# the shape of the real cascade (SPEC §1), as in tests/ecosystem.py
CASCADE = [
    spec("tessellation", [], {"publish": []}),
    spec("metakit", ["tessellation"], {"publish": []}),
    spec("ottochain", ["tessellation", "metakit"], {"assembly": [], "image": ["assembly"]}),
    spec("sdk", ["ottochain.assembly"], {"build": []}),
    spec("services", ["sdk"], {"image": []}),
    spec("explorer", ["services"], {"image": []}),
    spec("monitoring", [], {"config": []}),
]


@pytest.fixture
def graph() -> ArtifactGraph:
    return build_graph(CASCADE)


def test_task_names() -> None:
    assert task_name("ottochain", "image") == "ottochain_image"


def test_order_is_topological_and_stable(graph: ArtifactGraph) -> None:
    # ready nodes keep components.yaml order: monitoring is ready at once
    assert graph.order == [
        "tessellation_publish", "monitoring_config", "metakit_publish", "ottochain_assembly",
        "ottochain_image", "sdk_build", "services_image", "explorer_image",
    ]
    seen: set[str] = set()
    for task in graph.order:
        assert set(graph.deps[task]) <= seen
        seen.add(task)
    assert graph.component_order == ["tessellation", "monitoring", "metakit", "ottochain", "sdk",
                                     "services", "explorer"]


@pytest.mark.parametrize(("task", "deps"), [
    # a whole component: every artifact of it
    ("metakit_publish", ("tessellation_publish",)),
    # needs inside the component first, then what the component depends on
    ("ottochain_image", ("ottochain_assembly", "tessellation_publish", "metakit_publish")),
    # one artifact of a component: not the image
    ("sdk_build", ("ottochain_assembly",)),
    # nothing
    ("monitoring_config", ()),
])
def test_direct_dependencies(graph: ArtifactGraph, task: str, deps: tuple[str, ...]) -> None:
    assert graph.deps[task] == deps


def test_component_dependencies(graph: ArtifactGraph) -> None:
    # an artifact reference still orders the whole component (for deploys)
    assert graph.component_deps["sdk"] == ("ottochain",)
    assert graph.component_deps["ottochain"] == ("tessellation", "metakit")
    assert graph.tasks_of("ottochain") == ["ottochain_assembly", "ottochain_image"]


@pytest.mark.parametrize(("tasks", "closure"), [
    # a leaf needs the whole chain above it, but not the image sdk does not use
    (["explorer_image"], {"explorer_image", "services_image", "sdk_build", "ottochain_assembly",
                          "metakit_publish", "tessellation_publish"}),
    # an independent component alone
    (["monitoring_config"], {"monitoring_config"}),
    # several at once
    (["ottochain_image", "monitoring_config"],
     {"ottochain_image", "ottochain_assembly", "metakit_publish", "tessellation_publish",
      "monitoring_config"}),
])
def test_upstream(graph: ArtifactGraph, tasks: list[str], closure: set[str]) -> None:
    assert graph.upstream(tasks) == closure


@pytest.mark.parametrize(("tasks", "closure"), [
    # one commit to metakit rebuilds metakit, ottochain, sdk, services, explorer (SPEC §4)
    (["metakit_publish"], {"metakit_publish", "ottochain_assembly", "ottochain_image",
                           "sdk_build", "services_image", "explorer_image"}),
    # the image is used by nobody downstream
    (["ottochain_image"], {"ottochain_image"}),
    # explorer alone
    (["explorer_image"], {"explorer_image"}),
])
def test_downstream(graph: ArtifactGraph, tasks: list[str], closure: set[str]) -> None:
    assert graph.downstream(tasks) == closure


def test_waves(graph: ArtifactGraph) -> None:
    assert graph.waves() == [
        ["tessellation_publish", "monitoring_config"],
        ["metakit_publish"],
        ["ottochain_assembly"],
        ["ottochain_image", "sdk_build"],
        ["services_image"],
        ["explorer_image"],
    ]
    assert graph.depth()["explorer_image"] == 5


def test_waves_of_a_subset(graph: ArtifactGraph) -> None:
    # tasks outside the selection do not take a wave
    assert graph.waves(["sdk_build", "explorer_image", "monitoring_config"]) == [
        ["monitoring_config", "sdk_build"], ["explorer_image"]]
    assert graph.waves([]) == []


@pytest.mark.parametrize(("durations", "length", "path"), [
    # the long chain through sdk
    (dict.fromkeys([task_name(c.name, a) for c in CASCADE for a in c.artifacts], 1.0),
     6.0, ["tessellation_publish", "metakit_publish", "ottochain_assembly", "sdk_build",
           "services_image", "explorer_image"]),
    # a slow image makes the shorter chain the critical one
    ({"ottochain_image": 100.0, "metakit_publish": 0.5, "explorer_image": 1.0}, 100.5,
     ["tessellation_publish", "metakit_publish", "ottochain_assembly", "ottochain_image"]),
    # a slow independent component
    ({"monitoring_config": 50.0, "sdk_build": 10.0}, 50.0, ["monitoring_config"]),
])
def test_critical_path(graph: ArtifactGraph, durations: dict[str, float], length: float,
                       path: list[str]) -> None:
    assert graph.critical_path(durations) == (length, path)


def test_components_without_artifacts_still_order() -> None:
    g = build_graph([spec("a", [], {}), spec("b", ["a"]), spec("c", ["b"], {})])
    assert g.order == ["b_build"]
    assert g.deps["b_build"] == ()
    assert g.component_order == ["a", "b", "c"]


@pytest.mark.parametrize(("components", "path", "message"), [
    # two components depending on each other
    ([spec("metakit", ["ottochain"]), spec("ottochain", ["metakit.build"])],
     ("components", "metakit", "depends_on"), "dependency cycle: metakit -> ottochain -> metakit"),
    # three, without artifacts
    ([spec("sdk", ["explorer"], {}), spec("services", ["sdk"], {}),
      spec("explorer", ["services"], {})],
     ("components", "sdk", "depends_on"),
     "dependency cycle: sdk -> explorer -> services -> sdk"),
    # a cycle behind a component that is fine
    ([spec("ok"), spec("a", ["ok", "b"]), spec("b", ["a"])],
     ("components", "a", "depends_on"), "dependency cycle: a -> b -> a"),
    # artifacts of one component needing each other
    ([spec("x", [], {"one": ["two"], "two": ["one"]})],
     ("components", "x", "artifacts", "one", "needs"), "dependency cycle: x_one -> x_two -> x_one"),
])
def test_cycles_are_named(components: list[ComponentSpec], path: tuple[str, ...],
                          message: str) -> None:
    with pytest.raises(GraphError) as info:
        build_graph(components)
    [problem] = info.value.problems
    assert (problem.path, problem.message) == (path, message)


def test_every_reference_problem_together() -> None:
    with pytest.raises(GraphError) as info:
        build_graph([
            spec("a", ["nope"]),                             # unknown component
            spec("b", ["a.nope", "b"]),                      # unknown artifact, itself
            spec("c", [], {"x": ["y"], "z": ["z"]}),         # unknown need, needs itself
        ])
    assert [(p.path, p.message) for p in info.value.problems] == [
        (("components", "a", "depends_on", 0), "unknown component 'nope'"),
        (("components", "b", "depends_on", 0), "'a' has no artifact 'nope'"),
        (("components", "b", "depends_on", 1), "'b' depends on itself"),
        (("components", "c", "artifacts", "x", "needs", 0), "'c' has no artifact 'y'"),
        (("components", "c", "artifacts", "z", "needs", 0), "artifact 'z' needs itself"),
    ]
