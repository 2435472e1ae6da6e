"""``inv site [--out DIR] [--offline]``: a static status site of the deploy root.

1. **Lockfiles.** Every file in ``lockfiles/`` is read and validated once; one
   that cannot be read is skipped with a warning and listed on the overview.
   Per environment they are ordered by ``timestamp``, then by the ``-N`` suffix
   of the name (never by modification time: a fresh checkout must give the same
   site).
2. **Overview.** One column per environment in promotion order
   (``core.overview``), from each one's newest lockfile, each component compared
   with the column to its left; for an approval-required environment who approved
   its current lockfile and when (the approval commit's date in the deploy repo).
3. **Environment pages.** The history newest first: health, verifications, and
   what each deploy changed against the one before, with the commits between
   read from the repo mirrors under ``.ottodeploy/cache/mirrors`` (as ``inv
   diff`` does). Online they are fetched when missing; ``--offline`` only uses
   mirrors that are there, and says "commits unknown" otherwise.
4. **Cascade pages.** Per environment the artifact graph, coloured by what the
   next build would run (``flows.build.plan_of``, as ``inv plan`` says): online
   with the refs resolved now; offline, or when resolving fails, with the
   current lockfile's sources against the last build records of
   ``.ottodeploy/<env>/`` — and the page says which. ``dot`` draws it.
5. **Compatibility.** The matrix, and every environment's current versions
   checked against it.
6. ``site.render`` writes it all into a fresh folder that replaces ``--out``
   (default ``site/`` under the deploy root).

Same inputs give the same bytes: no time of generation, everything sorted or in
cascade order, only relative links, no fonts or scripts from anywhere.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.errors import BadInput, GitError, OttodeployError, RefNotFound, ResolveError
from ..core.lockmodels import Lockfile
from ..core.overview import (
    Column,
    ComponentChange,
    artifacts_of,
    changes,
    column,
    compat_checks,
    health,
    promotion_order,
)
from ..core.sources import Resolution, ResolvedSource
from ..environment import OpenEnvironment, open_environment
from ..reporting import Reporter, Silent, note, stage, warn
from ..root import DeployRoot
from ..site.content import (
    CascadePage,
    CompatibilityPage,
    EnvironmentPage,
    LockEntry,
    PlannedNode,
    SiteContent,
    TaskState,
)

_SUFFIX = re.compile(r"-(\d+)\.yaml$")


@dataclass(frozen=True)
class SiteResult:
    out: Path
    files: list[str]
    skipped: list[str]


def build_site(root: DeployRoot, out: Path | None = None, *, offline: bool = False,
               reporter: Reporter | None = None) -> SiteResult:
    """Gather the site's values (see the module docstring) and write them to ``out``."""
    from ..site.render import check_out, write_site

    reporter = reporter or Silent()
    target = out if out is not None else root.path / "site"
    check_out(target)   # before anything is read or fetched
    stage(reporter, "site", "reading lockfiles")
    by_env, paths, skipped = _read_lockfiles(root, reporter)
    envs = promotion_order(root.environments())
    opened = {e: open_environment(root, e, resolve=False, keep_cascade=False) for e in envs}
    order = _component_order(opened, by_env)
    commits = _Commits(root, fetch=not offline)

    columns: list[Column] = []
    pages: list[EnvironmentPage] = []
    approved_at: dict[str, str] = {}
    for i, env in enumerate(envs):
        spec = opened[env].project.environment
        files = by_env.get(env, [])
        left = (envs[i - 1], by_env[envs[i - 1]][-1][1] if by_env.get(envs[i - 1]) else None) \
            if i else None
        columns.append(column(env, spec.mode, spec.approval_required,
                              files[-1] if files else None, left))
        entries = _entries(root, files, order, commits)
        if entries and entries[0].approved_at:
            approved_at[env] = entries[0].approved_at
        verifications = sorted(((e, v) for e in entries for v in e.lock.verifications),
                               key=lambda ev: (ev[1].at, ev[0].name), reverse=True)
        pages.append(EnvironmentPage(env, spec.mode, spec.approval_required,
                                     spec.description or "", entries, verifications))

    stage(reporter, "site", "planning the cascade")
    from ..site.graph import dot_available

    draw = dot_available()
    if not draw:
        warn(reporter, "Graphviz's dot is not installed: the cascade is not drawn "
                       "(apt-get install graphviz)")
    cascades = [_cascade(root, opened[e], by_env.get(e, []), offline, draw, reporter)
                for e in envs]
    content = SiteContent(
        components=order, columns=columns, environments=pages, cascades=cascades,
        compatibility=_compatibility(opened, envs, by_env),
        lockfiles={name: paths[name] for env_files in by_env.values() for name, _ in env_files},
        skipped=skipped, approved_at=approved_at)
    written = write_site(content, target)
    note(reporter, f"site written to {root.display(target)}/ ({len(written)} files)")
    return SiteResult(target, written, skipped)


