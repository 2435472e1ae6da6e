"""The workflows run for real, with act, on a copy of this repository (SPEC §9; tests/actkit.py).

Every test runs unchanged workflow files; what differs from GitHub is configuration only:
``OTTODEPLOY_GIT_BASE`` points the manifests' owner/name repos at the test ecosystem's
local repos (``file://``, through git's insteadOf), ``GITHUB_API_URL`` at an
``HttpRecorder`` standing in for GitHub's API (it checks the token header and what the
pull request says), ``origin`` is a bare repo of the test's own, and secrets go in as act
secrets. Each run also asserts that nothing tried to leave the machine.

Select them with ``pytest -m act``; deselect with ``-m "not act"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ottodeploy.lockfile import new_lockfile, write_new
from ottodeploy.root import DeployRoot
from tests.actkit import REPOSITORY, Act, ActRun, act_session, copy_project
from tests.ecosystem import Ecosystem
from tests.gitrepos import git
from tests.servers import HttpRecorder, RecordedRequest, Response

pytestmark = pytest.mark.act

TOKEN = "ghs_acttoken0123456789abcdefABCDEF"   # stands for the job's GITHUB_TOKEN
PULLS = f"/repos/{REPOSITORY}/pulls"
VALIDATE_JOBS = {
    "inv check --offline (every environment)": "success",
    # a matrix job: act appends the entry's number to its name
    "inv check staging-1": "success",
    "inv check prod-2": "success",
    "ruff and mypy": "success",
    "pytest": "success",
}


@pytest.fixture(scope="session")
def act(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Act]:
    with act_session(tmp_path_factory.mktemp("act")) as harness:
        yield harness


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """This repository committed on ``main`` in a copy of its own, with a bare origin."""
    path = tmp_path / "deploy"
    copy_project(path)
    return path


@pytest.fixture
def git_base(eco: Ecosystem, tmp_path: Path) -> str:
    """A base URL under which every owner/name repo of the manifests is a local eco repo."""
    components = yaml.safe_load((Path(__file__).parent.parent / "manifests" /
                                 "components.yaml").read_text())["components"]
    base = tmp_path / "github"
    repos = {}
    for name, spec in components.items():
        link = base / f"{spec['repo']}.git"
        link.parent.mkdir(parents=True, exist_ok=True)
        # the test ecosystem still calls watchdog by its former name
        known = next(n for n in (name, *spec.get("aliases", [])) if n in eco.repos)
        repos[name] = eco.repos[known]
        link.symlink_to(repos[name].remote)
    # the released versions the shipped version environments pin exist as tags
    environments = Path(__file__).parent.parent / "manifests" / "environments"
    for path in sorted(environments.glob("*.yaml")):
        for name, source in yaml.safe_load(path.read_text())["sources"].items():
            tag = f"v{str(source.get('version', '')).removeprefix('v')}"
            if "version" in source and tag not in repos[name].tags():
                # on a commit of its own, so it is the only release tag there
                repo, was = repos[name], repos[name].current_branch()
                repo.checkout(f"release/{tag}", create_from="main")
                repo.commit(f"chore: release {tag}")
                repo.tag(tag)
                repo.checkout(was)
    return f"file://{base}/"


@pytest.fixture
def api() -> Iterator[HttpRecorder]:
    """GitHub's API as far as opening a pull request goes."""
    with HttpRecorder() as recorder:
        recorder.add_route("POST", PULLS, Response(201, body={
            "number": 12, "html_url": f"https://github.com/{REPOSITORY}/pull/12"}))
        yield recorder


def assert_ok(run: ActRun) -> None:
    assert run.code == 0, run.summary()
    assert all(j.result == "success" for j in run.jobs), run.summary()
    assert run.outbound == [], run.summary()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def branches(origin: Path, pattern: str) -> list[str]:
    out = git(origin, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{pattern}")
    return out.splitlines()


def origin_of(repo: Path) -> Path:
    return Path(git(repo, "remote", "get-url", "origin"))


def the_pull_request(api: HttpRecorder) -> RecordedRequest:
    assert [(r.method, r.path) for r in api.requests] == [("POST", PULLS)]
    request = api.requests[0]
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    return request


def no_token_in(run: ActRun) -> None:
    assert TOKEN not in run.output and TOKEN not in run.stderr


# --- validate.yml ----------------------------------------------------------------------------


def test_validate_on_push_runs_every_job(act: Act, repo: Path, git_base: str) -> None:
    head = git(repo, "rev-parse", "HEAD")
    run = act.run(repo, "push", workflow="validate.yml",
                  payload={"ref": "refs/heads/main", "after": head},
                  env={"OTTODEPLOY_GIT_BASE": git_base})
    assert_ok(run)
    assert run.results() == VALIDATE_JOBS, run.summary()   # `commits` is for pull requests
    # the version environments were checked online, against the local repos
    environments = Path(__file__).parent.parent / "manifests" / "environments"
    for env_name in ("staging-1", "prod-2"):
        manifest = yaml.safe_load((environments / f"{env_name[:-2]}.yaml").read_text())
        resolved = f"{len(manifest['sources'])} sources resolved"
        assert resolved in "".join(run.job(f"inv check {env_name}").output)
    test = run.job("pytest")
    assert test.ran("pytest (subset, under act)") and not test.ran("pytest"), test.steps
    assert re.search(r"\d+ passed", "".join(test.output))
    assert "test_workflows_act" not in "".join(test.output)
    # every job installed its checkout into a site of its own, never into the shared Python
    assert act.state.shared_installs() == []


def test_validate_on_a_pull_request_also_lints_its_commits(act: Act, repo: Path,
                                                           git_base: str) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "--quiet", "-c", "feature/readme")
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA line.\n")
    head = commit_all(repo, "docs: one more line in the README")
    run = act.run(repo, "pull_request", workflow="validate.yml", payload={
        "number": 7, "pull_request": {"number": 7, "head": {"ref": "feature/readme", "sha": head},
                                      "base": {"ref": "main", "sha": base}}},
        env={"OTTODEPLOY_GIT_BASE": git_base})
    assert_ok(run)
    assert run.results() == {**VALIDATE_JOBS, "Conventional commits": "success"}
    commits = "".join(run.job("Conventional commits").output)
    assert "origin/main..HEAD: 1 commits" in commits


