"""A small but real OttoChain ecosystem for tests: seven git repos and a deploy root.

The template is built once per session (``build_template``) and copied per test
(``Ecosystem.copy``). Every repo carries ``build.py``, a recipe that records
what it was given (``OTTO_*``, cwd, HEAD, what was in its checkout before it
ran) into the JSON lines file named by ``OTTO_TEST_LOG``, and writes outputs that
depend on what it builds only (task, commit, version), so a rebuild reproduces them;
``OTTO_TEST_NOISE`` adds the time (a recipe that never reproduces).
``OTTO_TEST_FAIL=<task>`` makes it fail and ``OTTO_TEST_SLEEP`` makes it slow;
``OTTO_TEST_STARTED`` names a file it appends its task to as it starts (before sleeping).
An image recipe (``OTTO_IMAGE`` set) writes its image as an OCI layout into
``OTTO_OUT``; with ``OTTO_TEST_PUSH=1`` it pushes a tiny image to its registry with
``ottodeploy.registry`` instead and logs its digest. The cascade has the shape of the
real one (SPEC §1).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.gitrepos import GitRepo, git

NAMES = ("tessellation", "metakit", "ottochain", "sdk", "services", "explorer", "monitoring")

BUILD_PY = r'''#!/usr/bin/env python3
"""Test recipe: record what the tool gave us, optionally sleep or fail."""
import json, os, pathlib, subprocess, sys, time

art = sys.argv[1]
task = os.environ["OTTO_COMPONENT"] + "_" + art
start = time.time()
if os.environ.get("OTTO_TEST_STARTED"):
    fd = os.open(os.environ["OTTO_TEST_STARTED"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (task + "\n").encode())
    os.close(fd)
time.sleep(float(os.environ.get("OTTO_TEST_SLEEP", "0")))
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--ignored"],
                        capture_output=True, text=True).stdout.splitlines()
record = {"task": task, "cwd": os.getcwd(), "head": head, "start": start,
          "env": {k: v for k, v in os.environ.items() if k.startswith("OTTO_")
                  and not k.startswith("OTTO_TEST")},
          "dirty": sorted(p.name for p in pathlib.Path(".").iterdir() if p.name == "out"),
          "status": status}
print(f"building {task} at {head[:7]}")
if os.environ.get("OTTO_TEST_FAIL") in (task, "*"):
    print("failing on purpose", file=sys.stderr)
    sys.exit(3)
out = pathlib.Path("out")
out.mkdir(exist_ok=True)
# the output holds what the build is of, not when or where it ran: a rebuild reproduces it
noise = time.time_ns() if os.environ.get("OTTO_TEST_NOISE") else None
(out / f"{art}.txt").write_text(json.dumps({"task": task, "head": head, "noise": noise,
                                            "version": os.environ["OTTO_VERSION"]}))
(out / f"{task}-{head[:7]}.jar").write_text("jar " + head)
if os.environ.get("OTTO_TEST_PUSH") == "1" and os.environ.get("OTTO_IMAGE"):
    from ottodeploy.core.imageref import parse_image_ref
    from ottodeploy.registry import RegistryClient
    with RegistryClient() as client:
        content = f"{task} {os.environ['OTTO_ENV']} {os.environ['OTTO_KEY']}".encode()
        record["digest"] = client.push_image(parse_image_ref(os.environ["OTTO_IMAGE"]),
                                             {"built.txt": content})
elif os.environ.get("OTTO_IMAGE"):
    # no registry: the image as an OCI layout in OTTO_OUT, its bytes from the commit alone
    # (OTTO_TEST_NOISE makes them differ on every build: a recipe that does not reproduce)
    from ottodeploy.ocilayout import write_layout
    content = f"{task} at {head} {noise or ''}"
    record["digest"] = write_layout(pathlib.Path(os.environ["OTTO_OUT"]) / "image",
                                    {"built.txt": content.encode()}, tag="t")
record["end"] = time.time()
log = os.environ.get("OTTO_TEST_LOG")
if log:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps(record) + "\n").encode())
    os.close(fd)
'''

TAGS: dict[str, list[tuple[str, bool]]] = {
    # name -> tags on the first commit of main (name, annotated)
    "tessellation": [("v4.0.0-rc.10", False), ("v4.0.0", True)],
    "metakit": [("v0.2.0", True)],
    "ottochain": [("v0.6.0", False)],
    "sdk": [("v0.3.0", True)],
    "services": [("v1.0.0", True)],
    "explorer": [("v1.0.0", False)],
    "monitoring": [("v0.1.0", True)],
}

COMPONENTS = """\
components:
  tessellation:
    repo: {url[tessellation]}
    artifacts:
      publish: {{run: "python3 build.py publish", outputs: ["out/publish.txt"]}}
  metakit:
    repo: {url[metakit]}
    depends_on: [tessellation]
    artifacts:
      publish: {{run: "python3 build.py publish", outputs: ["out/publish.txt"]}}
  ottochain:
    repo: {url[ottochain]}
    depends_on: [tessellation, metakit]
    artifacts:
      assembly: {{run: "python3 build.py assembly", outputs: ["out/*.jar"]}}
      image:
        needs: [assembly]
        image: {registry}/scasplte2/ottochain-metagraph
        cache: {cache}
        run: "python3 build.py image"
  sdk:
    repo: {url[sdk]}
    depends_on: [ottochain.assembly]
    artifacts:
      build: {{run: "python3 build.py build", outputs: ["out/build.txt"]}}
  services:
    repo: {url[services]}
    depends_on: [sdk]
    artifacts:
      image: {{run: "python3 build.py image", image: "{registry}/ottobot-ai/ottochain-services", cache: {cache}}}
  explorer:
    repo: {url[explorer]}
    depends_on: [services]
    artifacts:
      image: {{run: "python3 build.py image", image: "{registry}/ottobot-ai/ottochain-explorer", cache: {cache}}}
  monitoring:
    repo: {url[monitoring]}
    artifacts:
      config: {{run: "python3 build.py config", outputs: ["out/config.txt"]}}
