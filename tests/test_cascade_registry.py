"""Image tasks against a real docker-registry on 127.0.0.1 (SPEC §4).

- version mode builds nothing: image tasks verify ``<image>:<version>`` exists;
- the registry cache: an image recipe's push is also tagged ``bk-<key16>``, and an image
  task whose ``bk-`` tag exists is not rebuilt, in any environment or state directory;
  its readable tag is pointed at that manifest instead;
- an unreachable registry is a cache miss with a warning, never a failed build;
- a ref renamed onto the same SHA re-tags the image and runs no recipe.

Image recipes push for real: with ``OTTO_TEST_PUSH=1`` the ecosystem's ``build.py`` pushes
a tiny image (its content names the task, environment and key) to ``OTTO_IMAGE``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ottodeploy.core.imageref import parse_image_ref
from ottodeploy.registry import RegistryClient
from ottodeploy.state import Records
from tests.cascade_model import ALL_TASKS, BRANCH
from tests.conftest import PROJECT, run_inv
from tests.ecosystem import Ecosystem
from tests.servers import free_port
from tests.test_cascade import build, change, edit_env, state_dir

IMAGES = {
    "ottochain_image": "scasplte2/ottochain-metagraph",
    "services_image": "ottobot-ai/ottochain-services",
    "explorer_image": "ottobot-ai/ottochain-explorer",
}
IMAGE_TASKS = set(IMAGES)
COMPONENT = {"ottochain_image": "ottochain", "services_image": "services",
             "explorer_image": "explorer"}
# the staging environment's versions (tests/ecosystem.py's VERSION_ENV)
RELEASED = {"ottochain_image": "0.6.1", "services_image": "1.0.0", "explorer_image": "1.0.0"}


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient() as c:
        yield c


@pytest.fixture
def pushing(eco: Ecosystem, registry: str, monkeypatch: pytest.MonkeyPatch) -> Ecosystem:
    """The ecosystem with its images in ``registry``, cached, and recipes that push."""
    eco.write("manifests/components.yaml", eco.components_text(registry=registry, cache=True))
    monkeypatch.setenv("OTTO_TEST_PUSH", "1")
    monkeypatch.setenv("PYTHONPATH", str(PROJECT / "src"))  # the recipe imports ottodeploy
    return eco


def digest_of(client: RegistryClient, ref: str) -> str | None:
    return client.manifest_digest(parse_image_ref(ref))


def image_ref(registry: str, task: str, tag: str) -> str:
    return f"{registry}/{IMAGES[task]}:{tag}"


def push_released(client: RegistryClient, registry: str, tasks: set[str]) -> dict[str, str]:
    return {t: client.push_image(parse_image_ref(image_ref(registry, t, RELEASED[t])),
                                 {"a": f"released {t}".encode()})
            for t in tasks}


def doit_cli(*args: str, extra_env: dict[str, str] | None = None) \
        -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), *args],
        cwd=PROJECT.parent, env={**os.environ, **(extra_env or {})}, capture_output=True,
        text=True, timeout=120, check=False)


# --- version mode ----------------------------------------------------------------------------


def test_version_mode_verifies_released_images_and_builds_nothing(
        pushing: Ecosystem, registry: str, client: RegistryClient) -> None:
    eco = pushing
    pushed = push_released(client, registry, IMAGE_TASKS)
    done = doit_cli("env=staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert eco.built() == []
    records = Records(state_dir(eco, "staging"))
    assert set(records.all()) == ALL_TASKS
    for task in IMAGE_TASKS:
        rec = records.get(task)
        assert rec is not None
        assert rec.image_ref == image_ref(registry, task, RELEASED[task])
        assert rec.digest == pushed[task]
    assert not state_dir(eco, "staging").joinpath("checkouts").exists()
    again = run_inv("build", "staging")
    assert again.code == 0, again.output
    assert eco.built() == []


def test_version_mode_fails_clearly_when_a_released_image_is_missing(
        pushing: Ecosystem, registry: str, client: RegistryClient) -> None:
    eco = pushing
    push_released(client, registry, IMAGE_TASKS - {"explorer_image"})
    result = run_inv("build", "staging")
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert f"{registry}/ottobot-ai/ottochain-explorer" in result.stderr
    assert "1.0.0" in result.stderr
    assert "explorer_image" in result.stderr
    assert eco.built() == []
    assert set(Records(state_dir(eco, "staging")).all()) == ALL_TASKS - {"explorer_image"}

    push_released(client, registry, {"explorer_image"})
    fixed = run_inv("build", "staging")
    assert fixed.code == 0, fixed.output
    assert set(Records(state_dir(eco, "staging")).all()) == ALL_TASKS
    assert eco.built() == []


# --- the registry cache ----------------------------------------------------------------------


def test_a_built_image_gets_its_readable_tag_and_its_build_key_tag(
        pushing: Ecosystem, registry: str, client: RegistryClient) -> None:
    eco = pushing
    run = build(eco)
    assert run.code == 0
    assert set(run.built) == ALL_TASKS
    records = Records(state_dir(eco))
    for task in IMAGE_TASKS:
        rec = run.record(task)
        sha = eco.repos[COMPONENT[task]].rev(BRANCH[COMPONENT[task]])
        readable = rec["env"]["OTTO_IMAGE"]
        assert readable == image_ref(registry, task, f"develop-{sha[:7]}")
        key16 = rec["env"]["OTTO_KEY"][:16]
        assert digest_of(client, readable) == rec["digest"]
        assert digest_of(client, image_ref(registry, task, f"bk-{key16}")) == rec["digest"]
        assert records.get(task).digest == rec["digest"]  # type: ignore[union-attr]


def test_another_environment_reuses_images_built_for_the_same_key(
        pushing: Ecosystem, registry: str, client: RegistryClient) -> None:
    eco = pushing
    otto = eco.repos["ottochain"]
    # beta follows another name for the same commit: another readable tag, the same key
    otto.branch("release/beta", otto.rev("develop"))
    edit_env(eco, "beta", "ottochain:\n    type: core\n    ref: develop",
             "ottochain:\n    type: core\n    ref: release/beta")
    scratch = build(eco)
    assert scratch.code == 0
    beta = build(eco, "beta")
    assert beta.code == 0
    assert beta.built == []    # images from the registry cache, the rest from the local store
    beta_records = Records(state_dir(eco, "beta"))
    for task in IMAGE_TASKS:
        built = scratch.record(task)
        rec = beta_records.get(task)
        assert rec is not None
        assert rec.how == "reused"
        assert rec.key == built["env"]["OTTO_KEY"]
        assert rec.digest == built["digest"]
        assert rec.image_ref is not None
        assert digest_of(client, rec.image_ref) == built["digest"]
    sha7 = otto.rev("develop")[:7]
    otto_image = beta_records.get("ottochain_image")
    assert otto_image is not None
    assert otto_image.image_ref == image_ref(registry, "ottochain_image", f"release-beta-{sha7}")
    assert build(eco, "beta").built == []


def test_an_upstream_change_is_never_served_from_the_cache(
        pushing: Ecosystem, registry: str, client: RegistryClient) -> None:
    eco = pushing
    first = build(eco)
    assert first.code == 0
    old = {t: first.record(t)["digest"] for t in IMAGE_TASKS}
    change(eco, "sdk")
    beta = build(eco, "beta")
    assert beta.code == 0
    # beta builds only what the new sdk commit changed (sdk and the images below it); what
    # scratch built for the same keys comes from the store and the registry cache
    assert set(beta.built) == {"sdk_build", "services_image", "explorer_image"}
    for task in ("services_image", "explorer_image"):
        rec = beta.record(task)
        assert rec["digest"] != old[task]
        key16 = rec["env"]["OTTO_KEY"][:16]
        assert digest_of(client, image_ref(registry, task, f"bk-{key16}")) == rec["digest"]
    # scratch needs the same new keys: beta built them, nothing is built again
    scratch = build(eco)
    assert scratch.code == 0
    assert scratch.built == []
    records = Records(state_dir(eco))
    for task in ("services_image", "explorer_image"):
        assert records.get(task).digest == beta.record(task)["digest"]  # type: ignore[union-attr]
        assert records.get(task).how == "reused"  # type: ignore[union-attr]


def test_cache_false_never_reuses(eco: Ecosystem, registry: str, client: RegistryClient,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    eco.write("manifests/components.yaml", eco.components_text(registry=registry, cache=False))
    monkeypatch.setenv("OTTO_TEST_PUSH", "1")
    monkeypatch.setenv("PYTHONPATH", str(PROJECT / "src"))
    scratch = build(eco)
    assert scratch.code == 0
    for task in IMAGE_TASKS:
        key16 = scratch.record(task)["env"]["OTTO_KEY"][:16]
        assert digest_of(client, image_ref(registry, task, f"bk-{key16}")) is None
    beta = build(eco, "beta", tasks=["ottochain_image"])
    assert "ottochain_image" in beta.built   # the same key, but no cache: built again


def test_an_unreachable_registry_is_a_cache_miss_with_a_warning(eco: Ecosystem) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    eco.write("manifests/components.yaml", eco.components_text(registry=nowhere, cache=True))
    done = doit_cli("env=scratch")
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(eco.built()) == ALL_TASKS
    # one warning per registry and run (not one timeout per image), naming the registry
    warnings = [ln for ln in done.stderr.splitlines() if "registry cache" in ln]
    assert len(warnings) == 1, done.stderr
    assert warnings[0].startswith("ottodeploy: warning: ") and nowhere in warnings[0]
    assert "Traceback" not in done.stderr
    assert set(Records(state_dir(eco)).all()) == ALL_TASKS


def test_inv_build_warns_on_stderr_about_an_unreachable_registry(eco: Ecosystem) -> None:
    run_inv("plan", "scratch")  # any earlier command in this process
    nowhere = f"127.0.0.1:{free_port()}"
    eco.write("manifests/components.yaml", eco.components_text(registry=nowhere, cache=True))
    result = run_inv("build", "scratch")
    assert result.code == 0, result.output
    assert "registry cache" in result.stderr


def test_a_ref_renamed_onto_the_same_sha_retags_the_image(
        pushing: Ecosystem, registry: str, client: RegistryClient) -> None:
    eco = pushing
    first = build(eco)
    assert first.code == 0
    otto = eco.repos["ottochain"]
    sha7 = otto.rev("develop")[:7]
    otto.branch("feature/fast-sync", otto.rev("develop"))
    edit_env(eco, "scratch", "ottochain:\n    type: core\n    ref: develop",
             "ottochain:\n    type: core\n    ref: feature/fast-sync")
    plan = run_inv("plan", "scratch", "--json")
    assert plan.code == 0, plan.output
    tasks = {t["task"]: t for t in json.loads(plan.stdout)["tasks"]}
    assert {n for n, t in tasks.items() if t["run"]} == {"ottochain_image"}
    assert any("retag" in r for r in tasks["ottochain_image"]["reasons"])

    run = build(eco)
    assert run.code == 0
    assert run.built == []
    new_tag = image_ref(registry, "ottochain_image", f"feature-fast-sync-{sha7}")
    assert digest_of(client, new_tag) == first.record("ottochain_image")["digest"]
    rec = Records(state_dir(eco)).get("ottochain_image")
    assert rec is not None
    assert rec.image_ref == new_tag
    assert rec.how == "retagged"
    assert build(eco).built == []
