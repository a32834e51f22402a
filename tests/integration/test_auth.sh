# Users, roles, sessions, tokens and the audit log, against the real daemon:
#   - the first start prints a setup link that creates the first admin once;
#   - every route, called by every role (anonymous and the four roles), lets in exactly the roles
#     the router's table names: anonymous gets 401, a role too low 403;
#   - every change made with a session cookie needs the session's CSRF token (403 without);
#   - role changes apply at once, new passwords and deletions end sessions, the last admin stays;
#   - logins back off (429 with Retry-After), per user and per client address;
#   - passwords are stored only as argon2id hashes; revoked tokens stop working at once, also
#     when revoked by the command line while the daemon runs;
#   - the audit log records who, how, from where, what, before and after, and pages back.
source "$(dirname "$0")/lib.sh"

gb_start --demo
CODE=$(grep -o 'no users yet: open http://127.0.0.1:[0-9]*/setup?code=[A-Za-z0-9_-]*' "$T/stderr" | sed 's/.*code=//') \
  || fail "no setup link on the first start"
[ "${#CODE}" = 43 ] || fail "setup code '$CODE'"

# api METHOD PATH [curl args]: the status code; the body in $T/body, the headers in $T/headers
api() { curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$1" "${@:3}" "$GB_URL$2"; }
json=(-H 'Content-Type: application/json')
pcode() { jq -r '.code // empty' "$T/body"; }
# login USER PASSWORD JAR: signs in, keeps the cookie in JAR; the status code
login() { api POST /api/v1/session -c "$3" "${json[@]}" --data "{\"user\":\"$1\",\"password\":\"$2\"}"; }
csrf() { curl -sS -b "$1" "$GB_URL/api/v1/session" | jq -r .csrf_token; }

# --- anonymous: the pages, health and the document load; nothing else does -------------------
asset=$(curl -sS "$GB_URL/" | grep -oE '/assets/app-[A-Za-z0-9_-]+\.(js|css)' | head -1)
for p in / /login /setup /api/v1/health /api/v1/openapi.json /favicon.svg "$asset"; do [ "$(api GET "$p")" = 200 ] || fail "anonymous $p"; done
# the dashboard's page and assets load for anyone, but the plant behind them does not
[ "$(api GET /api/v1/plant)" = 401 ] || fail "anonymous plant"
[ "$(api GET /assets/nosuch.js)" = 404 ] || fail "a missing asset: $(cat "$T/body")"
[ "$(api GET /api/v1/tags)" = 401 ] || fail "anonymous tags"
jq -e '.code == "unauthenticated" and .setup_required == true and .status == 401' "$T/body" >/dev/null || fail "401: $(cat "$T/body")"
grep -qi '^WWW-Authenticate: Bearer' "$T/headers" || fail "401 without WWW-Authenticate"
# a refused GET keeps its connection (a page's first call is often a 401)
[ "$(curl -s -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' "$GB_URL/api/v1/session" "$GB_URL/api/v1/session")" = "401:1 401:0 " ] \
  || fail "a 401 closed the connection"

# --- the setup link: works once ----------------------------------------------------------------
[ "$(api GET "/api/v1/setup?code=$CODE")" = 200 ] && jq -e '.required and .code_valid' "$T/body" >/dev/null || fail "setup state: $(cat "$T/body")"
[ "$(api GET "/api/v1/setup?code=x$CODE")" = 200 ] && jq -e '.code_valid == false' "$T/body" >/dev/null || fail "a wrong code looks valid"
[ "$(api POST /api/v1/setup --data "{\"code\":\"$CODE\",\"user\":\"boss\",\"password\":\"boss-pass-1\"}")" = 415 ] || fail "setup without JSON"
[ "$(api POST /api/v1/setup "${json[@]}" --data '{"code":"wrong","user":"boss","password":"boss-pass-1"}')" = 403 ] && [ "$(pcode)" = setup_code ] \
  || fail "setup with a wrong code: $(cat "$T/body")"
[ "$(api POST /api/v1/setup "${json[@]}" --data "{\"code\":\"$CODE\",\"user\":\"boss\",\"password\":\"short\"}")" = 422 ] || fail "a short password"
[ "$(api POST /api/v1/setup -c "$T/boss" "${json[@]}" --data "{\"code\":\"$CODE\",\"user\":\"boss\",\"password\":\"boss-pass-1\"}")" = 201 ] \
  || fail "setup: $(cat "$T/body")"
jq -e '.user == "boss" and .role == "admin" and .via == "session" and (.csrf_token | length) == 43' "$T/body" >/dev/null || fail "setup answer: $(cat "$T/body")"
cookie=$(grep -i '^Set-Cookie:' "$T/headers" | tr -d '\r')
for attr in 'gemba_session=' 'HttpOnly' 'SameSite=Strict' 'Path=/' 'Max-Age='; do
  [[ "$cookie" == *"$attr"* ]] || fail "session cookie lacks $attr: $cookie"
done
[[ "$cookie" == *Secure* ]] && fail "Secure on plain HTTP: $cookie"
[ "$(api POST /api/v1/setup "${json[@]}" --data "{\"code\":\"$CODE\",\"user\":\"boss2\",\"password\":\"boss-pass-2\"}")" = 409 ] && [ "$(pcode)" = setup_done ] \
  || fail "the setup link worked twice: $(cat "$T/body")"
[ "$(api GET "/api/v1/setup?code=$CODE")" = 200 ] && jq -e '.required == false and .code_valid == false' "$T/body" >/dev/null || fail "after setup: $(cat "$T/body")"
grep -q 'the first admin, boss, was created from 127.0.0.1' "$T/stderr" || fail "setup not logged"
BOSS=$(csrf "$T/boss")

# --- people and tokens, made by the admin through the API --------------------------------------
adm() { api "$1" "$2" -b "$T/boss" -H "X-CSRF-Token: $BOSS" "${json[@]}" "${@:3}"; }
for r in viewer operator engineer admin; do
  [ "$(adm POST /api/v1/users --data "{\"name\":\"u-$r\",\"role\":\"$r\",\"password\":\"pass-of-$r\"}")" = 201 ] || fail "add u-$r: $(cat "$T/body")"
  grep -qi "^Location: /api/v1/users/u-$r" "$T/headers" || fail "no Location"
  [ "$(adm POST /api/v1/tokens --data "{\"role\":\"$r\"}")" = 201 ] || fail "token $r: $(cat "$T/body")"
  jq -e --arg r "$r" '.id == "\($r)-1" and .role == $r and .created_by == "boss" and (.token | startswith("gbt_\($r)-1_"))' "$T/body" >/dev/null \
    || fail "token answer: $(cat "$T/body")"
  declare "TOK_$r=$(jq -r .token "$T/body")"
done
[ "$(adm POST /api/v1/users --data '{"name":"u-viewer","role":"viewer","password":"whatever1"}')" = 409 ] || fail "a taken name"
[ "$(adm POST /api/v1/users --data '{"name":"-bad","role":"viewer","password":"whatever1"}')" = 422 ] || fail "a bad name"
[ "$(adm POST /api/v1/users --data '{"name":"x","role":"king","password":"whatever1"}')" = 422 ] || fail "a bad role"
[ "$(adm GET /api/v1/tokens)" = 200 ] || fail "token list"
jq -e '[.tokens[].id] == ["admin-1", "engineer-1", "it-admin", "operator-1", "viewer-1"] and all(.tokens[]; has("token") | not)' "$T/body" >/dev/null \
  || fail "token list: $(cat "$T/body")"
grep -q "${TOK_viewer##*_}" "$T/body" && fail "the token list shows a secret"

# --- every route, every role --------------------------------------------------------------------
rank() { case $1 in anonymous) echo 0 ;; viewer) echo 1 ;; operator) echo 2 ;; engineer) echo 3 ;; admin) echo 4 ;; esac; }
checked=0
while read -r method pattern need; do
  url=${pattern//\{machine\}/nosuch}; url=${url//\{stop\}/2001-01-01T00:00:00Z}; url=${url//\{tag\}/x}
  url=${url//\{user\}/nosuch}; url=${url//\{id\}/nosuch}
  # changing another user's record is an admin's, whatever the table lets through to the handler
  [ "$method $pattern" = "PATCH /api/v1/users/{user}" ] && need=admin
  for who in anonymous viewer operator engineer admin; do
    auth=(); [ "$who" = anonymous ] || { tok=TOK_$who; auth=(-H "Authorization: Bearer ${!tok}"); }
    # a body no handler accepts, so nothing changes when a caller is let in; the live stream
    # never ends by itself: its status is in once the time is up
    extra=(); [ "$pattern" = /api/v1/stream ] && extra=(--max-time 2)
    code=$(api "$method" "$url" "${auth[@]}" "${extra[@]}" --data '{}' || true)
    if [ "$(rank "$who")" -ge "$(rank "$need")" ]; then
      [ "$code" != 401 ] && { [ "$code" != 403 ] || [ "$(pcode)" != role ]; } \
        || fail "$who was refused $method $pattern ($need): $code $(cat "$T/body")"
    elif [ "$who" = anonymous ]; then
      [ "$code" = 401 ] || fail "anonymous $method $pattern answered $code"
    else
      [ "$code" = 403 ] || fail "$who $method $pattern ($need) answered $code: $(cat "$T/body")"
      case "$pattern" in # InfluxDB's own shapes there, for its clients
        /write|/query) jq -e '.error | test("engineer")' "$T/body" >/dev/null ;;
        /api/v2/write) jq -e '.code == "forbidden" and (.message | test("engineer"))' "$T/body" >/dev/null ;;
        *) jq -e --arg n "$need" --arg w "$who" '.code == "role" and .required_role == $n and .role == $w' "$T/body" >/dev/null ;;
      esac || fail "403 of $method $pattern: $(cat "$T/body")"
    fi
    checked=$((checked + 1))
  done
done < <(gb_routes)
[ "$checked" -ge 150 ] || fail "only $checked calls"

# --- a change through a session cookie needs its CSRF token -----------------------------------
csrf_checked=0
while read -r method pattern need; do
  case "$method $need" in GET\ *|*\ anonymous) continue ;; esac
  [ "$method $pattern" = "DELETE /api/v1/session" ] && continue # that one signs out: last
  url=${pattern//\{machine\}/nosuch}; url=${url//\{stop\}/2001-01-01T00:00:00Z}; url=${url//\{tag\}/x}
  url=${url//\{user\}/nosuch}; url=${url//\{id\}/nosuch}
  # (InfluxDB's /write answers {"error": ...}, without a code; /api/v2/write its 2.x shape)
  [ "$(api "$method" "$url" -b "$T/boss" --data '{}')" = 403 ] \
    && { [ "$(pcode)" = csrf ] || { [[ "$pattern" = /write || "$pattern" = /query || "$pattern" = /api/v2/write ]] && grep -q CSRF "$T/body"; }; } \
    || fail "$method $pattern by cookie without the CSRF token: $(cat "$T/body")"
  [ "$(api "$method" "$url" -b "$T/boss" -H "X-CSRF-Token: x$BOSS" --data '{}')" = 403 ] || fail "$method $pattern with a wrong CSRF token"
  code=$(api "$method" "$url" -b "$T/boss" -H "X-CSRF-Token: $BOSS" --data '{}')
  [ "$code" != 401 ] && [ "$(pcode)" != csrf ] && [ "$(pcode)" != role ] || fail "$method $pattern with the CSRF token: $code $(cat "$T/body")"
  csrf_checked=$((csrf_checked + 1))
done < <(gb_routes)
[ "$csrf_checked" -ge 11 ] || fail "only $csrf_checked state-changing routes"

# --- real changes by role, through sessions -----------------------------------------------------
[ "$(login u-viewer pass-of-viewer "$T/vic")" = 200 ] || fail "viewer login: $(cat "$T/body")"
VIC=$(csrf "$T/vic")
[ "$(api GET /api/v1/machines -b "$T/vic")" = 200 ] || fail "a viewer reads"
[ "$(api POST /api/v1/machines/lathe01/scrap -b "$T/vic" -H "X-CSRF-Token: $VIC" "${json[@]}" --data '{"count":1}')" = 403 ] \
  || fail "a viewer's write: $(cat "$T/body")"
[ "$(login u-operator pass-of-operator "$T/op")" = 200 ] || fail "operator login"
OP=$(csrf "$T/op")
[ "$(api POST /api/v1/machines/lathe01/scrap -b "$T/op" -H "X-CSRF-Token: $OP" "${json[@]}" --data '{"count":2}')" = 200 ] \
  || fail "an operator's scrap: $(cat "$T/body")"
[ "$(api POST /api/v1/write -b "$T/op" -H "X-CSRF-Token: $OP" --data 'auth v=1')" = 403 ] || fail "an operator wrote to the historian"
[ "$(login u-engineer pass-of-engineer "$T/eng")" = 200 ] || fail "engineer login"
[ "$(api POST /api/v1/write -b "$T/eng" -H "X-CSRF-Token: $(csrf "$T/eng")" --data 'auth v=1')" = 204 ] || fail "an engineer's write: $(cat "$T/body")"
# a role change applies at once, to sessions already open
[ "$(adm PATCH /api/v1/users/u-viewer --data '{"role":"operator"}')" = 200 ] && jq -e '.role == "operator"' "$T/body" >/dev/null || fail "role change"
[ "$(api POST /api/v1/machines/lathe01/scrap -b "$T/vic" -H "X-CSRF-Token: $VIC" "${json[@]}" --data '{"count":1}')" = 200 ] \
  || fail "the promoted viewer still cannot scrap: $(cat "$T/body")"
# others' records are the admin's; one's own password needs the current one
[ "$(api PATCH /api/v1/users/u-engineer -b "$T/op" -H "X-CSRF-Token: $OP" "${json[@]}" --data '{"password":"hijacked!"}')" = 403 ] || fail "an operator changed another's password"
[ "$(api PATCH /api/v1/users/u-operator -b "$T/op" -H "X-CSRF-Token: $OP" "${json[@]}" --data '{"role":"admin"}')" = 403 ] || fail "an operator made themselves admin"
[ "$(api PATCH /api/v1/users/u-operator -b "$T/op" -H "X-CSRF-Token: $OP" "${json[@]}" --data '{"password":"new-op-pass","current_password":"wrong"}')" = 403 ] \
  && [ "$(pcode)" = current_password ] || fail "own password without the current one: $(cat "$T/body")"
[ "$(api PATCH /api/v1/users/u-operator -b "$T/op" -H "X-CSRF-Token: $OP" "${json[@]}" --data '{"password":"new-op-pass","current_password":"pass-of-operator"}')" = 200 ] \
  || fail "own password: $(cat "$T/body")"
grep -qi '^Set-Cookie: gemba_session=;.*Max-Age=0' "$T/headers" || fail "the cookie was not cleared after a new password"
[ "$(api GET /api/v1/session -b "$T/op")" = 401 ] && [ "$(pcode)" = session_expired ] || fail "the session outlived the password: $(cat "$T/body")"
[ "$(login u-operator pass-of-operator "$T/op")" = 401 ] || fail "the old password still works"
[ "$(login u-operator new-op-pass "$T/op")" = 200 ] || fail "the new password does not work"
# an admin's new password for someone ends that person's sessions; so does deleting them
[ "$(adm PATCH /api/v1/users/u-engineer --data '{"password":"reset-by-boss"}')" = 200 ] || fail "admin sets a password"
[ "$(api GET /api/v1/session -b "$T/eng")" = 401 ] || fail "the engineer's session outlived the reset"
[ "$(adm DELETE /api/v1/users/u-viewer)" = 204 ] || fail "delete: $(cat "$T/body")"
[ "$(api GET /api/v1/session -b "$T/vic")" = 401 ] || fail "a deleted user's session goes on"
[ "$(adm DELETE /api/v1/users/u-viewer)" = 404 ] || fail "deleted twice"
# the last admin stays an admin
[ "$(adm DELETE /api/v1/users/u-admin)" = 204 ] || fail "delete the second admin"
[ "$(adm PATCH /api/v1/users/boss --data '{"role":"viewer"}')" = 409 ] && [ "$(pcode)" = last_admin ] || fail "the last admin was demoted: $(cat "$T/body")"
[ "$(adm DELETE /api/v1/users/boss)" = 409 ] || fail "the last admin was deleted"

# --- tokens: revoked, they stop at once (through the API and through the command line) -------
[ "$(api GET /api/v1/session -H "Authorization: Bearer $TOK_engineer")" = 200 ] && jq -e '.via == "token" and .user == "engineer-1" and (has("csrf_token") | not)' "$T/body" >/dev/null \
  || fail "token who-am-i: $(cat "$T/body")"
[ "$(adm DELETE /api/v1/tokens/engineer-1)" = 204 ] || fail "revoke"
[ "$(api GET /api/v1/tags -H "Authorization: Bearer $TOK_engineer")" = 401 ] && [ "$(pcode)" = invalid_token ] || fail "a revoked token works: $(cat "$T/body")"
cli_tok=$(gb_token engineer cli-made)
[ "$(api GET /api/v1/tags -H "Authorization: Bearer $cli_tok")" = 200 ] || fail "a token made by the CLI while running"
"$GEMBA" token revoke cli-made --data "$T/data" 2>>"$T/cli.err" || fail "CLI revoke"
[ "$(api GET /api/v1/tags -H "Authorization: Bearer $cli_tok")" = 401 ] || fail "a token revoked by the CLI still works"
echo 'from-the-shell' | "$GEMBA" user add shell-user --role viewer --data "$T/data" 2>>"$T/cli.err" || fail "CLI user add"
[ "$(login shell-user from-the-shell "$T/shell")" = 200 ] || fail "a user added by the CLI while running cannot sign in"
echo 'shell-pass-2' | "$GEMBA" user passwd shell-user --data "$T/data" 2>>"$T/cli.err" || fail "CLI passwd"
[ "$(api GET /api/v1/session -b "$T/shell")" = 401 ] || fail "a CLI password change left the session open"

# --- logout ----------------------------------------------------------------------------------------
[ "$(login u-operator new-op-pass "$T/op")" = 200 ] || fail "operator login again"
[ "$(api DELETE /api/v1/session -b "$T/op")" = 403 ] || fail "logout without the CSRF token"
[ "$(api DELETE /api/v1/session -b "$T/op" -H "X-CSRF-Token: $(csrf "$T/op")")" = 204 ] || fail "logout: $(cat "$T/body")"
[ "$(api GET /api/v1/machines -b "$T/op")" = 401 ] && [ "$(pcode)" = session_expired ] || fail "after logout: $(cat "$T/body")"

# --- passwords are never stored in clear ------------------------------------------------------------
[ "$(stat -c %a "$T/data/auth/users")" = 600 ] && [ "$(stat -c %a "$T/data/auth")" = 700 ] || fail "modes of DATA/auth"
grep -q '^boss admin \$argon2id\$v=19\$m=65536,t=2,p=1\$' "$T/data/auth/users" || fail "users file: $(cat "$T/data/auth/users")"
for pw in boss-pass-1 pass-of-viewer pass-of-operator new-op-pass pass-of-engineer reset-by-boss from-the-shell shell-pass-2; do
  grep -rqF "$pw" "$T/data" && fail "the password '$pw' is stored in clear: $(grep -rlF "$pw" "$T/data")"
done
for tk in "$TOK_viewer" "$TOK_operator" "$TOK_engineer" "$TOK_admin"; do
  grep -rqF "${tk##*_}" "$T/data" && fail "a token is stored in clear"
done
grep -qF 'boss-pass-1' "$T/stderr" && fail "a password in the log"

# --- login back-off: per user, then per address ----------------------------------------------------
for i in 1 2 3 4 5; do [ "$(login u-operator wrong-$i "$T/x")" = 401 ] && [ "$(pcode)" = login_failed ] || fail "failure $i"; done
[ "$(login u-operator new-op-pass "$T/x")" = 429 ] || fail "no back-off after 5 failures: $(cat "$T/body")"
jq -e '.code == "rate_limited" and .retry_after_s >= 1' "$T/body" >/dev/null || fail "429 body: $(cat "$T/body")"
wait_s=$(grep -i '^Retry-After:' "$T/headers" | tr -dc 0-9); [ "${wait_s:-0}" -ge 1 ] || fail "no Retry-After"
# an unknown name backs off the same way (nothing tells which names exist)
for i in 1 2 3 4 5; do [ "$(login ghost wrong-$i "$T/x")" = 401 ] || fail "ghost $i"; done
[ "$(login ghost wrong "$T/x")" = 429 ] || fail "no back-off for an unknown name"
sleep "$wait_s"; sleep 0.2
[ "$(login u-operator new-op-pass "$T/x")" = 200 ] || fail "after waiting $wait_s s: $(cat "$T/body")"
# 20 failures from one address, whatever the names: the address waits too
for i in $(seq 1 10); do login "nobody$i" wrong "$T/x" >/dev/null; done
[ "$(login boss boss-pass-1 "$T/x")" = 429 ] || fail "no back-off per address"

# --- the audit log: who, via what, from where, what, before and after; paged ----------------------
[ "$(api GET /api/v1/audit -H "Authorization: Bearer $TOK_viewer")" = 403 ] || fail "a viewer read the audit log"
[ "$(api GET '/api/v1/audit?limit=1000' -H "Authorization: Bearer $TOK_admin")" = 200 ] || fail "audit: $(cat "$T/body")"
cp "$T/body" "$T/audit.json"
has() { jq -e "[.entries[] | select($1)] | length >= 1" "$T/audit.json" >/dev/null || fail "no audit entry with $1"; }
has '.who == "boss" and .via == "session" and .action == "setup: first admin" and .after == "admin"'
has '.who == "boss" and .via == "session" and .address == "127.0.0.1" and .action == "user add" and .target == "u-engineer" and .before == null and .after == "engineer"'
has '.who == "boss" and .action == "user change" and .target == "u-viewer" and .before == "viewer" and .after == "operator"'
has '.who == "u-operator" and .action == "user change" and .target == "u-operator" and .after == "operator, new password"'
has '.who == "boss" and .action == "user delete" and .target == "u-viewer" and .before == "operator" and .after == null'
has '.who == "boss" and .action == "token create" and .target == "viewer-1" and .after == "viewer"'
has '.who == "boss" and .action == "token revoke" and .target == "engineer-1" and .before == "engineer" and .after == null'
has '.via == "cli" and .action == "token revoke" and .target == "cli-made"'
has '.via == "cli" and .action == "user add" and .target == "shell-user" and .after == "viewer"'
has '.who == "u-operator" and .via == "session" and .action == "scrap" and .target == "lathe01" and (.after | test("2 parts"))'
has '.who == "u-operator" and .action == "login"'
has '.who == "u-operator" and .action == "logout"'
jq -e '[.entries[].time] | . == (sort | reverse)' "$T/audit.json" >/dev/null || fail "not newest first"
total=$(wc -l < "$T/data/audit.jsonl")
[ "$(jq '.entries | length' "$T/audit.json")" = "$total" ] || fail "audit API $(jq '.entries | length' "$T/audit.json") entries, file $total"
# pages of 7, following next, give the same entries once each
next="/api/v1/audit?limit=7"; pages=0; : > "$T/paged"
while [ "$next" != null ]; do
  [ "$(api GET "$next" -H "Authorization: Bearer $TOK_admin")" = 200 ] || fail "page $next: $(cat "$T/body")"
  jq -c '.entries[]' "$T/body" >> "$T/paged"
  next=$(jq -r .next "$T/body"); pages=$((pages + 1))
done
[ "$(wc -l < "$T/paged")" = "$total" ] && [ "$pages" = $(( (total + 6) / 7 )) ] || fail "paging: $(wc -l < "$T/paged") entries in $pages pages, $total in the log"
diff <(jq -c '.entries[]' "$T/audit.json") "$T/paged" >/dev/null || fail "paged entries differ from one page"
[ "$(api GET '/api/v1/audit?cursor=3' -H "Authorization: Bearer $TOK_admin")" = 400 ] || fail "a cursor inside a line"
# users page the same way
[ "$(api GET '/api/v1/users?limit=1' -H "Authorization: Bearer $TOK_admin")" = 200 ] && [ "$(jq -r .next "$T/body")" = '/api/v1/users?limit=1&cursor=boss' ] \
  || fail "users page: $(cat "$T/body")"

# --- a restart ends sessions, keeps users, and prints no setup link -------------------------------
gb_stop
gb_start --demo
grep -q 'no users yet' "$T/stderr" && fail "a setup link although users exist"
[ "$(api GET /api/v1/session -b "$T/boss")" = 401 ] || fail "a session outlived the restart"
[ "$(api GET /api/v1/tags -H "Authorization: Bearer $TOK_admin")" = 200 ] || fail "a token did not outlive the restart"
gb_stop
echo "ok: $checked route-role calls, $csrf_checked CSRF-guarded routes, $total audit entries in $pages pages"
