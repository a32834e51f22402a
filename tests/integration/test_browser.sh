# The dashboard in a real browser: Debian's Chromium, driven by playwright-core (from the build's
# npm ci), against the real daemon. tests/browser/dashboard.mjs does the clicking; this script
# starts and stops the daemons and checks what they recorded.
#
# 1. The demo plant at 60x, with a week of 1 Hz history imported for one tag of packer01: the
#    setup link the daemon logs makes the first admin, who lands on the board signed in; the
#    board fills with every machine, and a tile changes state without a reload within a second
#    of the stream's event, and, with the stream cut, says so, polls every second and still
#    changes; the TV layout fits the screen; a machine page draws its timeline and
#    a trend; the trend zooms out to the week (one aggregate step per pixel) and back in to raw
#    points; the report's CSV matches the API; the admin makes an operator and a viewer through
#    the API; the operator signs in through /login (and comes back to the page that sent them)
#    and records scrap, which the audit log shows as theirs, and again after signing in
#    elsewhere made the page's CSRF token stale; a sign-in told to go to another site stays
#    here; the viewer finds the operator's
#    buttons disabled and the API refusing; signing out ends the session.
# 2. A plant whose stops last seconds (tests/data/oee/live-demo.yaml, micro-stops under 2 s):
#    an operator made with `gemba user add` signs in and classifies a stop with one tap; the
#    stop, the machine's Pareto and the report account for it; the operator then corrects the
#    reason, and the audit log has both, signed by the operator.
# 3. A machine that has sent nothing yet (its MTConnect adapter has no peer): every page shows
#    it as such, and none fails. First, a browser refused again right after a trip to /login is
#    not sent there a second time.
# The script's own reads of the API use the admin token gb_start makes (GB_TOKEN).
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
  CHROMIUM="$CHROMIUM" GB_NODE_MODULES="$GB_WEB/node_modules" ART="$ART" GB_TOKEN="$GB_TOKEN" \
    node "$GB_SRC/tests/browser/dashboard.mjs" "$@" || fail "browser: $1 failed"
}
# the one-time link the daemon logs while no user exists
setup_link() { grep -o 'no users yet: open http://127.0.0.1:[0-9]*/setup?code=[A-Za-z0-9_-]*' "${GB_DIR:-$T}/stderr" | sed 's/.* open //'; }
# add_operator NAME PASSWORD: an operator made with the command line, as an admin on the box would
add_operator() { echo "$2" | "$GEMBA" user add "$1" --role operator --data "${GB_DIR:-$T}/data" 2>>"$T/cli.err" || fail "user add $1"; }
# audited JQ-FILTER: the audit log has an entry the filter selects
audited() { jq -e -s "any(.[]; $1)" "${GB_DIR:-$T}/data/audit.jsonl" >/dev/null; }

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
SETUP=$(setup_link)
[ -n "$SETUP" ] || fail "no setup link in the first start's log"
audit_before=$(grep -c '"action":"scrap"' "$T/data/audit.jsonl" 2>/dev/null || true)
GB_SETUP=$SETUP run_browser demo "$GB_URL"
audited '.action == "setup: first admin" and .target == "ada"' || fail "the first admin is not audited: $(head -3 "$T/data/audit.jsonl")"
audited '.who == "ada" and .via == "session" and .action == "user add" and .target == "olga" and .after == "operator"' \
  || fail "the admin's new operator is not audited: $(grep olga "$T/data/audit.jsonl")"
# the scrap the operator entered is in the audit log, signed by the operator's session
audited '.who == "olga" and .via == "session" and .action == "scrap" and .target == "press01" and (.after | test("^3 parts scrapped"))' \
  || fail "no audited scrap entry: $(tail -3 "$T/data/audit.jsonl")"
# then one more, through a CSRF token reread after another sign-in; the viewer's never went through
audited '.who == "olga" and .action == "scrap" and (.after | test("^1 parts scrapped"))' || fail "the scrap after the CSRF retry is not audited"
[ "$(grep -c '"action":"scrap"' "$T/data/audit.jsonl")" = $((audit_before + 2)) ] || fail "scrap recorded more than twice (or the viewer's went through)"
audited '.who == "vic" and .action == "logout"' || fail "the viewer's sign-out is not audited"
gb_stop

# ---- 2: stops that wait for a reason ------------------------------------------------------
GB_DIR=$T/fast
gb_start --config "$GB_SRC/tests/data/oee/live-demo.yaml"
add_operator olga olga-operator-pass
GB_OPERATOR=olga:olga-operator-pass run_browser classify "$GB_URL"
audited '.who == "olga" and .via == "session" and .action == "set reason" and (.after | test("unplanned/failure/tool"))' \
  || fail "no audited classification: $(tail -3 "$GB_DIR/data/audit.jsonl")"
grep -q '"kind":"reason".*"reason":"unplanned/failure/tool"' "$GB_DIR/data/oee/changes.jsonl" || fail "the reason is not in changes.jsonl"
audited '.action == "set reason" and (.before // "" | test("unplanned/failure/tool")) and (.after | test("unplanned/failure/spindle"))' \
  || fail "the reclassification is not audited with before and after: $(tail -2 "$GB_DIR/data/audit.jsonl")"
gb_stop

# ---- 3: a machine with no data yet --------------------------------------------------------
GB_DIR=$T/nodata
mkdir -p "$GB_DIR"
# port 1 on loopback: nothing listens, the adapter keeps trying
sed 's/@PORT@/1/' "$GB_SRC/tests/data/shdr/plant.yaml.in" > "$GB_DIR/plant.yaml"
gb_start --config "$GB_DIR/plant.yaml"
add_operator olga olga-operator-pass
GB_OPERATOR=olga:olga-operator-pass run_browser nodata "$GB_URL"
gb_stop
echo "ok: screenshots in $ART"
