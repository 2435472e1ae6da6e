"""``inv import PATH``: this tool's manifests from the team's own deploy repository.

SPEC §3a. The algorithm, in order, all in memory until the last step:

1. Read the checkout strictly (``teamrepo``): ``environments/*.yaml``,
   ``versions.yaml``, ``compatibility.yaml``. Malformed input is bad input
   (exit 2, file and line) and nothing is written. components.yaml of this
   deploy root names the components and knows their former names (aliases).
2. Released versions come from versions.yaml's ``components.<name>.version``,
   under the component's name.
3. Each environment file becomes ``manifests/environments/<name>.yaml``
   (``importenv``), with what only this tool knows kept from the existing
   manifest of that name.
4. compatibility.yaml's ``components.<c>.requires.<d>`` ranges become
   ``compatibility.<c>.<d>``, with their comments and the file's header and
   footer; its other keys are documentation this file has no place for.
5. What is left of versions.yaml is accounted for (``teamversions``): fields
   components.yaml already knows are compared, ``deployed:`` state and tool
   versions have no place in manifests, per-environment settings are compared
   with the files written.
6. Every output is checked as ``inv check --offline`` would check it; any
   problem becomes a finding on the output's own file and line.
7. Unless ``--dry-run``, the files whose text changed are written atomically.

Every key of the team's files is therefore written, known already, or listed
as needing a human with its file and line: nothing is dropped silently. The
result depends only on the team's files and the existing manifests' own keys,
so importing twice changes nothing the second time.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from .. import atomicfile, editing
from ..adoption.importenv import EnvImport, Target, import_environment
from ..adoption.teamrepo import Finding, TeamFile, TeamRepo, read_team_repo
from ..adoption.teamversions import account_versions, released_versions
from ..adoption.yamlcomments import Provenance, comments_of, render
from ..aliases import alias_table
from ..core.errors import ManifestError
from ..core.models import CompatibilityFile, ComponentsFile, Environment
from ..manifests import check_environment, load_components, validate
from ..root import DeployRoot
from ..yamlfile import parse

DESCRIPTIVE = ("description", "type", "artifacts")   # compatibility.yaml's documentation


@dataclass(frozen=True)
class Output:
    path: Path
    display: str
    old: str | None
    new: str

    @property
    def action(self) -> str:
        if self.old is None:
            return "created"
        return "unchanged" if self.old == self.new else "changed"

    def diff(self) -> str:
        return "".join(difflib.unified_diff(
            (self.old or "").splitlines(keepends=True), self.new.splitlines(keepends=True),
            fromfile="/dev/null" if self.old is None else f"a/{self.display}",
            tofile=f"b/{self.display}"))


@dataclass
class ImportResult:
    source: Path
    root: DeployRoot
    outputs: list[Output] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def diff(self) -> str:
        return "".join(o.diff() for o in self.outputs)

    def to_json(self, *, dry_run: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": str(self.source), "root": str(self.root.path), "dry_run": dry_run,
            "files": [{"path": o.display, "action": o.action} for o in self.outputs],
            "needs_a_human": [f.to_json() for f in self.findings],
        }
        if dry_run:
            data["diff"] = self.diff()
        return data


def _target(root: DeployRoot, path: Path) -> tuple[str | None, Target | None]:
    if not path.is_file():
        return None, None
    display = root.display(path)
    text = path.read_text(encoding="utf-8")
    doc = parse(text, display)
    if not isinstance(doc.data, dict):
        validate(Environment, doc)  # raises: not a mapping
    return text, Target(display, text, editing.load(text)[1], comments_of(text, doc))


def _compatibility(f: TeamFile, components: ComponentsFile) -> tuple[str, list[Finding]]:
    table = alias_table(components)
    dumper, rt = editing.load(f.text)
    out = CommentedMap()
    prov = Provenance()
    findings: list[Finding] = []
    for key in f.data:
        if key != "components":
            findings.append(f.finding((key,), f"unknown key {key!r}: compatibility.yaml here "
                                              "holds ranges only; not imported"))
    for key, entry in (f.data.get("components") or {}).items():
        path = ("components", key)
        name = table.get(key, key)
        if name not in components.components:
            findings.append(f.finding(path, f"unknown component {key!r}: components.yaml does "
                                            "not define it; its ranges were not imported"))
            continue
        if name in out:
            findings.append(f.finding(path, f"names component {name!r} again; not imported"))
            continue
        known = [k for k in entry or {} if k in DESCRIPTIVE]
        if known:
            findings.append(f.finding(path, f"{', '.join(known)}: no place in "
                                            "compatibility.yaml (components.yaml describes "
                                            "components); not imported"))
        findings += [f.finding((*path, k), f"unknown field {k!r}; not imported")
                     for k in entry or {} if k not in (*DESCRIPTIVE, "requires")]
        ranges = CommentedMap()
        for dep_key in (entry or {}).get("requires") or {}:
            dep_path = (*path, "requires", dep_key)
            dep = table.get(dep_key, dep_key)
            if dep not in components.components or dep == name or dep in ranges:
                why = ("a component cannot constrain itself" if dep == name else
                       f"names {dep!r} again" if dep in ranges else
                       f"unknown component {dep_key!r}")
                findings.append(f.finding(dep_path, f"{why}; range not imported"))
                continue
            ranges[dep] = rt["components"][key]["requires"][dep_key]
            prov.add(("compatibility", name, dep), f.comments, dep_path)
        if ranges:
            out[name] = ranges
            prov.add(("compatibility", name), f.comments, path)
    top = CommentedMap([("compatibility", out)])
    text = render(dumper, top, prov, f.comments.header, f.comments.footer, f.rel)
    return text, findings


def _problems_of(display: str, text: str, components: ComponentsFile,
                 stem: str | None) -> list[Finding]:
    """What ``inv check --offline`` would say about an output, as findings."""
    try:
        doc = parse(text, display)
        if stem is None:
            validate(CompatibilityFile, doc)
            return []
        problems = check_environment(validate(Environment, doc), doc, components, stem)
    except ManifestError as exc:
        problems = exc.problems
    return [Finding(display, p.path, p.line, p.message + (f" ({p.hint})" if p.hint else ""))
            for p in problems]


def plan_import(root: DeployRoot, source: Path) -> ImportResult:
    """Everything the import would write and report (steps 1-6 of the module docstring)."""
    team: TeamRepo = read_team_repo(source)
    components, _ = load_components(root)
    result = ImportResult(source, root)
    released = released_versions(team.versions, components)
    targets = {stem: _target(root, root.env_file(stem)) for stem in team.environments
               if _valid_stem(stem)}
    imports: dict[str, EnvImport] = {}
    for stem, f in team.environments.items():
        if stem not in targets:
            result.findings.append(f.finding((), f"{stem!r} is not a valid environment name "
                                                 "here (lowercase letters, digits, '-'); not "
                                                 "imported"))
            continue
        old, target = targets[stem]
        env = import_environment(f, stem, components, released, target)
        imports[stem] = env
        path = root.env_file(stem)
        result.outputs.append(Output(path, root.display(path), old, env.text))
        result.findings += env.findings
    if team.compatibility is not None:
        text, findings = _compatibility(team.compatibility, components)
        path = root.compatibility_file
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        result.outputs.append(Output(path, root.display(path), old, text))
        result.findings += findings
    else:
        result.findings.append(Finding("compatibility.yaml", (), None,
                                       "not found: manifests/compatibility.yaml was left as "
                                       "it is"))
    if team.versions is not None:
        result.findings += account_versions(team.versions, components, released, imports)
    for out in result.outputs:
        is_env = out.path != root.compatibility_file
        result.findings += _problems_of(out.display, out.new, components,
                                        out.path.stem if is_env else None)
    files = list(dict.fromkeys(f.file for f in result.findings))
    result.findings.sort(key=lambda f: (files.index(f.file), f.line or 0))
    return result


def _valid_stem(stem: str) -> bool:
    return re.fullmatch(r"[a-z][a-z0-9-]*", stem) is not None


def write(result: ImportResult) -> None:
    """Write every output whose text changed (step 7)."""
    for out in result.outputs:
        if out.action != "unchanged":
            atomicfile.write_text(out.path, out.new)


def render_result(result: ImportResult, *, dry_run: bool) -> list[str]:
    verb = {"created": "would create", "changed": "would change"} if dry_run else {}
    lines = [f"import {result.source} -> {result.root.display(result.root.manifests)}/"]
    lines += [f"  {verb.get(o.action, o.action):<12} {o.display}" for o in result.outputs]
    if result.findings:
        lines.append(f"needs a human ({len(result.findings)}):")
        lines += [f"  {f.render()}" for f in result.findings]
    else:
        lines.append("needs a human: nothing")
    return lines
