"""Image references as Docker reads them: ``[registry/]name[:tag][@digest]``.

A first path component holding a ``.`` or ``:`` (or ``localhost``) names the
registry, otherwise the image lives on docker.io and a single name gets
``library/``. Loopback registries (``localhost``, ``127.0.0.0/8``, ``[::1]``)
are spoken to over plain HTTP, as Docker does; ``is_loopback`` says which.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

DOCKER_HUB = "docker.io"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Fa-f0-9]{32,}")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_REGISTRY = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d+)?")

@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference; ``str()`` gives the full form with the registry."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest, else the tag, else ``latest``."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> ImageRef:
        """The same repository under ``tag`` (any digest is dropped: it named other bytes)."""
        if not _TAG.fullmatch(tag):
            raise ValueError(f"invalid image tag {tag!r} (allowed: [A-Za-z0-9_][A-Za-z0-9_.-]*)")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageRef:
        """The same reference pinned to ``digest`` (kept tag is informative only)."""
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"invalid digest {digest!r}")
        return replace(self, digest=digest)


def parse_image_ref(text: str) -> ImageRef:
    """Parse ``[registry/]name[:tag][@digest]`` the way Docker does; ValueError if malformed."""
    rest, digest = text.strip(), None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"invalid digest in image reference {text!r}")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, name = first, remainder
        if not _REGISTRY.fullmatch(registry):
            raise ValueError(f"image reference {text!r} has an invalid registry {registry!r}")
    else:
        registry, name = DOCKER_HUB, rest
    tag = None
    if ":" in name:
        name, tag = name.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise ValueError(f"image reference {text!r} has an invalid tag {tag!r} (letters, "
                             "digits, '_', '.', '-'; at most 128; not starting with '.' or '-')")
    if not name or not all(_PATH_COMPONENT.fullmatch(p) for p in name.split("/")):
        raise ValueError(f"{text!r} is not an image reference "
                         "([registry/]name[:tag][@digest], lowercase name)")
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if len(name) > 255:
        raise ValueError(f"image name longer than 255 characters in {text!r}")
    return ImageRef(registry, name, tag, digest)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_loopback(registry: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``[::1]``, with any port."""
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    if host == "localhost":
        return True
    import ipaddress  # here: every build key names images, few runs ask this

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ref_slug(ref: str) -> str:
    """A git ref name (``feat/My_Thing``) as a valid image tag fragment (``feat-my_thing``)."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", ref.strip().lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")
    return slug[:100].rstrip("-.") or "ref"


def image_tag(pin: str, ref: str, sha: str, version: str) -> str:
    """SPEC §4: ``<ref-slug>-<sha7>`` for branch builds, ``<version>`` for released images."""
    if pin == "version":
        return version
    slug = "sha" if pin == "sha" else ref_slug(ref.removeprefix("refs/heads/"))
    return f"{slug}-{sha[:7]}"


# --- what a lockfile may hold (SPEC §3, §4a) ------------------------------------------------
# A lockfile's artifacts end up as OTTO_IMAGE of a deploy step and in registry requests, so
# they are held to Docker's reference grammar (``parse_image_ref``) before anything uses them.
# Content digests are ``sha256:<64 lowercase hex>``; build keys are lowercase hex. An
# artifact written before SPEC §3's mapping shape is one string: an image reference, or
# ``key:<build key>`` for an output that is not an image.

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
BUILD_KEY_RE = re.compile(r"[0-9a-f]{6,64}")
MAX_IMAGE_REF = 512


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
    _, at, pinned = text.partition("@")
    if at and (problem := digest_problem(pinned)):
        return f"image reference {text!r}: {problem}"
    if digest is True and not at:
        return f"image reference {text!r} has no '@sha256:' digest"
    if digest is False and at:
        return f"image reference {text!r} must be a tag, without '@' digest"
    if text != text.strip():
        return f"image reference {text!r} has surrounding spaces"
    try:
        parse_image_ref(text)
    except ValueError as exc:
        return str(exc)
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
