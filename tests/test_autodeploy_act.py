"""auto-deploy.yml and the announce-push action, run for real with act (SPEC §6b, §9).

The deploy repo is a copy of this repository (tests/actkit.py) whose manifests are the
test ecosystem's: scratch follows ottochain's ``develop``, beta its ``main``, both deploy
with the ``local`` target through ``deploy/record.py`` (tests/deploykit.py), and the
component repos are the ecosystem's local repos. Before each run both environments were
deployed once, here, and their lockfiles committed and pushed, as the workflow would have
done: each event then shows what it changes. The workflow files are this repository's,
unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.actkit import REPOSITORY, Act, ActRun, act_session, copy_project
from tests.conftest import run_inv
from tests.deploykit import set_deploys, set_env
from tests.ecosystem import Ecosystem
from tests.gitrepos import git
from tests.servers import HttpRecorder, Response

pytestmark = pytest.mark.act

TOKEN = "ghp_dispatchtoken0123456789abcdefABCD"   # stands for the component repo's secret
PLAN = "Which environments moved"
DEPLOY = "inv auto-deploy"   # matrix entries: act appends -1, -2, ...


@pytest.fixture(scope="session")
def act(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Act]:
    with act_session(tmp_path_factory.mktemp("act")) as harness:
        yield harness


@pytest.fixture
def repo(eco: Ecosystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The deploy repo on ``main`` with the ecosystem's manifests, scratch and beta deployed."""
    path = tmp_path / "deploy"
    copy_project(path)
    set_deploys(eco)
    for env in ("scratch", "beta"):
        set_env(eco, env)
    beta = eco.root / "manifests" / "environments" / "beta.yaml"
    beta.write_text(beta.read_text().replace("    type: core\n    ref: develop",
                                             "    type: core\n    ref: main"))
    shutil.rmtree(path / "manifests")
    shutil.copytree(eco.root / "manifests", path / "manifests")
    shutil.copy2(eco.root / "deploy" / "record.py", path / "deploy" / "record.py")
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(path))
    first = run_inv("auto-deploy")
    assert first.code == 0, first.output
    shutil.rmtree(path / ".ottodeploy")
    shutil.rmtree(path / "deployed")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "chore(lock): scratch and beta deployed")
    git(path, "push", "--quiet", "origin", "main")
    return path


def origin(repo: Path) -> Path:
    return Path(git(repo, "remote", "get-url", "origin"))


def pushed_lockfiles(repo: Path, before: str) -> dict[str, dict[str, Any]]:
    """The lockfiles the workflow committed on origin's main since ``before``, by env."""
    bare = origin(repo)
    names = git(bare, "diff", "--name-only", "--diff-filter=A", before, "main", "--",
                "lockfiles/").split()
    out = {}
    for name in names:
        lock = yaml.safe_load(git(bare, "show", f"main:{name}"))
        out[lock["environment"]] = lock
    return out


def assert_ok(run: ActRun) -> dict[str, str]:
    """Every job that ran succeeded and nothing left the machine; the jobs' output by name."""
    assert run.code == 0, run.summary()
    assert all(j.result == "success" for j in run.jobs), run.summary()
    assert run.outbound == [], run.summary()
    return {j.name: "".join(j.output) for j in run.jobs}


def test_a_branch_push_dispatch_deploys_the_environments_following_it(
        act: Act, repo: Path, eco: Ecosystem) -> None:
    before = git(origin(repo), "rev-parse", "main")
    sha = eco.repos["ottochain"].commit("feat: announced", {"a.txt": "1"}, branch="develop")
    run = act.run(repo, "repository_dispatch", workflow="auto-deploy.yml", payload={
        "action": "branch-push",
        "client_payload": {"component": "ottochain", "ref": "develop", "sha": sha}})
    jobs = assert_ok(run)
    assert set(jobs) == {PLAN, DEPLOY}   # one matrix entry: scratch
    assert "beta: skipped - does not follow ottochain at develop" in jobs[PLAN]
    assert "scratch: deploy - ottochain develop" in jobs[PLAN]
    assert "scratch  deployed scratch-" in jobs[DEPLOY]
    locks = pushed_lockfiles(repo, before)
    assert list(locks) == ["scratch"]
    assert locks["scratch"]["status"] == "healthy"
    assert locks["scratch"]["sources"]["ottochain"]["sha"] == sha
    subject = git(origin(repo), "log", "-1", "--format=%s", "main")
    assert subject == "chore(lock): scratch deploy"


def test_a_scheduled_run_with_nothing_moved_deploys_nothing(act: Act, repo: Path) -> None:
    before = git(origin(repo), "rev-parse", "main")
    run = act.run(repo, "schedule", workflow="auto-deploy.yml",
                  payload={"schedule": "*/15 * * * *"})
    jobs = assert_ok(run)
    assert set(jobs) == {PLAN}           # nothing moved: no deploy job
    assert "scratch: up-to-date - at the SHAs and deploy definition of" in jobs[PLAN]
    assert "beta: up-to-date" in jobs[PLAN]
    assert "::set-output:: environments=[]" in jobs[PLAN]
    assert git(origin(repo), "rev-parse", "main") == before


