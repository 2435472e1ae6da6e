"""Creating the demo's sandbox: seven local repos and a deploy root beside them.

``.ottodeploy/demo/`` holds ``repos/<name>.git`` (bare remotes the tool
resolves), ``work/<name>`` (clones the demo commits in) and ``deploy/``, a
deploy root that is itself a git repository, as the real deploy repo is. Its
environments ``demo`` and ``beta`` use the ``local`` target: their services
are processes on free loopback ports, chosen when the sandbox is made and
written into ``ports/<env>.env`` and the smoke checks. It is a full deploy
root: its own ``dodo.py`` and ``tasks/`` doors make ``doit list env=demo`` and
``inv status`` work inside it, as in the real deploy repo.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..git import git
from .repos import RELEASES, REPOS

IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Release Engineer",
    "GIT_AUTHOR_EMAIL": "release@example.invalid",
    "GIT_COMMITTER_NAME": "Demo Release Engineer",
    "GIT_COMMITTER_EMAIL": "release@example.invalid",
}
PY = '"${OTTO_DEMO_PYTHON:-python3}"'

COMPONENTS = f"""\
# The demo cascade: the shape of the real one (SPEC §1), with small real build scripts.
components:
  tessellation:
    repo: ../repos/tessellation.git
    artifacts:
      publish:
        run: '{PY} build.py target/tessellation-sdk_2.13-VERSION.jar'
        outputs: ["target/*.jar"]
  metakit:
    repo: ../repos/metakit.git
    depends_on: [tessellation]
    artifacts:
      publish:
        run: '{PY} build.py target/metakit_2.13-VERSION.jar'
        outputs: ["target/*.jar"]
  ottochain:
    repo: ../repos/ottochain.git
    depends_on: [tessellation, metakit]
    artifacts:
      assembly:
        run: >-
          {PY} build.py
          modules/l0/target/scala-2.13/ottochain-currency-l0-assembly-VERSION.jar
          modules/l1/target/scala-2.13/ottochain-currency-l1-assembly-VERSION.jar
          modules/data_l1/target/scala-2.13/ottochain-data-l1-assembly-VERSION.jar
        outputs: ["modules/*/target/scala-2.13/*-assembly-*.jar", "proto/ottochain/v1/*.proto"]
      image:
        needs: [assembly]
        image: demo.invalid/scasplte2/ottochain-metagraph
        cache: false  # the demo has no registry: its images are OCI layouts, kept in the store
        run: cp -r --no-preserve=mode "$OTTO_DEP_OTTOCHAIN_OUT_ASSEMBLY/modules" app/ && bash image.sh
        outputs: ["image"]
    deploy: {{on: nodes, run: bash deploy/start-node.sh}}
  sdk:
    repo: ../repos/sdk.git
    depends_on: [ottochain.assembly]
    artifacts:
      build: {{run: '{PY} build.py', outputs: ["dist/*"]}}
  services:
    repo: ../repos/services.git
    depends_on: [sdk]
    artifacts:
      image:
        image: demo.invalid/ottobot-ai/ottochain-services
        cache: false
        run: cp "$OTTO_DEP_SDK_OUT_BUILD/dist/types.ts" app/ && bash image.sh
        outputs: ["image"]
    deploy: {{on: services_host, run: bash deploy/start-services.sh}}
  explorer:
    repo: ../repos/explorer.git
    depends_on: [services]
    artifacts:
      image:
        image: demo.invalid/ottobot-ai/ottochain-explorer
        cache: false
        run: bash image.sh
        outputs: ["image"]
    deploy: {{on: services_host, run: bash deploy/start-explorer.sh}}
  monitoring:
    repo: ../repos/monitoring.git
    artifacts:
      config: {{run: "mkdir -p dist && cp prometheus.yml dist/", outputs: ["dist/prometheus.yml"]}}
"""

COMPATIBILITY = """\
compatibility:
  # SDK must match ottochain data types
  sdk:
    ottochain: ">=0.5.0 <1.0.0"
  # Services need compatible SDK and understand ottochain snapshots
  services:
    sdk: ">=0.2.0"
    ottochain: ">=0.5.0 <1.0.0"
  # Explorer talks to services API
  explorer:
    services: ">=0.1.0"
"""

ENVIRONMENT = """\
# environments/{name}.yaml: {purpose}
name: {name}
mode: branch
auto_deploy: true
approval_required: {approval}

sources:
  tessellation: {{type: upstream, ref: main}}
  metakit:
    type: upstream
    ref: main
    build_with:
      tessellation: ${{tessellation.ref}}
  ottochain:
    type: core
    ref: develop
    build_with:
      tessellation: ${{tessellation.ref}}
      metakit: ${{metakit.ref}}
  sdk: {{type: ecosystem, ref: develop}}
  services: {{type: ecosystem, ref: develop}}
  explorer: {{type: ecosystem, ref: develop}}
  monitoring: {{type: ecosystem, ref: develop}}

