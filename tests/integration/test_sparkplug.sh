# Sparkplug B against a real mosquitto broker and an edge node of ours: births define the tags,
# data arrives by alias, a resend is dropped, a seq gap gets a Rebirth request that the node
# answers, a stale death is ignored, the node's will marks its tags stale, and both the node and
# the broker going away and coming back lose and duplicate nothing.
source "$(dirname "$0")/lib.sh"
: "${GB_SPB_NODE:?set GB_SPB_NODE to the test edge node}"
mqtt_broker_start ""
cat > "$T/plant.yaml" <<YAML
site: {name: spb, timezone: UTC}
adapters:
  - {name: broker, type: sparkplug-b, port: $MQ_PORT, group: plant1, host_id: gemba-test,
     rebirth_wait: 300ms, reconnect_max: 300ms, client_id: gemba-test-host}
areas: [{name: a, lines: [{name: l, machines: [{name: press, adapter: broker, tags: [
  {name: temp, type: float, address: "E1/D1:Inputs/Temperature"},
  {name: total, type: int, address: "E1/D1:Counts/Total"},
  {name: exec, type: string, address: "E1/D1:Execution"},
  {name: offset, type: int, address: "E1/D1:Signed/Offset"},
  {name: running, type: bool, address: "E1/D1:Running"},
  {name: uptime, type: int, address: "E1:Properties/Uptime"}]}]}]}]
YAML
"$GEMBA" check-config "$T/plant.yaml" >/dev/null || fail "plant file refused"
gb_start --config "$T/plant.yaml"
health() { get /api/v1/health | jq -c '.adapters[0]'; }
wait_for 10 sh -c "curl -s $GB_URL/api/v1/health | jq -e '.adapters[0].state == \"connected\"'" \
  || fail "not connected: $(health)"
# the host's STATE is retained on the broker
state=$(mosquitto_sub -p "$MQ_PORT" -h 127.0.0.1 -t spBv1.0/STATE/gemba-test -C 1 -W 5) || fail "no STATE"
echo "$state" | jq -e '.online == true and (.timestamp | type == "number")' >/dev/null || fail "STATE: $state"

node_start() {
  rm -f "$T/node.in"; mkfifo "$T/node.in"
  "$GB_SPB_NODE" --port "$MQ_PORT" --group plant1 --edge E1 --device D1 --bdseq "$1" \
    < "$T/node.in" > "$T/node.out" 2>>"$T/node.err" &
  NODE=$!
  exec 7>"$T/node.in"
  wait_for 10 grep -q ready "$T/node.out" || fail "node not born: $(cat "$T/node.err")"
}
cmd() { echo "$*" >&7; }
vals() { get /api/v1/tags | jq -c '[.tags[] | select(.machine == "press" and (.name | startswith("oee.") | not)) | {(.name): .value}] | add'; }
quals() { get /api/v1/tags | jq -r '[.tags[] | select(.machine == "press" and (.name | startswith("oee.") | not)) | .quality] | unique | join(",")'; }
val() { get /api/v1/tags | jq -c --arg n "$1" '.tags[] | select(.machine == "press" and .name == $n) | .value'; }

node_start 0
expect='{"temp":20.5,"total":0,"exec":"READY","offset":-5,"running":false,"uptime":0}'
for _ in $(seq 1 100); do [ "$(vals)" = "$expect" ] && break; sleep 0.1; done
[ "$(vals)" = "$expect" ] || fail "birth values: $(vals)"

# data by alias; an Int16 keeps its sign
cmd data 21.25 3 ACTIVE -300 1
for _ in $(seq 1 50); do [ "$(val offset)" = -300 ] && break; sleep 0.1; done
[ "$(vals)" = '{"temp":21.25,"total":3,"exec":"ACTIVE","offset":-300,"running":true,"uptime":0}' ] \
  || fail "data values: $(vals)"
cmd ndata 42
for _ in $(seq 1 50); do [ "$(val uptime)" = 42 ] && break; sleep 0.1; done
[ "$(val uptime)" = 42 ] || fail "node data: $(vals)"

