# Integration-test helpers: start the real `gemba serve` on a free loopback port with a ready file
# and a temporary data directory, stop it with SIGTERM, and fail on any sanitizer report in its
# stderr. Tests source this file; ctest sets GEMBA (the binary), GB_SRC and GB_TMP. A test that runs
# a second daemon after the first sets GB_DIR to another directory under $T first: the daemon's
# data, ready file and stderr go there.
#
# The API lets nobody read the plant anonymously, so gb_start makes an admin API token with the
# command line first, as an integrator would (GB_TOKEN, id it-admin); get and status send it.
# Tests of authentication itself call curl without it.
set -euo pipefail

: "${GEMBA:?set GEMBA to the gemba binary}"
: "${GB_SRC:?set GB_SRC to the source tree}"
mkdir -p "${GB_TMP:-/tmp}"
T=$(mktemp -d "${GB_TMP:-/tmp}/it.XXXXXX")
GB_PID=""
GB_URL=""
GB_TOKEN=""

fail() {
  echo "FAIL: $*" >&2
  GB_FAILED=1
  local d=${GB_DIR:-$T}
  if [ -f "$d/stderr" ]; then echo "--- daemon stderr (last 40 lines):" >&2; tail -40 "$d/stderr" >&2; fi
  exit 1
}

cleanup() {
  local rc=$?
  local d=${GB_DIR:-$T}
  if [ "$rc" -ne 0 ] && [ -z "${GB_FAILED:-}" ] && [ -f "$d/stderr" ]; then
    echo "--- exit $rc; daemon stderr (last 40 lines):" >&2; tail -40 "$d/stderr" >&2
  fi
  if [ -n "$GB_PID" ] && kill -0 "$GB_PID" 2>/dev/null; then kill -KILL "$GB_PID" 2>/dev/null || true; fi
  # the test's other peers (replay, Modbus server, socat) go with it, however it ended
  local j
  for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# Fails when FILE holds a sanitizer report.
check_sanitizers() {
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$1"; then
    fail "sanitizer report in $1: $(grep -m3 -E 'ERROR|runtime error' "$1")"
  fi
}

# gb_token ROLE [ID]: prints a new API token for ROLE, made with the command line in $T/data
# (a running daemon takes it at its next request).
gb_token() {
  "$GEMBA" token create --data "$T/data" --role "$1" ${2:+--id "$2"} 2>>"$T/cli.err" || fail "token create $*"
}

# gb_start ARGS...: starts the daemon; sets GB_PID and GB_URL once it is ready.
gb_start() {
  local d=${GB_DIR:-$T}
  mkdir -p "$d"
  rm -f "$d/ready"
  if [ -z "$GB_TOKEN" ] || ! grep -q '^it-admin ' "$d/data/auth/tokens" 2>/dev/null; then
    GB_TOKEN=$("$GEMBA" token create --data "$d/data" --role admin --id it-admin 2>>"$T/cli.err") \
      || fail "token create for $d"
  fi
  "$GEMBA" serve --listen 127.0.0.1:0 --ready-file "$d/ready" --data "$d/data" "$@" 2>"$d/stderr" &
  GB_PID=$!
  for _ in $(seq 1 600); do
    [ -s "$d/ready" ] && break
    kill -0 "$GB_PID" 2>/dev/null || fail "gemba serve exited before it was ready"
    sleep 0.05
  done
  [ -s "$d/ready" ] || fail "gemba serve not ready after 30 s"
  GB_URL=$(cat "$d/ready")
  case "$GB_URL" in http://127.0.0.1:[0-9]*|https://127.0.0.1:[0-9]*) ;; *) fail "ready file holds '$GB_URL'" ;; esac
}

# gb_stop: SIGTERM; the daemon must exit 0 within 2 s. Sets GB_STOP_MS.
gb_stop() {
  local start end rc=0
  start=$(date +%s%N)
  kill -TERM "$GB_PID"
  wait "$GB_PID" || rc=$?
  end=$(date +%s%N)
  GB_STOP_MS=$(( (end - start) / 1000000 ))
  GB_PID=""
  [ "$rc" -eq 0 ] || fail "gemba serve exited $rc after SIGTERM"
  [ "$GB_STOP_MS" -lt 2000 ] || fail "gemba serve took ${GB_STOP_MS} ms to stop (limit 2000)"
  check_sanitizers "${GB_DIR:-$T}/stderr"
  [ ! -e "${GB_DIR:-$T}/ready" ] || fail "ready file left behind after a clean stop"
}

# get PATH: body of GET $GB_URL/PATH (with the admin token), failing on a transport error.
get() { curl -sS --max-time 10 -H "Authorization: Bearer $GB_TOKEN" "$GB_URL$1"; }

# status PATH [curl args]: HTTP status code only (with the admin token).
status() {
  local p=$1; shift
  curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $GB_TOKEN" "$@" "$GB_URL$p"
}

# gb_routes: the router's table from src/api/http.c, one "METHOD PATTERN ROLE" per line, sorted;
# ROLE is anonymous, viewer, operator, engineer or admin.
gb_routes() {
  sed -n '/^static const gb_route_t routes\[\] = {/,/^};/p' "$GB_SRC/src/api/http.c" \
    | grep -oE '\{"[A-Z]+", "[^"]+", [A-Z]+' | sed -E 's/^\{"([A-Z]+)", "([^"]+)", ([A-Z]+)$/\1 \2 \3/' \
    | awk '{ r = tolower($3); if (r == "none") r = "anonymous"; print $1, $2, r }' | sort
}

# mqtt_broker_start CONF_EXTRA: starts a real mosquitto on a free loopback port with the extra
# config lines (listener lines included); sets MQ_PID and MQ_PORT. MQ_PORT set beforehand
# restarts it on the same port.
mqtt_broker_start() {
  local extra=$1 mosq
  mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  [ -x "$mosq" ] || fail "mosquitto is needed (make test installs it)"
  local tries=0 port
  while :; do
    port=${MQ_PORT:-$((20000 + RANDOM % 30000))}
    {
      echo "listener $port 127.0.0.1"
      case "$extra" in *allow_anonymous*) ;; *) echo "allow_anonymous true" ;; esac
      echo "persistence false"
      echo "log_dest stderr"
      echo "log_type error"
      echo "log_type warning"
      [ "$(id -u)" -eq 0 ] && echo "user root"
      printf '%s\n' "$extra"
    } > "$T/mosquitto.conf"
    "$mosq" -c "$T/mosquitto.conf" 2>>"$T/mosquitto.err" &
    MQ_PID=$!
    local up=""
    for _ in $(seq 1 100); do
      kill -0 "$MQ_PID" 2>/dev/null || break
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
      sleep 0.05
    done
    if [ -n "$up" ]; then MQ_PORT=$port; return 0; fi
    kill "$MQ_PID" 2>/dev/null || true
    tries=$((tries + 1))
    [ -z "${MQ_PORT:-}" ] && [ "$tries" -lt 20 ] || fail "mosquitto did not start: $(tail -3 "$T/mosquitto.err")"
  done
}

mqtt_broker_stop() { kill -TERM "$MQ_PID" 2>/dev/null || true; wait "$MQ_PID" 2>/dev/null || true; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; false when time runs out.
wait_for() {
  local n=$(( $1 * 10 )); shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
