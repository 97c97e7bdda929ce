/*
 * test_alert - alert composition, spooling and retry (alert.h): every fact
 * is in the message, hostile values cannot add a header or a line, and a
 * spooled alert survives a failing MTA and is delivered once, oldest first.
 */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alert.h"
#include "unit_fs.h"

struct fixture {
	char dir[PATH_MAX];
	char spool[PATH_MAX + 16];
	char out[PATH_MAX + 16];
	char cat_cmd[PATH_MAX + 32];
	char err[1024];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
	/* Appends, so the order of several deliveries is visible in one file. */
	snprintf(f->cat_cmd, sizeof(f->cat_cmd), "cat >> %s", f->out);
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ufs_nfds(), f->nfds);
	ufs_rm_rf(f->dir);
	free(f);
	return 0;
}

static const char *const plain_rcpts[] = { "alice@example.org", "bob@example.org" };
static const char *const plain_viruses[] = { "Eicar-Signature" };
static const char *const alert_to[] = { "security@example.org", "noc@example.org",
					"ops@example.org" };

static const struct envelope plain_env = {
	.client_addr = "10.1.2.3",
	.client_name = "pc42.lan.example.org",
	.helo = "pc42",
	.auth_user = "jdoe",
	.sender = "jdoe@example.org",
	.rcpts = plain_rcpts,
	.nrcpts = 2,
	.queue_id = "4XyZ1",
	.origin = ORIGIN_INTERNAL,
};

static const struct alert_info plain_info = {
	.env = &plain_env,
	.subject = "Quarterly report",
	.viruses = plain_viruses,
	.nviruses = 1,
	.quarantine_id = "20251127T085000Z-0123456789abcdef",
	.from = "klaxon@mx.example.org",
	.to = alert_to,
	.nto = 3,
	.hostname = "mx.example.org",
	.when = 1764233400,
};

/* compose - alert_compose that must succeed; returns a NUL-terminated copy */
static char *compose(const struct alert_info *info, size_t *len)
{
	char *msg = NULL, err[256];
	size_t n = 0;

	if (alert_compose(info, &msg, &n, err, sizeof(err)) != 0)
		fail_msg("alert_compose: %s", err);
	char *text = malloc(n + 1);
	memcpy(text, msg, n);
	text[n] = '\0';
	free(msg);
	if (len != NULL)
		*len = n;
	return text;
}

/* header_block - the headers only, a NUL-terminated copy */
static char *header_block(const char *text)
{
	const char *end = strstr(text, "\n\n");

	assert_non_null(end);
	return strndup(text, (size_t)(end - text) + 1);
}

/* count_lines_starting - lines of text that begin with prefix, case-insensitive */
static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncasecmp(p, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* assert_well_formed - LF lines only, none over 998, no controls, headers are fields or folds */
static void assert_well_formed(const char *text, size_t len)
{
	assert_int_equal(strlen(text), len); /* no NUL inside */
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			col = 0;
			continue;
		}
		assert_true(c >= 0x20 && c != 0x7f);
		assert_true(++col <= 998);
	}
	char *head = header_block(text);
	regex_t field;
	assert_int_equal(regcomp(&field, "^[A-Za-z-]+: ", REG_EXTENDED), 0);
	for (char *line = strtok(head, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		for (const char *c = line; *c; c++)
			assert_true((unsigned char)*c < 0x80); /* headers are plain ASCII */
		if (line[0] == ' ' || line[0] == '\t')
			continue;
		if (regexec(&field, line, 0, NULL, 0) != 0)
			fail_msg("not a header field: \"%s\"", line);
	}
	regfree(&field);
	free(head);
}

