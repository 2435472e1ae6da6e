#!/usr/bin/env bash
# Deploy the watchdog and the monitoring stack on the services host, run once by ottodeploy
# (today's workflows never start them: ECOSYSTEM.md §7.3). Pinned tools: Prometheus v2.50.0,
# Alertmanager v0.27.0, Grafana 10.3.1, Loki and promtail 2.9.4, node_exporter v1.7.0,
# postgres_exporter v0.15.0, redis_exporter v1.56.0; the watchdog image by digest.
#
#   1. folders under /opt/ottochain-monitoring (0700), compose files and the static
#      configuration (Loki, promtail, Grafana data sources) copied, registry login.
#   2. prometheus.yml: host metrics (:9500) and the layers (9000, 9200, 9400) of every node
#      on its private address, this host's exporters; alertmanager.yml: Telegram, the bot
#      token read from a file. Secrets go to files of their own (0400, owned by the user
#      of the container that reads them): the Telegram token, Grafana's admin password (no more default
#      password), the Postgres password for its exporter; watchdog.env (0600).
#   3. docker compose (explicit --env-file and --project-directory): pull, up -d.
#
# Variables: OTTO_IMAGE (the watchdog, name@sha256:...), OTTO_VERSION,
# OTTO_SERVICES_HOST_NAME/_PRIVATE_ADDRESS, OTTO_NODE<i>_*, OTTO_REMOTE_DIR
# (/opt/ottochain-monitoring). Secrets (deploy.env): GITHUB_TOKEN, POSTGRES_PASSWORD,
# GRAFANA_ADMIN_PASSWORD, TELEGRAM_ALERT_BOT_TOKEN, TELEGRAM_ALERT_CHAT_ID.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
# shellcheck source=deploy/lib.sh
. "$here/../lib.sh"

image=$(exact_image "${OTTO_IMAGE:?}")
dir=${OTTO_REMOTE_DIR:-/opt/ottochain-monitoring}
host=${OTTO_SERVICES_HOST_NAME:?this environment has no services host}
private=${OTTO_SERVICES_HOST_PRIVATE_ADDRESS:?}
count=${OTTO_NODE_COUNT:?}
files=(monitoring.yml exporters.yml watchdog.yml)
compose="docker compose --project-name ottochain-monitoring --project-directory $(q "$dir") --env-file $(q "$dir/.env")"
for f in "${files[@]}"; do compose+=" -f $(q "$dir/compose/$f")"; done

# targets PORT: "<private address of node i>:PORT" of every node, as a YAML flow list
targets() {
  local i out=""
  for i in $(seq 1 "$count"); do out+="${out:+, }'$(node PRIVATE_ADDRESS "$i"):$1'"; done
  printf '[%s]' "$out"
}

# secret_file NAME FILE UID: the secret NAME becomes FILE (0400, owned by UID) on the host
secret_file() {
  secret "$1" | remote "$host" --stdin -- \
    "umask 077 && cat > $(q "$2.tmp") && chown $3 $(q "$2.tmp") && chmod 400 $(q "$2.tmp") && mv $(q "$2.tmp") $(q "$2")"
}

say "watchdog $image and monitoring on $host"
remote "$host" -- "mkdir -p $(q "$dir")/{compose,prometheus,alertmanager,grafana/datasources,loki,promtail,secrets} && chmod 700 $(q "$dir") $(q "$dir/secrets")"
for f in "${files[@]}"; do remote "$host" --put "$here/compose/$f" "$dir/compose/$f"; done
remote "$host" --put "$here/config/loki.yml" "$dir/loki/loki.yml"
remote "$host" --put "$here/config/promtail.yml" "$dir/promtail/promtail.yml"
remote "$host" --put "$here/config/grafana/datasources/datasources.yml" "$dir/grafana/datasources/datasources.yml"
registry_login "$host" "$image"

cat <<YAML | write_file "$host" "$dir/prometheus/prometheus.yml" 644
# written by ottodeploy (deploy/monitoring/deploy.sh); replaced on every deploy
global: {scrape_interval: 15s, evaluation_interval: 15s}
alerting:
  alertmanagers: [{static_configs: [{targets: ['127.0.0.1:9093']}]}]
scrape_configs:
  - {job_name: node, static_configs: [{targets: $(targets 9500)}, {targets: ['$private:9500']}]}
  - {job_name: gl0, static_configs: [{targets: $(targets 9000)}]}
  - {job_name: ml0, static_configs: [{targets: $(targets 9200)}]}
  - {job_name: dl1, static_configs: [{targets: $(targets 9400)}]}
  - {job_name: postgres, static_configs: [{targets: ['127.0.0.1:9187']}]}
  - {job_name: redis, static_configs: [{targets: ['127.0.0.1:9121']}]}
  - {job_name: prometheus, static_configs: [{targets: ['127.0.0.1:9090']}]}
YAML

chat_id=$(secret TELEGRAM_ALERT_CHAT_ID)
cat <<YAML | write_file "$host" "$dir/alertmanager/alertmanager.yml" 644
# written by ottodeploy (deploy/monitoring/deploy.sh); replaced on every deploy
route: {receiver: telegram, group_by: [alertname, instance], repeat_interval: 4h}
receivers:
  - name: telegram
    telegram_configs:
      - {bot_token_file: /run/secrets/telegram_bot_token, chat_id: $chat_id, parse_mode: HTML}
YAML
secret_file TELEGRAM_ALERT_BOT_TOKEN "$dir/secrets/telegram_bot_token" 65534
secret_file GRAFANA_ADMIN_PASSWORD "$dir/secrets/grafana_admin_password" 472
secret_file POSTGRES_PASSWORD "$dir/secrets/postgres_password" 65534

{
  echo "# written by ottodeploy (deploy/monitoring/deploy.sh); replaced on every deploy"
  echo "TELEGRAM_BOT_TOKEN=$(secret TELEGRAM_ALERT_BOT_TOKEN)"
  echo "TELEGRAM_CHAT_ID=$chat_id"
  echo "GL0_URLS=$(node_urls 9000)"
  echo "ML0_URLS=$(node_urls 9200)"
  echo "DL1_URLS=$(node_urls 9400)"
  echo "SERVICES_URL=http://127.0.0.1:8080"
} | write_file "$host" "$dir/watchdog.env" 600
{
  echo "# written by ottodeploy (deploy/monitoring/deploy.sh); replaced on every deploy"
  echo "WATCHDOG_IMAGE=$image"
  echo "WATCHDOG_VERSION=${OTTO_VERSION:-}"
  echo "MONITORING_DIR=$dir"
  echo "LOKI_ADDRESS=$private"
  echo "HOST_NAME=$host"
} | write_file "$host" "$dir/.env" 600

remote "$host" -- "$compose pull"
remote "$host" -- "$compose up -d --remove-orphans"
say "watchdog and monitoring deployed"
