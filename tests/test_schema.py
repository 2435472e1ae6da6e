"""The JSON Schemas in ``schema/``: up to date with the models, and right about real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ottodeploy.flows.schema import SCHEMAS, write_schemas
from ottodeploy.yamlfile import load
from tests.ecosystem import BRANCH_ENV, COMPATIBILITY, COMPONENTS, NAMES, VERSION_ENV

PROJECT = Path(__file__).resolve().parent.parent
COMMITTED = PROJECT / "schema"
INVALID = Path(__file__).parent / "manifests" / "invalid"

LOCKFILE = """\
timestamp: 2026-02-10T14:23:07Z
environment: scratch
status: healthy
mode: branch
sources:
  ottochain:
    repo: scasplte2/ottochain
    ref: develop
    sha: 9c6f98eccd2496a530e745e16e113dc0504c621e
    version: 0.6.2-dev.3
artifacts:
  ottochain_image: ghcr.io/scasplte2/ottochain-metagraph:develop-mno345p
tests: {smoke: passed, e2e: passed}
build_keys: {ottochain_image: 0f3a9c}
"""
HOSTS = """\
hosts:
  node1: {address: 10.0.0.1, user: deploy, port: 2222, key: ~/.ssh/id_ed25519}
  services-scratch: {address: 10.0.0.9}
"""
# a branch environment using every optional part of the file
FULL_ENV = """\
name: scratch
mode: branch
auto_deploy: true
approval_required: false
description: rapid iteration
sources:
  tessellation: {type: upstream, repo: Constellation-Labs/tessellation, version: v4.0.0}
  metakit: {type: upstream, ref: feature/x, build_with: {tessellation: "${tessellation.ref}"}}
  ottochain: {type: core, sha: 9c6f98eccd2496a530e745e16e113dc0504c621e}
infrastructure:
  target: ssh
  cluster: hetzner-scratch
  nodes: [node1, node2, node3]
  services_host: services-scratch
  ssh: {user: deploy, port: 22, strict_host_key_checking: accept-new}
smoke:
  - {url: "http://${services_host}:4000/version", json: {commit: "${services.sha}", "peers.#": 3}}
  - {name: node, url: "http://${host}:9000/node/info", status: 200, timeout: 30}
e2e: {run: "npm run e2e", timeout: 600}
"""


def shipped_style_files(dest: Path) -> dict[str, list[Path]]:
    """The test ecosystem's manifests plus a lockfile and hosts file, by schema."""
    urls = {n: f"file:///srv/git/{n}.git" for n in NAMES}
    files = {
        "components.yaml": COMPONENTS.format(url=urls, registry="127.0.0.1:5000", cache="true"),
        "compatibility.yaml": COMPATIBILITY,
        "scratch.yaml": BRANCH_ENV.format(name="scratch"),
        "beta.yaml": BRANCH_ENV.format(name="beta"),
        "staging.yaml": VERSION_ENV.format(name="staging", approval="false"),
        "prod.yaml": VERSION_ENV.format(name="prod", approval="true"),
        "full.yaml": FULL_ENV,
        "lockfile.yaml": LOCKFILE,
        "hosts.yaml": HOSTS,
    }
    for name, text in files.items():
        (dest / name).write_text(text)
    envs = ["scratch.yaml", "beta.yaml", "staging.yaml", "prod.yaml", "full.yaml"]
    return {
        "components.schema.json": [dest / "components.yaml"],
        "environment.schema.json": [dest / n for n in envs],
        "compatibility.schema.json": [dest / "compatibility.yaml"],
        "lockfile.schema.json": [dest / "lockfile.yaml"],
        "hosts.schema.json": [dest / "hosts.yaml"],
        "events.schema.json": [],  # a real deploy's stream: tests/test_operator.py
    }


def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COMMITTED / name).read_text())
    return data


