/*
 * test_mime - unit tests for the streaming MIME parser.
 *
 * Most tables compare a one-line-per-part dump of the tree with the
 * expected text, so a failure shows the whole tree. Decoded sizes and
 * SHA-256 values in the tables were computed independently with Python
 * (hashlib, base64) from the decoded content written in the comments.
 * Every parse also checks the structural invariants, and the chunking
 * test parses every message of every table whole, a byte at a time and
 * in random pieces, in every view, and demands identical results.
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

static const struct mime_limits lim_default = {
	.max_depth = 20,
	.max_parts = 100,
	.max_header_length = 16384,
	.max_line_length = 65536,
	.max_decoded_size = 64u << 20,
};

static const struct mime_view view_default;
static const struct mime_view view_last = {.last_content_type = true, .last_cte = true};
static const struct mime_view view_strict = {.strict_base64 = true};
static const struct mime_view view_guess = {.guess_boundary = true};
static const struct mime_view view_decode = {.decode_multipart = true};
static const struct mime_view view_bare_cr = {.bare_cr_breaks_header = true};

/* check_invariants - what every parse must satisfy, whatever the input */
static void check_invariants(const struct mime_message *m, const struct mime_limits *l)
{
	unsigned all = 0;

	assert_true(m->nparts >= 1);
	assert_true(m->nparts <= (l->max_parts ? l->max_parts : 1));
	assert_int_equal(m->parts[0].parent, -1);
	assert_string_equal(m->parts[0].path, "1");
	assert_true((m->limit == MIME_LIMIT_NONE) == !(m->flags & MIME_LIMIT));
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		assert_true(p->depth <= l->max_depth);
		assert_non_null(p->content_type);
		assert_non_null(p->charset);
		assert_non_null(p->disposition);
		assert_non_null(p->filename);
		assert_true(strlen(p->extension) < sizeof(p->extension));
		assert_true((p->flags & ~((1u << MIME_FLAG_COUNT) - 1)) == 0);
		if (i > 0) {
			assert_true(p->parent >= 0 && (size_t)p->parent < i);
			assert_int_equal(p->depth, m->parts[p->parent].depth + 1);
		}
		if (p->leaf)
			assert_non_null(p->data);
		else
			assert_true(p->data == NULL && p->size == 0);
		all |= p->flags;
	}
	assert_int_equal(all, m->flags);
}

