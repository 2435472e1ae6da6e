"""``ottodeploy``: the installed console script, the same collection as ``inv``.

``ottodeploy deploy scratch`` is ``inv deploy scratch`` without a ``tasks/``
folder to find: invoke's ``Program`` runs the collection of ``cli.tasks`` with
no door, so the deploy root is ``--root PATH`` (a core flag, given before or
after the task), else ``OTTODEPLOY_ROOT``, else the nearest folder holding
``manifests/environments/`` above the working directory (``command.root_of``).
``ottodeploy TASK --help`` and ``ottodeploy --help TASK`` print the same help.
"""

from __future__ import annotations

from typing import Any

from invoke.parser.argument import Argument
from invoke.program import Program

from .. import __version__

NAME = "ottodeploy"


class OttodeployProgram(Program):
    """invoke's program with ``--root`` and this project's task help."""

    def core_args(self) -> list[Argument]:
        return [*super().core_args(),
                Argument(names=("root",),
                         help="the deploy root (default: OTTODEPLOY_ROOT, else the nearest "
                              "folder above holding manifests/environments/)")]

    def execute(self) -> None:
        root = self.args.root.value
        self.collection.configure({"ottodeploy": {"root": root}})
        super().execute()

    def print_task_help(self, name: str) -> None:
        from . import say
        from .command import Command, help_lines

        task = self.collection[name]
        if not isinstance(task, Command):
            super().print_task_help(name)
            return
        for line in help_lines(task, NAME):
            say(line)


def program() -> OttodeployProgram:
    from .tasks import collection

    return OttodeployProgram(namespace=collection(None, program=NAME), name=NAME,
                             binary=NAME, version=__version__)


def main(argv: list[str] | None = None) -> Any:
    """The console script: ``ottodeploy [--root PATH] TASK [ARGS]``."""
    program().run(argv)
