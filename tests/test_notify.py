"""Slack and Telegram notifications on deploys, promotions and approvals (SPEC §6).

Both services are ``HttpRecorder`` servers on 127.0.0.1: Slack's incoming webhook at
``/hook``, Telegram's Bot API at ``/bot<token>/sendMessage`` (``TELEGRAM_API_URL``).
A webhook that hangs, answers 500 or refuses the connection never fails anything,
and neither the webhook URL nor the bot token ever reaches the output or a lockfile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

import ottodeploy.flows.promote
import ottodeploy.notify
from ottodeploy.notify import notify
from tests.deployrepo import (
    branches,
    cli,
    init_deploy_repo,
    inv_subprocess,
    lockfiles,
    release_images,
    write_lock,
)
from tests.ecosystem import VERSION_ENV, Ecosystem
from tests.servers import HttpRecorder, Response, free_port
from tests.signing import make_people

BOT_TOKEN = "123:abc"
VERSIONS = ("tessellation 4.0.0, metakit 0.2.0, ottochain 0.6.1, sdk 0.3.0, services 1.0.0, "
            "explorer 1.0.0, monitoring 0.1.0")
TELEGRAM_PATH = f"/bot{BOT_TOKEN}/sendMessage"


@dataclass
class Channels:
    slack: HttpRecorder
    telegram: HttpRecorder
    hook: str                   # SLACK_WEBHOOK_URL (a secret: whoever has it can post)

    @property
    def secrets(self) -> list[str]:
        return [self.hook, BOT_TOKEN, f"{self.telegram.url}{TELEGRAM_PATH}"]

    def environ(self) -> dict[str, str]:
        return {"SLACK_WEBHOOK_URL": self.hook, "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
                "TELEGRAM_CHAT_ID": "42", "TELEGRAM_API_URL": self.telegram.url}

    def slack_texts(self) -> list[str]:
        return [r.json()["text"] for r in self.slack.requests]

    def telegram_texts(self) -> list[str]:
        return [r.json()["text"] for r in self.telegram.requests]


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    with HttpRecorder() as slack, HttpRecorder() as telegram:
        slack.add_route("POST", "/hook", Response(200, body="ok"))
        telegram.add_route("POST", TELEGRAM_PATH, Response(200, body={"ok": True}))
        found = Channels(slack, telegram, f"{slack.url}/hook")
        for key, value in found.environ().items():
            monkeypatch.setenv(key, value)
        yield found


@pytest.fixture
def staging(eco: Ecosystem, registry: str) -> Ecosystem:
    """staging deployable for real: released images in a registry, ``target: local``."""
    release_images(eco, registry)
    return eco


def assert_secret_free(channels: Channels, *texts: str) -> None:
    for text in texts:
        for secret in channels.secrets:
            assert secret not in text


def lockfile_texts(eco: Ecosystem) -> list[str]:
    return [(eco.root / "lockfiles" / n).read_text() for n in lockfiles(eco)]


def assert_telegram_requests(channels: Channels) -> None:
    for request in channels.telegram.requests:
        assert (request.method, request.path) == ("POST", TELEGRAM_PATH)
        assert str(request.json()["chat_id"]) == "42"


# --- deploys -----------------------------------------------------------------------------------


def test_deploy_sends_started_and_succeeded(staging: Ecosystem, channels: Channels) -> None:
    eco = staging
    result = cli("deploy", "staging")
    assert result.code == 0, result
    (lock,) = lockfiles(eco)
    texts = channels.slack_texts()
    assert texts == [
        f"ottodeploy: staging: deploy started\n{VERSIONS}",
        f"ottodeploy: staging: deploy healthy\n{VERSIONS}\n{lock}",
    ]
    assert channels.telegram_texts() == texts
    assert_telegram_requests(channels)
    assert channels.slack.requests[0].path == "/hook"
    assert_secret_free(channels, result.stdout, result.stderr, *lockfile_texts(eco))


def test_failed_deploy_sends_failed(staging: Ecosystem, channels: Channels) -> None:
    eco = staging
    eco.write("manifests/environments/staging.yaml",
              VERSION_ENV.format(name="staging", approval="false") + "e2e: {run: 'exit 3'}\n")
    result = cli("deploy", "staging")
    assert result.code == 1, result
    texts = channels.slack_texts()
    assert len(texts) == 2
    assert texts[0] == f"ottodeploy: staging: deploy started\n{VERSIONS}"
    assert texts[1] == f"ottodeploy: staging: deploy FAILED\n{VERSIONS}\ne2e failed: exit 3"
    assert channels.telegram_texts() == texts
    assert "status: failed" in lockfile_texts(eco)[0]
    assert_secret_free(channels, result.stdout, result.stderr, *lockfile_texts(eco))


def test_hanging_webhook_does_not_block_the_deploy(staging: Ecosystem, channels: Channels,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    eco = staging
    channels.slack.add_route("POST", "/hook", Response(200, body="ok", delay=30))
    accepted: list[list[str]] = []
    real_notify = ottodeploy.notify.notify

    def spy(*args: object, **kwargs: object) -> list[str]:
        channels_ok = real_notify(*args, **kwargs)  # type: ignore[arg-type]
        accepted.append(channels_ok)
        return channels_ok

    monkeypatch.setattr(ottodeploy.notify, "notify", spy)
    result = cli("deploy", "staging")
    assert result.code == 0, result
    assert "status: healthy" in lockfile_texts(eco)[0]
    # each notify() returned with the hanging channel left out; the other one delivered
    assert accepted == [["telegram"], ["telegram"]]
    assert len(channels.slack.requests) == 2          # Slack was asked, and never answered
    assert [t.splitlines()[0] for t in channels.telegram_texts()] == [
        "ottodeploy: staging: deploy started", "ottodeploy: staging: deploy healthy"]
    assert "slack notification" in result.stderr        # a warning, not a failure
    assert_secret_free(channels, result.stdout, result.stderr, *lockfile_texts(eco))


@pytest.mark.parametrize("slack", ["500", "refused", "500 in a subprocess"])
def test_failing_webhook_never_fails_the_deploy(staging: Ecosystem, channels: Channels,
                                                monkeypatch: pytest.MonkeyPatch,
                                                slack: str) -> None:
    eco = staging
    if slack.startswith("500"):
        channels.slack.add_route("POST", "/hook", Response(500, body="internal error"))
        warning = "slack notification refused: HTTP 500"
    else:
        channels.hook = f"http://127.0.0.1:{free_port()}/hook/T000/B000/secretpart"
        monkeypatch.setenv("SLACK_WEBHOOK_URL", channels.hook)
        warning = "slack notification failed: [Errno 111] Connection refused"
    if slack.endswith("subprocess"):
        done = inv_subprocess("deploy", "staging")
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    else:
        result = cli("deploy", "staging")
        code, stdout, stderr = result.code, result.stdout, result.stderr
    assert code == 0, (stdout, stderr)
    assert "status: healthy" in lockfile_texts(eco)[0]
    assert stderr.count(warning) == 2, stderr
    assert len(channels.telegram_texts()) == 2
    assert_secret_free(channels, stdout, stderr, *lockfile_texts(eco))


# --- promotions and approvals ------------------------------------------------------------------


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SSH signing key for ``inv approve`` (approvals are signed)."""
    return str(make_people(tmp_path_factory.mktemp("keys"))["bob"].key)