infrastructure:
  target: local   # processes on this machine, on free loopback ports
  nodes: [node1, node2, node3]
  services_host: services

smoke:
  # each node answers on its own port, as itself; node 1 sees a cluster of three
  - {{name: node1-ready, url: "http://127.0.0.1:{node1}/node/info", json: {{state: Ready, id: node1}}, timeout: 15}}
  - {{name: node2-ready, url: "http://127.0.0.1:{node2}/node/info", json: {{state: Ready, id: node2}}, timeout: 15}}
  - {{name: node3-ready, url: "http://127.0.0.1:{node3}/node/info", json: {{state: Ready, id: node3}}, timeout: 15}}
  - {{name: cluster-size, url: "http://127.0.0.1:{node1}/cluster/info", json: {{"#": 3}}, timeout: 15}}
  - {{name: services-health, url: "http://${{services_host}}:{services}/health", json: {{status: ok}}, timeout: 15}}
  # the running services must be the commit this deploy locks
  - name: services-commit
    url: "http://${{services_host}}:{services}/version"
    json: {{commit: "${{services.sha}}"}}
    timeout: 15
  - {{name: explorer, url: "http://${{services_host}}:{explorer}/", timeout: 15}}

e2e: {{run: '{py} deploy/e2e.py'}}
"""

DAEMON = '"${OTTO_DEMO_PYTHON:-python3}" -m ottodeploy.demo.daemon start'
START_NODE = f"""#!/usr/bin/env bash
# Node 1 starts the metagraph; the others start on their own ports and join it, as the
# real start order does. Every node runs the files of the image it is given, by digest.
set -euo pipefail
. "ports/$OTTO_ENV.env"
PY="${{OTTO_DEMO_PYTHON:-python3}}"
PORT_VAR="NODE${{OTTO_NODE_INDEX}}_PORT"
PORT="${{!PORT_VAR}}"
echo "node $OTTO_NODE_INDEX ($OTTO_HOST) on port $PORT: $OTTO_IMAGE"
JOIN=()
if [ "$OTTO_NODE_INDEX" != 1 ]; then JOIN=(--join "http://127.0.0.1:$NODE1_PORT"); fi
{DAEMON} "$OTTO_HOST" --run-dir "run/$OTTO_ENV" --health "http://127.0.0.1:$PORT/node/info" \\
  -- "$PY" "$OTTO_OUT_IMAGE/node.py" --port "$PORT" --node "$OTTO_HOST" \\
  --version "$OTTO_VERSION" "${{JOIN[@]}}"
"""

START_SERVICES = f"""#!/usr/bin/env bash
set -euo pipefail
. "ports/$OTTO_ENV.env"
echo "services $OTTO_VERSION ($OTTO_SHORT_SHA): $OTTO_IMAGE"
{DAEMON} services --run-dir "run/$OTTO_ENV" --health "http://127.0.0.1:$SERVICES_PORT/health" \\
  -- "${{OTTO_DEMO_PYTHON:-python3}}" "$OTTO_OUT_IMAGE/server.py" --port "$SERVICES_PORT" \\
  --commit "$OTTO_SHA" --version "$OTTO_VERSION"
"""

START_EXPLORER = f"""#!/usr/bin/env bash
set -euo pipefail
. "ports/$OTTO_ENV.env"
echo "explorer $OTTO_VERSION: $OTTO_IMAGE"
{DAEMON} explorer --run-dir "run/$OTTO_ENV" --health "http://127.0.0.1:$EXPLORER_PORT/" \\
  -- "${{OTTO_DEMO_PYTHON:-python3}}" -m http.server "$EXPLORER_PORT" --bind 127.0.0.1 \\
  --directory "$OTTO_OUT_IMAGE"
"""

E2E = """#!/usr/bin/env python3
\"\"\"End to end: the services answer with the locked commit, and the cluster has three nodes.\"\"\"
import json, os, urllib.request

