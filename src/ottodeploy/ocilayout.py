"""A small OCI image-layout writer (image-spec v1: ``oci-layout``, ``index.json``, ``blobs/``).

One layer holds the given files (a reproducible tar: fixed mtimes and owners,
sorted names, gzip without a timestamp), so the same files always give the
same digests. The config carries ``rootfs.diff_ids`` and optional runtime
settings; the manifest is referenced from ``index.json`` with the
``org.opencontainers.image.ref.name`` annotation. Used by the demo's recipes:
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
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _tar(files: Mapping[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size = len(files[name])
            info.mode = 0o755 if name.endswith((".py", ".sh")) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    return raw.getvalue()


def _blob(out: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = out / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}"


def write_layout(out: Path, files: Mapping[str, bytes], *, tag: str,
                 config: Mapping[str, Any] | None = None) -> str:
    """Write an image holding ``files`` into the layout ``out``; returns the manifest digest."""
    layer_tar = _tar(files)
    layer = gzip.compress(layer_tar, mtime=0)
    layer_digest = _blob(out, layer)
    image_config = {
        "architecture": "amd64", "os": "linux",
        "config": dict(config or {}),
        "rootfs": {"type": "layers",
                   "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
    }
    config_bytes = json.dumps(image_config, sort_keys=True).encode()
    config_digest = _blob(out, config_bytes)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = _blob(out, manifest_bytes)
    (out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest_bytes),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (out / "index.json").write_text(json.dumps(index, indent=2))
    return manifest_digest


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
