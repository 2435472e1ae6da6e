#!/usr/bin/env bash
# Deploy the metagraph on every node, the way production brings its cluster up
# (ECOSYSTEM.md, "How production is deployed today" §3), run once by ottodeploy:
#
#   1. hosts: on every node create the folders (one data and one log folder per layer),
#      write the node's keystore from its secret (0600, in a 0700 folder), log in to the
#      registry (token on stdin), pull the image by digest, fetch cl-wallet.jar, copy the
#      compose file, logback.xml and promtail.yml, and stop every layer.
#   2. ids: every node's peer id from its keystore (cl-wallet show-id in a container of
#      the image); two nodes with the same id are an error (L1 consensus needs 3 keys).
#   3. .env on every node: IMAGE by digest, EXTERNAL_IP = the node's private address,
#      NODE1_IP = node 1's private address, IS_INITIAL on node 1, KEYS_DIR, CL_PASSWORD,
#      GL0_/ML0_PEER_ID (node 1's), TOKEN_ID, LOKI_URL, *_JAVA_OPTS (0600).
#   4. genesis, when OTTO_WIPE_STATE=1 or node 1 has no genesis/genesis.address: wipe
#      every layer's data and logs on every node, genesis.csv with key 1's address, GL0
#      on node 1 (IS_INITIAL) until Ready, ml0.jar create-genesis -> genesis.snapshot and
#      genesis.address (= TOKEN_ID), then the .env again with that TOKEN_ID.
#   5. layers GL0 -> ML0 -> DL1, each across all nodes: up on every node, node 1 Ready
#      (90x5s), the others ReadyToJoin (30x5s, a warning only), each joins node 1 over
#      node 1's private address (5x5s), node 1's cluster reaches the node count (60x5s),
#      every node Ready (60x5s).
#   6. node-exporter and promtail on every node.
#
# Variables (set by ottodeploy): OTTO_IMAGE (name@sha256:...), OTTO_IMAGE_TAG, OTTO_NODE_COUNT,
# OTTO_NODE<i>_NAME/_ADDRESS/_PRIVATE_ADDRESS, OTTO_SERVICES_HOST_PRIVATE_ADDRESS,
# OTTO_REMOTE_DIR (default /opt/ottochain), OTTO_REMOTE, OTTO_DRY_RUN. Secrets (deploy.env):
# CL_KEYSTORE_NODE<i> (base64 of the .p12), CL_KEYSTORE_PASSWORD, GITHUB_TOKEN.
# Optional: OTTO_WIPE_STATE=1 (genesis, wiping all layer state), CL_WALLET_VERSION (the
# tessellation release whose cl-wallet.jar computes peer ids), WAIT_SECONDS (default 5).
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
# shellcheck source=deploy/lib.sh
. "$here/../lib.sh"

image=$(exact_image "${OTTO_IMAGE:?}")
dir=${OTTO_REMOTE_DIR:-/opt/ottochain}
count=${OTTO_NODE_COUNT:?}
every=${WAIT_SECONDS:-5}
wallet_version=${CL_WALLET_VERSION:-4.0.0-rc.10}
wallet_url="https://github.com/Constellation-Labs/tessellation/releases/download/v$wallet_version/cl-wallet.jar"
node1=$(node NAME 1)
node1_ip=$(node PRIVATE_ADDRESS 1)
loki_url="http://${OTTO_SERVICES_HOST_PRIVATE_ADDRESS:-$node1_ip}:3100/loki/api/v1/push"
password=$(secret CL_KEYSTORE_PASSWORD)
layers=(gl0:9000 ml0:9200 dl1:9400)
state_dirs="$(q "$dir")/{gl0,gl1,ml0,cl1,dl1}-{data,logs}"   # brace-expanded on the host
java_common="-XX:+UseZGC -XX:+ExitOnOutOfMemoryError -XX:MaxMetaspaceSize=256m -Dlogback.configurationFile=/ottochain/logback.xml"

keys_dir() { if [ "$1" = 1 ]; then printf '%s/keys' "$dir"; else printf '%s/keys%s' "$dir" "$1"; fi; }

