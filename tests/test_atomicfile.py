"""Files written whole: a new file's mode is what ``open`` would give, a replaced one keeps its."""

from __future__ import annotations

import os
from pathlib import Path

from ottodeploy import atomicfile


def test_a_new_file_gets_the_umask_mode_not_the_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "lockfiles" / "scratch-2026-11-30-0600.yaml"
    old = os.umask(0o022)
    os.umask(old)
    atomicfile.write_text(target, "status: healthy\n")
    assert target.read_text() == "status: healthy\n"
    assert target.stat().st_mode & 0o777 == 0o666 & ~old
    assert [p.name for p in target.parent.iterdir()] == [target.name]   # no temporary left


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("old\n")
    target.chmod(0o750)
    atomicfile.write_text(target, "new\n")
    assert (target.read_text(), target.stat().st_mode & 0o777) == ("new\n", 0o750)


def test_create_exclusive_refuses_an_existing_name_and_sets_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    assert atomicfile.create_exclusive(target, "one\n")
    assert not atomicfile.create_exclusive(target, "two\n")
    assert target.read_text() == "one\n"
    old = os.umask(0o022)
    os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o666 & ~old
