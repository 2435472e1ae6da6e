"""Deploy targets: how one component's ``deploy.run`` reaches one host, or all of them.

Both targets take the same ``Step`` (component, host, command, variables,
secrets, files) and return a ``StepResult``; which one is used is
``infrastructure.target``.

* ``local`` runs the command with ``bash -c`` on this machine, in the deploy
  root, with the process environment plus the step's variables and secrets.
* ``ssh`` uses the system ``ssh``/``scp`` clients (so ``~/.ssh/config``, agents
  and known_hosts work as usual) with ``BatchMode``, a connect timeout and the
  configured host-key policy. It creates ``remote_dir``, copies the step's
  files into it, then runs ``cd <remote_dir> && env K=V... bash -c <run>``.
  Only the step's ``OTTO_*`` variables are sent, each quoted with
  ``shlex.quote``: nothing of the local environment (tokens) leaves. The
  secrets the component names (``deploy.env``) travel on ssh's stdin, one
  ``NAME=<base64>`` line each, and the remote shell exports them before it
  runs the command: a secret is never on a command line, local or remote.

A ``once`` step (``deploy.once``) has no host: ``run_once`` runs it here, in
the deploy root, for either target, with every host in its variables and
``$OTTO_REMOTE`` (``ottodeploy.remote``) configured to reach them through the
environment's target. It gets this process's environment without anything
that looks secret, plus the secrets it names. Whatever a step prints passes
through ``redact`` with its secrets' values before it is shown.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .core.errors import ProcessFailed
from .inventory import Host
from .process import run, stream
from .redact import SECRET_VARIABLES, redact, secret_values


class SshSettings(Protocol):
    """``infrastructure.ssh`` (``models.SshOptions``), or the same read back by the shim."""

    @property
    def user(self) -> str | None: ...
    @property
    def port(self) -> int: ...
    @property
    def strict_host_key_checking(self) -> str: ...
    @property
    def connect_timeout(self) -> int: ...
    @property
    def known_hosts(self) -> str | None: ...
    @property
    def identity_file(self) -> str | None: ...


@dataclass(frozen=True)
class Step:
    component: str
    host: Host | None                    # None: a once step, run here
    run: str
    variables: Mapping[str, str]
    files: Sequence[Path] = ()
    remote_dir: str = "/opt/ottochain"
    timeout: float | None = 1800.0
    secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.host.name} ({self.host.address})" if self.host else "this machine (once)"


@dataclass(frozen=True)
class StepResult:
    component: str
    host: str
    ok: bool
    message: str = ""


Emit = Callable[[str], None]


def redacting(emit: Emit, secrets: Mapping[str, str]) -> Emit:
    values = sorted({*secret_values(), *(v for v in secrets.values() if len(v) >= 4)},
                    key=len, reverse=True)
    return lambda line: emit(redact(line, secrets=values))


def status_text(code: int | None) -> str:
    return "timed out" if code is None else f"exited with {code}"


@dataclass
class LocalTarget:
    root: Path
    environ: Mapping[str, str] = field(default_factory=dict)

    def deploy(self, step: Step, emit: Emit) -> StepResult:
        assert step.host is not None
        env = {**self.environ, **step.secrets, **step.variables}
        code, _ = stream(["bash", "-c", step.run], cwd=self.root, env=env,
                         on_line=redacting(emit, step.secrets), timeout=step.timeout)
        if code == 0:
            return StepResult(step.component, step.host.name, True)
        return StepResult(step.component, step.host.name, False,
                          f"deploy of {step.component} to {step.host.name} {status_text(code)}: "
                          f"{step.run}")


@dataclass
class SshTarget:
    options: SshSettings
    root: Path
    environ: Mapping[str, str] = field(default_factory=dict)

    def _common(self, host: Host) -> list[str]:
        opts = self.options
        args = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={opts.connect_timeout}",
                "-o", f"StrictHostKeyChecking={opts.strict_host_key_checking}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if opts.known_hosts:
            args += ["-o", f"UserKnownHostsFile={opts.known_hosts}"]
        key = host.key or opts.identity_file
        if key:
            args += ["-i", key, "-o", "IdentitiesOnly=yes"]
        return args

    def _destination(self, host: Host) -> str:
        user = host.user or self.options.user
        return f"{user}@{host.address}" if user else host.address

    def _port(self, host: Host) -> str:
        return str(host.port or self.options.port)

    def ssh_command(self, host: Host, remote: str) -> list[str]:
        return ["ssh", *self._common(host), "-p", self._port(host), self._destination(host),
                "--", remote]

    def scp_command(self, host: Host, files: Sequence[str], remote_path: str) -> list[str]:
        return ["scp", *self._common(host), "-P", self._port(host), "-q", *files,
                f"{self._destination(host)}:{remote_path}"]

    def remote_script(self, step: Step) -> str:
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(step.variables.items()))
        # NAME=<base64> lines on stdin up to an empty one, exported by the remote shell
        receive = ('while IFS= read -r kv && [ -n "$kv" ]; do '
                   'export "${kv%%=*}=$(printf %s "${kv#*=}" | base64 -d)"; done && '
                   if step.secrets else "")
        return (f"cd {shlex.quote(step.remote_dir)} && {receive}exec env {assignments} "
                f"bash -c {shlex.quote(step.run)}")

    def deploy(self, step: Step, emit: Emit) -> StepResult:
        host = step.host
        assert host is not None
        env = dict(self.environ)
        try:
            run(self.ssh_command(host, f"mkdir -p {shlex.quote(step.remote_dir)}"), env=env,
                timeout=self.options.connect_timeout + 60,
                what=f"cannot reach {host.name} ({host.address})")
            if step.files:
                run(self.scp_command(host, [str(f) for f in step.files],
                                     f"{step.remote_dir.rstrip('/')}/"),
                    env=env, timeout=600, what=f"copying files to {host.name} failed")
        except ProcessFailed as exc:
            return StepResult(step.component, host.name, False, exc.message)
        stdin = None
        if step.secrets:
            stdin = "".join(f"{k}={base64.b64encode(v.encode()).decode()}\n"
                            for k, v in sorted(step.secrets.items())) + "\n"
        code, _ = stream(self.ssh_command(host, self.remote_script(step)), cwd=self.root,
                         env=env, on_line=redacting(emit, step.secrets), timeout=step.timeout,
                         input_text=stdin)
        if code == 0:
            return StepResult(step.component, host.name, True)
        return StepResult(step.component, host.name, False,
                          f"deploy of {step.component} to {host.name} ({host.address}) "
                          f"{status_text(code)}")


def looks_secret(name: str) -> bool:
    return name in SECRET_VARIABLES or name.endswith(("_TOKEN", "_PASSWORD", "_SECRET", "_KEY"))


def secrets_for(names: Sequence[str],
                environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The values of ``deploy.env``'s names, and the names that are not set."""
    found = {n: environ[n] for n in names if environ.get(n)}
    return found, [n for n in names if n not in found]
