"""A recipe a killed build left running is stopped by the next build, and nothing else is."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from ottodeploy import leftovers
from ottodeploy.state import build_lock


def _recipe(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A recipe with a child of its own, in a session of its own, as ``process.stream`` runs it."""
    return subprocess.Popen(["bash", "-c", "sleep 30 & wait"], env={**os.environ, **env},
                            start_new_session=True)


def _alive_in_session(sid: int, wait: float = 5.0) -> list[str]:
    """The processes of session ``sid`` that still run, once SIGKILL has had ``wait`` seconds
    to land. A killed child is a zombie until this machine's init reaps it, which can take a
    moment: a zombie runs nothing, so it does not count."""
    deadline = time.monotonic() + wait
    while True:
        pids = subprocess.run(["pgrep", "-s", str(sid)], check=False, capture_output=True,
                              text=True).stdout.split()
        alive = [p for p in pids if subprocess.run(
            ["ps", "-o", "stat=", "-p", p], check=False, capture_output=True,
            text=True).stdout.strip()[:1] not in ("", "Z")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _gone(proc: subprocess.Popen[bytes]) -> bool:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_the_next_build_lock_stops_a_leftover_recipe_and_its_children(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / ".ottodeploy" / "scratch"
    entered = leftovers.running(state, "metakit_publish")
    token = entered.__enter__()           # the build that ran it dies without leaving this
    recipe = _recipe(token)
    unrelated = _recipe({leftovers.VAR: "0" * 32})   # another token: not this build's
    try:
        time.sleep(0.2)
        assert (state / "running" / "metakit_publish").read_text().strip() \
            == token[leftovers.VAR]
        with build_lock(state, "build scratch"):
            pass
        assert _gone(recipe)
        assert recipe.returncode == -9
        assert _alive_in_session(recipe.pid) == []     # the whole group, its `sleep` too
        assert unrelated.poll() is None
        assert list((state / "running").iterdir()) == []
        assert "stopped the recipe of metakit_publish, left running by a build that was " \
               "killed" in caplog.text
    finally:
        for proc in (recipe, unrelated):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()


def test_a_recipe_that_ended_leaves_no_entry_and_nothing_is_stopped(tmp_path: Path) -> None:
    state = tmp_path / "scratch"
    with leftovers.running(state, "sdk_build") as token:
        subprocess.run(["bash", "-c", f'test "${leftovers.VAR}" = {token[leftovers.VAR]}'],
                       env={**os.environ, **token}, check=True)
    assert list((state / "running").iterdir()) == []
    assert leftovers.reap(state) == []
