/*
 * test_config - unit tests for the config module (src/config.h is the spec).
 *
 * Every test writes its config text to a file in a private directory made by
 * mkdtemp under /tmp, loads it with config_load() and checks the typed
 * fields, or the "FILE:LINE: reason" error. The directory is removed at the
 * end of the run.
 *
 * test_dump_round_trip_quoting and test_dump_long_value were written as
 * failing tests for two config_dump bugs (values cut at 1023 bytes; trailing
 * space and inner quotes lost); both are fixed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "config.h"
#include "policy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static char tc_dir[64];      /* the private directory of this run */
static unsigned tc_serial;   /* makes each file name unique */

/* tc_rm_one - nftw callback that removes one entry */
static int tc_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tc_setup(void **state)
{
	(void)state;
	snprintf(tc_dir, sizeof(tc_dir), "/tmp/klaxon-ut-config-XXXXXX");
	return mkdtemp(tc_dir) == NULL ? -1 : 0;
}

static int tc_teardown(void **state)
{
	(void)state;
	return nftw(tc_dir, tc_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tc_write - put len bytes into a new file of the run directory; path gets its name */
static void tc_write(const void *text, size_t len, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/klaxon-%u.conf", tc_dir, ++tc_serial);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* tc_load_ok - load text that must be valid; fails the test with the error otherwise */
static struct config *tc_load_ok(const char *text)
{
	char path[128], err[512] = "";
	struct config *cfg = NULL;

	tc_write(text, strlen(text), path, sizeof(path));
	if (config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("config rejected: %s\n--- text ---\n%s", err, text);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	return cfg;
}

/*
 * tc_load_fail - load len bytes that must be refused with "PATH:LINE: ..."
 * containing want; line 0 means the message has no line ("PATH: ...").
 */
static void tc_load_fail(const char *text, size_t len, unsigned line, const char *want)
{
	char path[128], err[512] = "", prefix[160];
	struct config *cfg = NULL;

	tc_write(text, len, path, sizeof(path));
	if (config_load(path, &cfg, err, sizeof(err)) == 0) {
		config_free(cfg);
		fail_msg("config accepted, want an error with '%s'\n--- text ---\n%s", want, text);
	}
	assert_null(cfg); /* a failed load hands nothing back */
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want) == NULL)
		fail_msg("error \"%s\"\nwant prefix \"%s\" and \"%s\"\n--- text ---\n%s", err, prefix,
			 want, text);
}

/* ------------------------------------------------------------------ defaults */

/* test_defaults - path NULL gives the documented defaults (config.c table, policy.h) */
static void test_defaults(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	char err[256] = "";

	assert_int_equal(config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, "(defaults)");

	assert_string_equal(cfg->milter_socket, "unix:var/run/klaxon.sock");
	assert_int_equal(cfg->milter_socket_mode, 0660);
	assert_int_equal(cfg->milter_timeout, 300);
	assert_string_equal(cfg->pid_file, "var/run/klaxon.pid");
	assert_string_equal(cfg->user, "");
	assert_false(cfg->debug);

	assert_int_equal(cfg->scanner, SCAN_BACKEND_LIBCLAMAV);
	assert_string_equal(cfg->clamav_db, "auto");
	assert_string_equal(cfg->clamd_socket, "unix:/run/clamav/clamd.ctl");
	assert_int_equal(cfg->scan_timeout, 60);
	assert_int_equal(cfg->max_concurrent_scans, 8);
	assert_int_equal(cfg->scan_wait_timeout, 30);
	assert_true(cfg->max_message_size == 50ULL << 20);
	assert_true(cfg->memory_spool_limit == 1ULL << 20);
	assert_string_equal(cfg->spool_dir, "var/spool/tmp");

	assert_string_equal(cfg->internal_networks, "127.0.0.0/8, ::1/128");
	assert_non_null(cfg->internal);
	assert_int_equal(cidr_list_count(cfg->internal), 2);
	assert_true(cidr_list_match_str(cfg->internal, "127.0.0.1"));
	assert_true(cidr_list_match_str(cfg->internal, "::1"));
	assert_false(cidr_list_match_str(cfg->internal, "192.0.2.1"));
	assert_true(cfg->trust_authenticated);

	/* The policy table of policy.h; the default 552 reply_oversize rejects. */
	struct policy_table want;
	policy_defaults(&want);
	for (int o = 0; o < 2; o++)
		for (int v = 0; v < VERDICT_COUNT; v++) {
			const struct policy_cell *c = &cfg->policy.cell[o][v];
			if (c->action != want.cell[o][v].action ||
			    c->quarantine != want.cell[o][v].quarantine ||
			    c->alert != want.cell[o][v].alert)
				fail_msg("policy cell [%d][%s] differs from policy_defaults()", o,
					 policy_verdict_name((enum verdict)v));
		}
	assert_int_equal(cfg->policy.cell[ORIGIN_EXTERNAL][VERDICT_VIRUS].action, ACTION_REJECT);
	assert_int_equal(cfg->policy.cell[ORIGIN_INTERNAL][VERDICT_VIRUS].action, ACTION_DISCARD);
	assert_true(cfg->policy.cell[ORIGIN_INTERNAL][VERDICT_VIRUS].quarantine);
	assert_true(cfg->policy.cell[ORIGIN_INTERNAL][VERDICT_VIRUS].alert);
	assert_false(cfg->policy.cell[ORIGIN_EXTERNAL][VERDICT_VIRUS].alert);
	assert_int_equal(cfg->policy.cell[ORIGIN_EXTERNAL][VERDICT_OVERSIZE].action, ACTION_REJECT);
	assert_string_equal(cfg->scanned_header, "X-Virus-Scanned");

	assert_string_equal(cfg->alert_to, "postmaster");
	assert_int_equal(cfg->alert_to_count, 1);
	assert_string_equal(cfg->alert_to_list[0], "postmaster");
	assert_null(cfg->alert_to_list[1]);
	assert_string_equal(cfg->alert_from, "");
	assert_int_equal(cfg->alert_retry_interval, 60);
	assert_string_equal(cfg->sendmail_command, "/usr/sbin/sendmail -oi -t");
	assert_string_equal(cfg->sendmail_argv[0], "/usr/sbin/sendmail");
	assert_string_equal(cfg->sendmail_argv[1], "-oi");
	assert_string_equal(cfg->sendmail_argv[2], "-t");
	assert_null(cfg->sendmail_argv[3]);
	assert_int_equal(cfg->sendmail_timeout, 60);

	/* Replies: the code class of each key and its placeholder (texts may be reworded). */
	assert_memory_equal(cfg->reply_virus, "550 5.7.1 ", 10);
	assert_non_null(strstr(cfg->reply_virus, "%v"));
	assert_memory_equal(cfg->reply_tempfail, "451 4.", 6);
	assert_non_null(strstr(cfg->reply_tempfail, "%r"));
	assert_memory_equal(cfg->reply_oversize, "552 5.", 6);
	assert_non_null(strstr(cfg->reply_oversize, "%l"));
	config_free(cfg);
}

/* test_empty_file - a file with only comments and blank lines gives the defaults */
static void test_empty_file(void **state)
{
	(void)state;
	struct config *cfg = tc_load_ok("\n# nothing here\n   \n\t\n  # indented comment\n");
	assert_string_equal(cfg->milter_socket, "unix:var/run/klaxon.sock");
	assert_int_equal(cfg->milter_timeout, 300);
	assert_true(cfg->max_message_size == 50ULL << 20);
	config_free(cfg);
}

/* ------------------------------------------------------------- typed values */

enum tc_kind { TK_BOOL, TK_UINT, TK_SIZE, TK_STR };

/* One line, the field it sets, and the value that field must then hold. */
static const struct {
	const char *line;
	enum tc_kind kind;
	size_t offset;
	unsigned long long num; /* TK_BOOL, TK_UINT, TK_SIZE */
	const char *str;        /* TK_STR */
} values[] = {
#define B(l, f, v) {l, TK_BOOL, offsetof(struct config, f), v, NULL}
#define U(l, f, v) {l, TK_UINT, offsetof(struct config, f), v, NULL}
#define Z(l, f, v) {l, TK_SIZE, offsetof(struct config, f), v, NULL}
#define S(l, f, v) {l, TK_STR, offsetof(struct config, f), 0, v}
	/* Every bool spelling, in several cases. */
	B("debug = yes", debug, 1),
	B("debug = true", debug, 1),
	B("debug = on", debug, 1),
	B("debug = 1", debug, 1),
	B("debug = YES", debug, 1),
	B("debug = True", debug, 1),
	B("debug = On", debug, 1),
	B("trust_authenticated = no", trust_authenticated, 0),
	B("trust_authenticated = false", trust_authenticated, 0),
	B("trust_authenticated = off", trust_authenticated, 0),
	B("trust_authenticated = 0", trust_authenticated, 0),
	B("trust_authenticated = NO", trust_authenticated, 0),
	B("trust_authenticated = FALSE", trust_authenticated, 0),
	B("trust_authenticated = Off", trust_authenticated, 0),
	/* Whole numbers at their bounds. */
	U("milter_timeout = 1", milter_timeout, 1),
	U("milter_timeout = 86400", milter_timeout, 86400),
	U("scan_timeout = 3600", scan_timeout, 3600),
	U("max_concurrent_scans = 1024", max_concurrent_scans, 1024),
	U("scan_wait_timeout = 0", scan_wait_timeout, 0),
	U("alert_retry_interval = 7", alert_retry_interval, 7),
	U("sendmail_timeout = 120", sendmail_timeout, 120),
	/* Octal modes. */
	U("milter_socket_mode = 0600", milter_socket_mode, 0600),
	U("milter_socket_mode = 0666", milter_socket_mode, 0666),
	U("milter_socket_mode = 777", milter_socket_mode, 0777),
	U("milter_socket_mode = 0", milter_socket_mode, 0),
	U("milter_socket_mode = 00640", milter_socket_mode, 0640),
	/* Sizes with and without suffixes, at the bounds. */
	Z("max_message_size = 1024", max_message_size, 1024),
	Z("max_message_size = 4000", max_message_size, 4000),
	Z("max_message_size = 512K", max_message_size, 512ULL << 10),
	Z("max_message_size = 512k", max_message_size, 512ULL << 10),
	Z("max_message_size = 64KB", max_message_size, 64ULL << 10),
	Z("max_message_size = 10M", max_message_size, 10ULL << 20),
	Z("max_message_size = 10m", max_message_size, 10ULL << 20),
	Z("max_message_size = 100MB", max_message_size, 100ULL << 20),
	Z("max_message_size = 2G", max_message_size, 2ULL << 30),
	Z("max_message_size = 4G", max_message_size, 4ULL << 30),
	Z("max_message_size = 4096M", max_message_size, 4ULL << 30),
	Z("max_message_size = 1K", max_message_size, 1024),
	Z("memory_spool_limit = 0", memory_spool_limit, 0),
	Z("memory_spool_limit = 256K", memory_spool_limit, 256ULL << 10),
	/* Strings and sockets, as written. */
	S("pid_file = /run/klaxon/klaxon.pid", pid_file, "/run/klaxon/klaxon.pid"),
	S("user = klaxon", user, "klaxon"),
	S("hostname = mx1.example.org", hostname, "mx1.example.org"),
	S("clamav_db = /srv/clamav", clamav_db, "/srv/clamav"),
	S("spool_dir = /var/spool/klaxon", spool_dir, "/var/spool/klaxon"),
	S("quarantine_dir = /var/lib/klaxon/q", quarantine_dir, "/var/lib/klaxon/q"),
	S("alert_spool_dir = /var/lib/klaxon/a", alert_spool_dir, "/var/lib/klaxon/a"),
	S("alert_from = klaxon@example.org", alert_from, "klaxon@example.org"),
	S("scanned_header = X-Klaxon", scanned_header, "X-Klaxon"),
	S("scanned_header = \"\"", scanned_header, ""),
	S("milter_socket = unix:/run/klaxon/klaxon.sock", milter_socket, "unix:/run/klaxon/klaxon.sock"),
	S("milter_socket = local:/run/k.sock", milter_socket, "local:/run/k.sock"),
	S("milter_socket = inet:8890@127.0.0.1", milter_socket, "inet:8890@127.0.0.1"),
	S("milter_socket = inet:65535@localhost", milter_socket, "inet:65535@localhost"),
	S("milter_socket = inet6:8890@::1", milter_socket, "inet6:8890@::1"),
	S("clamd_socket = inet:3310@192.0.2.5", clamd_socket, "inet:3310@192.0.2.5"),
	S("clamd_socket = unix:/var/run/clamav/clamd.sock", clamd_socket, "unix:/var/run/clamav/clamd.sock"),
	S("reply_virus = 554 5.7.1 Infected: %v", reply_virus, "554 5.7.1 Infected: %v"),
	S("reply_virus = 550 5.7.0 no", reply_virus, "550 5.7.0 no"),
	S("reply_tempfail = 421 4.3.0 Try later (%r)", reply_tempfail, "421 4.3.0 Try later (%r)"),
	S("reply_oversize = 452 4.3.4 Too big (%l)", reply_oversize, "452 4.3.4 Too big (%l)"),
	S("reply_oversize = 552 5.3.4 Too big", reply_oversize, "552 5.3.4 Too big"),
#undef B
#undef U
#undef Z
#undef S
};

/* test_values - each line sets its field to the typed value */
static void test_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(values); i++) {
		char text[256];
		snprintf(text, sizeof(text), "%s\n", values[i].line);
		struct config *cfg = tc_load_ok(text);
		const char *field = (const char *)cfg + values[i].offset;
		switch (values[i].kind) {
		case TK_BOOL:
			if (*(const bool *)field != (values[i].num != 0))
				fail_msg("'%s': got %d", values[i].line, *(const bool *)field);
			break;
		case TK_UINT:
			if (*(const unsigned *)field != values[i].num)
				fail_msg("'%s': got %u (0%o), want %llu", values[i].line,
					 *(const unsigned *)field, *(const unsigned *)field,
					 values[i].num);
			break;
		case TK_SIZE:
			if (*(const unsigned long long *)field != values[i].num)
				fail_msg("'%s': got %llu, want %llu", values[i].line,
					 *(const unsigned long long *)field, values[i].num);
			break;
		case TK_STR:
			if (strcmp(*(char *const *)field, values[i].str) != 0)
				fail_msg("'%s': got \"%s\", want \"%s\"", values[i].line,
					 *(char *const *)field, values[i].str);
			break;
		}
		config_free(cfg);
	}
}