def test_promotion_and_approval_are_announced(eco: Ecosystem, channels: Channels,
                                              key: str) -> None:
    eco.write("manifests/environments/prod.yaml",
              VERSION_ENV.format(name="prod", approval="true").replace("v0.6.1", "v0.6.0"))
    init_deploy_repo(eco, origin=False)
    lock = write_lock(eco, "staging").name
    promoted = cli("promote", "staging", "prod")
    assert promoted.code == 0, promoted
    (branch,) = branches(eco)
    assert channels.slack_texts() == [f"ottodeploy: prod: promotion proposed\n{branch} from {lock}"]

    approved = cli("approve", branch, "--by", "Other Person <other@example.invalid>",
                   "--signing-key", key)
    assert approved.code == 0, approved
    assert channels.slack_texts()[1] == (
        f"ottodeploy: prod: promotion approved\n{branch} approved by "
        "Other Person <other@example.invalid>")
    assert channels.telegram_texts() == channels.slack_texts()
    assert_telegram_requests(channels)
    assert_secret_free(channels, promoted.stdout, promoted.stderr, approved.stdout,
                       approved.stderr)


def test_approval_of_a_second_same_second_promotion_names_the_environment(
        eco: Ecosystem, channels: Channels, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    eco.write("manifests/environments/prod.yaml",
              VERSION_ENV.format(name="prod", approval="true").replace("v0.6.1", "v0.6.0"))
    init_deploy_repo(eco, origin=False)
    write_lock(eco, "staging")
    frozen = time.gmtime()
    monkeypatch.setattr(ottodeploy.flows.promote, "time",
                        SimpleNamespace(strftime=time.strftime, gmtime=lambda *_: frozen))
    assert cli("promote", "staging", "prod").code == 0
    assert cli("promote", "staging", "prod").code == 0
    second = branches(eco)[1]
    assert second.endswith("-2")
    assert cli("approve", second, "--by", "Other Person <other@example.invalid>",
               "--signing-key", key).code == 0
    assert channels.slack_texts()[-1].startswith("ottodeploy: prod: promotion approved\n")


# --- notify() itself -------------------------------------------------------------------------


def test_notify_sends_to_what_is_configured(channels: Channels) -> None:
    env = channels.environ()
    assert notify(None, "deploy-started", env="beta", environ={}) == []
    # Telegram needs both the token and the chat
    only_token = {k: v for k, v in env.items() if k != "TELEGRAM_CHAT_ID"}
    assert notify(None, "deploy-started", env="beta", environ=only_token) == ["slack"]
    assert channels.telegram.requests == []
    both = notify(None, "deploy-succeeded", env="beta", versions={"sdk": "0.3.1-dev.2"},
                  detail="beta-2026-01-01-0000.yaml", environ={
                      **env, "GITHUB_SERVER_URL": "https://github.com",
                      "GITHUB_REPOSITORY": "owner/deploy", "GITHUB_RUN_ID": "77"})
    assert sorted(both) == ["slack", "telegram"]
    expected = ("ottodeploy: beta: deploy healthy\nsdk 0.3.1-dev.2\nbeta-2026-01-01-0000.yaml\n"
                "https://github.com/owner/deploy/actions/runs/77")
    assert channels.slack_texts()[-1] == expected
    assert channels.telegram_texts() == [expected]
    (request,) = channels.telegram.requests
    assert request.path == TELEGRAM_PATH
    assert request.json()["chat_id"] == "42"

