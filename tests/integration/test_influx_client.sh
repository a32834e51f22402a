# An InfluxDB client as it is, writing to gemba: the InfluxDB 1.x Python client (Debian's
# python3-influxdb) points at /write with the token as its password, makes its database first
# (/query's CREATE DATABASE, a no-op), sends points in batches with and without gzip, and gets
# its own errors for a refused line, a SELECT and a bad token; every point is then read back from
# gemba's query API.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's, where python3-influxdb is
"$PY" -c 'import influxdb' 2>/dev/null || fail "python3-influxdb is not installed (scripts/deps.sh --test)"
cat > "$T/plant.yaml" <<'YAML'
site: {name: ic, timezone: UTC}
areas: [{name: a, lines: [{name: l, machines: [{name: m1}]}]}]
YAML
gb_start --config "$T/plant.yaml"
TOKEN=$(gb_token engineer)
"$PY" - "$GB_URL" "$TOKEN" > "$T/client.out" 2>&1 <<'PY' || fail "the client: $(tail -5 "$T/client.out")"
import sys, urllib.parse
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

url = urllib.parse.urlparse(sys.argv[1])
for gz in (False, True):
    c = InfluxDBClient(host=url.hostname, port=url.port, username="telegraf",
                       password=sys.argv[2], database="plant", gzip=gz)
    assert c.ping() == "1.8.10", c.ping()  # the client's own check that a server is there
    c.create_database("plant")  # what collectors ask first: done, gemba needs no database made
    try:
        c.query("SELECT * FROM press")
        raise SystemExit("a SELECT on /query was taken")
    except InfluxDBClientError as e:
        assert e.code == 400 and "/api/v1/query" in str(e.content), (e.code, e.content)
    pts = [{"measurement": "press", "tags": {"line": "l1", "gz": str(gz).lower()},
            "time": 1763800000000000000 + i * 1000000000,
            "fields": {"force": 10.5 + i / 4, "cycles": i, "state": "run" if i % 3 else "idle"}}
           for i in range(1000)]
    assert c.write_points(pts, time_precision="n", batch_size=300), "write_points"
    try:
        c.write_points(["press,line=l1 force= 1763800000000000000"], protocol="line")
        raise SystemExit("a bad line was taken")
    except InfluxDBClientError as e:
        assert e.code == 400 and "partial write" in str(e.content), (e.code, e.content)
bad = InfluxDBClient(host=url.hostname, port=url.port, username="telegraf", password="nope",
                     database="plant", gzip=True)
try:
    bad.write_points([{"measurement": "press", "fields": {"force": 1.0}}])
    raise SystemExit("a bad token was taken")
except InfluxDBClientError as e:
    assert e.code == 401, (e.code, e.content)
print("ok")
PY
# Telegraf's own CREATE DATABASE: a form body, the token in u and p
[ "$(curl -s -o "$T/q" -w '%{http_code}' -X POST --data 'q=CREATE+DATABASE+%22telegraf%22' \
       "$GB_URL/query?u=telegraf&p=$TOKEN")" = 200 ] || fail "CREATE DATABASE as a form: $(cat "$T/q")"
jq -e '.results[0].statement_id == 0' "$T/q" >/dev/null || fail "its answer: $(cat "$T/q")"
# one statement at a time (a DROP behind it is not answered as done), and CREATE only by POST
[ "$(curl -s -o "$T/q" -w '%{http_code}' -X POST --data 'q=CREATE+DATABASE+a;+DROP+DATABASE+b' \
       "$GB_URL/query?u=telegraf&p=$TOKEN")" = 400 ] || fail "two statements: $(cat "$T/q")"
[ "$(curl -s -o "$T/q" -w '%{http_code}' -X POST --data 'q=CREATE+DATABASE+%22a;b%22;+' \
       "$GB_URL/query?u=telegraf&p=$TOKEN")" = 200 ] || fail "a ; inside a name: $(cat "$T/q")"
[ "$(curl -s -D "$T/h" -o "$T/q" -w '%{http_code}' "$GB_URL/query?q=CREATE+DATABASE+x&u=telegraf&p=$TOKEN")" = 405 ] \
  && grep -qi '^Allow: POST' "$T/h" || fail "CREATE by GET: $(cat "$T/h" "$T/q")"
# an empty precision is nanoseconds, and x-gzip is gzip, as InfluxDB 1.x takes them
printf 'xg v=1 1763800000000000000\n' | gzip -c > "$T/x.gz"
[ "$(curl -s -o "$T/q" -w '%{http_code}' -X POST -H 'Content-Encoding: x-gzip' --data-binary @"$T/x.gz" \
       "$GB_URL/write?db=plant&precision=&u=telegraf&p=$TOKEN")" = 204 ] || fail "x-gzip, precision=: $(cat "$T/q")"
for gz in false true; do
  s="press,gz=$gz,line=l1"
  q=$(get "/api/v1/query?tag=$(jq -rn --arg s "$s#force" '$s | @uri')&tag=$(jq -rn --arg s "$s#cycles" '$s | @uri')&tag=$(jq -rn --arg s "$s#state" '$s | @uri')&format=json")
  jq -e '[.series[].points | length] == [1000, 1000, 1000]' <<<"$q" >/dev/null || fail "gzip $gz: $(head -c 300 <<<"$q")"
  jq -e '.series[0].points[999][1] == 260.25 and .series[1].points[999][1] == 999 and .series[2].points[0][1] == "idle"
         and .series[0].points[1][0] == "2025-11-22T08:26:41.000000000Z"' <<<"$q" >/dev/null \
    || fail "gzip $gz values: $(jq -c '[.series[] | .points[999]]' <<<"$q")"
done
gb_stop
echo "ok: the InfluxDB 1.x Python client wrote 6000 points, gzip and plain"
