"""``inv import PATH [--dry-run] [--json]`` on checkouts written in the team's shapes.

The promise (SPEC §3a): the manifests written pass ``inv check --offline``, version
environments pin versions.yaml's versions, comments on kept keys survive, every
thing that could not be mapped is reported with its file and line (nothing is
dropped silently), ``--dry-run`` writes nothing, a second import changes nothing,
and bad input exits 2 naming file and line, with nothing written.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ottodeploy.core.errors import EXIT_BAD_INPUT
from tests.conftest import PROJECT, Result, run_inv
from tests.teamfixtures import COMPONENTS, TEAM, TODAY, write_checkout

ENVS = ("scratch", "beta", "staging", "prod")
ALIASES = {"monitoring": "watchdog"}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deploy root with components.yaml only (no manifests to keep anything from)."""
    dest = tmp_path / "deploy"
    (dest / "manifests").mkdir(parents=True)
    (dest / "lockfiles").mkdir()
    (dest / "manifests" / "components.yaml").write_text(COMPONENTS)
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(dest))
    return dest


@pytest.fixture
def team(tmp_path: Path) -> Path:
    return write_checkout(tmp_path / "team", TEAM)


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and its mtime in nanoseconds."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line holding ``needle`` (below ``after``'s line)."""
    lines = text.splitlines()
    start = line_of(text, after) if after else 0
    return next(i for i, ln in enumerate(lines[start:], start + 1) if needle in ln)


def manifest(root: Path, env: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (root / "manifests" / "environments" / f"{env}.yaml").read_text())
    return data


def released(files: dict[str, str]) -> dict[str, str]:
    comps = yaml.safe_load(files["versions.yaml"])["components"]
    return {ALIASES.get(k, k): str(v["version"]) for k, v in comps.items() if v.get("version")}


def findings(result: Result) -> list[dict[str, Any]]:
    data = json.loads(result.stdout)
    return list(data["needs_a_human"])


def do_import(team: Path, *args: str) -> Result:
    result = run_inv("import", str(team), *args)
    assert "Traceback" not in result.output
    return result


# --- the written manifests -------------------------------------------------------------------


def test_import_writes_manifests_that_pass_check(root: Path, team: Path) -> None:
    result = do_import(team)
    assert result.code == 0, result
    for env in ENVS:
        checked = run_inv("check", env, "--offline")
        assert checked.code == 0, (env, checked)
    versions = released(TEAM)
    for env in ("staging", "prod"):
        data = manifest(root, env)
        assert data["mode"] == "version"
        pins = {n: s["version"] for n, s in data["sources"].items()}
        assert pins == {n: versions[n] for n in pins}, env
    assert set(manifest(root, "staging")["sources"]) == {
        "tessellation", "ottochain", "services", "explorer", "watchdog"}
    # metakit has no release in versions.yaml: left out of prod (not pinned to anything)
    assert "metakit" not in manifest(root, "prod")["sources"]
    assert manifest(root, "prod")["approval_required"] is True
    scratch = manifest(root, "scratch")
    assert scratch["mode"] == "branch"
    assert scratch["sources"]["ottochain"]["ref"] == "develop"
    # renamed component under its new name; the sdk services need, at its release
    assert "monitoring" not in scratch["sources"]
    assert scratch["sources"]["watchdog"]["ref"] == "develop"
    assert scratch["sources"]["sdk"] == {"version": "1.4.0"}
    assert list(scratch["sources"]).index("sdk") < list(scratch["sources"]).index("services")
    compat = yaml.safe_load((root / "manifests" / "compatibility.yaml").read_text())
    assert compat == {"compatibility": {
        "sdk": {"ottochain": ">=0.5.0 <1.0.0"},
        "services": {"sdk": ">=1.0.0", "ottochain": ">=0.7.0 <1.0.0"},
        "explorer": {"services": ">=1.0.0 <2.0.0"}}}


def test_check_says_what_it_did_not_check(root: Path, team: Path) -> None:
    assert do_import(team).code == 0
    checked = run_inv("check", "staging", "--offline")
    assert checked.code == 0
    assert "not checked: services requires sdk, sdk is not in staging" in checked.stdout


