"""``inv deploy``: check -> build or verify -> deploy -> smoke -> e2e -> lockfile.

1. check: the manifests, every ref (or the lockfile's exact SHAs when
   replaying), the compatibility matrix and, where the environment requires
   it, the approval of the manifest's last change. Nothing is locked or
   written before this passes.
2. The environment's deploy lock is taken (one deploy at a time).
3. build: the whole cascade through doit (branch mode builds what changed;
   released sources only verify that their images exist).
4. deploy: components in cascade order, each to its hosts (``deploy.on``)
   through the environment's target, with the build's ``OTTO_*`` variables and
   the exact image reference. The first failing host stops the deploy.
5. smoke and e2e, only when everything before passed.
6. lockfile: written whenever the deploy stage was reached: ``healthy`` only
   when deploy, smoke and e2e passed, else ``failed`` (and exit 1).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cascade import var_name, variables
from .compat import violations
from .errors import BuildError, CompatibilityError, DeployError
from .inventory import Host, Inventory, host_variables, inventory
from .lockfile import LockedFile, new_lockfile, write_new
from .manifests import Project, load_compatibility, load_hosts, load_project
from .models import Lockfile
from .resolve import Resolution, resolve
from .root import DeployRoot
from .smoke import SmokeResult, run_checks
from .state import Records, env_lock
from .targets import LocalTarget, SshTarget, Step, StepResult, run_once, secrets_for
from .taskgen import LoadedCascade, load_cascade, run_doit

Say = Callable[[str], None]


@dataclass
class DeployReport:
    environment: str
    status: str = "not deployed"          # healthy | failed | dry-run | not deployed
    lockfile: Path | None = None
    steps: list[StepResult] = field(default_factory=list)
    smoke: SmokeResult | None = None
    e2e: str = "skipped"
    problem: str = ""


def deploy(root: DeployRoot, env: str, *, say: Say, dry_run: bool = False,
           replay: LockedFile | None = None, jobs: int = 1) -> DeployReport:
    from .approval import require_approval
    from .notify import notify

    say(f"== check {env}")
    project = load_project(root, env)
    matrix = load_compatibility(root, project.components)
    hosts = inventory(project.environment, load_hosts(root))
    resolution = resolution_of(project, replay) if replay else resolve(project)
    found = violations(matrix, resolution.versions())
    if found:
        raise CompatibilityError([str(v) for v in found])
    steps = _steps_plan(project, hosts)  # a host the manifest lacks is bad input, found here
    if not dry_run:
        _require_secrets(project, steps)
    if project.environment.approval_required:
        require_approval(root, env, replay=replay, say=say)
    say(f"   {len(resolution.sources)} sources resolved, compatibility ok")
    cascade = load_cascade(root, env, resolution=resolution)
    if dry_run:
        _dry_run(cascade, project, steps, say)
        return DeployReport(env, status="dry-run")

    with env_lock(root.env_state(env), f"deploy {env}", warn=lambda m: say(f"warning: {m}")):
        notify(root, "deploy-started", env=env, versions=resolution.versions())
        mode = "build" if project.environment.mode == "branch" else "verify released images"
        say(f"== {mode}")
        if run_doit(cascade, [], jobs) != 0:
            notify(root, "deploy-failed", env=env, detail="build failed")
            raise BuildError(f"build of {env} failed; nothing was deployed and no lockfile written")
        report = _deploy_and_test(root, project, cascade, hosts, steps, say)
        lock = _lockfile(project, cascade, resolution, report, replay)
        report.lockfile = write_new(root, lock)
        say(f"== lockfile {root.display(report.lockfile)} ({report.status})")
        event = "deploy-succeeded" if report.status == "healthy" else "deploy-failed"
        notify(root, event, env=env, versions=resolution.versions(),
               detail=report.problem or report.lockfile.name)
    if report.status != "healthy":
        raise DeployError(f"deploy of {env} failed: {report.problem}",
                          hint=f"lockfile {root.display(report.lockfile)} records it as failed")
    return report


def resolution_of(project: Project, replay: LockedFile) -> Resolution:
    """The lockfile's exact sources, checked against the environment's current sources."""
    from .errors import LockfileError
    from .git import Mirror, repo_url
    from .resolve import ResolvedSource, branch_version, parallel
    from .yamlfile import load

    lock = replay.lock
    env = project.environment

    def fail(problems: list[tuple[tuple[str, ...], str]]) -> LockfileError:
        doc = load(replay.path, project.root.display(replay.path))  # for the lines
        return LockfileError(doc.file, [doc.problem(path, text) for path, text in problems])

    missing = set(env.sources) - set(lock.sources)
    extra = set(lock.sources) - set(env.sources)
    if missing or extra:
        what = ", ".join([*(f"{n} (not in the lockfile)" for n in sorted(missing)),
                          *(f"{n} (not in {env.name} any more)" for n in sorted(extra))])
        raise fail([(("sources",), f"cannot replay: {what}")])
    urls = {name: repo_url(lock.sources[name].repo, project.root.path) for name in env.sources}

    def version_of(name: str) -> str | None:
        """The locked version; for a lockfile that names none (DESIGN.md §6's example
        leaves most out), SPEC §3's version of the locked commit, as a deploy computes it."""
        s = lock.sources[name]
        if s.version:
            return s.version
        mirror = Mirror(project.root.cache, urls[name])
        return branch_version(mirror, s.sha) if mirror.ensure_commit(s.sha) else None

    names = list(env.sources)
    versions = dict(zip(names, parallel(version_of, names), strict=True))
    unknown = [n for n in names if versions[n] is None]
    if unknown:
        raise fail([(("sources", n, "sha"),
                     f"commit {lock.sources[n].sha} not found in {lock.sources[n].repo}")
                    for n in unknown])
    sources = {}
    for name in names:
        s = lock.sources[name]
        pin = s.pinned_by or ("version" if env.mode == "version" else "ref")
        sources[name] = ResolvedSource(name, s.repo, urls[name], pin, s.ref or s.sha, s.sha,
                                       versions[name] or "", "")
    return Resolution(env.name, sources)


