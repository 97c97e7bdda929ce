/*
 * test_origin - unit tests for origin_decide() (src/origin.h is the spec).
 *
 * The configs come from config_load() on files in a private directory under
 * /tmp, one with trust_authenticated on and one with it off, both with the
 * same internal_networks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "origin.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define NETWORKS "10.0.0.0/8, 192.168.1.0/24 2001:db8::/32, ::1"

struct to_state {
	char dir[64];
	struct config *trust;   /* trust_authenticated = yes */
	struct config *notrust; /* trust_authenticated = no */
};

/* to_load - write text to dir/name and load it */
static struct config *to_load(const char *dir, const char *name, const char *text)
{
	char path[128], err[512] = "";
	struct config *cfg = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0)
		return NULL;
	if (config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "config_load: %s\n", err);
		cfg = NULL;
	}
	unlink(path);
	return cfg;
}

static int to_setup(void **state)
{
	struct to_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/klaxon-ut-origin-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	s->trust = to_load(s->dir, "trust.conf",
			   "internal_networks = " NETWORKS "\ntrust_authenticated = yes\n");
	s->notrust = to_load(s->dir, "notrust.conf",
			     "internal_networks = " NETWORKS "\ntrust_authenticated = no\n");
	*state = s;
	return s->trust && s->notrust ? 0 : -1;
}

static int to_teardown(void **state)
{
	struct to_state *s = *state;
	config_free(s->trust);
	config_free(s->notrust);
	int rc = rmdir(s->dir);
	free(s);
	return rc;
}

/* What each (address, auth user) gives with trust on and with trust off. */
static const struct {
	const char *addr;
	const char *auth;
	enum origin trust, notrust;
} rows[] = {
#define IN ORIGIN_INTERNAL
#define EX ORIGIN_EXTERNAL
	/* In and out of internal_networks, IPv4. */
	{"10.0.0.1", NULL, IN, IN},
	{"10.255.255.255", NULL, IN, IN},
	{"192.168.1.77", NULL, IN, IN},
	{"192.168.2.1", NULL, EX, EX},
	{"11.0.0.1", NULL, EX, EX},
	{"198.51.100.7", NULL, EX, EX},
	{"127.0.0.1", NULL, EX, EX}, /* the default 127/8 was replaced */
	/* IPv6, and IPv4-mapped IPv6 matching the IPv4 entries. */
	{"2001:db8::1", NULL, IN, IN},
	{"2001:DB8:ffff::25", NULL, IN, IN},
	{"2001:db9::1", NULL, EX, EX},
	{"::1", NULL, IN, IN},
	{"::2", NULL, EX, EX},
	{"::ffff:10.1.2.3", NULL, IN, IN},
	{"::ffff:192.168.1.1", NULL, IN, IN},
	{"::ffff:198.51.100.7", NULL, EX, EX},
	/* Authenticated: internal only when trust_authenticated is on. */
	{"198.51.100.7", "alice", IN, EX},
	{"2001:db9::1", "bob@example.org", IN, EX},
	{"garbage", "alice", IN, EX},
	{"10.0.0.1", "alice", IN, IN},
	/* An empty {auth_authen} is not an authenticated session. */
	{"198.51.100.7", "", EX, EX},
	/* No client address: local submission. */
	{NULL, NULL, IN, IN},
	{"", NULL, IN, IN},
	{NULL, "alice", IN, IN},
	{"", "", IN, IN},
	/* Addresses that do not parse are external, the safe side. */
	{"garbage", NULL, EX, EX},
	{"localhost", NULL, EX, EX},
	{"10.0.0.1.5", NULL, EX, EX},
	{"10.0.0", NULL, EX, EX},
	{"300.0.0.1", NULL, EX, EX},
	{"10.0.0.1/8", NULL, EX, EX},
	{" ", NULL, EX, EX},
	{"2001:db8::1::2", NULL, EX, EX},
	{"[", NULL, EX, EX},
#undef IN
#undef EX
};

/* test_decide - every row, with trust on and off */
static void test_decide(void **state)
{
	struct to_state *s = *state;
	for (size_t i = 0; i < NELEM(rows); i++) {
		enum origin t = origin_decide(s->trust, rows[i].addr, rows[i].auth);
		enum origin n = origin_decide(s->notrust, rows[i].addr, rows[i].auth);
		if (t != rows[i].trust || n != rows[i].notrust)
			fail_msg("addr %s%s%s auth %s%s%s: got %s/%s, want %s/%s (trust on/off)",
				 rows[i].addr ? "\"" : "", rows[i].addr ? rows[i].addr : "NULL",
				 rows[i].addr ? "\"" : "", rows[i].auth ? "\"" : "",
				 rows[i].auth ? rows[i].auth : "NULL", rows[i].auth ? "\"" : "",
				 origin_name(t), origin_name(n), origin_name(rows[i].trust),
				 origin_name(rows[i].notrust));
	}
}

/* test_defaults - the default internal_networks: loopback only */
static void test_defaults(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	char err[256];
	assert_int_equal(config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_int_equal(origin_decide(cfg, "127.0.0.1", NULL), ORIGIN_INTERNAL);
	assert_int_equal(origin_decide(cfg, "127.8.9.10", NULL), ORIGIN_INTERNAL);
	assert_int_equal(origin_decide(cfg, "::1", NULL), ORIGIN_INTERNAL);
	assert_int_equal(origin_decide(cfg, "10.0.0.1", NULL), ORIGIN_EXTERNAL);
	assert_int_equal(origin_decide(cfg, "10.0.0.1", "alice"), ORIGIN_INTERNAL);
	config_free(cfg);
}

/* test_empty_networks - with no internal networks only auth and local submission are internal */
static void test_empty_networks(void **state)
{
	struct to_state *s = *state;
	struct config *cfg = to_load(s->dir, "empty.conf", "internal_networks = \"\"\n");
	assert_non_null(cfg);
	assert_int_equal(origin_decide(cfg, "127.0.0.1", NULL), ORIGIN_EXTERNAL);
	assert_int_equal(origin_decide(cfg, "::1", NULL), ORIGIN_EXTERNAL);
	assert_int_equal(origin_decide(cfg, "127.0.0.1", "alice"), ORIGIN_INTERNAL);
	assert_int_equal(origin_decide(cfg, NULL, NULL), ORIGIN_INTERNAL);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_networks),
	};
	return cmocka_run_group_tests_name("origin", tests, to_setup, to_teardown);
}
