/*
 * test_digest - quarantine digests (digest.h): an outbreak of thousands of
 * copies stays one screen, every item a person may want back is listed,
 * groups are counted and timed right, and no value from a message can
 * break the HTML, add a header or a line.
 *
 * The tests decode the quoted-printable parts themselves (digest_part()),
 * so what they check is what a mail reader shows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "digest.h"

#define RCPT "bob@example.org"

/* 2026-11-27 00:00:00 UTC */
#define DAY0 ((time_t)1795737600)
#define HM(h, m) (DAY0 + (h) * 3600 + (m) * 60)

static const struct digest_opts base_opts = {
	.from = "klaxon@mx.example.org",
	.hostname = "mx.example.org",
	.max_rows = 25,
	.since = DAY0,
	.until = DAY0 + 86400,
	.when = DAY0 + 86400,
};

struct row_spec {
	int class;
	time_t when;
	const char *sender, *subject, *payload, *reason, *virus;
};

/* add_row - one index row for RCPT, with an id made from n */
static void add_row(struct digest *d, unsigned n, const struct row_spec *s)
{
	char id[64], err[256];
	struct tm tm;

	gmtime_r(&s->when, &tm);
	snprintf(id, sizeof(id), "%04d%02d%02dT%02d%02d%02dZ-%016x", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, n);
	struct qindex_row row = {
		.id = id, .when = s->when, .class = s->class, .origin = "external",
		.sender = s->sender, .subject = s->subject, .payload = s->payload,
		.reason = s->reason, .virus = s->virus, .rcpt = RCPT, .nrcpts = 1, .size = 1234,
	};
	assert_int_equal(digest_add(d, &row, err, sizeof(err)), 0);
}

/* add_worm - n copies of a virus, sender i % nsenders, times spread from t0 to t1 */
static void add_worm(struct digest *d, unsigned base, unsigned n, const char *virus,
		     unsigned nsenders, time_t t0, time_t t1)
{
	char sender[64];

	for (unsigned i = 0; i < n; i++) {
		snprintf(sender, sizeof(sender), "forged%u@host%u.example.net", i % nsenders,
			 i % nsenders);
		time_t t = n > 1 ? t0 + (time_t)((long long)(t1 - t0) * i / (n - 1)) : t0;
		add_row(d, base + i, &(struct row_spec){ QUARANTINE_VIRUS, t, sender, "Re: Details",
							  "aaaa", "virus found", virus });
	}
}

/* qp_decode - decode quoted-printable in place: soft breaks vanish, =XX becomes a byte */
static size_t qp_decode(char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=') {
			s[o++] = s[i];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\n') {
			i++;
			continue;
		}
		assert_true(i + 2 < len);
		char hex[3] = { s[i + 1], s[i + 2], 0 };
		s[o++] = (char)strtol(hex, NULL, 16);
		i += 2;
	}
	s[o] = '\0';
	return o;
}

/* boundary_of - the boundary parameter of the top Content-Type */
static void boundary_of(const char *msg, char *out, size_t len)
{
	const char *b = strstr(msg, "boundary=\"");
	assert_non_null(b);
	b += strlen("boundary=\"");
	const char *e = strchr(b, '"');
	assert_non_null(e);
	assert_true((size_t)(e - b) < len);
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
}

/* digest_part - the decoded body of the part of the given type; the caller frees it */
static char *digest_part(const char *msg, const char *type)
{
	char boundary[128], delim[140], head[128];

	boundary_of(msg, boundary, sizeof(boundary));
	snprintf(delim, sizeof(delim), "\n--%s", boundary);
	snprintf(head, sizeof(head), "Content-Type: %s; charset=utf-8\n", type);
	const char *h = strstr(msg, head);
	assert_non_null(h);
	const char *body = strstr(h, "\n\n");
	assert_non_null(body);
	body += 2;
	const char *end = strstr(body, delim);
	assert_non_null(end);
	size_t len = (size_t)(end - body);
	char *out = malloc(len + 1);
	memcpy(out, body, len);
	qp_decode(out, len);
	return out;
}

