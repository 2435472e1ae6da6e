"""``inv demo``: the whole flow on a sandbox ecosystem, narrated (SPEC §7).

The story: make seven local repos and a deploy root (``sandbox``); check the
``demo`` environment; build its cascade; deploy it to local processes and
smoke-test them, including that the services run the locked commit; write the
lockfile; commit to an upstream repo (metakit) and show the plan that
follows; deploy again, rebuilding only metakit and what sits below it;
promote the healthy lockfile to ``beta`` on a promotion branch, approve it and
deploy beta; show ``status`` and ``diff``. Every command is the same library
call ``inv`` makes. The processes it started are stopped at the end, also on
failure or Ctrl-C, unless ``--keep``; a previous run's sandbox and processes
are cleared first, so it can be run again and again.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..root import DeployRoot

if TYPE_CHECKING:
    from .sandbox import Sandbox

Say = Callable[[str], None]
APPROVER = "Demo Approver <approver@example.invalid>"


def base_dir(project: Path) -> Path:
    return project / ".ottodeploy" / "demo"


def stop(project: Path) -> list[str]:
    """Stop every process a kept demo left running."""
    from . import daemon
    from .sandbox import Sandbox

    sandbox = Sandbox(base_dir(project))
    return [name for run_dir in sandbox.run_dirs() for name in daemon.stop_all(run_dir)]


@contextmanager
def _demo_environment() -> Iterator[None]:
    """The demo's own git identity and no user git config (signing, hooks) in the way."""
    from .sandbox import IDENTITY

    changes = {**IDENTITY, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
               "OTTO_DEMO_PYTHON": sys.executable}
    for name in ("SLACK_WEBHOOK_URL", "TELEGRAM_BOT_TOKEN", "GITHUB_TOKEN"):
        changes[name] = ""
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(project: Path, *, say: Say, keep: bool = False) -> float:
    """Run the demo; returns its wall time in seconds."""
    started = time.monotonic()
    base = base_dir(project)
    stop(project)
    shutil.rmtree(base, ignore_errors=True)
    from .sandbox import Sandbox

    with _demo_environment():
        try:
            _story(Sandbox(base), say)
        finally:
            if keep:
                say("")
                say(f"services left running (--keep); sandbox: {base}")
                say("stop them with: inv demo --stop")
            else:
                stopped = stop(project)
                say("")
                say(f"stopped {len(stopped)} demo processes ({', '.join(stopped) or 'none'})")
    took = time.monotonic() - started
    say(f"demo finished in {took:.1f}s")
    return took


def _story(sandbox: Sandbox, say: Say) -> None:
    from ..app.build import build, plan_env, render_plan
    from ..app.check import check, raise_for, render
    from ..app.deploy import diff, render_diff, render_status, status
    from ..app.promote import approve_branch, render_promotion
    from ..deploy import deploy
    from ..promote import promote
    from .sandbox import commit, create

    def chapter(n: int, title: str) -> None:
        say("")
        say(f"### {n}. {title}")

    chapter(1, "A sandbox ecosystem: seven repos, real commits and tags")
    create(sandbox.base)
    root = DeployRoot(sandbox.root)
    for name in ("tessellation", "metakit", "ottochain", "sdk", "services", "explorer",
                 "monitoring"):
        say(f"   {name:<13} {sandbox.base / 'repos' / name}.git")
    say(f"   deploy root   {root.path}")

    chapter(2, "Check the demo environment: files, refs, compatibility")
    report = check(root, "demo")
    for line in render(report):
        say(line)
    raise_for(report)

    chapter(3, "Build the cascade (tessellation -> metakit -> ottochain -> sdk -> services"
               " -> explorer)")
    build(root, "demo", [])

    chapter(4, "Deploy demo: nothing left to build; deploy, smoke, e2e, lockfile")
    first = deploy(root, "demo", say=say)

    chapter(5, "Upstream moves: a commit to metakit's main")
    sha = commit(sandbox.work("metakit"), "fix: tighten snapshot validation",
                 {"src/Validation.scala": "object Validation\n"}, branch="main")
    say(f"   metakit main is now {sha[:7]}")

    chapter(6, "Plan: what a build would redo, and why")
    for line in render_plan(plan_env(root, "demo")):
        say(line)

    chapter(7, "Deploy demo again: only metakit and what sits below it is rebuilt")
    second = deploy(root, "demo", say=say)

    chapter(8, "Promote demo's newest healthy lockfile to beta, approve it")
    promotion = promote(root, "demo", "beta", say=say)
    for line in render_promotion(promotion):
        say(line)
    approve_branch(root, promotion.branch, APPROVER, say=say,
                   signing_key=_approver_key(sandbox, say))

    chapter(9, "Deploy beta: the promoted SHAs, with beta's own state")
    deploy(root, "beta", say=say)

    chapter(10, "Status and diff")
    for line in render_status(status(root)):
        say(line)
    for line in render_diff(diff(root, "demo", "beta")):
        say(line)
    lockfiles = [p for p in (first.lockfile, second.lockfile) if p is not None]
    say("")
    say("lockfiles written: " + ", ".join(root.display(p) for p in lockfiles) + ", and beta's")


def _approver_key(sandbox: Sandbox, say: Say) -> str | None:
    """The demo approver's SSH signing key, listed in the sandbox's ``manifests/approvers``."""
    from ..process import run
    from .sandbox import commit

    if shutil.which("ssh-keygen") is None:
        say("   (ssh-keygen not found: the approval below cannot be signed)")
        return None
    key = sandbox.base / "approver_ed25519"
    key.unlink(missing_ok=True)
    key.with_suffix(".pub").unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "demo approver", "-f", str(key)])
    key_type, public = key.with_suffix(".pub").read_text().split()[:2]
    email = APPROVER.split("<")[1].rstrip(">")
    commit(sandbox.root, "chore: the demo approver's signing key",
           {"manifests/approvers": f"{email} {key_type} {public}\n"})
    say(f"   approver's signing key {key.name}, listed in manifests/approvers")
    return str(key)
