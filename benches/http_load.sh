#!/usr/bin/env bash
# HTTP load: starts `invest serve --no-monitor` (release build) on loopback over a fresh
# SQLite database and drives it with wrk. Prints requests/s and p99 latency for
#   GET  /api/alerts?limit=50   (JWT, then API key)
#   POST /api/rules
#   GET  /api/health
# Needs wrk (`apt-get install wrk`). Knobs: DURATION (10s), CONNECTIONS (32), THREADS (2),
# PORT (18765), DATABASE_URL (a PostgreSQL URL to load PostgreSQL instead).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18765}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p signal-sentinel-cli -p benches --bin invest --bin seed_alerts
work=$(mktemp -d)
export DATABASE_URL=${DATABASE_URL:-"sqlite://$work/load.db?mode=rwc"}
export SECRET_KEY=load-test-secret-key-0123456789abcdef0123
export SIGNAL_SENTINEL_DATA_DIR=$work
export RATE_LIMIT_PER_MINUTE=1000000 AUTH_RATE_LIMIT_PER_MINUTE=1000 MAX_RULES_PER_USER=1000000
export LOG_LEVEL=${LOG_LEVEL:-warn}
target/release/invest serve --no-monitor --host 127.0.0.1 --port "$PORT" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$base/api/health" >/dev/null && break; sleep 0.1; done

email="load-$RANDOM@example.com"
curl -fs -X POST "$base/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"load-test-password\"}" >/dev/null
token=$(curl -fs -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"load-test-password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
key=$(curl -fs -X POST "$base/api/auth/api-keys" -H 'content-type: application/json' \
  -H "authorization: Bearer $token" -d '{"name":"load"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
target/release/seed_alerts "$email" 50 >/dev/null
rows=$(curl -fs "$base/api/alerts?limit=50" -H "authorization: Bearer $token" | grep -o '"id":' | wc -l)
[ "$rows" -eq 50 ] || { echo "expected 50 alerts per page, got $rows" >&2; exit 1; }

cat >"$work/post_rule.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"text":"AAPL crosses above %d"}', 100 + n % 900))
end
LUA

run() { # name, wrk args…
  local name=$1; shift
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-38s %10s req/s   p99 %8s%s\n' "$name" "$rps" "$p99" "${errors:+   non-2xx: $errors}"
}

echo "wrk: $THREADS threads, $CONNECTIONS connections, $DURATION each; database: ${DATABASE_URL%%:*}"
run "GET /api/alerts?limit=50 (JWT)" -H "Authorization: Bearer $token" "$base/api/alerts?limit=50"
run "GET /api/alerts?limit=50 (API key)" -H "X-API-Key: $key" "$base/api/alerts?limit=50"
TOKEN=$token run "POST /api/rules" -s "$work/post_rule.lua" "$base/api/rules"
run "GET /api/health" "$base/api/health"
