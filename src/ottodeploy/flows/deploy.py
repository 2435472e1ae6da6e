"""``inv deploy``: check -> build or verify -> deploy -> smoke -> e2e -> lockfile.

1. check: the environment is opened once with its manifests validated;
   where it requires approval, its deploy definition must be a verified
   approval and a replayed lockfile must be the committed record (SPEC §6a,
   before any repo is read); every ref is resolved (or the lockfile's exact
   SHAs are taken, when replaying); the compatibility matrix holds; every host
   a deploy step needs has an address and every secret it names is set.
   Nothing is locked or written before this passes.
2. The environment's deploy and build locks are taken (kernel locks: one
   deploy at a time, and no build of the environment meanwhile).
3. build: the whole cascade through doit (branch mode builds what changed;
   released sources only verify that their images exist). A replay asks for the
   lockfile's digests: what is stored or in a registry is used as it is, what
   is not is rebuilt and compared; an approval-required environment refuses
   bytes that did not come out the same (``reproduced: false``), before anything
   is deployed.
4. What the build recorded is read once (``artifacts.recorded``): from here on
   the deploy works from those digests only.
5. deploy, smoke, e2e (``flows.stages``): components whose deploy fingerprint
   did not change since the newest lockfile are left as they are (``--all``
   redeploys them); smoke and e2e always run in full. ``--only`` deploys the
   named components and carries the rest over from the current lockfile
   (``flows.subset``).
6. lockfile: written whenever the deploy stage was reached: ``healthy`` only
   when deploy, smoke and e2e passed, else ``failed`` (and exit 1); it names
   every artifact by digest and every component as deployed or unchanged.

The record is never lost (SPEC §6a): ``lockfiles/`` must be writable before
anything is locked; should writing fail anyway, the lockfile is kept under
``.ottodeploy/<env>/`` and printed in full (exit 1). SIGINT or SIGTERM during
the deploy stage stops the running step's process group (``interrupts``) and
writes a ``failed`` lockfile with ``interrupted`` and the stage it cut short
(``deploy``, ``smoke`` or ``e2e`` in ``tests``); before it, nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import engine, interrupts
from ..artifacts import Recorded, recorded
from ..build import Wanted
from ..core.approvals import Approval
from ..core.compat import violations
from ..core.errors import (
    BuildError,
    CompatibilityError,
    DeployError,
    Interrupted,
    OttodeployError,
    RecordError,
)
from ..core.keys import digest_text
from ..core.lockmodels import LockedArtifact, LockedComponent, Lockfile
from ..definition import definition_digest
from ..environment import OpenEnvironment, open_environment
from ..lockfile import LockedFile, current, new_lockfile, require_writable, write_new_or_keep
from ..reporting import Reporter, note, stage
from ..root import DeployRoot
from ..smoke import expand
from ..state import build_lock, env_lock
from . import stages, subset
from .stages import DeployReport

__all__ = ["DeployReport", "deploy"]


def deploy(root: DeployRoot, env: str, *, reporter: Reporter, dry_run: bool = False,
           replay: LockedFile | None = None, jobs: int = 1,
           everything: bool = False, only: Sequence[str] = ()) -> DeployReport:
    from ..approval import require_approval
    from ..notify import notify
    from ..resolve import resolve, resolve_locked

    stage(reporter, "check", env)
    opened = open_environment(root, env, validate=True, resolve=False)
    project = opened.project
    carried = None
    if only:
        only = subset.named(opened, only)
        carried = subset.carried_lockfile(root, opened.name)
    approval = None
    if project.environment.approval_required:  # before any repo is read for a replay
        approval = require_approval(project, replay=replay, carried=carried,
                                    say=lambda t: note(reporter, t))
    resolution = resolve_locked(project, replay) if replay else resolve(project)
    if carried is not None:
        resolution = subset.mixed(resolution, carried.lock, only)
        note(reporter, f"   deploying {', '.join(only)}; the rest as {carried.name} has it")
    opened = opened.with_resolution(resolution)
    found = violations(opened.compatibility, resolution.versions())
    if found:
        raise CompatibilityError([str(v) for v in found])
    steps = stages.plan_steps(opened)  # a host the manifest lacks is bad input, found here
    if only:
        steps = [step for step in steps if step[0] in only]
    # so is a smoke URL that is no http(s) URL once filled in
    expand(project.environment.smoke, {n: s.fields() for n, s in resolution.sources.items()},
           opened.hosts)
    if not dry_run:
        stages.require_secrets(opened, steps)
        require_writable(root)  # SPEC §6a: the record can be written, before anything runs
    note(reporter, f"   {len(resolution.sources)} sources resolved, compatibility ok")
    if dry_run:
        stages.dry_run(opened, steps, reporter, _wanted(opened, replay or carried))
        return DeployReport(opened.name, status="dry-run")

    with env_lock(opened.state, f"deploy {opened.name}"), \
            build_lock(opened.state, f"deploy {opened.name}"):
        notify(root, "deploy-started", env=opened.name, versions=resolution.versions())
        built = _build(opened, replay or carried, reporter, jobs,
                       subset.tasks(opened, only) if only else [])
        if built.not_reproduced and project.environment.approval_required:
            notify(root, "deploy-failed", env=opened.name, detail="not reproduced")
            raise DeployError(
                f"{', '.join(built.not_reproduced)} rebuilt at the locked SHAs into other "
                f"bytes than {replay.name if replay else 'the lockfile'} names; "
                f"{opened.name} requires approval, and these bytes were not approved",
                hint="make the recipe reproducible, or promote and approve the new build")
        # --- SPEC §6a: the deploy stage ends in a record, also when a signal stops it
        report = DeployReport(opened.name)
        newest = current(root, opened.name)
        previous = dict(newest.lock.components) if newest is not None else {}
        crashed: list[Exception] = []
        with interrupts.deferred():
            stop = interrupts.attempt(lambda: _deploy_and_test(
                opened, steps, built, previous, report, reporter, everything, crashed))
            stopped = _interrupted(report, bool(project.environment.smoke), stop)
            lock = _lockfile(opened, built, report, replay, approval,
                             subset.lockfile_fields(opened, carried, built, only)
                             if carried else {}).model_copy(update=stopped)
            written = write_new_or_keep(root, lock)
            report.lockfile = written.path
            reporter.emit("lockfile", path=written.shown(root), status=report.status)
            event = "deploy-succeeded" if report.status == "healthy" else "deploy-failed"
            notify(root, event, env=opened.name, versions=resolution.versions(),
                   detail=report.problem or written.name)
            if stop is not None:
                raise stop.with_detail(f"deploy of {opened.name} {report.problem}; "
                                       + written.where(root), extra=written.in_full())
            if crashed and not isinstance(crashed[0], OttodeployError):
                raise crashed[0]  # a defect: its traceback, after the record is written
            if written.problem:
                raise RecordError(f"deploy of {opened.name} {report.status}"
                                  + (f" ({report.problem})" if report.problem else "")
                                  + f", but {written.where(root)}\n{written.in_full()}")
        # ---
    if report.status != "healthy":
        hint = f"lockfile {written.shown(root)} records it as failed"
        kept = [n for n, c in report.components.items() if c.deployed == "unchanged"]
        if kept and report.reached in ("smoke", "e2e"):
            hint += (f"; {', '.join(kept)} {'was' if len(kept) == 1 else 'were'} not "
                     "redeployed (deployed as before); if what runs is not what was "
                     f"deployed, inv deploy {opened.name} --all redeploys every component")
        raise DeployError(f"deploy of {opened.name} failed: {report.problem}", hint=hint)
    return report


def _deploy_and_test(opened: OpenEnvironment, steps: list[stages.PlannedStep],
                     built: Recorded, previous: dict[str, LockedComponent],
                     report: DeployReport, reporter: Reporter, everything: bool,
                     crashed: list[Exception]) -> None:
    """The deploy stage and the tests; an error in them is recorded as their failure."""
    try:
        if stages.run_steps(opened, steps, built, previous, report, reporter,
                            everything=everything):
            stages.run_tests(opened, report, reporter)
    except Exception as exc:  # the lockfile records it; the caller raises it again
        crashed.append(exc)
        report.status, report.crashed = "failed", report.reached or "deploy"
        report.problem = f"the {report.crashed} stage failed: {exc}"


def _build(opened: OpenEnvironment, replay: LockedFile | None, reporter: Reporter,
           jobs: int, tasks: list[str]) -> Recorded:
    """The cascade (or ``tasks`` and what they need) built or verified; its digests, read once."""
    from ..notify import notify

    mode = "build" if opened.project.environment.mode == "branch" else "verify released images"
    stage(reporter, mode)
    run = engine.run(opened, tasks, reporter, jobs, wanted=_wanted(opened, replay))
    if run.code != 0:
        notify(opened.root, "deploy-failed", env=opened.name, detail="build failed")
        raise BuildError(f"build of {opened.name} failed; nothing was deployed and no "
                         "lockfile written")
    built = opened.project.graph.upstream(tasks) if tasks else opened.specs
    return recorded(engine.context(run), [opened.specs[t] for t in built])


def _wanted(opened: OpenEnvironment, replay: LockedFile | None) -> dict[str, Wanted]:
    """A replayed lockfile's digests, for the tasks whose build key is still the locked one."""
    if replay is None:
        return {}
    return {task: Wanted(entry.digest, entry.key)
            for task, entry in replay.lock.artifacts.items()
            if isinstance(entry, LockedArtifact) and task in opened.specs
            and entry.key == opened.specs[task].key}


