# Integration-test helpers: start the real `gemba serve` on a free loopback port with a ready file
# and a temporary data directory, stop it with SIGTERM, and fail on any sanitizer report in its
# stderr. Tests source this file; ctest sets GEMBA (the binary), GB_SRC and GB_TMP.
set -euo pipefail

: "${GEMBA:?set GEMBA to the gemba binary}"
: "${GB_SRC:?set GB_SRC to the source tree}"
mkdir -p "${GB_TMP:-/tmp}"
T=$(mktemp -d "${GB_TMP:-/tmp}/it.XXXXXX")
GB_PID=""
GB_URL=""

fail() {
  echo "FAIL: $*" >&2
  GB_FAILED=1
  if [ -f "$T/stderr" ]; then echo "--- daemon stderr (last 40 lines):" >&2; tail -40 "$T/stderr" >&2; fi
  exit 1
}

cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -z "${GB_FAILED:-}" ] && [ -f "$T/stderr" ]; then
    echo "--- exit $rc; daemon stderr (last 40 lines):" >&2; tail -40 "$T/stderr" >&2
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

# gb_start ARGS...: starts the daemon; sets GB_PID and GB_URL once it is ready.
gb_start() {
  rm -f "$T/ready"
  "$GEMBA" serve --listen 127.0.0.1:0 --ready-file "$T/ready" --data "$T/data" "$@" 2>"$T/stderr" &
  GB_PID=$!
  for _ in $(seq 1 600); do
    [ -s "$T/ready" ] && break
    kill -0 "$GB_PID" 2>/dev/null || fail "gemba serve exited before it was ready"
    sleep 0.05
  done
  [ -s "$T/ready" ] || fail "gemba serve not ready after 30 s"
  GB_URL=$(cat "$T/ready")
  case "$GB_URL" in http://127.0.0.1:[0-9]*) ;; *) fail "ready file holds '$GB_URL'" ;; esac
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
  check_sanitizers "$T/stderr"
  [ ! -e "$T/ready" ] || fail "ready file left behind after a clean stop"
}

# get PATH: body of GET $GB_URL/PATH, failing on a transport error.
get() { curl -sS --max-time 10 "$GB_URL$1"; }

# status PATH [curl args]: HTTP status code only.
status() { local p=$1; shift; curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$@" "$GB_URL$p"; }