/* compose - the message of d; the caller frees it */
static char *compose(struct digest *d)
{
	char *msg = NULL, err[256];
	size_t len = 0;

	assert_int_equal(digest_compose(d, &msg, &len, err, sizeof(err)), 0);
	assert_int_equal(strlen(msg), len);
	return msg;
}

/* text_of - compose and return the decoded text part */
static char *text_of(struct digest *d)
{
	char *msg = compose(d);
	char *txt = digest_part(msg, "text/plain");
	free(msg);
	return txt;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* line_index - the line number (0-based) of the first line containing needle, or -1 */
static int line_index(const char *text, const char *needle)
{
	const char *hit = strstr(text, needle);
	if (hit == NULL)
		return -1;
	int n = 0;
	for (const char *p = text; p < hit; p++)
		n += *p == '\n';
	return n;
}

static void test_virus_groups_by_name(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	add_worm(d, 0, 5, "Worm.Sobig.F", 5, HM(3, 12), HM(22, 40));
	add_worm(d, 100, 3, "Worm.Mydoom.A", 3, HM(4, 0), HM(5, 0));
	/* A virus item without a name still folds into one group, never a row each. */
	add_worm(d, 200, 2, NULL, 2, HM(6, 0), HM(7, 0));
	assert_int_equal(digest_items(d), 10);
	char *txt = text_of(d);
	assert_non_null(strstr(txt, "  Worm.Sobig.F: 5 copies, 03:12 to 22:40, from 5 different senders\n"));
	assert_non_null(strstr(txt, "  Worm.Mydoom.A: 3 copies, 04:00 to 05:00, from 3 different senders\n"));
	assert_non_null(strstr(txt, "  unnamed virus: 2 copies"));
	assert_null(strstr(txt, "Held for you"));
	assert_non_null(strstr(txt, "10 messages held for you between 2026-11-27 00:00 and 2026-11-28 00:00 (UTC).\n"));
	free(txt);
	digest_free(d);
}

static void test_payload_groups_need_two(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	const struct row_spec rows[] = {
		{ QUARANTINE_BANNED, HM(1, 0), "a@x.example", "Invoice", "p1", "banned .pif", NULL },
		{ QUARANTINE_BANNED, HM(2, 0), "b@x.example", "Invoice 2", "p1", "banned .pif", NULL },
		{ QUARANTINE_BANNED, HM(3, 0), "c@x.example", "Invoice 3", "p1", "banned .pif", NULL },
		{ QUARANTINE_BANNED, HM(4, 0), "d@x.example", "Lonely", "p2", "banned .scr", NULL },
		/* Items without a payload never group, however many there are. */
		{ QUARANTINE_AMBIGUOUS, HM(5, 0), "e@x.example", "Odd one", "", "duplicate Content-Type", NULL },
		{ QUARANTINE_AMBIGUOUS, HM(6, 0), "f@x.example", "Odd two", "", "duplicate Content-Type", NULL },
	};
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		add_row(d, i, &rows[i]);
	char *txt = text_of(d);
	assert_non_null(strstr(txt, "  banned: banned .pif (\"Invoice\"): 3 copies, 01:00 to 03:00, from 3 different senders\n"));
	assert_non_null(strstr(txt, "\"Lonely\"  banned: banned .scr  id "));
	assert_non_null(strstr(txt, "\"Odd one\"  ambiguous: duplicate Content-Type  id "));
	assert_non_null(strstr(txt, "\"Odd two\"  ambiguous: duplicate Content-Type  id "));
	assert_null(strstr(txt, "Invoice 2"));
	free(txt);
	char *msg = compose(d);
	assert_non_null(strstr(msg, "Subject: Quarantine digest for " RCPT ": 6 held (3 outbreak copies)\n"));
	free(msg);
	digest_free(d);
}

static void test_order_singular_first_groups_largest_first(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	add_worm(d, 0, 4, "Small.Worm", 2, HM(1, 0), HM(2, 0));
	add_row(d, 50, &(struct row_spec){ QUARANTINE_POLICY, HM(9, 30), "late@x.example", "Later", "q1", "held by filter", NULL });
	add_worm(d, 100, 40, "Big.Worm", 10, HM(3, 0), HM(4, 0));
	add_row(d, 51, &(struct row_spec){ QUARANTINE_BANNED, HM(8, 15), "early@x.example", "Earlier", "q2", "banned .exe", NULL });
	add_worm(d, 200, 12, "Middle.Worm", 3, HM(5, 0), HM(6, 0));
	char *txt = text_of(d);
	int early = line_index(txt, "Earlier"), late = line_index(txt, "Later");
	int big = line_index(txt, "Big.Worm"), mid = line_index(txt, "Middle.Worm");
	int small = line_index(txt, "Small.Worm");
	assert_true(early >= 0 && late > early);
	assert_true(big > late && mid > big && small > mid);
	assert_non_null(strstr(txt, "  08:15  <early@x.example>  \"Earlier\"  banned: banned .exe  id 20261127T081500Z-0000000000000033\n"));
	free(txt);
	digest_free(d);
}

static void test_distinct_senders(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	/* 100 copies from 7 senders; case does not make a new sender. */
	for (unsigned i = 0; i < 100; i++) {
		char sender[64];
		snprintf(sender, sizeof(sender), i % 2 ? "Sender%u@Example.NET" : "sender%u@example.net", i % 7);
		add_row(d, i, &(struct row_spec){ QUARANTINE_VIRUS, HM(10, 0), sender, "x", "", "", "W32.Seven" });
	}
	for (unsigned i = 0; i < 3; i++)
		add_row(d, 200 + i, &(struct row_spec){ QUARANTINE_VIRUS, HM(11, i), "only@one.example", "x", "", "", "W32.One" });
	char *txt = text_of(d);
	assert_non_null(strstr(txt, "  W32.Seven: 100 copies, at 10:00, from 7 different senders\n"));
	assert_non_null(strstr(txt, "  W32.One: 3 copies, 11:00 to 11:02, from <only@one.example>\n"));
	free(txt);
	digest_free(d);
}

static void test_times_over_days(void **state)
{
	(void)state;
	struct digest_opts o = base_opts;
	o.since = DAY0 - 6 * 86400;
	struct digest *d = digest_new(&o, RCPT);
	assert_non_null(d);
	add_worm(d, 0, 2, "Worm.Week", 2, HM(3, 12) - 2 * 86400, HM(22, 40));
	add_row(d, 9, &(struct row_spec){ QUARANTINE_BANNED, HM(7, 5) - 86400, "a@x.example", "Old", "", "banned", NULL });
	char *txt = text_of(d);
	assert_non_null(strstr(txt, "  Worm.Week: 2 copies, Nov 25 03:12 to Nov 27 22:40, from 2 different senders\n"));
	assert_non_null(strstr(txt, "  Nov 26 07:05  <a@x.example>  \"Old\""));
	assert_non_null(strstr(txt, "between 2026-11-21 00:00 and 2026-11-28 00:00 (UTC)"));
	free(txt);
	digest_free(d);
}

static void test_cap_and_more(void **state)
{
	(void)state;
	struct digest_opts o = base_opts;
	o.max_rows = 5;
	struct digest *d = digest_new(&o, RCPT);
	assert_non_null(d);
	for (unsigned i = 0; i < 8; i++) {
		char subject[32];
		snprintf(subject, sizeof(subject), "single %u", i);
		add_row(d, i, &(struct row_spec){ QUARANTINE_BANNED, HM(1, i), "a@x.example", subject, "", "banned", NULL });
	}
	add_worm(d, 100, 30, "Worm.Hidden", 30, HM(2, 0), HM(3, 0));
	char *txt = text_of(d);
	for (unsigned i = 0; i < 5; i++) {
		char subject[32];
		snprintf(subject, sizeof(subject), "\"single %u\"", i);
		assert_non_null(strstr(txt, subject));
	}
	assert_null(strstr(txt, "single 5"));
	assert_null(strstr(txt, "Worm.Hidden"));
	assert_non_null(strstr(txt, "\n... and 33 more: klaxon quarantine list --rcpt " RCPT "\n"));
	assert_non_null(strstr(txt, "ask your postmaster to run: klaxon quarantine release ID\n"));
	free(txt);
	digest_free(d);
}

/* An outbreak day: 10 000 copies of many names, and every singular item still present. */
static void test_outbreak_one_screen(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	add_worm(d, 0, 9000, "Worm.Sobig.F", 412, HM(3, 12), HM(22, 40));
	for (unsigned v = 0; v < 100; v++) {
		char name[32];
		snprintf(name, sizeof(name), "Variant.%u", v);
		add_worm(d, 10000 + v * 10, 9, name, 3, HM(1, 0), HM(2, 0));
	}
	for (unsigned i = 0; i < 80; i++) /* one payload: a group, not 80 rows */
		add_row(d, 20000 + i, &(struct row_spec){ QUARANTINE_BANNED, HM(12, i % 60), "spam@x.example", "Same", "pp", "banned .pif", NULL });
	for (unsigned i = 0; i < 20; i++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "u%u", i);
		add_row(d, 30000 + i, &(struct row_spec){ i % 2 ? QUARANTINE_AMBIGUOUS : QUARANTINE_POLICY, HM(13, i), "someone@x.example", "Wanted", payload, "held", NULL });
	}
	assert_int_equal(digest_items(d), 10000);
	char *txt = text_of(d);
	assert_true(count_lines(txt) <= 40);
	for (unsigned i = 0; i < 20; i++) {
		char id[64];
		snprintf(id, sizeof(id), "id 20261127T13%02u00Z-%016x\n", i, 30000 + i);
		assert_non_null(strstr(txt, id));
	}
	assert_non_null(strstr(txt, "  Worm.Sobig.F: 9000 copies, 03:12 to 22:40, from 412 different senders\n"));
	assert_non_null(strstr(txt, "  banned: banned .pif (\"Same\"): 80 copies"));
	assert_non_null(strstr(txt, "more: klaxon quarantine list --rcpt " RCPT "\n"));
	free(txt);
	digest_free(d);
}