def _dry_run(cascade: LoadedCascade, project: Project,
             steps: list[tuple[str, Host | None, str]], say: Say) -> None:
    from .plan import plan

    result = plan(cascade.env, cascade.specs, Records(cascade.env_state))
    say(f"== build (dry run): {len(result.to_run)} of {len(result.tasks)} tasks would run")
    for t in result.tasks:
        if t.run:
            say(f"   {t.task}: {'; '.join(t.reasons)}")
    say("== deploy (dry run)")
    for component, host, run in steps:
        where = f"{host.name} ({host.address})" if host else "once, on this machine"
        say(f"   {component} -> {where}: {run}")
    say(f"== smoke (dry run): {len(project.environment.smoke)} checks")
    if project.environment.e2e:
        say(f"== e2e (dry run): {project.environment.e2e.run}")
    say("dry run: nothing was built, deployed or written")


def _steps_plan(project: Project, hosts: Inventory) -> list[tuple[str, Host | None, str]]:
    """(component, host, run) in deploy order; host None for a once step (run here)."""
    out: list[tuple[str, Host | None, str]] = []
    for component in project.graph.component_order:
        spec = project.components.components[component].deploy
        if spec is None or spec.on == "none" or spec.run is None:
            continue
        targets = list(hosts.nodes) if spec.on == "nodes" else (
            [hosts.services_host] if hosts.services_host else [])
        if not targets:
            from .errors import BadInput

            env = project.environment.name
            key = "nodes" if spec.on == "nodes" else "services_host"
            raise BadInput(f"{project.root.display(project.root.env_file(env))}: "
                           f"infrastructure.{key}: component {component} deploys on {spec.on} "
                           f"(manifests/components.yaml), but environment {env} names none",
                           hint=f"set infrastructure.{key} in the environment's manifest")
        if spec.once:
            out.append((component, None, spec.run))
        else:
            out += [(component, h, spec.run) for h in targets]
    return out


def _require_secrets(project: Project, steps: list[tuple[str, Host | None, str]]) -> None:
    """Every secret a deploy step names (deploy.env) is set, before anything is locked or built."""
    from .errors import BadInput

    for component in dict.fromkeys(c for c, _, _ in steps):
        spec = project.components.components[component].deploy
        assert spec is not None
        _, missing = secrets_for(spec.env, os.environ)
        if missing:
            raise BadInput(f"manifests/components.yaml: components.{component}.deploy.env: "
                           f"{', '.join(missing)} not set in the environment",
                           hint="set them (e.g. from the CI secrets) before deploying")


def component_variables(cascade: LoadedCascade, component: str) -> dict[str, str]:
    """The build's variables for one component, with its artifacts' exact references."""
    records = Records(cascade.env_state)
    src = cascade.resolution.sources[component]
    env = {"OTTO_ENV": cascade.env, "OTTO_COMPONENT": component, "OTTO_REPO": src.repo,
           "OTTO_REF": src.ref, "OTTO_SHA": src.sha, "OTTO_SHORT_SHA": src.sha[:7],
           "OTTO_VERSION": src.version}
    for spec in cascade.specs.values():
        if spec.component != component:
            continue
        env[f"OTTO_OUT_{var_name(spec.artifact)}"] = spec.out_dir
        for k, v in variables(cascade.env, spec, cascade.specs).items():
            if k.startswith("OTTO_DEP_") and "_OUT_" not in k and "_IMAGE_" not in k:
                env[k] = v
        record = records.get(spec.task)
        if spec.image_ref:
            exact = record.artifact() if record and record.key == spec.key else spec.image_ref
            env[f"OTTO_IMAGE_{var_name(spec.artifact)}"] = exact
            env.setdefault("OTTO_IMAGE", exact)
    return env


