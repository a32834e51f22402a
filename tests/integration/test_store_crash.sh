# Crash consistency: gemba serve --sync always takes line-protocol batches over HTTP and is
# killed with SIGKILL at a random moment, 50 times. After every crash it must start again without
# repair, and at the end every point of every batch it acknowledged (204) must be in the store --
# batches in flight at the kill may or may not be, but nothing acknowledged may be missing.
source "$(dirname "$0")/lib.sh"
ROUNDS=${GB_CRASH_ROUNDS:-50}
cat > "$T/plant.yaml" <<'YAML'
site: {name: crash, timezone: UTC}
adapters: [{name: sim, type: sim}]
areas: [{name: a, lines: [{name: l, machines: [{name: m1, adapter: sim, kind: cnc}]}]}]
YAML
"$GEMBA" check-config "$T/plant.yaml" >/dev/null 2>&1 || fail "plant: $("$GEMBA" check-config "$T/plant.yaml" 2>&1)"
: > "$T/acked"
next=0
batch() { # FIRST: 200 points with distinct times, numbered from FIRST
  awk -v s="$1" 'BEGIN { for (i = 0; i < 200; i++) printf "crash,run=x v=%di %s\n", s + i, sprintf("1763800000%09d", s + i) }'
}
writer() { # posts batches until the daemon is gone; logs the first number of each acknowledged one
  local k=$1 code
  while :; do
    code=$(batch "$k" | curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST --data-binary @- \
           -H "Authorization: Token $TOKEN" "$GB_URL/write" 2>/dev/null) || break
    [ "$code" = 204 ] || break
    echo "$k" >> "$T/acked"
    k=$((k + 200))
  done
}
for r in $(seq 1 "$ROUNDS"); do
  gb_start --config "$T/plant.yaml" --sync always
  TOKEN=$GB_TOKEN # an admin may write too
  check_sanitizers "$T/stderr"
  writer "$next" & W=$!
  sleep "0.$((RANDOM % 400 + 50))"
  kill -KILL "$GB_PID"; wait "$GB_PID" 2>/dev/null || true; GB_PID=""
  wait "$W" 2>/dev/null || true
  next=$(( (r + 1) * 1000000 )) # each round numbers its points apart
done
[ "$(wc -l < "$T/acked")" -ge "$ROUNDS" ] || fail "only $(wc -l < "$T/acked") batches acknowledged in $ROUNDS rounds"
# the store opens as it is, and holds every acknowledged point
gb_start --config "$T/plant.yaml"
gb_stop
"$GEMBA" query --data "$T/data" 'crash,run=x#v' | tail -n +2 | awk -F, '{print $NF}' | tr -d 'i' | sort -n > "$T/have"
sort -n "$T/acked" | while read -r k; do seq "$k" $((k + 199)); done > "$T/want"
missing=$(comm -23 <(sort "$T/want") <(sort "$T/have") | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged points are missing, e.g. $(comm -23 <(sort "$T/want") <(sort "$T/have") | head -3 | tr '\n' ' ')"
echo "ok: $ROUNDS crashes, $(wc -l < "$T/acked") acknowledged batches ($(wc -l < "$T/want") points), all present; $(wc -l < "$T/have") points stored"
