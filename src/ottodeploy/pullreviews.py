"""Reviewed GitHub pull requests (SPEC §6a, proof 2), asked of GitHub's REST API.

With ``GITHUB_TOKEN`` (API base ``GITHUB_API_URL``, repository
``GITHUB_REPOSITORY``, as GitHub Actions sets them), a commit is accepted when:

1. ``GET /repos/{repo}/commits/{sha}/pulls`` lists a pull request whose
   ``merge_commit_sha`` is the commit;
2. ``GET /repos/{repo}/pulls/{n}`` says it is merged, as that commit, from a
   head branch ``promote/*`` or ``bump/*``;
3. ``GET .../pulls/{n}/commits`` names a GitHub author for every commit
   (a commit whose author GitHub cannot name could be the reviewer's);
4. ``GET .../pulls/{n}/reviews``: some user's latest decisive review
   (approved, changes requested, dismissed) is ``APPROVED``, was given on the
   head commit that was merged, and that user is neither the pull request's
   author nor the author of any of its commits (logins, ignoring case).

No token, an unreachable API, an answer other than 200 with the expected JSON,
or any answer that does not show all of this: ``NotApproved``. The token
travels only in the ``Authorization`` header and never appears in a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core.approvals import Approval
from .core.errors import NotApproved
from .redact import redact

HEADS = ("promote/", "bump/")
TIMEOUT = 10.0
PER_PAGE = 100
MAX_PAGES = 10
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+")
_DECISIVE = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


@dataclass(frozen=True)
class _Api:
    base: str
    repo: str
    token: str
    environ: Mapping[str, str]

    def get(self, path: str, params: Mapping[str, int] | None = None) -> Any:
        from .core.errors import HttpError
        from .http import HttpClient

        url = f"{self.base}/repos/{self.repo}/{path}"
        headers = {"Authorization": f"Bearer {self.token}",
                   "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "ottodeploy"}
        try:
            with HttpClient(timeout=TIMEOUT, environ=self.environ) as http:
                response = http.get(url, headers=headers, params=dict(params or {}),
                                    allow_redirects=False)
        except HttpError as exc:
            raise NotApproved(f"the GitHub API at {self.base} did not answer "
                              f"({exc.reason})") from None
        if response.status_code != 200:
            raise NotApproved(redact(f"GitHub answered HTTP {response.status_code} to GET "
                                     f"/repos/{self.repo}/{path}", self.environ))
        try:
            return response.json()
        except ValueError:
            raise NotApproved(f"GitHub's answer to GET /repos/{self.repo}/{path} is not JSON") \
                from None

    def get_all(self, path: str) -> list[Any]:
        out: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            items = self.get(path, {"per_page": PER_PAGE, "page": page})
            if not isinstance(items, list):
                raise NotApproved(f"GitHub's answer to GET /repos/{self.repo}/{path} is not a list")
            out.extend(items)
            if len(items) < PER_PAGE:
                return out
        raise NotApproved(f"/repos/{self.repo}/{path} has more than "
                          f"{PER_PAGE * MAX_PAGES} entries")


def _login(user: Any) -> str | None:
    if isinstance(user, dict) and isinstance(user.get("login"), str) and user["login"]:
        return str(user["login"])
    return None


def verify_pull_request(commit: str, environ: Mapping[str, str]) -> Approval:
    token = environ.get("GITHUB_TOKEN")
    if not token:
        raise NotApproved("GITHUB_TOKEN is not set, so GitHub cannot be asked about it")
    repo = environ.get("GITHUB_REPOSITORY", "")
    if not _REPO.fullmatch(repo):
        raise NotApproved(f"GITHUB_REPOSITORY {repo!r} is not owner/name")
    api = _Api(environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"), repo, token,
               environ)
    listed = api.get(f"commits/{commit}/pulls")
    if not isinstance(listed, list):
        raise NotApproved(f"GitHub's answer to GET /repos/{repo}/commits/{commit}/pulls "
                          "is not a list")
    numbers = [p["number"] for p in listed if isinstance(p, dict)
               and p.get("merge_commit_sha") == commit and isinstance(p.get("number"), int)]
    if not numbers:
        raise NotApproved(f"GitHub lists no pull request merged as {commit[:7]}")
    reasons = []
    for number in numbers:
        try:
            return _reviewed(api, commit, number)
        except NotApproved as exc:
            reasons.append(f"pull request #{number} {exc.reason}")
    raise NotApproved("; ".join(reasons))


def _reviewed(api: _Api, commit: str, number: int) -> Approval:
    pull = api.get(f"pulls/{number}")
    if not isinstance(pull, dict):
        raise NotApproved("could not be read")
    if pull.get("merged") is not True:
        raise NotApproved("is not merged")
    if pull.get("merge_commit_sha") != commit:
        raise NotApproved("was merged as another commit")
    head: dict[str, Any] = pull["head"] if isinstance(pull.get("head"), dict) else {}
    branch, head_sha = head.get("ref"), head.get("sha")
    if not isinstance(branch, str) or not branch.startswith(HEADS):
        raise NotApproved(f"comes from branch {branch!r}, not promote/* or bump/*")
    author = _login(pull.get("user"))
    if author is None:
        raise NotApproved("has no author GitHub can name")
    writers = {author.lower()}
    for entry in api.get_all(f"pulls/{number}/commits"):
        login = _login(entry.get("author")) if isinstance(entry, dict) else None
        if login is None:
            sha = str(entry.get("sha", "?")) if isinstance(entry, dict) else "?"
            raise NotApproved(f"holds commit {sha[:7]} whose author GitHub cannot name, so it "
                              "cannot be told apart from a reviewer's")
        writers.add(login.lower())
    latest: dict[str, dict[str, Any]] = {}
    for review in api.get_all(f"pulls/{number}/reviews"):
        login = _login(review.get("user")) if isinstance(review, dict) else None
        if login is not None and review.get("state") in _DECISIVE:
            latest[login.lower()] = {**review, "login": login}
    approved = [r for r in latest.values() if r.get("state") == "APPROVED"]
    valid = [r for r in approved if r["login"].lower() not in writers
             and r.get("commit_id") == head_sha]
    if not valid:
        if any(r["login"].lower() not in writers for r in approved):
            raise NotApproved("was approved on an earlier commit than the one merged")
        if approved:
            who = ", ".join(f"@{r['login']}" for r in approved)
            raise NotApproved(f"is approved only by its author or an author of its commits "
                              f"({who})")
        raise NotApproved("has no approving review")
    login = sorted(r["login"] for r in valid)[0]
    return Approval(commit, "pull request", f"@{login}",
                    f"pull request #{number} from {branch}, approved on GitHub")
