"""The command layer: the invoke tasks (``cli.tasks``), the doit door (``cli.dodo``).

It renders what the flows return (``cli.render``), picks the reporter for
their progress (``cli.console``), and is the one place where an error becomes
an exit status: ``guarded`` (invoke tasks) and ``cli.dodo`` (doit) turn an
``OttodeployError`` into its code and a one-paragraph message on stderr (and a
signal into ``Interrupted``'s one line, exit 130 or 143). Below
it nothing exits and nothing prints a traceback for bad input.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ..core.errors import Interrupted, OttodeployError
from ..redact import redact

P = ParamSpec("P")
R = TypeVar("R")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(f"ottodeploy: {record.levelname.lower()}: {record.getMessage()}")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each message (not at setup)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _Once(logging.Filter):
    """A message logged with ``extra={"once": True}`` is said once per command (several
    readers of one command may come upon the same broken lockfile)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "once", False):
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def setup_logging() -> None:
    """Warnings (or ``OTTODEPLOY_LOG``'s level) of the ``ottodeploy`` loggers to stderr.

    Called once per command; a message marked ``once`` is said once per command.
    """
    logger = logging.getLogger("ottodeploy")
    if logger.handlers:
        for handler in logger.handlers:
            for once in handler.filters:
                if isinstance(once, _Once):
                    once.seen.clear()
        return
    handler = _Stderr()
    handler.setFormatter(_Formatter())
    handler.addFilter(_Once())
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("OTTODEPLOY_LOG", "WARNING").upper())
    logger.propagate = False


def fail_message(exc: OttodeployError) -> str:
    return redact(f"ottodeploy: error: {exc}")


def guarded(fn: Callable[P, R], name: str | None = None) -> Callable[P, R]:
    """Run command ``name`` (default: ``fn``'s); an ``OttodeployError`` leaves through
    ``invoke.Exit`` with its code.

    The command runs ``interrupts.stoppable``: SIGINT or SIGTERM end it as ``Interrupted``,
    one line and exit 130 or 143, with nothing it started left running.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from invoke.exceptions import Exit

        from ..interrupts import stoppable

        setup_logging()
        try:
            with stoppable(name or fn.__name__.rstrip("_").replace("_", "-")):
                return fn(*args, **kwargs)
        except OttodeployError as exc:
            raise Exit(fail_message(exc), code=exc.exit_code) from None
        except Interrupted as stop:  # SIGINT/SIGTERM: one line, no traceback
            raise Exit(redact(f"ottodeploy: {stop}"), code=stop.exit_code) from None

    return wrapper


def json_text(data: Any) -> str:
    """A result as the commands print it with ``--json`` (or write it with ``--out``)."""
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data))
    sys.stdout.flush()


def say(text: str = "") -> None:
    """A line for the person at the terminal (stdout), flushed so progress shows."""
    sys.stdout.write(redact(text) + "\n")
    sys.stdout.flush()
