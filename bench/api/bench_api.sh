#!/usr/bin/env bash
# bench-api: the HTTP API under load, with a simulated plant of 200 machines running.
#   requests  wrk against the current-state view (/api/v1/machines: every machine's state, rule
#             and this shift's OEE), the OEE report (/api/v1/oee?by=machine) and the health
#             document, beside nginx serving the very bytes /api/v1/machines returned as a static
#             file (the most any HTTP server can do with that answer): requests/s, p99 latency,
#             and gemba's share of nginx's rate
#   stream    200 clients on /api/v1/stream at once: the events each got, whether they all got
#             the same, and gemba's CPU with and without them
#   board     the andon board's first paint in headless Chromium: from navigation start until
#             every machine's tile shows its state (bench/api/first_paint.mjs; needs the
#             playwright-core of a test build: build/asan/web/node_modules after `make asan`)
# Everything runs on this machine, on loopback ports taken free; peers are stopped at the end.
# usage: bench/api/bench_api.sh BUILD_DIR [SECONDS] [CONNECTIONS] [MACHINES]
set -euo pipefail
B=${1:?build dir}; SECS=${2:-10}; CONNS=${3:-64}; MACHINES=${4:-200}
G=$B/gemba
command -v wrk >/dev/null || { echo "bench-api: needs wrk (scripts/deps.sh --bench)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench-api: needs nginx (scripts/deps.sh --bench)" >&2; exit 1; }
T=$(mktemp -d /tmp/bench-api.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null; rm -rf "$T"' EXIT

clk=$(getconf CLK_TCK)
cpu_s() { awk -v t="$clk" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
wait_ready() { for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "not ready: $1" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# a plant of MACHINES simulated machines, ten to a line, with the demo's tags and rules
{
  echo "site: {name: bench, timezone: UTC}"
  echo "adapters: [{name: sim, type: sim, seed: 3}]"
  echo "state_rules: {default: ["
  echo "  {name: alarm, state: down, when: {all: [{tag: alarm, ne: \"\"}, {tag: execution, eq: STOPPED}]}},"
  echo "  {name: manual, state: setup, when: {tag: mode, eq: MANUAL}},"
  echo "  {name: cutting, state: running, when: {tag: execution, eq: ACTIVE}},"
  echo "  {name: waiting, state: idle, when: always}]}"
  echo "areas: [{name: hall, lines: ["
  for ((l = 0; l < MACHINES / 10; l++)); do
    printf '  {name: line%02d, machines: [\n' "$l"
    for ((m = 0; m < 10; m++)); do
      printf '    {name: m%02d%d, adapter: sim, ideal_cycle_time: %ds, counts: {total: part_count, good: good_count, scrap: scrap_count},\n' "$l" "$m" $((30 + m * 3))
      printf '     tags: [{name: execution, type: string}, {name: mode, type: string}, {name: alarm, type: string},\n'
      printf '            {name: part_count, type: int}, {name: good_count, type: int}, {name: scrap_count, type: int},\n'
      printf '            {name: spindle_load, type: float}, {name: temperature, type: float}]}%s\n' "$([ $m -lt 9 ] && echo ,)"
    done
    printf '  ]}%s\n' "$([ $l -lt $((MACHINES / 10 - 1)) ] && echo ,)"
  done
  echo "]}]"
} > "$T/plant.yaml"
"$G" check-config "$T/plant.yaml" >/dev/null
TOKEN=$("$G" token create --data "$T/data" --role viewer 2>/dev/null)
BENCH_PASSWORD=bench-$RANDOM-$RANDOM
echo "$BENCH_PASSWORD" | "$G" user add bench --role viewer --data "$T/data" >/dev/null 2>&1
AUTH="Authorization: Bearer $TOKEN"
"$G" serve --config "$T/plant.yaml" --data "$T/data" --listen 127.0.0.1:0 --ready-file "$T/ready" \
     --log-level warn 2>"$T/gemba.err" &
GP=$!
wait_ready "$T/ready"
URL=$(cat "$T/ready")
sleep 3 # every machine has states and counts by now

# nginx serving the same answer as a file
curl -s -H "$AUTH" "$URL/api/v1/machines" > "$T/machines.json"
NP=$(free_port)
mkdir -p "$T/www" "$T/ntmp"
chmod a+rx "$T" "$T/www" # nginx workers may run as another user
cp "$T/machines.json" "$T/www/machines.json"
chmod a+r "$T/www/machines.json"
cat > "$T/nginx.conf" <<EOF
worker_processes 2;
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $T/ntmp; proxy_temp_path $T/ntmp; fastcgi_temp_path $T/ntmp;
  uwsgi_temp_path $T/ntmp; scgi_temp_path $T/ntmp;
  types { application/json json; }
  server { listen 127.0.0.1:$NP; root $T/www; }
}
EOF
"$NGINX" -c "$T/nginx.conf" -p "$T"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$NP/machines.json" >/dev/null && break; sleep 0.05; done

run_wrk() { # URL -> "rps p99_ms" (gemba's URLs get the viewer token; nginx ignores it)
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "$AUTH" "$1" > "$T/wrk.out" 2>&1
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$T/wrk.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' "$T/wrk.out")
  grep -q "Non-2xx" "$T/wrk.out" && { echo "bench-api: $1 answered errors" >&2; cat "$T/wrk.out" >&2; exit 1; }
  echo "$rps $p99"
}

bytes=$(wc -c < "$T/machines.json")
read -r n_rps n_p99 < <(run_wrk "http://127.0.0.1:$NP/machines.json")
read -r m_rps m_p99 < <(run_wrk "$URL/api/v1/machines")
read -r o_rps o_p99 < <(run_wrk "$URL/api/v1/oee?by=machine")
read -r h_rps h_p99 < <(run_wrk "$URL/api/v1/health")

# 200 stream clients for SECS seconds
c0=$(cpu_s $GP); t0=$(date +%s.%N); sleep "$SECS"; c1=$(cpu_s $GP); t1=$(date +%s.%N)
idle_cpu=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
for i in $(seq 1 200); do curl -sN --max-time $((SECS + 2)) -H "$AUTH" "$URL/api/v1/stream" > "$T/s$i" 2>/dev/null & done
sleep 1
c0=$(cpu_s $GP); t0=$(date +%s.%N); sleep "$SECS"; c1=$(cpu_s $GP); t1=$(date +%s.%N)
stream_cpu=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
wait $(jobs -p | grep -v "^$GP$") 2>/dev/null || true
counts=$(for i in $(seq 1 200); do grep -c '^event: ' "$T/s$i" || true; done | sort -n)
cmin=$(head -1 <<<"$counts"); cmax=$(tail -1 <<<"$counts")
served=$(grep -cv '^0$' <<<"$counts" || true)
# the board's first paint, signed in as a viewer
NM=""
for d in "$B/web/node_modules" "$(dirname "$0")/../../build/asan/web/node_modules"; do
  [ -d "$d/playwright-core" ] && { NM=$(cd "$d" && pwd); break; }
done
paint=""
if [ -n "$NM" ] && [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  paint=$(URL="$URL" BENCH_USER=bench BENCH_PASSWORD="$BENCH_PASSWORD" N="$MACHINES" RUNS=5 \
          GB_NODE_MODULES="$NM" node "$(dirname "$0")/first_paint.mjs" 2>"$T/paint.err") \
    || { echo "bench-api: first paint failed:" >&2; grep -v '^ *at ' "$T/paint.err" | head -8 >&2; paint=""; }
fi
kill -TERM $GP; wait $GP || true

printf 'bench-api: %d simulated machines, wrk -t2 -c%d -d%ss on loopback\n\n' "$MACHINES" "$CONNS" "$SECS"
printf '%-44s %12s %10s %14s\n' "endpoint" "requests/s" "p99 ms" "vs nginx file"
printf '%-44s %12.0f %10.2f %14s\n' "nginx: the same $bytes bytes as a static file" "$n_rps" "$n_p99" "1.00"
printf '%-44s %12.0f %10.2f %14.2f\n' "gemba GET /api/v1/machines" "$m_rps" "$m_p99" "$(echo "$m_rps / $n_rps" | bc -l)"
printf '%-44s %12.0f %10.2f %14.2f\n' "gemba GET /api/v1/oee?by=machine" "$o_rps" "$o_p99" "$(echo "$o_rps / $n_rps" | bc -l)"
printf '%-44s %12.0f %10.2f %14.2f\n' "gemba GET /api/v1/health" "$h_rps" "$h_p99" "$(echo "$h_rps / $n_rps" | bc -l)"
printf '\n200 stream clients for %ss: %d got events, %s to %s events each; gemba CPU %.3f cores with them, %.3f without\n' \
  "$SECS" "$served" "$cmin" "$cmax" "$stream_cpu" "$idle_cpu"
if [ -n "$paint" ]; then
  printf 'board first paint, %d machines, headless Chromium 1920x1080: median %s ms, best %s ms (runs: %s)\n' \
    "$MACHINES" "$(jq .median <<<"$paint")" "$(jq .best <<<"$paint")" "$(jq -c .runs <<<"$paint" | tr -d '[]')"
else
  echo "board first paint: not measured (needs chromium and build/asan/web/node_modules: make asan)"
fi
