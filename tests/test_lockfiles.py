"""Lockfiles (SPEC §3, §6; DESIGN.md §6): shape, names, order, replay, rollback, status, diff.

Golden files under ``tests/golden/`` hold real outputs with what differs between runs
(SHAs, build keys, temporary paths) replaced by placeholders that say what they stand
for (``<sha:services>``, ``<key:services_image>``, ``<eco>``). Set
``OTTODEPLOY_UPDATE_GOLDEN=1`` to rewrite them from the current output, then review the
diff. Timestamps are pinned by replacing the lockfile clock; everything else is real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT, run_inv
from tests.deploykit import (
    BRANCH,
    VERSIONS,
    ServiceServer,
    configure,
    deployed,
    fixed_clock,
    lockfiles,
    read_lock,
    tips,
)
from tests.ecosystem import Ecosystem

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def server(eco: Ecosystem) -> Any:
    with ServiceServer(eco.root) as srv:
        yield srv


@pytest.fixture
def site(eco: Ecosystem, server: ServiceServer) -> Ecosystem:
    configure(eco, server.port)
    return eco


# --- helpers -----------------------------------------------------------------------------


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("OTTODEPLOY_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with OTTODEPLOY_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def normalise(text: str, eco: Ecosystem, shas: dict[str, str],
              keys: dict[str, str] | None = None) -> str:
    """Placeholders for what differs between runs; an unknown SHA or key fails the test."""
    text = text.replace(str(eco.base.resolve()), "<eco>").replace(str(eco.base), "<eco>")
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<manifest-digest>", text)
    for key, task in (keys or {}).items():
        text = text.replace(key, f"<key:{task}>")
    for sha, label in shas.items():
        text = text.replace(sha, f"<sha:{label}>")
        text = re.sub(rf"(:[a-z0-9.-]+-){sha[:7]}\b", rf"\g<1><sha7:{label}>", text)
    text = re.sub(r"^tool_version: .*$", "tool_version: <tool-version>", text, flags=re.M)
    assert not re.search(r"[0-9a-f]{40}", text), text
    return text


def sha_labels(eco: Ecosystem) -> dict[str, str]:
    return {sha: name for name, sha in tips(eco, BRANCH).items()}


def write_lock(eco: Ecosystem, name: str, *, timestamp: str, status: str = "healthy",
               environment: str = "scratch", shas: dict[str, str] | None = None,
               drop: str | None = None, **extra: Any) -> Path:
    """A lockfile written by hand with the repos' real SHAs (as a user could commit one)."""
    shas = shas or tips(eco, BRANCH)
    data = {"timestamp": timestamp, "environment": environment, "status": status,
            "sources": {n: {"repo": eco.repos[n].url, "ref": BRANCH[n], "sha": shas[n],
                            "version": VERSIONS[n]} for n in BRANCH if n != drop},
            "artifacts": {}, "tests": {"smoke": "passed"}, **extra}
    path = eco.root / "lockfiles" / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def new_files(before: list[Path], eco: Ecosystem) -> list[Path]:
    return [p for p in lockfiles(eco) if p not in before]


def services_state(eco: Ecosystem) -> str:
    state: dict[str, Any] = json.loads((eco.root / "deployed" / "services.json").read_text())
    return str(state["sha"])


# --- the lockfile, status and diff: golden files -----------------------------------------


