"""The fingerprint of one environment's deploy definition (``ottodeploy.definition``).

Each case changes one file of a small deploy root and says whether prod's fingerprint
must follow: what prod's deploy reads moves it, what it does not read leaves it alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ottodeploy.definition import definition_digest, definition_files
from ottodeploy.manifests import load_components
from ottodeploy.root import DeployRoot

FILES = {
    "manifests/components.yaml": """\
components:
  app:
    repo: owner/app
    artifacts:
      image: {run: "true"}
    deploy: {on: nodes, run: "sh deploy/run.sh", files: [compose/app.yml]}
""",
    "manifests/compatibility.yaml": "compatibility: {}\n",
    "manifests/environments/prod.yaml": "name: prod\nmode: version\nsources:\n"
                                        "  app: {version: 1.0.0}\n",
    "manifests/environments/beta.yaml": "name: beta\nmode: branch\nsources:\n"
                                        "  app: {ref: develop}\n",
    "manifests/approvers": "alice@example.invalid ssh-ed25519 AAAA\n",
    "deploy/run.sh": "echo deploying\n",
    "scripts/deploy-from-lockfile.sh": "inv deploy-lockfile \"$1\"\n",
    "compose/app.yml": "services: {app: {image: app}}\n",
    "README.md": "# deploy repo\n",
}


def make_root(path: Path) -> DeployRoot:
    for rel, text in FILES.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    return DeployRoot(path)


def digest(root: DeployRoot) -> str:
    return definition_digest(root, "prod", load_components(root)[0])


@pytest.fixture
def root(tmp_path: Path) -> DeployRoot:
    return make_root(tmp_path / "deploy")


def test_the_files_of_prods_definition(root: DeployRoot) -> None:
    assert definition_files(root, "prod", load_components(root)[0]) == [
        "compose/app.yml", "deploy/run.sh", "manifests/compatibility.yaml",
        "manifests/components.yaml", "manifests/environments/prod.yaml",
        "scripts/deploy-from-lockfile.sh"]


def test_the_same_files_anywhere_give_the_same_fingerprint(root: DeployRoot,
                                                           tmp_path: Path) -> None:
    other = make_root(tmp_path / "elsewhere" / "checkout")
    assert digest(root) == digest(other)
    assert digest(root).startswith("sha256:") and len(digest(root)) == 71


@pytest.mark.parametrize(("rel", "text", "moves"), [
    ("manifests/environments/prod.yaml", "# a comment\n", True),     # its own manifest
    ("manifests/components.yaml", "# a comment\n", True),            # the cascade
    ("deploy/run.sh", "echo again\n", True),                         # a deploy script
    ("compose/app.yml", "# more\n", True),                           # a deploy.files file
    ("scripts/new.sh", "true\n", True),                              # a new file
    ("manifests/hosts.yaml", "hosts: {}\n", True),                   # addresses
    ("manifests/environments/beta.yaml", "# beta only\n", False),    # another environment
    ("manifests/environments/gamma.yaml", "name: gamma\n", False),   # a new one
    ("manifests/approvers", "bob@example.invalid ssh-ed25519 B\n", False),   # who approves
    ("README.md", "more\n", False),                                  # not read by a deploy
    ("deploy/__pycache__/x.cpython-311.pyc", "cache\n", False),      # interpreter caches
    ("lockfiles/prod-2026-01-01-0000.yaml", "x\n", False),           # the record itself
])
def test_what_moves_the_fingerprint(root: DeployRoot, rel: str, text: str,
                                    moves: bool) -> None:
    before = digest(root)
    path = root.path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(text)
    assert (digest(root) != before) is moves


def test_a_renamed_file_moves_it(root: DeployRoot) -> None:
    before = digest(root)
    shutil.move(root.path / "deploy" / "run.sh", root.path / "deploy" / "start.sh")
    assert digest(root) != before
