# The OpenAPI document matches the server: the router's table (src/api/http.c) and the document
# name the same operations with the same least role (x-gemba-role), and every documented operation,
# called for real -- anonymously, with a role too low, and with the role it needs -- answers with
# a status code and content type the document lists for it.
source "$(dirname "$0")/lib.sh"

for role in viewer operator engineer admin; do
  declare "TOK_$role=$(gb_token "$role" "oa-$role")"
done
echo 'viewer-pass' | "$GEMBA" user add oa-viewer --role viewer --data "$T/data" 2>/dev/null || fail "user add"
gb_start --demo
doc=$(get /api/v1/openapi.json)
jq -e '.openapi | startswith("3.")' <<<"$doc" >/dev/null || fail "not OpenAPI 3"

# --- the table and the document agree, both ways ----------------------------------------------
table=$(gb_routes)
[ "$(wc -l <<<"$table")" -ge 25 ] || fail "the route table was not found in http.c: $table"
documented=$(jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
                    | "\(.key | ascii_upcase) \($p) \(.value["x-gemba-role"] // "UNSET")"' <<<"$doc" | sort)
diff <(echo "$table") <(echo "$documented") >"$T/routes.diff" \
  || fail "router table (<) and document (>) differ: $(cat "$T/routes.diff")"

sleep 1
# the dashboard's assets are named by their hash: take the script's name from the page
asset=$(curl -sS "$GB_URL/" | grep -oE '/assets/app-[A-Za-z0-9_-]+\.js' | head -1)
[ -n "$asset" ] || fail "/ names no script under /assets/"
stop=$(get /api/v1/machines/lathe01/stops | jq -r '.stops[0].start // "2001-01-01T00:00:00Z"')

# probe METHOD TEMPLATE URL [curl args...]: calls it, checks code and content type against the
# document, prints the code
probe() {
  local method=$1 tmpl=$2 url=$3; shift 3
  local out code ctype allowed want
  out=$(curl -sS -o "$T/body" -w '%{http_code} %{content_type}' -X "$method" "$@" "$GB_URL$url")
  code=${out%% *}; ctype=${out#* }; ctype=${ctype%%;*}
  allowed=$(jq -r --arg p "$tmpl" --arg m "${method,,}" '.paths[$p][$m].responses | keys | join(" ")' <<<"$doc")
  [[ " $allowed " == *" $code "* ]] || fail "$method $url answered $code; documented: $allowed ($(head -c 300 "$T/body"))"
  # the documented content types of that response (following a \$ref to components)
  want=$(jq -r --arg p "$tmpl" --arg m "${method,,}" --arg c "$code" '
      .paths[$p][$m].responses[$c] as $r
      | (if $r["$ref"] then .components.responses[$r["$ref"] | split("/") | last] else $r end)
      | (.content // {"": 0}) | keys | join(" ")' <<<"$doc")
  [[ " $want " == *" $ctype "* ]] || fail "$method $url ($code) sent '$ctype', documented '$want'"
  case "$ctype" in
    application/json|application/problem+json) jq -e . "$T/body" >/dev/null || fail "$method $url: body is not JSON" ;;
    "") [ ! -s "$T/body" ] || fail "$method $url ($code): a body without a content type" ;;
  esac
  echo "$code"
}

# a body each operation accepts (the required role calls it for real)
body_of() {
  case "$1 $2" in
    "POST /api/v1/session") echo '{"user":"oa-viewer","password":"viewer-pass"}' ;;
    "POST /api/v1/setup") echo '{"code":"nope","user":"x","password":"long enough"}' ;;
    "POST /api/v1/users") echo '{"name":"probe","role":"viewer","password":"probe-pass"}' ;;
    "PATCH /api/v1/users/{user}") echo '{"role":"operator"}' ;;
    "POST /api/v1/tokens") echo '{"role":"viewer","id":"probe"}' ;;
    "POST /api/v1/tags/{machine}/{tag}/value") echo '{"value":1}' ;;
    "POST /api/v1/write"|"POST /write"|"POST /api/v2/write") echo 'probe v=1' ;;
    "POST /query") echo 'q=CREATE+DATABASE+%22probe%22' ;;
    *) echo '{"reason":"planned/break","at":"2001-01-01T00:00:00Z","count":1}' ;;
  esac
}
below() { case $1 in operator) echo viewer ;; engineer) echo operator ;; admin) echo engineer ;; *) echo "" ;; esac; }