def test_committed_schemas_are_up_to_date(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "schema")
    assert [p.name for p in written] == list(SCHEMAS)
    assert sorted(p.name for p in COMMITTED.iterdir()) == sorted(SCHEMAS)
    for path in written:
        assert (COMMITTED / path.name).read_text() == path.read_text(), \
            f"schema/{path.name} is stale: run `inv schema`"


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_schemas_are_valid_json_schemas(name: str) -> None:
    body = schema(name)
    jsonschema.Draft202012Validator.check_schema(body)
    assert body["$id"] == f"urn:ottodeploy:schema:{name}"
    assert body["title"].startswith("ottodeploy ")
    # unknown keys are errors, as in the models (for the events: in every kind)
    closed = [body] if "oneOf" not in body else [body["$defs"][ref["$ref"].rsplit("/", 1)[1]]
                                                  for ref in body["oneOf"]]
    assert all(part["additionalProperties"] is False for part in closed)


def test_write_schemas_rewrites_only_what_changed(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "schema"
    write_schemas(dest)
    stale = dest / "hosts.schema.json"
    stale.write_text("{}\n")
    writes: list[str] = []
    real = Path.write_text

    def recording(self: Path, text: str, *args: Any, **kwargs: Any) -> int:
        writes.append(self.name)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", recording)
    write_schemas(dest)
    assert writes == ["hosts.schema.json"]
    assert stale.read_text() == (COMMITTED / "hosts.schema.json").read_text()


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_shipped_style_files_validate(tmp_path: Path, name: str) -> None:
    validator = jsonschema.Draft202012Validator(schema(name))
    for path in shipped_style_files(tmp_path)[name]:
        # read as the tool reads it (timestamps stay text)
        errors = [e.message for e in validator.iter_errors(load(path).data)]
        assert errors == [], (path.name, errors)


def test_check_jsonschema_cli_accepts_them(tmp_path: Path) -> None:
    # the way a user or CI would validate: check-jsonschema --schemafile
    files = shipped_style_files(tmp_path)
    for name in ["environment.schema.json", "lockfile.schema.json"]:
        done = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--schemafile", str(COMMITTED / name),
             *map(str, files[name])], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_check_jsonschema_cli_rejects_a_bad_file() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile",
         str(COMMITTED / "environment.schema.json"), str(INVALID / "env__sha_short.yaml")],
        capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "$.sources.tessellation.sha" in done.stdout


@pytest.mark.parametrize(("file", "name"), [
    # unknown keys at several levels
    ("env__unknown_key_source.yaml", "environment.schema.json"),
    ("env__unknown_key_smoke.yaml", "environment.schema.json"),
    ("components__unknown_key_artifact.yaml", "components.schema.json"),
    ("hosts__unknown_key.yaml", "hosts.schema.json"),
    # one pin per source
    ("env__ref_and_version.yaml", "environment.schema.json"),
    ("env__no_pin.yaml", "environment.schema.json"),
    # values of one field
    ("env__sha_short.yaml", "environment.schema.json"),
    ("env__ref_command_substitution.yaml", "environment.schema.json"),
    ("env__ref_leading_dash.yaml", "environment.schema.json"),
    ("env__version_banana.yaml", "environment.schema.json"),
    ("env__mode_int.yaml", "environment.schema.json"),
    ("env__smoke_status_out_of_range.yaml", "environment.schema.json"),
    ("hosts__port_out_of_range.yaml", "hosts.schema.json"),
    ("lockfile__short_sha.yaml", "lockfile.schema.json"),
    ("lockfile__local_timestamp.yaml", "lockfile.schema.json"),
    ("lockfile__bad_status.yaml", "lockfile.schema.json"),
    # names used as keys
    ("env__source_name_underscore.yaml", "environment.schema.json"),
    ("components__artifact_name_underscore.yaml", "components.schema.json"),
    # YAML 1.1 surprises: the schema sees the float too
    ("env__version_float.yaml", "environment.schema.json"),
])
def test_schemas_reject_shape_mistakes(file: str, name: str) -> None:
    validator = jsonschema.Draft202012Validator(schema(name))
    data = load(INVALID / file).data
    assert list(validator.iter_errors(data)), file
