"""``inv approve`` and the approval gate of ``inv deploy`` / ``rollback`` / ``deploy-lockfile``.

prod has ``approval_required: true``. The deploy root is a real git repo whose
``manifests/approvers`` lists Alice and Bob (SSH keys made by ``ssh-keygen``);
``inv approve`` signs with ``--signing-key``. staging's lockfile comes from a real
``inv deploy staging`` (released images in a real registry, ``target: local``), and
monitoring's deploy step appends a line to ``deployed.log`` beside the deploy root, so
"nothing was deployed" can be checked. The gate itself is attacked path by path in
``test_trust.py``; here it is seen through the commands, replays included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from tests.conftest import Result
from tests.deployrepo import (
    branches,
    cli,
    commit_file,
    dgit,
    init_deploy_repo,
    lockfiles,
    release_images,
    sha_of,
    write_lock,
)
from tests.ecosystem import VERSION_ENV, Ecosystem
from tests.signing import Person, make_people

PROD = "manifests/environments/prod.yaml"
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


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def bob(people: dict[str, Person]) -> Person:
    return people["bob"]


def setup_root(eco: Ecosystem, people: dict[str, Person], registry: str = "127.0.0.1:9") \
        -> None:
    """prod one release behind staging, approval required; the deploy root a git repo."""
    eco.write("manifests/components.yaml",
              eco.components_text(registry=registry, cache=True) + DEPLOY_STEP)
    eco.write("manifests/environments/staging.yaml", version_env("staging", False))
    eco.write(PROD, version_env("prod", True, ottochain="v0.6.0"))
    eco.write("manifests/approvers",
              people["alice"].allowed_signer() + people["bob"].allowed_signer())
    init_deploy_repo(eco, origin=False)


def approve(branch: str, person: Person) -> Result:
    return cli("approve", branch, "--by", person.by, "--signing-key", str(person.key))


@pytest.fixture
def approvals(eco: Ecosystem, people: dict[str, Person]) -> Ecosystem:
    """For ``inv approve`` alone: staging's healthy lockfile written from the repos' SHAs."""
    setup_root(eco, people)
    write_lock(eco, "staging")
    return eco


@pytest.fixture
def gated(eco: Ecosystem, registry: str, people: dict[str, Person]) -> Ecosystem:
    """For deploys: the released images in a real registry, staging's lockfile written."""
    release_images(eco, registry)
    setup_root(eco, people, registry)
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
    assert 'inv approve promote/... --by "Name <email>"' in result.stderr \
        or "inv promote" in result.stderr        # a replay is pointed at promotion
    assert "Traceback" not in result.output
    assert (deployed(eco), env_lockfiles(eco, "prod")) == before
    assert "== deploy" not in result.stdout


# --- inv approve ---------------------------------------------------------------------------------


def test_approve_merges_no_ff_signed_with_an_approved_by_trailer(approvals: Ecosystem,
                                                                 bob: Person) -> None:
    eco = approvals
    branch = promoted(eco)
    tip, before = dgit(eco, "rev-parse", branch), head(eco)
    assert dgit(eco, "merge-base", "--is-ancestor", before, tip) == ""  # could fast-forward
    result = approve(branch, bob)
    assert result.code == 0, result
    assert f"approved {branch}" in result.stdout
    assert "warning" not in result.stdout
    merge = head(eco)
    assert dgit(eco, "rev-list", "--parents", "-n1", merge).split() == [merge, before, tip]
    assert dgit(eco, "log", "-1", "--format=%s") == f"Merge branch '{branch}'"
    assert dgit(eco, "log", "-1", "--format=%(trailers)") == f"Approved-by: {bob.by}"
    signers = eco.root / "manifests" / "approvers"
    assert dgit(eco, "-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "-1",
                "--format=%G? %GS") == f"G {bob.email}"
    assert dgit(eco, "symbolic-ref", "--short", "HEAD") == "main"
    assert "ottochain: {type: core, version: v0.6.1}" in (eco.root / PROD).read_text()
    assert dgit(eco, "status", "--porcelain", "--", "manifests") == ""


