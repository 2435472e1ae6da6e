"""``inv promote``, ``inv promote-lockfile`` and ``scripts/promote-lockfile.sh`` (SPEC §6).

The deploy root of the test ecosystem is made a real git repo with a bare
``origin``; staging's healthy lockfile comes from a real ``inv deploy staging``
(released images in a real registry) or is written from the eco repos' real SHAs.
Pull requests go to an ``HttpRecorder`` standing in for GitHub's API.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import ottodeploy.flows.promote
import ottodeploy.github
import ottodeploy.http
from ottodeploy.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from tests.conftest import PROJECT
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
from tests.ecosystem import BRANCH_ENV, VERSION_ENV, Ecosystem
from tests.gitrepos import git
from tests.servers import HttpRecorder, Response, free_port

GOLDEN = Path(__file__).parent / "golden"
PROD = "manifests/environments/prod.yaml"
BETA = "manifests/environments/beta.yaml"
BRANCH_RE = re.compile(r"promote/staging-to-prod-\d{8}-\d{6}")
TOKEN = "ghp_testsecret0123456789abcdefABCDEF"

# prod as a person keeps it: comments, flow and block styles, quotes, blank lines, an
# end-of-line comment on a version line, a source pinned by sha (SERVICES_SHA) and
# versions with and without the v. Staging's lockfile moves tessellation off its RC,
# metakit to the highest tag on its commit, ottochain forward and services off the sha.
PROD_YAML = """\
# Production: what runs for real.
# Changed only through promotion from staging and an approval.
name: prod
mode: version
auto_deploy: false
approval_required: true  # reviewers: ops

sources:
  # --- upstream ------------------------------------------------------------
  tessellation: {type: upstream, version: v4.0.0-rc.10}  # RC until 4.0.0 is proven
  metakit:
    type: upstream
    version: v0.2.0   # the metakit team's pin

  # --- ours ----------------------------------------------------------------
  ottochain:
    type: core
    version: "v0.6.0"
  sdk: {type: ecosystem, version: v0.3.0}
  services:
    type: ecosystem
    sha: SERVICES_SHA  # hotfix, pinned by sha
  explorer: {type: ecosystem, version: v1.0.0}
  monitoring:
    # config only; no build deps
    type: ecosystem
    version: 0.1.0

infrastructure:
  target: local
  cluster: "hetzner-prod"
  nodes: [prod-node1, prod-node2]   # three once the third is racked
smoke:
  - name: version
    url: "http://127.0.0.1:9/version"
    json: {commit: "${ottochain.sha}"}
  - url: http://127.0.0.1:9/health
    status: 200
# end of file
"""

# prod as the eco ships it (flow style), one release behind staging
OLD_PROD = VERSION_ENV.format(name="prod", approval="true").replace(
    "ottochain: {type: core, version: v0.6.1}", "ottochain: {type: core, version: v0.6.0}")


# --- helpers ---------------------------------------------------------------------------------


def normalise(text: str, eco: Ecosystem) -> str:
    """Output without what differs between runs: paths, SHAs, stamps, lockfile names."""
    text = text.replace(str(eco.base), "<eco>")
    text = re.sub(r"\b[0-9a-f]{40}\b", "<sha>", text)
    text = re.sub(r"^index [0-9a-f]+\.\.[0-9a-f]+", "index <blob>..<blob>", text, flags=re.M)
    text = re.sub(r"(promote/[a-z-]+-to-[a-z-]+)-\d{8}-\d{6}", r"\1-<stamp>", text)
    text = re.sub(r"([a-z][a-z0-9-]*)-\d{4}-\d\d-\d\d-\d{4}(-\d+)?\.yaml", r"\1-<minute>.yaml",
                  text)
    return re.sub(r"\b[0-9a-f]{12}\b", "<commit>", text)


def assert_golden(name: str, text: str) -> None:
    """``text`` equals tests/golden/NAME (OTTODEPLOY_UPDATE_GOLDEN=1 rewrites it)."""
    path = GOLDEN / name
    if os.environ.get("OTTODEPLOY_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"differs from {path}"


def head(eco: Ecosystem) -> str:
    return dgit(eco, "rev-parse", "HEAD")


def show(eco: Ecosystem, rev: str, path: str) -> str:
    # git() strips output; the file's final newline is part of the comparison
    return git(eco.root, "show", f"{rev}:{path}") + "\n"


def workspace(eco: Ecosystem) -> dict[str, str]:
    """Everything a promotion must leave alone: HEAD, branch, index, working tree."""
    return {
        "head": head(eco),
        "branch": dgit(eco, "symbolic-ref", "HEAD"),
        "status": dgit(eco, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": dgit(eco, "ls-files", "--stage"),
        "staged": dgit(eco, "diff", "--cached"),
        "unstaged": dgit(eco, "diff"),
        "refs": dgit(eco, "for-each-ref", "--format=%(refname) %(objectname)",
                     "refs/heads/main", "refs/remotes"),
    }


def deployed_staging(eco: Ecosystem) -> str:
    """A real ``inv deploy staging``; returns its lockfile's name."""
    result = cli("deploy", "staging")
    assert result.code == 0, result
    (name,) = [n for n in lockfiles(eco) if n.startswith("staging-")]
    assert "status: healthy" in (eco.root / "lockfiles" / name).read_text()
    return name


