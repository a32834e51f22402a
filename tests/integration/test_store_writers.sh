# Writers side by side over HTTP: six connections post line protocol at once, their batches parsed
# and stored on their connections' threads (small bodies) or on the worker threads (over 1 MiB of
# text, plain or gzip: both checked first, stored whole). While they write, other requests
# are answered; a stop (SIGTERM) in the middle of their writes is clean and quick, and every point
# a writer was told was written (204) is stored, each series exactly once a point.
source "$(dirname "$0")/lib.sh"
cat > "$T/plant.yaml" <<'YAML'
site: {name: writers, timezone: UTC}
areas: [{name: a, lines: [{name: l, machines: [{name: m1}]}]}]
YAML
gb_start --config "$T/plant.yaml"
TOKEN=$(gb_token engineer)
B=1000 # points a batch

# a body over 1 MiB and a gzip one whose text is, stored on a worker thread
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "big%d v=%di 1763800%06d\n", i % 7, i, i }' >"$T/big.lp"
[ "$(stat -c %s "$T/big.lp")" -gt 1048576 ] || fail "big.lp is not over 1 MiB"
awk 'BEGIN { srand(7); for (i = 0; i < 60000; i++) printf "gz%d v=%.6f 1763800%06d\n", i % 5, rand(), i }' \
  | gzip -c >"$T/big.gz"
[ "$(gzip -dc "$T/big.gz" | wc -c)" -gt 1048576 ] || fail "big.gz's text is not over 1 MiB"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST --data-binary @"$T/big.lp" \
  -H "Authorization: Token $TOKEN" "$GB_URL/write?precision=ms")
[ "$code" = 204 ] || fail "a body over 1 MiB answered $code: $(cat "$T/resp")"
code=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST --data-binary @"$T/big.gz" -H 'Content-Encoding: gzip' \
  -H "Authorization: Token $TOKEN" "$GB_URL/write?precision=ms")
[ "$code" = 204 ] || fail "a gzip body of over 1 MiB of text answered $code: $(cat "$T/resp")"
for p in big gz; do
  n=$(get "/api/v1/latest?match=$p*" | jq '[.series[].tag] | length')
  [ "$n" = "$([ $p = big ] && echo 7 || echo 5)" ] || fail "$p: $n series"
done
count=$(get "/api/v1/query?tag=big0%23v&agg=count&step=1h&from=2025-11-22T00:00:00Z&to=2025-11-23T00:00:00Z" \
  | jq '[.series[0].points[][1]] | add')
[ "$count" = 5715 ] || fail "big0 holds $count points, not 5715"

# writer N: posts batches of series wN#v (values 0, 1, 2 ... one a millisecond) until $T/stop
# appears or the daemon is gone; counts the points of the batches answered 204 in $T/acked.N
writer() {
  local n=$1 k=0 acked=0 code
  while [ ! -e "$T/stop" ] && [ "$k" -lt 500 ]; do
    code=$(awk -v w="$n" -v k="$k" -v b="$B" 'BEGIN {
             for (i = 0; i < b; i++) printf "w%d v=%di 1763800%06d\n", w, k * b + i, k * b + i }' \
           | curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST --data-binary @- \
               -H "Authorization: Token $TOKEN" "$GB_URL/write?precision=ms" || true)
    [ "$code" = 204 ] && acked=$((acked + B))
    # 503: the daemon is stopping, and wrote nothing of the batch (a collector sends it again)
    [ "$code" = 204 ] || [ "$code" = 000 ] || [ "$code" = 503 ] || echo "writer $n: batch $k answered $code" >>"$T/writer.err"
    [ "$code" = 000 ] || [ "$code" = 503 ] && break # the daemon stopped
    k=$((k + 1))
  done
  echo "$acked" >"$T/acked.$n"
}
for n in 1 2 3 4 5 6; do writer "$n" & done
# every writer is under way before the daemon is asked anything else
six_series() { [ "$(get /api/v1/latest | jq '[.series[] | select(.tag | startswith("w"))] | length')" = 6 ]; }
wait_for 30 six_series || fail "the six writers' series did not all appear: $(get /api/v1/latest)"
[ "$(status /api/v1/health)" = 200 ] || fail "health while writers write"
sleep 1
gb_stop # in the middle of their writes: gb_stop fails on a slow or unclean stop
touch "$T/stop"
wait
[ ! -s "$T/writer.err" ] || fail "$(head -3 "$T/writer.err")"
total=0; over=0
for n in 1 2 3 4 5 6; do
  acked=$(cat "$T/acked.$n")
  [ "$acked" -gt 0 ] || fail "writer $n got no batch in"
  "$GEMBA" query --data "$T/data" "w$n#v" | tail -n +2 >"$T/w$n.csv"
  have=$(wc -l <"$T/w$n.csv")
  # what was acknowledged is there; at most the batch in flight at the stop came on top
  [ "$have" -ge "$acked" ] && [ "$have" -le $((acked + B)) ] || fail "writer $n: $acked acknowledged, $have stored"
  # each point once, in order: the values count up from 0 with no gap and no repeat
  bad=$(awk -F, -v n="$n" '{ sub(/i$/, "", $3) } $3 != NR - 1 { print "writer " n ": row " NR " holds " $3; exit }' "$T/w$n.csv")
  [ -z "$bad" ] || fail "$bad"
  total=$((total + have)); over=$((over + have - acked))
done
echo "ok: $total points from 6 writers stopped in the middle; $over of them in batches the stop cut off"