"""

BRANCH_ENV = """\
name: {name}
mode: branch
auto_deploy: true
sources:
  tessellation: {{type: upstream, ref: main}}
  metakit:
    type: upstream
    ref: main
    build_with: {{tessellation: "${{tessellation.ref}}"}}
  ottochain:
    type: core
    ref: develop
    build_with:
      tessellation: "${{tessellation.ref}}"
      metakit: "${{metakit.ref}}"
  sdk: {{type: ecosystem, ref: develop}}
  services: {{type: ecosystem, ref: develop}}
  explorer: {{type: ecosystem, ref: develop}}
  monitoring: {{type: ecosystem, ref: develop}}
infrastructure: {{target: local}}
"""

VERSION_ENV = """\
name: {name}
mode: version
auto_deploy: false
approval_required: {approval}
sources:
  tessellation: {{type: upstream, version: v4.0.0}}
  metakit: {{type: upstream, version: v0.2.0}}
  ottochain: {{type: core, version: v0.6.1}}
  sdk: {{type: ecosystem, version: v0.3.0}}
  services: {{type: ecosystem, version: v1.0.0}}
  explorer: {{type: ecosystem, version: v1.0.0}}
  monitoring: {{type: ecosystem, version: v0.1.0}}
infrastructure: {{target: local}}
"""

COMPATIBILITY = """\
compatibility:
  # SDK must match ottochain data types
  sdk:
    ottochain: ">=0.5.0 <1.0.0"
  services:
    sdk: ">=0.2.0"
    ottochain: ">=0.5.0 <1.0.0"
  explorer:
    services: ">=0.1.0"
"""


def build_template(base: Path) -> dict[str, GitRepo]:
    """Seven repos: main with release tags, develop ahead of it (ottochain: 3 commits past v0.6.1)."""
    repos: dict[str, GitRepo] = {}
    for name in NAMES:
        repo = GitRepo.create(base, name)
        repo.commit(f"feat: initial {name}", {"build.py": BUILD_PY, "README.md": f"# {name}\n"})
        for tag, annotated in TAGS[name]:
            repo.tag(tag, annotated=annotated)
        repo.branch("develop")
        repos[name] = repo
    otto = repos["ottochain"]
    otto.commit("fix: snapshot ordering", {"src/a.scala": "a\n"})
    otto.tag("v0.6.1", annotated=True)
    otto.checkout("develop")
    git(otto.work, "merge", "--quiet", "--ff-only", "main")
    for i in range(3):
        otto.commit(f"feat: develop change {i}", {f"src/dev{i}.scala": f"{i}\n"})
    otto.checkout("main")
    return repos


@dataclass
class Ecosystem:
    base: Path
    repos: dict[str, GitRepo]
    root: Path
    registry: str = "127.0.0.1:9"
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.base / "recipes.jsonl"

    @classmethod
    def copy(cls, template: Path, repos: dict[str, GitRepo], dest: Path) -> Ecosystem:
        shutil.copytree(template, dest, symlinks=True)
        moved = {n: r.relocate(template, dest) for n, r in repos.items()}
        eco = cls(dest, moved, dest / "deploy")
        eco.write_default_root()
        return eco

    @property
    def urls(self) -> dict[str, str]:
        return {n: r.url for n, r in self.repos.items()}

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def components_text(self, *, registry: str | None = None, cache: bool = False) -> str:
        return COMPONENTS.format(url=self.urls, registry=registry or self.registry,
                                 cache=str(cache).lower())

    def write_default_root(self) -> None:
        self.write("manifests/components.yaml", self.components_text())
        self.write("manifests/compatibility.yaml", COMPATIBILITY)
        self.write("manifests/environments/scratch.yaml", BRANCH_ENV.format(name="scratch"))
        self.write("manifests/environments/beta.yaml", BRANCH_ENV.format(name="beta"))
        self.write("manifests/environments/staging.yaml",
                   VERSION_ENV.format(name="staging", approval="false"))
        self.write("manifests/environments/prod.yaml",
                   VERSION_ENV.format(name="prod", approval="true"))
        (self.root / "lockfiles").mkdir(exist_ok=True)

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def built(self) -> list[str]:
        """Tasks whose recipes ran (and succeeded) since the log was last cleared, in order."""
        return [r["task"] for r in self.records()]

    def clear_log(self) -> None:
        self.log.unlink(missing_ok=True)

    def state_files(self) -> list[Path]:
        state = self.root / ".ottodeploy"
        return sorted(p for p in state.rglob("*") if p.is_file()) if state.exists() else []
