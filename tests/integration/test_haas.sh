# The Haas MDC adapters against tests/support/haas_machine.c, a fake control of ours: over TCP
# (haas-mdc) and over a serial line made of a socat pseudo-terminal pair (haas-mdc-serial), each
# with another of the framings real controls use. Values arrive and only changes are stored; the
# part count advances; a malformed reply and a refused query are counted; an alarm shows as
# execution STOPPED; a silent control and a killed one are reported in /api/v1/health, and when
# it comes back data flows again with the part count going on, no part counted twice.
source "$(dirname "$0")/lib.sh"
: "${GB_HAAS_MACHINE:?set GB_HAAS_MACHINE to the fake Haas control}"
command -v socat >/dev/null || fail "socat is needed (make test installs it)"

# --- check-config: the adapters' own keys and addresses ------------------------------------------
cat > "$T/bad.yaml" <<'YAML'
site: {name: haas, timezone: UTC}
adapters:
  - {name: vf2, type: haas-mdc, port: 70000, interval: 0s}
  - {name: st10, type: haas-mdc-serial, device: /dev/ttyS0, baud: 9601, parity: mark, flow: dtr}
areas: [{name: a, lines: [{name: l, machines: [{name: mill, adapter: vf2, tags: [
  {name: p, type: int, address: part},
  {name: m, type: float, address: "macro:0"},
  {name: s, type: int, address: status},
  {name: c, type: string, address: parts},
  {name: x, type: string, address: "macro:5021", adapter: st10}]}]}]}]
YAML
rc=0; "$GEMBA" check-config "$T/bad.yaml" 2>"$T/check.err" >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "check-config of a bad Haas plant exited $rc"
check_sanitizers "$T/check.err"
B="$T/bad.yaml"
diff -u - "$T/check.err" <<EOF || fail "check-config messages differ"
$B:3:5: haas-mdc adapter is missing required key 'host'
$B:3:39: 'port' must be between 1 and 65535, got 70000
$B:3:56: 'interval' must be from 10ms to 1h
$B:4:67: 'baud' 9601 is not a rate a serial line runs at; Haas controls use 1200 to 115200, such as 9600 or 19200
$B:4:81: 'parity' is none, even or odd, not 'mark'
$B:4:93: 'flow' is none, xonxoff or rtscts, not 'dtr'
$B:6:3: tag 'p': unknown Haas address 'part' (did you mean 'parts'?); expected serial, mode, controller_mode, program, status, execution, parts or macro:N (N a macro variable from 1 to 999999, such as macro:5021)
$B:7:3: tag 'm': unknown Haas address 'macro:0'; expected serial, mode, controller_mode, program, status, execution, parts or macro:N (N a macro variable from 1 to 999999, such as macro:5021)
$B:8:3: tag 's' (address 'status'): this address is text: it feeds a string tag
$B:9:3: tag 'c' (address 'parts'): 'parts' is a counter: it feeds an int (or float) tag
$B:10:3: tag 'x' (address 'macro:5021'): a macro variable feeds a float (or int) tag
EOF

# --- the two controls ---------------------------------------------------------------------------
socat pty,raw,echo=0,link="$T/ttyM" pty,raw,echo=0,link="$T/ttyG" 2>"$T/socat.err" &
for _ in $(seq 1 100); do [ -e "$T/ttyM" ] && [ -e "$T/ttyG" ] && break; sleep 0.05; done
[ -e "$T/ttyG" ] || fail "no pty pair: $(cat "$T/socat.err")"
TP=""; SP=""
start_tcp() { # PORT: STX text ETB CR LF > framing, macros as MACRO, var, value
  rm -f "$T/tcp.ready"
  "$GB_HAAS_MACHINE" --listen "127.0.0.1:$1" --ready-file "$T/tcp.ready" --state "$T/tcp.parts" \
    --parts 380 --cycle 3 2>>"$T/tcp.err" &
  TP=$!
  for _ in $(seq 1 100); do [ -s "$T/tcp.ready" ] && break; sleep 0.05; done
  [ -s "$T/tcp.ready" ] || fail "fake control not ready: $(cat "$T/tcp.err")"
  TPORT=$(cut -d: -f2 "$T/tcp.ready")
}
start_serial() { # > text CR LF framing, macros as MACRO, value
  rm -f "$T/ser.ready"
  "$GB_HAAS_MACHINE" --tty "$T/ttyM" --ready-file "$T/ser.ready" --state "$T/ser.parts" \
    --parts 10 --cycle 2 --framing plain --short-macro 2>>"$T/ser.err" &
  SP=$!
  for _ in $(seq 1 100); do [ -s "$T/ser.ready" ] && break; sleep 0.05; done
  [ -s "$T/ser.ready" ] || fail "fake serial control not ready: $(cat "$T/ser.err")"
}
start_tcp 0
start_serial
# a pty line carries no parity and only 8 data bits (Linux refuses 7E1 on it), so the serial
# adapter leaves the Haas default of 7E1 for 8N1 here; flow control stays XON/XOFF
cat > "$T/plant.yaml" <<YAML
site: {name: haas, timezone: UTC}
adapters:
  - {name: vf2, type: haas-mdc, host: 127.0.0.1, port: $TPORT, interval: 100ms, timeout: 400ms,
     reconnect_max: 400ms}
  - {name: st10, type: haas-mdc-serial, device: "$T/ttyG", baud: 19200, data_bits: 8,
     parity: none, interval: 100ms, timeout: 400ms, reconnect_max: 400ms}
