# One plant with a machine of each kind, each behind its real peer: a PLC (the libmodbus test
# server), a CNC with an MTConnect adapter (gemba replay-shdr), a Haas control (the fake one of
# ours), a CNC behind an MTConnect agent (the test agent of ours), devices publishing JSON on an
# MQTT broker and a Sparkplug B edge node (a real mosquitto).
# Every tag arrives, in /api/v1/tags and in the store; every adapter shows connected in
# /api/v1/health; every peer goes away at once and comes back, and each adapter recovers by itself.
source "$(dirname "$0")/lib.sh"
: "${GB_MODBUS_SERVER:?}" "${GB_HAAS_MACHINE:?}" "${GB_SPB_NODE:?}" "${GB_MTC_AGENT:?}"

wait_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done; fail "not ready: $1"; }
start_modbus() {
  rm -f "$T/mb.ready"
  "$GB_MODBUS_SERVER" --port "${MB_PORT:-0}" --ready-file "$T/mb.ready" --quiet 2>>"$T/mb.err" &
  MB=$!; wait_file "$T/mb.ready"; MB_PORT=$(cat "$T/mb.ready")
}
start_shdr() {
  rm -f "$T/shdr.ready"
  "$GEMBA" replay-shdr "$GB_SRC/tests/data/shdr/cnc-cycle.shdr" --listen "127.0.0.1:${SH_PORT:-0}" \
    --ready-file "$T/shdr.ready" --speed 60 --loop 2>>"$T/shdr.err" &
  SH=$!; wait_file "$T/shdr.ready"; SH_PORT=$(cut -d: -f2 "$T/shdr.ready")
}
start_haas() {
  rm -f "$T/haas.ready"
  "$GB_HAAS_MACHINE" --listen "127.0.0.1:${HA_PORT:-0}" --ready-file "$T/haas.ready" \
    --state "$T/haas.parts" --parts 100 --cycle 2 2>>"$T/haas.err" &
  HA=$!; wait_file "$T/haas.ready"; HA_PORT=$(cut -d: -f2 "$T/haas.ready")
}
start_agent() {
  rm -f "$T/agent.ready"
  "$GB_MTC_AGENT" --listen "127.0.0.1:${AG_PORT:-0}" --ready-file "$T/agent.ready" \
    --state "$T/agent.state" --tick-ms 50 2>>"$T/agent.err" &
  AG=$!; wait_file "$T/agent.ready"; AG_PORT=$(cat "$T/agent.ready")
}
start_node() {
  rm -f "$T/node.in"; mkfifo "$T/node.in"
  "$GB_SPB_NODE" --port "$MQ_PORT" --group plant1 --edge E1 --device D1 --bdseq "$1" \
    < "$T/node.in" > "$T/node.out" 2>>"$T/node.err" &
  NODE=$!; exec 7>"$T/node.in"
}
start_modbus; start_shdr; start_haas; start_agent; mqtt_broker_start ""; start_node 0

cat > "$T/plant.yaml" <<YAML
site: {name: hall, timezone: UTC}
adapters:
  - {name: plc, type: modbus-tcp, host: 127.0.0.1, port: $MB_PORT, interval: 200ms, timeout: 500ms,
     reconnect_max: 300ms}
  - {name: lathe, type: mtconnect-shdr, host: 127.0.0.1, port: $SH_PORT, heartbeat: 1s, timeout: 3s,
     conditions: [system], messages: [msg], time_series: [current], data_sets: [tools],
     reconnect_max: 300ms}
  - {name: vf2, type: haas-mdc, host: 127.0.0.1, port: $HA_PORT, interval: 200ms, timeout: 500ms,
     reconnect_max: 300ms}
  - {name: agent, type: mtconnect-agent, url: "http://127.0.0.1:$AG_PORT", interval: 200ms,
     timeout: 2s, reconnect_max: 300ms}
  - {name: broker, type: mqtt, port: $MQ_PORT, reconnect_max: 300ms}
  - {name: spb, type: sparkplug-b, port: $MQ_PORT, group: plant1, reconnect_max: 300ms,
     rebirth_wait: 300ms}
