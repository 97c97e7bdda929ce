/*
 * test_mime_raw - unit tests for the raw byte ranges of the MIME parser
 * (mime.h: raw_delim, raw_start, raw_body, raw_end, raw_known).
 *
 * Each table entry compares a dump of every part's ranges, shown as the
 * bytes they cover ("d" the delimiter line up to raw_start, "h" the
 * header, "b" the body; CR and LF written as \r and \n), with the
 * expected text, so a failure shows the whole picture. Every parse also
 * checks the invariants: start <= body <= end <= input length, a
 * delimiter line that starts with "--" exactly where a part has one, and
 * in the default view a leaf in an identity encoding whose decoded bytes
 * are its raw body, byte for byte. The chunking test parses every message
 * whole, a byte at a time and in random pieces, in every view, and demands
 * identical offsets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1

static const struct mime_view view_default;
static const struct mime_view views[] = {
	{0},
	{.last_content_type = true, .last_cte = true},
	{.strict_base64 = true},
	{.guess_boundary = true},
	{.decode_multipart = true},
	{.bare_cr_breaks_header = true},
};

/* parse_chunks - parse msg cut into pieces: 0 whole, 1 byte-wise, else random up to chunk */
static struct mime_message *parse_chunks(const char *msg, size_t len, const struct mime_view *v,
					 size_t chunk, unsigned seed)
{
	struct mime_parser *p = mime_parser_new(NULL, v);
	size_t pos = 0;

	assert_non_null(p);
	while (pos < len) {
		size_t n = len - pos;
		if (chunk == 1) {
			n = 1;
		} else if (chunk > 1) {
			seed = seed * 1103515245 + 12345;
			size_t r = 1 + (seed >> 8) % chunk;
			if (r < n)
				n = r;
		}
		assert_int_equal(mime_parser_feed(p, msg + pos, n), 0);
		pos += n;
	}
	struct mime_message *m = mime_parser_finish(p);
	assert_non_null(m);
	return m;
}

/* identity - an encoding whose decoded bytes are the raw bytes */
static bool identity(enum mime_cte c)
{
	return c == MIME_CTE_7BIT || c == MIME_CTE_8BIT || c == MIME_CTE_BINARY;
}

/* check_raw - the invariants of the raw ranges; exact ones in the default view */
static void check_raw(const struct mime_message *m, const char *msg, size_t len, bool exact,
		      const char *what)
{
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (!(p->raw_start <= p->raw_body && p->raw_body <= p->raw_end && p->raw_end <= len))
			fail_msg("%s: part %s range %zu %zu %zu over %zu", what, p->path, p->raw_start,
				 p->raw_body, p->raw_end, len);
		if (p->raw_delim != MIME_RAW_NONE && p->raw_delim > p->raw_start)
			fail_msg("%s: part %s delimiter after its start", what, p->path);
		if (i == 0) {
			assert_true(p->raw_known);
			assert_int_equal(p->raw_start, 0);
			assert_true(p->raw_delim == MIME_RAW_NONE);
		}
		if (!p->raw_known) {
			assert_true(p->raw_delim == MIME_RAW_NONE);
			assert_int_equal(p->raw_start, p->raw_end);
		}
		if (!exact || !p->raw_known || m->limit != MIME_LIMIT_NONE)
			continue;
		const struct mime_part *par = i > 0 ? &m->parts[p->parent] : NULL;
		bool child = par != NULL && strncmp(par->content_type, "multipart/", 10) == 0;
		if (child != (p->raw_delim != MIME_RAW_NONE))
			fail_msg("%s: part %s delimiter presence", what, p->path);
		if (child && (p->raw_delim + 2 > len || memcmp(msg + p->raw_delim, "--", 2) != 0))
			fail_msg("%s: part %s delimiter is not a \"--\" line", what, p->path);
		if (p->leaf && identity(p->cte) &&
		    (p->size != p->raw_end - p->raw_body ||
		     memcmp(p->data, msg + p->raw_body, p->size) != 0))
			fail_msg("%s: part %s decoded bytes are not its raw body", what, p->path);
	}
}