def test_a_non_conventional_commit_fails_the_pull_request(act: Act, repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "--quiet", "-c", "sloppy")
    (repo / "README.md").write_text("changed\n")
    head = commit_all(repo, "Fixed stuff")
    run = act.run(repo, "pull_request", workflow="validate.yml", job="commits", payload={
        "number": 8, "pull_request": {"number": 8, "head": {"ref": "sloppy", "sha": head},
                                      "base": {"ref": "main", "sha": base}}})
    assert run.code != 0, run.summary()
    job = run.job("Conventional commits")
    assert job.result == "failure"
    assert job.step("inv commits.lint").result == "failure"
    assert "Fixed stuff" in "".join(job.output)


def test_a_broken_manifest_fails_the_offline_check(act: Act, repo: Path) -> None:
    """The job checks the files it was given (the copy), all of them, naming the bad one."""
    beta = repo / "manifests" / "environments" / "beta.yaml"
    beta.write_text(beta.read_text().replace("ref: develop", "ref: $(id)", 1))
    commit_all(repo, "test: break beta")
    run = act.run(repo, "push", workflow="validate.yml", job="manifests-offline",
                  payload={"ref": "refs/heads/main"})
    assert run.code != 0, run.summary()
    job = run.job("inv check --offline (every environment)")
    assert job.result == "failure"
    text = "".join(job.output)
    assert "manifests/environments/beta.yaml" in text
    assert "inv check --offline failed for: beta" in text
    assert "check staging" in text   # the others were still checked


# --- promote.yml -----------------------------------------------------------------------------


def healthy_beta_lockfile(repo: Path, eco: Ecosystem) -> str:
    """beta's healthy lockfile: every component at the release staging pins (or at its own
    release when staging leaves it out), ottochain at develop's tip."""
    components = yaml.safe_load((repo / "manifests" / "components.yaml").read_text())
    staging = yaml.safe_load(
        (repo / "manifests" / "environments" / "staging.yaml").read_text())["sources"]
    sources = {}
    for name, spec in components["components"].items():
        known = next(n for n in (name, *spec.get("aliases", [])) if n in eco.repos)
        pinned = staging.get(name, {}).get("version")
        tag = None if name == "ottochain" else (
            f"v{str(pinned).removeprefix('v')}" if pinned else
            {"metakit": "v0.2.0", "sdk": "v0.3.0"}.get(known))
        rev, version = (f"{tag}^{{commit}}", tag[1:]) if tag else ("develop", "0.6.2-dev.3")
        sources[name] = {"repo": spec["repo"], "ref": "main" if tag else "develop",
                         "sha": eco.repos[known].rev(rev), "version": version}
    write_new(DeployRoot(repo), new_lockfile(
        environment="beta", status="healthy", sources=sources,
        tests={"deploy": "passed", "smoke": "passed", "e2e": "skipped"}))
    commit_all(repo, "chore(lock): beta deploy")
    git(repo, "push", "--quiet", "origin", "main")
    return str(sources["ottochain"]["sha"])


