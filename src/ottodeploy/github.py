"""Opening pull requests through GitHub's REST API.

Used only when ``GITHUB_TOKEN`` is set; the API base is ``GITHUB_API_URL``
(default ``https://api.github.com``) and the repository ``GITHUB_REPOSITORY``
(``owner/name``), as GitHub Actions sets them. A request is retried a bounded
number of times on connection errors and 5xx answers; a 422 saying the pull
request already exists is not an error. The token travels only in the
``Authorization`` header and never appears in messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core.errors import OttodeployError
from .redact import redact

ATTEMPTS = 3
TIMEOUT = 10.0


@dataclass(frozen=True)
class PullRequest:
    number: int | None
    url: str | None


def configured(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("GITHUB_TOKEN"))


def open_pull_request(environ: Mapping[str, str], *, head: str, base: str, title: str,
                      body: str) -> PullRequest:
    from .core.errors import HttpError
    from .http import HttpClient

    token = environ["GITHUB_TOKEN"]
    repo = environ.get("GITHUB_REPOSITORY")
    if not repo:
        raise OttodeployError("GITHUB_TOKEN is set but GITHUB_REPOSITORY is not",
                              hint="set GITHUB_REPOSITORY=owner/name")
    api = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    url = f"{api}/repos/{repo}/pulls"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "ottodeploy"}
    payload = {"title": title, "head": head, "base": base, "body": body,
               "maintainer_can_modify": True}
    try:
        with HttpClient(timeout=TIMEOUT, attempts=ATTEMPTS, environ=environ) as http:
            response = http.post(url, json=payload, headers=headers)
    except HttpError as exc:
        raise OttodeployError(f"GitHub did not answer creating the pull request for {head}: "
                              f"{exc.reason} (tried {ATTEMPTS} times)") from None
    if response.status_code == 201:
        data: dict[str, Any] = response.json()
        return PullRequest(data.get("number"), data.get("html_url"))
    if response.status_code == 422 and "already exists" in response.text:
        return PullRequest(None, None)
    if response.status_code >= 500:
        raise OttodeployError(f"GitHub did not answer creating the pull request for {head}: "
                              f"HTTP {response.status_code} (tried {ATTEMPTS} times)")
    raise OttodeployError(redact(
        f"GitHub refused the pull request for {head} -> {base}: HTTP "
        f"{response.status_code} {response.text[:300]}", environ))