n=0
while read -r method tmpl role; do
  url=${tmpl//\{machine\}/lathe01}
  url=${url//\{stop\}/$stop}
  url=${url//\{tag\}/spindle_load}
  url=${url//\{user\}/probe}
  url=${url//\{id\}/probe}
  [ "$tmpl" = '/assets/{file*}' ] && url=$asset
  json=(-H 'Content-Type: application/json')
  # anonymous: 401 unless the operation is open to anyone
  code=$(probe "$method" "$tmpl" "$url" "${json[@]}" --data "$(body_of "$method" "$tmpl")")
  if [ "$role" = anonymous ]; then [ "$code" != 401 ] || fail "$method $tmpl is open to anyone but said 401"
  else [ "$code" = 401 ] || fail "$method $tmpl answered $code to an anonymous caller"; fi
  [ "$role" = anonymous ] && { n=$((n + 1)); continue; }
  # a role too low: 403
  low=$(below "$role")
  if [ -n "$low" ]; then
    tok=TOK_$low
    [ "$(probe "$method" "$tmpl" "$url" -H "Authorization: Bearer ${!tok}" "${json[@]}" --data '{}')" = 403 ] \
      || fail "$method $tmpl let a $low in"
    jq -e '.code == "role" or .error or .code == "forbidden"' "$T/body" >/dev/null || fail "$method $tmpl: 403 without code role"
  fi
  # the role it needs (an admin for another user's record), for real
  tok=TOK_$role; [ "$tmpl" = "/api/v1/users/{user}" ] && tok=TOK_admin
  auth=(-H "Authorization: Bearer ${!tok}")
  if [ "$tmpl" = /api/v1/stream ]; then
    # an endless response: its status and type, then hang up; a bad filter is a problem
    out=$(curl -sS -N --max-time 2 -o "$T/body" -w '%{http_code} %{content_type}' "${auth[@]}" "$GB_URL$url" || true)
    [ "${out%%;*}" = "200 text/event-stream" ] || fail "GET $url answered $out"
    probe GET "$tmpl" "$url?tags=nosuch/tag" "${auth[@]}" >/dev/null
  elif [ "$method" = GET ]; then
    probe GET "$tmpl" "$url" "${auth[@]}" >/dev/null
    [[ "$tmpl" == *"{machine}"* ]] && probe GET "$tmpl" "${url/lathe01/nosuch}" "${auth[@]}" >/dev/null
    [[ "$tmpl" == *"{machine}"* || "$tmpl" == /api/v1/oee ]] && probe GET "$tmpl" "$url?from=yesterday" "${auth[@]}" >/dev/null
    [[ "$tmpl" == /api/v1/users || "$tmpl" == /api/v1/tokens || "$tmpl" == /api/v1/audit ]] \
      && [ "$(probe GET "$tmpl" "$url?limit=0" "${auth[@]}")" = 400 ] && probe GET "$tmpl" "$url?limit=1" "${auth[@]}" >/dev/null
  else
    code=$(probe "$method" "$tmpl" "$url" "${auth[@]}" "${json[@]}" --data "$(body_of "$method" "$tmpl")")
    if [ "$code" = 403 ]; then jq -e '(.code // "") != "role"' "$T/body" >/dev/null || fail "$method $tmpl refused its role"; fi
    if [[ "$method" != DELETE && "$tmpl" != */write ]]; then
      [ "$(probe "$method" "$tmpl" "$url" "${auth[@]}" "${json[@]}" --data 'not json')" = 400 ] || fail "$method $tmpl took a bad body"
    fi
    [[ "$tmpl" == *"{machine}"* ]] && probe "$method" "$tmpl" "${url/lathe01/nosuch}" "${auth[@]}" "${json[@]}" \
                                          --data "$(body_of "$method" "$tmpl")" >/dev/null
  fi
  n=$((n + 1))
done < <(jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
                | "\(.key | ascii_upcase) \($p) \(.value["x-gemba-role"])"' <<<"$doc")
[ "$n" = "$(wc -l <<<"$table")" ] || fail "$n operations probed, $(wc -l <<<"$table") in the table"
gb_stop
echo "ok: $n operations checked"
