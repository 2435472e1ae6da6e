"""The ``--events`` stream: one JSON object per line, one model per kind (SPEC §5a).

``build``, ``deploy``, ``verify``, ``promote``, ``deploy-lockfile`` and ``rollback``
with ``--events`` write each event a flow reports (``reporting``) as one line of
JSON: ``event`` (the kind), ``at`` (seconds since the epoch, UTC) and the kind's
own fields. These models are that contract: ``inv schema`` writes them as
``schema/events.schema.json`` (a union discriminated by ``event``), the
``reporting`` docstring and the README list the same kinds and fields, and the
tests validate a real deploy's stream against the schema. A field a flow adds
must be added here; unknown fields are refused, as in the manifests.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: float = Field(description="when it happened: seconds since the epoch, UTC")


class StageEvent(_Event):
    """A stage of the command: check, build (or verify released images), deploy, smoke, e2e."""

    event: Literal["stage"]
    stage: str = Field(description="check | build | verify released images | deploy | smoke "
                                   "| e2e")
    state: Literal["started", "finished", "failed", "skipped", "dry-run"]
    detail: str = Field("", description="what the stage is about (the environment, a count)")


class NoteEvent(_Event):
    """A line of narration for a person."""

    event: Literal["note"]
    text: str


class WarningEvent(_Event):
    """Something worth knowing that does not stop the command."""

    event: Literal["warning"]
    text: str


class ErrorEvent(_Event):
    """Why a task or the build failed (after the build's summary), or the command did."""

    event: Literal["error"]
    text: str
    task: str | None = Field(None, description="the task it belongs to, if any")
    exit: int | None = Field(None, description="the command's exit status: it ends here")


TaskState = Literal["started", "built", "reused", "retagged", "pulled", "verified", "released",
                    "done", "up-to-date", "failed", "ignored"]


class TaskEvent(_Event):
    """A build task started, or ended (every other state is the one terminal event per task)."""

    event: Literal["task"]
    task: str = Field(description="the doit task, <component>_<artifact>")
    state: TaskState
    index: int | None = Field(None, description="its place among the run's tasks, from 1")
    total: int | None = Field(None, description="tasks in the run")
    seconds: float | None = Field(None, description="how long its recipe took")
    doc: str | None = Field(None, description="what the task makes (started)")
    message: str | None = Field(None, description="why it failed (failed)")


class OutputEvent(_Event):
    """A line a recipe, a deploy step or e2e printed."""

    event: Literal["output"]
    source: str = Field(description="a task, <component>@<host>, a component, or e2e")
    line: str


class StepEvent(_Event):
    """A deploy step of one component on one host (or once, on this machine)."""

    event: Literal["step"]
    component: str
    state: Literal["started", "ok", "failed", "unchanged"]
    host: str | None = Field(None, description="the host's name; null: once, here")
    address: str | None = Field(None, description="the host's address")
    message: str | None = Field(None, description="why it failed (failed)")


class CheckEvent(_Event):
    """A smoke check: waiting for it, or its result."""

    event: Literal["check"]
    name: str
    url: str
    state: Literal["waiting", "passed", "failed"]
    message: str = ""
    attempts: int | None = Field(None, description="requests made")


class LockfileEvent(_Event):
    """The lockfile the deploy wrote (relative to the deploy root)."""

    event: Literal["lockfile"]
    path: str
    status: Literal["healthy", "failed"]


class SummaryEvent(_Event):
    """The end of a build: counts by outcome."""

    event: Literal["summary"]
    text: str
    counts: dict[str, int] = Field(description="tasks by how they ended (built, up to date, …)")
    failed: int
    not_run: int
    seconds: float


class DecisionEvent(_Event):
    """What ``inv auto-deploy`` does with one environment."""

    event: Literal["decision"]
    environment: str
    action: Literal["up-to-date", "deploy", "skipped", "busy"]
    reason: str
    lockfile: str | None = Field(None, description="the environment's current lockfile")


AnyEvent = Annotated[
    StageEvent | NoteEvent | WarningEvent | ErrorEvent | TaskEvent | OutputEvent | StepEvent
    | CheckEvent | LockfileEvent | SummaryEvent | DecisionEvent,
    Field(discriminator="event")]


class Event(RootModel[AnyEvent]):
    """One line of the ``--events`` stream."""


KINDS: dict[str, type[_Event]] = {
    "stage": StageEvent, "note": NoteEvent, "warning": WarningEvent, "error": ErrorEvent,
    "task": TaskEvent, "output": OutputEvent, "step": StepEvent, "check": CheckEvent,
    "lockfile": LockfileEvent, "summary": SummaryEvent, "decision": DecisionEvent,
}
