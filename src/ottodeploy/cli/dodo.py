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

The repos are read (``git ls-remote``, in the background) as soon as the
environment's cascade is known, and the build's modules load while they answer:
on a no-op build that wait is most of the time. What is loaded by then lives until
the process ends, so it is moved out of the garbage collector's sight
(``gc.freeze``): no collection, nor the one at exit, walks it again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
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


def _opened(root: DeployRoot, env: str, meanwhile: Callable[[], None]) -> OpenEnvironment:
    """The environment, resolved now, or from its last resolution when no repo answers;
    ``meanwhile`` runs while the repos are read."""
    import time

    from ..environment import last_resolved, open_environment, resolved
    from ..resolve import start_reading

    cascade = open_environment(root, env, resolve=False)
    reading = start_reading(source.url for source in cascade.static.sources)
    meanwhile()
    try:
        return resolved(cascade, remotes=reading)
    except RepoUnreachable as exc:
        unreachable = exc
    try:
        opened = last_resolved(cascade)
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

    from . import fail_message, setup_logging

    setup_logging()
    try:
        start = get_initial_workdir()
        root = DeployRoot.locate(default_root, search_from=Path(start) if start else None)
        opened = _opened(root, default_env(root, get_var("env") or ""), _load_build)
    except OttodeployError as exc:
        sys.stderr.write(fail_message(exc) + "\n")
        raise SystemExit(exc.exit_code) from None
    import gc

    from .. import engine
    from .console import ConsoleReporter

    namespace = engine.namespace(engine.BuildRun(opened, ConsoleReporter(),
                                                 lock_on_first_action=True))
    gc.freeze()
    return namespace


def _load_build() -> None:
    """Import what the build needs once the environment is open (while the repos answer)."""
    from .. import engine  # noqa: F401
    from . import console  # noqa: F401
