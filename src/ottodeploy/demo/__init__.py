"""The embedded demo's sandbox: seven local repos, a deploy root, local processes.

``sandbox`` creates the repos and the deploy root, ``repos`` holds their
files, ``daemon`` starts and stops the demo's background processes. The story
told on it (``inv demo``) is ``cli.demo``.
"""

from __future__ import annotations

from pathlib import Path


def base_dir(project: Path) -> Path:
    return project / ".ottodeploy" / "demo"


def project_of(root: Path) -> Path:
    """The folder whose ``.ottodeploy/demo/`` the demo uses, given a deploy root.

    The sandbox's deploy root is a full deploy root with its own doors, so ``inv demo``
    run inside it is about the project holding the sandbox, not a sandbox in a sandbox.
    """
    resolved = root.resolve()
    if resolved.name == "deploy" and base_dir(resolved.parents[2]) == resolved.parent:
        return resolved.parents[2]
    return resolved


def stop(project: Path) -> list[str]:
    """Stop every process a kept demo left running; names as ``<environment>/<process>``."""
    from . import daemon
    from .sandbox import Sandbox

    sandbox = Sandbox(base_dir(project))
    return [f"{run_dir.name}/{name}" for run_dir in sandbox.run_dirs()
            for name in daemon.stop_all(run_dir)]


def addresses(project: Path) -> list[tuple[str, str, str]]:
    """(environment, service, URL) of every port a kept demo serves, from ``ports/<env>.env``."""
    from .sandbox import Sandbox

    out = []
    for env_file in sorted((Sandbox(base_dir(project)).root / "ports").glob("*.env")):
        for line in env_file.read_text().splitlines():
            name, _, port = line.partition("=")
            if port.strip().isdigit():
                service = name.removesuffix("_PORT").lower().replace("_", "-")
                out.append((env_file.stem, service, f"http://127.0.0.1:{port.strip()}/"))
    return out
