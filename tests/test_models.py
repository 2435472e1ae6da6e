"""The manifest models: one-of pins, mode rules, defaults, strictness."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ottodeploy.core.lockmodels import Lockfile
from ottodeploy.core.models import (
    Artifact,
    CompatibilityFile,
    Component,
    ComponentsFile,
    Deploy,
    Environment,
    Host,
    SmokeCheck,
    Source,
)
from ottodeploy.manifests import check_environment, validate
from ottodeploy.yamlfile import parse

SHA = "9c6f98eccd2496a530e745e16e113dc0504c621e"


def errors(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


# --- one pin per source ----------------------------------------------------------------------


@pytest.mark.parametrize(("data", "pin"), [
    ({"ref": "develop"}, "ref"),        # a branch
    ({"ref": "v1.0.0"}, "ref"),         # a tag
    ({"version": "0.6.1"}, "version"),  # a release
    ({"version": "v0.6.1"}, "version"),  # with v
    ({"version": "4.0.0-rc.10"}, "version"),  # a prerelease
    ({"sha": SHA}, "sha"),              # a commit
])
def test_one_pin(data: dict[str, str], pin: str) -> None:
    assert Source.model_validate(data).pin == pin


@pytest.mark.parametrize(("data", "got"), [
    ({}, "none"),                                                   # nothing
    ({"ref": "main", "version": "1.0.0"}, "ref and version"),
    ({"ref": "main", "sha": SHA}, "ref and sha"),
    ({"version": "1.0.0", "sha": SHA}, "version and sha"),
    ({"ref": "main", "version": "1.0.0", "sha": SHA}, "ref and version and sha"),
])
def test_not_exactly_one_pin(data: dict[str, str], got: str) -> None:
    [(loc, msg)] = errors(Source, data)
    assert loc == ()
    assert f"exactly one of ref, version or sha (got {got})" in msg


@pytest.mark.parametrize(("data", "loc", "text"), [
    ({"version": 1.1}, ("version",), "valid string"),          # YAML float: strict, no coercion
    ({"version": "1.2"}, ("version",), "not a semantic version"),
    ({"sha": SHA[:7]}, ("sha",), "not a full 40-hex"),
    ({"sha": SHA.upper()}, ("sha",), "lowercase"),
    ({"ref": False}, ("ref",), "valid string"),                # ref: no
    ({"ref": "$(id)"}, ("ref",), "not allowed in a ref name"),
    ({"ref": ""}, ("ref",), "at least 1 character"),
    ({"ref": "main", "repo": "-x"}, ("repo",), "must not start with '-'"),
    ({"ref": "main", "type": "fork"}, ("type",), "'upstream', 'core' or 'ecosystem'"),
    ({"ref": "main", "build_with": {"t": "${t.nope}"}}, ("build_with",), "unknown field 'nope'"),
    ({"ref": "main", "build_with": {"bad name": "x"}}, ("build_with", "bad name", "[key]"),
     "should match pattern"),
    ({"ref": "main", "branch": "x"}, ("branch",), "Extra inputs are not permitted"),
])
def test_source_values(data: dict[str, Any], loc: tuple[str, ...], text: str) -> None:
    found = errors(Source, data)
    assert any(e_loc == loc and text in msg for e_loc, msg in found), found


# --- mode rules (checked against components.yaml) --------------------------------------------

COMPONENTS = ComponentsFile.model_validate({"components": {
    "tessellation": {"repo": "o/t", "artifacts": {"publish": {"run": "make"}}},
    "metakit": {"repo": "o/m", "depends_on": ["tessellation"],
                "artifacts": {"publish": {"run": "make"}}},
}})


def env_problems(text: str) -> list[tuple[tuple[str | int, ...], str]]:
    doc = parse(text, "scratch.yaml")
    env = validate(Environment, doc)
    return [(p.path, p.message) for p in check_environment(env, doc, COMPONENTS, "scratch")]


@pytest.mark.parametrize(("mode", "pin", "ok"), [
    ("branch", "ref: main", True),          # branch mode: all three
    ("branch", "version: 4.0.0", True),     # a released upstream is used, not built
    ("branch", f"sha: {SHA}", True),
    ("version", "version: 4.0.0", True),    # version mode: versions ...
    ("version", f"sha: {SHA}", True),       # ... and SHAs (promotion with --allow-sha)
    ("version", "ref: main", False),        # but no branch
    ("version", "ref: v4.0.0", False),      # nor a tag by ref
])
def test_mode_allows(mode: str, pin: str, ok: bool) -> None:
    found = env_problems(f"name: scratch\nmode: {mode}\nsources:\n  tessellation: {{{pin}}}\n")
    if ok:
        assert found == []
    else:
        assert found == [(("sources", "tessellation", "ref"),
                          "a version environment pins sources by version or sha")]


@pytest.mark.parametrize(("sources", "problem"), [
    # build_with on a version pin has no effect
    ("  tessellation: {ref: main}\n  metakit: {version: 0.2.0, build_with: {t: x}}\n",
     (("sources", "metakit", "build_with"),
      "a source pinned by version is not built, so build_with has no effect")),
    # build_with naming a source the environment does not have
    ("  tessellation: {ref: main}\n  metakit: {ref: main, build_with: {t: '${sdk.sha}'}}\n",
     (("sources", "metakit", "build_with", "t"), "'${sdk.sha}' names unknown source 'sdk'")),
    # a dependency missing from the environment
    ("  metakit: {ref: main}\n",
     (("sources", "metakit"),
      "'metakit' depends on 'tessellation', which this environment does not list")),
    # an unknown component
    ("  tessellation: {ref: main}\n  sdk: {ref: main}\n",
     (("sources", "sdk"), "unknown component 'sdk'")),
])
def test_environment_against_components(sources: str, problem: tuple[Any, str]) -> None:
    assert env_problems(f"name: scratch\nmode: branch\nsources:\n{sources}") == [problem]


def test_build_with_on_ref_and_sha_is_fine() -> None:
    text = ("name: scratch\nmode: branch\nsources:\n  tessellation: {sha: " + SHA + "}\n"
            "  metakit: {ref: main, build_with: {tessellation: '${tessellation.ref}'}}\n")
    assert env_problems(text) == []


# --- defaults --------------------------------------------------------------------------------


def test_environment_defaults() -> None:
    env = Environment.model_validate({"name": "scratch", "mode": "branch",
                                      "sources": {"a": {"ref": "main"}}})
    assert (env.auto_deploy, env.approval_required, env.e2e, env.smoke) == (False, False, None, [])
    assert env.infrastructure.target == "ssh"
    assert env.infrastructure.nodes == []
    assert (env.infrastructure.ssh.port, env.infrastructure.ssh.strict_host_key_checking) == \
        (22, "accept-new")
    assert env.sources["a"].build_with == {}


def test_smoke_defaults_and_json_alias() -> None:
    check = SmokeCheck.model_validate({"url": "http://${host}:1/", "json": {"peers.#": 3}})
    assert (check.status, check.timeout, check.json_) == (200, 60, {"peers.#": 3})
    assert SmokeCheck.model_validate({"url": "http://x/"}).json_ == {}


def test_component_defaults() -> None:
    comp = Component.model_validate({"repo": "o/r", "artifacts": {"a": {"run": "make"}}})
    assert (comp.depends_on, comp.deploy) == ([], None)
    art = comp.artifacts["a"]
    assert (art.needs, art.outputs, art.image, art.cache) == ([], [], None, True)
    deploy = Deploy.model_validate({"run": "./up"})
    assert (deploy.on, deploy.files, deploy.remote_dir) == ("nodes", [], "/opt/ottochain")
    assert Deploy.model_validate({"on": "none"}).run is None
    assert Host.model_validate({"address": "10.0.0.1"}).port == 22


# --- strictness and other single-value rules -------------------------------------------------


@pytest.mark.parametrize(("model", "data", "loc", "text"), [
    # booleans are booleans
    (Environment, {"name": "x", "mode": "branch", "sources": {}, "auto_deploy": "true"},
     ("auto_deploy",), "valid boolean"),
    # unknown keys at the top
    (Environment, {"name": "x", "mode": "branch", "sources": {}, "auto_deploi": True},
     ("auto_deploi",), "Extra inputs"),
    # environment names
    (Environment, {"name": "Scratch", "mode": "branch", "sources": {}}, ("name",), "pattern"),
    # deploy somewhere needs a command
    (Deploy, {"on": "services_host"}, (), "deploy on 'services_host' needs a 'run' command"),
    # outputs stay in the checkout
    (Artifact, {"run": "x", "outputs": ["a/../../b"]}, ("outputs",), "relative path inside"),
    # deploy files stay in the deploy root
    (Deploy, {"run": "x", "files": ["/etc/passwd"]}, ("files",), "inside the deploy root"),
    # depends_on entries
    (Component, {"repo": "o/r", "depends_on": ["a", "a"]}, ("depends_on",), "listed twice"),
    (Component, {"repo": "o/r", "depends_on": ["A"]}, ("depends_on",), "is not 'component'"),
    # artifact names (task names must be unambiguous)
    (Component, {"repo": "o/r", "artifacts": {"a_b": {"run": "x"}}},
     ("artifacts", "a_b", "[key]"), "pattern"),
    # ranges: each one checked where it is
    (CompatibilityFile, {"compatibility": {"sdk": {"ottochain": ">=banana"}}},
     ("compatibility", "sdk", "ottochain"), "'banana' is not a version"),
    # smoke status is an HTTP status
    (SmokeCheck, {"url": "http://x/", "status": 99}, ("status",), "greater than or equal to 100"),
    # lockfiles: UTC timestamps and full SHAs
    (Lockfile, {"timestamp": "2026-02-10T14:23:07", "environment": "x", "status": "healthy",
                "sources": {}}, ("timestamp",), "is not UTC"),
    (Lockfile, {"timestamp": "2026-02-10T14:23:07Z", "environment": "x", "status": "healthy",
                "sources": {"a": {"repo": "o/r", "sha": SHA[:12]}}},
     ("sources", "a", "sha"), "pattern"),
])
def test_single_value_rules(model: type[BaseModel], data: dict[str, Any], loc: tuple[Any, ...],
                            text: str) -> None:
    found = errors(model, data)
    assert any(e_loc == loc and text in msg for e_loc, msg in found), found


def test_models_are_frozen() -> None:
    src = Source.model_validate({"ref": "main"})
    with pytest.raises(ValidationError):
        src.ref = "develop"  # type: ignore[misc]


def test_float_fields_take_integers() -> None:
    # strict mode still lets a YAML integer be a number of seconds
    assert SmokeCheck.model_validate({"url": "http://x/", "timeout": 5}).timeout == 5