areas: [{name: a, lines: [{name: l, machines: [
  {name: mill, adapter: vf2, counts: {total: parts}, tags: [
    {name: serial, type: string}, {name: mode, type: string},
    {name: controller_mode, type: string}, {name: program, type: string},
    {name: status, type: string}, {name: execution, type: string}, {name: parts, type: int},
    {name: xpos, type: float, address: "macro:5021"}, {name: rpm, type: int, address: "macro:3027"}]},
  {name: lathe, adapter: st10, counts: {total: parts}, tags: [
    {name: serial, type: string}, {name: execution, type: string}, {name: parts, type: float},
    {name: x, type: float, address: "macro:5021"}, {name: nope, type: float, address: "macro:123456"}]}]}]}]
YAML
gb_start --config "$T/plant.yaml"

val() { get /api/v1/tags | jq -r --arg m "$1" --arg n "$2" '.tags[] | select(.machine == $m and .name == $n) | .value'; }
ad() { get /api/v1/health | jq -r --arg a "$1" ".adapters[] | select(.name == \$a) | $2"; }
wait_for() { # DESCRIPTION CONDITION...: polls the condition for up to 10 s
  local what=$1; shift
  for _ in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
  fail "$what; vf2: $(get /api/v1/health | jq -c '.adapters')"
}
is() { [ "$($1 "$2" "$3")" = "$4" ]; }
says() { ad "$1" .last_error | grep -qE "$2"; } # ADAPTER REGEX: its last_error
down() { [ "$(ad "$1" .state)" != connected ]; }
above() { local v; v=$(val "$1" parts); v=${v%%.*}; [ "$v" != null ] && [ "$v" -gt "$2" ]; }

wait_for "mill values" is val mill xpos 12.5
wait_for "first part" above mill 380
[ "$(val mill serial)" = 1234567 ] && [ "$(val mill mode)" = MEM ] && [ "$(val mill controller_mode)" = AUTOMATIC ] \
  && [ "$(val mill program)" = O01234 ] || fail "mill: $(get /api/v1/tags | jq -c '[.tags[] | select(.machine == "mill") | {(.name): .value}] | add')"
# status and execution are two tags, each of its own reply: between the two a read may see one
# changed and not yet the other, so the pair is read until both agree
mill_se() { get /api/v1/tags | jq -r '[.tags[] | select(.machine == "mill" and (.name == "status" or .name == "execution")) | .value] | join("/")'; }
se_agree() { case "$(mill_se)" in BUSY/ACTIVE|IDLE/READY) return 0 ;; *) return 1 ;; esac; }
wait_for "mill status and execution to agree" se_agree
wait_for "lathe values" is val lathe x 12.5
wait_for "lathe part" above lathe 10
[ "$(val lathe serial)" = 1234567 ] || fail "lathe serial $(val lathe serial)"
[ "$(ad vf2 .state)/$(ad st10 .state)" = connected/connected ] || fail "not connected: $(get /api/v1/health)"
[ "$(ad vf2 .malformed)/$(ad st10 .malformed)" = 0/0 ] || fail "malformed replies: $(get /api/v1/health)"
# the control refuses a variable it does not have: counted and said, the rest goes on
wait_for "refusal reported" is ad st10 .last_error "the control refused ?Q600 123456: INVALID NUMBER"
[ "$(ad st10 .exceptions)" -ge 1 ] || fail "refusal not counted"
[ "$(ad vf2 .last_error)" = null ] || fail "vf2 error: $(ad vf2 .last_error)"

