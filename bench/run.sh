#!/usr/bin/env bash
# Runs the HTTP benchmarks (bare Beast ceiling vs quanqu) with wrk on 127.0.0.1; writes bench/results/latest.{json,md}.
#
# Usage: bash bench/run.sh
# Environment (all optional):
#   BENCH_DURATION=10       seconds per measured run
#   BENCH_WARMUP=2          seconds of warm-up per scenario (not recorded)
#   BENCH_CONNECTIONS=64    wrk connections
#   BENCH_RUNS=3            measured runs per scenario; the median is reported
#   BENCH_WRK_THREADS=2     wrk threads
#   BENCH_SERVER_THREADS=2  threads of the ceiling and of quanqu
#   BENCH_CARTS=auto        carts created before each add-to-cart run; auto: enough that no
#                           cart line runs out of stock at the rate measured so far
#   BENCH_SKUS=4            SKUs (those with the most stock) rotated through in add-to-cart
#   BENCH_SERVER_ARGS=      extra arguments for quanqu serve, e.g. "--log-level warn"
#   BENCH_RATE_LIMIT=1000000:1000000  the --rate-limit-store/-admin/-open given to quanqu: 64
#                           connections from one address would exhaust the defaults (100:500 and
#                           less) at once; this keeps the limiter on the path (its cost is measured)
#                           without refusing anything. 0 switches it off.
#   BENCH_BUILD_DIR=build   build directory (configured with Ninja if it does not exist)
#   BENCH_CEILING_ONLY=1    measure only the ceiling
#   BENCH_TIMEOUTS_CEILING=0  skip the informational ceiling with strand + timeouts
#   BENCH_LIST_CEILING_BYTES=35611  body size of the informational list-size ceiling (the demo list reply)
#   BENCH_PLUGIN_ROUTE=1    measure the plugin boundary: GET /healthz (the smallest core route) and
#                           GET /v1/plugins/bench-ping/ping (a trivial plugin, bench/plugins/bench-ping,
#                           loaded from <build>/bench-plugins); 0 skips both scenarios
#   BENCH_ONLY=             space-separated scenario names to run (e.g. "healthz plugin_route
#                           plugin_route_process"); empty runs them all; the ceiling always runs
#   BENCH_QUIET_PCT=15      before each run, wait until the CPUs are at most this busy ...
#   BENCH_QUIET_WAIT=30     ... for at most this many seconds (0: do not wait)
# Runs are interleaved (round 1 of every scenario, then round 2, ...) so that background load
# on a shared machine hits the ceiling and quanqu alike; each run records how busy the CPUs
# were just before it started.
# Exit status: 0 when every scenario ran, 1 when quanqu could not be built, started or probed
# (the ceiling figures are still written), 2 for bad settings or missing tools.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build}
RESULTS="$BENCH/results"
RAW="$RESULTS/raw"
HOST=127.0.0.1  # load only ever targets loopback; deliberately not configurable

