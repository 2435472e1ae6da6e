"""Smoke URLs are http(s) URLs with a host, before and after interpolation (SPEC §6, issue 13).

The template's shape is checked when the manifest is loaded (the corpus
``tests/manifests/invalid/env__smoke_url_*.yaml``: exit 2, file:line:key); once the
addresses and versions are filled in, ``smoke.expand`` checks it again, and a deploy
finds that out in its check stage, before anything is built or deployed.
"""

from __future__ import annotations

import json

import pytest

from ottodeploy.core.models import http_url_problem
from tests.conftest import run_inv
from tests.deploykit import deployed, lockfiles, set_deploys, set_env
from tests.ecosystem import Ecosystem


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:4000/version",            # an address and a port
    "https://explorer.example.org/health?x=1",  # a name, a query
    "HTTP://NODE1/",                            # scheme and host in capitals
    "http://[::1]:9000/node/info",              # IPv6
    "http://user@host/",                        # user info
])
def test_http_urls_are_accepted(url: str) -> None:
    assert http_url_problem(url) is None


@pytest.mark.parametrize(("url", "problem"), [
    ("not a url", "contains whitespace"),
    ("notaurl", "does not start with http:// or https://"),
    ("ftp://host/file", "scheme ftp: is not http: or https:"),
    ("file:///etc/passwd", "scheme file: is not http: or https:"),
    ("javascript:alert(1)", "does not start with http:// or https://"),
    ("http:///path", "it has no host"),
    ("http://", "it has no host"),
    ("http://user@/x", "it has no host"),
    ("http://host:port/", "port 'port' is not a number"),
    ("http://host:70000/", "port '70000' is not a number up to 65535"),
    ("http://a b/", "contains whitespace"),
    ("http://ho\tst/", "contains whitespace"),
    ("http://ho<st/", "'ho<st' is not a host name or address"),
])
def test_anything_else_is_refused_saying_why(url: str, problem: str) -> None:
    found = http_url_problem(url)
    assert found is not None and problem in found


def test_a_url_that_breaks_once_filled_in_stops_the_deploy_before_it_builds(
        eco: Ecosystem, monkeypatch: pytest.MonkeyPatch) -> None:
    set_deploys(eco)
    # the template is fine (the version stands where a port goes); the filled-in URL is not
    set_env(eco, smoke=[{"name": "v", "url": "http://${services_host}:${services.version}/"}])
    monkeypatch.setenv("SCRATCH_INFRASTRUCTURE", json.dumps(
        {"nodes": [{"host": "127.0.0.1", "name": "node1"}], "services_host": "127.0.0.1"}))
    assert run_inv("check", "scratch", "--offline").code == 0
    result = run_inv("deploy", "scratch")
    assert result.code == 2, result.output
    assert "smoke[0].url: 'http://${services_host}:${services.version}/' is " \
           "'http://127.0.0.1:1.0.0/' once filled in, which is not an http(s) URL: port " \
           "'1.0.0' is not a number" in result.stderr
    assert "Traceback" not in result.output
    assert "== build" not in result.stdout
    assert eco.built() == [] and deployed(eco) == [] and lockfiles(eco) == []
