"""The deploy root: the folder holding ``manifests/`` and ``lockfiles/`` (SPEC §2).

Where a command finds it (SPEC §2, §5a), first match wins:

1. ``--root PATH`` (``ottodeploy``'s own flag), which must hold ``manifests/environments/``;
2. ``OTTODEPLOY_ROOT``;
3. the nearest folder holding ``manifests/environments/``, walking up from where the
   command was started (so ``inv`` or ``ottodeploy`` inside the demo sandbox, or in any
   subfolder of a deploy repo, works on that root);
4. the folder of the door that was used (``dodo.py`` and ``tasks/``): ``inv -r`` or
   ``doit -f`` from outside any deploy root still find their own repo.

Nothing found is bad input naming where the search started. Every path the tool uses is
derived here as an absolute path, so nothing depends on the process's working directory.
This module is on the no-op build path and imports nothing heavy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from .core.errors import UsageError

_ENV_NAME = re.compile(r"[a-z][a-z0-9-]*")
MARKER = Path("manifests") / "environments"


class DeployRoot(NamedTuple):
    """The folder holding ``manifests/`` and ``lockfiles/``; all state lives under it."""

    path: Path

    @classmethod
    def locate(cls, default: Path | None, *, explicit: Path | None = None,
               search_from: Path | None = None) -> DeployRoot:
        """The root by the module docstring's order.

        ``explicit`` is ``--root``; the upward search runs only when ``search_from`` is
        given (the command line's working directory); ``default`` is the door's folder.
        """
        if explicit is not None:
            path = explicit.expanduser().resolve()
            if not (path / MARKER).is_dir():
                raise UsageError(f"--root {explicit}: {path / MARKER} is not a folder",
                                 hint="give the folder holding manifests/ and lockfiles/")
            return cls(path)
        env = os.environ.get("OTTODEPLOY_ROOT")
        if env:
            return cls(Path(env).expanduser().resolve())
        if search_from is not None:
            found = enclosing_root(search_from)
            if found is not None:
                return cls(found)
        if default is not None:
            return cls(default.resolve())
        raise UsageError(
            f"not inside a deploy root: no folder from {search_from or Path.cwd()} up holds "
            f"{MARKER}/",
            hint="run it inside a deploy repo, or pass --root PATH (or set OTTODEPLOY_ROOT)")

    @property
    def manifests(self) -> Path:
        return self.path / "manifests"

    @property
    def components_file(self) -> Path:
        return self.manifests / "components.yaml"

    @property
    def compatibility_file(self) -> Path:
        return self.manifests / "compatibility.yaml"

    @property
    def hosts_file(self) -> Path:
        return self.manifests / "hosts.yaml"

    @property
    def lockfiles(self) -> Path:
        return self.path / "lockfiles"

    @property
    def state(self) -> Path:
        return self.path / ".ottodeploy"

    @property
    def cache(self) -> Path:
        return self.state / "cache"

    def env_state(self, env: str) -> Path:
        return self.state / check_env_name(env)

    def env_file(self, env: str) -> Path:
        return self.manifests / "environments" / f"{check_env_name(env)}.yaml"

    def environment(self, name: str) -> str:
        """``name`` when it names an environment of this root, else bad input listing them.

        Every command that takes an environment checks it here, once (SPEC §5a).
        """
        known = self.environments()
        hint = f"environments here: {', '.join(known) or 'none'}"
        if not _ENV_NAME.fullmatch(name or ""):
            raise UsageError(f"environment {name!r} is not a valid name", hint=hint)
        if not self.env_file(name).is_file():
            raise UsageError(f"unknown environment {name!r}: "
                             f"{self.display(self.env_file(name))} does not exist", hint=hint)
        return name

    def environments(self) -> list[str]:
        folder = self.manifests / "environments"
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.yaml") if _ENV_NAME.fullmatch(p.stem))

    def display(self, path: Path) -> str:
        """How a file is named in messages: relative to the root when inside it."""
        try:
            return str(path.resolve().relative_to(self.path))
        except ValueError:
            return str(path)


def enclosing_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` up that holds ``manifests/environments/``."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_dir():
            return folder
    return None


def check_env_name(env: str) -> str:
    if not _ENV_NAME.fullmatch(env or ""):
        raise UsageError(f"environment {env!r} is not a valid name",
                         hint="names are lowercase letters, digits and '-', starting with a letter")
    return env
