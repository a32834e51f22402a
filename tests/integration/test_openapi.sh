# The OpenAPI document matches the server: every documented operation, called for real, answers
# with a status code and content type the document lists for it; every route the server's code
# knows is documented.
source "$(dirname "$0")/lib.sh"

# a token made with the CLI before the start is accepted like the first one
TOKEN=$("$GEMBA" token create --data "$T/data" 2>/dev/null) || fail "token create"
gb_start --demo
grep -q 'created the first API token' "$T/stderr" && fail "a first token was made although one existed"
doc=$(get /api/v1/openapi.json)
jq -e '.openapi | startswith("3.")' <<<"$doc" >/dev/null || fail "not OpenAPI 3"
sleep 1
stop=$(get /api/v1/machines/lathe01/stops | jq -r '.stops[0].start // "2001-01-01T00:00:00Z"')

# call PATH with METHOD (and curl args); check the answer against the document
probe() { # METHOD TEMPLATE URL [curl args...]
  local method=$1 tmpl=$2 url=$3; shift 3
  local out code ctype allowed want
  out=$(curl -sS -o "$T/body" -w '%{http_code} %{content_type}' -X "$method" "$@" "$GB_URL$url")
  code=${out%% *}; ctype=${out#* }; ctype=${ctype%%;*}
  allowed=$(jq -r --arg p "$tmpl" --arg m "${method,,}" '.paths[$p][$m].responses | keys | join(" ")' <<<"$doc")
  [[ " $allowed " == *" $code "* ]] || fail "$method $url answered $code; documented: $allowed ($(head -c 200 "$T/body"))"
  # the documented content type of that response (following a \$ref to components)
  want=$(jq -r --arg p "$tmpl" --arg m "${method,,}" --arg c "$code" '
      .paths[$p][$m].responses[$c] as $r
      | (if $r["$ref"] then .components.responses[$r["$ref"] | split("/") | last] else $r end)
      | .content | keys[0]' <<<"$doc")
  [ "$ctype" = "$want" ] || fail "$method $url ($code) sent $ctype, documented $want"
  jq -e . "$T/body" >/dev/null || fail "$method $url: body is not JSON"
  echo "$code"
}

n=0
while read -r method tmpl; do
  url=${tmpl//\{machine\}/lathe01}
  url=${url//\{stop\}/$stop}
  if [ "$tmpl" = /api/v1/stream ]; then
    # an endless response: its status and type, then hang up; a bad filter is a problem
    out=$(curl -sS -N --max-time 2 -o "$T/body" -w '%{http_code} %{content_type}' "$GB_URL$url" || true)
    [ "${out%%;*}" = "200 text/event-stream" ] || fail "GET $url answered $out"
    probe GET "$tmpl" "$url?tags=nosuch/tag" >/dev/null
  elif [ "$method" = get ]; then
    probe GET "$tmpl" "$url" >/dev/null
    [[ "$tmpl" == *"{machine}"* ]] && probe GET "$tmpl" "${tmpl//\{machine\}/nosuch}" >/dev/null
    [[ "$tmpl" == *"{machine}"* || "$tmpl" == /api/v1/oee ]] && probe GET "$tmpl" "$url?from=yesterday" >/dev/null
  else
    [ "$(probe POST "$tmpl" "$url" -d '{}')" = 401 ] || fail "$tmpl without a token"
    [ "$(probe POST "$tmpl" "$url" -H "Authorization: Bearer $TOKEN" -d 'not json')" = 400 ] || fail "$tmpl bad body"
    probe POST "$tmpl" "${url/lathe01/nosuch}" -H "Authorization: Bearer $TOKEN" \
          -d '{"reason":"planned/break","at":"2001-01-01T00:00:00Z","count":1}' >/dev/null
  fi
  n=$((n + 1))
done < <(jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\(.) \($p)"' <<<"$doc")
[ "$n" -ge 10 ] || fail "only $n operations documented"

# every route literal in the server is a documented path (or a prefix of one)
paths=$(jq -r '.paths | keys[]' <<<"$doc")
for lit in $(grep -o '"/api/v1/[a-z0-9_./]*' "$GB_SRC/src/api/http.c" | tr -d '"' | sort -u); do
  grep -q "^${lit}" <<<"$paths" || fail "the server handles $lit, which the document does not describe"
done
gb_stop
echo "ok: $n operations checked"