/* test_scanner_and_actions - the enum keys and the policy cells they set */
static void test_scanner_and_actions(void **state)
{
	(void)state;
	struct config *cfg = tc_load_ok("scanner = clamd\n"
					"on_virus_external = discard\n"
					"on_virus_internal = reject\n"
					"quarantine_virus_external = yes\n"
					"quarantine_virus_internal = no\n"
					"alert_virus_external = yes\n"
					"alert_virus_internal = no\n");
	assert_int_equal(cfg->scanner, SCAN_BACKEND_CLAMD);
	const struct policy_cell *ext = &cfg->policy.cell[ORIGIN_EXTERNAL][VERDICT_VIRUS];
	const struct policy_cell *in = &cfg->policy.cell[ORIGIN_INTERNAL][VERDICT_VIRUS];
	assert_int_equal(ext->action, ACTION_DISCARD);
	assert_true(ext->quarantine);
	assert_true(ext->alert);
	assert_int_equal(in->action, ACTION_REJECT);
	assert_false(in->quarantine);
	assert_false(in->alert);
	/* The other verdicts keep the built-in policy. */
	assert_int_equal(cfg->policy.cell[ORIGIN_EXTERNAL][VERDICT_CLEAN].action, ACTION_ACCEPT);
	assert_int_equal(cfg->policy.cell[ORIGIN_INTERNAL][VERDICT_ERROR].action, ACTION_TEMPFAIL);
	config_free(cfg);

	cfg = tc_load_ok("scanner = libclamav\non_virus_external = reject\non_virus_internal = discard\n");
	assert_int_equal(cfg->scanner, SCAN_BACKEND_LIBCLAMAV);
	assert_int_equal(cfg->policy.cell[ORIGIN_EXTERNAL][VERDICT_VIRUS].action, ACTION_REJECT);
	assert_int_equal(cfg->policy.cell[ORIGIN_INTERNAL][VERDICT_VIRUS].action, ACTION_DISCARD);
	config_free(cfg);
}

