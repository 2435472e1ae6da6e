"""One of the team's environment files as this tool's environment manifest.

The team's file is the base: its keys stay in their order with their comments
(``yamlcomments``), mapped one by one:

- ``name`` becomes the file's name; ``mode: release`` becomes ``version``;
  ``requires_approval`` becomes ``approval_required``; ``auto_deploy`` and
  ``description`` stay. Keys of this tool's own (``infrastructure``, ``smoke``,
  ``e2e``) stay when they are valid here.
- A source goes under its component's name (aliases map renames). In a version
  environment a source on a ref (the team writes ``ref: main``) is pinned to
  versions.yaml's version, in the ref's place and with its comment; a source
  versions.yaml has no version for is left out (a version environment lists
  what it deploys). A branch environment keeps its refs. ``type``, ``repo`` and
  ``build_with`` stay where they mean the same here.
- A built source (branch mode, not pinned by version) needs the components it
  depends on. One the team's file does not list is taken at its release from
  versions.yaml (used, not built), else kept from the existing manifest, and
  either way reported; if neither has it, the check of the result says so.
- What only this tool knows is carried over from the existing manifest, when
  there is one and the team's file does not say it: ``description``,
  ``infrastructure``, ``smoke``, ``e2e`` and a ref source's ``build_with``.

Everything else - an unknown key or component, a source without a pin, a
value with no place here, hosts that live in a secret - is a ``Finding``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from ruamel.yaml.comments import CommentedMap

from .. import editing
from ..aliases import alias_table
from ..core.models import E2E, ComponentsFile, Infrastructure, SmokeCheck
from ..core.versions import normalize_version
from ..inventory import variable_name
from .teamrepo import Finding, TeamFile
from .yamlcomments import Comments, Provenance, Trivia, bare, render

PINS = ("ref", "version", "sha")
TYPES = ("upstream", "core", "ecosystem")
OURS: dict[str, TypeAdapter[Any]] = {
    "infrastructure": TypeAdapter(Infrastructure),
    "smoke": TypeAdapter(list[SmokeCheck]),
    "e2e": TypeAdapter(E2E),
}
CARRIED = ("description", "infrastructure", "smoke", "e2e")
_SECRET = re.compile(r"\b([A-Z][A-Z0-9_]*_INFRASTRUCTURE)\b")
_BLOCK_KEY = re.compile(r"[^\s#-][^:]*:\s*(#.*)?$")


@dataclass(frozen=True)
class Released:
    """versions.yaml's released versions by component name, and where each was written."""

    versions: dict[str, str]
    keys: dict[str, str]          # component -> its key in versions.yaml


@dataclass(frozen=True)
class Target:
    """This tool's existing manifest for the environment (what only it knows is kept)."""

    rel: str
    text: str
    data: Any                     # ruamel round-trip data
    comments: Comments


@dataclass
class EnvImport:
    stem: str
    text: str
    findings: list[Finding] = field(default_factory=list)
    used: set[str] = field(default_factory=set)          # versions.yaml components used
    mode: str = "branch"
    auto_deploy: bool = False
    cluster: str | None = None
    pins: dict[str, str] = field(default_factory=dict)   # component -> version


