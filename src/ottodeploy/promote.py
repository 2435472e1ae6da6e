"""Promotion: a tested combination moved forward into another environment's manifest.

1. The lockfile: FROM's newest healthy one (``inv promote``) or the one given
   (``inv promote-lockfile``). No healthy lockfile: refused (exit 1).
2. New pins for every source TO lists that the lockfile holds. Into a
   ``version`` environment: the highest version tag on the locked SHA (read
   with ``git ls-remote``; a release wins over its prereleases); a SHA with no
   version tag is refused unless ``--allow-sha``, which pins ``sha:``. Into a
   ``branch`` environment: ``sha:`` pins.
3. TO's manifest as committed at HEAD is edited in place (``editing``): its
   own settings, comments and key order stay. The result is validated like any
   manifest, and the compatibility matrix is checked with the versions the
   lockfile recorded.
4. The change is committed on a new branch ``promote/<from>-to-<to>-<stamp>``
   with git plumbing, so the current branch and working tree are untouched;
   the message lists every component's old -> new pin.
5. With ``GITHUB_TOKEN``, the branch is pushed and a pull request opened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .core.compat import violations
from .core.errors import CompatibilityError, GitError, PromotionError
from .editing import PinKind, set_pins
from .git import commit_on_new_branch, current_branch, git, repo_url, show_file, toplevel
from .lockfile import LockedFile, newest_healthy
from .manifests import load_compatibility, load_components
from .resolve import read_remotes
from .root import DeployRoot, check_env_name
from .yamlfile import parse

Say = Callable[[str], None]


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


def promote(root: DeployRoot, from_env: str, to_env: str, *, say: Say, allow_sha: bool = False,
            lockfile: LockedFile | None = None) -> Promotion:
    from .core.models import Environment
    from .manifests import check_environment, validate

    check_env_name(to_env)
    if lockfile is None:
        lockfile = newest_healthy(root, check_env_name(from_env))
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
    top = toplevel(root.path)
    if top is None:
        raise PromotionError(f"{root.path} is not a git repository; promotions are commits")
    path = str(root.env_file(to_env).resolve().relative_to(top.resolve()))
    text = _committed(top, path, to_env)
    doc = parse(text, path)
    target = validate(Environment, doc)
    components, _ = load_components(root)
    locked = lockfile.lock.sources

    say(f"promote {lockfile.name} ({from_env}) -> {to_env} ({target.mode} mode)")
    names = [n for n in target.sources if n in locked]
    for n in target.sources:
        if n not in locked:
            say(f"   {n}: not in {lockfile.name}; left as it is")
    pins = _pins(root, target.mode, names, lockfile, allow_sha)
    new_text = set_pins(text, pins)
    new_doc = parse(new_text, path)
    new_env = validate(Environment, new_doc)
    problems = check_environment(new_env, new_doc, components, expected_name=to_env)
    if problems:
        from .core.errors import ManifestError

        raise ManifestError(path, problems, hint="the promoted manifest would not be valid")
    # the versions the promoted manifest will say (a version pin is the tag written, which
    # may be higher than the version the lockfile recorded for that commit)
    versions = {n: pins[n][1].removeprefix("v") if pins[n][0] == "version"
                else (locked[n].version or "0.0.0") for n in names}
    for n, src in new_env.sources.items():
        if n not in versions and src.version:
            versions[n] = src.version.removeprefix("v")
    found = violations(load_compatibility(root, components), versions)
    if found:
        raise CompatibilityError([str(v) for v in found])

    changes = [Change(n, _pin_text(target.sources[n].model_dump(exclude_none=True)),
                      f"{pins[n][0]} {pins[n][1]}") for n in names]
    changes = [c for c in changes if c.old != c.new]
    result = Promotion(lockfile.name, from_env, to_env, changes=changes)
    if not changes:
        say(f"   {to_env} already pins exactly what {lockfile.name} holds; nothing to promote")
        return result
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    result.branch = _free_branch(top, f"promote/{from_env}-to-{to_env}-{stamp}")
    body = "\n".join(f"- {c.component}: {c.old} -> {c.new}" for c in changes)
    message = (f"chore({to_env}): promote {from_env} to {to_env}\n\n"
               f"From lockfile {lockfile.name} ({lockfile.lock.timestamp}).\n\n{body}\n")
    result.commit = commit_on_new_branch(top, result.branch, {path: new_text}, message)
    result.diff = git(["diff", "--no-color", "--no-ext-diff", "HEAD", result.commit, "--", path],
                      cwd=top).stdout
    say(f"   committed {result.commit[:12]} on {result.branch}")
    for c in changes:
        say(f"   {c.component}: {c.old} -> {c.new}")
    _publish(root, top, result, body, say)
    return result


def _free_branch(top: Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... when a promotion in the same second took it."""
    candidate, n = name, 1
    while git(["rev-parse", "--verify", "--quiet", f"refs/heads/{candidate}"], cwd=top,
              check=False).returncode == 0:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def _committed(top: Path, path: str, env: str) -> str:
    try:
        return show_file(top, "HEAD", path)
    except GitError as exc:
        raise PromotionError(f"{path} is not committed at HEAD, so it cannot be promoted into",
                             hint=f"commit manifests/environments/{env}.yaml first") from exc


def _pins(root: DeployRoot, mode: str, names: list[str], lockfile: LockedFile,
          allow_sha: bool) -> dict[str, tuple[PinKind, str]]:
    from .core.versions import best_tag

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


def _publish(root: DeployRoot, top: Path, result: Promotion, body: str, say: Say) -> None:
    from .github import configured, open_pull_request
    from .notify import notify

    environ = dict(os.environ)
    if configured(environ):
        base = current_branch(top) or "main"
        refspec = f"refs/heads/{result.branch}:refs/heads/{result.branch}"
        git(["push", "--quiet", "origin", refspec], cwd=top)
        pr = open_pull_request(environ, head=result.branch, base=base,
                               title=f"chore({result.to_env}): promote {result.from_env} "
                                     f"to {result.to_env}",
                               body=f"From lockfile `{result.source}`.\n\n{body}\n")
        result.pull_request = pr.url
        say(f"   pull request: {pr.url or 'already open'}")
    notify(root, "promotion-created", env=result.to_env,
           detail=f"{result.branch} from {result.source}", link=result.pull_request)

