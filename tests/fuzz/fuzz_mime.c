/*
 * fuzz_mime - libFuzzer target for the streaming MIME parser.
 *
 * The first input byte chooses the view (bits 0-4) and how the rest is cut
 * (bits 5-7); the second chooses tight or roomy limits (bit 0) and the
 * bare-CR view (bit 1). The rest, the
 * message, is parsed whole and again in pieces, and the two trees must be
 * identical in every detail. Each tree must also keep the invariants:
 * nparts <= max_parts, depth <= max_depth, parents before children and
 * one level up, leaves with data and containers without, total decoded
 * size within the limit, only known flag bits, m->flags the union of the
 * parts' flags, MIME_LIMIT exactly when a limit is named, every string
 * present, and each SHA-256 matching its data. Everything is freed, so
 * LeakSanitizer sees leaks.
 */
// fuzz-sources: src/mime.c src/mime_head.c src/mime_tree.c src/decode.c src/mimehdr.c src/text.c
// fuzz-pkgs: libcrypto
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mime.h"

#define FUZZ_MAX_INPUT (96 * 1024)

/* fuzz_check - abort with a message, so libFuzzer records the input */
static void fuzz_check(bool ok, const char *what, size_t part)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mime: %s (part %zu)\n", what, part);
		abort();
	}
}

/* fuzz_parse - parse msg cut by mode: 0 whole, 1 byte-wise, else pseudo-random pieces */
static struct mime_message *fuzz_parse(const uint8_t *msg, size_t len, const struct mime_limits *l,
				       const struct mime_view *v, unsigned mode)
{
	struct mime_parser *p = mime_parser_new(l, v);
	uint32_t seed = mode * 2654435761u + (uint32_t)len;
	size_t pos = 0;

	fuzz_check(p != NULL, "mime_parser_new failed", 0);
	while (pos < len) {
		size_t n = len - pos;
		if (mode == 1) {
			n = 1;
		} else if (mode > 1) {
			seed = seed * 1103515245u + 12345u;
			size_t r = 1 + (seed >> 8) % (mode * 37u);
			n = r < n ? r : n;
		}
		fuzz_check(mime_parser_feed(p, (const char *)msg + pos, n) == 0, "feed failed", 0);
		pos += n;
	}
	struct mime_message *m = mime_parser_finish(p);
	fuzz_check(m != NULL, "finish failed", 0);
	return m;
}

/* fuzz_invariants - what every tree must satisfy */
static void fuzz_invariants(const struct mime_message *m, const struct mime_limits *l)
{
	unsigned all = 0;
	unsigned long long total = 0;

	fuzz_check(m->nparts >= 1 && m->nparts <= l->max_parts, "part count", m->nparts);
	fuzz_check(m->parts[0].parent == -1 && m->parts[0].depth == 0, "part 0", 0);
	fuzz_check(strcmp(m->parts[0].path, "1") == 0, "path of part 0", 0);
	fuzz_check((m->limit == MIME_LIMIT_NONE) == ((m->flags & MIME_LIMIT) == 0), "limit flag", 0);
	fuzz_check(m->limit != MIME_LIMIT_NONE || m->limit_detail[0] == '\0', "detail without limit", 0);
	fuzz_check(m->limit == MIME_LIMIT_NONE || m->limit_detail[0] != '\0', "limit without detail", 0);
	fuzz_check(m->header_len <= l->max_header_length, "header block size", 0);
	fuzz_check(m->header_len == 0 || m->header_block != NULL, "header block", 0);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		fuzz_check(p->depth <= l->max_depth, "depth", i);
		fuzz_check(p->content_type && p->charset && p->disposition && p->filename, "strings", i);
		fuzz_check(memchr(p->path, '\0', sizeof(p->path)) != NULL, "path", i);
		fuzz_check(memchr(p->extension, '\0', sizeof(p->extension)) != NULL, "extension", i);
		fuzz_check((p->flags & ~((1u << MIME_FLAG_COUNT) - 1)) == 0, "unknown flag bits", i);
		fuzz_check(p->cte <= MIME_CTE_UNKNOWN, "cte", i);
		if (i > 0) {
			fuzz_check(p->parent >= 0 && (size_t)p->parent < i, "parent order", i);
			fuzz_check(p->depth == m->parts[p->parent].depth + 1, "parent depth", i);
		}
		for (size_t k = 0; k < p->nnames; k++)
			fuzz_check(p->names[k].name != NULL && p->names[k].name[0] != '\0', "name", i);
		if (p->filename[0] != '\0') {
			bool found = false;
			for (size_t k = 0; k < p->nnames; k++)
				found |= p->filename == p->names[k].name;
			fuzz_check(found, "best name not among the names", i);
		}
		if (p->leaf) {
			unsigned char h[32];
			unsigned hl = 0;
			fuzz_check(p->data != NULL, "leaf without data", i);
			fuzz_check(EVP_Digest(p->data, p->size, h, &hl, EVP_sha256(), NULL) == 1, "digest", i);
			fuzz_check(memcmp(h, p->sha256, 32) == 0, "sha256 does not match data", i);
			total += p->size;
		} else {
			fuzz_check(p->data == NULL && p->size == 0, "container with data", i);
		}
		all |= p->flags;
	}
	fuzz_check(total <= l->max_decoded_size, "decoded size over the limit", 0);
	fuzz_check(all == m->flags, "message flags are not the union", 0);
}