/* test_cidr_list - internal_networks keeps its text and is parsed once at load */
static void test_cidr_list(void **state)
{
	(void)state;
	struct config *cfg =
		tc_load_ok("internal_networks = 10.0.0.0/8, 192.168.1.0/24 2001:db8::/32,::1\n");
	assert_string_equal(cfg->internal_networks, "10.0.0.0/8, 192.168.1.0/24 2001:db8::/32,::1");
	assert_int_equal(cidr_list_count(cfg->internal), 4);
	assert_true(cidr_list_match_str(cfg->internal, "10.200.3.4"));
	assert_true(cidr_list_match_str(cfg->internal, "192.168.1.255"));
	assert_false(cidr_list_match_str(cfg->internal, "192.168.2.1"));
	assert_true(cidr_list_match_str(cfg->internal, "2001:db8:1::5"));
	assert_true(cidr_list_match_str(cfg->internal, "::1"));
	assert_false(cidr_list_match_str(cfg->internal, "127.0.0.1")); /* replaced, not added */
	config_free(cfg);

	/* An empty list is valid and matches nothing. */
	cfg = tc_load_ok("internal_networks = \"\"\n");
	assert_int_equal(cidr_list_count(cfg->internal), 0);
	assert_false(cidr_list_match_str(cfg->internal, "127.0.0.1"));
	config_free(cfg);
}

