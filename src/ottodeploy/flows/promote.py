"""Promotion: a tested combination moved forward into another environment's manifest.

1. The lockfile: FROM's newest healthy one (``inv promote``) or the one given
   (``inv promote-lockfile``). No healthy lockfile: refused (exit 1).
2. New pins for every source TO lists that the lockfile holds. Into a
   ``version`` environment: the highest version tag on the locked SHA (read
   with ``git ls-remote``; a release wins over its prereleases); a SHA with no
   version tag is refused unless ``--allow-sha``, which pins ``sha:``. Into a
   ``branch`` environment: ``sha:`` pins.
3. The pin change shared with ``bump`` (``flows.pins``): TO's manifest as
   committed at HEAD is edited in place and validated, the compatibility
   matrix is checked with the versions the new pins stand for (a version pin
   is the tag written, which may be higher than the version the lockfile
   recorded for that commit), and the change is committed on a new branch
   ``promote/<from>-to-<to>-<stamp>`` whose message lists every component's
   old -> new pin; with ``GITHUB_TOKEN`` it is pushed and a pull request opened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import CompatibilityError, PromotionError
from ..editing import PinKind, same_pin
from ..git import repo_url
from ..lockfile import LockedFile, locate, newest_healthy, read
from ..manifests import load_components
from ..reporting import Reporter, note
from ..resolve import read_remotes
from ..root import DeployRoot
from . import pins as pinflow

# promote/<from>-to-<to>-<YYYYmmdd-HHMMSS>[-N], as promote names them
BRANCH = re.compile(r"promote/[a-z][a-z0-9-]*?-to-(?P<env>[a-z][a-z0-9-]*?)-\d{8}-\d{6}(-\d+)?")


@dataclass(frozen=True)
class Change:
    component: str
    old: str
    new: str


@dataclass
class Promotion:
    source: str           # the lockfile's file name
    from_env: str
    to_env: str
    branch: str = ""
    commit: str = ""
    changes: list[Change] = field(default_factory=list)
    diff: str = ""
    pull_request: str | None = None


def _pin_text(source: Mapping[str, object]) -> str:
    for key in ("ref", "version", "sha"):
        if key in source:
            return f"{key} {source[key]}"
    return "?"


def promote_file(root: DeployRoot, name: str, to_env: str, *, reporter: Reporter,
                 allow_sha: bool = False) -> Promotion:
    """``inv promote-lockfile``: the given lockfile (a path or a name in lockfiles/)."""
    locked = read(root, locate(root, name))
    return promote(root, locked.lock.environment, to_env, reporter=reporter,
                   allow_sha=allow_sha, lockfile=locked)


def promote(root: DeployRoot, from_env: str, to_env: str, *, reporter: Reporter,
            allow_sha: bool = False, lockfile: LockedFile | None = None) -> Promotion:
    to_env = root.environment(to_env)
    if lockfile is None:
        lockfile = newest_healthy(root, root.environment(from_env))
        if lockfile is None:
            raise PromotionError(f"{from_env} has no healthy lockfile to promote",
                                 hint=f"deploy it successfully first: inv deploy {from_env}")
    elif lockfile.lock.status != "healthy":
        raise PromotionError(f"{lockfile.name} is {lockfile.lock.status}; only healthy lockfiles "
                             "are promoted")
    from_env = lockfile.lock.environment
    if from_env == to_env:
        raise PromotionError(f"{lockfile.name} already belongs to {to_env}",
                             hint=f"to redeploy it: inv deploy-lockfile {lockfile.name}")
    committed = pinflow.committed_manifest(root, to_env, PromotionError, "promoted into",
                                           "promotions")
    target = committed.environment
    components, _ = load_components(root)
    locked = lockfile.lock.sources

    note(reporter, f"promote {lockfile.name} ({from_env}) -> {to_env} ({target.mode} mode)")
    names = [n for n in target.sources if n in locked]
    for n in target.sources:
        if n not in locked:
            note(reporter, f"   {n}: not in {lockfile.name}; left as it is")
    pins = _pins(root, target.mode, names, lockfile, allow_sha)
    for n in list(pins):  # v1.0.3 where the file says 1.0.3 is no change: the text stays
        current = target.sources[n]
        if same_pin(current.pin, str(getattr(current, current.pin)), *pins[n]):
            del pins[n]
    new_text, new_env = pinflow.repin(committed, pins, components, to_env, "promoted")
    versions = {n: pins[n][1].removeprefix("v") if pins[n][0] == "version"
                else (locked[n].version or "0.0.0") for n in pins}
    for n, src in new_env.sources.items():
        if n not in versions and src.version:
            versions[n] = src.version.removeprefix("v")
    found = pinflow.compatibility(root, components, versions)
    if found:
        raise CompatibilityError([str(v) for v in found])

    changes = [Change(n, _pin_text(target.sources[n].model_dump(exclude_none=True)),
                      f"{pins[n][0]} {pins[n][1]}") for n in pins]
    result = Promotion(lockfile.name, from_env, to_env, changes=changes)
    if not changes:
        note(reporter, f"   {to_env} already pins exactly what {lockfile.name} holds; "
                       "nothing to promote")
        return result
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    result.branch = pinflow.free_branch(committed.top, f"promote/{from_env}-to-{to_env}-{stamp}")
    body = "\n".join(f"- {c.component}: {c.old} -> {c.new}" for c in changes)
    message = (f"chore({to_env}): promote {from_env} to {to_env}\n\n"
               f"From lockfile {lockfile.name} ({lockfile.lock.timestamp}).\n\n{body}\n")
    result.commit, result.diff = pinflow.commit(committed, result.branch, new_text, message)
    note(reporter, f"   committed {result.commit[:12]} on {result.branch}")
    for c in changes:
        note(reporter, f"   {c.component}: {c.old} -> {c.new}")
    _publish(root, committed.top, result, body, reporter)
    return result


def _pins(root: DeployRoot, mode: str, names: list[str], lockfile: LockedFile,
          allow_sha: bool) -> dict[str, tuple[PinKind, str]]:
    from ..core.versions import best_tag

    locked = lockfile.lock.sources
    if mode == "branch":
        return {n: ("sha", locked[n].sha) for n in names}
    urls = {n: repo_url(locked[n].repo, root.path) for n in names}
    remotes = read_remotes(urls.values())
    pins: dict[str, tuple[PinKind, str]] = {}
    untagged = []
    for n in names:
        best = best_tag(remotes[urls[n]].tags_at(locked[n].sha))
        if best is not None:
            pins[n] = ("version", best[0] if best[0].startswith("v") else str(best[1]))
        elif allow_sha:
            pins[n] = ("sha", locked[n].sha)
        else:
            untagged.append(f"{n} {locked[n].sha[:12]} ({locked[n].version})")
    if untagged:
        raise PromotionError("no release tag on the locked commit of: " + ", ".join(untagged),
                             hint="tag a release, or pass --allow-sha to pin these by sha")
    return pins


def _publish(root: DeployRoot, top: Path, result: Promotion, body: str,
             reporter: Reporter) -> None:
    from ..notify import notify

    result.pull_request = pinflow.publish(
        top, result.branch,
        f"chore({result.to_env}): promote {result.from_env} to {result.to_env}",
        f"From lockfile `{result.source}`.\n\n{body}\n")
    if result.pull_request is not None:
        note(reporter, f"   pull request: {result.pull_request}")
    link = result.pull_request if result.pull_request != "already open" else None
    notify(root, "promotion-created", env=result.to_env,
           detail=f"{result.branch} from {result.source}", link=link)
