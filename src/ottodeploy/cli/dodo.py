"""The doit door: what ``dodo.py`` exports, and where doit's load errors become exit codes.

``doit`` imports ``dodo.py``, which asks here for its namespace: the
environment named by ``env=`` (default ``scratch``) is opened once and its
tasks handed to doit with a console reporter. The deploy root is found as
``inv`` finds it (``root``): ``OTTODEPLOY_ROOT``, the nearest deploy root above
the folder doit was started in, the folder of ``dodo.py``. When the repos
cannot be reached, the environment's last stored resolution stands in, with a
warning saying how old it is (``doit list`` works offline); without one, the
one-line error and its hint. An ``OttodeployError`` while loading exits with
its code and one message, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import OttodeployError, RepoUnreachable, ResolveError, UsageError
from ..root import DeployRoot

if TYPE_CHECKING:
    from ..environment import OpenEnvironment

DEFAULT_ENV = "scratch"


def default_env(root: DeployRoot, env: str | None) -> str:
    if env:
        return env
    if root.env_file(DEFAULT_ENV).is_file():
        return DEFAULT_ENV
    raise UsageError("no environment given and this deploy root has no 'scratch' environment",
                     hint="pass env=NAME")


def _opened(root: DeployRoot, env: str) -> OpenEnvironment:
    """The environment, resolved now, or from its last resolution when no repo answers."""
    import time

    from ..environment import open_environment

    try:
        return open_environment(root, env)
    except RepoUnreachable as exc:
        unreachable = exc
    try:
        opened = open_environment(root, env, offline=True)
    except ResolveError:
        raise unreachable from None
    from ..state import LastResolution

    stored = LastResolution(opened.state).load()
    when = stored.when(time.time()) if stored else "?"
    sys.stderr.write(f"ottodeploy: warning: {unreachable.message}\n"
                     f"  offline: using {env}'s last resolution ({when})\n")
    return opened


def dodo_namespace(default_root: Path) -> dict[str, Any]:
    """What ``dodo.py`` exports: ``DOIT_CONFIG`` and the environment's tasks."""
    from doit import get_initial_workdir, get_var

    from .. import engine
    from . import fail_message, setup_logging
    from .console import ConsoleReporter

    setup_logging()
    try:
        start = get_initial_workdir()
        root = DeployRoot.locate(default_root, search_from=Path(start) if start else None)
        opened = _opened(root, default_env(root, get_var("env") or ""))
    except OttodeployError as exc:
        sys.stderr.write(fail_message(exc) + "\n")
        raise SystemExit(exc.exit_code) from None
    return engine.namespace(engine.BuildRun(opened, ConsoleReporter(), lock_on_first_action=True))
