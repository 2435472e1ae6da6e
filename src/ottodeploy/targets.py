"""Deploy targets: how one component's ``deploy.run`` reaches one host.

Both targets take the same ``Step`` (component, host, command, variables,
files) and return a ``StepResult``; which one is used is
``infrastructure.target``.

* ``local`` runs the command with ``bash -c`` on this machine, in the deploy
  root, with the process environment plus the step's variables.
* ``ssh`` uses the system ``ssh``/``scp`` clients (so ``~/.ssh/config``, agents
  and known_hosts work as usual) with ``BatchMode``, a connect timeout and the
  configured host-key policy. It creates ``remote_dir``, copies the step's
  files into it, then runs ``cd <remote_dir> && env K=V... bash -c <run>``.
  Only the step's ``OTTO_*`` variables are sent, each quoted with
  ``shlex.quote``: nothing of the local environment (tokens) leaves.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .core.errors import ProcessFailed
from .core.models import SshOptions
from .inventory import Host
from .process import run, stream


@dataclass(frozen=True)
class Step:
    component: str
    host: Host
    run: str
    variables: Mapping[str, str]
    files: Sequence[Path] = ()
    remote_dir: str = "/opt/ottochain"
    timeout: float | None = 1800.0


@dataclass(frozen=True)
class StepResult:
    component: str
    host: str
    ok: bool
    message: str = ""


Emit = Callable[[str], None]


@dataclass
class LocalTarget:
    root: Path
    environ: Mapping[str, str] = field(default_factory=dict)

    def deploy(self, step: Step, emit: Emit) -> StepResult:
        env = {**self.environ, **step.variables}
        code, _ = stream(["bash", "-c", step.run], cwd=self.root, env=env, on_line=emit,
                         timeout=step.timeout)
        if code == 0:
            return StepResult(step.component, step.host.name, True)
        status = "timed out" if code is None else f"exited with {code}"
        return StepResult(step.component, step.host.name, False,
                          f"deploy of {step.component} to {step.host.name} {status}: {step.run}")


@dataclass
class SshTarget:
    options: SshOptions
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

    def remote_script(self, step: Step) -> str:
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(step.variables.items()))
        return (f"cd {shlex.quote(step.remote_dir)} && exec env {assignments} "
                f"bash -c {shlex.quote(step.run)}")

    def deploy(self, step: Step, emit: Emit) -> StepResult:
        host = step.host
        env = dict(self.environ)
        try:
            run(self.ssh_command(host, f"mkdir -p {shlex.quote(step.remote_dir)}"), env=env,
                timeout=self.options.connect_timeout + 60,
                what=f"cannot reach {host.name} ({host.address})")
            if step.files:
                dest = f"{self._destination(host)}:{step.remote_dir.rstrip('/')}/"
                run(["scp", *self._common(host), "-P", self._port(host), "-q",
                     *[str(f) for f in step.files], dest], env=env, timeout=600,
                    what=f"copying files to {host.name} failed")
        except ProcessFailed as exc:
            return StepResult(step.component, host.name, False, exc.message)
        code, _ = stream(self.ssh_command(host, self.remote_script(step)), cwd=self.root,
                         env=env, on_line=emit, timeout=step.timeout)
        if code == 0:
            return StepResult(step.component, host.name, True)
        status = "timed out" if code is None else f"exited with {code}"
        return StepResult(step.component, host.name, False,
                          f"deploy of {step.component} to {host.name} ({host.address}) {status}")
