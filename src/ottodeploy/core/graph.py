"""The artifact graph of the cascade.

Each artifact of each component is a node named ``<component>_<artifact>``.
An artifact depends on the artifacts it ``needs`` inside its component and on
everything its component ``depends_on``: a whole component (every artifact of
it) or a single ``component.artifact``. Components without artifacts still
order deploys. The graph is built with Kahn's algorithm, keeping the order of
``components.yaml`` among nodes that are ready at once, so every listing is
stable; nodes left over after it form at least one cycle, which is reported
with its members. Waves group nodes by their depth (longest chain of
dependencies), and the critical path is the longest chain of durations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


def task_name(component: str, artifact: str) -> str:
    return f"{component}_{artifact}"


@dataclass(frozen=True)
class GraphProblem:
    path: tuple[str | int, ...]
    message: str


class GraphError(ValueError):
    def __init__(self, problems: Sequence[GraphProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class ComponentSpec:
    """What the graph needs to know of a component (decoupled from the file models)."""

    name: str
    depends_on: tuple[str, ...]
    artifacts: Mapping[str, tuple[str, ...]]  # artifact -> needs


@dataclass
class ArtifactGraph:
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)  # task -> (component, artifact)
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)   # task -> direct deps (tasks)
    component_order: list[str] = field(default_factory=list)
    component_deps: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        """Tasks in a topological order (dependencies first)."""
        return list(self.nodes)

    def tasks_of(self, component: str) -> list[str]:
        return [t for t, (c, _) in self.nodes.items() if c == component]

    def upstream(self, tasks: Iterable[str]) -> set[str]:
        """``tasks`` and everything they need, transitively."""
        seen: set[str] = set()
        stack = list(tasks)
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(self.deps[t])
        return seen

    def downstream(self, tasks: Iterable[str]) -> set[str]:
        """``tasks`` and everything that needs them, transitively."""
        users: dict[str, list[str]] = {t: [] for t in self.nodes}
        for t, ds in self.deps.items():
            for d in ds:
                users[d].append(t)
        seen: set[str] = set()
        stack = list(tasks)
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(users[t])
        return seen

    def depth(self) -> dict[str, int]:
        depth: dict[str, int] = {}
        for t in self.nodes:  # topological order
            depth[t] = 1 + max((depth[d] for d in self.deps[t]), default=-1)
        return depth

    def waves(self, tasks: Iterable[str] | None = None) -> list[list[str]]:
        """Tasks grouped so that every task's dependencies lie in earlier waves."""
        chosen = set(self.nodes if tasks is None else tasks)
        depth: dict[str, int] = {}
        for t in self.nodes:
            if t in chosen:
                depth[t] = 1 + max((depth[d] for d in self.upstream([t]) - {t} if d in chosen),
                                   default=-1)
        out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
        for t in self.nodes:
            if t in depth:
                out[depth[t]].append(t)
        return out

    def critical_path(self, durations: Mapping[str, float]) -> tuple[float, list[str]]:
        """The longest chain of ``durations`` through the graph, and its tasks."""
        best: dict[str, tuple[float, list[str]]] = {}
        for t in self.nodes:
            before = max((best[d] for d in self.deps[t]), key=lambda x: x[0], default=(0.0, []))
            best[t] = (before[0] + durations.get(t, 0.0), [*before[1], t])
        return max(best.values(), key=lambda x: x[0], default=(0.0, []))


def build_graph(components: Sequence[ComponentSpec]) -> ArtifactGraph:
    """The artifact graph of ``components``; raises ``GraphError`` with every problem."""
    problems: list[GraphProblem] = []
    by_name = {c.name: c for c in components}
    direct: dict[str, list[str]] = {}
    owner: dict[str, tuple[str, str]] = {}
    comp_deps: dict[str, tuple[str, ...]] = {}
    for comp in components:
        across: list[str] = []
        cdeps: list[str] = []
        for i, dep in enumerate(comp.depends_on):
            path: tuple[str | int, ...] = ("components", comp.name, "depends_on", i)
            name, dot, art = dep.partition(".")
            target = by_name.get(name)
            if target is None:
                problems.append(GraphProblem(path, f"unknown component {name!r}"))
                continue
            if name == comp.name:
                problems.append(GraphProblem(path, f"{comp.name!r} depends on itself"))
                continue
            cdeps.append(name)
            if dot:
                if art not in target.artifacts:
                    problems.append(GraphProblem(path, f"{name!r} has no artifact {art!r}"))
                    continue
                across.append(task_name(name, art))
            else:
                across.extend(task_name(name, a) for a in target.artifacts)
        comp_deps[comp.name] = tuple(dict.fromkeys(cdeps))
        for art, needs in comp.artifacts.items():
            task = task_name(comp.name, art)
            owner[task] = (comp.name, art)
            inside = []
            for j, need in enumerate(needs):
                if need not in comp.artifacts:
                    problems.append(GraphProblem(
                        ("components", comp.name, "artifacts", art, "needs", j),
                        f"{comp.name!r} has no artifact {need!r}"))
                elif need == art:
                    problems.append(GraphProblem(
                        ("components", comp.name, "artifacts", art, "needs", j),
                        f"artifact {art!r} needs itself"))
                else:
                    inside.append(task_name(comp.name, need))
            direct[task] = list(dict.fromkeys([*inside, *across]))
    if problems:
        raise GraphError(problems)

    graph = ArtifactGraph()
    # components first, so a cycle through depends_on is named by its components; what
    # is left for the artifacts is a cycle of needs inside one component
    cmap = {c.name: (c.name, "") for c in components}
    order = _toposort(cmap, {c: list(comp_deps[c]) for c in cmap},
                      lambda c: ("components", c, "depends_on"))
    graph.nodes = _toposort(owner, direct,
                            lambda t: ("components", owner[t][0], "artifacts", owner[t][1],
                                       "needs"))
    graph.deps = {t: tuple(direct[t]) for t in graph.nodes}
    graph.component_order = list(order)
    graph.component_deps = comp_deps
    return graph


def _toposort(items: Mapping[str, tuple[str, str]], deps: Mapping[str, list[str]],
              where: object) -> dict[str, tuple[str, str]]:
    remaining = {t: set(ds) for t, ds in deps.items()}
    ordered: dict[str, tuple[str, str]] = {}
    while True:
        ready = [t for t in items if t in remaining and not remaining[t]]
        if not ready:
            break
        for t in ready:
            ordered[t] = items[t]
            del remaining[t]
        for ds in remaining.values():
            ds.difference_update(ready)
    if remaining:
        cycle = _find_cycle(remaining)
        locate = where if callable(where) else (lambda _t: ())
        raise GraphError([GraphProblem(tuple(locate(cycle[0])),
                                       "dependency cycle: " + " -> ".join(cycle))])
    return ordered


def _find_cycle(remaining: Mapping[str, set[str]]) -> list[str]:
    start = next(iter(remaining))
    path: list[str] = []
    on_path: dict[str, int] = {}
    node = start
    while node not in on_path:
        on_path[node] = len(path)
        path.append(node)
        node = next(iter(sorted(remaining[node])))
    return [*path[on_path[node]:], node]