@pytest.fixture
def repo(eco: Ecosystem, registry: str) -> Ecosystem:
    """Released images in a registry; the deploy root a git repo with prod as PROD_YAML."""
    release_images(eco, registry)
    eco.write(PROD, PROD_YAML.replace("SERVICES_SHA", sha_of(eco, "services", "v1.0.0")))
    init_deploy_repo(eco)
    return eco


@pytest.fixture
def plain(eco: Ecosystem) -> Ecosystem:
    """The deploy root a git repo (with origin), prod one release behind; no registry."""
    eco.write(PROD, OLD_PROD)
    init_deploy_repo(eco)
    return eco


# --- staging -> prod from a real deploy ------------------------------------------------------


def test_promote_staging_to_prod_from_a_real_deploy(repo: Ecosystem) -> None:
    eco = repo
    # metakit's released commit carries more tags: the highest version wins, a release
    # over its own prerelease, tags that are no versions are ignored
    for tag, annotated in [("v0.1.9", False), ("v0.2.1-rc.1", False), ("v0.2.1", True),
                           ("stable", False)]:
        eco.repos["metakit"].tag(tag, annotated=annotated, target="v0.2.0")
    name = deployed_staging(eco)

    # the user's work in progress, which the promotion must not touch
    eco.write("manifests/environments/staging.yaml",
              (eco.root / "manifests/environments/staging.yaml").read_text() + "# wip\n")
    eco.write("notes.txt", "staged, not committed\n")
    dgit(eco, "add", "notes.txt")
    eco.write("scratchpad.txt", "untracked\n")
    before = workspace(eco)
    prod_before = (eco.root / PROD).read_bytes()
    old_manifest = show(eco, "HEAD", PROD)

    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert result.stderr == ""

    # a new branch, one commit on top of the previous HEAD, changing only prod.yaml
    (branch,) = branches(eco)
    assert BRANCH_RE.fullmatch(branch), branch
    commit = dgit(eco, "rev-parse", branch)
    assert dgit(eco, "rev-list", "--parents", "-n1", branch).split() == [commit, before["head"]]
    assert dgit(eco, "diff", "--name-only", before["head"], branch) == PROD

    # the current branch, index and working tree are exactly as they were
    assert workspace(eco) == before
    assert (eco.root / PROD).read_bytes() == prod_before
    assert (eco.root / "manifests/environments/staging.yaml").read_text().endswith("# wip\n")
    assert (eco.root / "notes.txt").read_text() == "staged, not committed\n"

    # the manifest on the branch: locked versions as v-tags, everything else byte for byte
    new_manifest = show(eco, branch, PROD)
    assert_golden("promote_staging_to_prod.yaml", normalise(new_manifest, eco))
    old_lines, new_lines = old_manifest.splitlines(), new_manifest.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(o, n) for o, n in zip(old_lines, new_lines, strict=True) if o != n]
    assert [n.split("#")[0].strip() for _, n in changed] == [
        "tessellation: {type: upstream, version: v4.0.0}",
        "version: v0.2.1",
        'version: "v0.6.1"',
        "version: v1.0.0",
    ]   # monitoring's 0.1.0 is the v0.1.0 the lockfile holds: no change, the text stays
    # end-of-line comments survive on the lines that changed
    assert "# the metakit team's pin" in changed[1][1]
    assert "# RC until 4.0.0 is proven" in changed[0][1]

    # the commit message lists every component old -> new
    message = dgit(eco, "log", "-1", "--format=%B", branch)
    assert message.splitlines()[0] == "chore(prod): promote staging to prod"
    assert name in message
    services_sha = sha_of(eco, "services", "v1.0.0")
    assert [ln for ln in message.splitlines() if ln.startswith("- ")] == [
        "- tessellation: version v4.0.0-rc.10 -> version v4.0.0",
        "- metakit: version v0.2.0 -> version v0.2.1",
        "- ottochain: version v0.6.0 -> version v0.6.1",
        f"- services: sha {services_sha} -> version v1.0.0",
    ]

    # what the user saw: the steps, the diff, the branch and how to approve it
    assert f"inv approve {branch}" in result.stdout
    assert_golden("promote_staging_to_prod.out", normalise(result.stdout, eco))