env_file = f"ports/{os.environ['OTTO_ENV']}.env"
ports = dict(line.split("=", 1) for line in open(env_file).read().split())
version = json.load(urllib.request.urlopen(f"http://127.0.0.1:{ports['SERVICES_PORT']}/version"))
assert version["commit"] == os.environ["OTTO_SERVICES_SHA"], version
cluster = json.load(urllib.request.urlopen(f"http://127.0.0.1:{ports['NODE1_PORT']}/cluster/info"))
assert len(cluster) == 3, cluster
print(f"services {version['version']} at {version['commit'][:7]}; cluster of {len(cluster)}")
"""


# the deploy repo's doors (the project's dodo.py and tasks/__init__.py), for the sandbox
DODO_DOOR = '''"""doit entry point of the demo sandbox: ``doit list env=demo``."""

from pathlib import Path

from ottodeploy.cli.dodo import dodo_namespace

globals().update(dodo_namespace(Path(__file__).resolve().parent))
'''
TASKS_DOOR = '''"""The invoke collection ``ns`` of the demo sandbox (``inv status``)."""

from pathlib import Path

from ottodeploy.cli.tasks import collection

ns = collection(Path(__file__).resolve().parent.parent)
'''


@dataclass(frozen=True)
class Sandbox:
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "deploy"

    def work(self, name: str) -> Path:
        return self.base / "work" / name

    def run_dirs(self) -> list[Path]:
        return [self.root / "run" / env for env in ("demo", "beta")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write(base: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def commit(work: Path, message: str, files: Mapping[str, str] | None = None,
           branch: str | None = None) -> str:
    """Commit ``files`` in a work clone (on ``branch``) and push; returns the new SHA."""
    if branch:
        git(["checkout", "--quiet", branch], cwd=work, env=IDENTITY)
    _write(work, files or {})
    git(["add", "-A"], cwd=work, env=IDENTITY)
    git(["commit", "--quiet", "--allow-empty", "-m", message], cwd=work, env=IDENTITY)
    if (work / ".git").is_dir() and git(["remote"], cwd=work).stdout.strip():
        git(["push", "--quiet", "origin", "HEAD"], cwd=work, env=IDENTITY)
    return git(["rev-parse", "HEAD"], cwd=work).stdout.strip()


def _repo(sandbox: Sandbox, name: str) -> None:
    remote = sandbox.base / "repos" / f"{name}.git"
    work = sandbox.work(name)
    git(["init", "--quiet", "--bare", "--initial-branch=main", str(remote)], env=IDENTITY)
    git(["init", "--quiet", "--initial-branch=main", str(work)], env=IDENTITY)
    git(["remote", "add", "origin", str(remote)], cwd=work)
    commit(work, f"feat: {name} as released", REPOS[name])
    for tag in RELEASES[name]:
        git(["tag", "-a", tag, "-m", f"release {tag}"], cwd=work, env=IDENTITY)
    git(["push", "--quiet", "origin", "--tags"], cwd=work, env=IDENTITY)
    git(["checkout", "--quiet", "-b", "develop"], cwd=work)
    if name in ("ottochain", "sdk", "services"):
        commit(work, f"feat: {name} work in progress on develop",
               {"CHANGELOG.md": f"# {name}\n\n- unreleased work\n"})
    else:
        git(["push", "--quiet", "origin", "develop"], cwd=work, env=IDENTITY)


def create(base: Path) -> Sandbox:
    """A fresh sandbox under ``base`` (which must not exist)."""
    sandbox = Sandbox(base)
    for name in REPOS:
        _repo(sandbox, name)
    ports = {env: {"NODE1_PORT": free_port(), "NODE2_PORT": free_port(),
                   "NODE3_PORT": free_port(), "SERVICES_PORT": free_port(),
                   "EXPLORER_PORT": free_port()} for env in ("demo", "beta")}
    files = {
        "manifests/components.yaml": COMPONENTS,
        "manifests/compatibility.yaml": COMPATIBILITY,
        "deploy/start-node.sh": START_NODE,
        "deploy/start-services.sh": START_SERVICES,
        "deploy/start-explorer.sh": START_EXPLORER,
        "deploy/e2e.py": E2E,
        "lockfiles/.gitkeep": "",
        "dodo.py": DODO_DOOR,
        "tasks/__init__.py": TASKS_DOOR,
        ".gitignore": ".ottodeploy/\nrun/\n__pycache__/\n",
    }
    purposes = {"demo": "the sandbox's scratch: follows develop",
                "beta": "receives promotions from demo"}
    for env, p in ports.items():
        files[f"ports/{env}.env"] = "".join(f"{k}={v}\n" for k, v in p.items())
        files[f"manifests/environments/{env}.yaml"] = ENVIRONMENT.format(
            name=env, purpose=purposes[env], node1=p["NODE1_PORT"], node2=p["NODE2_PORT"],
            node3=p["NODE3_PORT"], services=p["SERVICES_PORT"], explorer=p["EXPLORER_PORT"],
            py=PY, approval="true" if env == "beta" else "false")
    _write(sandbox.root, files)
    git(["init", "--quiet", "--initial-branch=main", str(sandbox.root)], env=IDENTITY)
    commit(sandbox.root, "chore: the demo deploy repo")
    return sandbox
