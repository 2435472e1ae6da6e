"""What the status site says, from plain lockfile values (core.overview)."""

from __future__ import annotations

from typing import Any

import pytest

from ottodeploy.core.lockmodels import Lockfile
from ottodeploy.core.models import CompatibilityFile
from ottodeploy.core.overview import (
    artifacts_of,
    changes,
    column,
    compat_checks,
    health,
    match,
    promotion_order,
    short_digest,
)

A, B = "a" * 40, "b" * 40
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")
KEY = "f" * 64


def lock(shas: dict[str, str], artifacts: dict[str, Any] | None = None, **extra: Any) -> Lockfile:
    return Lockfile.model_validate({
        "timestamp": "2024-03-01T10:00:00Z", "environment": "scratch", "status": "healthy",
        "sources": {n: {"repo": f"o/{n}", "sha": s, "version": "1.0.0"} for n, s in shas.items()},
        "artifacts": artifacts or {}, **extra})


def art(digest: str) -> dict[str, str]:
    return {"digest": digest, "key": KEY}


def test_promotion_order_puts_the_shipped_four_first_and_the_rest_alphabetically() -> None:
    assert promotion_order(["prod", "zeta", "beta", "alpha", "scratch", "staging"]) == \
        ["scratch", "beta", "staging", "prod", "alpha", "zeta"]
    assert promotion_order(["demo", "beta"]) == ["beta", "demo"]


@pytest.mark.parametrize(("left", "right", "expected"), [
    # same commit, every common digest equal
    (lock({"svc": A}, {"svc_image": art(D1)}), lock({"svc": A}, {"svc_image": art(D1)}), "same"),
    # same commit, other bytes
    (lock({"svc": A}, {"svc_image": art(D1)}), lock({"svc": A}, {"svc_image": art(D2)}),
     "different bytes"),
    # another commit wins over digests
    (lock({"svc": A}, {"svc_image": art(D1)}), lock({"svc": B}, {"svc_image": art(D1)}),
     "differs"),
    # an old lockfile's key-only artifact: nothing to compare
    (lock({"svc": A}, {"svc_build": f"key:{KEY}"}), lock({"svc": A}, {"svc_build": art(D1)}),
     "same commit"),
    # a version environment locks only images: the common ones decide
    (lock({"svc": A}, {"svc_build": art(D3), "svc_image": art(D1)}),
     lock({"svc": A}, {"svc_image": art(D1)}), "same"),
    # not deployed on the left
    (lock({"other": A}), lock({"svc": A}), None),
    (None, lock({"svc": A}), None),
])
def test_match_with_the_environment_to_the_left(left: Lockfile | None, right: Lockfile,
                                                expected: str | None) -> None:
    assert match(left, right, "svc") == expected


def test_artifacts_of_reads_both_shapes_and_keeps_tasks_to_their_component() -> None:
    image = f"127.0.0.1:5000/o/svc@{D2}"
    locked = lock({"svc": A, "sv": A}, {"svc_image": image, "svc_build": f"key:{KEY}",
                                         "sv_image": art(D1)})
    views = artifacts_of(locked, "svc")
    assert [(v.task, v.artifact, v.digest, v.key) for v in views] == [
        ("svc_build", "build", None, KEY), ("svc_image", "image", D2, None)]
    assert [v.task for v in artifacts_of(locked, "sv")] == ["sv_image"]
    assert short_digest(D2) == "2" * 12


def test_a_failed_verification_says_when_and_why() -> None:
    locked = lock({"svc": A}, status="failed", note="marked failed by inv verify",
                  verifications=[
                      {"at": "2024-03-01T11:00:00Z", "result": "passed"},
                      {"at": "2024-03-01T12:00:00Z", "result": "failed",
                       "checks": {"health": "failed", "version": "passed"}}])
    h = health(locked)
    assert (h.status, h.when) == ("failed", "2024-03-01T12:00:00Z")
    assert h.why == "failed checks: health; marked failed by inv verify"
    assert h.verified == "2024-03-01T12:00:00Z"


def test_a_deploy_that_failed_or_was_interrupted_says_why() -> None:
    interrupted = health(lock({"svc": A}, status="failed", interrupted="SIGTERM"))
    assert (interrupted.when, interrupted.why) == ("2024-03-01T10:00:00Z",
                                                   "interrupted by SIGTERM")
    smoke = health(lock({"svc": A}, status="failed", tests={"smoke": "failed",
                                                            "e2e": "skipped"}))
    assert smoke.why == "failed: smoke"
    ok = health(lock({"svc": A}))
    assert (ok.status, ok.why, ok.verified) == ("healthy", "", "")


def test_changes_between_two_deploys() -> None:
    older = lock({"a": A, "b": A, "c": A, "gone": A},
                 {"a_image": art(D1), "b_image": art(D1), "c_build": f"key:{KEY}"})
    newer = lock({"a": B, "b": A, "c": A, "new": B},
                 {"a_image": art(D2), "b_image": art(D3), "c_build": art(D1)})
    found = {c.component: c for c in changes(older, newer, ["new", "c", "b", "a"])}
    assert list(found) == ["new", "b", "a", "gone"]   # order given, then the rest by name
    assert found["a"].kind == "changed" and found["a"].digests[0].new == D2
    assert found["b"].kind == "rebuilt"
    assert (found["new"].kind, found["gone"].kind) == ("added", "removed")
    # c: a digest the old lockfile never recorded is no change
    assert "c" not in found


def test_the_first_deploy_adds_everything_and_an_identical_one_changes_nothing() -> None:
    first = lock({"a": A}, {"a_image": art(D1)})
    assert [c.kind for c in changes(None, first)] == ["added"]
    assert changes(first, first) == []


def test_a_column_compares_each_component_with_the_left_column() -> None:
    left = lock({"a": A, "b": A}, {"a_image": art(D1), "b_image": art(D1)})
    right = lock({"a": A, "b": A}, {"a_image": art(D1), "b_image": art(D2)},
                 components={"a": {"deployed": "unchanged"}, "b": {"deployed": True}})
    col = column("beta", "branch", False, ("beta-x.yaml", right), ("scratch", left))
    assert {n: c.match for n, c in col.cells.items()} == {"a": "same", "b": "different bytes"}
    assert (col.cells["a"].deployed, col.cells["b"].deployed) == ("unchanged", True)
    empty = column("prod", "version", True, None, ("staging", None))
    assert (empty.health, empty.cells, empty.left) == (None, {}, "staging")


def test_compatibility_checks_every_range_against_the_locked_versions() -> None:
    matrix = CompatibilityFile.model_validate({"compatibility": {
        "svc": {"sdk": ">=1.0.0 <2.0.0", "core": ">=0.6.0"}, "sdk": {"absent": "*"}}})
    locked = Lockfile.model_validate({
        "timestamp": "2024-03-01T10:00:00Z", "environment": "scratch", "status": "healthy",
        "sources": {"svc": {"repo": "o/svc", "sha": A, "version": "1.0.0"},
                    "sdk": {"repo": "o/sdk", "sha": A, "version": "2.1.0-dev.3"},
                    "core": {"repo": "o/core", "sha": A}}})
    found = {(c.component, c.dependency): (c.state, c.why) for c in compat_checks(matrix, locked)}
    assert found == {
        ("sdk", "absent"): ("unchecked", "absent not deployed"),
        ("svc", "core"): ("unchecked", "no version recorded for core"),
        ("svc", "sdk"): ("violated", "sdk 2.1.0-dev.3 is outside >=1.0.0 <2.0.0"),
    }
