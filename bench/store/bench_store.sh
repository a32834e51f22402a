#!/usr/bin/env bash
# bench-store: the historian beside the time-series stores Debian packages, on the same data, on
# this machine, in one run. Every server is started here on a free loopback port with its data in
# a temporary directory, and stopped at the end (also on failure).
#
#   gemba (in-process)  gb_store_write_points in batches; queries through the store API; and
#                       gb_store_append by tag id (the adapters' way), tick on its own thread
#   gemba (HTTP)        `gemba serve`, line protocol to POST /write; queries to /api/v1/query
#   SQLite              batched inserts (one transaction a batch) into a WAL-mode table keyed by
#                       (series, time); queries through libsqlite3
#   PostgreSQL 15       \copy (COPY over the connection) into a table with an index on
#                       (series, time); queries through psql with \timing
#   InfluxDB 1.6        line protocol to /write; InfluxQL queries to /query
#   VictoriaMetrics     line protocol to /write; PromQL/MetricsQL to /api/v1/query(_range),
#                       the raw points from /api/v1/export
# The line-protocol writers all get the same bodies (BATCH lines each) from CLIENTS concurrent
# keep-alive connections (bench_store post), each into a fresh server, in ROUNDS rounds (default
# 5) in which gemba, InfluxDB and VictoriaMetrics take turns: their ingest numbers are the
# medians, so that a machine whose speed drifts over the minutes of the run (a shared one does)
# favours none of them. gemba's in-process runs, by series name and by tag id, take turns in as
# many rounds, and their ingest numbers are the medians too. Query latency is the median of 7 warm runs after one warm-up, each
# measured by the client, answers read in full.
# The data set (bench_store gen): a seeded plant load of 10,000 tags at 1-100 Hz (floats, ints,
# booleans) of MPOINTS million points, plus every column of the SKAB and NAB sensor files in
# ../shared/data/sensors when present.
# Disk by data set: each of the three (SKAB, NAB, the plant load) alone into a fresh store of
# every system, for a second table (the row stores on the sensor sets only).
#
# usage: [ROUNDS=N] bench/store/bench_store.sh BUILD_DIR [MPOINTS] [BATCH] [CLIENTS] [SENSORS_DIR]
set -euo pipefail
B=${1:?build dir}; MPOINTS=${2:-10}; BATCH=${3:-5000}; CLIENTS=${4:-4}; ROUNDS=${ROUNDS:-5}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SENSORS=${5:-$SRC/../shared/data/sensors}
G=$(realpath "$B/gemba"); H=$(realpath "$B/bench_store")
PGBIN=/usr/lib/postgresql/15/bin
T=$(mktemp -d /tmp/bench-store.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -f "$T/pg/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cmake --build "$B" --target bench_store >/dev/null

say() { printf '%s\n' "$*" >&2; }
# a loopback port nobody listens on, below the ports the system gives outgoing connections (one
# of those could be taken between this check and the server's bind)
free_port() {
  local p lo=32768
  read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$lo" -gt 11024 ] || lo=32768
  while :; do
    p=$((10000 + RANDOM % (lo - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_http() { # URL [PID LOG]: until it answers (any status), at most 60 s; false at once if PID exits
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "$1" && return 0
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
      say "  exited before it answered at $1; the end of its log:"; tail -n 5 "$3" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  say "not answering: $1"; exit 1
}
# a server started by START_FN (which sets the URL to wait for in WAIT_URL, its PID in WAIT_PID
# and its log in WAIT_LOG) on free ports: started again on other ports, twice at most, when it
# exits before it answers (a port taken between free_port and its bind)
start_server() {
  for try in 1 2 3; do
    "$1"
    wait_http "$WAIT_URL" "$WAIT_PID" "$WAIT_LOG" && return 0
    [ "$try" = 3 ] && { say "cannot start it (the end of its log is above)"; exit 1; }
    say "  starting it again on other ports"
  done
}
wait_file() { for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.1; done; say "not ready: $1"; exit 1; }
# KEY from a `key value` file
val() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
uri() { jq -rn --arg s "$1" '$s | @uri'; }
# the bytes of the files under the given paths: each file's length, or what is allocated to it
# when less (InfluxDB makes its series file in 4 MiB pieces that are mostly holes, which take no
# disk), not counting directories or block rounding; a file a store deletes meanwhile is skipped
bytes() {
  { find "$@" -type f -printf '%s %b\n' 2>/dev/null || true; } |
    awk '{ a = $2 * 512; s += a < $1 ? a : $1 } END { printf "%.0f\n", s }'
}
# waits until the bytes under the paths stay the same for 3 looks 2 s apart (at most LIMIT s)
wait_settled() {
  local limit=$1; shift
  local last=-1 same=0 now
  for _ in $(seq 1 $((limit / 2))); do
    now=$(bytes "$@")
    if [ "$now" = "$last" ]; then same=$((same + 1)); [ $same -ge 3 ] && return 0; else same=0; fi
    last=$now; sleep 2
  done
  say "note: $* still changing after ${limit}s"
}
# CPU seconds (user + system) a process has used so far
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# before each ingest: the page cache's dirty pages (the data set, the system before) written
# out, so that no system pays for the disk work of another
quiet() { sync; }
# posts the line protocol to URL and takes the rates: points/s, and points per CPU-second of the
# server PID (the client shares the machine's cores, so this is the server's own cost)
post_lp() { # SYSTEM PID URL: one round's numbers go to PPS[SYSTEM] and CPS[SYSTEM]
  local c0 c1 pps cps
  quiet
  c0=$(cpu_s "$2")
  "$H" post "$3" "$LP" "$BATCH" "$CLIENTS" > "$T/$1.out"
  c1=$(cpu_s "$2")
  pps=$(val "$T/$1.out" ingest_pps); cps=$(echo "$N / ($c1 - $c0)" | bc -l)
  PPS[$1]+="$pps "; CPS[$1]+="$cps "; P99[$1]+="$(val "$T/$1.out" write_p99_ms) "
  say "  ingest: $(printf '%.0f' "$pps") points/s, $(printf '%.0f' "$cps") per server CPU-second, machine $(val "$T/$1.out" idle_pct) % idle"
  say "  write requests: median $(val "$T/$1.out" write_p50_ms) ms, p99 $(val "$T/$1.out" write_p99_ms) ms, longest $(val "$T/$1.out" write_max_ms) ms"
}
# the median of the numbers in $1
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# R[system.measure] = value; NOTE[system.measure] = why a value is missing
declare -A R NOTE PPS CPS P99
declare -A NAME=([gi]="gemba" [gh]="gemba HTTP" [sq]="SQLite" [pg]="PostgreSQL" [ix]="InfluxDB" [vm]="Victoria")
na() { NOTE[$1.$2]=$3; }
# every system must hold every point: a short count is said under the table
stored() { # SYSTEM COUNT
  if [ "$2" != "$N" ]; then NOTE[$1.stored]="holds ${2:-?} of the $N points written"; fi
  say "  stored: ${2:-?} of $N points"
}
# copies ingest/latency keys from a helper's output file
take() { # SYSTEM FILE
  local k
  for k in ingest_pps bpp avg_ms latest_ms scan_ms; do
    local v; v=$(val "$2" $k)
    [ -n "$v" ] && R[$1.$k]=$v
  done
  return 0
}
# times one GET with the helper: SYSTEM MEASURE URL [TOKEN]
get_ms() {
  "$H" get "$3" 7 ${4:+"$4"} > "$T/get.out" || { na "$1" "$2" "query failed"; return 0; }
  R[$1.$2]=$(val "$T/get.out" ms)
  say "  $2: $(val "$T/get.out" ms) ms, $(val "$T/get.out" bytes) bytes answered"
}

# --- data ----------------------------------------------------------------------------------------
mkdir -p "$T/data"
if [ ! -d "$SENSORS/skab" ] && [ ! -d "$SENSORS/nab" ]; then
  say "note: no sensor files in $SENSORS: the plant load only"
fi
say "generating ${MPOINTS} M points of plant load (+ sensor files) ..."
"$H" gen "$SENSORS" "$T/data" "$MPOINTS" 42 > "$T/gen.out"
N=$(val "$T/gen.out" points); D0=$(val "$T/gen.out" day_from); D1=$(val "$T/gen.out" day_to)
LP=$T/data/data.lp
say "  $N points in $(val "$T/gen.out" series) series; $(val "$T/gen.out" sensor_points) of them from sensor files"

# each data set alone as well, for the sizes by data set: the SKAB files, the NAB files and the
# plant load, each in a directory of its own in the same three forms (series numbered anew), with
# its time range, so that every store's bytes a point can be taken on each
mkdir -p "$T/sets/skab" "$T/sets/nab" "$T/sets/plant"
awk -F, -v D="$T/sets" '
  FILENAME ~ /series\.csv$/ {
    sid = $1; set[sid] = $3; id[sid] = n[$3]++; sub(/^[^,]*,/, "")
    print id[sid] "," $0 > (D "/" set[sid] "/series.csv"); next
  }
  FILENAME ~ /points\.csv$/ {
    sid = $1; k = set[sid]; t = $2 / 1e9; sub(/^[^,]*,/, "")
    print id[sid] "," $0 > (D "/" k "/points.csv")
    if (!(k in lo) || t < lo[k]) lo[k] = t
    if (!(k in hi) || t > hi[k]) hi[k] = t
    next
  }
  { m = $0; sub(/,.*/, "", m); print > (D "/" m "/data.lp") }
  END { for (k in lo) printf "%d %d\n", lo[k], hi[k] + 1 > (D "/" k "/range") }
' "$T/data/series.csv" "$T/data/points.csv" "$LP"
SETS=()
for s in skab nab plant; do [ -s "$T/sets/$s/points.csv" ] && SETS+=("$s"); done
declare -A SETNAME=([skab]="SKAB" [nab]="NAB" [plant]="plant load")
declare -A DS DSN # DS[system.set]: bytes on disk of the set alone; DSN[set]: its points
for s in "${SETS[@]}"; do DSN[$s]=$(wc -l < "$T/sets/$s/points.csv"); done
# the bytes SYSTEM took for SET, and the points it says it holds (a short count is said)
ds_put() { # SYSTEM SET BYTES STORED
  DS[$1.$2]=$3
  [ "$4" = "${DSN[$2]}" ] || NOTE[$1.stored_$2]="holds ${4:-?} of the ${DSN[$2]} points of ${SETNAME[$2]} alone"
  say "  ${NAME[$1]}: $3 bytes, $(awk -v b="$3" -v n="${DSN[$2]}" 'BEGIN { printf "%.2f", b / n }') bytes/point"
}

# --- gemba in-process: by series name and by tag id, in rounds that take turns ------------------
declare -a GI_PPS GT_PPS
for r in $(seq 1 "$ROUNDS"); do
  say "gemba in-process, round $r of $ROUNDS ..."
  quiet
  "$H" gemba "$T/data" "$T/gemba-inproc" "$BATCH" > "$T/gi.out"
  GI_PPS+=("$(val "$T/gi.out" ingest_pps)")
  stored gi "$(val "$T/gi.out" stored_points)"
  rm -rf "$T/gemba-inproc"
  say "  by series name: $(printf '%.0f' "$(val "$T/gi.out" ingest_pps)") points/s"
  quiet
  "$H" tags "$T/data" "$T/gemba-tags" "$BATCH" > "$T/gt.out"
  GT_PPS+=("$(val "$T/gt.out" tags_pps)")
  [ "$(val "$T/gt.out" tags_stored_points)" = "$N" ] ||
    NOTE[gi.stored]="holds $(val "$T/gt.out" tags_stored_points) of the $N points written by tag id"
  rm -rf "$T/gemba-tags"
  say "  by tag id: $(printf '%.0f' "$(val "$T/gt.out" tags_pps)") points/s"
done
take gi "$T/gi.out" # sizes and queries of the last round; ingest, the medians
R[gi.ingest_pps]=$(med "${GI_PPS[*]}")
R[gi.tags_pps]=$(med "${GT_PPS[*]}")

# --- the servers: gemba serve, InfluxDB, VictoriaMetrics ------------------------------------------
cat > "$T/plant.yaml" <<'YAML'
site: {name: bench, timezone: UTC}
areas: [{name: a, lines: [{name: l, machines: [{name: m}]}]}]
YAML
gemba_fresh() { # an empty data directory with an engineer's token (writes and reads) in it
  rm -rf "$T/gemba"
  TOKEN=$("$G" token create --data "$T/gemba" --role engineer --id bench 2>>"$T/g.err")
}
gemba_start() {
  rm -f "$T/g.ready"
  "$G" serve --config "$T/plant.yaml" --data "$T/gemba" --listen 127.0.0.1:0 --ready-file "$T/g.ready" 2>>"$T/g.err" &
  GPID=$!; PIDS+=("$GPID")
  wait_file "$T/g.ready"; GURL=$(cat "$T/g.ready")
}
gemba_stop() { kill -TERM "$GPID"; wait "$GPID" || { say "gemba serve failed: $(tail -3 "$T/g.err")"; exit 1; }; }
HAVE_IX=""; command -v influxd >/dev/null && HAVE_IX=1
HAVE_VM=""; command -v victoria-metrics >/dev/null && HAVE_VM=1
influx_run() { # influxd on a new $T/influx and free ports
  IP=$(free_port); IP2=$(free_port)
  rm -rf "$T/influx"; mkdir -p "$T/influx"
  # snapshots and full compactions after seconds of quiet instead of 10 min / 4 h, so the bytes
  # measured are those of compacted TSM files
  cat > "$T/influx/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$IP2"
[meta]
  dir = "$T/influx/meta"
[data]
  dir = "$T/influx/data"
  wal-dir = "$T/influx/wal"
  query-log-enabled = false
  cache-max-memory-size = "8g"
  cache-snapshot-write-cold-duration = "2s"
  compact-full-write-cold-duration = "5s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$IP"
  log-enabled = false
  max-row-limit = 0
[continuous_queries]
  enabled = false
CONF
  influxd run -config "$T/influx/influxdb.conf" 2>>"$T/influx.log" &
  IPID=$!; PIDS+=("$IPID")
  IURL=http://127.0.0.1:$IP
  WAIT_URL=$IURL/ping WAIT_PID=$IPID WAIT_LOG=$T/influx.log
}
influx_start() { # on a new $T/influx, with the database bench made
  start_server influx_run
  curl -sf -X POST "$IURL/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null
}
influx_points() { # the points InfluxDB holds
  curl -s "$IURL/query?db=bench&q=$(uri 'SELECT count(*) FROM /.*/')" | jq '[.results[].series[]?.values[][1:][] | numbers] | add'
}
vm_run() { # on a new $T/vm; the response cache off: else repeated queries over old data measure it
  VP=$(free_port)
  rm -rf "$T/vm"
  victoria-metrics -storageDataPath "$T/vm" -httpListenAddr "127.0.0.1:$VP" -retentionPeriod 100y \
    -search.disableCache -loggerLevel ERROR 2>>"$T/vm.log" &
  VPID=$!; PIDS+=("$VPID")
  VURL=http://127.0.0.1:$VP
  WAIT_URL=$VURL/health WAIT_PID=$VPID WAIT_LOG=$T/vm.log
}
vm_start() { start_server vm_run; }
vm_settle() { # in-memory parts to disk, then every partition merged into as few parts as it will
  curl -sf "$VURL/internal/force_flush" >/dev/null
  curl -sf "$VURL/internal/force_merge" >/dev/null || true
  wait_settled 300 "$T/vm"
}
stop_pid() { kill -TERM "$1"; wait "$1" || true; } # the stores keep what they took on a TERM

# sizes and queries of a peer, on the data of its last round, while it still runs: each settles
# its own way first (InfluxDB's snapshots and full compactions, VictoriaMetrics' merges)
influx_measure() {
  wait_settled 300 "$T/influx/data" "$T/influx/wal"
  R[ix.bpp]=$(echo "$(bytes "$T/influx/data" "$T/influx/wal") / $N" | bc -l)
  iq() { echo "$IURL/query?db=bench&q=$(uri "$1")"; }
  stored ix "$(influx_points)"
  get_ms ix avg_ms "$(iq "SELECT mean(f) FROM plant WHERE \"tag\" = 't00000' AND time >= $D0 AND time < $D1 GROUP BY time(1m)")"
  get_ms ix latest_ms "$(iq "SELECT last(*) FROM plant GROUP BY \"tag\"")"
  get_ms ix scan_ms "$(iq "SELECT f FROM plant WHERE \"tag\" = 't00001'")"
}
vm_measure() {
  vm_settle
  R[vm.bpp]=$(echo "$(bytes "$T/vm") / $N" | bc -l)
  local s0=$((D0 / 1000000000)) s1=$((D1 / 1000000000))
  stored vm "$(curl -s "$VURL/api/v1/query?query=$(uri 'sum(count_over_time({__name__!=""}[15y]))')&time=$s1" | jq -r '.data.result[0].value[1]')"
  get_ms vm avg_ms "$VURL/api/v1/query_range?query=$(uri 'avg_over_time(plant_f{tag="t00000"}[1m])')&start=$((s0 + 60))&end=$s1&step=60s"
  get_ms vm latest_ms "$VURL/api/v1/query?query=$(uri 'last_over_time({__name__=~"plant_.*"}[10m])')&time=$s1"
  get_ms vm scan_ms "$VURL/api/v1/export?match[]=$(uri 'plant_f{tag="t00001"}')"
}

# --- ingest over HTTP: rounds in which the three servers take turns --------------------------------
for r in $(seq 1 "$ROUNDS"); do
  say "HTTP ingest, round $r of $ROUNDS: gemba serve ..."
  gemba_fresh
  gemba_start
  post_lp gh "$GPID" "$GURL/write?db=bench&precision=ns&u=bench&p=$TOKEN"
  gemba_stop # a clean stop writes the head to block files: what stays on disk
  if [ -n "$HAVE_IX" ]; then
    say "  InfluxDB ..."
    influx_start
    post_lp ix "$IPID" "$IURL/write?db=bench&precision=ns"
    if [ "$r" = "$ROUNDS" ]; then say "  InfluxDB: size and queries ..."; influx_measure; fi
    stop_pid "$IPID"
    rm -rf "$T/influx"
  fi
  if [ -n "$HAVE_VM" ]; then
    say "  VictoriaMetrics ..."
    vm_start
    post_lp vm "$VPID" "$VURL/write?precision=ns"
    if [ "$r" = "$ROUNDS" ]; then say "  VictoriaMetrics: size and queries ..."; vm_measure; fi
    stop_pid "$VPID"
    rm -rf "$T/vm"
  fi
done
[ -n "$HAVE_IX" ] || for m in ingest_pps bpp avg_ms latest_ms scan_ms; do na ix $m "influxdb not installed"; done
[ -n "$HAVE_VM" ] || for m in ingest_pps bpp avg_ms latest_ms scan_ms; do na vm $m "victoria-metrics not installed"; done
for s in gh ix vm; do
  [ -n "${PPS[$s]:-}" ] || continue
  R[$s.ingest_pps]=$(med "${PPS[$s]}"); R[$s.cpu_pps]=$(med "${CPS[$s]}"); R[$s.p99_ms]=$(med "${P99[$s]}")
done
# gemba's last round stays for its size and queries below (the peers' were taken in their round)

# --- gemba over HTTP: size and queries -----------------------------------------------------------
say "gemba serve: size and queries ..."
"$G" store stats --data "$T/gemba" --format json > "$T/gh.stats"
[ "$(jq .points "$T/gh.stats")" = "$N" ] || { say "gemba stored $(jq .points "$T/gh.stats") of $N points"; exit 1; }
R[gh.bpp]=$(jq .bytes_per_point "$T/gh.stats")
gemba_start
S0=$(uri 'plant,tag=t00000#f'); S1=$(uri 'plant,tag=t00001#f')
get_ms gh avg_ms "$GURL/api/v1/query?tag=$S0&from=$D0&to=$D1&agg=avg&step=1m&format=csv" "$TOKEN"
get_ms gh latest_ms "$GURL/api/v1/latest?match=plant,*" "$TOKEN" # the 10,000 plant tags
get_ms gh scan_ms "$GURL/api/v1/query?tag=$S1&format=csv" "$TOKEN"
gemba_stop
rm -rf "$T/gemba"

# --- sizes by data set: gemba, InfluxDB, VictoriaMetrics ------------------------------------------
# each set alone into a fresh store, settled as above (gemba by `gemba import`, the peers over
# HTTP as in the rounds)
for s in "${SETS[@]}"; do
  say "disk by data set: ${SETNAME[$s]} alone, ${DSN[$s]} points ..."
  read -r s0 s1 < "$T/sets/$s/range"
  rm -rf "$T/ds-gemba"
  "$G" import --data "$T/ds-gemba" "$T/sets/$s/data.lp" >/dev/null 2>>"$T/g.err"
  "$G" store stats --data "$T/ds-gemba" --format json > "$T/ds.stats"
  ds_put gi "$s" "$(jq .bytes "$T/ds.stats")" "$(jq .points "$T/ds.stats")"
  rm -rf "$T/ds-gemba"
  if [ -n "$HAVE_IX" ]; then
    influx_start
    "$H" post "$IURL/write?db=bench&precision=ns" "$T/sets/$s/data.lp" "$BATCH" "$CLIENTS" >/dev/null
    wait_settled 300 "$T/influx/data" "$T/influx/wal"
    ds_put ix "$s" "$(bytes "$T/influx/data" "$T/influx/wal")" "$(influx_points)"
    stop_pid "$IPID"
    rm -rf "$T/influx"
  fi
  if [ -n "$HAVE_VM" ]; then
    vm_start
    "$H" post "$VURL/write?precision=ns" "$T/sets/$s/data.lp" "$BATCH" "$CLIENTS" >/dev/null
    vm_settle
    ds_put vm "$s" "$(bytes "$T/vm")" \
      "$(curl -s "$VURL/api/v1/query?query=$(uri "sum(count_over_time({__name__!=\"\"}[$((s1 - s0 + 1))s]))")&time=$s1" | jq -r '.data.result[0].value[1]')"
    stop_pid "$VPID"
    rm -rf "$T/vm"
  fi
done

# --- SQLite --------------------------------------------------------------------------------------
say "SQLite ..."
quiet
"$H" sqlite "$T/data" "$T/sqlite.db" "$BATCH" > "$T/sq.out"
if grep -q '^na' "$T/sq.out"; then
  for m in ingest_pps bpp avg_ms latest_ms scan_ms; do na sq $m "$(cut -d' ' -f2- "$T/sq.out")"; done
else
  take sq "$T/sq.out"
  stored sq "$(val "$T/sq.out" stored_points)"
  # the sensor sets alone (not the plant load: minutes more, for rows stored as they are, whose
  # size a point the table above already gives)
  for s in "${SETS[@]}"; do
    [ "$s" = plant ] && continue
    rm -f "$T/sqlite.db"*
    "$H" sqlite "$T/sets/$s" "$T/sqlite.db" "$BATCH" > "$T/ds.out"
    ds_put sq "$s" "$(val "$T/ds.out" bytes)" "$(val "$T/ds.out" stored_points)"
  done
fi
rm -f "$T/sqlite.db"*

# --- PostgreSQL ----------------------------------------------------------------------------------
if [ -x "$PGBIN/postgres" ] && id postgres >/dev/null 2>&1; then
  say "PostgreSQL ..."
  PGPORT=$(free_port)
  mkdir -p "$T/pg" && chown postgres "$T/pg"
  runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg/data" -U bench --auth=trust -E UTF8 >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$T/pg -c shared_buffers=512MB -c max_wal_size=8GB" \
    start >/dev/null
  PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U bench -d postgres)
  "${PSQL[@]}" -c "CREATE TABLE series (sid int PRIMARY KEY);
                   INSERT INTO series SELECT generate_series(0, $(val "$T/gen.out" series) - 1);
                   CREATE TABLE points (sid int NOT NULL, t bigint NOT NULL, v double precision NOT NULL);
                   CREATE INDEX points_sid_t ON points (sid, t);"
  quiet
  t0=$(date +%s.%N)
  "${PSQL[@]}" -c "\\copy points FROM '$T/data/points.csv' WITH (FORMAT csv)"
  t1=$(date +%s.%N)
  R[pg.ingest_pps]=$(echo "$N / ($t1 - $t0)" | bc -l)
  # VACUUM (visibility map, statistics) and a checkpoint: the table as queries will see it
  "${PSQL[@]}" -c "VACUUM ANALYZE points" -c "CHECKPOINT"
  pgb=$("${PSQL[@]}" -At -c "SELECT pg_total_relation_size('points')")
  stored pg "$("${PSQL[@]}" -At -c "SELECT count(*) FROM points")"
  R[pg.bpp]=$(echo "$pgb / $N" | bc -l)
  pg_time() { # MEASURE SQL: 1 warm-up + 7 runs in one session, median of the 7
    { echo '\timing on'; echo '\o /dev/null'; for _ in $(seq 8); do echo "$2"; done; } \
      | "${PSQL[@]}" > "$T/pg.time"
    R[pg.$1]=$(grep -o 'Time: [0-9.]*' "$T/pg.time" | awk '{ print $2 }' | tail -n 7 | sort -g | sed -n 4p)
    say "  $1: ${R[pg.$1]} ms"
  }
  pg_time avg_ms "SELECT t / 60000000000 AS m, avg(v) FROM points WHERE sid = 0 AND t >= $D0 AND t < $D1 GROUP BY 1 ORDER BY 1;"
  pg_time latest_ms "SELECT s.sid, p.t, p.v FROM series s CROSS JOIN LATERAL (SELECT t, v FROM points WHERE sid = s.sid ORDER BY t DESC LIMIT 1) p WHERE s.sid < 10000;"
  pg_time scan_ms "SELECT t, v FROM points WHERE sid = 1 ORDER BY t;"
  for s in "${SETS[@]}"; do # the sensor sets alone, as SQLite's
    [ "$s" = plant ] && continue
    "${PSQL[@]}" -c "CREATE TABLE p_$s (sid int NOT NULL, t bigint NOT NULL, v double precision NOT NULL);
                     CREATE INDEX p_${s}_sid_t ON p_$s (sid, t);" \
      -c "\\copy p_$s FROM '$T/sets/$s/points.csv' WITH (FORMAT csv)" -c "VACUUM ANALYZE p_$s" -c "CHECKPOINT"
    ds_put pg "$s" "$("${PSQL[@]}" -At -c "SELECT pg_total_relation_size('p_$s')")" \
      "$("${PSQL[@]}" -At -c "SELECT count(*) FROM p_$s")"
  done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast -w stop >/dev/null
  rm -rf "$T/pg"
else
  for m in ingest_pps bpp avg_ms latest_ms scan_ms; do na pg $m "postgresql-15 not installed"; done
fi

# --- the table -----------------------------------------------------------------------------------
SYS=(gi gh sq pg ix vm)
MEAS=(ingest_pps tags_pps cpu_pps p99_ms bpp avg_ms latest_ms scan_ms)
declare -A LABEL=([ingest_pps]="ingest, points/s" [tags_pps]="ingest by tag id, points/s"
  [cpu_pps]="ingest per server CPU-second" [p99_ms]="write request p99, ms" [bpp]="disk, bytes/point"
  [avg_ms]="1-day 1-min avg, 1 Hz tag, ms" [latest_ms]="latest of 10,000 tags, ms" [scan_ms]="raw scan of 1 M points, ms")
# the gemba a peer is compared with: SQLite with gemba in-process (both libraries), the servers
# with gemba serve over HTTP; where gemba HTTP has no number, gemba in-process
ref() { if [ "$1" = sq ] || [ -z "${R[gh.$2]:-}" ]; then echo gi; else echo gh; fi; }
fmt() { # MEASURE VALUE
  case $1 in ingest_pps | tags_pps | cpu_pps) printf '%.0f' "$2" ;; bpp) printf '%.2f' "$2" ;; *) printf '%.1f' "$2" ;; esac
}
printf '\nbench-store: %s points (%s series), batches of %s lines, %s HTTP clients; %s cores, loopback\n\n' \
  "$N" "$(val "$T/gen.out" series)" "$BATCH" "$CLIENTS" "$(nproc)"
