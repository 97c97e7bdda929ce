/*
 * test_cidr - unit tests for the cidr module, one table per behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "cidr.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* test_parse_or_fail - parse text that must be valid, reporting the error if not */
static struct cidr_list *test_parse_or_fail(const char *text)
{
	struct cidr_list *l = NULL;
	char err[256] = "";

	if (cidr_list_parse(text, &l, err, sizeof(err)) != 0)
		fail_msg("parse \"%s\" failed: %s", text, err);
	assert_non_null(l);
	return l;
}

/* Valid lists: how many entries, and the canonical form. */
static const struct {
	const char *text;
	size_t count;
	const char *canon;
} parse_ok[] = {
	{"", 0, ""},
	{"   ", 0, ""},
	{" , ,,\t\n", 0, ""},
	{"10.0.0.0/8", 1, "10.0.0.0/8"},
	{"192.0.2.7", 1, "192.0.2.7/32"},
	{"0.0.0.0/0", 1, "0.0.0.0/0"},
	{"128.0.0.0/1", 1, "128.0.0.0/1"},
	{"255.255.255.254/31", 1, "255.255.255.254/31"},
	{"255.255.255.255/32", 1, "255.255.255.255/32"},
	{"10.0.0.0/008", 1, "10.0.0.0/8"},
	{"2001:db8::/32", 1, "2001:db8::/32"},
	{"2001:DB8:0:0::/32", 1, "2001:db8::/32"},
	{"::/0", 1, "::/0"},
	{"::1", 1, "::1/128"},
	{"8000::/1", 1, "8000::/1"},
	{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", 1,
	 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"},
	{"[2001:db8::]/32", 1, "2001:db8::/32"},
	{"[::1]", 1, "::1/128"},
	/* A v4 network written in mapped v6 notation is still a v4 network. */
	{"::ffff:10.0.0.0/104", 1, "10.0.0.0/8"},
	{"::ffff:0:0/96", 1, "0.0.0.0/0"},
	{"::fffe:0:0/95", 1, "::fffe:0:0/95"},
	{"10.0.0.0/8, 2001:db8::/32 192.0.2.7", 3, "10.0.0.0/8, 2001:db8::/32, 192.0.2.7/32"},
	{"10.0.0.0/8,192.168.0.0/16", 2, "10.0.0.0/8, 192.168.0.0/16"},
	{"\t10.0.0.0/8 ,\r\n 172.16.0.0/12,", 2, "10.0.0.0/8, 172.16.0.0/12"},
	{"10.0.0.0/8 10.0.0.0/8", 2, "10.0.0.0/8, 10.0.0.0/8"},
	/* The longest valid item there is (51 characters). */
	{"[0000:0000:0000:0000:0000:ffff:255.255.255.255]/128", 1, "255.255.255.255/32"},
};

/* test_parse_ok - every valid list parses to the expected count and text */
static void test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_ok); i++) {
		struct cidr_list *l = test_parse_or_fail(parse_ok[i].text);
		char buf[512];
		cidr_list_format(l, buf, sizeof(buf));
		if (cidr_list_count(l) != parse_ok[i].count || strcmp(buf, parse_ok[i].canon) != 0)
			fail_msg("\"%s\": got %zu \"%s\", want %zu \"%s\"", parse_ok[i].text,
				 cidr_list_count(l), buf, parse_ok[i].count, parse_ok[i].canon);
		cidr_list_free(l);
	}
}

