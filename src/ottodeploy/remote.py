"""``$OTTO_REMOTE``: how a ``once`` deploy script reaches the environment's hosts.

A deploy step with ``once: true`` runs on the machine running ottodeploy and
orchestrates the hosts itself (the metagraph starts layer by layer across its
nodes). It reaches them through one executable, given as ``$OTTO_REMOTE``::

    "$OTTO_REMOTE" HOST [--stdin] [--retry N --every S] [--dry-output TEXT] -- COMMAND...
    "$OTTO_REMOTE" HOST --put LOCAL_FILE REMOTE_PATH

``COMMAND`` is run by ``bash -o pipefail`` on HOST: a single argument is shell
text (as ``ssh`` treats it), several are an argument list quoted exactly.
``--stdin`` passes the script's stdin to it (the way secrets travel: never on
a command line); without it the command's stdin is empty. ``--retry N --every
S`` runs it until it succeeds, at most N times, S seconds apart (a wait for a
node to become Ready). ``--put`` copies a file.

How HOST is reached is the environment's target, given in one variable the
deploy sets, ``OTTO_REMOTE_CONFIG`` (JSON; no secret in it)::

    {"target": "ssh" | "local", "ssh": {<infrastructure.ssh>},
     "hosts": {"node1": {"address", "user", "port", "key"}, ...}, "secrets": [NAMES]}

``ssh`` runs the command with the system ssh client and exactly the options
``SshTarget`` uses for per-host steps (BatchMode, timeouts, known_hosts, key);
``local`` runs it on this machine. Every command is printed first on stderr as
``[HOST] COMMAND``, with the values of the named secrets (and of the usual
secret variables) redacted. With ``OTTO_DRY_RUN=1`` that line is all that
happens: stdin is read and dropped, ``--dry-output`` (a placeholder for what
the command would print) goes to stdout, and the exit status is 0 — so a dry
run is the real scripts going through this very program.

Exit status: the command's; 2 for a usage or configuration error; 255 when
ssh cannot reach the host.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .core.errors import Interrupted
from .inventory import Host, Inventory
from .process import passthrough
from .redact import redact, secret_values
from .targets import Emit, SshTarget, Step, StepResult, looks_secret, redacting, status_text

if TYPE_CHECKING:  # pydantic stays out of the shim's imports: it starts once per command
    from .core.models import Infrastructure

CONFIG_VARIABLE = "OTTO_REMOTE_CONFIG"
USAGE = ('usage: "$OTTO_REMOTE" HOST [--stdin] [--retry N --every S] [--dry-output TEXT] '
         '-- COMMAND...\n       "$OTTO_REMOTE" HOST --put LOCAL_FILE REMOTE_PATH')
_MIN_NAMED_SECRET = 4


class UsageProblem(Exception):
    """A mistake in how the program was called or configured (exit 2)."""


def config_for(infra: Infrastructure, hosts: Inventory, secrets: Sequence[str] = ()) -> str:
    """The ``OTTO_REMOTE_CONFIG`` of an environment: addresses, users, ports, key paths."""
    return json.dumps({
        "target": infra.target,
        "ssh": infra.ssh.model_dump(),
        "hosts": {h.name: {"address": h.address, "user": h.user, "port": h.port, "key": h.key}
                  for h in hosts.all()},
        "secrets": sorted(secrets),
    }, sort_keys=True)


def write_shim(directory: Path) -> Path:
    """An executable ``otto-remote`` in ``directory`` that runs this module with this Python."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "otto-remote"
    path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m ottodeploy.remote "
                    '"$@"\n')
    path.chmod(0o755)
    return path


@dataclass(frozen=True)
class SshConfig:
    """``infrastructure.ssh`` as the shim reads it back (see ``models.SshOptions``)."""

    user: str | None = None
    port: int = 22
    strict_host_key_checking: str = "accept-new"
    connect_timeout: int = 10
    known_hosts: str | None = None
    identity_file: str | None = None


@dataclass
class Remote:
    """Command lines that run something on a host of one environment."""

    target: str
    hosts: dict[str, Host]
    ssh: SshConfig = field(default_factory=SshConfig)

    @classmethod
    def for_environment(cls, infra: Infrastructure, inv: Inventory) -> Remote:
        return cls(infra.target, {h.name: h for h in inv.all()},
                   SshConfig(**infra.ssh.model_dump()))

    @classmethod
    def from_config(cls, text: str) -> Remote:
        try:
            data = json.loads(text)
            hosts = {name: Host(name, str(h["address"]), h.get("user"), h.get("port"),
                                h.get("key")) for name, h in data["hosts"].items()}
            return cls(str(data["target"]), hosts, SshConfig(**data.get("ssh", {})))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UsageProblem(f"{CONFIG_VARIABLE} is not a valid configuration ({exc})") from None

    def host(self, name: str) -> Host:
        if name not in self.hosts:
            known = ", ".join(sorted(self.hosts)) or "none"
            raise UsageProblem(f"unknown host {name!r} (this environment's hosts: {known})")
        return self.hosts[name]

    def _ssh(self) -> SshTarget:
        return SshTarget(self.ssh, Path.cwd())

    def command(self, name: str, text: str, *, stdin: bool = False) -> list[str]:
        """The argv that runs shell ``text`` with bash on host ``name``."""
        host = self.host(name)
        if self.target == "local":
            return ["bash", "-o", "pipefail", "-c", text]
        remote = f"bash -o pipefail -c {shlex.quote(text)}"
        ssh = self._ssh().ssh_command(host, remote)
        return ssh if stdin else [ssh[0], "-n", *ssh[1:]]

    def put(self, name: str, local: str, remote_path: str) -> list[str] | None:
        """The argv that copies ``local`` to ``remote_path`` on ``name`` (None: copy here)."""
        host = self.host(name)
        if self.target == "local":
            return None
        return self._ssh().scp_command(host, [local], remote_path)


