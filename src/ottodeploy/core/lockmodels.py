"""The lockfile as pydantic models (SPEC §3, §4a, §6a): as strict as the manifests' models.

A lockfile is input too (``deploy-from-lockfile``, ``promote``, ``verify``): every field is
checked as a manifest's would be, so a forged or foreign file is bad input, not a surprise
later. ``Lockfile``'s JSON Schema is what ``inv schema`` writes as ``lockfile.schema.json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from .imageref import (
    BUILD_KEY_RE,
    DIGEST_RE,
    image_digest,
    image_ref_problem,
    legacy_artifact_problem,
)
from .models import (
    _SCHEMA_REF,
    _SCHEMA_VERSION,
    _TIMESTAMP,
    NAME_PATTERN,
    Name,
    NonEmpty,
    _check_ref,
    _check_repo,
    _check_version,
    _Model,
)


class LockedSource(_Model):
    """One source as deployed; validated as strictly as a manifest's (SPEC §6a)."""

    repo: NonEmpty
    ref: str | None = Field(None, json_schema_extra=_SCHEMA_REF)
    sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
    version: str | None = Field(None, json_schema_extra=_SCHEMA_VERSION)
    pinned_by: Literal["ref", "version", "sha"] | None = None

    _repo = field_validator("repo")(_check_repo)
    _ref_name = field_validator("ref")(_check_ref)

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 128:   # a lockfile is read from anyone
            raise ValueError("version is longer than 128 characters")
        return _check_version(value)


def _artifact_shape(value: Any) -> str:
    return ARTIFACT_MAPPING if isinstance(value, dict) else ARTIFACT_STRING


# the tags of the union below; ``manifests`` leaves them out of key paths
ARTIFACT_STRING, ARTIFACT_MAPPING = "artifact string", "artifact mapping"
UNION_TAGS = frozenset({ARTIFACT_STRING, ARTIFACT_MAPPING})
TaskName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*_[a-z][a-z0-9-]*$")]
Digest = Annotated[str, StringConstraints(pattern=f"^{DIGEST_RE.pattern}$")]
BuildKey = Annotated[str, StringConstraints(pattern=f"^{BUILD_KEY_RE.pattern}$")]
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


def _legacy_artifact(value: str) -> str:
    if problem := legacy_artifact_problem(value):
        raise ValueError(problem)
    return value


class LockedArtifact(_Model):
    """One artifact by content digest (SPEC §3, §4a); an image also by reference and tag."""

    ref: str | None = Field(None, description="image@sha256:<digest>: what was deployed.")
    tag: str | None = Field(None, description="The readable (mutable) image tag.")
    digest: Digest = Field(description="sha256:<64 hex> of the image manifest or stored output.")
    key: BuildKey = Field(description="The build key that produced it.")
    reproduced: bool | None = Field(
        None, description="Rebuilt at the locked SHAs: whether the digest came out the same.")

    @field_validator("ref")
    @classmethod
    def _pinned_ref(cls, value: str | None) -> str | None:
        if value is not None and (problem := image_ref_problem(value, digest=True)):
            raise ValueError(problem)
        return value

    @field_validator("tag")
    @classmethod
    def _tag_ref(cls, value: str | None) -> str | None:
        if value is not None and (problem := image_ref_problem(value, digest=False)):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _same_digest(self) -> LockedArtifact:
        if self.ref is not None and image_digest(self.ref) != self.digest:
            raise ValueError(f"ref {self.ref!r} is pinned to another digest than {self.digest}")
        return self


ArtifactEntry = Annotated[
    Annotated[Annotated[str, AfterValidator(_legacy_artifact)], Tag(ARTIFACT_STRING)]
    | Annotated[LockedArtifact, Tag(ARTIFACT_MAPPING)],
    Discriminator(_artifact_shape)]


class LockedComponent(_Model):
    """What the deploy did for one component (SPEC §4a, incremental deploy)."""

    deployed: bool | Literal["unchanged"] = Field(
        description="true: its deploy step ran; unchanged: its fingerprint equalled the "
                    "environment's current healthy lockfile's, so it did not run.")
    fingerprint: Digest | None = Field(
        None, description="sha256 of its artifact digests, deploy files and settings, hosts "
                          "and values: what makes its deploy step run again.")


Timestamp = Annotated[str, StringConstraints(pattern=f"^{_TIMESTAMP.pattern}$")]
CheckName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._@\[\]-]{0,127}$")]


class Verification(_Model):
    """One ``inv verify`` of the lockfile (SPEC §6a, verification history)."""

    at: Timestamp
    result: Literal["passed", "failed"]
    checks: dict[CheckName, Literal["passed", "failed"]] = Field(default_factory=dict)
    reason: Annotated[str, StringConstraints(max_length=2000)] | None = None


class LockedApproval(_Model):
    """The verified approval an approval-required deploy stood on (SPEC §6a)."""

    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
    kind: Literal["signed merge", "pull request", "replay"]
    approver: Annotated[str, StringConstraints(pattern=_NO_CONTROL, max_length=255)]
    detail: Annotated[str, StringConstraints(pattern=_NO_CONTROL, max_length=500)] | None = None


class Lockfile(_Model):
    timestamp: NonEmpty = Field(description="UTC, YYYY-MM-DDTHH:MM:SSZ.",
                                json_schema_extra={"pattern": f"^{_TIMESTAMP.pattern}$"})
    environment: Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=63)]
    status: Literal["healthy", "failed"]
    sources: dict[Name, LockedSource]
    artifacts: dict[TaskName, ArtifactEntry] = Field(default_factory=dict)
    tests: dict[Name, Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9 _-]{0,63}$")]] \
        = Field(default_factory=dict)
    mode: Literal["branch", "version"] | None = None
    tool_version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.+-]{1,64}$")] | None \
        = None
    manifest_digest: Digest | None = None
    definition_digest: Digest | None = Field(
        None, description="sha256 of the environment's deploy definition as deployed "
                          "(ottodeploy.definition): inv auto-deploy compares it with today's.")
    build_keys: dict[TaskName, BuildKey] = Field(default_factory=dict)
    replay_of: Annotated[str, StringConstraints(pattern=_NO_CONTROL, max_length=255)] | None \
        = None
    carried_from: Annotated[str, StringConstraints(pattern=_NO_CONTROL, max_length=255)] | None \
        = Field(None, description="deploy --only: the lockfile the components it did not name "
                                  "were carried over from.")
    note: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    components: dict[Name, LockedComponent] = Field(default_factory=dict)
    approval: LockedApproval | None = None
    interrupted: Literal["SIGINT", "SIGTERM"] | None = None
    verifications: list[Verification] = Field(default_factory=list)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: str) -> str:
        if not _TIMESTAMP.fullmatch(value):
            raise ValueError(f"timestamp {value!r} is not UTC 'YYYY-MM-DDTHH:MM:SSZ'")
        try:
            datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not a real date and time") from None
        return value