/* Invalid lists: a substring the error must contain. */
static const struct {
	const char *text;
	const char *want;
} parse_bad[] = {
	{"10.1.2.3/8", "\"10.1.2.3/8\": host bits set; did you mean 10.0.0.0/8?"},
	{"192.168.1.1/24", "did you mean 192.168.1.0/24?"},
	{"10.0.0.1/31", "did you mean 10.0.0.0/31?"},
	{"0.0.0.1/0", "did you mean 0.0.0.0/0?"},
	{"2001:db8::1/32", "\"2001:db8::1/32\": host bits set; did you mean 2001:db8::/32?"},
	{"::1/127", "did you mean ::/127?"},
	{"::1/0", "did you mean ::/0?"},
	{"[2001:db8::1]/64", "did you mean 2001:db8::/64?"},
	{"::ffff:10.1.2.3/104", "did you mean ::ffff:10.0.0.0/104?"},
	{"10.0.0.0/8, 10.1.2.3/8", "\"10.1.2.3/8\": host bits set"},
	{"10.0.0.0/33", "\"10.0.0.0/33\": prefix length out of range (0-32)"},
	{"10.0.0.0/99", "out of range (0-32)"},
	{"10.0.0.0/0032", "out of range (0-32)"},
	{"10.0.0.0/4294967304", "out of range (0-32)"},
	{"2001:db8::/129", "\"2001:db8::/129\": prefix length out of range (0-128)"},
	{"::/999", "out of range (0-128)"},
	{"10.0.0.0/", "\"10.0.0.0/\": missing prefix length"},
	{"10.0.0.0/8a", "\"10.0.0.0/8a\": prefix length is not a number"},
	{"10.0.0.0/-8", "not a number"},
	{"10.0.0.0/+8", "not a number"},
	{"10.0.0.0/0x8", "not a number"},
	{"10.0.0.0/8/8", "not a number"},
	{"10.0.0.0/", "missing prefix"},
	{"10.0.0/8", "\"10.0.0/8\": not an IPv4 or IPv6 address"},
	{"10.0.0.256", "not an IPv4 or IPv6 address"},
	{"010.0.0.0/8", "not an IPv4 or IPv6 address"},
	{"10.0.0.0.0", "not an IPv4 or IPv6 address"},
	{"0x0a.0.0.0", "not an IPv4 or IPv6 address"},
	{"localhost", "\"localhost\": not an IPv4 or IPv6 address"},
	{"/8", "not an IPv4 or IPv6 address"},
	{"2001:db8:::/32", "not an IPv4 or IPv6 address"},
	{"2001:db8::g/32", "not an IPv4 or IPv6 address"},
	{"fe80::1%eth0", "not an IPv4 or IPv6 address"},
	{"[10.0.0.1]", "\"[10.0.0.1]\": not an IPv6 address"},
	{"[2001:db8::/32", "unbalanced bracket"},
	{"[2001:db8::]]/32", "not an IPv6 address"},
	{"[", "unbalanced bracket"},
	{"[]", "not an IPv6 address"},
	{"10.0.0.0/8;192.0.2.0/24", "not a number"},
	{"10.0.0.0/8, bogus, 192.0.2.0/24", "\"bogus\":"},
	/* Control bytes and quotes in an item must not reach a log line raw. */
	{"10.0.0.\x01", "\"10.0.0.?\": not an IPv4"},
	{"\"a\\b\"", "\"?a?b?\": not an IPv4"},
	{"10.0.0.0/8\xc3\xa9", "\"10.0.0.0/8??\": prefix length is not a number"},
};

/* test_parse_bad - every invalid list fails, names the item, leaves *out alone */
static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_bad); i++) {
		struct cidr_list *sentinel = (struct cidr_list *)&sentinel;
		struct cidr_list *l = sentinel;
		char err[256] = "";

		if (cidr_list_parse(parse_bad[i].text, &l, err, sizeof(err)) != -1)
			fail_msg("\"%s\": parsed, want error \"%s\"", parse_bad[i].text,
				 parse_bad[i].want);
		if (strstr(err, parse_bad[i].want) == NULL)
			fail_msg("\"%s\": error \"%s\", want \"%s\"", parse_bad[i].text, err,
				 parse_bad[i].want);
		assert_ptr_equal(l, sentinel);
	}
}

/*
 * test_parse_exact_limit - 64 characters pass the length check, 65 do not,
 * and the error shows the first 64. No valid item is that long, so the
 * 64-character one fails a later check instead.
 */
