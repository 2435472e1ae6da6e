#!/usr/bin/env bash
# Deploy the services (gateway 4000, bridge 3030, indexer 3031, status 3032, traffic
# generator, Redis, Postgres) and the front door (nginx on 8080) on the services host,
# as production does (ECOSYSTEM.md §4), run once by ottodeploy:
#
#   1. folders under /opt/ottochain-services (0700: the .env holds secrets), the compose
#      files and the nginx configuration copied, registry login (token on stdin).
#   2. METAGRAPH_ID: node 1's genesis/genesis.address (the metagraph is deployed first).
#   3. .env (0600): SERVICES_IMAGE by digest — the key the compose files read (today's
#      scripts wrote SERVICES_VERSION, so `latest` ran) —, DATABASE_URL, REDIS_URL,
#      METAGRAPH_ID, GL0/ML0/DL1 URLs on node 1's public address, *_URLS for every node,
#      INDEXER_CALLBACK_URL on this host's private address.
#   4. docker compose with --env-file and --project-directory given explicitly (run with
#      -f compose/..., compose would not read the .env beside them): pull; on a wipe
#      (OTTO_WIPE_STATE=1) Redis FLUSHALL and Postgres DROP SCHEMA public first; up -d.
#
# Variables: OTTO_IMAGE (name@sha256:...), OTTO_SHA, OTTO_VERSION, OTTO_SERVICES_HOST_NAME
# and _PRIVATE_ADDRESS, OTTO_NODE<i>_*, OTTO_REMOTE_DIR (/opt/ottochain-services).
# Secrets (deploy.env): GITHUB_TOKEN, POSTGRES_PASSWORD. Optional: METAGRAPH_DIR (node 1's
# metagraph folder, default /opt/ottochain), OTTO_WIPE_STATE=1.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
# shellcheck source=deploy/lib.sh
. "$here/../lib.sh"

image=$(exact_image "${OTTO_IMAGE:?}")
dir=${OTTO_REMOTE_DIR:-/opt/ottochain-services}
host=${OTTO_SERVICES_HOST_NAME:?this environment has no services host}
metagraph_dir=${METAGRAPH_DIR:-/opt/ottochain}
node1=$(node NAME 1)
node1_public=$(node ADDRESS 1)
password=$(secret POSTGRES_PASSWORD)
files=(base.yml services.yml traffic.yml nginx.yml)
compose="docker compose --project-name ottochain-services --project-directory $(q "$dir") --env-file $(q "$dir/.env")"
for f in "${files[@]}"; do compose+=" -f $(q "$dir/compose/$f")"; done

say "services $image on $host"
remote "$host" -- "mkdir -p $(q "$dir/compose") $(q "$dir/nginx") && chmod 700 $(q "$dir")"
for f in "${files[@]}"; do remote "$host" --put "$here/compose/$f" "$dir/compose/$f"; done
remote "$host" --put "$here/nginx/ottochain.conf" "$dir/nginx/ottochain.conf"
registry_login "$host" "$image"

metagraph_id=$(remote "$node1" --dry-output dry-run-metagraph-id -- "cat $(q "$metagraph_dir/genesis/genesis.address")") ||
  fail "node 1 has no $metagraph_dir/genesis/genesis.address: deploy the metagraph first"

{
  echo "# written by ottodeploy (deploy/services/deploy.sh); replaced on every deploy"
  echo "SERVICES_IMAGE=$image"
  echo "SERVICES_VERSION=${OTTO_VERSION:-}"
  echo "SERVICES_COMMIT=${OTTO_SHA:-}"
  echo "SERVICES_DIR=$dir"
  echo "POSTGRES_USER=ottochain"
  echo "POSTGRES_DB=ottochain"
  echo "POSTGRES_PASSWORD=$(dotenv_quote "$password")"
  echo "DATABASE_URL=$(dotenv_quote "postgresql://ottochain:$(urlencode "$password")@postgres:5432/ottochain")"
  echo "REDIS_URL=redis://redis:6379"
  echo "METAGRAPH_ID=$metagraph_id"
  echo "GL0_URL=http://$node1_public:9000"
  echo "ML0_URL=http://$node1_public:9200"
  echo "DL1_URL=http://$node1_public:9400"
  echo "GL0_URLS=$(node_urls 9000)"
  echo "ML0_URLS=$(node_urls 9200)"
  echo "DL1_URLS=$(node_urls 9400)"
  echo "INDEXER_CALLBACK_URL=http://${OTTO_SERVICES_HOST_PRIVATE_ADDRESS:?}:3031/webhook/snapshot"
} | write_file "$host" "$dir/.env" 600

remote "$host" -- "$compose pull"
if [ "${OTTO_WIPE_STATE:-0}" = 1 ]; then
  say "wipe: Redis FLUSHALL, Postgres DROP SCHEMA public"
  remote "$host" -- "$compose up -d --wait redis postgres"
  remote "$host" -- "$compose exec -T redis redis-cli FLUSHALL"
  remote "$host" -- "$compose exec -T postgres psql -U ottochain -d ottochain -v ON_ERROR_STOP=1 -c 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;'"
fi
remote "$host" -- "$compose up -d --remove-orphans"
say "services deployed"