def test_lockfile_status_and_diff_match_their_golden_files(
        site: Ecosystem, server: ServiceServer, monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    configure(eco, server.port, "beta")
    fixed_clock(monkeypatch, "2024-02-10T14:23:07Z", "2024-02-10T15:01:44Z")
    first = tips(eco, BRANCH)
    result = run_inv("deploy", "scratch")
    assert result.code == 0, result.output
    (path,) = lockfiles(eco)
    assert path.name == "scratch-2024-02-10-1423.yaml"
    lock = read_lock(path)
    keys = {key: task for task, key in lock["build_keys"].items()}
    shas = {sha: name for name, sha in first.items()}
    check_golden("lockfile-scratch.yaml", normalise(path.read_text(), eco, shas, keys))

    # beta follows the same branches; services moves on before beta deploys
    moved = eco.repos["services"].commit("feat: services change for beta", {"b.txt": "1"},
                                         branch="develop")
    result = run_inv("deploy", "beta")
    assert result.code == 0, result.output
    assert (eco.root / "lockfiles" / "beta-2024-02-10-1501.yaml").is_file()
    shas[moved] = "services-moved"

    status = run_inv("status", "--json")
    assert status.code == 0, status.output
    data = json.loads(status.stdout)           # one JSON document and nothing else
    for env in data["environments"].values():
        if "age_seconds" in env:
            assert isinstance(env["age_seconds"], int) and env["age_seconds"] >= 0
            env["age_seconds"] = "<age>"
    assert data["environments"]["scratch"]["sources"]["services"]["sha"] == first["services"]
    assert data["environments"]["beta"]["sources"]["services"]["sha"] == moved
    check_golden("status.json", normalise(json.dumps(data, indent=2) + "\n", eco, shas))

    diff = run_inv("diff", "scratch", "beta", "--json")
    assert diff.code == 0, diff.output
    data = json.loads(diff.stdout)
    same = {n for n, c in data["components"].items() if c["same"]}
    assert same == set(BRANCH) - {"services"}
    assert [c["sha"] for c in data["components"]["services"]["commits_a_to_b"]] == [moved]
    check_golden("diff-scratch-beta.json", normalise(json.dumps(data, indent=2) + "\n", eco,
                                                     shas))

    text = run_inv("diff", "scratch", "beta")
    assert text.code == 0
    assert re.search(r"services +differs +1\.0\.0 [0-9a-f]{12} -> 1\.0\.1-dev\.1 [0-9a-f]{12}",
                     text.stdout)
    assert f"in beta only: {moved[:7]} feat: services change for beta" in text.stdout


def test_status_text_and_environments_without_lockfiles(site: Ecosystem) -> None:
    write_lock(site, "scratch-2024-01-01-0000.yaml", timestamp="2024-01-01T00:00:00Z")
    result = run_inv("status")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert "beta: nothing deployed (no lockfile)" in lines
    (head,) = [ln for ln in lines if ln.startswith("scratch: ")]
    assert head.startswith("scratch: healthy since 2024-01-01T00:00:00Z (")
    assert head.endswith(" ago, scratch-2024-01-01-0000.yaml)")
    only = json.loads(run_inv("status", "--env", "beta", "--json").stdout)
    assert only == {"environments": {"beta": {"lockfile": None, "status": None,
                                               "timestamp": None, "sources": {}}}}


# --- names and order ---------------------------------------------------------------------


def test_deploys_in_one_minute_get_numbered_names_and_readers_order_by_timestamp(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    fixed_clock(monkeypatch, "2024-05-01T10:00:05Z", "2024-05-01T10:00:40Z")
    assert run_inv("deploy", "scratch").code == 0
    eco.clear_log()
    again = run_inv("deploy", "scratch")
    assert again.code == 0, again.output
    assert eco.built() == []                       # nothing changed: nothing rebuilt
    assert [p.name for p in lockfiles(eco)] == ["scratch-2024-05-01-1000-2.yaml",
                                                "scratch-2024-05-01-1000.yaml"]
    assert read_lock(eco.root / "lockfiles" / "scratch-2024-05-01-1000-2.yaml")["timestamp"] \
        == "2024-05-01T10:00:40Z"

    # a later lockfile whose name sorts first, and another environment's under scratch's name
    write_lock(eco, "scratch-2000-01-01-0000.yaml", timestamp="2024-05-01T10:01:00Z",
               status="failed", note="written by hand")
    write_lock(eco, "scratch-2099-01-01-0000.yaml", timestamp="2024-05-01T11:00:00Z",
               environment="beta")
    status = json.loads(run_inv("status", "--json").stdout)["environments"]
    assert status["scratch"]["lockfile"] == "scratch-2000-01-01-0000.yaml"
    assert status["scratch"]["status"] == "failed"
    assert status["beta"]["lockfile"] == "scratch-2099-01-01-0000.yaml"

    # rollback goes from the newest (by timestamp) to the newest healthy before it
    plan = run_inv("rollback", "scratch", "--dry-run")
    assert plan.code == 0, plan.output
    assert ("rolling scratch back from scratch-2000-01-01-0000.yaml to "
            "scratch-2024-05-01-1000-2.yaml") in plan.stdout
    assert "dry run: nothing was built, deployed or written" in plan.stdout
    assert len(lockfiles(eco)) == 4


def test_rollback_needs_an_older_healthy_lockfile(site: Ecosystem) -> None:
    none = run_inv("rollback", "scratch")
    assert none.code == 1
    assert "scratch has no lockfile" in none.stderr
    write_lock(site, "scratch-2024-01-01-0000.yaml", timestamp="2024-01-01T00:00:00Z",
               status="failed")
    write_lock(site, "scratch-2024-01-02-0000.yaml", timestamp="2024-01-02T00:00:00Z")
    write_lock(site, "beta-2023-01-01-0000.yaml", timestamp="2023-01-01T00:00:00Z",
               environment="beta")
    result = run_inv("rollback", "scratch")
    assert result.code == 1, result.output
    assert "no healthy lockfile older than scratch-2024-01-02-0000.yaml" in result.stderr
    assert deployed(site) == [] and site.built() == []


def test_rollback_skips_failed_lockfiles(site: Ecosystem) -> None:
    write_lock(site, "scratch-2024-01-01-0000.yaml", timestamp="2024-01-01T00:00:00Z")
    write_lock(site, "scratch-2024-01-02-0000.yaml", timestamp="2024-01-02T00:00:00Z",
               status="failed")
    write_lock(site, "scratch-2024-01-03-0000.yaml", timestamp="2024-01-03T00:00:00Z")
    result = run_inv("rollback", "scratch", "--dry-run")
    assert result.code == 0, result.output
    assert ("rolling scratch back from scratch-2024-01-03-0000.yaml to "
            "scratch-2024-01-01-0000.yaml") in result.stdout


# --- replay ------------------------------------------------------------------------------


def test_replay_and_rollback_after_the_branch_moved_deploy_the_locked_shas(
        site: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    eco = site
    fixed_clock(monkeypatch, "2024-06-01T09:00:00Z", "2024-06-01T10:00:00Z",
                "2024-06-01T11:00:00Z", "2024-06-01T12:00:00Z", "2024-06-01T13:00:00Z",
                "2024-06-01T14:00:00Z")
    assert run_inv("deploy", "scratch").code == 0
    (a,) = lockfiles(eco)
    locked = read_lock(a)
    old = locked["sources"]["services"]["sha"]
    new = eco.repos["services"].commit("feat: services moves on", {"m.txt": "1"},
                                       branch="develop")
    assert run_inv("deploy", "scratch").code == 0
    (b,) = new_files([a], eco)
    assert services_state(eco) == new
    # A renamed so that its name sorts after every other: only timestamps tell the order
    a = a.rename(a.with_name("scratch-2099-12-31-2359.yaml"))

    # inv deploy-lockfile A (a bare name): A's exact SHAs, although develop moved on
    before = lockfiles(eco)
    eco.clear_log()
    result = run_inv("deploy-lockfile", a.name)
    assert result.code == 0, result.output
    assert f"replaying {a.name} (healthy, {locked['timestamp']}) into scratch" in result.stdout
    assert services_state(eco) == old
    # the locked digests are still in the store: nothing is rebuilt, they are deployed (§4a)
    assert eco.built() == []
    assert "the locked sha256:" in result.stdout
    (c,) = new_files(before, eco)
    assert c.name == "scratch-2024-06-01-1100.yaml"
    replayed = read_lock(c)
    assert replayed["status"] == "healthy"
    assert replayed["replay_of"] == a.name
    assert replayed["sources"] == locked["sources"]
    assert replayed["artifacts"] == locked["artifacts"]

    # rollback: from the current lockfile (C, by timestamp) to the newest healthy before it, B
    before = lockfiles(eco)
    result = run_inv("rollback", "scratch")
    assert result.code == 0, result.output
    assert f"rolling scratch back from {c.name} to {b.name}" in result.stdout
    assert services_state(eco) == new
    (d,) = new_files(before, eco)
    assert read_lock(d)["replay_of"] == b.name
    assert read_lock(d)["sources"] == read_lock(b)["sources"]

    # the script of DESIGN.md §6, run from the deploy root with a lockfiles/ path
    before = lockfiles(eco)
    done = subprocess.run([str(PROJECT / "scripts" / "deploy-from-lockfile.sh"),
                           f"lockfiles/{a.name}"], cwd=eco.root, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"replaying {a.name}" in done.stdout
    assert services_state(eco) == old
    (e,) = new_files(before, eco)
    assert read_lock(e)["replay_of"] == a.name
    assert read_lock(e)["status"] == "healthy"
    assert read_lock(e)["sources"] == locked["sources"]

    # replaying a lockfile whose artifacts are all stored runs no recipe at all; what is
    # deployed as A says is left running (same fingerprints), --all runs every step again
    (eco.root / "deployed" / "services.json").unlink()
    eco.clear_log()
    result = run_inv("deploy-lockfile", str(a))
    assert result.code == 1                       # the unchanged services are not running
    assert "-- services: unchanged" in result.stdout
    result = run_inv("deploy-lockfile", str(a), "--all")
    assert result.code == 0, result.output
    assert eco.built() == []
    assert services_state(eco) == old


BROKEN = [
    ("sha: ", "sha: not-a-sha-", "sources.services.sha"),
    ("status: healthy", "status: great", "status"),
    ("timestamp: '2024-01-01T00:00:00Z'", "timestamp: yesterday", "timestamp"),
]


@pytest.mark.parametrize(("old", "new", "key"), BROKEN)
def test_a_lockfile_that_fails_validation_is_bad_input_naming_the_file(
        site: Ecosystem, tmp_path: Path, old: str, new: str, key: str) -> None:
    good = write_lock(site, "scratch-2024-01-01-0000.yaml", timestamp="2024-01-01T00:00:00Z")
    text = good.read_text()
    good.unlink()
    if key.startswith("sources.services"):
        head, _, tail = text.partition("  services:\n")
        text = head + "  services:\n" + tail.replace(old, new, 1)
    else:
        text = text.replace(old, new, 1)
    bad = tmp_path / "bad-lockfile.yaml"
    bad.write_text(text)
    result = run_inv("deploy-lockfile", str(bad))
    assert result.code == 2, result.output
    assert str(bad) in result.stderr
    assert key in result.stderr
    assert re.search(r"bad-lockfile\.yaml:\d+:", result.stderr)
    assert "Traceback" not in result.output
    assert deployed(site) == [] and site.built() == []


def test_a_broken_lockfile_among_the_lockfiles_is_named_by_readers(site: Ecosystem) -> None:
    write_lock(site, "scratch-2024-01-01-0000.yaml", timestamp="2024-01-01T00:00:00Z",
               status="great")
    # asked for that one file: bad input; reading many (SPEC §6a): skipped, with a warning
    for args, code in ((["deploy-lockfile", "scratch-2024-01-01-0000.yaml"], 2),
                       (["status"], 0), (["rollback", "scratch"], 1)):
        result = run_inv(*args)
        assert result.code == code, (args, result.output)
        assert "lockfiles/scratch-2024-01-01-0000.yaml" in result.stderr
        assert "status" in result.stderr and "'great'" in result.stderr
        assert "Traceback" not in result.output


def test_replay_refuses_unknown_files_other_environments_and_changed_sources(
        site: Ecosystem) -> None:
    missing = run_inv("deploy-lockfile", "scratch-1999-01-01-0000.yaml")
    assert missing.code == 2
    assert "no lockfile 'scratch-1999-01-01-0000.yaml'" in missing.stderr

    path = write_lock(site, "scratch-2024-01-01-0000.yaml", timestamp="2024-01-01T00:00:00Z")
    other = run_inv("deploy-lockfile", path.name, "--env", "beta")
    assert other.code == 1, other.output
    assert "is a lockfile of scratch; it cannot be deployed into beta" in other.stderr
    assert f"inv promote-lockfile {path.name} beta" in other.stderr

    short = write_lock(site, "scratch-2024-01-02-0000.yaml", timestamp="2024-01-02T00:00:00Z",
                       drop="monitoring")
    changed = run_inv("deploy-lockfile", short.name)
    assert changed.code == 2, changed.output
    assert re.search(r"lockfiles/scratch-2024-01-02-0000\.yaml:\d+: sources: cannot replay: "
                     r"monitoring \(not in the lockfile\)", changed.stderr), changed.stderr
    assert deployed(site) == [] and site.built() == []
    assert [p.name for p in lockfiles(site)] == [path.name, short.name]


def test_a_hand_written_lockfile_in_design_shape_is_read_and_replayed(site: Ecosystem) -> None:
    """DESIGN.md §6's example: unquoted timestamp, no versions; replay computes them."""
    sha = tips(site, BRANCH)

    def design_lockfile(name: str, shas: dict[str, str]) -> Path:
        lines = ["timestamp: 2024-02-10T14:23:07Z", "environment: scratch", "status: healthy",
                 "", "sources:"]
        for n, ref in BRANCH.items():
            lines += [f"  {n}:", f"    repo: {site.repos[n].url}", f"    ref: {ref}",
                      f"    sha: {shas[n]}", ""]
        lines += ["tests:", "  smoke: passed", "  e2e: passed"]
        return site.write(f"lockfiles/{name}", "\n".join(lines) + "\n")

    path = design_lockfile("scratch-2024-02-10-1423.yaml", sha)
    result = run_inv("status", "--env", "scratch", "--json")
    assert result.code == 0, result.output
    data = json.loads(result.stdout)["environments"]["scratch"]
    assert data["timestamp"] == "2024-02-10T14:23:07Z"
    assert data["sources"]["ottochain"]["sha"] == sha["ottochain"]
    assert data["sources"]["ottochain"]["version"] is None

    replay = run_inv("deploy-lockfile", path.name)
    assert replay.code == 0, replay.output
    (new,) = [p for p in lockfiles(site) if p != path]
    lock = read_lock(new)
    assert lock["status"] == "healthy"
    assert {n: s["version"] for n, s in lock["sources"].items()} == VERSIONS
    assert {n: s["sha"] for n, s in lock["sources"].items()} == sha

    # a commit the repo does not have is bad input naming the source
    gone = design_lockfile("scratch-2024-02-10-1424.yaml", {**sha, "sdk": "0123456789" * 4})
    bad = run_inv("deploy-lockfile", gone.name, "--dry-run")
    assert bad.code == 2, bad.output
    assert re.search(r"scratch-2024-02-10-1424\.yaml:\d+: sources\.sdk\.sha: commit 0123456789",
                     bad.stderr), bad.stderr