@dataclass
class Call:
    host: str
    command: list[str] = field(default_factory=list)
    put: tuple[str, str] | None = None
    stdin: bool = False
    retry: int = 1
    every: float = 5.0
    dry_output: str | None = None

    @property
    def text(self) -> str:
        return self.command[0] if len(self.command) == 1 else shlex.join(self.command)

    def describe(self) -> str:
        if self.put:
            return f"[{self.host}] put {self.put[0]} {self.put[1]}"
        wait = f"(retry {self.retry}x{self.every:g}s) " if self.retry > 1 else ""
        return f"[{self.host}] {wait}{self.text}{' < stdin' if self.stdin else ''}"


def parse(argv: Sequence[str]) -> Call:
    if not argv or argv[0].startswith("-"):
        raise UsageProblem(USAGE)
    call = Call(argv[0])
    rest = list(argv[1:])
    try:
        while rest:
            opt = rest.pop(0)
            if opt == "--":
                call.command = rest
                break
            if opt == "--stdin":
                call.stdin = True
            elif opt == "--put":
                call.put = (rest.pop(0), rest.pop(0))
            elif opt == "--retry":
                call.retry = int(rest.pop(0))
            elif opt == "--every":
                call.every = float(rest.pop(0))
            elif opt == "--dry-output":
                call.dry_output = rest.pop(0)
            else:
                raise UsageProblem(f"unknown option {opt!r}\n{USAGE}")
    except (IndexError, ValueError):
        raise UsageProblem(f"option {opt} needs a value\n{USAGE}") from None
    if bool(call.put) == bool(call.command) or call.retry < 1 or call.every < 0:
        raise UsageProblem(USAGE)
    return call


def _secrets(environ: Mapping[str, str], names: Sequence[str]) -> list[str]:
    named = [environ.get(n, "") for n in names]
    values = {*secret_values(environ), *(v for v in named if len(v) >= _MIN_NAMED_SECRET)}
    return sorted(values, key=len, reverse=True)


def run(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """The program: parse, print the redacted command, run it (or not, in a dry run)."""
    call = parse(argv)
    text = environ.get(CONFIG_VARIABLE)
    if not text:
        raise UsageProblem(f"{CONFIG_VARIABLE} is not set: $OTTO_REMOTE runs inside a deploy step")
    remote = Remote.from_config(text)
    remote.host(call.host)
    names = json.loads(text).get("secrets", [])
    print(redact(call.describe(), secrets=_secrets(environ, names)), file=sys.stderr, flush=True)
    if environ.get("OTTO_DRY_RUN", "") not in ("", "0"):
        if call.stdin:
            sys.stdin.read()
        if call.dry_output is not None:
            print(call.dry_output, flush=True)
        return 0
    if call.put:
        local, remote_path = call.put
        if not Path(local).is_file():
            raise UsageProblem(f"--put: {local} is not a file")
        args = remote.put(call.host, local, remote_path)
        if args is None:
            shutil.copy(local, remote_path)
            return 0
        return passthrough(args, env=environ)
    args = remote.command(call.host, call.text, stdin=call.stdin)
    code = 1
    for attempt in range(1, call.retry + 1):
        code = passthrough(args, stdin=call.stdin, env=environ)
        if code == 0:
            return 0
        if attempt < call.retry:
            time.sleep(call.every)
    if call.retry > 1:
        print(f"[{call.host}] gave up after {call.retry} attempts (exit {code})",
              file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from .interrupts import stoppable

    try:
        with stoppable("otto-remote"):  # a stopped deploy step stops the ssh it started
            return run(sys.argv[1:] if argv is None else argv, os.environ)
    except UsageProblem as exc:
        print(f"otto-remote: {exc}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"otto-remote: {stop.line}", file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())


def run_once(step: Step, root: Path, environ: Mapping[str, str], remote_config: str,
             emit: Emit, *, dry_run: bool = False) -> StepResult:
    """Run a once step here, with ``$OTTO_REMOTE`` reaching the hosts of ``remote_config``.

    With ``dry_run`` the script runs with ``OTTO_DRY_RUN=1``: every remote command is
    printed by ``$OTTO_REMOTE`` instead of run.
    """
    import tempfile

    from .process import stream

    with tempfile.TemporaryDirectory(prefix="otto-remote-") as tmp:
        shim = write_shim(Path(tmp))
        env = {k: v for k, v in environ.items() if not looks_secret(k)}
        env |= {**step.secrets, **step.variables, "OTTO_REMOTE": str(shim),
                CONFIG_VARIABLE: remote_config, "OTTO_REMOTE_DIR": step.remote_dir,
                "OTTO_DRY_RUN": "1" if dry_run else "0"}
        code, _ = stream(["bash", "-c", step.run], cwd=root, env=env,
                         on_line=redacting(emit, step.secrets), timeout=step.timeout)
    if code == 0:
        return StepResult(step.component, "(once)", True)
    return StepResult(step.component, "(once)", False,
                      f"deploy of {step.component} {status_text(code)}: {step.run}")
