"""``inv schema``: the JSON Schemas of the files a user writes and of ``--events``, from the models.

Each schema is its pydantic model's ``model_json_schema(by_alias=True)`` (JSON
Schema draft 2020-12) with ``$schema``, ``$id`` and a title naming the file it
describes, written as sorted, indented JSON so a regenerated schema diffs
cleanly; a file whose text is unchanged is not rewritten. A mapping whose keys
must be names (``dict[Name, ...]``) comes out of pydantic as
``patternProperties`` only, which lets any other key through; it gets
``additionalProperties: false``, as the model refuses such keys. Editors and CI
can check a manifest's shape with these; what needs several values or files at
once (cycles, unknown components, refs that exist) is still ``inv check``'s job.
``events.schema.json`` describes one line of the ``--events`` stream
(``core.events``): a union of the event kinds, told apart by ``event``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..core.events import Event
from ..core.lockmodels import Lockfile
from ..core.models import CompatibilityFile, ComponentsFile, Environment, HostsFile

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:ottodeploy:schema:"

# file name -> (model, the file it describes)
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "components.schema.json": (ComponentsFile, "manifests/components.yaml"),
    "environment.schema.json": (Environment, "manifests/environments/<env>.yaml"),
    "compatibility.schema.json": (CompatibilityFile, "manifests/compatibility.yaml"),
    "lockfile.schema.json": (Lockfile, "lockfiles/<env>-<YYYY-MM-DD-HHMM>[-N].yaml"),
    "hosts.schema.json": (HostsFile, "manifests/hosts.yaml"),
    "events.schema.json": (Event, "--events: one line of the stream"),
}


def schema_of(name: str) -> dict[str, Any]:
    """The schema written as ``name`` (one of ``SCHEMAS``)."""
    model, describes = SCHEMAS[name]
    body = model.model_json_schema(by_alias=True)
    body.pop("title", None)
    _close_pattern_maps(body)
    return {"$schema": DRAFT, "$id": ID_PREFIX + name, "title": f"ottodeploy {describes}",
            **body}


def _close_pattern_maps(node: Any) -> None:
    if isinstance(node, dict):
        if "patternProperties" in node and "properties" not in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def render(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


def write_schemas(dest: Path) -> list[Path]:
    """Write every schema into ``dest`` (created); the paths written, in ``SCHEMAS`` order."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = dest / name
        text = render(name)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written
