/*
 * fuzz_rebuild - libFuzzer target for the MIME body rebuild and the raw
 * byte ranges it relies on.
 *
 * The first input byte seeds the ops (each part: keep about half the
 * time, else drop, drop with warning, or replace) and picks a warning
 * text, some of them hostile (a delimiter line, control bytes, bad
 * UTF-8); the second chooses tight limits (bit 0), a parse a byte at a
 * time or in pieces whose offsets must match the whole parse (bit 1), and
 * a non-default view (bits 2-7) whose offsets need only be in bounds. The
 * rest is the message.
 *
 * Checked: every part's raw range is in order and in bounds; in the
 * default view without a limit, a leaf in an identity encoding decodes to
 * exactly its raw body, and a multipart child's delimiter line starts
 * with "--". A rebuild is refused only for an ambiguous or limited message
 * or a boundary clash, and fails otherwise only never. When it succeeds,
 * changed is true exactly when some op was not KEEP, out->body is the tail
 * of out->message, and the message parses again with no limit and no
 * ambiguity flag, holding every kept leaf's bytes (its SHA-256, as many
 * times as before). Everything is freed, so LeakSanitizer sees leaks.
 */
// fuzz-sources: src/rebuild.c src/rebuild_out.c src/ident.c src/mime.c src/mime_head.c src/mime_tree.c src/decode.c src/mimehdr.c src/text.c
// fuzz-pkgs: libcrypto
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "rebuild.h"

#define FUZZ_MAX_INPUT (96 * 1024)

static const struct mime_limits fuzz_tight = {
	.max_depth = 5,
	.max_parts = 16,
	.max_header_length = 400,
	.max_line_length = 300,
	.max_decoded_size = 8192,
};

static const struct mime_limits fuzz_roomy = {
	.max_depth = 30,
	.max_parts = 400,
	.max_header_length = 8192,
	.max_line_length = 16384,
	.max_decoded_size = 1 << 20,
};

/* Room for what a rebuild adds: one level, a few parts, the warning texts. */
static const struct mime_limits fuzz_reparse = {
	.max_depth = 32,
	.max_parts = 1000,
	.max_header_length = 16384,
	.max_line_length = 32768,
	.max_decoded_size = 4 << 20,
};

static const char *const fuzz_texts[] = {
	NULL,
	"",
	"Virus found; the attachment was removed.",
	"--b\n--b--\n--=_klaxon_00\nend",
	"line\r\nbare\rcr \x01\x7f tab\tok",
	"caf\xc3\xa9 \xff\xfe \xe2\x82",
	"begin 644 x.exe\n#0V%T\n`\nend\n",
	"\n\n\n",
};

/* fuzz_check - abort with a message, so libFuzzer records the input */
static void fuzz_check(bool ok, const char *what, size_t part)
{
	if (!ok) {
		fprintf(stderr, "fuzz_rebuild: %s (part %zu)\n", what, part);
		abort();
	}
}

/* fuzz_parse - msg whole (step 0) or in pieces of at most step bytes */
static struct mime_message *fuzz_parse(const char *msg, size_t len, const struct mime_limits *l,
				       const struct mime_view *v, size_t step)
{
	struct mime_parser *p = mime_parser_new(l, v);
	fuzz_check(p != NULL, "mime_parser_new failed", 0);
	for (size_t pos = 0; pos < len;) {
		size_t n = step == 0 || len - pos < step ? len - pos : step;
		fuzz_check(mime_parser_feed(p, msg + pos, n) == 0, "feed failed", 0);
		pos += n;
	}
	struct mime_message *m = mime_parser_finish(p);
	fuzz_check(m != NULL, "finish failed", 0);
	return m;
}

