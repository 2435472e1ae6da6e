"""Sources before and after resolution, as plain values.

A ``SourceRequest`` is what one source of an environment asks for (a ref, a
version or a sha in a repo); a ``ResolvedSource`` is the exact commit and
version it named when it was resolved (or what a lockfile recorded); a
``Resolution`` is all of them for one environment. ``Miss`` is a source that
could not be resolved, with the key it came from.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Pin = Literal["ref", "version", "sha"]


class ResolvedSource(NamedTuple):
    name: str
    repo: str
    url: str
    pin: Pin
    ref: str          # branch or tag as written; the tag for a version; the sha for a sha
    sha: str
    version: str
    tags_digest: str

    def fields(self) -> dict[str, str]:
        """The values ``${name.field}`` interpolates."""
        return {"ref": self.ref, "sha": self.sha, "version": self.version, "repo": self.repo}

    def to_json(self) -> dict[str, str]:
        return dict(self._asdict())


class Resolution(NamedTuple):
    environment: str
    sources: dict[str, ResolvedSource]

    def versions(self) -> dict[str, str]:
        return {name: s.version for name, s in self.sources.items()}


class SourceRequest(NamedTuple):
    """What one source of the environment asks for, before resolution."""

    name: str
    repo: str
    url: str
    pin: Pin
    value: str  # the ref, the version (as written) or the sha


class Miss(NamedTuple):
    """A source that could not be resolved: which key of it, why, and a hint."""

    name: str
    field: Pin
    message: str
    hint: str | None = None