/* parse_chunks - parse msg cut into pieces: chunk 0 whole, 1 byte-wise, else random up to chunk */
static struct mime_message *parse_chunks(const char *msg, size_t len, const struct mime_view *v,
					 const struct mime_limits *l, size_t chunk, unsigned seed)
{
	struct mime_parser *p = mime_parser_new(l, v);
	size_t pos = 0;

	assert_non_null(p);
	while (pos < len) {
		size_t n = len - pos;
		if (chunk == 1)
			n = 1;
		else if (chunk > 1) {
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
	check_invariants(m, l);
	return m;
}

static struct mime_message *parse(const char *msg, size_t len, const struct mime_view *v)
{
	return parse_chunks(msg, len, v, &lim_default, 0, 0);
}

/* dump - the tree as text: "flags;limit" then one line per part */
static void dump(const struct mime_message *m, char *buf, size_t len, bool full)
{
	size_t o = 0;
	char fl[512];

	mime_flags_format(m->flags, fl, sizeof(fl));
	o += (size_t)snprintf(buf + o, len - o, "[%s] %s\n", fl, mime_limit_name(m->limit));
	for (size_t i = 0; i < m->nparts && o < len; i++) {
		const struct mime_part *p = &m->parts[i];
		o += (size_t)snprintf(buf + o, len - o, "%s %s %s", p->path, p->content_type,
				      mime_cte_name(p->cte));
		if (p->leaf && o < len) {
			o += (size_t)snprintf(buf + o, len - o, " %zu:", p->size);
			for (int k = 0; k < (full ? 32 : 4) && o < len; k++)
				o += (size_t)snprintf(buf + o, len - o, "%02x", p->sha256[k]);
		}
		if (p->filename[0] && o < len)
			o += (size_t)snprintf(buf + o, len - o, " name=\"%s\" ext=%s", p->filename,
					      p->extension);
		if (p->flags && o < len) {
			mime_flags_format(p->flags, fl, sizeof(fl));
			o += (size_t)snprintf(buf + o, len - o, " [%s]", fl);
		}
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "\n");
	}
}

/* hex32 - a SHA-256 as hex */
static void hex32(const unsigned char *h, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ------------------------------------------------------------------ messages */

/* decoded: "Hello world.\r\nSecond line.\r\n" (28 bytes, the last line ending kept at EOF) */
static const char msg_simple[] = "From: a@example.org\r\n"
				 "To: b@example.org\r\n"
				 "Subject: hello\r\n"
				 "\r\n"
				 "Hello world.\r\n"
				 "Second line.\r\n";

/*
 * 1.1 decoded: "Caf\xe9 au lait and more." (22 bytes: the soft break joins
 * the lines, the CRLF before the boundary belongs to it);
 * 1.2 decoded: "%PDF-1.4\n" followed by bytes 0..255 (265 bytes).
 */
static const char msg_mixed[] =
	"From: a@example.org\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n"
	"\r\n"
	"--=_b1\r\n"
	"Content-Type: text/plain; charset=ISO-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Caf=E9 au lait=\r\n"
	" and more.\r\n"
	"--=_b1\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment;\r\n"
	"\tfilename=\"Report 2024.PDF\"\r\n"
	"\r\n"
	"JVBERi0xLjQKAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\r\n"
	"MDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdo\r\n"
	"aWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6Ch\r\n"
	"oqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna\r\n"
	"29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\r\n"
	"--=_b1--\r\n";

/* Nesting three ways: multipart in multipart, message/rfc822, multipart inside that message. */
static const char msg_nested[] = "Content-Type: multipart/mixed; boundary=outer\n"
				 "\n"
				 "--outer\n"
				 "Content-Type: multipart/alternative; boundary=alt\n"
				 "\n"
				 "--alt\n"
				 "Content-Type: text/plain\n"
				 "\n"
				 "plain\n"
				 "--alt\n"
				 "Content-Type: text/html\n"
				 "\n"
				 "<p>html</p>\n"
				 "--alt--\n"
				 "--outer\n"
				 "Content-Type: message/rfc822\n"
				 "\n"
				 "From: inner@example.org\n"
				 "Subject: forwarded\n"
				 "Content-Type: multipart/mixed; boundary=in\n"
				 "\n"
				 "--in\n"
				 "\n"
				 "inner text\n"
				 "--in\n"
				 "Content-Type: application/zip\n"
				 "Content-Transfer-Encoding: base64\n"
				 "Content-Disposition: attachment; filename=a.zip\n"
				 "\n"
				 "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n"
				 "--in--\n"
				 "--outer--\n";

/* A uuencoded "Cat" inside a text part; the block's lines stay in the text. */
static const char msg_uu[] = "Subject: uu\n"
			     "\n"
			     "see attached\n"
			     "begin 644 cat.txt\n"
			     "#0V%T\n"
			     "`\n"
			     "end\n"
			     "bye\n";

/* ------------------------------------------------------------- tree tests */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	const struct mime_view *view;
	const char *want;
} tree_cases[] = {
	{"simple", S(msg_simple), &view_default,
	 "[] none\n"
	 "1 text/plain 7bit 28:c37f79c2\n"},
	{"mixed", S(msg_mixed), &view_default,
	 "[] none\n"
	 "1 multipart/mixed 7bit\n"
	 "1.1 text/plain quoted-printable 22:41f57f49\n"
	 "1.2 application/pdf base64 265:78b4129c name=\"Report 2024.PDF\" ext=pdf\n"},
	{"nested", S(msg_nested), &view_default,
	 "[] none\n"
	 "1 multipart/mixed 7bit\n"
	 "1.1 multipart/alternative 7bit\n"
	 "1.1.1 text/plain 7bit 5:a116c9ed\n"
	 "1.1.2 text/html 7bit 11:23ecabe4\n"
	 "1.2 message/rfc822 7bit\n"
	 "1.2.1 multipart/mixed 7bit\n"
	 "1.2.1.1 text/plain 7bit 10:9fdc8bc4\n"
	 "1.2.1.2 application/zip base64 22:8739c76e name=\"a.zip\" ext=zip\n"},
	{"uuencode", S(msg_uu), &view_default,
	 "[] none\n"
	 "1 text/plain 7bit 47:3c374933\n"
	 "1.1 application/octet-stream 7bit 3:48735c4f name=\"cat.txt\" ext=txt\n"},
	/* No header at all: the whole input is a text/plain body. */
	{"no header", S("just a body\n"), &view_default,
	 "[bad-header-syntax] none\n"
	 "1 text/plain 7bit 12:c18ab617 [bad-header-syntax]\n"},
	{"empty", S(""), &view_default,
	 "[] none\n"
	 "1 text/plain 7bit 0:e3b0c442\n"},
	/* Children of a digest default to message/rfc822. */
	{"digest", S("Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
		     "Subject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nsecond\n--d--\n"),
	 &view_default,
	 "[] none\n"
	 "1 multipart/digest 7bit\n"
	 "1.1 message/rfc822 7bit\n"
	 "1.1.1 text/plain 7bit 5:a7937b64\n"
	 "1.2 text/plain 7bit 6:16367aac\n"},
	{"message/global", S("Content-Type: message/global\n\nSubject: x\n\nbody\n"), &view_default,
	 "[] none\n"
	 "1 message/global 7bit\n"
	 "1.1 text/plain 7bit 5:9e2ec912\n"},
	/* An encoded multipart, read raw (default) and decoded (decode_multipart). The base64
	 * is "--A\r\nContent-Type: text/plain\r\n\r\nvirus\r\n--A--\r\n". */
	{"encoded raw",
	 S("Content-Type: multipart/mixed; boundary=A\nContent-Transfer-Encoding: base64\n\n"
	   "LS1BDQpDb250ZW50LVR5cGU6IHRleHQvcGxhaW4NCg0KdmlydXMNCi0tQS0tDQo=\n"),
	 &view_default,
	 "[boundary-not-found,preamble-content,encoded-multipart] none\n"
	 "1 multipart/mixed base64 [boundary-not-found,preamble-content,encoded-multipart]\n"},
	{"encoded decoded",
	 S("Content-Type: multipart/mixed; boundary=A\nContent-Transfer-Encoding: base64\n\n"
	   "LS1BDQpDb250ZW50LVR5cGU6IHRleHQvcGxhaW4NCg0KdmlydXMNCi0tQS0tDQo=\n"),
	 &view_decode,
	 "[encoded-multipart] none\n"
	 "1 multipart/mixed base64 [encoded-multipart]\n"
	 "1.1 text/plain 7bit 5:2898a07b\n"},
	/* A quoted-printable message/rfc822, decoded: "=3D" in the enclosed header. */
	{"encoded message decoded",
	 S("Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n"
	   "Content-Type: text/plain; name=3D\"x.txt\"\n\nhi=\nya\n"),
	 &view_decode,
	 "[encoded-multipart] none\n"
	 "1 message/rfc822 quoted-printable [encoded-multipart]\n"
	 "1.1 text/plain 7bit 6:f18a4506 name=\"x.txt\" ext=txt\n"},
	/* No boundary: a leaf by default; the guess view takes the first "--x" line. */
	{"missing boundary", S("Content-Type: multipart/mixed\n\n--zz\n\nguess\n--zz--\n"),
	 &view_default,
	 "[boundary-missing] none\n"
	 "1 multipart/mixed 7bit 19:275c7bb1 [boundary-missing]\n"},
	{"guessed boundary", S("Content-Type: multipart/mixed\n\n--zz\n\nguess\n--zz--\n"),
	 &view_guess,
	 "[boundary-missing] none\n"
	 "1 multipart/mixed 7bit [boundary-missing]\n"
	 "1.1 text/plain 7bit 5:f1abe1b0\n"},
	/* A part that ends after its header (RFC 2046 allows it), and a part with no header. */
	{"cut header", S("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: image/gif\n"
			 "--b\n\nx\n--b--\n"),
	 &view_default,
	 "[] none\n"
	 "1 multipart/mixed 7bit\n"
	 "1.1 image/gif 7bit 0:e3b0c442\n"
	 "1.2 text/plain 7bit 1:2d711642\n"},
	/* The header of a part missing its blank line: the boundary still counts. */
	{"no blank line", S("Content-Type: multipart/mixed; boundary=b\n--b\n\nx\n--b--\n"),
	 &view_default,
	 "[bad-header-syntax] none\n"
	 "1 multipart/mixed 7bit [bad-header-syntax]\n"
	 "1.1 text/plain 7bit 1:2d711642\n"},
	/* Transport padding after a boundary, and a close of an outer boundary that ends
	 * an inner multipart left open. */
	{"padding and outer close",
	 S("Content-Type: multipart/mixed; boundary=o\n\n--o \t\nContent-Type: multipart/mixed; "
	   "boundary=i\n\n--i\n\na\n--o--  \n"),
	 &view_default,
	 "[boundary-unclosed] none\n"
	 "1 multipart/mixed 7bit\n"
	 "1.1 multipart/mixed 7bit [boundary-unclosed]\n"
	 "1.1.1 text/plain 7bit 1:ca978112\n"},
	/* "--b-x" is not a boundary "b": only white space may follow. */
	{"boundary prefix line", S("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b-x\n--bb\n--b--\n"),
	 &view_default,
	 "[] none\n"
	 "1 multipart/mixed 7bit\n"
	 "1.1 text/plain 7bit 10:595f888c\n"},
	/* message/partial is a leaf. */
	{"partial", S("Content-Type: message/partial; id=x; number=1\n\nSubject: a\n\nb\n"),
	 &view_default,
	 "[message-partial] none\n"
	 "1 message/partial 7bit 14:26ce9c62 [message-partial]\n"},
};

/* test_trees - each message gives the expected tree */
static void test_trees(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(tree_cases); i++) {
		struct mime_message *m = parse(tree_cases[i].msg, tree_cases[i].len, tree_cases[i].view);
		char got[4096];
		dump(m, got, sizeof(got), false);
		if (strcmp(got, tree_cases[i].want) != 0)
			fail_msg("%s: got\n%swant\n%s", tree_cases[i].name, got, tree_cases[i].want);
		mime_message_free(m);
	}
}