/* test_addresses - alert_to splits on commas and spaces */
static void test_addresses(void **state)
{
	(void)state;
	struct config *cfg =
		tc_load_ok("alert_to = security@example.org,  postmaster noc@example.net ,\n");
	assert_int_equal(cfg->alert_to_count, 3);
	assert_string_equal(cfg->alert_to_list[0], "security@example.org");
	assert_string_equal(cfg->alert_to_list[1], "postmaster");
	assert_string_equal(cfg->alert_to_list[2], "noc@example.net");
	assert_null(cfg->alert_to_list[3]);
	config_free(cfg);

	/* With every alert off, alert_to may be empty. */
	cfg = tc_load_ok("alert_virus_internal = no\nalert_virus_external = no\nalert_to = \"\"\n");
	assert_int_equal(cfg->alert_to_count, 0);
	assert_null(cfg->alert_to_list[0]);
	config_free(cfg);
}

/* test_argv - sendmail_command splits on white space into an argv, no shell */
static void test_argv(void **state)
{
	(void)state;
	struct config *cfg =
		tc_load_ok("sendmail_command = /usr/lib/sendmail  -i\t-f klaxon@example.org 'a;b'\n");
	static const char *const want[] = {"/usr/lib/sendmail", "-i", "-f", "klaxon@example.org",
					   "'a;b'"};
	for (size_t i = 0; i < NELEM(want); i++) {
		assert_non_null(cfg->sendmail_argv[i]);
		assert_string_equal(cfg->sendmail_argv[i], want[i]);
	}
	assert_null(cfg->sendmail_argv[NELEM(want)]);
	config_free(cfg);

	cfg = tc_load_ok("sendmail_command = /bin/true\n");
	assert_string_equal(cfg->sendmail_argv[0], "/bin/true");
	assert_null(cfg->sendmail_argv[1]);
	config_free(cfg);
}

/* test_oversize_action - the reply_oversize code decides the oversize cells */
static void test_oversize_action(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum action want;
	} rows[] = {
		{"reply_oversize = 452 4.3.4 Message too big (%l)\n", ACTION_TEMPFAIL},
		{"reply_oversize = 451 4.3.1 later\n", ACTION_TEMPFAIL},
		{"reply_oversize = 552 5.3.4 Message too big (%l)\n", ACTION_REJECT},
		{"reply_oversize = 554 5.3.4 no\n", ACTION_REJECT},
		{"# default reply_oversize is 552\n", ACTION_REJECT},
	};
	for (size_t i = 0; i < NELEM(rows); i++) {
		struct config *cfg = tc_load_ok(rows[i].line);
		for (int o = 0; o < 2; o++) {
			enum action got = cfg->policy.cell[o][VERDICT_OVERSIZE].action;
			struct policy_cell d = policy_decide(&cfg->policy, (enum origin)o, VERDICT_OVERSIZE);
			if (got != rows[i].want || d.action != rows[i].want)
				fail_msg("%s origin %d: cell %s, decided %s, want %s", rows[i].line, o,
					 policy_action_name(got), policy_action_name(d.action),
					 policy_action_name(rows[i].want));
		}
		config_free(cfg);
	}
}

/* ------------------------------------------------------- comments, quoting */

