"""Which ref names, SHAs and repo addresses a manifest may hold."""

from __future__ import annotations

import subprocess

import pytest

from ottodeploy.core.refnames import is_sha, ref_problem, repo_problem


def git_accepts(ref: str) -> bool:
    done = subprocess.run(["git", "check-ref-format", f"refs/heads/{ref}"], check=False)
    return done.returncode == 0


ACCEPTED = [
    "main",                # a plain branch
    "develop",
    "feature/rapid-iter",  # a branch with a folder
    "release/1.2",
    "v4.0.0-rc.10",        # a tag
    "v0.6.1",
    "refs/heads/develop",  # full ref names pick branch or tag
    "refs/tags/v1.0.0",
    "UPPER_and_lower.9",   # the whole allowlist
    "a.b/c-d_e",
]


@pytest.mark.parametrize("ref", ACCEPTED)
def test_accepted_refs(ref: str) -> None:
    assert ref_problem(ref) is None
    # never accept what git itself refuses
    assert git_accepts(ref)


@pytest.mark.parametrize(("ref", "problem", "git_too"), [
    # shell syntax git alone would take: only the allowlist stops it
    ("$(id)", "not allowed in a ref name: '$' '(' ')'", False),
    ("`id`", "'`'", False),
    ("main|id", "'|'", False),
    ("main&id", "'&'", False),
    ("main;touch x", "' ' ';'", True),
    # a leading dash reads as an option; git takes refs/heads/-x as a ref name
    ("-x", "must not start with '-'", False),
    # git's own rules
    ("a..b", "must not contain '..'", True),
    ("foo.lock", "ending with '.lock'", True),
    ("x/foo.lock/y", "ending with '.lock'", True),
    (".hidden", "starting with '.'", True),
    ("a/.b", "starting with '.'", True),
    ("a//b", "contain '//'", True),
    ("/a", "must not start or end with '/'", True),
    ("a/", "must not start or end with '/'", True),
    ("a.", "must not end with '.'", True),
    ("feat/ x", "' '", True),
    ("main\nid", "'\\n'", True),
    ("a~1", "'~'", True),
    ("a^{}", "'^' '{' '}'", True),
    ("a:b", "':'", True),
    ("a*", "'*'", True),
    ("a@{1}", "'@' '{' '}'", True),
    ("a\\b", "'\\\\'", True),
    ("", "is empty", True),
])
def test_refused_refs(ref: str, problem: str, git_too: bool) -> None:
    found = ref_problem(ref)
    assert found is not None
    assert problem in found
    # git_too: git's check-ref-format refuses it as well; else only the allowlist does
    assert git_accepts(ref) is not git_too


@pytest.mark.parametrize(("text", "sha"), [
    ("9c6f98eccd2496a530e745e16e113dc0504c621e", True),    # 40 lowercase hex
    ("9C6F98ECCD2496A530E745E16E113DC0504C621E", False),   # upper case
    ("9c6f98e", False),                                    # short
    ("9c6f98eccd2496a530e745e16e113dc0504c621e0", False),  # 41
    ("g" * 40, False),                                     # not hex
])
def test_is_sha(text: str, sha: bool) -> None:
    assert is_sha(text) is sha


@pytest.mark.parametrize("repo", [
    "Constellation-Labs/tessellation",               # GitHub owner/name
    "scasplte2/ottochain.git",
    "https://github.com/ottobot-ai/ottochain-sdk.git",
    "file:///srv/git/ottochain.git",
    "ssh://git@example.com:2222/o/r.git",
    "git@github.com:ottobot-ai/ottochain-services.git",  # scp-like
    "/srv/git/explorer.git",                          # absolute path
    "./repos/x",                                      # relative to the deploy root
    "../remotes/monitoring.git",
])
def test_accepted_repos(repo: str) -> None:
    assert repo_problem(repo) is None


@pytest.mark.parametrize(("repo", "problem"), [
    ("", "is empty"),
    ("-oProxyCommand=x", "must not start with '-'"),            # an option to git or ssh
    ("--upload-pack=touch x", "must not start with '-'"),
    ("owner/name extra", "must not contain whitespace"),
    ("owner/na\tme", "must not contain whitespace"),
    ("owner/..", "must not contain '..'"),                      # GitHub shorthand escaping
    ("https://", "has no address after the scheme"),
    ("just-a-name", "is not owner/name"),                       # neither of the forms
    ("a/b/c", "is not owner/name"),
    ("ftp://example.com/x.git", "is not owner/name"),
])
def test_refused_repos(repo: str, problem: str) -> None:
    found = repo_problem(repo)
    assert found is not None
    assert problem in found
