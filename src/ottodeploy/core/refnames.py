"""Which ref names, SHAs and repo addresses a manifest may hold.

A ref name reaches ``git`` as an argument, never through a shell, but it is
also written into image tags, branch names and logs, so it is held to the
SPEC §3 allowlist (``[A-Za-z0-9._/-]+``, not starting with ``-``) *and* to
git's own ``check-ref-format`` rules (git alone would accept ``$(id)``).
Both checks are pure string tests, so they run without git installed.
"""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"[A-Za-z0-9._/-]+")
SHA_RE = re.compile(r"[0-9a-f]{40}")
_OWNER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*)/[A-Za-z0-9._-]+")
MAX_REF = 255
MAX_REPO = 1024
_URL_SCHEMES = ("file://", "https://", "http://", "ssh://", "git://")
_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+")


def ref_problem(ref: str) -> str | None:
    """Why ``ref`` is not an acceptable ref name, or None when it is."""
    if not ref:
        return "is empty"
    if len(ref) > MAX_REF:
        return f"is longer than {MAX_REF} characters"
    if not _ALLOWED.fullmatch(ref):
        bad = sorted({c for c in ref if not _ALLOWED.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        return f"contains characters not allowed in a ref name: {shown}"
    if ref.startswith("-"):
        return "must not start with '-'"
    # git check-ref-format, applied to what the allowlist lets through
    if ref.startswith("/") or ref.endswith("/") or "//" in ref:
        return "must not start or end with '/' or contain '//'"
    if ".." in ref:
        return "must not contain '..'"
    if ref.endswith("."):
        return "must not end with '.'"
    for part in ref.split("/"):
        if part.startswith("."):
            return "has a path component starting with '.'"
        if part.endswith(".lock"):
            return "has a path component ending with '.lock'"
    return None


def is_sha(text: str) -> bool:
    return SHA_RE.fullmatch(text) is not None


def repo_problem(repo: str) -> str | None:
    """Why ``repo`` is not a usable repo address, or None when it is."""
    if not repo:
        return "is empty"
    if len(repo) > MAX_REPO:
        return f"is longer than {MAX_REPO} characters"
    if repo.startswith("-"):
        return "must not start with '-'"
    if any(c.isspace() or ord(c) < 32 for c in repo):
        return "must not contain whitespace or control characters"
    if repo.startswith(_URL_SCHEMES):
        return None if len(repo.split("://", 1)[1]) > 0 else "has no address after the scheme"
    if repo.startswith(("/", "./", "../")):
        return None
    if _SCP_LIKE.fullmatch(repo):
        return None
    if _OWNER_NAME.fullmatch(repo):
        if ".." in repo:
            return "must not contain '..'"
        return None
    return ("is not owner/name, a URL (file://, https://, ssh://, git@host:path) "
            "or a path starting with /, ./ or ../")
