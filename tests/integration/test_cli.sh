# The command line: exit codes, help, and check-config on good and broken plant files.
source "$(dirname "$0")/lib.sh"
cd "$GB_SRC"

expect_exit() { # CODE CMD...
  local want=$1 rc=0; shift
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want; stderr: $(cat "$T/err")"
  check_sanitizers "$T/err"
}

expect_exit 0 "$GEMBA" version
grep -qE '^gemba [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || fail "version output: $(cat "$T/out")"
expect_exit 0 "$GEMBA" --version
expect_exit 0 "$GEMBA" help
for cmd in serve check-config store version help; do grep -q "^  $cmd " "$T/out" || fail "help lacks $cmd"; done
expect_exit 0 "$GEMBA" help serve
grep -q -- '--ready-file' "$T/out" || fail "help serve lacks --ready-file"
expect_exit 0 "$GEMBA" serve --help
expect_exit 2 "$GEMBA"
expect_exit 2 "$GEMBA" frobnicate
expect_exit 2 "$GEMBA" serv
grep -q "did you mean 'serve'" "$T/err" || fail "no suggestion for 'serv': $(cat "$T/err")"
expect_exit 2 "$GEMBA" help nosuch
expect_exit 2 "$GEMBA" version extra
expect_exit 2 "$GEMBA" serve
grep -q -- '--config FILE, or --demo' "$T/err" || fail "serve without a plant: $(cat "$T/err")"
expect_exit 2 "$GEMBA" serve --demo --config x.yaml
expect_exit 2 "$GEMBA" serve --demo --bogus --data "$T/never"
expect_exit 2 "$GEMBA" serve --demo --log-level chatty --data "$T/never"
expect_exit 2 "$GEMBA" serve --demo --listen nonsense --data "$T/never"
[ ! -e "$T/never" ] || fail "bad usage created the data directory"
grep -q "expected HOST:PORT" "$T/err" || fail "bad listen message: $(cat "$T/err")"
expect_exit 2 "$GEMBA" check-config
expect_exit 2 "$GEMBA" store
expect_exit 2 "$GEMBA" store stats --format xml

# the example plant is valid
expect_exit 0 "$GEMBA" check-config examples/demo-plant.yaml
grep -q '^examples/demo-plant.yaml: ok: site plant1, 2 areas, 2 lines, 8 machines, 96 tags' "$T/out" \
  || fail "summary: $(cat "$T/out")"
[ ! -s "$T/err" ] || fail "valid file printed on stderr: $(cat "$T/err")"

# the broken plant: every problem, in order, at its line and column, and nothing else
expect_exit 2 "$GEMBA" check-config tests/data/plants/broken.yaml
diff -u tests/data/plants/broken.expected "$T/err" || fail "check-config output differs from the golden file"
[ "$(wc -l < "$T/err")" -eq 31 ] || fail "expected 31 problems"
# the MQTT adapters' own keys and addresses, the same way
expect_exit 2 "$GEMBA" check-config tests/data/plants/broken-mqtt.yaml
diff -u tests/data/plants/broken-mqtt.expected "$T/err" || fail "MQTT check-config output differs from the golden file"

# several files: one bad makes the run fail, the good one is still summarised
expect_exit 2 "$GEMBA" check-config examples/demo-plant.yaml tests/data/plants/broken.yaml
grep -q '^examples/demo-plant.yaml: ok' "$T/out" || fail "good file not summarised"

# unreadable and syntactically broken files
expect_exit 2 "$GEMBA" check-config "$T/missing.yaml"
grep -q "^$T/missing.yaml: cannot open: No such file or directory$" "$T/err" || fail "missing file: $(cat "$T/err")"
printf 'site:\n  name: [unclosed\nareas: []\n' > "$T/syntax.yaml"
expect_exit 2 "$GEMBA" check-config "$T/syntax.yaml"
grep -qE "^$T/syntax.yaml:[0-9]+:[0-9]+: YAML syntax: " "$T/err" || fail "syntax error: $(cat "$T/err")"
# tokens: printed once, stored hashed, bound to a role, names unique
expect_exit 2 "$GEMBA" token create --data "$T/tk"
grep -q -- '--role' "$T/err" || fail "token create without a role: $(cat "$T/err")"
expect_exit 0 "$GEMBA" token create --data "$T/tk" --role admin
grep -qE '^gbt_admin-1_[0-9a-f]{48}$' "$T/out" || fail "token: $(cat "$T/out")"
tok=$(cat "$T/out")
grep -q "^admin-1 admin [0-9a-f]\{64\} [0-9]\{19\} [^ ]*$" "$T/tk/auth/tokens" || fail "tokens file: $(cat "$T/tk/auth/tokens")"
grep -q "${tok##*_}" "$T/tk/auth/tokens" && fail "the token itself was stored"
[ "$(stat -c %a "$T/tk/auth/tokens")" = 600 ] || fail "tokens file mode $(stat -c %a "$T/tk/auth/tokens")"
expect_exit 0 "$GEMBA" token create --data "$T/tk" --id line-lead --role operator
expect_exit 2 "$GEMBA" token create --data "$T/tk" --id line-lead --role operator
expect_exit 2 "$GEMBA" token create --data "$T/tk" --id bad_name --role viewer
expect_exit 2 "$GEMBA" token create --data "$T/tk" --role superuser
expect_exit 2 "$GEMBA" token
# historian retention rules: each mistake at its line and column
cat > "$T/ret.yaml" <<'YAML'
site: {name: r, timezone: UTC}
areas: []
historian:
  retention:
    - {tags: "*", keep: 0s}
    - {keep: 1d}
    - every day
    - {tags: "a/*", keep: 2y, size: 1}
YAML
expect_exit 2 "$GEMBA" check-config "$T/ret.yaml"
diff -u - "$T/err" <<EOF || fail "retention rule messages differ"
$T/ret.yaml:5:25: 'keep' must be above 0, such as 90d or 2y
$T/ret.yaml:6:7: retention rule is missing required key 'tags'
$T/ret.yaml:7:7: a retention rule is a mapping such as {tags: "*", keep: 90d}
$T/ret.yaml:8:31: unknown key 'size' in retention rule
EOF
echo "ok"
