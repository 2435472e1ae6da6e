"""Small OCI images: built in memory, written as an image layout or pushed to a registry.

One layer holds the given files (a reproducible tar: fixed mtimes and owners,
sorted names, parents as directories, gzip without a timestamp), so the same
files always give the same digests, in a layout (``oci-layout``,
``index.json``, ``blobs/``) and when ``registry.RegistryClient.push_image``
pushes them. The config carries ``rootfs.diff_ids`` and optional runtime
settings; in a layout the manifest is named by the
``org.opencontainers.image.ref.name`` annotation. The demo's recipes use
``python -m ottodeploy.ocilayout OUT_DIR TAG SRC_DIR``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Image(NamedTuple):
    """A one-layer OCI image: its blobs (config, layer) and the manifest naming them."""

    blobs: list[tuple[str, bytes]]   # (media type, content)
    manifest: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _tar(files: Mapping[str, bytes]) -> bytes:
    """A deterministic tar of ``files`` (parents as directories, mtime 0, root-owned)."""
    clean = {name.strip("/"): data for name, data in files.items()}
    if any(not path or ".." in path.split("/") for path in clean):
        raise ValueError(f"invalid file names in image: {sorted(files)}")
    dirs = {"/".join(p.split("/")[:i]) for p in clean for i in range(1, p.count("/") + 1)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(dirs | clean.keys()):  # a parent sorts before its children
            info = tarfile.TarInfo(path)
            if path in clean:
                info.size = len(clean[path])
                info.mode = 0o755 if path.endswith((".py", ".sh")) else 0o644
                tar.addfile(info, io.BytesIO(clean[path]))
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
    return buf.getvalue()


def build_image(files: Mapping[str, bytes], config: Mapping[str, Any] | None = None) -> Image:
    """The image holding ``files``; ``config`` is its runtime config (Env, Cmd, Labels)."""
    layer_tar = _tar(files)
    layer = gzip.compress(layer_tar, mtime=0)
    config_blob = canonical({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": dict(config or {}),
        "rootfs": {"type": "layers", "diff_ids": [digest_of(layer_tar)]},
    })
    manifest = canonical({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config_blob),
                   "size": len(config_blob)},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(layer), "size": len(layer)}],
    })
    return Image([(OCI_CONFIG, config_blob), (OCI_LAYER, layer)], manifest)


def write_layout(out: Path, files: Mapping[str, bytes], *, tag: str,
                 config: Mapping[str, Any] | None = None) -> str:
    """Write an image holding ``files`` into the layout ``out``; returns the manifest digest."""
    image = build_image(files, config)
    for _, blob in [*image.blobs, ("", image.manifest)]:
        path = out / "blobs" / "sha256" / digest_of(blob).removeprefix("sha256:")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    (out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (out / "index.json").write_text(json.dumps(index, indent=2))
    return image.digest


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: python -m ottodeploy.ocilayout OUT_DIR TAG SRC_DIR\n")
        return 2
    out, tag, src = Path(argv[0]), argv[1], Path(argv[2])
    files = {str(p.relative_to(src)): p.read_bytes() for p in sorted(src.rglob("*"))
             if p.is_file()}
    digest = write_layout(out, files, tag=tag)
    sys.stdout.write(f"{tag} {digest}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
