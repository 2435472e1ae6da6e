"""The test ecosystem's deploy root as a git repository, for promotion, approval and notify tests.

``init_deploy_repo`` turns ``eco.root`` into a real git repo (``.ottodeploy/``
ignored, manifests committed on ``main``) with a bare ``origin``.
``release_images`` pushes the released images the version environments verify
into a real registry and points components.yaml at it, so ``inv deploy
staging`` (``target: local``) writes a real healthy lockfile.
``write_lock`` writes a lockfile directly from the eco repos' real SHAs.
``cli`` runs ``inv`` in this process with the ``ottodeploy`` log handler bound to
this run's stderr (the handler otherwise keeps the stream of the first run).
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from ottodeploy.core.imageref import parse_image_ref
from ottodeploy.lockfile import new_lockfile, write_new
from ottodeploy.registry import RegistryClient
from ottodeploy.root import DeployRoot
from tests.conftest import PROJECT, Result, run_inv
from tests.ecosystem import Ecosystem
from tests.gitrepos import git

# images the version environments verify (SPEC §4: <image>:<version> without the v)
RELEASED_IMAGES = ("scasplte2/ottochain-metagraph:0.6.1", "ottobot-ai/ottochain-services:1.0.0",
                   "ottobot-ai/ottochain-explorer:1.0.0")


def cli(*argv: str) -> Result:
    """``inv ARGV`` in-process; warnings of this run land in this run's stderr."""
    logger = logging.getLogger("ottodeploy")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    return run_inv(*argv)


def inv_subprocess(*argv: str, env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``inv ARGV`` as its own process (real stdout/stderr, real exit code)."""
    return subprocess.run(["inv", "--search-root", str(PROJECT), *argv], cwd=cwd or PROJECT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120, check=False)


def dgit(eco: Ecosystem, *args: str) -> str:
    """git in the deploy repo."""
    return git(eco.root, *args)


def init_deploy_repo(eco: Ecosystem, *, origin: bool = True) -> Path | None:
    """``eco.root`` as a git repo on ``main`` with everything committed; returns origin's path."""
    (eco.root / ".gitignore").write_text(".ottodeploy/\n")
    dgit(eco, "init", "--quiet", "--initial-branch=main")
    dgit(eco, "add", "-A")
    dgit(eco, "commit", "--quiet", "-m", "chore: deploy repo")
    if not origin:
        return None
    remote = eco.base / "deploy-origin.git"
    git(eco.base, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    dgit(eco, "remote", "add", "origin", str(remote))
    dgit(eco, "push", "--quiet", "origin", "main")
    return remote


def commit_file(eco: Ecosystem, rel: str, text: str, message: str) -> str:
    eco.write(rel, text)
    dgit(eco, "add", rel)
    dgit(eco, "commit", "--quiet", "-m", message)
    return dgit(eco, "rev-parse", "HEAD")


def release_images(eco: Ecosystem, registry: str) -> None:
    """The released images in ``registry``; components.yaml pointing at it (not committed)."""
    with RegistryClient() as client:
        for image in RELEASED_IMAGES:
            client.push_image(parse_image_ref(f"{registry}/{image}"), {"f": b"x"})
    eco.write("manifests/components.yaml", eco.components_text(registry=registry, cache=True))


def sha_of(eco: Ecosystem, name: str, rev: str) -> str:
    return eco.repos[name].rev(f"{rev}^{{commit}}")


def write_lock(eco: Ecosystem, env: str, *, status: str = "healthy",
               revs: dict[str, str] | None = None, versions: dict[str, str] | None = None,
               timestamp: str | None = None, mode: str | None = None,
               drop: tuple[str, ...] = ()) -> Path:
    """A lockfile of ``env`` with every component at ``revs[name]`` (default: its release tag).

    Versions default to the tag's (``v0.6.1`` -> ``0.6.1``) or, for a branch, ``0.0.0-dev.1``;
    components in ``drop`` are left out.
    """
    default_revs = {"tessellation": "v4.0.0", "metakit": "v0.2.0", "ottochain": "v0.6.1",
                    "sdk": "v0.3.0", "services": "v1.0.0", "explorer": "v1.0.0",
                    "monitoring": "v0.1.0"}
    revs = {**default_revs, **(revs or {})}
    sources: dict[str, Any] = {}
    for name, rev in revs.items():
        if name in drop:
            continue
        version = (versions or {}).get(name) or (rev[1:] if rev.startswith("v") else "0.0.0-dev.1")
        sources[name] = {"repo": eco.urls[name], "ref": rev, "sha": sha_of(eco, name, rev),
                         "version": version}
    fields: dict[str, Any] = {"environment": env, "status": status, "sources": sources,
                              "tests": {"deploy": "passed", "smoke": "skipped", "e2e": "skipped"}}
    if timestamp:
        fields["timestamp"] = timestamp
    if mode:
        fields["mode"] = mode
    return write_new(DeployRoot(eco.root), new_lockfile(**fields))


def lockfiles(eco: Ecosystem) -> list[str]:
    folder = eco.root / "lockfiles"
    return sorted(p.name for p in folder.glob("*.yaml")) if folder.is_dir() else []


def branches(eco: Ecosystem, pattern: str = "promote/*") -> list[str]:
    out = dgit(eco, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{pattern}")
    return out.splitlines()