# the part count advances
p=$(val mill parts)
wait_for "mill parts advance" above mill $((p + 2))

# one malformed reply: counted, the connection stays
kill -USR2 "$TP"
wait_for "malformed reply counted" is ad vf2 .malformed 1
[ "$(ad vf2 .connects)" = 1 ] && [ "$(ad vf2 .state)" = connected ] || fail "malformed reply cost the connection"
grep -q 'module=haas msg="vf2: malformed reply (control or non-ASCII byte in a reply)' "$T/stderr" || fail "malformed reply not logged"

# an alarm stops the machine and the count
kill -USR1 "$TP"
wait_for "alarm" is val mill execution STOPPED
[ "$(val mill status)" = "ALARM ON" ] || fail "status in alarm: $(val mill status)"
p=$(val mill parts); sleep 0.5; [ "$(val mill parts)" = "$p" ] || fail "parts counted in alarm"
kill -USR1 "$TP"
wait_for "alarm cleared" above mill "$p"

# a silent control (stopped, its port still open): reported, then it answers again
kill -STOP "$TP"
wait_for "silence reported" says vf2 '^no reply to \?Q[0-9 ]+ from 127\.0\.0\.1:[0-9]+ within 400ms'
wait_for "silent control not connected" down vf2
[ "$(get /api/v1/health | jq -r .status)" = degraded ] || fail "health not degraded: $(get /api/v1/health)"
kill -CONT "$TP"
wait_for "back after silence" is ad vf2 .state connected
p=$(val mill parts)
wait_for "parts after silence" above mill "$p"

# the control killed: reported; started again (same port, its counter kept), data flows on
kill -TERM "$TP"; wait "$TP" || fail "fake control exited $?"
wait_for "kill reported" down vf2
wait_for "kill error" says vf2 'closed the connection|cannot connect'
c=$(ad vf2 .connects); p=$(val mill parts)
start_tcp "$TPORT"
wait_for "reconnected" eval '[ "$(ad vf2 .connects)" -gt "$c" ] && [ "$(ad vf2 .state)" = connected ]'
wait_for "parts after restart" above mill "$p"

# the serial control killed and started again
kill -TERM "$SP"; wait "$SP" || fail "fake serial control exited $?"
wait_for "serial silence reported" says st10 '^no reply to \?Q[0-9 ]+ from .*/ttyG within 400ms'
p=$(val lathe parts); p=${p%%.*}
start_serial
wait_for "serial back" is ad st10 .state connected
wait_for "serial parts after restart" above lathe "$p"

kill -STOP "$TP" # hold the count still while the daemon stops
sleep 0.5
connects=$(ad vf2 .connects)
last=$(val mill parts)
gb_stop
kill -CONT "$TP"

# only changes are stored (and every value once per connection); no part was counted twice
stats=$("$GEMBA" store stats --data "$T/data" --format json)
points() { jq --arg s "haas/a/l/$1" '[.by_series[] | select(.series == $s) | .points] | add // 0' <<<"$stats"; }
[ "$(points mill/serial)" = "$connects" ] || fail "serial stored $(points mill/serial) times in $connects connections"
[ "$(points mill/xpos)" -le "$connects" ] && [ "$(points mill/mode)" -le "$connects" ] || fail "unchanged values stored again: $stats"
[ "$(points mill/parts)" -le $((last - 381 + connects)) ] || fail "$(points mill/parts) part counts stored for $((last - 380)) parts"
oee=$("$GEMBA" oee --plant "$T/plant.yaml" --data "$T/data" --asset mill)
produced=$(jq '.total.counts.produced + .total.counts.produced_outside_plan' <<<"$oee")
[ "$produced" = $((last - 381)) ] || fail "OEE counted $produced parts; the control made $((last - 381)) after the first count: $oee"
kill -TERM "$TP" "$SP" 2>/dev/null || true
echo "ok: $connects connections, parts 381..$last, $(points mill/parts) part counts stored"
