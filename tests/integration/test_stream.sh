# GET /api/v1/stream against a running simulated line: events arrive in order with growing
# numbers; a client gets samples only of the tags it names; reconnecting with Last-Event-ID
# resumes right after that event, and a number the daemon no longer keeps (or never sent: one
# from before a restart) starts with `reset`;
# a stop classified through the API reaches the stream at once; forty clients are served side by
# side, and SIGTERM ends their streams and stops the daemon within its usual 2 s.
source "$(dirname "$0")/lib.sh"

gb_start --config "$GB_SRC/tests/data/plants/live-sim.yaml" --speed 60 --jobs "$GB_SRC/tests/data/oee/jobs.csv"
TOKEN=$GB_TOKEN
A=(-H "Authorization: Bearer $TOKEN")

curl -sN --max-time 4 "${A[@]}" "$GB_URL/api/v1/stream?tags=lathe01/spindle_load" >"$T/s1" || true
grep -q '^: gemba live stream' "$T/s1" || fail "no stream greeting: $(head -c 200 "$T/s1")"
ids=$(grep '^id: ' "$T/s1" | cut -d' ' -f2)
[ "$(wc -l <<<"$ids")" -ge 5 ] || fail "too few events in 4 s: $(grep -c '^event' "$T/s1")"
sort -n -c <<<"$ids" 2>/dev/null && [ "$(sort -u <<<"$ids" | wc -l)" = "$(wc -l <<<"$ids")" ] \
  || fail "event numbers do not grow"
grep -q '^event: state$' "$T/s1" || fail "no state event"
grep -q '^event: count$' "$T/s1" || fail "no count event"
grep '^data: ' "$T/s1" | cut -c7- | jq -e . >/dev/null || fail "an event's data is not JSON"
# samples: only the tag asked for
[ "$(grep -A1 '^event: sample$' "$T/s1" | grep '^data' | cut -c7- | jq -r .tag | sort -u)" = \
  acme/live/plant1/line1/lathe01/spindle_load ] || fail "samples of other tags"

# resume: after event N the next event is N+1 (every event, tags=*)
last=$(tail -1 <<<"$ids")
n=$((last - 3))
curl -sN --max-time 1 "${A[@]}" -H "Last-Event-ID: $n" "$GB_URL/api/v1/stream?tags=*" >"$T/s2" || true
first=$(grep -m1 '^id: ' "$T/s2" | cut -d' ' -f2)
[ "$first" = $((n + 1)) ] || fail "resumed after $n, first event $first"
grep -q '^event: reset' "$T/s2" && fail "a reset although $n is kept"
# ... the same through the query parameter (a number no longer kept: see tests/unit/test_stream.c)
curl -sN --max-time 1 "${A[@]}" "$GB_URL/api/v1/stream?tags=*&last_event_id=$n" >"$T/s2b" || true
[ "$(grep -m1 '^id: ' "$T/s2b")" = "id: $((n + 1))" ] || fail "last_event_id parameter"
# a number from before a restart (beyond any this daemon has sent): reset at once, with an id
# that puts the client's count right, then what comes next
future=$((last + 1000000))
curl -sN --max-time 1 "${A[@]}" -H "Last-Event-ID: $future" "$GB_URL/api/v1/stream?tags=*" >"$T/s2c" || true
[ "$(grep -m1 '^event: ' "$T/s2c")" = "event: reset" ] || fail "no reset for event $future from the future: $(head -c 300 "$T/s2c")"
rid=$(grep -m1 '^id: ' "$T/s2c" | cut -d' ' -f2)
[ "$rid" -ge "$last" ] && [ "$rid" -lt "$future" ] || fail "the reset's id $rid (last seen $last)"
[ "$(grep '^id: ' "$T/s2c" | sed -n 2p | cut -d' ' -f2)" = $((rid + 1)) ] || fail "after the reset, not the next event"
# a bad filter or number is refused, and so is a caller without credentials
[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$GB_URL/api/v1/stream")" = 401 ] || fail "anonymous stream"
[ "$(status "/api/v1/stream?tags=lathe01/warp")" = 400 ] || fail "unknown tag not refused"
[ "$(status /api/v1/stream -H 'Last-Event-ID: x')" = 400 ] || fail "bad Last-Event-ID not refused"

