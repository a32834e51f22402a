# gemba oee on the hand-checked Monday (tests/unit/test_oee.c has the arithmetic): the recording's
# lines are out of order and use three time-zone spellings; the numbers must still be exact.
source "$(dirname "$0")/lib.sh"
cd "$GB_SRC"
P=tests/data/oee/plant.yaml
E=tests/data/oee/monday.csv
W=(--from 2026-11-22T23:00:00Z --to 2026-11-23T23:00:00Z)

out=$("$GEMBA" oee --plant $P --events $E "${W[@]}") || fail "oee failed"
check() { # JQ-EXPR EXPECTED
  local got; got=$(jq -r "$1" <<<"$out")
  [ "$got" = "$2" ] || fail "$1 = $got, expected $2"
}
check '.total.times_s | [.pot, .pdot, .pbt, .apt, .aust, .adet, .adot, .micro_stops] | join(" ")' \
      "28800 2100 26700 23100 1200 1800 600 60"
check '.total.counts | [.produced, .good, .scrap, .stops, .failures, .micro_stops] | join(" ")' "200 187 13 2 1 1"
check '.total.availability * 445 | round' 385
check '.total.oee * 445 | round' 187
check '.total.effectiveness * 385 | round' 200
check '.total.quality_ratio' 0.935
check '.total.mtbf_s' 24300
check '.total.mttr_s' 1800
check '.total.nakajima.losses_s | [.breakdowns, .setup_and_adjustments, .small_stops, .reduced_speed, .rejects, .fully_productive] | join(" ")' \
      "2400 1200 60 11040 780 11220"
check '.rows | length' 1
check '.rows[0].machine' m1

# by reason: the loss Pareto, biggest first
out=$("$GEMBA" oee --plant $P --events $E "${W[@]}" --by reason) || fail "by reason"
check '[.rows[] | "\(.reason)=\(.stops)/\(.seconds)"] | join(" ")' "(unclassified)=2/2400 planned/maintenance=1/1200"

# by shift and by day: one shift ran, so the same totals
for by in shift day; do
  out=$("$GEMBA" oee --plant $P --events $E "${W[@]}" --by $by) || fail "by $by"
  check '.rows | length' 1
  check '.rows[0].times_s.pbt' 26700
done
check '.rows[0].day' 2026-11-23

# CSV: a header, a row per machine, a total
csv=$("$GEMBA" oee --plant $P --events $E "${W[@]}" --format csv) || fail "csv"
[ "$(wc -l <<<"$csv")" = 3 ] || fail "csv lines: $csv"
head -1 <<<"$csv" | grep -q '^machine,availability,effectiveness,quality_ratio,oee,' || fail "csv header"
grep -q '^total,0.8651685393258427,' <<<"$csv" || fail "csv total: $(tail -1 <<<"$csv")"

# a broken recording: every bad line reported at its line, exit 2, nothing computed
cat > "$T/bad.csv" <<'CSV'
time,machine,signal,value
2026-11-23T05:00:00Z,m1,execution,ACTIVE
2026-11-23 06:00,m1,execution,STOPPED
2026-11-23T06:00:00Z,m7,execution,STOPPED
2026-11-23T06:00:00Z,m1,part_cnt,5
2026-11-23T06:00:00Z,m1,part_count,five
2026-11-23T06:00:00Z,m1,reason,unplanned/tooling/blunt
2026-11-23T06:00:00Z,m1,scrap,-2
2026-11-23T06:00:00Z,m1,execution
CSV
rc=0
"$GEMBA" oee --plant $P --events "$T/bad.csv" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "bad events: exit $rc"
[ ! -s "$T/out" ] || fail "bad events produced output"
cat > "$T/want" <<WANT
$T/bad.csv:3:1: '2026-11-23 06:00' is not an RFC 3339 time such as 2026-11-23T06:00:00Z
$T/bad.csv:4:1: unknown machine 'm7'; did you mean 'm1'?
$T/bad.csv:5:1: machine 'm1' has no tag 'part_cnt'; did you mean 'part_count'? (signals are its tags, 'reason' and 'scrap')
$T/bad.csv:6:1: 'five' is not a value of tag 'part_count', which is int
$T/bad.csv:7:1: unknown reason 'unplanned/tooling/blunt'; reasons are paths of the plant's reason tree
$T/bad.csv:8:1: scrap takes a positive whole number of parts, not '-2'
$T/bad.csv:9:1: expected 4 fields (time,machine,signal,value), found 3
WANT
diff -u "$T/want" "$T/err" || fail "bad events messages differ"
check_sanitizers "$T/err"

