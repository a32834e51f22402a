# Under a steady load, SIGTERM stops the daemon within 2 s and every sample the bus accepted is in
# the store: the count in the final log line, the health counters and the store all agree.
source "$(dirname "$0")/lib.sh"

gb_start --config "$GB_SRC/tests/data/plants/fast-demo.yaml"
sleep 2
h=$(get /api/v1/health)
mid=$(jq .bus.published <<<"$h")
[ "$mid" -gt 1000 ] || fail "too little load to test: $mid samples in 2 s"
[ "$(jq '[.bus.consumers[] | select(.name=="store") | .dropped] | add' <<<"$h")" = 0 ] || fail "store dropped: $h"
gb_stop
line=$(grep -o 'stopped: [0-9]* samples accepted, [0-9]* stored, [0-9]* lost; [0-9]* OEE results stored' "$T/stderr") || fail "no final counts"
read -r accepted stored lost results < <(sed -E 's/stopped: ([0-9]+) samples accepted, ([0-9]+) stored, ([0-9]+) lost; ([0-9]+) OEE results stored/\1 \2 \3 \4/' <<<"$line")
[ "$accepted" -ge "$mid" ] || fail "accepted $accepted < $mid seen earlier"
[ "$stored" = "$accepted" ] && [ "$lost" = 0 ] || fail "$line"
points=$("$GEMBA" store stats --data "$T/data" --format json | jq .points)
[ "$points" = $((accepted + results)) ] || fail "store holds $points, accepted $accepted, derived $results"
echo "ok: $accepted samples accepted and stored; stop took ${GB_STOP_MS} ms"
