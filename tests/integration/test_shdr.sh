# An MTConnect SHDR adapter (gemba replay-shdr playing tests/data/shdr/cnc-cycle.shdr) feeding
# gemba serve: every tag arrives; the adapter going away shows in /api/v1/health and the
# connection comes back by itself without duplicating what was resent; and the replayed hour
# gives the state timeline and OEE worked out by hand (see make-cnc-cycle.py for the script):
#   POT 3600 s = APT 2520 (running 2430 + a 90 s micro-stop) + AUST 480 (setup 40:00-48:00)
#              + ADET 420 (tool breakage 20:00-27:00) + ADOT 180 (idle 00:00-03:00)
#   37 parts, 2 bad, PRI 60 s: A = 0.7, E = 2220/2520, Q = 35/37, OEE = 35 x 60 / 3600
source "$(dirname "$0")/lib.sh"
R="$GB_SRC/tests/data/shdr/cnc-cycle.shdr"
RP=""

start_replay() { # PORT ARGS...
  local port=$1; shift
  rm -f "$T/replay.ready"
  "$GEMBA" replay-shdr "$R" --listen "127.0.0.1:$port" --ready-file "$T/replay.ready" "$@" 2>>"$T/replay.err" &
  RP=$!
  for _ in $(seq 1 200); do [ -s "$T/replay.ready" ] && break; sleep 0.05; done
  [ -s "$T/replay.ready" ] || fail "replay-shdr not ready"
  RPORT=$(cut -d: -f2 "$T/replay.ready")
}
stop_replay() { kill -TERM "$RP"; wait "$RP" || fail "replay-shdr exited $?"; RP=""; }
health() { get /api/v1/health | jq -r "$1"; }
settle() { # waits until the adapter's sample count stops moving
  local prev=-1 cur
  for _ in $(seq 1 100); do
    cur=$(health '.adapters[0].samples + .adapters[0].duplicates')
    [ "$cur" = "$prev" ] && [ "$cur" -gt 0 ] && return 0
    prev=$cur; sleep 0.3
  done
  fail "the adapter never settled"
}

# --- 1. connect, all tags, peer down and back, nothing duplicated -------------------------
start_replay 0 --speed max --keep-time
sed "s/@PORT@/$RPORT/" "$GB_SRC/tests/data/shdr/plant.yaml.in" > "$T/plant.yaml"
gb_start --config "$T/plant.yaml"
settle
[ "$(health '.adapters[0].state')" = connected ] || fail "not connected: $(get /api/v1/health)"
[ "$(health '.adapters[0].malformed')" = 0 ] || fail "malformed lines: $(get /api/v1/health)"
tags=$(get /api/v1/tags)
val() { jq -r --arg n "$1" '.tags[] | select(.name == $n) | .value' <<<"$tags"; }
for t in avail mode execution program pcount pcount_bad system msg msg_code spindle_load current tools; do
  [ "$(val $t)" != null ] || fail "tag $t never arrived"
done
[ "$(val pcount)" = 37 ] && [ "$(val pcount_bad)" = 2 ] || fail "counts $(val pcount) $(val pcount_bad)"
[ "$(val execution)" = READY ] && [ "$(val program)" = O1020 ] || fail "final state"
[ "$(val system)" = NORMAL ] && [ "$(val msg)" = "Tool T2 broken, replace insert" ] && [ "$(val msg_code)" = TB1010 ] \
  || fail "condition/message: $(val system) / $(val msg) / $(val msg_code)"
[ "$(val tools)" = "T1=OK T2=OK T3=WORN" ] || fail "data set"
grep -q 'device time jumped back by 50m' "$T/stderr" || fail "the spliced tail went unnoticed"
first=$(health '.adapters[0].samples')

