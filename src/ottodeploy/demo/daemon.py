"""Background processes of the demo: start one, stop one, stop them all.

``start NAME --run-dir DIR --health URL -- CMD...`` stops a previous process
of the same name (its pid file), starts CMD in a new session with its output
in ``DIR/NAME.log``, writes ``DIR/NAME.pid`` and waits until ``URL`` answers
200 (or fails, printing the log's tail). ``stop-all DIR`` stops every process
with a pid file there: SIGTERM to its session, then SIGKILL after a grace
period. Every pid file also records the command line, so a recycled pid of
some other program is never killed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..process import pid_running

GRACE = 3.0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def stop(pid_file: Path) -> bool:
    """Stop the process of ``pid_file``; True when one was running."""
    try:
        info = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return False
    pid, cmd = int(info["pid"]), str(info["cmd"])
    pid_file.unlink(missing_ok=True)
    if not pid_running(pid) or (_cmdline(pid) and _cmdline(pid) != cmd):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and pid_running(pid):
        time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    if pid_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def stop_all(run_dir: Path) -> list[str]:
    stopped = []
    if run_dir.is_dir():
        for pid_file in sorted(run_dir.glob("*.pid")):
            if stop(pid_file):
                stopped.append(pid_file.stem)
    return stopped


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback only)
            return bool(response.status == 200)
    except OSError:
        return False


def start(name: str, run_dir: Path, health: str, cmd: list[str], timeout: float = 20.0) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = run_dir / f"{name}.pid"
    stop(pid_file)
    log = (run_dir / f"{name}.log").open("ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    pid_file.write_text(json.dumps({"pid": proc.pid, "cmd": " ".join(cmd)}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _healthy(health):
            print(f"{name} started (pid {proc.pid}), {health} answers")
            return 0
        time.sleep(0.1)
    tail = (run_dir / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
    print(f"{name} did not become healthy at {health}:", *tail, sep="\n", file=sys.stderr)
    stop(pid_file)
    return 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ottodeploy.demo.daemon")
    sub = parser.add_subparsers(dest="what", required=True)
    p_start = sub.add_parser("start", usage="%(prog)s NAME --run-dir DIR --health URL -- CMD...")
    p_start.add_argument("name")
    p_start.add_argument("--run-dir", type=Path, required=True)
    p_start.add_argument("--health", required=True)
    p_stop = sub.add_parser("stop-all")
    p_stop.add_argument("run_dir", type=Path)
    cmd: list[str] = []
    if "--" in argv:
        argv, cmd = argv[: argv.index("--")], argv[argv.index("--") + 1:]
    args = parser.parse_args(argv)
    if args.what == "start":
        if not cmd:
            parser.error("start needs a command after --")
        return start(args.name, args.run_dir, args.health, cmd)
    print("stopped:", ", ".join(stop_all(args.run_dir)) or "nothing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
