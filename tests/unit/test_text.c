/*
 * test_text - unit tests for the shared text helpers (src/text.h is the spec).
 *
 * The UTF-8 table follows Unicode table 3-7: each row is a byte string, how
 * many of its bytes text_utf8_len() may see, and the length and code point
 * it must give. An exhaustive pass over every lead byte and first
 * continuation byte then checks the well-formed ranges one by one. The
 * writers are checked on a memstream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *s; /* the bytes, NUL-terminated */
	size_t n;      /* bytes text_utf8_len may read; TEXT_TO_NUL for up to the NUL */
	size_t len;    /* what it returns */
	uint32_t cp;   /* the code point, when len > 0 */
} tt_utf8[] = {
	{ "A", 1, 1, 'A' },
	{ "", 1, 1, 0 },                 /* NUL is ASCII: the caller decides */
	{ "\x7f", TEXT_TO_NUL, 1, 0x7f },
	{ "A", 0, 0, 0 },                /* nothing to read */
	{ "\xc2\x80", 2, 2, 0x80 },
	{ "\xc3\xa9", TEXT_TO_NUL, 2, 0xe9 },
	{ "\xdf\xbf", 2, 2, 0x7ff },
	{ "\xe0\xa0\x80", 3, 3, 0x800 },
	{ "\xe2\x82\xac", TEXT_TO_NUL, 3, 0x20ac },
	{ "\xed\x9f\xbf", 3, 3, 0xd7ff },
	{ "\xee\x80\x80", 3, 3, 0xe000 },
	{ "\xef\xbf\xbf", 3, 3, 0xffff },
	{ "\xf0\x90\x80\x80", 4, 4, 0x10000 },
	{ "\xf0\x9f\x98\x80", TEXT_TO_NUL, 4, 0x1f600 },
	{ "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
	/* ill-formed */
	{ "\x80", TEXT_TO_NUL, 0, 0 },   /* stray continuation */
	{ "\xbf", 1, 0, 0 },
	{ "\xc0\x80", 2, 0, 0 },         /* overlong NUL */
	{ "\xc1\xbf", 2, 0, 0 },         /* overlong 0x7f */
	{ "\xe0\x9f\xbf", 3, 0, 0 },     /* overlong 0x7ff */
	{ "\xf0\x8f\xbf\xbf", 4, 0, 0 }, /* overlong 0xffff */
	{ "\xed\xa0\x80", 3, 0, 0 },     /* high surrogate */
	{ "\xed\xbf\xbf", 3, 0, 0 },     /* low surrogate */
	{ "\xf4\x90\x80\x80", 4, 0, 0 }, /* above U+10FFFF */
	{ "\xf5\x80\x80\x80", 4, 0, 0 },
	{ "\xf8\x88\x80\x80", 4, 0, 0 }, /* five-byte lead */
	{ "\xff", 1, 0, 0 },
	{ "\xc3", TEXT_TO_NUL, 0, 0 },   /* cut by the NUL */
	{ "\xe2\x82", TEXT_TO_NUL, 0, 0 },
	{ "\xf0\x9f\x98", TEXT_TO_NUL, 0, 0 },
	{ "\xc3\xa9", 1, 0, 0 },         /* cut by n */
	{ "\xe2\x82\xac", 2, 0, 0 },
	{ "\xf0\x9f\x98\x80", 3, 0, 0 },
	{ "\xc3" "A", TEXT_TO_NUL, 0, 0 }, /* ASCII where a continuation belongs */
	{ "\xe2\x82" "A", 3, 0, 0 },
	{ "\xe2" "\xc3\xa9", 3, 0, 0 },  /* a lead where a continuation belongs */
};

static void test_utf8_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(tt_utf8); i++) {
		const unsigned char *s = (const unsigned char *)tt_utf8[i].s;
		uint32_t cp = 0xdeadbeef;
		size_t got = text_utf8_decode(s, tt_utf8[i].n, &cp);
		if (got != tt_utf8[i].len)
			fail_msg("row %zu: text_utf8_decode gave %zu, want %zu", i, got,
				 tt_utf8[i].len);
		assert_int_equal(cp, got > 0 ? tt_utf8[i].cp : 0xdeadbeef); /* untouched on 0 */
		assert_int_equal(text_utf8_len(s, tt_utf8[i].n), tt_utf8[i].len);
	}
}

