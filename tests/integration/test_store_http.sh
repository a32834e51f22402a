# The historian over HTTP: line protocol in through /api/v1/write, /write and /api/v2/write with
# the token sent each way InfluxDB clients send it, gzip bodies (damaged ones and ones too large
# once decompressed refused), a bad line refused with its number while the rest is written,
# queries as JSON and CSV that match the command line's; and a full disk (--max-disk): writes are
# refused with 507 and one clear log line, nothing stored is damaged, and a larger limit after a
# restart takes writes again.
source "$(dirname "$0")/lib.sh"
cat > "$T/plant.yaml" <<'YAML'
site: {name: hist, timezone: UTC}
areas: [{name: a, lines: [{name: l, machines: [{name: m1}]}]}]
YAML
gb_start --config "$T/plant.yaml" --max-disk 400kB
TOKEN=$(gb_token engineer) # write-back and ingest are an engineer's
w() { # URL [curl args]: posts stdin, prints the status code
  local url=$1; shift
  curl -s -o "$T/resp" -w '%{http_code}' -X POST --data-binary @- "$@" "$GB_URL$url"
}
[ "$(echo 'm v=1 1763800000000000000' | w /write)" = 401 ] || fail "a write without a token"
jq -e '.error | test("token")' "$T/resp" >/dev/null || fail "401 body: $(cat "$T/resp")"
[ "$(echo 'm v=1 1763800000000000000' | w /write -H 'Authorization: Token gbt_engineer-1_00')" = 401 ] || fail "a bad token"
[ "$(echo 'm v=1 1763800000000000000' | w /write -H "Authorization: Token $(gb_token viewer)")" = 403 ] || fail "a viewer's write"
jq -e '.error | test("engineer")' "$T/resp" >/dev/null || fail "403 body: $(cat "$T/resp")"
# refusals are logged, once a minute per address and status: three 401s (the two above and
# this one) make one line
[ "$(echo 'm v=1 1763800000000000000' | w /write -H 'Authorization: Token gbt_engineer-2_00')" = 401 ] || fail "a bad token"
[ "$(grep -c 'refused POST /write from 127.0.0.1: 401' "$T/stderr")" = 1 ] || fail "401s logged: $(grep refused "$T/stderr")"
grep -q 'refused POST /write from 127.0.0.1 as .*: 403 ' "$T/stderr" || fail "403 logged: $(grep refused "$T/stderr")"
[ "$(echo 'm v=1 1763800000000000000' | w /write -H "Authorization: Token $TOKEN")" = 204 ] || fail "Token: $(cat "$T/resp")"
[ "$(echo 'm v=2 1763800001' | w "/write?db=plant&u=telegraf&p=$TOKEN&precision=s")" = 204 ] || fail "u/p: $(cat "$T/resp")"
[ "$(echo 'm v=3 1763800002000' | w "/api/v1/write?precision=ms" -u "any:$TOKEN")" = 204 ] || fail "basic: $(cat "$T/resp")"
[ "$(printf 'm v=4 1763800003000000000\nm v= 1763800004000000000\nm v=5 1763800005000000000\n' | w /api/v1/write -H "Authorization: Bearer $TOKEN")" = 400 ] \
  || fail "a bad line must give 400"
jq -e '.detail | test("line 2") and test("2 points written")' "$T/resp" >/dev/null || fail "partial write: $(cat "$T/resp")"
[ "$(status /write)" = 405 ] || fail "GET /write"

q=$(get '/api/v1/query?tag=m%23v&format=json')
[ "$(jq -c '[.series[0].points[][1]]' <<<"$q")" = '[1,2,3,4,5]' ] || fail "query: $q"
[ "$(jq -r '.series[0].points[0][0]' <<<"$q")" = 2025-11-22T08:26:40.000000000Z ] || fail "time: $q"
agg=$(get '/api/v1/query?tag=m%23v&from=2025-11-22T08:26:40Z&to=2025-11-22T08:26:50Z&agg=avg&step=10s')
[ "$(jq -c '.series[0].points[0][1]' <<<"$agg")" = 3 ] || fail "aggregate: $agg"
# a relative from starts on a whole window of the step (here a minute), so rollups can answer it
[ "$(echo 'now v=1' | w /api/v1/write -H "Authorization: Bearer $TOKEN")" = 204 ] || fail "now: $(cat "$T/resp")"
rel=$(get '/api/v1/query?tag=now%23v&from=-1h&to=now&agg=count&step=1m')
jq -e '.series[0].points | length == 1 and (.[0][0] | test(":00.000000000Z$")) and .[0][1] == 1' <<<"$rel" >/dev/null \
  || fail "relative from on the minute: $rel"
