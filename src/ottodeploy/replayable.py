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
   as git would reach them.

Anything else is an ``ApprovalError`` (exit 1) pointing at ``inv promote``.
The deploy definition gate (``trust.gate``) applies to replays as well.
"""

from __future__ import annotations

from .core.errors import ApprovalError, ManifestError
from .core.lockmodels import Lockfile
from .git import repo_url
from .history import DeployHistory
from .lockfile import LockedFile
from .manifests import Project, validate
from .yamlfile import parse


def require_replayable(project: Project, locked: LockedFile) -> None:
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
