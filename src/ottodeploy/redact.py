"""Keeping secrets inside the process.

Tokens come from the environment. Anything the tool prints, logs, writes into a
lockfile or puts into an exception message that might carry one goes through
``redact``: the values of the known secret variables are replaced, and so are
credentials embedded in URLs (``https://user:token@host``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

SECRET_VARIABLES = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "SLACK_WEBHOOK_URL",
    "TELEGRAM_BOT_TOKEN",
    "OTTODEPLOY_REGISTRY_PASSWORD",
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
_MIN_SECRET = 6


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    values = [env.get(name, "") for name in SECRET_VARIABLES]
    values += [v for k, v in env.items() if k.endswith(("_TOKEN", "_PASSWORD", "_SECRET"))]
    return sorted({v for v in values if len(v) >= _MIN_SECRET}, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None,
           secrets: Sequence[str] | None = None) -> str:
    """``text`` without secrets: those of ``env`` (the process's), or the given ``secrets``."""
    for value in secret_values(env) if secrets is None else secrets:
        text = text.replace(value, "***")
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
