"""The two reporters: lines for a person, JSON lines for an agent.

``ConsoleReporter`` renders each event of ``reporting`` as the line a person
reads on stdout (errors on stderr), redacted and flushed at once so progress
shows as it happens; a lock keeps lines of parallel tasks whole.
``JsonLinesReporter`` (``--events``) writes each event as one JSON object on
stdout, with ``event`` (the kind) and ``at`` (UTC, seconds) beside the
event's own fields; nothing else goes to stdout then.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from ..redact import redact, secret_values


class ConsoleReporter:
    """Events as the lines ``inv`` has always printed (all on stderr with ``to_stderr``,
    for a command whose stdout carries a JSON document)."""

    def __init__(self, *, to_stderr: bool = False) -> None:
        self._lock = threading.Lock()
        self._secrets = secret_values()  # read once per command, not once per line
        self._to_stderr = to_stderr

    def _out(self, text: str, *, err: bool = False) -> None:
        stream = sys.stderr if err or self._to_stderr else sys.stdout
        with self._lock:
            stream.write(redact(text, secrets=self._secrets) + "\n")
            stream.flush()

    def emit(self, kind: str, /, **f: Any) -> None:
        line = render_event(kind, f)
        if line is not None:
            self._out(line, err=kind == "error")


def render_event(kind: str, f: dict[str, Any]) -> str | None:
    """The console line of one event, or None for events a person need not see."""
    if kind in ("note",):
        return str(f["text"])
    if kind == "warning":
        return f"warning: {f['text']}"
    if kind == "error":
        where = f"\n  (task {f['task']})" if f.get("task") and not str(f["text"]).startswith(
            ("task ", str(f["task"]))) else ""
        return f"ottodeploy: error: {f['text']}{where}"
    if kind == "stage":
        detail = f.get("detail") or ""
        if f.get("state") == "dry-run":
            return f"== {f['stage']} (dry run)" + (f": {detail}" if detail else "")
        if f.get("state", "started") != "started":
            return None
        return f"== {f['stage']}" + (f" {detail}" if detail else "")
    if kind == "output":
        return f"  {f['source']} | {f['line']}"
    if kind == "task":
        return _task_line(f)
    if kind == "summary":
        return str(f["text"])
    if kind == "step":
        state = f.get("state")
        if state == "started" and f.get("host") is None:
            return f"-> {f['component']} on this machine (once)"
        if state == "started":
            return f"-> {f['component']} on {f['host']} ({f['address']})"
        if state == "failed":
            return f"   FAILED: {f.get('message', '')}"
        if state == "unchanged":
            return f"-- {f['component']}: unchanged (the deploy fingerprint is as deployed)"
        return None
    if kind == "check":
        state = f.get("state")
        if state == "waiting":
            return f"   ...  {f['name']}: {f.get('message', '')}"
        ok = state == "passed"
        return (f"   {'ok  ' if ok else 'FAIL'} {f['name']}: {f['url']}"
                + ("" if ok else f" ({f.get('message', '')})"))
    if kind == "lockfile":
        return f"== lockfile {f['path']} ({f['status']})"
    if kind == "decision":
        return f"{f['environment']}: {f['action']} - {f['reason']}"
    return None


def _task_line(f: dict[str, Any]) -> str | None:
    state = f["state"]
    step = f"[{f['index']}/{f['total']}] " if f.get("index") else ""
    if state == "started":
        return f"-> {f['task']}: {f.get('doc', '')}"
    if state == "up-to-date":
        return f"{step}{f['task']}: up to date"
    if state == "failed":
        return f"{step}{f['task']}: FAILED"
    if state == "ignored":
        return f"{step}{f['task']}: ignored"
    took = f" in {f['seconds']:.2f}s" if f.get("seconds") is not None else ""
    return f"{step}{f['task']}: {state}{took}"


class JsonLinesReporter:
    """``--events``: one JSON object per line on stdout, as things happen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets = secret_values()

    def emit(self, kind: str, /, **f: Any) -> None:
        record = {"event": kind, "at": round(time.time(), 3), **f}
        text = redact(json.dumps(record, sort_keys=False, default=str), secrets=self._secrets)
        with self._lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