static void test_html_escaping(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	add_row(d, 1, &(struct row_spec){ QUARANTINE_BANNED, HM(1, 0), "\"evil\"<x>@a&b.example",
					   "<script>alert('x')</script> & \"more\"", "", "<b>bold</b>", NULL });
	add_worm(d, 10, 2, "<img src=x onerror=alert(1)>", 1, HM(2, 0), HM(3, 0));
	char *msg = compose(d);
	char *html = digest_part(msg, "text/html");
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"));
	assert_non_null(strstr(html, "&lt;&quot;evil&quot;&lt;x&gt;@a&amp;b.example&gt;"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(html, "&lt;b&gt;bold&lt;/b&gt;"));
	/* The text part shows the values as they are: text/plain is not interpreted. */
	char *txt = digest_part(msg, "text/plain");
	assert_non_null(strstr(txt, "\"<script>alert('x')</script> & \"more\"\""));
	free(txt);
	free(html);
	free(msg);
	digest_free(d);
}

static void test_control_characters(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	char longsub[400];
	memset(longsub, 'L', sizeof(longsub) - 1);
	longsub[sizeof(longsub) - 1] = '\0';
	add_row(d, 1, &(struct row_spec){ QUARANTINE_BANNED, HM(1, 0), "a@b.example\r\nBcc: victim@x.example",
					   "Hi\r\nBcc: victim@x.example\x1b[31m\x7f", "", "r\n\n--=_klaxon_x", NULL });
	add_row(d, 2, &(struct row_spec){ QUARANTINE_BANNED, HM(2, 0), "c@d.example", "bad \xff\xfe utf-8 \xc3\xa9t\xc3\xa9", "", "", NULL });
	add_row(d, 3, &(struct row_spec){ QUARANTINE_BANNED, HM(3, 0), "e@f.example", longsub, "", "", NULL });
	add_worm(d, 10, 2, "Name\nWith\rBreaks", 2, HM(4, 0), HM(5, 0));
	char *msg = compose(d);
	/* No injected header or line, anywhere in the message. */
	assert_null(strstr(msg, "\nBcc:"));
	assert_null(strstr(msg, "\r"));
	char *txt = digest_part(msg, "text/plain");
	assert_null(strstr(txt, "\nBcc:"));
	assert_null(strstr(txt, "\x1b"));
	assert_null(strstr(txt, "\x7f"));
	assert_non_null(strstr(txt, "<a@b.example??Bcc: victim@x.example>  \"Hi??Bcc: victim@x.example?[31m?\"  banned: r?\?--=_klaxon_x  id "));
	assert_non_null(strstr(txt, "\"bad ?? utf-8 \xc3\xa9t\xc3\xa9\""));
	assert_non_null(strstr(txt, "LLLLLLLL...\""));
	assert_null(strstr(txt, "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"));
	assert_non_null(strstr(txt, "  Name?With?Breaks: 2 copies"));
	/* Every line of the wire form is short: quoted-printable keeps them under 77. */
	const char *body = strstr(msg, "\n\n");
	for (const char *p = body + 2, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl - p <= 76);
	}
	free(txt);
	free(msg);
	digest_free(d);
}

