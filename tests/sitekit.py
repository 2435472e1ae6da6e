"""A deploy root with a history worth a status site, shaped like the demo's story.

``make_site_root`` copies the test ecosystem and gives it five environments (the
shipped four and ``hotfix``, never deployed), a compatibility matrix that develop
has outgrown, a real build of ``scratch`` followed by an upstream commit (so the
cascade has something to rebuild), a deploy repo whose approval commit has a fixed
date, and lockfiles written through the tool's own writer with the repos' real SHAs:

- scratch: an old-shape lockfile (plain-string artifacts) at the releases, then
  ottochain at develop (3 commits later) with digests, verified;
- beta: the same commits as scratch, the services image built again with other
  bytes, and a verification that failed afterwards (so beta is failed);
- staging: the releases, only the images locked (a version environment builds
  nothing); prod: ottochain 0.6.0, then 0.6.1 approved by a signed merge, with the
  same bytes as staging.

Digests and keys are made from the task and the commit, so the same commit gives
the same digest unless a story step says otherwise. ``Labels`` turns the varying
SHAs, digests and paths of the rendered pages into readable placeholders.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ottodeploy.lockfile import new_lockfile, write_new
from ottodeploy.reporting import Silent
from ottodeploy.root import DeployRoot
from tests.deploykit import BRANCH, VERSIONS
from tests.ecosystem import COMPATIBILITY, Ecosystem
from tests.gitrepos import GitRepo, git

APPROVER = "Ada Lovelace <ada@example.invalid>"
APPROVAL_DATE = "2024-03-03T18:00:00Z"
ENVIRONMENTS = ["scratch", "beta", "staging", "prod", "hotfix"]   # promotion order
IMAGES = {"ottochain_image": "scasplte2/ottochain-metagraph",
          "services_image": "ottobot-ai/ottochain-services",
          "explorer_image": "ottobot-ai/ottochain-explorer"}
TASKS = {"tessellation": ["publish"], "metakit": ["publish"], "ottochain": ["assembly", "image"],
         "sdk": ["build"], "services": ["image"], "explorer": ["image"],
         "monitoring": ["config"]}
RELEASES = {"tessellation": "v4.0.0", "metakit": "v0.2.0", "ottochain": "v0.6.1",
            "sdk": "v0.3.0", "services": "v1.0.0", "explorer": "v1.0.0", "monitoring": "v0.1.0"}
FAILED_REASON = "smoke 'services version': http://127.0.0.1:4000/version answered 502"
HOTFIX_ENV = """\
name: hotfix
mode: branch
description: Feature branches under test
sources:
  tessellation: {type: upstream, ref: main}
  metakit: {type: upstream, ref: main}
  ottochain: {type: core, ref: develop}
  sdk: {type: ecosystem, ref: develop}
  services: {type: ecosystem, ref: develop}
  explorer: {type: ecosystem, ref: develop}
  monitoring: {type: ecosystem, ref: develop}
