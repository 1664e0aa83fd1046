#!/usr/bin/env bash
# HTTP load: starts `invest serve --no-monitor` (release build) on loopback over a fresh
# SQLite database holding 20,000 alerts for one user, and beside it the earlier stack's peer
# (benches/fastapi_peer: FastAPI + SQLAlchemy + SQLite + PyJWT under one uvicorn worker,
# installed in a virtual environment under target/ on first use) reading the same file.
# Drives both with the same wrk settings in interleaved rounds and prints, per round and as
# medians:
#   GET  /api/alerts?limit=50   JWT, API key, and the peer (JWT)
# with requests/s, p99 latency and the server's CPU time per request (utime + stime of the
# server process over the run, divided by the requests served), then the ratios
# (Rust / peer, API key / JWT). Then one run each of POST /api/rules and GET /api/health.
# Needs wrk (`apt-get install wrk`) and python3 with venv. Knobs: DURATION (10s),
# CONNECTIONS (16), THREADS (1), ROUNDS (5), ALERTS (20000), PORT (18765; the peer uses
# PORT+1), PEER (1; 0 skips the peer), DATABASE_URL (a PostgreSQL URL loads PostgreSQL
# instead; the peer then is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-5}
ALERTS=${ALERTS:-20000}
PORT=${PORT:-18765}
PEER=${PEER:-1}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p signal-sentinel-cli -p benches --bin invest --bin seed_alerts
work=$(mktemp -d)
export DATABASE_URL=${DATABASE_URL:-"sqlite://$work/load.db?mode=rwc"}
[[ $DATABASE_URL == sqlite:* ]] || PEER=0
export SECRET_KEY=load-test-secret-key-0123456789abcdef0123
export SIGNAL_SENTINEL_DATA_DIR=$work
export RATE_LIMIT_PER_MINUTE=1000000 AUTH_RATE_LIMIT_PER_MINUTE=1000 MAX_RULES_PER_USER=1000000
export LOG_LEVEL=${LOG_LEVEL:-warn}
target/release/invest serve --no-monitor --host 127.0.0.1 --port "$PORT" >"$work/server.log" 2>&1 &
server=$!
peer=
trap 'kill $server $peer 2>/dev/null; wait $server $peer 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs "$base/api/health" >/dev/null && break; sleep 0.1; done

