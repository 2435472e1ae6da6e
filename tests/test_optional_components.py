"""Aliases and optional components (SPEC §3a) on the test ecosystem.

- ``aliases: [monitoring]`` on a renamed component: environments and
  compatibility.yaml may write the old name and mean the component; a
  component named twice is refused with the line of the second name.
- A ``version`` environment lists what it deploys or checks: a component nothing
  builds there may be left out, and ``inv check`` says which ranges it could not
  check. A ``branch`` environment may consume a component at a release (used,
  not built), which also frees it from that component's own upstream.
"""

from __future__ import annotations

import json
import re

import pytest

from ottodeploy import engine
from ottodeploy.aliases import rename_refs
from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from ottodeploy.environment import open_environment
from ottodeploy.reporting import Silent
from ottodeploy.root import DeployRoot
from tests.conftest import run_inv
from tests.ecosystem import Ecosystem

STAGING = "manifests/environments/staging.yaml"
SCRATCH = "manifests/environments/scratch.yaml"


def edit(eco: Ecosystem, rel: str, old: str, new: str) -> None:
    path = eco.root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new))


def rename_monitoring(eco: Ecosystem) -> None:
    """components.yaml: ``monitoring`` is now ``watchdog``, which remembers its old name."""
    edit(eco, "manifests/components.yaml", "  monitoring:\n",
         "  watchdog:\n    aliases: [monitoring]\n")


def stages(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\w+)\s+(ok|skipped|failed)", stdout, re.MULTILINE))


# --- aliases ---------------------------------------------------------------------------------


def test_an_alias_in_an_environment_means_the_component(eco: Ecosystem) -> None:
    rename_monitoring(eco)  # the environments still say `monitoring:`
    assert run_inv("check", "scratch", "--offline").code == 0
    resolved = run_inv("resolve", "scratch", "--json")
    assert resolved.code == 0, resolved
    sources = json.loads(resolved.stdout)["sources"]
    assert "watchdog" in sources
    assert "monitoring" not in sources
    assert sources["watchdog"]["repo"].endswith("monitoring.git")


def test_an_alias_in_compatibility_means_the_component(eco: Ecosystem) -> None:
    rename_monitoring(eco)
    edit(eco, "manifests/compatibility.yaml", "  explorer:\n",
         '  explorer:\n    monitoring: ">=1.0.0"\n')
    result = run_inv("check", "prod", "--offline")
    assert result.code == EXIT_FAILED, result
    assert "explorer 1.0.0 requires watchdog >=1.0.0, but watchdog is 0.1.0" in result.stderr


@pytest.mark.parametrize(("rel", "old", "new", "line", "expect"), [
    # the component by its name and by its alias in one environment
    (SCRATCH, "  monitoring: {type: ecosystem, ref: develop}\n",
     "  watchdog: {type: ecosystem, ref: develop}\n  monitoring: {ref: main}\n", 20,
     "sources.monitoring: 'monitoring' names component 'watchdog', already listed as 'watchdog'"),
    # one component constrained twice in compatibility.yaml, once through its alias
    ("manifests/compatibility.yaml", "  explorer:\n",
     '  watchdog:\n    sdk: ">=0.1.0"\n  monitoring:\n    sdk: ">=0.2.0"\n  explorer:\n', 10,
     "compatibility.monitoring: 'monitoring' names component 'watchdog' a second time"),
    # one dependency named twice inside one range entry
    ("manifests/compatibility.yaml", "  explorer:\n",
     '  explorer:\n    watchdog: ">=0.1.0"\n    monitoring: ">=0.2.0"\n', 10,
     "compatibility.explorer.monitoring: 'monitoring' names component 'watchdog' a second time"),
])
def test_a_component_named_twice_is_refused(eco: Ecosystem, rel: str, old: str, new: str,
                                            line: int, expect: str) -> None:
    rename_monitoring(eco)
    edit(eco, rel, old, new)
    result = run_inv("check", "scratch", "--offline")
    assert result.code == EXIT_BAD_INPUT, result
    assert f"{rel}:{line}: {expect}" in result.stderr
    assert "Traceback" not in result.output


def test_references_through_an_alias_are_renamed() -> None:
    table = {"monitoring": "watchdog"}
    assert rename_refs("${monitoring.sha}-${ monitoring.ref}:${services.version}", table) \
        == "${watchdog.sha}-${ watchdog.ref}:${services.version}"
    assert rename_refs("$monitoring.sha ${monitoringx.sha}", table) \
        == "$monitoring.sha ${monitoringx.sha}"


