"""The files of a deploy root as pydantic models (SPEC §3).

Every model forbids unknown keys (a typo must not be silently ignored) and is
strict: a YAML number or boolean is never turned into a string behind the
user's back. Checks that need only one value live here as validators; checks
that relate several files (a source that names no component, a cycle) live in
``manifests``. The JSON Schemas of these models are what ``inv schema`` writes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from .imageref import (
    BUILD_KEY_RE,
    DIGEST_RE,
    image_digest,
    image_ref_problem,
    legacy_artifact_problem,
)
from .interpolate import InterpolationError, references
from .refnames import SHA_RE, ref_problem, repo_problem

NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
VarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
_ARTIFACT_REF = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)?")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
SMOKE_PLAIN_NAMES = frozenset({"host", "host.private", "services_host", "services_host.private"})
# names of environment variables a deploy may be given (deploy.env): shell-safe, upper case
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_repo(value: str | None) -> str | None:
    if value is not None and (problem := repo_problem(value)):
        raise ValueError(f"repo {value!r} {problem}")
    return value


def _check_refs(text: str, plain: frozenset[str] = frozenset()) -> str:
    try:
        references(text, plain=plain)
    except InterpolationError as exc:
        raise ValueError(str(exc)) from None
    return text


# --- components.yaml -------------------------------------------------------------------------


class Artifact(_Model):
    """One thing a component builds: a recipe, what it needs, what it leaves behind."""

    run: NonEmpty = Field(description="Shell command run in a clean checkout at the SHA.")
    needs: list[Name] = Field(default_factory=list,
                              description="Artifacts of the same component built first.")
    outputs: list[NonEmpty] = Field(
        default_factory=list, description="Globs relative to the checkout, copied to OTTO_OUT.")
    image: NonEmpty | None = Field(None, description="Image repository (without tag) it pushes.")
    cache: bool = Field(True, description="Use the registry cache keyed by the build key.")
    description: str | None = None

    @field_validator("outputs")
    @classmethod
    def _relative_outputs(cls, value: list[str]) -> list[str]:
        for glob in value:
            if glob.startswith("/") or ".." in glob.split("/"):
                raise ValueError(f"output {glob!r} must be a relative path inside the checkout")
        return value


class Deploy(_Model):
    """How a component is deployed; see SPEC §6."""

    on: Literal["nodes", "services_host", "none"] = "nodes"
    run: NonEmpty | None = None
    files: list[NonEmpty] = Field(
        default_factory=list, description="Paths in the deploy repo copied to remote_dir (ssh).")
    remote_dir: NonEmpty = "/opt/ottochain"
    timeout: float = Field(1800, gt=0, description="Seconds one host's deploy may take.")
    once: bool = Field(
        False, description="Run 'run' once on the machine running ottodeploy, with every host "
                           "in variables and $OTTO_REMOTE to reach them ('on' names the hosts "
                           "it needs).")
    env: list[EnvName] = Field(
        default_factory=list,
        description="Secrets (environment variables) the deploy is given; over ssh they "
                    "travel on stdin, never on a command line, and are never printed.")

    @field_validator("files")
    @classmethod
    def _files_inside(cls, value: list[str]) -> list[str]:
        for path in value:
            if path.startswith("/") or ".." in path.split("/"):
                raise ValueError(f"file {path!r} must be a relative path inside the deploy root")
        return value

    @model_validator(mode="after")
    def _run_unless_none(self) -> Deploy:
        if self.on != "none" and self.run is None:
            raise ValueError(f"deploy on {self.on!r} needs a 'run' command")
        if self.once and self.on == "none":
            raise ValueError("a 'once' deploy names the hosts it needs: on: nodes or services_host")
        if self.once and self.files:
            raise ValueError("a 'once' deploy copies its files itself "
                             "(\"$OTTO_REMOTE\" HOST --put FILE PATH); "
                             "'files' is for per-host deploys")
        return self


class Component(_Model):
    repo: NonEmpty
    description: str | None = None
    aliases: list[Name] = Field(
        default_factory=list,
        description="Former names (a rename): files naming one of them mean this component.")
    depends_on: list[NonEmpty] = Field(
        default_factory=list,
        description="Components (all their artifacts) or single artifacts 'component.artifact'.")
    artifacts: dict[Name, Artifact] = Field(default_factory=dict)
    deploy: Deploy | None = None

    _repo = field_validator("repo")(_check_repo)

    @field_validator("depends_on")
    @classmethod
    def _dep_names(cls, value: list[str]) -> list[str]:
        for dep in value:
            if not _ARTIFACT_REF.fullmatch(dep):
                raise ValueError(f"{dep!r} is not 'component' or 'component.artifact'")
        if len(set(value)) != len(value):
            raise ValueError("a dependency is listed twice")
        return value


class StoreConfig(_Model):
    """Where build outputs are shared between machines (SPEC §4a): an OCI registry path."""

    registry: NonEmpty = Field(
        description="Registry and repository prefix, e.g. ghcr.io/ottobot-ai/ottodeploy-store; "
                    "outputs go to <registry>/<component>:bk-<key16>.")

    @field_validator("registry")
    @classmethod
    def _registry_path(cls, value: str) -> str:
        probe = f"{value}/component:tag"
        if "@" in value or ":" in value.rsplit("/", maxsplit=1)[-1] or "/" not in value or \
                image_ref_problem(probe, digest=False):
            raise ValueError(f"store registry {value!r} is not a registry path like "
                             "ghcr.io/owner/ottodeploy-store")
        return value


class ComponentsFile(_Model):
    store: StoreConfig | None = Field(
        None, description="The registry that shares build outputs (none: outputs stay local).")
    components: dict[Name, Component]


# --- environments/<env>.yaml -----------------------------------------------------------------


# The validators below give the better messages; these patterns tell the JSON Schema the same.
_SCHEMA_REF: JsonDict = {"pattern": r"^(?!-)[A-Za-z0-9._/-]+$"}
_SCHEMA_VERSION: JsonDict = {"pattern": r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                                        r"(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"}
_SCHEMA_SHA: JsonDict = {"pattern": r"^[0-9a-f]{40}$"}
_SCHEMA_ONE_PIN: JsonDict = {"oneOf": [{"required": [k]} for k in ("ref", "version", "sha")]}


class Source(_Model):
    """Where one component comes from in one environment: exactly one of ref, version, sha."""

    model_config = ConfigDict(json_schema_extra=_SCHEMA_ONE_PIN)

    type: Literal["upstream", "core", "ecosystem"] | None = Field(
        None, description="Descriptive only; does not change behaviour.")
    repo: NonEmpty | None = Field(None, description="Defaults to the component's repo.")
    ref: NonEmpty | None = Field(None, description="A branch or tag.",
                                 json_schema_extra=_SCHEMA_REF)
    version: NonEmpty | None = Field(None, description="A released version; tag v<version>.",
                                     json_schema_extra=_SCHEMA_VERSION)
    sha: NonEmpty | None = Field(None, description="A full 40-hex commit SHA.",
                                 json_schema_extra=_SCHEMA_SHA)
    build_with: dict[VarName, str] = Field(
        default_factory=dict, description="Values passed to recipes as OTTO_BUILD_WITH_<NAME>.")

    _repo = field_validator("repo")(_check_repo)

    @field_validator("ref")
    @classmethod
    def _ref_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := ref_problem(value)):
            raise ValueError(f"ref {value!r} {problem}")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            from .versions import parse_version

            parse_version(value)
        return value

    @field_validator("sha")
    @classmethod
    def _full_sha(cls, value: str | None) -> str | None:
        if value is not None and not SHA_RE.fullmatch(value):
            raise ValueError(f"sha {value!r} is not a full 40-hex lowercase commit SHA")
        return value

    @field_validator("build_with")
    @classmethod
    def _build_with_refs(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            _check_refs(text)
        return value

    @model_validator(mode="after")
    def _exactly_one_pin(self) -> Source:
        given = [k for k in ("ref", "version", "sha") if getattr(self, k) is not None]
        if len(given) != 1:
            what = " and ".join(given) if given else "none"
            raise ValueError(f"a source names exactly one of ref, version or sha (got {what})")
        return self

    @property
    def pin(self) -> Literal["ref", "version", "sha"]:
        if self.ref is not None:
            return "ref"
        return "version" if self.version is not None else "sha"


class SshOptions(_Model):
    user: NonEmpty | None = None
    port: int = Field(22, ge=1, le=65535)
    strict_host_key_checking: Literal["yes", "accept-new", "no"] = "accept-new"
    connect_timeout: int = Field(10, ge=1, le=300)
    known_hosts: NonEmpty | None = None
    identity_file: NonEmpty | None = None


class Infrastructure(_Model):
    target: Literal["ssh", "local"] = "ssh"
    cluster: str | None = None
    nodes: list[NonEmpty] = Field(default_factory=list)
    services_host: NonEmpty | None = None
    ssh: SshOptions = Field(default_factory=SshOptions)


class SmokeCheck(_Model):
    """An HTTP check: status and optional JSON expectations, retried until ``timeout``."""

    name: str | None = None
    url: NonEmpty
    status: int = Field(200, ge=100, le=599)
    json_: dict[NonEmpty, Any] = Field(default_factory=dict, alias="json")
    timeout: float = Field(60, gt=0, le=3600)
    via: Literal["runner", "ssh"] = Field(
        "runner", description="ssh: the request is made by curl on the host, over the target.")
    on: NonEmpty | None = Field(
        None, description="Host(s) of a 'via: ssh' check: nodes, services_host or a host name; "
                          "default: each node when the URL names ${host}, else the services host.")

    @field_validator("url")
    @classmethod
    def _url_refs(cls, value: str) -> str:
        _check_refs(value, SMOKE_PLAIN_NAMES)
        # each ${...} stands for some text, in the host too: the shape must hold around them
        problem = http_url_problem(_INTERPOLATION.sub("0", value))
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value


_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HOST = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\]")


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL with a host (None when it is one)."""
    example = " (e.g. http://${services_host}:4000/health)"
    if any(c.isspace() for c in url):
        return "is not a URL: it contains whitespace"
    scheme = _SCHEME.match(url)
    if scheme is None or not url[scheme.end():].startswith("//"):
        return "is not an http(s) URL: it does not start with http:// or https://" + example
    if scheme.group(1).lower() not in ("http", "https"):
        return (f"is not an http(s) URL: scheme {scheme.group(1)}: is not http: or https:"
                + example)
    authority = re.split(r"[/?#]", url[scheme.end() + 2:], maxsplit=1)[0]
    hostport = authority.rpartition("@")[2]
    host, port = hostport, ""
    if ":" in hostport and not hostport.endswith("]"):
        host, _, port = hostport.rpartition(":")
    if not host:
        return "is not an http(s) URL: it has no host" + example
    if not _HOST.fullmatch(host):
        return f"is not an http(s) URL: {host!r} is not a host name or address" + example
    if port and not (port.isdigit() and int(port) <= 65535):
        return f"is not an http(s) URL: port {port!r} is not a number up to 65535"
    return None