def _lockfile(opened: OpenEnvironment, built: Recorded, report: DeployReport,
              replay: LockedFile | None, approval: Approval | None,
              carried: Mapping[str, Any]) -> Lockfile:
    tests = {"deploy": "passed" if all(s.ok for s in report.steps) else "failed",
             "smoke": report.smoke.status if report.smoke else "skipped",
             "e2e": report.e2e}
    if report.crashed:
        tests[report.crashed] = "failed"
    root = opened.root
    digest = digest_text(root.components_file.read_bytes(), opened.file.read_bytes())
    environment = opened.project.environment
    assert opened.resolution is not None
    components = {**carried.get("components", {}),
                  **{n: c.model_dump(exclude_none=True) for n, c in report.components.items()}}
    return new_lockfile(
        environment=environment.name, status=report.status,
        sources={n: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version,
                     "pinned_by": s.pin} for n, s in opened.resolution.sources.items()},
        artifacts=carried.get("artifacts", built.entries), tests=tests, mode=environment.mode,
        manifest_digest=f"sha256:{digest}",
        build_keys=carried.get("build_keys",
                               {task: spec.key for task, spec in opened.specs.items()}),
        definition_digest=definition_digest(root, environment.name, opened.project.components),
        components=components, carried_from=carried.get("carried_from"),
        replay_of=replay.name if replay else None,
        approval=None if approval is None else {
            "commit": approval.commit, "kind": approval.kind, "approver": approval.approver,
            "detail": approval.detail},
        note=report.problem or None)