def test_self_approval_is_refused(approvals: Ecosystem, bob: Person) -> None:
    eco = approvals
    branch = promoted(eco)
    assert dgit(eco, "log", "-1", "--format=%ae", branch) == "author@example.invalid"
    before = head(eco)
    for by in ["Test Author <author@example.invalid>",    # the promotion's author
               "Someone Else <AUTHOR@Example.INVALID>",   # same email: other name, other case
               "  Test Author   <author@EXAMPLE.invalid>  "]:
        result = cli("approve", branch, "--by", by, "--signing-key", str(bob.key))
        assert result.code == EXIT_FAILED, (by, result)
        assert "wrote the promotion" in result.stderr
        assert "someone else must approve it" in result.stderr
        assert head(eco) == before
    assert branches(eco) == [branch]
    assert approve(branch, bob).code == 0  # anyone else may


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
    assert ("--by is required" if by is None else "is not 'Name <email>'") in result.stderr
    assert "Traceback" not in result.output
    assert head(eco) == before


def test_approve_non_promotion_branch_is_bad_input(approvals: Ecosystem, bob: Person) -> None:
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
        result = approve(branch, bob)
        assert result.code == EXIT_BAD_INPUT, (branch, result)
        assert message in result.stderr, branch
        assert head(eco) == before


def test_approving_a_merged_branch_again_records_nothing(approvals: Ecosystem,
                                                        people: dict[str, Person]) -> None:
    eco = approvals
    branch = promoted(eco)
    assert approve(branch, people["bob"]).code == 0
    merge = head(eco)
    again = approve(branch, people["alice"])
    assert again.code == EXIT_FAILED, again
    assert "already merged" in again.stderr
    assert "approved" not in again.stdout
    assert head(eco) == merge
    assert dgit(eco, "log", "-1", "--format=%(trailers)") == f"Approved-by: {people['bob'].by}"


def test_conflicting_approval_fails_and_leaves_no_merge_in_progress(approvals: Ecosystem,
                                                                    bob: Person) -> None:
    eco = approvals
    branch = promoted(eco)
    # someone changed the same line on main meanwhile
    commit_file(eco, PROD, version_env("prod", True, ottochain="v0.5.9"), "chore: hand edit")
    before = head(eco)
    result = approve(branch, bob)
    assert result.code == EXIT_FAILED, result
    assert f"merging {branch} failed" in result.stderr
    assert head(eco) == before
    assert not (eco.root / ".git" / "MERGE_HEAD").exists()
    assert dgit(eco, "status", "--porcelain", "--", "manifests") == ""


# --- the deploy gate -----------------------------------------------------------------------------


def test_prod_deploys_only_after_approval(eco: Ecosystem, registry: str,
                                          people: dict[str, Person], bob: Person) -> None:
    """End to end: a real staging deploy, promotion, refusal, approval, a real prod deploy."""
    release_images(eco, registry)
    setup_root(eco, people, registry)
    staging = cli("deploy", "staging")
    assert staging.code == 0, staging
    assert deployed(eco) == ["staging monitoring 0.1.0"]
    # the deploy definition as first committed was never approved
    assert_refused(eco, "deploy", "prod", why="'chore: deploy repo') is not a verified approval")
    # promoted, but not approved yet
    branch = promoted(eco)
    assert_refused(eco, "deploy", "prod", why="is not a verified approval")
    assert env_lockfiles(eco, "prod") == []

    assert approve(branch, bob).code == 0
    merge = head(eco)
    result = cli("deploy", "prod")
    assert result.code == 0, result
    assert f"approval: {merge[:7]} approved by {bob.by}" in result.stdout
    (lock,) = env_lockfiles(eco, "prod")
    text = (eco.root / "lockfiles" / lock).read_text()
    assert "status: healthy" in text
    assert "version: 0.6.1" in text
    assert deployed(eco)[-1] == "prod monitoring 0.1.0"

    # a later commit outside the deploy definition keeps the approval
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


def test_direct_commit_or_uncommitted_edit_after_approval_is_refused(gated: Ecosystem,
                                                                     bob: Person) -> None:
    eco = gated
    assert approve(promoted(eco), bob).code == 0
    assert cli("deploy", "prod", "--dry-run").code == 0

    # uncommitted (then staged) edits of the manifest
    approved = (eco.root / PROD).read_text()
    eco.write(PROD, approved.replace("version: v1.0.0}", "version: v1.0.0}  # tweak", 1))
    assert_refused(eco, "deploy", "prod", why=f"{PROD} has uncommitted changes")
    dgit(eco, "add", PROD)
    assert_refused(eco, "deploy", "prod", why=f"{PROD} has uncommitted changes")

    # the same edit committed directly
    dgit(eco, "commit", "--quiet", "-m", "chore(prod): tweak")
    assert_refused(eco, "deploy", "prod", why="'chore(prod): tweak') is not a verified approval")
    # a commit that merely claims approval is not a signed merge
    eco.write(PROD, approved)
    dgit(eco, "commit", "--quiet", "-am", "Merge branch 'promote/x'\n\nApproved-by: " + bob.by)
    assert_refused(eco, "deploy", "prod", why="it is not a merge of one branch")


