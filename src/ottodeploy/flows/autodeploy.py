"""``inv auto-deploy``: branch environments follow their branches (SPEC §6b).

Which environments: the named ones (``--env``; any of them, ``auto_deploy`` or not), else
every environment of the root, of which only those whose manifest says
``auto_deploy: true`` may be deployed (the others are reported ``skipped``). With
``--component C --ref R`` (a push announced by C's repository) only the environments
whose source C follows ref R (``ref: R`` in the manifest; a former name of C counts as C)
are looked at.

For each, in name order:

1. Its state today: every source resolved (one ``git ls-remote`` per repo, as a deploy
   does) and the fingerprint of its deploy definition (``definition.definition_digest``).
2. Its state deployed: its newest healthy lockfile, by timestamp. *Sources moved* when a
   source's repo or SHA differs from the lockfile's, or a source was added or removed.
   *The definition changed* when the lockfile's ``definition_digest`` differs from
   today's; a lockfile written before that field is compared by its ``manifest_digest``
   (``components.yaml`` and the environment's file), one with neither counts as changed.
   No healthy lockfile at all: never deployed, so everything changed.
3. The decision:
   - nothing differs: ``up-to-date``. Bursts coalesce here: the run that deployed the
     newest SHAs leaves nothing for the runs the later pushes started.
   - the newest lockfile of the environment (healthy or not) is a failed deploy of
     exactly this state, not one cut short by a signal: ``skipped``. A failing state is
     not deployed again on every run; a new commit, a definition change or
     ``inv deploy ENV`` tries again.
   - ``approval_required``: moved sources alone never deploy it (``skipped``, saying what
     moved); a changed definition deploys it only when ``trust.gate`` finds the
     definition's newest change a verified approval (DESIGN.md §7: "Approved, merged ->
     production deployment runs"), else ``skipped`` with the gate's reason.
   - otherwise ``deploy``: ``flows.deploy.deploy`` runs (its progress goes to the same
     reporter) unless ``dry_run``. A held kernel lock (another deploy or build of the
     environment) is ``busy``: the holder deploys the newer state, or the next run will.
4. A failure while looking at one environment (a broken manifest, a repo that cannot be
   reached) is reported on it, as ``skipped`` with the error, and the others go on.

Every decision is reported as a ``decision`` event (``environment``, ``action``,
``reason``, ``lockfile``); an environment that turned out busy gets a second one.
``raise_for`` turns the report into the exit status after it was rendered: a deploy that
failed, or an environment that could not be looked at, raises its error (exit 1; bad
input stays exit 2); ``skipped``, ``busy`` and ``up-to-date`` are all exit 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.approvals import Approval
from ..core.errors import ApprovalError, BadInput, LockHeld, OttodeployError, UsageError
from ..core.keys import digest_text
from ..core.models import ComponentsFile, Environment
from ..core.sources import Resolution
from ..lockfile import LockedFile, read
from ..reporting import Reporter, warn
from ..root import DeployRoot

Action = Literal["up-to-date", "deploy", "skipped", "busy"]


@dataclass
class Outcome:
    """What auto-deploy did with one environment, and why."""

    environment: str
    action: Action
    reason: str
    lockfile: str | None = None     # file name in lockfiles/: the new one, else the current
    status: str | None = None       # of a deploy: healthy | failed | dry-run
    error: OttodeployError | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "reason": self.reason,
                               "lockfile": self.lockfile}
        if self.status is not None:
            out["status"] = self.status
        if self.error is not None:
            out["exit_code"] = self.error.exit_code
        return out


@dataclass
class AutoDeployReport:
    environments: dict[str, Outcome] = field(default_factory=dict)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"environments": {n: o.to_json() for n, o in self.environments.items()},
                "dry_run": self.dry_run}


@dataclass(frozen=True)
class Push:
    """A push a component's repository announced: component C's branch R moved."""

    component: str
    ref: str


def auto_deploy(root: DeployRoot, envs: Sequence[str] = (), *, component: str | None = None,
                ref: str | None = None, dry_run: bool = False,
                reporter: Reporter) -> AutoDeployReport:
    named = [root.environment(e) for e in dict.fromkeys(_split(envs))]
    push = announced_push(root, component, ref)
    history = _lockfiles(root, reporter)
    report = AutoDeployReport(dry_run=dry_run)
    for name in named or root.environments():
        try:
            outcome = _follow(root, name, named=bool(named), push=push,
                              history=history.get(name, []), dry_run=dry_run, reporter=reporter)
        except OttodeployError as exc:
            outcome = Outcome(name, "skipped", f"cannot tell whether it moved: {exc.message}",
                              error=exc)
            _decided(reporter, outcome)
        report.environments[name] = outcome
    return report


def raise_for(report: AutoDeployReport) -> None:
    """The report's exit status: its errors raised (one as it is, several as one)."""
    errors = [(o.environment, o.error) for o in report.environments.values() if o.error]
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0][1]
    kind = BadInput if all(isinstance(e, BadInput) for _, e in errors) else OttodeployError
    raise kind(f"auto-deploy: {len(errors)} environments failed:\n"
               + "\n".join(f"  {env}: {e.message}" for env, e in errors))


