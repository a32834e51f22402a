# The dashboard's files as the daemon serves them (no browser needed): every asset index.html
# names is there with its content type; hashed bundles are cached for a year, the page is
# revalidated (ETag, 304); the page's security headers; HEAD; other methods and unknown files
# are refused as problem details. And GET /api/v1/plant, which the dashboard reads.
source "$(dirname "$0")/lib.sh"

gb_start --demo
hdr() { curl -sS -D - -o "$T/body" "$@"; }

# the page
h=$(hdr "$GB_URL/")
grep -qi '^HTTP/1.1 200' <<<"$h" || fail "GET /: $h"
grep -qi '^Content-Type: text/html; charset=utf-8' <<<"$h" || fail "page type: $h"
grep -qi '^Cache-Control: no-cache' <<<"$h" || fail "the page must be revalidated: $h"
grep -qi "^Content-Security-Policy: default-src 'self'" <<<"$h" || fail "no CSP: $h"
grep -qi '^X-Content-Type-Options: nosniff' <<<"$h" || fail "nosniff: $h"
etag=$(grep -i '^ETag:' <<<"$h" | cut -d' ' -f2 | tr -d '\r')
[[ "$etag" == \"*\" ]] || fail "no strong ETag: $h"
grep -q '<div id="app">' "$T/body" || fail "page body: $(head -c 300 "$T/body")"
# nothing from anywhere else: no CDN, no font service
grep -qE '(src|href)="https?:' "$T/body" && fail "the page loads from another host: $(cat "$T/body")"

# revalidation costs a 304 and no body
out=$(curl -sS -o "$T/body304" -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$GB_URL/")
[ "$out" = "304 0" ] || fail "If-None-Match: $out"
[ "$(status / -H 'If-None-Match: "other"')" = 200 ] || fail "another ETag must get the page"

# every file the page names, with its type, cached for a year
n=0
for path in $(grep -oE '(src|href)="/[^"]+"' "$T/body" | cut -d'"' -f2 | grep -v '^/api/'); do
  h=$(hdr "$GB_URL$path")
  grep -qi '^HTTP/1.1 200' <<<"$h" || fail "$path: $h"
  case "$path" in
    *.js) want='text/javascript; charset=utf-8' ;;
    *.css) want='text/css; charset=utf-8' ;;
    *.svg) want='image/svg+xml' ;;
    *) fail "unexpected asset $path" ;;
  esac
  grep -qi "^Content-Type: $want" <<<"$h" || fail "$path type: $h"
  size=$(grep -i '^Content-Length:' <<<"$h" | tr -dc 0-9)
  [ "$size" -gt 0 ] && [ "$size" = "$(stat -c %s "$T/body")" ] || fail "$path length $size"
  case "$path" in
    /assets/*) grep -qi '^Cache-Control: public, max-age=31536000, immutable' <<<"$h" || fail "$path not immutable: $h" ;;
    *) grep -qi '^Cache-Control: no-cache' <<<"$h" || fail "$path: $h" ;;
  esac
  n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "the page names only $n assets"
# the bundle draws with uPlot and talks to the API the dashboard documents
js=$(get / | grep -oE '/assets/[^"]+\.js' | head -1)
get "$js" > "$T/app.js"   # (not piped into grep -q: curl would fail writing after grep quits)
grep -q '/api/v1/machines' "$T/app.js" || fail "the bundle does not read /api/v1/machines"

# HEAD answers the headers alone; other methods and unknown files are problems
h=$(curl -sS -I "$GB_URL/")
grep -qi '^Content-Type: text/html' <<<"$h" || fail "HEAD /: $h"
[ "$(status / -X POST)" = 405 ] || fail "POST / must be refused"
grep -qi '^Allow: GET, HEAD' <<<"$(curl -sS -D - -o /dev/null -X DELETE "$GB_URL/")" || fail "405 without Allow"
[ "$(status /assets/app-NOSUCH.js)" = 404 ] || fail "an unknown asset"
[ "$(curl -sS -o /dev/null -w '%{content_type}' "$GB_URL/assets/app-NOSUCH.js")" = application/problem+json ] || fail "404 type"

# the plant model
p=$(get /api/v1/plant)
[ "$(jq -r '.site, .timezone, .demo' <<<"$p" | paste -sd' ')" = "plant1 Europe/Berlin true" ] || fail "plant: $(head -c 300 <<<"$p")"
[ "$(jq -c '[.areas[].lines[] | {name, path, n: (.machines | length)}]' <<<"$p")" = \
  '[{"name":"line1","path":"acme/plant1/machining/line1","n":4},{"name":"line2","path":"acme/plant1/assembly/line2","n":4}]' ] \
  || fail "lines: $(jq -c '.areas' <<<"$p")"
[ "$(jq -c '.machines[] | select(.name=="lathe01") | [.kind, .ideal_cycle_time_s, .cycle_times.O1020, .counts.total, (.tags | length)]' <<<"$p")" = \
  '["CNC lathe",80,95,"part_count",13]' ] || fail "lathe01: $(jq -c '.machines[0]' <<<"$p")"
jq -e '.reasons[] | select(.path=="unplanned/tooling/breakage" and .leaf and (.planned | not))' <<<"$p" >/dev/null || fail "reasons"
jq -e '.reasons[] | select(.path=="planned/changeover" and (.leaf | not) and .planned)' <<<"$p" >/dev/null || fail "branches are listed too"
jq -e '.scrap_reasons[] | select(.path=="dimension/oversize")' <<<"$p" >/dev/null || fail "scrap reasons"
[ "$(jq -c '.shifts[0] | [.name, .start, .end, (.days | length), .breaks[0].name, .breaks[0].duration_s]' <<<"$p")" = \
  '["early","06:00","14:00",7,"breakfast",900]' ] || fail "shifts: $(jq -c '.shifts[0]' <<<"$p")"
[ "$(status /api/v1/plant -X POST)" = 405 ] || fail "POST /api/v1/plant"
gb_stop
echo "ok: page and $n assets with their types and cache headers; the plant model"