seconds() { local v=${1%s}; [[ $v =~ ^[0-9]+$ && $v -gt 0 ]] || { echo "bench: bad duration '$1'" >&2; exit 2; }; echo "$v"; }
count() { [[ $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || { echo "bench: bad count '$1'" >&2; exit 2; }; echo "$1"; }
DURATION=$(seconds "${BENCH_DURATION:-10}")
WARMUP=$(seconds "${BENCH_WARMUP:-2}")
CONNECTIONS=$(count "${BENCH_CONNECTIONS:-64}")
RUNS=$(count "${BENCH_RUNS:-3}")
WRK_THREADS=$(count "${BENCH_WRK_THREADS:-2}")
SERVER_THREADS=$(count "${BENCH_SERVER_THREADS:-2}")
CARTS=${BENCH_CARTS:-auto}
[[ $CARTS == auto ]] || CARTS=$(count "$CARTS")
read -r -a SERVER_ARGS <<<"${BENCH_SERVER_ARGS:-}"
RATE_LIMIT=${BENCH_RATE_LIMIT:-1000000:1000000}
RATE_ARGS=(--rate-limit-store "$RATE_LIMIT" --rate-limit-admin "$RATE_LIMIT" --rate-limit-open "$RATE_LIMIT")
SKUS=$(count "${BENCH_SKUS:-4}")
CEILING_ONLY=${BENCH_CEILING_ONLY:-0}
TIMEOUTS_CEILING=${BENCH_TIMEOUTS_CEILING:-1}
LIST_CEILING_BYTES=${BENCH_LIST_CEILING_BYTES:-35611}
PLUGIN_ROUTE=${BENCH_PLUGIN_ROUTE:-1}
QUIET_PCT=${BENCH_QUIET_PCT:-15}
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
[[ $QUIET_PCT =~ ^[0-9]+$ && $QUIET_WAIT =~ ^[0-9]+$ ]] || { echo "bench: bad BENCH_QUIET_PCT/BENCH_QUIET_WAIT" >&2; exit 2; }
[[ $PLUGIN_ROUTE == 0 || $PLUGIN_ROUTE == 1 ]] || { echo "bench: BENCH_PLUGIN_ROUTE must be 0 or 1" >&2; exit 2; }
((WRK_THREADS <= CONNECTIONS)) || { echo "bench: BENCH_WRK_THREADS > BENCH_CONNECTIONS" >&2; exit 2; }

for tool in wrk jq curl timeout cmake; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' is required" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/quanqu-bench.XXXXXX")
PIDS=()

# Stops every process this script started, by PID: TERM, then KILL after 5 s.
cleanup() {
  local pid deadline
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 5))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

log() { printf 'bench: %s\n' "$*" >&2; }
forget_pid() { local p keep=(); for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done; PIDS=("${keep[@]}"); }

ISSUES="$TMP/issues.jsonl"  # one JSON string per line: problems seen in the server
: >"$ISSUES"
issue() { log "ISSUE: $*"; jq -Rn --arg m "$*" '$m' >>"$ISSUES"; }

mkdir -p "$RAW"
rm -f "$RAW"/*

# ---- build ---------------------------------------------------------------------------------

SERVER_AVAILABLE=1
SERVER_REASON=""
if [[ $CEILING_ONLY == 1 ]]; then SERVER_AVAILABLE=0; SERVER_REASON="BENCH_CEILING_ONLY=1"; fi

if [[ ! -d $BUILD_DIR ]]; then
  log "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >"$RAW/configure.log" 2>&1 ||
    { log "configure failed, see $RAW/configure.log"; exit 1; }
fi
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[[ $BUILD_TYPE == Release || $BUILD_TYPE == RelWithDebInfo ]] ||
  log "warning: CMAKE_BUILD_TYPE is '$BUILD_TYPE'; figures from an unoptimised build mean little"

if ((SERVER_AVAILABLE)); then
  log "building quanqu in $BUILD_DIR"
  if ! cmake --build "$BUILD_DIR" --target quanqu >"$RAW/build.log" 2>&1; then
    SERVER_AVAILABLE=0
    SERVER_REASON="quanqu did not build in $BUILD_DIR: $(grep -m3 -E 'error|FAILED' "$RAW/build.log" | cut -c1-300 | tr '\n' ' ') (bench/results/raw/build.log)"
    log "$SERVER_REASON"
  fi
fi
CEILING_BIN="$BUILD_DIR/bench/quanqu_bench_ceiling"
if ! cmake --build "$BUILD_DIR" --target quanqu_bench_ceiling >>"$RAW/build.log" 2>&1; then
  # The main build was configured with QUANQU_BUILD_BENCH=OFF: build bench/ on its own, inside
  # the build directory, without touching the main build's cache.
  log "quanqu_bench_ceiling is not a target of $BUILD_DIR; building bench/ standalone"
  { cmake -S "$BENCH" -B "$BUILD_DIR/bench-standalone" -G Ninja &&
    cmake --build "$BUILD_DIR/bench-standalone" --target quanqu_bench_ceiling; } >>"$RAW/build.log" 2>&1 ||
    { log "the ceiling does not build, see $RAW/build.log"; exit 1; }
  CEILING_BIN="$BUILD_DIR/bench-standalone/quanqu_bench_ceiling"
fi
# The trivial plugin of the plugin_route scenario. It is a target only when bench/ is part of the
# main build (quanqu_add_plugin comes from sdk/); it builds into <build>/bench-plugins/bench-ping/,
# and <build>/bench-plugins becomes quanqu's --plugins-dir.
PLUGIN_ARGS=()
PLUGIN_SKIPPED=""
if ((SERVER_AVAILABLE)) && [[ $PLUGIN_ROUTE == 1 ]]; then
  if [[ $CEILING_BIN == */bench-standalone/* ]]; then
    PLUGIN_SKIPPED="bench/ is not part of the build in $BUILD_DIR (QUANQU_BUILD_BENCH=OFF), so the bench-ping plugin cannot be built; plugin_route skipped"
  elif ! cmake --build "$BUILD_DIR" --target quanqu_bench_ping_plugin >>"$RAW/build.log" 2>&1; then
    PLUGIN_SKIPPED="the bench-ping plugin did not build: $(grep -m3 -E 'error|FAILED' "$RAW/build.log" | cut -c1-300 | tr '\n' ' ') (bench/results/raw/build.log); plugin_route skipped"
  elif [[ ! -f $BUILD_DIR/bench-plugins/bench-ping/plugin.json ]]; then
    PLUGIN_SKIPPED="the bench-ping plugin built but $BUILD_DIR/bench-plugins/bench-ping/plugin.json is missing; plugin_route skipped"
  else
    PLUGIN_ARGS=(--plugins-dir "$BUILD_DIR/bench-plugins")
  fi
  [[ -z $PLUGIN_SKIPPED ]] || issue "$PLUGIN_SKIPPED"
fi
QUANQU_BIN="$BUILD_DIR/quanqu"
if ((SERVER_AVAILABLE)) && [[ ! -x $QUANQU_BIN ]]; then
  QUANQU_BIN=$(find "$BUILD_DIR" -name quanqu -type f -perm -u+x | head -1)
  [[ -n $QUANQU_BIN ]] || { SERVER_AVAILABLE=0; SERVER_REASON="no quanqu executable in $BUILD_DIR"; }
fi

# ---- processes -----------------------------------------------------------------------------

# start_server NAME CMD...: starts CMD in $TMP (so that nothing it writes lands in the tree)
# with stdout/stderr in $TMP/NAME.{stdout,stderr}.log, waits for its {"msg":"listening"} line,
# sets SERVER_PID and SERVER_PORT. Returns 1 on failure.
start_server() {
  local name=$1; shift
  local out="$TMP/$name.stdout.log" err="$TMP/$name.stderr.log" deadline line
  (cd "$TMP" && exec "$@") >"$out" 2>"$err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    line=$(jq -Rc 'fromjson? | select(type == "object" and .msg == "listening")' "$out" 2>/dev/null | head -1)
    if [[ -n $line ]]; then
      SERVER_PORT=$(jq -r '.port' <<<"$line")
      [[ $SERVER_PORT =~ ^[0-9]+$ && $SERVER_PORT -gt 0 ]] && return 0
      log "$name printed a listening line without a port: $line"
      return 1
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { log "$name exited before listening: $(tail -c 1000 "$out") $(tail -c 1000 "$err")"; return 1; }
    sleep 0.05
  done
  log "$name printed no listening line within 15 s (stdout not flushed?)"
  return 1
}

# stop_server NAME PID: TERM, wait up to 10 s, then KILL. Reports a crash or an unclean exit.
stop_server() {
  local name=$1 pid=$2 deadline status=0
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || status=$?
    issue "$name had already exited (status $status) before it was stopped; output tail: $(log_tail "$name")"
    forget_pid "$pid"
    return 0
  fi
  kill -TERM "$pid"
  deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    issue "$name did not stop within 10 s of SIGTERM; killed"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  ((status == 0 || status == 143)) || issue "$name exited with status $status after SIGTERM; output tail: $(log_tail "$name")"
  forget_pid "$pid"
}

# log_tail NAME: the end of a server's stderr, or of its stdout when stderr is empty.
log_tail() {
  if [[ -s $TMP/$1.stderr.log ]]; then tail -c 1500 "$TMP/$1.stderr.log"; else tail -c 1500 "$TMP/$1.stdout.log"; fi
}

# keep_log NAME: copies a server's logs to $RAW, trimmed (an access log can be very long).
keep_log() {
  local f
  for f in stdout stderr; do
    [[ -f $TMP/$1.$f.log ]] || continue
    if (($(wc -l <"$TMP/$1.$f.log") > 400)); then
      { head -n 200 "$TMP/$1.$f.log"; echo "... ($(wc -l <"$TMP/$1.$f.log") lines in all) ..."; tail -n 200 "$TMP/$1.$f.log"; } >"$RAW/$1.$f.log"
    else
      cp "$TMP/$1.$f.log" "$RAW/$1.$f.log"
    fi
  done
}

# peak_rss_kb PID: the process's peak resident set size, for the record.
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo null; }

# cpu_busy_pct: how busy all CPUs are over half a second (our servers are idle at that point).
cpu_busy_pct() {
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 0.5
  b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; total = busy + y[2] - x[2];
    printf "%d", (total > 0 ? 100 * busy / total + 0.5 : 0) }'
}

# wait_quiet: waits (at most QUIET_WAIT s) for other work on the machine to calm down; prints
# the last busy percentage.
wait_quiet() {
  local busy deadline=$((SECONDS + QUIET_WAIT))
  busy=$(cpu_busy_pct)
  while ((busy > QUIET_PCT && SECONDS < deadline)); do busy=$(cpu_busy_pct); done
  echo "$busy"
}

# ---- wrk -----------------------------------------------------------------------------------

# run_wrk OUT DURATION SCRIPT URL [wrk args...]: one bounded wrk run; its result line goes to
# OUT.json, its full output to OUT.txt.
run_wrk() {
  local out=$1 dur=$2 script=$3 url=$4; shift 4
  local pid status=0
  timeout --signal=INT --kill-after=5 $((dur + 30)) \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${dur}s" --latency -s "$script" "$@" "$url" \
    >"$out.txt" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || status=$?
  forget_pid "$pid"
  if ((status != 0)) || ! grep -q '^BENCH_RESULT ' "$out.txt"; then
    log "wrk failed (status $status): $(tail -c 800 "$out.txt")"
    return 1
  fi
  sed -n 's/^BENCH_RESULT //p' "$out.txt" | head -1 >"$out.json"
}

LUA_REPORT="$BENCH/lua/report.lua"
LUA_CART="$TMP/add_to_cart.lua"
cat "$BENCH/lua/add_to_cart.lua" "$BENCH/lua/report.lua" >"$LUA_CART"

# A scenario is registered with its description and a function `wrk_NAME OUT DURATION` that
# prepares fresh state if it needs any and calls run_wrk. SERVER_OF says whose process it loads.
NAMES=()
BENCH_ADMIN=""  # the admin key quanqu is started with
declare -A DESC METHOD PATH_OF SERVER_OF FAILED
# BENCH_ONLY (space-separated names) keeps only those scenarios; the ceiling is always measured.
ONLY=" ${BENCH_ONLY:-} "
register() {
  [[ $ONLY == "  " || $1 == ceiling || $ONLY == *" $1 "* ]] || return 0
  NAMES+=("$1"); DESC[$1]=$2; METHOD[$1]=$3; PATH_OF[$1]=$4; SERVER_OF[$1]=$5; FAILED[$1]=0
}

# ---- ceiling -------------------------------------------------------------------------------

log "starting the ceiling server ($SERVER_THREADS threads)"
start_server ceiling "$CEILING_BIN" --threads "$SERVER_THREADS" --port 0 ||
  { log "the ceiling server did not start"; exit 1; }
CEILING_PID=$SERVER_PID
CEILING_URL="http://$HOST:$SERVER_PORT/"
register ceiling "bare Beast server, constant 1 KB JSON" GET / ceiling
wrk_ceiling() { run_wrk "$1" "$2" "$LUA_REPORT" "$CEILING_URL"; }

# Informational: the same bare server with a body as large as the demo's product-list reply,
# so that the list can also be compared like for like (the 1 KB ceiling is what targets use).
start_server ceiling_list_size "$CEILING_BIN" --threads "$SERVER_THREADS" --port 0 --body-bytes "$LIST_CEILING_BYTES" ||
  { log "the list-size ceiling server did not start"; exit 1; }
CEILING_L_PID=$SERVER_PID
CEILING_L_URL="http://$HOST:$SERVER_PORT/"
register ceiling_list_size "informational: the ceiling with a $LIST_CEILING_BYTES-byte body (the size of the demo product list)" GET / ceiling_list_size
wrk_ceiling_list_size() { run_wrk "$1" "$2" "$LUA_REPORT" "$CEILING_L_URL"; }

if [[ $TIMEOUTS_CEILING == 1 ]]; then
  start_server ceiling_timeouts "$CEILING_BIN" --threads "$SERVER_THREADS" --port 0 --timeouts ||
    { log "the ceiling server (--timeouts) did not start"; exit 1; }
  CEILING_T_PID=$SERVER_PID
  CEILING_T_URL="http://$HOST:$SERVER_PORT/"
  register ceiling_timeouts "informational: the ceiling with a strand and tcp_stream timeouts per connection" GET / ceiling_timeouts
  wrk_ceiling_timeouts() { run_wrk "$1" "$2" "$LUA_REPORT" "$CEILING_T_URL"; }
fi

# ---- quanqu --------------------------------------------------------------------------------

QUANQU_PID=""
QUANQU_RSS=null
STARTUP_MS=null
DB_URL=null
PK=""
curl_store() {  # curl_store METHOD PATH [BODY]: prints "<status> <body>"
  local method=$1 path=$2 body=${3-} code
  local args=(-sS --max-time 10 -o "$TMP/curl.body" -w '%{http_code}' -X "$method"
              -H "X-Publishable-Key: $PK" "http://$HOST:$QUANQU_PORT$path")
  if [[ -n $body ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  : >"$TMP/curl.body"
  code=$(curl "${args[@]}" 2>"$TMP/curl.err") || code=000
  printf '%s %s' "$code" "$(cat "$TMP/curl.body" "$TMP/curl.err")"
}

# curl_anon PATH: GET without any key; prints "<status> <body>".
curl_anon() {
  local code
  : >"$TMP/curl.body"
  code=$(curl -sS --max-time 10 -o "$TMP/curl.body" -w '%{http_code}' "http://$HOST:$QUANQU_PORT$1" 2>"$TMP/curl.err") || code=000
  printf '%s %s' "$code" "$(cat "$TMP/curl.body" "$TMP/curl.err")"
}

# plugin_isolation MODE: runs bench-ping in MODE (process or in_process) and checks that it answers.
plugin_isolation() {
  local code
  code=$(curl -sS --max-time 10 -o "$TMP/curl.body" -w '%{http_code}' -X PATCH \
    -H "Authorization: Bearer $BENCH_ADMIN" -H 'Content-Type: application/json' \
    -d "{\"isolation\": \"$1\"}" "http://$HOST:$QUANQU_PORT/v1/admin/plugins/bench-ping" 2>"$TMP/curl.err") || code=000
  if [[ $code != 200 ]] || [[ $(jq -r .isolation "$TMP/curl.body" 2>/dev/null) != "$1" ]]; then
    issue "bench-ping could not be moved to isolation $1: $code $(cat "$TMP/curl.body" "$TMP/curl.err" | cut -c1-300)"
    return 1
  fi
  [[ $(curl_anon /v1/plugins/bench-ping/ping) == 200* ]]
}

# cache_lookups: the catalog cache's {"hit": n, "miss": n} from quanqu's /metrics.
cache_lookups() {
  curl -sS --max-time 10 "http://$HOST:$QUANQU_PORT/metrics" 2>/dev/null |
    awk -F'[{}" ]' '/^quanqu_catalog_cache_lookups_total/ {v[$3] = $NF} END {printf "{\"hit\":%d,\"miss\":%d}", v["hit"], v["miss"]}'
}

SKU_LIST=""
CART_CAPACITY=0   # adds one cart takes before any of its lines could run out of stock
CART_RATE=10000   # add-to-cart req/s assumed before the warm-up has measured it
CARTS_USED=0
# carts_for SECONDS: how many carts a run of that length needs so that every add can succeed.
carts_for() {
  if [[ $CARTS != auto ]]; then echo "$CARTS"; return; fi
  awk -v r="$CART_RATE" -v d="$1" -v cap="$CART_CAPACITY" -v min="$CONNECTIONS" \
    'BEGIN { n = int(2 * r * d / cap) + 1; if (n < min) n = min; print n }'
}

# make_carts N: creates N fresh carts (one curl, one connection) and exports them, with the
# SKUs, for add_to_cart.lua.
make_carts() {
  local n=$1 urls=() i ids got
  for ((i = 0; i < n; i++)); do urls+=("http://$HOST:$QUANQU_PORT/v1/store/carts"); done
  curl -sS --max-time 120 -X POST -H "X-Publishable-Key: $PK" -H 'Content-Type: application/json' \
    -d '{}' -w '\t%{http_code}\n' "${urls[@]}" >"$TMP/carts.out" 2>"$TMP/carts.err" || true
  ids=$(awk -F'\t' '$2 ~ /^2/ {print $1}' "$TMP/carts.out" | jq -r '.id // empty' 2>/dev/null | paste -sd, -)
  got=$(awk -F, 'NF {print NF}' <<<"$ids")
  if [[ ${got:-0} != "$n" ]]; then
    issue "creating $n carts with POST /v1/store/carts {} gave ${got:-0} ids; first other reply: $(awk -F'\t' '$2 !~ /^2/' "$TMP/carts.out" | head -1) $(head -c 300 "$TMP/carts.err")"
    return 1
  fi
  export BENCH_CART_IDS=$ids BENCH_SKU_LIST=$SKU_LIST BENCH_WRK_THREADS=$WRK_THREADS
  CARTS_USED=$n
}

# Starts quanqu, probes the store API and registers the store scenarios. Returns 1 (with
# SERVER_REASON set) when quanqu cannot be measured at all.
setup_quanqu() {
  local admin_key started_at keys reply code handle n min_avail
  admin_key="sk_bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  BENCH_ADMIN=$admin_key  # for plugin_isolation, which runs later
  DB_URL="sqlite:$TMP/bench.db"
  log "starting quanqu ($SERVER_THREADS threads, demo data, $DB_URL)"
  started_at=$(date +%s%N)
  if ! start_server quanqu "$QUANQU_BIN" serve --host "$HOST" --port 0 --demo --database "$DB_URL" \
    --threads "$SERVER_THREADS" --admin-key "$admin_key" "${PLUGIN_ARGS[@]}" "${RATE_ARGS[@]}" "${SERVER_ARGS[@]}"; then
    if grep -q 'database.unavailable' "$TMP/quanqu.stdout.log" "$TMP/quanqu.stderr.log" 2>/dev/null; then
      # Seen: an absolute sqlite path is refused while a relative one works. Measure anyway.
      issue "quanqu refused --database $DB_URL: $(grep -h 'database.unavailable' "$TMP/quanqu.stdout.log" "$TMP/quanqu.stderr.log" | head -1); retried with a path relative to the working directory"
      cp "$TMP/quanqu.stdout.log" "$RAW/quanqu.refused.stdout.log"
      forget_pid "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
      DB_URL="sqlite:bench.db"
      started_at=$(date +%s%N)
      start_server quanqu "$QUANQU_BIN" serve --host "$HOST" --port 0 --demo --database "$DB_URL" \
        --threads "$SERVER_THREADS" --admin-key "$admin_key" "${PLUGIN_ARGS[@]}" "${SERVER_ARGS[@]}" ||
        { SERVER_REASON="quanqu did not start: $(log_tail quanqu)"; issue "$SERVER_REASON"; return 1; }
    else
      SERVER_REASON="quanqu did not start: $(log_tail quanqu)"
      issue "$SERVER_REASON"
      return 1
    fi
  fi
  STARTUP_MS=$((($(date +%s%N) - started_at) / 1000000))
  QUANQU_PID=$SERVER_PID
  QUANQU_PORT=$SERVER_PORT
  keys=$(jq -Rc 'fromjson? | select(type == "object" and .msg == "demo keys")' "$TMP/quanqu.stdout.log" | head -1)
  PK=$(jq -r '.publishable_key // empty' <<<"${keys:-null}")
  if [[ -z $PK ]]; then
    SERVER_REASON='no {"msg":"demo keys"} line with a publishable_key on stdout'
    issue "$SERVER_REASON"
    return 1
  fi

  reply=$(curl_store GET '/v1/store/products?limit=20')
  code=${reply%% *}
  if [[ $code != 200 ]]; then
    SERVER_REASON="GET /v1/store/products?limit=20 answered $code"
    issue "$SERVER_REASON: ${reply#* }"
    return 1
  fi
  printf '%s' "${reply#* }" >"$RAW/products.json"
  n=$(jq '.items | length' "$RAW/products.json" 2>/dev/null || echo 0)
  ((n == 20)) || issue "GET /v1/store/products?limit=20 returned $n items, not 20"
  handle=$(jq -r '.items[0].handle // empty' "$RAW/products.json" 2>/dev/null || true)
  # The SKUs with the most stock on the first page (the cart refuses more than is available).
  SKU_LIST=$(jq -r --argjson n "$SKUS" '[.items[].variants[]? | select(.sku != null)]
    | sort_by(-(.available_quantity // 100)) | .[:$n] | map(.sku) | join(",")' "$RAW/products.json" 2>/dev/null || true)
  min_avail=$(jq -r --argjson n "$SKUS" '[.items[].variants[]? | select(.sku != null)]
    | sort_by(-(.available_quantity // 100)) | .[:$n] | map([.available_quantity // 100, 10000] | min) | min // 0' \
    "$RAW/products.json" 2>/dev/null || echo 0)
  CART_CAPACITY=$(( $(awk -F, '{print NF}' <<<"$SKU_LIST") * ${min_avail%.*} ))

  QUANQU_HDR=(-H "X-Publishable-Key: $PK")
  QUANQU_BASE="http://$HOST:$QUANQU_PORT"
  register product_list "GET a page of 20 products" GET '/v1/store/products?limit=20' quanqu
  wrk_product_list() { run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/v1/store/products?limit=20" "${QUANQU_HDR[@]}"; }

  # The same list gzipped (compressed once, when cached) and revalidated with its ETag (a 304).
  local headers etag gz_bytes
  headers=$(curl -sS --max-time 10 -o "$TMP/list.gz" -D - -H "X-Publishable-Key: $PK" -H 'Accept-Encoding: gzip' \
    "$QUANQU_BASE/v1/store/products?limit=20" 2>"$TMP/curl.err" | tr -d '\r') || true
  etag=$(awk 'tolower($1) == "etag:" {print $2}' <<<"$headers")
  gz_bytes=$(wc -c <"$TMP/list.gz")
  if ! grep -qi '^content-encoding: gzip' <<<"$headers"; then
    issue "GET /v1/store/products?limit=20 with Accept-Encoding: gzip was not gzipped; product_list_gzip skipped"
  else
    register product_list_gzip "GET a page of 20 products with Accept-Encoding: gzip ($gz_bytes bytes on the wire)" \
      GET '/v1/store/products?limit=20' quanqu
    wrk_product_list_gzip() {
      run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/v1/store/products?limit=20" "${QUANQU_HDR[@]}" -H 'Accept-Encoding: gzip'
    }
  fi
  # Revalidated as a browser does: Accept-Encoding: gzip and the ETag of the gzipped reply (each
  # coding has its own). wrk counts a 304 as a success, so the probe checks it is one.
  local revalidated=""
  [[ -n $etag ]] && revalidated=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "X-Publishable-Key: $PK" \
    -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag" "$QUANQU_BASE/v1/store/products?limit=20" 2>>"$TMP/curl.err")
  if [[ $revalidated != 304 ]]; then
    issue "GET /v1/store/products?limit=20 with If-None-Match: its ETag '$etag' was not a 304 ($revalidated); product_list_304 skipped"
  else
    LIST_ETAG=$etag
    register product_list_304 "GET a page of 20 products with Accept-Encoding: gzip and If-None-Match: its ETag (304, no body)" \
      GET '/v1/store/products?limit=20' quanqu
    wrk_product_list_304() {
      run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/v1/store/products?limit=20" "${QUANQU_HDR[@]}" \
        -H 'Accept-Encoding: gzip' -H "If-None-Match: $LIST_ETAG"
    }
  fi

  if [[ -z $handle ]]; then
    issue "the product list has no items[0].handle; product_by_handle skipped"
  else
    reply=$(curl_store GET "/v1/store/products/$handle")
    [[ ${reply%% *} == 200 ]] || issue "GET /v1/store/products/$handle answered ${reply%% *}: ${reply#* }"
    HANDLE=$handle
    register product_by_handle "GET one product by handle" GET "/v1/store/products/$handle" quanqu
    wrk_product_by_handle() { run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/v1/store/products/$HANDLE" "${QUANQU_HDR[@]}"; }

    # The same read while the stock of another product of the page changes as fast as one wrk
    # thread on 2 connections can write it (a stand-in for sales of other products): a stock
    # movement stales only the cached replies showing its variant, so the read stays cached.
    STOCK_SKU=$(jq -r --arg h "$handle" '[.items[] | select(.handle != $h) | .variants[]?.sku | select(. != null)] | last // empty' \
      "$RAW/products.json" 2>/dev/null || true)
    STOCK_LOCATION=$(curl -sS --max-time 10 -H "Authorization: Bearer $admin_key" "$QUANQU_BASE/v1/admin/stock-locations" 2>/dev/null |
      jq -r '.items[0].id // empty' 2>/dev/null || true)
    if [[ -z $STOCK_SKU || -z $STOCK_LOCATION ]]; then
      issue "no second SKU or no stock location for product_by_handle_during_stock_writes; skipped"
    else
      ADMIN_KEY=$admin_key
      register product_by_handle_during_stock_writes \
        "GET one product by handle while another product's stock is written back to back (PUT /v1/admin/inventory-levels, 1 wrk thread, 2 connections)" \
        GET "/v1/store/products/$handle" quanqu
      wrk_product_by_handle_during_stock_writes() {
        local out=$1 dur=$2 writer status=0 before after
        before=$(cache_lookups)
        BENCH_STOCK_SKU=$STOCK_SKU BENCH_STOCK_LOCATION=$STOCK_LOCATION BENCH_ADMIN_KEY=$ADMIN_KEY \
          timeout --signal=INT --kill-after=5 $((dur + 30)) wrk -t1 -c2 -d"${dur}s" -s "$BENCH/lua/stock_writes.lua" \
          "$QUANQU_BASE" >"$out.writes.txt" 2>&1 &
        writer=$!
        PIDS+=("$writer")
        run_wrk "$out" "$dur" "$LUA_REPORT" "$QUANQU_BASE/v1/store/products/$HANDLE" "${QUANQU_HDR[@]}" || status=1
        wait "$writer" || true
        forget_pid "$writer"
        ((status == 0)) || return 1
        after=$(cache_lookups)
        # Writes per second, and the share of the reads the cache answered while they ran.
        jq -c --argjson w "$(awk '/^Requests\/sec:/ {print $2; exit}' "$out.writes.txt" | grep -E '^[0-9.]+$' || echo null)" \
          --argjson b "$before" --argjson a "$after" \
          '. + {stock_writes_per_s: $w, cache_hit_ratio: (if ($a.hit + $a.miss - $b.hit - $b.miss) > 0
             then (($a.hit - $b.hit) / ($a.hit + $a.miss - $b.hit - $b.miss) * 10000 | round / 10000) else null end)}' \
          "$out.json" >"$out.json.tmp" && mv "$out.json.tmp" "$out.json"
      }
    fi
  fi

  # The plugin boundary: a trivial plugin route against the smallest core route. Neither needs a
  # key and none is sent (a publishable key would add a channel lookup to the plugin route only).
  if [[ $PLUGIN_ROUTE == 1 ]]; then
    reply=$(curl_anon /healthz)
    if [[ ${reply%% *} != 200 ]]; then
      issue "GET /healthz answered ${reply%% *}: ${reply#* }; healthz and plugin_route skipped"
    else
      register healthz "GET /healthz, the smallest core route ($(wc -c <"$TMP/curl.body")-byte JSON), no key" GET /healthz quanqu
      wrk_healthz() { run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/healthz"; }
      if ((${#PLUGIN_ARGS[@]})); then
        reply=$(curl_anon /v1/plugins/bench-ping/ping)
        if [[ ${reply%% *} != 200 ]] || ! jq -e . "$TMP/curl.body" >/dev/null 2>&1; then
          issue "GET /v1/plugins/bench-ping/ping answered ${reply%% *}: ${reply#* } (plugin log: $(grep -a '"plugin":"bench-ping"' "$TMP/quanqu.stdout.log" | head -2 | cut -c1-600)); plugin_route skipped"
        else
          # The same route in both isolation modes: each run first moves the plugin to its mode
          # (PATCH reloads it at once; a probe checks it answers), so rounds stay interleaved.
          register plugin_route "GET /v1/plugins/bench-ping/ping, a trivial plugin route ($(wc -c <"$TMP/curl.body")-byte fixed JSON, no kv or core call), no key, the plugin in process" \
            GET /v1/plugins/bench-ping/ping quanqu
          wrk_plugin_route() { plugin_isolation in_process && run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/v1/plugins/bench-ping/ping"; }
          register plugin_route_process "the same route with the plugin in its own runner process (isolation: process)" \
            GET /v1/plugins/bench-ping/ping quanqu
          wrk_plugin_route_process() { plugin_isolation process && run_wrk "$1" "$2" "$LUA_REPORT" "$QUANQU_BASE/v1/plugins/bench-ping/ping"; }
        fi
      fi
    fi
  fi

  if [[ -z $SKU_LIST || $CART_CAPACITY -le 0 ]]; then
    issue "no SKU with stock in the product list (items[].variants[].sku, available_quantity); add_to_cart skipped"
  elif make_carts 1; then
    # One probe first, so that a refusal is reported with its body.
    reply=$(curl_store POST "/v1/store/carts/${BENCH_CART_IDS%%,*}/items" "{\"sku\":\"${SKU_LIST%%,*}\",\"quantity\":1}")
    [[ ${reply%% *} == 2* ]] || issue "POST /v1/store/carts/<id>/items answered ${reply%% *}: ${reply#* }"
    register add_to_cart "POST quantity 1 to fresh carts, rotating over $(awk -F, '{print NF}' <<<"$SKU_LIST") SKUs" \
      POST '/v1/store/carts/{id}/items' quanqu
    wrk_add_to_cart() {
      make_carts "$(carts_for "$2")" || return 1
      run_wrk "$1" "$2" "$LUA_CART" "$QUANQU_BASE/" "${QUANQU_HDR[@]}" -H 'Content-Type: application/json' || return 1
      # Size the next run's carts from the fastest rate seen (the warm-up's replaces the guess).
      CART_RATE=$(jq -r --argjson prev "$CART_RATE" --argjson warm "$([[ $1 == *warmup ]] && echo 1 || echo 0)" \
        'if $warm == 1 then .rps else ([.rps, $prev] | max) end' "$1.json")
      jq -c --argjson c "$CARTS_USED" --arg skus "$SKU_LIST" '. + {carts: $c, skus: ($skus | split(","))}' "$1.json" >"$1.json.tmp"
      mv "$1.json.tmp" "$1.json"
    }
  fi
}

if ((SERVER_AVAILABLE)); then
  setup_quanqu || SERVER_AVAILABLE=0
fi

# ---- runs ----------------------------------------------------------------------------------

# alive NAME: is the server that NAME loads still running? Records a crash once.
declare -A PID_OF=([ceiling]=$CEILING_PID [ceiling_list_size]=$CEILING_L_PID [ceiling_timeouts]=${CEILING_T_PID:-} [quanqu]=$QUANQU_PID)
declare -A DEAD
alive() {
  local server=${SERVER_OF[$1]} status=0
  [[ -z ${DEAD[$server]:-} ]] || return 1
  kill -0 "${PID_OF[$server]}" 2>/dev/null && return 0
  wait "${PID_OF[$server]}" 2>/dev/null || status=$?
  forget_pid "${PID_OF[$server]}"
  DEAD[$server]=1
  issue "$server died during the benchmark (exit status $status$( ((status > 128)) && echo ", signal $((status - 128))")) before the '$1' run; output tail: $(log_tail "$server")"
  return 1
}

for name in "${NAMES[@]}"; do
  alive "$name" || { FAILED[$name]=1; continue; }
  log "$name: warm-up ${WARMUP}s"
  "wrk_$name" "$RAW/$name.warmup" "$WARMUP" || { FAILED[$name]=1; issue "$name: warm-up failed"; }
done

for ((round = 1; round <= RUNS; round++)); do
  for name in "${NAMES[@]}"; do
    ((FAILED[$name] == 0)) || continue
    alive "$name" || { FAILED[$name]=1; continue; }
    busy=$(wait_quiet)
    if ! "wrk_$name" "$RAW/$name.run$round" "$DURATION"; then
      FAILED[$name]=1
      issue "$name: run $round failed (see bench/results/raw/$name.run$round.txt)"
      continue
    fi
    jq -c --argjson busy "$busy" --argjson round "$round" '. + {round: $round, cpu_busy_before_pct: $busy}' \
      "$RAW/$name.run$round.json" >>"$TMP/$name.runs.jsonl"
    log "$name: run $round/$RUNS: $(jq -r '"\(.rps | floor) req/s, p99 \(.latency_us.p99) us, non-2xx \(.non_2xx_3xx)"' "$RAW/$name.run$round.json") (CPU $busy% busy before)"
  done
done

CEILING_RSS=$(peak_rss_kb "$CEILING_PID")
if [[ -n $QUANQU_PID && -z ${DEAD[quanqu]:-} ]]; then QUANQU_RSS=$(peak_rss_kb "$QUANQU_PID"); fi
if [[ -z ${DEAD[ceiling]:-} ]]; then stop_server ceiling "$CEILING_PID"; fi
if [[ -n ${CEILING_T_PID:-} && -z ${DEAD[ceiling_timeouts]:-} ]]; then stop_server ceiling_timeouts "$CEILING_T_PID"; fi
if [[ -n ${CEILING_L_PID:-} && -z ${DEAD[ceiling_list_size]:-} ]]; then stop_server ceiling_list_size "$CEILING_L_PID"; fi
if [[ -n $QUANQU_PID && -z ${DEAD[quanqu]:-} ]]; then stop_server quanqu "$QUANQU_PID"; fi
for server in ceiling ceiling_list_size ceiling_timeouts quanqu; do keep_log "$server"; done

# What quanqu itself logged: warnings and errors, and the non-2xx answers of its access log.
QUANQU_LOG="$TMP/quanqu.stdout.log"
if [[ -n $QUANQU_PID && -f $QUANQU_LOG ]]; then
  grep -a '"level":"\(warn\|error\|fatal\|critical\)"' "$QUANQU_LOG" | grep -av '"msg":"request"' |
    jq -Rr 'fromjson? | "\(.level) \(.msg // "")\(if .code then " code=\(.code)" else "" end)\(if .detail then " detail=\(.detail)" else "" end)"' |
    sort | uniq -c | sort -rn | head -10 |
    while IFS= read -r line; do issue "quanqu logged: $line"; done || true
  grep -a '"msg":"request"' "$QUANQU_LOG" | grep -av '"status":\(2[0-9][0-9]\|304\)[,}]' |
    jq -Rr 'fromjson? | "\(.method) \(.route // .path) -> \(.status)"' | sort | uniq -c | sort -rn | head -10 |
    while IFS= read -r line; do issue "quanqu access log, non-2xx: $line"; done || true
  grep -ahv '^{' "$QUANQU_LOG" "$TMP/quanqu.stderr.log" 2>/dev/null | grep -aiE 'error|exception|assert|abort|sanitizer' | head -5 |
    while IFS= read -r line; do issue "quanqu output: ${line:0:400}"; done || true
  ACCESS_LINES=$(grep -ac '"msg":"request"' "$QUANQU_LOG" || true)
fi

# ---- results -------------------------------------------------------------------------------

SCENARIOS="$TMP/scenarios.jsonl"
: >"$SCENARIOS"
for name in "${NAMES[@]}"; do
  [[ -s $TMP/$name.runs.jsonl ]] || continue
  warmup_json="$RAW/$name.warmup.json"
  [[ -s $warmup_json ]] || echo '{"non_2xx_3xx": null}' >"$warmup_json"
  jq -s --arg name "$name" --arg desc "${DESC[$name]}" --arg method "${METHOD[$name]}" \
    --arg path "${PATH_OF[$name]}" --argjson complete "$((FAILED[$name] == 0))" \
    --slurpfile warmup "$warmup_json" '
    def median: sort | if length == 0 then null
      elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    {name: $name, description: $desc, method: $method, path: $path, complete: ($complete == 1),
     median_rps: (map(.rps) | median),
     median_2xx_rps: (map(.rps * (1 - .non_2xx_3xx / ([.requests, 1] | max))) | median),
     latency_ms: {p50: (map(.latency_us.p50) | median / 1000),
                  p90: (map(.latency_us.p90) | median / 1000),
                  p99: (map(.latency_us.p99) | median / 1000),
                  max: (map(.latency_us.max) | max / 1000)},
     requests: (map(.requests) | add),
     non_2xx: (map(.non_2xx_3xx) | add),
     warmup_non_2xx: $warmup[0].non_2xx_3xx,
     socket_errors: (map(.socket_errors | .connect + .read + .write + .timeout) | add),
     statuses: (reduce (.[].statuses | to_entries[]) as $e ({}; .[$e.key] += $e.value)),
     first_error_body: (map(.first_error_body) | map(select(. != null)) | first),
     max_cpu_busy_before_pct: (map(.cpu_busy_before_pct) | max),
     runs: .}
    # Scenario extras (product_by_handle_during_stock_writes): their medians.
    + (if any(.[]; has("stock_writes_per_s")) then
         {median_stock_writes_per_s: (map(.stock_writes_per_s | select(. != null)) | median),
          median_cache_hit_ratio: (map(.cache_hit_ratio | select(. != null)) | median)}
       else {} end)' "$TMP/$name.runs.jsonl" >>"$SCENARIOS"
done

for name in "${NAMES[@]}"; do
  [[ $name == ceiling* ]] && continue
  if jq -e --arg n "$name" 'select(.name == $n and (.non_2xx > 0 or (.warmup_non_2xx // 0) > 0))' "$SCENARIOS" >/dev/null; then
    issue "$name: $(jq -r --arg n "$name" 'select(.name == $n) | "\(.non_2xx) non-2xx responses of \(.requests) in the measured runs (\(.warmup_non_2xx) in the warm-up); statuses \(.statuses | tostring); first error body: \(.first_error_body // "(not captured for this scenario)")"' "$SCENARIOS")"
  fi
  if jq -e --arg n "$name" 'select(.name == $n and .socket_errors > 0)' "$SCENARIOS" >/dev/null; then
    issue "$name: $(jq -r --arg n "$name" 'select(.name == $n) | "\(.socket_errors) socket errors; [connect, read, write, timeout] per run: \([.runs[].socket_errors | [.connect, .read, .write, .timeout]] | tostring)"' "$SCENARIOS")"
  fi
done

GIT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
jq -s \
  --arg generated "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg commit "$GIT_COMMIT" \
  --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
  --argjson cpus "$(nproc)" \
  --arg kernel "$(uname -r)" \
  --arg wrk "$(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')" \
  --arg build_type "$BUILD_TYPE" \
  --argjson available "$SERVER_AVAILABLE" --arg reason "$SERVER_REASON" \
  --argjson startup_ms "$STARTUP_MS" --arg db "$DB_URL" --arg server_args "${BENCH_SERVER_ARGS:-}" \
  --argjson access_lines "${ACCESS_LINES:-null}" \
  --argjson ceiling_rss "${CEILING_RSS:-null}" --argjson quanqu_rss "${QUANQU_RSS:-null}" \
  --argjson duration "$DURATION" --argjson warmup "$WARMUP" --argjson conns "$CONNECTIONS" \
  --argjson runs "$RUNS" --argjson wrk_threads "$WRK_THREADS" --argjson server_threads "$SERVER_THREADS" \
  --slurpfile issues "$ISSUES" '
  (map(select(.name == "ceiling")) | first | .median_rps) as $ceiling
  | {generated_at: $generated, git_commit: $commit,
     machine: {cpus: $cpus, cpu_model: $cpu, kernel: $kernel, wrk: $wrk, build_type: $build_type,
               note: "wrk and the servers share the same cores; compare ratios, not absolute figures"},
     config: {duration_s: $duration, warmup_s: $warmup, connections: $conns, runs: $runs,
              wrk_threads: $wrk_threads, server_threads: $server_threads, host: "127.0.0.1",
              order: "interleaved rounds"},
     server: {measured: ($available == 1), reason: (if $available == 1 then null else $reason end),
              database: $db, extra_args: $server_args, access_log_lines: $access_lines,
              startup_to_listening_ms: $startup_ms, peak_rss_kb: $quanqu_rss},
     ceiling_peak_rss_kb: $ceiling_rss,
     scenarios: map(. + {ratio_to_ceiling: (if $ceiling > 0 then (.median_rps / $ceiling * 1000 | round / 1000) else null end)}),
     plugin_boundary: ((map(select(.name == "plugin_route")) | first) as $p
       | (map(select(.name == "healthz")) | first) as $h
       | if $p == null then null else
         {plugin_route_rps: $p.median_rps, healthz_rps: ($h.median_rps // null),
          ratio_to_ceiling: (if ($ceiling // 0) > 0 then ($p.median_rps / $ceiling * 1000 | round / 1000) else null end),
          ratio_to_healthz: (if ($h.median_rps // 0) > 0 then ($p.median_rps / $h.median_rps * 1000 | round / 1000) else null end),
          p99_ms: {plugin_route: $p.latency_ms.p99, healthz: ($h.latency_ms.p99 // null)}}
         end),
     isolation: ((map(select(.name == "plugin_route")) | first) as $in
       | (map(select(.name == "plugin_route_process")) | first) as $out
       | if $in == null or $out == null then null else
         {in_process_rps: $in.median_rps, process_rps: $out.median_rps,
          in_process_per_process: (if ($out.median_rps // 0) > 0 then ($in.median_rps / $out.median_rps * 1000 | round / 1000) else null end),
          within_3x: (($out.median_rps // 0) * 3 >= $in.median_rps),
          p99_ms: {in_process: $in.latency_ms.p99, process: $out.latency_ms.p99}}
         end),
     targets: ((map(select(.name == "product_list")) | first) as $pl
       | if $pl == null or $ceiling == null then null else
         {product_list_ratio_at_least_0_5: ($pl.median_rps / $ceiling >= 0.5),
          catalog_p99_under_10ms: ([.[] | select(.name == "product_list" or .name == "product_by_handle") | .latency_ms.p99 < 10] | all)}
         end),
     issues: $issues}' "$SCENARIOS" >"$RESULTS/latest.json"

jq -r '
  def n: if . == null then "-" else tostring end;
  def rps: if . == null then "-" else (. | round | tostring) end;
  def ms: if . == null then "-" else ((. * 100 | round) / 100 | tostring) + " ms" end;
  "# Benchmark results\n",
  "Generated \(.generated_at) at commit \(.git_commit) on \(.machine.cpus) × \(.machine.cpu_model) (\(.machine.kernel)), \(.machine.wrk), \(.machine.build_type) build.",
  "wrk \(.config.wrk_threads) threads, \(.config.connections) connections, \(.config.warmup_s) s warm-up then \(.config.runs) interleaved rounds of \(.config.duration_s) s per scenario (median reported); servers on \(.config.server_threads) threads, 127.0.0.1.",
  "wrk and the servers share the same cores: the ratio to the ceiling is the figure that matters.\n",
  "| scenario | median req/s | p50 | p90 | p99 | non-2xx | socket errors | ratio to ceiling |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  (.scenarios[] | "| \(.name)\(if .complete then "" else " (incomplete)" end) | \(.median_rps | rps) | \(.latency_ms.p50 | ms) | \(.latency_ms.p90 | ms) | \(.latency_ms.p99 | ms) | \(.non_2xx) of \(.requests) | \(.socket_errors) | \(.ratio_to_ceiling | n) |"),
  "",
  (.scenarios[] | select(.median_stock_writes_per_s != null) |
     "\(.name): \(.median_stock_writes_per_s) stock writes/s alongside; the catalog cache answered \(.median_cache_hit_ratio * 100)% of the reads.\n"),
  (if ([.scenarios[].max_cpu_busy_before_pct] | max // 0) > 15 then
     "Warning: the CPUs were up to \([.scenarios[].max_cpu_busy_before_pct] | max)% busy with other work just before a run; figures are disturbed.\n"
   else empty end),
  (if .server.measured then
     "quanqu: listening \(.server.startup_to_listening_ms | n) ms after start (demo data, SQLite); peak RSS \(.server.peak_rss_kb | n) kB (ceiling \(.ceiling_peak_rss_kb | n) kB)."
   else "quanqu was not measured: \(.server.reason)." end),
  (if .plugin_boundary then
     "\nPlugin boundary: plugin_route at \(.plugin_boundary.ratio_to_healthz | n) of healthz (\(.plugin_boundary.plugin_route_rps | rps) vs \(.plugin_boundary.healthz_rps | rps) req/s) and \(.plugin_boundary.ratio_to_ceiling | n) of the ceiling; p99 \(.plugin_boundary.p99_ms.plugin_route | ms) vs \(.plugin_boundary.p99_ms.healthz | ms)."
   else empty end),
  (if .isolation then
     "\nIsolation: the plugin route in process answers \(.isolation.in_process_per_process | n)× the rate of the same route out of process (\(.isolation.in_process_rps | rps) vs \(.isolation.process_rps | rps) req/s; target within 3×: \(if .isolation.within_3x then "met" else "NOT met" end)); p99 \(.isolation.p99_ms.in_process | ms) vs \(.isolation.p99_ms.process | ms)."
   else empty end),
  (if .targets then
     "\nTargets: product list ≥ 0.5 × ceiling: \(if .targets.product_list_ratio_at_least_0_5 then "met" else "NOT met" end); catalog p99 < 10 ms: \(if .targets.catalog_p99_under_10ms then "met" else "NOT met" end)."
   else empty end),
  (if (.issues | length) > 0 then "\n## Issues seen\n", (.issues[] | "- \(.)") else empty end)
' "$RESULTS/latest.json" >"$RESULTS/latest.md"

log "wrote $RESULTS/latest.json and $RESULTS/latest.md"
cat "$RESULTS/latest.md"
if ((SERVER_AVAILABLE == 0)); then log "quanqu was not measured: $SERVER_REASON"; exit 1; fi
exit 0
