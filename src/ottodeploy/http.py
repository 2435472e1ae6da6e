"""The one door to HTTP: sessions with timeouts, bounded retries and redaction.

Every HTTP request the tool makes (registries, smoke checks, notifications,
GitHub's API) goes through an ``HttpClient``:

* loopback addresses (``localhost``, ``127.0.0.0/8``, ``[::1]``) are spoken to
  by a session that ignores proxy and netrc settings of the environment; every
  other address by a session that honours them;
* every request has a timeout (the client's, or one given per request);
* a request is tried up to ``attempts`` times when the connection fails or
  the server answers 5xx, with a short, capped backoff between tries; the last
  answer (or ``HttpError``) is what the caller sees;
* a failure becomes an ``HttpError`` whose message names the method, the
  address without credentials, and why (``no answer within 5s``,
  ``[Errno 111] Connection refused``), with every secret redacted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from .core.errors import HttpError
from .core.imageref import is_loopback
from .redact import redact

_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
MAX_BACKOFF = 4.0


def reason(exc: requests.RequestException, timeout: float) -> str:
    """Why a request got no answer, in a few words (never the URL or a secret)."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g}s"
    found = _ERRNO.search(str(exc))
    return redact(found.group(0).strip()) if found else type(exc).__name__


def display(url: str) -> str:
    """``url`` without credentials or query (tokens travel in both)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class HttpClient:
    """Requests with timeouts and bounded retries; one instance reuses its connections."""

    def __init__(self, *, timeout: float = 10.0, attempts: int = 1,
                 environ: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.environ = environ
        self._remote = requests.Session()
        self._local = requests.Session()   # loopback: no proxy or netrc from the environment
        self._local.trust_env = False

    def close(self) -> None:
        self._remote.close()
        self._local.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session_for(self, url: str) -> requests.Session:
        return self._local if is_loopback(urlsplit(url).netloc) else self._remote

    def request(self, method: str, url: str, *, timeout: float | None = None,
                attempts: int | None = None, **kw: Any) -> requests.Response:
        """``method url``; retried on connection errors and 5xx (see the module docstring)."""
        limit = timeout if timeout is not None else self.timeout
        tries = max(1, attempts if attempts is not None else self.attempts)
        session = self.session_for(url)
        for attempt in range(tries):
            last = attempt + 1 == tries
            try:
                response = session.request(method, url, timeout=limit, **kw)
            except requests.RequestException as exc:
                if last:
                    why = reason(exc, limit)
                    raise HttpError(redact(f"{method} {display(url)}: cannot reach it: {why}",
                                           self.environ), reason=why) from None
            else:
                if response.status_code < 500 or last:
                    return response
            time.sleep(min(2.0 ** attempt, MAX_BACKOFF))
        raise AssertionError("unreachable")  # the loop returns or raises on its last try

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return self.request("POST", url, **kw)
