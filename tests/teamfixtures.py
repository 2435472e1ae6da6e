"""Checkouts of the OttoChain team's deploy repository, written in its shapes for the import.

``TEAM`` exercises every kind of content: four environments (two ``branch``, two
``release``), versions.yaml with ``deployed:`` state, tool versions and
per-environment settings, compatibility.yaml with ``requires``, a renamed
component (``monitoring``, now ``watchdog``), an untracked one (``sdk``: released
on npm, in no environment), an unknown one (``bridge``), unknown keys, comments,
and hosts that live in secrets. ``TODAY`` follows ECOSYSTEM.md's account of the
team's repository in 2026-06. Neither is a copy of the snapshot in
``../shared/adoption``.
"""

from __future__ import annotations

from pathlib import Path

COMPONENTS = """\
components:
  tessellation: {repo: Constellation-Labs/tessellation, artifacts: {publish: {run: "true"}}}
  metakit:
    repo: Constellation-Labs/metakit
    depends_on: [tessellation]
    artifacts: {publish: {run: "true"}}
  ottochain:
    repo: scasplte2/ottochain
    depends_on: [tessellation, metakit]
    artifacts:
      assembly: {run: "true"}
      image: {needs: [assembly], image: ghcr.io/scasplte2/ottochain-metagraph, run: "true"}
  sdk:
    repo: ottobot-ai/ottochain-sdk
    depends_on: [ottochain.assembly]
    artifacts: {build: {run: "true"}}
  services:
    repo: ottobot-ai/ottochain-services
    depends_on: [sdk]
    artifacts: {image: {image: ghcr.io/ottobot-ai/ottochain-services, run: "true"}}
  explorer:
    repo: ottobot-ai/ottochain-explorer
    depends_on: [services]
    artifacts: {image: {image: ghcr.io/ottobot-ai/ottochain-explorer, run: "true"}}
  watchdog:
    repo: ottobot-ai/ottochain-watchdog
    aliases: [monitoring]
    artifacts: {image: {image: ghcr.io/ottobot-ai/ottochain-watchdog, run: "true"}}
"""

