"""The stages of a deploy after the build: deploy steps, smoke, e2e (``flows.deploy`` runs them).

Steps. Components deploy in cascade order, each on its hosts (``deploy.on``), or once
on this machine (``deploy.once``), through the environment's target. A step is given
what the build recorded (``artifacts.Recorded``): images by digest, stored outputs as
read-only folders, plus its own source and its hosts.

Incremental. Before a component's steps run, its fingerprint (``core.fingerprint``) is
computed from its settings, the environment's target, the deploy files it reads and
every variable of each of its steps. When it equals the fingerprint the environment's
newest lockfile recorded for it — a component whose steps completed there — its steps
do not run and it is ``unchanged``; ``--all`` runs every step. The deploy files a
component reads: those named in ``deploy.files``, every file under the folder of each
deploy-root file its ``run`` names (a script and what lies beside it), and the files
directly in ``deploy/`` (shared libraries). The first failing step stops the deploy.

Smoke and e2e always run in full, and only when every step before passed.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts import Recorded
from ..build import Wanted
from ..core.errors import BadInput
from ..core.fingerprint import deploy_fingerprint
from ..core.lockmodels import LockedComponent
from ..core.variables import deploy_variables, var_name
from ..environment import OpenEnvironment
from ..inventory import Host, Inventory, host_variables
from ..reporting import Reporter, note, output_to, stage
from ..smoke import SmokeResult, run_checks
from ..targets import LocalTarget, SshTarget, Step, StepResult, secrets_for

PlannedStep = tuple[str, Host | None, str]   # component, host (None: once, here), command


@dataclass
class DeployReport:
    environment: str
    status: str = "not deployed"          # healthy | failed | dry-run | not deployed
    lockfile: Path | None = None
    steps: list[StepResult] = field(default_factory=list)
    components: dict[str, LockedComponent] = field(default_factory=dict)
    smoke: SmokeResult | None = None
    e2e: str = "skipped"
    problem: str = ""
    reached: str = ""                     # the last stage begun: deploy | smoke | e2e
    crashed: str = ""                     # the stage an error (not a failed check) ended


def plan_steps(opened: OpenEnvironment) -> list[PlannedStep]:
    """(component, host, run) in deploy order; host None for a once step (run here)."""
    project = opened.project
    hosts = opened.hosts
    out: list[PlannedStep] = []
    for component in project.graph.component_order:
        spec = project.components.components[component].deploy
        if spec is None or spec.on == "none" or spec.run is None:
            continue
        targets = list(hosts.nodes) if spec.on == "nodes" else (
            [hosts.services_host] if hosts.services_host else [])
        if not targets:
            key = "nodes" if spec.on == "nodes" else "services_host"
            raise BadInput(f"{opened.root.display(opened.file)}: "
                           f"infrastructure.{key}: component {component} deploys on {spec.on} "
                           f"(manifests/components.yaml), but environment {opened.name} names "
                           "none", hint=f"set infrastructure.{key} in the environment's manifest")
        if spec.once:
            out.append((component, None, spec.run))
        else:
            out += [(component, h, spec.run) for h in targets]
    return out


def require_secrets(opened: OpenEnvironment, steps: list[PlannedStep]) -> None:
    """Every secret a deploy step names (deploy.env) is set, before anything is locked or built."""
    for component in dict.fromkeys(c for c, _, _ in steps):
        spec = opened.project.components.components[component].deploy
        assert spec is not None
        _, missing = secrets_for(spec.env, os.environ)
        if missing:
            raise BadInput(f"manifests/components.yaml: components.{component}.deploy.env: "
                           f"{', '.join(missing)} not set in the environment",
                           hint="set them (e.g. from the CI secrets) before deploying")


def dry_run(opened: OpenEnvironment, steps: list[PlannedStep], reporter: Reporter,
            wanted: Mapping[str, Wanted] | None = None) -> None:
    from .build import plan_of

    result = plan_of(opened, wanted)
    environment = opened.project.environment
    stage(reporter, "build", f"{len(result.to_run)} of {len(result.tasks)} tasks would run",
          state="dry-run")
    for t in result.tasks:
        if t.run:
            note(reporter, f"   {t.task}: {'; '.join(t.reasons)}")
    stage(reporter, "deploy", state="dry-run")
    for component, host, run in steps:
        where = f"{host.name} ({host.address})" if host else "once, on this machine"
        note(reporter, f"   {component} -> {where}: {run}")
    stage(reporter, "smoke", f"{len(environment.smoke)} checks", state="dry-run")
    if environment.e2e:
        stage(reporter, "e2e", environment.e2e.run, state="dry-run")
    note(reporter, "dry run: nothing was built, deployed or written")


# --- the deploy stage ----------------------------------------------------------------------


def _step_for(opened: OpenEnvironment, recorded: Recorded, component: str,
              host: Host | None, run: str) -> Step:
    spec = opened.project.components.components[component].deploy
    assert spec is not None and opened.resolution is not None
    variables = {**deploy_variables(opened.name, component,
                                    opened.resolution.sources[component], opened.specs,
                                    recorded.images, recorded.outputs),
                 **host_variables(opened.hosts, host), "OTTO_REMOTE_DIR": spec.remote_dir}
    secrets, _ = secrets_for(spec.env, os.environ)
    return Step(component, host, run, variables, [opened.root.path / f for f in spec.files],
                spec.remote_dir, spec.timeout, secrets)


def read_files(opened: OpenEnvironment, component: str) -> dict[str, str]:
    """The deploy files ``component`` reads, each by the SHA-256 of its content."""
    root = opened.root.path
    spec = opened.project.components.components[component].deploy
    assert spec is not None
    paths: set[Path] = {root / f for f in spec.files}
    try:
        tokens = shlex.split(spec.run or "", comments=True)
    except ValueError:  # unbalanced quotes: the shell will say so; no file to read here
        tokens = []
    for token in tokens:
        named = root / token
        if token.startswith("-") or not named.is_file():
            continue
        paths.update(p for p in named.parent.rglob("*") if p.is_file())
    shared = root / "deploy"
    if shared.is_dir():
        paths.update(p for p in shared.iterdir() if p.is_file())
    out = {}
    for path in sorted(paths):
        if path.is_file():
            rel = path.relative_to(root) if path.is_relative_to(root) else path
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def fingerprint(opened: OpenEnvironment, component: str, steps: list[Step]) -> str:
    spec = opened.project.components.components[component].deploy
    assert spec is not None
    infrastructure = opened.project.environment.infrastructure
    target: dict[str, Any] = {"target": infrastructure.target,
                              "ssh": infrastructure.ssh.model_dump()}
    return deploy_fingerprint(spec.model_dump(), target, read_files(opened, component),
                              [s.variables for s in steps])


def run_steps(opened: OpenEnvironment, steps: list[PlannedStep], recorded: Recorded,
              previous: dict[str, LockedComponent], report: DeployReport, reporter: Reporter,
              *, everything: bool = False) -> bool:
    """The deploy stage: every component's steps, or ``unchanged``; False at the first failure."""
    from ..remote import config_for, run_once

    root = opened.root
    env = opened.project.environment
    hosts = opened.hosts
    target: LocalTarget | SshTarget
    if env.infrastructure.target == "local":
        target = LocalTarget(root.path, dict(os.environ))
    else:
        target = SshTarget(env.infrastructure.ssh, root.path, dict(os.environ))
    stage(reporter, "deploy")
    report.reached = "deploy"
    by_component: dict[str, list[Step]] = {}
    for component, host, run in steps:
        by_component.setdefault(component, []).append(
            _step_for(opened, recorded, component, host, run))
    for component, component_steps in by_component.items():
        print_ = fingerprint(opened, component, component_steps)
        before = previous.get(component)
        if not everything and before is not None and before.fingerprint == print_:
            reporter.emit("step", component=component, host=None, address=None,
                          state="unchanged")
            report.components[component] = LockedComponent(deployed="unchanged",
                                                            fingerprint=print_)
            continue
        spec = opened.project.components.components[component].deploy
        assert spec is not None
        for step in component_steps:
            host = step.host
            where = {"host": host.name if host else None,
                     "address": host.address if host else None}
            reporter.emit("step", component=component, state="started", **where)
            if host is None:
                result = run_once(step, root.path, os.environ,
                                  config_for(env.infrastructure, hosts, list(spec.env)),
                                  output_to(reporter, component))
            else:
                result = target.deploy(step, output_to(reporter, f"{component}@{host.name}"))
            report.steps.append(result)
            if not result.ok:
                report.status, report.problem = "failed", result.message
                reporter.emit("step", component=component, state="failed",
                              message=result.message, **where)
                return False
        report.components[component] = LockedComponent(deployed=True, fingerprint=print_)
    return True


