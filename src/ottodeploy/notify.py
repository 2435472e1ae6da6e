"""Notifications: short messages to Slack and Telegram on deploys and promotions.

Configured only through the environment: ``SLACK_WEBHOOK_URL``;
``TELEGRAM_BOT_TOKEN`` with ``TELEGRAM_CHAT_ID`` (``TELEGRAM_API_URL`` points at
another Bot API server, e.g. a test's). Each message is sent from a daemon
thread with a short request timeout, and the caller waits at most
``BUDGET`` seconds for all of them together: a failing or hanging webhook costs
a few seconds at most and never fails anything. Failures are logged as
warnings with every secret redacted; tokens never appear in messages or logs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from .redact import redact
from .root import DeployRoot

log = logging.getLogger("ottodeploy.notify")
REQUEST_TIMEOUT = 3.0
BUDGET = 4.0

TITLES = {
    "deploy-started": "deploy started",
    "deploy-succeeded": "deploy healthy",
    "deploy-failed": "deploy FAILED",
    "promotion-created": "promotion proposed",
    "promotion-approved": "promotion approved",
    "verify-failed": "verification FAILED",
}


def run_link(environ: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this is part of, when there is one."""
    server, repo, run = (environ.get(k) for k in
                         ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def message(event: str, env: str, versions: Mapping[str, str] | None, detail: str | None,
            link: str | None) -> str:
    text = f"ottodeploy: {env}: {TITLES.get(event, event)}"
    if versions:
        text += "\n" + ", ".join(f"{n} {v}" for n, v in versions.items())
    if detail:
        text += f"\n{detail}"
    if link:
        text += f"\n{link}"
    return text


def _deliveries(environ: Mapping[str, str], text: str) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    slack = environ.get("SLACK_WEBHOOK_URL")
    if slack:
        out.append(("slack", slack, {"text": text}))
    token, chat = environ.get("TELEGRAM_BOT_TOKEN"), environ.get("TELEGRAM_CHAT_ID")
    if token and chat:
        base = environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
        out.append(("telegram", f"{base}/bot{token}/sendMessage",
                    {"chat_id": chat, "text": text, "disable_web_page_preview": True}))
    return out


def notify(root: DeployRoot | None, event: str, *, env: str,
           versions: Mapping[str, str] | None = None, detail: str | None = None,
           link: str | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    """Send ``event`` to every configured channel; returns the channels that accepted it."""
    environ = os.environ if environ is None else environ
    text = message(event, env, versions, detail, link or run_link(environ))
    deliveries = _deliveries(environ, text)
    if not deliveries:
        return []
    from .core.errors import HttpError
    from .http import HttpClient

    accepted: list[str] = []

    def send(channel: str, url: str, body: dict[str, Any]) -> None:
        try:
            with HttpClient(timeout=REQUEST_TIMEOUT, environ=environ) as http:
                response = http.post(url, json=body)
            if response.status_code < 300:
                accepted.append(channel)
            else:
                log.warning("%s notification refused: HTTP %s", channel, response.status_code)
        except HttpError as exc:
            log.warning("%s notification failed: %s", channel, redact(exc.reason, environ))

    threads = [threading.Thread(target=send, args=d, daemon=True, name=f"notify-{d[0]}")
               for d in deliveries]
    for t in threads:
        t.start()
    deadline = time.monotonic() + BUDGET
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for t in threads:
        if t.is_alive():
            log.warning("%s notification still pending after %.0fs; not waiting",
                        t.name.removeprefix("notify-"), BUDGET)
    return list(accepted)
