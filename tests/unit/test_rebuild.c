/*
 * test_rebuild - unit tests for the MIME body rebuild (src/rebuild.h is
 * the spec).
 *
 * Each case parses a message, applies ops given by part path, and checks
 * the result by parsing out->message again: the new tree (one line per
 * part: path, type, best filename, decoded size) against the expected
 * text, no ambiguity flag and no limit, every kept leaf's decoded bytes
 * unchanged (same SHA-256 and size at its new path), every warning text
 * present in a WARNING.TXT part, the top-level header changes in out and
 * in the message, and out->body the tail of out->message. Every case is
 * also run with the input parsed a byte at a time, which must give the
 * same output but for the random boundary.
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
#include "rebuild.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1

/* ---------------------------------------------------------------- helpers */

/* parse - the default reading, whole or a byte at a time */
static struct mime_message *parse(const char *msg, size_t len, bool bytewise,
				  const struct mime_limits *lim)
{
	struct mime_parser *p = mime_parser_new(lim, NULL);
	assert_non_null(p);
	if (!bytewise)
		assert_int_equal(mime_parser_feed(p, msg, len), 0);
	for (size_t i = 0; bytewise && i < len; i++)
		assert_int_equal(mime_parser_feed(p, msg + i, 1), 0);
	struct mime_message *m = mime_parser_finish(p);
	assert_non_null(m);
	return m;
}

/* find - the index of the part at path, or -1 */
static long find(const struct mime_message *m, const char *path)
{
	for (size_t i = 0; i < m->nparts; i++)
		if (strcmp(m->parts[i].path, path) == 0)
			return (long)i;
	return -1;
}

/*
 * set_ops - ops from "PATH=OP[:TEXT];..." with OP drop, dropwarn, replace;
 * texts point into the spec's copy, which the caller frees.
 */
static char *set_ops(const struct mime_message *m, const char *spec, unsigned char *op,
		     const char **text)
{
	char *copy = strdup(spec ? spec : "");
	assert_non_null(copy);
	char *save = NULL;
	for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(item, '=');
		assert_non_null(eq);
		*eq = '\0';
		char *t = strchr(eq + 1, ':');
		if (t)
			*t++ = '\0';
		long i = find(m, item);
		if (i < 0)
			fail_msg("no part %s", item);
		if (strcmp(eq + 1, "drop") == 0)
			op[i] = REBUILD_DROP;
		else if (strcmp(eq + 1, "dropwarn") == 0)
			op[i] = REBUILD_DROP_WARN;
		else if (strcmp(eq + 1, "replace") == 0)
			op[i] = REBUILD_REPLACE_WARN;
		else
			fail_msg("bad op %s", eq + 1);
		text[i] = t;
	}
	return copy;
}

/* dump - "[flags]" then "path type name size" per part */
static void dump(const struct mime_message *m, char *buf, size_t len)
{
	char fl[256];
	size_t o = 0;

	mime_flags_format(m->flags, fl, sizeof(fl));
	o += (size_t)snprintf(buf + o, len - o, "[%s]\n", fl);
	for (size_t i = 0; i < m->nparts && o < len; i++) {
		const struct mime_part *p = &m->parts[i];
		o += (size_t)snprintf(buf + o, len - o, "%s %s", p->path, p->content_type);
		if (p->filename[0] && o < len)
			o += (size_t)snprintf(buf + o, len - o, " %s", p->filename);
		if (p->leaf && o < len)
			o += (size_t)snprintf(buf + o, len - o, " %zu", p->size);
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "\n");
	}
}

/* check_kept - "OLD=NEW ..." pairs: the leaf at OLD reappears at NEW with the same bytes */
static void check_kept(const struct mime_message *a, const struct mime_message *b, const char *map,
		       const char *name)
{
	char *copy = strdup(map ? map : "");
	assert_non_null(copy);
	char *save = NULL;
	for (char *item = strtok_r(copy, " ", &save); item; item = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(item, '=');
		assert_non_null(eq);
		*eq = '\0';
		long i = find(a, item), k = find(b, eq + 1);
		if (i < 0 || k < 0)
			fail_msg("%s: kept %s=%s: no such part", name, item, eq + 1);
		const struct mime_part *p = &a->parts[i], *q = &b->parts[k];
		if (!p->leaf || !q->leaf || p->size != q->size || memcmp(p->sha256, q->sha256, 32) != 0)
			fail_msg("%s: part %s is not kept byte for byte at %s", name, item, eq + 1);
		if (strcmp(p->filename, q->filename) != 0)
			fail_msg("%s: part %s lost its name", name, item);
	}
	free(copy);
}

