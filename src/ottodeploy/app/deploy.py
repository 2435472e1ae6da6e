"""``inv deploy``, ``verify``, ``deploy-lockfile``, ``rollback``, ``status`` and ``diff``.

``deploy`` is ``ottodeploy.deploy.deploy``. ``deploy-lockfile`` replays a
lockfile's exact SHAs into its own environment (another environment's
lockfile is refused: that is what promotion is for). ``rollback`` replays the
newest healthy lockfile older than the environment's current one. ``verify``
reruns the smoke checks against what the current lockfile says is deployed and
takes its healthy mark back when they fail. ``status`` and ``diff`` read the
lockfiles: what is deployed where, and how two environments differ.
"""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Any

from ..deploy import DeployReport, Say, deploy
from ..errors import DeployError, PromotionError
from ..lockfile import LockedFile, current, history, locate, mark_failed, newest_healthy, read
from ..root import DeployRoot, check_env_name

if TYPE_CHECKING:
    from ..manifests import Project


def deploy_env(root: DeployRoot, env: str, *, say: Say, dry_run: bool = False,
               jobs: int = 1) -> DeployReport:
    return deploy(root, check_env_name(env), say=say, dry_run=dry_run, jobs=jobs)


def deploy_lockfile(root: DeployRoot, name: str, *, say: Say, into: str | None = None,
                    dry_run: bool = False) -> DeployReport:
    locked = read(root, locate(root, name))
    env = locked.lock.environment
    if into and into != env:
        raise PromotionError(
            f"{locked.name} is a lockfile of {env}; it cannot be deployed into {into}",
            hint=f"promote it instead: inv promote-lockfile {locked.name} {into}")
    say(f"replaying {locked.name} ({locked.lock.status}, {locked.lock.timestamp}) into {env}")
    return deploy(root, env, say=say, dry_run=dry_run, replay=locked)


def rollback(root: DeployRoot, env: str, *, say: Say, dry_run: bool = False) -> DeployReport:
    now = current(root, check_env_name(env))
    if now is None:
        raise PromotionError(f"{env} has no lockfile, so there is nothing to roll back from")
    target = newest_healthy(root, env, before=now)
    if target is None:
        raise PromotionError(f"{env} has no healthy lockfile older than {now.name}")
    say(f"rolling {env} back from {now.name} to {target.name}")
    return deploy(root, env, say=say, dry_run=dry_run, replay=target)


def verify(root: DeployRoot, env: str, *, say: Say) -> LockedFile:
    from ..manifests import load_project
    from ..state import env_lock

    project: Project = load_project(root, check_env_name(env))  # bad input before any lock
    locked = current(root, env)
    if locked is None:
        raise DeployError(f"{env} has no lockfile: nothing is known to be deployed")
    # under the deploy lock: a verify never judges a deploy that is still running
    with env_lock(root.env_state(env), f"verify {env}", warn=lambda m: say(f"warning: {m}")):
        return _verify(root, project, current(root, env) or locked, say)


def _verify(root: DeployRoot, project: Project, locked: LockedFile, say: Say) -> LockedFile:
    from ..inventory import inventory
    from ..manifests import load_hosts
    from ..notify import notify
    from ..remote import Remote
    from ..smoke import run_checks

    env = project.environment.name
    hosts = inventory(project.environment, load_hosts(root))
    values = {n: {"ref": s.ref or s.sha, "sha": s.sha, "version": s.version or "",
                  "repo": s.repo} for n, s in locked.lock.sources.items()}
    say(f"verify {env} against {locked.name} ({locked.lock.status})")
    result = run_checks(project.environment.smoke, values, hosts,
                        Remote.for_environment(project.environment.infrastructure, hosts))
    for r in result.results:
        say(f"   {'ok  ' if r.ok else 'FAIL'} {r.name}: {r.url}"
            + ("" if r.ok else f" ({r.message})"))
    if result.ok:
        say(f"verify: {len(result.results)} checks passed")
        return locked
    failed = next(r for r in result.results if not r.ok)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    marked = mark_failed(locked, {"smoke": "failed", "verify": "failed"},
                         f"verify at {stamp}: {failed.name}: {failed.message}")
    notify(root, "verify-failed", env=env, detail=f"{locked.name}: {failed.message}")
    raise DeployError(f"verify of {env} failed: {failed.name}: {failed.message}",
                      hint=f"{marked.name} is now marked failed")


