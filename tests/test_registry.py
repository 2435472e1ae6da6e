"""The OCI distribution client against a real docker-registry and a scripted recorder."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest

from ottodeploy.core.errors import RegistryError
from ottodeploy.core.imageref import (
    ImageRef,
    image_tag,
    is_loopback,
    parse_image_ref,
    ref_slug,
    sha256_digest,
)
from ottodeploy.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryClient,
    credentials_hint,
    registry_credentials,
)
from tests.servers import HttpRecorder, RecordedRequest, Response, free_port

SECRET_TOKEN = "tok-s3cr3t-value-0123456789"
SHA = "a" * 64


# -- references --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", ImageRef("docker.io", "library/alpine")),
        ("alpine:3.19", ImageRef("docker.io", "library/alpine", "3.19")),
        ("bitnami/redis:7", ImageRef("docker.io", "bitnami/redis", "7")),
        (
            "ghcr.io/scasplte2/ottochain-metagraph:develop-mno345p",
            ImageRef("ghcr.io", "scasplte2/ottochain-metagraph", "develop-mno345p"),
        ),
        ("127.0.0.1:5000/x/y:tag", ImageRef("127.0.0.1:5000", "x/y", "tag")),
        ("localhost/app", ImageRef("localhost", "app")),
        ("[::1]:5000/app:v1", ImageRef("[::1]:5000", "app", "v1")),
        (f"name@sha256:{SHA}", ImageRef("docker.io", "library/name", None, f"sha256:{SHA}")),
        (
            f"ghcr.io/o/n:1.2.3@sha256:{SHA}",
            ImageRef("ghcr.io", "o/n", "1.2.3", f"sha256:{SHA}"),
        ),
    ],
)
def test_parse_image_ref(text: str, expected: ImageRef) -> None:
    assert parse_image_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "UPPER/case", "a//b", "x:", "ghcr.io/o/n:bad tag", "n@sha256:xyz", "n:-lead", "/x"],
)
def test_parse_image_ref_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid|is not an image reference"):
        parse_image_ref(text)


def test_ref_str_and_with_tag() -> None:
    ref = parse_image_ref("127.0.0.1:5000/team/app:one")
    assert str(ref) == "127.0.0.1:5000/team/app:one"
    assert str(parse_image_ref("alpine")) == "docker.io/library/alpine"
    pinned = ref.with_digest(f"sha256:{SHA}")
    assert str(pinned) == f"127.0.0.1:5000/team/app:one@sha256:{SHA}"
    assert pinned.reference == f"sha256:{SHA}"
    assert pinned.with_tag("two") == ImageRef("127.0.0.1:5000", "team/app", "two")
    assert parse_image_ref("x/y").reference == "latest"
    with pytest.raises(ValueError, match="invalid image tag"):
        ref.with_tag("has/slash")


@pytest.mark.parametrize(
    ("ref_name", "slug"),
    [
        ("feat/My_Thing", "feat-my_thing"),
        ("refs/heads/develop", "refs-heads-develop"),
        ("--weird//name!!v1.2--", "weird-name-v1.2"),
        ("release/1.x", "release-1.x"),
        (".hidden", "hidden"),
        ("###", "ref"),
    ],
)
def test_ref_slug(ref_name: str, slug: str) -> None:
    assert ref_slug(ref_name) == slug


def test_ref_slug_is_bounded_and_makes_valid_tags() -> None:
    slug = ref_slug("feature/" + "x-" * 200)
    assert len(slug) <= 100
    assert not slug.endswith("-")
    tag = image_tag("ref", "feat/My_Thing", "0123456789abcdef" * 2 + "01234567", "")
    assert tag == "feat-my_thing-0123456"
    parse_image_ref(f"ghcr.io/o/n:{image_tag('ref', 'a/' + 'Z' * 300, 'f' * 40, '')}")


def test_loopback_registries_use_plain_http() -> None:
    for host in ("localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "[::1]:5000"):
        assert is_loopback(host), host
    for host in ("ghcr.io", "docker.io", "registry.example.com:5000", "10.0.0.1:5000"):
        assert not is_loopback(host), host


# -- credentials ---------------------------------------------------------------------------


def test_ghcr_uses_github_token() -> None:
    env = {"GITHUB_TOKEN": "gh-tok", "GITHUB_ACTOR": "octocat"}
    assert registry_credentials("ghcr.io", env) == ("octocat", "gh-tok")
    assert registry_credentials("ghcr.io", {"GITHUB_TOKEN": "gh-tok"}) == ("ottodeploy", "gh-tok")
    assert registry_credentials("docker.io", env) is None
    assert registry_credentials("127.0.0.1:5000", env) is None
    assert registry_credentials("ghcr.io", {}) is None
    assert "GITHUB_TOKEN" in credentials_hint("ghcr.io")


def test_generic_credentials_override_everywhere() -> None:
    env = {
        "OTTODEPLOY_REGISTRY_USER": "bob",
        "OTTODEPLOY_REGISTRY_PASSWORD": "pw",
        "GITHUB_TOKEN": "t",
    }
    assert registry_credentials("ghcr.io", env) == ("bob", "pw")
    assert registry_credentials("127.0.0.1:5000", env) == ("bob", "pw")
    assert "OTTODEPLOY_REGISTRY_PASSWORD" in credentials_hint("127.0.0.1:5000")


# -- against a real docker-registry -----------------------------------------------------


def test_push_image_then_manifest_digest(registry: str) -> None:
    client = RegistryClient(env={})
    ref = parse_image_ref(f"{registry}/ottochain/metagraph:develop-abc1234")
    digest = client.push_image(ref, {"app/version.txt": b"1.0\n"}, config={"Cmd": ["/app"]})
    assert digest.startswith("sha256:")
    assert client.manifest_digest(ref) == digest
    manifest = client.get_manifest(ref.with_digest(digest))
    assert manifest.media_type == OCI_MANIFEST
    assert sha256_digest(manifest.body) == digest
    # deterministic: the same files give the same image, blobs are not uploaded twice
    assert (
        client.push_image(
            ref.with_tag("again"), {"app/version.txt": b"1.0\n"}, config={"Cmd": ["/app"]}
        )
        == digest
    )


def test_missing_tag_and_repository_are_none(registry: str) -> None:
    client = RegistryClient(env={})
    ref = parse_image_ref(f"{registry}/team/app:present")
    client.push_image(ref, {"f": b"x"})
    assert client.manifest_digest(ref.with_tag("absent")) is None
    assert client.manifest_digest(parse_image_ref(f"{registry}/team/nothing:x")) is None
    with pytest.raises(RegistryError, match="not found") as info:
        client.get_manifest(ref.with_tag("absent"))
    assert registry in str(info.value)


def test_retag_keeps_the_digest(registry: str) -> None:
    client = RegistryClient(env={})
    ref = parse_image_ref(f"{registry}/team/app:feat-x-1234567")
    digest = client.push_image(ref, {"bin/app": b"#!/bin/sh\necho hi\n"})
    assert client.retag(ref, "bk-0123456789abcdef") == digest
    assert client.manifest_digest(ref.with_tag("bk-0123456789abcdef")) == digest
    assert client.get_manifest(ref.with_tag("bk-0123456789abcdef")).body == (
        client.get_manifest(ref).body
    )


def test_put_and_get_manifest_round_trip(registry: str) -> None:
    client = RegistryClient(env={})
    ref = parse_image_ref(f"{registry}/team/docker-style:v1")
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": client.push_blob(ref, config),
                "size": len(config),
            },
            "layers": [],
        },
        indent=3,  # unusual formatting: the bytes must survive untouched
    ).encode()
    digest = client.put_manifest(ref, body, DOCKER_MANIFEST)
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    got = client.get_manifest(ref)
    assert (got.body, got.media_type, got.digest) == (body, DOCKER_MANIFEST, digest)

    # an index pointing at it: list types are accepted too
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": DOCKER_MANIFEST,
                    "digest": digest,
                    "size": len(body),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    index_digest = client.put_manifest(ref.with_tag("multi"), index, OCI_INDEX)
    assert client.manifest_digest(ref.with_tag("multi")) == index_digest
    assert client.get_manifest(ref.with_tag("multi")).media_type == OCI_INDEX


def test_push_blob_is_idempotent(registry: str) -> None:
    client = RegistryClient(env={})
    ref = parse_image_ref(f"{registry}/team/blobs:x")
    assert (
        client.push_blob(ref, b"data") == client.push_blob(ref, b"data") == sha256_digest(b"data")
    )


def test_unreachable_registry_names_it() -> None:
    port = free_port()
    client = RegistryClient(timeout=2, env={})
    ref = parse_image_ref(f"127.0.0.1:{port}/team/app:x")
    with pytest.raises(RegistryError) as info:
        client.manifest_digest(ref)
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text
    assert str(ref) in text
    assert "cannot reach" in text


def test_hanging_registry_times_out(http_recorder: HttpRecorder) -> None:
    http_recorder.default = Response(200, delay=30)
    client = RegistryClient(timeout=0.5, env={})
    start = time.monotonic()
    with pytest.raises(RegistryError, match=r"no answer within 0\.5s"):
        client.manifest_digest(parse_image_ref(f"{http_recorder.host_port}/team/app:x"))
    assert time.monotonic() - start < 5


def test_server_error_is_a_registry_error(http_recorder: HttpRecorder) -> None:
    errors = {"errors": [{"code": "UNAVAILABLE", "message": "maintenance"}]}
    http_recorder.default = Response(503, body=errors)
    ref = parse_image_ref(f"{http_recorder.host_port}/a:b")
    with pytest.raises(RegistryError, match="HEAD answered 503") as info:
        RegistryClient(env={}).manifest_digest(ref)
    assert http_recorder.host_port in str(info.value)
    with pytest.raises(RegistryError, match="GET answered 503") as info:
        RegistryClient(env={}).get_manifest(ref)
    assert http_recorder.host_port in str(info.value)
    assert "maintenance" in str(info.value)


def test_digest_computed_when_header_missing(http_recorder: HttpRecorder) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": []}).encode()
    http_recorder.add_route("HEAD", "/v2/team/app/manifests/x", Response(200))
    http_recorder.add_route(
        "GET", "/v2/team/app/manifests/x", Response(200, {"Content-Type": DOCKER_LIST}, body)
    )
    ref = parse_image_ref(f"{http_recorder.host_port}/team/app:x")
    assert RegistryClient(env={}).manifest_digest(ref) == sha256_digest(body)
    accept = http_recorder.requests[0].header("Accept") or ""
    for media_type in (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST):
        assert media_type in accept


# -- token flow against a scripted registry -------------------------------------------


class TokenRegistry:
    """Plays a registry that wants a Bearer token from a realm on the same recorder."""

    def __init__(
        self, recorder: HttpRecorder, *, token_status: int = 200, accept_token: bool = True
    ) -> None:
        self.recorder = recorder
        self.token_status = token_status
        self.accept_token = accept_token
        recorder.handler = self.handle

    def handle(self, request: RecordedRequest) -> Response:
        if request.path == "/token":
            if self.token_status != 200:
                return Response(self.token_status, body={"details": "no"})
            return Response(200, body={"token": SECRET_TOKEN, "expires_in": 300})
        authorized = request.header("Authorization") == f"Bearer {SECRET_TOKEN}"
        if not (authorized and self.accept_token):
            echo = {"errors": [{"code": "UNAUTHORIZED", "message": "no"}]}
            return Response(401, self.challenge(), echo)
        if request.method == "HEAD" and "/blobs/sha256:" in request.path:
            return Response(404)
        if request.method == "POST":
            return Response(202, {"Location": "/v2/team/app/blobs/uploads/u1?_state=s"})
        headers = {"Docker-Content-Digest": f"sha256:{SHA}", "Content-Type": OCI_MANIFEST}
        return Response(201 if request.method == "PUT" else 200, headers)

    def challenge(self) -> dict[str, str]:
        realm = f"{self.recorder.url}/token"
        return {
            "WWW-Authenticate": f'Bearer realm="{realm}",service="test-registry",'
            'scope="repository:team/app:pull"'
        }

    def token_requests(self) -> list[RecordedRequest]:
        return [r for r in self.recorder.requests if r.path == "/token"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_anonymous_token_flow(http_recorder: HttpRecorder) -> None:
    fake = TokenRegistry(http_recorder)
    client = RegistryClient(env={"GITHUB_TOKEN": "gh-never-sent-here"})
    ref = parse_image_ref(f"{http_recorder.host_port}/team/app:v1")
    assert client.manifest_digest(ref) == f"sha256:{SHA}"
    assert client.manifest_digest(ref.with_tag("v2")) == f"sha256:{SHA}"
    tokens = fake.token_requests()
    assert len(tokens) == 1  # cached per (registry, scope)
    assert tokens[0].param("service") == "test-registry"
    assert tokens[0].query["scope"] == ["repository:team/app:pull"]
    assert tokens[0].header("Authorization") is None  # GITHUB_TOKEN is for ghcr.io only
    last = http_recorder.requests[-1]
    assert last.header("Authorization") == f"Bearer {SECRET_TOKEN}"


def test_token_flow_with_generic_credentials(http_recorder: HttpRecorder) -> None:
    fake = TokenRegistry(http_recorder)
    env = {"OTTODEPLOY_REGISTRY_USER": "bob", "OTTODEPLOY_REGISTRY_PASSWORD": "pw-123"}
    client = RegistryClient(env=env)
    ref = parse_image_ref(f"{http_recorder.host_port}/team/app:v1")
    assert client.manifest_digest(ref) == f"sha256:{SHA}"
    (token_request,) = fake.token_requests()
    assert token_request.header("Authorization") == _basic("bob", "pw-123")


def test_push_asks_for_a_push_scope(http_recorder: HttpRecorder) -> None:
    fake = TokenRegistry(http_recorder)
    client = RegistryClient(env={})
    ref = parse_image_ref(f"{http_recorder.host_port}/team/app:v1")
    assert client.push_blob(ref, b"layer") == sha256_digest(b"layer")
    tokens = fake.token_requests()
    assert len(tokens) == 1
    assert "repository:team/app:pull,push" in tokens[0].query["scope"]
    upload = [r for r in http_recorder.requests if r.method == "PUT"][-1]
    assert upload.path == "/v2/team/app/blobs/uploads/u1"
    assert upload.param("digest") == sha256_digest(b"layer")
    assert upload.param("_state") == "s"
    assert upload.body == b"layer"
    # the push token also serves pulls: no second token request
    client.manifest_digest(ref)
    assert len(fake.token_requests()) == 1


def test_rejected_token_is_access_denied_without_the_token(http_recorder: HttpRecorder) -> None:
    TokenRegistry(http_recorder, accept_token=False)
    client = RegistryClient(env={"OTTODEPLOY_REGISTRY_PASSWORD": "pw-hidden"})
    with pytest.raises(RegistryError, match="access denied") as info:
        client.manifest_digest(parse_image_ref(f"{http_recorder.host_port}/team/app:v1"))
    text = str(info.value)
    assert http_recorder.host_port in text
    assert "OTTODEPLOY_REGISTRY_PASSWORD" in text
    assert SECRET_TOKEN not in text
    assert "pw-hidden" not in text


def test_token_service_refusal_is_access_denied(http_recorder: HttpRecorder) -> None:
    TokenRegistry(http_recorder, token_status=401)
    with pytest.raises(RegistryError, match="access denied"):
        RegistryClient(env={}).manifest_digest(
            parse_image_ref(f"{http_recorder.host_port}/team/app:v1")
        )


def test_registry_echoing_the_token_is_scrubbed(http_recorder: HttpRecorder) -> None:
    fake = TokenRegistry(http_recorder)

    def echo(request: RecordedRequest) -> Response:
        if request.header("Authorization") is None:
            return fake.handle(request)
        message = f"bad credentials {request.header('Authorization')}"
        return Response(400, body={"errors": [{"code": "DENIED", "message": message}]})

    http_recorder.add_route("GET", "/v2/team/app/manifests/v1", echo)
    with pytest.raises(RegistryError, match="DENIED") as info:
        RegistryClient(env={}).get_manifest(
            parse_image_ref(f"{http_recorder.host_port}/team/app:v1")
        )
    assert SECRET_TOKEN not in str(info.value)
    assert "Bearer ***" in str(info.value)


def test_basic_challenge(http_recorder: HttpRecorder) -> None:
    expected = _basic("bob", "pw")

    def handle(request: RecordedRequest) -> Response:
        if request.header("Authorization") == expected:
            return Response(200, {"Docker-Content-Digest": f"sha256:{SHA}"})
        return Response(401, {"WWW-Authenticate": 'Basic realm="registry"'})

    http_recorder.handler = handle
    ref = parse_image_ref(f"{http_recorder.host_port}/team/app:v1")
    env = {"OTTODEPLOY_REGISTRY_USER": "bob", "OTTODEPLOY_REGISTRY_PASSWORD": "pw"}
    client = RegistryClient(env=env)
    assert client.manifest_digest(ref) == f"sha256:{SHA}"
    assert client.manifest_digest(ref) == f"sha256:{SHA}"
    assert len(http_recorder.requests) == 3  # basic sent up front once known
    with pytest.raises(RegistryError, match="access denied"):
        RegistryClient(env={}).manifest_digest(ref)
