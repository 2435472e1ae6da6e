"""The doit door: one doit task per artifact of an environment's cascade.

``load_cascade`` is the hot path of every ``doit`` run, so it does only what a
no-op needs:

1. Read the bytes of ``components.yaml`` and the environment's file and hash
   them with the tool's version and the deploy root's path (relative repo paths
   resolve against it). When ``.ottodeploy/<env>/cascade.json`` holds the static cascade for
   that digest, use it; only otherwise validate the manifests (pydantic) and
   store the result.
2. Resolve every source with one ``git ls-remote`` per repo, in parallel;
   versions of branch builds come from the version cache unless a SHA or a
   repo's tags changed. Should anything fail to resolve, the manifests are
   loaded properly so the error names the file, key and line.
3. Compute every task's build key (``cascade.plan_tasks``); a recipe's
   variables are made only when it runs.

Each doit task is up to date by its own record (``state.Records``), not by
doit's database, so a killed run loses nothing that had finished. doit's
database still lives per environment (``.ottodeploy/<env>/doit.json``, json
backend, so its format does not depend on the Python version).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__, atomicfile
from .build import BuildContext, Outcome, run_task, up_to_date
from .cascade import StaticCascade, TaskSpec, digest_text, plan_tasks
from .core.errors import OttodeployError, UsageError
from .redact import redact, secret_values
from .resolve import Resolution, resolve_requests
from .root import DeployRoot, check_env_name

DEFAULT_ENV = "scratch"


class LoadedCascade(NamedTuple):
    root: DeployRoot
    env: str
    static: StaticCascade
    resolution: Resolution
    specs: dict[str, TaskSpec]

    @property
    def env_state(self) -> Path:
        return self.root.env_state(self.env)


def default_env(root: DeployRoot, env: str | None) -> str:
    if env:
        return check_env_name(env)
    if root.env_file(DEFAULT_ENV).is_file():
        return DEFAULT_ENV
    raise UsageError("no environment given and this deploy root has no 'scratch' environment",
                     hint="pass env=NAME (doit) or the ENV argument (inv)")


def _manifest_digest(root: DeployRoot, env: str) -> str | None:
    try:
        return digest_text(__version__.encode(), str(root.path).encode(),
                           root.components_file.read_bytes(),
                           root.env_file(env).read_bytes())
    except OSError:
        return None


def load_static(root: DeployRoot, env: str) -> StaticCascade:
    """The static cascade of ``env``, from the cache when the manifests did not change."""
    digest = _manifest_digest(root, env)
    cache_file = root.env_state(env) / "cascade.json"
    if digest is not None:
        try:
            data = json.loads(cache_file.read_text())
            if data.get("digest") == digest:
                return StaticCascade.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from .cascade import static_cascade
    from .manifests import load_project

    project = load_project(root, env)
    static = static_cascade(project, digest or "")
    if digest is not None:
        atomicfile.write_text(cache_file, json.dumps(static.to_json()))
    return static


def load_cascade(root: DeployRoot, env: str,
                 resolution: Resolution | None = None) -> LoadedCascade:
    """Everything a build of ``env`` needs: tasks, keys, variables (see the module docstring).

    ``resolution`` replaces resolving the manifest's refs (a lockfile's exact SHAs).
    """
    env = default_env(root, env)
    static = load_static(root, env)
    if resolution is not None:
        specs = plan_tasks(static, resolution.sources, root.env_state(env))
        return LoadedCascade(root, env, static, resolution, specs)
    resolved, misses = resolve_requests(static.sources, root.cache)
    if misses:
        from .manifests import load_project
        from .resolve import resolve

        resolve(load_project(root, env))  # raises with file, key and line
        raise OttodeployError("sources changed while resolving; run again")
    resolution = Resolution(env, resolved)
    specs = plan_tasks(static, resolved, root.env_state(env))
    return LoadedCascade(root, env, static, resolution, specs)


# --- doit ------------------------------------------------------------------------------------


class _Console:
    """Serialised, redacted lines on stdout, shared by recipes and the reporter."""

    lock = threading.Lock()
    outcomes: dict[str, Outcome] = {}  # noqa: RUF012  (one run per process)
    selected: set[str] | None = None   # the tasks this run may execute (set by the reporter)
    secrets: list[str] | None = None   # read once per run, not once per line

    @classmethod
    def line(cls, text: str) -> None:
        with cls.lock:
            sys.stdout.write(redact(text, secrets=cls.secrets) + "\n")
            sys.stdout.flush()


def _emit(task: str, line: str) -> None:
    _Console.line(f"  {task} | {line}")


def _action(ctx: BuildContext, spec: TaskSpec) -> Any:
    from doit.exceptions import TaskFailed

    selected = _Console.selected
    ctx.prepare_checkouts(s for name, s in ctx.specs.items()
                          if selected is None or name in selected)
    outcome = run_task(ctx, spec)
    _Console.outcomes[spec.task] = outcome
    return True if outcome.ok else TaskFailed(redact(outcome.message))


def doit_tasks(cascade: LoadedCascade) -> Iterator[dict[str, Any]]:
    ctx = BuildContext(cascade.env, cascade.env_state, cascade.root.cache, emit=_emit,
                       specs=cascade.specs)
    records = ctx.records
    for spec in cascade.specs.values():
        where = f"{spec.ref}@{spec.short_sha}" if spec.ref != spec.sha else spec.short_sha
        yield {
            "basename": spec.task,
            "doc": f"{spec.component} {spec.artifact} ({where}, {spec.version})",
            "actions": [(_action, (ctx, spec))],
            "task_dep": list(spec.deps),
            "uptodate": [(up_to_date, (records, spec), {})],
            "verbosity": 2,
        }


def doit_config(cascade: LoadedCascade) -> dict[str, Any]:
    state = cascade.env_state
    state.mkdir(parents=True, exist_ok=True)
    return {
        "backend": "json",
        "dep_file": str(state / "doit.json"),
        "verbosity": 2,
        "par_type": "thread",
        "reporter": ProgressReporter,
    }


def namespace(cascade: LoadedCascade) -> dict[str, Any]:
    """The module namespace doit loads tasks from: ``DOIT_CONFIG`` and one task generator."""
    tasks = list(doit_tasks(cascade))
    _Console.secrets = secret_values()

    def task_cascade() -> Iterator[dict[str, Any]]:
        yield from tasks

    task_cascade.__doc__ = f"the cascade of {cascade.env}"
    return {"DOIT_CONFIG": doit_config(cascade), "task_cascade": task_cascade}


def dodo_namespace(default_root: Path) -> dict[str, Any]:
    """What ``dodo.py`` exports; load errors exit here with their code, without a traceback."""
    from doit import get_var

    from .app import setup_logging

    setup_logging()
    try:
        cascade = load_cascade(DeployRoot.locate(default_root), get_var("env") or "")
    except OttodeployError as exc:
        from .app import fail_message

        sys.stderr.write(fail_message(exc) + "\n")
        raise SystemExit(exc.exit_code) from None
    return namespace(cascade)


def run_doit(cascade: LoadedCascade, tasks: list[str], jobs: int = 1) -> int:
    """Run doit in this process on ``cascade``; returns doit's exit status."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    unknown = [t for t in tasks if t not in cascade.specs]
    if unknown:
        raise UsageError(f"unknown task {unknown[0]!r} in environment {cascade.env}",
                         hint="tasks: " + ", ".join(cascade.specs))
    args = ["run", *(["-n", str(jobs), "-P", "thread"] if jobs > 1 else []), *tasks]
    _Console.outcomes.clear()
    return int(DoitMain(ModuleTaskLoader(namespace(cascade))).run(args))