static void test_refused_recipients(void **state)
{
	(void)state;
	static const char *const refused[] = {
		"bob@example.org\r\nBcc: x@y.example", "bob@example.org\n", "bob\r@example.org",
		"\"bob smith\"@example.org", "bob smith@example.org", "bob@exa mple.org",
		"<bob@example.org>", "bob", "@example.org", "bob@", "", ".bob@example.org",
		"bo..b@example.org", "bob@example.org,eve@example.org", "bob@[1.2.3.4\\]",
		"b\xffob@example.org", "bob\t@example.org", "bob@example.org.",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		errno = 0;
		struct digest *d = digest_new(&base_opts, refused[i]);
		if (d != NULL)
			fail_msg("accepted refused address #%zu", i);
		assert_int_equal(errno, EINVAL);
	}
	assert_null(digest_new(&base_opts, NULL));
	static const char *const accepted[] = {
		"bob@example.org", "bob+quarantine@example.org", "o'brien@example.org",
		"bob@[192.0.2.1]", "j\xc3\xb6rg@example.org",
	};
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		struct digest *d = digest_new(&base_opts, accepted[i]);
		assert_non_null(d);
		digest_free(d);
	}
}

static void test_utf8_recipient_subject(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, "j\xc3\xb6rg@example.org");
	assert_non_null(d);
	add_row(d, 1, &(struct row_spec){ QUARANTINE_BANNED, HM(1, 0), "a@b.example", "x", "", "", NULL });
	char *msg = compose(d);
	assert_non_null(strstr(msg, "\nTo: j\xc3\xb6rg@example.org\n"));
	const char *subj = strstr(msg, "\nSubject: ");
	assert_non_null(subj);
	/* base64 of "Quarantine digest for j\xc3\xb6rg@example.org: 1 held (0 outbreak copies)", in words */
	assert_true(strncmp(subj, "\nSubject: =?UTF-8?B?", 20) == 0);
	const char *eol = strchr(subj + 1, '\n');
	for (const unsigned char *p = (const unsigned char *)subj; p < (const unsigned char *)eol; p++)
		assert_true(*p < 0x80);
	free(msg);
	digest_free(d);
}

