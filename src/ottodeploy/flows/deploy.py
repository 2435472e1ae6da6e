"""``inv deploy``: check -> build or verify -> deploy -> smoke -> e2e -> lockfile.

1. check: the environment is opened once with its manifests validated;
   where it requires approval, its deploy definition must be a verified
   approval and a replayed lockfile must be the committed record (SPEC §6a,
   before any repo is read); every ref is resolved (or the lockfile's exact
   SHAs are taken, when replaying); the compatibility matrix holds; every host
   a deploy step needs has an address. Nothing is locked or written before
   this passes.
2. The environment's deploy and build locks are taken (kernel locks: one
   deploy at a time, and no build of the environment meanwhile).
3. build: the whole cascade through doit (branch mode builds what changed;
   released sources only verify that their images exist).
4. deploy: components in cascade order, each to its hosts (``deploy.on``)
   through the environment's target, with the build's ``OTTO_*`` variables and
   the exact image reference. The first failing host stops the deploy.
5. smoke and e2e, only when everything before passed.
6. lockfile: written whenever the deploy stage was reached: ``healthy`` only
   when deploy, smoke and e2e passed, else ``failed`` (and exit 1).

The record is never lost (SPEC §6a): ``lockfiles/`` must be writable before
anything is locked; should writing fail anyway, the lockfile is kept under
``.ottodeploy/<env>/`` and printed in full (exit 1). SIGINT or SIGTERM during
the deploy stage stops the running step's process group (``interrupts``) and
writes a ``failed`` lockfile with ``interrupted`` and the stage it cut short
(``deploy``, ``smoke`` or ``e2e`` in ``tests``); before it, nothing is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import engine, interrupts
from ..core.approvals import Approval
from ..core.compat import violations
from ..core.errors import (
    BadInput,
    BuildError,
    CompatibilityError,
    DeployError,
    Interrupted,
    RecordError,
)
from ..core.keys import digest_text
from ..core.models import Lockfile
from ..core.sources import Resolution
from ..core.variables import deploy_variables, var_name
from ..environment import OpenEnvironment, open_environment
from ..inventory import Host, Inventory, host_variables
from ..lockfile import LockedFile, new_lockfile, require_writable, write_new_or_keep
from ..reporting import Reporter, note, output_to, stage
from ..root import DeployRoot
from ..smoke import SmokeResult, expand, run_checks
from ..state import build_lock, env_lock
from ..targets import LocalTarget, SshTarget, Step, StepResult, secrets_for

PlannedStep = tuple[str, Host | None, str]   # component, host (None: once, here), command


@dataclass
class DeployReport:
    environment: str
    status: str = "not deployed"          # healthy | failed | dry-run | not deployed
    lockfile: Path | None = None
    steps: list[StepResult] = field(default_factory=list)
    smoke: SmokeResult | None = None
    e2e: str = "skipped"
    problem: str = ""


def deploy(root: DeployRoot, env: str, *, reporter: Reporter, dry_run: bool = False,
           replay: LockedFile | None = None, jobs: int = 1) -> DeployReport:
    from ..approval import require_approval
    from ..notify import notify
    from ..resolve import resolve, resolve_locked

    stage(reporter, "check", env)
    opened = open_environment(root, env, validate=True, resolve=False)
    project = opened.project
    approval = None
    if project.environment.approval_required:  # before any repo is read for a replay
        approval = require_approval(project, replay=replay, say=lambda t: note(reporter, t))
    resolution = resolve_locked(project, replay) if replay else resolve(project)
    opened = opened.with_resolution(resolution)
    found = violations(opened.compatibility, resolution.versions())
    if found:
        raise CompatibilityError([str(v) for v in found])
    steps = _steps_plan(opened)  # a host the manifest lacks is bad input, found here
    # so is a smoke URL that is no http(s) URL once filled in
    expand(project.environment.smoke, {n: s.fields() for n, s in resolution.sources.items()},
           opened.hosts)
    if not dry_run:
        _require_secrets(opened, steps)
        require_writable(root)  # SPEC §6a: the record can be written, before anything runs
    note(reporter, f"   {len(resolution.sources)} sources resolved, compatibility ok")
    if dry_run:
        _dry_run(opened, steps, reporter)
        return DeployReport(opened.name, status="dry-run")

    with env_lock(opened.state, f"deploy {opened.name}"), \
            build_lock(opened.state, f"deploy {opened.name}"):
        notify(root, "deploy-started", env=opened.name, versions=resolution.versions())
        mode = "build" if project.environment.mode == "branch" else "verify released images"
        stage(reporter, mode)
        if engine.run(opened, [], reporter, jobs).code != 0:
            notify(root, "deploy-failed", env=opened.name, detail="build failed")
            raise BuildError(f"build of {opened.name} failed; nothing was deployed and no "
                             "lockfile written")
        # --- SPEC §6a: the deploy stage ends in a record, also when a signal stops it
        report = DeployReport(opened.name)
        with interrupts.deferred():
            stop = interrupts.attempt(lambda: _deploy_and_test(opened, steps, reporter, report))
            stopped = _interrupted(report, len(steps), bool(project.environment.smoke), stop)
            lock = _lockfile(opened, resolution, report, replay, approval).model_copy(
                update=stopped)
            written = write_new_or_keep(root, lock)
            report.lockfile = written.path
            reporter.emit("lockfile", path=written.shown(root), status=report.status)
            event = "deploy-succeeded" if report.status == "healthy" else "deploy-failed"
            notify(root, event, env=opened.name, versions=resolution.versions(),
                   detail=report.problem or written.name)
            if stop is not None:
                raise stop.with_detail(f"deploy of {opened.name} {report.problem}; "
                                       + written.where(root), extra=written.in_full())
            if written.problem:
                raise RecordError(f"deploy of {opened.name} {report.status}"
                                  + (f" ({report.problem})" if report.problem else "")
                                  + f", but {written.where(root)}\n{written.in_full()}")
        # ---
    if report.status != "healthy":
        raise DeployError(f"deploy of {opened.name} failed: {report.problem}",
                          hint=f"lockfile {written.shown(root)} records it as failed")
    return report


def _dry_run(opened: OpenEnvironment, steps: list[PlannedStep], reporter: Reporter) -> None:
    from .build import plan_of

    result = plan_of(opened)
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


def _steps_plan(opened: OpenEnvironment) -> list[PlannedStep]:
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


def _require_secrets(opened: OpenEnvironment, steps: list[PlannedStep]) -> None:
    """Every secret a deploy step names (deploy.env) is set, before anything is locked or built."""
    for component in dict.fromkeys(c for c, _, _ in steps):
        spec = opened.project.components.components[component].deploy
        assert spec is not None
        _, missing = secrets_for(spec.env, os.environ)
        if missing:
            raise BadInput(f"manifests/components.yaml: components.{component}.deploy.env: "
                           f"{', '.join(missing)} not set in the environment",
                           hint="set them (e.g. from the CI secrets) before deploying")


def exact_images(opened: OpenEnvironment) -> dict[str, str]:
    """Per image task, the reference by digest its record holds for the current key."""
    records = opened.records
    out = {}
    for task, spec in opened.specs.items():
        record = records.get(task)
        if spec.image_ref and record is not None and record.key == spec.key:
            out[task] = record.artifact()
    return out


def _deploy_and_test(opened: OpenEnvironment, steps: list[PlannedStep],
                     reporter: Reporter, report: DeployReport) -> DeployReport:
    from ..remote import Remote, config_for, run_once

    root = opened.root
    env = opened.project.environment
    hosts = opened.hosts
    resolution = opened.resolution
    assert resolution is not None
    target: LocalTarget | SshTarget
    if env.infrastructure.target == "local":
        target = LocalTarget(root.path, dict(os.environ))
    else:
        target = SshTarget(env.infrastructure.ssh, root.path, dict(os.environ))
    stage(reporter, "deploy")
    images = exact_images(opened)
    for component, host, run in steps:
        spec = opened.project.components.components[component].deploy
        assert spec is not None
        variables = {**deploy_variables(env.name, component, resolution.sources[component],
                                        opened.specs, images),
                     **host_variables(hosts, host), "OTTO_REMOTE_DIR": spec.remote_dir}
        secrets, _ = secrets_for(spec.env, os.environ)
        step = Step(component, host, run, variables,
                    [root.path / f for f in spec.files], spec.remote_dir, spec.timeout, secrets)
        where = {"host": host.name if host else None, "address": host.address if host else None}
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
            reporter.emit("step", component=component, state="failed", message=result.message,
                          **where)
            return report
    values = {n: s.fields() for n, s in resolution.sources.items()}
    if env.smoke:
        stage(reporter, "smoke", f"({len(env.smoke)} checks)")
        report.smoke = run_checks(env.smoke, values, hosts,
                                  Remote.for_environment(env.infrastructure, hosts), reporter)
        for r in report.smoke.results:
            reporter.emit("check", name=r.name, url=r.url,
                          state="passed" if r.ok else "failed",
                          message="" if r.ok else r.message, attempts=r.attempts)
        if not report.smoke.ok:
            failed = next(r for r in report.smoke.results if not r.ok)
            report.status, report.problem = "failed", f"smoke check {failed.name}: {failed.message}"
            return report
    if env.e2e:
        stage(reporter, "e2e")
        report.e2e = _run_e2e(opened, hosts, env.e2e.run, env.e2e.timeout, reporter)
        if report.e2e != "passed":
            report.status, report.problem = "failed", f"e2e {report.e2e}: {env.e2e.run}"
            return report
    report.status = "healthy"
    return report


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


def _lockfile(opened: OpenEnvironment, resolution: Resolution, report: DeployReport,
              replay: LockedFile | None, approval: Approval | None) -> Lockfile:
    records = opened.records
    artifacts = {}
    keys = {}
    for task, spec in opened.specs.items():
        record = records.get(task)
        keys[task] = spec.key
        artifacts[task] = record.artifact() if record and record.key == spec.key else \
            f"key:{spec.key}"
    deployed = all(s.ok for s in report.steps)
    tests = {"deploy": "passed" if deployed else "failed",
             "smoke": report.smoke.status if report.smoke else "skipped",
             "e2e": report.e2e}
    root = opened.root
    digest = digest_text(root.components_file.read_bytes(), opened.file.read_bytes())
    environment = opened.project.environment
    return new_lockfile(
        environment=environment.name, status=report.status,
        sources={n: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version,
                     "pinned_by": s.pin} for n, s in resolution.sources.items()},
        artifacts=artifacts, tests=tests, mode=environment.mode,
        manifest_digest=f"sha256:{digest}", build_keys=keys,
        replay_of=replay.name if replay else None,
        approval=None if approval is None else {
            "commit": approval.commit, "kind": approval.kind, "approver": approval.approver,
            "detail": approval.detail},
        note=report.problem or None)


# --- SPEC §6a: what an interrupted deploy stage records ---------------------------------------


def _interrupted(report: DeployReport, planned: int, smoke: bool,
                 stop: Interrupted | None) -> dict[str, Any]:
    """What a lockfile of a deploy stage ``stop`` cut short says beyond ``_lockfile``'s.

    The report becomes failed, naming the stage (``deploy``, ``smoke`` or ``e2e``) the
    signal stopped, which is ``interrupted`` in ``tests``; None: nothing to add.
    """
    if stop is None:
        return {}
    if len(report.steps) < planned or not all(s.ok for s in report.steps):
        stage_name = "deploy"
        tests = {"deploy": "interrupted", "smoke": "skipped", "e2e": "skipped"}
    elif smoke and report.smoke is None:
        stage_name = "smoke"
        tests = {"deploy": "passed", "smoke": "interrupted", "e2e": "skipped"}
    else:
        stage_name = "e2e"
        tests = {"deploy": "passed", "smoke": report.smoke.status if report.smoke else "skipped",
                 "e2e": "interrupted"}
    report.status = "failed"
    report.problem = f"stopped by {stop.signal} during the {stage_name} stage"
    return {"tests": tests, "interrupted": stop.signal}