def expected_findings() -> set[tuple[str, int | None, str]]:
    s, b, st, p = (TEAM[f"environments/{e}.yaml"] for e in ENVS)
    v, c = TEAM["versions.yaml"], TEAM["compatibility.yaml"]
    return {
        ("environments/scratch.yaml", 2, "infrastructure"),
        ("environments/scratch.yaml", line_of(s, "  services:"), "sources.services"),
        ("environments/scratch.yaml", line_of(s, "ottochain-monitoring"),
         "sources.monitoring.repo"),
        ("environments/beta.yaml", 1, "infrastructure"),
        ("environments/beta.yaml", line_of(b, "notify:"), "notify"),
        ("environments/beta.yaml", line_of(b, "path: packages"), "sources.services.path"),
        ("environments/beta.yaml", line_of(b, "bridge:"), "sources.bridge"),
        ("environments/beta.yaml", line_of(b, "type: frontend"), "sources.explorer.type"),
        ("environments/staging.yaml", 2, "infrastructure"),
        ("environments/staging.yaml", line_of(st, "  bridge:"), "sources.bridge"),
        ("environments/prod.yaml", 2, "infrastructure"),
        ("environments/prod.yaml", line_of(p, "  metakit:"), "sources.metakit"),
        ("versions.yaml", line_of(v, "  sdk:"), "components.sdk"),
        ("versions.yaml", line_of(v, "ottochain-monitoring"), "components.monitoring.repo"),
        ("versions.yaml", line_of(v, "  bridge:"), "components.bridge"),
        ("versions.yaml", line_of(v, "monitoring_tools:"), "monitoring_tools"),
        ("versions.yaml", line_of(v, "cluster: hetzner"), "environments.scratch.cluster"),
        ("versions.yaml", line_of(v, "  scratch:", after="deployed:"), "deployed.scratch"),
        ("compatibility.yaml", line_of(c, "  ottochain:"), "components.ottochain"),
        ("compatibility.yaml", line_of(c, "  bridge:"), "components.bridge"),
        ("compatibility.yaml", line_of(c, "policy:"), "policy"),
    }


def test_everything_unmappable_is_reported_with_file_and_line(root: Path, team: Path) -> None:
    result = do_import(team, "--json")
    assert result.code == 0, result
    found = findings(result)
    assert {(f["file"], f["line"], f["key"]) for f in found} == expected_findings()
    assert len(found) == len(expected_findings())  # each once
    assert all(f["message"] for f in found)
    by_key = {f["key"]: f["message"] for f in found}
    assert "added sdk at its release 1.4.0" in by_key["sources.services"]
    assert "0.7.16-dev.4" in by_key["deployed.scratch"]
    assert "package, registry" in by_key["components.sdk"]
    # the console report carries the same items, one per line, with file:line
    text = do_import(team, "--dry-run").stdout
    assert f"needs a human ({len(found)}):" in text
    for file, line, key in expected_findings():
        assert re.search(rf"^  {re.escape(file)}:{line}: {re.escape(key)}: ", text, re.MULTILINE)


@pytest.mark.parametrize(("rel", "anchor", "insert"), [
    # a top-level key of an environment
    ("environments/prod.yaml", "auto_deploy: false", "frobnicate: 1"),
    # a field of one source
    ("environments/staging.yaml", "    ref: main  # the metagraph", "    frobnicate: 1"),
    # a section of versions.yaml
    ("versions.yaml", "deployed:", "frobnicate: {a: 1}"),
    # a field of one component in versions.yaml
    ("versions.yaml", '    version: "0.9.0"', "    frobnicate: 1"),
    # a per-environment setting in versions.yaml
    ("versions.yaml", "    cluster: null", "    frobnicate: 1"),
    # a top-level key of compatibility.yaml
    ("compatibility.yaml", "components:", "frobnicate: 1"),
    # a field of one component in compatibility.yaml
    ("compatibility.yaml", '    requires:\n      services: ">=1.0.0 <2.0.0"', "    frobnicate: 1"),
])
def test_an_unknown_key_anywhere_is_reported_at_its_line(root: Path, tmp_path: Path, rel: str,
                                                         anchor: str, insert: str) -> None:
    text = TEAM[rel]
    assert text.count(anchor) == 1
    changed = text.replace(anchor, f"{insert}\n{anchor}")
    team = write_checkout(tmp_path / "team", {**TEAM, rel: changed})
    result = do_import(team, "--json")
    assert result.code == 0, result
    line = line_of(changed, insert)
    hits = [f for f in findings(result) if f["file"] == rel and f["line"] == line]
    assert hits, findings(result)
    assert any("frobnicate" in f["key"] + f["message"] for f in hits)
    written = "".join(p.read_text() for p in (root / "manifests").rglob("*.yaml"))
    assert "frobnicate" not in written