printf '%-32s' "measure"; for s in "${SYS[@]}"; do printf ' %12s' "${NAME[$s]}"; done; printf '\n'
for m in "${MEAS[@]}"; do
  printf '%-32s' "${LABEL[$m]}"
  for s in "${SYS[@]}"; do
    if [ -n "${R[$s.$m]:-}" ]; then printf ' %12s' "$(fmt "$m" "${R[$s.$m]}")"; else printf ' %12s' "n/a"; fi
  done
  printf '\n'
done
printf '\nhow many times better gemba is (>1: gemba better; peer/gemba for bytes and ms, gemba/peer for\ningest; against gemba in-process for SQLite and where marked *, else against gemba HTTP)\n\n'
printf '%-32s' "measure"; for s in sq pg ix vm; do printf ' %12s' "${NAME[$s]}"; done; printf '\n'
for m in "${MEAS[@]}"; do
  [ "$m" = tags_pps ] && continue # gemba's own way in: no peer has it
  printf '%-32s' "${LABEL[$m]}"
  for s in sq pg ix vm; do
    r=$(ref $s $m); g=${R[$r.$m]:-}; p=${R[$s.$m]:-}
    if [ -z "$g" ] || [ -z "$p" ]; then printf ' %12s' "n/a"; continue; fi
    case $m in
      ingest_pps | cpu_pps) x=$(echo "$g / $p" | bc -l) ;;
      *) x=$(echo "$p / $g" | bc -l) ;;
    esac
    mark=""; [ "$r" = gi ] && [ $s != sq ] && mark="*"
    printf ' %12s' "$(printf '%.2fx%s' "$x" "$mark")"
  done
  printf '\n'
