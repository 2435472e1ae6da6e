"""The command surface (SPEC §5a): every task explains itself, environments are checked alike.

The cases are generated over the collection, so a task added later is covered without a
new test: each task's ``--help``, each argument that names an environment.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest
from tasks import ns

from ottodeploy.cli.command import Command, is_environment
from tests.conftest import PROJECT, run_inv
from tests.ecosystem import Ecosystem

TASKS = sorted(ns.task_names)
KNOWN = "environments here: beta, prod, scratch, staging"


def task(name: str) -> Command:
    found = ns[name]
    assert isinstance(found, Command), f"{name} is not made with @command"
    return found


def parameters(name: str) -> list[str]:
    return list(inspect.signature(task(name).body).parameters)[1:]  # after the context


ENVIRONMENT_ARGUMENTS = [(name, p) for name in TASKS for p in parameters(name)
                         if is_environment(p)]


def test_the_generated_cases_cover_the_commands_that_take_environments() -> None:
    # a guard for the generation itself: the known ones are among the cases
    assert {("diff", "env_a"), ("diff", "env_b"), ("promote", "from_env"),
            ("promote", "to_env"), ("status", "env"), ("deploy-lockfile", "env"),
            ("deploy", "env"), ("ci-matrix", "env"), ("set-ref", "env")} \
        <= set(ENVIRONMENT_ARGUMENTS)


@pytest.mark.parametrize("name", TASKS)
def test_every_task_prints_its_help_with_its_positionals(name: str) -> None:
    result = run_inv(name, "--help")
    assert result.code == 0, result.output
    usage, *rest = result.stdout.splitlines()
    positionals = [p.upper() for p in task(name).positional]
    assert usage == " ".join([f"Usage: inv {name}", "[options]", *positionals])
    text = "\n".join(rest)
    for meta in positionals:  # each positional has a line of its own, with its help
        assert any(line.split()[:1] == [meta] and len(line.split()) > 1
                   for line in rest if line.startswith("  ")), (meta, text)
    assert "-h, --help" in text
    assert result.stderr == ""
    # -h is the same, and so is help after a first positional
    assert run_inv(name, "-h").stdout == result.stdout
    if positionals:
        assert run_inv(name, "scratch", "--help").stdout == result.stdout


@pytest.mark.parametrize("name", TASKS)
def test_every_argument_has_help_and_a_readable_name(name: str) -> None:
    for arg in task(name).get_arguments():
        assert arg.help, (name, arg.name)
        short = [n for n in arg.names if len(n) == 1]
        assert short == (["h"] if arg.name == "help" else []), (name, arg.names)
    # the help texts survive being asked for twice (invoke pops them as it reads them)
    assert all(arg.help for arg in task(name).get_arguments())


def test_arguments_about_an_environment_are_named_as_one() -> None:
    # what the environment check keys on: a new argument described as an environment
    # but named otherwise would escape it
    for name in TASKS:
        for arg in task(name).get_arguments():
            words = (arg.help or "").lower()
            if words.startswith(("the environment", "an environment", "one environment")):
                assert is_environment(str(arg.name)), (name, arg.name)


@pytest.mark.parametrize(("name", "param"), ENVIRONMENT_ARGUMENTS,
                         ids=[f"{n}:{p}" for n, p in ENVIRONMENT_ARGUMENTS])
def test_an_unknown_environment_is_bad_input_with_the_list(eco: Ecosystem, name: str,
                                                           param: str) -> None:
    cmd = task(name)
    argv = [name]
    for p in cmd.positional:
        argv.append("prdo" if p == param else "scratch" if is_environment(p) else "x")
    if param not in cmd.positional:
        argv += ["--" + param.replace("_", "-"), "prdo"]
    for required in cmd.required:
        argv += ["--" + required.replace("_", "-"), "A Person <a@example.org>"]
    result = run_inv(*argv)
    assert result.code == 2, result.output
    assert "unknown environment 'prdo'" in result.stderr
    assert KNOWN in result.stderr
    assert "Traceback" not in result.output
    assert not (eco.root / ".ottodeploy").exists()  # nothing written


def test_doit_answers_an_unknown_environment_alike(eco: Ecosystem) -> None:
    done = subprocess.run([sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), "list",
                           "env=prdo"], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "OTTODEPLOY_ROOT": str(eco.root)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert KNOWN in done.stderr and "Traceback" not in done.stderr


def test_a_required_option_says_so(eco: Ecosystem) -> None:
    result = run_inv("approve", "promote/scratch-to-prod-1")
    assert result.code == 2
    assert "approve: --by is required (the approver, 'Name <email>')" in result.stderr
    assert "inv approve --help" in result.stderr
    assert "(required)" in run_inv("approve", "--help").stdout


def test_a_repeatable_option_without_a_value_builds_nothing(eco: Ecosystem) -> None:
    result = run_inv("build", "scratch", "--task")
    assert result.code == 1  # invoke's own code for an argument it cannot parse
    assert "--task needed value" in result.stderr
    assert eco.built() == []
    assert not (eco.root / ".ottodeploy").exists()


def test_diff_names_its_environments_in_full() -> None:
    text = run_inv("diff", "--help").stdout
    assert "Usage: inv diff [options] ENV_A ENV_B" in text
    assert not [line for line in text.splitlines() if line.startswith(("  -e", "  -n"))]
    assert run_inv("diff", "-e", "scratch", "beta").code == 1  # no short flags any more