# a redelivered message (same seq) is dropped and counted
d0=$(health | jq .duplicates)
cmd dup
for _ in $(seq 1 50); do [ "$(health | jq .duplicates)" -gt "$d0" ] && break; sleep 0.1; done
[ "$(health | jq .duplicates)" -gt "$d0" ] || fail "resend not counted: $(health)"

# a seq gap: gemba asks for a rebirth, the node answers it
cmd gap
cmd data 22.5 4 ACTIVE 7 1
wait_for 10 grep -q rebirth "$T/node.out" || fail "no rebirth request reached the node: $(health)"
[ "$(health | jq .resyncs)" -ge 1 ] || fail "rebirth not counted: $(health)"
for _ in $(seq 1 50); do [ "$(val total)" = 4 ] && break; sleep 0.1; done
[ "$(val total)" = 4 ] && [ "$(val offset)" = 7 ] || fail "data after the gap: $(vals)"

# a death from an older session (another bdSeq) changes nothing
cmd death 99
sleep 0.5
[ "$(quals)" = good ] || fail "a stale NDEATH marked tags: $(quals)"
grep -q 'ignored a death of edge node E1' "$T/stderr" || fail "stale death not reported"

# the node vanishes: the broker sends its will, the tags go stale (last value, bad quality)
cmd crash
exec 7>&-
wait "$NODE" 2>/dev/null || true
for _ in $(seq 1 100); do [ "$(quals)" = bad ] && break; sleep 0.1; done
[ "$(quals)" = bad ] || fail "tags not stale after the node's death: $(get /api/v1/tags | jq -c '[.tags[] | {name, quality}]')"
[ "$(val total)" = 4 ] || fail "stale tag lost its last value: $(vals)"

# it comes back with the next bdSeq: fresh births, good values
node_start 1
for _ in $(seq 1 100); do [ "$(quals)" = good ] && break; sleep 0.1; done
[ "$(quals)" = good ] || fail "tags not good after the rebirth: $(quals)"
cmd data 23 5 READY 0 0
for _ in $(seq 1 50); do [ "$(val total)" = 5 ] && break; sleep 0.1; done
[ "$(val total)" = 5 ] || fail "data after the node came back: $(vals)"

# the broker goes away: reported; it comes back: both reconnect and data flows again
mqtt_broker_stop
for _ in $(seq 1 100); do [ "$(health | jq -r .state)" != connected ] && break; sleep 0.1; done
[ "$(health | jq -r .state)" != connected ] || fail "broker loss not seen: $(health)"
health | jq -e '.last_error | test("lost|connect")' >/dev/null || fail "no error for the lost broker: $(health)"
mqtt_broker_start ""
for _ in $(seq 1 100); do [ "$(health | jq -r .state)" = connected ] && break; sleep 0.1; done
[ "$(health | jq .connects)" -ge 2 ] || fail "no reconnect: $(health)"
for _ in $(seq 1 100); do grep -c ready "$T/node.out" | grep -q 2 && break; sleep 0.1; done
sleep 0.3
cmd data 24 6 ACTIVE 1 1
for _ in $(seq 1 100); do [ "$(val total)" = 6 ] && break; sleep 0.1; done
[ "$(val total)" = 6 ] || fail "no data after the broker came back: $(vals) $(health)"

# every value change of the test reached the store: 6 tags from births plus the updates
cmd quit
exec 7>&-
wait "$NODE" 2>/dev/null || true
gb_stop
pts() { "$GEMBA" store stats --data "$T/data" --format json | jq --arg s "$1" '[.by_series[] | select(.series | endswith($s)) | .points] | add // 0'; }
[ "$(pts press/total)" -ge 6 ] || fail "store holds $(pts press/total) points of total"
[ "$(grep -c 'malformed' "$T/stderr" || true)" = 0 ] || fail "malformed input reported: $(grep malformed "$T/stderr")"
mqtt_broker_stop
echo ok
