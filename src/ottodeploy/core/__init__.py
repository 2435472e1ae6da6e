"""The pure core: values and rules, no file, git, network, clock or environment variable.

Everything here is computed from plain values passed in, so it is tested with plain
values and fast. ``import-linter`` checks that nothing here imports from outside ``core``.
"""
