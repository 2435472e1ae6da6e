"""Which image references, digests and build keys a lockfile may hold (SPEC §3, §4a).

A lockfile's artifacts end up as ``OTTO_IMAGE`` of a deploy step and in
registry requests, so they are held to Docker's reference grammar before
anything uses them: ``[registry/]name[:tag][@sha256:<64 hex>]`` with a
lowercase name of path components, a registry that is a host name (or
bracketed IPv6 address) with an optional port, a tag of at most 128 characters
from ``[A-Za-z0-9_.-]`` not starting with ``.`` or ``-``. Content digests are
``sha256:<64 lowercase hex>``; build keys are lowercase hex. An artifact
written before SPEC §3's mapping shape is one string: an image reference, or
``key:<build key>`` for an output that is not an image. Pure string tests, no
imports beyond ``re``.
"""

from __future__ import annotations

import re

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
BUILD_KEY_RE = re.compile(r"[0-9a-f]{6,64}")
MAX_IMAGE_REF = 512

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_REGISTRY = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def digest_problem(text: str) -> str | None:
    """Why ``text`` is not ``sha256:<64 lowercase hex>``, or None."""
    if DIGEST_RE.fullmatch(text):
        return None
    return f"digest {text!r} is not 'sha256:' followed by 64 lowercase hex digits"


def build_key_problem(text: str) -> str | None:
    if BUILD_KEY_RE.fullmatch(text):
        return None
    return f"build key {text!r} is not lowercase hex (6 to 64 digits)"


def image_ref_problem(text: str, *, digest: bool | None = None) -> str | None:
    """Why ``text`` is not an image reference, or None.

    ``digest``: True requires ``@sha256:...``, False forbids it, None allows both.
    """
    if not text:
        return "image reference is empty"
    if len(text) > MAX_IMAGE_REF:
        return f"image reference is longer than {MAX_IMAGE_REF} characters"
    rest, at, pinned = text.partition("@")
    if at and (problem := digest_problem(pinned)):
        return f"image reference {text!r}: {problem}"
    if digest is True and not at:
        return f"image reference {text!r} has no '@sha256:' digest"
    if digest is False and at:
        return f"image reference {text!r} must be a tag, without '@' digest"
    first, slash, name = rest.partition("/")
    if not (slash and ("." in first or ":" in first or first == "localhost")):
        name = rest
    elif not _REGISTRY.fullmatch(first):
        return f"image reference {text!r} has an invalid registry {first!r}"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            return (f"image reference {text!r} has an invalid tag {tag!r} "
                    "(letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')")
    if not name or not all(_PATH_COMPONENT.fullmatch(p) for p in name.split("/")):
        return (f"{text!r} is not an image reference "
                "([registry/]name[:tag][@sha256:...], lowercase name)")
    return None


def image_digest(text: str) -> str | None:
    """The ``sha256:...`` an image reference is pinned to, if any."""
    return text.partition("@")[2] or None


def legacy_artifact_problem(text: str) -> str | None:
    """Why a plain-string artifact (the shape before SPEC §3's mapping) is not acceptable."""
    if text.startswith("key:"):
        problem = build_key_problem(text[4:])
        return f"artifact {text!r}: {problem}" if problem else None
    return image_ref_problem(text)