static void test_mime_structure(void **state)
{
	(void)state;
	struct digest *d = digest_new(&base_opts, RCPT);
	assert_non_null(d);
	add_worm(d, 0, 3, "Worm.Sobig.F", 2, HM(3, 12), HM(22, 40));
	add_row(d, 9, &(struct row_spec){ QUARANTINE_AMBIGUOUS, HM(1, 0), "", "caf\xc3\xa9 = 100%  ", "", "", NULL });
	char *msg = compose(d);
	char boundary[128], line[300];
	boundary_of(msg, boundary, sizeof(boundary));
	assert_true(strncmp(boundary, "=_klaxon_", 9) == 0);
	static const char *const headers[] = {
		"From: klaxon@mx.example.org\n", "\nTo: " RCPT "\n",
		"\nSubject: Quarantine digest for " RCPT ": 4 held (3 outbreak copies)\n",
		"\nDate: Sat, 28 Nov 2026 00:00:00 +0000\n", "\nMessage-ID: <20261128T000000Z-",
		"\nAuto-Submitted: auto-generated\n", "\nMIME-Version: 1.0\n",
		"\nContent-Type: multipart/alternative; boundary=\"",
	};
	const char *end_of_head = strstr(msg, "\n\n");
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		const char *h = strstr(msg, headers[i]);
		assert_non_null(h);
		assert_true(h < end_of_head);
	}
	assert_true(strncmp(msg, "From: ", 6) == 0);
	assert_non_null(strstr(msg, "@mx.example.org>\n"));
	/* Two delimiters and the close delimiter, in that order, nothing else looks like one. */
	snprintf(line, sizeof(line), "\n--%s\nContent-Type: text/plain; charset=utf-8\n"
		 "Content-Transfer-Encoding: quoted-printable\n\n", boundary);
	const char *plain = strstr(msg, line);
	snprintf(line, sizeof(line), "\n--%s\nContent-Type: text/html; charset=utf-8\n"
		 "Content-Transfer-Encoding: quoted-printable\n\n", boundary);
	const char *html = strstr(msg, line);
	snprintf(line, sizeof(line), "\n--%s--\n", boundary);
	const char *close = strstr(msg, line);
	assert_true(plain && html && close && plain < html && html < close);
	assert_string_equal(close + strlen(line), "");
	unsigned seen = 0;
	for (const char *p = msg; (p = strstr(p, boundary)) != NULL; p++)
		seen++;
	assert_int_equal(seen, 4); /* the header parameter and three delimiter lines */
	char *txt = digest_part(msg, "text/plain");
	/* '=' and trailing spaces survive the round trip; the null sender reads <>. */
	assert_non_null(strstr(txt, "  01:00  <>  \"caf\xc3\xa9 = 100%  \"  ambiguous  id "));
	assert_non_null(strstr(msg, "caf=C3=A9 =3D 100%"));
	free(txt);
	free(msg);
	digest_free(d);
}

