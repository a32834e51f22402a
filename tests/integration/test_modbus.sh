# A real libmodbus server (tests/support/modbus_server.c) polled by the modbus-tcp adapter: every
# type and byte/word order decodes exactly, a bad address gets the device's exception on that tag
# alone, adjacent addresses are read together, and the device going away and coming back is
# survived.
source "$(dirname "$0")/lib.sh"
: "${GB_MODBUS_SERVER:?set GB_MODBUS_SERVER to the test server}"
MP=""
start_server() {
  rm -f "$T/mb.ready"
  "$GB_MODBUS_SERVER" --port "$1" --ready-file "$T/mb.ready" 2>>"$T/mb.err" &
  MP=$!
  for _ in $(seq 1 100); do [ -s "$T/mb.ready" ] && break; sleep 0.05; done
  [ -s "$T/mb.ready" ] || fail "modbus server not ready: $(cat "$T/mb.err")"
  MPORT=$(cat "$T/mb.ready")
}
start_server 0
cat > "$T/plant.yaml" <<YAML
site: {name: mb, timezone: UTC}
adapters:
  - {name: plc, type: modbus-tcp, host: 127.0.0.1, port: $MPORT, interval: 200ms,
     groups: {fast: 100ms}, timeout: 500ms, retries: 1, reconnect_max: 500ms,
     writable: [press/speed, press/setpoint, press/door, press/running, press/recipe]}
areas: [{name: a, lines: [{name: l, machines: [{name: press, adapter: plc, tags: [
  {name: speed, type: int, address: "hr:0:int16"},
  {name: neg, type: int, address: "hr:1:int16"},
  {name: uneg, type: int, address: "hr:1"},
  {name: temp_abcd, type: float, address: "hr:2:float32"},
  {name: temp_cdab, type: float, address: "hr:4:float32:cdab"},
  {name: serial_badc, type: int, address: "hr:6:uint32:badc"},
  {name: delta_dcba, type: int, address: "hr:8:int32:dcba"},
  {name: door, type: bool, address: "hr:10.3"},
  {name: lamp, type: bool, address: "hr:10.0"},
  {name: recipe, type: string, address: "hr:20:string:5"},
  {name: e, type: float, address: "hr:30:float64"},
  {name: big, type: int, address: "hr:40:int64"},
  {name: parts, type: int, address: "hr:50@fast"},
  {name: pressure, type: float, address: "ir:0:int16", scale: 0.1},
  {name: flow, type: int, address: "ir:1:uint32"},
  {name: running, type: bool, address: "coil:3"},
  {name: fault, type: bool, address: "coil:4"},
  {name: estop, type: bool, address: "di:7"},
  {name: setpoint, type: float, address: "hr:60:int16", scale: 0.1},
  {name: bit5, type: bool, address: "hr:10.5"},
  {name: missing, type: int, address: "hr:500"}]}]}]}]
YAML
gb_start --config "$T/plant.yaml"
for _ in $(seq 1 100); do
  [ "$(get /api/v1/tags | jq '[.tags[] | select(.name=="estop") | .value] | .[0]')" = true ] && break
  sleep 0.1
done
tags=$(get /api/v1/tags)
val() { jq -c --arg n "$1" '.tags[] | select(.name == $n) | .value' <<<"$tags"; }
expect() { [ "$(val "$1")" = "$2" ] || fail "$1 = $(val "$1"), expected $2"; }
expect speed 1234; expect neg -2; expect uneg 65534
expect temp_abcd 123.5; expect temp_cdab -7.25
expect serial_badc 305419896; expect delta_dcba -100000
expect door true; expect lamp false; expect recipe '"GEMBA-01"'
expect e 2.718281828; expect big -9000000000
expect pressure -0.5; expect flow 70000
expect running true; expect fault false; expect estop true
expect missing null
p1=$(val parts); sleep 0.5; p2=$(get /api/v1/tags | jq '.tags[] | select(.name=="parts") | .value')
[ "$p2" -gt "$p1" ] || fail "the fast group did not follow the counter: $p1 then $p2"
h=$(get /api/v1/health)
jq -e '.adapters[0].state == "connected" and .adapters[0].exceptions > 0' <<<"$h" >/dev/null || fail "health: $h"
jq -e '.adapters[0].last_error | test("tag missing .register 500.: Illegal data address")' <<<"$h" >/dev/null \
  || fail "exception not on the tag: $(jq -r '.adapters[0].last_error' <<<"$h")"
