"""The embedded demo's sandbox: seven local repos, a deploy root, local processes.

``sandbox`` creates the repos and the deploy root, ``repos`` holds their
files, ``daemon`` starts and stops the demo's background processes. The story
told on it (``inv demo``) is ``cli.demo``.
"""

from __future__ import annotations

from pathlib import Path


def base_dir(project: Path) -> Path:
    return project / ".ottodeploy" / "demo"


def stop(project: Path) -> list[str]:
    """Stop every process a kept demo left running."""
    from . import daemon
    from .sandbox import Sandbox

    sandbox = Sandbox(base_dir(project))
    return [name for run_dir in sandbox.run_dirs() for name in daemon.stop_all(run_dir)]
