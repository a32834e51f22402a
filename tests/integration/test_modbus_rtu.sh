# Modbus RTU over a serial line -- a pseudo-terminal pair made with socat -- with the libmodbus
# test server in RTU mode on one end and the modbus-rtu adapter on the other: values in, a write
# out, a silent device reported, and the line coming back.
source "$(dirname "$0")/lib.sh"
: "${GB_MODBUS_SERVER:?set GB_MODBUS_SERVER to the test server}"
command -v socat >/dev/null || fail "socat is needed (make test installs it)"
socat pty,raw,echo=0,link="$T/ttyS" pty,raw,echo=0,link="$T/ttyG" 2>"$T/socat.err" &
SOCAT=$!
for _ in $(seq 1 100); do [ -e "$T/ttyS" ] && [ -e "$T/ttyG" ] && break; sleep 0.05; done
[ -e "$T/ttyG" ] || fail "no pty pair: $(cat "$T/socat.err")"
start_server() {
  rm -f "$T/mb.ready"
  "$GB_MODBUS_SERVER" --rtu "$T/ttyS" --ready-file "$T/mb.ready" 2>>"$T/mb.err" &
  MP=$!
  for _ in $(seq 1 100); do [ -s "$T/mb.ready" ] && break; sleep 0.05; done
  [ -s "$T/mb.ready" ] || fail "RTU server not ready: $(cat "$T/mb.err")"
}
start_server
cat > "$T/plant.yaml" <<YAML
site: {name: rtu, timezone: UTC}
adapters:
  - {name: bus1, type: modbus-rtu, device: "$T/ttyG", baud: 19200, parity: none, unit_id: 1,
     interval: 200ms, timeout: 300ms, retries: 0, reconnect_max: 300ms, writable: [drive/speed]}
areas: [{name: a, lines: [{name: l, machines: [{name: drive, adapter: bus1, tags: [
  {name: speed, type: int, address: "hr:0:int16"},
  {name: temp, type: float, address: "hr:2:float32"},
  {name: recipe, type: string, address: "hr:20:string:5"},
  {name: running, type: bool, address: "coil:3"},
  {name: estop, type: bool, address: "di:7"}]}]}]}]
YAML
gb_start --config "$T/plant.yaml"
TOKEN=$(gb_token engineer) # write-back and ingest are an engineer's
val() { get /api/v1/tags | jq -c --arg n "$1" '.tags[] | select(.name == $n) | .value'; }
for _ in $(seq 1 100); do [ "$(val estop)" = true ] && break; sleep 0.1; done
[ "$(val speed)" = 1234 ] && [ "$(val temp)" = 123.5 ] && [ "$(val recipe)" = '"GEMBA-01"' ] \
  && [ "$(val running)" = true ] && [ "$(val estop)" = true ] || fail "values: $(get /api/v1/tags | jq -c '[.tags[] | {(.name): .value}] | add')"
code=$(curl -sS -o "$T/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
       --data '{"value": 777}' "$GB_URL/api/v1/tags/drive/speed/value")
[ "$code" = 200 ] || fail "RTU write: $code $(cat "$T/resp")"
for _ in $(seq 1 30); do [ "$(val speed)" = 777 ] && break; sleep 0.1; done
[ "$(val speed)" = 777 ] || fail "written value not read back: $(val speed)"

# the device goes silent: timeouts, reported; then it answers again
kill -TERM "$MP"; wait "$MP" || true
for _ in $(seq 1 50); do
  get /api/v1/health | jq -e '.adapters[0].last_error | test("timed out")' >/dev/null && break; sleep 0.1
done
get /api/v1/health | jq -e '.adapters[0].last_error | test("timed out")' >/dev/null || fail "silence not reported: $(get /api/v1/health | jq -c .adapters[0])"
start_server
for _ in $(seq 1 100); do [ "$(get /api/v1/health | jq -r '.adapters[0].state')" = connected ] && [ "$(val speed)" = 1234 ] && break; sleep 0.1; done
[ "$(val speed)" = 1234 ] || fail "no data after the device came back: $(get /api/v1/health | jq -c .adapters[0]); server: $(tail -5 "$T/mb.err")"
kill -TERM "$MP"; wait "$MP" || true
gb_stop
kill "$SOCAT" 2>/dev/null || true
echo ok