/* test_mixed_details - every field of the multipart/mixed example, full hashes */
static void test_mixed_details(void **state)
{
	(void)state;
	struct mime_message *m = parse(S(msg_mixed), &view_default);
	char hex[65];

	assert_int_equal(m->nparts, 3);
	assert_int_equal(m->flags, 0);
	const struct mime_part *t = &m->parts[1], *a = &m->parts[2];
	assert_string_equal(t->charset, "iso-8859-1");
	assert_string_equal(t->disposition, "");
	assert_int_equal(t->size, 22);
	assert_memory_equal(t->data, "Caf\xe9 au lait and more.", 22);
	hex32(t->sha256, hex);
	assert_string_equal(hex, "41f57f49d4c4da656507ca6b0c17e888f3b5ed39010c2d65d7ac47f4d8cc9c31");

	assert_int_equal(a->parent, 0);
	assert_int_equal(a->depth, 1);
	assert_string_equal(a->path, "1.2");
	assert_string_equal(a->disposition, "attachment");
	assert_int_equal(a->cte, MIME_CTE_BASE64);
	assert_int_equal(a->size, 265);
	assert_memory_equal(a->data, "%PDF-1.4\n", 9);
	for (int k = 0; k < 256; k++)
		assert_int_equal(a->data[9 + k], k);
	hex32(a->sha256, hex);
	assert_string_equal(hex, "78b4129cb074a123b61d6e878b89121682f823faecc6b76efdd90761be0976a5");
	/* Every filename source, in the order found; the best one by source. */
	assert_int_equal(a->nnames, 2);
	assert_int_equal(a->names[0].source, MIME_NAME_CONTENT_TYPE);
	assert_string_equal(a->names[0].name, "report.pdf");
	assert_int_equal(a->names[1].source, MIME_NAME_DISPOSITION);
	assert_string_equal(a->names[1].name, "Report 2024.PDF");
	assert_string_equal(a->filename, "Report 2024.PDF");
	assert_string_equal(a->extension, "pdf");

	/* The header block: every byte up to the blank line. */
	const char *body = strstr(msg_mixed, "\r\n\r\n");
	assert_int_equal(m->header_len, (size_t)(body - msg_mixed) + 2);
	assert_memory_equal(m->header_block, msg_mixed, m->header_len);

	/* parts[0] of the simple message: 7bit keeps its line endings, the last one too. */
	mime_message_free(m);
	m = parse(S(msg_simple), &view_default);
	assert_int_equal(m->parts[0].size, 28);
	assert_memory_equal(m->parts[0].data, "Hello world.\r\nSecond line.\r\n", 28);
	hex32(m->parts[0].sha256, hex);
	assert_string_equal(hex, "c37f79c20e4f14333d72dd8d6e1a7bc7078714f8c1034e718250dffb037acebd");
	mime_message_free(m);
}

/* test_line_endings - 7bit keeps LF or CRLF as sent; the ending before a boundary is dropped */
static void test_line_endings(void **state)
{
	(void)state;
	static const struct {
		const char *msg;
		size_t len;
		const char *data;
		size_t dlen;
	} cases[] = {
		{S("\na\nb\n"), S("a\nb\n")},
		{S("\r\na\r\nb\r\n"), S("a\r\nb\r\n")},
		{S("\r\na\r\nb"), S("a\r\nb")},
		{S("Content-Type: multipart/mixed; boundary=q\n\n--q\n\na\nb\n--q--\n"), S("a\nb")},
		{S("Content-Type: multipart/mixed; boundary=q\n\n--q\n\na\n\n--q--\n"), S("a\n")},
		{S("Content-Type: multipart/mixed; boundary=q\n\n--q\n\n--q--\n"), S("")},
		/* QP writes CRLF for hard breaks, whatever the input used */
		{S("Content-Transfer-Encoding: quoted-printable\n\na\nb=\nc\n"), S("a\r\nbc\r\n")},
		/* a bare CR in a body line is content */
		{S("\na\rb\n"), S("a\rb\n")},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct mime_message *m = parse(cases[i].msg, cases[i].len, &view_default);
		const struct mime_part *leaf = &m->parts[m->nparts - 1];
		if (leaf->size != cases[i].dlen || memcmp(leaf->data, cases[i].data, leaf->size) != 0)
			fail_msg("case %zu: got %zu bytes \"%.*s\"", i, leaf->size, (int)leaf->size,
				 leaf->data);
		mime_message_free(m);
	}
}