email="load-$RANDOM@example.com"
curl -fs -X POST "$base/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"load-test-password\"}" >/dev/null
token=$(curl -fs -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"load-test-password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
key=$(curl -fs -X POST "$base/api/auth/api-keys" -H 'content-type: application/json' \
  -H "authorization: Bearer $token" -d '{"name":"load"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
target/release/seed_alerts "$email" "$ALERTS" >/dev/null
rows=$(curl -fs "$base/api/alerts?limit=50" -H "authorization: Bearer $token" | grep -o '"id":' | wc -l)
[ "$rows" -eq 50 ] || { echo "expected 50 alerts per page, got $rows" >&2; exit 1; }

if [ "$PEER" = 1 ]; then
  venv=target/fastapi-peer
  if ! "$venv/bin/python" -c 'import fastapi, uvicorn, sqlalchemy, jwt' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r benches/fastapi_peer/requirements.txt
  fi
  peer_base=http://127.0.0.1:$((PORT + 1))
  DATABASE_FILE=$work/load.db "$venv/bin/uvicorn" --app-dir benches/fastapi_peer app:app \
    --host 127.0.0.1 --port $((PORT + 1)) --workers 1 --log-level warning >"$work/peer.log" 2>&1 &
  peer=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "$peer_base/docs" && break; sleep 0.1; done
  page() { curl -fs "$1/api/alerts?limit=50" -H "authorization: Bearer $token"; }
  prows=$(page "$peer_base" | grep -o '"id":' | wc -l)
  [ "$prows" -eq 50 ] || { echo "the peer gave $prows alerts per page, not 50" >&2; cat "$work/peer.log" >&2; exit 1; }
  # The same page: the same alerts, down to the cursor of the next one.
  cursor() { page "$1" | grep -o '"next_cursor":"[^"]*"'; }
  rust_cursor=$(cursor "$base")
  [ -n "$rust_cursor" ] && [ "$rust_cursor" = "$(cursor "$peer_base")" ] ||
    { echo "the peer's page differs: $rust_cursor vs $(cursor "$peer_base")" >&2; exit 1; }
fi

cat >"$work/post_rule.lua" <<'LUA'
-- Each request adds a new rule: a level no other request used (a rule the same as one of the
-- user's is refused as a duplicate) on one of 676 two-letter symbols, so that, as for a real
-- user, a symbol holds a few rules (the duplicate check reads the user's rules on the symbol).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local threads = 0
function setup(thread)
  thread:set("first", threads * 10000000)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  local symbol = string.char(65 + n % 26, 65 + math.floor(n / 26) % 26)
  return wrk.format(nil, nil, nil, string.format('{"text":"%s crosses above %d"}', symbol, 100 + first + n))
end
LUA

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME PID wrk-args… : prints one line and leaves "rps cpu_us" in $work/last
run() {
  local name=$1 pid=$2; shift 2
  local before after out rps p99 errors requests cpu
  before=$(cpu_ticks "$pid")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  after=$(cpu_ticks "$pid")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(awk -v t=$((after - before)) -v hz="$ticks" -v n="$requests" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
  printf '%-40s %10s req/s   p99 %8s   CPU %6s µs/request%s\n' "$name" "$rps" "$p99" "$cpu" "${errors:+   non-2xx: $errors}"
  echo "$rps $cpu" >"$work/last"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "wrk: $THREADS thread(s), $CONNECTIONS connections, $DURATION per run, $ROUNDS rounds; $ALERTS alerts; database: ${DATABASE_URL%%:*}"
: >"$work/jwt"; : >"$work/key"; : >"$work/peer"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  run "  GET /api/alerts?limit=50 (JWT)" "$server" -H "Authorization: Bearer $token" "$base/api/alerts?limit=50"
  cat "$work/last" >>"$work/jwt"
  run "  GET /api/alerts?limit=50 (API key)" "$server" -H "X-API-Key: $key" "$base/api/alerts?limit=50"
  cat "$work/last" >>"$work/key"
  if [ "$PEER" = 1 ]; then
    run "  peer: FastAPI (JWT)" "$peer" -H "Authorization: Bearer $token" "$peer_base/api/alerts?limit=50"
    cat "$work/last" >>"$work/peer"
  fi
done

jwt_rps=$(cut -d' ' -f1 "$work/jwt" | median); jwt_cpu=$(cut -d' ' -f2 "$work/jwt" | median)
key_rps=$(cut -d' ' -f1 "$work/key" | median); key_cpu=$(cut -d' ' -f2 "$work/key" | median)
echo "medians of $ROUNDS rounds"
printf '  %-38s %10s req/s   CPU %6s µs/request\n' "JWT" "$jwt_rps" "$jwt_cpu" "API key" "$key_rps" "$key_cpu"
awk -v j="$jwt_rps" -v k="$key_rps" 'BEGIN {printf "  API key costs %.2fx the time of JWT (goal: at most 1.3x)\n", j / k}'
if [ "$PEER" = 1 ]; then
  peer_rps=$(cut -d' ' -f1 "$work/peer" | median); peer_cpu=$(cut -d' ' -f2 "$work/peer" | median)
  printf '  %-38s %10s req/s   CPU %6s µs/request\n' "peer: FastAPI" "$peer_rps" "$peer_cpu"
  awk -v j="$jwt_rps" -v k="$key_rps" -v p="$peer_rps" \
    'BEGIN {printf "  Rust / FastAPI: %.0fx with JWT, %.0fx with an API key (goal: at least 50x)\n", j / p, k / p}'
fi

TOKEN=$token run "POST /api/rules" "$server" -s "$work/post_rule.lua" "$base/api/rules"
run "GET /api/health" "$server" "$base/api/health"