def status(root: DeployRoot, env: str | None = None) -> dict[str, Any]:
    envs = [check_env_name(env)] if env else root.environments()
    by_env: dict[str, list[LockedFile]] = {e: [] for e in envs}
    for f in history(root):
        if f.lock.environment in by_env:
            by_env[f.lock.environment].append(f)
    out: dict[str, Any] = {}
    now = time.time()
    for e in envs:
        files = by_env[e]
        if not files:
            out[e] = {"lockfile": None, "status": None, "timestamp": None, "sources": {}}
            continue
        f = files[-1]
        stamp = calendar.timegm(time.strptime(f.lock.timestamp, "%Y-%m-%dT%H:%M:%SZ"))
        out[e] = {
            "lockfile": f.name, "status": f.lock.status, "timestamp": f.lock.timestamp,
            "age_seconds": max(0, int(now - stamp)),
            "sources": {n: {"sha": s.sha, "version": s.version, "ref": s.ref}
                        for n, s in f.lock.sources.items()},
        }
    return {"environments": out}


def render_status(data: dict[str, Any]) -> list[str]:
    lines = []
    for env, st in data["environments"].items():
        if st["lockfile"] is None:
            lines.append(f"{env}: nothing deployed (no lockfile)")
            continue
        lines.append(f"{env}: {st['status']} since {st['timestamp']} "
                     f"({_age(st['age_seconds'])} ago, {st['lockfile']})")
        for name, s in st["sources"].items():
            lines.append(f"  {name:<14} {s['version'] or '':<16} {s['sha'][:12]}")
    return lines


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def diff(root: DeployRoot, a: str, b: str) -> dict[str, Any]:
    from ..git import Mirror, repo_url

    sides = {}
    for env in (check_env_name(a), check_env_name(b)):
        locked = current(root, env)
        if locked is None:
            raise DeployError(f"{env} has no lockfile: nothing is known to be deployed")
        sides[env] = locked
    la, lb = sides[a].lock, sides[b].lock
    components: dict[str, Any] = {}
    for name in dict.fromkeys([*la.sources, *lb.sources]):
        sa, sb = la.sources.get(name), lb.sources.get(name)
        entry: dict[str, Any] = {
            "same": bool(sa and sb and sa.sha == sb.sha),
            "a": {"sha": sa.sha, "version": sa.version, "ref": sa.ref} if sa else None,
            "b": {"sha": sb.sha, "version": sb.version, "ref": sb.ref} if sb else None,
        }
        if sa and sb and sa.sha != sb.sha and sa.repo == sb.repo:
            mirror = Mirror(root.cache, repo_url(sa.repo, root.path))
            if mirror.ensure_commit(sa.sha) and mirror.ensure_commit(sb.sha):
                entry["commits_a_to_b"] = [{"sha": s, "subject": m}
                                           for s, m in mirror.log_between(sa.sha, sb.sha)]
                entry["commits_b_to_a"] = [{"sha": s, "subject": m}
                                           for s, m in mirror.log_between(sb.sha, sa.sha)]
        components[name] = entry
    return {"a": a, "b": b, "lockfiles": {a: sides[a].name, b: sides[b].name},
            "components": components}


def render_diff(data: dict[str, Any]) -> list[str]:
    a, b = data["a"], data["b"]
    lines = [f"diff {a} ({data['lockfiles'][a]}) .. {b} ({data['lockfiles'][b]})"]
    for name, c in data["components"].items():
        if c["same"]:
            lines.append(f"  {name:<14} same      {c['a']['version']} {c['a']['sha'][:12]}")
            continue
        left = f"{c['a']['version']} {c['a']['sha'][:12]}" if c["a"] else "-"
        right = f"{c['b']['version']} {c['b']['sha'][:12]}" if c["b"] else "-"
        lines.append(f"  {name:<14} differs   {left} -> {right}")
        for key, label in (("commits_a_to_b", f"in {b} only"),
                           ("commits_b_to_a", f"in {a} only")):
            commits = c.get(key) or []
            for commit in commits[:10]:
                lines.append(f"      {label}: {commit['sha'][:7]} {commit['subject']}")
            if len(commits) > 10:
                lines.append(f"      {label}: ... {len(commits) - 10} more")
    return lines
