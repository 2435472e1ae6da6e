"""The Python a job of the act tests gets from setup-python (tests/actkit.py).

setup-python looks for ``$RUNNER_TOOL_CACHE/Python/<version>/x64``. ``ActState`` makes
that folder a venv of this interpreter holding a copy of this environment's installed
distributions (console scripts re-pointed at it; this project's own editable install left
out), once per set of installed versions, under ``.ottodeploy/act/`` (git-ignored). A
job's ``pip install -e .`` or ``-e '.[dev]'`` then finds every requirement installed, at
the versions the tests run with, and installs only the checkout, from its working tree,
with ``PIP_NO_INDEX=1`` (a missing requirement fails the job instead of reaching an index)
and without build isolation (the backend is the environment's setuptools, a dev
dependency for this reason). Robust (no index, no pip cache to keep warm, nothing
machine-specific) and fast (about 2 s an install).

On the host every job shares this Python; ``JOB_SITE`` gives each job a site of its own
for what it installs.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

# Loaded at the start of every run of the job's Python (a .pth line): under act, what a
# job installs goes to a site of that job's own (beside its workspace, which act makes per
# job) and is importable from there. Jobs on one host share this Python, but each sees only
# its own checkout installed, as each GitHub job on its own runner would; matrix entries,
# which act runs in parallel whatever --concurrent-jobs says, do not race on site-packages.
JOB_SITE = """\
import os, site, sys
if os.environ.get("ACT") and os.environ.get("GITHUB_WORKSPACE"):
    prefix = os.path.join(os.path.dirname(os.environ["GITHUB_WORKSPACE"]), "job-site")
    os.environ.setdefault("PIP_PREFIX", prefix)
    site.addsitedir(os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2],
                                 "site-packages"))
"""


def _environment_key() -> str:
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "ottodeploy")
    text = "\n".join([sys.version, sys.prefix, JOB_SITE, *dists])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_own_install(name: str) -> bool:
    lowered = name.lower()
    return (lowered.startswith("ottodeploy-") and lowered.endswith(".dist-info")) or \
        (lowered.startswith("__editable__") and "ottodeploy" in lowered)


def _clone_environment(dest: Path) -> None:
    """A venv of this interpreter at ``dest`` with this environment's distributions."""
    subprocess.run([sys.executable, "-m", "venv", "--copies", "--without-pip", str(dest)],
                   check=True, capture_output=True, timeout=120)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(sysconfig.get_paths(vars={"base": str(dest), "platbase": str(dest)})["purelib"])
    for entry in ours.iterdir():
        if _is_own_install(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, theirs / entry.name, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, theirs / entry.name, follow_symlinks=False)
    (theirs / "ottodeploy_act_job_site.py").write_text(JOB_SITE)
    (theirs / "ottodeploy_act_job_site.pth").write_text("import ottodeploy_act_job_site\n")
    our_bin, their_bin = Path(sysconfig.get_paths()["scripts"]), dest / "bin"
    shebang = f"#!{our_bin}/".encode()
    for script in our_bin.iterdir():
        if script.name.startswith(("python", "pip", "activate", "Activate")) or \
                (their_bin / script.name).exists() or not script.is_file():
            continue
        data = script.read_bytes()
        if data.startswith(shebang):  # a console script: run it with the job's Python
            first, _, rest = data.partition(b"\n")
            data = f"#!{their_bin / 'python'}".encode() + b"\n" + rest
            del first
        (their_bin / script.name).write_bytes(data)
        (their_bin / script.name).chmod(script.stat().st_mode & 0o777)


@dataclass(frozen=True)
class ActState:
    """Where run-act keeps its tool cache, caches and the job's Python (``ACT_STATE``)."""

    path: Path

    @classmethod
    def for_this_environment(cls) -> ActState:
        return cls(PROJECT / ".ottodeploy" / "act" / _environment_key())

    @property
    def python_home(self) -> Path:
        return self.path / "toolcache" / "Python" / platform.python_version() / "x64"

    def shared_installs(self) -> list[str]:
        """This project installed into the shared Python (jobs must install into their own)."""
        site = Path(sysconfig.get_paths(vars={"base": str(self.python_home),
                                              "platbase": str(self.python_home)})["purelib"])
        return sorted(p.name for p in site.iterdir() if _is_own_install(p.name))

    @property
    def shims(self) -> Path:
        """A folder holding ``python3``: run-act reads the Python version from it."""
        return self.path / "bin"

    def prepare(self) -> None:
        """Make the job's Python once (locked: two test runs may start at once)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for other in self.path.parent.iterdir():   # states of environments since replaced
            if other != self.path and time.time() - other.stat().st_mtime > 3600:
                shutil.rmtree(other, ignore_errors=True)
        os.utime(self.path)
        complete = self.python_home.parent / "x64.complete"
        with (self.path / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not complete.exists():
                shutil.rmtree(self.python_home, ignore_errors=True)
                self.python_home.parent.mkdir(parents=True, exist_ok=True)
                _clone_environment(self.python_home)
                complete.touch()
            self.shims.mkdir(exist_ok=True)
            link = self.shims / "python3"
            if not link.is_symlink():
                link.symlink_to(self.python_home / "bin" / "python3")