def _read_lockfiles(root: DeployRoot, reporter: Reporter) \
        -> tuple[dict[str, list[tuple[str, Lockfile]]], dict[str, Path], list[str]]:
    from ..lockfile import read

    by_env: dict[str, list[tuple[str, Lockfile]]] = {}
    paths: dict[str, Path] = {}
    skipped: list[str] = []
    folder = root.lockfiles
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            lock = read(root, path).lock
        except BadInput as exc:
            text = f"{root.display(path)}: {exc}"
            warn(reporter, f"skipped unreadable lockfile {text}")
            skipped.append(text)
            continue
        by_env.setdefault(lock.environment, []).append((path.name, lock))
        paths[path.name] = path
    for files in by_env.values():
        files.sort(key=lambda f: (f[1].timestamp, _suffix(f[0]), f[0]))
    return by_env, paths, skipped


def _suffix(name: str) -> int:
    found = _SUFFIX.search(name)
    return int(found.group(1)) if found else 1


def _component_order(opened: dict[str, OpenEnvironment],
                     by_env: dict[str, list[tuple[str, Lockfile]]]) -> list[str]:
    """components.yaml's order (the cascade's), then components only lockfiles name."""
    declared: list[str] = []
    if opened:
        declared = list(next(iter(opened.values())).project.components.components)
    locked = {n for files in by_env.values() for _, lock in files for n in lock.sources}
    return declared + sorted(locked - set(declared))


def _entries(root: DeployRoot, files: list[tuple[str, Lockfile]], order: list[str],
             commits: _Commits) -> list[LockEntry]:
    entries = []
    for i, (name, lock) in enumerate(files):
        found = None
        if i:
            found = [commits.attach(c) for c in changes(files[i - 1][1], lock, order)]
        approved = _commit_date(root, lock.approval.commit) if lock.approval else ""
        present = set(lock.sources) | {t.partition("_")[0] for t in lock.artifacts}
        ranked = [c for c in order if c in present] + sorted(present - set(order))
        entries.append(LockEntry(name, lock, health(lock),
                                 [a for comp in ranked for a in artifacts_of(lock, comp)],
                                 found, approved))
    return entries[::-1]


def _commit_date(root: DeployRoot, commit: str) -> str:
    """The committer date of ``commit`` in the deploy repo (UTC), or "" when it is not there."""
    from ..git import git

    done = git(["log", "-1", "--format=%ct", commit, "--"], cwd=root.path, check=False)
    stamp = done.stdout.strip()
    if done.returncode != 0 or not stamp.isdigit():
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(stamp)))


