/*
 * test_util - unit tests for the shared parser helpers (src/util.h is the
 * spec), mostly util_time_arg(): one table row per way of writing T, and
 * the ones it must refuse, all against a fixed "now" so that ages have
 * exact answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define TU_NOW ((time_t)1795770000) /* 2026-11-27T09:00:00Z */

static const struct {
	const char *s;
	time_t want;
} tu_good[] = {
	/* ages */
	{ "0s", TU_NOW },
	{ "90s", TU_NOW - 90 },
	{ "30m", TU_NOW - 30 * 60 },
	{ "24h", TU_NOW - 86400 },
	{ "7d", TU_NOW - 7 * 86400 },
	{ "2w", TU_NOW - 14 * 86400 },
	{ "007d", TU_NOW - 7 * 86400 },
	{ "20784d", 9 * 3600 }, /* 1970-01-01T09:00Z: still after the epoch */
	/* dates and RFC 3339 */
	{ "2026-11-27", TU_NOW - 9 * 3600 },
	{ "1970-01-01", 0 },
	{ "2026-11-27T09:00:00Z", TU_NOW },
	{ "2026-11-27t09:00:00z", TU_NOW },
	{ "2026-11-27 09:00:00Z", TU_NOW },
	{ "2026-11-27T09:00:00.123456Z", TU_NOW },
	{ "2026-11-27T10:00:00+01:00", TU_NOW },
	{ "2026-11-27T04:30:00-04:30", TU_NOW },
	{ "2026-11-27T09:00:00+00:00", TU_NOW },
	{ "2026-11-28T08:59:00+23:59", TU_NOW },
};

static const char *const tu_bad[] = {
	"", "yesterday", "now", "24", "24H", "24hours", "24 h", " 24h", "+24h", "-24h", "1.5h",
	"24y", "h", "99999999999999999999999s",
	"20785d",    /* before the epoch */
	"18446744073709551615s",
	"2026-13-45", "2026-11", "2026-11-27T", "2026-11-27T09:00", "2026-11-27T09:00:00",
	"2026-11-27X09:00:00Z", "2026-11-27T09:00:00ZZ", "2026-11-27T09:00:00+0100",
	"2026-11-27T09:00:00+01:00:00", "2026-11-27T09:00:00+24:00", "2026-11-27T09:00:00+01:60",
	"2026-11-27T09:00:00+1:000", "2026-11-27T09:00:00+1: 12", "2026-11-27T09:00:00 +01:00",
	"2026-11-27junk", "2026-11-27T09:00:00.Zjunk",
};

static void test_time_arg_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(tu_good); i++) {
		time_t got = 42;
		if (util_time_arg(tu_good[i].s, TU_NOW, &got) != 0)
			fail_msg("'%s' refused", tu_good[i].s);
		if (got != tu_good[i].want)
			fail_msg("'%s': %lld, want %lld", tu_good[i].s, (long long)got,
				 (long long)tu_good[i].want);
	}
}

static void test_time_arg_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(tu_bad); i++) {
		time_t got = 42;
		if (util_time_arg(tu_bad[i], TU_NOW, &got) != -1)
			fail_msg("'%s' taken as %lld", tu_bad[i], (long long)got);
		assert_int_equal(got, 42); /* *out untouched */
	}
}

/* An age is bounded twice: never before the epoch, never more than 100 years back. */
static void test_time_arg_age_bounds(void **state)
{
	time_t later = (time_t)(150LL * 365 * 86400), got;
	(void)state;
	assert_int_equal(util_time_arg("36500d", later, &got), 0);
	assert_int_equal(got, later - 36500LL * 86400);
	assert_int_equal(util_time_arg("36501d", later, &got), -1);
	assert_int_equal(util_time_arg("1s", 0, &got), -1);
	assert_int_equal(util_time_arg("0s", 0, &got), 0);
	assert_int_equal(got, 0);
}

static void test_is_list_sep(void **state)
{
	(void)state;
	for (const char *p = ", \t\n\r\v\f"; *p; p++)
		assert_true(util_is_list_sep(*p));
	for (const char *p = ";:.-_aZ0"; *p; p++)
		assert_false(util_is_list_sep(*p));
	assert_false(util_is_list_sep('\0'));
}

static void test_errf(void **state)
{
	char err[8] = "x";
	(void)state;
	util_errf(NULL, 0, "%s", "ignored");
	util_errf(err, 0, "%s", "ignored");
	assert_string_equal(err, "x");
	util_errf(err, sizeof(err), "%s %d", "cut", 12345);
	assert_string_equal(err, "cut 123");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_arg_good),
		cmocka_unit_test(test_time_arg_bad),
		cmocka_unit_test(test_time_arg_age_bounds),
		cmocka_unit_test(test_is_list_sep),
		cmocka_unit_test(test_errf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