/* esc - bytes as text with CR and LF visible */
static size_t esc(char *out, size_t room, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 3 < room; i++) {
		if (s[i] == '\r')
			o += (size_t)snprintf(out + o, room - o, "\\r");
		else if (s[i] == '\n')
			o += (size_t)snprintf(out + o, room - o, "\\n");
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return o;
}

/* dump - one line per part: path, d=[delimiter line] h=[header] b=[body], or "-" if unknown */
static void dump(const struct mime_message *m, const char *msg, char *buf, size_t len)
{
	size_t o = 0;
	char e[2048];

	buf[0] = '\0';
	for (size_t i = 0; i < m->nparts && o < len; i++) {
		const struct mime_part *p = &m->parts[i];
		o += (size_t)snprintf(buf + o, len - o, "%s", p->path);
		if (!p->raw_known) {
			o += (size_t)snprintf(buf + o, len - o, " -\n");
			continue;
		}
		if (p->raw_delim != MIME_RAW_NONE) {
			esc(e, sizeof(e), msg + p->raw_delim, p->raw_start - p->raw_delim);
			o += (size_t)snprintf(buf + o, len - o, " d=[%s]", e);
		}
		esc(e, sizeof(e), msg + p->raw_start, p->raw_body - p->raw_start);
		o += (size_t)snprintf(buf + o, len - o, " h=[%s]", e);
		esc(e, sizeof(e), msg + p->raw_body, p->raw_end - p->raw_body);
		o += (size_t)snprintf(buf + o, len - o, " b=[%s]\n", e);
	}
}

