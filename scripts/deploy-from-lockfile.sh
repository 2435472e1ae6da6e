#!/usr/bin/env bash
# Replay a known-good state: scripts/deploy-from-lockfile.sh lockfiles/scratch-2026-02-10-1423.yaml
# A thin wrapper over `inv deploy-lockfile` (DESIGN.md §6's name for it).
set -euo pipefail
if [ "$#" -lt 1 ]; then
  echo "usage: $0 LOCKFILE [inv deploy-lockfile options]" >&2
  exit 2
fi
exec inv --search-root "$(dirname "$0")/.." deploy-lockfile "$@"