static void test_compose_has_every_field(void **state)
{
	(void)state;
	size_t len;
	char *text = compose(&plain_info, &len);

	assert_well_formed(text, len);
	const char *want[] = {
		"From: klaxon@mx.example.org\n",
		"To: security@example.org,\n noc@example.org,\n ops@example.org\n",
		"Subject: klaxon: virus from internal host 10.1.2.3 (Eicar-Signature)\n",
		"Date: Thu, 27 Nov 2025 08:50:00 +0000\n",
		"\nMessage-ID: <20251127T085000Z-",
		"@mx.example.org>\n",
		"Auto-Submitted: auto-generated\n",
		"MIME-Version: 1.0\n",
		"Content-Type: text/plain; charset=utf-8\n",
		"Content-Transfer-Encoding: 8bit\n",
		"Time:            2025-11-27T08:50:00Z\n",
		"Client address:  10.1.2.3\n",
		"Client name:     pc42.lan.example.org\n",
		"HELO:            pc42\n",
		"Auth user:       jdoe\n",
		"Sender:          <jdoe@example.org>\n",
		"Recipients:      alice@example.org\n                 bob@example.org\n",
		"Subject:         Quarterly report\n",
		"Viruses:         Eicar-Signature\n",
		"Queue ID:        4XyZ1\n",
		"Quarantine ID:   20251127T085000Z-0123456789abcdef\n",
		"\nThe message was discarded.\nA copy is kept in the quarantine under id "
		"20251127T085000Z-0123456789abcdef.\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("missing \"%s\" in:\n%s", want[i], text);
	assert_int_equal(text[len - 1], '\n');
	assert_int_equal(count_lines_starting(text, "Bcc:"), 0);
	assert_int_equal(count_lines_starting(text, "Cc:"), 0);
	free(text);
}

static void test_compose_absent_values(void **state)
{
	(void)state;
	const struct envelope env = { .sender = "", .origin = ORIGIN_INTERNAL };
	struct alert_info info = plain_info;
	info.env = &env;
	info.subject = NULL;
	info.viruses = NULL;
	info.nviruses = 0;
	info.hostname = NULL;
	info.quarantine_id = NULL;
	size_t len;
	char *text = compose(&info, &len);

	assert_well_formed(text, len);
	assert_non_null(strstr(text, "Subject: klaxon: virus from internal host unknown ()\n"));
	assert_non_null(strstr(text, "Sender:          <>\n"));
	assert_non_null(strstr(text, "Auth user:       (none)\n"));
	assert_non_null(strstr(text, "Recipients:      (none)\n"));
	assert_non_null(strstr(text, "@localhost>\n"));
	assert_non_null(strstr(text, "Quarantine ID:   (none)\n"));
	assert_non_null(strstr(text, "\nNo copy of the message was kept in the quarantine.\n"));
	assert_null(strstr(text, "discarded"));
	free(text);
}

static void test_compose_hostile(void **state)
{
	(void)state;
	static const char inject[] = "\r\nBcc: evil@x";
	static const char *const rcpts[] = { "a@x\r\nBcc: evil@x", "b@x\nTo: evil@x" };
	static const char *const viruses[] = { "Eicar\r\nBcc: evil@x", "V\0hidden", "Del\x7f\x1b" };
	static const char *const to[] = { "sec@example.org\r\nBcc: evil@x" };
	const struct envelope env = {
		.client_addr = "10.1.2.3\r\nBcc: evil@x",
		.client_name = "name\nBcc: evil@x",
		.helo = "helo\r\n\r\nBcc: evil@x",
		.auth_user = "u\rBcc: evil@x",
		.sender = "s@x\r\nBcc: evil@x",
		.rcpts = rcpts,
		.nrcpts = 2,
		.queue_id = "Q\nBcc: evil@x",
		.origin = ORIGIN_INTERNAL,
	};
	char subject[64];
	snprintf(subject, sizeof(subject), "hello%s", inject);
	const struct alert_info info = {
		.env = &env,
		.subject = subject,
		.viruses = viruses,
		.nviruses = 3,
		.quarantine_id = "20251127T085000Z-0123456789abcdef\nBcc: evil@x",
		.from = "klaxon@x\r\nBcc: evil@x",
		.to = to,
		.nto = 1,
		.hostname = "mx\r\nBcc: evil@x",
		.when = 1764233400,
	};
	size_t len;
	char *text = compose(&info, &len);

	assert_well_formed(text, len);
	assert_null(strchr(text, '\r'));
	assert_int_equal(count_lines_starting(text, "Bcc:"), 0);
	assert_int_equal(count_lines_starting(text, "To:"), 1);
	/* The value is kept, made harmless, on its own line. */
	assert_non_null(strstr(text, "Subject:         hello??Bcc: evil@x\n"));
	assert_non_null(strstr(text, "Sender:          <s@x??Bcc: evil@x>\n"));
	assert_non_null(strstr(text, "Viruses:         Eicar??Bcc: evil@x\n"));
	assert_non_null(strstr(text, "                 Del??\n"));
	assert_non_null(strstr(text, "Subject: klaxon: virus from internal host 10.1.2.3??Bcc: evil@x"));
	assert_non_null(strstr(text, "@mx--Bcc--evil-x>\n"));
	free(text);
}

