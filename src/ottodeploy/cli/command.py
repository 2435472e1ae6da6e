"""Tasks that explain themselves: ``TASK --help``, required options, environments checked.

invoke builds a task's command line from its signature. ``Command``, the
``invoke.Task`` subclass every task of the collection is made with (``@command``),
adds what invoke lacks, so it holds for ``inv`` (invoke's own program, which only
loads the collection) and ``ottodeploy`` alike:

1. ``TASK --help``. invoke's parser hands a token to a missing positional argument
   before it looks at the program's flags, so ``inv diff --help`` took ``--help`` for
   the first environment. Every task gets its own ``-h/--help`` flag, which the parser
   looks up before positionals; once it is given, the task's positional arguments count
   as given (``_Positional``) so the parser asks for none, and the task prints its help
   (usage with the positional arguments, then every argument with its help text)
   instead of running.
2. No short flags (``diff`` offered ``-e``/``-n`` for its two environments): options
   are named in full. A list option given without a value is a parse error
   (``_Listed``: ``inv build demo --task`` built everything), and the names in
   ``required`` must be given (``approve --by``): else bad input, exit 2.
3. Environments: every argument named ``env``, ``env_*`` or ``*_env`` is checked
   against the deploy root before the task runs (``DeployRoot.environment``: an unknown
   one is exit 2 with the list), so each command answers alike (SPEC §5a).
4. With ``--events``, a command that fails ends its stream with an ``error`` event
   carrying the message and the exit status (the message goes to stderr as always).

The deploy root of a run (``root_of``, order in ``root``): ``--root`` (``ottodeploy``),
``OTTODEPLOY_ROOT``, the nearest deploy root above the working directory, the folder of
the ``tasks/`` door. Errors leave through ``guarded``, the one place they become exit codes.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from invoke.parser.argument import Argument
from invoke.parser.context import ParserContext
from invoke.tasks import Task

from ..core.errors import OttodeployError, UsageError
from ..root import DeployRoot
from . import guarded, say

_ENVIRONMENT = re.compile(r"env|env_\w+|\w+_env")
HELP = "show this help and exit"
WIDTH = 100


def is_environment(name: str) -> bool:
    """Whether a task argument named ``name`` names an environment."""
    return bool(_ENVIRONMENT.fullmatch(name))


def root_of(c: Any) -> DeployRoot:
    """The deploy root of this run (see the module docstring)."""
    conf = c.config.ottodeploy
    return DeployRoot.locate(Path(conf.door) if conf.door else None,
                             explicit=Path(conf.root) if conf.root else None,
                             search_from=Path.cwd())


class _Named(Argument):
    """An argument that names itself as the user writes it in parse errors."""

    def __repr__(self) -> str:
        return "--" + str(self.names[0])


class _Positional(_Named):
    """A positional argument that counts as given once the task's ``--help`` was."""

    asked_help: Argument | None = None

    @property
    def value(self) -> Any:
        if self._value is None and self.asked_help is not None and self.asked_help.value:
            return ""
        return self._value if self._value is not None else self.default

    @value.setter
    def value(self, arg: str) -> None:
        self.set_value(arg, cast=True)


class _Listed(_Named):
    """A repeatable option; given without a value it is an error (invoke started it at [])."""

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        self.raw_value = None


