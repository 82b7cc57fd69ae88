#!/usr/bin/env bash
# Gatehouse vs nginx vs direct, in one run.
#
#   bench/run.sh                          # build gatehouse (release), run everything
#   DURATION=10 ROUNDS=3 bench/run.sh     # the defaults
#   SKIP_BUILD=1 bench/run.sh             # use the existing target/release/gatehouse
#   SETUPS="direct nginx" bench/run.sh    # subset (no gatehouse: no build, no gatehouse memory phase)
#   SETUPS="gatehouse gatehouse-auth" bench/run.sh   # authentication overhead (issue 3)
#   SETUPS="gatehouse gatehouse-rl-mem gatehouse-rl-redis" bench/run.sh   # rate-limit overhead (issue 4)
#   SETUPS="gatehouse-obs-off gatehouse-obs-metrics gatehouse-obs-on" bench/run.sh   # observability overhead (issue 6)
#   SETUPS="gatehouse-cache-hit nginx-cache-hit" bench/run.sh   # response cache hits vs nginx proxy_cache (issue 5)
#
# Setups, all against the same origin (a separate nginx, one worker, `return 200` with a 100-byte body):
#   direct     wrk → origin
#   gatehouse  wrk → gatehouse (no plugins, one route `prefix: /`, one upstream, 1 worker thread) → origin
#   nginx      wrk → nginx reverse proxy (1 worker, keep-alive upstream pool of 64) → origin
#   gatehouse-auth  the same gatehouse process, route `prefix: /auth` with `key_auth` (a consumer
#              from the config, key sent by wrk as `-H 'x-api-key: …'`) + `rbac` (any_of a role the
#              consumer has) → origin. Not in the default SETUPS; compared with `gatehouse`.
#   gatehouse-rl-mem    the same gatehouse process, route `prefix: /rl-mem` with `rate_limit` (one
#              limit of 1,000,000,000 per 1s — never refuses, so only the decision's cost is
#              measured — key [client_ip], backend memory) → origin.
#   gatehouse-rl-redis  the same, route `prefix: /rl-redis`, backend redis: every request is one
#              round trip to a redis-server the script starts (no persistence, core LOAD_CORE,
#              port BASE_PORT+5; `store: { redis: … }` is then in the config). Both rl setups are not
#              in the default SETUPS; compared with `gatehouse`. The redis-server runs for the whole
#              bench, also while the other setups are measured.
#   gatehouse-obs-off  a second gatehouse process (same settings, one route `prefix: /` → origin) with
#              `observability: { metrics: { enabled: false } }`: no request metrics, no access log, no
#              span export (trace-context propagation cannot be turned off and stays on).
#   gatehouse-obs-on   a third gatehouse process, everything on: request metrics, the JSON access log
#              to a file in the work dir, and tracing sampled at 100 % exported with OTLP/HTTP to a
#              receiver (a server block of the origin nginx answering 200 with an empty protobuf
#              body, port BASE_PORT+10).
#   gatehouse-obs-metrics  a fourth process: request metrics only (the default `observability:`).
#              The obs setups are not in the default SETUPS; compared with gatehouse-obs-off. Their
#              processes are started only for the throughput phase.
#
# Pinning (the machine this was written for has 2 cores): the proxy under test runs alone on core 1
# (`taskset -c 1`); wrk, the origin and the idle-connection client share core 0 (`taskset -c 0`).
# In the `direct` setup wrk and the origin therefore compete for one core. All of them run at nice
# NICE (-10 as root) so that other work on a shared machine disturbs them less.
#
# Each setup gets one warm-up run (WARMUP seconds, discarded); then the setups run in alternation,
# ROUNDS times: `wrk -t1 -cCONNECTIONS -dDURATIONs --latency`. Reported: medians of req/s, p50, p99,
# and the CPU time the process under test used (from /proc/PID/stat) per request.
#
# Memory: a fresh gatehouse (and, for comparison, a fresh nginx proxy) is started; its RSS (VmRSS)
# is read before any request, then bench/idle_conns.py opens IDLE_CONNS keep-alive connections, makes
# one request on each and keeps them open, and the RSS is read again; the CPU the server burns while
# merely holding those connections is measured over IDLE_HOLD seconds.
#
# Output: a markdown report on stdout and in bench/results/latest.md. Progress goes to stderr.
#
# Environment:
#   DURATION=10  ROUNDS=3  CONNECTIONS=50  WARMUP=2  IDLE_CONNS=10000  IDLE_HOLD=5  BASE_PORT=18080
#   SKIP_BUILD=0  SETUPS="direct gatehouse nginx" (also: gatehouse-auth gatehouse-rl-mem gatehouse-rl-redis)  KEEP_WORK=0 (keep the temp dir with configs/logs)
#   PROXY_CORE=1  LOAD_CORE=0  NICE=-10 (as root; 0 otherwise)
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
WARMUP=${WARMUP:-2}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-5}
BASE_PORT=${BASE_PORT:-18080}
SKIP_BUILD=${SKIP_BUILD:-0}
SETUPS=${SETUPS:-"direct gatehouse nginx"}
KEEP_WORK=${KEEP_WORK:-0}
PROXY_CORE=${PROXY_CORE:-1}
LOAD_CORE=${LOAD_CORE:-0}
# Every benchmark process runs at this nice level, so that other work on a shared machine (builds)
# disturbs it less. Negative values need root; the default is -10 as root, 0 otherwise.
if [[ $(id -u) == 0 ]]; then NICE=${NICE:--10}; else NICE=${NICE:-0}; fi

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
GATEHOUSE=$TARGET_DIR/release/gatehouse
RESULTS_DIR=$BENCH_DIR/results

