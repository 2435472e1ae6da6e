"""A component's deploy fingerprint (SPEC §4a, incremental deploy).

A component's deploy step runs again only when something it deploys or the way it
deploys changed. The fingerprint is the SHA-256 of a canonical JSON document of:
its ``deploy`` settings (run, on, files, remote_dir, timeout, once, the names of the
secrets it is given), the environment's target settings, the content digests of the
deploy files it reads, and, per host it runs on (or once), every variable it is given —
which name its artifacts by content digest, its own source (SHA, version, ref) and the
host's addresses. Secret values are never part of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any


def deploy_fingerprint(settings: Mapping[str, Any], target: Mapping[str, Any],
                       files: Mapping[str, str],
                       steps: Sequence[Mapping[str, str]]) -> str:
    """``sha256:<hex>`` of what makes a component's deploy step run again."""
    document = {"settings": settings, "target": target, "files": dict(sorted(files.items())),
                "steps": [dict(sorted(s.items())) for s in steps]}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