# adjacent addresses came in one request each: hr 0-10, hr 20-43 (gaps of up to 8 merged)
grep -q 'req fc=3 addr=0 n=11' "$T/mb.err" || fail "hr 0..10 not read at once: $(sort "$T/mb.err" | uniq -c | head)"
grep -q 'req fc=3 addr=20 n=24' "$T/mb.err" || fail "hr 20..43 not read at once"
grep -q 'req fc=4 addr=0 n=3' "$T/mb.err" || fail "ir 0..2 not read at once"
grep -q 'req fc=1 addr=3 n=2' "$T/mb.err" || fail "coils 3..4 not read at once"

# write-back: only what the plant file allows, authenticated, audited
TOKEN=$(gb_token engineer) # write-back and ingest are an engineer's
w() { # TAG JSON-VALUE [TOKEN] -> status
  curl -sS -o "$T/resp" -w '%{http_code}' -X POST ${3:+-H "Authorization: Bearer $3"} \
       --data "{\"value\": $2}" "$GB_URL/api/v1/tags/press/$1/value"
}
[ "$(w speed 4321)" = 401 ] || fail "write without a token"
[ "$(w speed 4321 "$(gb_token operator)")" = 403 ] || fail "an operator wrote a value back: $(cat "$T/resp")"
[ "$(w speed 4321 "$TOKEN")" = 200 ] || fail "write speed: $(cat "$T/resp")"
[ "$(w setpoint 12.5 "$TOKEN")" = 200 ] || fail "write setpoint: $(cat "$T/resp")"
[ "$(w door false "$TOKEN")" = 200 ] || fail "write door: $(cat "$T/resp")"
[ "$(w running false "$TOKEN")" = 200 ] || fail "write coil: $(cat "$T/resp")"
[ "$(w recipe '"NEW-2"' "$TOKEN")" = 200 ] || fail "write string: $(cat "$T/resp")"
[ "$(w neg 5 "$TOKEN")" = 403 ] || fail "a tag not listed as writable was written"
[ "$(w estop true "$TOKEN")" = 403 ] || fail "a discrete input was written"
[ "$(w speed 70000 "$TOKEN")" = 422 ] || fail "70000 into an int16: $(cat "$T/resp")"
[ "$(w speed '"fast"' "$TOKEN")" = 400 ] || fail "text into a number"
[ "$(w nosuch 1 "$TOKEN")" = 404 ] || fail "unknown tag"
sleep 0.6
tags=$(get /api/v1/tags)
expect speed 4321; expect setpoint 12.5; expect door false; expect bit5 true
expect running false; expect recipe '"NEW-2"'
grep -q 'req fc=6 addr=60 n=125' "$T/mb.err" || fail "setpoint 12.5 not written as raw 125 (scale 0.1)"
[ "$(grep -c '"action":"write"' "$T/data/audit.jsonl")" = 5 ] || fail "writes not audited: $(cat "$T/data/audit.jsonl")"
jq -se 'map(select(.action == "write"))[0] | .target == "press/speed" and .before == "1234" and .after == "4321"
        and .who == "engineer-1" and .via == "token"' "$T/data/audit.jsonl" >/dev/null \
  || fail "audit entry: $(grep -m1 '"write"' "$T/data/audit.jsonl")"

# the device goes away and comes back
kill -TERM "$MP"; wait "$MP" || true
for _ in $(seq 1 50); do [ "$(get /api/v1/health | jq -r '.adapters[0].state')" != connected ] && break; sleep 0.1; done
[ "$(get /api/v1/health | jq -r .status)" = degraded ] || fail "health not degraded without the device"
start_server "$MPORT"
for _ in $(seq 1 100); do [ "$(get /api/v1/health | jq '.adapters[0].connects')" -ge 2 ] && break; sleep 0.1; done
[ "$(get /api/v1/health | jq '.adapters[0].connects')" -ge 2 ] || fail "no reconnect: $(get /api/v1/health)"
sleep 0.5
p3=$(get /api/v1/tags | jq '.tags[] | select(.name=="parts") | .value')
[ "$p3" -ge 1 ] || fail "no data after the reconnect"
kill -TERM "$MP"; wait "$MP" || true
gb_stop
echo "ok"