[ "$(status "/api/v1/query?tag=nope")" = 404 ] || fail "unknown series"
[ "$(status "/api/v1/query?tag=m%23v&agg=avg")" = 400 ] || fail "agg without step"
[ "$(status "/api/v1/query?tag=m%23v&from=-1h&to=now&agg=twa&step=1ns")" = 400 ] || fail "3.6e12 windows"
get '/api/v1/query?tag=m%23v&format=csv' > "$T/http.csv"
# longer answers, numbers (written as the client reads them) and text (made whole first): the
# same bytes as the command line's, compared after the stop below
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "big v=%d.%02d %d%09d\n", i, i % 100, 1763800000 + i, i * 7919 % 1000000 }' \
  | w /write -H "Authorization: Token $TOKEN" >/dev/null
awk 'BEGIN { for (i = 0; i < 500; i++) printf "txt s=\"a,b \\\"%d\\\"\" 1763800000%09d\n", i, i }' \
  | w /write -H "Authorization: Token $TOKEN" >/dev/null
for f in csv json; do
  get "/api/v1/query?tag=big%23v&format=$f" > "$T/big.$f"
  get "/api/v1/query?tag=txt%23s&tag=big%23v&format=$f&from=2025-11-22T08:26:40.000000400Z" > "$T/txt.$f"
done
[ "$(tail -n +2 "$T/big.csv" | wc -l)" = 5000 ] || fail "big: $(tail -2 "$T/big.csv")"
[ "$(jq '.series[0].points[-1][1]' "$T/big.json")" = 4999.99 ] || fail "big json: $(tail -c 100 "$T/big.json")"
# the newest point, of one series or of all of them
[ "$(get '/api/v1/latest?tag=m%23v' | jq -c '.series[0] | [.tag, .value, .quality]')" = '["m#v",5,"good"]' ] \
  || fail "latest: $(get '/api/v1/latest?tag=m%23v')"
get /api/v1/latest | jq -e '[.series[].tag] | index("m#v") != null' >/dev/null || fail "latest of all: $(get /api/v1/latest)"
[ "$(get /api/v1/latest | jq -c '[.series[] | select(.tag == "big#v" or .tag == "txt#s") | [.tag, .value]]')" \
  = '[["big#v",4999.99],["txt#s","a,b \"499\""]]' ] || fail "latest of all: $(get /api/v1/latest)"
[ "$(status "/api/v1/latest?tag=nope")" = 404 ] || fail "latest of an unknown series"
# by pattern: the series whose path matches (fnmatch), none for a pattern nothing matches
[ "$(get '/api/v1/latest?match=b*&match=m%23*' | jq -c '[.series[].tag] | sort')" = '["big#v","m#v"]' ] \
  || fail "latest by pattern: $(get '/api/v1/latest?match=b*&match=m%23*')"
[ "$(get '/api/v1/latest?match=zz*' | jq -c .series)" = '[]' ] || fail "latest of no match"
[ "$(status "/api/v1/latest?match=b*&tag=m%23v")" = 400 ] || fail "tag and match at once"

# gzip bodies (Telegraf's and the InfluxDB clients' default), and the InfluxDB 2.x write API
printf 'gz v=1 1763800000000000000\ngz v=2 1763800001000000000\n' | gzip -c > "$T/a.gz"
[ "$(w /write -H "Authorization: Token $TOKEN" -H 'Content-Encoding: GZIP' < "$T/a.gz")" = 204 ] \
  || fail "gzip: $(cat "$T/resp")"
{ printf 'gz v=3 1763800002\n' | gzip -c; printf 'gz v=4 1763800003\n' | gzip -c; } > "$T/b.gz"
[ "$(w "/api/v2/write?org=plant&bucket=b&precision=s" -H "Authorization: Token $TOKEN" -H 'Content-Encoding: gzip' < "$T/b.gz")" = 204 ] \
  || fail "two gzip members to /api/v2/write: $(cat "$T/resp")"
[ "$(get '/api/v1/query?tag=gz%23v&format=json' | jq -c '[.series[0].points[][1]]')" = '[1,2,3,4]' ] \
  || fail "gzip points: $(get '/api/v1/query?tag=gz%23v&format=json')"
# damaged (a byte of the deflate stream changed: the checksum fails), cut short, or not gzip at all:
# 400, nothing of it written
printf 'gz v=5 1763800005000000000\n' | gzip -c > "$T/c.gz"
{ head -c 12 "$T/c.gz"; printf 'X'; tail -c +14 "$T/c.gz"; } > "$T/bad.gz"
head -c 20 "$T/c.gz" > "$T/short.gz"
for f in bad.gz short.gz; do
  [ "$(w /write -H "Authorization: Token $TOKEN" -H 'Content-Encoding: gzip' < "$T/$f")" = 400 ] || fail "$f answered $(cat "$T/resp")"
  jq -e '.error | test("gzip")' "$T/resp" >/dev/null || fail "$f: $(cat "$T/resp")"
done
[ "$(echo 'gz v=6 1763800006000000000' | w /write -H "Authorization: Token $TOKEN" -H 'Content-Encoding: gzip')" = 400 ] \
  || fail "plain text said to be gzip"