# --- SPEC §6a: what an interrupted deploy stage records ---------------------------------------


def _interrupted(report: DeployReport, smoke: bool, stop: Interrupted | None) -> dict[str, Any]:
    """What a lockfile of a deploy stage ``stop`` cut short says beyond ``_lockfile``'s.

    The report becomes failed, naming the stage (``deploy``, ``smoke`` or ``e2e``) the
    signal stopped (the last one ``flows.stages`` began), which is ``interrupted`` in
    ``tests``; None: nothing to add.
    """
    if stop is None:
        return {}
    if report.reached in ("", "deploy") or not all(s.ok for s in report.steps):
        stage_name = "deploy"
        tests = {"deploy": "interrupted", "smoke": "skipped", "e2e": "skipped"}
    elif report.reached == "smoke" or (smoke and report.smoke is None):
        stage_name = "smoke"
        tests = {"deploy": "passed", "smoke": "interrupted", "e2e": "skipped"}
    else:
        stage_name = "e2e"
        tests = {"deploy": "passed", "smoke": report.smoke.status if report.smoke else "skipped",
                 "e2e": "interrupted"}
    report.status = "failed"
    report.problem = f"stopped by {stop.signal} during the {stage_name} stage"
    return {"tests": tests, "interrupted": stop.signal}
