"""People with SSH signing keys for approval tests, made with ``ssh-keygen`` once per session.

Everything that signs or verifies is configured per command (``git -c ...``) or per
process environment; the user's own git configuration is never read or written.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

NAMES = {
    "alice": "Alice Approver",
    "bob": "Bob Reviewer",
    "carol": "Carol Later",
    "mallory": "Mallory Attacker",
}


@dataclass(frozen=True)
class Person:
    login: str
    name: str
    email: str
    key: Path          # the private key (git signs with it through ssh-keygen -Y sign)

    @property
    def by(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def pub(self) -> Path:
        return self.key.with_suffix(".pub")

    def allowed_signer(self) -> str:
        """This person's line in an allowed-signers file (``manifests/approvers``)."""
        key_type, key = self.pub.read_text().split()[:2]
        return f"{self.email} {key_type} {key}\n"

    def sign_args(self) -> list[str]:
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={self.key}"]

    def identity(self, *, author: bool = True, committer: bool = True) -> dict[str, str]:
        env: dict[str, str] = {}
        if author:
            env |= {"GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email}
        if committer:
            env |= {"GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}
        return env


def make_people(folder: Path) -> dict[str, Person]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for login, name in NAMES.items():
        key = folder / login
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", login, "-f",
                        str(key)], check=True, capture_output=True, timeout=30)
        out[login] = Person(login, name, f"{login}@example.invalid", key)
    return out

