"""``inv approve`` and the approval gate of ``inv deploy`` / ``rollback`` / ``deploy-lockfile``.

prod has ``approval_required: true``. The deploy root is a real git repo; staging's
lockfile comes from a real ``inv deploy staging`` (released images in a real
registry, ``target: local``), and monitoring's deploy step appends a line to
``deployed.log`` beside the deploy root, so "nothing was deployed" can be checked.
"""

from __future__ import annotations

import pytest

from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from tests.deployrepo import (
    branches,
    cli,
    commit_file,
    dgit,
    init_deploy_repo,
    lockfiles,
    release_images,
    write_lock,
)
from tests.ecosystem import VERSION_ENV, Ecosystem

PROD = "manifests/environments/prod.yaml"
OTHER = "Other Person <other@example.invalid>"
DEPLOY_STEP = ("    deploy: {on: nodes, run: 'echo \"$OTTO_ENV $OTTO_COMPONENT $OTTO_VERSION\""
               " >> ../deployed.log'}\n")


def version_env(name: str, approval: bool, ottochain: str = "v0.6.1") -> str:
    return (VERSION_ENV.format(name=name, approval=str(approval).lower())
            .replace("infrastructure: {target: local}",
                     "infrastructure: {target: local, nodes: [node1]}")
            .replace("ottochain: {type: core, version: v0.6.1}",
                     f"ottochain: {{type: core, version: {ottochain}}}"))


def deployed(eco: Ecosystem) -> list[str]:
    log = eco.base / "deployed.log"
    return log.read_text().splitlines() if log.exists() else []


def env_lockfiles(eco: Ecosystem, env: str) -> list[str]:
    return [n for n in lockfiles(eco) if n.startswith(f"{env}-")]


def head(eco: Ecosystem) -> str:
    return dgit(eco, "rev-parse", "HEAD")


def setup_root(eco: Ecosystem, registry: str = "127.0.0.1:9") -> None:
    """prod one release behind staging, approval required; the deploy root a git repo."""
    eco.write("manifests/components.yaml",
              eco.components_text(registry=registry, cache=True) + DEPLOY_STEP)
    eco.write("manifests/environments/staging.yaml", version_env("staging", False))
    eco.write(PROD, version_env("prod", True, ottochain="v0.6.0"))
    init_deploy_repo(eco, origin=False)


@pytest.fixture
def approvals(eco: Ecosystem) -> Ecosystem:
    """For ``inv approve`` alone: staging's healthy lockfile written from the repos' SHAs."""
    setup_root(eco)
    write_lock(eco, "staging")
    return eco


@pytest.fixture
def gated(eco: Ecosystem, registry: str) -> Ecosystem:
    """For deploys: the released images in a real registry, staging's lockfile written."""
    release_images(eco, registry)
    setup_root(eco, registry)
    write_lock(eco, "staging")
    return eco


def promoted(eco: Ecosystem) -> str:
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    (branch,) = branches(eco)
    return branch


def assert_refused(eco: Ecosystem, *argv: str, why: str) -> None:
    """``inv ARGV`` refused for want of approval: exit 1, how to approve, nothing deployed."""
    before = (deployed(eco), env_lockfiles(eco, "prod"))
    result = cli(*argv)
    assert result.code == EXIT_FAILED, result
    assert "prod requires approval" in result.stderr
    assert why in result.stderr
    assert 'inv approve promote/... --by "Name <email>"' in result.stderr
    assert "Traceback" not in result.output
    assert (deployed(eco), env_lockfiles(eco, "prod")) == before
    assert "== deploy" not in result.stdout


# --- inv approve ---------------------------------------------------------------------------------


def test_approve_merges_no_ff_with_an_approved_by_trailer(approvals: Ecosystem) -> None:
    eco = approvals
    branch = promoted(eco)
    tip, before = dgit(eco, "rev-parse", branch), head(eco)
    assert dgit(eco, "merge-base", "--is-ancestor", before, tip) == ""  # could fast-forward
    result = cli("approve", branch, "--by", OTHER)
    assert result.code == 0, result
    assert f"approved {branch}" in result.stdout
    merge = head(eco)
    assert dgit(eco, "rev-list", "--parents", "-n1", merge).split() == [merge, before, tip]
    assert dgit(eco, "log", "-1", "--format=%s") == f"Merge branch '{branch}'"
    assert dgit(eco, "log", "-1", "--format=%(trailers)") == f"Approved-by: {OTHER}"
    assert dgit(eco, "log", "-1", "--format=%(trailers:key=Approved-by,valueonly)") == OTHER
    assert dgit(eco, "symbolic-ref", "--short", "HEAD") == "main"
    assert "ottochain: {type: core, version: v0.6.1}" in (eco.root / PROD).read_text()
    assert dgit(eco, "status", "--porcelain", "--", "manifests") == ""


