"""The team's versions.yaml: released versions, and an account of everything else in it.

``released_versions`` reads ``components.<name>.version`` under each
component's own name (aliases map renames); these pin the version
environments. ``account_versions`` then goes through every other key, so none
is dropped silently:

- ``components.<name>``: a name components.yaml does not know, a missing
  version, a version no environment uses; ``repo`` and ``image`` are compared
  with components.yaml (the same fact twice is fine, a different one is
  reported); ``package`` and ``registry`` (npm) have no place here; unknown
  fields are reported each at its own line.
- ``deployed.<env>``: what ran is deploy state, which this tool records in
  lockfiles when it deploys; non-empty state is reported with what it says
  (and where it differs from the new pins). Empty entries say nothing.
- ``environments.<env>``: ``auto_deploy`` and ``cluster`` are compared with the
  environment written; differences are reported.
- ``monitoring_tools``, ``infra`` and unknown sections have no place in
  manifests (images of tools are pinned in deploy files).

versions.yaml may call an environment ``production`` where its file is
``prod.yaml``; that one spelling is understood.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..aliases import alias_table
from ..core.models import ComponentsFile
from ..core.versions import normalize_version
from .importenv import EnvImport, Released
from .teamrepo import Finding, TeamFile

SYNONYMS = {"production": "prod"}
PUBLISHING = ("package", "registry")
TOOLS = {"monitoring_tools": "tool versions", "infra": "infrastructure versions"}


def released_versions(f: TeamFile | None, components: ComponentsFile) -> Released:
    table = alias_table(components)
    versions: dict[str, str] = {}
    keys: dict[str, str] = {}
    entries = (f.data.get("components") or {}) if f is not None else {}
    for key, entry in entries.items():
        name = table.get(key, key)
        version = (entry or {}).get("version")
        if name in components.components and name not in keys and version:
            versions[name] = version
            keys[name] = key
    return Released(versions, keys)


def _components(f: TeamFile, components: ComponentsFile, released: Released,
                used: set[str]) -> list[Finding]:
    table = alias_table(components)
    out: list[Finding] = []
    for key, value in (f.data.get("components") or {}).items():
        path = ("components", key)
        name = table.get(key, key)
        entry = value or {}
        if name not in components.components:
            out.append(f.finding(path, f"unknown component {key!r}: components.yaml does not "
                                       "define it; not imported"))
            continue
        if released.keys.get(name, key) != key:
            out.append(f.finding(path, f"names component {name!r} again (as "
                                       f"{released.keys[name]!r} above); not imported"))
            continue
        if not entry.get("version"):
            out.append(f.finding(path, f"no version: {name} is not pinned anywhere from here"))
        elif name not in used:
            out.append(f.finding((*path, "version"),
                                 f"{name} {entry['version']} is not used: no imported "
                                 "environment lists it (add it to the environments that "
                                 "deploy it)"))
        comp = components.components[name]
        if "repo" in entry and entry["repo"] != comp.repo:
            out.append(f.finding((*path, "repo"), f"{entry['repo']} is not components.yaml's "
                                                  f"repo of {name} ({comp.repo})"))
        images = sorted({a.image for a in comp.artifacts.values() if a.image})
        if "image" in entry and entry["image"] not in images:
            built = ", ".join(images) or "no image"
            out.append(f.finding((*path, "image"), f"{entry['image']}: components.yaml builds "
                                                   f"{built} for {name}"))
        known = [k for k in entry if k in PUBLISHING]
        if known:
            out.append(f.finding(path, f"{', '.join(known)}: no place in manifests/ (how "
                                       f"{name} is built and published is components.yaml's "
                                       "recipe); not imported"))
        out += [f.finding((*path, k), f"unknown field {k!r}; not imported")
                for k in entry if k not in (*PUBLISHING, "version", "repo", "image")]
    return out


def _env(key: str, imports: Mapping[str, EnvImport]) -> str | None:
    if key in imports:
        return key
    other = SYNONYMS.get(key)
    return other if other in imports else None


def _deployed(f: TeamFile, components: ComponentsFile,
              imports: Mapping[str, EnvImport]) -> list[Finding]:
    table = alias_table(components)
    out: list[Finding] = []
    for key, state in (f.data.get("deployed") or {}).items():
        said = {k: v for k, v in (state or {}).items() if v not in (None, "", [], {})}
        if not said:
            continue
        env = _env(key, imports)
        # versions of components are shown; other values only by name (they may be anything)
        text = ", ".join(f"{k} {v}" if table.get(k, k) in components.components else k
                         for k, v in said.items())
        if env is None:
            out.append(f.finding(("deployed", key), f"no environments/{key}.yaml; deploy state "
                                                    f"({text}) not imported"))
            continue
        differs = [f"{k} {v} (now pinned to {imports[env].pins[k]})"
                   for k, v in said.items() if k in imports[env].pins
                   and _same_version(str(v), imports[env].pins[k]) is False]
        note = f"; it differs from the pins: {', '.join(differs)}" if differs else ""
        out.append(f.finding(("deployed", key),
                             f"deploy state ({text}) is not a manifest: the first `inv deploy "
                             f"{env}` records what runs in a lockfile{note}"))
    return out


def _same_version(a: str, b: str) -> bool | None:
    try:
        return normalize_version(a) == normalize_version(b)
    except ValueError:
        return None


def _environments(f: TeamFile, imports: Mapping[str, EnvImport]) -> list[Finding]:
    out: list[Finding] = []
    for key, settings in (f.data.get("environments") or {}).items():
        env = _env(key, imports)
        if env is None:
            out.append(f.finding(("environments", key), f"no environments/{key}.yaml; its "
                                                        "settings were not imported"))
            continue
        written = imports[env]
        for k, v in (settings or {}).items():
            path = ("environments", key, k)
            if k == "auto_deploy":
                if v != written.auto_deploy:
                    out.append(f.finding(path, f"says {v!r}, environments/{env}.yaml says "
                                               f"{written.auto_deploy!r}; the latter was "
                                               "imported"))
            elif k == "cluster":
                if v is not None and v != written.cluster:
                    now = repr(written.cluster) if written.cluster else "not set"
                    out.append(f.finding(path, f"{v!r}: {env}'s infrastructure.cluster is "
                                               f"{now}; set it if they are one"))
            else:
                out.append(f.finding(path, f"unknown setting {k!r}; not imported"))
    return out


def account_versions(f: TeamFile, components: ComponentsFile, released: Released,
                     imports: Mapping[str, EnvImport]) -> list[Finding]:
    """Findings for everything in versions.yaml the import did not use (module docstring)."""
    used = set().union(*(i.used for i in imports.values())) if imports else set()
    out = _components(f, components, released, used)
    out += _deployed(f, components, imports)
    out += _environments(f, imports)
    for key, value in f.data.items():
        if key in TOOLS:
            names = ", ".join(value) if isinstance(value, dict) else "..."
            out.append(f.finding((key,), f"{TOOLS[key]} ({names}) have no place in manifests/:"
                                         " deploy/ files pin these images"))
        elif key not in ("components", "deployed", "environments"):
            out.append(f.finding((key,), f"unknown key {key!r}; not imported"))
    return sorted(out, key=lambda x: x.line or 0)