class E2E(_Model):
    run: NonEmpty
    timeout: float = Field(1800, gt=0)


class Environment(_Model):
    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    mode: Literal["branch", "version"]
    auto_deploy: bool = False
    approval_required: bool = False
    description: str | None = None
    sources: dict[Name, Source]
    infrastructure: Infrastructure = Field(default_factory=Infrastructure)
    smoke: list[SmokeCheck] = Field(default_factory=list)
    e2e: E2E | None = None


# --- compatibility.yaml ----------------------------------------------------------------------


def _check_range(text: str) -> str:
    from .versions import Range

    Range.parse(text)
    return text


# validated one by one, so an error names the range's own key and line
RangeText = Annotated[str, StringConstraints(min_length=1), AfterValidator(_check_range)]


class CompatibilityFile(_Model):
    compatibility: dict[Name, dict[Name, RangeText]] = Field(
        description="component -> {dependency: npm-style range}")


# --- lockfiles/ and hosts.yaml ---------------------------------------------------------------


class LockedSource(_Model):
    """One source as deployed; validated as strictly as a manifest's (SPEC §6a)."""

    repo: NonEmpty
    ref: str | None = Field(None, json_schema_extra=_SCHEMA_REF)
    sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
    version: str | None = Field(None, json_schema_extra=_SCHEMA_VERSION)
    pinned_by: Literal["ref", "version", "sha"] | None = None

    _repo = field_validator("repo")(_check_repo)

    @field_validator("ref")
    @classmethod
    def _ref_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := ref_problem(value)):
            raise ValueError(f"ref {value!r} {problem}")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            from .versions import parse_version

            if len(value) > 128:
                raise ValueError("version is longer than 128 characters")
            parse_version(value)
        return value


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


class Host(_Model):
    address: NonEmpty
    private_address: NonEmpty | None = None
    user: NonEmpty | None = None
    port: int = Field(22, ge=1, le=65535)
    key: NonEmpty | None = None


class HostsFile(_Model):
    hosts: dict[NonEmpty, Host]