static void test_parse_exact_limit(void **state)
{
	(void)state;
	const char *head = "0000:0000:0000:0000:0000:0000:0000:0000/";
	char at[65], over[66], want[128];
	struct cidr_list *l = NULL;
	char err[256] = "";

	memset(at, '0', sizeof(at));
	memcpy(at, head, strlen(head));
	at[64] = '\0';
	memcpy(over, at, 64);
	memcpy(over + 64, "0", 2);

	assert_int_equal(cidr_list_parse(at, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(cidr_list_parse(over, &l, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "\"%s...\": item longer than 64 characters", at);
	assert_string_equal(err, want);

	/* A long item after a good one is still caught, and named. */
	char list[192];
	snprintf(list, sizeof(list), "10.0.0.0/8, %s%s", over, over);
	assert_int_equal(cidr_list_parse(list, &l, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_null(l);
}

/* test_parse_err_buffers - NULL or tiny err buffers are tolerated */
static void test_parse_err_buffers(void **state)
{
	(void)state;
	struct cidr_list *l = NULL;
	char tiny[8];

	assert_int_equal(cidr_list_parse("bogus", &l, NULL, 0), -1);
	assert_int_equal(cidr_list_parse("bogus", &l, tiny, 0), -1);
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(cidr_list_parse("bogus", &l, tiny, sizeof(tiny)), -1);
	assert_int_equal(tiny[sizeof(tiny) - 1], '\0');
	assert_null(l);
	assert_int_equal(cidr_list_parse("10.0.0.0/8", NULL, tiny, sizeof(tiny)), -1);

	/* A NULL text is an unset option: an empty list. */
	assert_int_equal(cidr_list_parse(NULL, &l, NULL, 0), 0);
	assert_non_null(l);
	assert_int_equal(cidr_list_count(l), 0);
	cidr_list_free(l);
}

/* Matches at prefix boundaries: the last address in and the first out. */
static const struct {
	const char *list;
	const char *addr;
	bool want;
} matches[] = {
	/* /0 */
	{"0.0.0.0/0", "0.0.0.0", true},
	{"0.0.0.0/0", "255.255.255.255", true},
	{"0.0.0.0/0", "::ffff:1.2.3.4", true},
	{"0.0.0.0/0", "2001:db8::1", false},
	{"0.0.0.0/0", "::1", false},
	{"::/0", "2001:db8::1", true},
	{"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
	/* ::/0 covers ::ffff:0:0/96, so it also takes IPv4 clients. */
	{"::/0", "10.1.2.3", true},
	/* /1 */
	{"0.0.0.0/1", "127.255.255.255", true},
	{"0.0.0.0/1", "128.0.0.0", false},
	{"128.0.0.0/1", "128.0.0.0", true},
	{"128.0.0.0/1", "127.255.255.255", false},
	{"::/1", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"::/1", "8000::", false},
	{"8000::/1", "8000::", true},
	{"8000::/1", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
	/* /8 and friends */
	{"10.0.0.0/8", "10.0.0.0", true},
	{"10.0.0.0/8", "10.255.255.255", true},
	{"10.0.0.0/8", "9.255.255.255", false},
	{"10.0.0.0/8", "11.0.0.0", false},
	{"172.16.0.0/12", "172.31.255.255", true},
	{"172.16.0.0/12", "172.32.0.0", false},
	{"172.16.0.0/12", "172.15.255.255", false},
	/* /31 and /32 */
	{"192.0.2.6/31", "192.0.2.6", true},
	{"192.0.2.6/31", "192.0.2.7", true},
	{"192.0.2.6/31", "192.0.2.5", false},
	{"192.0.2.6/31", "192.0.2.8", false},
	{"192.0.2.7/32", "192.0.2.7", true},
	{"192.0.2.7/32", "192.0.2.6", false},
	{"192.0.2.7/32", "192.0.2.8", false},
	{"192.0.2.7", "192.0.2.7", true},
	{"192.0.2.7", "192.0.2.70", false},
	/* /127 and /128 */
	{"2001:db8::/127", "2001:db8::", true},
	{"2001:db8::/127", "2001:db8::1", true},
	{"2001:db8::/127", "2001:db8::2", false},
	{"2001:db8::/128", "2001:db8::", true},
	{"2001:db8::/128", "2001:db8::1", false},
	{"::1", "::1", true},
	{"::1", "::", false},
	{"::1", "::2", false},
	/* /32 in v6 */
	{"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"2001:db8::/32", "2001:db9::", false},
	{"2001:db8::/32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
	/* IPv4-mapped clients match IPv4 entries, and the other way round. */
	{"10.0.0.0/8", "::ffff:10.1.2.3", true},
	{"10.0.0.0/8", "::ffff:a01:203", true},
	{"10.0.0.0/8", "::FFFF:10.1.2.3", true},
	{"10.0.0.0/8", "::ffff:11.1.2.3", false},
	{"192.0.2.7", "::ffff:192.0.2.7", true},
	{"::ffff:10.0.0.0/104", "10.9.9.9", true},
	/* Not mapped: IPv4-compatible and NAT64 forms are different addresses. */
	{"10.0.0.0/8", "::10.1.2.3", false},
	{"10.0.0.0/8", "64:ff9b::10.1.2.3", false},
	/* Several entries: any one is enough. */
	{"10.0.0.0/8, 2001:db8::/32 192.0.2.7", "10.1.2.3", true},
	{"10.0.0.0/8, 2001:db8::/32 192.0.2.7", "2001:db8::25", true},
	{"10.0.0.0/8, 2001:db8::/32 192.0.2.7", "192.0.2.7", true},
	{"10.0.0.0/8, 2001:db8::/32 192.0.2.7", "192.0.2.8", false},
	{"10.0.0.0/8, 2001:db8::/32 192.0.2.7", "2001:db9::25", false},
	/* An empty list matches nothing. */
	{"", "10.1.2.3", false},
	{"", "::", false},
	{"", "0.0.0.0", false},
	/* Unparsable addresses never match, even against everything. */
	{"0.0.0.0/0 ::/0", "", false},
	{"0.0.0.0/0 ::/0", "localhost", false},
	{"0.0.0.0/0 ::/0", "10.0.0.0/8", false},
	{"0.0.0.0/0 ::/0", "10.1.2", false},
	{"0.0.0.0/0 ::/0", " 10.1.2.3", false},
	{"0.0.0.0/0 ::/0", "[::1]", false},
	{"0.0.0.0/0 ::/0", "fe80::1%lo", false},
};

/* test_match_str - table of textual matches */
static void test_match_str(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(matches); i++) {
		struct cidr_list *l = test_parse_or_fail(matches[i].list);
		bool got = cidr_list_match_str(l, matches[i].addr);
		if (got != matches[i].want)
			fail_msg("\"%s\" in \"%s\": got %d, want %d", matches[i].addr,
				 matches[i].list, got, matches[i].want);
		cidr_list_free(l);
	}
}

/* test_match_null - NULL list and NULL address are no match, not a crash */
static void test_match_null(void **state)
{
	(void)state;
	struct cidr_list *l = test_parse_or_fail("0.0.0.0/0 ::/0");
	struct sockaddr_in sin = {.sin_family = AF_INET};

	assert_false(cidr_list_match_str(NULL, "10.1.2.3"));
	assert_false(cidr_list_match_str(l, NULL));
	assert_false(cidr_list_match_sockaddr(NULL, (struct sockaddr *)&sin));
	assert_false(cidr_list_match_sockaddr(l, NULL));
	assert_int_equal(cidr_list_count(NULL), 0);
	cidr_list_free(NULL);
	cidr_list_free(l);
}

/* test_sockaddr_v4 - build an AF_INET peer and match it */
static bool test_sockaddr_v4(const struct cidr_list *l, const char *addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(25);
	assert_int_equal(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	return cidr_list_match_sockaddr(l, (const struct sockaddr *)&sin);
}

/* test_sockaddr_v6 - build an AF_INET6 peer and match it */
static bool test_sockaddr_v6(const struct cidr_list *l, const char *addr)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(25);
	sin6.sin6_scope_id = 3;
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	return cidr_list_match_sockaddr(l, (const struct sockaddr *)&sin6);
}

/* test_match_sockaddr - AF_INET, AF_INET6, mapped, and non-IP families */
static void test_match_sockaddr(void **state)
{
	(void)state;
	struct cidr_list *l = test_parse_or_fail("10.0.0.0/8, 2001:db8::/32, 192.0.2.7");

	assert_true(test_sockaddr_v4(l, "10.0.0.0"));
	assert_true(test_sockaddr_v4(l, "10.255.255.255"));
	assert_false(test_sockaddr_v4(l, "11.0.0.0"));
	assert_true(test_sockaddr_v4(l, "192.0.2.7"));
	assert_false(test_sockaddr_v4(l, "192.0.2.6"));
	assert_true(test_sockaddr_v6(l, "2001:db8::1"));
	assert_false(test_sockaddr_v6(l, "2001:db9::1"));
	assert_true(test_sockaddr_v6(l, "::ffff:10.1.2.3"));
	assert_true(test_sockaddr_v6(l, "::ffff:192.0.2.7"));
	assert_false(test_sockaddr_v6(l, "::ffff:192.0.2.8"));
	assert_false(test_sockaddr_v6(l, "::10.1.2.3"));

	/* A local socket peer is never an internal network, even with ::/0. */
	struct cidr_list *all = test_parse_or_fail("0.0.0.0/0 ::/0");
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/klaxon.sock");
	assert_false(cidr_list_match_sockaddr(all, (const struct sockaddr *)&sun));
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNSPEC;
	assert_false(cidr_list_match_sockaddr(all, (const struct sockaddr *)&ss));
	assert_true(test_sockaddr_v4(all, "203.0.113.9"));
	assert_true(test_sockaddr_v6(all, "2001:db8::9"));

	/* An empty list matches no peer. */
	struct cidr_list *none = test_parse_or_fail("");
	assert_false(test_sockaddr_v4(none, "10.0.0.1"));
	assert_false(test_sockaddr_v6(none, "::ffff:10.0.0.1"));

	cidr_list_free(none);
	cidr_list_free(all);
	cidr_list_free(l);
}

/* test_format_round_trip - format, parse the output, format again: same text */
static void test_format_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_ok); i++) {
		struct cidr_list *a = test_parse_or_fail(parse_ok[i].text);
		char one[512], two[512];
		cidr_list_format(a, one, sizeof(one));
		struct cidr_list *b = test_parse_or_fail(one);
		cidr_list_format(b, two, sizeof(two));
		assert_string_equal(one, two);
		assert_int_equal(cidr_list_count(a), cidr_list_count(b));
		cidr_list_free(b);
		cidr_list_free(a);
	}
}

/* test_format_truncation - small buffers stay terminated and never overrun */
static void test_format_truncation(void **state)
{
	(void)state;
	struct cidr_list *l = test_parse_or_fail("10.0.0.0/8, 2001:db8::/32");
	const char *full = "10.0.0.0/8, 2001:db8::/32";
	char buf[64];

	for (size_t n = 1; n <= strlen(full) + 1; n++) {
		memset(buf, 'Z', sizeof(buf));
		cidr_list_format(l, buf, n);
		assert_true(strlen(buf) < n);
		assert_int_equal(strncmp(buf, full, strlen(buf)), 0);
		assert_int_equal(buf[n], 'Z');
	}
	assert_string_equal(buf, full);
	memset(buf, 'Z', sizeof(buf));
	cidr_list_format(l, buf, 0);
	assert_int_equal(buf[0], 'Z');
	cidr_list_format(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cidr_list_free(l);
}

/* test_many_entries - growth past the first allocation keeps every entry */
static void test_many_entries(void **state)
{
	(void)state;
	char text[256 * 20] = "";
	size_t used = 0;

	for (int i = 0; i < 256; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "10.%d.0.0/16,", i);
	struct cidr_list *l = test_parse_or_fail(text);
	assert_int_equal(cidr_list_count(l), 256);
	assert_true(cidr_list_match_str(l, "10.0.0.1"));
	assert_true(cidr_list_match_str(l, "10.255.255.255"));
	assert_false(cidr_list_match_str(l, "11.0.0.0"));
	cidr_list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_exact_limit),
		cmocka_unit_test(test_parse_err_buffers),
		cmocka_unit_test(test_match_str),
		cmocka_unit_test(test_match_null),
		cmocka_unit_test(test_match_sockaddr),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_truncation),
		cmocka_unit_test(test_many_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
