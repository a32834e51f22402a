# gemba serve polling an MTConnect agent (tests/support/mtc_agent.c, a lathe cycling every 2 s):
#  1. every tag arrives; the agent goes away for 4 s while the machine goes on, comes back with its
#     buffer, and every sequence number is published exactly once -- per tag, the store holds the
#     value /current gave plus each observation the agent made since, no more, no fewer;
#  2. the agent restarts with a new instanceId: noticed once, and read from its first observation;
#  3. the agent comes back with a buffer too small for the outage: the loss is said once, with
#     the sequence numbers lost, and data goes on.
source "$(dirname "$0")/lib.sh"
: "${GB_MTC_AGENT:?set GB_MTC_AGENT to the test agent}"
AP=""
APORT=0

start_agent() { # ARGS...
  rm -f "$T/agent.ready"
  "$GB_MTC_AGENT" --listen "127.0.0.1:$APORT" --ready-file "$T/agent.ready" --state "$T/agent.state" \
    --tick-ms 50 "$@" 2>>"$T/agent.err" &
  AP=$!
  for _ in $(seq 1 200); do [ -s "$T/agent.ready" ] && break; sleep 0.05; done
  [ -s "$T/agent.ready" ] || fail "test agent not ready: $(cat "$T/agent.err")"
  APORT=$(cat "$T/agent.ready")
}
kill_agent() { kill -KILL "$AP"; wait "$AP" 2>/dev/null || true; AP=""; }
health() { get /api/v1/health | jq -r "$1"; }
tag() { get /api/v1/tags | jq -r --arg n "$1" '.tags[] | select(.name == $n) | .value'; }
wait_for() { # JQ-ON-HEALTH WHAT
  for _ in $(seq 1 150); do [ "$(health "$1")" = true ] && return 0; sleep 0.1; done
  fail "$2: $(get /api/v1/health)"
}
settle() { # waits until the adapter's counts stop moving
  local prev=-1 cur
  for _ in $(seq 1 100); do
    cur=$(health '.adapters[0].samples + .adapters[0].duplicates')
    [ "$cur" = "$prev" ] && return 0
    prev=$cur; sleep 0.5
  done
  fail "the adapter never settled"
}

# --- 1. all tags; an outage with the agent's buffer intact: no gap, no duplicate -----------
start_agent --run-for-s 15
epoch=$(sed -E 's/.*epoch_ns=([0-9]+).*/\1/' "$T/agent.state")
sed "s|@URL@|http://127.0.0.1:$APORT|" "$GB_SRC/tests/data/mtconnect/plant.yaml.in" > "$T/plant.yaml"
"$GEMBA" check-config "$T/plant.yaml" >/dev/null || fail "plant file: $("$GEMBA" check-config "$T/plant.yaml" 2>&1)"
gb_start --config "$T/plant.yaml"
wait_for '.adapters[0].state == "connected" and .adapters[0].samples > 20' "never connected"
grep -q '14 of 14 tags bound' "$T/stderr" || fail "not every tag bound: $(grep mtconnect "$T/stderr")"
tags=$(get /api/v1/tags)
val() { jq -r --arg n "$1" '.tags[] | select(.name == $n) | .value' <<<"$tags"; }
[ "$(val avail)" = AVAILABLE ] && [ "$(val agent_avail)" = AVAILABLE ] && [ "$(val mode)" = AUTOMATIC ] \
  || fail "availability/mode: $tags"
case "$(val execution)" in ACTIVE|READY|STOPPED) ;; *) fail "execution $(val execution)" ;; esac
case "$(val program)" in O10[1-5]0) ;; *) fail "program $(val program)" ;; esac
case "$(val system)" in NORMAL|WARNING|FAULT) ;; *) fail "system $(val system)" ;; esac
[[ "$(val part_count)" =~ ^[0-9]+$ ]] && [[ "$(val spindle_speed)" =~ ^[0-9.]+$ ]] || fail "numbers: $tags"
sleep 1.5
kill_agent
wait_for '.adapters[0].state != "connected"' "the agent's going went unnoticed"
h=$(get /api/v1/health)
[ "$(jq -r .status <<<"$h")" = degraded ] || fail "health not degraded without the agent: $h"
jq -e '.adapters[0].last_error | test("cannot get http://127.0.0.1:[0-9]+/sample")' <<<"$h" >/dev/null \
  || fail "no last_error: $h"
sleep 4 # the machine goes on; the agent will have it all when it is back
start_agent --run-for-s 15
wait_for '.adapters[0].connects == 2 and .adapters[0].state == "connected"' "did not reconnect"
# wait for the machine to stop (15 s after its epoch), then for gemba to read the rest
while [ $(( ($(date +%s%N) - epoch) / 1000000000 )) -lt 16 ]; do sleep 0.5; done
settle
h=$(get /api/v1/health)
[ "$(jq .adapters[0].duplicates <<<"$h")" = 0 ] && [ "$(jq .adapters[0].malformed <<<"$h")" = 0 ] \
  || fail "duplicates or malformed: $h"
