"""The build engine: an environment's tasks as doit tasks, run by doit.

Each artifact task of the opened environment becomes one doit task whose
action is ``build.run_task`` and whose ``uptodate`` is ``build.up_to_date``:
a task is up to date by its own record (``state.Records``), not by doit's
database, so a killed run loses nothing that had finished. doit's database
still lives per environment (``.ottodeploy/<env>/doit.json``, json backend,
so its format does not depend on the Python version).

One ``BuildRun`` holds what a run shares: the outcomes of the tasks that ran,
the tasks doit selected (for preparing their checkouts ahead) and the
``Reporter`` every line and event goes to. The doit reporter class made for
the run (``_reporter_class``) turns doit's callbacks into ``task`` events.
``dodo.py`` (through ``cli.dodo``) and ``inv build``/``inv deploy`` (through
``run``) use the same tasks, so they share state and keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from .build import BuildContext, Outcome, Wanted, run_task, up_to_date
from .core.errors import OttodeployError, UsageError
from .core.keys import TaskSpec
from .environment import OpenEnvironment
from .redact import redact
from .reporting import Reporter
from .statefiles import doit_database


class BuildRun:
    """One run of doit over an environment's tasks (a plain class: it loads on a no-op build)."""

    def __init__(self, opened: OpenEnvironment, reporter: Reporter,
                 wanted: dict[str, Wanted] | None = None, *,
                 lock_on_first_action: bool = False) -> None:
        self.opened = opened
        self.reporter = reporter
        self.wanted: dict[str, Wanted] = {} if wanted is None else wanted  # a replay's digests
        self.outcomes: dict[str, Outcome] = {}
        self.selected: set[str] | None = None  # the tasks this run may execute (the reporter's)
        self.code = 0
        self.lock_on_first_action = lock_on_first_action  # build lock at a task's first action
        self._held: Any = None
        self.ctx: BuildContext | None = None   # the tasks' context (``context``)
        self.background_uploads = False        # set by ``run``, which waits for them
        self.upload_failed = False

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o.how] = out.get(o.how, 0) + 1
        return out


def _action(run: BuildRun, ctx: BuildContext, spec: TaskSpec) -> Any:
    from doit.exceptions import TaskFailed

    if run.lock_on_first_action:
        try:
            _hold_build_lock(run)
        except OttodeployError as exc:
            return TaskFailed(redact(str(exc)))
    selected = run.selected
    ctx.prepare_checkouts(s for name, s in ctx.specs.items()
                          if selected is None or name in selected)
    outcome = run_task(ctx, spec)
    run.outcomes[spec.task] = outcome
    return True if outcome.ok else TaskFailed(redact(outcome.message))


def _hold_build_lock(run: BuildRun) -> None:
    """``doit`` itself builds: hold the environment's build lock until the process ends, so a
    doit run never interleaves its records with a deploy's or another build's. Refused
    (``LockHeld``) when a deploy or build holds it: the task fails with that message."""
    from .state import build_lock

    with _FIRST:
        if run._held is None:
            held = build_lock(run.opened.state, f"doit build {run.opened.name}")
            held.__enter__()              # released when the process exits (a kernel lock)
            run._held = held


_FIRST = threading.Lock()


def doit_tasks(run: BuildRun) -> Iterator[dict[str, Any]]:
    opened = run.opened
    ctx = context(run)
    for spec in opened.specs.values():
        where = f"{spec.ref}@{spec.short_sha}" if spec.ref != spec.sha else spec.short_sha
        yield {
            "basename": spec.task,
            "doc": f"{spec.component} {spec.artifact} ({where}, {spec.version})",
            "actions": [(_action, (run, ctx, spec))],
            "task_dep": list(spec.deps),
            "uptodate": [(up_to_date, (ctx, spec), {})],
            "verbosity": 2,
        }


def context(run: BuildRun) -> BuildContext:
    """The build context of ``run``: the environment's state, the root's store and remote."""
    from .store import Store

    opened = run.opened
    ctx = BuildContext(opened.name, opened.state, opened.root.cache, reporter=run.reporter,
                       specs=opened.specs, store=Store.of_root(opened.root.path),
                       remote=opened.store_registry, wanted=run.wanted)
    ctx.uploads.background = run.background_uploads
    run.ctx = ctx
    return ctx


def namespace(run: BuildRun) -> dict[str, Any]:
    """The module namespace doit loads tasks from: ``DOIT_CONFIG`` and one task generator."""
    tasks = list(doit_tasks(run))
    state = run.opened.state
    state.mkdir(parents=True, exist_ok=True)
    doit_database(state / "doit.json")  # SPEC §6a: a corrupt one is set aside, not fatal
    config = {"backend": "json", "dep_file": str(state / "doit.json"), "verbosity": 2,
              "par_type": "thread", "reporter": _reporter_class(run)}

    def task_cascade() -> Iterator[dict[str, Any]]:
        yield from tasks

    task_cascade.__doc__ = f"the cascade of {run.opened.name}"
    return {"DOIT_CONFIG": config, "task_cascade": task_cascade}


