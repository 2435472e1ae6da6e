"""P4: a no-op build of a generated, layered ecosystem of thousands of components.

The repos are written directly as bare git repositories (a blob, a tree and a commit as
loose objects, ``refs/heads/main``), which is what ``git init --bare`` plus a push would
leave, in a fraction of the time: making 3,000 repos with git itself takes minutes.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from functools import partial
from pathlib import Path

from benchmarks.kit import Figure, Workspace, bare_doit, doit, ls_remote_all, medians

_WHO = "Bench <bench@example.invalid> 1700000000 +0000"


def _put(objects: Path, kind: str, body: bytes) -> str:
    data = f"{kind} {len(body)}\0".encode() + body
    sha = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    path = objects / sha[:2] / sha[2:]
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(zlib.compress(data))
    return sha


def bare_repo(path: Path, files: dict[str, bytes], message: str) -> str:
    """A bare repo at ``path`` whose ``main`` is one commit of ``files``; its SHA."""
    objects = path / "objects"
    for folder in (objects / "info", objects / "pack", path / "refs" / "heads",
                   path / "refs" / "tags"):
        folder.mkdir(parents=True)
    (path / "HEAD").write_text("ref: refs/heads/main\n")
    (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    blobs = {name: bytes.fromhex(_put(objects, "blob", data)) for name, data in files.items()}
    entries = b"".join(b"100644 %s\0%s" % (name.encode(), blob)
                       for name, blob in sorted(blobs.items()))
    tree = _put(objects, "tree", entries)
    commit = _put(objects, "commit",
                  f"tree {tree}\nauthor {_WHO}\ncommitter {_WHO}\n\n{message}\n".encode())
    (path / "refs" / "heads" / "main").write_text(commit + "\n")
    return commit


def scale_ecosystem(base: Path, count: int, width: int = 10) -> tuple[Path, list[str]]:
    """``count`` components in layers of ``width``, each depending on up to 3 of the layer
    above; the deploy root and the repos' addresses."""
    rng = random.Random(count)
    names = [f"c{i:04d}" for i in range(count)]
    root = base / "deploy"
    lines = ["components:"]
    env = ["name: scratch", "mode: branch", "sources:"]
    urls = []
    for i, name in enumerate(names):
        remote = base / "remotes" / f"{name}.git"
        bare_repo(remote, {"README.md": f"# {name}\n".encode()}, f"feat: {name}")
        urls.append(f"file://{remote}")
        layer = i // width
        above = names[(layer - 1) * width: layer * width] if layer else []
        deps = sorted(rng.sample(above, min(len(above), rng.randint(1, 3)))) if above else []
        lines += [f"  {name}:", f"    repo: {urls[-1]}", f"    depends_on: [{', '.join(deps)}]",
                  "    artifacts:", "      build: {run: 'true'}"]
        env.append(f"  {name}: {{ref: main}}")
    (root / "manifests" / "environments").mkdir(parents=True)
    (root / "manifests" / "components.yaml").write_text("\n".join(lines) + "\n")
    (root / "manifests" / "environments" / "scratch.yaml").write_text("\n".join(env) + "\n")
    (root / "manifests" / "compatibility.yaml").write_text("compatibility: {}\n")
    return root, urls


def p4_scale(ws: Workspace, runs: int, sizes: tuple[int, ...] = (300, 3000)) -> Figure:
    per: dict[int, tuple[float, float]] = {}
    for n in sizes:
        root, urls = scale_ecosystem(ws.tmp / f"scale{n}", n)
        doit(root, "-n", "4", "-P", "thread", "env=scratch")
        times = medians(runs, ours=partial(doit, root, "env=scratch"),
                        bare=bare_doit(ws.tmp / f"bare{n}", n), remote=partial(ls_remote_all, urls))
        ours, bare, remote = times["ours"], times["bare"], times["remote"]
        per[n] = (ours, bare + remote)
        print(f"  P4 {n} components: {ours:.2f}s vs {bare + remote:.2f}s "
              f"(doit {bare:.2f} + ls-remote {remote:.2f}) = {ours / (bare + remote):.2f}x",
              flush=True)
    big, small = max(sizes), min(sizes)
    ours, base = per[big]
    ratio = ours / base
    # cost per component beyond the fixed start-up cost (the smallest run), ours and bare
    slope = (per[big][0] - per[small][0]) / (big - small) * 1000
    bare_slope = (per[big][1] - per[small][1]) / (big - small) * 1000
    detail = ", ".join(f"{n}: {o:.2f}s vs {b:.2f}s = {o / b:.2f}x" for n, (o, b) in per.items())
    return Figure("P4", f"no-op, {big} components ({detail}; {slope:.2f} ms/component, "
                        f"bare {bare_slope:.2f})",
                  f"{ours:.2f}s", f"{base:.2f}s", ratio, "<= 1.30x", ratio <= 1.3,
                  {"components": big})