# wallet INDEX COMMAND: cl-wallet COMMAND (show-id, show-address) on node INDEX's keystore
wallet() {
  printf '%s\n' "$password" | remote "$(node NAME "$1")" --stdin --dry-output "dry-run-$2-node$1" -- \
    "IFS= read -r CL_PASSWORD && export CL_PASSWORD && docker run --rm --entrypoint java \
-e CL_PASSWORD -e CL_KEYSTORE=/ottochain/keys/key.p12 -e CL_KEYALIAS=alias \
-v $(q "$(keys_dir "$1")"):/ottochain/keys:ro -v $(q "$dir/tools"):/ottochain/tools:ro \
$(q "$image") -jar /ottochain/tools/cl-wallet-$wallet_version.jar $2"
}

# node_info NAME PORT TEST TRIES: wait until node NAME's /node/info on PORT passes jq TEST
node_info() {
  remote "$1" --retry "$4" --every "$every" -- \
    "curl -sf http://127.0.0.1:$2/node/info | jq -e '$3' >/dev/null"
}

write_env() {  # INDEX TOKEN_ID
  local i=$1 initial=false
  [ "$i" = 1 ] && initial=true
  {
    echo "# written by ottodeploy (deploy/metagraph/deploy.sh); replaced on every deploy"
    echo "IMAGE=$image"
    echo "IMAGE_TAG=${OTTO_IMAGE_TAG:-}"
    echo "NODE_NAME=$(node NAME "$i")"
    echo "EXTERNAL_IP=$(node PRIVATE_ADDRESS "$i")"
    echo "NODE1_IP=$node1_ip"
    echo "IS_INITIAL=$initial"
    echo "DATA_DIR=$dir"
    echo "KEYS_DIR=$(keys_dir "$i")"
    echo "CL_PASSWORD=$(dotenv_quote "$password")"
    echo "GL0_PEER_ID=$peer1"
    echo "ML0_PEER_ID=$peer1"
    echo "TOKEN_ID=$2"
    echo "LOKI_URL=$loki_url"
    echo "GL0_JAVA_OPTS='-Xmx3g -Xms2g $java_common'"
    echo "ML0_JAVA_OPTS='-Xmx4g -Xms2g $java_common'"
    echo "DL1_JAVA_OPTS='-Xmx3g -Xms1g $java_common'"
  } | write_file "$(node NAME "$i")" "$dir/.env" 600
}

say "metagraph $image on $count nodes (node 1: $node1, $node1_ip)"

say "hosts: stop, folders, keystores, registry, image, files"
for i in $(seq 1 "$count"); do
  name=$(node NAME "$i")
  keys=$(keys_dir "$i")
  remote "$name" -- "mkdir -p $state_dirs $(q "$dir/genesis") $(q "$dir/tools") $(q "$keys") && chmod 700 $(q "$keys")"
  secret "CL_KEYSTORE_NODE$i" | remote "$name" --stdin -- \
    "umask 077 && base64 -d > $(q "$keys/key.p12.tmp") && mv $(q "$keys/key.p12.tmp") $(q "$keys/key.p12")"
  registry_login "$name" "$image"
  remote "$name" -- "docker pull $(q "$image")"
  remote "$name" -- "test -s $(q "$dir/tools/cl-wallet-$wallet_version.jar") || curl -fsSL -o $(q "$dir/tools/cl-wallet-$wallet_version.jar") $(q "$wallet_url")"
  for file in docker-compose.yml logback.xml promtail.yml; do
    remote "$name" --put "$here/$file" "$dir/$file"
  done
  remote "$name" -- "docker ps -aq --filter 'name=^/?(gl0|gl1|ml0|cl1|dl1)\$' | xargs -r docker rm -f"
done

say "ids: peer id of every node's keystore"
declare -A seen=()
peer1=""
for i in $(seq 1 "$count"); do
  id=$(wallet "$i" show-id)
  [ -n "$id" ] || fail "no peer id for node $i"
  [ -z "${seen[$id]:-}" ] || fail "node $i has the same peer id as node ${seen[$id]}: every node needs its own key"
  seen[$id]=$i
  [ "$i" = 1 ] && peer1=$id
done

genesis=no
if [ "${OTTO_WIPE_STATE:-0}" = 1 ]; then
  genesis="yes (OTTO_WIPE_STATE=1)"
elif ! remote "$node1" -- "test -s $(q "$dir/genesis/genesis.address")"; then
  genesis="yes (node 1 has no genesis.address)"