def test_a_smoke_url_through_an_alias_checks(eco: Ecosystem) -> None:
    rename_monitoring(eco)
    edit(eco, SCRATCH, "infrastructure:",
         'smoke: [{url: "http://127.0.0.1:1/${monitoring.sha}"}]\ninfrastructure:')
    assert run_inv("check", "scratch", "--offline").code == 0


# --- optional components ---------------------------------------------------------------------


def leave_out(eco: Ecosystem, env: str, *names: str) -> None:
    path = eco.root / "manifests" / "environments" / f"{env}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines if not any(ln.startswith(f"  {n}:") for n in names)]
    assert len(kept) == len(lines) - len(names)
    path.write_text("".join(kept))


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online"])
def test_a_version_environment_may_leave_out_what_it_does_not_deploy(
        eco: Ecosystem, offline: bool) -> None:
    # ottochain depends on metakit and services on sdk; released, they need neither
    leave_out(eco, "staging", "metakit", "sdk")
    result = run_inv("check", "staging", *(["--offline"] if offline else []))
    assert result.code == 0, result
    assert stages(result.stdout)["compatibility"] == "ok"
    assert "(2 constraints checked, 2 not checked)" in result.stdout
    expected = ["sdk requires ottochain, sdk is not in staging",
                "services requires sdk, sdk is not in staging"]
    for text in expected:
        assert f"    not checked: {text}\n" in result.stdout
    data = json.loads(run_inv("check", "staging", "--offline", "--json").stdout)
    assert data["not_checked"] == expected


def test_not_checked_lists_every_range_it_skipped(eco: Ecosystem) -> None:
    leave_out(eco, "prod", "sdk", "services")
    data = json.loads(run_inv("check", "prod", "--offline", "--json").stdout)
    assert data["ok"] is True
    assert data["not_checked"] == [
        "sdk requires ottochain, sdk is not in prod",
        "services requires sdk, services and sdk are not in prod",
        "services requires ottochain, services is not in prod",
        "explorer requires services, services is not in prod",
    ]
    assert data["details"]["compatibility"] == "0 constraints checked, 4 not checked"


def test_a_range_left_unchecked_is_not_a_pass(eco: Ecosystem) -> None:
    # the one range still checkable keeps failing: leaving things out hides nothing else
    leave_out(eco, "staging", "sdk")
    edit(eco, STAGING, "ottochain: {type: core, version: v0.6.1}",
         "ottochain: {type: core, version: v1.0.0}")
    result = run_inv("check", "staging", "--offline")
    assert result.code == EXIT_FAILED
    assert "services 1.0.0 requires ottochain >=0.5.0 <1.0.0, but ottochain is 1.0.0" \
        in result.stderr
    assert "not checked: services requires sdk, sdk is not in staging" in result.stdout


def test_a_built_source_still_needs_its_upstream(eco: Ecosystem) -> None:
    # a branch environment builds services from develop: it needs sdk in the environment
    leave_out(eco, "scratch", "sdk")
    result = run_inv("check", "scratch", "--offline")
    assert result.code == EXIT_BAD_INPUT
    assert (f"{SCRATCH}:16: sources.services: 'services' depends on 'sdk', which this "
            "environment does not list") in result.stderr


def test_a_branch_environment_consumes_a_component_at_a_release(eco: Ecosystem) -> None:
    # sdk is taken at its release 0.3.0 (the team takes it from npm); services and explorer
    # are built from develop; ottochain and its upstream are not needed at all
    path = eco.root / SCRATCH
    path.write_text("""\
name: scratch
mode: branch
sources:
  sdk: {type: ecosystem, version: v0.3.0}
  services: {type: ecosystem, ref: develop}
  explorer: {type: ecosystem, ref: develop}
infrastructure: {target: local}
""")
    assert run_inv("check", "scratch", "--offline").code == 0
    assert run_inv("check", "scratch").code == 0
    eco.clear_log()
    cascade = open_environment(DeployRoot.locate(eco.root), "scratch")
    assert set(cascade.specs) == {"sdk_build", "services_image", "explorer_image"}
    assert cascade.specs["sdk_build"].released
    assert engine.run(cascade, [], Silent()).code == 0
    assert eco.built() == ["services_image", "explorer_image"]
    (services,) = [r for r in eco.records() if r["task"] == "services_image"]
    assert services["env"]["OTTO_DEP_SDK_VERSION"] == "0.3.0"
    assert services["env"]["OTTO_DEP_SDK_SHA"] == eco.repos["sdk"].rev("v0.3.0^{commit}")
    assert not any(k.startswith("OTTO_DEP_OTTOCHAIN") for k in services["env"])
