"""``inv bump ENV COMPONENT VERSION``: pin a released version, on a branch for review.

ENV must be a version environment and list COMPONENT; pinning what it already
pins is a no-op. The version must exist as tag ``v<version>`` or
``<version>`` in the component's repo (one ``git ls-remote``). The
compatibility matrix is checked with the new version against the versions
the environment declares, and a violation that involves COMPONENT refuses the
bump (others are only warned about: they were there before). Then the pin
change shared with ``promote`` (``flows.pins``): the manifest as committed at
HEAD is re-pinned in place, validated, and committed on
``bump/<component>-<version>`` (a branch that already exists is reused only
when it holds exactly this change); with ``GITHUB_TOKEN`` it is pushed and a
pull request opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import BumpError, CompatibilityError, GitError, UsageError
from ..core.versions import normalize_version, tag_version
from ..environment import open_environment
from ..git import git, ls_remote, repo_url, show_file
from ..reporting import Reporter, note, warn
from ..root import DeployRoot
from . import pins as pinflow


@dataclass
class Bump:
    environment: str
    component: str
    version: str          # bare: 0.4.0
    old: str              # the old pin, "version v0.3.0"
    new: str = ""         # the new pin, "version v0.4.0"; empty when nothing changes
    tag_commit: str = ""
    branch: str = ""
    commit: str = ""
    diff: str = ""
    pull_request: str | None = None
    warnings: list[str] = field(default_factory=list)


def bump(root: DeployRoot, env: str, component: str, version: str, *,
         reporter: Reporter) -> Bump:
    """Pin ``component`` at ``version`` in ``env`` on a new branch (module docstring)."""
    env = root.environment(env)
    try:
        bare = normalize_version(version)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    project = open_environment(root, env, resolve=False, validate=True).project
    if project.environment.mode != "version":
        raise UsageError(f"{env} is a {project.environment.mode} environment; bump pins "
                         "versions in version environments",
                         hint=f"repoint a branch environment: inv set-ref {env} {component} REF")
    if component not in project.environment.sources:
        raise UsageError(f"{env} has no source {component!r}",
                         hint="sources: " + ", ".join(project.environment.sources))

    committed = pinflow.committed_manifest(root, env, BumpError, "bumped", "bumps")
    target = committed.environment
    if target.mode != "version" or component not in target.sources:
        raise BumpError(f"{committed.path} at HEAD differs from the working tree in mode or "
                        "sources", hint=f"commit {committed.path} first")
    source = target.sources[component]
    old = next(f"{k} {v}" for k in ("version", "sha", "ref") if (v := getattr(source, k)))
    result = Bump(env, component, bare, old)
    if source.version is not None and normalize_version(source.version) == bare:
        note(reporter, f"{env} already pins {component} {bare}; nothing to do")
        return result

    repo = source.repo or project.components.components[component].repo
    remote = ls_remote(repo_url(repo, root.path))
    tag = remote.version_tag(bare)
    if tag is None:
        newest = sorted(((v, t) for t in remote.tags if (v := tag_version(t)) is not None),
                        reverse=True)[:5]
        raise UsageError(f"version {bare} not found in {repo}: no tag v{bare} or {bare}",
                         hint="newest tags: " + (", ".join(t for _, t in newest) or "none"))
    result.tag_commit = remote.commit_of(f"refs/tags/{tag}") or ""

    versions = {n: normalize_version(s.version) for n, s in target.sources.items()
                if s.version is not None}
    versions[component] = bare
    found = pinflow.compatibility(root, project.components, versions)
    blocking = [str(v) for v in found if component in (v.component, v.dependency)]
    if blocking:
        raise CompatibilityError(blocking)
    result.warnings = [f"already violated in {env}: {v}" for v in found
                       if component not in (v.component, v.dependency)]
    for warning in result.warnings:
        warn(reporter, warning)

    new_text, _ = pinflow.repin(committed, {component: ("version", tag)}, project.components,
                                env, "bumped")
    result.new = f"version {tag}"
    result.branch = f"bump/{component}-{bare}"
    message = (f"chore({env}): bump {component} to {bare}\n\n"
               f"{component}: {old} -> {result.new} (tag {tag} is {result.tag_commit}).\n")
    existing = git(["rev-parse", "--verify", "--quiet", f"refs/heads/{result.branch}^{{commit}}"],
                   cwd=committed.top, check=False).stdout.strip()
    if existing:
        _reuse(committed, result, existing, new_text)
    else:
        result.commit, result.diff = pinflow.commit(committed, result.branch, new_text, message)
    note(reporter, f"committed {result.commit[:12]} on {result.branch}: {component} {old} -> "
                   f"{result.new}")
    title, _, body = message.partition("\n\n")
    result.pull_request = pinflow.publish(committed.top, result.branch, title, body)
    return result


def _reuse(committed: pinflow.Committed, result: Bump, existing: str, new_text: str) -> None:
    """An existing bump branch is the same bump only when it holds exactly ``new_text``."""
    try:
        same = show_file(committed.top, existing, committed.path) == new_text
    except GitError:
        same = False
    if not same:
        raise BumpError(f"branch {result.branch} already exists with a different "
                        f"{committed.path}",
                        hint=f"merge or delete it first: git branch -D {result.branch}")
    result.commit = existing
    result.diff = git(["diff", "--no-color", "--no-ext-diff", "HEAD", existing, "--",
                       committed.path], cwd=committed.top).stdout
