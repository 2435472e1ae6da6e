"""Writing files so that a crash leaves the old file or the new one, never half of either.

The text goes to a temporary file in the same folder, is flushed and fsynced,
and is renamed over the target (``os.replace`` is atomic on POSIX). A cache, which the
next run makes again when it is lost, is written with ``durable=False``: still renamed
into place whole, but not fsynced (a flush to the disk costs more than a no-op build's
work; after a crash its reader may find it empty or old, and makes it again).
``create_exclusive`` instead refuses to replace anything: it links the
finished temporary file to the target name, which fails when the name exists.
A replaced file keeps its permission bits; a new one gets what ``open`` would give it
(``0o666`` less the umask), not the temporary file's private ``0o600``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_UMASK = os.umask(0o022)   # read once, at import: os.umask can only be read by setting it
os.umask(_UMASK)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _write_temp(path: Path, data: str, *, durable: bool = True) -> Path:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), _mode_for(path))
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    return Path(tmp)


def write_text(path: Path, data: str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (and, when ``durable``, on disk)."""
    tmp = _write_temp(path, data, durable=durable)
    tmp.replace(path)


def create_exclusive(path: Path, data: str) -> bool:
    """Create ``path`` holding ``data`` unless it exists; True when this call created it."""
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True
