"""Small OCI images: built in memory, written as an image layout or pushed to a registry.

One layer holds the given files (a reproducible tar: fixed mtimes and owners,
sorted names, parents as directories, gzip without a timestamp), so the same
files always give the same digests, in a layout (``oci-layout``,
``index.json``, ``blobs/``) and when ``registry.RegistryClient.push_image``
pushes them. The config carries ``rootfs.diff_ids`` and optional runtime
settings; in a layout the manifest is named by the
``org.opencontainers.image.ref.name`` annotation. The demo's recipes use
``python -m ottodeploy.ocilayout OUT_DIR TAG SRC_DIR``.

``pack`` writes a build's outputs (files and folders of a checkout) as one such
layer, streamed from disk through the same tar writer: every path sorted, parents
as directories, mode 0755 when any exec bit is set else 0644, symlinks kept only
when they point at something packed with them. The gzip header carries no name,
no mtime and a fixed OS byte, so the same files give the same bytes on any
machine, whatever the umask, mtimes, owners or directory order. ``apply_layer``
is the way back: it extracts a layer onto a folder (whiteouts honoured), refusing
names outside the folder and never writing through a symlink.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, Any, NamedTuple, Protocol

from .core.errors import BuildError, StoreError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# tarfile's type flags: tarfile and gzip are imported where a layer is written or read, so
# the store's readers (a no-op build asks whether an artifact is there) never load them
REGTYPE, SYMTYPE, DIRTYPE = b"0", b"2", b"5"


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


class TarEntry(NamedTuple):
    """One member of a layer: a file (bytes, or a file on disk), a directory or a symlink."""

    path: str                         # relative, "/"-separated
    mode: int
    kind: bytes = REGTYPE             # REGTYPE | DIRTYPE | SYMTYPE
    content: bytes | Path = b""
    target: str = ""                  # of a symlink


class Layer(NamedTuple):
    digest: str     # sha256 of the compressed bytes: the blob's name
    size: int
    diff_id: str    # sha256 of the uncompressed tar


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class _Digesting:
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, out: _Writable) -> None:
        self.out, self.size, self._hash = out, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self.out.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def _write_tar(entries: Iterable[TarEntry], out: IO[bytes]) -> None:
    """The one tar writer: mtime 0, uid/gid 0, no user names, files streamed from disk."""
    import tarfile

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT,
                      encoding="utf-8") as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.type, info.mode = entry.kind, entry.mode
            if entry.kind == SYMTYPE:
                info.linkname = entry.target
                tar.addfile(info)
            elif entry.kind != REGTYPE:
                tar.addfile(info)
            elif isinstance(entry.content, Path):
                with entry.content.open("rb") as handle:
                    info.size = os.fstat(handle.fileno()).st_size
                    tar.addfile(info, handle)
            else:
                info.size = len(entry.content)
                tar.addfile(info, io.BytesIO(entry.content))


def _write_layer(entries: Iterable[TarEntry], out: IO[bytes]) -> Layer:
    """Tar then gzip ``entries`` into ``out`` (no name, mtime 0, OS byte 255 in the header)."""
    import gzip

    compressed = _Digesting(out)
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        plain = _Digesting(gz)
        _write_tar(entries, plain)  # type: ignore[arg-type]  # tarfile only writes and tells
    return Layer(compressed.digest, compressed.size, plain.digest)


def _parents(paths: Iterable[str]) -> set[str]:
    return {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}


def _tar(files: Mapping[str, bytes]) -> bytes:
    """A deterministic tar of ``files`` (parents as directories, mtime 0, root-owned)."""
    clean = {name.strip("/"): data for name, data in files.items()}
    if any(not path or ".." in path.split("/") for path in clean):
        raise ValueError(f"invalid file names in image: {sorted(files)}")
    buf = io.BytesIO()
    _write_tar((TarEntry(path, 0o755, DIRTYPE) if path not in clean else
                TarEntry(path, 0o755 if path.endswith((".py", ".sh")) else 0o644,
                         content=clean[path])
                for path in sorted(_parents(clean) | clean.keys())), buf)
    return buf.getvalue()


def build_image(files: Mapping[str, bytes], config: Mapping[str, Any] | None = None) -> Image:
    """The image holding ``files``; ``config`` is its runtime config (Env, Cmd, Labels)."""
    import gzip

    layer_tar = _tar(files)
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(layer_tar)
    layer = compressed.getvalue()
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


# --- a build's outputs as one layer, and a layer back onto a folder ---------------------------


def pack(root: Path, paths: Iterable[str | Path], out: IO[bytes]) -> Layer:
    """Write ``paths`` (files or folders under ``root``) into ``out`` as one gzip'd tar layer.

    Raises ``BuildError`` for a path outside ``root`` or through a symlink, a symlink that
    points at nothing packed, or something that is neither file, folder nor symlink.
    """
    top = Path(os.path.normpath(root.absolute()))
    found: dict[str, TarEntry] = {}
    for given in paths:
        rel = os.path.relpath(os.path.normpath(top / given), top).replace(os.sep, "/")
        if rel in {".", ".."} or rel.startswith("../"):
            raise BuildError(f"output {str(given)!r} is not inside {top}")
        for parent in sorted(_parents([rel])):
            if (top / parent).is_symlink():
                raise BuildError(f"output {rel!r} lies under the symlink {parent!r}",
                                 hint="declare the link itself, or the folder it points to")
        _collect(top, rel, found)
    for parent in _parents(found) - found.keys():
        found[parent] = TarEntry(parent, 0o755, DIRTYPE)
    for entry in found.values():
        if entry.kind == SYMTYPE:
            _check_link(entry, found)
    return _write_layer((found[p] for p in sorted(found)), out)


def _collect(top: Path, rel: str, found: dict[str, TarEntry]) -> None:
    path = top / rel
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise BuildError(f"output {rel!r} does not exist in {top}") from None
    if stat.S_ISLNK(st.st_mode):
        found[rel] = TarEntry(rel, 0o777, SYMTYPE, target=str(path.readlink()))
    elif stat.S_ISREG(st.st_mode):
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        found[rel] = TarEntry(rel, mode, content=path)
    elif stat.S_ISDIR(st.st_mode):
        found[rel] = TarEntry(rel, 0o755, DIRTYPE)
        with os.scandir(path) as children:
            names = [child.name for child in children]
        for name in names:
            _collect(top, f"{rel}/{name}", found)
    else:
        raise BuildError(f"output {rel!r} is neither a file, a folder nor a symlink")


def _check_link(entry: TarEntry, found: Mapping[str, TarEntry]) -> None:
    """A kept symlink must name, relatively, something packed with it (or the top itself)."""
    where = PurePosixPath(entry.path).parent
    target = os.path.normpath(str(where / entry.target)) if entry.target else ".."
    if entry.target.startswith("/") or not (target == "." or target in found):
        raise BuildError(
            f"output symlink {entry.path!r} -> {entry.target!r} points outside the packed "
            "outputs", hint="make it relative to something declared in `outputs`, or copy "
            "the file instead")


def _member_path(name: str) -> PurePosixPath:
    parts = [p for p in PurePosixPath(name).parts if p not in ("/", ".")]
    if not parts or ".." in parts:
        raise StoreError(f"layer member {name!r} is not a relative path inside the layer")
    return PurePosixPath(*parts)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()


def _prepare(dest: Path, rel: PurePosixPath) -> Path:
    """``dest/rel``'s parents as real folders (never a symlink); the path, made free."""
    here = dest
    for part in rel.parts[:-1]:
        here = here / part
        if here.is_symlink():
            raise StoreError(f"layer member {str(rel)!r} would be written through the "
                             f"symlink {str(here.relative_to(dest))!r}")
        if not here.is_dir():
            _remove(here)
            here.mkdir(mode=0o755)
    return here / rel.name


