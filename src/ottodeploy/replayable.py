"""Which lockfiles may be replayed into an ``approval_required`` environment (SPEC §6a).

``deploy-lockfile`` and ``rollback`` deploy a lockfile's exact sources without
a new approval of those sources, so the lockfile itself must be what the
environment already ran and the repository recorded:

1. it is a regular file directly in the root's ``lockfiles/`` (not a
   symlink, not a copy kept elsewhere);
2. it is committed at HEAD, as a regular file, and the bytes on disk are the
   committed blob's (``git hash-object --no-filters`` equals the blob id);
3. the committed text, validated again, is the lockfile that was read (so a
   file swapped after it was read cannot pass as the committed one);
4. its ``environment`` is the target and its ``status`` is ``healthy``;
5. every source's repo is that component's repo in the current manifests
   (the environment's ``repo`` override, else components.yaml's), compared
   as git would reach them;
6. it records the approval its deploy stood on (a deploy into an
   ``approval_required`` environment always does), and that approval holds
   today: its commit is in HEAD's history and is a verified approval
   (``trust.Verifier``, the same proofs as the gate's);
7. its sources are what the environment's manifest *at that approval commit*
   pins: the same SHA; the same version, and the SHA its tag names in the repo
   today (the one repo read of these checks: one ``git ls-remote`` per such
   repo); or the same ref (a branch an approved manifest follows is the
   approval's scope; which of its commits ran is not provable afterwards).

So a lockfile committed straight to ``lockfiles/`` without review — another
environment's relabelled, or a real one with its SHAs or approval edited — is
not replayed: only what an approved manifest pinned is. Anything else is an
``ApprovalError`` (exit 1) pointing at ``inv promote``. The deploy definition
gate (``trust.gate``) applies to replays as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .core.approvals import Approval
from .core.errors import ApprovalError, ManifestError, NotApproved
from .core.lockmodels import LockedSource, Lockfile
from .core.models import Environment
from .core.versions import parse_version
from .git import ls_remote, repo_url
from .history import DeployHistory
from .lockfile import LockedFile
from .manifests import Project, validate
from .process import parallel
from .trust import Verifier
from .yamlfile import parse


def require_replayable(project: Project, locked: LockedFile) -> Approval:
    """Refuse (``ApprovalError``) unless ``locked`` may be replayed; the approval it stands on."""
    root, env = project.root, project.environment.name
    name = locked.name

    def refuse(why: str) -> ApprovalError:
        return ApprovalError(
            f"{env} requires approval, and {name} cannot be replayed into it: {why}",
            hint=f"only a committed, healthy lockfile of {env} is replayed without a new "
                 f"approval; to deploy anything else, promote it (inv promote FROM {env} or "
                 f"inv promote-lockfile FILE {env}) and approve the promotion")

    folder = root.lockfiles.resolve()
    if locked.path.is_symlink() or locked.path.resolve().parent != folder \
            or not locked.path.is_file():
        raise refuse(f"it is not a file in {root.display(root.lockfiles)}/")
    h = DeployHistory.open(root)
    rel = h.rel(locked.path)
    blob = h.blob_id("HEAD", rel) if h.head() else None
    if blob is None:
        raise refuse(f"{rel} is not committed")
    if h.mode("HEAD", rel) not in ("100644", "100755"):
        raise refuse(f"{rel} is not committed as a regular file")
    if h.hash_file(locked.path) != blob:
        raise refuse(f"{rel} differs from the committed file")
    text = h.blob("HEAD", rel) or ""
    try:
        committed = validate(Lockfile, parse(text, f"{rel} at HEAD"))
    except ManifestError:
        raise refuse(f"{rel} at HEAD is not a valid lockfile") from None
    if committed != locked.lock:
        raise refuse(f"{rel} changed while it was being read")
    lock = locked.lock
    if lock.environment != env:
        raise refuse(f"it is a lockfile of {lock.environment}")
    if lock.status != "healthy":
        raise refuse(f"its status is {lock.status}")
    components = project.components.components
    sources = project.environment.sources
    for source_name, source in lock.sources.items():
        if source_name not in components:
            raise refuse(f"sources.{source_name} is not a component of the manifests")
        wanted = (sources[source_name].repo if source_name in sources else None) \
            or components[source_name].repo
        if repo_url(source.repo, root.path) != repo_url(wanted, root.path):
            raise refuse(f"sources.{source_name}.repo {source.repo!r} is not {source_name}'s "
                         f"repo in the manifests ({wanted})")
    return _approved_sources(project, h, lock, refuse)


def _approved_sources(project: Project, h: DeployHistory, lock: Lockfile,
                      refuse: Callable[[str], ApprovalError]) -> Approval:
    """Rules 6 and 7: the lockfile's approval holds, and its sources are what it approved."""
    env = project.environment.name
    if lock.approval is None:
        raise refuse(f"it records no approval: no approved deploy of {env} wrote it")
    commit = lock.approval.commit
    short = commit[:7]
    known = h.git(["cat-file", "-e", f"{commit}^{{commit}}"], check=False).returncode == 0
    if not known or h.git(["merge-base", "--is-ancestor", commit, "HEAD"],
                          check=False).returncode != 0:
        raise refuse(f"its approval {short} is not in the history of HEAD")
    try:
        approval = Verifier(h, os.environ).verify(commit)
    except NotApproved as exc:
        raise refuse(f"its approval {short} is not a verified approval: {exc.reason}") from None
    rel = h.rel(project.root.env_file(env))
    text = h.blob(commit, rel)
    if text is None:
        raise refuse(f"{rel} is not a file at its approval {short}")
    try:
        approved = validate(Environment, parse(text, f"{rel} at {short}"))
    except ManifestError:
        raise refuse(f"{rel} at its approval {short} is not a valid manifest") from None
    for name, source in lock.sources.items():
        pinned = approved.sources.get(name)
        where = f"{env}'s manifest as approved in {short}"
        if pinned is None:
            raise refuse(f"sources.{name} is not a source of {where}")
        if pinned.sha is not None and pinned.sha != source.sha:
            raise refuse(f"sources.{name}.sha {source.sha[:12]} is not the {pinned.sha[:12]} "
                         f"of {where}")
        if pinned.version is not None and (
                source.version is None
                or parse_version(source.version) != parse_version(pinned.version)):
            raise refuse(f"sources.{name}.version {source.version} is not the "
                         f"{pinned.version} of {where}")
        if pinned.ref is not None and pinned.ref != source.ref:
            raise refuse(f"sources.{name}.ref {source.ref} is not the {pinned.ref} of {where}")
    versioned = [(name, source, approved.sources[name].version or "")
                 for name, source in lock.sources.items()
                 if approved.sources[name].version is not None]

    def tagged(item: tuple[str, LockedSource, str]) -> str | None:
        _, source, version = item
        refs = ls_remote(repo_url(source.repo, project.root.path))
        tag = refs.version_tag(version.removeprefix("v"))
        return None if tag is None else refs.commit_of(f"refs/tags/{tag}")

    for (name, source, version), commit_now in zip(
            versioned, parallel(tagged, versioned), strict=True):
        if commit_now != source.sha:
            raise refuse(f"sources.{name}.sha {source.sha[:12]} is not the commit of the "
                         f"approved version {version} ({(commit_now or 'no such tag')[:12]})")
    return approval
