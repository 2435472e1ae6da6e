"""``inv demo``: the whole flow on a sandbox ecosystem, narrated (SPEC §7).

The story: make seven local repos and a deploy root (``sandbox``) whose ``beta``
requires approval; check the ``demo`` environment; build its cascade; deploy it
to local processes (each node on its own port) and smoke-test them, including
that the services run the locked commit; show the lockfile; a services-only
commit redeploys services alone; promote demo's healthy lockfile to ``beta``,
show that deploying it before approval is refused, approve it with a signed
merge and deploy beta, which builds nothing and ships demo's digests; commit to
an upstream repo (metakit), show the plan and deploy demo again; show
``status`` and a ``diff`` with a real difference and its commits. Every command is the same library
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

from ..demo import addresses, base_dir, stop
from ..reporting import Reporter, note
from ..root import DeployRoot

if TYPE_CHECKING:
    from ..demo.sandbox import Sandbox
APPROVER = "Demo Approver <approver@example.invalid>"


@contextmanager
def _demo_environment() -> Iterator[None]:
    """The demo's own git identity and no user git config (signing, hooks) in the way."""
    from ..demo.sandbox import IDENTITY

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


def run(project: Path, *, reporter: Reporter, keep: bool = False) -> float:
    """Run the demo; returns its wall time in seconds."""
    def say(text: str) -> None:
        note(reporter, text)

    started = time.monotonic()
    base = base_dir(project)
    stop(project)
    shutil.rmtree(base, ignore_errors=True)
    from ..demo.sandbox import Sandbox

    with _demo_environment():
        try:
            _story(Sandbox(base), reporter)
        finally:
            if keep:
                say("")
                say(f"services left running (--keep); sandbox: {base}")
                for env, service, url in addresses(project):
                    say(f"   {env:<5} {service:<9} {url}")
                say(f"look around: cd {Sandbox(base).root} && inv status && doit list env=demo")
                say("stop them with: inv demo --stop")
            else:
                stopped = stop(project)
                say("")
                say(f"stopped {len(stopped)} demo processes ({', '.join(stopped) or 'none'})")
    took = time.monotonic() - started
    say(f"demo finished in {took:.1f}s")
    return took


def _story(sandbox: Sandbox, reporter: Reporter) -> None:
    from ..core.errors import ApprovalError
    from ..demo.sandbox import commit, create
    from ..flows.approve import approve_branch
    from ..flows.build import build, plan_env
    from ..flows.check import check, raise_for
    from ..flows.deploy import deploy
    from ..flows.diff import diff
    from ..flows.promote import promote
    from ..flows.status import status
    from ..lockfile import read
    from . import render

    def say(text: str) -> None:
        note(reporter, text)

    def chapter(n: int, title: str) -> None:
        say("")
        say(f"### {n}. {title}")

    chapter(1, "A sandbox ecosystem: seven repos, real commits and tags")
    create(sandbox.base)
    root = DeployRoot(sandbox.root)
    for name in ("tessellation", "metakit", "ottochain", "sdk", "services", "explorer",
                 "monitoring"):
        say(f"   {name:<13} {sandbox.base / 'repos' / name}.git")
    say(f"   deploy root   {root.path}  (beta requires an approval: manifests/approvers)")
    key = _approver_key(sandbox, say)

    chapter(2, "Check the demo environment: files, refs, compatibility")
    report = check(root, "demo")
    for line in render.check(report):
        say(line)
    raise_for(report)

    chapter(3, "Build the cascade (tessellation -> metakit -> ottochain -> sdk -> services"
               " -> explorer)")
    build(root, "demo", [], reporter)

    chapter(4, "Deploy demo: nothing left to build; deploy, smoke, e2e, lockfile")
    first = deploy(root, "demo", reporter=reporter)
    assert first.lockfile is not None
    say("")
    say(f"the lockfile names every commit and every artifact by digest ({first.lockfile.name}):")
    for line in render.lockfile_summary(read(root, first.lockfile).lock):
        say(line)

    chapter(5, "A services-only commit: services are rebuilt and redeployed, alone")
    sha = commit(sandbox.work("services"), "fix: services answer faster",
                 {"app/README": "faster\n"}, branch="develop")
    say(f"   services develop is now {sha[:7]}")
    second = deploy(root, "demo", reporter=reporter)

    chapter(6, "Promote demo's newest healthy lockfile to beta")
    promotion = promote(root, "demo", "beta", reporter=reporter)
    for line in render.promotion(promotion):
        say(line)
    say("")
    say("beta requires approval; deploying the promotion before it is approved is refused:")
    try:
        deploy(root, "beta", reporter=reporter)
    except ApprovalError as exc:
        say(f"   refused (exit {exc.exit_code}): {exc.message}")
    else:
        raise AssertionError("the demo's beta deployed without an approval")

    chapter(7, "Approve the promotion with a signed merge, and deploy beta")
    approve_branch(root, promotion.branch, APPROVER, reporter=reporter, signing_key=key)
    beta = deploy(root, "beta", reporter=reporter)
    assert beta.lockfile is not None and second.lockfile is not None
    tested = read(root, second.lockfile).lock
    shipped = read(root, beta.lockfile).lock
    same = [t for t, e in shipped.artifacts.items()
            if not isinstance(e, str) and (d := tested.artifacts.get(t)) is not None
            and not isinstance(d, str) and d.digest == e.digest]
    say("")
    say(f"beta built nothing and ships demo's bytes: {len(same)} of {len(shipped.artifacts)} "
        f"artifacts in {beta.lockfile.name} carry the digests of {second.lockfile.name}")
    if shipped.approval is not None:
        say(f"approved by {shipped.approval.approver} ({shipped.approval.kind} "
            f"{shipped.approval.commit[:7]})")

    chapter(8, "Upstream moves: a commit to metakit's main")
    sha = commit(sandbox.work("metakit"), "fix: tighten snapshot validation",
                 {"src/Validation.scala": "object Validation\n"}, branch="main")
    say(f"   metakit main is now {sha[:7]}")
    say("")
    for line in render.plan(plan_env(root, "demo")):
        say(line)

    chapter(9, "Deploy demo again: only metakit and what sits below it is rebuilt")
    third = deploy(root, "demo", reporter=reporter)

    chapter(10, "Status and diff: demo has moved on, beta runs what was approved")
    for line in render.status(status(root)):
        say(line)
    for line in render.diff(diff(root, "beta", "demo")):
        say(line)
    written = [r.lockfile for r in (first, second, beta, third) if r.lockfile is not None]
    say("")
    say("lockfiles written: " + ", ".join(root.display(p) for p in written))


def _approver_key(sandbox: Sandbox, say: Callable[[str], None]) -> str | None:
    """The demo approver's SSH signing key, listed in the sandbox's ``manifests/approvers``
    (committed before anything is promoted: the first version is trusted on first use)."""
    from ..demo.sandbox import commit
    from ..process import run

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
