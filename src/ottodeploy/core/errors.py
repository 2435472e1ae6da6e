"""The one error tree of ottodeploy.

Every failure a user can act on is an ``OttodeployError``. Each class knows its
exit status (SPEC §5: 1 the operation failed, 2 bad input) and builds a message
that names the file, the key path and the line where it can, says what was
expected, and ends with a hint. Nothing below the entry points calls
``sys.exit``: the entry points (``dodo.py``, ``tasks/``) turn these into exit
codes and print them without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def format_path(path: Sequence[str | int]) -> str:
    """Render a key path the way a user writes it: ``sources.ottochain.ref``, ``smoke[0].url``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class Problem(NamedTuple):
    """One thing wrong in one file: where it is and what was expected."""

    path: tuple[str | int, ...]
    message: str
    line: int | None = None
    hint: str | None = None

    def render(self, file: str | None) -> str:
        where = file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        key = format_path(self.path)
        text = f"{key}: {self.message}" if key else self.message
        if self.hint:
            text += f" ({self.hint})"
        return f"{where}: {text}" if where else text


class OttodeployError(Exception):
    """Base of every error a user can act on."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class BadInput(OttodeployError):
    """Input the user wrote is wrong: a manifest, a lockfile, an argument (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class UsageError(BadInput):
    """A command-line argument the project parses is wrong."""


class ManifestError(BadInput):
    """One file's problems, all of them, in one report."""

    def __init__(self, file: str, problems: Iterable[Problem], *, hint: str | None = None) -> None:
        self.file = file
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("ManifestError needs at least one problem")
        lines = [p.render(file) for p in self.problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{file}: {len(lines)} problems\n" + "\n".join(f"  {ln}" for ln in lines)
        super().__init__(message, hint=hint)


class LockfileError(ManifestError):
    """A lockfile that fails validation."""


class RefNotFound(ManifestError):
    """Refs, tags, versions or SHAs the manifest names that do not exist in their repos."""


class ResolveError(OttodeployError):
    """A repo that cannot be reached or read (exit 1)."""


class RepoUnreachable(ResolveError):
    """Repos that cannot be read at all (network, address, access), said in one line.

    ``reasons`` are git's own words without the address (``Could not resolve host:
    github.com``); however many repos failed, and for however many the same reason,
    the message is one line naming them.
    """

    def __init__(self, urls: Sequence[str], reasons: Sequence[str], *,
                 hint: str | None = None) -> None:
        self.urls = list(urls)
        self.reasons = list(reasons)
        names = [u.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") for u in self.urls]
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        what = f"repo {self.urls[0]}" if len(self.urls) == 1 else \
            f"{len(self.urls)} repos ({shown})"
        why = "; ".join(list(dict.fromkeys(self.reasons))[:3])
        super().__init__(f"cannot reach {what}: {why}",
                         hint=hint or "check the network, the address and your git credentials")

    def with_hint(self, hint: str) -> RepoUnreachable:
        return RepoUnreachable(self.urls, self.reasons, hint=hint)


class GitError(OttodeployError):
    """A git command failed; the message says what was run and what it printed."""


class CompatibilityError(OttodeployError):
    """The compatibility matrix is violated (exit 1); every violation is listed."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = list(violations)
        body = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"compatibility matrix violated ({len(self.violations)}):\n{body}")


class BuildError(OttodeployError):
    """A recipe failed."""


class RegistryError(OttodeployError):
    """A registry answered with an error or could not be reached."""


class IntegrityError(RegistryError):
    """A registry sent or acknowledged bytes that are not what their digest names: its copy is
    corrupt or was tampered with. Never a cache miss: what asked for them fails."""


class DeployError(OttodeployError):
    """A deploy, a smoke check or an e2e run failed."""


class LockHeld(OttodeployError):
    """Another deploy of the same environment is running."""


class ApprovalError(OttodeployError):
    """An approval is missing or not acceptable."""


class NotApproved(ApprovalError):
    """Why one commit is not a verified approval (the gate turns every proof's reason into one
    ``ApprovalError``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PromotionError(OttodeployError):
    """A promotion cannot be made (no healthy lockfile, untagged SHA, ...)."""


class ProcessFailed(OttodeployError):
    """A command exited non-zero or timed out; the message says what ran, where, and its tail."""

    def __init__(self, message: str, *, args: tuple[str, ...], returncode: int | None,
                 output: str) -> None:
        super().__init__(message)
        self.args_run = args
        self.returncode = returncode
        self.output = output


class CommitLintFailed(OttodeployError):
    """Commits in the range are not conventional (exit 1); each is listed."""


class BumpError(OttodeployError):
    """A bump cannot be committed (no git repository, a branch in the way)."""


class HttpError(OttodeployError):
    """An HTTP request got no answer (connection refused, timeout); exit 1.

    ``reason`` is the why alone (``no answer within 5s``), for callers that name the
    address their own way.
    """

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class StoreError(OttodeployError):
    """The artifact store lacks a blob, or holds one whose bytes do not match its digest."""


class SetRefError(OttodeployError):
    """A repoint cannot be committed (no git repository, detached HEAD, a dirty file)."""


class RecordError(OttodeployError):
    """The record of a deploy cannot be written where it belongs (``lockfiles/``); exit 1."""


EXIT_SIGNALED = {"SIGINT": 130, "SIGTERM": 143}


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped the command (SPEC §6a); exit 130 or 143, one line.

    Not an ``OttodeployError``, and not even an ``Exception``: like ``KeyboardInterrupt``
    it must pass through every ``except Exception`` (doit's runner, a flow's clean-up of
    one failed task) up to the entry point, releasing locks on its way.
    """

    def __init__(self, signal: str, detail: str = "", *, extra: str = "") -> None:
        self.signal = signal
        self.detail = detail      # "" until someone says what was stopped
        self.extra = extra        # printed after the one line (an unwritten lockfile, in full)
        super().__init__(self.line)

    @property
    def exit_code(self) -> int:
        return EXIT_SIGNALED.get(self.signal, EXIT_FAILED)

    @property
    def line(self) -> str:
        return f"interrupted ({self.signal}): {self.detail or 'stopped'}"

    def with_detail(self, detail: str, *, extra: str = "") -> Interrupted:
        return Interrupted(self.signal, detail, extra=extra)

    def __str__(self) -> str:
        return f"{self.line}\n{self.extra}" if self.extra else self.line
