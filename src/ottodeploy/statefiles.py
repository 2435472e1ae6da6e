"""Broken state never blocks an environment (SPEC §6a).

Everything under ``.ottodeploy/`` is a cache or a record the tool can make
again: doit's database, the per-task records, the static cascade, the version
cache (and the store's index, which ``layoutdir`` repairs the same way). When
one cannot be read — random bytes, truncated JSON, the wrong types, an empty
file, a folder where a file belongs — ``set_aside`` renames it
``<name>.corrupt-<UTC stamp>`` in its folder and warns, naming it and what was
wrong (logger ``ottodeploy.state``, so the warning reaches stderr and never a
``--json`` stdout); the caller then goes on as if it were missing, and it is
made again.

- ``read_json(path, valid, what)``: the JSON value of a state file, or None
  when it is missing or was set aside (not JSON, or ``valid`` refused it).
- ``clear_way(path, folder=...)``: before something is written at ``path``,
  whatever of the wrong kind is there (a folder where a file belongs, or the
  other way round) is set aside. Symbolic links are never followed or moved:
  they are the user's doing, and the callers refuse them where it matters.
- ``doit_database(path)``: doit reads its own database and stops the whole
  run, with two tracebacks, when it cannot; so it is checked before doit is
  started: a mapping of task names to mappings.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("ottodeploy.state")


def set_aside(path: Path, problem: str) -> Path | None:
    """Rename ``path`` to ``<name>.corrupt-<stamp>`` with a warning; the new path, if moved."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists() or aside.is_symlink():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None  # another process set it aside first
    except OSError as exc:
        log.warning("%s is corrupt (%s) and cannot be moved aside (%s)", path, problem,
                    exc.strerror or exc)
        return None
    log.warning("%s is corrupt (%s); moved it to %s, and it will be made again", path, problem,
                aside.name)
    return aside


def _problem(exc: BaseException) -> str:
    if isinstance(exc, IsADirectoryError):
        return "a folder where a file belongs"
    if isinstance(exc, UnicodeDecodeError):
        return f"not text: byte {exc.start + 1} is not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return "empty" if not exc.doc.strip() else f"not JSON: {exc.msg} at line {exc.lineno}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def read_json(path: Path, valid: Callable[[Any], bool], what: str) -> Any | None:
    """The JSON value in ``path`` when ``valid`` accepts it; None when missing or set aside."""
    if path.is_symlink():
        return None  # not ours to judge or move; read as missing, replaced on write
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        set_aside(path, _problem(exc))
        return None
    if not valid(data):
        set_aside(path, f"not {what}")
        return None
    return data


def clear_way(path: Path, *, folder: bool = False) -> None:
    """Set aside what is at ``path`` when it is not a ``folder`` (or a file) as it must be."""
    if path.is_symlink() or not path.exists():
        return
    if folder and not path.is_dir():
        set_aside(path, "a file where a folder belongs")
    elif not folder and path.is_dir():
        set_aside(path, "a folder where a file belongs")


def is_mapping_of_mappings(data: Any) -> bool:
    return isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, dict) for k, v in data.items())


_DOIT_FIELDS: dict[str, type] = {"_values_:": dict, "checker:": str, "deps:": list}


def _is_doit_database(data: Any) -> bool:
    return is_mapping_of_mappings(data) and all(
        isinstance(entry[name], kind)
        for entry in data.values() for name, kind in _DOIT_FIELDS.items() if name in entry)


def doit_database(path: Path) -> None:
    """Set doit's database (json backend) aside unless doit can read it."""
    read_json(path, _is_doit_database, "doit's database (a mapping of tasks)")
