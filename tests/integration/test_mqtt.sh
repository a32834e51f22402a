# MQTT with JSON and plain-text payloads against a real mosquitto broker over TLS with a password:
# values by JSON pointer, device time, wildcards, a resend dropped, malformed input counted and
# logged once, a wrong password and a wrong CA reported, and a QoS 1 persistent session keeping
# what was published while gemba was down.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is needed (make test installs it)"
command -v mosquitto_pub >/dev/null || fail "mosquitto_pub is needed (make test installs it)"
# a CA, a broker certificate for 127.0.0.1 it signed, and an unrelated CA
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$T/ca.key" -out "$T/ca.crt" -days 2 -subj /CN=gemba-test-ca 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout "$T/other.key" -out "$T/other.crt" -days 2 -subj /CN=other-ca 2>/dev/null
openssl req "${ec[@]}" -keyout "$T/srv.key" -out "$T/srv.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$T/san"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
  -out "$T/srv.crt" -days 2 -extfile "$T/san" 2>/dev/null || fail "cannot make test certificates"
chmod 644 "$T"/*.key
mosquitto_passwd=$(command -v mosquitto_passwd || echo /usr/bin/mosquitto_passwd)
"$mosquitto_passwd" -c -b "$T/passwd" gemba 's3cret pass' 2>/dev/null
"$mosquitto_passwd" -b "$T/passwd" device devpw 2>/dev/null
mkdir -p "$T/mq"
broker_conf="allow_anonymous false
password_file $T/passwd
cafile $T/ca.crt
certfile $T/srv.crt
keyfile $T/srv.key
persistence true
persistence_location $T/mq/
autosave_interval 1"
mqtt_broker_start "$broker_conf"
printf 's3cret pass\n' > "$T/mqtt.pw"
cat > "$T/plant.yaml" <<YAML
site: {name: mq, timezone: UTC}
adapters:
  - {name: broker, type: mqtt, port: $MQ_PORT, username: gemba, password_file: "$T/mqtt.pw",
     tls: {ca_file: "$T/ca.crt"}, time_pointer: /ts, time_unit: ms, reconnect_max: 300ms,
     client_id: gemba-test-json}
  - {name: badpw, type: mqtt, port: $MQ_PORT, username: gemba, password: wrong,
     tls: {ca_file: "$T/ca.crt"}, reconnect_max: 300ms}
  - {name: badca, type: mqtt, port: $MQ_PORT, username: gemba, password: "s3cret pass",
     tls: {ca_file: "$T/other.crt"}, reconnect_max: 300ms}
areas: [{name: a, lines: [{name: l, machines: [
  {name: press, adapter: broker, tags: [
    {name: load, type: float, address: "plant/press-01/telemetry#/spindle/load"},
    {name: count, type: int, address: "plant/press-01/telemetry#/count"},
    {name: exec, type: string, address: "plant/press-01/telemetry#/exec"},
    {name: alarm, type: bool, address: "plant/press-01/telemetry#/alarm"},
    {name: mode, type: string, address: "plant/press-01/mode"},
    {name: temp, type: float, address: "plant/+/temperature"}]},
  {name: other, tags: [
    {name: x, type: float, adapter: badpw, address: "x"},
    {name: y, type: float, adapter: badca, address: "y"}]}]}]}]
YAML
"$GEMBA" check-config "$T/plant.yaml" >/dev/null || fail "plant file refused"
gb_start --config "$T/plant.yaml"
ad() { get /api/v1/health | jq -c --arg n "$1" '.adapters[] | select(.name == $n)'; }
wait_for 10 sh -c "curl -s $GB_URL/api/v1/health | jq -e '.adapters[] | select(.name == \"broker\") | .state == \"connected\"'" \
  || fail "not connected over TLS: $(ad broker)"
pub() { mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" --cafile "$T/ca.crt" -u device -P devpw -q 1 "$@"; }
vals() { get /api/v1/tags | jq -c '[.tags[] | select(.machine == "press" and (.name | startswith("oee.") | not)) | {(.name): .value}] | add'; }
tag() { get /api/v1/tags | jq -c --arg n "$1" '.tags[] | select(.machine == "press" and .name == $n)'; }

# device times from a second ahead: the device clock runs a little fast
t0=$(( ($(date +%s) + 1) * 1000 ))
t0_text=$(date -u -d "@$((t0 / 1000))" +%Y-%m-%dT%H:%M:%S).123Z
msg="{\"ts\": $((t0 + 123)), \"spindle\": {\"load\": 42.5}, \"count\": 7, \"exec\": \"ACTIVE\", \"alarm\": false}"
pub -t plant/press-01/telemetry -m "$msg"
pub -t plant/press-01/mode -m AUTOMATIC
pub -t plant/press-02/temperature -m 31.25
expect='{"load":42.5,"count":7,"exec":"ACTIVE","alarm":false,"mode":"AUTOMATIC","temp":31.25}'
for _ in $(seq 1 100); do [ "$(vals)" = "$expect" ] && break; sleep 0.1; done
[ "$(vals)" = "$expect" ] || fail "values: $(vals) $(ad broker)"
# the device's time, to the millisecond
[ "$(tag count | jq -r .time)" = "$t0_text" ] || fail "device time not used: $(tag count)"
ad broker | jq -e '.clock_offset_ms != null' >/dev/null || fail "no clock offset: $(ad broker)"

# the same message again (a resend) is dropped; a newer one is taken
pub -t plant/press-01/telemetry -m "$msg"
for _ in $(seq 1 50); do [ "$(ad broker | jq .duplicates)" -ge 4 ] && break; sleep 0.1; done
[ "$(ad broker | jq .duplicates)" = 4 ] || fail "resend: $(ad broker)"
pub -t plant/press-01/telemetry -m "{\"ts\": $((t0 + 1000)), \"spindle\": {\"load\": 50}, \"count\": 8, \"exec\": \"ACTIVE\", \"alarm\": true}"
for _ in $(seq 1 50); do [ "$(tag count | jq .value)" = 8 ] && break; sleep 0.1; done
[ "$(tag alarm | jq .value)" = true ] && [ "$(tag load | jq .value)" = 50 ] || fail "update: $(vals)"

# malformed input: counted every time, logged once, nothing else disturbed
m0=$(ad broker | jq .malformed)
pub -t plant/press-01/telemetry -m "{\"ts\": $((t0 + 2000)), \"spindle\": {\"load\": \"high\"}}"
pub -t plant/press-01/telemetry -m 'not json at all'
pub -t plant/press-02/temperature -m 'warm'
for _ in $(seq 1 50); do [ "$(ad broker | jq .malformed)" -ge $((m0 + 3)) ] && break; sleep 0.1; done
[ "$(ad broker | jq .malformed)" -ge $((m0 + 3)) ] || fail "malformed not counted: $(ad broker)"
[ "$(grep -c 'not JSON' "$T/stderr")" = 1 ] || fail "malformed input logged $(grep -c 'not JSON' "$T/stderr") times"
[ "$(tag count | jq .value)" = 8 ] || fail "a malformed message changed a value: $(vals)"

# a wrong password and a CA that did not sign the broker's certificate: said clearly
wait_for 10 sh -c "curl -s $GB_URL/api/v1/health | jq -e '.adapters[] | select(.name == \"badpw\") | .last_error | test(\"not authori[sz]ed\")'" \
  || fail "wrong password not reported: $(ad badpw)"
wait_for 10 sh -c "curl -s $GB_URL/api/v1/health | jq -e '.adapters[] | select(.name == \"badca\") | .last_error | test(\"certificate verify failed|TLS\")'" \
  || fail "wrong CA not reported: $(ad badca)"
[ "$(ad badpw | jq -r .state)" != connected ] && [ "$(ad badca | jq -r .state)" != connected ] \
  || fail "a refused adapter shows connected"
grep -q "s3cret\|wrong" "$T/stderr" && fail "a password reached the log"

# gemba stops; what is published meanwhile at QoS 1 waits in its persistent session
gb_stop
for i in 1 2 3; do
  pub -t plant/press-01/telemetry -m "{\"ts\": $((t0 + 10000 + i * 1000)), \"spindle\": {\"load\": $i}, \"count\": $((100 + i)), \"exec\": \"ACTIVE\", \"alarm\": false}"
done
gb_start --config "$T/plant.yaml"
for _ in $(seq 1 100); do [ "$(tag count | jq .value)" = 103 ] && break; sleep 0.1; done
[ "$(tag count | jq .value)" = 103 ] || fail "queued messages not delivered: $(vals) $(ad broker)"

# the broker restarts: gemba reconnects and takes new data
mqtt_broker_stop
for _ in $(seq 1 100); do [ "$(ad broker | jq -r .state)" != connected ] && break; sleep 0.1; done
mqtt_broker_start "$broker_conf"
for _ in $(seq 1 100); do [ "$(ad broker | jq -r .state)" = connected ] && break; sleep 0.1; done
[ "$(ad broker | jq -r .state)" = connected ] || fail "no reconnect: $(ad broker)"
sleep 0.3
pub -t plant/press-01/telemetry -m "{\"ts\": $((t0 + 20000)), \"spindle\": {\"load\": 9}, \"count\": 104, \"exec\": \"READY\", \"alarm\": false}"
for _ in $(seq 1 100); do [ "$(tag count | jq .value)" = 104 ] && break; sleep 0.1; done
[ "$(tag count | jq .value)" = 104 ] || fail "no data after the broker came back: $(vals) $(ad broker)"
gb_stop
# every count the device sent is in the store once: 7, 8, 101, 102, 103, 104
pts=$("$GEMBA" store stats --data "$T/data" --format json | jq '[.by_series[] | select(.series | endswith("press/count")) | .points] | add')
[ "$pts" = 6 ] || fail "store holds $pts points of count, expected 6"
mqtt_broker_stop
echo ok