def apply_layer(layer: IO[bytes], dest: Path) -> int:
    """Extract one tar layer (gzip'd or not) onto ``dest``; returns how many entries it made.

    Later layers replace what earlier ones wrote; ``.wh.<name>`` removes ``<name>`` and
    ``.wh..wh..opq`` empties its folder (OCI whiteouts). Devices and fifos are skipped.
    """
    import tarfile

    made = 0
    with tarfile.open(fileobj=layer, mode="r|*") as tar:
        for member in tar:
            rel = _member_path(member.name)
            path = _prepare(dest, rel)
            if rel.name == ".wh..wh..opq":
                for child in list(path.parent.iterdir()):
                    _remove(child)
                continue
            if rel.name.startswith(".wh."):
                _remove(path.parent / rel.name[4:])
                continue
            if not (member.isdir() and path.is_dir() and not path.is_symlink()):
                _remove(path)
            if member.isdir():
                path.mkdir(mode=0o755, exist_ok=True)
            elif member.issym():
                path.symlink_to(member.linkname)
            elif member.islnk():
                source = dest / _member_path(member.linkname)
                _prepare(dest, _member_path(member.linkname))
                os.link(source, path, follow_symlinks=False)
            elif member.isreg():
                mode = 0o755 if member.mode & 0o111 else 0o644
                data = tar.extractfile(member)
                assert data is not None
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                with os.fdopen(fd, "wb") as handle:
                    shutil.copyfileobj(data, handle, 1 << 20)
            else:
                continue
            made += 1
    return made


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
