"""A checkout of the OttoChain team's own deploy repository, read strictly (SPEC §3a).

The team keeps ``environments/*.yaml`` (``mode: release`` or ``branch``,
``requires_approval``, sources on refs), ``versions.yaml`` (released versions
under ``components.<name>.version``, plus tool versions and per-environment
``deployed:`` state) and ``compatibility.yaml`` (``components.<name>.requires``).
Each file is parsed with the strict loader (so every value has its line) and
its comments are taken (``yamlcomments``). Only the shape the import relies on
is checked here; a file that breaks it is bad input and the import writes
nothing: not UTF-8 or not YAML, not a mapping, ``mode`` missing or unknown, a
ref, version, sha, repo or range that is malformed, a boolean that is not one.
Everything else - keys this tool has no place for, components it does not know -
is not an error: the import reports it as needing a human (``Finding``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ManifestError, Problem, UsageError, format_path
from ..core.refnames import SHA_RE, ref_problem, repo_problem
from ..core.versions import Range, parse_version
from ..yamlfile import Document, load
from .yamlcomments import Comments, comments_of

Path_ = tuple[str | int, ...]
MODES = ("branch", "release", "version")


@dataclass(frozen=True)
class Finding:
    """One thing the import could not map: where it is and what a human should do."""

    file: str
    path: Path_
    line: int | None
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        key = format_path(self.path)
        return f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": format_path(self.path),
                "message": self.message}


@dataclass(frozen=True)
class TeamFile:
    """One file of the checkout: its text, strict parse and comments."""

    rel: str
    text: str
    doc: Document
    comments: Comments

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}

    def line(self, path: Path_) -> int | None:
        return self.doc.positions.line(path)

    def finding(self, path: Path_, message: str) -> Finding:
        return Finding(self.rel, tuple(path), self.line(path), message)


@dataclass(frozen=True)
class TeamRepo:
    path: Path
    environments: dict[str, TeamFile]   # file stem -> file
    versions: TeamFile | None
    compatibility: TeamFile | None


def _read(base: Path, rel: str) -> TeamFile:
    doc = load(base / rel, rel)
    if not isinstance(doc.data, dict):
        got = "an empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        raise ManifestError(rel, [Problem((), f"expected a mapping at the top, got {got}")])
    text = (base / rel).read_text(encoding="utf-8")  # load() has read it as UTF-8 already
    return TeamFile(rel, text, doc, comments_of(text, doc))


class _Checker:
    """Collects the shape problems of one file; raises them all at once."""

    def __init__(self, f: TeamFile) -> None:
        self.f = f
        self.problems: list[Problem] = []

    def fail(self, path: Path_, message: str, hint: str | None = None) -> None:
        self.problems.append(self.f.doc.problem(path, message, hint))

    def mapping(self, value: Any, path: Path_, *, empty_ok: bool = True) -> dict[str, Any]:
        if value is None and empty_ok:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_kind(value)}")
            return {}
        return value

    def text(self, value: Any, path: Path_, check: Callable[[str], str | None]) -> None:
        if not isinstance(value, str):
            written = self.f.doc.positions.text(path)
            hint = f'quote it: "{written}"' if written is not None else None
            self.fail(path, f"expected a string, got {_kind(value)}", hint)
        elif (problem := check(value)) is not None:
            self.fail(path, problem)

    def boolean(self, data: dict[str, Any], key: str, path: Path_ = ()) -> None:
        if key in data and not isinstance(data[key], bool):
            self.fail((*path, key), f"expected true or false, got {_kind(data[key])}")

    def done(self) -> None:
        if self.problems:
            raise ManifestError(self.f.rel, self.problems)


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} {value!r}"


def _version_problem(text: str) -> str | None:
    try:
        parse_version(text)
    except ValueError as exc:
        return str(exc)
    return None


def _range_problem(text: str) -> str | None:
    try:
        Range.parse(text)
    except ValueError as exc:
        return str(exc)
    return None


def _ref_problem(text: str) -> str | None:
    problem = ref_problem(text)
    return f"ref {text!r} {problem}" if problem else None


def _repo_problem(text: str) -> str | None:
    problem = repo_problem(text)
    return f"repo {text!r} {problem}" if problem else None


def _sha_problem(text: str) -> str | None:
    return None if SHA_RE.fullmatch(text) else f"sha {text!r} is not a full 40-hex commit SHA"


def _check_environment(f: TeamFile) -> None:
    c = _Checker(f)
    data = f.data
    if "mode" not in data:
        c.fail((), "required key 'mode' is missing", "mode: branch or mode: release")
    elif data["mode"] not in MODES:
        c.fail(("mode",), f"mode {data['mode']!r} is not one of {', '.join(MODES)}")
    for key in ("auto_deploy", "requires_approval", "approval_required"):
        c.boolean(data, key)
    if "name" in data and not isinstance(data["name"], str):
        c.fail(("name",), f"expected a string, got {_kind(data['name'])}")
    for name, value in c.mapping(data.get("sources"), ("sources",)).items():
        path: Path_ = ("sources", name)
        source = c.mapping(value, path, empty_ok=False)
        pins = [k for k in ("ref", "version", "sha") if k in source]
        if len(pins) > 1:
            c.fail(path, f"a source names one of ref, version or sha (got {' and '.join(pins)})")
        checks = {"ref": _ref_problem, "version": _version_problem, "sha": _sha_problem,
                  "repo": _repo_problem}
        for key, check in checks.items():
            if key in source:
                c.text(source[key], (*path, key), check)
    c.done()


def _check_versions(f: TeamFile) -> None:
    c = _Checker(f)
    for name, value in c.mapping(f.data.get("components"), ("components",)).items():
        entry = c.mapping(value, ("components", name))
        version = entry.get("version")
        if version not in (None, ""):
            c.text(version, ("components", name, "version"), _version_problem)
    for key in ("deployed", "environments"):
        for env, entry in c.mapping(f.data.get(key), (key,)).items():
            c.mapping(entry, (key, env))
    c.done()


def _check_compatibility(f: TeamFile) -> None:
    c = _Checker(f)
    for name, value in c.mapping(f.data.get("components"), ("components",)).items():
        entry = c.mapping(value, ("components", name))
        path = ("components", name, "requires")
        for dep, text in c.mapping(entry.get("requires"), path).items():
            c.text(text, (*path, dep), _range_problem)
    c.done()


def read_team_repo(path: Path) -> TeamRepo:
    """Every file the import reads, checked (module docstring); bad input raises."""
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder", hint="give a checkout of the team's "
                         "deploy repository (the folder holding environments/)")
    folder = path / "environments"
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    if not files:
        raise UsageError(f"{path} has no environments/*.yaml",
                         hint="give a checkout of the team's deploy repository")
    environments: dict[str, TeamFile] = {}
    for file in files:
        if file.stem in environments:
            raise UsageError(f"environments/{file.stem} is given twice "
                             f"({file.stem}.yaml and {file.stem}.yml)", hint="keep one")
        environments[file.stem] = _read(path, f"environments/{file.name}")
        _check_environment(environments[file.stem])
    versions = compatibility = None
    if (path / "versions.yaml").exists():
        versions = _read(path, "versions.yaml")
        _check_versions(versions)
    elif any(f.data.get("mode") == "release" for f in environments.values()):
        raise UsageError(f"{path}/versions.yaml is missing, and release environments are "
                         "pinned to its versions", hint="run the import on a full checkout")
    if (path / "compatibility.yaml").exists():
        compatibility = _read(path, "compatibility.yaml")
        _check_compatibility(compatibility)
    return TeamRepo(path, environments, versions, compatibility)