def test_comments_on_kept_keys_survive(root: Path, team: Path) -> None:
    assert do_import(team).code == 0
    envs = root / "manifests" / "environments"
    scratch = (envs / "scratch.yaml").read_text()
    assert scratch.startswith("# Scratch - rapid iteration\n# Hosts: SCRATCH_INFRASTRUCTURE")
    assert "    ref: main  # or a custom branch\n" in scratch
    assert "  # the metagraph, from its integration branch\n  ottochain:\n" in scratch
    staging = (envs / "staging.yaml").read_text()
    # the ref became a version pin; its comment went with it
    assert "    version: 0.7.16  # the metagraph release\n" in staging
    # the comment above services survives the removal of bridge, the key above it
    assert "  # services: bridge, gateway, indexer, monitor\n  services:\n" in staging
    prod = (envs / "prod.yaml").read_text()
    assert "approval_required: true  # two maintainers\n" in prod
    compat = (root / "manifests" / "compatibility.yaml").read_text()
    assert compat.startswith("# Compatibility matrix\n")
    assert '    # through the sdk\n    sdk: ">=1.0.0"\n' in compat
    assert '    ottochain: ">=0.7.0 <1.0.0"  # snapshot format\n' in compat


def test_what_only_this_tool_knows_is_kept(root: Path, team: Path) -> None:
    (root / "manifests" / "environments").mkdir()
    (root / "manifests" / "environments" / "scratch.yaml").write_text("""\
name: scratch
mode: branch
sources:
  tessellation: {ref: main}
  metakit:
    ref: main
    build_with:
      tessellation: ${tessellation.ref}  # the environment's own tessellation
  ottochain: {ref: develop}
infrastructure:
  cluster: hetzner
  nodes: [node1, node2, node3]
  services_host: services
smoke:
  # the metagraph answers
  - {name: gl0, url: "http://${host}:9000/node/info", json: {state: Ready}}
""")
    result = do_import(team, "--json")
    assert result.code == 0, result
    scratch = manifest(root, "scratch")
    assert scratch["infrastructure"]["nodes"] == ["node1", "node2", "node3"]
    assert scratch["smoke"][0]["name"] == "gl0"
    assert scratch["sources"]["metakit"]["build_with"] == {"tessellation": "${tessellation.ref}"}
    text = (root / "manifests" / "environments" / "scratch.yaml").read_text()
    assert "tessellation: ${tessellation.ref}  # the environment's own tessellation\n" in text
    assert "  # the metagraph answers\n  - {name: gl0," in text
    hosts = [f for f in findings(result)
             if f["file"] == "environments/scratch.yaml" and f["key"] == "infrastructure"]
    assert "kept infrastructure from manifests/environments/scratch.yaml" in hosts[0]["message"]
    # the cluster now matches versions.yaml's: no finding for it
    assert not [f for f in findings(result) if f["key"] == "environments.scratch.cluster"]
    assert run_inv("check", "scratch", "--offline").code == 0
    before = files_of(root)
    assert do_import(team).code == 0
    assert files_of(root) == before


def test_values_of_unknown_fields_are_not_echoed(root: Path, tmp_path: Path) -> None:
    secret = "ghp_" + "x9" * 18
    files = {**TEAM,
             "environments/beta.yaml": TEAM["environments/beta.yaml"].replace(
                 "    path: packages/gateway", f"    token: {secret}"),
             "versions.yaml": TEAM["versions.yaml"] + f"infra:\n  postgres_password: {secret}\n"}
    team = write_checkout(tmp_path / "team", files)
    for args in ((), ("--json",), ("--dry-run",)):
        result = do_import(team, *args)
        assert result.code == 0
        assert secret not in result.output
    assert "sources.services.token" in do_import(team).stdout
    assert "(postgres_password)" in do_import(team).stdout
    written = "".join(p.read_text() for p in (root / "manifests").rglob("*.yaml"))
    assert secret not in written