/* ------------------------------------------------------------- flag tests */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	const struct mime_view *view;
	unsigned want; /* exactly these flags */
} flag_cases[] = {
	{"clean simple", S(msg_simple), &view_default, 0},
	{"clean mixed", S(msg_mixed), &view_default, 0},
	{"clean nested", S(msg_nested), &view_default, 0},
	{"duplicate content-type",
	 S("Content-Type: text/plain\nContent-Type: text/html\n\nx\n"), &view_default,
	 MIME_DUP_CONTENT_TYPE},
	{"duplicate cte",
	 S("Content-Transfer-Encoding: 7bit\nContent-Transfer-Encoding: base64\n\neA==\n"),
	 &view_default, MIME_DUP_CTE},
	{"boundary missing", S("Content-Type: multipart/mixed\n\nx\n"), &view_default,
	 MIME_BOUNDARY_MISSING},
	{"boundary empty", S("Content-Type: multipart/mixed; boundary=\"\"\n\nx\n"), &view_default,
	 MIME_BOUNDARY_MISSING},
	{"boundary unclosed", S("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n"),
	 &view_default, MIME_BOUNDARY_UNCLOSED},
	{"boundary reused",
	 S("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; "
	   "boundary=b\n\n--b\n\nx\n--b--\n--b--\n"),
	 &view_default, MIME_BOUNDARY_REUSED},
	{"boundary prefix reused",
	 S("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; "
	   "boundary=bb\n\n--bb\n\nx\n--bb--\n--b--\n"),
	 &view_default, MIME_BOUNDARY_REUSED},
	{"boundary not found", S("Content-Type: multipart/mixed; boundary=b\n\n--c\n\nx\n"),
	 &view_default, MIME_BOUNDARY_NOT_FOUND | MIME_PREAMBLE_CONTENT},
	{"guess finds nothing", S("Content-Type: multipart/mixed\n\n\nx\n"), &view_guess,
	 MIME_BOUNDARY_MISSING | MIME_BOUNDARY_NOT_FOUND | MIME_PREAMBLE_CONTENT},
	{"base64 junk", S("Content-Transfer-Encoding: base64\n\nZm9v!YmFy\n"), &view_default,
	 MIME_BASE64_INVALID},
	{"base64 no padding", S("Content-Transfer-Encoding: base64\n\nZm9vYg\n"), &view_default,
	 MIME_BASE64_INVALID},
	{"qp bad escape", S("Content-Transfer-Encoding: quoted-printable\n\na=ZZ\n"), &view_default,
	 MIME_QP_INVALID},
	{"header nul", S("Subject: a\0b\n\nx\n"), &view_default, MIME_HEADER_NUL},
	{"header bare cr", S("Subject: a\rb\r\n\r\nx\r\n"), &view_default, MIME_HEADER_BARE_CR},
	{"header 8bit", S("Subject: caf\xc3\xa9\n\nx\n"), &view_default, MIME_HEADER_8BIT},
	{"partial", S("Content-Type: message/partial; number=2\n\nx\n"), &view_default,
	 MIME_PARTIAL},
	{"preamble", S("Content-Type: multipart/mixed; boundary=b\n\nThis is MIME.\n--b\n\nx\n--b--\n"),
	 &view_default, MIME_PREAMBLE_CONTENT},
	{"blank preamble and epilogue",
	 S("Content-Type: multipart/mixed; boundary=b\n\n \n\t\n--b\n\nx\n--b--\n\n  \n"),
	 &view_default, 0},
	{"epilogue", S("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\nhidden\n"),
	 &view_default, MIME_EPILOGUE_CONTENT},
	{"part after close", S("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n--b\n\ny\n"),
	 &view_default, MIME_EPILOGUE_CONTENT},
	{"mixed eol", S("Subject: a\r\n\r\nx\ny\r\n"), &view_default, MIME_MIXED_EOL},
	{"unknown cte", S("Content-Transfer-Encoding: x-gzip64\n\nabc\n"), &view_default,
	 MIME_UNKNOWN_CTE},
	{"no colon", S("Subject: a\nthis is not a header\n\nx\n"), &view_default,
	 MIME_BAD_HEADER_SYNTAX},
	{"blank continuation", S("Subject: a\n \nTo: b\n\nx\n"), &view_default,
	 MIME_BAD_HEADER_SYNTAX},
	{"bad content-type", S("Content-Type: text\n\nx\n"), &view_default, MIME_BAD_HEADER_SYNTAX},
	{"encoded multipart",
	 S("Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: quoted-printable\n\n"
	   "--b\n\nx\n--b--\n"),
	 &view_default, MIME_ENCODED_MULTIPART},
	{"encoded message",
	 S("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n"),
	 &view_decode, MIME_ENCODED_MULTIPART},
	/* An mbox "From " line at the very top is not a header error. */
	{"mbox from", S("From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\ny\n"), &view_default, 0},
	{"duplicate boundary parameter",
	 S("Content-Type: multipart/mixed; boundary=a; boundary=b\n\n--a\n\nx\n--a--\n"), &view_default,
	 MIME_DUP_PARAMETER | MIME_BAD_HEADER_SYNTAX},
	{"filename plain and RFC 2231",
	 S("Content-Disposition: attachment; filename=x.exe; filename*=utf-8''x.txt\n\nx\n"),
	 &view_default, MIME_DUP_PARAMETER},
};

/* test_flags - each anomaly sets its flag, and only it; clean messages set none */
static void test_flags(void **state)
{
	(void)state;
	unsigned covered = 0;

	for (size_t i = 0; i < NELEM(flag_cases); i++) {
		struct mime_message *m = parse(flag_cases[i].msg, flag_cases[i].len, flag_cases[i].view);
		char got[512], want[512];
		mime_flags_format(m->flags, got, sizeof(got));
		mime_flags_format(flag_cases[i].want, want, sizeof(want));
		if (m->flags != flag_cases[i].want)
			fail_msg("%s: got [%s], want [%s]", flag_cases[i].name, got, want);
		covered |= m->flags;
		mime_message_free(m);
	}
	/* Every flag but MIME_LIMIT (test_limits) has a case above. */
	assert_int_equal(covered | MIME_LIMIT, (1u << MIME_FLAG_COUNT) - 1);
}

/* ------------------------------------------------------------- view tests */

/* Two Content-Type headers with different boundaries: the first and the last give two trees. */
static const char msg_dup_ct[] = "Content-Type: multipart/mixed; boundary=one\n"
				 "Content-Type: multipart/mixed; boundary=two\n"
				 "\n"
				 "--one\n"
				 "Content-Type: text/plain\n"
				 "\n"
				 "first reading\n"
				 "--two\n"
				 "Content-Type: application/x-msdownload; name=evil.exe\n"
				 "Content-Transfer-Encoding: base64\n"
				 "\n"
				 "TVqQAA==\n"
				 "--two--\n"
				 "--one--\n";

