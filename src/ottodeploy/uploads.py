"""Uploads to a registry that run behind a build: queued per task, waited for at its end.

A task's upload to the remote store (or of an image's ``bk-`` tag) is not something the
tasks below it need: they take its output from the local store. So a run that waits for
its uploads at the end (``engine.run``, in doit's ``complete_run``) lets them run in the
background, and a downstream task starts as soon as its upstream is built. Where there is
no such end to wait at (the ``doit`` door: a wave job must have pushed before it exits),
an upload runs in line, as before.

What fails an upload is what failed it in line: only a registry that acknowledged other
bytes than their digest (``build._guarded`` raises); an unreachable one is a warning.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .core.errors import OttodeployError


class Uploads:
    """The uploads of one build: in line, or (``background``) behind it until ``finish``."""

    def __init__(self, background: bool = False) -> None:
        self.background = background
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Future[object]]] = []
        self._pool: ThreadPoolExecutor | None = None

    def add(self, task: str, call: Callable[[], object]) -> None:
        """``call`` (an upload for ``task``) now, or in the background."""
        if not self.background:
            call()
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="upload")
            self._pending.append((task, self._pool.submit(call)))

    def finish(self) -> list[tuple[str, str]]:
        """Wait for the background uploads; the tasks whose upload failed, and why."""
        with self._lock:
            pending, self._pending = self._pending, []
        failed = []
        for task, future in pending:
            try:
                future.result()
            except OttodeployError as exc:
                failed.append((task, str(exc)))
        return failed