/* fuzz_same - two parses of one input agree in every detail */
static void fuzz_same(const struct mime_message *a, const struct mime_message *b)
{
	fuzz_check(a->nparts == b->nparts, "chunking changed the part count", 0);
	fuzz_check(a->flags == b->flags, "chunking changed the flags", 0);
	fuzz_check(a->limit == b->limit, "chunking changed the limit", 0);
	fuzz_check(strcmp(a->limit_detail, b->limit_detail) == 0, "chunking changed the detail", 0);
	fuzz_check(a->header_len == b->header_len &&
			   (a->header_len == 0 ||
			    memcmp(a->header_block, b->header_block, a->header_len) == 0),
		   "chunking changed the header block", 0);
	for (size_t i = 0; i < a->nparts; i++) {
		const struct mime_part *p = &a->parts[i], *q = &b->parts[i];
		fuzz_check(strcmp(p->path, q->path) == 0 && p->parent == q->parent, "tree", i);
		fuzz_check(strcmp(p->content_type, q->content_type) == 0 &&
				   strcmp(p->charset, q->charset) == 0 &&
				   strcmp(p->disposition, q->disposition) == 0 && p->cte == q->cte,
			   "header fields", i);
		fuzz_check(p->flags == q->flags && p->leaf == q->leaf, "part flags", i);
		fuzz_check(p->size == q->size && memcmp(p->sha256, q->sha256, 32) == 0, "data", i);
		fuzz_check(p->nnames == q->nnames && strcmp(p->filename, q->filename) == 0 &&
				   strcmp(p->extension, q->extension) == 0,
			   "names", i);
		for (size_t k = 0; k < p->nnames; k++)
			fuzz_check(p->names[k].source == q->names[k].source &&
					   strcmp(p->names[k].name, q->names[k].name) == 0,
				   "name", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mime_limits tight = {
		.max_depth = 6,
		.max_parts = 24,
		.max_header_length = 300,
		.max_line_length = 200,
		.max_decoded_size = 4096,
	};
	static const struct mime_limits roomy = {
		.max_depth = 40,
		.max_parts = 500,
		.max_header_length = 8192,
		.max_line_length = 16384,
		.max_decoded_size = 1 << 20,
	};

	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	struct mime_view v = {
		.last_content_type = data[0] & 1,
		.last_cte = data[0] & 2,
		.strict_base64 = data[0] & 4,
		.guess_boundary = data[0] & 8,
		.decode_multipart = data[0] & 16,
		.bare_cr_breaks_header = data[1] & 2,
	};
	unsigned mode = 1 + (data[0] >> 5); /* 1 byte-wise, 2..8 random pieces */
	const struct mime_limits *l = (data[1] & 1) ? &tight : &roomy;
	const uint8_t *msg = data + 2;
	size_t len = size - 2;

	struct mime_message *whole = fuzz_parse(msg, len, l, &v, 0);
	fuzz_invariants(whole, l);
	if (mode > 1 || len <= 8192) {
		struct mime_message *cut = fuzz_parse(msg, len, l, &v, mode);
		fuzz_invariants(cut, l);
		fuzz_same(whole, cut);
		mime_message_free(cut);
	}
	char buf[64];
	(void)mime_flags_format(whole->flags, buf, sizeof(buf));
	mime_message_free(whole);
	return 0;
}