class ProgressReporter:
    """doit reporter: which task, how far through the cascade, how long each took."""

    desc = "ottodeploy progress"

    def __init__(self, outstream: Any, options: Mapping[str, Any]) -> None:
        self.total = 0
        self.done = 0
        self.failed: list[tuple[str, str]] = []
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()
        self.runtime_errors: list[str] = []

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
        _Console.selected = seen

    def _step(self) -> str:
        self.done += 1
        return f"[{self.done}/{self.total}]"

    def get_status(self, task: Any) -> None:
        pass

    def execute_task(self, task: Any) -> None:
        if task.actions:
            _Console.line(f"-> {task.name}: {task.doc}")

    def add_success(self, task: Any) -> None:
        outcome = _Console.outcomes.get(task.name)
        how = outcome.how if outcome else "done"
        took = f" in {outcome.duration:.2f}s" if outcome else ""
        self.counts[how] = self.counts.get(how, 0) + 1
        _Console.line(f"{self._step()} {task.name}: {how}{took}")

    def add_failure(self, task: Any, fail: Any) -> None:
        self.failed.append((task.name, fail.get_msg().strip()))
        _Console.line(f"{self._step()} {task.name}: FAILED")

    def skip_uptodate(self, task: Any) -> None:
        self.counts["up to date"] = self.counts.get("up to date", 0) + 1
        _Console.line(f"{self._step()} {task.name}: up to date")

    def skip_ignore(self, task: Any) -> None:
        _Console.line(f"{self._step()} {task.name}: ignored")

    def cleanup_error(self, exception: Any) -> None:
        sys.stderr.write(exception.get_msg())

    def runtime_error(self, msg: str) -> None:
        self.runtime_errors.append(msg)

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        took = time.monotonic() - self.started
        parts = [f"{n} {how}" for how, n in sorted(self.counts.items())]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        not_run = self.total - self.done
        if not_run > 0:
            parts.append(f"{not_run} not run")
        _Console.line(f"cascade: {', '.join(parts) or 'nothing to do'} ({took:.2f}s)")
        for name, msg in self.failed:
            sys.stderr.write(redact(f"ottodeploy: error: {msg}\n"))
            if not msg.startswith(("task ", name)):
                sys.stderr.write(f"  (task {name})\n")
        for msg in self.runtime_errors:
            sys.stderr.write(redact(f"ottodeploy: error: {msg}\n"))
