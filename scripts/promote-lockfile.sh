#!/usr/bin/env bash
# Promote a lockfile into an environment's manifest: scripts/promote-lockfile.sh scratch-2026-02-10-1423.yaml staging
# A thin wrapper over `inv promote-lockfile` (DESIGN.md §6's name for it).
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: $0 LOCKFILE ENV [--allow-sha]" >&2
  exit 2
fi
exec inv --search-root "$(dirname "$0")/.." promote-lockfile "$@"
