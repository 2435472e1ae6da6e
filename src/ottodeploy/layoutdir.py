"""An OCI image layout on disk, shared by processes and threads: verified blobs, a locked index.

``blobs/sha256/<hex>`` are written to a temporary file under ``tmp/`` (same file system),
fsynced, made read-only and renamed into place; ``index.json`` is rewritten atomically,
only under an exclusive ``flock`` on ``index.lock``, so concurrent writers never lose an
entry; readers read it without the lock. Whoever deletes blobs takes the same lock, and
blobs are renamed into place under it too, so a blob never vanishes under a fresh entry.

A blob read with ``verify`` is hashed against its name; a mismatch moves it to
``corrupt/``, warns (logger ``ottodeploy.store``) and raises ``StoreError``, so it is
simply missing afterwards. An ``index.json`` that is not an OCI index is moved aside with
a warning and the index starts empty (SPEC §6a: broken state never blocks anything).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import atomicfile
from .core.errors import StoreError
from .ocilayout import canonical, digest_of

log = logging.getLogger("ottodeploy.store")

_HEX = re.compile(r"[0-9a-f]{64}")

Json = dict[str, Any]


def hex_of(digest: object) -> str:
    algorithm, _, hexpart = str(digest).partition(":")
    if algorithm != "sha256" or not _HEX.fullmatch(hexpart):
        raise StoreError(f"not a sha256 digest: {digest!r}")
    return hexpart


@contextlib.contextmanager
def flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock



def _valid_index(data: object) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("manifests"), list):
        return False
    return all(isinstance(e, dict) and isinstance(e.get("digest"), str)
               and _HEX.fullmatch(e["digest"].removeprefix("sha256:")) for e in data["manifests"])


def make_read_only(root: Path) -> None:
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o555 if path.lstat().st_mode & 0o111 else 0o444)
        Path(folder).chmod(0o555)


def remove_tree(root: Path) -> int:
    """Remove ``root`` (read-only folders included); returns the bytes it held."""
    if not root.exists() and not root.is_symlink():
        return 0
    size = 0
    for folder, _dirs, files in os.walk(root):
        Path(folder).chmod(0o755)
        size += sum(Path(folder, name).lstat().st_size for name in files)
    shutil.rmtree(root)
    return size


class LayoutDir:
    """An OCI image layout at ``path`` (created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.blobs = path / "blobs" / "sha256"
        self.index_path = path / "index.json"

    def _tmp(self) -> Path:
        folder = self.path / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _temp_file(self) -> Path:
        fd, name = tempfile.mkstemp(prefix="blob-", dir=self._tmp())
        os.close(fd)
        return Path(name)

    def _blob_path(self, digest: str, *, verify: bool = False) -> Path:
        path = self.blobs / hex_of(digest)
        if not path.is_file():
            raise StoreError(f"blob {digest} is not in the store {self.path}",
                             hint="build the artifact again, or pull it from the registry")
        if verify:
            hasher = hashlib.sha256()
            with path.open("rb") as blob:
                while chunk := blob.read(1 << 20):
                    hasher.update(chunk)
            if f"sha256:{hasher.hexdigest()}" != digest:
                aside = self.path / "corrupt" / f"{path.name}.{time.time_ns()}"
                aside.parent.mkdir(exist_ok=True)
                path.replace(aside)
                log.warning("store blob %s is corrupt (its bytes hash to sha256:%s); moved it "
                            "to %s", digest, hasher.hexdigest(), aside)
                raise StoreError(f"blob {digest} in the store was corrupt; moved to {aside}",
                                 hint="the next build or pull stores it again")
        return path

    def _copy_in(self, layout_dir: Path, digest: str) -> Path:
        """A temporary copy of a layout's blob, hashed on the way; StoreError on mismatch."""
        source = layout_dir / "blobs" / "sha256" / hex_of(digest)
        tmp, hasher = self._temp_file(), hashlib.sha256()
        try:
            with source.open("rb") as src, tmp.open("wb") as out:
                while chunk := src.read(1 << 20):
                    hasher.update(chunk)
                    out.write(chunk)
        except OSError as exc:
            tmp.unlink()
            raise StoreError(f"{layout_dir}: cannot read blob {digest} ({exc})") from None
        if f"sha256:{hasher.hexdigest()}" != digest:
            tmp.unlink()
            raise StoreError(f"{layout_dir}: blob {digest} holds other bytes "
                             f"(sha256:{hasher.hexdigest()})")
        return tmp

    def _place(self, tmp: Path, digest: str) -> None:
        """Rename a finished, verified temporary file to its blob name (under the lock)."""
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(0o444)
        tmp.replace(self.blobs / hex_of(digest))

    def _write_blob(self, data: bytes) -> None:
        path = self.blobs / hex_of(digest_of(data))
        if path.is_file() and path.read_bytes() == data:
            path.touch()  # a fresh mtime: gc keeps what was just used again
            return
        tmp = self._temp_file()
        tmp.write_bytes(data)
        self._place(tmp, digest_of(data))

    def _load(self, *, repair: bool) -> Json | None:
        try:
            data = json.loads(self.index_path.read_text())
        except FileNotFoundError:
            return {"schemaVersion": 2, "manifests": []}
        except (OSError, ValueError) as exc:
            data, problem = None, str(exc)
        else:
            problem = "not an OCI index"
        if _valid_index(data):
            return data  # type: ignore[no-any-return]
        if not repair:
            return None
        aside = self.index_path.with_name(f"index.json.corrupt-{time.time_ns()}")
        self.index_path.replace(aside)
        log.warning("%s is corrupt (%s); moved it to %s and started an empty index",
                    self.index_path, problem, aside)
        return {"schemaVersion": 2, "manifests": []}

    def _entries(self) -> list[Json]:
        data = self._load(repair=False)
        if data is None:
            with self._index() as data:
                pass
        return list(data["manifests"])

    @contextlib.contextmanager
    def _index(self) -> Iterator[Json]:
        """The index, locked; written back atomically when the block changed it."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        if not (self.path / "oci-layout").is_file():
            atomicfile.write_text(self.path / "oci-layout", '{"imageLayoutVersion": "1.0.0"}')
        with flock(self.path / "index.lock"):
            index = self._load(repair=True)
            assert index is not None
            before = canonical(index)
            yield index
            after = canonical(index)  # compact: json's C encoder (indented, it is Python's)
            if after != before:
                atomicfile.write_text(self.index_path, after.decode() + "\n")
