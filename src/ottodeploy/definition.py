"""One environment's deploy definition, as a fingerprint its lockfiles record (SPEC §6a, §6b).

SPEC §6a's *deploy definition* is everything a deploy reads from the deploy repo
(``trust.definition_paths``: all of ``manifests/``, ``deploy/``, ``scripts/`` and every
file a component names in ``deploy.files``). What the deploy of *one* environment reads
is that, less two kinds of file that change nothing it does: the other environments'
manifests (``manifests/environments/<other>.yaml``) and ``manifests/approvers`` (it says
who may approve, not what is deployed; the approval gate still covers it).

``definition_digest``: every regular file under those paths, ordered by its path relative
to the deploy root, contributes that path and the SHA-256 of its bytes (a symbolic link:
the text of its target, as git stores it); the fingerprint is ``sha256:`` and the SHA-256
of that list. Interpreter caches (``__pycache__``, ``*.pyc``) are skipped and a path that
does not exist contributes nothing. So the same files give the same fingerprint on any
machine, in any folder, and ``inv auto-deploy`` can tell whether an environment's
definition changed since a lockfile was written by comparing two strings.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from .core.models import ComponentsFile
from .root import DeployRoot
from .trust import APPROVERS, definition_paths

_SKIPPED_DIRS = frozenset({"__pycache__", ".git"})


def definition_files(root: DeployRoot, env: str, components: ComponentsFile) -> list[str]:
    """The root-relative paths of the files ``env``'s deploy definition holds, sorted."""
    own = f"manifests/environments/{env}.yaml"
    found: set[str] = set()
    for rel in definition_paths(components):
        found.update(_files_under(root.path, rel))
    return sorted(p for p in found if p == own or not _left_out(p))


def definition_digest(root: DeployRoot, env: str, components: ComponentsFile) -> str:
    """``sha256:<hex>`` of ``env``'s deploy definition (see the module docstring)."""
    listing = hashlib.sha256()
    for rel in definition_files(root, env, components):
        path = root.path / rel
        if path.is_symlink():
            content = str(path.readlink()).encode()
        else:
            try:
                content = path.read_bytes()
            except OSError:
                continue  # gone since it was listed, or unreadable: the deploy cannot read it
        listing.update(f"{rel}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    return f"sha256:{listing.hexdigest()}"


def _left_out(rel: str) -> bool:
    return rel == APPROVERS or (rel.startswith("manifests/environments/")
                                and rel.count("/") == 2 and rel.endswith(".yaml"))


def _files_under(top: Path, rel: str) -> Iterator[str]:
    start = top / rel
    if start.is_symlink() or start.is_file():
        yield Path(rel).as_posix()
        return
    if not start.is_dir():
        return
    for folder, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        here = Path(folder)
        for name in files:
            if not name.endswith(".pyc"):
                yield (here / name).relative_to(top).as_posix()
        for name in dirs:  # a symlink to a folder is listed as the link, not followed
            if (here / name).is_symlink():
                yield (here / name).relative_to(top).as_posix()
