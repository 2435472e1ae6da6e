"""The deploy root: the folder holding ``manifests/`` and ``lockfiles/`` (SPEC §2).

By default it is the folder of ``dodo.py`` and ``tasks/``; ``OTTODEPLOY_ROOT``
overrides it. Every path the tool uses is derived here as an absolute path, so
nothing depends on the process's working directory. This module is on the
no-op build path and imports nothing heavy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from .core.errors import UsageError

_ENV_NAME = re.compile(r"[a-z][a-z0-9-]*")


class DeployRoot(NamedTuple):
    """The folder holding ``manifests/`` and ``lockfiles/``; all state lives under it."""

    path: Path

    @classmethod
    def locate(cls, default: Path) -> DeployRoot:
        """``OTTODEPLOY_ROOT`` when set, else ``default`` (the folder of dodo.py and tasks/)."""
        env = os.environ.get("OTTODEPLOY_ROOT")
        return cls(Path(env).resolve() if env else default.resolve())

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


def check_env_name(env: str) -> str:
    if not _ENV_NAME.fullmatch(env or ""):
        raise UsageError(f"environment {env!r} is not a valid name",
                         hint="names are lowercase letters, digits and '-', starting with a letter")
    return env
