# Live and offline OEE agree: the daemon computes OEE as samples arrive; after it stops,
# `gemba oee --data` recomputes from the stored samples. For a window that ended at least
# micro_stop before the live query (so every stop inside it had shown its length), the two reports
# must be identical, by machine and by reason.
source "$(dirname "$0")/lib.sh"
P="$GB_SRC/tests/data/oee/live-demo.yaml"

gb_start --config "$P"
from=$(get /api/v1/health | jq -r .started)
sleep 8
to=$(date -u -d '-3 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)
live_m=$(get "/api/v1/oee?from=$from&to=$to&by=machine")
live_r=$(get "/api/v1/oee?from=$from&to=$to&by=reason")
machines=$(get /api/v1/machines)
gb_stop

# the window saw real activity, or the comparison would prove little
jq -e '.total.counts.produced > 10' <<<"$live_m" >/dev/null || fail "too few parts: $(jq -c .total.counts <<<"$live_m")"
jq -e '.total.times_s.apt > 0 and .total.times_s.pbt > 0' <<<"$live_m" >/dev/null || fail "no time: $live_m"
jq -e '[.machines[] | .state] | length == 3' <<<"$machines" >/dev/null || fail "machines: $machines"

off_m=$("$GEMBA" oee --plant "$P" --data "$T/data" --from "$from" --to "$to" --by machine) || fail "offline"
off_r=$("$GEMBA" oee --plant "$P" --data "$T/data" --from "$from" --to "$to" --by reason) || fail "offline reason"
diff <(jq -S . <<<"$live_m") <(jq -S . <<<"$off_m") || fail "live and offline OEE differ (by machine)"
diff <(jq -S . <<<"$live_r") <(jq -S . <<<"$off_r") || fail "live and offline OEE differ (by reason)"
echo "ok: identical; $(jq -c '{availability: .total.availability, produced: .total.counts.produced, stops: .total.counts.stops, micro: .total.counts.micro_stops, failures: .total.counts.failures}' <<<"$live_m")"
