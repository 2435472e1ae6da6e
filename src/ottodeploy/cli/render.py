"""Results as the lines a person reads (``--json`` prints the results' own JSON instead)."""

from __future__ import annotations

from typing import Any

from ..core.lockmodels import Lockfile
from ..core.plan import Plan
from ..core.sources import Resolution
from ..flows.autodeploy import AutoDeployReport
from ..flows.bump import Bump
from ..flows.check import CheckReport
from ..flows.gc import Collected
from ..flows.lint import LintReport
from ..flows.nextversion import RepoVersion
from ..flows.promote import Promotion


def check(report: CheckReport) -> list[str]:
    lines = [f"check {report.environment}"]
    for stage, state in report.stages.items():
        detail = report.details.get(stage)
        lines.append(f"  {stage:<14} {state}" + (f" ({detail})" if detail else ""))
    lines += [f"    {v}" for v in report.violations]
    lines += [f"    not checked: {text}" for text in report.not_checked]
    return lines


def resolution_json(res: Resolution) -> dict[str, Any]:
    return {
        "environment": res.environment,
        "sources": {
            name: {"repo": s.repo, "ref": s.ref, "sha": s.sha, "version": s.version,
                   "pinned_by": s.pin}
            for name, s in res.sources.items()
        },
    }


def resolution(res: Resolution) -> list[str]:
    rows = [("source", "repo", "ref", "sha", "version")]
    rows += [(n, s.repo, s.ref, s.sha[:12], s.version) for n, s in res.sources.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def plan(result: Plan) -> list[str]:
    n = len(result.to_run)
    lines = [f"plan {result.environment}: {n} of {len(result.tasks)} tasks would run"]
    if result.offline is not None:
        lines.insert(0, f"offline: no repo was read; {result.environment}'s last resolution, "
                        f"made {result.offline.resolved_at} ({age(result.offline.age_seconds)} "
                        "ago), answers")
    width = max((len(t.task) for t in result.tasks), default=0)
    for t in result.tasks:
        why = "; ".join(t.reasons) if t.run else "up to date"
        lines.append(f"  {'run ' if t.run else 'skip'}  {t.task.ljust(width)}  {why}")
    return lines


def status(data: dict[str, Any]) -> list[str]:
    lines = []
    for env, st in data["environments"].items():
        if st["lockfile"] is None:
            lines.append(f"{env}: nothing deployed (no lockfile)")
            continue
        lines.append(f"{env}: {_state(st)} since {st['timestamp']} "
                     f"({age(st['age_seconds'])} ago, {st['lockfile']})")
        for name, s in st["sources"].items():
            lines.append(f"  {name:<14} {s['version'] or '':<16} {s['sha'][:12]}")
    return lines


def _state(st: dict[str, Any]) -> str:
    """``failed (verify at T: check X: ...)``, ``failed (interrupted: SIGTERM)``, ``healthy``."""
    last = st.get("verification")
    if st["status"] == "failed" and last and last.get("result") == "failed":
        return f"failed (verify at {last['at']}: {last.get('reason', '')})"
    if st["status"] == "failed" and st.get("interrupted"):
        return f"failed (interrupted by {st['interrupted']})"
    if last and last.get("result") == "passed":
        return f"{st['status']} (verified at {last['at']})"
    return str(st["status"])


def age(seconds: int) -> str:
    from ..state import ago

    return ago(seconds)


def diff(data: dict[str, Any]) -> list[str]:
    a, b = data["a"], data["b"]
    lines = [f"diff {a} ({data['lockfiles'][a]}) .. {b} ({data['lockfiles'][b]})"]
    for name, c in data["components"].items():
        if c["same"]:
            lines.append(f"  {name:<14} same      {c['a']['version']} {c['a']['sha'][:12]}")
            continue
        left = f"{c['a']['version']} {c['a']['sha'][:12]}" if c["a"] else "-"
        right = f"{c['b']['version']} {c['b']['sha'][:12]}" if c["b"] else "-"
        if c.get("bytes") == "differ" and c["a"] and c["b"] and c["a"]["sha"] == c["b"]["sha"]:
            lines.append(f"  {name:<14} differs   {left}: the same commit, other bytes")
        else:
            lines.append(f"  {name:<14} differs   {left} -> {right}")
        for task, pair in (c.get("artifacts") or {}).items():
            lines.append(f"      {task}: {str(pair['a'])[:19]} in {a}, {str(pair['b'])[:19]} "
                         f"in {b}")
        for key, label in (("commits_a_to_b", f"in {b} only"),
                           ("commits_b_to_a", f"in {a} only")):
            commits = c.get(key) or []
            for commit in commits[:10]:
                lines.append(f"      {label}: {commit['sha'][:7]} {commit['subject']}")
            if len(commits) > 10:
                lines.append(f"      {label}: ... {len(commits) - 10} more")
    return lines


def promotion(result: Promotion) -> list[str]:
    if not result.branch:
        return []
    lines = [result.diff.rstrip("\n")] if result.diff else []
    lines.append(f"promotion branch {result.branch} ({result.commit[:12]})")
    if result.pull_request:
        lines.append(f"pull request: {result.pull_request}")
    else:
        lines.append(f'approve with: inv approve {result.branch} --by "Name <email>"'
                     " (or push it and open a pull request)")
    return lines


def bump(result: Bump) -> list[str]:
    if not result.commit:
        return []
    lines = [result.diff.rstrip("\n")] if result.diff else []
    lines.append(f"bump branch {result.branch} ({result.commit[:12]})")
    if result.pull_request:
        lines.append(f"pull request: {result.pull_request}")
    else:
        lines.append("push it and open a pull request (set GITHUB_TOKEN to have bump do it)")
    return lines


def lint(report: LintReport) -> list[str]:
    lines = [f"commits.lint {report.repo} {report.range}: {report.checked} commits"
             + (f" ({report.exempt} merges exempt)" if report.exempt else "")]
    for v in report.violations:
        lines.append(f"  {v.short} {v.subject}")
        lines += [f"          - {p}" for p in v.problems]
    if report.ok:
        lines.append("  all conventional")
    return lines


def next_version(found: RepoVersion) -> list[str]:
    result = found.result
    since = f"tag {found.tag}" if found.tag else "no version tag: every commit"
    lines = [f"{found.repo} at {(found.head or 'no commits')[:12]}, since {since}",
             f"  current: {result.current or 'none'}"]
    if result.next:
        lines.append(f"  next:    {result.next} ({result.bump} bump)")
    else:
        lines.append("  next:    no release (nothing since it bumps the version)")
    for c in result.commits:
        lines.append(f"  {c.sha[:7]} {c.effect:<5} {c.subject}")
    return lines


def gc(result: Collected) -> list[str]:
    lines = [f"gc: kept what {result.kept_lockfiles} lockfiles and the current records name "
             f"({result.kept} digests and keys) and the last 7 days' builds"]
    for digest, size in result.freed:
        lines.append(f"  freed {digest[:19]}  {size} bytes")
    lines.append(f"freed {len(result.freed)} items, {result.bytes_freed} bytes")
    return lines


_DEPLOYED = {"healthy": "deployed", "failed": "deploy FAILED", "dry-run": "would deploy"}


def auto_deploy(report: AutoDeployReport) -> list[str]:
    """One line per environment: what was done, the lockfile, why."""
    title = "auto-deploy (dry run)" if report.dry_run else "auto-deploy"
    lines = [f"{title}:"]
    width = max((len(n) for n in report.environments), default=0)
    for name, o in report.environments.items():
        done = o.action if o.action != "deploy" else _DEPLOYED.get(o.status or "", "deploy")
        where = f" {o.lockfile}" if o.lockfile else ""
        lines.append(f"  {name.ljust(width)}  {done}{where}: {o.reason}")
    if not report.environments:
        lines.append("  no environments")
    return lines


def lockfile_summary(lock: Lockfile) -> list[str]:
    """A lockfile, abbreviated: its state, commits, digests and what each component did."""
    lines = [f"   {lock.environment} {lock.status} at {lock.timestamp}"]
    for name, src in lock.sources.items():
        lines.append(f"   source    {name:<13} {src.sha[:12]}  {src.version or ''}")
    for task, entry in lock.artifacts.items():
        digest = entry if isinstance(entry, str) else entry.digest
        lines.append(f"   artifact  {task:<21} {digest[:19]}…")
    for name, component in lock.components.items():
        done = "deployed" if component.deployed is True else str(component.deployed)
        lines.append(f"   component {name:<13} {done}")
    lines.append("   tests     " + ", ".join(f"{k} {v}" for k, v in lock.tests.items()))
    return lines