/* check_warnings - every '|'-separated text is in a WARNING.TXT part, and there are nwarn */
static void check_warnings(const struct mime_message *b, const char *texts, unsigned nwarn,
			   const char *name)
{
	unsigned n = 0;
	for (size_t i = 0; i < b->nparts; i++)
		n += strcmp(b->parts[i].filename, "WARNING.TXT") == 0;
	if (n != nwarn)
		fail_msg("%s: %u WARNING.TXT parts, want %u", name, n, nwarn);
	char *copy = strdup(texts ? texts : "");
	assert_non_null(copy);
	char *save = NULL;
	for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
		bool found = false;
		for (size_t i = 0; i < b->nparts && !found; i++) {
			const struct mime_part *p = &b->parts[i];
			found = p->leaf && strcmp(p->filename, "WARNING.TXT") == 0 &&
				memmem(p->data, p->size, t, strlen(t)) != NULL;
			if (found) {
				assert_string_equal(p->content_type, "text/plain");
				assert_string_equal(p->charset, "utf-8");
				assert_string_equal(p->disposition, "inline");
			}
		}
		if (!found && b->nparts == 1) /* a root edit: the body is the text */
			found = memmem(b->parts[0].data, b->parts[0].size, t, strlen(t)) != NULL;
		if (!found)
			fail_msg("%s: warning text \"%s\" not found", name, t);
	}
	free(copy);
}

/* header_value - the value of the first field name in the message's header, or NULL */
static char *header_value(const char *msg, size_t len, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < len;) {
		const char *e = memchr(msg + i, '\n', len - i);
		size_t n = e ? (size_t)(e - (msg + i)) : len - i;
		if (n == 0 || (n == 1 && msg[i] == '\r'))
			return NULL;
		if (n > nl && strncasecmp(msg + i, name, nl) == 0 && msg[i + nl] == ':') {
			size_t v = i + nl + 1;
			while (v < i + n && msg[v] == ' ')
				v++;
			size_t end = i + n;
			if (end > v && msg[end - 1] == '\r')
				end--;
			return strndup(msg + v, end - v);
		}
		i += n + 1;
	}
	return NULL;
}

/* ---------------------------------------------------------------- messages */