def test_self_approval_is_refused(approvals: Ecosystem) -> None:
    eco = approvals
    branch = promoted(eco)
    assert dgit(eco, "log", "-1", "--format=%ae", branch) == "author@example.invalid"
    before = head(eco)
    for by in ["Test Author <author@example.invalid>",    # the promotion's author
               "Someone Else <AUTHOR@Example.INVALID>",   # same email: other name, other case
               "  Test Author   <author@EXAMPLE.invalid>  "]:
        result = cli("approve", branch, "--by", by)
        assert result.code == EXIT_FAILED, (by, result)
        assert "wrote the promotion" in result.stderr
        assert "someone else must approve it" in result.stderr
        assert head(eco) == before
    assert branches(eco) == [branch]
    assert cli("approve", branch, "--by", OTHER).code == 0  # anyone else may


@pytest.mark.parametrize("by", [
    "",
    "Other Person",
    "other@example.invalid",
    "<other@example.invalid>",
    "Other Person <other>",
    "Other Person <other@a@b>",
    "Other Person <other@example.invalid> <second@example.invalid>",
    None,                                             # --by not given at all
])
def test_malformed_approver_is_bad_input(approvals: Ecosystem, by: str | None) -> None:
    eco = approvals
    branch = promoted(eco)
    before = head(eco)
    result = cli("approve", branch, *(["--by", by] if by is not None else []))
    assert result.code == EXIT_BAD_INPUT, result
    assert "is not 'Name <email>'" in result.stderr
    assert "Traceback" not in result.output
    assert head(eco) == before


def test_approve_non_promotion_branch_is_bad_input(approvals: Ecosystem) -> None:
    eco = approvals
    dgit(eco, "branch", "feature/x")
    dgit(eco, "branch", "promotions")
    before = head(eco)
    for branch, message in [
        ("main", "'main' is not a promotion branch"),
        ("feature/x", "'feature/x' is not a promotion branch"),
        ("promotions", "'promotions' is not a promotion branch"),
        ("promote/staging-to-prod-20200101-000000", "no branch"),
        ("promote/../escape", "is not a promotion branch"),
    ]:
        result = cli("approve", branch, "--by", OTHER)
        assert result.code == EXIT_BAD_INPUT, (branch, result)
        assert message in result.stderr, branch
        assert head(eco) == before


def test_approving_a_merged_branch_again_records_nothing(approvals: Ecosystem) -> None:
    eco = approvals
    branch = promoted(eco)
    assert cli("approve", branch, "--by", OTHER).code == 0
    merge = head(eco)
    again = cli("approve", branch, "--by", "Third Person <third@example.invalid>")
    assert again.code == EXIT_FAILED, again
    assert "already merged" in again.stderr
    assert "approved" not in again.stdout
    assert head(eco) == merge
    assert dgit(eco, "log", "-1", "--format=%(trailers)") == f"Approved-by: {OTHER}"


def test_conflicting_approval_fails_and_leaves_no_merge_in_progress(approvals: Ecosystem) -> None:
    eco = approvals
    branch = promoted(eco)
    # someone changed the same line on main meanwhile
    commit_file(eco, PROD, version_env("prod", True, ottochain="v0.5.9"), "chore: hand edit")
    before = head(eco)
    result = cli("approve", branch, "--by", OTHER)
    assert result.code == EXIT_FAILED, result
    assert f"merging {branch} failed" in result.stderr
    assert head(eco) == before
    assert not (eco.root / ".git" / "MERGE_HEAD").exists()
    assert dgit(eco, "status", "--porcelain", "--", "manifests") == ""


# --- the deploy gate -----------------------------------------------------------------------------


def test_prod_deploys_only_after_approval(eco: Ecosystem, registry: str) -> None:
    """End to end: a real staging deploy, promotion, refusal, approval, a real prod deploy."""
    release_images(eco, registry)
    setup_root(eco, registry)
    staging = cli("deploy", "staging")
    assert staging.code == 0, staging
    assert deployed(eco) == ["staging monitoring 0.1.0"]
    # the manifest as first committed was never approved
    assert_refused(eco, "deploy", "prod", why="'chore: deploy repo') is not an approved promotion")
    # promoted, but not approved yet
    branch = promoted(eco)
    assert_refused(eco, "deploy", "prod", why="is not an approved promotion")
    assert env_lockfiles(eco, "prod") == []

    assert cli("approve", branch, "--by", OTHER).code == 0
    merge = head(eco)
    result = cli("deploy", "prod")
    assert result.code == 0, result
    assert f"approval: {merge[:7]} approved by {OTHER}" in result.stdout
    (lock,) = env_lockfiles(eco, "prod")
    text = (eco.root / "lockfiles" / lock).read_text()
    assert "status: healthy" in text
    assert "version: 0.6.1" in text
    assert deployed(eco)[-1] == "prod monitoring 0.1.0"

    # a later commit that does not touch prod's manifest keeps the approval
    commit_file(eco, "README.md", "# deploy repo\n", "docs: readme")
    again = cli("deploy", "prod", "--dry-run")
    assert again.code == 0, again
    assert f"approval: {merge[:7]} approved by" in again.stdout


def test_approval_required_outside_a_git_repo_is_refused(eco: Ecosystem) -> None:
    eco.write(PROD, version_env("prod", True))
    result = cli("deploy", "prod")
    assert result.code == EXIT_FAILED, result
    assert "is not a git repository, so approvals cannot be checked" in result.stderr
    assert env_lockfiles(eco, "prod") == []


