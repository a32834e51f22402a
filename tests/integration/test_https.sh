# HTTPS: with --tls-cert and --tls-key (a certificate openssl makes here, for 127.0.0.1 only) the
# daemon serves TLS 1.2 and 1.3 on loopback and nothing older, the setup link and the ready file say
# https, session cookies get Secure, and plain HTTP on the port gets nowhere. Bad files are bad
# usage, found before the data directory is touched.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is needed (make test installs it)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.err" \
  || fail "openssl: $(cat "$T/openssl.err")"
chmod 600 "$T/key.pem"

# bad files: exit 2, and the data directory is not created
bad() { # EXPECTED-MESSAGE ARGS...
  local want=$1 rc=0; shift
  "$GEMBA" serve --demo --listen 127.0.0.1:0 --data "$T/never" "$@" 2>"$T/err" || rc=$?
  [ "$rc" = 2 ] || fail "serve $* exited $rc: $(cat "$T/err")"
  grep -q -- "$want" "$T/err" || fail "serve $*: $(cat "$T/err")"
}
bad 'needs both --tls-cert FILE and --tls-key FILE' --tls-cert "$T/cert.pem"
bad 'cannot read the TLS certificate' --tls-cert "$T/missing.pem" --tls-key "$T/key.pem"
bad 'not a PEM file with a CERTIFICATE' --tls-cert "$T/key.pem" --tls-key "$T/cert.pem"
[ ! -e "$T/never" ] || fail "bad TLS options created the data directory"

gb_start --demo --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
case "$GB_URL" in https://127.0.0.1:*) ;; *) fail "ready file: $GB_URL" ;; esac
grep -q "listening on $GB_URL" "$T/stderr" || fail "no https listening line"
CODE=$(grep -o "no users yet: open $GB_URL/setup?code=[A-Za-z0-9_-]*" "$T/stderr" | sed 's/.*code=//') || fail "no https setup link"
grep -q 'can be read by other users' "$T/stderr" && fail "a warning about a key only its owner reads"

c() { curl -sS --max-time 10 --cacert "$T/cert.pem" "$@"; }
[ "$(c -o /dev/null -w '%{http_code}' "$GB_URL/api/v1/health")" = 200 ] || fail "health over HTTPS"
[ "$(c -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $GB_TOKEN" "$GB_URL/api/v1/machines")" = 200 ] || fail "a token over HTTPS"
[ "$(c -o /dev/null -w '%{http_code}' "$GB_URL/api/v1/machines")" = 401 ] || fail "anonymous over HTTPS"
# TLS 1.2 and 1.3 go through; TLS 1.1 does not (asked for by openssl, which can still speak it)
[ "$(c -o /dev/null -w '%{http_code}' --tls-max 1.2 "$GB_URL/api/v1/health")" = 200 ] || fail "TLS 1.2"
proto=$(c -o /dev/null -w '%{http_version}' -v "$GB_URL/api/v1/health" 2>&1 | grep -o 'SSL connection using TLSv1.3' || true)
[ -n "$proto" ] || fail "TLS 1.3 was not chosen"
hostport=${GB_URL#https://}
if echo | timeout 5 openssl s_client -connect "$hostport" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >"$T/s11" 2>&1; then
  grep -q 'Cipher is (NONE)' "$T/s11" || fail "TLS 1.1 was accepted: $(grep -E 'Protocol|Cipher' "$T/s11")"
fi
grep -q 'Cipher is (NONE)\|alert\|no protocols available\|unexpected eof' "$T/s11" || fail "TLS 1.1: $(head -5 "$T/s11")"
# plain HTTP on the HTTPS port gets no answer
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$hostport/api/v1/health" || true)
[ "$code" = 000 ] || fail "plain HTTP answered $code"

# the setup link works over HTTPS, and the session cookie is Secure
[ "$(c -o /dev/null -w '%{http_code}' -D "$T/h" -c "$T/jar" -H 'Content-Type: application/json' \
      --data "{\"code\":\"$CODE\",\"user\":\"tls-admin\",\"password\":\"tls-admin-pass\"}" "$GB_URL/api/v1/setup")" = 201 ] \
  || fail "setup over HTTPS"
grep -i '^Set-Cookie: gemba_session=' "$T/h" | grep -q 'Secure' || fail "cookie without Secure: $(grep -i set-cookie "$T/h")"
[ "$(c -o /dev/null -w '%{http_code}' -b "$T/jar" "$GB_URL/api/v1/session")" = 200 ] || fail "the session over HTTPS"
gb_stop

# a key others may read is served, with a warning
chmod 644 "$T/key.pem"
gb_start --demo --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
grep -q 'the TLS key .* can be read by other users of this machine (mode 644)' "$T/stderr" || fail "no warning about the key's mode"
gb_stop
echo "ok: TLS 1.2 and 1.3 only, Secure cookies"