areas: [{name: hall, lines: [{name: l1, machines: [
  {name: press, adapter: plc, tags: [
    {name: speed, type: int, address: "hr:0:int16"},
    {name: temp, type: float, address: "hr:2:float32"},
    {name: running, type: bool, address: "coil:3"}]},
  {name: lathe, adapter: lathe, tags: [
    {name: execution, type: string},
    {name: pcount, type: int},
    {name: spindle_load, type: float, address: Sload}]},
  {name: mill, adapter: vf2, tags: [
    {name: execution, type: string, address: execution},
    {name: parts, type: int, address: parts},
    {name: program, type: string, address: program}]},
  {name: cnc07, adapter: agent, tags: [
    {name: execution, type: string, address: "cnc07:exec"},
    {name: part_count, type: int, address: pc},
    {name: spindle_load, type: float, address: c1_load}]},
  {name: oven, adapter: broker, tags: [
    {name: temp, type: float, address: "hall/oven/telemetry#/temp"},
    {name: state, type: string, address: "hall/oven/state"}]},
  {name: robot, adapter: spb, tags: [
    {name: temp, type: float, address: "E1/D1:Inputs/Temperature"},
    {name: total, type: int, address: "E1/D1:Counts/Total"},
    {name: execution, type: string, address: "E1/D1:Execution"}]}]}]}]
YAML
"$GEMBA" check-config "$T/plant.yaml" >/dev/null || fail "plant file refused"
gb_start --config "$T/plant.yaml"
publish_oven() {
  mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t hall/oven/telemetry -m "{\"temp\": $1}"
  mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -q 1 -r -t hall/oven/state -m HEATING
}
all_connected() { get /api/v1/health | jq -e '[.adapters[].state] | all(. == "connected")'; }
none_connected() { get /api/v1/health | jq -e '[.adapters[].state] | all(. != "connected")'; }
missing() { get /api/v1/tags | jq -r '[.tags[] | select((.name | startswith("oee.") | not) and .value == null) | "\(.machine)/\(.name)"] | join(" ")'; }
wait_for 15 all_connected || fail "not all connected: $(get /api/v1/health | jq -c '[.adapters[] | {name, state, last_error}]')"
publish_oven 180.5
echo "data 21.5 3 ACTIVE 0 1" >&7
for _ in $(seq 1 100); do [ -z "$(missing)" ] && break; sleep 0.1; done
[ -z "$(missing)" ] || fail "tags without a value: $(missing)"
get /api/v1/health | jq -e '[.adapters[].malformed] | add == 0' >/dev/null \
  || fail "malformed input: $(get /api/v1/health | jq -c '[.adapters[] | {name, malformed}]')"

# every peer goes away at once: each adapter says so
echo crash >&7; exec 7>&-
for p in $MB $SH $HA $AG $NODE; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
mqtt_broker_stop
wait_for 15 none_connected || fail "lost peers not seen: $(get /api/v1/health | jq -c '[.adapters[] | {name, state}]')"
get /api/v1/health | jq -e '[.adapters[].last_error] | all(. != null)' >/dev/null \
  || fail "an adapter lost its peer without an error: $(get /api/v1/health | jq -c '[.adapters[] | {name, last_error}]')"
s0=$(get /api/v1/health | jq '[.adapters[].samples] | add')

# ... and comes back on the same address: each adapter reconnects and data flows again
start_modbus; start_shdr; start_haas; start_agent; mqtt_broker_start ""; start_node 1
wait_for 15 all_connected || fail "not all back: $(get /api/v1/health | jq -c '[.adapters[] | {name, state, last_error}]')"
publish_oven 181
echo "data 22 4 ACTIVE 0 1" >&7
per() { get /api/v1/health | jq -c '[.adapters[] | {(.name): .samples}] | add'; }
before=$(per)
for _ in $(seq 1 100); do
  [ "$(get /api/v1/tags | jq '[.tags[] | select(.machine == "oven" and .name == "temp") | .value][0]')" = 181 ] \
    && [ "$(get /api/v1/tags | jq '[.tags[] | select(.machine == "robot" and .name == "total") | .value][0]')" = 4 ] && break
  sleep 0.1
done
[ "$(get /api/v1/health | jq '[.adapters[].samples] | add')" -gt "$s0" ] || fail "no data after the peers came back"
[ "$(get /api/v1/tags | jq '[.tags[] | select(.machine == "robot" and .name == "total") | .value][0]')" = 4 ] \
  || fail "Sparkplug data after the comeback: $(per)"
[ "$(get /api/v1/tags | jq '[.tags[] | select(.machine == "oven" and .name == "temp") | .value][0]')" = 181 ] \
  || fail "MQTT data after the comeback: $(per)"
echo quit >&7; exec 7>&-
gb_stop
# every tag has points in the store
stats=$("$GEMBA" store stats --data "$T/data" --format json)
for t in press/speed press/temp press/running lathe/execution lathe/pcount lathe/spindle_load \
         mill/execution mill/parts mill/program cnc07/execution cnc07/part_count cnc07/spindle_load oven/temp oven/state robot/temp robot/total robot/execution; do
  n=$(jq --arg s "$t" '[.by_series[] | select(.series | endswith("/" + $s)) | .points] | add // 0' <<<"$stats")
  [ "$n" -gt 0 ] || fail "no points of $t in the store"
done
mqtt_broker_stop
echo ok