class _Commits:
    """Commits between two locked SHAs of one repo, from its mirror (fetched when online)."""

    def __init__(self, root: DeployRoot, *, fetch: bool) -> None:
        self.root = root
        self.fetch = fetch
        self.known: dict[tuple[str, str, str], tuple[tuple[tuple[str, str], ...], ...] | None] \
            = {}

    def attach(self, change: ComponentChange) -> ComponentChange:
        if change.kind != "changed" or change.old is None or change.new is None \
                or change.old.repo != change.new.repo:
            return change
        key = (change.new.repo, change.old.sha, change.new.sha)
        if key not in self.known:
            self.known[key] = self._read(*key)
        found = self.known[key]
        return change if found is None else replace(change, ahead=found[0], behind=found[1])

    def _read(self, repo: str, old: str, new: str) \
            -> tuple[tuple[tuple[str, str], ...], ...] | None:
        from ..git import repo_url
        from ..mirror import Mirror

        mirror = Mirror(self.root.cache, repo_url(repo, self.root.path))
        try:
            if self.fetch:
                present = mirror.ensure_commit(old) and mirror.ensure_commit(new)
            else:
                present = mirror.has_commit(old) and mirror.has_commit(new)
            if not present:
                return None
            return (tuple(mirror.log_between(old, new)), tuple(mirror.log_between(new, old)))
        except OttodeployError:
            return None


# --- the cascade -----------------------------------------------------------------------------


def _cascade(root: DeployRoot, opened: OpenEnvironment, files: list[tuple[str, Lockfile]],
             offline: bool, draw: bool, reporter: Reporter) -> CascadePage:
    from ..site.graph import dot_source, svg
    from .build import plan_of

    env = opened.name
    graph = opened.project.graph
    plan, basis = None, ""
    why_offline = "offline (--offline)"
    if not offline:
        try:
            plan = plan_of(open_environment(root, env, keep_cascade=False))
            basis = (f"As inv plan {env} says it: the refs of {env} resolved when the site "
                     "was made, compared with the last build records here.")
        except (ResolveError, RefNotFound, GitError) as exc:
            why_offline = f"resolving {env} failed ({exc.message})"
            warn(reporter, f"cascade of {env}: {why_offline}; using the last records")
    if plan is None and files:
        name, lock = files[-1]
        if set(opened.project.environment.sources) <= set(lock.sources):
            plan = plan_of(opened.with_resolution(_locked_resolution(root, env, lock)))
            basis = (f"Without resolving refs — {why_offline}: the sources of {name} "
                     f"compared with the last build records of .ottodeploy/{env}/.")
        else:
            basis = (f"Not planned — {why_offline}, and {name} does not name every source "
                     f"of {env}.")
    elif plan is None:
        basis = f"Not planned — {why_offline}, and {env} has no lockfile to start from."
    planned = {t.task: t for t in plan.tasks} if plan else {}
    nodes = []
    for task, (comp, art) in graph.nodes.items():
        p = planned.get(task)
        state: TaskState = "unknown" if p is None else ("rebuild" if p.run else "up to date")
        nodes.append(PlannedNode(task, comp, art, state, tuple(p.reasons) if p else ()))
    drawing = svg(dot_source(nodes, graph.deps, graph.component_order)) if draw else None
    return CascadePage(env, basis, nodes, drawing)


def _locked_resolution(root: DeployRoot, env: str, lock: Lockfile) -> Resolution:
    from ..git import repo_url

    return Resolution(env, {
        name: ResolvedSource(name, s.repo, repo_url(s.repo, root.path),
                             s.pinned_by or ("version" if lock.mode == "version" else "ref"),
                             s.ref or s.sha, s.sha, s.version or "", "")
        for name, s in lock.sources.items()})


def _compatibility(opened: dict[str, OpenEnvironment], envs: list[str],
                   by_env: dict[str, list[tuple[str, Lockfile]]]) -> CompatibilityPage:
    if not envs:
        return CompatibilityPage([], {})
    matrix = opened[envs[0]].compatibility
    ranges = [(c, d, matrix.compatibility[c][d]) for c in sorted(matrix.compatibility)
              for d in sorted(matrix.compatibility[c])]
    checks = {e: compat_checks(matrix, by_env[e][-1][1]) if by_env.get(e) else None
              for e in envs}
    return CompatibilityPage(ranges, checks)