def test_direct_commit_or_uncommitted_edit_after_approval_is_refused(gated: Ecosystem) -> None:
    eco = gated
    assert cli("approve", promoted(eco), "--by", OTHER).code == 0
    assert cli("deploy", "prod", "--dry-run").code == 0

    # uncommitted (then staged) edits of the manifest
    approved = (eco.root / PROD).read_text()
    eco.write(PROD, approved.replace("version: v1.0.0}", "version: v1.0.0}  # tweak", 1))
    assert_refused(eco, "deploy", "prod", why=f"{PROD} has uncommitted changes")
    dgit(eco, "add", PROD)
    assert_refused(eco, "deploy", "prod", why=f"{PROD} has uncommitted changes")

    # the same edit committed directly
    dgit(eco, "commit", "--quiet", "-m", "chore(prod): tweak")
    assert_refused(eco, "deploy", "prod", why="'chore(prod): tweak') is not an approved promotion")
    # a commit that merely claims approval is not a merge of a promotion branch
    eco.write(PROD, approved)
    dgit(eco, "commit", "--quiet", "-am", "Merge branch 'promote/x'\n\nApproved-by: " + OTHER)
    assert_refused(eco, "deploy", "prod", why="is not an approved promotion")


@pytest.mark.parametrize(("how", "accepted"), [
    ("github pull request merge", True),
    ("merge of a promote branch without trailer", False),
    ("pull request merge of another branch", False),
    ("fast-forward", False),
    ("squash", False),
])
def test_how_the_promotion_reached_main(gated: Ecosystem, how: str, accepted: bool) -> None:
    eco = gated
    branch = promoted(eco)
    if how == "github pull request merge":
        message = f"Merge pull request #12 from owner/{branch}\n\nchore(prod): promote"
        dgit(eco, "merge", "--quiet", "--no-ff", "-m", message, branch)
    elif how == "merge of a promote branch without trailer":
        dgit(eco, "merge", "--quiet", "--no-ff", "-m", f"Merge branch '{branch}'", branch)
    elif how == "pull request merge of another branch":
        dgit(eco, "branch", "feature/prod-bump", branch)
        dgit(eco, "merge", "--quiet", "--no-ff", "-m",
             "Merge pull request #13 from owner/feature/prod-bump", "feature/prod-bump")
    elif how == "fast-forward":
        dgit(eco, "merge", "--quiet", "--ff-only", branch)
    else:
        dgit(eco, "merge", "--quiet", "--squash", branch)
        dgit(eco, "commit", "--quiet", "-m", f"chore(prod): promote ({branch}) (#12)")
    if not accepted:
        assert_refused(eco, "deploy", "prod", why="is not an approved promotion")
        return
    result = cli("deploy", "prod")
    assert result.code == 0, result
    assert "is the merge of a reviewed promotion pull request" in result.stdout
    assert deployed(eco)[-1] == "prod monitoring 0.1.0"
    assert len(env_lockfiles(eco, "prod")) == 1


# --- replays -------------------------------------------------------------------------------------


def test_rollback_to_a_healthy_prod_lockfile_needs_no_new_approval(gated: Ecosystem) -> None:
    eco = gated
    good = write_lock(eco, "prod", timestamp="2026-01-01T10:00:00Z")
    bad = write_lock(eco, "prod", status="failed", revs={"ottochain": "v0.6.0"},
                     timestamp="2026-01-02T10:00:00Z")
    # the manifest itself is not approved: deploying it is refused ...
    assert_refused(eco, "deploy", "prod", why="is not an approved promotion")
    # ... and so is replaying a lockfile that was not healthy
    assert_refused(eco, "deploy-lockfile", bad.name, why="is not an approved promotion")
    # rolling back to what was healthy in prod is not
    result = cli("rollback", "prod")
    assert result.code == 0, result
    assert f"rolling prod back from {bad.name} to {good.name}" in result.stdout
    assert f"approval: {good.name} was healthy in prod; no new approval needed" in result.stdout
    new = sorted(set(env_lockfiles(eco, "prod")) - {good.name, bad.name})
    assert len(new) == 1
    text = (eco.root / "lockfiles" / new[0]).read_text()
    assert "status: healthy" in text
    assert f"replay_of: {good.name}" in text
    assert deployed(eco)[-1] == "prod monitoring 0.1.0"


def test_another_environments_lockfile_cannot_be_deployed_into_prod(gated: Ecosystem) -> None:
    eco = gated
    (staging_lock,) = env_lockfiles(eco, "staging")
    before = deployed(eco)
    result = cli("deploy-lockfile", staging_lock, "--env", "prod")
    assert result.code == EXIT_FAILED, result
    assert f"{staging_lock} is a lockfile of staging; it cannot be deployed into prod" \
        in result.stderr
    assert f"inv promote-lockfile {staging_lock} prod" in result.stderr
    assert env_lockfiles(eco, "prod") == []
    assert deployed(eco) == before