/* fuzz_raw - the raw ranges' invariants; exact ones in the default view */
static void fuzz_raw(const struct mime_message *m, const char *msg, size_t len, bool exact)
{
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		fuzz_check(p->raw_start <= p->raw_body && p->raw_body <= p->raw_end && p->raw_end <= len,
			   "raw range out of order or bounds", i);
		fuzz_check(p->raw_delim == MIME_RAW_NONE || p->raw_delim <= p->raw_start,
			   "delimiter after start", i);
		fuzz_check(i > 0 || (p->raw_known && p->raw_start == 0 && p->raw_delim == MIME_RAW_NONE),
			   "part 0 range", i);
		fuzz_check(p->raw_known || (p->raw_delim == MIME_RAW_NONE && p->raw_start == p->raw_end),
			   "unknown range not empty", i);
		if (!exact || m->limit != MIME_LIMIT_NONE || !p->raw_known)
			continue;
		fuzz_check(i > 0 || p->raw_end == len, "part 0 does not end with the input", i);
		if (p->raw_delim != MIME_RAW_NONE)
			fuzz_check(p->raw_delim + 2 <= len && memcmp(msg + p->raw_delim, "--", 2) == 0,
				   "delimiter line without --", i);
		bool identity = p->cte == MIME_CTE_7BIT || p->cte == MIME_CTE_8BIT ||
				p->cte == MIME_CTE_BINARY;
		if (p->leaf && identity)
			fuzz_check(p->size == p->raw_end - p->raw_body &&
					   memcmp(p->data, msg + p->raw_body, p->size) == 0,
				   "identity leaf is not its raw body", i);
	}
}

/* fuzz_same_raw - two parses agree on every offset */
static void fuzz_same_raw(const struct mime_message *a, const struct mime_message *b)
{
	fuzz_check(a->nparts == b->nparts, "chunking changed the part count", 0);
	for (size_t i = 0; i < a->nparts; i++) {
		const struct mime_part *p = &a->parts[i], *q = &b->parts[i];
		fuzz_check(p->raw_delim == q->raw_delim && p->raw_start == q->raw_start &&
				   p->raw_body == q->raw_body && p->raw_end == q->raw_end &&
				   p->raw_known == q->raw_known,
			   "chunking changed the offsets", i);
	}
}

/* fuzz_ops - ops from a small generator seeded by the first byte */
static bool fuzz_ops(const struct mime_message *m, uint8_t seed, unsigned char *op,
		     const char **text)
{
	uint32_t x = 0x9e3779b9u * (seed + 1u);
	bool any = false;

	for (size_t i = 0; i < m->nparts; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		unsigned r = x % 8;
		/* The root rarely: a root edit ends every other check. */
		if (i == 0 && (x >> 8) % 8 != 0)
			r = 0;
		op[i] = r < 4 ? REBUILD_KEEP : r < 6 ? REBUILD_DROP : r < 7 ? REBUILD_DROP_WARN
									 : REBUILD_REPLACE_WARN;
		text[i] = fuzz_texts[(x >> 4) % (sizeof(fuzz_texts) / sizeof(fuzz_texts[0]))];
		any |= op[i] != REBUILD_KEEP;
	}
	return any;
}

/* fuzz_target - the part an op on part i lands on (the spec's climbing rule) */
static size_t fuzz_target(const struct mime_message *m, size_t i)
{
	while (i > 0) {
		const struct mime_part *par = &m->parts[m->parts[i].parent];
		bool enclosed = !par->leaf && strncmp(par->content_type, "message/", 8) == 0;
		if (m->parts[i].raw_known && !enclosed)
			break;
		i = (size_t)m->parts[i].parent;
	}
	return i;
}

static int fuzz_cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* fuzz_kept - every leaf outside an edited part is still there, as often as before */
static void fuzz_kept(const struct mime_message *m, const unsigned char *op,
		      const struct mime_message *b)
{
	bool *edited = calloc(m->nparts, 1);
	unsigned char(*want)[32] = calloc(m->nparts, 32);
	unsigned char(*have)[32] = calloc(b->nparts, 32);
	size_t nw = 0, nh = 0;

	fuzz_check(edited && want && have, "out of memory", 0);
	for (size_t i = 0; i < m->nparts; i++)
		if (op[i] != REBUILD_KEEP)
			edited[fuzz_target(m, i)] = true;
	for (size_t i = 0; i < m->nparts; i++) {
		if (i > 0 && edited[m->parts[i].parent])
			edited[i] = true; /* inside an edited part: gone with it */
		if (!edited[i] && m->parts[i].leaf)
			memcpy(want[nw++], m->parts[i].sha256, 32);
	}
	for (size_t i = 0; i < b->nparts; i++)
		if (b->parts[i].leaf)
			memcpy(have[nh++], b->parts[i].sha256, 32);
	qsort(want, nw, 32, fuzz_cmp32);
	qsort(have, nh, 32, fuzz_cmp32);
	size_t k = 0;
	for (size_t i = 0; i < nw; i++) {
		while (k < nh && memcmp(have[k], want[i], 32) < 0)
			k++;
		fuzz_check(k < nh && memcmp(have[k], want[i], 32) == 0, "a kept leaf is missing", i);
		k++;
	}
	free(edited);
	free(want);
	free(have);
}