done
printf '\n'
if [ ${#SETS[@]} -gt 0 ]; then
  printf 'disk by data set, bytes/point: each set alone into a fresh store (the last column: how many\ntimes the smallest peer is larger than gemba)\n\n'
  printf '%-14s %10s' "data set" "points"; for y in gi sq pg ix vm; do printf ' %10s' "${NAME[$y]}"; done
  printf ' %10s\n' "smallest"
  ds_row() { # LABEL POINTS SETS...: the bytes of the sets over their points, for every system
    local label=$1 n=$2 y k b g="" best=""; shift 2
    printf '%-14s %10s' "$label" "$n"
    for y in gi sq pg ix vm; do
      b=0
      for k in "$@"; do [ -n "${DS[$y.$k]:-}" ] && b=$((b + DS[$y.$k])) || { b=""; break; }; done
      if [ -z "$b" ]; then printf ' %10s' "n/a"; continue; fi
      printf ' %10s' "$(awk -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", b / n }')"
      [ $y = gi ] && g=$b && continue
      [ -z "$best" ] || [ "$b" -lt "$best" ] && best=$b
    done
    if [ -n "$best" ] && [ -n "${g:-}" ]; then printf ' %10s\n' "$(awk -v p="$best" -v g="$g" 'BEGIN { printf "%.2fx", p / g }')"; else printf ' %10s\n' "n/a"; fi
  }
  for s in "${SETS[@]}"; do ds_row "${SETNAME[$s]}" "${DSN[$s]}" "$s"; done
  if [ -n "${DSN[skab]:-}" ] && [ -n "${DSN[nab]:-}" ]; then
    ds_row "SKAB + NAB" "$((DSN[skab] + DSN[nab]))" skab nab
  fi
  printf '\nSQLite and PostgreSQL store rows as they are: they are measured on the sensor sets alone, and\n'
  printf 'on the whole load (mostly plant load) in the table above. "SKAB + NAB" adds the two sets up.\n\n'
fi
for k in "${!NOTE[@]}"; do
  case $k in
    *.stored*) printf 'WARNING %s %s\n' "${NAME[${k%%.*}]}" "${NOTE[$k]}" ;;
    *) printf 'n/a %s, %s: %s\n' "${NAME[${k%%.*}]}" "${LABEL[${k#*.}]}" "${NOTE[$k]}" ;;
  esac
