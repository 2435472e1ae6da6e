"""doit entry point: ``doit list env=scratch``, ``doit ottochain_image env=scratch``.

Thin on purpose: the tasks of the environment's cascade come from ``ottodeploy.cli.dodo``.
"""

from pathlib import Path

from ottodeploy.cli.dodo import dodo_namespace

globals().update(dodo_namespace(Path(__file__).resolve().parent))