@pytest.mark.parametrize(("how", "why"), [
    # GitHub's merge message, without GitHub being asked: text is never evidence
    ("github pull request merge", "GITHUB_TOKEN is not set"),
    ("merge of a promote branch without trailer", "it carries no SSH signature"),
    ("pull request merge of another branch", "it carries no SSH signature"),
    ("fast-forward", "it is not a merge of one branch"),
    ("squash", "it is not a merge of one branch"),
])
def test_how_the_promotion_reached_main(gated: Ecosystem, how: str, why: str) -> None:
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
    assert_refused(eco, "deploy", "prod", why=why)
    assert_refused(eco, "deploy", "prod", why="is not a verified approval")


# --- replays -------------------------------------------------------------------------------------


def commit_lockfiles(eco: Ecosystem) -> None:
    dgit(eco, "add", "lockfiles")
    dgit(eco, "commit", "--quiet", "-m", "chore: lockfiles")


def approved_prod(eco: Ecosystem, bob: Person) -> tuple[str, Path]:
    """staging promoted into prod, approved by Bob, deployed: (the merge, prod's lockfile)."""
    assert approve(promoted(eco), bob).code == 0
    merge = head(eco)
    result = cli("deploy", "prod")
    assert result.code == 0, result
    (name,) = env_lockfiles(eco, "prod")
    return merge, eco.root / "lockfiles" / name


def test_rollback_to_a_committed_healthy_prod_lockfile_needs_no_new_approval(
        gated: Ecosystem, bob: Person) -> None:
    eco = gated
    merge, good = approved_prod(eco, bob)
    assert f"commit: {merge}" in good.read_text()      # the approval its sources stand on
    bad = write_lock(eco, "prod", status="failed", revs={"ottochain": "v0.6.0"},
                     timestamp="2099-01-02T10:00:00Z")
    # the lockfiles are not committed: not a record of the repository yet
    assert_refused(eco, "rollback", "prod", why=f"lockfiles/{good.name} is not committed")
    commit_lockfiles(eco)
    # replaying a lockfile that was not healthy is refused
    assert_refused(eco, "deploy-lockfile", bad.name, why="its status is failed")
    result = cli("rollback", "prod")
    assert result.code == 0, result
    assert f"rolling prod back from {bad.name} to {good.name}" in result.stdout
    assert f"approval: {good.name} is committed and was healthy in prod; its sources are " \
           f"what {merge[:7]} approved" in result.stdout
    assert f"approved by {bob.by}" in result.stdout
    new = sorted(set(env_lockfiles(eco, "prod")) - {good.name, bad.name})
    assert len(new) == 1
    text = (eco.root / "lockfiles" / new[0]).read_text()
    assert "status: healthy" in text
    assert f"replay_of: {good.name}" in text
    assert f"commit: {merge}" in text and f"replayed from {good.name}" in text
    assert deployed(eco)[-1] == "prod monitoring 0.1.0"
    # the rollback's own lockfile stands on the same approval: it can be replayed in turn
    commit_lockfiles(eco)
    again = cli("deploy-lockfile", new[0])
    assert again.code == 0, again
    # the deploy definition changed without approval: a replay runs its deploy steps, so refused
    commit_file(eco, "deploy/notes.txt", "x\n", "chore: a note")
    assert_refused(eco, "deploy-lockfile", new[0], why="is not a verified approval")