ORIGIN_PORT=$((BASE_PORT + 1))
NGINX_PORT=$((BASE_PORT + 2))
GH_PORT=$((BASE_PORT + 3))
GH_ADMIN_PORT=$((BASE_PORT + 4))
REDIS_PORT=$((BASE_PORT + 5))
OBS_OFF_PORT=$((BASE_PORT + 6))
OBS_OFF_ADMIN_PORT=$((BASE_PORT + 7))
OBS_ON_PORT=$((BASE_PORT + 8))
OBS_ON_ADMIN_PORT=$((BASE_PORT + 9))
OTLP_PORT=$((BASE_PORT + 10))
OBS_METRICS_PORT=$((BASE_PORT + 11))
OBS_METRICS_ADMIN_PORT=$((BASE_PORT + 12))

# The origin's body: "ok" followed by 98 filler bytes = 100 bytes.
BODY="ok$(printf '%.0s-' {1..8})$(printf '%.0s0123456789' {1..9})"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

has_setup() { [[ " $SETUPS " == *" $1 "* ]]; }
# Whether a gatehouse process is needed (gatehouse, gatehouse-auth and gatehouse-rl-* share one).
needs_gatehouse() { has_setup gatehouse || has_setup gatehouse-auth || has_setup gatehouse-rl-mem || has_setup gatehouse-rl-redis || has_setup gatehouse-cache-hit; }
# Whether the binary is needed at all (the obs setups run their own gatehouse processes).
needs_build() { needs_gatehouse || has_setup gatehouse-obs-off || has_setup gatehouse-obs-metrics || has_setup gatehouse-obs-on; }

# gatehouse-auth: the API key wrk sends, and its SHA-256 as the config stores it.
BENCH_KEY=bench-key-2f6c1e0a9b
BENCH_KEY_SHA256=$(printf %s "$BENCH_KEY" | sha256sum | cut -c1-64)

# ---------------------------------------------------------------------------------------------
# Tools, limits, build

need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx)
command -v taskset >/dev/null 2>&1 || need_apt+=(util-linux)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if has_setup gatehouse-rl-redis; then
    command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
