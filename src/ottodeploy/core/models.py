"""The files of a deploy root as pydantic models (SPEC §3); the lockfile's are in ``lockmodels``.

Every model forbids unknown keys (a typo must not be silently ignored) and is
strict: a YAML number or boolean is never turned into a string behind the
user's back. Checks that need only one value live here as validators; checks
that relate several files (a source that names no component, a cycle) live in
``manifests``. The JSON Schemas of these models are what ``inv schema`` writes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from .imageref import (
    image_ref_problem,
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


def _check_ref(value: str | None) -> str | None:
    if value is not None and (problem := ref_problem(value)):
        raise ValueError(f"ref {value!r} {problem}")
    return value


def _check_version(value: str | None) -> str | None:
    if value is not None:
        from .versions import parse_version

        parse_version(value)
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
    _ref_name = field_validator("ref")(_check_ref)
    _semver = field_validator("version")(_check_version)

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


# --- hosts.yaml ------------------------------------------------------------------------------


class Host(_Model):
    address: NonEmpty
    private_address: NonEmpty | None = None
    user: NonEmpty | None = None
    port: int = Field(22, ge=1, le=65535)
    key: NonEmpty | None = None


class HostsFile(_Model):
    hosts: dict[NonEmpty, Host]
