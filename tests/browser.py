"""A real browser for tests: Debian's ``chromium`` headless, and a PNG reader to judge its shots.

``Browser.render`` runs chromium once per page, for its screenshot and its DOM
(``--screenshot`` and ``--dump-dom`` in one run), with a profile of the test's own
(``--user-data-dir``), no network services, no GPU, in a process group of its own
that is killed afterwards (chromium leaves helpers behind).
``require_chromium`` finds it (``chromium``, ``chromium-browser``, ``google-chrome``:
GitHub's runners have the latter) or skips, and fails instead under
``OTTODEPLOY_CI=1`` — ``.ci/run`` installs it. ``Png.read`` decodes a PNG with
nothing but ``zlib`` (all five scanline filters), so a test can count the colours a
page painted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")
WINDOW = (1400, 1000)


def tool_missing(what: str) -> None:
    """Skip the test, or fail it under ``OTTODEPLOY_CI`` (CI must have every tool)."""
    if os.environ.get("OTTODEPLOY_CI"):
        pytest.fail(f"{what} — required when OTTODEPLOY_CI is set (.ci/run installs it)")
    pytest.skip(what)


def require_chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    tool_missing("chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


def require_dot() -> None:
    if shutil.which("dot") is None:
        tool_missing("Graphviz's dot is not installed (apt-get install graphviz)")


@dataclass
class Browser:
    binary: str
    profile: Path

    def _run(self, *args: str, timeout: float = 90) -> str:
        proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self.profile}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            start_new_session=True, env={**os.environ, "HOME": str(self.profile)})
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode == 0, f"chromium exited {proc.returncode}: {err[-2000:]}"
        return out

    def render(self, page: Path, png: Path, window: tuple[int, int] = WINDOW) -> str:
        """Load ``page``, write its screenshot to ``png``; returns the DOM (``--dump-dom``)."""
        dom = self._run(f"--screenshot={png}", "--dump-dom",
                        f"--window-size={window[0]},{window[1]}", page.resolve().as_uri())
        assert png.is_file(), f"chromium wrote no screenshot of {page}"
        return dom


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    @classmethod
    def read(cls, path: Path) -> Png:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        pos, idat, header = 8, [], b""
        while pos < len(data):
            (length,) = struct.unpack(">I", data[pos:pos + 4])
            kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                header = body
            elif kind == b"IDAT":
                idat.append(body)
            pos += 12 + length
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
        channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
        assert depth == 8 and channels and interlace == 0, "8-bit, non-interlaced PNGs only"
        raw = zlib.decompress(b"".join(idat))
        stride = width * channels
        rows: list[bytes] = []
        prev = bytes(stride)
        for y in range(height):
            start = y * (stride + 1)
            kind, line = raw[start], raw[start + 1:start + 1 + stride]
            prev = _unfilter(kind, line, prev, channels)
            rows.append(prev)
        return cls(width, height, channels, rows)

    def colours(self, step: int = 1) -> set[bytes]:
        """The distinct pixel values (every ``step``-th row and column)."""
        c = self.channels
        found: set[bytes] = set()
        for row in self.rows[::step]:
            found.update(row[i:i + c] for i in range(0, len(row), c * step))
        return found


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    if kind == 0:
        return line
    if kind == 2:   # Up
        return bytes((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
    out = bytearray(line)
    n = len(out)
    if kind == 1:   # Sub
        for i in range(bpp, n):
            out[i] = (out[i] + out[i - bpp]) & 0xFF
    elif kind == 3:  # Average
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(n):
            a = out[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[i] = (out[i] + pred) & 0xFF
    else:
        raise AssertionError(f"unknown PNG filter {kind}")
    return bytes(out)
