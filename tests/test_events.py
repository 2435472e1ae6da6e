"""``--events``: a real deploy's stream, line by line, against ``schema/events.schema.json``.

The schema, the ``reporting`` docstring and the README name the same kinds and fields
(``core.events`` is the source of the schema). A full deploy and a failing one are run
with ``--events``: every stdout line is one event the schema accepts, the stages come in
order, each task ends exactly once, and the lockfile is announced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ottodeploy import reporting
from ottodeploy.core.events import KINDS
from tests.conftest import PROJECT, run_inv
from tests.deploykit import NODES, ServiceServer, configure, lockfiles
from tests.ecosystem import Ecosystem

SCHEMA = json.loads((PROJECT / "schema" / "events.schema.json").read_text())
ALL_TASKS = {"tessellation_publish", "metakit_publish", "ottochain_assembly", "ottochain_image",
             "sdk_build", "services_image", "explorer_image", "monitoring_config"}
INFRA = {"nodes": [{"host": "127.0.0.1", "name": n} for n in NODES],
         "services_host": "127.0.0.1"}


@pytest.fixture
def site(eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ecosystem]:
    with ServiceServer(eco.root) as server:
        configure(eco, server.port)
        monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(INFRA))
        yield eco


def stream(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line as an event the schema accepts (nothing else may be on stdout)."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    events = []
    for line in stdout.splitlines():
        event = json.loads(line)
        errors = [e.message for e in validator.iter_errors(event)]
        assert errors == [], (line, errors)
        events.append(event)
    return events


def started_stages(events: list[dict[str, Any]]) -> list[str]:
    return [e["stage"] for e in events if e["event"] == "stage" and e["state"] == "started"]


def test_a_full_deploy_streams_valid_events_in_order(site: Ecosystem) -> None:
    result = run_inv("deploy", "scratch", "--events")
    assert result.code == 0, result.output
    events = stream(result.stdout)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)

    assert started_stages(events) == ["check", "build", "deploy", "smoke", "e2e"]
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "lockfile"
    assert kinds.index("summary") < kinds.index("step")  # the build ends before the deploy

    # each task: one terminal event, after its start; every task of the cascade
    ends: dict[str, list[str]] = {}
    for e in events:
        if e["event"] == "task" and e["state"] != "started":
            ends.setdefault(e["task"], []).append(e["state"])
    assert set(ends) == ALL_TASKS
    assert all(len(states) == 1 for states in ends.values()), ends
    assert {s for (s,) in ends.values()} == {"built"}
    totals = {e["total"] for e in events if e["event"] == "task" and e.get("total")}
    assert totals == {len(ALL_TASKS)}

    smoke = [e for e in events if e["event"] == "check"]
    assert smoke and all(e["state"] == "passed" for e in smoke)
    (lock,) = [e for e in events if e["event"] == "lockfile"]
    (path,) = lockfiles(site)
    assert lock == {**lock, "path": f"lockfiles/{path.name}", "status": "healthy"}


def test_a_failing_deploy_streams_its_failure(site: Ecosystem) -> None:
    (site.root / "deployed").mkdir()
    (site.root / "deployed" / "fail-services").write_text("")
    result = run_inv("deploy", "scratch", "--events")
    assert result.code == 1
    events = stream(result.stdout)
    failed = [e for e in events if e["event"] == "step" and e["state"] == "failed"]
    assert [e["component"] for e in failed] == ["services"]
    *_, lock, end = events
    assert lock["event"] == "lockfile" and lock["status"] == "failed"
    assert end["event"] == "error" and end["exit"] == 1
    assert end["text"].startswith("deploy of scratch failed")
    assert "smoke" not in started_stages(events)
    assert "ottodeploy: error: deploy of scratch failed" in result.stderr


def test_a_build_streams_events_and_json_stays_one_document(eco: Ecosystem) -> None:
    result = run_inv("build", "scratch", "--events", "--task", "metakit_publish")
    assert result.code == 0, result.output
    events = stream(result.stdout)
    assert [e["task"] for e in events if e["event"] == "task" and e["state"] == "built"] == \
        ["tessellation_publish", "metakit_publish"]
    assert events[-1]["event"] == "summary"
    plan = run_inv("plan", "scratch", "--json")
    assert plan.code == 0
    assert json.loads(plan.stdout)["environment"] == "scratch"


def test_bad_input_under_events_ends_the_stream_with_its_exit_status(eco: Ecosystem) -> None:
    result = run_inv("deploy", "prdo", "--events")
    assert result.code == 2
    (end,) = stream(result.stdout)
    assert end["event"] == "error" and end["exit"] == 2
    assert "unknown environment 'prdo'" in end["text"]


def fields(kind: str) -> list[str]:
    return [f for f in KINDS[kind].model_fields if f not in ("event", "at")]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_schema_the_docstring_and_the_readme_agree(kind: str) -> None:
    assert SCHEMA["discriminator"]["mapping"][kind]
    doc = reporting.__doc__ or ""
    (entry,) = re.findall(rf"^- ``{kind}``:(.*?)(?=^- |\Z)", doc, re.M | re.S)
    for name in fields(kind):
        assert f"``{name}``" in entry, (kind, name)
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("### Events for agents (`--events`)")[1].split("\n## ")[0]
    (row,) = [line for line in section.splitlines() if line.startswith(f"| `{kind}` |")]
    for name in fields(kind):
        assert f"`{name}`" in row, (kind, name)
    assert set(re.findall(r"^\| `([a-z]+)` \|", section, re.M)) == set(KINDS)


def test_the_events_are_written_as_the_models_say(tmp_path: Path) -> None:
    from ottodeploy.core.events import Event

    assert Event.model_validate({"event": "note", "at": 1.0, "text": "hi"})
    with pytest.raises(ValueError, match="extra"):
        Event.model_validate({"event": "note", "at": 1.0, "text": "hi", "other": 1})