/* ------------------------------------------------------------------ cases */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	const char *want;
} cases[] = {
	{"single part CRLF", S("Subject: x\r\n\r\nline 1\r\nline 2\r\n"),
	 "1 h=[Subject: x\\r\\n\\r\\n] b=[line 1\\r\\nline 2\\r\\n]\n"},
	/* Preamble and epilogue belong to the multipart; the CRLF before each delimiter
	 * belongs to the delimiter. */
	{"mixed CRLF with preamble and epilogue",
	 S("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n"
	   "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	   "--b  \r\nContent-Type: application/x-y\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	   "eHl6\r\n--b--\r\nepi\r\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=\"b\"\\r\\n\\r\\n] b=[pre\\r\\n--b\\r\\n"
	 "Content-Type: text/plain\\r\\n\\r\\nhello\\r\\n--b  \\r\\nContent-Type: application/x-y\\r\\n"
	 "Content-Transfer-Encoding: base64\\r\\n\\r\\neHl6\\r\\n--b--\\r\\nepi\\r\\n]\n"
	 "1.1 d=[--b\\r\\n] h=[Content-Type: text/plain\\r\\n\\r\\n] b=[hello]\n"
	 "1.2 d=[--b  \\r\\n] h=[Content-Type: application/x-y\\r\\nContent-Transfer-Encoding: "
	 "base64\\r\\n\\r\\n] b=[eHl6]\n"},
	/* Nested multiparts and a message/rfc822 with a multipart inside, LF only. */
	{"nested LF",
	 S("Content-Type: multipart/mixed; boundary=o\n\n"
	   "--o\nContent-Type: multipart/alternative; boundary=a\n\n"
	   "--a\n\nplain\n--a\nContent-Type: text/html\n\n<p>x</p>\n--a--\n"
	   "--o\nContent-Type: message/rfc822\n\n"
	   "Subject: fw\nContent-Type: multipart/mixed; boundary=i\n\n"
	   "--i\n\nin\n--i--\n"
	   "--o--\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=o\\n\\n] b=[--o\\nContent-Type: "
	 "multipart/alternative; boundary=a\\n\\n--a\\n\\nplain\\n--a\\nContent-Type: "
	 "text/html\\n\\n<p>x</p>\\n--a--\\n--o\\nContent-Type: message/rfc822\\n\\nSubject: "
	 "fw\\nContent-Type: multipart/mixed; boundary=i\\n\\n--i\\n\\nin\\n--i--\\n--o--\\n]\n"
	 "1.1 d=[--o\\n] h=[Content-Type: multipart/alternative; boundary=a\\n\\n] b=[--a\\n\\nplain"
	 "\\n--a\\nContent-Type: text/html\\n\\n<p>x</p>\\n--a--]\n"
	 "1.1.1 d=[--a\\n] h=[\\n] b=[plain]\n"
	 "1.1.2 d=[--a\\n] h=[Content-Type: text/html\\n\\n] b=[<p>x</p>]\n"
	 "1.2 d=[--o\\n] h=[Content-Type: message/rfc822\\n\\n] b=[Subject: fw\\nContent-Type: "
	 "multipart/mixed; boundary=i\\n\\n--i\\n\\nin\\n--i--]\n"
	 "1.2.1 h=[Subject: fw\\nContent-Type: multipart/mixed; boundary=i\\n\\n] b=[--i\\n\\nin\\n"
	 "--i--]\n"
	 "1.2.1.1 d=[--i\\n] h=[\\n] b=[in]\n"},
	/* No closing delimiter: the last part runs to the end of the input. */
	{"unclosed", S("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=b\\n\\n] b=[--b\\n\\none\\n--b\\n\\ntwo\\n]\n"
	 "1.1 d=[--b\\n] h=[\\n] b=[one]\n"
	 "1.2 d=[--b\\n] h=[\\n] b=[two\\n]\n"},
	/* Empty bodies: a header, a blank line and the delimiter (the blank line's LF is the
	 * delimiter's); a header cut by the delimiter; a delimiter right after a delimiter;
	 * an empty body after a blank line and an empty line. */
	{"empty bodies",
	 S("Content-Type: multipart/mixed; boundary=b\n\n"
	   "--b\nContent-Type: image/gif\n\n"
	   "--b\nContent-Type: image/png\n"
	   "--b\n"
	   "--b\n\n\n"
	   "--b--\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=b\\n\\n] b=[--b\\nContent-Type: "
	 "image/gif\\n\\n--b\\nContent-Type: image/png\\n--b\\n--b\\n\\n\\n--b--\\n]\n"
	 "1.1 d=[--b\\n] h=[Content-Type: image/gif\\n] b=[]\n"
	 "1.2 d=[--b\\n] h=[Content-Type: image/png] b=[]\n"
	 "1.3 d=[--b\\n] h=[] b=[]\n"
	 "1.4 d=[--b\\n] h=[\\n] b=[]\n"},
	/* A header line that is not a field ends the header; it is the first body line. */
	{"no blank line", S("Content-Type: multipart/mixed; boundary=b\n\n--b\nX-A: 1\nbody\n--b--\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=b\\n\\n] b=[--b\\nX-A: 1\\nbody\\n--b--\\n]\n"
	 "1.1 d=[--b\\n] h=[X-A: 1\\n] b=[body]\n"},
	{"no header", S("just a body\n"), "1 h=[] b=[just a body\\n]\n"},
	{"empty", S(""), "1 h=[] b=[]\n"},
	{"header only", S("Subject: x\nX-B: y"), "1 h=[Subject: x\\nX-B: y] b=[]\n"},
	{"from line", S("From a@b Mon\nSubject: x\n\nb\n"), "1 h=[From a@b Mon\\nSubject: x\\n\\n] b=[b\\n]\n"},
	/* message/rfc822 at the top: the enclosed message starts at the container's body. */
	{"rfc822 root", S("Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n"),
	 "1 h=[Content-Type: message/rfc822\\r\\n\\r\\n] b=[Subject: in\\r\\n\\r\\nbody\\r\\n]\n"
	 "1.1 h=[Subject: in\\r\\n\\r\\n] b=[body\\r\\n]\n"},
	/* A message/rfc822 part whose header is cut by the delimiter: an empty enclosed message. */
	{"rfc822 cut",
	 S("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n--b--\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=b\\n\\n] b=[--b\\nContent-Type: "
	 "message/rfc822\\n--b--\\n]\n"
	 "1.1 d=[--b\\n] h=[Content-Type: message/rfc822] b=[]\n"
	 "1.1.1 h=[] b=[]\n"},
	/* uuencoded blocks have no range of their own. */
	{"uuencode", S("Subject: uu\n\nsee\nbegin 644 cat.txt\n#0V%T\n`\nend\n"),
	 "1 h=[Subject: uu\\n\\n] b=[see\\nbegin 644 cat.txt\\n#0V%T\\n`\\nend\\n]\n"
	 "1.1 -\n"},
	/* Transport padding, a CRLF body with a bare LF inside, and a delimiter in the body
	 * of a part that only looks like one. */
	{"padding and lookalikes",
	 S("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \t\r\n\r\na\nb\r\n--bx\r\n"
	   "--b--\r\n"),
	 "1 h=[Content-Type: multipart/mixed; boundary=b\\r\\n\\r\\n] b=[--b \t\\r\\n\\r\\na\\nb\\r\\n"
	 "--bx\\r\\n--b--\\r\\n]\n"
	 "1.1 d=[--b \t\\r\\n] h=[\\r\\n] b=[a\\nb\\r\\n--bx]\n"},
	/* A multipart whose header is cut by the end of the input. */
	{"multipart at eof", S("Content-Type: multipart/mixed; boundary=b"),
	 "1 h=[Content-Type: multipart/mixed; boundary=b] b=[]\n"},
};

/* test_ranges - each message gives the expected ranges and keeps the invariants */
static void test_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct mime_message *m = parse_chunks(cases[i].msg, cases[i].len, &view_default, 0, 0);
		char got[8192];
		check_raw(m, cases[i].msg, cases[i].len, true, cases[i].name);
		dump(m, cases[i].msg, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got\n%swant\n%s", cases[i].name, got, cases[i].want);
		mime_message_free(m);
	}
}

/* same_raw - two parses agree on every raw offset */
static void same_raw(const struct mime_message *a, const struct mime_message *b, const char *what)
{
	if (a->nparts != b->nparts)
		fail_msg("%s: %zu parts, then %zu", what, a->nparts, b->nparts);
	for (size_t i = 0; i < a->nparts; i++) {
		const struct mime_part *p = &a->parts[i], *q = &b->parts[i];
		if (p->raw_delim != q->raw_delim || p->raw_start != q->raw_start ||
		    p->raw_body != q->raw_body || p->raw_end != q->raw_end ||
		    p->raw_known != q->raw_known)
			fail_msg("%s: part %s offsets differ", what, p->path);
	}
}

/* chunk_check - whole, byte-wise and random pieces agree, in every view */
static void chunk_check(const char *msg, size_t len, const char *name)
{
	static const size_t chunks[] = {1, 2, 3, 7, 64, 1000};

	for (size_t v = 0; v < NELEM(views); v++) {
		struct mime_message *whole = parse_chunks(msg, len, &views[v], 0, 0);
		check_raw(whole, msg, len, v == 0, name);
		for (size_t c = 0; c < NELEM(chunks); c++) {
			struct mime_message *m = parse_chunks(msg, len, &views[v], chunks[c], (unsigned)c + 1);
			char what[160];
			snprintf(what, sizeof(what), "%s view %zu chunk %zu", name, v, chunks[c]);
			check_raw(m, msg, len, v == 0, what);
			same_raw(whole, m, what);
			mime_message_free(m);
		}
		mime_message_free(whole);
	}
}

/* Messages for the other views: an encoded multipart, duplicates, a bare CR in a header. */
static const struct {
	const char *name;
	const char *msg;
	size_t len;
} others[] = {
	{"encoded multipart",
	 S("Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	   "Content-Type: multipart/mixed; boundary=A\nContent-Transfer-Encoding: base64\n\n"
	   "LS1BDQpDb250ZW50LVR5cGU6IHRleHQvcGxhaW4NCg0KdmlydXMNCi0tQS0tDQo=\n--o--\n")},
	{"encoded message",
	 S("Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n"
	   "Content-Type: text/plain; name=3D\"x.txt\"\n\nhi=\nya\n")},
	{"duplicate content type",
	 S("Content-Type: multipart/mixed; boundary=a\nContent-Type: multipart/mixed; boundary=b\n\n"
	   "--a\n\nA\n--b\n\nB\n--b--\n--a--\n")},
	{"bare cr", S("Content-Type: text/plain\rContent-Type: multipart/mixed; boundary=b\n\n"
		      "--b\n\nx\n--b--\n")},
	{"guess", S("Content-Type: multipart/mixed\n\n--g\n\nx\n--g--\n")},
	{"base64 junk", S("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
			  "Content-Transfer-Encoding: base64\n\nQU*JD\n--b--\n")},
};

/* test_chunking - offsets never depend on how the input is cut, in any view */
static void test_chunking(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		chunk_check(cases[i].msg, cases[i].len, cases[i].name);
	for (size_t i = 0; i < NELEM(others); i++)
		chunk_check(others[i].msg, others[i].len, others[i].name);
}

/* test_decoded_unknown - parts read from decoded bytes have no raw range; their container does */
static void test_decoded_unknown(void **state)
{
	(void)state;
	const struct mime_view decode = {.decode_multipart = true};
	struct mime_message *m = parse_chunks(others[0].msg, others[0].len, &decode, 0, 0);

	assert_int_equal(m->nparts, 3);
	assert_true(m->parts[1].raw_known);
	assert_string_equal(m->parts[2].path, "1.1.1");
	assert_false(m->parts[2].raw_known);
	/* An empty range at the container's body. */
	assert_int_equal(m->parts[2].raw_start, m->parts[1].raw_body);
	assert_int_equal(m->parts[2].raw_end, m->parts[1].raw_body);
	assert_memory_equal(others[0].msg + m->parts[1].raw_body, "LS1B", 4);
	mime_message_free(m);
}

/* test_limit_bounds - a parse stopped by a limit still gives offsets in bounds */
static void test_limit_bounds(void **state)
{
	(void)state;
	const struct mime_limits tight = {
		.max_depth = 2, .max_parts = 3, .max_header_length = 40,
		.max_line_length = 30, .max_decoded_size = 4,
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct mime_parser *p = mime_parser_new(&tight, NULL);
		assert_non_null(p);
		assert_int_equal(mime_parser_feed(p, cases[i].msg, cases[i].len), 0);
		struct mime_message *m = mime_parser_finish(p);
		assert_non_null(m);
		check_raw(m, cases[i].msg, cases[i].len, false, cases[i].name);
		mime_message_free(m);
	}
}

/* test_big - a long base64 leaf read by the bulk path: the same offsets as line by line */
static void test_big(void **state)
{
	(void)state;
	const char *head = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n";
	const char *tail = "--b\r\n\r\nlast\r\n--b--\r\n";
	const char *line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
	size_t lines = 5000, ll = strlen(line), len = strlen(head) + lines * ll + strlen(tail);
	char *msg = malloc(len + 1);
	assert_non_null(msg);
	size_t o = (size_t)sprintf(msg, "%s", head);
	for (size_t i = 0; i < lines; i++)
		o += (size_t)sprintf(msg + o, "%s", line);
	o += (size_t)sprintf(msg + o, "%s", tail);
	assert_int_equal(o, len);

	struct mime_message *whole = parse_chunks(msg, len, &view_default, 0, 0);
	check_raw(whole, msg, len, true, "big");
	assert_int_equal(whole->nparts, 3);
	assert_int_equal(whole->parts[1].raw_body, strlen(head));
	assert_int_equal(whole->parts[1].raw_end, strlen(head) + lines * ll - 2);
	struct mime_message *bytes = parse_chunks(msg, len, &view_default, 1, 0);
	same_raw(whole, bytes, "big byte-wise");
	struct mime_message *pieces = parse_chunks(msg, len, &view_default, 5000, 9);
	same_raw(whole, pieces, "big pieces");
	mime_message_free(whole);
	mime_message_free(bytes);
	mime_message_free(pieces);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_decoded_unknown),
		cmocka_unit_test(test_limit_bounds),
		cmocka_unit_test(test_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
