"""``inv release.next-version REPO [--since TAG]``: the version release-please would cut next.

A local path is read where it is; any other address is cloned or fetched into
a mirror under the cache (``git.open_repo``). The current version is the
highest version tag (``vX.Y.Z``, ``v`` optional) reachable from HEAD — for a
mirror, the remote's default branch — or the tag given with ``--since``; every
commit after it up to HEAD goes through ``core.commits.next_version``
(release-please's rules, with its two pre-1.0 options).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.commits import NextVersion, next_version
from ..core.errors import UsageError
from ..core.versions import tag_version
from ..git import Repo, refuse_option


@dataclass(frozen=True)
class RepoVersion:
    repo: str
    head: str | None
    tag: str | None
    result: NextVersion

    def to_json(self) -> dict[str, Any]:
        return {**self.result.as_dict(), "repo": self.repo, "tag": self.tag, "head": self.head}


def next_version_of(repo: Repo, since: str | None = None, *, bump_minor_pre_major: bool = False,
                    bump_patch_for_minor_pre_major: bool = False) -> RepoVersion:
    """The version release-please would cut next from ``repo``'s HEAD."""
    head = repo.head()
    if since is not None:
        refuse_option(since, "--since")
        if tag_version(since) is None:
            raise UsageError(f"--since {since!r} is not a version tag", hint="e.g. --since v1.2.0")
        if not repo.tag_exists(since):
            raise UsageError(f"tag {since!r} not found in {repo.location}")
        tag: str | None = since
    else:
        tag = repo.newest_version_tag()
    if head is None:
        messages: list[tuple[str, str]] = []
    else:
        messages = [(sha, msg) for sha, _, msg in repo.log(f"{tag}..HEAD" if tag else "HEAD")]
    current = tag_version(tag) if tag else None
    result = next_version(current, messages, bump_minor_pre_major=bump_minor_pre_major,
                          bump_patch_for_minor_pre_major=bump_patch_for_minor_pre_major)
    return RepoVersion(repo.location, head, tag, result)