infrastructure: {target: local}
"""


def fake_hex(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class SiteRoot:
    eco: Ecosystem
    approval_commit: str
    lockfiles: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def root(self) -> DeployRoot:
        return DeployRoot(self.eco.root)


def _sources(eco: Ecosystem, revs: dict[str, str], versions: dict[str, str],
             refs: dict[str, str]) -> dict[str, Any]:
    return {n: {"repo": eco.urls[n], "ref": refs[n], "sha": eco.repos[n].rev(f"{rev}^{{commit}}"),
                "version": versions[n]} for n, rev in revs.items()}


def _artifacts(sources: dict[str, Any], *, images_only: bool = False, legacy: bool = False,
               other_bytes: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for comp, arts in TASKS.items():
        sha = sources[comp]["sha"]
        for art in arts:
            task = f"{comp}_{art}"
            image = IMAGES.get(task)
            if images_only and image is None:
                continue
            digest = "sha256:" + fake_hex(task, sha, "again" if task in other_bytes else "")
            key = fake_hex("key", task, sha)
            if legacy:
                out[task] = f"127.0.0.1:9/{image}@{digest}" if image else f"key:{key}"
                continue
            entry: dict[str, Any] = {"digest": digest, "key": key}
            if image:
                entry["ref"] = f"127.0.0.1:9/{image}@{digest}"
                entry["tag"] = f"127.0.0.1:9/{image}:{sources[comp]['ref']}-{sha[:7]}"
            out[task] = entry
    return out


def _write(site: SiteRoot, env: str, **fields: Any) -> Path:
    path = write_new(site.root, new_lockfile(environment=env, tool_version="0.1.0", **fields))
    site.lockfiles.setdefault(env, []).append(path)
    return path


def _deploy_repo(eco: Ecosystem) -> str:
    """The deploy root as a git repo; its one commit (the approval) has a fixed date."""
    (eco.root / ".gitignore").write_text(".ottodeploy/\n/site/\n")
    dates = {"GIT_AUTHOR_DATE": APPROVAL_DATE, "GIT_COMMITTER_DATE": APPROVAL_DATE}
    git(eco.root, "init", "--quiet", "--initial-branch=main")
    git(eco.root, "add", "-A")
    git(eco.root, "commit", "--quiet", "-m", "Merge promote/staging-to-prod", env=dates)
    return git(eco.root, "rev-parse", "HEAD")


def make_site_root(template: Path, repos: dict[str, GitRepo], dest: Path) -> SiteRoot:
    from ottodeploy.flows.build import build

    eco = Ecosystem.copy(template, repos, dest)
    eco.write("manifests/environments/hotfix.yaml", HOTFIX_ENV)
    eco.write("manifests/compatibility.yaml", COMPATIBILITY.replace(
        'services:\n    sdk: ">=0.2.0"\n    ottochain: ">=0.5.0 <1.0.0"',
        'services:\n    sdk: ">=0.2.0"\n    ottochain: ">=0.5.0 <0.6.2"'))
    build(DeployRoot(eco.root), "scratch", [], Silent())
    eco.repos["metakit"].commit("feat: faster snapshot hashing", {"src/hash.scala": "h\n"})
    site = SiteRoot(eco, _deploy_repo(eco))

    released = {n: r.lstrip("v") for n, r in RELEASES.items()}
    old = _sources(eco, RELEASES, released, {n: BRANCH[n] for n in TASKS})
    _write(site, "scratch", timestamp="2024-03-01T10:00:00Z", status="healthy", sources=old,
           artifacts=_artifacts(old, legacy=True), tests={"smoke": "passed", "e2e": "passed"})
    develop = _sources(eco, {**RELEASES, "ottochain": "develop"}, VERSIONS, BRANCH)
    deployed = {n: {"deployed": True} if n in ("ottochain", "services", "explorer")
                else {"deployed": "unchanged"} for n in TASKS}
    _write(site, "scratch", timestamp="2024-03-02T09:30:00Z", status="healthy", sources=develop,
           artifacts=_artifacts(develop), tests={"smoke": "passed", "e2e": "passed"},
           components=deployed, verifications=[
               {"at": "2024-03-02T11:00:00Z", "result": "passed",
                "checks": {"services version": "passed"}}])
    _write(site, "beta", timestamp="2024-03-02T12:00:00Z", status="failed", sources=develop,
           artifacts=_artifacts(develop, other_bytes=("services_image",)),
           tests={"smoke": "passed", "e2e": "passed"}, components=deployed,
           note="marked failed by inv verify", verifications=[
               {"at": "2024-03-02T13:00:00Z", "result": "passed",
                "checks": {"services version": "passed"}},
               {"at": "2024-03-02T15:00:00Z", "result": "failed",
                "checks": {"services version": "failed"}, "reason": FAILED_REASON}])
    release = _sources(eco, RELEASES, released, {n: RELEASES[n] for n in TASKS})
    beta_images = _artifacts(develop, images_only=True, other_bytes=("services_image",))
    staging_images = {**_artifacts(release, images_only=True),
                      "services_image": beta_images["services_image"],
                      "explorer_image": beta_images["explorer_image"]}
    _write(site, "staging", timestamp="2024-03-03T08:00:00Z", status="healthy", sources=release,
           artifacts=staging_images, tests={"smoke": "passed", "e2e": "skipped"}, mode="version")
    older = _sources(eco, {**RELEASES, "ottochain": "v0.6.0"}, {**released, "ottochain": "0.6.0"},
                     {**RELEASES, "ottochain": "v0.6.0"})
    _write(site, "prod", timestamp="2024-02-20T09:00:00Z", status="healthy", sources=older,
           artifacts=_artifacts(older, images_only=True), tests={"smoke": "passed"},
           mode="version")
    _write(site, "prod", timestamp="2024-03-04T09:00:00Z", status="healthy", sources=release,
           artifacts=staging_images, tests={"smoke": "passed"}, mode="version",
           approval={"commit": site.approval_commit, "kind": "signed merge",
                     "approver": APPROVER, "detail": "signature verified against "
                                                      "manifests/approvers"})
    return site


class Labels:
    """Readable placeholders for what differs between runs in the site's pages."""

    def __init__(self, site: SiteRoot) -> None:
        self.base = str(site.eco.base)
        self.shas: dict[str, str] = {site.approval_commit: "deploy@main"}
        for name, repo in sorted(site.eco.repos.items()):
            tags = git(repo.remote, "for-each-ref", "--sort=refname", "--format=%(refname:short)",
                       "refs/tags").split()
            # release tags name a commit best, then main, then develop
            refs = [*sorted(tags, key=lambda t: ("-" in t, t)), "main", "develop"]
            for ref in refs:
                for k, sha in enumerate(git(repo.remote, "rev-list", "--first-parent",
                                            ref).split()):
                    self.shas.setdefault(sha, f"{name}@{ref}" + (f"~{k}" if k else ""))

    def normalise(self, text: str) -> str:
        text = text.replace(self.base, "<eco>")
        text = re.sub(r"<svg\b.*?</svg>", "<svg><!-- drawn by dot --></svg>", text, flags=re.S)
        digests: dict[str, str] = {}
        for full in re.findall(r"sha256:([0-9a-f]{64})", text):
            digests.setdefault(full, f"d{len(digests) + 1}")
        keys: dict[str, str] = {}
        for full in re.findall(r"\b[0-9a-f]{64}\b", text):
            if full not in digests:
                keys.setdefault(full, f"k{len(keys) + 1}")
        for full, label in [*digests.items(), *keys.items()]:
            text = text.replace(full, f"<{label}>")
        for full, label in [*digests.items(), *keys.items()]:
            text = re.sub(rf"\b{full[:16]}\b", f"<{label}:16>", text)
            text = re.sub(rf"\b{full[:12]}\b", f"<{label}:12>", text)
        for sha, label in self.shas.items():
            text = text.replace(sha, f"<{label}>")
            text = re.sub(rf"\b{sha[:7]}\b", f"<{label}:7>", text)
        # a short digest no page shows in full (a plan's "reused from the store" reason)
        text = re.sub(r"sha256:[0-9a-f]{12}\b", "sha256:<short digest>", text)
        leftover = re.findall(r"\b[0-9a-f]{12,}\b", text)
        assert not leftover, f"unlabelled hex in a page: {leftover[:5]}"
        return text