def test_a_push_repointing_scratch_deploys_scratch(act: Act, repo: Path, eco: Ecosystem) -> None:
    otto = eco.repos["ottochain"]
    otto.checkout("feat/x", create_from="develop")
    feature = otto.commit("feat: x", {"x.txt": "x"})
    otto.checkout("main")
    before = git(repo, "rev-parse", "HEAD")
    scratch = repo / "manifests" / "environments" / "scratch.yaml"
    text = scratch.read_text()
    scratch.write_text(text.replace("    type: core\n    ref: develop",
                                    "    type: core\n    ref: feat/x"))
    git(repo, "commit", "--quiet", "-am", "chore(scratch): test feat/x")
    git(repo, "push", "--quiet", "origin", "main")
    after = git(repo, "rev-parse", "HEAD")
    run = act.run(repo, "push", workflow="auto-deploy.yml",
                  payload={"ref": "refs/heads/main", "before": before, "after": after})
    jobs = assert_ok(run)
    assert set(jobs) == {PLAN, DEPLOY}
    assert "beta: up-to-date" in jobs[PLAN]
    assert "scratch: deploy - ottochain now from" not in jobs[PLAN]
    assert "scratch: deploy - ottochain feat/x" in jobs[PLAN]
    locks = pushed_lockfiles(repo, after)
    assert list(locks) == ["scratch"]
    assert locks["scratch"]["sources"]["ottochain"] | {"version": "-"} == {
        "repo": eco.repos["ottochain"].url, "ref": "feat/x", "sha": feature, "version": "-",
        "pinned_by": "ref"}


def test_a_hostile_payload_stops_at_the_shape_check(act: Act, repo: Path,
                                                    tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    before = git(origin(repo), "rev-parse", "main")
    run = act.run(repo, "repository_dispatch", workflow="auto-deploy.yml", payload={
        "action": "branch-push",
        "client_payload": {"component": "ottochain", "ref": f"develop;touch {marker}",
                           "sha": "0" * 40}})
    assert run.code != 0, run.summary()
    job = run.job(PLAN)
    assert job.step("Payload shape").result == "failure"
    assert not job.ran("inv auto-deploy --dry-run")
    assert [j.name for j in run.jobs] == [PLAN]
    assert "ref must be a branch name" in "".join(job.output)
    assert not marker.exists()
    assert git(origin(repo), "rev-parse", "main") == before


ANNOUNCE = """\
name: Announce
on:
  push:
    branches: [develop]
permissions:
  contents: read
jobs:
  announce:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: ./.github/actions/announce-push
        with:
          component: ottochain
          token: ${{ secrets.OTTODEPLOY_DISPATCH_TOKEN }}
"""


def test_the_announce_push_action_sends_the_dispatch_auto_deploy_receives(
        act: Act, eco: Ecosystem, tmp_path: Path) -> None:
    """A component repository's workflow, as the README shows it, with the action copied in."""
    component = tmp_path / "ottochain"
    git(tmp_path, "clone", "--quiet", "--branch", "develop", eco.repos["ottochain"].url,
        str(component))
    action = component / ".github" / "actions" / "announce-push"
    action.mkdir(parents=True)
    shutil.copy2(Path(__file__).parent.parent / ".github" / "actions" / "announce-push" /
                 "action.yml", action / "action.yml")
    (component / ".github" / "workflows").mkdir()
    (component / ".github" / "workflows" / "announce.yml").write_text(ANNOUNCE)
    git(component, "add", "-A")
    git(component, "commit", "--quiet", "-m", "ci: announce pushes to the deploy repo")
    sha = git(component, "rev-parse", "HEAD")
    path = f"/repos/{REPOSITORY}/dispatches"
    with HttpRecorder() as api:
        api.add_route("POST", path, Response(204))
        run = act.run(component, "push", workflow="announce.yml",
                      payload={"ref": "refs/heads/develop", "after": sha},
                      env={"GITHUB_API_URL": api.url},
                      secrets={"OTTODEPLOY_DISPATCH_TOKEN": TOKEN})
        requests = api.requests
    assert run.code == 0, run.summary()
    assert run.outbound == [], run.summary()
    assert [(r.method, r.path) for r in requests] == [("POST", path)]
    assert requests[0].header("Authorization") == f"Bearer {TOKEN}"
    assert requests[0].json() == {"event_type": "branch-push", "client_payload": {
        "component": "ottochain", "ref": "develop", "sha": sha}}
    assert TOKEN not in run.output and TOKEN not in run.stderr