static void test_compose_limits_and_utf8(void **state)
{
	(void)state;
	char *huge = malloc(5001);
	memset(huge, 'A', 5000);
	huge[5000] = '\0';
	/* Valid UTF-8 stays; a stray byte, an overlong form and a surrogate do not. */
	const char *mixed = "Gr\xc3\xbc\xc3\x9f" "e \xff \xc0\xaf \xed\xa0\x80 \xe2\x82\xac";
	const char *viruses[] = { huge };
	const struct envelope env = { .client_addr = huge, .helo = mixed, .sender = huge,
				      .origin = ORIGIN_INTERNAL };
	struct alert_info info = plain_info;
	info.env = &env;
	info.subject = huge;
	info.viruses = viruses;
	info.nviruses = 1;
	size_t len;
	char *text = compose(&info, &len);

	assert_well_formed(text, len);
	char *head = header_block(text);
	for (char *line = strtok(head, "\n"); line != NULL; line = strtok(NULL, "\n"))
		assert_true(strlen(line) <= 230);
	free(head);
	assert_non_null(strstr(text, "HELO:            Gr\xc3\xbc\xc3\x9f" "e ? ?? ??? \xe2\x82\xac\n"));
	assert_non_null(strstr(text, "AAA...\n"));
	free(text);
	free(huge);
}

static void test_compose_refuses_without_recipients(void **state)
{
	(void)state;
	struct alert_info info = plain_info;
	char *msg = NULL, err[256];
	size_t len = 0;

	info.nto = 0;
	assert_int_equal(alert_compose(&info, &msg, &len, err, sizeof(err)), -1);
	assert_null(msg);
	info = plain_info;
	info.from = NULL;
	assert_int_equal(alert_compose(&info, &msg, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "alert_from"));
}

/* enqueue - compose from info and spool it; returns the message for comparison */
static char *enqueue(struct fixture *f, const struct alert_info *info, size_t *len, char *id,
		     size_t idlen)
{
	char *text = compose(info, len);

	if (alert_enqueue(f->spool, text, *len, id, idlen, f->err, sizeof(f->err)) != 0)
		fail_msg("alert_enqueue: %s", f->err);
	return text;
}