def test_an_existing_manifest_that_does_not_parse_exits_2(root: Path, team: Path) -> None:
    envs = root / "manifests" / "environments"
    envs.mkdir()
    (envs / "prod.yaml").write_text("name: prod\nmode: version\nsources: {a: [}\n")
    before = files_of(root)
    result = run_inv("import", str(team))
    assert result.code == EXIT_BAD_INPUT
    assert "manifests/environments/prod.yaml:3: YAML syntax error" in result.stderr
    assert files_of(root) == before


# --- dry run, idempotence, JSON --------------------------------------------------------------


def test_dry_run_writes_nothing_and_prints_the_diff(root: Path, team: Path,
                                                    tmp_path: Path) -> None:
    assert do_import(team).code == 0
    edited = TEAM["versions.yaml"].replace('version: "1.0.3"', 'version: "1.0.4"')
    (team / "versions.yaml").write_text(edited)
    (root / "manifests" / "environments" / "beta.yaml").unlink()
    before = files_of(root)
    shutil.copytree(root, tmp_path / "copy")
    result = do_import(team, "--dry-run")
    assert result.code == 0, result
    assert files_of(root) == before
    assert "would change manifests/environments/staging.yaml" in result.stdout
    assert "would create manifests/environments/beta.yaml" in result.stdout
    assert "-    version: 1.0.3\n+    version: 1.0.4\n" in result.stdout
    # the printed diff is exactly what the import then writes
    diff = result.stdout[: result.stdout.index(f"import {team} -> ")]
    subprocess.run(["patch", "-s", "-p1", "-d", str(tmp_path / "copy")], input=diff,
                   text=True, check=True)
    assert do_import(team).code == 0
    assert {k: v[0] for k, v in files_of(tmp_path / "copy").items()} == \
        {k: v[0] for k, v in files_of(root).items()}
    as_json = json.loads(do_import(team, "--dry-run", "--json").stdout)
    assert as_json["dry_run"] is True
    assert as_json["diff"] == ""


def test_a_second_import_changes_nothing(root: Path, team: Path) -> None:
    first = do_import(team, "--json")
    assert first.code == 0
    assert {f["action"] for f in json.loads(first.stdout)["files"]} == {"created"}
    before = files_of(root)
    second = do_import(team, "--json")
    assert second.code == 0
    assert {f["action"] for f in json.loads(second.stdout)["files"]} == {"unchanged"}
    assert files_of(root) == before
    assert findings(second) == findings(first)


