"""``inv promote``, ``inv promote-lockfile`` and ``inv approve`` (see ``ottodeploy.promote``)."""

from __future__ import annotations

import re

from ..approval import approve
from ..lockfile import locate, read
from ..promote import Promotion, Say, promote
from ..root import DeployRoot

# promote/<from>-to-<to>-<YYYYmmdd-HHMMSS>[-N], as ottodeploy.promote names them
_BRANCH = re.compile(r"promote/[a-z][a-z0-9-]*?-to-(?P<env>[a-z][a-z0-9-]*?)-\d{8}-\d{6}(-\d+)?")


def promote_env(root: DeployRoot, from_env: str, to_env: str, allow_sha: bool, *,
                say: Say) -> Promotion:
    return promote(root, from_env, to_env, say=say, allow_sha=allow_sha)


def promote_file(root: DeployRoot, name: str, to_env: str, allow_sha: bool, *,
                 say: Say) -> Promotion:
    locked = read(root, locate(root, name))
    return promote(root, locked.lock.environment, to_env, say=say, allow_sha=allow_sha,
                   lockfile=locked)


def render_promotion(result: Promotion) -> list[str]:
    if not result.branch:
        return []
    lines = [result.diff.rstrip("\n")] if result.diff else []
    lines.append(f"promotion branch {result.branch} ({result.commit[:12]})")
    if result.pull_request:
        lines.append(f"pull request: {result.pull_request}")
    else:
        lines.append(f'approve with: inv approve {result.branch} --by "Name <email>"'
                     " (or push it and open a pull request)")
    return lines


def approve_branch(root: DeployRoot, branch: str, by: str | None, *, say: Say,
                   signing_key: str | None = None) -> str:
    from ..approval import signature_check
    from ..notify import notify

    sha = approve(root, branch, by, signing_key)
    say(f"approved {branch}: merged as {sha[:12]}, signed")
    if problem := signature_check(root, sha):
        say(f"warning: deploys will not accept this approval as it is: {problem}")
    named = _BRANCH.fullmatch(branch)
    env = named["env"] if named else branch.removeprefix("promote/")
    notify(root, "promotion-approved", env=env, detail=f"{branch} approved by {by}")
    return sha