fi
if ((${#need_apt[@]})); then
    [[ $(id -u) == 0 ]] || die "missing ${need_apt[*]}; install them (apt-get install -y ${need_apt[*]})"
    log "installing ${need_apt[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)

# 10k idle connections need more than the usual 1024 descriptors (inherited by everything below).
if ! ulimit -n 65536 2>/dev/null; then
    hard=$(ulimit -Hn)
    ulimit -n "$hard"
    log "warning: the hard fd limit is $hard (cannot raise it to 65536); using $hard"
fi
((IDLE_CONNS + 1000 <= $(ulimit -n))) || die "IDLE_CONNS=$IDLE_CONNS needs more descriptors than ulimit -n = $(ulimit -n)"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

if needs_build; then
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building gatehouse (cargo build --release -p gatehouse)"
        (cd "$ROOT" && cargo build --release -p gatehouse >&2)
    fi
    [[ -x $GATEHOUSE ]] || die "$GATEHOUSE not found (build it, or drop gatehouse from SETUPS)"
fi

# ---------------------------------------------------------------------------------------------
# Process management

WORK=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
PIDS=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $KEEP_WORK == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop PID: terminate one process we started and forget it.
stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

# forget PID: drop PID from the processes the exit trap cleans up.
forget() {
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT PID LOGFILE: wait until PORT accepts connections, failing if PID dies.
wait_port() {
    local port=$1 pid=$2 logfile=$3
    for _ in $(seq 200); do
        port_open "$port" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$logfile" >&2 || true
            die "process $pid exited before listening on $port"
        fi
        sleep 0.05
    done
    cat "$logfile" >&2 || true
    die "nothing listening on $port after 10 s"
}

for port in "$ORIGIN_PORT" "$NGINX_PORT" "$GH_PORT" "$GH_ADMIN_PORT" "$REDIS_PORT" \
    "$OBS_OFF_PORT" "$OBS_OFF_ADMIN_PORT" "$OBS_ON_PORT" "$OBS_ON_ADMIN_PORT" "$OTLP_PORT" \
    "$OBS_METRICS_PORT" "$OBS_METRICS_ADMIN_PORT"; do
    port_open "$port" && die "port $port already in use (set BASE_PORT)"
done

# nginx_conf NAME WORKER_CONNECTIONS HTTP_BLOCK_BODY: write $WORK/NAME.conf (1 worker, no access log,
# its own temp dirs). worker_connections is sized to need: nginx preallocates (and touches) its
# connection table, which would otherwise inflate its idle RSS.
nginx_conf() {
    local name=$1 conns=$2 body=$3 user_line=""
    [[ $(id -u) == 0 ]] && user_line="user root;"
    mkdir -p "$WORK/$name"
    cat >"$WORK/$name.conf" <<EOF
$user_line
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
pid $WORK/$name/nginx.pid;
error_log $WORK/$name/error.log warn;
events { worker_connections $conns; }
http {
    access_log off;
    client_body_temp_path $WORK/$name/client_body;
    proxy_temp_path $WORK/$name/proxy;
    fastcgi_temp_path $WORK/$name/fastcgi;
    uwsgi_temp_path $WORK/$name/uwsgi;
    scgi_temp_path $WORK/$name/scgi;
    # nginx closes a client connection after 1000 requests by default; wrk would then reconnect.
    # Gatehouse has no such limit, so lift it everywhere to compare like with like.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
$body
}
EOF
}

# start_nginx NAME PORT CORE: start nginx on $WORK/NAME.conf pinned to CORE; sets NGINX_PID (master).
start_nginx() {
    local name=$1 port=$2 core=$3
    nice -n "$NICE" taskset -c "$core" "$NGINX_BIN" -p "$WORK/$name" -e "$WORK/$name/error.log" -c "$WORK/$name.conf" \
        >"$WORK/$name/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_port "$port" "$NGINX_PID" "$WORK/$name/error.log"
}

nginx_conf origin 4096 "
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        location / { default_type text/plain; return 200 \"$BODY\"; }
    }
    # OTLP/HTTP receiver for gatehouse-obs-on: 200 with an empty ExportTraceServiceResponse.
    server {
        listen 127.0.0.1:$OTLP_PORT;
        client_max_body_size 256m;
        location / { default_type application/x-protobuf; return 200 \"\"; }
    }"

# Setup nginx-cache-hit: the same upstream through proxy_cache (every request after the first is a
# hit), to compare with gatehouse-cache-hit. Only configured when selected.
NGX_CACHE_LOCATION="" NGX_CACHE_PATH=""
if has_setup nginx-cache-hit; then
    NGX_CACHE_LOCATION="
        location /cached/ {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_cache gh;
            proxy_cache_valid 200 1h;
            add_header X-Cache \$upstream_cache_status;
        }"
    NGX_CACHE_PATH="
    proxy_cache_path $WORK/proxy/cache keys_zone=gh:10m max_size=256m inactive=1h;"
fi

nginx_conf proxy $((IDLE_CONNS + 1024)) "
    upstream u {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
$NGX_CACHE_LOCATION
    }$NGX_CACHE_PATH"

# Rate-limit routes (setups gatehouse-rl-mem / gatehouse-rl-redis): a limit that never refuses.
GH_STORE="" GH_RL_ROUTES=""
RL_LIMIT='limits: [{ requests: 1000000000, per: 1s }], key: [client_ip]'
if has_setup gatehouse-rl-mem; then
    GH_RL_ROUTES+="
  - name: rl-mem
    match: { path: { prefix: /rl-mem } }
    upstream: origin
    plugins:
      - rate_limit: { $RL_LIMIT, backend: memory }"
fi
if has_setup gatehouse-rl-redis; then
    GH_STORE="store: { redis: { url: \"redis://127.0.0.1:$REDIS_PORT\" } }"
    GH_RL_ROUTES+="
  - name: rl-redis
    match: { path: { prefix: /rl-redis } }
    upstream: origin
    plugins:
      - rate_limit: { $RL_LIMIT, backend: redis }"
fi

# Response cache (setup gatehouse-cache-hit): every request after the first is a hit (the origin
# sends no freshness information, so force_ttl keeps the entry for the whole run).
if has_setup gatehouse-cache-hit; then
    GH_RL_ROUTES+="
  - name: cached
    match: { path: { prefix: /cached } }
    upstream: origin
    plugins:
      - cache: { force_ttl: 1h }"
fi

cat >"$WORK/gatehouse.yaml" <<EOF
# Generated by bench/run.sh: one route to the origin without plugins (setup gatehouse), one
# with key_auth + rbac (setup gatehouse-auth, path /auth) and, when selected, rate_limit routes
# (setups gatehouse-rl-mem / gatehouse-rl-redis, paths /rl-mem and /rl-redis).
server: { worker_threads: 1, watch: false }
$GH_STORE
listeners:
  - name: bench
    address: 127.0.0.1:$GH_PORT
    limits: { max_connections: 20000, max_connections_per_ip: 0 }
admin: { address: 127.0.0.1:$GH_ADMIN_PORT }
upstreams:
  origin:
    targets: ["127.0.0.1:$ORIGIN_PORT"]
consumers:
  - { id: bench, plan: pro, roles: [bench.read], api_keys: [{ sha256: "$BENCH_KEY_SHA256" }] }
routes:
  - name: auth
    match: { path: { prefix: /auth } }
    upstream: origin
    plugins:
      - key_auth: { header: x-api-key }
      - rbac: { any_of: [bench.read] }$GH_RL_ROUTES
  - name: all
    match: { path: { prefix: / } }
    upstream: origin
EOF

# start_gatehouse: start gatehouse pinned to PROXY_CORE; sets GH_PID.
start_gatehouse() {
    nice -n "$NICE" taskset -c "$PROXY_CORE" "$GATEHOUSE" run --config "$WORK/gatehouse.yaml" >"$WORK/gatehouse.log" 2>&1 &
    GH_PID=$!
    PIDS+=("$GH_PID")
    wait_port "$GH_ADMIN_PORT" "$GH_PID" "$WORK/gatehouse.log"
    wait_port "$GH_PORT" "$GH_PID" "$WORK/gatehouse.log"
}

# Observability setups (issue 6): the same gatehouse settings, one route, observability off / all on.
obs_config() {
    local name=$1 port=$2 admin=$3 observability=$4
    cat >"$WORK/$name.yaml" <<EOF
# Generated by bench/run.sh (setup $name).
server: { worker_threads: 1, watch: false }
listeners:
  - name: bench
    address: 127.0.0.1:$port
    limits: { max_connections: 20000, max_connections_per_ip: 0 }
admin: { address: 127.0.0.1:$admin }
upstreams:
  origin:
    targets: ["127.0.0.1:$ORIGIN_PORT"]
routes:
  - name: all
    match: { path: { prefix: / } }
    upstream: origin
$observability
EOF
}
obs_config gatehouse-obs-off "$OBS_OFF_PORT" "$OBS_OFF_ADMIN_PORT" "observability: { metrics: { enabled: false } }"
obs_config gatehouse-obs-metrics "$OBS_METRICS_PORT" "$OBS_METRICS_ADMIN_PORT" ""
obs_config gatehouse-obs-on "$OBS_ON_PORT" "$OBS_ON_ADMIN_PORT" "observability:
  metrics: { enabled: true }
  access_log: { destination: { file: $WORK/access.log } }
  tracing:
    sampler: { ratio: 1.0 }
    otlp: { endpoint: \"http://127.0.0.1:$OTLP_PORT\", protocol: http }
    batch: { max_queue: 65536, max_batch: 2048, delay: 100ms }"

# start_obs NAME PORT ADMIN_PORT: start gatehouse on $WORK/NAME.yaml pinned to PROXY_CORE; sets OBS_PID.
start_obs() {
    local name=$1 port=$2 admin=$3
    nice -n "$NICE" taskset -c "$PROXY_CORE" "$GATEHOUSE" run --config "$WORK/$name.yaml" >"$WORK/$name.log" 2>&1 &
    OBS_PID=$!
    PIDS+=("$OBS_PID")
    wait_port "$admin" "$OBS_PID" "$WORK/$name.log"
    wait_port "$port" "$OBS_PID" "$WORK/$name.log"
    got=$(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3; cat <&3)
    [[ $got == *"$BODY"* ]] || die "$name answered unexpectedly: $got"
}

# admin_get PORT PATH: the body of GET PATH on an admin listener.
admin_get() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1"; printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&3; cat <&3) | sed '1,/^\r$/d'
}

# Process ids whose CPU time and memory count for a server: nginx = master + workers.
server_pids() {
    local pid=$1
    echo "$pid"
    pgrep -P "$pid" 2>/dev/null || true
}

# rss_kib PID...: sum of VmRSS in KiB.
rss_kib() {
    local total=0 pid v
    for pid in "$@"; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# cpu_ticks PID...: utime + stime (all threads) in clock ticks.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------------------------------------
# Redis (setup gatehouse-rl-redis): no persistence, pinned to the load core like the other helpers.

if has_setup gatehouse-rl-redis; then
    log "starting redis-server (core $LOAD_CORE) on :$REDIS_PORT"
    mkdir -p "$WORK/redis"
    nice -n "$NICE" taskset -c "$LOAD_CORE" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
        --appendonly no --daemonize no --dir "$WORK/redis" --logfile "$WORK/redis/redis.log" \
        >"$WORK/redis/stdout.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_port "$REDIS_PORT" "$REDIS_PID" "$WORK/redis/redis.log"
    [[ $(redis-cli -p "$REDIS_PORT" ping) == PONG ]] || die "redis-server does not answer PING"
fi

# ---------------------------------------------------------------------------------------------
# Origin

log "starting the origin (nginx, 1 worker, core $LOAD_CORE) on :$ORIGIN_PORT"
start_nginx origin "$ORIGIN_PORT" "$LOAD_CORE"
ORIGIN_PID=$NGINX_PID
got=$(exec 3<>"/dev/tcp/127.0.0.1/$ORIGIN_PORT"; printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3)
[[ $got == *"$BODY"* ]] || die "origin answered unexpectedly: $got"

# ---------------------------------------------------------------------------------------------
# Memory: idle RSS, then with IDLE_CONNS idle keep-alive connections.

# mem_phase LABEL PORT PID...: sets MEM_OUT="idle_kib loaded_kib ok failed cpu_pct", cpu_pct being the CPU
# the server used while merely holding the idle connections (IDLE_HOLD seconds).
mem_phase() {
    local label=$1 port=$2
    shift 2
    local idle loaded out ok failed client c0 c1
    sleep 1
    idle=$(rss_kib "$@")
    log "$label: idle RSS $(mib "$idle") MiB; opening $IDLE_CONNS keep-alive connections"
    nice -n "$NICE" taskset -c "$LOAD_CORE" python3 "$BENCH_DIR/idle_conns.py" 127.0.0.1 "$port" "$IDLE_CONNS" \
        >"$WORK/idle-$label.out" 2>"$WORK/idle-$label.err" &
    client=$!
    PIDS+=("$client")
    for _ in $(seq 1200); do
        grep -q '^READY' "$WORK/idle-$label.out" && break
        kill -0 "$client" 2>/dev/null || { cat "$WORK/idle-$label.err" >&2; die "idle_conns.py failed"; }
        sleep 0.1
    done
    grep -q '^READY' "$WORK/idle-$label.out" || die "idle_conns.py not ready after 120 s"
    read -r _ ok failed <"$WORK/idle-$label.out"
    sleep 1
    loaded=$(rss_kib "$@")
    log "$label: RSS with $ok idle connections $(mib "$loaded") MiB ($failed failed)"
    c0=$(cpu_ticks "$@")
    sleep "$IDLE_HOLD"
    c1=$(cpu_ticks "$@")
    stop "$client"
    MEM_OUT="$idle $loaded $ok $failed $(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v t="$IDLE_HOLD" 'BEGIN { printf "%.1f", 100 * c / hz / t }')"
}

GH_MEM="" NGINX_MEM=""
if has_setup gatehouse; then
    log "memory phase: gatehouse"
    start_gatehouse
    mem_phase gatehouse "$GH_PORT" "$GH_PID"
    GH_MEM=$MEM_OUT
    stop "$GH_PID"
fi
if has_setup nginx; then
    log "memory phase: nginx proxy"
    start_nginx proxy "$NGINX_PORT" "$PROXY_CORE"
    # The worker only: the master holds no connections, and its pages are mostly shared with the worker.
    mapfile -t workers < <(pgrep -P "$NGINX_PID")
    mem_phase nginx "$NGINX_PORT" "${workers[@]}"
    NGINX_MEM=$MEM_OUT
    stop "$NGINX_PID"
fi

# ---------------------------------------------------------------------------------------------
# Throughput and latency

declare -A URL=(
    [direct]=http://127.0.0.1:$ORIGIN_PORT/
    [gatehouse]=http://127.0.0.1:$GH_PORT/
    [gatehouse-auth]=http://127.0.0.1:$GH_PORT/auth/
    [gatehouse-rl-mem]=http://127.0.0.1:$GH_PORT/rl-mem/
    [gatehouse-rl-redis]=http://127.0.0.1:$GH_PORT/rl-redis/
    [gatehouse-cache-hit]=http://127.0.0.1:$GH_PORT/cached/
    [nginx-cache-hit]=http://127.0.0.1:$NGINX_PORT/cached/
    [nginx]=http://127.0.0.1:$NGINX_PORT/
    [gatehouse-obs-off]=http://127.0.0.1:$OBS_OFF_PORT/
    [gatehouse-obs-on]=http://127.0.0.1:$OBS_ON_PORT/
    [gatehouse-obs-metrics]=http://127.0.0.1:$OBS_METRICS_PORT/
)
declare -A TARGET_PIDS
TARGET_PIDS[direct]="$(server_pids "$ORIGIN_PID" | tr '\n' ' ')"
read -r -a ORIGIN_PIDS <<<"${TARGET_PIDS[direct]}"
if needs_gatehouse; then
    log "starting gatehouse (1 worker thread, core $PROXY_CORE) on :$GH_PORT"
    start_gatehouse
    TARGET_PIDS[gatehouse]=$GH_PID
    TARGET_PIDS[gatehouse-auth]=$GH_PID
    TARGET_PIDS[gatehouse-rl-mem]=$GH_PID
    TARGET_PIDS[gatehouse-rl-redis]=$GH_PID
    TARGET_PIDS[gatehouse-cache-hit]=$GH_PID
    if has_setup gatehouse-cache-hit; then
        for _ in 1 2; do
            got=$(exec 3<>"/dev/tcp/127.0.0.1/$GH_PORT"; printf 'GET /cached/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3; cat <&3)
        done
        grep -qi '^x-cache: HIT' <<<"$got" || die "gatehouse (cache route) did not answer from its cache: $got"
    fi
    got=$(exec 3<>"/dev/tcp/127.0.0.1/$GH_PORT"; printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3; cat <&3)
    [[ $got == *"$BODY"* ]] || die "gatehouse answered unexpectedly: $got"
    got=$(exec 3<>"/dev/tcp/127.0.0.1/$GH_PORT"; printf 'GET /auth/ HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\nConnection: close\r\n\r\n' "$BENCH_KEY" >&3; cat <&3)
    [[ $got == *"$BODY"* ]] || die "gatehouse (key_auth route) answered unexpectedly: $got"
    got=$(exec 3<>"/dev/tcp/127.0.0.1/$GH_PORT"; printf 'GET /auth/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3; cat <&3)
    [[ $got == "HTTP/1.1 401"* ]] || die "gatehouse (key_auth route) without a key did not answer 401: $got"
    # The rate-limit routes must answer 200 and show that the plugin decided (its RateLimit headers).
    for s in gatehouse-rl-mem gatehouse-rl-redis; do
        has_setup "$s" || continue
        got=$(exec 3<>"/dev/tcp/127.0.0.1/$GH_PORT"; printf 'GET /%s/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "${s#gatehouse-}" >&3; cat <&3)
        [[ $got == "HTTP/1.1 200"* && $got == *"$BODY"* ]] || die "gatehouse ($s route) answered unexpectedly: $got"
        grep -qi '^ratelimit' <<<"$got" || die "gatehouse ($s route) answered without RateLimit headers: $got"
    done
    if has_setup gatehouse-rl-redis; then
        n=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'gatehouse:rl:*' | wc -l)
        ((n > 0)) || die "gatehouse (rl-redis route) wrote no counter to Redis"
        log "rl-redis: $n counter key(s) in Redis"
    fi
fi
for s in gatehouse-obs-off gatehouse-obs-metrics gatehouse-obs-on; do
    has_setup "$s" || continue
    case $s in
        gatehouse-obs-off) port=$OBS_OFF_PORT admin=$OBS_OFF_ADMIN_PORT ;;
        gatehouse-obs-metrics) port=$OBS_METRICS_PORT admin=$OBS_METRICS_ADMIN_PORT ;;
        *) port=$OBS_ON_PORT admin=$OBS_ON_ADMIN_PORT ;;
    esac
    log "starting $s (1 worker thread, core $PROXY_CORE) on :$port"
    start_obs "$s" "$port" "$admin"
    TARGET_PIDS[$s]=$OBS_PID
done
if has_setup gatehouse-obs-on; then
    # The first request's span must reach the receiver and its line the access log.
    # (Read whole before grep: `grep -q` closing the pipe early would fail it under pipefail.)
    for _ in $(seq 100); do
        m=$(admin_get "$OBS_ON_ADMIN_PORT" /metrics)
        grep -q '^gatehouse_trace_spans_exported_total [1-9]' <<<"$m" && break
        sleep 0.1
    done
    grep -q '^gatehouse_trace_spans_exported_total [1-9]' <<<"$m" ||
        die "gatehouse-obs-on exported no span: $(grep trace_spans <<<"$m")"
    [[ -s $WORK/access.log ]] || die "gatehouse-obs-on wrote no access log line"
fi
if has_setup nginx || has_setup nginx-cache-hit; then
    log "starting the nginx proxy (1 worker, core $PROXY_CORE) on :$NGINX_PORT"
    start_nginx proxy "$NGINX_PORT" "$PROXY_CORE"
    TARGET_PIDS[nginx]="$(server_pids "$NGINX_PID" | tr '\n' ' ')"
    TARGET_PIDS[nginx-cache-hit]=${TARGET_PIDS[nginx]}
fi

# to_ms VALUE: wrk's "123.45us" / "1.23ms" / "1.02s" → milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# core_busy CORE: busy clock ticks of one core so far (user nice system irq softirq steal).
core_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# run_wrk SETUP SECONDS: sets WRK_OUT="rps p50_ms p99_ms errors cpu_pct cpu_us_per_req other_proxy_core_pct
# other_load_core_pct". The last two estimate how busy each core was with work that is not the
# benchmark's own (other processes on the machine): core busy time minus the time of wrk, the origin
# and the proxy. Approximate: interrupt time spent on the benchmark's packets is counted as "other".
run_wrk() {
    local setup=$1 secs=$2 out t0 t1 c0 c1 o0 o1 p0 p1 l0 l1 rps p50 p99 errs reqs wrk_cpu wrk_pid
    local -a pids extra=()
    read -r -a pids <<<"${TARGET_PIDS[$setup]}"
    [[ $setup == gatehouse-auth ]] && extra=(-H "x-api-key: $BENCH_KEY")
    out=$WORK/wrk-$setup-$(date +%s%N).txt
    c0=$(cpu_ticks "${pids[@]}")
    o0=$(cpu_ticks "${ORIGIN_PIDS[@]}")
    p0=$(core_busy "$PROXY_CORE")
    l0=$(core_busy "$LOAD_CORE")
    t0=$(date +%s.%N)
    # wrk runs in the background and is waited for, so that a signal reaches the trap at once; its
    # CPU time comes from the children times (`times`, second line) before and after.
    times >"$out.t0"
    nice -n "$NICE" taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "${extra[@]}" "${URL[$setup]}" \
        >"$out" 2>&1 &
    wrk_pid=$!
    PIDS+=("$wrk_pid")
    wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed for $setup"; }
    forget "$wrk_pid"
    times >"$out.t1"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "${pids[@]}")
    o1=$(cpu_ticks "${ORIGIN_PIDS[@]}")
    p1=$(core_busy "$PROXY_CORE")
    l1=$(core_busy "$LOAD_CORE")
    wrk_cpu=$(cat "$out.t0" "$out.t1" | awk '
        function sec(v,  m) { m = v; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", v); sub(/s$/, "", v); return 60 * m + v }
        FNR == 2 || NR == 4 { t[NR] = sec($1) + sec($2) } END { print t[4] - t[2] }')
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    errs=$(awk '/Socket errors/ { gsub(/[^0-9 ]/, ""); s = 0; for (i = 1; i <= NF; i++) s += $i; print s }
                /Non-2xx or 3xx/ { print $NF }' "$out" | awk '{ s += $1 } END { print s + 0 }')
    [[ -n $rps && -n $reqs ]] || { cat "$out" >&2; die "cannot parse wrk output for $setup"; }
    # The proxy's own ticks (0 for direct: the server under test is then the origin, on the load core).
    local proxy_ticks=$((c1 - c0))
    [[ $setup == direct ]] && proxy_ticks=0
    WRK_OUT=$(awk -v rps="$rps" -v p50="$p50" -v p99="$p99" -v e="$errs" -v c="$((c1 - c0))" -v hz="$CLK_TCK" \
        -v t0="$t0" -v t1="$t1" -v n="$reqs" -v pb="$((p1 - p0))" -v lb="$((l1 - l0))" -v pt="$proxy_ticks" \
        -v ot="$((o1 - o0))" -v w="$wrk_cpu" 'BEGIN {
            wall = t1 - t0
            cpu = c / hz
            op = 100 * (pb - pt) / hz / wall; if (op < 0) op = 0; if (op > 100) op = 100
            ol = 100 * ((lb - ot) / hz - w) / wall; if (ol < 0) ol = 0; if (ol > 100) ol = 100
            printf "%s %s %s %d %.1f %.2f %.0f %.0f", rps, p50, p99, e, 100 * cpu / wall, (n > 0 ? 1e6 * cpu / n : 0), op, ol }')
}

ORDER=()
for s in direct gatehouse gatehouse-auth gatehouse-rl-mem gatehouse-rl-redis gatehouse-obs-off gatehouse-obs-metrics gatehouse-obs-on nginx gatehouse-cache-hit nginx-cache-hit; do has_setup "$s" && ORDER+=("$s"); done
((${#ORDER[@]})) || die "SETUPS selects nothing"

if ((WARMUP > 0)); then
    for s in "${ORDER[@]}"; do
        log "warm-up $s (${WARMUP}s)"
        run_wrk "$s" "$WARMUP"
    done
fi

declare -A RES
for r in $(seq "$ROUNDS"); do
    for s in "${ORDER[@]}"; do
        log "round $r/$ROUNDS: $s (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
        run_wrk "$s" "$DURATION"
        RES[$s,$r]=$WRK_OUT
        log "  → $(awk '{ printf "%s req/s, p50 %s ms, p99 %s ms, errors %s, CPU %s%%, %s µs CPU/req, other load %s%% / %s%%", $1, $2, $3, $4, $5, $6, $7, $8 }' <<<"${RES[$s,$r]}")"
        sleep 1
    done
done

OBS_AFTER=""
if has_setup gatehouse-obs-on; then
    sleep 1
    OBS_AFTER=$(admin_get "$OBS_ON_ADMIN_PORT" /metrics | grep -E '^gatehouse_(trace_spans_(exported|dropped)|access_log_(lines|dropped))_total' || true)
    OBS_AFTER+=$'\n'"access log: $(wc -l <"$WORK/access.log") lines, $(du -h "$WORK/access.log" | cut -f1)"
fi

GH_AFTER=""
if needs_gatehouse; then
    GH_AFTER="$(rss_kib "$GH_PID") $(awk '/^VmHWM:/ { print $2 }' "/proc/$GH_PID/status")"
fi

# median SETUP FIELD (1-based field of a run_wrk line) over the rounds.
median() {
    local s=$1 f=$2 r
    for r in $(seq "$ROUNDS"); do awk -v f="$f" '{ print $f }' <<<"${RES[$s,$r]}"; done | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.6g", m }'
}
declare -A MED
for s in "${ORDER[@]}"; do
    for f in 1 2 3 4 5 6 7 8; do MED[$s,$f]=$(median "$s" "$f"); done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ---------------------------------------------------------------------------------------------
# Report

REPORT=$WORK/report.md
{
    echo "## Gatehouse vs nginx vs direct — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "- $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'), $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')$(needs_gatehouse && echo ", gatehouse $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD -- crates Cargo.lock 2>/dev/null || echo '+uncommitted changes')")"
    echo "- \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\`, $ROUNDS rounds in alternation (${ORDER[*]}), ${WARMUP}s warm-up each; medians shown"
    echo "- load average before the run: $LOADAVG_START; after: $(cut -d' ' -f1-3 /proc/loadavg) (includes the bench itself)"
    echo "- pinning: proxy under test on core $PROXY_CORE; wrk + origin on core $LOAD_CORE (in \`direct\`, wrk and the origin share that core); all at nice $NICE"
    echo "- origin: nginx, 1 worker, \`return 200\` with a ${#BODY}-byte body; proxies: 1 worker / 1 worker thread"
    echo
    echo "| setup | req/s | p50 (ms) | p99 (ms) | errors | CPU of server under test | CPU µs / request | other load, core $PROXY_CORE / core $LOAD_CORE |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for s in "${ORDER[@]}"; do
        printf '| %s | %.0f | %.3f | %.3f | %d | %.0f%% | %.1f | %.0f%% / %.0f%% |\n' "$s" "${MED[$s,1]}" "${MED[$s,2]}" "${MED[$s,3]}" \
            "${MED[$s,4]}" "${MED[$s,5]}" "${MED[$s,6]}" "${MED[$s,7]}" "${MED[$s,8]}"
    done
    echo
    echo "\"Server under test\" = the origin for \`direct\`, the proxy otherwise. \"Other load\" = share of each core"
    echo "busy with anything but wrk, the origin and the proxy (other processes on the machine; approximate) —"
    echo "0% / 0% means a quiet machine; large values mean the figures are disturbed."
    echo
    echo "### Ratios (medians)"
    echo
    if has_setup gatehouse && has_setup nginx; then
        echo "- throughput gatehouse / nginx: **$(ratio "${MED[gatehouse,1]}" "${MED[nginx,1]}")**"
        echo "- p99 gatehouse / nginx: **$(ratio "${MED[gatehouse,3]}" "${MED[nginx,3]}")** (lower is better; ${MED[gatehouse,3]} ms vs ${MED[nginx,3]} ms)"
        echo "- p50 gatehouse / nginx: $(ratio "${MED[gatehouse,2]}" "${MED[nginx,2]}")"
        echo "- CPU per request gatehouse / nginx: $(ratio "${MED[gatehouse,6]}" "${MED[nginx,6]}") (lower is better)"
    fi
    if has_setup gatehouse-cache-hit && has_setup nginx-cache-hit; then
        echo "- cache hits, throughput gatehouse-cache-hit / nginx-cache-hit (proxy_cache): **$(ratio "${MED[gatehouse-cache-hit,1]}" "${MED[nginx-cache-hit,1]}")**"
        echo "- cache hits, p99 gatehouse-cache-hit / nginx-cache-hit: $(ratio "${MED[gatehouse-cache-hit,3]}" "${MED[nginx-cache-hit,3]}") (${MED[gatehouse-cache-hit,3]} ms vs ${MED[nginx-cache-hit,3]} ms)"
        echo "- cache hits, CPU per request gatehouse-cache-hit / nginx-cache-hit: $(ratio "${MED[gatehouse-cache-hit,6]}" "${MED[nginx-cache-hit,6]}") (${MED[gatehouse-cache-hit,6]} µs vs ${MED[nginx-cache-hit,6]} µs)"
    fi
    if has_setup gatehouse && has_setup direct; then
        echo "- throughput gatehouse / direct: **$(ratio "${MED[gatehouse,1]}" "${MED[direct,1]}")**"
    fi
    if has_setup gatehouse && has_setup gatehouse-auth; then
        echo "- throughput gatehouse-auth / gatehouse: **$(ratio "${MED[gatehouse-auth,1]}" "${MED[gatehouse,1]}")** (target ≥ 0.90)"
        echo "- p99 gatehouse-auth / gatehouse: $(ratio "${MED[gatehouse-auth,3]}" "${MED[gatehouse,3]}") (${MED[gatehouse-auth,3]} ms vs ${MED[gatehouse,3]} ms)"
        echo "- CPU per request gatehouse-auth / gatehouse: $(ratio "${MED[gatehouse-auth,6]}" "${MED[gatehouse,6]}") (${MED[gatehouse-auth,6]} µs vs ${MED[gatehouse,6]} µs)"
    fi
    for s in gatehouse-rl-mem gatehouse-rl-redis; do
        has_setup gatehouse && has_setup "$s" || continue
        target=0.95; [[ $s == gatehouse-rl-redis ]] && target=0.70
        echo "- throughput $s / gatehouse: **$(ratio "${MED[$s,1]}" "${MED[gatehouse,1]}")** (target ≥ $target)"
        echo "- p99 $s / gatehouse: $(ratio "${MED[$s,3]}" "${MED[gatehouse,3]}") (${MED[$s,3]} ms vs ${MED[gatehouse,3]} ms)"
        echo "- CPU per request $s / gatehouse: $(ratio "${MED[$s,6]}" "${MED[gatehouse,6]}") (${MED[$s,6]} µs vs ${MED[gatehouse,6]} µs; gatehouse only — Redis's own CPU is not counted)"
    done
    if has_setup gatehouse-obs-off && has_setup gatehouse-obs-metrics; then
        echo "- throughput gatehouse-obs-metrics / gatehouse-obs-off: **$(ratio "${MED[gatehouse-obs-metrics,1]}" "${MED[gatehouse-obs-off,1]}")**"
        echo "- CPU per request gatehouse-obs-metrics / gatehouse-obs-off: $(ratio "${MED[gatehouse-obs-metrics,6]}" "${MED[gatehouse-obs-off,6]}") (${MED[gatehouse-obs-metrics,6]} µs vs ${MED[gatehouse-obs-off,6]} µs)"
    fi
    if has_setup gatehouse-obs-off && has_setup gatehouse-obs-on; then
        echo "- throughput gatehouse-obs-on / gatehouse-obs-off: **$(ratio "${MED[gatehouse-obs-on,1]}" "${MED[gatehouse-obs-off,1]}")** (target ≥ 0.90)"
        echo "- p99 gatehouse-obs-on / gatehouse-obs-off: $(ratio "${MED[gatehouse-obs-on,3]}" "${MED[gatehouse-obs-off,3]}") (${MED[gatehouse-obs-on,3]} ms vs ${MED[gatehouse-obs-off,3]} ms)"
        echo "- CPU per request gatehouse-obs-on / gatehouse-obs-off: $(ratio "${MED[gatehouse-obs-on,6]}" "${MED[gatehouse-obs-off,6]}") (${MED[gatehouse-obs-on,6]} µs vs ${MED[gatehouse-obs-off,6]} µs)"
        echo "- gatehouse-obs-on after the run (spans exported/dropped, access-log lines written/dropped):"
        echo
        echo '```'
        echo "$OBS_AFTER"
        echo '```'
    fi
    if has_setup nginx && has_setup direct; then
        echo "- throughput nginx / direct: $(ratio "${MED[nginx,1]}" "${MED[direct,1]}")"
    fi
    echo
    if [[ -n $GH_MEM || -n $NGINX_MEM ]]; then
        echo "### Memory (RSS)"
        echo
        echo "| server | idle RSS (MiB) | RSS with idle keep-alive conns (MiB) | added (MiB) | added per conn (KiB) | conns open / failed | CPU while holding them |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for pair in "gatehouse:$GH_MEM" "nginx proxy (worker process):$NGINX_MEM"; do
            name=${pair%%:*} vals=${pair#*:}
            [[ -n $vals ]] || continue
            read -r idle loaded ok failed cpu <<<"$vals"
            awk -v n="$name" -v i="$idle" -v l="$loaded" -v ok="$ok" -v f="$failed" -v c="$cpu" 'BEGIN {
                printf "| %s | %.1f | %.1f | %.1f | %.2f | %d / %d | %s%% |\n", n, i / 1024, l / 1024, (l - i) / 1024, (ok > 0 ? (l - i) / ok : 0), ok, f, c }'
        done
        echo
        echo "Idle = fresh process, before any request. Then \`bench/idle_conns.py\` opens $IDLE_CONNS connections, makes one \`GET /\` on each and keeps them open; RSS is read 1 s later, CPU is measured over the next ${IDLE_HOLD} s."
        if [[ -n $GH_AFTER ]]; then
            read -r now hwm <<<"$GH_AFTER"
            echo "Gatehouse after the throughput rounds: RSS $(mib "$now") MiB, peak (VmHWM) $(mib "$hwm") MiB."
        fi
        echo
    fi
    echo "### Every round"
    echo
    echo "| round | setup | req/s | p50 (ms) | p99 (ms) | errors | server CPU | CPU µs / req | other load $PROXY_CORE / $LOAD_CORE |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    for r in $(seq "$ROUNDS"); do
        for s in "${ORDER[@]}"; do
            read -r a b c d e f g h <<<"${RES[$s,$r]}"
            printf '| %d | %s | %.0f | %.3f | %.3f | %d | %.0f%% | %.1f | %.0f%% / %.0f%% |\n' "$r" "$s" "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
        done
    done
} >"$REPORT"

mkdir -p "$RESULTS_DIR"
cp "$REPORT" "$RESULTS_DIR/latest.md"
cat "$REPORT"
log "report written to $RESULTS_DIR/latest.md"