/* test_comments_and_quoting - '#' comments, quotes that keep '#' and spaces */
static void test_comments_and_quoting(void **state)
{
	(void)state;
	struct config *cfg = tc_load_ok("# klaxon.conf\n"
					"   # an indented comment\n"
					"\n"
					"hostname = mx.example.org # inline comment\n"
					"alert_from = \"klaxon # bot@example.org\"\n"
					"user = a#b\n"
					"pid_file = \"  padded  \"\n"
					"\tspool_dir\t=\t/var/spool/k\t\t# tabs around\n"
					"reply_virus = \"550 5.7.1 Virus #1: %v\"   # quoted reply\n"
					"quarantine_dir=/q\n"
					"alert_spool_dir =   \n");
	assert_string_equal(cfg->hostname, "mx.example.org");
	assert_string_equal(cfg->alert_from, "klaxon # bot@example.org");
	assert_string_equal(cfg->user, "a#b");
	assert_string_equal(cfg->pid_file, "  padded  ");
	assert_string_equal(cfg->spool_dir, "/var/spool/k");
	assert_string_equal(cfg->reply_virus, "550 5.7.1 Virus #1: %v");
	assert_string_equal(cfg->quarantine_dir, "/q");
	assert_string_equal(cfg->alert_spool_dir, "");
	config_free(cfg);

	/* A quoted value that is only a '#'. */
	cfg = tc_load_ok("hostname = \"#\"\n");
	assert_string_equal(cfg->hostname, "#");
	config_free(cfg);
	/* Quotes only wrap a whole value; one inside is refused, so that every
	 * value can be dumped and read back unchanged. */
	const char inner[] = "hostname = x\nuser = \"say \"hi\"\"\n";
	tc_load_fail(inner, sizeof(inner) - 1, 2, "a double quote may only wrap the whole value");
}

/* ------------------------------------------------------------------ errors */

/* Each text must be refused at that line with that reason. */
static const struct {
	const char *text;
	unsigned line;
	const char *want;
} errors[] = {
	/* Unknown key; the key is named. */
	{"debug = no\nno_such_key = 1\n", 2, "unknown key 'no_such_key'"},
	{" = yes\n", 1, "key"},
	/* Set twice: the message names the first line. */
	{"# x\ndebug = no\n\n# y\ndebug = no\n", 5, "'debug' is already set on line 2"},
	{"hostname = a\nuser = b\nhostname = a\n", 3, "already set on line 1"},
	/* Bools. */
	{"debug = maybe\n", 1, "expected yes or no"},
	{"debug = \n", 1, "expected yes or no"},
	{"\n\ntrust_authenticated = y\n", 3, "expected yes or no"},
	{"debug = 2\n", 1, "expected yes or no"},
	/* Whole numbers and sizes: syntax and range. */
	{"milter_timeout = 0\n", 1, "out of range"},
	{"milter_timeout = 86401\n", 1, "out of range"},
	{"milter_timeout = -1\n", 1, "expected a whole number"},
	{"milter_timeout = 10s\n", 1, "expected a whole number"},
	{"milter_timeout = 99999999999999999999999\n", 1, "expected a whole number"},
	{"max_concurrent_scans = 1025\n", 1, "out of range"},
	{"max_message_size = 1023\n", 1, "out of range"},
	{"max_message_size = 5G\n", 1, "out of range"},
	{"max_message_size = 4097M\n", 1, "out of range"},
	{"max_message_size = 0\n", 1, "out of range"},
	{"memory_spool_limit = 2G\n", 1, "out of range"},
	{"max_message_size = 10T\n", 1, "expected a size"},
	{"max_message_size = 10 M\n", 1, "expected a size"},
	{"max_message_size = M\n", 1, "expected a size"},
	{"max_message_size = -5M\n", 1, "expected a size"},
	{"max_message_size = 17179869184G\n", 1, "expected a size"}, /* 2^34 G wraps 64 bits */
	{"max_message_size = 10MBB\n", 1, "expected a size"},
	/* Octal. */
	{"milter_socket_mode = 0999\n", 1, "expected an octal mode"},
	{"milter_socket_mode = 0o660\n", 1, "expected an octal mode"},
	{"milter_socket_mode = rw-rw----\n", 1, "expected an octal mode"},
	{"milter_socket_mode = 01777\n", 1, "out of range"},
	/* Sockets. */
	{"milter_socket = /run/klaxon.sock\n", 1, "expected unix:/path or inet:PORT@ADDR"},
	{"milter_socket = tcp:25@localhost\n", 1, "expected unix:/path or inet:PORT@ADDR"},
	{"milter_socket = unix:\n", 1, "needs a path"},
	{"milter_socket = inet:0@127.0.0.1\n", 1, "port from 1 to 65535"},
	{"milter_socket = inet:65536@127.0.0.1\n", 1, "port from 1 to 65535"},
	{"milter_socket = inet:smtp@127.0.0.1\n", 1, "port from 1 to 65535"},
	{"milter_socket = inet:25x@127.0.0.1\n", 1, "port from 1 to 65535"},
	{"milter_socket = inet:25@\n", 1, "address after '@' is empty"},
	{"clamd_socket = clamd\n", 1, "expected unix:/path or inet:PORT@ADDR"},
	/* Scanner and actions. */
	{"scanner = clamscan\n", 1, "expected libclamav or clamd"},
	{"on_virus_external = accept\n", 1, "a virus is never accepted"},
	{"on_virus_internal = accept\n", 1, "a virus is never accepted"},
	{"on_virus_external = tempfail\n", 1, "expected reject or discard"},
	{"on_virus_external = REJECT\n", 1, "expected reject or discard"},
	/* Replies: code class per key, enhanced code sharing the class, a text. */
	{"reply_virus = 451 4.7.1 Try later\n", 1, "reply code must be 5xx"},
	{"reply_tempfail = 550 5.7.1 No\n", 1, "reply code must be 4xx"},
	{"reply_virus = 550 4.7.1 x\n", 1, "share its class"},
	{"reply_tempfail = 451 5.7.1 x\n", 1, "share its class"},
	{"reply_oversize = 552 4.3.4 x\n", 1, "share its class"},
	{"reply_oversize = 250 2.0.0 ok\n", 1, "reply code must be 4xx or 5xx"},
	{"reply_virus = 550 5.7.1\n", 1, "a reply needs a text"},
	{"reply_virus = 550 5.7.1 \n", 1, "a reply needs a text"},
	{"reply_virus = 550\n", 1, "expected 'CODE X.Y.Z text'"},
	{"reply_virus = 55 5.7.1 x\n", 1, "expected 'CODE X.Y.Z text'"},
	{"reply_virus = 550 Virus found\n", 1, "enhanced status code"},
	{"reply_virus = 550 5.7.1x Virus\n", 1, "a reply needs a text"},
	/* Cross-field rules, reported at the line that set the key. */
	{"# networks\n\ninternal_networks = 10.1.2.3/8\n", 3, "host bits set"},
	{"internal_networks = 10.0.0.0/8, banana\n", 1, "internal_networks"},
	{"debug = no\nsendmail_command = sendmail -t\n", 2, "absolute path"},
	{"sendmail_command = \"\"\n", 1, "absolute path"},
	{"sendmail_command = ./sendmail\n", 1, "absolute path"},
	{"debug = no\nalert_to = \"\"\n", 2, "alert_to is empty but alerts are enabled"},
	{"alert_virus_internal = no\nalert_virus_external = yes\nalert_to = \" , \"\n", 3,
	 "alert_to is empty"},
	{"alert_to = <root@example.org>\n", 1, "addresses must be plain"},
	{"alert_to = \"a\"@b\n", 1, "a double quote may only wrap the whole value"},
	{"alert_to = a<b>\n", 1, "addresses must be plain"},
	{"scanned_header = X-Scanned: yes\n", 1, "scanned_header must be a header name"},
	{"scanned_header = \"X Scanned\"\n", 1, "scanned_header must be a header name"},
	/* Syntax. */
	{"debug\n", 1, "expected 'key = value'"},
	{"# fine\ndebug yes\n", 2, "expected 'key = value'"},
	{"hostname = a\x01" "b\n", 1, "control character"},
	{"\n\nhostname = a\rb\n", 3, "control character"},
	{"user = \x1b[31m\n", 1, "control character"},
};