done | sort
rounds() { [ -n "${PPS[$1]:-}" ] && printf '%.0f ' ${PPS[$1]} | sed 's/ $//' || echo "n/a"; }
checked="Every system was checked to hold all $N points."
for k in "${!NOTE[@]}"; do case $k in *.stored*) checked="" ;; esac; done
cat <<NOTES
gemba: ingest = points accepted (log + memory, synced every 1 s). The flushes to block files at
  every 4 M points run on the store's flush thread beside the writers, which wait for one only
  when the head holds 8 M points. The last flush, at close, took $(val "$T/gi.out" flush_s) s in-process.
  Disk = the data directory after a clean stop. $checked
  In-process, points go in by series name (gb_store_write_points, as imports and HTTP writes do)
  and, on the row below, by tag id (gb_store_append with the plant's registry, as machine data
  goes in from adapters), with the store's tick on a thread of its own as gemba serve runs it.
  Its latest over HTTP is GET /api/v1/latest?match=plant,*: the 10,000 plant tags, as the
  peers' queries.
In-process ingest: the median of $ROUNDS rounds, by series name and by tag id taking turns.
  Points/s of every round: by name $(printf '%.0f ' "${GI_PPS[@]}" | sed 's/ $//'), by tag id
  $(printf '%.0f ' "${GT_PPS[@]}" | sed 's/ $//').
Ingest over HTTP: the median of $ROUNDS rounds in which gemba, InfluxDB and VictoriaMetrics took
  turns, each into a fresh server. Points/s of every round: gemba $(rounds gh), InfluxDB
  $(rounds ix), VictoriaMetrics $(rounds vm).
Ingest per server CPU-second: the points over the CPU time (user + system, every thread) the
  server process used while taking them; the client shares the machine's cores, so points/s
  alone also measures the client.
SQLite: (series, time) primary key, WITHOUT ROWID, synchronous=NORMAL, 256 MiB cache; disk = the
  file after a TRUNCATE checkpoint. PostgreSQL: one double column (ints and booleans as numbers);
  disk = table and index after VACUUM ANALYZE and CHECKPOINT (WAL not counted).
Disk of the servers: the bytes of the files in their directories, each file's length or, when
  less, what the filesystem gave it (InfluxDB's series file is 4 MiB pieces, mostly holes).
InfluxDB: disk = data and WAL directories once snapshots and full compactions settled.
VictoriaMetrics: disk = its whole storage directory after /internal/force_flush and
  /internal/force_merge settled; its latest query looks back 10 min (every tag has points
  there); its response cache is off.
NOTES
