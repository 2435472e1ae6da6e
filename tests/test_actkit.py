"""The act harness itself (tests/actkit.py): what it promises the workflow tests.

Small workflows written into a copy of the repository: a job that tries to reach the
internet is caught by the outbound sentinel (and fails), and a plan job's outputs feed
waves of matrix jobs (``needs``, ``fromJSON``, an empty wave skipped) as deploy-branch.yml
uses them. The parser is also checked on act's own JSON lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.actkit import Act, act_session, copy_project, parse_json_log
from tests.gitrepos import git

OUTBOUND = """\
name: Outbound
on: [workflow_dispatch]
jobs:
  reach-out:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - name: curl
        run: curl -sS --max-time 10 https://example.com/ -o /dev/null
      - name: git
        if: ${{ always() }}
        run: git ls-remote https://github.com/nektos/act
"""

WAVES = """\
name: Waves
on: [workflow_dispatch]
jobs:
  plan:
    runs-on: ubuntu-latest
    outputs:
      wave1: ${{ steps.waves.outputs.wave1 }}
      wave2: ${{ steps.waves.outputs.wave2 }}
      wave3: ${{ steps.waves.outputs.wave3 }}
    steps:
      - id: waves
        run: |
          w1='[{"task":"tessellation_publish"},{"task":"monitoring_config"}]'
          echo "wave1=$w1" >> "$GITHUB_OUTPUT"
          echo 'wave2=[]' >> "$GITHUB_OUTPUT"
          echo 'wave3=[{"task":"metakit_publish"}]' >> "$GITHUB_OUTPUT"
  wave1:
    needs: plan
    if: ${{ needs.plan.outputs.wave1 != '[]' }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        include: ${{ fromJSON(needs.plan.outputs.wave1) }}
    steps:
      - name: build
        env:
          TASK: ${{ matrix.task }}
        run: echo "built $TASK"
  wave2:
    needs: [plan, wave1]
    if: ${{ !cancelled() && !failure() && needs.plan.outputs.wave2 != '[]' }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        include: ${{ fromJSON(needs.plan.outputs.wave2) }}
    steps:
      - run: echo "never"
  wave3:
    needs: [plan, wave2]
    if: ${{ !cancelled() && !failure() && needs.plan.outputs.wave3 != '[]' }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        include: ${{ fromJSON(needs.plan.outputs.wave3) }}
    steps:
      - name: build
        env:
          TASK: ${{ matrix.task }}
        run: echo "built $TASK"
  deploy:
    needs: [plan, wave1, wave2, wave3]
    if: ${{ !cancelled() && !failure() }}
    runs-on: ubuntu-latest
    steps:
      - name: deploy
        run: echo deployed
"""


@pytest.fixture(scope="module")
def act(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Act]:
    with act_session(tmp_path_factory.mktemp("act")) as harness:
        yield harness


def repo_with(tmp_path: Path, name: str, text: str) -> Path:
    repo = tmp_path / "deploy"
    copy_project(repo)
    (repo / ".github" / "workflows" / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "test: a workflow for the harness")
    return repo


@pytest.mark.act
def test_a_job_reaching_for_the_internet_is_caught(act: Act, tmp_path: Path) -> None:
    repo = repo_with(tmp_path, "outbound.yml", OUTBOUND)
    run = act.run(repo, "workflow_dispatch", workflow="outbound.yml", timeout=120)
    assert run.code != 0
    job = run.job("reach-out")
    assert [(s.name, s.result) for s in job.steps if s.stage == "Main"] == [
        ("curl", "failure"), ("git", "failure")]
    assert run.outbound == ["CONNECT example.com:443", "CONNECT github.com:443"]


@pytest.mark.act
def test_waves_of_matrix_jobs_from_a_plan_jobs_outputs(act: Act, tmp_path: Path) -> None:
    repo = repo_with(tmp_path, "waves.yml", WAVES)
    run = act.run(repo, "workflow_dispatch", workflow="waves.yml", timeout=120)
    assert run.code == 0, run.summary()
    # a matrix entry is named <job>-<n>; the empty wave never ran, the next one did
    assert sorted(run.results()) == ["deploy", "plan", "wave1-1", "wave1-2", "wave3"]
    assert set(run.results().values()) == {"success"}
    built = sorted(j.matrix["task"] for j in run.jobs if j.job_id.startswith("wave"))
    assert built == ["metakit_publish", "monitoring_config", "tessellation_publish"]
    assert "built metakit_publish" in "".join(run.job("wave3").output)
    assert run.outbound == []


def test_the_parser_reads_jobs_steps_and_output() -> None:
    lines = [
        {"job": "Validate/lint", "jobID": "lint", "matrix": {}, "msg": "⭐ Run Main ruff",
         "stage": "Main", "step": "ruff"},
        {"job": "Validate/lint", "jobID": "lint", "matrix": {}, "msg": "All checks passed!\n",
         "raw_output": True, "stage": "Main", "step": "ruff"},
        {"job": "Validate/lint", "jobID": "lint", "matrix": {}, "msg": "  ✅  Success - Main ruff",
         "stage": "Main", "step": "ruff\nsecond line", "stepResult": "success",
         "executionTime": 1_500_000_000},
        {"job": "Validate/inv check prod-2", "jobID": "online", "matrix": {"environment": "prod"},
         "msg": "  ❌  Failure - Main inv check", "stage": "Main", "step": "inv check",
         "stepResult": "failure", "executionTime": 2_000_000},
        {"job": "Validate/inv check prod-2", "jobID": "online", "matrix": {"environment": "prod"},
         "msg": "🏁  Job failed", "jobResult": "failure"},
        {"job": "Validate/lint", "jobID": "lint", "matrix": {}, "msg": "🏁  Job succeeded",
         "jobResult": "success"},
        # a job of a called workflow keeps its caller's and workflow's names
        {"job": "wave1-1/Build task/doit a_x", "jobID": "build", "matrix": {},
         "msg": "🏁  Job succeeded", "jobResult": "success"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\nError: Job 'x' failed\n"
    jobs, output = parse_json_log(text, "Validate")
    assert [(j.name, j.job_id, j.result) for j in jobs] == [
        ("lint", "lint", "success"), ("inv check prod-2", "online", "failure"),
        ("wave1-1/Build task/doit a_x", "build", "success")]
    lint, online, _ = jobs
    assert [(s.stage, s.name, s.result, s.seconds) for s in lint.steps] == [
        ("Main", "ruff", "success", 1.5)]
    assert online.matrix == {"environment": "prod"}
    assert "All checks passed!" in "".join(lint.output)
    assert "[lint] All checks passed!\n" in output
    assert output.endswith("Error: Job 'x' failed\n")
