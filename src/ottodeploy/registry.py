"""A small client for the OCI distribution API (SPEC §4, "Registry cache").

Image references follow Docker's conventions: a first path component holding a ``.``
or ``:`` (or ``localhost``) names the registry, otherwise the image lives on docker.io
and a single name gets ``library/``. Loopback registries are spoken to over plain HTTP,
every other one over HTTPS, as Docker does.

Each request goes to ``/v2/<repository>/...`` with a bounded timeout. A ``401`` answer
carries a challenge: for ``Bearer`` we fetch a token from the challenge's realm (GET with
``service`` and ``scope``; anonymous, or HTTP basic auth when credentials are known —
``GITHUB_TOKEN`` for ghcr.io, ``OTTODEPLOY_REGISTRY_USER``/``_PASSWORD`` anywhere), cache
it per (registry, scope) and retry the request once; for ``Basic`` we retry once with the
credentials. Still refused means access denied. Tokens and passwords never appear in a
message: every error text is scrubbed of the secrets this client holds.

Every digest is checked against the bytes: a manifest fetched by digest, a registry's
``Docker-Content-Digest`` for a manifest it sends or stores, a blob as it streams in. A
mismatch is an ``IntegrityError`` (the registry's copy is corrupt or tampered with),
which callers never treat as a mere cache miss.

Manifests are stored byte for byte: re-tagging GETs a manifest and PUTs the same bytes
under another tag, so the digest (sha256 of those bytes) stays the same. ``push_image``
builds a deterministic one-layer OCI image (fixed mtimes, sorted entries), so the same
files give the same digest on every machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .core.errors import HttpError, IntegrityError, RegistryError
from .core.imageref import DOCKER_HUB, ImageRef, is_loopback, sha256_digest
from .http import HttpClient, reason
from .redact import redact

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
ACCEPT = ", ".join(MANIFEST_TYPES)

DOCKER_HUB_API = "registry-1.docker.io"
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def registry_credentials(registry: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """Credentials for ``registry``: the generic override, else ``GITHUB_TOKEN`` on ghcr.io."""
    password = env.get("OTTODEPLOY_REGISTRY_PASSWORD")
    if password:
        return env.get("OTTODEPLOY_REGISTRY_USER") or "ottodeploy", password
    token = env.get("GITHUB_TOKEN")
    if registry == "ghcr.io" and token:
        return env.get("GITHUB_ACTOR") or "ottodeploy", token
    return None


def credentials_hint(registry: str) -> str:
    """Which environment variables supply credentials for ``registry``."""
    generic = "OTTODEPLOY_REGISTRY_USER and OTTODEPLOY_REGISTRY_PASSWORD"
    if registry == "ghcr.io":
        return f"set GITHUB_TOKEN (with packages scope; GITHUB_ACTOR as user) or {generic}"
    return f"set {generic}"


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str


class RegistryClient:
    """Talks to registries over the distribution API; one instance caches tokens."""

    def __init__(self, timeout: float = 10.0, env: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._http = HttpClient(timeout=timeout, environ=self._env)
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- manifests ---------------------------------------------------------------------

    def manifest_digest(self, ref: ImageRef) -> str | None:
        """The digest ``ref`` points at, or None when the tag or repository does not exist."""
        resp = self._call("HEAD", ref, f"manifests/{ref.reference}", headers={"Accept": ACCEPT})
        if resp.status_code == 404:
            return None
        self._expect(resp, ref, 200)
        if digest := resp.headers.get("Docker-Content-Digest"):
            return digest
        manifest = self._fetch_manifest(ref)
        return manifest.digest if manifest else None

    def get_manifest(self, ref: ImageRef) -> Manifest:
        manifest = self._fetch_manifest(ref)
        if manifest is None:
            raise _error(ref, "image not found", hint="check the name and tag, and the push")
        return manifest

    def put_manifest(self, ref: ImageRef, body: bytes, media_type: str) -> str:
        """Store ``body`` under ``ref``'s tag (or digest); returns the manifest digest."""
        path = f"manifests/{ref.reference}"
        resp = self._call(
            "PUT", ref, path, push=True, headers={"Content-Type": media_type}, data=body
        )
        self._expect(resp, ref, 201, 200)
        sent = sha256_digest(body)
        stored = resp.headers.get("Docker-Content-Digest") or sent
        if stored.startswith("sha256:") and stored != sent:
            raise _error(ref, f"it says it stored {stored} for the manifest {sent} sent",
                         integrity=True)
        return stored

    def retag(self, src_ref: ImageRef, dst_tag: str) -> str:
        """Point ``dst_tag`` (same repository) at ``src_ref``'s manifest; same digest."""
        dst = src_ref.with_tag(dst_tag)
        manifest = self.get_manifest(src_ref)
        return self.put_manifest(dst, manifest.body, manifest.media_type)

    def _fetch_manifest(self, ref: ImageRef) -> Manifest | None:
        resp = self._call("GET", ref, f"manifests/{ref.reference}", headers={"Accept": ACCEPT})
        if resp.status_code == 404:
            return None
        self._expect(resp, ref, 200)
        body, computed = resp.content, sha256_digest(resp.content)
        if ref.digest and ref.digest.startswith("sha256:") and ref.digest != computed:
            raise _error(ref, f"the manifest sent has digest {computed}", integrity=True)
        digest = resp.headers.get("Docker-Content-Digest") or computed
        if digest.startswith("sha256:") and digest != computed:
            raise _error(ref, f"the manifest it calls {digest} has digest {computed}",
                         integrity=True)
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            with contextlib.suppress(ValueError, AttributeError):
                media_type = str(json.loads(body).get("mediaType") or media_type)
        return Manifest(body=body, media_type=media_type, digest=digest)

    # -- blobs and images --------------------------------------------------------------

    def push_blob(self, ref: ImageRef, data: bytes) -> str:
        """Upload ``data`` into ``ref``'s repository (monolithic); skipped when present."""
        digest = sha256_digest(data)
        if self._call("HEAD", ref, f"blobs/{digest}", push=True).status_code == 200:
            return digest
        start = self._call("POST", ref, "blobs/uploads/", push=True)
        self._expect(start, ref, 202)
        if not (location := start.headers.get("Location")):
            raise _error(ref, "the registry gave no upload location")
        headers = {"Content-Type": "application/octet-stream"}
        url = urljoin(self._base(ref), location)
        done = self._call(
            "PUT", ref, url, push=True, params={"digest": digest}, data=data, headers=headers
        )
        self._expect(done, ref, 201, 204)
        return digest

    def push_image(
        self,
        ref: ImageRef,
        files: Mapping[str, bytes],
        *,
        config: Mapping[str, object] | None = None,
    ) -> str:
        """Push a one-layer OCI image holding ``files``; returns the manifest digest.

        ``config`` becomes the image config's runtime ``config`` (``Env``, ``Cmd``, ``Labels``).
        """
        from .ocilayout import build_image

        image = build_image(files, config)
        for _, blob in image.blobs:
            self.push_blob(ref, blob)
        return self.put_manifest(ref, image.manifest, OCI_MANIFEST)

    # -- blobs as files and artifacts (the remote artifact store, SPEC §4a) -----------------

    def fetch_manifest(self, ref: ImageRef) -> Manifest | None:
        """The manifest ``ref`` names, byte for byte, or None when it does not exist."""
        return self._fetch_manifest(ref)

    def blob_exists(self, ref: ImageRef, digest: str) -> bool:
        resp = self._call("HEAD", ref, f"blobs/{digest}")
        if resp.status_code == 404:
            return False
        self._expect(resp, ref, 200)
        return True

    def get_blob(self, ref: ImageRef, digest: str, dest_path: Path) -> None:
        """Download blob ``digest`` of ``ref``'s repository into ``dest_path``, streamed.

        The bytes are hashed as they arrive; a mismatch removes ``dest_path`` and raises.
        """
        resp = self._call("GET", ref, f"blobs/{digest}", stream=True)
        with resp:
            if resp.status_code == 404:
                raise _error(ref, f"blob {digest} not found", hint="push it again")
            self._expect(resp, ref, 200)
            hasher = hashlib.sha256()
            try:
                with dest_path.open("wb") as out:
                    for chunk in resp.iter_content(chunk_size=1 << 20):
                        hasher.update(chunk)
                        out.write(chunk)
            except requests.RequestException as exc:
                dest_path.unlink(missing_ok=True)
                why = self._scrub(reason(exc, self.timeout))
                raise _error(ref, f"blob {digest} broke off: {why}") from None
        if f"sha256:{hasher.hexdigest()}" != digest:
            dest_path.unlink(missing_ok=True)
            raise _error(ref, f"blob {digest} arrived with other bytes "
                              f"(sha256:{hasher.hexdigest()})", integrity=True)

    def push_blob_file(self, ref: ImageRef, path: Path, digest: str) -> str:
        """Upload the file ``path`` (whose digest is ``digest``) unless the registry has it.

        The HEAD first also earns the push token, so the streamed PUT is never replayed
        after a 401 (a file body cannot be sent twice).
        """
        if self._call("HEAD", ref, f"blobs/{digest}", push=True).status_code == 200:
            return digest
        start = self._call("POST", ref, "blobs/uploads/", push=True)
        self._expect(start, ref, 202)
        if not (location := start.headers.get("Location")):
            raise _error(ref, "the registry gave no upload location")
        url = urljoin(self._base(ref), location)
        with path.open("rb") as body:
            done = self._call("PUT", ref, url, push=True, params={"digest": digest},
                              data=body, headers={"Content-Type": "application/octet-stream"})
        self._expect(done, ref, 201, 204)
        return digest

    # -- transport and auth ------------------------------------------------------------

    def _base(self, ref: ImageRef) -> str:
        scheme = "http" if is_loopback(ref.registry) else "https"
        host = DOCKER_HUB_API if ref.registry == DOCKER_HUB else ref.registry
        return f"{scheme}://{host}/v2/{ref.repository}/"

    def _call(
        self, method: str, ref: ImageRef, path: str, *, push: bool = False, **kw: Any
    ) -> requests.Response:
        """One request with auth: a cached token, else the challenge flow, retried once."""
        url = path if "://" in path else self._base(ref) + path
        same_host = urlsplit(url).netloc == urlsplit(self._base(ref)).netloc
        scope = f"repository:{ref.repository}:{'pull,push' if push else 'pull'}"
        auth = self._cached_auth(ref.registry, scope) if same_host else None
        resp = self._send(method, url, ref, auth, kw)
        if resp.status_code == 401 and same_host:
            challenge = resp.headers.get("WWW-Authenticate", "")
            if (auth := self._authenticate(ref, scope, challenge)) is not None:
                resp = self._send(method, url, ref, auth, kw)
        if resp.status_code in (401, 403):
            what = f"access denied ({method} answered {resp.status_code})"
            raise _error(ref, what, hint=credentials_hint(ref.registry))
        return resp

    def _send(
        self, method: str, url: str, ref: ImageRef, auth: str | None, kw: dict[str, Any]
    ) -> requests.Response:
        headers = {**kw.get("headers", {}), **({"Authorization": auth} if auth else {})}
        try:
            resp = self._http.request(method, url, **{**kw, "headers": headers},
                                      allow_redirects=method in ("GET", "HEAD"))
        except HttpError as exc:
            hint = "check that it is up and reachable (for the cache this is only a miss)"
            raise _error(ref, f"cannot reach it: {self._scrub(exc.reason)}", hint=hint) from None
        if resp.status_code >= 500:
            what = f"{method} answered {resp.status_code}{self._error_text(resp)}"
            raise _error(ref, what, hint="the registry has a problem; retry later")
        return resp

    def _cached_auth(self, registry: str, scope: str) -> str | None:
        with self._lock:
            if registry in self._basic:
                return self._basic_header(registry)
            push_scope = scope.rsplit(":", 1)[0] + ":pull,push"
            token = self._tokens.get((registry, scope)) or self._tokens.get((registry, push_scope))
        return f"Bearer {token}" if token else None

    def _basic_header(self, registry: str) -> str | None:
        if (creds := registry_credentials(registry, self._env)) is None:
            return None
        return "Basic " + base64.b64encode(":".join(creds).encode()).decode("ascii")

    def _authenticate(self, ref: ImageRef, scope: str, challenge: str) -> str | None:
        """Answer a challenge: a header to retry with, or None when there is nothing to try."""
        kind, _, rest = challenge.strip().partition(" ")
        params = {m[0].lower(): m[1] or m[2] for m in _CHALLENGE_PARAM.findall(rest)}
        if kind.lower() == "basic":
            with self._lock:
                self._basic.add(ref.registry)
            return self._basic_header(ref.registry)
        realm = urlsplit(params.get("realm", ""))
        if kind.lower() != "bearer" or realm.scheme not in ("http", "https"):
            return None
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in dict.fromkeys([scope, params.get("scope") or scope])]
        creds = registry_credentials(ref.registry, self._env)
        if realm.scheme != "https" and not is_loopback(realm.netloc):
            creds = None  # never send credentials in clear text off this machine
        try:
            resp = self._http.get(realm.geturl(), params=query, auth=creds)
        except HttpError as exc:
            raise _error(ref, f"cannot reach its token service: {self._scrub(exc.reason)}") \
                from None
        if resp.status_code in (401, 403):
            what = f"access denied (token service answered {resp.status_code})"
            raise _error(ref, what, hint=credentials_hint(ref.registry))
        token = ""
        with contextlib.suppress(ValueError, AttributeError):
            payload = resp.json()
            token = str(payload.get("token") or payload.get("access_token") or "")
        if resp.status_code != 200 or not token:
            raise _error(ref, f"its token service answered {resp.status_code} without a token")
        with self._lock:
            self._tokens[(ref.registry, scope)] = token
        return f"Bearer {token}"

    def _expect(self, resp: requests.Response, ref: ImageRef, *ok: int) -> None:
        if resp.status_code not in ok:
            method = resp.request.method
            raise _error(ref, f"{method} answered {resp.status_code}{self._error_text(resp)}")

    def _error_text(self, resp: requests.Response) -> str:
        """The registry's own error codes/messages, scrubbed of any secret we hold."""
        text = ""
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            errors = resp.json().get("errors") or []
            text = "; ".join(f"{e.get('code', '')} {e.get('message', '')}" for e in errors)
        return f" ({self._scrub(text[:300])})" if text else ""

    def _scrub(self, text: str) -> str:
        """Remove the tokens this client holds, then every secret of the environment."""
        with self._lock:
            tokens = sorted(self._tokens.values(), key=len, reverse=True)
        for token in tokens:
            text = text.replace(token, "***")
        return redact(text, self._env)


def _error(ref: ImageRef, what: str, *, hint: str | None = None,
           integrity: bool = False) -> RegistryError:
    message = f"registry {ref.registry}, image {ref}: {what}"
    if integrity:
        return IntegrityError(message, hint=hint or "its copy is corrupt or was tampered with: "
                              "nothing from it is used; delete it there (a build pushes it "
                              "again) and find out how it changed")
    return RegistryError(message, hint=hint)