def test_promote_opens_a_pull_request_for_the_promotion_branch(
        act: Act, repo: Path, eco: Ecosystem, git_base: str, api: HttpRecorder) -> None:
    develop = healthy_beta_lockfile(repo, eco)
    origin = origin_of(repo)
    main_before = git(origin, "rev-parse", "main")
    run = act.run(repo, "workflow_dispatch", workflow="promote.yml",
                  payload={"inputs": {"from": "beta", "to": "staging", "allow_sha": "true"}},
                  env={"OTTODEPLOY_GIT_BASE": git_base, "GITHUB_API_URL": api.url,
                       "GITHUB_ACTOR_ID": "4242"},
                  secrets={"GITHUB_TOKEN": TOKEN}, actor="release-bot")
    assert_ok(run)
    no_token_in(run)

    [branch] = branches(origin, "promote/*")
    assert re.fullmatch(r"promote/beta-to-staging-\d{8}-\d{6}", branch)
    assert git(origin, "rev-parse", "main") == main_before      # only the new branch was pushed
    staging = "manifests/environments/staging.yaml"
    before, after = (git(origin, "show", f"{rev}:{staging}") for rev in ("main", branch))
    # ottochain has no release tag on develop's tip: pinned by sha (allow_sha), comments kept
    pinned = yaml.safe_load(before)["sources"]["ottochain"]["version"]
    # the test ecosystem's tessellation commit carries v4.0.0 beside v4.0.0-rc.10, and a
    # promotion pins the highest release on the locked commit
    assert after == before.replace(f"version: {pinned}", f"sha: {develop}").replace(
        "version: 4.0.0-rc.10", "version: v4.0.0")
    author = git(origin, "log", "-1", "--format=%an <%ae>", branch)
    assert author == "release-bot <4242+release-bot@users.noreply.github.com>"

    sent = the_pull_request(api).json()
    assert (sent["head"], sent["base"]) == (branch, "main")
    assert sent["title"] == "chore(staging): promote beta to staging"
    assert f"- ottochain: version {pinned} -> sha {develop}" in sent["body"]
    assert "- tessellation: version 4.0.0-rc.10 -> version v4.0.0" in sent["body"]
    assert sent["body"].count("\n- ") == 2, sent["body"]    # nothing else changed
    assert "pull request: https://github.com/" in run.output


# --- version-bump.yml ------------------------------------------------------------------------


def test_version_bump_pins_the_dispatched_version_and_opens_a_pull_request(
        act: Act, repo: Path, eco: Ecosystem, git_base: str, api: HttpRecorder) -> None:
    otto = eco.repos["ottochain"]
    otto.tag("v0.7.0", annotated=True, target=otto.rev("develop"))
    origin = origin_of(repo)
    run = act.run(repo, "repository_dispatch", workflow="version-bump.yml",
                  payload={"action": "version-bump",
                           "client_payload": {"component": "ottochain", "version": "0.7.0"}},
                  env={"OTTODEPLOY_GIT_BASE": git_base, "GITHUB_API_URL": api.url},
                  secrets={"GITHUB_TOKEN": TOKEN})
    assert_ok(run)
    no_token_in(run)

    assert branches(origin, "bump/*") == ["bump/ottochain-0.7.0"]
    staging = "manifests/environments/staging.yaml"
    before, after = (git(origin, "show", f"{rev}:{staging}")
                     for rev in ("main", "bump/ottochain-0.7.0"))
    pinned = yaml.safe_load(before)["sources"]["ottochain"]["version"]
    assert after == before.replace(f"version: {pinned}  #", "version: v0.7.0  #")
    sent = the_pull_request(api).json()
    assert (sent["head"], sent["base"]) == ("bump/ottochain-0.7.0", "main")
    assert sent["title"] == "chore(staging): bump ottochain to 0.7.0"


def test_a_hostile_payload_stops_at_the_shape_check(act: Act, repo: Path, tmp_path: Path,
                                                    api: HttpRecorder) -> None:
    marker = tmp_path / "pwned"
    run = act.run(repo, "repository_dispatch", workflow="version-bump.yml",
                  payload={"action": "version-bump",
                           "client_payload": {"component": f"ottochain$(touch {marker})",
                                              "version": f"1.0.0;touch {marker}"}},
                  env={"GITHUB_API_URL": api.url}, secrets={"GITHUB_TOKEN": TOKEN})
    assert run.code != 0, run.summary()
    job = run.job("inv bump staging")
    assert job.step("Payload shape").result == "failure"
    assert not job.ran("inv bump")
    assert "component must match" in "".join(job.output)
    assert not marker.exists()
    assert api.requests == []
    assert branches(origin_of(repo), "bump/*") == []


# --- site.yml --------------------------------------------------------------------------------


def test_site_builds_every_page_after_a_deploy_and_stops_before_publishing(
        act: Act, repo: Path, eco: Ecosystem, git_base: str) -> None:
    healthy_beta_lockfile(repo, eco)
    environments = sorted(p.stem for p in (repo / "manifests" / "environments").glob("*.yaml"))
    run = act.run(repo, "workflow_run", workflow="site.yml", payload={
        "act": True,   # what skips the publish job (Pages' actions cannot be had offline)
        "workflow_run": {"name": "Deploy Branch", "conclusion": "success",
                         "head_branch": "main", "event": "push"}},
        env={"OTTODEPLOY_GIT_BASE": git_base})
    assert_ok(run)
    assert run.results() == {"inv site": "success"}, run.summary()
    job = run.job("inv site")
    assert job.step("Every page is there").result == "success"
    output = "".join(job.output)
    assert "site written to _site/" in output
    for env_name in environments:
        assert f"_site/env-{env_name}.html" in output and f"_site/cascade-{env_name}.html" in output
    assert re.search(r"_site/lockfiles/beta-\d{4}-\d\d-\d\d-\d{4}\.yaml", output)
    # the refs resolved against the local repos: no fallback to the records
    assert "using the last records" not in output