stop_replay
for _ in $(seq 1 100); do [ "$(health '.adapters[0].state')" != connected ] && break; sleep 0.1; done
h=$(get /api/v1/health)
[ "$(jq -r .status <<<"$h")" = degraded ] || fail "health not degraded with the adapter gone: $h"
jq -e '.adapters[0].last_error | test("closed the connection|cannot connect")' <<<"$h" >/dev/null || fail "no last_error: $h"
start_replay "$RPORT" --speed max --keep-time
for _ in $(seq 1 100); do [ "$(health '.adapters[0].connects')" = 2 ] && break; sleep 0.1; done
[ "$(health '.adapters[0].connects')" = 2 ] || fail "did not reconnect: $(get /api/v1/health)"
settle
[ "$(health '.adapters[0].samples')" = "$first" ] || fail "resent data was published again"
[ "$(health '.adapters[0].duplicates')" -ge "$first" ] || fail "resends not counted as duplicates"
stop_replay
gb_stop
points=$("$GEMBA" store stats --data "$T/data" --format json | jq .points)
[ "$points" = "$first" ] || fail "store holds $points points, adapter published $first"

# --- 2. the replayed hour, by hand ------------------------------------------------------------
rm -rf "$T/data"
start_replay 0 --speed max
sed "s/@PORT@/$RPORT/" "$GB_SRC/tests/data/shdr/plant.yaml.in" > "$T/plant.yaml"
gb_start --config "$T/plant.yaml"
settle
# the recording starts where the data set `tools` was stamped (it is sent once, at 00:00)
from=$(get /api/v1/tags | jq -r '.tags[] | select(.name=="tools") | .time')
to=$(date -u -d "$from + 3600 seconds" +%Y-%m-%dT%H:%M:%S.%3NZ)
live=$(get "/api/v1/oee?from=$from&to=$to")
timeline=$(get "/api/v1/machines/cnc07/timeline?from=$from&to=$to")
stop_replay
gb_stop
off=$("$GEMBA" oee --plant "$T/plant.yaml" --data "$T/data" --from "$from" --to "$to") || fail "offline"
diff <(jq -S . <<<"$live") <(jq -S . <<<"$off") || fail "live and offline differ on the replay"
check() { local got; got=$(jq -r "$1" <<<"$off"); [ "$got" = "$2" ] || fail "$1 = $got, expected $2"; }
check '.total.times_s | [.pot, .pbt, .apt, .micro_stops, .aust, .adet, .adot] | map(round) | join(" ")' "3600 3600 2520 90 480 420 180"
check '.total.counts | [.produced, .good, .scrap, .failures, .stops, .micro_stops] | join(" ")' "37 35 2 1 2 1"
check '.total.availability * 1000 | round' 700
check '.total.effectiveness * 2520 | round' 2220
check '.total.oee * 3600 | round' 2100
check '.total.mttr_s | round' 420
# the timeline names the rule behind each state
jq -e '[.intervals[] | select(.state == "down") | .rule] == ["fault"]' <<<"$timeline" >/dev/null || fail "down intervals: $timeline"
jq -e '[.intervals[] | select(.state == "setup") | .rule] == ["manual"]' <<<"$timeline" >/dev/null || fail "setup: $timeline"
# a restart rebuilds the machines' history from the store: the same numbers afterwards
gb_start --config "$T/plant.yaml"
grep -q 'rebuilt machine states from [0-9]* stored samples' "$T/stderr" || fail "no rebuild at start"
after=$(get "/api/v1/oee?from=$from&to=$to")
gb_stop
diff <(jq -S . <<<"$off") <(jq -S . <<<"$after") || fail "OEE changed across a restart"
reasons=$("$GEMBA" oee --plant "$T/plant.yaml" --data "$T/data" --from "$from" --to "$to" --by reason)
jq -e '.rows[] | select(.reason == "unplanned/tooling/breakage") | .seconds == 420' <<<"$reasons" >/dev/null \
  || fail "breakage not attributed: $reasons"
check_sanitizers "$T/replay.err"
echo "ok: $first samples, reconnect without duplicates; OEE $(jq .total.oee <<<"$off") = 2100/3600"