/* test_errors - each bad text gives "FILE:LINE: reason" */
static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(errors); i++)
		tc_load_fail(errors[i].text, strlen(errors[i].text), errors[i].line, errors[i].want);
}

/* test_error_nul_byte - a NUL byte anywhere in a line is refused at that line */
static void test_error_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "debug = no\nhostname = a\0b\n";
	tc_load_fail(text, sizeof(text) - 1, 2, "NUL byte");
	static const char text2[] = "debug = no\n\n# comment \0 with a NUL\n";
	tc_load_fail(text2, sizeof(text2) - 1, 3, "NUL byte");
}

/* test_error_long_line - a line over 4096 bytes is refused, not truncated */
static void test_error_long_line(void **state)
{
	(void)state;
	size_t n = 5000;
	char *text = malloc(n + 32);
	assert_non_null(text);
	int k = snprintf(text, n + 32, "debug = no\nhostname = ");
	memset(text + k, 'a', n);
	text[k + n] = '\n';
	tc_load_fail(text, (size_t)k + n + 1, 2, "longer than 4096");
	free(text);
}

/* test_error_missing_file - a file that cannot be opened: "FILE: cannot open: ..." */
static void test_error_missing_file(void **state)
{
	(void)state;
	char path[128], err[512] = "", want[200];
	struct config *cfg = NULL;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tc_dir);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s: cannot open", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want prefix \"%s\"", err, want);

	/* A directory is not a config file either. */
	assert_int_equal(config_load(tc_dir, &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	assert_non_null(strstr(err, tc_dir));
}

/* test_error_small_buffer - the error is cut to fit errlen, never overflows it */
static void test_error_small_buffer(void **state)
{
	(void)state;
	char path[128], err[16];
	struct config *cfg = NULL;
	static const char text[] = "some_unknown_key_with_a_long_name = 1\n";

	tc_write(text, sizeof(text) - 1, path, sizeof(path));
	memset(err, 'x', sizeof(err));
	assert_int_equal(config_load(path, &cfg, err, 8), -1);
	assert_int_equal(strlen(err), 7);
	assert_memory_equal(err, path, 7);
	assert_int_equal(err[8], 'x'); /* nothing written past errlen */
}

/* ------------------------------------------------------ dump and reference */

/* tc_dump_text - config_dump into a malloc'ed string */
static char *tc_dump_text(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	config_dump(cfg, fp);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

/* tc_body - the dump without its first line, which names the source file */
static const char *tc_body(const char *dump)
{
	assert_int_equal(dump[0], '#');
	const char *nl = strchr(dump, '\n');
	assert_non_null(nl);
	return nl + 1;
}

/* tc_first_diff - fail naming the first line where two dumps differ */
static void tc_first_diff(const char *one, const char *two)
{
	const char *a = tc_body(one), *b = tc_body(two);
	while (*a && *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
		if (la != lb || memcmp(a, b, la) != 0)
			fail_msg("dump changed after a round trip:\n  first:  %.*s\n  second: %.*s",
				 (int)(la > 200 ? 200 : la), a, (int)(lb > 200 ? 200 : lb), b);
		a += la + (a[la] != '\0');
		b += lb + (b[lb] != '\0');
	}
	if (*a || *b)
		fail_msg("dump changed after a round trip: one dump is longer");
}

/*
 * tc_round_trip - dump cfg to a file and load it; the second dump must equal
 * the first. Returns the reloaded config (the caller frees it).
 */
static struct config *tc_round_trip(const struct config *cfg)
{
	char path[128], err[512] = "";
	char *one = tc_dump_text(cfg);

	snprintf(path, sizeof(path), "%s/dump-%u.conf", tc_dir, ++tc_serial);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	config_dump(cfg, fp);
	assert_int_equal(fclose(fp), 0);

	struct config *again = NULL;
	if (config_load(path, &again, err, sizeof(err)) != 0)
		fail_msg("the dump does not load: %s", err);
	char *two = tc_dump_text(again);
	tc_first_diff(one, two);
	free(one);
	free(two);
	return again;
}

/* tc_dump_has - the dump has a line "key = value" (any white space around '=') */
static void tc_dump_has(const char *dump, const char *key, const char *value)
{
	size_t klen = strlen(key);
	for (const char *line = dump; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (strncmp(line, key, klen) == 0 && (line[klen] == ' ' || line[klen] == '=')) {
			const char *v = line + klen + strspn(line + klen, " \t");
			if (*v != '=')
				break;
			v += 1 + strspn(v + 1, " \t");
			if ((size_t)(line + len - v) != strlen(value) || strncmp(v, value, strlen(value)) != 0)
				fail_msg("dump has \"%.*s\", want %s = %s", (int)len, line, key, value);
			return;
		}
		line += len + (nl != NULL);
	}
	fail_msg("dump has no line for %s\n%s", key, dump);
}

/* tc_count_keys - lines of the form "key = value" in a dump */
static size_t tc_count_keys(const char *dump)
{
	size_t n = 0;
	for (const char *line = dump; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 0 && line[0] != '#' && memchr(line, '=', len))
			n++;
		line += len + (nl != NULL);
	}
	return n;
}

/* test_dump_round_trip - a dump loads again and dumps the same */
static void test_dump_round_trip(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	char err[256];
	assert_int_equal(config_load(NULL, &cfg, err, sizeof(err)), 0);
	char *dump = tc_dump_text(cfg);
	assert_non_null(strstr(dump, "(defaults)"));
	tc_dump_has(dump, "milter_socket", "unix:var/run/klaxon.sock");
	tc_dump_has(dump, "max_message_size", "50M");
	tc_dump_has(dump, "milter_socket_mode", "0660");
	tc_dump_has(dump, "user", "\"\"");
	config_free(tc_round_trip(cfg));
	free(dump);
	config_free(cfg);

	/* Every key away from its default, with values that need quoting. */
	cfg = tc_load_ok("milter_socket = inet:8890@127.0.0.1\n"
			 "milter_socket_mode = 0600\n"
			 "milter_timeout = 99\n"
			 "pid_file = \"/run/k #1.pid\"\n"
			 "user = klaxon\n"
			 "hostname = \"  mx.example.org\"\n"
			 "debug = on\n"
			 "scanner = clamd\n"
			 "clamav_db = /srv/db\n"
			 "clamd_socket = inet6:3310@::1\n"
			 "scan_timeout = 12\n"
			 "max_concurrent_scans = 3\n"
			 "scan_wait_timeout = 0\n"
			 "max_message_size = 3000\n"
			 "memory_spool_limit = 2K\n"
			 "spool_dir = /s\n"
			 "internal_networks = 10.0.0.0/8 2001:db8::/32\n"
			 "trust_authenticated = off\n"
			 "on_virus_external = discard\n"
			 "on_virus_internal = reject\n"
			 "quarantine_virus_external = yes\n"
			 "quarantine_virus_internal = no\n"
			 "alert_virus_external = yes\n"
			 "alert_virus_internal = no\n"
			 "scanned_header = \"\"\n"
			 "quarantine_dir = /q\n"
			 "alert_spool_dir = /a\n"
			 "alert_to = a@example.org, b@example.org\n"
			 "alert_from = \"\"\n"
			 "alert_retry_interval = 5\n"
			 "sendmail_command = /usr/sbin/sendmail -i -t\n"
			 "sendmail_timeout = 9\n"
			 "reply_virus = \"550 5.7.1 Virus #%v\"\n"
			 "reply_tempfail = 421 4.3.0 later\n"
			 "reply_oversize = 452 4.3.4 big %l\n");
	dump = tc_dump_text(cfg);
	tc_dump_has(dump, "max_message_size", "3000");
	tc_dump_has(dump, "memory_spool_limit", "2K");
	tc_dump_has(dump, "milter_socket_mode", "0600");
	tc_dump_has(dump, "on_virus_external", "discard");
	tc_dump_has(dump, "debug", "yes");
	tc_dump_has(dump, "scanner", "clamd");
	tc_dump_has(dump, "hostname", "\"  mx.example.org\"");
	config_free(tc_round_trip(cfg));
	free(dump);
	config_free(cfg);

	/* Sizes that print with each suffix. */
	cfg = tc_load_ok("max_message_size = 4G\nmemory_spool_limit = 1025\n");
	config_free(tc_round_trip(cfg));
	config_free(cfg);
}

/* test_reference - config_reference has one row per key in the dump */
static void test_reference(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	char err[256];
	assert_int_equal(config_load(NULL, &cfg, err, sizeof(err)), 0);
	char *dump = tc_dump_text(cfg);
	size_t nkeys = tc_count_keys(dump);
	assert_true(nkeys >= 35);

	char *ref = NULL;
	size_t reflen = 0;
	FILE *fp = open_memstream(&ref, &reflen);
	assert_non_null(fp);
	config_reference(fp);
	assert_int_equal(fclose(fp), 0);

	size_t rows = 0;
	for (const char *p = ref; (p = strstr(p, "\n| `")) != NULL; p++)
		rows++;
	assert_int_equal(rows, nkeys);

	/* Each key of the dump has its own row, with its default in the next cell. */
	for (const char *line = tc_body(dump); *line;) {
		const char *nl = strchr(line, '\n');
		assert_non_null(nl);
		char name[64];
		size_t n = strcspn(line, " =");
		assert_true(n < sizeof(name) - 8);
		char row[80];
		memcpy(name, line, n);
		name[n] = '\0';
		snprintf(row, sizeof(row), "\n| `%s` |", name);
		if (strstr(ref, row) == NULL)
			fail_msg("key %s has no row in config_reference", name);
		line = nl + 1;
	}
	const char *row = strstr(ref, "\n| `max_message_size` |");
	assert_non_null(row);
	const char *end = strchr(row + 1, '\n');
	assert_non_null(end);
	assert_non_null(memmem(row, (size_t)(end - row), "50M", 3)); /* its default */
	free(ref);
	free(dump);
	config_free(cfg);
}

/* ------------------------------------------------------------- known bugs */

/*
 * The dump quotes a value that is empty, holds a '#' or starts or ends with
 * white space, and values never contain an inner '"', so every dump loads
 * back as the same config (this was a bug once).
 */
static void test_dump_round_trip_quoting(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"reply_virus = \"550 5.7.1 Virus found: %v \"\n", /* trailing space */
		"hostname = \" mx\"\n",                            /* leading space */
		"alert_from = \"klaxon #1\"\n",                    /* a '#' */
	};
	int bad = 0;
	for (size_t i = 0; i < NELEM(texts); i++) {
		struct config *cfg = tc_load_ok(texts[i]);
		char path[128], err[512] = "";
		snprintf(path, sizeof(path), "%s/dump-%u.conf", tc_dir, ++tc_serial);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		config_dump(cfg, fp);
		assert_int_equal(fclose(fp), 0);
		struct config *again = NULL;
		if (config_load(path, &again, err, sizeof(err)) != 0) {
			print_message("  %s  -> the dump does not load: %s\n", texts[i], err);
			bad++;
		} else if (strcmp(again->reply_virus, cfg->reply_virus) != 0 ||
			   strcmp(again->hostname, cfg->hostname) != 0 ||
			   strcmp(again->alert_from, cfg->alert_from) != 0) {
			print_message("  %s  -> reloaded as [%s] [%s] [%s], was [%s] [%s] [%s]\n",
				      texts[i], again->reply_virus, again->hostname, again->alert_from,
				      cfg->reply_virus, cfg->hostname, cfg->alert_from);
			bad++;
		}
		config_free(again);
		config_free(cfg);
	}
	assert_int_equal(bad, 0);
}

/*
 * A string value may be up to 4096 bytes long in the file; the dump must
 * write it whole (it was once cut at 1023 bytes).
 */
static void test_dump_long_value(void **state)
{
	(void)state;
	char text[2100];
	int k = snprintf(text, sizeof(text), "hostname = ");
	memset(text + k, 'h', 2000);
	snprintf(text + k + 2000, sizeof(text) - (size_t)k - 2000, "\n");
	struct config *cfg = tc_load_ok(text);
	assert_int_equal(strlen(cfg->hostname), 2000);
	struct config *again = tc_round_trip(cfg);
	size_t len = strlen(again->hostname);
	config_free(again);
	config_free(cfg);
	assert_int_equal(len, 2000); /* after the frees, so a failure leaks nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_scanner_and_actions),
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_oversize_action),
		cmocka_unit_test(test_comments_and_quoting),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_nul_byte),
		cmocka_unit_test(test_error_long_line),
		cmocka_unit_test(test_error_missing_file),
		cmocka_unit_test(test_error_small_buffer),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_reference),
		cmocka_unit_test(test_dump_round_trip_quoting),
		cmocka_unit_test(test_dump_long_value),
	};
	return cmocka_run_group_tests_name("config", tests, tc_setup, tc_teardown);
}
