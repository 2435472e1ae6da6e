"""The invoke collection ``ns`` (``inv``): the tasks live in ``ottodeploy.cli.tasks``."""

from pathlib import Path

from ottodeploy.cli.tasks import collection

ns = collection(Path(__file__).resolve().parent.parent)