/* Thunderbird-like: text, a PDF and an EXE, base64, CRLF. */
static const char msg_tb[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.org\r\n"
	"Subject: report\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed;\r\n"
	" boundary=\"------------4Fq0dHoHXZbd9R8Yd1Bks0Hv\"\r\n"
	"\r\n"
	"This is a multi-part message in MIME format.\r\n"
	"--------------4Fq0dHoHXZbd9R8Yd1Bks0Hv\r\n"
	"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"\r\n"
	"See attached.\r\n"
	"\r\n"
	"--------------4Fq0dHoHXZbd9R8Yd1Bks0Hv\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0\r\n"
	"ZURlY29kZT4+CnN0cmVhbQo=\r\n"
	"\r\n"
	"--------------4Fq0dHoHXZbd9R8Yd1Bks0Hv\r\n"
	"Content-Type: application/x-msdownload; name=\"setup.exe\"\r\n"
	"Content-Disposition: attachment; filename=\"setup.exe\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
	"\r\n"
	"--------------4Fq0dHoHXZbd9R8Yd1Bks0Hv--\r\n";

/* Outlook-like alternative root, no attachments. */
static const char msg_alt[] =
	"From: carol@example.org\r\n"
	"Subject: hi\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative;\r\n"
	"\tboundary=\"----=_NextPart_000_0001_01D9A1B2.C3D4E5F0\"\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"Content-Language: en-us\r\n"
	"\r\n"
	"This is a multipart message in MIME format.\r\n"
	"\r\n"
	"------=_NextPart_000_0001_01D9A1B2.C3D4E5F0\r\n"
	"Content-Type: text/plain;\r\n"
	"\tcharset=\"us-ascii\"\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"\r\n"
	"Hello\r\n"
	"\r\n"
	"------=_NextPart_000_0001_01D9A1B2.C3D4E5F0\r\n"
	"Content-Type: text/html;\r\n"
	"\tcharset=\"us-ascii\"\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<html><body><p>Hello</p><script src=3D\"x.js\"></script></body></html>\r\n"
	"\r\n"
	"------=_NextPart_000_0001_01D9A1B2.C3D4E5F0--\r\n";

/* Nested: alternative and a mixed with two attachments inside a mixed; LF only. */
static const char msg_nested[] = "Subject: nested\n"
				 "Content-Type: multipart/mixed; boundary=outer\n"
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
				 "Content-Type: multipart/mixed; boundary=inner\n"
				 "\n"
				 "--inner\n"
				 "Content-Type: image/gif; name=a.gif\n"
				 "Content-Transfer-Encoding: base64\n"
				 "\n"
				 "R0lGODlhAQABAAAAACw=\n"
				 "--inner\n"
				 "Content-Type: application/zip; name=b.zip\n"
				 "Content-Transfer-Encoding: base64\n"
				 "\n"
				 "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n"
				 "--inner--\n"
				 "--outer--\n";

/* A forwarded message with an attachment of its own, and a single-part forward. */
static const char msg_fwd[] =
	"Subject: Fwd: two\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"f1\"\r\n"
	"\r\n"
	"--f1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Forwarding.\r\n"
	"--f1\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=\"one.eml\"\r\n"
	"\r\n"
	"Subject: one\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"f2\"\r\n"
	"\r\n"
	"--f2\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"inner text\r\n"
	"--f2\r\n"
	"Content-Type: application/octet-stream; name=\"x.exe\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"TVqQAAMAAAAEAAAA\r\n"
	"--f2--\r\n"
	"--f1\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: plain one\r\n"
	"\r\n"
	"just text\r\n"
	"--f1--\r\n";

/* A message/rfc822 root (a single part at the top) with a multipart inside. */
static const char msg_rfc822_root[] = "Subject: wrapped\n"
				      "Content-Type: message/rfc822\n"
				      "\n"
				      "Subject: inner\n"
				      "Content-Type: multipart/mixed; boundary=z\n"
				      "\n"
				      "--z\n"
				      "\n"
				      "text\n"
				      "--z\n"
				      "Content-Type: application/x-sh; name=run.sh\n"
				      "\n"
				      "rm -rf /\n"
				      "--z--\n";

/* A single-part base64 root without MIME-Version. */
static const char msg_single[] = "Subject: pdf only\r\n"
				 "Content-Type: application/pdf; name=\"a.pdf\"\r\n"
				 "Content-Transfer-Encoding: base64\r\n"
				 "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
				 "\r\n"
				 "JVBERi0xLjQK\r\n";

/* A uuencoded block in a text part inside a multipart, and one in a text root. */
static const char msg_uu[] = "Content-Type: multipart/mixed; boundary=u\n"
			     "\n"
			     "--u\n"
			     "\n"
			     "hello\n"
			     "--u\n"
			     "Content-Type: text/plain\n"
			     "\n"
			     "begin 644 cat.exe\n"
			     "#0V%T\n"
			     "`\n"
			     "end\n"
			     "--u--\n";

static const char msg_uu_root[] = "Subject: uu\n\nsee\nbegin 644 cat.exe\n#0V%T\n`\nend\n";

/* Mixed with a preamble and an epilogue; the last part before the close is dropped. */
static const char msg_epi[] = "Content-Type: multipart/mixed; boundary=e\r\n"
			      "\r\n"
			      "preamble\r\n"
			      "--e\r\n"
			      "\r\n"
			      "one\r\n"
			      "--e\r\n"
			      "Content-Type: application/octet-stream\r\n"
			      "\r\n"
			      "two\r\n"
			      "--e--\r\n"
			      "epilogue\r\n";

/* Empty bodies: a header that a blank line and the delimiter end; a part cut after its header. */
static const char msg_empty[] = "Content-Type: multipart/mixed; boundary=b\n"
				"\n"
				"--b\n"
				"Content-Type: image/gif\n"
				"\n"
				"--b\n"
				"Content-Type: image/png\n"
				"--b\n"
				"\n"
				"last\n"
				"--b--\n";

/* ---------------------------------------------------------------- cases */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	const char *ops;
	const char *want;     /* the re-parsed tree */
	const char *kept;     /* OLD=NEW leaf paths kept byte for byte */
	const char *texts;    /* '|'-separated texts that must be in warnings */
	unsigned nwarn;       /* WARNING.TXT parts */
	const char *ct;       /* out->content_type: NULL, or a prefix of it */
	const char *cte;      /* out->cte */
	bool mv;              /* out->add_mime_version */
} cases[] = {
	{"drop leaf in mixed", S(msg_tb), "1.3=drop",
	 "[preamble-content]\n1 multipart/mixed\n1.1 text/plain 15\n1.2 application/pdf report.pdf 71\n",
	 "1.1=1.1 1.2=1.2", NULL, 0, NULL, NULL, false},
	{"dropwarn in mixed root: warning appended", S(msg_tb), "1.3=dropwarn:Virus Win.Test found in setup.exe",
	 "[preamble-content]\n1 multipart/mixed\n1.1 text/plain 15\n1.2 application/pdf report.pdf 71\n"
	 "1.3 text/plain WARNING.TXT 35\n",
	 "1.1=1.1 1.2=1.2", "Virus Win.Test found in setup.exe", 1, NULL, NULL, false},
	{"replace in place", S(msg_tb), "1.2=replace:report.pdf was blocked",
	 "[preamble-content]\n1 multipart/mixed\n1.1 text/plain 15\n1.2 text/plain WARNING.TXT 24\n"
	 "1.3 application/x-msdownload setup.exe 54\n",
	 "1.1=1.1 1.3=1.3", "report.pdf was blocked", 1, NULL, NULL, false},
	{"two dropwarn paragraphs, default text", S(msg_tb), "1.2=dropwarn:first;1.3=dropwarn",
	 "[preamble-content]\n1 multipart/mixed\n1.1 text/plain 15\n1.2 text/plain WARNING.TXT 65\n",
	 "1.1=1.1", "first\r\n\r\nA part of this message was removed", 1, NULL, NULL, false},
	{"all children dropped", S(msg_tb), "1.1=drop;1.2=dropwarn:pdf gone;1.3=drop",
	 "[preamble-content]\n1 multipart/mixed\n1.1 text/plain WARNING.TXT 56\n"
	 "1.2 text/plain WARNING.TXT 10\n",
	 "", "A part of this message was removed|pdf gone", 2, NULL, NULL, false},
	{"dropwarn in alternative root: wrapped", S(msg_alt), "1.2=dropwarn:HTML part removed",
	 "[preamble-content]\n1 multipart/mixed\n1.1 multipart/alternative\n1.1.1 text/plain 7\n"
	 "1.2 text/plain WARNING.TXT 19\n",
	 "1.1=1.1.1", "HTML part removed", 1, "multipart/mixed; boundary=\"=_klaxon_", NULL, false},
	{"replace in nested multipart", S(msg_nested), "1.2.2=replace:zip blocked",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 multipart/alternative\n1.1.1 text/plain 5\n"
	 "1.1.2 text/html 11\n1.2 multipart/mixed\n1.2.1 image/gif a.gif 14\n"
	 "1.2.2 text/plain WARNING.TXT 13\n",
	 "1.1.1=1.1.1 1.1.2=1.1.2 1.2.1=1.2.1", "zip blocked", 1, NULL, NULL, true},
	{"LF-only dropwarn, nested all dropped", S(msg_nested), "1.2.1=dropwarn:gif;1.2.2=dropwarn:zip",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 multipart/alternative\n1.1.1 text/plain 5\n"
	 "1.1.2 text/html 11\n1.2 multipart/mixed\n1.2.1 text/plain WARNING.TXT 5\n"
	 "1.3 text/plain WARNING.TXT 5\n",
	 "1.1.1=1.1.1 1.1.2=1.1.2", "gif|zip", 2, NULL, NULL, true},
	{"LF-only drop of a whole multipart", S(msg_nested), "1.1=drop",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 multipart/mixed\n1.1.1 image/gif a.gif 14\n"
	 "1.1.2 application/zip b.zip 22\n",
	 "1.2.1=1.1.1 1.2.2=1.1.2", NULL, 0, NULL, NULL, true},
	{"drop inside a forwarded message", S(msg_fwd), "1.2.1.2=dropwarn:x.exe removed",
	 "[]\n1 multipart/mixed\n1.1 text/plain 11\n1.2 message/rfc822 one.eml\n"
	 "1.2.1 multipart/mixed\n1.2.1.1 text/plain 10\n1.3 message/rfc822\n1.3.1 text/plain 9\n"
	 "1.4 text/plain WARNING.TXT 15\n",
	 "1.1=1.1 1.2.1.1=1.2.1.1 1.3.1=1.3.1", "x.exe removed", 1, NULL, NULL, false},
	{"enclosed message climbs to its message/ part", S(msg_fwd), "1.3.1=replace:forward removed",
	 "[]\n1 multipart/mixed\n1.1 text/plain 11\n1.2 message/rfc822 one.eml\n"
	 "1.2.1 multipart/mixed\n1.2.1.1 text/plain 10\n1.2.1.2 application/octet-stream x.exe 12\n"
	 "1.3 text/plain WARNING.TXT 17\n",
	 "1.1=1.1 1.2.1.1=1.2.1.1 1.2.1.2=1.2.1.2", "forward removed", 1, NULL, NULL, false},
	{"edit under a dropped part is moot", S(msg_fwd), "1.2=drop;1.2.1.2=dropwarn:moot",
	 "[]\n1 multipart/mixed\n1.1 text/plain 11\n1.2 message/rfc822\n1.2.1 text/plain 9\n",
	 "1.1=1.1 1.3.1=1.2.1", NULL, 0, NULL, NULL, false},
	{"message/rfc822 root: wrapped", S(msg_rfc822_root), "1.1.2=dropwarn:script removed",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 message/rfc822\n1.1.1 multipart/mixed\n"
	 "1.1.1.1 text/plain 4\n1.2 text/plain WARNING.TXT 16\n",
	 "1.1.1=1.1.1.1", "script removed", 1, "multipart/mixed; boundary=\"=_klaxon_", NULL, true},
	{"root edit", S(msg_tb), "1=dropwarn:Whole message blocked",
	 "[]\n1 text/plain 23\n", "", "Whole message blocked", 0, "text/plain; charset=utf-8", NULL,
	 false},
	{"root dropwarn without text: the root's default", S(msg_single), "1=dropwarn",
	 "[]\n1 text/plain 50\n", "", "The message body was removed by the mail filter.", 0,
	 "text/plain; charset=utf-8", "7bit", true},
	{"root drop: default text, base64 root", S(msg_single), "1=drop",
	 "[]\n1 text/plain 50\n", "", "The message body was removed by the mail filter.", 0,
	 "text/plain; charset=utf-8", "7bit", true},
	{"uuencode child climbs to its text part", S(msg_uu), "1.2.1=replace:cat.exe blocked",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 text/plain 5\n1.2 text/plain WARNING.TXT 17\n", "1.1=1.1",
	 "cat.exe blocked", 1, NULL, NULL, true},
	{"uuencode child in the root: a root edit", S(msg_uu_root), "1.1=dropwarn:uu blocked",
	 "[mixed-eol]\n1 text/plain 12\n", "", "uu blocked", 0, "text/plain; charset=utf-8", NULL, true},
	{"last part before an epilogue", S(msg_epi), "1.2=dropwarn:two gone",
	 "[preamble-content,epilogue-content]\n1 multipart/mixed\n1.1 text/plain 3\n"
	 "1.2 text/plain WARNING.TXT 10\n",
	 "1.1=1.1", "two gone", 1, NULL, NULL, true},
	{"first part dropped", S(msg_epi), "1.1=drop",
	 "[preamble-content,epilogue-content]\n1 multipart/mixed\n1.1 application/octet-stream 3\n",
	 "1.2=1.1", NULL, 0, NULL, NULL, true},
	{"empty bodies replaced", S(msg_empty), "1.1=replace:gif;1.2=replace:png",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 text/plain WARNING.TXT 5\n1.2 text/plain WARNING.TXT 5\n"
	 "1.3 text/plain 4\n",
	 "1.3=1.3", "gif|png", 2, NULL, NULL, true},
	{"empty bodies dropped", S(msg_empty), "1.1=dropwarn:gif;1.2=drop",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 text/plain 4\n1.2 text/plain WARNING.TXT 5\n", "1.3=1.1",
	 "gif", 1, NULL, NULL, true},
	/* A part with no header and no body: its delimiter line follows the previous one
	 * directly, so the replacement needs a line break of its own before the next. */
	{"empty part right after its delimiter",
	 S("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n"), "1.1=replace:t",
	 "[mixed-eol]\n1 multipart/mixed\n1.1 text/plain WARNING.TXT 3\n1.2 text/plain 1\n", "1.2=1.2",
	 "t\r\n", 1, NULL, NULL, true},
	/* A text that tries to close the enclosing multipart, with control bytes and bad UTF-8. */
	{"hostile text", S(msg_tb),
	 "1.3=replace:--------------4Fq0dHoHXZbd9R8Yd1Bks0Hv--\nnext\x01 line\r\n caf\xc3\xa9 \xff",
	 "[preamble-content]\n1 multipart/mixed\n1.1 text/plain 15\n1.2 application/pdf report.pdf 71\n"
	 "1.3 text/plain WARNING.TXT 64\n",
	 "1.1=1.1 1.2=1.2", " --------------4Fq0dHoHXZbd9R8Yd1Bks0Hv--\r\nnext line\r\n caf\xc3\xa9 ?\r\n",
	 1, NULL, NULL, false},
};

