# shellcheck shell=bash
# Sourced by every deploy script in deploy/. They run once, on the machine running
# ottodeploy (deploy.once in manifests/components.yaml), in the deploy root, and reach the
# hosts only through "$OTTO_REMOTE" (ottodeploy.remote): it prints every remote command
# as "[host] command" (secrets redacted) and, with OTTO_DRY_RUN=1, prints instead of
# running. Secrets go to hosts on stdin (--stdin), never on a command line.

: "${OTTO_REMOTE:?run by ottodeploy: a deploy step with once: true sets OTTO_REMOTE}"

# remote HOST [OPTIONS] -- COMMAND: run COMMAND on HOST (see ottodeploy.remote)
remote() { "$OTTO_REMOTE" "$@"; }

dry_run() { [ "${OTTO_DRY_RUN:-0}" = 1 ]; }

say() { printf '== %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

# q VALUE: VALUE quoted for a remote shell command
q() { printf '%q' "$1"; }

# node FIELD INDEX: NAME, ADDRESS or PRIVATE_ADDRESS of node INDEX (1-based)
node() { local var="OTTO_NODE$2_$1"; printf '%s' "${!var:?no node $2 in this environment}"; }

# secret NAME: the secret's value; a placeholder in a dry run without it; else an error
secret() {
  if [ -n "${!1:-}" ]; then printf '%s' "${!1}"
  elif dry_run; then printf '<%s>' "$1"
  else fail "$1 is not set (it is listed in deploy.env of this component)"
  fi
}

# exact_image REF: REF if it names an image by digest; never a tag such as latest
exact_image() {
  case "$1" in
    *@sha256:*) printf '%s' "$1" ;;
    *) fail "OTTO_IMAGE must be an image reference by digest (name@sha256:...), got '$1'" ;;
  esac
}

# registry_login HOST IMAGE: docker login to IMAGE's registry on HOST, the token on stdin
registry_login() {
  local registry=${2%%/*}
  secret GITHUB_TOKEN | remote "$1" --stdin -- \
    "docker login $(q "$registry") --username ${REGISTRY_USER:-ottodeploy} --password-stdin"
}

# write_file HOST PATH MODE: stdin becomes PATH on HOST (mode MODE), replaced atomically
write_file() {
  remote "$1" --stdin -- "umask 077 && cat > $(q "$2.tmp") && chmod $3 $(q "$2.tmp") && mv $(q "$2.tmp") $(q "$2")"
}

# dotenv_quote VALUE: VALUE as a literal for a compose .env file (single quotes, no expansion)
dotenv_quote() {
  case "$1" in *"'"*|*$'\n'*) fail "a value for a .env file cannot contain ' or a newline" ;; esac
  printf "'%s'" "$1"
}

# urlencode VALUE: VALUE percent-encoded for a URL (a password in DATABASE_URL)
urlencode() {
  local LC_ALL=C s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# node_urls PORT: http://<public address>:PORT of every node, comma-separated
node_urls() {
  local i out=""
  for i in $(seq 1 "${OTTO_NODE_COUNT:?}"); do out+="${out:+,}http://$(node ADDRESS "$i"):$1"; done
  printf '%s' "$out"
}