def test_json_is_one_document(root: Path, team: Path) -> None:
    result = do_import(team, "--json")
    data = json.loads(result.stdout)
    assert set(data) == {"source", "root", "dry_run", "files", "needs_a_human"}
    assert data["source"] == str(team)
    assert [f["path"] for f in data["files"]] == [
        f"manifests/environments/{e}.yaml" for e in sorted(ENVS)] + [
        "manifests/compatibility.yaml"]
    for item in data["needs_a_human"]:
        assert set(item) == {"file", "line", "key", "message"}


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("rel", "old", "new", "marker", "expect"), [
    # YAML that does not parse: where it broke, and the line of the bracket left open
    ("environments/staging.yaml", "  ottochain:\n", "  ottochain: [\n", "ottochain: [",
     "environments/staging.yaml:15: YAML syntax error: expected ',' or ']', but got ':' "
     "(while parsing a flow sequence that starts on line {line})"),
    # a mode the team never had
    ("environments/beta.yaml", "mode: branch", "mode: canary", "mode: canary",
     "environments/beta.yaml:{line}: mode: mode 'canary' is not one of"),
    # a ref that would reach git as a command
    ("environments/scratch.yaml", "ref: develop\n\n  services", 'ref: "develop;id"\n\n  services',
     "develop;id", "environments/scratch.yaml:{line}: sources.ottochain.ref: ref 'develop;id'"),
    # two pins on one source
    ("environments/prod.yaml", "    ref: main\n  services",
     "    ref: main\n    sha: abc\n  services", "  ottochain:",
     "environments/prod.yaml:{line}: sources.ottochain: a source names one of ref, version"),
    # a version that is not one
    ("versions.yaml", 'version: "0.9.0"', 'version: "banana"', "banana",
     "versions.yaml:{line}: components.explorer.version: 'banana' is not a semantic version"),
    # a number where a version string belongs (YAML read 1.10 as 1.1)
    ("versions.yaml", 'version: "0.9.0"', "version: 1.10", "version: 1.10",
     'versions.yaml:{line}: components.explorer.version: expected a string, got a float 1.1 '
     '(quote it: "1.10")'),
    # a range that does not parse
    ("compatibility.yaml", 'services: ">=1.0.0 <2.0.0"', 'services: ">=1.0.0 <<2"', "<<2",
     "compatibility.yaml:{line}: components.explorer.requires.services: "),
    # requires as a list
    ("compatibility.yaml", '    requires:\n      services: ">=1.0.0 <2.0.0"',
     '    requires: [services]', "requires: [services]",
     "compatibility.yaml:{line}: components.explorer.requires: expected a mapping"),
    # a boolean written as a word YAML 1.2 does not know
    ("environments/prod.yaml", "requires_approval: true", "requires_approval: yes please",
     "yes please", "environments/prod.yaml:{line}: requires_approval: expected true or false"),
])
def test_bad_input_exits_2_naming_file_and_line(root: Path, tmp_path: Path, rel: str, old: str,
                                                new: str, marker: str, expect: str) -> None:
    text = TEAM[rel]
    assert text.count(old) == 1
    changed = text.replace(old, new)
    team = write_checkout(tmp_path / "team", {**TEAM, rel: changed})
    line = line_of(changed, marker)
    (root / "manifests" / "compatibility.yaml").write_text("compatibility: {}\n")
    before = files_of(root)
    result = run_inv("import", str(team))
    assert result.code == EXIT_BAD_INPUT, result
    assert expect.format(line=line) in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert files_of(root) == before


@pytest.mark.parametrize(("files", "expect"), [
    # no environments/ at all: not a checkout of the deploy repo
    ({"versions.yaml": TEAM["versions.yaml"]}, "has no environments/*.yaml"),
    # release environments but no versions.yaml to pin them with
    ({k: v for k, v in TEAM.items() if k != "versions.yaml"}, "versions.yaml is missing"),
    # an environment file that is a list
    ({**TEAM, "environments/qa.yaml": "- name: qa\n"},
     "environments/qa.yaml: expected a mapping at the top, got a list"),
])
def test_a_checkout_that_is_not_one_exits_2(root: Path, tmp_path: Path, files: dict[str, str],
                                            expect: str) -> None:
    team = write_checkout(tmp_path / "team", files)
    before = files_of(root)
    result = run_inv("import", str(team))
    assert result.code == EXIT_BAD_INPUT, result
    assert expect in result.stderr
    assert "Traceback" not in result.output
    assert files_of(root) == before


def test_a_file_that_is_not_utf8_exits_2(root: Path, team: Path) -> None:
    (team / "versions.yaml").write_bytes(b"components:\n  sdk: {version: caf\xe9}\n")
    result = run_inv("import", str(team))
    assert result.code == EXIT_BAD_INPUT
    assert "versions.yaml:2: is not UTF-8 text" in result.stderr
    assert not (root / "manifests" / "environments").exists()


# --- robustness ------------------------------------------------------------------------------


