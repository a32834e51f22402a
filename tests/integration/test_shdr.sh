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
# the adapter's stamps are the same on both connections, and ahead of the clock, so that OEE
# takes every state (a machine's history does not reach back before gemba started)
t0=$(date -u -d '+60 seconds' +%Y-%m-%dT%H:%M:%SZ)
start_replay 0 --speed max --start "$t0"
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
start_replay "$RPORT" --speed max --start "$t0"
for _ in $(seq 1 100); do [ "$(health '.adapters[0].connects')" = 2 ] && break; sleep 0.1; done
[ "$(health '.adapters[0].connects')" = 2 ] || fail "did not reconnect: $(get /api/v1/health)"
for _ in $(seq 1 100); do [ "$(health '.adapters[0].duplicates')" -ge "$first" ] && break; sleep 0.1; done
settle
[ "$(health '.adapters[0].samples')" = "$first" ] || fail "resent data was published again"
[ "$(health '.adapters[0].duplicates')" -ge "$first" ] || fail "resends not counted as duplicates"
stop_replay
gb_stop
results=$(grep -o '[0-9]* OEE results stored' "$T/stderr" | grep -o '^[0-9]*')
points=$("$GEMBA" store stats --data "$T/data" --format json | jq .points)
[ "$points" = $((first + results)) ] || fail "store holds $points points, adapter published $first, OEE derived $results"
# the stored state changes are the machine's timeline: idle, running, down, running, setup, ...
states=$("$GEMBA" store stats --data "$T/data" --format json | jq '.by_series[] | select(.series | endswith("cnc07/oee.state")) | .points')
[ "$states" -ge 8 ] || fail "only $states state changes stored"

# --- 1b. lines without a timestamp: stamped on arrival; after a reconnect, the adapter restating
# a tag's last value is a resend, and a changed value is new --------------------------------------
rm -rf "$T/data"
R0=$R R="$T/untimed.shdr"
printf '|avail|AVAILABLE|execution|READY\n|program|O1010\n' > "$R"
start_replay 0 --speed max
sed "s/@PORT@/$RPORT/" "$GB_SRC/tests/data/shdr/plant.yaml.in" > "$T/plant.yaml"
gb_start --config "$T/plant.yaml"
settle
[ "$(health '.adapters[0].samples')" = 3 ] || fail "untimed lines: $(get /api/v1/health)"
stop_replay
printf '|avail|AVAILABLE|execution|ACTIVE\n|program|O1010\n' > "$R"
start_replay "$RPORT" --speed max
# the second connection's three values, taken or counted as resends (settle alone could look
# before they came: the count does not start from 0)
for _ in $(seq 1 100); do
  [ "$(health '.adapters[0].samples + .adapters[0].duplicates')" -ge 6 ] && break; sleep 0.1
done
settle
[ "$(health '.adapters[0].samples') $(health '.adapters[0].duplicates')" = "4 2" ] \
  || fail "untimed restatements after a reconnect: $(get /api/v1/health)"
[ "$(get /api/v1/tags | jq -r '.tags[] | select(.name == "execution") | .value')" = ACTIVE ] \
  || fail "the changed untimed value was not taken"
stop_replay
gb_stop
R=$R0

