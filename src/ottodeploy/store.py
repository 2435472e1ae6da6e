"""The content-addressed artifact store (SPEC §4a): an OCI image layout shared by all environments.

``.ottodeploy/store/`` holds ``oci-layout``, ``index.json`` and ``blobs/sha256/<hex>`` as
the OCI image-layout spec has them, plus the store's own ``tmp/`` (work in progress, on
the same file system so a finished file is renamed into place), ``unpacked/<hex>/`` (an
artifact's files, read-only), ``locks/`` and ``corrupt/`` (what failed verification).

Putting. A build's outputs are packed (``ocilayout.pack``) straight into a temporary file
that becomes the one layer of an OCI artifact manifest (``artifactType`` ottodeploy
outputs, the empty config ``{}``, annotations naming key, component and artifact). A
recipe's own image layout is copied blob by blob, each hashed as it is copied, so its
manifest digest stays the one the recipe made. Every manifest is indexed by build key:
``ref.name`` is ``bk-<key16>``, the full key is an annotation, and lookups compare it.

Concurrency (``layoutdir``). The slow part (packing, copying, downloading) runs outside
any lock. Renaming finished blobs into place and rewriting ``index.json`` (atomically)
happen under an exclusive ``flock`` on ``index.lock``, and ``gc`` deletes under the same
lock, so concurrent processes and threads never lose an entry nor see a blob vanish under
a fresh entry. Readers read ``index.json`` without the lock.

Reading. A blob is hashed against its name whenever it is read; a mismatch moves it to
``corrupt/``, warns and raises ``StoreError``: the artifact is then missing, and the next
build or pull puts it back. ``unpack`` extracts a manifest's layers in order into a
temporary folder under a per-digest lock, makes it read-only and renames it to
``unpacked/<hex>``: every caller gets the same finished folder, never changed afterwards.
A corrupt ``index.json`` is moved aside with a warning and the index starts empty.

Garbage. ``gc`` keeps the manifests named in ``keep`` (digests or build keys) and those
indexed in the last N days, with all they reference; it drops the rest of the index,
unreferenced blobs older than N days and the unpacked folders of dropped manifests.

Remote. ``push`` uploads the blobs, then the manifest, to ``<store>/<component>:bk-<key16>``;
``pull`` fetches a manifest by tag and its missing blobs by digest (verified) and indexes it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .core.errors import StoreError
from .layoutdir import Json, LayoutDir, flock, hex_of, make_read_only, remove_tree
from .ocilayout import OCI_MANIFEST, apply_layer, canonical, digest_of, pack

if TYPE_CHECKING:
    from .core.imageref import ImageRef
    from .registry import RegistryClient

log = logging.getLogger("ottodeploy.store")

ARTIFACT_TYPE = "application/vnd.ottodeploy.outputs.v1"
OUTPUTS_LAYER = "application/vnd.ottodeploy.outputs.layer.v1.tar+gzip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
REF_NAME = "org.opencontainers.image.ref.name"
CREATED = "org.opencontainers.image.created"
KEY = "dev.ottodeploy.key"
COMPONENT = "dev.ottodeploy.component"
ARTIFACT = "dev.ottodeploy.artifact"
IMAGE_TAG = "dev.ottodeploy.tag"
_DAY = 86400.0


def cache_tag(key: str) -> str:
    """The tag a build key goes by, in the store's index and in registries."""
    return f"bk-{key[:16]}"


def _digests(descriptors: object) -> list[str]:
    if not isinstance(descriptors, list) or not all(isinstance(d, dict) for d in descriptors):
        raise StoreError(f"malformed descriptors in a manifest: {str(descriptors)[:200]}")
    found = [str(d.get("digest")) for d in descriptors]
    for digest in found:
        hex_of(digest)
    return found


def _layers(manifest: Json) -> list[str]:
    """The layer digests of an image or artifact manifest, in order."""
    if "manifests" in manifest:
        raise StoreError("an image index (multi-platform image) is not supported in the store",
                         hint="have the recipe write one platform's image")
    return _digests(manifest.get("layers") or [])


def _children(manifest: Json) -> list[str]:
    """The blobs a manifest references: its config, then its layers."""
    config = manifest.get("config")
    return (_digests([config]) if config is not None else []) + _layers(manifest)


def _parse(body: bytes, what: str) -> Json:
    try:
        manifest = json.loads(body)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        raise StoreError(f"{what} is not an OCI manifest")
    return manifest


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _created(entry: Json) -> float:
    try:
        return datetime.fromisoformat(entry["annotations"][CREATED]).timestamp()
    except (KeyError, TypeError, ValueError):
        return 0.0