def test_promote_when_nothing_changes_makes_no_branch(plain: Ecosystem) -> None:
    eco = plain
    commit_file(eco, PROD, VERSION_ENV.format(name="prod", approval="true"), "prod = staging")
    write_lock(eco, "staging")
    before = workspace(eco)
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert "nothing to promote" in result.stdout
    assert branches(eco) == []
    assert workspace(eco) == before


def test_two_promotions_in_one_second_get_two_branches(plain: Ecosystem,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    eco = plain
    write_lock(eco, "staging")
    frozen = time.gmtime()  # the branch stamp has one-second resolution
    monkeypatch.setattr(ottodeploy.flows.promote, "time",
                        SimpleNamespace(strftime=time.strftime, gmtime=lambda *_: frozen))
    first = cli("promote", "staging", "prod")
    second = cli("promote-lockfile", lockfiles(eco)[0], "prod")
    assert (first.code, second.code) == (0, 0), (first, second)
    stamp = time.strftime("%Y%m%d-%H%M%S", frozen)
    assert branches(eco) == [f"promote/staging-to-prod-{stamp}",
                             f"promote/staging-to-prod-{stamp}-2"]
    a, b = (dgit(eco, "rev-parse", f"{br}^{{tree}}") for br in branches(eco))
    assert a == b  # the same promotion twice, on two branches


def test_sources_the_lockfile_lacks_are_left_as_they_are(plain: Ecosystem) -> None:
    eco = plain
    name = write_lock(eco, "staging", drop=("monitoring",)).name
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert f"monitoring: not in {name}; left as it is" in result.stdout
    (branch,) = branches(eco)
    assert show(eco, branch, PROD) == OLD_PROD.replace("version: v0.6.0", "version: v0.6.1")


def test_promotion_needs_a_git_repo_and_a_committed_manifest(eco: Ecosystem) -> None:
    write_lock(eco, "staging")
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert "is not a git repository; promotions are commits" in result.stderr

    init_deploy_repo(eco, origin=False)
    eco.write("manifests/environments/prod-eu.yaml",
              VERSION_ENV.format(name="prod-eu", approval="true"))   # not committed yet
    result = cli("promote", "staging", "prod-eu")
    assert result.code == EXIT_FAILED, result
    assert "manifests/environments/prod-eu.yaml is not committed at HEAD" in result.stderr
    assert branches(eco) == []


# --- into a branch environment ---------------------------------------------------------------


def test_promote_scratch_to_beta_pins_shas_and_keeps_build_with(plain: Ecosystem) -> None:
    eco = plain
    revs = {"tessellation": "main", "metakit": "main", "ottochain": "develop", "sdk": "develop",
            "services": "develop", "explorer": "develop", "monitoring": "develop"}
    versions = {"tessellation": "4.0.0", "metakit": "0.2.0", "ottochain": "0.6.2-dev.3",
                "sdk": "0.3.0", "services": "1.0.0", "explorer": "1.0.0", "monitoring": "0.1.0"}
    name = write_lock(eco, "scratch", revs=revs, mode="branch", versions=versions).name
    sha = {n: sha_of(eco, n, r) for n, r in revs.items()}
    result = cli("promote", "scratch", "beta")
    assert result.code == 0, result
    (branch,) = branches(eco)
    assert re.fullmatch(r"promote/scratch-to-beta-\d{8}-\d{6}", branch)

    expected = BRANCH_ENV.format(name="beta")
    for n in ("tessellation", "sdk", "services", "explorer", "monitoring"):
        ref = revs[n]
        expected = re.sub(rf"(  {n}: \{{type: \w+, )ref: {ref}\}}", rf"\1sha: {sha[n]}}}",
                          expected)
    expected = expected.replace("    type: upstream\n    ref: main\n",
                                f"    type: upstream\n    sha: {sha['metakit']}\n")
    expected = expected.replace("    type: core\n    ref: develop\n",
                                f"    type: core\n    sha: {sha['ottochain']}\n")
    assert expected.count("sha: ") == 7
    assert show(eco, branch, BETA) == expected  # build_with kept, flow style kept

    message = dgit(eco, "log", "-1", "--format=%B", branch)
    assert f"From lockfile {name}" in message
    assert f"- ottochain: ref develop -> sha {sha['ottochain']}" in message
    assert f"- tessellation: ref main -> sha {sha['tessellation']}" in message


# --- untagged SHAs -----------------------------------------------------------------------------


def untagged_staging_lock(eco: Ecosystem) -> dict[str, str]:
    """staging's lockfile with ottochain and sdk on commits that carry no release tag."""
    eco.repos["sdk"].commit("feat: sdk change", {"src/x.ts": "x\n"}, branch="develop")
    write_lock(eco, "staging", revs={"ottochain": "develop", "sdk": "develop"},
               versions={"ottochain": "0.6.2-dev.3", "sdk": "0.3.1-dev.1"})
    return {n: sha_of(eco, n, "develop") for n in ("ottochain", "sdk")}


def test_untagged_sha_is_refused_listing_the_components(plain: Ecosystem) -> None:
    eco = plain
    sha = untagged_staging_lock(eco)
    before = workspace(eco)
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert "no release tag on the locked commit of" in result.stderr
    assert f"ottochain {sha['ottochain'][:12]} (0.6.2-dev.3)" in result.stderr
    assert f"sdk {sha['sdk'][:12]} (0.3.1-dev.1)" in result.stderr
    for tagged in ("tessellation", "metakit", "services", "explorer", "monitoring"):
        assert f"{tagged} " not in result.stderr.split("of:")[1]
    assert "--allow-sha" in result.stderr
    assert "Traceback" not in result.output
    assert branches(eco) == []
    assert workspace(eco) == before


def test_allow_sha_pins_untagged_by_sha_and_tagged_by_version(plain: Ecosystem) -> None:
    eco = plain
    sha = untagged_staging_lock(eco)
    result = cli("promote", "staging", "prod", "--allow-sha")
    assert result.code == 0, result
    (branch,) = branches(eco)
    expected = OLD_PROD.replace("ottochain: {type: core, version: v0.6.0}",
                                f"ottochain: {{type: core, sha: {sha['ottochain']}}}")
    expected = expected.replace("sdk: {type: ecosystem, version: v0.3.0}",
                                f"sdk: {{type: ecosystem, sha: {sha['sdk']}}}")
    assert show(eco, branch, PROD) == expected


# --- no healthy lockfile -----------------------------------------------------------------------


@pytest.mark.parametrize("lockfiles_present", [
    [],                                       # none at all
    [("staging", "failed")],                  # only a failed one
    [("staging", "failed"), ("scratch", "healthy")],  # another env's healthy one does not count
])
def test_no_healthy_lockfile_is_refused(plain: Ecosystem,
                                        lockfiles_present: list[tuple[str, str]]) -> None:
    eco = plain
    for env, status in lockfiles_present:
        write_lock(eco, env, status=status)
    before = workspace(eco)
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert "staging has no healthy lockfile to promote" in result.stderr
    assert "Traceback" not in result.output
    assert branches(eco) == []
    assert workspace(eco) == before


def test_newest_healthy_lockfile_is_the_one_promoted(plain: Ecosystem) -> None:
    eco = plain
    write_lock(eco, "staging", revs={"ottochain": "v0.6.0"}, timestamp="2026-01-01T10:00:00Z")
    write_lock(eco, "staging", timestamp="2026-01-02T10:00:00Z")            # newest healthy
    write_lock(eco, "staging", status="failed", revs={"ottochain": "v0.6.0"},
               timestamp="2026-01-03T10:00:00Z")                           # newer, failed
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert "staging-2026-01-02-1000.yaml" in result.stdout
    assert "ottochain: version v0.6.0 -> version v0.6.1" in result.stdout


# --- promote-lockfile and its script -------------------------------------------------------------


@pytest.mark.parametrize("form", ["name", "absolute path"])
def test_promote_lockfile(plain: Ecosystem, form: str) -> None:
    eco = plain
    path = write_lock(eco, "staging")
    result = cli("promote-lockfile", path.name if form == "name" else str(path), "prod")
    assert result.code == 0, result
    (branch,) = branches(eco)
    assert BRANCH_RE.fullmatch(branch)
    assert "version: v0.6.1" in show(eco, branch, PROD)
    assert f"From lockfile {path.name}" in dgit(eco, "log", "-1", "--format=%B", branch)


def test_promote_lockfile_refuses_failed_and_missing_lockfiles(plain: Ecosystem) -> None:
    eco = plain
    failed = write_lock(eco, "staging", status="failed")
    result = cli("promote-lockfile", failed.name, "prod")
    assert result.code == EXIT_FAILED, result
    assert "is failed; only healthy lockfiles are promoted" in result.stderr
    missing = cli("promote-lockfile", "staging-2020-01-01-0000.yaml", "prod")
    assert missing.code == EXIT_BAD_INPUT, missing
    assert "no lockfile 'staging-2020-01-01-0000.yaml'" in missing.stderr
    own = cli("promote-lockfile", write_lock(eco, "prod").name, "prod")
    assert own.code == EXIT_FAILED, own
    assert "already belongs to prod" in own.stderr
    assert branches(eco) == []


@pytest.mark.parametrize("form", ["name", "relative path"])
def test_promote_lockfile_script(plain: Ecosystem, form: str) -> None:
    """DESIGN §6: ./scripts/promote-lockfile.sh scratch-2026-02-10-1423.yaml staging."""
    eco = plain
    path = write_lock(eco, "staging")
    arg = path.name if form == "name" else f"lockfiles/{path.name}"
    import subprocess

    done = subprocess.run([str(PROJECT / "scripts" / "promote-lockfile.sh"), arg, "prod"],
                          cwd=eco.root, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done
    (branch,) = branches(eco)
    assert "version: v0.6.1" in show(eco, branch, PROD)
    assert f"promotion branch {branch}" in done.stdout

    usage = subprocess.run([str(PROJECT / "scripts" / "promote-lockfile.sh"), arg],
                           cwd=eco.root, capture_output=True, text=True, timeout=60,
                           check=False)
    assert usage.returncode == EXIT_BAD_INPUT
    assert "usage:" in usage.stderr


# --- compatibility -------------------------------------------------------------------------------


SDK_VIOLATION = "sdk 0.3.0 requires ottochain >=0.5.0 <1.0.0, but ottochain is 1.0.0"
SERVICES_VIOLATION = "services 1.0.0 requires ottochain >=0.5.0 <1.0.0, but ottochain is 1.0.0"


@pytest.mark.parametrize("case", ["locked 1.0.0", "highest tag 1.0.0"])
def test_incompatible_promotion_is_refused_without_a_branch(plain: Ecosystem,
                                                            case: str) -> None:
    eco = plain
    otto = eco.repos["ottochain"]
    if case == "locked 1.0.0":
        # staging ran ottochain 1.0.0 (the matrix changed since, or the lock was hand-made)
        otto.checkout("release/1.0", create_from="main")
        otto.commit("feat!: new data types", {"src/v1.scala": "1\n"})
        otto.tag("v1.0.0", annotated=True)
        write_lock(eco, "staging", revs={"ottochain": "v1.0.0"})
    else:
        # staging deployed v0.6.1; its commit has since also been tagged v1.0.0, so the
        # promoted manifest would say v1.0.0, which the matrix refuses
        write_lock(eco, "staging")
        otto.tag("v1.0.0", target="v0.6.1")
    before = workspace(eco)
    objects = dgit(eco, "count-objects")
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert "compatibility matrix violated (2)" in result.stderr
    assert SDK_VIOLATION in result.stderr
    assert SERVICES_VIOLATION in result.stderr
    assert "Traceback" not in result.output
    assert branches(eco) == []
    assert workspace(eco) == before
    assert dgit(eco, "count-objects") == objects  # not even a dangling commit


# --- pushing and the pull request ----------------------------------------------------------------


@pytest.fixture
def github(plain: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpRecorder]:
    """GitHub's API as a recorder; the environment GitHub Actions would give."""
    sleeps: list[float] = []
    # the backoff is recorded, not slept (only the HTTP door's view of ``time`` is replaced)
    monkeypatch.setattr(ottodeploy.http, "time", SimpleNamespace(sleep=sleeps.append))
    with HttpRecorder() as recorder:
        recorder.sleeps = sleeps  # type: ignore[attr-defined]
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", recorder.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "owner/deploy")
        write_lock(plain, "staging")
        yield recorder


CREATED = Response(201, body={"number": 12,
                              "html_url": "https://github.example/owner/deploy/pull/12"})


def assert_no_token(result: object) -> None:
    text = str(result)
    assert TOKEN not in text
    assert TOKEN[4:] not in text


def test_pull_request_is_opened_against_the_current_branch(plain: Ecosystem,
                                                           github: HttpRecorder) -> None:
    eco = plain
    dgit(eco, "checkout", "--quiet", "-b", "ops")  # base is the current branch, not main
    github.add_route("POST", "/repos/owner/deploy/pulls", CREATED)
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert_no_token(result)
    (branch,) = branches(eco)
    commit = dgit(eco, "rev-parse", branch)
    origin = eco.base / "deploy-origin.git"
    assert git(origin, "rev-parse", f"refs/heads/{branch}") == commit   # pushed
    assert git(origin, "for-each-ref", "--format=%(refname)", "refs/heads/ops") == ""

    (request,) = github.requests
    assert (request.method, request.path) == ("POST", "/repos/owner/deploy/pulls")
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    body = request.json()
    assert body["head"] == branch
    assert body["base"] == "ops"
    assert body["title"] == "chore(prod): promote staging to prod"
    assert "ottochain: version v0.6.0 -> version v0.6.1" in body["body"]
    assert "pull request: https://github.example/owner/deploy/pull/12" in result.stdout
    assert github.sleeps == []  # type: ignore[attr-defined]


def test_pull_request_retried_after_a_5xx(plain: Ecosystem, github: HttpRecorder) -> None:
    github.queue(Response(502, body="bad gateway"), CREATED)
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert_no_token(result)
    assert [r.path for r in github.requests] == ["/repos/owner/deploy/pulls"] * 2
    assert github.requests[0].json() == github.requests[1].json()
    assert len(github.sleeps) == 1  # type: ignore[attr-defined]
    assert "pull/12" in result.stdout


@pytest.mark.parametrize("api", ["always 503", "refused"])
def test_pull_request_retries_are_bounded(plain: Ecosystem, github: HttpRecorder,
                                          monkeypatch: pytest.MonkeyPatch, api: str) -> None:
    if api == "always 503":
        github.add_route("POST", "/repos/owner/deploy/pulls", Response(503, body="down"))
    else:
        monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert_no_token(result)
    assert f"tried {ottodeploy.github.ATTEMPTS} times" in result.stderr
    if api == "always 503":
        assert len(github.requests) == ottodeploy.github.ATTEMPTS
        assert "HTTP 503" in result.stderr
    # backoff between attempts, none after the last
    assert len(github.sleeps) == ottodeploy.github.ATTEMPTS - 1  # type: ignore[attr-defined]


def test_pull_request_that_already_exists_is_fine(plain: Ecosystem,
                                                  github: HttpRecorder) -> None:
    github.add_route("POST", "/repos/owner/deploy/pulls", Response(422, body={
        "message": "Validation Failed",
        "errors": [{"message": "A pull request already exists for owner:promote/x."}]}))
    result = cli("promote", "staging", "prod")
    assert result.code == 0, result
    assert len(github.requests) == 1
    assert "pull request: already open" in result.stdout


def test_token_without_repository_is_an_error(plain: Ecosystem, github: HttpRecorder,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY")
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert "GITHUB_TOKEN is set but GITHUB_REPOSITORY is not" in result.stderr
    assert_no_token(result)
    assert github.requests == []


def test_pull_request_refused_fails_without_the_token(plain: Ecosystem,
                                                      github: HttpRecorder) -> None:
    # a server that echoes the credentials back must not make them visible
    github.add_route("POST", "/repos/owner/deploy/pulls",
                     lambda req: (401, {}, {"message": "Bad credentials",
                                            "got": req.header("Authorization")}))
    result = cli("promote", "staging", "prod")
    assert result.code == EXIT_FAILED, result
    assert "HTTP 401" in result.stderr
    assert "Bad credentials" in result.stderr
    assert_no_token(result)
    assert len(github.requests) == 1  # a 4xx is not retried