# --- 2. the replayed hour, by hand ------------------------------------------------------------
rm -rf "$T/data"
start_replay 0 --speed max
sed "s/@PORT@/$RPORT/" "$GB_SRC/tests/data/shdr/plant.yaml.in" > "$T/plant.yaml"
gb_start --config "$T/plant.yaml"
grep -q 'no users yet: open http://127.0.0.1:[0-9]*/setup?code=' "$T/stderr" || fail "no setup link on the first start"
settle
# the recording starts where the data set `tools` was stamped (it is sent once, at 00:00)
from=$(get /api/v1/tags | jq -r '.tags[] | select(.name=="tools") | .time')
to=$(date -u -d "$from + 3600 seconds" +%Y-%m-%dT%H:%M:%S.%3NZ)
live=$(get "/api/v1/oee?from=$from&to=$to")
byjob=$(get "/api/v1/oee?from=$from&to=$to&by=job")
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
oee_hand=$(jq .total.oee <<<"$off")
# jobs by program name: O1010 until 41:00 (16 + 12 parts), then O1020 (6 + 3)
[ "$(jq -c '[.rows[] | [.job, .counts.produced]]' <<<"$byjob")" = '[["O1010",28],["O1020",9]]' ] \
  || fail "by job: $(jq -c '[.rows[] | [.job, .counts.produced]]' <<<"$byjob")"
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
# --- 3. people's changes: authenticated, audited, kept across a restart -----------------------
gb_start --config "$T/plant.yaml"
grep -q 'gbt_' "$T/stderr" && fail "a token was shown in the log"
TOKEN=$(gb_token operator line-lead) # classifying stops and scrap are an operator's
stops=$(get "/api/v1/machines/cnc07/stops?from=$from&to=$to")
idle=$(jq -r '.stops[0] | select(.state=="idle") | .start' <<<"$stops")
down=$(jq -r '.stops[] | select(.state=="down") | .start' <<<"$stops")
[ -n "$idle" ] && [ -n "$down" ] || fail "stops: $stops"
[ "$(jq -r '.stops[] | select(.state=="down") | .reason_by' <<<"$stops")" = rule ] || fail "no automatic reason"
split_at=$(date -u -d "$down + 300 seconds" +%Y-%m-%dT%H:%M:%S.%3NZ)
post() { # PATH JSON [TOKEN] -> status, body in $T/resp
  curl -sS -o "$T/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
       ${3:+-H "Authorization: Bearer $3"} --data "$2" "$GB_URL$1"
}
R="/api/v1/machines/cnc07/stops"
[ "$(post "$R/$idle/reason" '{"reason":"planned/maintenance"}')" = 401 ] || fail "write without a token"
[ "$(post "$R/$idle/reason" '{"reason":"planned/maintenance"}' gbt_operator-1_00)" = 401 ] || fail "write with a bad token"
[ "$(post "$R/$idle/reason" '{"reason":"planned/maintenance"}' "$(gb_token viewer)")" = 403 ] || fail "a viewer classified a stop"
[ "$(post "$R/$idle/reason" '{"reason":"planned/maintenance"}' "$TOKEN")" = 200 ] || fail "set reason: $(cat "$T/resp")"
[ "$(post "$R/$down/split" "{\"at\":\"$split_at\"}" "$TOKEN")" = 200 ] || fail "split: $(cat "$T/resp")"
second=$(get "/api/v1/machines/cnc07/stops?from=$from&to=$to" | jq -r --arg d "$down" '[.stops[] | select(.state=="down")][1].start')
[ "$(post "$R/$second/reason" '{"reason":"planned/maintenance"}' "$TOKEN")" = 200 ] || fail "reason of the split part"
[ "$(post /api/v1/machines/cnc07/scrap "{\"count\":1,\"time\":\"$(date -u -d "$from + 3000 seconds" +%Y-%m-%dT%H:%M:%S.%3NZ)\"}" "$TOKEN")" = 200 ] \
  || fail "scrap: $(cat "$T/resp")"
[ "$(post "$R/$idle/reason" '{"reason":"planned/coffee"}' "$TOKEN")" = 422 ] || fail "unknown reason"
[ "$(post "$R/2001-01-01T00:00:00Z/reason" '{"reason":"planned/maintenance"}' "$TOKEN")" = 422 ] || fail "unknown stop"
[ "$(post "/api/v1/machines/nope/stops/$idle/reason" '{"reason":"planned/maintenance"}' "$TOKEN")" = 404 ] || fail "unknown machine"
[ "$(post "$R/$idle/reason" '{"reason":' "$TOKEN")" = 400 ] || fail "bad JSON"
[ "$(status "$R/$idle/reason")" = 405 ] || fail "GET on a write route"
expect_changed() { # JSON: the hand numbers after the changes
  check() { local got; got=$(jq -r "$1" <<<"$2"); [ "$got" = "$3" ] || fail "after changes: $1 = $got, expected $3"; }
  check '.total.times_s | [.pot, .pdot, .pbt, .apt, .aust, .adet, .adot] | map(round) | join(" ")' "$1" "3600 300 3300 2520 480 300 0"
  check '.total.counts | [.produced, .good, .scrap, .stops, .failures] | join(" ")' "$1" "37 34 3 1 1"
}
live=$(get "/api/v1/oee?from=$from&to=$to")
expect_changed "$live"
gb_stop
grep -v '"via":"cli"' "$T/data/audit.jsonl" > "$T/api-audit.jsonl" # tokens made for the test
[ "$(wc -l < "$T/api-audit.jsonl")" = 4 ] || fail "audit entries: $(cat "$T/data/audit.jsonl")"
jq -se 'all(.who == "line-lead" and .via == "token") and (map(.action) == ["set reason", "split stop", "set reason", "scrap"])' \
   "$T/api-audit.jsonl" >/dev/null || fail "audit: $(cat "$T/api-audit.jsonl")"
jq -se '.[0].before | test("reason \\(none\\)")' "$T/api-audit.jsonl" >/dev/null || fail "audit before: $(head -1 "$T/api-audit.jsonl")"
gb_start --config "$T/plant.yaml"
grep -q 'applied 4 recorded changes' "$T/stderr" || fail "changes not replayed: $(grep oee "$T/stderr")"
again=$(get "/api/v1/oee?from=$from&to=$to")
gb_stop
diff <(jq -S . <<<"$live") <(jq -S . <<<"$again") || fail "changes not kept across a restart"
off=$("$GEMBA" oee --plant "$T/plant.yaml" --data "$T/data" --from "$from" --to "$to") || fail "offline"
diff <(jq -S . <<<"$live") <(jq -S . <<<"$off") || fail "offline does not see the changes"

check_sanitizers "$T/replay.err"
echo "ok: $first samples, reconnect without duplicates; OEE $oee_hand = 2100/3600; after the changes $(jq .total.oee <<<"$off") = 2040/3300"
