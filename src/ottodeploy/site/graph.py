"""The cascade drawn by Graphviz: DOT text from the plan's nodes, SVG from ``dot -Tsvg``.

Each component is a cluster holding its artifacts; an edge goes from every
dependency to the artifact that needs it. A node is filled by its state in the
plan (would rebuild, up to date, unknown) and carries that state as its SVG
``class`` and its reasons as its tooltip. The SVG is embedded inline: the XML
prolog, doctype and comments (graphviz's version among them) are dropped, so the
page holds only the drawing. Everything is emitted in the cascade's order, so one
plan always gives one drawing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence

from ..process import run
from .content import PlannedNode

FILL = {"rebuild": "#fdba74", "up to date": "#bbf7d0", "unknown": "#e5e7eb"}
CSS_CLASS = {"rebuild": "rebuild", "up to date": "uptodate", "unknown": "unknown"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dot_source(nodes: Sequence[PlannedNode], deps: Mapping[str, Sequence[str]],
               components: Sequence[str]) -> str:
    """DOT text of the cascade: clusters per component (in ``components``' order)."""
    lines = ["digraph cascade {",
             '  graph [rankdir=LR, bgcolor="transparent", fontname="sans-serif", fontsize=12,'
             ' nodesep=0.25, ranksep=0.5];',
             '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=11,'
             ' color="#4b5563", penwidth=1];',
             '  edge [color="#6b7280", arrowsize=0.7];']
    by_component: dict[str, list[PlannedNode]] = {}
    for node in nodes:
        by_component.setdefault(node.component, []).append(node)
    for comp in components:
        members = by_component.get(comp, [])
        if not members:
            continue
        lines.append(f"  subgraph {_quote('cluster_' + comp)} {{")
        lines.append(f'    label={_quote(comp)}; style="rounded"; color="#9ca3af";')
        for node in members:
            tooltip = f"{node.task}: {node.state}"
            if node.reasons:
                tooltip += " (" + "; ".join(node.reasons) + ")"
            lines.append(f"    {_quote(node.task)} [id={_quote('task-' + node.task)}, "
                         f"label={_quote(node.artifact)}, fillcolor={_quote(FILL[node.state])}, "
                         f"class={_quote(CSS_CLASS[node.state])}, tooltip={_quote(tooltip)}];")
        lines.append("  }")
    known = {n.task for n in nodes}
    for node in nodes:
        for dep in deps.get(node.task, ()):
            if dep in known:
                lines.append(f"  {_quote(dep)} -> {_quote(node.task)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def svg(source: str) -> str:
    """``dot -Tsvg`` of ``source``, ready to embed: from ``<svg`` on, without comments."""
    done = run(["dot", "-Tsvg"], input_text=source, timeout=60, what="Graphviz (dot -Tsvg)")
    text = done.stdout
    text = text[text.find("<svg"):] if "<svg" in text else text
    text = re.sub(r"<!--.*?-->\n?", "", text, flags=re.S)
    return text.strip() + "\n"