/* run_case - rebuild one case and check everything about the result */
static void run_case(size_t ci, bool bytewise, char **msg_out, size_t *len_out)
{
	const char *name = cases[ci].name;
	struct mime_message *m = parse(cases[ci].msg, cases[ci].len, bytewise, NULL);
	unsigned char *op = calloc(m->nparts, 1);
	const char **text = calloc(m->nparts, sizeof(*text));
	assert_true(op && text);
	char *spec = set_ops(m, cases[ci].ops, op, text);

	struct rebuild_out out;
	char err[256] = "";
	if (rebuild_message(cases[ci].msg, cases[ci].len, m, op, text, &out, err, sizeof(err)) != 0)
		fail_msg("%s: rebuild failed: %s", name, err);
	assert_true(out.changed);
	assert_false(out.refused);
	assert_non_null(out.message);
	assert_true(out.body >= out.message && out.body + out.bodylen == out.message + out.msglen);
	/* The body starts after the header's blank line. */
	assert_true(out.body - out.message >= 2 && out.body[-1] == '\n');

	struct mime_message *b = parse(out.message, out.msglen, false, NULL);
	char got[4096];
	dump(b, got, sizeof(got));
	if (strcmp(got, cases[ci].want) != 0) {
		fprintf(stderr, "%s: the rebuilt message:\n%.*s\n", name, (int)out.msglen, out.message);
		fail_msg("%s: got\n%swant\n%s", name, got, cases[ci].want);
	}
	assert_int_equal(b->flags & (MIME_AMBIGUOUS | MIME_LIMIT), 0);
	check_kept(m, b, cases[ci].kept, name);
	check_warnings(b, cases[ci].texts, cases[ci].nwarn, name);

	/* Top-level changes, in out and applied in the message. */
	if (cases[ci].ct == NULL) {
		assert_null(out.content_type);
	} else {
		assert_non_null(out.content_type);
		if (strncmp(out.content_type, cases[ci].ct, strlen(cases[ci].ct)) != 0)
			fail_msg("%s: content type %s", name, out.content_type);
		char *v = header_value(out.message, out.msglen, "Content-Type");
		assert_non_null(v);
		assert_string_equal(v, out.content_type);
		free(v);
	}
	if (cases[ci].cte == NULL)
		assert_null(out.cte);
	else
		assert_string_equal(out.cte, cases[ci].cte);
	assert_int_equal(out.add_mime_version, cases[ci].mv);
	char *mv = header_value(out.message, out.msglen, "MIME-Version");
	assert_non_null(mv);
	free(mv);

	*msg_out = out.message;
	*len_out = out.msglen;
	out.message = NULL; /* the caller keeps it */
	out.body = NULL;
	rebuild_out_clear(&out);
	assert_null(out.content_type);
	free(spec);
	free(op);
	free(text);
	mime_message_free(b);
	mime_message_free(m);
}

