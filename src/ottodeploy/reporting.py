"""Progress as events: one interface for the person at the terminal and for agents.

A flow never prints. It tells a ``Reporter`` what happens, as events: a kind
and a few plain JSON values (SPEC §5a's ``--events`` stream, documented in the
README and ``schema/events.schema.json``). The command layer picks the
reporter: ``cli.console.ConsoleReporter`` renders each event as the line a
person reads, ``cli.console.JsonLinesReporter`` writes each as one JSON object
per line, as doit's console and JSON reporters share one interface.

The kinds and their fields (``core.events`` holds them as models, from which
``inv schema`` writes ``schema/events.schema.json``; ``--events`` adds ``event``,
the kind, and ``at``, the time):

- ``stage``: ``stage``, ``state`` (started | finished | failed | skipped |
  dry-run), ``detail``
- ``note``: ``text``, a line of narration
- ``warning``: ``text``
- ``error``: ``text``, ``task`` (why a task or the build failed); ``exit`` on the
  last line of a command that fails
- ``task``: ``task``, ``state`` (started | built | reused | retagged | pulled |
  verified | released | done | up-to-date | failed | ignored), ``index``,
  ``total``, ``seconds``, ``doc``, ``message``; each task of a build gets
  exactly one event whose state is not ``started``
- ``output``: ``source`` (a task, ``component@host``, a component, ``e2e``), ``line``
- ``step``: ``component``, ``host``, ``address``, ``state`` (started | ok |
  failed | unchanged), ``message``
- ``check``: ``name``, ``url``, ``state`` (waiting | passed | failed), ``message``,
  ``attempts``
- ``lockfile``: ``path``, ``status`` (healthy | failed)
- ``summary``: ``text``, ``counts``, ``failed``, ``not_run``, ``seconds``, at the
  end of a build
- ``decision``: ``environment``, ``action`` (up-to-date | deploy | skipped | busy),
  ``reason``, ``lockfile`` — what ``inv auto-deploy`` does with an environment (a deploy
  that finds the environment locked is followed by a second one saying ``busy``)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol


class Reporter(Protocol):
    def emit(self, kind: str, /, **fields: Any) -> None:
        """Report one event; must be safe to call from several threads at once."""


class Silent:
    """Reports nothing (library calls that want no progress)."""

    def emit(self, kind: str, /, **fields: Any) -> None:
        pass


class Collected:
    """Keeps every event, in order (tests and the demo's summaries read them)."""

    def __init__(self, forward: Reporter | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._forward = forward

    def emit(self, kind: str, /, **fields: Any) -> None:
        with self._lock:
            self.events.append((kind, fields))
        if self._forward is not None:
            self._forward.emit(kind, **fields)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for k, f in self.events if k == kind]


def note(reporter: Reporter, text: str) -> None:
    reporter.emit("note", text=text)


def warn(reporter: Reporter, text: str) -> None:
    reporter.emit("warning", text=text)


def stage(reporter: Reporter, name: str, detail: str = "", state: str = "started") -> None:
    reporter.emit("stage", stage=name, state=state, detail=detail)


def output_to(reporter: Reporter, source: str) -> Callable[[str], None]:
    """A line callback for a process's output, reported as ``output`` events of ``source``."""
    return lambda line: reporter.emit("output", source=source, line=line)
