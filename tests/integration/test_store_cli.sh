# gemba import and gemba query: CSV and line protocol in, CSV and JSON out. Export, import and
# export again give the same bytes; a bad line is refused with its line number and costs nothing
# else; aggregates match a hand-checked case; a late write replaces the point at its time.
source "$(dirname "$0")/lib.sh"
D1="$T/d1"; D2="$T/d2"
# a generated day of mixed series: floats with many digits, ints, bools, text with quotes and commas
awk 'BEGIN {
  srand(11); print "time,tag,value"
  for (i = 0; i < 3000; i++) {
    t = sprintf("%d%09d", 1763800000 + i, int(rand() * 1000)) # ns: mawk integers stop at 2^31
    printf "%s,plant/press/temp,%.17g\n", t, rand() * 200 - 50
    printf "%s,plant/press/count,%di\n", t, i
    printf "%s,plant/press/run,%s\n", t, (i % 3 ? "true" : "false")
    printf "%s,\"plant/press/state, with comma\",\"%s\"\n", t, (i % 7 ? "RUN" : "DOWN \"\"jam\"\"")
  }
}' > "$T/in.csv"
tags=(plant/press/temp plant/press/count plant/press/run "plant/press/state, with comma")
"$GEMBA" import --data "$D1" "$T/in.csv" 2>"$T/imp.err" || fail "import: $(cat "$T/imp.err")"
grep -q '^gemba import: 12000 points into' "$T/imp.err" || fail "import summary: $(cat "$T/imp.err")"
"$GEMBA" query --data "$D1" "${tags[@]}" > "$T/out1.csv" || fail "query"
[ "$(wc -l < "$T/out1.csv")" = 12001 ] || fail "exported $(wc -l < "$T/out1.csv") lines"
"$GEMBA" import --data "$D2" "$T/out1.csv" 2>/dev/null || fail "re-import"
"$GEMBA" query --data "$D2" "${tags[@]}" > "$T/out2.csv"
cmp "$T/out1.csv" "$T/out2.csv" || fail "export -> import -> export is not byte-identical"
# every float came back bit for bit: compare the input's values with the export's, as numbers
diff <(grep press/temp "$T/in.csv" | cut -d, -f3 | awk '{printf "%.17g\n", $1}') \
     <(grep press/temp "$T/out1.csv" | cut -d, -f3 | awk '{printf "%.17g\n", $1}') >/dev/null \
  || fail "float values changed"

# line protocol: fields become series MEASUREMENT,TAGS#FIELD; a bad line is refused with its number
cat > "$T/in.lp" <<'LP'
# a comment
spindle,machine=lathe1,axis=S load=42.5,rpm=1200i,ok=true 1763800000000000000
spindle,machine=lathe1,axis=S load=43.5,rpm=1210i 1763800001000000000
spindle,machine=lathe1 load=oops 1763800002000000000
status,machine=lathe1 mode="AUTO \"1\"" 1763800003000000000
LP
rc=0; "$GEMBA" import --data "$D1" "$T/in.lp" 2>"$T/lp.err" || rc=$?
[ "$rc" = 2 ] || fail "a refused line must make import exit 2, got $rc"
grep -q 'in.lp:4: column' "$T/lp.err" || fail "refusal not located: $(cat "$T/lp.err")"
grep -q '^gemba import: 6 points into' "$T/lp.err" || fail "the good lines were not all taken: $(cat "$T/lp.err")"
out=$("$GEMBA" query --data "$D1" 'spindle,axis=S,machine=lathe1#rpm' 'status,machine=lathe1#mode')
exp='time,tag,value
2025-11-22T08:26:40.000000000Z,"spindle,axis=S,machine=lathe1#rpm",1200i
2025-11-22T08:26:41.000000000Z,"spindle,axis=S,machine=lathe1#rpm",1210i
2025-11-22T08:26:43.000000000Z,"status,machine=lathe1#mode","AUTO ""1"""'
[ "$out" = "$exp" ] || fail "line protocol round trip: $out"

# aggregates, by hand: one minute of 1 Hz values 0..59, then a late write replacing t=30 s by 90
{ echo "time,tag,value"; for i in $(seq 0 59); do echo "$((1763800000 + i))000000000,agg,$i"; done; } > "$T/agg.csv"
"$GEMBA" import --data "$T/d3" "$T/agg.csv" 2>/dev/null
q() { "$GEMBA" query --data "$T/d3" agg --from 2025-11-22T08:26:40Z --to 2025-11-22T08:27:40Z "$@" | tail -1 | cut -d, -f3; }
[ "$(q --agg avg --step 1m)" = 29.5 ] || fail "avg: $(q --agg avg --step 1m)"
[ "$(q --agg count --step 1m)" = 60i ] || fail "count (an integer)"
[ "$(q --agg max --step 1m)" = 59 ] || fail "max"
[ "$(q --agg sum --step 30s)" = 1335 ] || fail "sum of 30..59: $(q --agg sum --step 30s)"
echo "time,tag,value
1763800030000000000,agg,90" > "$T/late.csv"
"$GEMBA" import --data "$T/d3" "$T/late.csv" 2>/dev/null
[ "$(q --agg sum --step 1m)" = 1830 ] || fail "a later write at t=30s must replace 30 by 90: $(q --agg sum --step 1m)"
[ "$(q --agg count --step 1m)" = 60i ] || fail "the replaced point counted twice"
"$GEMBA" query --data "$T/d3" agg --from 2025-11-22T08:26:40Z --to 2025-11-22T08:27:40Z --agg twa --step 1m --format json \
  | jq -e '.series[0].agg == "twa" and (.series[0].points | length) == 1' >/dev/null || fail "twa json"

