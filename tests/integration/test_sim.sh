# The simulator from the outside. What-if: `gemba sim` prints the same bytes for the same seed
# (whatever the number of threads), other bytes for another seed, applies --set overrides and
# names them, and reports a broken model at FILE:LINE:COL. Live: `gemba serve --demo` runs the
# simulated plant; through the API, machines change state, count parts, fail with an alarm and
# are repaired.
source "$(dirname "$0")/lib.sh"

LINE="$GB_SRC/examples/line.yaml"
"$GEMBA" sim "$LINE" --reps 10 --format json >"$T/a.json" || fail "gemba sim failed"
"$GEMBA" sim "$LINE" --reps 10 --format json --threads 1 >"$T/b.json"
cmp -s "$T/a.json" "$T/b.json" || fail "same seed, different bytes: $(diff "$T/a.json" "$T/b.json" | head -5)"
"$GEMBA" sim "$LINE" --reps 10 --format json --seed 2 >"$T/c.json"
cmp -s "$T/a.json" "$T/c.json" && fail "another seed gave the same bytes"

j="$T/a.json"
[ "$(jq '.reps' "$j")" = 10 ] || fail "reps: $(jq .reps "$j")"
jq -e '.lines[0] | .line == "gearline" and (.throughput_per_hour.mean > 5)
       and (.throughput_per_hour.ci95 | length == 2)
       and .throughput_per_hour.ci95[0] <= .throughput_per_hour.mean
       and .wip.mean > 0 and .lead_time_s.mean > 0
       and (.bottleneck.machine | type == "string") and (.bottleneck.rule | test("active"))
       and .littles_law.L == .wip.mean and .littles_law.lambda_W > 0' "$j" >/dev/null || fail "line KPIs: $(jq -c '.lines[0]' "$j")"
# every machine's time shares add up to the whole run
jq -e '[.machines[] | [.time_share[].mean] | add | . > 0.999 and . < 1.001] | all' "$j" >/dev/null \
  || fail "time shares do not add up: $(jq -c '[.machines[] | [.time_share[].mean] | add]' "$j")"
[ "$(jq '.machines | length' "$j")" = 5 ] || fail "machines"
[ "$(jq -r '.machines[0].time_share | keys_unsorted | join(",")' "$j")" = \
  "running,starved,blocked,down,setup,micro_stop,planned_stop" ] || fail "states: $(jq -c '.machines[0].time_share | keys' "$j")"

# --set: a second repairer, named in the output, changes the answer
"$GEMBA" sim "$LINE" --reps 4 --format json --set simulation.repair_crew=2 --set 'hob01.sim.buffer=12' >"$T/d.json" \
  || fail "--set run failed"
[ "$(jq -c .set "$T/d.json")" = '["simulation.repair_crew=2","hob01.sim.buffer=12"]' ] || fail "set: $(jq -c .set "$T/d.json")"
"$GEMBA" sim "$LINE" --reps 4 --format json >"$T/e.json"
[ "$(jq .lines[0].wip.mean "$T/d.json")" != "$(jq .lines[0].wip.mean "$T/e.json")" ] || fail "--set changed nothing"
# a value that does not fit is checked like the file, at the spot it replaces
rc=0; "$GEMBA" sim "$LINE" --set 'hob01.sim.scrap=lots' 2>"$T/err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "line.yaml:[0-9]*:[0-9]*: 'scrap' is the share" "$T/err" || fail "bad --set value: rc=$rc $(cat "$T/err")"
rc=0; "$GEMBA" sim "$LINE" --set 'simulation.products.gear-99.mix=2' 2>"$T/err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "has no item named 'gear-99'" "$T/err" || fail "bad --set path: rc=$rc $(cat "$T/err")"
rc=0; "$GEMBA" sim "$LINE" --set 'hob01' 2>"$T/err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "expected PATH=VALUE" "$T/err" || fail "--set without a value: rc=$rc $(cat "$T/err")"
# the table form is for people, and says the same
"$GEMBA" sim "$LINE" --reps 2 >"$T/table" && grep -q "^gearline" "$T/table" && grep -q "bottleneck rule: active period" "$T/table" \
  || fail "table: $(head -8 "$T/table")"

# a broken model: every problem at its line and column
rc=0; (cd "$GB_SRC" && "$GEMBA" sim tests/data/sim/broken.yaml) 2>"$T/broken" >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "broken model: exit $rc"
diff "$GB_SRC/tests/data/sim/broken.expected" "$T/broken" >&2 || fail "broken model: messages differ from broken.expected"
check_sanitizers "$T/err"; check_sanitizers "$T/broken"

# live: a simulated line (no shift calendar, so the time of day plays no part) at 120x; within a
# minute a machine fails with an alarm and is repaired, and parts are counted
gb_start --config "$GB_SRC/tests/data/plants/live-sim.yaml" --speed 120
declare -A seen_states=()
down="" repaired="" parts0="" parts=""
for _ in $(seq 1 120); do
  m=$(get /api/v1/machines)
  t=$(get /api/v1/tags)
  while read -r name state; do seen_states[$state]=1; done < <(jq -r '.machines[] | "\(.name) \(.state)"' <<<"$m")
  p=$(jq '[.tags[] | select(.name=="part_count") | .value // 0] | add' <<<"$t")
  [ -n "$parts0" ] || parts0=$p
  parts=$p
  if [ -z "$down" ]; then
    down=$(jq -r '[.tags[] | select(.name=="alarm" and (.value // "") != "") | .machine] | first // empty' <<<"$t")
  elif [ -z "$repaired" ]; then
    a=$(jq -r --arg m "$down" '.tags[] | select(.machine==$m and .name=="alarm") | .value' <<<"$t")
    [ -z "$a" ] && repaired=$down
  fi
  [ -n "$repaired" ] && [ "${#seen_states[@]}" -ge 3 ] && [ "$parts" -gt "$((parts0 + 20))" ] && break
  sleep 0.5
done
[ -n "$down" ] || fail "no machine showed an alarm"
[ -n "$repaired" ] || fail "$down was never repaired"
[ "${#seen_states[@]}" -ge 3 ] || fail "states seen: ${!seen_states[*]}"
[ "$parts" -gt "$((parts0 + 20))" ] || fail "parts counted: $parts0 -> $parts"
gb_stop
echo "ok: same bytes for a seed; overrides; broken model; live: $down failed and was repaired, states ${!seen_states[*]}, parts $parts0 -> $parts"