def run(opened: OpenEnvironment, tasks: list[str], reporter: Reporter, jobs: int = 1,
        wanted: Mapping[str, Wanted] | None = None) -> BuildRun:
    """Run doit in this process on ``tasks`` of ``opened`` (none: all); returns the run.

    ``wanted``: a replay's locked digests, deployed as they are when they can be had.
    """
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    unknown = [t for t in tasks if t not in opened.specs]
    if unknown:
        raise UsageError(f"unknown task {unknown[0]!r} in environment {opened.name}",
                         hint="tasks: " + ", ".join(opened.specs))
    build = BuildRun(opened, reporter, dict(wanted or {}))
    build.background_uploads = True    # waited for at the end of the run (complete_run)
    args = ["run", *(["-n", str(jobs), "-P", "thread"] if jobs > 1 else []), *tasks]
    build.code = int(DoitMain(ModuleTaskLoader(namespace(build))).run(args))
    if build.upload_failed and build.code == 0:
        build.code = 1
    return build


def _reporter_class(run: BuildRun) -> type:
    """A doit reporter class bound to ``run``: doit's callbacks as ``task`` events."""

    class Progress(_Progress):
        build = run

    return Progress


class _Progress:
    """doit reporter: which task, how far through the cascade, how long each took."""

    desc = "ottodeploy progress"
    build: BuildRun

    def __init__(self, outstream: Any, options: Mapping[str, Any]) -> None:
        self.total = 0
        self.done = 0
        self.failed: list[tuple[str, str]] = []
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()
        self.runtime_errors: list[str] = []

    def _emit(self, task: str, state: str, **fields: Any) -> None:
        self.build.reporter.emit("task", task=task, state=state, **fields)

    def initialize(self, tasks: Mapping[str, Any], selected_tasks: list[str]) -> None:
        seen: set[str] = set()
        stack = list(selected_tasks or tasks)
        while stack:
            name = stack.pop()
            if name in seen or name not in tasks:
                continue
            seen.add(name)
            stack.extend(tasks[name].task_dep)
        self.total = len([n for n in seen if tasks[n].actions])
        self.build.selected = seen

    def _step(self) -> dict[str, int]:
        self.done += 1
        return {"index": self.done, "total": self.total}

    def get_status(self, task: Any) -> None:
        pass

    def execute_task(self, task: Any) -> None:
        if task.actions:
            self._emit(task.name, "started", doc=task.doc)

    def add_success(self, task: Any) -> None:
        outcome = self.build.outcomes.get(task.name)
        how = outcome.how if outcome else "done"
        self.counts[how] = self.counts.get(how, 0) + 1
        self._emit(task.name, how, seconds=round(outcome.duration, 3) if outcome else None,
                   **self._step())

    def add_failure(self, task: Any, fail: Any) -> None:
        message = redact(fail.get_msg().strip())
        self.failed.append((task.name, message))
        self._emit(task.name, "failed", message=message, **self._step())

    def skip_uptodate(self, task: Any) -> None:
        self.counts["up to date"] = self.counts.get("up to date", 0) + 1
        self._emit(task.name, "up-to-date", **self._step())

    def skip_ignore(self, task: Any) -> None:
        self._emit(task.name, "ignored", **self._step())

    def cleanup_error(self, exception: Any) -> None:
        self.runtime_errors.append(exception.get_msg())

    def runtime_error(self, msg: str) -> None:
        self.runtime_errors.append(msg)

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        if self.build.ctx is not None:   # the remote store's uploads end with the run
            for name, message in self.build.ctx.uploads.finish():
                self.failed.append((name, redact(message)))
                self.build.upload_failed = True
        took = time.monotonic() - self.started
        parts = [f"{n} {how}" for how, n in sorted(self.counts.items())]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        not_run = self.total - self.done
        if not_run > 0:
            parts.append(f"{not_run} not run")
        self.build.reporter.emit(
            "summary", text=f"cascade: {', '.join(parts) or 'nothing to do'} ({took:.2f}s)",
            counts=dict(self.counts), failed=len(self.failed), not_run=max(not_run, 0),
            seconds=round(took, 3))
        for name, msg in self.failed:
            self.build.reporter.emit("error", text=msg, task=name)
        for msg in self.runtime_errors:
            self.build.reporter.emit("error", text=redact(msg))
