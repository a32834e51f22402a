# The dashboard in a real browser: Debian's Chromium, driven by playwright-core (from the build's
# npm ci), against the real daemon. tests/browser/dashboard.mjs does the clicking; this script
# starts and stops the daemons and checks what they recorded.
#
# 1. The demo plant at 60x, with a week of 1 Hz history imported for one tag of packer01: the
#    board fills with every machine and a tile changes state without a reload; the TV layout
#    fits the screen; a machine page draws its timeline and a trend; the trend zooms out to the
#    week (one aggregate step per pixel) and back in to raw points; the report's CSV matches the
#    API; an operator records scrap, which the audit log shows.
# 2. A plant whose stops last seconds (tests/data/oee/live-demo.yaml, micro-stops under 2 s):
#    an operator classifies a stop with one tap; the stop, the machine's Pareto and the report
#    account for it; the operator then corrects the reason, and the audit log has both.
# 3. A machine that has sent nothing yet (its MTConnect adapter has no peer): every page shows
#    it as such, and none fails.
# Screenshots go to $GB_ARTIFACTS/browser (build/asan/artifacts/browser); their paths are printed.
source "$(dirname "$0")/lib.sh"

: "${GB_WEB:?set GB_WEB to the web directory of the build (ctest does)}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing: scripts/deps.sh --test installs Debian's chromium"
[ -d "$GB_WEB/node_modules/playwright-core" ] || fail "no playwright-core in $GB_WEB/node_modules: configure with -DGB_TESTS=ON"
ART=${GB_ARTIFACTS:-$T}/browser
rm -rf "$ART"
mkdir -p "$ART"
run_browser() {
  CHROMIUM="$CHROMIUM" GB_NODE_MODULES="$GB_WEB/node_modules" ART="$ART" \
    node "$GB_SRC/tests/browser/dashboard.mjs" "$@" || fail "browser: $1 failed"
}
token() { grep -o 'gbt_admin-1_[0-9a-f]*' "${GB_DIR:-$T}/stderr" | head -1; }

# ---- 1: the demo plant --------------------------------------------------------------------
# a week of a 1 Hz signal, so the trend has something wide to show
tag=acme/plant1/assembly/line2/packer01/temperature
now=$(date +%s)
awk -v now="$now" -v tag="$tag" 'BEGIN {
  print "time,tag,value"
  for (i = 0; i < 604800; i++) printf "%d000000000,%s,%.2f\n", now - 604800 + i, tag, 40 + 5 * sin(i / 3600) + (i % 97) / 97
}' > "$T/week.csv"
"$GEMBA" import --data "$T/data" "$T/week.csv" > /dev/null || fail "import of the week"
rm -f "$T/week.csv"

gb_start --demo --speed 60
TOKEN=$(token)
[ -n "$TOKEN" ] || fail "no API token in the first start's log"
audit_before=$(grep -c '"action":"scrap"' "$T/data/audit.jsonl" 2>/dev/null || true)
run_browser demo "$GB_URL" "$TOKEN"
# the scrap the operator entered is in the audit log, signed by the token's owner
grep -q '"who":"admin-1","action":"scrap","target":"press01".*"after":"3 parts scrapped' "$T/data/audit.jsonl" \
  || fail "no audited scrap entry: $(tail -3 "$T/data/audit.jsonl")"
[ "$(grep -c '"action":"scrap"' "$T/data/audit.jsonl")" = $((audit_before + 1)) ] || fail "scrap recorded more than once"
gb_stop

# ---- 2: stops that wait for a reason ------------------------------------------------------
GB_DIR=$T/fast
gb_start --config "$GB_SRC/tests/data/oee/live-demo.yaml"
TOKEN=$(token)
run_browser classify "$GB_URL" "$TOKEN"
grep -q '"who":"admin-1","action":"set reason".*"after":".*unplanned/failure/tool' "$GB_DIR/data/audit.jsonl" \
  || fail "no audited classification: $(tail -3 "$GB_DIR/data/audit.jsonl")"
grep -q '"kind":"reason".*"reason":"unplanned/failure/tool"' "$GB_DIR/data/oee/changes.jsonl" || fail "the reason is not in changes.jsonl"
grep -q '"action":"set reason".*"before":".*unplanned/failure/tool.*"after":".*unplanned/failure/spindle' "$GB_DIR/data/audit.jsonl" \
  || fail "the reclassification is not audited with before and after: $(tail -2 "$GB_DIR/data/audit.jsonl")"
gb_stop

# ---- 3: a machine with no data yet --------------------------------------------------------
GB_DIR=$T/nodata
mkdir -p "$GB_DIR"
# port 1 on loopback: nothing listens, the adapter keeps trying
sed 's/@PORT@/1/' "$GB_SRC/tests/data/shdr/plant.yaml.in" > "$GB_DIR/plant.yaml"
gb_start --config "$GB_DIR/plant.yaml"
run_browser nodata "$GB_URL" "$(token)"
gb_stop
echo "ok: screenshots in $ART"