/* fuzz_rebuild - rebuild with derived ops and check the result */
static void fuzz_rebuild(const char *msg, size_t len, const struct mime_message *m, uint8_t seed)
{
	unsigned char *op = calloc(m->nparts, 1);
	const char **text = calloc(m->nparts, sizeof(*text));
	fuzz_check(op && text, "out of memory", 0);
	bool any = fuzz_ops(m, seed, op, text);

	struct rebuild_out out;
	char err[512] = "";
	int rc = rebuild_message(msg, len, m, op, text, &out, err, sizeof(err));
	bool bad = m->limit != MIME_LIMIT_NONE || (m->flags & MIME_AMBIGUOUS);
	if (rc == -1) {
		if (!out.refused)
			fprintf(stderr, "fuzz_rebuild: error: %s\n", err);
		fuzz_check(out.refused, "rebuild failed without refusing", 0);
		fuzz_check(bad || strstr(err, "boundary") != NULL, "refused a clean message", 0);
		fuzz_check(out.message == NULL && !out.changed, "refusal left output", 0);
	} else {
		fuzz_check(!bad, "edited an ambiguous or limited message", 0);
		fuzz_check(out.changed == any, "changed does not match the ops", 0);
	}
	if (rc == 0 && out.changed) {
		fuzz_check(out.body >= out.message && out.body + out.bodylen == out.message + out.msglen,
			   "body is not the message's tail", 0);
		struct mime_message *b = fuzz_parse(out.message, out.msglen, &fuzz_reparse, NULL, 0);
		if (b->limit != MIME_LIMIT_NONE || (b->flags & MIME_AMBIGUOUS)) {
			char fl[512];
			mime_flags_format(b->flags, fl, sizeof(fl));
			fprintf(stderr, "fuzz_rebuild: re-parse flags %s limit %s\n", fl,
				mime_limit_name(b->limit));
		}
		fuzz_check(b->limit == MIME_LIMIT_NONE, "the rebuilt message hits a limit", 0);
		fuzz_check((b->flags & MIME_AMBIGUOUS) == 0, "the rebuilt message is ambiguous", 0);
		fuzz_raw(b, out.message, out.msglen, true);
		if (op[0] == REBUILD_KEEP)
			fuzz_kept(m, op, b);
		mime_message_free(b);
	}
	rebuild_out_clear(&out);
	free(op);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	const struct mime_limits *l = (data[1] & 1) ? &fuzz_tight : &fuzz_roomy;
	const char *msg = (const char *)data + 2;
	size_t len = size - 2;

	struct mime_message *m = fuzz_parse(msg, len, l, NULL, 0);
	fuzz_raw(m, msg, len, true);
	if (data[1] & 2) {
		size_t step = len <= 4096 ? 1 : 1 + (data[0] % 97);
		struct mime_message *c = fuzz_parse(msg, len, l, NULL, step);
		fuzz_same_raw(m, c);
		mime_message_free(c);
	}
	if (data[1] >> 2) {
		const struct mime_view v = {
			.last_content_type = data[1] & 4,
			.last_cte = data[1] & 8,
			.strict_base64 = data[1] & 16,
			.guess_boundary = data[1] & 32,
			.decode_multipart = data[1] & 64,
			.bare_cr_breaks_header = data[1] & 128,
		};
		struct mime_message *o = fuzz_parse(msg, len, l, &v, 0);
		fuzz_raw(o, msg, len, false);
		mime_message_free(o);
	}
	fuzz_rebuild(msg, len, m, data[0]);
	mime_message_free(m);
	return 0;
}