/* test_view_duplicate_ct - first and last Content-Type give different trees */
static void test_view_duplicate_ct(void **state)
{
	(void)state;
	char got[2048];

	struct mime_message *m = parse(S(msg_dup_ct), &view_default);
	dump(m, got, sizeof(got), false);
	assert_string_equal(got, "[duplicate-content-type] none\n"
				 "1 multipart/mixed 7bit [duplicate-content-type]\n"
				 "1.1 text/plain 7bit 125:e3eccee7\n");
	mime_message_free(m);

	m = parse(S(msg_dup_ct), &view_last);
	dump(m, got, sizeof(got), false);
	assert_string_equal(got,
			    "[duplicate-content-type,preamble-content,epilogue-content] none\n"
			    "1 multipart/mixed 7bit [duplicate-content-type,preamble-content,"
			    "epilogue-content]\n"
			    "1.1 application/x-msdownload base64 4:9f2981a7 name=\"evil.exe\" ext=exe\n");
	assert_memory_equal(m->parts[1].data, "MZ\x90\x00", 4);
	mime_message_free(m);
}

/* test_view_base64 - strict and lenient base64 give different bytes for junk */
static void test_view_base64(void **state)
{
	(void)state;
	static const char msg[] = "Content-Type: application/octet-stream\n"
				  "Content-Transfer-Encoding: base64\n"
				  "\n"
				  "Zm9vYmFy\n"
				  "!! footer by list !!\n"
				  "ZXZpbA==\n";
	struct mime_message *a = parse(S(msg), &view_default);
	struct mime_message *b = parse(S(msg), &view_strict);

	assert_true(a->flags & MIME_BASE64_INVALID);
	assert_true(b->flags & MIME_BASE64_INVALID);
	/* lenient: the footer's 12 letters decode too, then "evil" */
	assert_true(a->parts[0].size > 6);
	assert_memory_equal(a->parts[0].data, "foobar", 6);
	assert_memory_equal(a->parts[0].data + a->parts[0].size - 4, "evil", 4);
	/* strict: stops at the first junk byte */
	assert_int_equal(b->parts[0].size, 6);
	assert_memory_equal(b->parts[0].data, "foobar", 6);
	assert_memory_not_equal(a->parts[0].sha256, b->parts[0].sha256, 32);
	mime_message_free(a);
	mime_message_free(b);
}

/* test_view_cte - first and last transfer encoding */
static void test_view_cte(void **state)
{
	(void)state;
	static const char msg[] = "Content-Transfer-Encoding: base64\n"
				  "Content-Transfer-Encoding: 7bit\n"
				  "\n"
				  "aGk=\n";
	struct mime_message *a = parse(S(msg), &view_default);
	struct mime_message *b = parse(S(msg), &view_last);

	assert_int_equal(a->parts[0].cte, MIME_CTE_BASE64);
	assert_int_equal(a->parts[0].size, 2);
	assert_memory_equal(a->parts[0].data, "hi", 2);
	assert_int_equal(b->parts[0].cte, MIME_CTE_7BIT);
	assert_int_equal(b->parts[0].size, 5);
	assert_memory_equal(b->parts[0].data, "aGk=\n", 5);
	mime_message_free(a);
	mime_message_free(b);
}

/* ------------------------------------------------------------ name tests */

static const struct {
	const char *headers;
	const char *best;
	const char *ext;
	size_t nnames;
} name_cases[] = {
	{"Content-Disposition: attachment; filename=\"a.TXT\"\n", "a.TXT", "txt", 1},
	{"Content-Type: application/octet-stream; name=\"b.Bin\"\n", "b.Bin", "bin", 1},
	/* disposition wins over content type, whatever the order */
	{"Content-Type: x/y; name=ct.doc\nContent-Disposition: attachment; filename=cd.pdf\n", "cd.pdf",
	 "pdf", 2},
	{"Content-Disposition: attachment; filename=\"\"\nContent-Type: x/y; name=ct.doc\n", "ct.doc",
	 "doc", 1},
	/* trailing dots and spaces, paths, no extension, long extension */
	{"Content-Disposition: attachment; filename=\"x.exe. . \"\n", "x.exe. . ", "exe", 1},
	{"Content-Disposition: attachment; filename=\"dir\\\\sub.d/invoice\"\n", "dir\\sub.d/invoice", "",
	 1},
	{"Content-Disposition: attachment; filename=\"archive.TAR.GZ\"\n", "archive.TAR.GZ", "gz", 1},
	{"Content-Disposition: attachment; filename=noext\n", "noext", "", 1},
	{"Content-Disposition: attachment; filename=\"...\"\n", "...", "", 1},
	{"Content-Disposition: attachment; filename=\"a.0123456789012345678901234567890123456789\"\n",
	 "a.0123456789012345678901234567890123456789", "0123456789012345678901234567890", 1},
	/* RFC 2231 and RFC 2047, decoded by mimehdr */
	{"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.EXE\n", "\xe2\x82\xac.EXE", "exe",
	 1},
	{"Content-Disposition: attachment; filename*0=\"long\"; filename*1=\"name.scr\"\n",
	 "longname.scr", "scr", 1},
	{"Content-Type: x/y; name=\"=?UTF-8?B?w6l0w6kucGlm?=\"\n", "\xc3\xa9t\xc3\xa9.pif", "pif", 1},
	/* names from every header, duplicates included */
	{"Content-Disposition: attachment; filename=one.txt\n"
	 "Content-Disposition: attachment; filename=two.exe\n",
	 "one.txt", "txt", 2},
};

/* test_names - best filename, extension and the number of sources */
static void test_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(name_cases); i++) {
		char msg[1024];
		int n = snprintf(msg, sizeof(msg), "%s\nbody\n", name_cases[i].headers);
		struct mime_message *m = parse(msg, (size_t)n, &view_default);
		const struct mime_part *p = &m->parts[0];
		if (strcmp(p->filename, name_cases[i].best) != 0 ||
		    strcmp(p->extension, name_cases[i].ext) != 0 || p->nnames != name_cases[i].nnames)
			fail_msg("case %zu: got \"%s\" ext \"%s\" %zu names", i, p->filename, p->extension,
				 p->nnames);
		mime_message_free(m);
	}
}

/* test_uu_name - the uuencode name is a source too, and is made printable */
static void test_uu_name(void **state)
{
	(void)state;
	static const char msg[] = "Content-Type: text/plain; name=cover.txt\n"
				  "\n"
				  "begin 755 run\x01me.EXE\n"
				  "#0V%T\n"
				  "end\n";
	struct mime_message *m = parse(S(msg), &view_default);

	assert_int_equal(m->nparts, 2);
	assert_string_equal(m->parts[0].filename, "cover.txt");
	assert_string_equal(m->parts[1].filename, "run?me.EXE");
	assert_string_equal(m->parts[1].extension, "exe");
	assert_int_equal(m->parts[1].names[0].source, MIME_NAME_UUENCODE);
	assert_int_equal(m->parts[1].size, 3);
	assert_memory_equal(m->parts[1].data, "Cat", 3);
	mime_message_free(m);
}

