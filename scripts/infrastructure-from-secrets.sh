#!/usr/bin/env bash
# Print <ENV>_INFRASTRUCTURE (the JSON ottodeploy reads host addresses from) built from the
# per-host secrets the OttoChain team keeps today:
#
#   HETZNER_NODE<i>_IP          -> nodes[i-1].host          (public: ssh, service URLs)
#   HETZNER_NODE<i>_PRIVATE_IP  -> nodes[i-1].private_host  (.env EXTERNAL_IP, NODE1_IP, joins)
#   HETZNER_SERVICES_IP         -> services_host.host
#   HETZNER_SERVICES_PRIVATE_IP -> services_host.private_host (Loki, indexer callback)
#
# Nodes are node1, node2, ... for i = 1, 2, ... while HETZNER_NODE<i>_IP is set (the names
# an environment's infrastructure.nodes lists). A private address that is not set is left
# out (ottodeploy then uses the public one). PREFIX (default HETZNER) selects other secrets,
# e.g. STAGING_HETZNER_NODE1_IP with PREFIX=STAGING_HETZNER.
#
# In a workflow:
#   echo "SCRATCH_INFRASTRUCTURE=$(scripts/infrastructure-from-secrets.sh)" >> "$GITHUB_ENV"
# with the secrets mapped into the step's env. Exit 2 when no node is set or an address
# is not a host name or IP address.
set -euo pipefail
prefix=${1:-HETZNER}
case "$prefix" in ''|*[!A-Z0-9_]*) echo "usage: $0 [PREFIX]  (PREFIX: A-Z, 0-9, _)" >&2; exit 2 ;; esac

address() {  # VARIABLE: its value, checked; empty if unset
  local value=${!1:-}
  if [ -n "$value" ] && ! [[ $value =~ ^[A-Za-z0-9:][A-Za-z0-9.:-]*$ ]]; then
    echo "error: $1 is not a host name or IP address" >&2
    exit 2
  fi
  printf '%s' "$value"
}

entry() {  # PUBLIC PRIVATE: "host" and optional "private_host" members
  printf '"host": "%s"' "$1"
  if [ -n "$2" ]; then printf ', "private_host": "%s"' "$2"; fi
}

nodes=""
i=1
while [ -n "$(address "${prefix}_NODE${i}_IP")" ]; do
  public=$(address "${prefix}_NODE${i}_IP")
  private=$(address "${prefix}_NODE${i}_PRIVATE_IP")
  nodes+="${nodes:+, }{\"name\": \"node$i\", $(entry "$public" "$private")}"
  i=$((i + 1))
done
if [ -z "$nodes" ]; then
  echo "error: ${prefix}_NODE1_IP is not set: no node to describe" >&2
  exit 2
fi
services=$(address "${prefix}_SERVICES_IP")
services_private=$(address "${prefix}_SERVICES_PRIVATE_IP")
if [ -n "$services" ]; then
  printf '{"nodes": [%s], "services_host": {%s}}\n' "$nodes" "$(entry "$services" "$services_private")"
else
  printf '{"nodes": [%s]}\n' "$nodes"
fi
