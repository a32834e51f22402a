# The daemon with the demo plant: health, tags, errors as problem details, the dashboard's page,
# a clean stop on SIGTERM that keeps every accepted sample, and a restart on the same data.
source "$(dirname "$0")/lib.sh"

gb_start --demo
grep -q 'level=info module=serve msg="listening on http://127.0.0.1:' "$T/stderr" || fail "no listening log line"

# health answers with the adapter connected and the bus counters
for _ in $(seq 1 100); do
  h=$(get /api/v1/health)
  [ "$(jq -r '.adapters[0].state' <<<"$h")" = connected ] && [ "$(jq '.bus.published' <<<"$h")" -gt 0 ] && break
  sleep 0.1
done
[ "$(jq -r .status <<<"$h")" = ok ] || fail "health status: $h"
[ "$(jq -r .version <<<"$h")" = "$("$GEMBA" version | cut -d' ' -f2)" ] || fail "health version: $h"
[ "$(jq -r '.plant.machines' <<<"$h")" = 8 ] || fail "machines: $h"
[ "$(jq -r '.adapters[0].name' <<<"$h")" = sim ] || fail "adapter name: $h"
[ "$(jq -r '.adapters[0].last_error' <<<"$h")" = null ] || fail "adapter error: $h"
jq -e '.uptime_s >= 0' <<<"$h" >/dev/null || fail "uptime: $h"
for c in store latest; do
  jq -e --arg c "$c" '.bus.consumers[] | select(.name == $c) | has("queued") and has("dropped") and has("late") and has("delivered")' <<<"$h" >/dev/null \
    || fail "consumer $c counters missing: $h"
done
[ "$(jq -r '.bus.consumers[] | select(.name=="store") | .policy' <<<"$h")" = block ] || fail "store must block, not drop"

# tags with live values
tags=$(get /api/v1/tags)
[ "$(jq '.tags | length' <<<"$tags")" = $((96 + 8 * 5)) ] || fail "tag count (96 signals, 5 derived results per machine)"
[ "$(jq -r '.tags[] | select(.path=="acme/plant1/machining/line1/lathe01/oee.state") | .value' <<<"$tags")" != null ] \
  || fail "lathe01's state is not among the stored results"
[ "$(jq -r '.tags[] | select(.path=="acme/plant1/machining/line1/lathe01/execution") | .value' <<<"$tags")" != null ] \
  || fail "lathe01 execution has no value: $(jq -c '.tags[0]' <<<"$tags")"
jq -e '[.tags[] | select(.name=="part_count")] | all(.value | type == "number")' <<<"$tags" >/dev/null || fail "part counts"

# errors are RFC 9457 problem details
[ "$(status /api/v1/nope)" = 404 ] || fail "unknown route"
ct=$(curl -sS -o /dev/null -w '%{content_type}' "$GB_URL/api/v1/nope")
[ "$ct" = application/problem+json ] || fail "404 content type $ct"
[ "$(get /api/v1/nope | jq -r '.status, .title' | paste -sd' ')" = "404 Not Found" ] || fail "problem body"
[ "$(status /api/v1/health -X POST)" = 405 ] || fail "POST health"
hdrs=$(curl -sSI -X DELETE "$GB_URL/api/v1/health"); grep -qi '^Allow: GET, HEAD' <<<"$hdrs" || fail "405 without Allow"

# the dashboard's page (test_web_assets.sh checks the rest)
[ "$(status /)" = 200 ] || fail "dashboard page"
page=$(get /); grep -q '<title>gemba</title>' <<<"$page" || fail "dashboard page content"

# points written over HTTP are counted apart from the adapters' samples
code=$(printf 'probe,line=a temp=21.5\nprobe,line=a temp=21.6 1700000000000000000\n' |
  curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $GB_TOKEN" --data-binary @- \
    "$GB_URL/api/v1/write")
[ "$code" = 204 ] || fail "line-protocol write: $code"

sleep 1
gb_stop
grep -q 'msg="received SIGTERM; stopping"' "$T/stderr" || fail "no shutdown log line"
grep -q 'OEE results stored; 2 points written over HTTP"' "$T/stderr" || fail "HTTP points not counted: $(grep 'stopped:' "$T/stderr")"
line=$(grep -o 'stopped: [0-9]* samples accepted, [0-9]* stored, [0-9]* lost; [0-9]* OEE results stored' "$T/stderr") || fail "no final counts"
read -r accepted stored lost results < <(sed -E 's/stopped: ([0-9]+) samples accepted, ([0-9]+) stored, ([0-9]+) lost; ([0-9]+) OEE results stored/\1 \2 \3 \4/' <<<"$line")
[ "$accepted" -gt 0 ] || fail "nothing accepted"
[ "$accepted" = "$stored" ] && [ "$lost" = 0 ] || fail "accepted $accepted, stored $stored, lost $lost"

# what the store holds is exactly what was accepted
points=$("$GEMBA" store stats --data "$T/data" --format json | jq .points)
[ "$points" = $((accepted + results + 2)) ] || fail "store holds $points points, daemon accepted $accepted, derived $results and took 2 over HTTP"
stats=$("$GEMBA" store stats --data "$T/data"); grep -q "^points: *$((accepted + results + 2))\$" <<<"$stats" || fail "text stats"

# every log line is logfmt: time, level, module, quoted message
bad=$(grep -cvE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=(error|warn|info|debug) module=[a-z]+ msg=".*"$' "$T/stderr" || true)
[ "$bad" = 0 ] || fail "$bad log lines are not logfmt: $(grep -vE '^ts=' "$T/stderr" | head -3)"

# a restart on the same data directory appends to it
gb_start --demo
sleep 0.5
gb_stop
line=$(grep -o 'stopped: [0-9]* samples accepted, [0-9]* stored, [0-9]* lost; [0-9]* OEE results stored' "$T/stderr" | tail -1)
read -r second results2 < <(sed -E 's/stopped: ([0-9]+) samples accepted, .* ([0-9]+) OEE results stored/\1 \2/' <<<"$line")
points=$("$GEMBA" store stats --data "$T/data" --format json | jq .points)
[ "$points" = $((accepted + results + 2 + second + results2)) ] || fail "after restart: $points points, expected $((accepted + results + 2 + second + results2))"
echo "ok: stop took ${GB_STOP_MS} ms; $points points kept"
