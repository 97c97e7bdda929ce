#!/bin/bash
# tests/rebuild/run.sh - the MIME body rebuild (src/rebuild.h) as another
# reader sees it: rebuild_tool applies ops to generated real-world-like
# messages and check_python.py reads each result with Python's email
# package (no defects, expected parts, kept attachments byte-identical,
# warnings present).
#
#   tests/rebuild/run.sh                      # links against build/libklaxon.a
#   BUILD=build-san tests/rebuild/run.sh      # a sanitizer build (detected)
#
# Prints "ok N - name" / "not ok N - name" lines; exits non-zero when any
# check failed or the tool did not build.
set -u
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
lib=$BUILD/libklaxon.a
tool=$BUILD/rebuild_tool
if [ ! -f "$lib" ]; then
	echo "not ok 1 - build rebuild_tool: no $lib (make BUILD=$BUILD all first)"
	exit 1
fi
flags=(-std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -O1 -g -pthread -Isrc)
# A library built with sanitizers needs them at link time too.
if nm -A "$lib" 2>/dev/null | grep -q '__asan_init'; then
	flags+=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi
# shellcheck disable=SC2046
if ! cc "${flags[@]}" -o "$tool" tests/rebuild/rebuild_tool.c "$lib" \
	$(pkg-config --libs milter libclamav libcrypto libarchive lua5.4 sqlite3) -pthread; then
	echo "not ok 1 - build rebuild_tool"
	exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec python3 tests/rebuild/check_python.py "$tool"
