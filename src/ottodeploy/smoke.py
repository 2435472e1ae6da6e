"""Smoke checks: is what was deployed answering, and is it what was deployed?

Each check is an HTTP GET of ``url`` expecting ``status`` and, optionally, JSON
fields: a dot path into the body maps to the expected value, ``#`` is the
length of an array (``"#": 3``, ``"peers.#": 3``). URLs and expected values
interpolate the deployed sources (``${services.sha}``) and host addresses
(``${services_host}``); a check whose URL names ``${host}`` runs once per node.
Every check is retried until its ``timeout`` passes, each request with a short
timeout of its own; all checks run at once, so a deploy waits for the slowest
check, not the sum of them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core.errors import HttpError
from .core.interpolate import render
from .core.models import SmokeCheck
from .http import HttpClient
from .inventory import Inventory
from .process import parallel

REQUEST_TIMEOUT = 5.0
RETRY_PAUSE = 0.5


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


def expand(checks: list[SmokeCheck], values: Mapping[str, Mapping[str, str]],
           hosts: Inventory) -> list[tuple[str, SmokeCheck, str, dict[str, Any]]]:
    """(name, check, url, expectations) for every concrete request the checks make."""
    plain = {}
    if hosts.services_host:
        plain["services_host"] = hosts.services_host.address
    out = []
    for i, check in enumerate(checks):
        per_host = "${host}" in check.url.replace(" ", "")
        targets = [(h.name, h.address) for h in hosts.nodes] if per_host else [("", "")]
        for host_name, address in targets:
            names = {**plain, "host": address} if per_host else plain
            url = render(check.url, values, names)
            expected = {path: render(v, values, names) if isinstance(v, str) else v
                        for path, v in check.json_.items()}
            label = check.name or f"smoke[{i}]"
            if host_name:
                label += f"@{host_name}"
            out.append((label, check, url, expected))
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


def _attempt(http: HttpClient, url: str, check: SmokeCheck, expected: Mapping[str, Any],
             timeout: float) -> str | None:
    """None when the check passes, else what was wrong."""
    try:
        response = http.get(url, timeout=min(REQUEST_TIMEOUT, max(timeout, 0.5)))
    except HttpError as exc:
        return f"GET {url}: {exc.reason}"
    if response.status_code != check.status:
        return f"GET {url}: expected status {check.status}, got {response.status_code}"
    if not expected:
        return None
    try:
        body = response.json()
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
               hosts: Inventory) -> SmokeResult:
    concrete = expand(checks, values, hosts)

    def one(item: tuple[str, SmokeCheck, str, dict[str, Any]]) -> CheckResult:
        name, check, url, expected = item
        deadline = time.monotonic() + check.timeout
        attempts = 0
        with HttpClient() as http:
            while True:
                attempts += 1
                problem = _attempt(http, url, check, expected, deadline - time.monotonic())
                if problem is None:
                    return CheckResult(name, url, True, "ok", attempts)
                if time.monotonic() + RETRY_PAUSE >= deadline:
                    return CheckResult(name, url, False, problem, attempts)
                time.sleep(RETRY_PAUSE)

    return SmokeResult(parallel(one, concrete))
