#!/usr/bin/env bash
# Generates the Python client and the TypeScript types from docs/openapi.json with tools we did
# not write, and runs a program with each against a fresh server (what .ci/run does):
#   examples/clients/run.sh [path/to/invest]
set -euo pipefail
# The binary is resolved from where we were called, before moving into this directory.
invest="$(realpath "${1:-$(dirname "$0")/../../target/debug/invest}")"
cd "$(dirname "$0")"

if ! command -v openapi-python-client >/dev/null 2>&1; then
  echo "installing openapi-python-client"
  pip install -q openapi-python-client
fi
(cd python && openapi-python-client generate --path ../../../docs/openapi.json \
  --output-path generated --overwrite >/dev/null)
(cd typescript && npm ci --no-audit --no-fund --silent && npm run -s generate >/dev/null && npm run -s build)

dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SECRET_KEY=clients-secret-key-0123456789abcdef0123 DATABASE_URL="sqlite://$dir/clients.db?mode=rwc" \
  SIGNAL_SENTINEL_DATA_DIR="$dir" LOG_LEVEL=warn \
  "$invest" serve --no-monitor --host 127.0.0.1 --port "$port" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done
export SIGNAL_SENTINEL_URL="http://127.0.0.1:$port"
python3 python/client.py
node typescript/dist/client.js