/* mask_boundary - the random part of "=_klaxon_<hex>" boundaries, zeroed for comparison */
static void mask_boundary(char *s, size_t len)
{
	for (char *p = s; (p = memmem(p, len - (size_t)(p - s), "=_klaxon_", 9)) != NULL; p += 9)
		for (size_t k = 9; p + k < s + len && k < 9 + 32; k++)
			p[k] = '0';
}

/* test_cases - every case, parsed whole and byte-wise: the same message */
static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *a, *b;
		size_t al, bl;
		run_case(i, false, &a, &al);
		run_case(i, true, &b, &bl);
		mask_boundary(a, al);
		mask_boundary(b, bl);
		if (al != bl || memcmp(a, b, al) != 0)
			fail_msg("%s: byte-wise parse gave another message", cases[i].name);
		free(a);
		free(b);
	}
}

/* test_wrap_fields - the old root's Content-* fields go to the first child, all of them */
static void test_wrap_fields(void **state)
{
	(void)state;
	/* A text root can only be edited as a whole (uuencode children climb to it), so the
	 * wrap is made with a mixed-less root: an alternative without MIME-Version. */
	static const char alt[] = "Subject: s\n"
				  "Content-Type: multipart/alternative; boundary=q\n"
				  "Content-Transfer-Encoding: 8bit\n"
				  "Content-Description: the\n"
				  "  body\n"
				  "Content-ID: <1@x>\n"
				  "X-Other: keep\n"
				  "\n"
				  "--q\n\nt\n--q\nContent-Type: text/html\n\nh\n--q--\n";
	struct mime_message *m = parse(S(alt), false, NULL);
	unsigned char op[3] = {0, 0, REBUILD_DROP_WARN};
	struct rebuild_out out;
	char err[256];
	assert_int_equal(rebuild_message(alt, sizeof(alt) - 1, m, op, NULL, &out, err, sizeof(err)), 0);
	assert_null(out.cte); /* an identity encoding stays on the new root */
	assert_true(out.add_mime_version);
	const char *child = strstr(out.body, "\r\n") + 2;
	static const char want_child[] = "Content-Type: multipart/alternative; boundary=q\r\n"
					 "Content-Transfer-Encoding: 8bit\r\n"
					 "Content-Description: the\r\n"
					 "  body\r\n"
					 "Content-ID: <1@x>\r\n"
					 "\r\n"
					 "--q\n";
	assert_memory_equal(child, want_child, sizeof(want_child) - 1);
	/* The top-level header: X-Other kept, Content-Type replaced, MIME-Version added. */
	assert_non_null(strstr(out.message, "X-Other: keep\n"));
	assert_non_null(strstr(out.message, "Content-Description: the\n  body\n"));
	assert_non_null(strstr(out.message, "MIME-Version: 1.0\r\n\n--=_klaxon_"));
	rebuild_out_clear(&out);
	mime_message_free(m);

	/* A base64 root, wrapped: its encoding is deleted from the root, kept on the child. */
	static const char b64[] = "Content-Type: message/rfc822\r\n"
				  "Content-Transfer-Encoding: 7bit\r\n"
				  "MIME-Version: 1.0\r\n"
				  "\r\n"
				  "Content-Type: multipart/mixed; boundary=k\r\n\r\n"
				  "--k\r\n\r\na\r\n--k\r\n\r\nb\r\n--k--\r\n";
	m = parse(S(b64), false, NULL);
	unsigned char op2[4] = {0, 0, 0, REBUILD_DROP_WARN};
	assert_int_equal(m->nparts, 4);
	assert_int_equal(rebuild_message(b64, sizeof(b64) - 1, m, op2, NULL, &out, err, sizeof(err)), 0);
	assert_null(out.cte);
	assert_false(out.add_mime_version);
	assert_non_null(strstr(out.body, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"));
	rebuild_out_clear(&out);
	mime_message_free(m);
}

/* test_root_edit_header - a root edit of a message without Content-Type: the field appended */
static void test_root_edit_header(void **state)
{
	(void)state;
	/* A uuencoded block's edit climbs to the text root: a root edit. (Without a
	 * Content-Type the root is a text leaf, so it can never be wrapped.) */
	static const char msg[] = "Subject: x\n\nbegin 644 a.exe\n#0V%T\n`\nend\n";
	struct mime_message *m = parse(S(msg), false, NULL);
	assert_int_equal(m->nparts, 2);
	unsigned char op[2] = {0, REBUILD_DROP};
	struct rebuild_out out;
	char err[256];
	assert_int_equal(rebuild_message(msg, sizeof(msg) - 1, m, op, NULL, &out, err, sizeof(err)), 0);
	assert_string_equal(out.content_type, "text/plain; charset=utf-8");
	assert_null(out.cte);
	static const char want[] = "Subject: x\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "MIME-Version: 1.0\r\n"
				   "\n"
				   "The message body was removed by the mail filter.\r\n";
	assert_int_equal(out.msglen, sizeof(want) - 1);
	assert_memory_equal(out.message, want, sizeof(want) - 1);
	rebuild_out_clear(&out);
	mime_message_free(m);
}

/* test_noop - nothing to change: changed false, no buffers */
static void test_noop(void **state)
{
	(void)state;
	struct mime_message *m = parse(S(msg_tb), false, NULL);
	unsigned char op[4] = {0};
	struct rebuild_out out;
	char err[256] = "";
	assert_int_equal(rebuild_message(msg_tb, sizeof(msg_tb) - 1, m, op, NULL, &out, err, sizeof(err)), 0);
	assert_false(out.changed);
	assert_false(out.refused);
	assert_null(out.message);
	assert_null(out.body);
	assert_null(out.content_type);
	assert_null(out.cte);
	rebuild_out_clear(&out);
	mime_message_free(m);
}

/* test_refusals - ambiguous structure and limits are refused, naming why */
static void test_refusals(void **state)
{
	(void)state;
	static const char dup[] = "Content-Type: multipart/mixed; boundary=a\n"
				  "Content-Type: multipart/mixed; boundary=b\n\n"
				  "--a\n\nA\n--b\n\nB\n--b--\n--a--\n";
	struct mime_message *m = parse(S(dup), false, NULL);
	unsigned char *op = calloc(m->nparts, 1);
	assert_non_null(op);
	op[m->nparts - 1] = REBUILD_DROP;
	struct rebuild_out out;
	char err[256] = "";
	assert_int_equal(rebuild_message(dup, sizeof(dup) - 1, m, op, NULL, &out, err, sizeof(err)), -1);
	assert_true(out.refused);
	assert_false(out.changed);
	assert_null(out.message);
	assert_non_null(strstr(err, "duplicate-content-type"));
	free(op);
	mime_message_free(m);

	const struct mime_limits tight = {
		.max_depth = 20, .max_parts = 2, .max_header_length = 1000,
		.max_line_length = 1000, .max_decoded_size = 1 << 20,
	};
	m = parse(S(msg_tb), false, &tight);
	assert_int_not_equal(m->limit, MIME_LIMIT_NONE);
	unsigned char op2[2] = {0, REBUILD_DROP};
	memset(err, 0, sizeof(err));
	assert_int_equal(rebuild_message(msg_tb, sizeof(msg_tb) - 1, m, op2, NULL, &out, err, sizeof(err)), -1);
	assert_true(out.refused);
	assert_non_null(strstr(err, "limit"));
	mime_message_free(m);

	/* Even a no-op is refused: the caller must not deliver such a message as edited. */
	static const char unclosed[] = "Content-Type: multipart/mixed; boundary=u\n\n--u\n\nx\n";
	m = parse(S(unclosed), false, NULL);
	unsigned char op3[2] = {0, 0};
	assert_int_equal(rebuild_message(unclosed, sizeof(unclosed) - 1, m, op3, NULL, &out, err, sizeof(err)), -1);
	assert_true(out.refused);
	assert_non_null(strstr(err, "boundary-unclosed"));
	mime_message_free(m);
}

/* test_errors - wrong inputs fail without refusing */
static void test_errors(void **state)
{
	(void)state;
	struct mime_message *m = parse(S(msg_tb), false, NULL);
	unsigned char op[4] = {0, 0, 0, REBUILD_DROP};
	struct rebuild_out out;
	char err[256] = "";

	/* Bytes other than the ones parsed. */
	assert_int_equal(rebuild_message(msg_tb, sizeof(msg_tb) - 2, m, op, NULL, &out, err, sizeof(err)), -1);
	assert_false(out.refused);
	assert_non_null(strstr(err, "parsed from"));
	/* An unknown op. */
	op[3] = 9;
	assert_int_equal(rebuild_message(msg_tb, sizeof(msg_tb) - 1, m, op, NULL, &out, err, sizeof(err)), -1);
	assert_false(out.refused);
	assert_non_null(strstr(err, "unknown op"));
	mime_message_free(m);
}

/* test_boundary_clash - a boundary that is a prefix of every new one: refused */
static void test_boundary_clash(void **state)
{
	(void)state;
	static const char msg[] = "Content-Type: multipart/alternative; boundary=\"=_k\"\n\n"
				  "--=_k\n\na\n--=_k\n\nb\n--=_k--\n";
	struct mime_message *m = parse(S(msg), false, NULL);
	unsigned char op[3] = {0, 0, REBUILD_DROP_WARN};
	struct rebuild_out out;
	char err[256] = "";
	assert_int_equal(rebuild_message(msg, sizeof(msg) - 1, m, op, NULL, &out, err, sizeof(err)), -1);
	assert_true(out.refused);
	assert_non_null(strstr(err, "boundary"));
	/* A plain drop needs no new boundary. */
	op[2] = REBUILD_DROP;
	assert_int_equal(rebuild_message(msg, sizeof(msg) - 1, m, op, NULL, &out, err, sizeof(err)), 0);
	assert_true(out.changed);
	rebuild_out_clear(&out);
	mime_message_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_wrap_fields),
		cmocka_unit_test(test_root_edit_header),
		cmocka_unit_test(test_noop),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_boundary_clash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