/* tt_well_formed - Unicode table 3-7: the range of the second byte after lead, and the length */
static size_t tt_well_formed(unsigned lead, unsigned *lo, unsigned *hi)
{
	*lo = 0x80, *hi = 0xbf;
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead == 0xe0)
		*lo = 0xa0;
	if (lead == 0xed)
		*hi = 0x9f;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead == 0xf0)
		*lo = 0x90;
	if (lead == 0xf4)
		*hi = 0x8f;
	if (lead >= 0xf0 && lead <= 0xf4)
		return 4;
	return 0;
}

/* Every lead byte with every second byte, the rest valid continuations, then cut short. */
static void test_utf8_exhaustive(void **state)
{
	(void)state;
	for (unsigned a = 0x80; a <= 0xff; a++) {
		for (unsigned b = 0; b <= 0xff; b++) {
			unsigned char s[5] = { (unsigned char)a, (unsigned char)b, 0x80, 0x80, 0 };
			unsigned lo, hi;
			size_t len = tt_well_formed(a, &lo, &hi);
			size_t want = len > 0 && b >= lo && b <= hi ? len : 0;
			assert_int_equal(text_utf8_len(s, 4), want);
			assert_int_equal(text_utf8_len(s, TEXT_TO_NUL), want);
			if (want > 0)
				assert_int_equal(text_utf8_len(s, want - 1), 0);
		}
	}
}

/* A NUL-terminated string at the very end of a heap block: ASan catches a read past it. */
static void test_utf8_stops_at_nul(void **state)
{
	(void)state;
	static const char *const cut[] = { "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xf4" };
	for (size_t i = 0; i < NELEM(cut); i++) {
		char *s = strdup(cut[i]);
		assert_non_null(s);
		assert_int_equal(text_utf8_len((const unsigned char *)s, TEXT_TO_NUL), 0);
		free(s);
	}
}

/* tt_written - what text_put_date(when), or text_put_msgid_host(host), wrote */
static char *tt_written(bool date, time_t when, const char *host)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	if (date)
		text_put_date(fp, when);
	else
		text_put_msgid_host(fp, host);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static void test_put_date(void **state)
{
	static const struct {
		time_t when;
		const char *want;
	} rows[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 1795770000, "Fri, 27 Nov 2026 09:00:00 +0000" },
		{ 1798761599, "Thu, 31 Dec 2026 23:59:59 +0000" },
	};
	(void)state;
	for (size_t i = 0; i < NELEM(rows); i++) {
		char *got = tt_written(true, rows[i].when, NULL);
		assert_string_equal(got, rows[i].want);
		free(got);
	}
}

/* A time gmtime_r cannot convert is written as the epoch, not as garbage. */
static void test_put_date_unconvertible(void **state)
{
	(void)state;
	if (sizeof(time_t) < 8)
		skip();
	char *got = tt_written(true, (time_t)INT64_MAX, NULL);
	assert_string_equal(got, "Thu, 01 Jan 1970 00:00:00 +0000");
	free(got);
}

static void test_put_msgid_host(void **state)
{
	static const struct {
		const char *host, *want;
	} rows[] = {
		{ "mx1.example.org", "mx1.example.org" },
		{ "Mail-01.EXAMPLE.net", "Mail-01.EXAMPLE.net" },
		{ NULL, "localhost" },
		{ "", "localhost" },
		{ "a b>c@d", "a-b-c-d" },
		{ "host_name\r\nX-Evil: 1", "host-name--X-Evil--1" },
		{ "h\xc3\xa9st", "h--st" },
	};
	(void)state;
	for (size_t i = 0; i < NELEM(rows); i++) {
		char *got = tt_written(false, 0, rows[i].host);
		assert_string_equal(got, rows[i].want);
		free(got);
	}
}

/* At most TEXT_HOST_MAX bytes, however long the name. */
static void test_put_msgid_host_cap(void **state)
{
	char host[TEXT_HOST_MAX + 50];
	(void)state;
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	char *got = tt_written(false, 0, host);
	assert_int_equal(strlen(got), TEXT_HOST_MAX);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_table),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_utf8_stops_at_nul),
		cmocka_unit_test(test_put_date),
		cmocka_unit_test(test_put_date_unconvertible),
		cmocka_unit_test(test_put_msgid_host),
		cmocka_unit_test(test_put_msgid_host_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