fi
token_id=""
if [ "$genesis" = no ]; then
  token_id=$(remote "$node1" --dry-output "dry-run-token-id" -- "cat $(q "$dir/genesis/genesis.address")")
fi

say ".env on every node"
for i in $(seq 1 "$count"); do write_env "$i" "$token_id"; done

if [ "$genesis" != no ]; then
  say "genesis: $genesis"
  for i in $(seq 1 "$count"); do
    remote "$(node NAME "$i")" -- "rm -rf $state_dirs $(q "$dir/genesis") && mkdir -p $state_dirs $(q "$dir/genesis")"
  done
  address=$(wallet 1 show-address)
  [ -n "$address" ] || fail "no address for the key of node 1"
  remote "$node1" -- "echo $(q "$address"),1000000000000000 > $(q "$dir/genesis/genesis.csv")"
  remote "$node1" -- "cd $(q "$dir") && docker compose up -d gl0"
  node_info "$node1" 9000 '.state == "Ready"' 90
  printf '%s\n' "$password" | remote "$node1" --stdin -- \
    "IFS= read -r CL_PASSWORD && export CL_PASSWORD && docker run --rm --network host --entrypoint java \
-e CL_PASSWORD -e CL_KEYSTORE=/ottochain/keys/key.p12 -e CL_KEYALIAS=alias -e CL_APP_ENV=dev \
-e CL_GLOBAL_L0_PEER_ID=$peer1 -e CL_GLOBAL_L0_PEER_HTTP_HOST=127.0.0.1 -e CL_GLOBAL_L0_PEER_HTTP_PORT=9000 \
-v $(q "$(keys_dir 1)"):/ottochain/keys:ro -v $(q "$dir/genesis"):/ottochain/genesis -w /ottochain/genesis \
$(q "$image") -jar /ottochain/jars/ml0.jar create-genesis genesis.csv"
  remote "$node1" -- "test -s $(q "$dir/genesis/genesis.snapshot") && test -s $(q "$dir/genesis/genesis.address")"
  token_id=$(remote "$node1" --dry-output "dry-run-token-id" -- "cat $(q "$dir/genesis/genesis.address")")
  say ".env on every node, with the new TOKEN_ID"
  for i in $(seq 1 "$count"); do write_env "$i" "$token_id"; done
fi

for entry in "${layers[@]}"; do
  layer=${entry%%:*}
  port=${entry##*:}
  say "layer $layer (public $port, p2p $((port + 1)), cli $((port + 2)))"
  for i in $(seq 1 "$count"); do
    remote "$(node NAME "$i")" -- "cd $(q "$dir") && docker compose up -d $layer"
  done
  node_info "$node1" "$port" '.state == "Ready"' 90 || fail "$layer on $node1 did not become Ready"
  for i in $(seq 2 "$count"); do
    node_info "$(node NAME "$i")" "$port" '.state == "ReadyToJoin"' 30 ||
      warn "$layer on $(node NAME "$i") is not ReadyToJoin; joining anyway"
  done
  join="{\"id\":\"$peer1\",\"ip\":\"$node1_ip\",\"p2pPort\":$((port + 1))}"
  for i in $(seq 2 "$count"); do
    remote "$(node NAME "$i")" --retry 5 --every "$every" -- \
      "docker exec $layer curl -sf -X POST http://127.0.0.1:$((port + 2))/cluster/join -H 'Content-Type: application/json' -d '$join'" ||
      fail "$layer on $(node NAME "$i") could not join $node1"
  done
  remote "$node1" --retry 60 --every "$every" -- \
    "curl -sf http://127.0.0.1:$port/cluster/info | jq -e 'length >= $count' >/dev/null" ||
    fail "the $layer cluster did not reach $count nodes"
  for i in $(seq 1 "$count"); do
    node_info "$(node NAME "$i")" "$port" '.state == "Ready"' 60 ||
      fail "$layer on $(node NAME "$i") did not become Ready"
  done
done

say "node-exporter and promtail on every node"
for i in $(seq 1 "$count"); do
  remote "$(node NAME "$i")" -- "cd $(q "$dir") && docker compose up -d node-exporter promtail"
done
say "metagraph deployed: token id $token_id"