def announced_push(root: DeployRoot, component: str | None, ref: str | None) -> Push | None:
    """``--component``/``--ref`` checked (both or neither, a known component, a valid ref)."""
    from ..aliases import alias_table, canonical_name
    from ..core.refnames import ref_problem
    from ..manifests import load_components

    if component is None and ref is None:
        return None
    if component is None or ref is None:
        raise UsageError("--component and --ref go together: the component whose branch moved "
                         "and that branch")
    ref = ref.removeprefix("refs/heads/")
    if problem := ref_problem(ref):
        raise UsageError(f"--ref {ref!r}: {problem}")
    components = load_components(root)[0]
    name = canonical_name(component, alias_table(components))
    if name not in components.components:
        raise UsageError(f"--component {component!r} is not a component of "
                         f"{root.display(root.components_file)}",
                         hint="components: " + ", ".join(components.components))
    return Push(name, ref)


def _split(envs: Sequence[str]) -> list[str]:
    return [e.strip() for text in envs for e in text.split(",") if e.strip()]


def _follow(root: DeployRoot, name: str, *, named: bool, push: Push | None,
            history: list[LockedFile], dry_run: bool, reporter: Reporter) -> Outcome:
    from ..definition import definition_digest
    from ..environment import open_environment
    from ..resolve import resolve

    project = open_environment(root, name, resolve=False).project
    env = project.environment
    healthy = next((f for f in reversed(history) if f.lock.status == "healthy"), None)
    current = healthy.name if healthy else None

    def outcome(action: Action, reason: str, status: str | None = None) -> Outcome:
        return _decided(reporter, Outcome(name, action, reason, current, status))

    if not named and not env.auto_deploy:
        return outcome("skipped", "auto_deploy is false; name it with --env to deploy it "
                                  "anyway")
    if push is not None and not _follows(env, push):
        return outcome("skipped", f"does not follow {push.component} at {push.ref}")
    resolution = resolve(project)
    state = _State(resolution, definition_digest(root, name, project.components),
                   _manifest_digest(root, name))
    changes = state.changes_since(healthy)
    if not changes:
        return outcome("up-to-date", f"at the SHAs and deploy definition of {current}")
    newest = history[-1] if history else None
    if newest is not None and newest.lock.status == "failed" \
            and newest.lock.interrupted is None and not state.changes_since(newest):
        return outcome("skipped", f"the last deploy of exactly this state failed "
                                  f"({newest.name}); a new commit or definition change tries "
                                  f"again, as does inv deploy {name}")
    if env.approval_required:
        verdict = _approved(root, name, project.components, healthy, state)
        if isinstance(verdict, str):
            return outcome("skipped", verdict)
        changes = [*changes, verdict.describe()]
    reason = "; ".join(changes)
    if dry_run:
        return outcome("deploy", reason, "dry-run")
    outcome("deploy", reason)
    return _deploy(root, name, reason, current, reporter)


def _follows(env: Environment, push: Push) -> bool:
    source = env.sources.get(push.component)
    return source is not None and source.ref == push.ref