def _only_approved(eco: Ecosystem, bob: Person, attack: str) -> tuple[str, str]:
    """A lockfile committed straight to lockfiles/, unreviewed: (its name, why it is refused)."""
    merge, good = approved_prod(eco, bob)
    text = good.read_text()
    forged = eco.root / "lockfiles" / "prod-2099-01-01-0000.yaml"
    if attack == "no approval recorded":
        # another environment's healthy lockfile relabelled as prod's and committed
        (staging,) = env_lockfiles(eco, "staging")
        staging_text = (eco.root / "lockfiles" / staging).read_text()
        forged.write_text(staging_text.replace("environment: staging", "environment: prod"))
        why = "it records no approval: no approved deploy of prod wrote it"
    elif attack == "an approved lockfile's commit swapped, version kept":
        # ottochain at v0.6.0's commit, still claiming the approved 0.6.1
        old, new = sha_of(eco, "ottochain", "v0.6.1"), sha_of(eco, "ottochain", "v0.6.0")
        forged.write_text(text.replace(old, new))
        why = (f"sources.ottochain.sha {new[:12]} is not the commit of the approved version "
               f"v0.6.1 ({old[:12]})")
    elif attack == "an approved lockfile's version swapped":
        old, new = sha_of(eco, "ottochain", "v0.6.1"), sha_of(eco, "ottochain", "v0.6.0")
        forged.write_text(text.replace(old, new).replace("version: 0.6.1", "version: 0.6.0"))
        why = "sources.ottochain.version 0.6.0 is not the v0.6.1 of prod's manifest as approved"
    elif attack == "approval naming a commit outside the history":
        forged.write_text(text.replace(merge, "deadbeef" * 5))
        why = "its approval deadbee is not in the history of HEAD"
    else:   # an approval naming a commit that is no approval (the deploy repo's first)
        first = dgit(eco, "rev-list", "--max-parents=0", "HEAD")
        forged.write_text(text.replace(merge, first))
        why = f"its approval {first[:7]} is not a verified approval"
    commit_lockfiles(eco)
    return forged.name, why


@pytest.mark.parametrize("attack", [
    "no approval recorded", "an approved lockfile's commit swapped, version kept",
    "an approved lockfile's version swapped", "approval naming a commit outside the history",
    "approval naming a commit that is no approval",
])
def test_only_what_an_approval_pinned_is_replayed(gated: Ecosystem, bob: Person,
                                                  attack: str) -> None:
    """Committed straight to lockfiles/, so committed, healthy, prod's: still refused."""
    name, why = _only_approved(gated, bob, attack)
    assert_refused(gated, "deploy-lockfile", name, why=why)


def _forge_environment(path: Path, env: str) -> None:
    path.write_text(path.read_text().replace("environment: staging", f"environment: {env}"))


@pytest.mark.parametrize("attack", [
    "uncommitted copy", "edited after commit", "copy outside lockfiles", "symlink to outside",
    "staging lockfile relabelled, never committed", "foreign repo",
])
def test_a_replay_that_is_not_the_committed_record_is_refused(
        approvals: Ecosystem, tmp_path: Path, attack: str) -> None:
    eco = approvals
    mirrors = eco.root / ".ottodeploy" / "cache" / "mirrors"
    if attack == "uncommitted copy":
        target, why = write_lock(eco, "prod").name, "is not committed"
    elif attack == "edited after commit":
        lock = write_lock(eco, "prod")
        commit_lockfiles(eco)
        lock.write_text(lock.read_text().replace("version: 1.0.0", "version: 1.0.9", 1))
        target, why = lock.name, "differs from the committed file"
    elif attack in ("copy outside lockfiles", "symlink to outside"):
        lock = write_lock(eco, "prod")
        commit_lockfiles(eco)
        outside = tmp_path / lock.name
        outside.write_bytes(lock.read_bytes())
        if attack == "copy outside lockfiles":
            target = str(outside)
        else:
            link = eco.root / "lockfiles" / "prod-link.yaml"
            link.symlink_to(outside)
            target = link.name
        why = "is not a file in lockfiles/"
    elif attack == "staging lockfile relabelled, never committed":
        (staging,) = env_lockfiles(eco, "staging")
        forged = tmp_path / staging
        forged.write_text((eco.root / "lockfiles" / staging).read_text())
        _forge_environment(forged, "prod")
        target, why = str(forged), "is not a file in lockfiles/"
    else:
        lock = write_lock(eco, "prod")
        lock.write_text(lock.read_text().replace(eco.urls["services"], eco.urls["explorer"]))
        commit_lockfiles(eco)
        target = lock.name
        why = f"sources.services.repo '{eco.urls['explorer']}' is not services's repo"
    assert_refused(eco, "deploy-lockfile", target, why=why)
    result = cli("deploy-lockfile", target)
    assert f"cannot be replayed into it: {why}" in result.stderr or why in result.stderr
    assert "inv promote" in result.stderr
    assert not mirrors.exists()        # refused before any repo was read


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
