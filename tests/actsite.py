"""deploy-branch.yml's world for act: a deploy repo copy on the test ecosystem and a registry.

``ActSite.make`` writes the test ecosystem's manifests as a real deploy repo would hold
them (components by GitHub owner/name, ghcr.io's store in components.yaml, the scratch
and beta environments deploying with the ``local`` target through ``deploy/record.py``)
into a copy of this repository (``actkit.copy_project``), and lays out a folder of
owner/name links to the local repos for ``OTTODEPLOY_GIT_BASE``. ``run`` then runs
``deploy-branch.yml`` with act, configured, not edited: the repos through
``OTTODEPLOY_GIT_BASE``, the store through ``vars.OTTODEPLOY_STORE_REGISTRY`` (the loopback
registry), images pushed there by the recipes (``OTTO_TEST_PUSH``), every build logged
(``OTTO_TEST_LOG``). The registry is read through its own API (``pushed``), never through
the code under test. Used by tests/test_deploy_branch_act.py and benchmark P9.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.actkit import Act, ActRun, copy_project
from tests.deploykit import set_deploys, set_env
from tests.ecosystem import Ecosystem
from tests.gitrepos import git

WORKFLOW = "deploy-branch.yml"
PLAN = "Plan, and deploy here unless fanning out pays"
DEPLOY = "Deploy (inv deploy)"
STORE = "ottodeploy-store"
# The repos as the manifests name them (GitHub owner/name), mapped by OTTODEPLOY_GIT_BASE.
GITHUB = {"tessellation": "Constellation-Labs/tessellation",
          "metakit": "Constellation-Labs/metakit", "ottochain": "scasplte2/ottochain",
          "sdk": "ottobot-ai/ottochain-sdk", "services": "ottobot-ai/ottochain-services",
          "explorer": "ottobot-ai/ottochain-explorer",
          "monitoring": "ottobot-ai/ottochain-monitoring"}
ACCEPT = ", ".join(["application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


class ActSite:
    """The deploy repo copy, the ecosystem, the registry, and how a run is configured."""

    def __init__(self, eco: Ecosystem, repo: Path, registry: str, storage: Path,
                 git_base: str) -> None:
        self.eco, self.repo, self.registry, self.storage = eco, repo, registry, storage
        self.git_base = git_base

    @classmethod
    def make(cls, eco: Ecosystem, registry: str, storage: Path, tmp_path: Path) -> ActSite:
        base = tmp_path / "github"
        for name, slug in GITHUB.items():
            link = base / f"{slug}.git"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(eco.repos[name].remote)
        text = eco.components_text(registry=registry, cache=True)
        for name, slug in GITHUB.items():
            text = text.replace(f"repo: {eco.repos[name].url}\n", f"repo: {slug}\n")
        eco.write("manifests/components.yaml",
                  f"store: {{registry: ghcr.io/ottobot-ai/{STORE}}}\n" + text)
        set_deploys(eco)
        for env in ("scratch", "beta"):
            set_env(eco, env)
        repo = tmp_path / "deploy"
        copy_project(repo)
        shutil.rmtree(repo / "manifests")
        shutil.copytree(eco.root / "manifests", repo / "manifests")
        shutil.copy2(eco.root / "deploy" / "record.py", repo / "deploy" / "record.py")
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", "chore: the test ecosystem's manifests")
        git(repo, "push", "--quiet", "origin", "main")
        return cls(eco, repo, registry, storage, f"file://{base}/")

    @property
    def origin(self) -> Path:
        return Path(git(self.repo, "remote", "get-url", "origin"))

    def run(self, act: Act, event: str, payload: dict[str, Any], *,
            workflow: str = WORKFLOW, env: Mapping[str, str] | None = None,
            fan_out: str | None = None) -> ActRun:
        """Run ``workflow``; ``fan_out`` sets ``vars.OTTODEPLOY_FAN_OUT`` (unset: auto)."""
        self.eco.clear_log()
        variables = {"OTTODEPLOY_STORE_REGISTRY": f"{self.registry}/{STORE}"}
        if fan_out is not None:
            variables["OTTODEPLOY_FAN_OUT"] = fan_out
        return act.run(self.repo, event, workflow=workflow, payload=payload,
                       env={"OTTODEPLOY_GIT_BASE": self.git_base, "OTTO_TEST_PUSH": "1",
                            "OTTO_TEST_LOG": str(self.eco.log), **(env or {})},
                       variables=variables, timeout=900)

    def dispatch(self, act: Act, *, fan_out: str | None = None, **inputs: str) -> ActRun:
        return self.run(act, "workflow_dispatch", {"inputs": inputs}, fan_out=fan_out)

    def pull(self, branch: str = "main") -> None:
        """What the workflow pushed, into the copy the next run starts from."""
        git(self.repo, "pull", "--quiet", "--ff-only", "origin", branch)

    def new_lockfiles(self, before: str, branch: str = "main") -> list[dict[str, Any]]:
        names = git(self.origin, "diff", "--name-only", "--diff-filter=A", before, branch,
                    "--", "lockfiles/").split()
        return [yaml.safe_load(git(self.origin, "show", f"{branch}:{n}")) for n in names]

    # -- the registry, read through its own API ------------------------------------------------

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            f"http://{self.registry}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT})
        try:
            with opener.open(request, timeout=5) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def pushed(self, task: str, key: str, image: str | None) -> str | None:
        """The digest the registry holds for ``task`` under its build key's tag."""
        tag = f"bk-{key[:16]}"
        if image:   # an image: its own repository
            return self.manifest_digest(image.split("/", 1)[1].rsplit(":", 1)[0], tag)
        return self.manifest_digest(f"{STORE}/{task.split('_', maxsplit=1)[0]}", tag)