/* ------------------------------------------------------------ limit tests */

static char *nest(unsigned levels, size_t *len)
{
	size_t cap = 256 + levels * 128;
	char *s = malloc(cap);
	size_t o = 0;

	assert_non_null(s);
	for (unsigned i = 0; i < levels; i++)
		o += (size_t)snprintf(s + o, cap - o,
				      "Content-Type: multipart/mixed; boundary=b%u\n\n--b%u\n", i, i);
	o += (size_t)snprintf(s + o, cap - o, "\nleaf\n");
	for (unsigned i = levels; i-- > 0;)
		o += (size_t)snprintf(s + o, cap - o, "--b%u--\n", i);
	*len = o;
	return s;
}

/* test_limits - each limit stops the parse, is named, and leaves a sane tree */
static void test_limits(void **state)
{
	(void)state;
	struct mime_limits l = lim_default;
	struct mime_message *m;
	size_t len;
	char *s;

	/* depth: 5 nested multiparts put the leaf at depth 5 */
	s = nest(5, &len);
	l.max_depth = 5;
	m = parse_chunks(s, len, &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	mime_message_free(m);
	l.max_depth = 4;
	m = parse_chunks(s, len, &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_DEPTH);
	assert_true(m->flags & MIME_LIMIT);
	assert_string_equal(m->limit_detail, "nesting depth 5 over mime_max_depth 4");
	mime_message_free(m);
	free(s);

	/* parts: the message and two children make 3 */
	static const char three[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\na\n--b\n\nb\n--b--\n";
	l = lim_default;
	l.max_parts = 3;
	m = parse_chunks(S(three), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	mime_message_free(m);
	l.max_parts = 2;
	m = parse_chunks(S(three), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_PARTS);
	assert_int_equal(m->nparts, 2);
	assert_string_equal(m->limit_detail, "part 3 over mime_max_parts 2");
	mime_message_free(m);

	/* header length: unfolded, so a folded field counts whole */
	static const char folded[] = "Subject: 0123456789\n 0123456789\n 0123456789\n\nx\n";
	l = lim_default;
	l.max_header_length = 41; /* "Subject: 0123456789" + 2 x " 0123456789" = 41 */
	m = parse_chunks(S(folded), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	mime_message_free(m);
	l.max_header_length = 40;
	m = parse_chunks(S(folded), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_HEADER_LENGTH);
	mime_message_free(m);

	/* line length, not counting the line ending */
	static const char lines[] = "\n0123456789\r\nabc\n";
	l = lim_default;
	l.max_line_length = 10;
	m = parse_chunks(S(lines), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	mime_message_free(m);
	l.max_line_length = 9;
	for (size_t chunk = 0; chunk < 4; chunk++) {
		m = parse_chunks(S(lines), &view_default, &l, chunk, 7);
		assert_int_equal(m->limit, MIME_LIMIT_LINE_LENGTH);
		assert_string_equal(m->limit_detail, "line over mime_max_line_length 9");
		mime_message_free(m);
	}

	/* decoded size across all leaves: 2 + 3 bytes */
	static const char two[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
				  "Content-Transfer-Encoding: base64\n\naGk=\n--b\n\nabc\n--b--\n";
	l = lim_default;
	l.max_decoded_size = 5;
	m = parse_chunks(S(two), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	mime_message_free(m);
	l.max_decoded_size = 4;
	m = parse_chunks(S(two), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_DECODED_SIZE);
	assert_int_equal(m->parts[1].size + m->parts[2].size, 4);
	assert_memory_equal(m->parts[2].data, "ab", 2);
	mime_message_free(m);
}

/* test_limit_stops_reading - after a limit, more input is accepted and ignored */
static void test_limit_stops_reading(void **state)
{
	(void)state;
	struct mime_limits l = lim_default;
	l.max_line_length = 100;
	struct mime_parser *p = mime_parser_new(&l, NULL);
	char big[4096];

	memset(big, 'x', sizeof(big));
	assert_int_equal(mime_parser_feed(p, "\n", 1), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(mime_parser_feed(p, big, sizeof(big)), 0);
	struct mime_message *m = mime_parser_finish(p);
	assert_int_equal(m->limit, MIME_LIMIT_LINE_LENGTH);
	assert_int_equal(m->parts[0].size, 0);
	mime_message_free(m);
}

/* -------------------------------------------------------- chunking test */

/* big_message - attachments, QP, uuencode, nesting and junk in one message */
static char *big_message(size_t *len)
{
	size_t cap = 1 << 20, o = 0;
	char *s = malloc(cap);
	unsigned seed = 99;

	assert_non_null(s);
	o += (size_t)snprintf(s + o, cap - o,
			      "From: x@example.org\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n"
			      "\r\npreamble\r\n");
	for (int part = 0; part < 4; part++) {
		o += (size_t)snprintf(s + o, cap - o,
				      "--big\r\nContent-Type: application/octet-stream; name=f%d.bin\r\n"
				      "Content-Transfer-Encoding: base64\r\n\r\n",
				      part);
		static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (int line = 0; line < 400 * (part + 1); line++) {
			for (int k = 0; k < 76; k++) {
				seed = seed * 1103515245 + 12345;
				s[o++] = a[(seed >> 16) & 63];
			}
			if (part == 3 && line == 7)
				s[o++] = '!'; /* junk: lenient and strict differ */
			o += (size_t)snprintf(s + o, cap - o, "%s", line % 50 == 49 && part == 2 ? "\n" : "\r\n");
		}
	}
	o += (size_t)snprintf(s + o, cap - o,
			      "--big\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: "
			      "quoted-printable\r\n\r\nsoft=\r\n break =3D ok=\r\nbegin 644 q.txt\r\n"
			      "#0V%%T\r\nend\r\n--big\r\nContent-Type: message/rfc822\r\n\r\n"
			      "Subject: in\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n\r\n"
			      "begin 600 x.exe\r\n-2&5L;&\\L(%%=O<FQD(0``\r\n`\r\nend\r\n--big--\r\n"
			      "epilogue\r\n");
	*len = o;
	return s;
}

/* same_result - two parses of one input must agree in every detail */
static void same_result(const struct mime_message *a, const struct mime_message *b, const char *what)
{
	char da[8192], db[8192];

	dump(a, da, sizeof(da), true);
	dump(b, db, sizeof(db), true);
	if (strcmp(da, db) != 0)
		fail_msg("%s: trees differ\n%s---\n%s", what, da, db);
	assert_string_equal(a->limit_detail, b->limit_detail);
	assert_int_equal(a->header_len, b->header_len);
	for (size_t i = 0; i < a->nparts; i++) {
		assert_int_equal(a->parts[i].size, b->parts[i].size);
		if (a->parts[i].size)
			assert_memory_equal(a->parts[i].data, b->parts[i].data, a->parts[i].size);
		assert_int_equal(a->parts[i].nnames, b->parts[i].nnames);
	}
}

/* chunk_check - whole, byte-wise and random pieces agree, in every view and some limits */
static void chunk_check(const char *msg, size_t len, const char *name)
{
	static const struct mime_view *views[] = {&view_default, &view_last,   &view_strict,
						  &view_guess,   &view_decode, &view_bare_cr};
	struct mime_limits tight = lim_default;
	tight.max_decoded_size = 1000;
	tight.max_line_length = 70;
	tight.max_parts = 4;
	const struct mime_limits *lims[] = {&lim_default, &tight};

	for (size_t v = 0; v < NELEM(views); v++)
		for (size_t l = 0; l < NELEM(lims); l++) {
			struct mime_message *whole = parse_chunks(msg, len, views[v], lims[l], 0, 0);
			static const size_t chunks[] = {1, 2, 3, 7, 64, 1000, 70000};
			for (size_t c = 0; c < NELEM(chunks); c++) {
				if (chunks[c] == 1 && len > 200000)
					continue; /* byte-wise on the big one is slow under ASan */
				struct mime_message *m =
					parse_chunks(msg, len, views[v], lims[l], chunks[c], (unsigned)(c + 1));
				char what[128];
				snprintf(what, sizeof(what), "%s view %zu limits %zu chunk %zu", name, v, l,
					 chunks[c]);
				same_result(whole, m, what);
				mime_message_free(m);
			}
			mime_message_free(whole);
		}
}

/* test_chunking - the result never depends on how the input is cut */
static void test_chunking(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(tree_cases); i++)
		chunk_check(tree_cases[i].msg, tree_cases[i].len, tree_cases[i].name);
	for (size_t i = 0; i < NELEM(flag_cases); i++)
		chunk_check(flag_cases[i].msg, flag_cases[i].len, flag_cases[i].name);
	chunk_check(S(msg_dup_ct), "dup ct");

	size_t len;
	char *big = big_message(&len);
	struct mime_message *m = parse(big, len, &view_default);
	assert_int_equal(m->nparts, 10);
	assert_int_equal(m->flags, MIME_BASE64_INVALID | MIME_PREAMBLE_CONTENT |
					   MIME_EPILOGUE_CONTENT | MIME_MIXED_EOL |
					   MIME_DUP_CONTENT_TYPE);
	assert_string_equal(m->parts[6].filename, "q.txt");
	assert_string_equal(m->parts[9].filename, "x.exe");
	assert_int_equal(m->parts[9].size, 13);
	assert_memory_equal(m->parts[9].data, "Hello, World!", 13);
	mime_message_free(m);
	chunk_check(big, len, "big");
	free(big);
}

/* ------------------------------------------------------------ edge cases */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	const struct mime_view *view;
	const char *want;
} edge_cases[] = {
	/* the last of three duplicates, and a field name with space before the colon */
	{"third duplicate",
	 S("Content-Type: text/a\nContent-Type: text/b\nContent-Type : text/c\n"
	   "Content-Transfer-Encoding: base64\nContent-Transfer-Encoding: 8bit\n"
	   "Content-Transfer-Encoding: binary\n\nx\n"),
	 &view_last,
	 "[duplicate-content-type,duplicate-cte] none\n"
	 "1 text/c binary 2:73cb3858 [duplicate-content-type,duplicate-cte]\n"},
	{"8bit", S("Content-Transfer-Encoding: 8BIT\n\n\xe9\n"), &view_default,
	 "[] none\n"
	 "1 text/plain 8bit 2:0ab5a955\n"},
	{"empty cte", S("Content-Transfer-Encoding:\n\nx\n"), &view_default,
	 "[bad-header-syntax] none\n"
	 "1 text/plain 7bit 2:73cb3858 [bad-header-syntax]\n"},
	/* a uuencode block the part ends before "end", and "end" with trailing blanks */
	{"uu without end",
	 S("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbegin 644 a.bin\n#0V%T\n--b\n\n"
	   "begin 644 b.bin\n#0V%T\nend \t\nafter\n--b--\n"),
	 &view_default,
	 "[] none\n"
	 "1 multipart/mixed 7bit\n"
	 "1.1 text/plain 7bit 21:6834a891\n"
	 "1.1.1 application/octet-stream 7bit 3:48735c4f name=\"a.bin\" ext=bin\n"
	 "1.2 text/plain 7bit 33:b355f8c6\n"
	 "1.2.1 application/octet-stream 7bit 3:48735c4f name=\"b.bin\" ext=bin\n"},
	/* uuencode in a quoted-printable text part is found in the decoded lines */
	{"uu in qp",
	 S("Content-Transfer-Encoding: quoted-printable\n\nbegin 644 q=2Ebin\n#0V%T\nend\n"),
	 &view_default,
	 "[] none\n"
	 "1 text/plain quoted-printable 29:75ddeb02\n"
	 "1.1 application/octet-stream 7bit 3:48735c4f name=\"q.bin\" ext=bin\n"},
	/* a guessed boundary skips a bare "--" line (preamble text) and trailing blanks */
	{"guess with padding", S("Content-Type: multipart/mixed\n\n--\n--g  \n\nx\n--g--\n"),
	 &view_guess,
	 "[boundary-missing,preamble-content] none\n"
	 "1 multipart/mixed 7bit [boundary-missing,preamble-content]\n"
	 "1.1 text/plain 7bit 1:2d711642\n"},
	/* an encoded container whose decoding needed tolerance */
	{"encoded unpadded",
	 S("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQ\n"),
	 &view_decode,
	 "[base64-invalid,encoded-multipart] none\n"
	 "1 message/rfc822 base64 [base64-invalid,encoded-multipart]\n"
	 "1.1 text/plain 7bit 1:a1fce436\n"},
	{"encoded bad qp",
	 S("Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n"
	   "Subject: =ZZ\n\nbody\n"),
	 &view_decode,
	 "[qp-invalid,encoded-multipart] none\n"
	 "1 message/rfc822 quoted-printable [qp-invalid,encoded-multipart]\n"
	 "1.1 text/plain 7bit 6:0a4e52a1\n"},
};

/* test_edge_cases - less common branches, each against its expected tree */
static void test_edge_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(edge_cases); i++) {
		struct mime_message *m = parse(edge_cases[i].msg, edge_cases[i].len, edge_cases[i].view);
		char got[4096];
		dump(m, got, sizeof(got), false);
		if (strcmp(got, edge_cases[i].want) != 0)
			fail_msg("%s: got\n%swant\n%s", edge_cases[i].name, got, edge_cases[i].want);
		mime_message_free(m);
		chunk_check(edge_cases[i].msg, edge_cases[i].len, edge_cases[i].name);
	}
}

/* test_deep_path - a path too long for its field is cut, marked and terminated */
static void test_deep_path(void **state)
{
	(void)state;
	struct mime_limits l = lim_default;
	size_t len;
	char *s = nest(40, &len);

	l.max_depth = 50;
	struct mime_message *m = parse_chunks(s, len, &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	assert_int_equal(m->nparts, 41);
	const struct mime_part *leaf = &m->parts[40];
	assert_int_equal(leaf->depth, 40);
	assert_int_equal(strlen(leaf->path), sizeof(leaf->path) - 1);
	assert_int_equal(leaf->path[sizeof(leaf->path) - 2], '~');
	assert_string_equal(m->parts[30].path, "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1");
	mime_message_free(m);
	free(s);

	/* max_parts 0 still gives part 0 */
	l = lim_default;
	l.max_parts = 0;
	m = parse_chunks(S(msg_simple), &view_default, &l, 0, 0);
	assert_int_equal(m->nparts, 1);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	mime_message_free(m);
}

/* test_name_cleaning - raw names become valid UTF-8 without control characters */
static void test_name_cleaning(void **state)
{
	(void)state;
	static const struct {
		const char *raw;
		const char *clean;
	} cases[] = {
		{"smile\xf0\x9f\x98\x80.txt", "smile\xf0\x9f\x98\x80.txt"},
		{"bad\xff.exe", "bad?.exe"},
		{"overlong\xc0\xaf.exe", "overlong??.exe"},
		{"surrogate\xed\xa0\x80.exe", "surrogate???.exe"},
		{"cut\xe2\x82", "cut??"},
		{"tab\there\x7f", "tab?here?"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		char msg[256];
		int n = snprintf(msg, sizeof(msg), "\nbegin 644 %s\n#0V%%T\nend\n", cases[i].raw);
		struct mime_message *m = parse(msg, (size_t)n, &view_default);
		assert_int_equal(m->nparts, 2);
		if (strcmp(m->parts[1].filename, cases[i].clean) != 0)
			fail_msg("case %zu: got \"%s\"", i, m->parts[1].filename);
		mime_message_free(m);
	}
}

/* test_header_block_cap - the header block stops at max_header_length bytes */
static void test_header_block_cap(void **state)
{
	(void)state;
	static const char msg[] = "Subject: 0123456789\nTo: 0123456789\nFrom: 0123456789\n\nx\n";
	struct mime_limits l = lim_default;

	l.max_header_length = 25;
	struct mime_message *m = parse_chunks(S(msg), &view_default, &l, 0, 0);
	assert_int_equal(m->limit, MIME_LIMIT_NONE);
	assert_int_equal(m->header_len, 25);
	assert_memory_equal(m->header_block, msg, 25);
	assert_int_equal(m->header_block[25], '\0');
	assert_int_equal(m->parts[0].size, 2);
	mime_message_free(m);
}

/* ------------------------------------------------------------ the rest */

/* test_names_api - flag, limit and encoding names */
static void test_names_api(void **state)
{
	(void)state;
	char buf[1024];

	for (unsigned i = 0; i < MIME_FLAG_COUNT; i++) {
		const char *n = mime_flag_name((enum mime_flag)(1u << i));
		assert_string_not_equal(n, "unknown");
		for (unsigned k = 0; k < i; k++)
			assert_string_not_equal(n, mime_flag_name((enum mime_flag)(1u << k)));
	}
	assert_string_equal(mime_flag_name((enum mime_flag)3), "unknown");
	assert_string_equal(mime_flag_name((enum mime_flag)(1u << MIME_FLAG_COUNT)), "unknown");
	assert_string_equal(mime_flag_name(MIME_DUP_CONTENT_TYPE), "duplicate-content-type");

	assert_int_equal(mime_flags_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	size_t n = mime_flags_format(MIME_HEADER_NUL | MIME_LIMIT, buf, sizeof(buf));
	assert_string_equal(buf, "header-nul,limit");
	assert_int_equal(n, strlen("header-nul,limit"));
	/* cut like snprintf, but the full length is returned */
	assert_int_equal(mime_flags_format(MIME_HEADER_NUL | MIME_LIMIT, buf, 8), n);
	assert_string_equal(buf, "header-");
	assert_int_equal(mime_flags_format(MIME_HEADER_NUL, NULL, 0), strlen("header-nul"));

	assert_string_equal(mime_limit_name(MIME_LIMIT_NONE), "none");
	assert_string_equal(mime_limit_name(MIME_LIMIT_DECODED_SIZE), "decoded-size");
	assert_string_equal(mime_cte_name(MIME_CTE_QP), "quoted-printable");
	assert_string_equal(mime_cte_name(MIME_CTE_UNKNOWN), "unknown");
}

/* test_defaults - NULL limits and view are the built-in defaults */
static void test_defaults(void **state)
{
	(void)state;
	struct mime_parser *p = mime_parser_new(NULL, NULL);
	assert_non_null(p);
	assert_int_equal(mime_parser_feed(p, S(msg_mixed)), 0);
	struct mime_message *m = mime_parser_finish(p);
	assert_int_equal(m->nparts, 3);
	assert_int_equal(m->flags, 0);
	mime_message_free(m);
	mime_message_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trees),
		cmocka_unit_test(test_mixed_details),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_view_duplicate_ct),
		cmocka_unit_test(test_view_base64),
		cmocka_unit_test(test_view_cte),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_uu_name),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limit_stops_reading),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_edge_cases),
		cmocka_unit_test(test_deep_path),
		cmocka_unit_test(test_name_cleaning),
		cmocka_unit_test(test_header_block_cap),
		cmocka_unit_test(test_names_api),
		cmocka_unit_test(test_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