class _Env:
    def __init__(self, f: TeamFile, stem: str, components: ComponentsFile, released: Released,
                 target: Target | None) -> None:
        self.f, self.stem, self.components, self.released, self.target = \
            f, stem, components, released, target
        self.table = alias_table(components)
        self.dumper, self.rt = editing.load(f.text)
        offset = _dash_offset(f.text)
        if offset is None and target is not None:
            offset = _dash_offset(target.text)  # the team's file has no list to learn from
        if offset is not None:
            self.dumper.indent(mapping=self.dumper.map_indent, sequence=offset + 2,
                               offset=offset)
        self.mode = "version" if f.data["mode"] == "release" else str(f.data["mode"])
        self.out = CommentedMap()
        self.prov = Provenance()
        self.result = EnvImport(stem, "", mode=self.mode)
        self.team_key: dict[str, str] = {}   # component -> its key in the team's file

    def find(self, path: tuple[str | int, ...], message: str) -> None:
        self.result.findings.append(self.f.finding(path, message))

    def keep(self, out_key: str, src_key: str, value: Any) -> None:
        self.out[out_key] = value
        self.prov.add((out_key,), self.f.comments, (src_key,))

    def top(self) -> None:
        data = self.f.data
        for key in data:
            value = self.rt[key]
            if key == "name":
                self.keep("name", key, self.stem)
                if data[key] != self.stem:
                    self.find((key,), f"name {data[key]!r} is not the file's name; written "
                                      f"as {self.stem!r} (this tool's rule)")
            elif key == "mode":
                self.keep("mode", key, self.mode)
            elif key == "auto_deploy" or (key == "description" and isinstance(data[key], str)):
                self.keep(key, key, value)
            elif key in ("requires_approval", "approval_required"):
                if "approval_required" in self.out:
                    if self.out["approval_required"] != data[key]:
                        self.find((key,), "says the opposite of the approval key above it; "
                                          "the first one was imported")
                    continue
                self.keep("approval_required", key, value)
            elif key == "sources":
                self.out["sources"] = CommentedMap()
                self.prov.add(("sources",), self.f.comments, ("sources",))
            elif key in OURS and _valid(OURS[key], data[key]):
                self.keep(key, key, value)
            elif key in OURS or key == "description":
                self.find((key,), f"{key} is not valid in this tool's environment files; "
                                  "not imported")
            else:
                self.find((key,), f"unknown key {key!r}: this tool's environment files have "
                                  "no place for it; not imported")
        if "name" not in self.out:
            self.out.insert(0, "name", self.stem)
        if "sources" not in self.out:
            self.out["sources"] = CommentedMap()

    def sources(self) -> None:
        out = self.out["sources"]
        for key, value in (self.f.data.get("sources") or {}).items():
            path = ("sources", key)
            name = self.table.get(key, key)
            if name not in self.components.components:
                self.find(path, f"unknown component {key!r}: components.yaml does not define "
                                "it; not imported")
                continue
            if name in out:
                self.find(path, f"names component {name!r} again (an alias of it is listed "
                                "above); not imported")
                continue
            pin = self.pin(name, key, value)
            if pin is None:
                continue
            entry = CommentedMap()
            if self.rt["sources"][key].fa.flow_style():
                entry.fa.set_flow_style()
            self.prov.add(("sources", name), self.f.comments, path)
            for k in value:
                if k in PINS:
                    continue
                if (k == "type" and value[k] in TYPES) or k == "repo":
                    entry[k] = self.rt["sources"][key][k]
                    if k == "repo" and value[k] != self.components.components[name].repo:
                        self.find((*path, k), f"{value[k]} is not components.yaml's repo of "
                                              f"{name} ({self.components.components[name].repo})"
                                              "; kept as this source's repo")
                elif k == "build_with" and pin[0] != "version" and _string_map(value[k]):
                    entry[k] = self.rt["sources"][key][k]
                else:  # values of unknown fields are not echoed: they may be anything
                    what = f"type {value[k]!r}" if k == "type" else f"field {k!r}"
                    self.find((*path, k), f"{what} has no place in this tool's sources "
                                          "here; not imported")
            position = next((i for i, k in enumerate(value) if k in PINS), len(entry))
            entry.insert(min(position, len(entry)), pin[0], pin[1])
            self.prov.add(("sources", name, pin[0]), self.f.comments, (*path, pin[2]))
            out[name] = entry
            self.team_key[name] = key

    def pin(self, name: str, key: str, value: dict[str, Any]) -> tuple[str, Any, str] | None:
        """(pin key, value, the team's key it replaces), or None when it is left out."""
        path = ("sources", key)
        given = next((k for k in PINS if k in value), None)
        if self.mode == "version" and given in (None, "ref"):
            version = self.released.versions.get(name)
            if version is None:
                self.find(path, f"versions.yaml has no released version of {name}: left out "
                                f"of {self.stem} (a version environment lists what it deploys)")
                return None
            self.result.used.add(name)
            return "version", version, given or "version"
        if given is None:
            self.find(path, "names no ref, version or sha; not imported")
            return None
        if self.mode == "version" and given == "version" and name in self.released.versions:
            released = self.released.versions[name]
            self.result.used.add(name)
            if normalize_version(value["version"]) != normalize_version(released):
                self.find((*path, "version"), f"pins {value['version']} where versions.yaml "
                                              f"says {released}; the file's pin was kept")
        return given, self.rt["sources"][key][given], given

    def dependencies(self) -> None:
        """Components a built source needs, which the team's file does not list."""
        out = self.out["sources"]
        target = self.target_sources()
        tried: set[str] = set()
        while True:
            missing = [(name, dep) for name, entry in out.items() if "version" not in entry
                       and self.mode == "branch"
                       for dep in (d.partition(".")[0] for d in
                                   self.components.components[name].depends_on)
                       if dep not in out and dep not in tried]
            if not missing:
                return
            name, dep = missing[0]
            tried.add(dep)
            where = ("sources", self.team_key.get(name, name))
            why = f"{name} is built here and depends on {dep}, which this file does not list"
            if dep in self.released.versions:
                version = self.released.versions[dep]
                entry = CommentedMap([("version", version)])
                self.result.used.add(dep)
                self.find(where, f"{why}: added {dep} at its release {version} from "
                                 "versions.yaml (used, not built)")
            elif dep in target:
                assert self.target is not None
                entry = bare(self.target.data["sources"][target[dep]])
                self.prov.add(("sources", dep), self.target.comments, ("sources", target[dep]))
                self.find(where, f"{why}: kept sources.{dep} from {self.target.rel}")
            else:
                continue
            out.insert(list(out).index(name), dep, entry)
            if ("sources", dep) not in {p[0] for p in self.prov.parts}:
                # spaced like the source it is put above
                below = self.prov.trivia(("sources", name)).above
                self.prov.put(("sources", dep), Trivia(above=("",) if below[:1] == ("",)
                                                       else ()))

    def target_sources(self) -> dict[str, str]:
        if self.target is None or not isinstance(self.target.data.get("sources"), dict):
            return {}
        return {self.table.get(k, k): k for k in self.target.data["sources"]}

    def carry(self) -> None:
        """What only this tool knows, from the existing manifest (module docstring)."""
        if self.target is None:
            return
        for key in CARRIED:
            if key not in self.out and key in self.target.data:
                self.out[key] = self.target.data[key]
                self.prov.add((key,), self.target.comments, (key,))
        target = self.target_sources()
        for name, entry in self.out["sources"].items():
            if name not in target or "ref" not in entry or "build_with" in entry:
                continue
            theirs = self.target.data["sources"][target[name]]
            if isinstance(theirs, dict) and "ref" in theirs and "build_with" in theirs:
                entry.insert(list(entry).index("ref") + 1, "build_with", theirs["build_with"])
                self.prov.add(("sources", name, "build_with"), self.target.comments,
                              ("sources", target[name], "build_with"))

    def hosts(self) -> None:
        if "infrastructure" in self.f.data:
            return
        lines = self.f.text.splitlines()
        found = next(((i, m.group(1)) for i, ln in enumerate(lines, 1)
                      if (m := _SECRET.search(ln))), None)
        ours = variable_name(self.stem)
        secret = found[1] if found else "a secret"
        reads = "" if found and found[1] == ours else f" (this tool reads {ours})"
        if "infrastructure" in self.out:
            what = (f"kept infrastructure from {self.target.rel if self.target else '?'}; "
                    f"its node names must be the names in {secret}")
        else:
            what = ("set infrastructure.nodes (the names in it) and services_host here, "
                    "and private_host per node in it")
        self.result.findings.append(Finding(
            self.f.rel, ("infrastructure",), found[0] if found else None,
            f"hosts live in {secret}{reads}: {what}"))

    def run(self) -> EnvImport:
        self.top()
        self.sources()
        self.dependencies()
        self.carry()
        self.hosts()
        result = self.result
        result.auto_deploy = self.out.get("auto_deploy") is True
        infra = self.out.get("infrastructure")
        result.cluster = infra.get("cluster") if isinstance(infra, dict) else None
        result.pins = {n: str(e["version"]) for n, e in self.out["sources"].items()
                       if "version" in e}
        result.text = render(self.dumper, self.out, self.prov, self.f.comments.header,
                             self.f.comments.footer, self.f.rel)
        return result


def _dash_offset(text: str) -> int | None:
    """How far a file indents the dash of a block list under its key (None: no such list)."""
    key_col = None
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        col = len(line) - len(stripped)
        if stripped.startswith("- ") and key_col is not None:
            return max(col - key_col, 0)
        key_col = col if _BLOCK_KEY.match(stripped) else None
    return None


def _valid(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def import_environment(f: TeamFile, stem: str, components: ComponentsFile, released: Released,
                       target: Target | None) -> EnvImport:
    """The team's environment file ``f`` as this tool's manifest (module docstring)."""
    return _Env(f, stem, components, released, target).run()