TEAM = {
    "environments/scratch.yaml": """\
# Scratch - rapid iteration
# Hosts: SCRATCH_INFRASTRUCTURE (JSON secret)

name: scratch
mode: branch
auto_deploy: true

sources:
  tessellation:
    type: upstream
    repo: Constellation-Labs/tessellation
    ref: main  # or a custom branch

  metakit:
    type: upstream
    repo: Constellation-Labs/metakit
    ref: main

  # the metagraph, from its integration branch
  ottochain:
    type: core
    repo: scasplte2/ottochain
    ref: develop

  services:
    type: ecosystem
    repo: ottobot-ai/ottochain-services
    ref: develop

  explorer:
    type: ecosystem
    repo: ottobot-ai/ottochain-explorer
    ref: develop

  monitoring:
    type: ecosystem
    repo: ottobot-ai/ottochain-monitoring
    ref: develop
""",
    "environments/beta.yaml": """\
# Beta - integration testing (secret: BETA_INFRASTRUCTURE)
name: beta
mode: branch
auto_deploy: true
notify: {slack: "#deploys"}  # who hears about deploys

sources:
  tessellation: {type: upstream, ref: main}
  metakit: {type: upstream, ref: main}
  ottochain: {type: core, ref: develop}
  sdk: {type: ecosystem, ref: develop}
  services:
    type: ecosystem
    ref: develop
    path: packages/gateway
  bridge: {type: ecosystem, ref: develop}
  explorer: {type: frontend, ref: develop}
""",
    "environments/staging.yaml": """\
# Staging - release candidates
# Infrastructure stored in secret: STAGING_INFRASTRUCTURE

name: staging
mode: release
auto_deploy: false

sources:
  tessellation:
    type: upstream
    ref: main

  ottochain:
    type: core
    ref: main  # the metagraph release

  bridge:
    type: ecosystem
    ref: main
  # services: bridge, gateway, indexer, monitor
  services:
    type: ecosystem
    ref: main

  explorer:
    type: ecosystem
    ref: main

  monitoring:
    type: ecosystem
    ref: main
""",
    "environments/prod.yaml": """\
# Production - tagged releases only
# Infrastructure stored in secret: PROD_INFRASTRUCTURE

name: prod
mode: release
auto_deploy: false
requires_approval: true  # two maintainers

sources:
  tessellation:
    type: upstream
    ref: main
  metakit:
    type: upstream
    ref: main
  ottochain:
    type: core
    ref: main
  services:
    type: ecosystem
    ref: main
  explorer:
    type: ecosystem
    ref: main
""",
    "versions.yaml": """\
# Ecosystem versions (single source of truth)
components:
  ottochain:
    version: "0.7.16"
    repo: "scasplte2/ottochain"
    image: "ghcr.io/scasplte2/ottochain-metagraph"
  tessellation:
    version: "4.0.0-rc.10"
    repo: "Constellation-Labs/tessellation"
  # sdk: published to npm, no longer deployed
  sdk:
    version: "1.4.0"
    package: "@ottochain/sdk"
    registry: "https://registry.npmjs.org"
  services:
    version: "1.0.3"
    image: "ghcr.io/ottobot-ai/ottochain-services"
  explorer:
    version: "0.9.0"
    image: "ghcr.io/ottobot-ai/ottochain-explorer"
  monitoring:
    version: "1.5.0"
    repo: "ottobot-ai/ottochain-monitoring"
  bridge:
    version: "0.2.0"
monitoring_tools:
  prometheus: "v2.50.0"
  grafana: "10.3.1"
environments:
  scratch:
    auto_deploy: true
    cluster: hetzner
  production:
    auto_deploy: false
    cluster: null
deployed:
  scratch:
    ottochain: "0.7.16-dev.4"
    services: "1.0.3"
    timestamp: "2026-06-01T10:00:00Z"
    workflow_run: "9001"
  staging:
    ottochain: ""
    services: ""
  production: {}
""",
    "compatibility.yaml": """\
# Compatibility matrix
components:
  ottochain:
    description: "Core metagraph"
    type: core
  sdk:
    requires:
      ottochain: ">=0.5.0 <1.0.0"
  services:
    requires:
      # through the sdk
      sdk: ">=1.0.0"
      ottochain: ">=0.7.0 <1.0.0"  # snapshot format
  explorer:
    requires:
      services: ">=1.0.0 <2.0.0"
  monitoring:
    requires: {}
  bridge:
    requires:
      services: ">=1.0.0"
policy: semver
""",
}

_RELEASE_ENV = """\
# {title}
# Source: released versions (versions.yaml)
# Infrastructure stored in secret: {secret}

name: {name}
mode: release
auto_deploy: false
{approval}
sources:
  tessellation:
    type: upstream
    repo: Constellation-Labs/tessellation
    ref: main

  ottochain:
    type: core
    repo: scasplte2/ottochain
    ref: main

  services:
    type: ecosystem
    repo: ottobot-ai/ottochain-services
    ref: main

  explorer:
    type: ecosystem
    repo: ottobot-ai/ottochain-explorer
    ref: main

  watchdog:
    type: ecosystem
    repo: ottobot-ai/ottochain-watchdog
    ref: main

# Infrastructure loaded from secret at runtime
"""

