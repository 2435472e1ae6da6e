"""Smoke checks: is what was deployed answering, and is it what was deployed?

Each check is an HTTP GET of ``url`` expecting ``status`` and, optionally, JSON
fields: a dot path into the body maps to the expected value, ``#`` is the
length of an array (``"#": 3``, ``"peers.#": 3``). URLs and expected values
interpolate the deployed sources (``${services.sha}``) and host addresses
(``${services_host}``, and ``${host.private}``/``${services_host.private}``
for the private ones); a check whose URL names ``${host}`` (or whose ``on`` is
``nodes``) runs once per node.
A URL must still be an http(s) URL with a host once filled in (bad input otherwise).
Every check is retried until its ``timeout`` passes, each request with a short
timeout of its own; all checks run at once, so a deploy waits for the slowest
check, not the sum of them.

A check with ``via: ssh`` is made by ``curl`` on a host, over the
environment's target (for ports not open to the runner, as production checks
``curl localhost:9000/node/info`` on each node): on each node for a per-node
check, else on ``on`` (``services_host`` or a host name; the services host by
default). curl prints the body and then the status on a line of its own, so
status and JSON expectations, retries and timeouts are the same as for a
request made from here.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import interrupts
from .core.errors import BadInput, HttpError
from .core.interpolate import render
from .core.models import SmokeCheck, http_url_problem
from .inventory import Host, Inventory
from .process import parallel
from .reporting import Reporter

if TYPE_CHECKING:
    from .http import HttpClient  # with requests, imported when there are checks to run
    from .remote import Remote

REQUEST_TIMEOUT = 5.0
RETRY_PAUSE = 0.5
WAITING_AFTER = 5.0     # a check still failing this long is reported as waiting ...
WAITING_EVERY = 5.0     # ... and again this often
_STATUS_MARK = "\n--otto-status:"


@dataclass(frozen=True)
class Request:
    """One concrete request a check makes: where, and what is expected of the answer."""

    name: str
    check: SmokeCheck
    url: str
    expected: dict[str, Any]
    via_host: str = ""           # the host curl runs on (via: ssh); "" for a request from here


@dataclass(frozen=True)
class CheckResult:
    name: str
    url: str
    ok: bool
    message: str
    attempts: int


@dataclass(frozen=True)
class SmokeResult:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def status(self) -> str:
        if not self.results:
            return "skipped"
        return "passed" if self.ok else "failed"


def _via_host(check: SmokeCheck, hosts: Inventory) -> str:
    if check.on in (None, "services_host"):
        return hosts.services_host.name if hosts.services_host else "services_host"
    return check.on


def expand(checks: list[SmokeCheck], values: Mapping[str, Mapping[str, str]],
           hosts: Inventory) -> list[Request]:
    """Every concrete request the checks make."""
    plain = {}
    if hosts.services_host:
        plain["services_host"] = hosts.services_host.address
        plain["services_host.private"] = hosts.services_host.private
    out = []
    for i, check in enumerate(checks):
        url_text = check.url.replace(" ", "")
        per_host = check.on == "nodes" or "${host}" in url_text or "${host.private}" in url_text
        targets: list[Host | None] = list(hosts.nodes) if per_host else [None]
        for host in targets:
            names = plain
            if host is not None:
                names = {**plain, "host": host.address, "host.private": host.private}
            url = render(check.url, values, names)
            problem = http_url_problem(url)
            if problem:
                raise BadInput(f"smoke[{i}].url: {check.url!r} is {url!r} once filled in, which "
                               f"{problem}",
                               hint="the addresses and values it names must make an http(s) URL")
            expected = {path: render(v, values, names) if isinstance(v, str) else v
                        for path, v in check.json_.items()}
            label = check.name or f"smoke[{i}]"
            if host is not None:
                label += f"@{host.name}"
            via = ""
            if check.via == "ssh":
                via = host.name if host is not None else _via_host(check, hosts)
            out.append(Request(label, check, url, expected, via))
    return out


def lookup(body: Any, path: str) -> Any:
    current = body
    for part in path.split("."):
        if part == "#":
            if not isinstance(current, list):
                raise LookupError(f"{path}: not an array")
            current = len(current)
        elif isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise LookupError(f"{path}: no such field")
    return current


def _matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected or (isinstance(expected, str)
                                      and str(actual).lower() == expected.lower())
    if actual == expected:
        return True
    return isinstance(expected, str) and isinstance(actual, (int, float, str)) \
        and str(actual) == expected


def _get(http: HttpClient, url: str, timeout: float) -> tuple[int, str] | str:
    """(status, body) of a GET from here, or what went wrong."""
    try:
        response = http.get(url, timeout=timeout)
    except HttpError as exc:
        return f"GET {url}: {exc.reason}"
    return response.status_code, response.text


def _get_via(remote: Remote | None, host: str, url: str, timeout: float) -> tuple[int, str] | str:
    """(status, body) of a GET made by curl on ``host``, or what went wrong."""
    from .process import run
    from .remote import UsageProblem

    where = f"GET {url} on {host}"
    if remote is None:
        return f"{where}: 'via: ssh' needs the environment's target"
    try:
        remote.host(host)
    except UsageProblem as exc:
        return f"{where}: {exc}"
    curl = ["curl", "-sS", "--noproxy", "*", "--max-time", f"{timeout:g}",
            "-w", _STATUS_MARK.replace("\n", "\\n") + "%{http_code}", url]
    args = remote.command(host, shlex.join(curl))
    done = run(args, timeout=timeout + remote.ssh.connect_timeout + 5, check=False)
    if done.returncode == 255 and remote.target == "ssh":
        return f"{where}: cannot reach {host} over ssh"
    if done.returncode != 0 or _STATUS_MARK not in done.stdout:
        detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return f"{where}: curl failed ({detail})"
    body, _, status = done.stdout.rpartition(_STATUS_MARK)
    return int(status.strip() or 0), body


def _attempt(http: HttpClient, request: Request, timeout: float,
             remote: Remote | None = None) -> str | None:
    """None when the check passes, else what was wrong."""
    url, check, expected = request.url, request.check, request.expected
    wait = min(REQUEST_TIMEOUT, max(timeout, 0.5))
    got = _get_via(remote, request.via_host, url, wait) if request.via_host else \
        _get(http, url, wait)
    if isinstance(got, str):
        return got
    status, text = got
    if request.via_host:
        url = f"{url} on {request.via_host}"
    if status != check.status:
        return f"GET {url}: expected status {check.status}, got {status}"
    if not expected:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return f"GET {url}: body is not JSON"
    for path, want in expected.items():
        try:
            got = lookup(body, path)
        except LookupError as exc:
            return f"GET {url}: {exc}"
        if not _matches(got, want):
            return f"GET {url}: expected {path} == {want!r}, got {got!r}"
    return None


def run_checks(checks: list[SmokeCheck], values: Mapping[str, Mapping[str, str]],
               hosts: Inventory, remote: Remote | None = None,
               reporter: Reporter | None = None) -> SmokeResult:
    """Run every check; ``remote`` (the environment's target) makes the ``via: ssh`` ones.

    A check still failing ``WAITING_AFTER`` seconds in is reported to ``reporter`` as a
    ``check`` event with ``state: waiting`` and its last problem, again every
    ``WAITING_EVERY`` seconds. After SIGINT/SIGTERM (``interrupts``) no check tries again.
    """
    from .http import HttpClient

    concrete = expand(checks, values, hosts)

    def one(request: Request) -> CheckResult:
        name, url = request.name, request.url
        if request.via_host:
            url = f"{url} (on {request.via_host})"
        started = time.monotonic()
        deadline = started + request.check.timeout
        tell = started + WAITING_AFTER
        attempts = 0
        with HttpClient() as http:
            while True:
                attempts += 1
                problem = _attempt(http, request, deadline - time.monotonic(), remote)
                if problem is None:
                    return CheckResult(name, url, True, "ok", attempts)
                now = time.monotonic()
                if now + RETRY_PAUSE >= deadline or interrupts.requested():
                    return CheckResult(name, url, False, problem, attempts)
                if reporter is not None and now >= tell:
                    reporter.emit("check", name=name, url=url, state="waiting",
                                  message=problem, attempts=attempts)
                    tell = now + WAITING_EVERY
                time.sleep(RETRY_PAUSE)

    return SmokeResult(parallel(one, concrete))
