#!/usr/bin/env bash
# bench-connect: how fast gemba takes data from machines, end to end into its store.
#   modbus  gemba polls a local libmodbus server (tests/support/modbus_server.c) holding TAGS
#           registers every INTERVAL: points/s received, and gemba's CPU per 100,000 points/s
#   shdr    gemba replay-shdr serves a generated SHDR log as fast as it is read: lines/s and
#           samples/s from the socket into the store
# Both run on this machine, loopback only. Neuron (EMQ's C gateway) publishes 100,000 points/s at
# 30 % of four cores, i.e. 1.2 cores per 100k points/s; that is its published figure, printed for
# reference -- it is not packaged in Debian, so it is not measured here.
# usage: bench/connect/bench_connect.sh BUILD_DIR [TAGS] [INTERVAL] [SECONDS]
set -euo pipefail
B=${1:?build dir}; TAGS=${2:-10000}; INTERVAL=${3:-100ms}; SECS=${4:-10}
G=$B/gemba; S=$B/gb_modbus_server
T=$(mktemp -d /tmp/bench-connect.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
cmake --build "$B" --target gb_modbus_server >/dev/null

clk=$(getconf CLK_TCK)
cpu_s() { awk -v t="$clk" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
health() { curl -s "$(cat "$T/ready")/api/v1/health"; }
wait_ready() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "not ready: $1" >&2; exit 1; }

# --- modbus ------------------------------------------------------------------------------------
"$S" --port 0 --ready-file "$T/mb.ready" --registers $((TAGS + 200)) --quiet 2>/dev/null &
SP=$!
wait_ready "$T/mb.ready"
{
  echo "site: {name: bench, timezone: UTC}"
  echo "adapters: [{name: plc, type: modbus-tcp, host: 127.0.0.1, port: $(cat "$T/mb.ready"), interval: $INTERVAL, timeout: 2s}]"
  echo "areas: [{name: a, lines: [{name: l, machines: ["
  per=1000; m=0
  for ((i = 0; i < TAGS; i += per)); do
    printf '  {name: m%d, adapter: plc, tags: [' "$m"
    for ((k = i; k < i + per && k < TAGS; k++)); do printf '{name: r%d, type: int, address: "hr:%d"},' "$k" $((k + 200)); done
    printf ']},\n'; m=$((m + 1))
  done
  echo "]}]}]"
} > "$T/mb.yaml"
"$G" serve --config "$T/mb.yaml" --data "$T/d1" --listen 127.0.0.1:0 --ready-file "$T/ready" --log-level warn 2>"$T/mb.err" &
GP=$!
wait_ready "$T/ready"
sleep 2
s0=$(health | jq '.adapters[0].samples'); c0=$(cpu_s $GP); sc0=$(cpu_s $SP); t0=$(date +%s.%N)
sleep "$SECS"
s1=$(health | jq '.adapters[0].samples'); c1=$(cpu_s $GP); sc1=$(cpu_s $SP); t1=$(date +%s.%N)
kill -TERM $GP; wait $GP || true
kill -TERM $SP; wait $SP || true
mb_rate=$(echo "($s1 - $s0) / ($t1 - $t0)" | bc -l)
mb_cpu=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
srv_cpu=$(echo "($sc1 - $sc0) / ($t1 - $t0)" | bc -l)
per100k=$(echo "$mb_cpu / ($mb_rate / 100000)" | bc -l)

# --- shdr --------------------------------------------------------------------------------------
LINES=200000
awk -v n=$LINES 'BEGIN { for (i = 0; i < n; i++) {
  s = i % 60; printf "2026-11-23T07:%02d:%02d.%06dZ|execution|%s|Sload|%.1f|pcount|%d|temp|%.2f\n",
    int(i / 60000) % 60, int(i / 1000) % 60, (i % 1000) * 1000, (i % 7 ? "ACTIVE" : "READY"), 50 + s / 3, i, 40 + s / 10 } }' > "$T/big.shdr"
"$G" replay-shdr "$T/big.shdr" --listen 127.0.0.1:0 --speed max --ready-file "$T/r.ready" 2>/dev/null &
RP=$!
wait_ready "$T/r.ready"
cat > "$T/shdr.yaml" <<YAML
site: {name: bench, timezone: UTC}
adapters: [{name: a, type: mtconnect-shdr, host: 127.0.0.1, port: $(cut -d: -f2 "$T/r.ready")}]
areas: [{name: a, lines: [{name: l, machines: [{name: m, adapter: a, tags: [
  {name: execution, type: string}, {name: Sload, type: float}, {name: pcount, type: int}, {name: temp, type: float}]}]}]}]
YAML
rm -f "$T/ready"
t0=$(date +%s.%N)
"$G" serve --config "$T/shdr.yaml" --data "$T/d2" --listen 127.0.0.1:0 --ready-file "$T/ready" --log-level warn 2>"$T/shdr.err" &
GP=$!
wait_ready "$T/ready"
want=$((LINES * 4))
for _ in $(seq 1 600); do
  [ "$(health | jq '.adapters[0].samples')" -ge "$want" ] && break; sleep 0.05
done
t1=$(date +%s.%N)
got=$(health | jq '.adapters[0].samples')
kill -TERM $GP; wait $GP || true
kill -TERM $RP; wait $RP || true
stored=$("$G" store stats --data "$T/d2" --format json | jq .points)
sh_s=$(echo "$t1 - $t0" | bc -l)

printf 'bench-connect (loopback, one machine; %s)\n\n' "$(nproc) cores"
printf '%-10s %-38s %14s\n' "" "measure" "value"
printf '%-10s %-38s %14.0f\n' modbus "points/s received ($TAGS tags / $INTERVAL)" "$mb_rate"
printf '%-10s %-38s %14.3f\n' modbus "gemba CPU, cores" "$mb_cpu"
printf '%-10s %-38s %14.3f\n' modbus "gemba cores per 100k points/s" "$per100k"
printf '%-10s %-38s %14.3f\n' modbus "test server CPU, cores" "$srv_cpu"
printf '%-10s %-38s %14.2f   (Neuron, published: 1.2 cores; not measured here)\n' modbus "ratio Neuron / gemba, cores per 100k/s" "$(echo "1.2 / $per100k" | bc -l)"
printf '%-10s %-38s %14.0f\n' shdr "lines/s, socket to store (4 items each)" "$(echo "$LINES / $sh_s" | bc -l)"
printf '%-10s %-38s %14.0f\n' shdr "samples/s" "$(echo "$got / $sh_s" | bc -l)"
printf '%-10s %-38s %14s\n' shdr "published / stored (+ OEE results)" "$got / $((stored))"