def test_shapes_the_snapshot_never_had_are_reported_not_fatal(root: Path,
                                                              tmp_path: Path) -> None:
    files = {
        # an environment without sources, with a key of a later version of their files
        "environments/qa.yaml": "name: qa\nmode: branch\nhooks: [notify]\n",
        # a release environment whose component has no version, and a source with no pin
        "environments/staging.yaml": "name: stage\nmode: release\nsources:\n"
                                     "  explorer: {type: ecosystem}\n"
                                     "  watchdog: {type: ecosystem, ref: main}\n"
                                     "  sdk: {repo: ottobot-ai/ottochain-sdk}\n",
        "environments/Bad_Name.yaml": "name: bad\nmode: branch\n",
        "versions.yaml": "schema: 2\ncomponents:\n"
                         "  explorer: {version: 0.9.0, channels: [stable]}\n"
                         "  watchdog: {version: ''}\n  indexer: null\n"
                         "deployed: {qa: {explorer: 0.9.0}, canary: {explorer: 0.8.0}}\n",
        "compatibility.yaml": "components: {explorer: {requires: {services: '>=1', "
                              "indexer: '*', explorer: '*'}}}\n",
    }
    team = write_checkout(tmp_path / "team", files)
    result = do_import(team, "--json")
    assert result.code == 0, result
    keys = {(f["file"], f["key"]) for f in findings(result)}
    assert {("environments/qa.yaml", "hooks"),
            ("environments/staging.yaml", "name"),
            ("environments/staging.yaml", "sources.watchdog"),
            ("environments/staging.yaml", "sources.sdk"),
            ("environments/Bad_Name.yaml", ""),
            ("versions.yaml", "schema"),
            ("versions.yaml", "components.explorer.channels"),
            ("versions.yaml", "components.watchdog"),
            ("versions.yaml", "components.indexer"),
            ("versions.yaml", "deployed.qa"),
            ("versions.yaml", "deployed.canary"),
            ("compatibility.yaml", "components.explorer.requires.indexer"),
            ("compatibility.yaml", "components.explorer.requires.explorer")} <= keys
    staging = manifest(root, "staging")
    assert staging["name"] == "staging"
    assert staging["sources"] == {"explorer": {"type": "ecosystem", "version": "0.9.0"}}
    assert run_inv("check", "qa", "--offline").code == 0
    assert run_inv("check", "staging", "--offline").code == 0


# --- today's repository and the shipped manifests --------------------------------------------


TODAY_VERSIONS = {"ottochain": "0.7.16", "services": "1.0.3", "explorer": "0.9.0",
                  "watchdog": "1.5.0", "tessellation": "4.0.0-rc.10"}


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deploy root holding a copy of the manifests this project ships."""
    dest = tmp_path / "shipped"
    shutil.copytree(PROJECT / "manifests", dest / "manifests")
    (dest / "lockfiles").mkdir()
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(dest))
    return dest


def test_the_shipped_manifests_describe_today(shipped: Path) -> None:
    assert released(TODAY) == TODAY_VERSIONS
    for env in ENVS:
        checked = run_inv("check", env, "--offline")
        assert checked.code == 0, (env, checked)
    for env in ("staging", "prod"):
        sources = manifest(shipped, env)["sources"]
        assert {n: s["version"] for n, s in sources.items()} == TODAY_VERSIONS
    assert manifest(shipped, "prod")["approval_required"] is True
    assert [manifest(shipped, e)["auto_deploy"] for e in ENVS] == [True, True, False, False]
    assert [manifest(shipped, e)["mode"] for e in ENVS] == ["branch", "branch", "version",
                                                            "version"]


def test_importing_today_into_the_shipped_manifests(shipped: Path, tmp_path: Path) -> None:
    team = write_checkout(tmp_path / "team", TODAY)
    result = do_import(team, "--json")
    assert result.code == 0, result
    for env in ENVS:
        checked = run_inv("check", env, "--offline")
        assert checked.code == 0, (env, checked)
    for env in ("beta", "staging", "prod"):
        sources = manifest(shipped, env)["sources"]
        assert {n: s["version"] for n, s in sources.items()} == TODAY_VERSIONS
    prod = run_inv("check", "prod", "--offline")
    assert "not checked: services requires sdk, sdk is not in prod" in prod.stdout
    # scratch builds from branches: what ottochain and services need comes from the
    # shipped scratch, and says so
    scratch = manifest(shipped, "scratch")["sources"]
    assert scratch["metakit"]["ref"] == "main"
    assert scratch["sdk"]["ref"] == "develop"
    messages = {(f["file"], f["key"]): f["message"] for f in findings(result)}
    assert "kept sources.metakit from manifests/environments/scratch.yaml" in \
        messages[("environments/scratch.yaml", "sources.ottochain")]
    assert "kept sources.sdk from manifests/environments/scratch.yaml" in \
        messages[("environments/scratch.yaml", "sources.services")]
    assert "0.7.16" in messages[("versions.yaml", "deployed.scratch")]
    again = do_import(team, "--json")
    assert {f["action"] for f in json.loads(again.stdout)["files"]} == {"unchanged"}
