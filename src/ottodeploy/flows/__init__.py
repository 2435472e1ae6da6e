"""The commands, one module each: what a command does, as a function returning a value.

Each module's docstring explains its algorithm. A flow opens what it needs
(``environment.open_environment``), does its work through the doors to the
world (git, processes, registries, HTTP), reports progress as events to a
``reporting.Reporter`` and returns a result value; it never prints and never
exits. ``cli`` renders the results (console lines, ``--json``, ``--events``)
and is the one place where errors become exit codes.
"""
