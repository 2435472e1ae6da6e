#!/usr/bin/env bash
# The deploy jobs' SSH key for the hosts: ottodeploy calls the system ssh/scp, and
# ~/.ssh/config gives them the key and the user. From the environment (secrets passed
# through `env:`, never argv): SSH_KEY, SSH_KNOWN_HOSTS (optional: without it the first
# connection to a host accepts its key). `--required`: a missing key fails the job;
# otherwise only environments on the local target can deploy. `--remove` deletes the key
# (the job's last step, always).
set -euo pipefail

if [ "${1:-}" = "--remove" ]; then
  rm -f ~/.ssh/ottodeploy_key
  exit 0
fi
if [ -z "${SSH_KEY:-}" ]; then
  if [ "${1:-}" = "--required" ]; then
    echo "::error::secret HETZNER_SSH_KEY is not set"
    exit 1
  fi
  echo "::notice::secret HETZNER_SSH_KEY is not set: ssh targets cannot be reached"
  exit 0
fi
umask 077
mkdir -p ~/.ssh
printf '%s\n' "$SSH_KEY" > ~/.ssh/ottodeploy_key
chmod 600 ~/.ssh/ottodeploy_key
checking=accept-new
if [ -n "${SSH_KNOWN_HOSTS:-}" ]; then
  printf '%s\n' "$SSH_KNOWN_HOSTS" > ~/.ssh/known_hosts
  checking=yes
fi
cat > ~/.ssh/config <<CONFIG
Host *
  User root
  IdentityFile ~/.ssh/ottodeploy_key
  IdentitiesOnly yes
  StrictHostKeyChecking $checking
CONFIG