# ECOSYSTEM.md, "How production is deployed today" (2026-06): monitoring became
# watchdog, sdk was dropped on 2026-03-18, metakit was never tracked; only scratch
# has deployed state.
TODAY = {
    "environments/scratch.yaml": """\
# Scratch Environment - Rapid Iteration
# Source: branches (bleeding edge)
#
# NOTE: Infrastructure config (IPs) stored in GitHub secret: SCRATCH_INFRASTRUCTURE

name: scratch
mode: branch
auto_deploy: true

sources:
  tessellation:
    type: upstream
    repo: Constellation-Labs/tessellation
    ref: main

  ottochain:
    type: core
    repo: scasplte2/ottochain
    ref: develop

  services:
    type: ecosystem
    repo: ottobot-ai/ottochain-services
    ref: develop

  explorer:
    type: ecosystem
    repo: ottobot-ai/ottochain-explorer
    ref: develop

  watchdog:
    type: ecosystem
    repo: ottobot-ai/ottochain-watchdog
    ref: develop

# Infrastructure loaded from secret at runtime
""",
    "environments/beta.yaml": _RELEASE_ENV.format(
        title="Beta Environment - External testing", secret="BETA_INFRASTRUCTURE",
        name="beta", approval=""),
    "environments/staging.yaml": _RELEASE_ENV.format(
        title="Staging Environment - Pre-production validation",
        secret="STAGING_INFRASTRUCTURE", name="staging", approval=""),
    "environments/prod.yaml": _RELEASE_ENV.format(
        title="Production Environment", secret="PROD_INFRASTRUCTURE", name="prod",
        approval="requires_approval: true\n"),
    "versions.yaml": """\
# OttoChain Ecosystem Versions
# Single source of truth for all component versions.

# === Component Versions ===
components:
  ottochain:
    version: "0.7.16"
    repo: "scasplte2/ottochain"
  tessellation:
    version: "4.0.0-rc.10"
    repo: "Constellation-Labs/tessellation"
  services:
    version: "1.0.3"
    repo: "ottobot-ai/ottochain-services"
    image: "ghcr.io/ottobot-ai/ottochain-services"
  explorer:
    version: "0.9.0"
    repo: "ottobot-ai/ottochain-explorer"
    image: "ghcr.io/ottobot-ai/ottochain-explorer"
  watchdog:
    version: "1.5.0"
    repo: "ottobot-ai/ottochain-watchdog"
    image: "ghcr.io/ottobot-ai/ottochain-watchdog"
# === Monitoring Tool Versions ===
monitoring_tools:
  prometheus: "v2.50.0"
  alertmanager: "v0.27.0"
  grafana: "10.3.1"
  loki: "2.9.4"
  promtail: "2.9.4"
  node_exporter: "v1.7.0"
  postgres_exporter: "v0.15.0"
  redis_exporter: "v1.56.0"
# === Infrastructure ===
infra:
  postgres: "16-alpine"
  redis: "7-alpine"
  java: "21"
# === Deployment Environments ===
environments:
  scratch:
    auto_deploy: true
    cluster: hetzner
  staging:
    auto_deploy: false
    cluster: hetzner
  production:
    auto_deploy: false
    cluster: null
# === Deployed State (updated by CI after successful deploy) ===
deployed:
  scratch:
    ottochain: "0.7.16"
    services: "1.0.3"
    explorer: "0.9.0"
    watchdog: ""
    timestamp: "2026-06-02T08:15:00Z"
    workflow_run: "15523"
  staging:
    ottochain: ""
    services: ""
    explorer: ""
    timestamp: ""
  production:
    ottochain: ""
    services: ""
    explorer: ""
""",
    "compatibility.yaml": """\
# OttoChain Component Compatibility Matrix

components:
  ottochain:
    description: "Core metagraph (Scala)"
    type: core

  services:
    description: "Backend services (bridge, gateway, indexer, monitor)"
    type: backend
    requires:
      # Services must understand core's snapshot format
      ottochain: ">=0.7.0 <1.0.0"
      # the sdk now comes from npm
      sdk: ">=1.0.0"

  explorer:
    description: "Explorer web UI"
    type: frontend
    requires:
      # Explorer talks to services API
      services: ">=1.0.0 <2.0.0"

  watchdog:
    description: "Watchdog and monitoring stack"
    type: tooling
    requires: {}
""",
}


def write_checkout(base: Path, files: dict[str, str]) -> Path:
    """The team's files under ``base`` (a folder standing for their repository)."""
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return base