@dataclass(frozen=True)
class _State:
    """An environment's state today, as a lockfile would record it."""

    resolution: Resolution
    definition: str
    manifest: str

    def changes_since(self, locked: LockedFile | None) -> list[str]:
        """What differs from ``locked``, one phrase per change; empty when nothing does."""
        if locked is None:
            return ["never deployed (no healthy lockfile)"]
        out = self.moved_since(locked)
        if self.redefined_since(locked):
            out.append("deploy definition changed")
        return out

    def moved_since(self, locked: LockedFile) -> list[str]:
        then = locked.lock.sources
        out = []
        for n, s in self.resolution.sources.items():
            was = then.get(n)
            if was is None:
                out.append(f"{n} added ({s.ref} {s.sha[:7]})")
            elif was.repo != s.repo:
                out.append(f"{n} now from {s.repo} ({s.ref} {s.sha[:7]})")
            elif was.sha != s.sha:
                out.append(f"{n} {s.ref} {was.sha[:7]} -> {s.sha[:7]}")
        out += [f"{n} removed" for n in sorted(then.keys() - self.resolution.sources.keys())]
        return out

    def redefined_since(self, locked: LockedFile) -> bool:
        lock = locked.lock
        if lock.definition_digest is not None:
            return lock.definition_digest != self.definition
        if lock.manifest_digest is not None:
            return lock.manifest_digest != self.manifest
        return True


def _approved(root: DeployRoot, name: str, components: ComponentsFile,
              healthy: LockedFile | None, state: _State) -> Approval | str:
    """The approval an approval-required deploy would stand on, or why there is none."""
    from ..trust import gate, how_to_approve

    if healthy is not None and not state.redefined_since(healthy):
        moved = ", ".join(state.moved_since(healthy))
        return (f"approval required: {moved}, but a moved branch never deploys {name}; its "
                f"deploy definition is unchanged since {healthy.name} (to deploy it, "
                f"{how_to_approve(name)})")
    try:
        return gate(root, name, components)
    except ApprovalError as exc:
        return f"deploy definition changed, but not approved: {exc.message}"


def _deploy(root: DeployRoot, name: str, reason: str, current: str | None,
            reporter: Reporter) -> Outcome:
    from .deploy import deploy

    before = _names(root)
    try:
        result = deploy(root, name, reporter=reporter)
    except LockHeld as exc:
        return _decided(reporter, Outcome(name, "busy", exc.message, current))
    except OttodeployError as exc:
        written = _written(root, name, before)
        return Outcome(name, "deploy", reason, written.name if written else None, "failed",
                       error=exc)
    lockfile = result.lockfile.name if result.lockfile else None
    return Outcome(name, "deploy", reason, lockfile, result.status)


def _decided(reporter: Reporter, outcome: Outcome) -> Outcome:
    reporter.emit("decision", environment=outcome.environment, action=outcome.action,
                  reason=outcome.reason, lockfile=outcome.lockfile)
    return outcome


def _manifest_digest(root: DeployRoot, name: str) -> str:
    """What ``inv deploy`` records as ``manifest_digest``: components.yaml and the env file."""
    parts = (root.components_file.read_bytes(), root.env_file(name).read_bytes())
    return f"sha256:{digest_text(*parts)}"


# --- lockfiles -------------------------------------------------------------------------------


def _lockfiles(root: DeployRoot, reporter: Reporter) -> dict[str, list[LockedFile]]:
    """Every readable lockfile by environment, oldest first; an unreadable one is skipped."""
    out: dict[str, list[LockedFile]] = {}
    for path in _paths(root):
        try:
            locked = read(root, path)
        except BadInput as exc:
            warn(reporter, f"skipping lockfile {root.display(path)}: {exc.message}")
            continue
        out.setdefault(locked.lock.environment, []).append(locked)
    for files in out.values():
        files.sort(key=lambda f: (f.lock.timestamp, f.path.stat().st_mtime_ns, f.name))
    return out


def _paths(root: DeployRoot) -> list[Path]:
    return sorted(root.lockfiles.glob("*.yaml")) if root.lockfiles.is_dir() else []


def _names(root: DeployRoot) -> set[str]:
    return {p.name for p in _paths(root)}


def _written(root: DeployRoot, name: str, before: set[str]) -> LockedFile | None:
    """The lockfile of ``name`` a deploy wrote since ``before`` was listed, if any."""
    for path in _paths(root):
        if path.name not in before:
            try:
                locked = read(root, path)
            except BadInput:
                continue
            if locked.lock.environment == name:
                return locked
    return None