static void test_empty_and_defaults(void **state)
{
	(void)state;
	struct digest_opts o = { .max_rows = 0, .since = DAY0, .until = DAY0 + 3600 };
	struct digest *d = digest_new(&o, RCPT);
	assert_non_null(d);
	assert_int_equal(digest_items(d), 0);
	char *msg = compose(d);
	assert_non_null(strstr(msg, "From: klaxon\n"));
	assert_non_null(strstr(msg, "@localhost>\n"));
	char *txt = digest_part(msg, "text/plain");
	static const char head[] = "0 messages held for you between 2026-11-27 00:00 and 2026-11-27 01:00 (UTC).\n";
	assert_true(strncmp(txt, head, strlen(head)) == 0);
	free(txt);
	free(msg);
	digest_free(d);
	digest_free(NULL);
}

/* max_rows 0 means the default (25): 30 singular items show 25 and "and 5 more". */
static void test_default_rows(void **state)
{
	(void)state;
	struct digest_opts o = base_opts;
	o.max_rows = 0;
	struct digest *d = digest_new(&o, RCPT);
	for (unsigned i = 0; i < 30; i++)
		add_row(d, i, &(struct row_spec){ QUARANTINE_POLICY, HM(1, i), "a@x.example", "s", "", "", NULL });
	char *txt = text_of(d);
	assert_non_null(strstr(txt, "\n... and 5 more: "));
	assert_true(count_lines(txt) <= 40);
	free(txt);
	digest_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_virus_groups_by_name),
		cmocka_unit_test(test_payload_groups_need_two),
		cmocka_unit_test(test_order_singular_first_groups_largest_first),
		cmocka_unit_test(test_distinct_senders),
		cmocka_unit_test(test_times_over_days),
		cmocka_unit_test(test_cap_and_more),
		cmocka_unit_test(test_outbreak_one_screen),
		cmocka_unit_test(test_html_escaping),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_refused_recipients),
		cmocka_unit_test(test_utf8_recipient_subject),
		cmocka_unit_test(test_mime_structure),
		cmocka_unit_test(test_empty_and_defaults),
		cmocka_unit_test(test_default_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
