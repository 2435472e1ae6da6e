"""``inv auto-deploy`` and an ``approval_required`` environment (SPEC §6b, §6a).

prod here is a branch environment that follows the same branches as scratch, with
``auto_deploy: true`` and ``approval_required: true``: the shape in which DESIGN.md §7's
"Approved, merged -> production deployment runs" happens without anyone running a deploy.
The deploy root is a real git repo; ``manifests/approvers`` lists Alice and Bob (SSH
keys made by ``ssh-keygen``, tests/signing.py) and approvals are real signed merges made
by ``inv approve``. A branch that moves never deploys prod; an approved change of its
definition does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import run_inv
from tests.deploykit import deployed, read_lock, set_deploys, set_env
from tests.deployrepo import branches, dgit, init_deploy_repo
from tests.ecosystem import BRANCH_ENV, Ecosystem
from tests.signing import Person, make_people

PROD = "manifests/environments/prod.yaml"


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def gated(eco: Ecosystem, people: dict[str, Person]) -> Ecosystem:
    """scratch and an approval-required prod, both following develop, in a git repo."""
    eco.write(PROD, BRANCH_ENV.format(name="prod").replace(
        "auto_deploy: true\n", "auto_deploy: true\napproval_required: true\n"))
    set_deploys(eco)
    for env in ("scratch", "prod"):
        set_env(eco, env)
    eco.write("manifests/approvers",
              people["alice"].allowed_signer() + people["bob"].allowed_signer())
    (eco.root / ".gitignore").write_text(".ottodeploy/\ndeployed/\n")
    init_deploy_repo(eco, origin=False)
    return eco


def auto() -> dict[str, Any]:
    result = run_inv("auto-deploy", "--json", "--env", "scratch,prod")
    assert result.code == 0, result.output
    envs: dict[str, Any] = json.loads(result.stdout)["environments"]
    return envs


def prod_deploys(eco: Ecosystem) -> list[str]:
    return [s["env"]["OTTO_SHA"] for s in deployed(eco)
            if s["component"] == "ottochain" and s["env"]["OTTO_ENV"] == "prod"]


def approve(branch: str, person: Person) -> None:
    result = run_inv("approve", branch, "--by", person.by, "--signing-key", str(person.key))
    assert result.code == 0, result.output


def test_moved_branches_never_deploy_prod_an_approved_promotion_does(
        gated: Ecosystem, people: dict[str, Person]) -> None:
    eco, bob = gated, people["bob"]
    # the definition as first committed was never approved
    envs = auto()
    assert envs["scratch"]["action"] == "deploy"
    assert envs["prod"]["action"] == "skipped"
    assert "not approved" in envs["prod"]["reason"]
    assert "'chore: deploy repo') is not a verified approval" in envs["prod"]["reason"]
    assert prod_deploys(eco) == []

    # an approved change of prod's manifest (it still follows develop) deploys it
    dgit(eco, "switch", "--quiet", "-c", "promote/prod-follows-develop")
    text = (eco.root / PROD).read_text()
    (eco.root / PROD).write_text(text.replace("mode: branch\n",
                                              "mode: branch\ndescription: follows develop\n"))
    dgit(eco, "commit", "--quiet", "-am", "chore(prod): follow develop")
    dgit(eco, "switch", "--quiet", "main")
    approve("promote/prod-follows-develop", bob)
    merge = dgit(eco, "rev-parse", "HEAD")
    envs = auto()
    assert envs["scratch"]["action"] == "up-to-date"
    assert envs["prod"]["action"] == "deploy" and envs["prod"]["status"] == "healthy"
    assert f"{merge[:7]} approved by {bob.by}" in envs["prod"]["reason"]
    develop = eco.repos["ottochain"].rev("origin/develop")
    assert prod_deploys(eco) == [develop] * 3
    first_prod = envs["prod"]["lockfile"]

    # develop moves: scratch follows, prod is skipped and says why
    moved = eco.repos["ottochain"].commit("feat: moves", {"m.txt": "1"}, branch="develop")
    envs = auto()
    assert envs["scratch"]["action"] == "deploy"
    assert envs["prod"]["action"] == "skipped"
    reason = envs["prod"]["reason"]
    assert reason.startswith("approval required: ottochain develop ")
    assert f" -> {moved[:7]}, but a moved branch never deploys prod" in reason
    assert f"unchanged since {first_prod}" in reason
    assert envs["prod"]["lockfile"] == first_prod
    assert prod_deploys(eco) == [develop] * 3

    # scratch's tested state promoted into prod and approved: deployed at the new SHA
    promote = run_inv("promote", "scratch", "prod")
    assert promote.code == 0, promote.output
    (branch,) = branches(eco, "promote/scratch-to-prod-*")
    envs = auto()
    assert envs["prod"]["action"] == "skipped"        # promoted, not approved yet
    approve(branch, bob)
    envs = auto()
    assert envs["prod"]["action"] == "deploy" and envs["prod"]["status"] == "healthy"
    lock = read_lock(eco.root / "lockfiles" / envs["prod"]["lockfile"])
    assert lock["sources"]["ottochain"]["sha"] == moved
    assert lock["approval"]["commit"] == dgit(eco, "rev-parse", "HEAD")
    assert prod_deploys(eco) == [develop] * 3 + [moved] * 3
    assert auto()["prod"]["action"] == "up-to-date"


def test_an_unapproved_change_of_the_definition_is_skipped_with_the_gates_reason(
        gated: Ecosystem, people: dict[str, Person]) -> None:
    eco = gated
    dgit(eco, "switch", "--quiet", "-c", "promote/first")
    (eco.root / PROD).write_text((eco.root / PROD).read_text() + "# first\n")
    dgit(eco, "commit", "--quiet", "-am", "chore(prod): first")
    dgit(eco, "switch", "--quiet", "main")
    approve("promote/first", people["alice"])
    assert auto()["prod"]["status"] == "healthy"

    # committed straight to main: a change, but no approval
    (eco.root / PROD).write_text((eco.root / PROD).read_text() + "# direct\n")
    dgit(eco, "commit", "--quiet", "-am", "chore(prod): direct")
    envs = auto()
    assert envs["prod"]["action"] == "skipped"
    assert "'chore(prod): direct') is not a verified approval" in envs["prod"]["reason"]
    # and an uncommitted one
    dgit(eco, "reset", "--quiet", "--hard", "HEAD~1")
    (eco.root / PROD).write_text((eco.root / PROD).read_text() + "# uncommitted\n")
    envs = auto()
    assert envs["prod"]["action"] == "skipped"
    assert "uncommitted changes" in envs["prod"]["reason"]
    assert len(prod_deploys_all(eco)) == 3


def prod_deploys_all(eco: Ecosystem) -> list[dict[str, Any]]:
    return [s for s in deployed(eco) if s["env"]["OTTO_ENV"] == "prod"
            and s["component"] == "ottochain"]