static void test_enqueue_spools_privately(void **state)
{
	struct fixture *f = *state;
	char id[64], path[2 * PATH_MAX];
	size_t len, got_len;
	regex_t re;

	char *text = enqueue(f, &plain_info, &len, id, sizeof(id));
	assert_int_equal(regcomp(&re, "^[0-9]{8}T[0-9]{6}Z-[0-9]{6}-[0-9a-f]{16}$", REG_EXTENDED),
			 0);
	assert_int_equal(regexec(&re, id, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(ufs_mode(f->spool), 0700);
	snprintf(path, sizeof(path), "%s/%s.alert", f->spool, id);
	assert_int_equal(ufs_mode(path), 0600);
	char *got = ufs_read(path, &got_len);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, text, len);
	free(got);
	free(text);

	char small[8];
	assert_int_equal(alert_enqueue(f->spool, "x", 1, small, sizeof(small), f->err,
				       sizeof(f->err)),
			 -1);
	assert_int_equal(ufs_count_suffix(f->spool, ".alert"), 1);
}

static void test_flush_retries_until_sent(void **state)
{
	struct fixture *f = *state;
	char id[64], path[2 * PATH_MAX];
	size_t len, got_len;
	struct alert_flush_stats stats;
	char *const failing[] = { "/bin/false", NULL };
	char *const working[] = { "/bin/sh", "-c", f->cat_cmd, NULL };

	char *text = enqueue(f, &plain_info, &len, id, sizeof(id));
	snprintf(path, sizeof(path), "%s/%s.alert", f->spool, id);

	/* The MTA is down: the alert stays, and is tried again each time. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(alert_flush(f->spool, failing, 5, &stats, f->err, sizeof(f->err)),
				 -1);
		assert_int_equal(stats.sent, 0);
		assert_int_equal(stats.pending, 1);
		assert_non_null(strstr(f->err, id));
		assert_non_null(strstr(f->err, "/bin/false exited with status 1"));
		assert_int_equal(ufs_mode(path), 0600);
	}

	/* The MTA is back: delivered byte for byte, and the spool is empty. */
	assert_int_equal(alert_flush(f->spool, working, 5, &stats, f->err, sizeof(f->err)), 0);
	assert_int_equal(stats.sent, 1);
	assert_int_equal(stats.pending, 0);
	char *got = ufs_read(f->out, &got_len);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, text, len);
	free(got);
	assert_int_equal(ufs_count_suffix(f->spool, ".alert"), 0);

	/* Nothing left: a second flush sends nothing and succeeds. */
	assert_int_equal(alert_flush(f->spool, working, 5, &stats, f->err, sizeof(f->err)), 0);
	assert_int_equal(stats.sent, 0);
	free(text);
}

static void test_flush_oldest_first_ignoring_temps(void **state)
{
	struct fixture *f = *state;
	char id[64], tmp[2 * PATH_MAX];
	size_t la, lb, lc, got_len;
	struct alert_flush_stats stats;
	char *const working[] = { "/bin/sh", "-c", f->cat_cmd, NULL };
	struct alert_info info = plain_info;

	info.subject = "first";
	char *a = enqueue(f, &info, &la, id, sizeof(id));
	info.subject = "second";
	char *b = enqueue(f, &info, &lb, id, sizeof(id));
	info.subject = "third";
	char *c = enqueue(f, &info, &lc, id, sizeof(id));
	/* A crash mid-enqueue leaves a temp file; it is not an alert. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp.%s.alert.0123456789abcdef", f->spool, id);
	assert_int_equal(ufs_write(tmp, "half", 4), 0);

	assert_int_equal(alert_flush(f->spool, working, 5, &stats, f->err, sizeof(f->err)), 0);
	assert_int_equal(stats.sent, 3);
	assert_int_equal(stats.pending, 0);
	char *got = ufs_read(f->out, &got_len);
	assert_int_equal(got_len, la + lb + lc);
	assert_memory_equal(got, a, la);
	assert_memory_equal(got + la, b, lb);
	assert_memory_equal(got + la + lb, c, lc);
	free(got);
	assert_int_equal(ufs_count(f->spool, ".tmp."), 1);
	free(a);
	free(b);
	free(c);
}

static void test_flush_keeps_only_failures(void **state)
{
	struct fixture *f = *state;
	char id[64], cmd[PATH_MAX + 128];
	size_t len;
	struct alert_flush_stats stats;
	struct alert_info info = plain_info;

	/* The MTA refuses one message only; the others must still go out. */
	snprintf(cmd, sizeof(cmd),
		 "m=$(cat); case \"$m\" in *poison*) echo 'poison refused' >&2; exit 65;; esac; "
		 "printf '%%s\\n' \"$m\" >> %s",
		 f->out);
	char *const picky[] = { "/bin/sh", "-c", cmd, NULL };
	info.subject = "ok one";
	free(enqueue(f, &info, &len, id, sizeof(id)));
	info.subject = "poison";
	free(enqueue(f, &info, &len, id, sizeof(id)));
	info.subject = "ok two";
	free(enqueue(f, &info, &len, id, sizeof(id)));

	assert_int_equal(alert_flush(f->spool, picky, 5, &stats, f->err, sizeof(f->err)), -1);
	assert_int_equal(stats.sent, 2);
	assert_int_equal(stats.pending, 1);
	assert_non_null(strstr(f->err, "exited with status 65: poison refused"));
	assert_int_equal(ufs_count_suffix(f->spool, ".alert"), 1);
}

