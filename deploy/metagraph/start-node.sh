#!/usr/bin/env bash
# Start one metagraph node with the exact image of this deploy.
# Runs on the node (cwd = remote_dir) with OTTO_IMAGE, OTTO_HOST, OTTO_HOST_ADDRESS and
# OTTO_NODE_INDEX set by ottodeploy. Node 1 starts the cluster; the others join it.
set -euo pipefail
: "${OTTO_IMAGE:?}" "${OTTO_NODE_INDEX:?}" "${OTTO_HOST_ADDRESS:?}"
export IMAGE="$OTTO_IMAGE"
{
  echo "IMAGE=$OTTO_IMAGE"
  echo "EXTERNAL_IP=$OTTO_HOST_ADDRESS"
  echo "IS_INITIAL=$([ "$OTTO_NODE_INDEX" = 1 ] && echo true || echo false)"
} > .env.ottodeploy
cat .env.ottodeploy > .env
[ -f .env.local ] && cat .env.local >> .env   # keys, peer ids, *_JAVA_OPTS kept on the host

wait_ready() {  # port
  for _ in $(seq 1 180); do
    if curl -fsS "http://127.0.0.1:$1/node/info" | grep -q '"state":"Ready"'; then return 0; fi
    sleep 5
  done
  echo "layer on port $1 did not become Ready" >&2
  return 1
}

for layer in gl0:9000 ml0:9200 dl1:9400; do
  name=${layer%%:*}; port=${layer##*:}
  docker compose up -d "$name"
  if [ "$OTTO_NODE_INDEX" != 1 ] && [ -n "${NODE1_IP:-}" ]; then
    peer_id=$(curl -fsS "http://$NODE1_IP:$port/node/info" | sed -E 's/.*"id":"([^"]+)".*/\1/')
    curl -fsS -X POST "http://127.0.0.1:$((port + 2))/cluster/join" \
      -H 'Content-Type: application/json' \
      -d "{\"id\":\"$peer_id\",\"ip\":\"$NODE1_IP\",\"p2pPort\":$((port + 1))}"
  fi
  wait_ready "$port"
done