class Command(Task[Any]):
    """A task with ``--help``, required options and checked environments."""

    def __init__(self, body: Callable[..., Any], *, required: Iterable[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(body, auto_shortflags=False, **kwargs)
        self.required = tuple(required)
        self.cli_name = self.name.replace("_", "-")  # the collection sets the full name

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        saved = dict(self.help)  # invoke pops the help texts it uses: keep them for next time
        try:
            plain = super().get_arguments(ignore_unknown_help=ignore_unknown_help)
        finally:
            self.help = saved
        asked = Argument(names=("help", "h"), kind=bool, default=False, help=HELP)
        out: list[Argument] = []
        for arg in plain:
            opts = {"names": arg.names, "kind": arg.kind, "default": arg.default,
                    "help": arg.help, "positional": arg.positional, "optional": arg.optional,
                    "incrementable": arg.incrementable, "attr_name": arg.attr_name}
            if arg.positional:
                positional = _Positional(**opts)
                positional.asked_help = asked
                new: Argument = positional
            elif arg.kind is list:
                new = _Listed(**opts)
            else:
                new = _Named(**opts)
            out.append(new)
        return [*out, asked]

    def __call__(self, c: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.pop("help", False):
            for line in help_lines(self, str(c.config.ottodeploy.program)):
                say(line)
            return None
        return guarded(self._checked, self.cli_name)(c, *args, **kwargs)

    def _checked(self, c: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            self._check_arguments(c, kwargs)
            return super().__call__(c, *args, **kwargs)
        except OttodeployError as exc:
            if kwargs.get("events"):  # the stream's last line says how it ended, for agents
                from .console import JsonLinesReporter

                JsonLinesReporter().emit("error", text=str(exc), exit=exc.exit_code)
            raise

    def _check_arguments(self, c: Any, kwargs: dict[str, Any]) -> None:
        for name in self.required:
            if kwargs.get(name) in (None, []):
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{self.cli_name}: {flag} is required "
                                 f"({self.help.get(name, '')})",
                                 hint=f"{c.config.ottodeploy.program} {self.cli_name} --help")
        envs = []
        for key, value in kwargs.items():
            if is_environment(key) and value is not None:
                # a repeatable option gives a list; its items may be comma-separated
                for item in value if isinstance(value, list) else [value]:
                    envs += [e.strip() for e in str(item).split(",") if e.strip()]
        if envs:
            root = root_of(c)
            for name in envs:
                root.environment(name)


def command(*, required: Iterable[str] = (), **kwargs: Any) -> Callable[[Callable[..., Any]],
                                                                         Command]:
    """``@task`` for the collection: ``Command`` with ``required`` options."""

    def make(body: Callable[..., Any]) -> Command:
        return Command(body, required=required, **kwargs)

    return make


def help_lines(task: Command, program: str) -> list[str]:
    """``PROGRAM TASK --help``: usage, what it does, its arguments and options."""
    context = ParserContext(name=task.cli_name, args=task.get_arguments())
    positionals = list(context.positional_args)
    options = [a for a in context.flags.values() if not a.positional]
    usage = f"Usage: {program} {task.cli_name}" + (" [options]" if options else "")
    usage += "".join(f" {_meta(a)}" for a in positionals)
    lines = [usage, ""]
    doc = inspect.getdoc(task) or ""
    lines += [f"  {line}" if line else "" for line in doc.splitlines()] + [""]
    rows = [(_meta(a), a.help or "") for a in positionals]
    opt_rows = [(_flag(a), _described(task, a)) for a in options]
    width = max((len(name) for name, _ in [*rows, *opt_rows]), default=0) + 2
    if rows:
        lines.append("Arguments:")
        lines += _rows(rows, width)
        lines.append("")
    lines.append("Options:")
    lines += _rows(opt_rows, width)
    return lines


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns, the second wrapped to ``WIDTH`` characters under itself."""
    out = []
    for name, text in rows:
        chunks = textwrap.wrap(text, max(WIDTH - width - 2, 30)) or [""]
        out.append(f"  {name.ljust(width)}{chunks[0]}".rstrip())
        out += [" " * (width + 2) + chunk for chunk in chunks[1:]]
    return out


_META = {"only": "COMPONENT"}   # an option whose value is not named after the option


def _meta(arg: Argument) -> str:
    return _META.get(str(arg.name), str(arg.name).upper())


def _flag(arg: Argument) -> str:
    long = "--" + str(arg.names[0])
    names = ", ".join([*(f"-{n}" for n in arg.names[1:] if len(n) == 1), long])
    if arg.kind is bool:
        return names
    if arg.kind is int:
        return f"{names} N"
    return f"{names} {_meta(arg)}"


def _described(task: Command, arg: Argument) -> str:
    text = arg.help or ""
    if arg.name in task.required:
        return f"{text} (required)"
    if arg.kind is list:
        return f"{text} (repeatable)"
    if arg.kind is int and arg.default is not None:
        return f"{text} (default: {arg.default})"
    return text