static void test_flush_missing_spool(void **state)
{
	struct fixture *f = *state;
	struct alert_flush_stats stats = { 7, 7 };
	char *const working[] = { "/bin/true", NULL };
	char bad[PATH_MAX + 32];

	assert_int_equal(alert_flush(f->spool, working, 5, &stats, f->err, sizeof(f->err)), 0);
	assert_int_equal(stats.sent, 0);
	assert_int_equal(stats.pending, 0);

	assert_int_equal(ufs_write(f->out, "x", 1), 0);
	snprintf(bad, sizeof(bad), "%s/spool", f->out);
	assert_int_equal(alert_flush(bad, working, 5, &stats, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "Not a directory"));
	assert_int_equal(alert_enqueue(bad, "x", 1, f->err, 64, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "mkdir "));
}

struct flusher {
	struct fixture *f;
	char *const *argv;
	struct alert_flush_stats stats;
	int rc;
	char err[512];
};

static void *flush_thread(void *arg)
{
	struct flusher *fl = arg;

	fl->rc = alert_flush(fl->f->spool, fl->argv, 10, &fl->stats, fl->err, sizeof(fl->err));
	return NULL;
}

static void test_two_flushers_send_once(void **state)
{
	struct fixture *f = *state;
	char id[64], cmd[PATH_MAX + 64];
	size_t len[4], got_len;
	char *text[4];
	struct alert_info info = plain_info;
	const char *subjects[] = { "one", "two", "three", "four" };

	snprintf(cmd, sizeof(cmd), "cat >> %s; sleep 0.05", f->out);
	char *const slow[] = { "/bin/sh", "-c", cmd, NULL };
	for (int i = 0; i < 4; i++) {
		info.subject = subjects[i];
		text[i] = enqueue(f, &info, &len[i], id, sizeof(id));
	}
	struct flusher fl[2] = { { .f = f, .argv = slow }, { .f = f, .argv = slow } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, flush_thread, &fl[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(fl[0].rc, 0);
	assert_int_equal(fl[1].rc, 0);
	assert_int_equal(fl[0].stats.sent + fl[1].stats.sent, 4);

	char *got = ufs_read(f->out, &got_len);
	size_t off = 0;
	for (int i = 0; i < 4; i++) {
		assert_true(off + len[i] <= got_len);
		assert_memory_equal(got + off, text[i], len[i]);
		off += len[i];
		free(text[i]);
	}
	assert_int_equal(off, got_len);
	free(got);
}

static const char *const summary_viruses[] = { "Sobig.F", "Eicar-Signature" };
static const unsigned long summary_counts[] = { 3400, 12 };

static const struct alert_summary_info plain_summary = {
	.key = "20251127T091500Z-summary-0123456789abcdef",
	.label = "10.1.2.3 (user alice)",
	.client_addr = "10.1.2.3",
	.auth_user = "alice",
	.origin = ORIGIN_INTERNAL,
	.count = 3412,
	.alerted = 1,
	.first = 1764234003, /* 2025-11-27T09:00:03Z */
	.last = 1764234898,  /* 2025-11-27T09:14:58Z */
	.viruses = summary_viruses,
	.virus_counts = summary_counts,
	.nviruses = 2,
	.from = "klaxon@mx.example.org",
	.to = alert_to,
	.nto = 3,
	.hostname = "mx.example.org",
	.when = 1764234902,
};

/* compose_summary - alert_compose_summary that must succeed; a NUL-terminated copy */
static char *compose_summary(const struct alert_summary_info *s, size_t *len)
{
	char *msg = NULL, err[256];
	size_t n = 0;

	if (alert_compose_summary(s, &msg, &n, err, sizeof(err)) != 0)
		fail_msg("alert_compose_summary: %s", err);
	char *text = strndup(msg, n);
	free(msg);
	*len = n;
	return text;
}

static void test_summary_has_every_field(void **state)
{
	(void)state;
	size_t len;
	char *text = compose_summary(&plain_summary, &len);

	assert_well_formed(text, len);
	const char *want[] = {
		"From: klaxon@mx.example.org\n",
		"To: security@example.org,\n noc@example.org,\n ops@example.org\n",
		"Subject: klaxon: 3,412 infected messages from internal host 10.1.2.3 (user alice)\n",
		"Date: Thu, 27 Nov 2025 09:15:02 +0000\n",
		"Message-ID: <20251127T091500Z-summary-0123456789abcdef@mx.example.org>\n",
		"Auto-Submitted: auto-generated\n",
		"Content-Type: text/plain; charset=utf-8\n",
		"\n10.1.2.3 (user alice): 3,412 infected messages, Sobig.F and 1 other virus, 09:00 to 09:14\n",
		"The first of them had an alert of its own; the other 3,411 had none.\n",
		"Viruses:\n          3,400  Sobig.F\n             12  Eicar-Signature\n",
		"First:           2025-11-27T09:00:03Z\n",
		"Last:            2025-11-27T09:14:58Z\n",
		"Client address:  10.1.2.3\n",
		"Auth user:       alice\n",
		"klaxon quarantine list --since 2025-11-27T09:00:00Z --until 2025-11-27T09:15:00Z --class virus\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("missing \"%s\" in:\n%s", want[i], text);
	assert_int_equal(count_lines_starting(text, "Bcc:"), 0);
	free(text);
}

static void test_summary_numbers_and_spans(void **state)
{
	(void)state;
	static const struct {
		unsigned long count;
		const char *text;
	} numbers[] = {
		{ 1, "1 infected message," }, { 999, "999 infected messages," },
		{ 1000, "1,000 infected messages," }, { 10000, "10,000 infected messages," },
		{ 1234567, "1,234,567 infected messages," },
		{ 4294967295ul, "4,294,967,295 infected messages," },
	};
	struct alert_summary_info s = plain_summary;
	size_t len;

	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		s.count = numbers[i].count;
		char *text = compose_summary(&s, &len);
		if (strstr(text, numbers[i].text) == NULL)
			fail_msg("missing \"%s\" in:\n%s", numbers[i].text, text);
		free(text);
	}
	/* Across midnight the line says which days; a lone virus is named alone. */
	s = plain_summary;
	s.first = 1764287400; /* 2025-11-27T23:50:00Z */
	s.last = 1764288600;  /* 2025-11-28T00:10:00Z */
	s.nviruses = 1;
	s.alerted = 0;
	s.count = 2;
	char *text = compose_summary(&s, &len);
	assert_non_null(strstr(text, ": 2 infected messages, Sobig.F, 2025-11-27 23:50 to 2025-11-28 00:10\n"));
	assert_non_null(strstr(text, "None of them had an alert of its own"));
	assert_null(strstr(text, "Eicar"));
	free(text);
	/* Without a usable key the Message-ID is a fresh id. */
	s = plain_summary;
	s.key = "../../etc/passwd";
	text = compose_summary(&s, &len);
	assert_null(strstr(text, "passwd"));
	assert_non_null(strstr(text, "\nMessage-ID: <20251127T091502Z-"));
	free(text);
}

static void test_summary_hostile(void **state)
{
	(void)state;
	static const char *const viruses[] = { "Evil\r\nBcc: evil@x", "V\x1b" };
	static const unsigned long counts[] = { 2, 1 };
	struct alert_summary_info s = plain_summary;
	s.label = "10.1.2.3 (user a\r\nBcc: evil@x)";
	s.auth_user = "a\r\nBcc: evil@x";
	s.client_addr = "10.1.2.3\nBcc: evil@x";
	s.viruses = viruses;
	s.virus_counts = counts;
	s.from = "klaxon@x\r\nBcc: evil@x";
	s.hostname = "mx\r\nBcc: evil@x";
	size_t len;
	char *text = compose_summary(&s, &len);

	assert_well_formed(text, len);
	assert_null(strchr(text, '\r'));
	assert_int_equal(count_lines_starting(text, "Bcc:"), 0);
	assert_non_null(strstr(text, "Subject: klaxon: 3,412 infected messages from internal host "
				     "10.1.2.3 (user a??Bcc: evil@x)\n"));
	assert_non_null(strstr(text, "\n10.1.2.3 (user a??Bcc: evil@x): 3,412 infected messages, Evil??Bcc: evil@x and"));
	assert_non_null(strstr(text, "              2  Evil??Bcc: evil@x\n"));
	assert_non_null(strstr(text, "              1  V?\n"));
	assert_non_null(strstr(text, "Auth user:       a??Bcc: evil@x\n"));
	free(text);

	/* A long label is cut in the header and says so. */
	char *huge = malloc(5001);
	memset(huge, 'A', 5000);
	huge[5000] = '\0';
	s = plain_summary;
	s.label = huge;
	text = compose_summary(&s, &len);
	assert_well_formed(text, len);
	char *head = header_block(text);
	for (char *line = strtok(head, "\n"); line != NULL; line = strtok(NULL, "\n"))
		assert_true(strlen(line) <= 230);
	free(head);
	free(text);
	free(huge);

	s = plain_summary;
	s.nto = 0;
	char *msg = NULL, err[256];
	assert_int_equal(alert_compose_summary(&s, &msg, &len, err, sizeof(err)), -1);
	assert_null(msg);
}

static void test_enqueue_named_once(void **state)
{
	struct fixture *f = *state;
	char path[2 * PATH_MAX];
	size_t len, got_len;
	struct alert_flush_stats stats;
	char *const working[] = { "/bin/sh", "-c", f->cat_cmd, NULL };
	char *text = compose_summary(&plain_summary, &len);
	const char *key = plain_summary.key;

	assert_int_equal(alert_enqueue_named(f->spool, key, text, len, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/%s.alert", f->spool, key);
	assert_int_equal(ufs_mode(path), 0600);
	assert_int_equal(ufs_mode(f->spool), 0700);
	/* Spooled again (a crash before the window was closed): the first copy stays, alone. */
	assert_int_equal(alert_enqueue_named(f->spool, key, "other", 5, f->err, sizeof(f->err)), 0);
	assert_int_equal(ufs_count_suffix(f->spool, ".alert"), 1);
	char *got = ufs_read(path, &got_len);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, text, len);
	free(got);
	/* Names that are not ids never reach the file system. */
	const char *bad[] = { "../x", "", "a/b", "a.b", NULL };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(alert_enqueue_named(f->spool, bad[i], "x", 1, f->err, sizeof(f->err)), -1);
	assert_int_equal(ufs_count_suffix(f->spool, ".alert"), 1);
	/* It is an ordinary spooled alert: sent once. */
	assert_int_equal(alert_flush(f->spool, working, 5, &stats, f->err, sizeof(f->err)), 0);
	assert_int_equal(stats.sent, 1);
	got = ufs_read(f->out, &got_len);
	assert_int_equal(got_len, len);
	free(got);
	free(text);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* submit.h: the caller's job, as in klaxon */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_has_every_field),
		cmocka_unit_test(test_compose_absent_values),
		cmocka_unit_test(test_compose_hostile),
		cmocka_unit_test(test_compose_limits_and_utf8),
		cmocka_unit_test(test_compose_refuses_without_recipients),
		cmocka_unit_test_setup_teardown(test_enqueue_spools_privately, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_retries_until_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_oldest_first_ignoring_temps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush_keeps_only_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_missing_spool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_flushers_send_once, setup, teardown),
		cmocka_unit_test(test_summary_has_every_field),
		cmocka_unit_test(test_summary_numbers_and_spans),
		cmocka_unit_test(test_summary_hostile),
		cmocka_unit_test_setup_teardown(test_enqueue_named_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
