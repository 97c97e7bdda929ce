#!/usr/bin/env bash
#
# run.sh - build every libFuzzer target in tests/fuzz and run each for a
# bounded time. `make fuzz` calls this; so can CI.
#
# A target is tests/fuzz/fuzz_NAME.c. It says what it links against in
# comment lines, which may repeat (paths are from the repository root):
#	// fuzz-sources: src/cidr.c src/log.c
#	// fuzz-pkgs: milter libclamav libcrypto      (pkg-config names; optional)
# and may use, per NAME:
#	tests/fuzz/corpus/NAME/    seeds; read only, new inputs go to
#	                           build-fuzz/corpus/NAME/ so runs never dirty git
#	tests/fuzz/regress/NAME/   past crashers, each run once before fuzzing
#	tests/fuzz/dict/NAME.dict  a libFuzzer dictionary
#
# Crashes, leaks and timeouts are written to build-fuzz/crashes/NAME-*.
# To keep one as a regression: copy it into tests/fuzz/regress/NAME/.
# To replay one: build-fuzz/fuzz_NAME build-fuzz/crashes/NAME-crash-...
#
# Usage: tests/fuzz/run.sh [NAME...]        (default: every target)
# Environment: FUZZ_SECONDS per target (default 60), FUZZ_CC (default clang).
# Exit status: 0 only if every target built, passed its regressions and
# ran its full time without a finding.

set -u

cd "$(dirname "$0")/../.." || exit 2

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CC=${FUZZ_CC:-clang}
OUT=build-fuzz
CFLAGS=(-g -O1 "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=undefined
	-std=c17 -D_GNU_SOURCE -Wall -Wextra -Isrc)

case $FUZZ_SECONDS in
'' | *[!0-9]* | 0)
	echo "run.sh: FUZZ_SECONDS must be a positive integer, not '$FUZZ_SECONDS'" >&2
	exit 2
	;;
esac

# Without these, UBSan reports and carries on, and libFuzzer never sees it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# directive - the words after "// KEY:" on every such line of a target
directive() {
	sed -n "s|^//[[:space:]]*$1:||p" "$2" | tr '\n' ' '
}

# build - compile one target; prints the reason and fails on any error
build() {
	local name=$1 src=$2 bin=$3 f
	local -a sources pkgs pkgflags=()

	read -r -a sources <<<"$(directive fuzz-sources "$src")"
	read -r -a pkgs <<<"$(directive fuzz-pkgs "$src")"
	for f in "${sources[@]}"; do
		if [ ! -f "$f" ]; then
			echo "$name: fuzz-sources names $f, which does not exist" >&2
			return 1
		fi
	done
	if [ ${#pkgs[@]} -gt 0 ]; then
		local flags
		if ! flags=$(pkg-config --cflags --libs "${pkgs[@]}"); then
			echo "$name: pkg-config cannot find: ${pkgs[*]}" >&2
			return 1
		fi
		read -r -a pkgflags <<<"$flags"
	fi
	"$FUZZ_CC" "${CFLAGS[@]}" -o "$bin" "$src" "${sources[@]}" "${pkgflags[@]}" \
		>"$OUT/$name.build.log" 2>&1
	local rc=$?
	cat "$OUT/$name.build.log" >&2
	[ $rc -eq 0 ] || echo "$name: build failed" >&2
	return $rc
}

# regress - run every saved crasher once; each must now pass
regress() {
	local name=$1 bin=$2 dir=tests/fuzz/regress/$1
	local -a files=()

	[ -d "$dir" ] || return 0
	mapfile -t files < <(find "$dir" -type f ! -name '.*' | sort)
	[ ${#files[@]} -gt 0 ] || return 0
	if ! "$bin" -artifact_prefix="$OUT/crashes/$name-regress-" "${files[@]}" \
		>"$OUT/$name.regress.log" 2>&1; then
		echo "$name: regression input fails again; see $OUT/$name.regress.log" >&2
		tail -n 30 "$OUT/$name.regress.log" >&2
		return 1
	fi
	echo "$name: ${#files[@]} regression input(s) pass"
}

# fuzz - run one target for FUZZ_SECONDS and report its stats
fuzz() {
	local name=$1 bin=$2 stamp=$OUT/$1.stamp
	local -a args=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -print_final_stats=1
		-artifact_prefix="$OUT/crashes/$name-")

	[ -f "tests/fuzz/dict/$name.dict" ] && args+=(-dict="tests/fuzz/dict/$name.dict")
	mkdir -p "$OUT/corpus/$name"
	local -a corpora=("$OUT/corpus/$name")
	[ -d "tests/fuzz/corpus/$name" ] && corpora+=("tests/fuzz/corpus/$name")

	touch "$stamp"
	"$bin" "${args[@]}" "${corpora[@]}" >"$OUT/$name.log" 2>&1
	local rc=$?
	local found
	found=$(find "$OUT/crashes" -type f -name "$name-*" -newer "$stamp" | sort)

	local execs cov corp
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log")
	cov=$(grep -o 'cov: [0-9]*' "$OUT/$name.log" | tail -n 1)
	corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$OUT/$name.log" | tail -n 1)
	if [ $rc -ne 0 ] || [ -n "$found" ]; then
		echo "$name: FAILED (exit $rc); log $OUT/$name.log" >&2
		grep -m 5 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$OUT/$name.log" >&2
		local f
		for f in $found; do
			echo "  artifact: $f" >&2
		done
		return 1
	fi
	echo "$name: ok, ${execs:-?} runs in ${FUZZ_SECONDS}s, ${cov:-cov: ?}, ${corp:-corp: ?}"
}

main() {
	local -a names=() failed=()
	local name src bin

	if [ $# -gt 0 ]; then
		names=("$@")
	else
		for src in tests/fuzz/fuzz_*.c; do
			[ -e "$src" ] || continue
			name=${src#tests/fuzz/fuzz_}
			names+=("${name%.c}")
		done
	fi
	if [ ${#names[@]} -eq 0 ]; then
		echo "run.sh: no targets in tests/fuzz" >&2
		return 1
	fi
	mkdir -p "$OUT/crashes" || return 2

	for name in "${names[@]}"; do
		src=tests/fuzz/fuzz_$name.c
		bin=$OUT/fuzz_$name
		if [ ! -f "$src" ]; then
			echo "run.sh: no target $src" >&2
			failed+=("$name")
			continue
		fi
		if build "$name" "$src" "$bin" && regress "$name" "$bin" && fuzz "$name" "$bin"; then
			continue
		fi
		failed+=("$name")
	done

	if [ ${#failed[@]} -gt 0 ]; then
		echo "run.sh: failed: ${failed[*]}" >&2
		return 1
	fi
	echo "run.sh: all ${#names[@]} target(s) passed"
}

main "$@"
