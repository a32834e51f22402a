# What a user sees when serve cannot start: a broken plant file, a busy port, a data directory in
# use. Each gets a clear message and the documented exit code. And once it runs, its limit of
# connections and a full table of file descriptors: each said once, and connections are served
# again when some close.
source "$(dirname "$0")/lib.sh"
cd "$GB_SRC"

rc=0
"$GEMBA" serve --config tests/data/plants/broken.yaml --data "$T/d0" --listen 127.0.0.1:0 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "broken plant: exit $rc"
grep -q '^tests/data/plants/broken.yaml:5:13: unknown time zone' "$T/err" || fail "broken plant: $(head -3 "$T/err")"
grep -q 'not starting' "$T/err" || fail "no 'not starting'"
check_sanitizers "$T/err"

# a port that is taken: exit 1, the address named
gb_start --demo
port=${GB_URL##*:}
rc=0
"$GEMBA" serve --demo --data "$T/d1" --listen "127.0.0.1:$port" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "busy port: exit $rc"
grep -q "cannot listen on 127.0.0.1:$port: Address already in use" "$T/err" || fail "busy port: $(cat "$T/err")"
check_sanitizers "$T/err"

# the data directory of a running daemon
rc=0
"$GEMBA" serve --demo --data "$T/data" --listen 127.0.0.1:0 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "shared data dir: exit $rc"
grep -q "is in use by another gemba process" "$T/err" || fail "shared data dir: $(cat "$T/err")"
check_sanitizers "$T/err"

# at the limit of 512 connections (libmicrohttpd counts them a little late, so a burst may pass it
# by a few): said once, a new one waits in the kernel's queue, and is served once some close
conns=()
for _ in $(seq 1 520); do exec {c}<>"/dev/tcp/127.0.0.1/$port"; conns+=("$c"); done
sleep 0.5
t0=$(date +%s%N)
# (the subshell closes its copies of the connections, or they would stay open in it)
(for c in "${conns[@]}"; do exec {c}>&-; done; status /api/v1/health >"$T/late") &
wait_for 5 grep -q 'at the limit of 512 connections' "$T/stderr" || fail "no word of the limit: $(tail -3 "$T/stderr")"
sleep 1
for c in "${conns[@]:0:20}"; do exec {c}>&-; done
wait $!
[ "$(cat "$T/late")" = 200 ] || fail "a connection past the limit answered $(cat "$T/late")"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 900 ] || fail "a connection past the limit was served at once"
for c in "${conns[@]:20}"; do exec {c}>&-; done
wait_for 10 grep -q 'below the limit of 512 connections again' "$T/stderr" || fail "no word of the end of the limit"
[ "$(grep -c 'at the limit of 512' "$T/stderr")" = 1 ] || fail "the limit said more than once"

# out of file descriptors: said once, the connections wait, and served again once some close
have=$(ls "/proc/$GB_PID/fd" | wc -l)
prlimit --pid "$GB_PID" --nofile=$((have + 8)):$((have + 8))
conns=()
for _ in $(seq 1 24); do exec {c}<>"/dev/tcp/127.0.0.1/$port"; conns+=("$c"); done
wait_for 5 grep -q 'cannot accept connections: Too many open files' "$T/stderr" \
  || fail "no word of the full descriptor table: $(tail -3 "$T/stderr")"
sleep 0.5 # a few retries, which must not be logged again
for c in "${conns[@]}"; do exec {c}>&-; done
wait_for 10 grep -q 'accepting connections again' "$T/stderr" || fail "no recovery: $(tail -3 "$T/stderr")"
[ "$(grep -c 'cannot accept connections' "$T/stderr")" = 1 ] || fail "said more than once: $(grep accept "$T/stderr")"
[ "$(status /api/v1/health)" = 200 ] || fail "health after the descriptors came back"
gb_stop

# a data directory that cannot be created
rc=0
"$GEMBA" serve --demo --data /proc/gemba-cannot --listen 127.0.0.1:0 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "bad data dir: exit $rc"
grep -q "cannot create the data directory /proc/gemba-cannot" "$T/err" || fail "bad data dir: $(cat "$T/err")"

# not a gemba log
mkdir -p "$T/d2/wal" && echo "not a log" > "$T/d2/wal/00000001.wal"
rc=0
"$GEMBA" serve --demo --data "$T/d2" --listen 127.0.0.1:0 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "foreign log: exit $rc"
grep -q "is not a gemba write-ahead log" "$T/err" || fail "foreign log: $(cat "$T/err")"
echo ok