[ "$(get '/api/v1/query?tag=gz%23v&format=json' | jq '.series[0].points | length')" = 4 ] || fail "a refused gzip body wrote points"
[ "$(echo 'gz v=7 1763800007000000000' | w /write -H "Authorization: Token $TOKEN" -H 'Content-Encoding: br')" = 415 ] \
  || fail "an unknown encoding: $(cat "$T/resp")"
# a small body that would decompress past the limit is refused, not made whole
head -c 34000000 /dev/zero | gzip -c > "$T/bomb.gz"
[ "$(w /write -H "Authorization: Token $TOKEN" -H 'Content-Encoding: gzip' < "$T/bomb.gz")" = 413 ] \
  || fail "a gzip bomb answered $(cat "$T/resp")"
# line protocol is UTF-8: other bytes are refused by line, and an answer that quotes them is JSON
[ "$(printf 'caf\xe9 v=1 1763800000000000000\nok v=1 1763800000000000000\n' | w /api/v1/write -H "Authorization: Token $TOKEN")" = 400 ] \
  || fail "a Latin-1 line: $(cat "$T/resp")"
jq -e '.detail | test("line 1: column 4: .*UTF-8") and test("1 point written")' "$T/resp" >/dev/null || fail "Latin-1: $(cat "$T/resp")"
[ "$(printf 'm v=1u\xff 1\n' | w /write -H "Authorization: Token $TOKEN")" = 400 ] || fail "a bad byte in a value: $(cat "$T/resp")"
jq -e '.error | test("UTF-8")' "$T/resp" >/dev/null || fail "its answer: $(cat "$T/resp")"
[ "$(echo 'm v=1 1' | w /write -H "Authorization: Token $TOKEN" -H $'Content-Encoding: x\xffz')" = 415 ] || fail "a bad encoding"
jq -e '.error | test("x\\?z")' "$T/resp" >/dev/null || fail "an answer quoting a bad byte: $(od -c "$T/resp" | head -3)"
# InfluxDB 2.x's error shape on /api/v2/write
[ "$(echo 'gz v= 1' | w /api/v2/write -H "Authorization: Token $TOKEN")" = 400 ] || fail "v2 bad line"
jq -e '.code == "invalid" and (.message | test("line 1"))' "$T/resp" >/dev/null || fail "v2 400 body: $(cat "$T/resp")"
[ "$(echo 'gz v=1 1' | w /api/v2/write)" = 401 ] || fail "v2 without a token"
jq -e '.code == "unauthorized"' "$T/resp" >/dev/null || fail "v2 401 body: $(cat "$T/resp")"

# fill the disk: 400 kB allow a few thousand points; then 507, said once, and nothing damaged
acked=0; code=204; k=0
while [ "$code" = 204 ] && [ "$k" -lt 200 ]; do
  code=$(awk -v s="$k" 'BEGIN { for (i = 0; i < 500; i++) printf "fill v=%di %s\n", s * 500 + i, sprintf("1763900000%09d", s * 500 + i) }' \
         | w /write -H "Authorization: Token $TOKEN")
  [ "$code" = 204 ] && acked=$((acked + 500))
  k=$((k + 1))
done
[ "$code" = 507 ] || fail "a full disk answered $code: $(cat "$T/resp")"
jq -e '.error | test("space|limit|full|Insufficient|disk"; "i")' "$T/resp" >/dev/null || fail "507 body: $(cat "$T/resp")"
[ "$acked" -gt 0 ] || fail "nothing fitted under the limit"
for _ in 1 2 3; do echo 'fill v=1i 1763999999000000000' | w /write -H "Authorization: Token $TOKEN" >/dev/null; done
[ "$(grep -c 'at its limit' "$T/stderr")" = 1 ] || fail "the full disk was logged $(grep -c 'at its limit' "$T/stderr") times"
gb_stop
# everything acknowledged is there, and the store opens without repair
have=$("$GEMBA" query --data "$T/data" 'fill#v' | tail -n +2 | wc -l)
[ "$have" -ge "$acked" ] || fail "$acked points acknowledged, $have stored"
"$GEMBA" query --data "$T/data" 'm#v' | cmp - "$T/http.csv" || fail "the HTTP CSV differs from the command line's"
for f in csv json; do
  "$GEMBA" query --data "$T/data" 'big#v' --format $f | cmp - "$T/big.$f" || fail "big.$f differs from the command line's"
  "$GEMBA" query --data "$T/data" 'txt#s' 'big#v' --format $f --from 2025-11-22T08:26:40.000000400Z \
    | cmp - "$T/txt.$f" || fail "txt.$f differs from the command line's"
done
gb_start --config "$T/plant.yaml" --max-disk 100MB
[ "$(echo 'fill v=1i 1763999999000000000' | w /write -H "Authorization: Token $TOKEN")" = 204 ] || fail "room again, but: $(cat "$T/resp")"
gb_stop
echo "ok: $acked points before the limit"
