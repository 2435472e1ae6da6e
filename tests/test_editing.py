"""Pin edits change the pinned lines and nothing else, whatever the file's indentation."""

from __future__ import annotations

import pytest

from ottodeploy import editing

INDENTED = """\
name: beta
sources:
  services: {type: ecosystem, ref: develop}  # follows develop

smoke:
  # a comment between the key and its list must not hide the list's indentation
  - {name: health, url: "http://127.0.0.1:1/health"}
  - name: version
    url: "http://127.0.0.1:1/version"
"""

FLUSH = """\
name: beta
sources:
    services:
        type: ecosystem
        ref: develop
smoke:
- {name: health, url: "http://127.0.0.1:1/health"}
"""


@pytest.mark.parametrize("text", [INDENTED, FLUSH], ids=["indented-dash", "flush-dash"])
def test_set_pins_changes_only_the_pin(text: str) -> None:
    sha = "c84acd116e46e965a2104fb6fbd7ed3380a9f8ff"
    out = editing.set_pins(text, {"services": ("sha", sha)})
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines(), strict=True) if a != b]
    assert len(changed) == 1, changed
    before, after = changed[0]
    assert "ref: develop" in before and f"sha: {sha}" in after