# a short path names the one series whose path ends with it; the answer names the full path
"$GEMBA" query --data "$D1" press/count | sed -n 2p | grep -q ',plant/press/count,0i$' || fail "short path"
printf 'time,tag,value\n1,a/x,1\n1,b/x,2\n' > "$T/two.csv"
"$GEMBA" import --data "$D1" "$T/two.csv" 2>/dev/null
rc=0; "$GEMBA" query --data "$D1" x 2>"$T/q.err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "several" "$T/q.err" || fail "an ambiguous short path: $rc $(cat "$T/q.err")"

# mistakes say what is wrong
rc=0; "$GEMBA" query --data "$D1" no/such/tag 2>"$T/q.err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "no series named 'no/such/tag'" "$T/q.err" || fail "unknown series: $rc $(cat "$T/q.err")"
rc=0; "$GEMBA" query --data "$D1" plant/press/run --agg avg 2>"$T/q.err" >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--agg without --step: $rc"
rc=0; "$GEMBA" query --data "$D1" "plant/press/state, with comma" --from -1d --to now --agg avg --step 1h 2>"$T/q.err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "holds text" "$T/q.err" || fail "avg of text: $rc $(cat "$T/q.err")"
printf 'when,what\n1,2\n' > "$T/bad.csv"
rc=0; "$GEMBA" import --data "$T/d4" "$T/bad.csv" 2>"$T/b.err" || rc=$?
[ "$rc" = 2 ] && grep -q 'bad.csv:1:' "$T/b.err" || fail "bad header: $rc $(cat "$T/b.err")"
# a file that is not there: said, and nothing of the others imported
rc=0; "$GEMBA" import --data "$T/d5" "$T/no-such.csv" "$T/agg.csv" 2>"$T/m.err" || rc=$?
[ "$rc" = 1 ] && grep -q "cannot read .*no-such.csv" "$T/m.err" && grep -q "nothing was imported" "$T/m.err" \
  && [ ! -e "$T/d5" ] || fail "a missing file: $rc $(cat "$T/m.err")"
# a directory among the files: also said before anything is imported
mkdir -p "$T/adir"
rc=0; "$GEMBA" import --data "$T/d5" "$T/agg.csv" "$T/adir" 2>"$T/m.err" || rc=$?
[ "$rc" = 1 ] && grep -q "adir is a directory" "$T/m.err" && [ ! -e "$T/d5" ] || fail "a directory: $rc $(cat "$T/m.err")"
# a data directory that is a file
rc=0; "$GEMBA" query --data "$T/agg.csv" agg 2>"$T/f.err" >/dev/null || rc=$?
[ "$rc" = 1 ] && grep -q "is a file, not a directory" "$T/f.err" || fail "--data a file: $rc $(cat "$T/f.err")"
# an empty --data (a variable that was not set) is refused: "" + "/blocks" is the root's
rc=0; "$GEMBA" import --data "" "$T/agg.csv" 2>"$T/e.err" || rc=$?
[ "$rc" = 1 ] && grep -q "data directory's name is empty" "$T/e.err" || fail "--data '': $rc $(cat "$T/e.err")"
rc=0; "$GEMBA" token create --data "" --role viewer 2>"$T/e.err" >/dev/null || rc=$?
[ "$rc" != 0 ] && grep -q "data directory's name is empty" "$T/e.err" || fail "token --data '': $rc $(cat "$T/e.err")"
# an aggregate of millions of windows is refused before it starts
rc=0; "$GEMBA" query --data "$T/d3" agg --from 2025-11-22T08:26:40Z --to 2025-11-22T08:27:40Z --agg twa --step 1ns \
  2>"$T/w.err" >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q "60000000000 windows" "$T/w.err" || fail "1 ns windows: $rc $(cat "$T/w.err")"
# text aggregates: the first and last text, as text
[ "$("$GEMBA" query --data "$D1" "plant/press/state, with comma" --from 0 --to now --agg last --step 1000000h --format json \
  | jq -r '.series[0].type + " " + (.series[0].points[0][1] | type)')" = "string string" ] || fail "last of text"
echo ok
