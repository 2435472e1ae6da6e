"""The figures of the speed suite (see ``benchmarks/__main__.py`` for what each one means).

Each figure lives in a module of its kind (``cascade``: the build figures on the tests'
seven-repo ecosystem; ``scale``: the generated ecosystem; ``deploys``: replay, redeploy,
promotion and rollback); ``run_all`` runs the chosen ones, each in a fresh workspace.
The shared pieces (``Figure``, ``table``, the commands, the workspace) are in ``kit``.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import cascade, deploys, p9, scale
from benchmarks.kit import PROJECT, Figure, Workspace, table

__all__ = ["Figure", "Workspace", "plan", "run_all", "table"]


def plan(*, quick: bool) -> list[tuple[str, Callable[[Workspace], Figure]]]:
    """Every figure, in order: one line each."""
    runs = 3 if quick else 7
    return [
        ("P0", lambda ws: cascade.p0_resolve(ws, runs)),
        ("P1", lambda ws: cascade.p1_noop(ws, runs)),
        ("P2", lambda ws: cascade.p2_exactness(ws, 5 if quick else 20)),
        ("P3", cascade.p3_parallel),
        ("P4", lambda ws: scale.p4_scale(ws, 3 if quick else 5)),
        ("P5", deploys.p5_replay),
        ("P6", cascade.p6_leaf),
        ("P7", lambda ws: deploys.p7_noop_deploy(ws, runs)),
        ("P8", lambda ws: deploys.p8_promote_rollback(ws, 3 if quick else 5)),
        ("P9", lambda ws: p9.p9_workflow(ws, 2 if quick else 3)),
    ]


def run_all(only: list[str] | None, *, quick: bool) -> list[Figure]:
    import compileall

    # doit and the other installed packages have their bytecode compiled at install time;
    # an editable install of this package does not (and PYTHONDONTWRITEBYTECODE may keep
    # Python from caching it), so compile it as `pip install .` would before timing
    compileall.compile_dir(str(PROJECT / "src"), quiet=1)
    results = []
    for name, fn in plan(quick=quick):
        if only and name not in only:
            continue
        ws = Workspace()
        try:
            print(f"{name} ...", flush=True)
            figure = fn(ws)
            print(f"{name}: {figure.value} vs {figure.baseline}"
                  + (f" = {figure.ratio:.2f}x" if figure.ratio is not None else "")
                  + f" (goal {figure.goal})", flush=True)
            results.append(figure)
        finally:
            ws.close()
    return results
