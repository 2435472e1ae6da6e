#!/usr/bin/env bash
# Deploy the explorer on the services host, run once by ottodeploy: its compose file and an
# explorer.env (EXPLORER_IMAGE by digest) in /opt/ottochain-services, registry login (token
# on stdin), then pull and up in its own compose project, so the services' deploy never
# removes it as an orphan. It listens on 8081; nginx's 8080 (deploy/services) proxies to it.
#
# Variables: OTTO_IMAGE (name@sha256:...), OTTO_VERSION, OTTO_SERVICES_HOST_NAME,
# OTTO_REMOTE_DIR (/opt/ottochain-services). Secrets (deploy.env): GITHUB_TOKEN.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
# shellcheck source=deploy/lib.sh
. "$here/../lib.sh"

image=$(exact_image "${OTTO_IMAGE:?}")
dir=${OTTO_REMOTE_DIR:-/opt/ottochain-services}
host=${OTTO_SERVICES_HOST_NAME:?this environment has no services host}
compose="docker compose --project-name ottochain-explorer --project-directory $(q "$dir") --env-file $(q "$dir/explorer.env") -f $(q "$dir/compose/explorer.yml")"

say "explorer $image on $host"
remote "$host" -- "mkdir -p $(q "$dir/compose")"
remote "$host" --put "$here/explorer.yml" "$dir/compose/explorer.yml"
registry_login "$host" "$image"
printf 'EXPLORER_IMAGE=%s\nEXPLORER_VERSION=%s\n' "$image" "${OTTO_VERSION:-}" |
  write_file "$host" "$dir/explorer.env" 644
remote "$host" -- "$compose pull"
remote "$host" -- "$compose up -d --remove-orphans"
say "explorer deployed"
