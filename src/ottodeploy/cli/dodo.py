"""The doit door: what ``dodo.py`` exports, and where doit's load errors become exit codes.

``doit`` imports ``dodo.py``, which asks here for its namespace: the
environment named by ``env=`` (default ``scratch``) is opened once and its
tasks handed to doit with a console reporter. An ``OttodeployError`` while
loading exits with its code and one message, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..core.errors import OttodeployError, UsageError
from ..root import DeployRoot

DEFAULT_ENV = "scratch"


def default_env(root: DeployRoot, env: str | None) -> str:
    if env:
        return env
    if root.env_file(DEFAULT_ENV).is_file():
        return DEFAULT_ENV
    raise UsageError("no environment given and this deploy root has no 'scratch' environment",
                     hint="pass env=NAME")


def dodo_namespace(default_root: Path) -> dict[str, Any]:
    """What ``dodo.py`` exports: ``DOIT_CONFIG`` and the environment's tasks."""
    from doit import get_var

    from .. import engine
    from ..environment import open_environment
    from . import fail_message, setup_logging
    from .console import ConsoleReporter

    setup_logging()
    try:
        root = DeployRoot.locate(default_root)
        opened = open_environment(root, default_env(root, get_var("env") or ""))
    except OttodeployError as exc:
        sys.stderr.write(fail_message(exc) + "\n")
        raise SystemExit(exc.exit_code) from None
    return engine.namespace(engine.BuildRun(opened, ConsoleReporter(), lock_on_first_action=True))