jq -e '.adapters[0].clock_offset_ms | type == "number"' <<<"$h" >/dev/null || fail "no clock offset: $h"
grep -q 'sample from=[0-9]* count=50 -> .* n=50$' "$T/agent.err" || fail "no catching up in full answers"
# what the agent made since the /current gemba started from, per data item
S=$(grep -m1 -o 'current -> .* next=[0-9]*' "$T/agent.err" | grep -o '[0-9]*$')
dump=$(curl -sS --max-time 10 "http://127.0.0.1:$APORT/sample?from=$S&count=131072")
n() { { grep -o "dataItemId=\"$1\"" <<<"$dump" || true; } | wc -l; }
declare -A want=([avail]=avail [agent_avail]=agent_avail [mode]=mode [execution]=exec [program]=pgm
  [part_count]=pc [message]=msg [message_code]=msg [spindle_speed]=c1_speed [spindle_load]=c1_load
  [system]=cont_system [fault_code]=cont_system [fault_text]=cont_system [fault_severity]=cont_system)
total=0
for t in "${!want[@]}"; do total=$(( total + 1 + $(n "${want[$t]}") )); done
[ "$(n pc)" -ge 4 ] && [ "$(n cont_system)" -ge 2 ] || fail "too little happened: $(n pc) parts"
samples=$(jq .adapters[0].samples <<<"$h")
[ "$samples" = "$total" ] || fail "published $samples samples; the agent made $total for the tags since sequence $S"
last_pc=$(tag part_count)
gb_stop
stats=$("$GEMBA" store stats --data "$T/data" --format json)
for t in "${!want[@]}"; do
  got=$(jq --arg t "cnc07/$t" '[.by_series[] | select(.series | endswith($t)) | .points] | add' <<<"$stats")
  [ "$got" = $(( 1 + $(n "${want[$t]}") )) ] || fail "tag $t: $got points stored, expected 1 + $(n "${want[$t]}")"
done
# the part counter went up one by one, each value once
pcs=$(grep -o 'dataItemId="pc"[^>]*>[0-9]*<' <<<"$dump" | grep -o '>[0-9]*<' | tr -d '<>')
[ "$(tail -1 <<<"$pcs")" = "$last_pc" ] || fail "last part count $last_pc, agent ended at $(tail -1 <<<"$pcs")"
[ "$(tr '\n' ' ' <<<"$pcs")" = "$(seq "$(head -1 <<<"$pcs")" "$last_pc" | tr '\n' ' ')" ] || fail "part counts: $pcs"
echo "phase 1: $samples samples from sequence $S, $(n pc) parts, no gap, no duplicate"

# --- 2. an agent restart: a new instanceId ------------------------------------------------------
kill_agent
rm -rf "$T/data"
start_agent # the same instance again, the machine running on
gb_start --config "$T/plant.yaml"
wait_for '.adapters[0].state == "connected"' "never connected (2)"
kill_agent
start_agent --new-instance
new_id=$(grep -o 'instance=[0-9]* restarted' "$T/agent.err" | grep -o '[0-9]*')
for _ in $(seq 1 150); do grep -q 'the agent restarted' "$T/stderr" && break; sleep 0.1; done
wait_for '.adapters[0].state == "connected"' "not connected to the new instance"
[ "$(grep -c 'the agent restarted' "$T/stderr")" = 1 ] || fail "restart said $(grep -c 'the agent restarted' "$T/stderr") times"
grep -q "the agent restarted (instanceId $new_id, was" "$T/stderr" || fail "restart line: $(grep restarted "$T/stderr")"
grep -q 'sample from=1 count=50' "$T/agent.err" || fail "the new instance was not read from its first observation"
p1=$(tag part_count)
for _ in $(seq 1 100); do [ "$(tag part_count)" -gt "$p1" ] && break; sleep 0.1; done
[ "$(tag part_count)" -gt "$p1" ] || fail "no data after the restart: part count stays $p1"
[ "$(grep -c 'the agent restarted' "$T/stderr")" = 1 ] || fail "restart said more than once"

# --- 3. the buffer lost what the outage made: said once, with the numbers --------------------
kill_agent
sleep 4
start_agent --buffer 32
for _ in $(seq 1 100); do grep -q 'data lost' "$T/stderr" && break; sleep 0.1; done
line=$(grep -m1 -o 'data lost: sequence numbers [0-9]* to [0-9]* ([0-9]*)' "$T/stderr") || fail "no loss said"
read -r lo hi cnt < <(sed -E 's/.* ([0-9]+) to ([0-9]+) \(([0-9]+)\)/\1 \2 \3/' <<<"$line")
[ "$cnt" = $(( hi - lo + 1 )) ] && [ "$cnt" -gt 0 ] || fail "$line"
grep -q "current -> instance=$new_id first=$(( hi + 1 ))" "$T/agent.err" || fail "lost up to $hi, but the agent's buffer starts elsewhere: $(grep current "$T/agent.err" | tail -2)"
grep -q "sample from=$lo " "$T/agent.err" || fail "gemba did not ask from $lo"
wait_for '.adapters[0].state == "connected"' "not connected after the loss"
p2=$(tag part_count)
for _ in $(seq 1 100); do [ "$(tag part_count)" -gt "$p2" ] && break; sleep 0.1; done
[ "$(tag part_count)" -gt "$p2" ] || fail "no data after the loss"
# /current gave again the values already taken before the outage: at most one per tag, dropped
jq -e '.adapters[0].duplicates <= 14' <<<"$(get /api/v1/health)" >/dev/null || fail "duplicates: $(get /api/v1/health)"
gb_stop
kill -TERM "$AP"; wait "$AP" || fail "test agent exited $?"
check_sanitizers "$T/agent.err"
echo "ok: $samples samples without gap or duplicate across an outage; restart noticed once; $line"