printf 'time,machine,signal,value\n2026-11-23T05:00:00Z,m1,execution,"ACT\n' > "$T/quote.csv"
rc=0; "$GEMBA" oee --plant $P --events "$T/quote.csv" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "quote.csv:2:1: malformed CSV" "$T/err" || fail "unterminated quote: $rc $(cat "$T/err")"
rc=0; "$GEMBA" oee --plant $P --events $E --by fortnight 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "by is machine, shift, day, week, reason, job, product or operator" "$T/err" || fail "--by fortnight: $rc"
rc=0; "$GEMBA" oee --plant $P --events $E --asset nowhere 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "no machine under 'nowhere'" "$T/err" || fail "unknown asset: $rc"
echo ok

# jobs: J1 (P-100, PRI 50 s) runs 06:00-09:20 local, J2 (P-200, the machine's 60 s) from 09:20.
#   J1: POT 200 min = running 149 + micro 1 (APT 150) + down 30 + setup 20; 100 parts x 50 s
#   J2: POT 280 min = break 15 + planned stop 20 (PDOT 35) + running 235 + idle 10; 100 parts
#       x 60 s, scrap 10 + 3
cp $E "$T/mj.csv"
printf '2026-11-23T05:00:00Z,m1,job,J1\n2026-11-23T08:20:00Z,m1,job,J2\n' >> "$T/mj.csv"
out=$("$GEMBA" oee --plant $P --events "$T/mj.csv" --jobs tests/data/oee/jobs.csv "${W[@]}" --by job) || fail "by job"
check '[.rows[] | .job] | join(" ")' "(no job) J1 J2"
check '.rows[1] | [.product, .quantity, .due] | join(" ")' "P-100 120 2026-11-24T00:00:00Z"
check '.rows[1].times_s | [.pot, .apt, .aust, .adet] | join(" ")' "12000 9000 1200 1800"
check '.rows[1].counts | [.produced, .scrap] | join(" ")' "100 0"
check '.rows[1].effectiveness * 9000 | round' 5000
check '.rows[2].times_s | [.pot, .pdot, .apt, .adot] | join(" ")' "16800 2100 14100 600"
check '.rows[2].counts | [.produced, .scrap] | join(" ")' "100 13"
check '.rows[2].effectiveness * 14100 | round' 6000
check '.rows[0].times_s.pot' 0
check '.total.times_s.ideal' 11000
out=$("$GEMBA" oee --plant $P --events "$T/mj.csv" --jobs tests/data/oee/jobs.csv "${W[@]}" --by product) || fail "by product"
check '[.rows[] | .product] | join(" ")' "(no job) P-100 P-200"
# a job that is not in the file runs ad hoc, its product its id
sed 's/,job,J2/,job,X9/' "$T/mj.csv" > "$T/mx.csv"
out=$("$GEMBA" oee --plant $P --events "$T/mx.csv" --jobs tests/data/oee/jobs.csv "${W[@]}" --by product) || fail "ad hoc"
check '[.rows[] | .product] | join(" ")' "(no job) P-100 X9"
printf 'job,quantity\nJ1,many\n,5\nJ3,1\nJ3,2\n' > "$T/badjobs.csv"
rc=0; "$GEMBA" oee --plant $P --events $E --jobs "$T/badjobs.csv" 2>"$T/err" >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "bad jobs: $rc"
grep -q "badjobs.csv:2:1: quantity 'many' is not a whole number" "$T/err" && grep -q "badjobs.csv:3:1: a job needs its 'job' id" "$T/err" \
  && grep -q "badjobs.csv:5:1: job 'J3' is listed twice" "$T/err" || fail "bad jobs messages: $(cat "$T/err")"

# operators: alice logs in at 06:00 local, bob takes over at 10:00
#   alice: POT 240 min = running 189 + micro 1 (APT 190) + setup 20 + down 30
#   bob:   POT 240 min = break 15 + planned stop 20 (PDOT 35) + running 195 + idle 10
cp $E "$T/ops.csv"
printf '2026-11-23T05:00:00Z,m1,operator,alice\n2026-11-23T09:00:00Z,m1,operator,bob\n' >> "$T/ops.csv"
out=$("$GEMBA" oee --plant $P --events "$T/ops.csv" "${W[@]}" --by operator) || fail "by operator"
check '[.rows[] | .operator] | join(" ")' "(nobody) alice bob"
check '.rows[1].times_s | [.pot, .apt, .aust, .adet] | join(" ")' "14400 11400 1200 1800"
check '.rows[2].times_s | [.pot, .pdot, .apt, .adot] | join(" ")' "14400 2100 11700 600"
# weeks: Monday 2026-11-23 is in ISO week 48
out=$("$GEMBA" oee --plant $P --events $E "${W[@]}" --by week) || fail "by week"
check '[.rows[] | .week] | join(" ")' "2026-W48"
check '.rows[0].times_s.pbt' 26700
echo "ok: jobs, operators, weeks"
