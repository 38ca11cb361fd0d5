# Shared by the harness self-tests (sourced): counters and checks that print one line each.
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); printf 'ok   - %s\n' "$1"; }
bad() {
	FAIL=$((FAIL + 1)); printf 'FAIL - %s\n' "$1"
	[[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/       | /' | tail -n 15
	return 0
}
# expect NAME REGEX OUTPUT — pass when OUTPUT matches the extended regex
expect() { if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else bad "$1 (wanted /$2/)" "$3"; fi; }
expect_not() { if grep -Eq -- "$2" <<<"$3"; then bad "$1 (did not want /$2/)" "$3"; else ok "$1"; fi; }