# a person's change reaches the stream
curl -sN --max-time 6 "${A[@]}" "$GB_URL/api/v1/stream?machines=lathe01,mill01" >"$T/s3" &
reader=$!
sleep 1
stop=""
for _ in $(seq 1 40); do
  stop=$(get /api/v1/machines/lathe01/stops | jq -r '[.stops[] | select(.reason == null)][0].start // empty')
  [ -n "$stop" ] && break
  sleep 0.1
done
[ -n "$stop" ] || fail "lathe01 had no stop to classify"
code=$(curl -sS -o "$T/cls" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
       -d '{"reason":"unplanned/tooling/breakage"}' "$GB_URL/api/v1/machines/lathe01/stops/$stop/reason")
[ "$code" = 200 ] || fail "classify: $code $(cat "$T/cls")"
wait "$reader" || true
grep -A1 '^event: downtime$' "$T/s3" | grep '^data' | grep -q '"machine":"lathe01"' \
  || fail "the classification did not reach the stream: $(grep -c '^event' "$T/s3") events"
grep -A1 '^event: state$' "$T/s3" | grep '^data' | grep -qv '"machine":"\(lathe01\|mill01\)"' \
  && fail "?machines= let other machines through"

# the work orders: the job file's first, then the lots lathe01 started (its job_tag), paged
for _ in $(seq 1 50); do
  [ "$(get '/api/v1/jobs?limit=100' | jq '[.jobs[] | select(.produced > 0)] | length')" -ge 1 ] && break
  sleep 0.1
done
j=$(get '/api/v1/jobs?limit=100')
jq -e '.jobs[0] | .job == "J1" and .product == "P-100" and .quantity == 120 and .ideal_cycle_time_s == 50
       and .due == "2026-11-24T00:00:00Z" and .remaining == 120' <<<"$j" >/dev/null || fail "jobs: $(jq -c '.jobs[0]' <<<"$j")"
jq -e '.jobs[1].job == "J2" and .jobs[1].ideal_cycle_time_s == null and .next == null' <<<"$j" >/dev/null || fail "jobs: $j"
jq -e '[.jobs[2:][] | select((.job | startswith("line1-")) and .produced >= 1 and .produced == .good + .scrap and .quantity == null)] | length >= 1' <<<"$j" >/dev/null \
  || fail "no ad-hoc job with parts: $(jq -c '.jobs[2:]' <<<"$j")"
p1=$(get '/api/v1/jobs?limit=1')
[ "$(jq -r '.jobs[0].job' <<<"$p1")" = J1 ] || fail "page 1: $p1"
p2=$(get "$(jq -r .next <<<"$p1")")
[ "$(jq -r '.jobs[0].job' <<<"$p2")" = J2 ] || fail "page 2: $p2"
[ "$(status '/api/v1/jobs?cursor=x')" = 400 ] || fail "a bad cursor"

# the tag list, whole or paged by id: the pages put together are the whole list
all=$(get /api/v1/tags)
[ "$(jq .next <<<"$all")" = null ] && [ "$(jq '.tags | length' <<<"$all")" -ge 30 ] || fail "whole tag list"
ids="" url='/api/v1/tags?limit=12' pages=0
while [ "$url" != null ]; do
  pg=$(get "$url")
  [ "$(jq '.tags | length' <<<"$pg")" -le 12 ] || fail "a page longer than its limit"
  ids="$ids$(jq -c '[.tags[].id]' <<<"$pg")"
  url=$(jq -r .next <<<"$pg"); pages=$((pages + 1))
done
[ "$(jq -sc 'add' <<<"$ids")" = "$(jq -c '[.tags[].id]' <<<"$all")" ] || fail "tag pages differ from the whole list"
[ "$pages" -ge 3 ] || fail "only $pages pages of 12"

# forty clients at once, then a stop with them connected
for i in $(seq 1 40); do curl -sN --max-time 30 "${A[@]}" "$GB_URL/api/v1/stream" >"$T/c$i" 2>/dev/null & done
sleep 2
gb_stop
got=0
for i in $(seq 1 40); do grep -q '^event: ' "$T/c$i" && got=$((got + 1)); done
wait || true
[ "$got" -ge 38 ] || fail "only $got of 40 clients got events"
check_sanitizers "$T/stderr"
echo "ok: $(wc -l <<<"$ids") events in 4 s; resume and reset; classification streamed; $got/40 clients; stop ${GB_STOP_MS} ms"