class Store(LayoutDir):
    """One deploy root's artifact store; safe to share between processes and threads."""

    @classmethod
    def of_root(cls, root: Path) -> Store:
        return cls(root / ".ottodeploy" / "store")

    # -- putting -----------------------------------------------------------------------------

    def put_outputs(self, key: str, checkout: Path, paths: Iterable[str | Path], *,
                    component: str, artifact: str) -> str:
        """Pack ``paths`` of ``checkout`` as an artifact indexed by ``key``; its digest."""
        tmp = self._temp_file()
        try:
            with tmp.open("wb") as out:
                layer = pack(checkout, paths, out)
            manifest = canonical({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
                "config": {"mediaType": EMPTY_CONFIG, "digest": digest_of(EMPTY),
                           "size": len(EMPTY)},
                "layers": [{"mediaType": OUTPUTS_LAYER, "digest": layer.digest,
                            "size": layer.size}],
                # no key here: the digest names the bytes, so a rebuild under another key
                # that makes the same bytes has the same digest (the index maps keys to it)
                "annotations": {COMPONENT: component, ARTIFACT: artifact},
            })
            with self._index() as index:
                self._place(tmp, layer.digest)
                self._write_blob(EMPTY)
                self._write_blob(manifest)
                self._set_entry(index, key, manifest,
                                {COMPONENT: component, ARTIFACT: artifact})
        finally:
            tmp.unlink(missing_ok=True)
        return digest_of(manifest)

    def put_layout(self, key: str, layout_dir: Path, *, component: str = "",
                   artifact: str = "", tag: str | None = None) -> str:
        """Import the image of the OCI layout ``layout_dir`` (the one named ``tag``, or its
        only one) under ``key``; its manifest digest is unchanged."""
        try:
            index = json.loads((layout_dir / "index.json").read_text())
            named = [d for d in index["manifests"]
                     if tag is None or (d.get("annotations") or {}).get(REF_NAME) == tag]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"{layout_dir} is not an OCI image layout ({exc})") from None
        if len(named) != 1 or not isinstance(named[0], dict):
            raise StoreError(f"{layout_dir}: expected one image{f' tagged {tag}' if tag else ''}"
                             f", found {len(named)}")
        source_tag = (named[0].get("annotations") or {}).get(REF_NAME, "")
        copies: list[tuple[Path, str]] = []
        try:
            digest = str(named[0].get("digest"))
            copies.append((self._copy_in(layout_dir, digest), digest))
            body = copies[0][0].read_bytes()
            for child in _children(_parse(body, f"{layout_dir}'s manifest {digest}")):
                if not (self.blobs / hex_of(child)).is_file():
                    copies.append((self._copy_in(layout_dir, child), child))
            with self._index() as store_index:
                for tmp, blob in copies:
                    self._place(tmp, blob)
                extra = {COMPONENT: component, ARTIFACT: artifact, IMAGE_TAG: source_tag}
                self._set_entry(store_index, key, body, {k: v for k, v in extra.items() if v})
        finally:
            for tmp, _ in copies:
                tmp.unlink(missing_ok=True)
        return digest

    # -- reading -----------------------------------------------------------------------------

    def lookup(self, key: str) -> str | None:
        """The digest stored for build ``key`` when it and all its blobs are here."""
        for entry in reversed(self._entries()):
            if (entry.get("annotations") or {}).get(KEY) == key:
                return str(entry["digest"]) if self.has(entry["digest"]) else None
        return None

    def has(self, digest: str) -> bool:
        """True when the manifest ``digest`` and every blob it references are here."""
        try:
            return all((self.blobs / hex_of(d)).is_file() for d in _children(self.manifest(digest)))
        except StoreError:
            return False

    def manifest(self, digest: str) -> Json:
        data = self._blob_path(digest, verify=True).read_bytes()
        return _parse(data, f"blob {digest} in {self.path}")

    def unpack(self, digest: str) -> Path:
        """The read-only folder holding the artifact's files (an image: its filesystem)."""
        final = self.path / "unpacked" / hex_of(digest)
        if final.is_dir():
            return final
        import tarfile  # here, not on the paths that only ask what the store holds
        import zlib

        with flock(self.path / "locks" / f"{final.name}.lock"):
            if final.is_dir():
                return final
            layers = _layers(self.manifest(digest))
            work = Path(tempfile.mkdtemp(prefix=f"unpack-{final.name[:12]}-", dir=self._tmp()))
            try:
                for layer in layers:
                    with self._blob_path(layer, verify=True).open("rb") as blob:
                        apply_layer(blob, work)
                make_read_only(work)
                final.parent.mkdir(exist_ok=True)
                work.rename(final)
            except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
                remove_tree(work)
                if final.is_dir():
                    return final  # another process finished first (no lock on its file system)
                raise StoreError(f"cannot unpack {digest} from {self.path}: {exc}") from None
            except BaseException:
                remove_tree(work)
                raise
        return final

    # -- garbage -----------------------------------------------------------------------------

    def gc(self, keep: set[str], *, younger_than_days: float = 7) -> list[tuple[str, int]]:
        """Remove what ``keep`` (digests or keys) does not reach and is older than N days."""
        cutoff = time.time() - younger_than_days * _DAY
        freed: dict[str, int] = {}
        with self._index() as index:
            roots = {k for k in keep if k.startswith("sha256:")}
            for entry in index["manifests"]:
                if (entry.get("annotations") or {}).get(KEY) in keep or _created(entry) >= cutoff:
                    roots.add(entry["digest"])
            live = self._reachable(roots)
            index["manifests"] = [e for e in index["manifests"] if e["digest"] in live]
            for blob in sorted(self.blobs.iterdir()) if self.blobs.is_dir() else []:
                st = blob.lstat()
                if f"sha256:{blob.name}" not in live and st.st_mtime < cutoff:
                    blob.unlink()
                    freed[f"sha256:{blob.name}"] = st.st_size
            unpacked = self.path / "unpacked"
            for folder in sorted(unpacked.iterdir()) if unpacked.is_dir() else []:
                digest = f"sha256:{folder.name}"
                if digest not in live:
                    freed[digest] = freed.get(digest, 0) + remove_tree(folder)
                    (self.path / "locks" / f"{folder.name}.lock").unlink(missing_ok=True)
            for leftover in self._tmp().iterdir():
                if leftover.lstat().st_mtime < cutoff:
                    remove_tree(leftover) if leftover.is_dir() else leftover.unlink()
        return sorted(freed.items())

    def _reachable(self, roots: set[str]) -> set[str]:
        live = set(roots)
        for digest in roots:
            try:
                live.update(_children(self.manifest(digest)))
            except StoreError:
                continue  # missing or corrupt: nothing of it to keep
        return live

    # -- the remote store --------------------------------------------------------------------

    def push(self, key: str, digest: str, client: RegistryClient, ref: ImageRef | str) -> str:
        """Upload the artifact ``digest`` (blobs, then manifest) to ``ref`` (tag defaults to
        ``bk-<key16>``); returns the digest the registry stored."""
        from .core.imageref import parse_image_ref

        target = parse_image_ref(ref) if isinstance(ref, str) else ref
        target = target if target.tag else target.with_tag(cache_tag(key))
        body = self._blob_path(digest, verify=True).read_bytes()
        manifest = self.manifest(digest)
        stored_for = (manifest.get("annotations") or {}).get(KEY)
        if stored_for not in (None, key):
            raise StoreError(f"{digest} was stored for build key {stored_for}, not {key}")
        for child in _children(manifest):
            client.push_blob_file(target, self._blob_path(child), child)
        return client.put_manifest(target, body, str(manifest.get("mediaType") or OCI_MANIFEST))

    def pull(self, client: RegistryClient, ref: ImageRef | str, *,
             key: str | None = None) -> str | None:
        """Fetch the artifact ``ref`` names into the store; its digest, or None when the
        registry does not have it (or has it for another key). ``RegistryError`` when the
        registry cannot be reached."""
        from .core.imageref import parse_image_ref

        target = parse_image_ref(ref) if isinstance(ref, str) else ref
        found = client.fetch_manifest(target)
        if found is None:
            return None
        body, digest = found.body, digest_of(found.body)
        manifest = _parse(body, f"the manifest of {target}")
        children = _children(manifest)
        annotations = manifest.get("annotations")
        annotations = dict(annotations) if isinstance(annotations, dict) else {}
        stored_for = annotations.get(KEY)
        if key is not None and stored_for not in (None, key):
            log.warning("%s holds build key %s, not %s: not used", target, stored_for, key)
            return None
        key = key or stored_for
        fetched: list[tuple[Path, str]] = []
        try:
            for child in children:
                if not (self.blobs / hex_of(child)).is_file():
                    tmp = self._temp_file()
                    fetched.append((tmp, child))
                    client.get_blob(target, child, tmp)
            with self._index() as index:
                for tmp, blob in fetched:
                    self._place(tmp, blob)
                self._write_blob(body)
                if key:
                    extra = {k: annotations[k] for k in (COMPONENT, ARTIFACT) if k in annotations}
                    self._set_entry(index, key, body, extra)
        finally:
            for tmp, _ in fetched:
                tmp.unlink(missing_ok=True)
        return digest


    def _set_entry(self, index: Json, key: str, body: bytes, extra: dict[str, str]) -> None:
        manifest = json.loads(body)
        entry: Json = {"mediaType": manifest.get("mediaType", OCI_MANIFEST),
                       "digest": digest_of(body), "size": len(body)}
        if manifest.get("artifactType"):
            entry["artifactType"] = manifest["artifactType"]
        entry["annotations"] = {REF_NAME: cache_tag(key), KEY: key, CREATED: _now(), **extra}
        index["manifests"] = [e for e in index["manifests"]
                              if (e.get("annotations") or {}).get(KEY) != key] + [entry]


def image_digest(client: RegistryClient, image_ref: str) -> str | None:
    """An image artifact's identity: the manifest digest its registry has for ``image_ref``."""
    from .core.imageref import parse_image_ref

    return client.manifest_digest(parse_image_ref(image_ref))