# --- smoke and e2e -------------------------------------------------------------------------


def run_tests(opened: OpenEnvironment, report: DeployReport, reporter: Reporter) -> None:
    """Smoke, then e2e; ``report.status`` is healthy only when both passed."""
    from ..remote import Remote

    env = opened.project.environment
    hosts = opened.hosts
    assert opened.resolution is not None
    values = {n: s.fields() for n, s in opened.resolution.sources.items()}
    if env.smoke:
        stage(reporter, "smoke", f"({len(env.smoke)} checks)")
        report.reached = "smoke"
        report.smoke = run_checks(env.smoke, values, hosts,
                                  Remote.for_environment(env.infrastructure, hosts), reporter)
        for r in report.smoke.results:
            reporter.emit("check", name=r.name, url=r.url,
                          state="passed" if r.ok else "failed",
                          message="" if r.ok else r.message, attempts=r.attempts)
        if not report.smoke.ok:
            failed = next(r for r in report.smoke.results if not r.ok)
            report.status, report.problem = "failed", f"smoke check {failed.name}: {failed.message}"
            return
    if env.e2e:
        stage(reporter, "e2e")
        report.reached = "e2e"
        report.e2e = _run_e2e(opened, hosts, env.e2e.run, env.e2e.timeout, reporter)
        if report.e2e != "passed":
            report.status, report.problem = "failed", f"e2e {report.e2e}: {env.e2e.run}"
            return
    report.status = "healthy"


def _run_e2e(opened: OpenEnvironment, hosts: Inventory, run: str, timeout: float,
             reporter: Reporter) -> str:
    from ..process import stream

    assert opened.resolution is not None
    variables = {"OTTO_ENV": opened.name}
    for name, src in opened.resolution.sources.items():
        variables[f"OTTO_{var_name(name)}_SHA"] = src.sha
        variables[f"OTTO_{var_name(name)}_VERSION"] = src.version
    if hosts.services_host:
        variables["OTTO_SERVICES_HOST"] = hosts.services_host.address
    variables["OTTO_NODES"] = ",".join(h.address for h in hosts.nodes)
    code, _ = stream(["bash", "-c", run], cwd=opened.root.path,
                     env={**os.environ, **variables}, on_line=output_to(reporter, "e2e"),
                     timeout=timeout)
    return "passed" if code == 0 else ("timed out" if code is None else "failed")