def _deploy_and_test(root: DeployRoot, project: Project, cascade: LoadedCascade,
                     hosts: Inventory, steps: list[tuple[str, Host | None, str]],
                     say: Say) -> DeployReport:
    from .remote import Remote, config_for

    env = project.environment
    report = DeployReport(env.name)
    target: LocalTarget | SshTarget
    if env.infrastructure.target == "local":
        target = LocalTarget(root.path, dict(os.environ))
    else:
        target = SshTarget(env.infrastructure.ssh, root.path, dict(os.environ))
    say("== deploy")
    for component, host, run in steps:
        spec = project.components.components[component].deploy
        assert spec is not None
        variables = {**component_variables(cascade, component), **host_variables(hosts, host),
                     "OTTO_REMOTE_DIR": spec.remote_dir}
        secrets, _ = secrets_for(spec.env, os.environ)
        step = Step(component, host, run, variables,
                    [root.path / f for f in spec.files], spec.remote_dir, spec.timeout, secrets)
        say(f"-> {component} on {step.where}")
        if host is None:
            result = run_once(step, root.path, os.environ,
                              config_for(env.infrastructure, hosts, list(spec.env)),
                              _prefixed(say, f"  {component} | "))
        else:
            result = target.deploy(step, _prefixed(say, f"  {component}@{host.name} | "))
        report.steps.append(result)
        if not result.ok:
            report.status, report.problem = "failed", result.message
            say(f"   FAILED: {result.message}")
            return report
    values = {n: s.fields() for n, s in cascade.resolution.sources.items()}
    if env.smoke:
        say(f"== smoke ({len(env.smoke)} checks)")
        report.smoke = run_checks(env.smoke, values, hosts,
                                  Remote.for_environment(env.infrastructure, hosts))
        for r in report.smoke.results:
            say(f"   {'ok  ' if r.ok else 'FAIL'} {r.name}: {r.url}"
                + ("" if r.ok else f" ({r.message})"))
        if not report.smoke.ok:
            failed = next(r for r in report.smoke.results if not r.ok)
            report.status, report.problem = "failed", f"smoke check {failed.name}: {failed.message}"
            return report
    if env.e2e:
        say("== e2e")
        report.e2e = _run_e2e(root, cascade, hosts, env.e2e.run, env.e2e.timeout, say)
        if report.e2e != "passed":
            report.status, report.problem = "failed", f"e2e {report.e2e}: {env.e2e.run}"
            return report
    report.status = "healthy"
    return report


def _prefixed(say: Say, prefix: str) -> Say:
    return lambda line: say(prefix + line)


def _run_e2e(root: DeployRoot, cascade: LoadedCascade, hosts: Inventory, run: str,
             timeout: float, say: Say) -> str:
    from .process import stream

    variables = {"OTTO_ENV": cascade.env}
    for name, src in cascade.resolution.sources.items():
        variables[f"OTTO_{var_name(name)}_SHA"] = src.sha
        variables[f"OTTO_{var_name(name)}_VERSION"] = src.version
    if hosts.services_host:
        variables["OTTO_SERVICES_HOST"] = hosts.services_host.address
    variables["OTTO_NODES"] = ",".join(h.address for h in hosts.nodes)
    code, _ = stream(["bash", "-c", run], cwd=root.path, env={**os.environ, **variables},
                     on_line=lambda line: say(f"  e2e | {line}"), timeout=timeout)
    return "passed" if code == 0 else ("timed out" if code is None else "failed")


def _lockfile(project: Project, cascade: LoadedCascade, resolution: Resolution,
              report: DeployReport, replay: LockedFile | None) -> Lockfile:
    from .cascade import digest_text

    records = Records(cascade.env_state)
    artifacts = {}
    keys = {}
    for task, spec in cascade.specs.items():
        record = records.get(task)
        keys[task] = spec.key
        artifacts[task] = record.artifact() if record and record.key == spec.key else \
            f"key:{spec.key}"
    deployed = all(s.ok for s in report.steps)
    tests = {"deploy": "passed" if deployed else "failed",
             "smoke": report.smoke.status if report.smoke else "skipped",
             "e2e": report.e2e}
    root = project.root
    digest = digest_text(root.components_file.read_bytes(),
                         root.env_file(project.environment.name).read_bytes())
    return new_lockfile(
        environment=project.environment.name, status=report.status,
        sources={n: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version,
                     "pinned_by": s.pin} for n, s in resolution.sources.items()},
        artifacts=artifacts, tests=tests, mode=project.environment.mode,
        manifest_digest=f"sha256:{digest}", build_keys=keys,
        replay_of=replay.name if replay else None,
        note=report.problem or None)
