/*
 * mime_tree - the part tree behind mime.c: part creation against the depth
 * and part limits, paths, filename sources, leaf buffers with their
 * SHA-256 and the decoded-size limit, the ends of raw byte ranges, the
 * final clean-up that gives every part its defaults and in-bounds raw
 * offsets, and the names of flags, limits and encodings.
 *
 * Leaf buffers grow by doubling, but never past what the decoded-size
 * limit still allows plus the one reservation being made, so a message
 * can never hold much more than lim.max_decoded_size of leaf data.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime_int.h"
#include "text.h"

/* At most this many filename sources are kept per part; more are ignored. */
#define MIME_MAX_NAMES 16

/* mime_tree_part_init - a fresh part, all strings NULL until mime_tree_finish */
static void mime_tree_part_init(struct mime_part *pt, int parent, unsigned depth)
{
	memset(pt, 0, sizeof(*pt));
	pt->parent = parent;
	pt->depth = depth;
	pt->filename = "";
	pt->raw_delim = pt->raw_start = pt->raw_body = pt->raw_end = MIME_RAW_NONE;
}

/* mime_tree_init - the message and its part 0 */
int mime_tree_init(struct mime_parser *p)
{
	p->m = calloc(1, sizeof(*p->m));
	if (p->m == NULL)
		return -1;
	p->pcap = 8;
	p->m->parts = calloc(p->pcap, sizeof(*p->m->parts));
	p->px = calloc(p->pcap, sizeof(*p->px));
	if (p->m->parts == NULL || p->px == NULL)
		return -1;
	mime_tree_part_init(&p->m->parts[0], -1, 0);
	strcpy(p->m->parts[0].path, "1");
	p->m->parts[0].raw_start = 0;
	p->m->parts[0].raw_known = true;
	p->m->nparts = 1;
	return 0;
}

/* mime_tree_limit - record the first limit reached; the parse stops there */
void mime_tree_limit(struct mime_parser *p, enum mime_limit_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (p->m->limit != MIME_LIMIT_NONE)
		return;
	p->m->limit = kind;
	va_start(ap, fmt);
	vsnprintf(p->m->limit_detail, sizeof(p->m->limit_detail), fmt, ap);
	va_end(ap);
	p->m->parts[0].flags |= MIME_LIMIT;
}

/* mime_tree_flag - set flags on one part (m->flags is their union at the end) */
void mime_tree_flag(struct mime_parser *p, size_t part, unsigned flags)
{
	p->m->parts[part].flags |= flags;
}

/* mime_tree_new_part - a child of parent; -1 when a limit is reached or memory runs out */
long mime_tree_new_part(struct mime_parser *p, size_t parent)
{
	struct mime_message *m = p->m;
	unsigned depth = m->parts[parent].depth + 1;

	if (mime_stopped(p))
		return -1;
	if (depth > p->lim.max_depth) {
		mime_tree_limit(p, MIME_LIMIT_DEPTH, "nesting depth %u over mime_max_depth %u", depth,
				p->lim.max_depth);
		return -1;
	}
	if (m->nparts >= p->lim.max_parts) {
		mime_tree_limit(p, MIME_LIMIT_PARTS, "part %zu over mime_max_parts %u", m->nparts + 1,
				p->lim.max_parts);
		return -1;
	}
	if (m->nparts == p->pcap) {
		size_t ncap = p->pcap * 2;
		struct mime_part *np = realloc(m->parts, ncap * sizeof(*np));
		if (np == NULL) {
			p->oom = true;
			return -1;
		}
		m->parts = np;
		struct mime_pextra *nx = realloc(p->px, ncap * sizeof(*nx));
		if (nx == NULL) {
			p->oom = true;
			return -1;
		}
		p->px = nx;
		p->pcap = ncap;
	}
	size_t idx = m->nparts++;
	struct mime_part *pt = &m->parts[idx];
	mime_tree_part_init(pt, (int)parent, depth);
	memset(&p->px[idx], 0, sizeof(p->px[idx]));
	unsigned kid = ++p->px[parent].nkids;
	int n = snprintf(pt->path, sizeof(pt->path), "%s.%u", m->parts[parent].path, kid);
	if (n < 0 || (size_t)n >= sizeof(pt->path))
		pt->path[sizeof(pt->path) - 2] = '~'; /* cut: too deep to print */
	return (long)idx;
}

/* mime_tree_strdup - a NUL-terminated copy, optionally ASCII lower case */
char *mime_tree_strdup(struct mime_parser *p, const char *s, size_t n, bool lower)
{
	char *d = malloc(n + 1);

	if (d == NULL) {
		p->oom = true;
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	if (lower)
		for (size_t i = 0; i < n; i++)
			if (d[i] >= 'A' && d[i] <= 'Z')
				d[i] = (char)(d[i] + 32);
	return d;
}

/*
 * mime_tree_add_name - one filename source. Names from mimehdr are already
 * clean UTF-8; the uuencode name is raw, so every name is checked again:
 * control characters and bytes that are not UTF-8 become '?'.
 */
void mime_tree_add_name(struct mime_parser *p, size_t part, enum mime_name_source src,
			const char *name, size_t len)
{
	struct mime_part *pt = &p->m->parts[part];

	if (len == 0 || pt->nnames >= MIME_MAX_NAMES)
		return;
	struct mime_name *nn = realloc(pt->names, (pt->nnames + 1) * sizeof(*nn));
	if (nn == NULL) {
		p->oom = true;
		return;
	}
	pt->names = nn;
	char *d = malloc(len + 1);
	if (d == NULL) {
		p->oom = true;
		return;
	}
	const unsigned char *s = (const unsigned char *)name;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = text_utf8_len(s + i, len - i);
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			d[o++] = '?';
			i++;
			continue;
		}
		memcpy(d + o, s + i, k);
		o += k;
		i += k;
	}
	d[o] = '\0';
	nn[pt->nnames].source = src;
	nn[pt->nnames].name = d;
	pt->nnames++;
}

/* mime_tree_header_block - keep the top-level header bytes, up to the header limit */
void mime_tree_header_block(struct mime_parser *p, const char *s, size_t n)
{
	struct mime_message *m = p->m;
	size_t room = p->lim.max_header_length - m->header_len;

	if (m->header_len >= p->lim.max_header_length)
		return;
	if (n > room)
		n = room;
	if (m->header_len + n + 1 > p->hbcap) {
		size_t ncap = p->hbcap ? p->hbcap : 1024;
		while (ncap < m->header_len + n + 1)
			ncap *= 2;
		char *nb = realloc(m->header_block, ncap);
		if (nb == NULL) {
			p->oom = true;
			return;
		}
		m->header_block = nb;
		p->hbcap = ncap;
	}
	memcpy(m->header_block + m->header_len, s, n);
	m->header_len += n;
	m->header_block[m->header_len] = '\0';
}

/*
 * mime_tree_raw_end - part's body ends at raw offset end (the start of the
 * line ending before a delimiter), unless it ended already; never before
 * the part starts, when the delimiter's line ending is the delimiter line
 * before. mime_tree_raw_settle() brings raw_body into [start, end] later.
 */
void mime_tree_raw_end(struct mime_parser *p, size_t part, size_t end)
{
	struct mime_part *pt = &p->m->parts[part];

	if (pt->raw_end == MIME_RAW_NONE)
		pt->raw_end = end > pt->raw_start ? end : pt->raw_start;
}

/*
 * mime_tree_raw_settle - final raw offsets: a part still open ends with
 * the input; one without a range of its own gets an empty one at its
 * parent's body (parents come first, so theirs are final); and whatever a
 * stopped parse or an odd view left, every offset ends up in bounds.
 */
static void mime_tree_raw_settle(struct mime_parser *p, size_t i)
{
	struct mime_part *pt = &p->m->parts[i];
	size_t fed = p->fed;

	if (!pt->raw_known) {
		size_t at = pt->parent >= 0 ? p->m->parts[pt->parent].raw_body : 0;
		pt->raw_delim = MIME_RAW_NONE;
		pt->raw_start = pt->raw_body = pt->raw_end = at;
		return;
	}
	if (pt->raw_end == MIME_RAW_NONE || pt->raw_end > fed)
		pt->raw_end = fed;
	if (pt->raw_start > pt->raw_end)
		pt->raw_start = pt->raw_end;
	if (pt->raw_body == MIME_RAW_NONE || pt->raw_body > pt->raw_end)
		pt->raw_body = pt->raw_end;
	if (pt->raw_body < pt->raw_start)
		pt->raw_body = pt->raw_start;
	if (pt->raw_delim != MIME_RAW_NONE && pt->raw_delim > pt->raw_start)
		pt->raw_delim = pt->raw_start;
}

/* mime_tree_outside - keep a preamble or epilogue line, so it can be scanned */
void mime_tree_outside(struct mime_parser *p, const char *s, size_t n)
{
	struct mime_message *m = p->m;
	if (m->outside_truncated)
		return;
	if (m->outside_len + n + 2 > MIME_OUTSIDE_MAX) {
		m->outside_truncated = true;
		return;
	}
	if (m->outside == NULL && (m->outside = malloc(MIME_OUTSIDE_MAX)) == NULL) {
		p->oom = true;
		return;
	}
	memcpy(m->outside + m->outside_len, s, n);
	memcpy(m->outside + m->outside_len + n, "\r\n", 2);
	m->outside_len += n + 2;
}

/* mime_sink_room - decoded bytes the limit still allows */
unsigned long long mime_sink_room(const struct mime_parser *p)
{
	return p->lim.max_decoded_size - p->decoded;
}

/* mime_sink_open - start writing leaf part; allocates its (possibly empty) buffer */
int mime_sink_open(struct mime_parser *p, struct mime_sink *s, size_t part)
{
	struct mime_part *pt = &p->m->parts[part];

	s->part = part;
	s->open = false;
	pt->leaf = true;
	if (pt->data == NULL) {
		pt->data = malloc(64);
		if (pt->data == NULL) {
			p->oom = true;
			return -1;
		}
		p->px[part].cap = 64;
	}
	if (s->sha == NULL && (s->sha = EVP_MD_CTX_new()) == NULL) {
		p->oom = true;
		return -1;
	}
	if (EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1) {
		p->oom = true;
		return -1;
	}
	s->open = true;
	return 0;
}

/* mime_sink_reserve - room for n more bytes at data + size; NULL when out of memory */
unsigned char *mime_sink_reserve(struct mime_parser *p, struct mime_sink *s, size_t n)
{
	struct mime_part *pt = &p->m->parts[s->part];
	struct mime_pextra *x = &p->px[s->part];

	if (!s->open)
		return NULL;
	if (pt->size + n > x->cap) {
		size_t need = pt->size + n;
		size_t ncap = x->cap * 2;
		unsigned long long room = mime_sink_room(p);
		if (room < SIZE_MAX / 2 && ncap > pt->size + room + 64)
			ncap = (size_t)(pt->size + room + 64);
		if (ncap < need)
			ncap = need;
		unsigned char *nd = realloc(pt->data, ncap);
		if (nd == NULL) {
			p->oom = true;
			return NULL;
		}
		pt->data = nd;
		x->cap = ncap;
	}
	return pt->data + pt->size;
}

/* mime_sink_commit - n bytes written at data + size; cut at the decoded-size limit */
void mime_sink_commit(struct mime_parser *p, struct mime_sink *s, size_t n)
{
	struct mime_part *pt = &p->m->parts[s->part];
	unsigned long long room = mime_sink_room(p);

	if (!s->open)
		return;
	if (n > room) {
		n = (size_t)room;
		mime_tree_limit(p, MIME_LIMIT_DECODED_SIZE,
				"decoded size over mime_max_decoded_size %llu",
				p->lim.max_decoded_size);
	}
	if (n > 0 && EVP_DigestUpdate(s->sha, pt->data + pt->size, n) != 1)
		p->oom = true;
	pt->size += n;
	p->decoded += n;
}

/* mime_sink_write - append bytes to the leaf */
void mime_sink_write(struct mime_parser *p, struct mime_sink *s, const void *buf, size_t n)
{
	if (n == 0)
		return;
	unsigned char *d = mime_sink_reserve(p, s, n);
	if (d == NULL)
		return;
	memcpy(d, buf, n);
	mime_sink_commit(p, s, n);
}

/* mime_sink_close - the leaf is complete: its SHA-256 is final */
void mime_sink_close(struct mime_parser *p, struct mime_sink *s)
{
	if (!s->open)
		return;
	s->open = false;
	if (EVP_DigestFinal_ex(s->sha, p->m->parts[s->part].sha256, NULL) != 1) {
		p->oom = true;
		return;
	}
	p->px[s->part].hashed = true;
}

/* mime_tree_extension - last extension of name, lower case, <= 31 bytes, "" if none */
static void mime_tree_extension(const char *name, char ext[32])
{
	const char *base = name, *end, *dot = NULL;

	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == '\\')
			base = c + 1;
	end = base + strlen(base);
	while (end > base && (end[-1] == '.' || end[-1] == ' '))
		end--;
	for (const char *c = base; c < end; c++)
		if (*c == '.')
			dot = c;
	ext[0] = '\0';
	if (dot == NULL)
		return;
	size_t n = (size_t)(end - dot - 1);
	if (n > 31) {
		n = 31; /* and not inside a UTF-8 sequence */
		while (n > 0 && ((unsigned char)dot[1 + n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		char c = dot[1 + i];
		ext[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	ext[n] = '\0';
}

/* mime_tree_best_name - first non-empty name by source: disposition, content type, uuencode */
static const char *mime_tree_best_name(const struct mime_part *pt)
{
	static const enum mime_name_source order[] = {MIME_NAME_DISPOSITION, MIME_NAME_CONTENT_TYPE,
						      MIME_NAME_UUENCODE};

	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < pt->nnames; i++)
			if (pt->names[i].source == order[o] && pt->names[i].name[0] != '\0')
				return pt->names[i].name;
	return "";
}

/* mime_tree_fill - a string field left NULL (the parse stopped early) gets its default */
static void mime_tree_fill(struct mime_parser *p, char **field, const char *def)
{
	if (*field == NULL)
		*field = mime_tree_strdup(p, def, strlen(def), false);
}

/*
 * mime_tree_finish - every part gets its defaults (a part whose header the
 * parse never finished is an empty text/plain leaf), its best filename and
 * extension, its final raw offsets, and every leaf its SHA-256; m->flags
 * becomes the union.
 */
void mime_tree_finish(struct mime_parser *p)
{
	struct mime_message *m = p->m;

	m->flags = 0;
	for (size_t i = 0; i < m->nparts; i++) {
		struct mime_part *pt = &m->parts[i];
		if (pt->content_type == NULL)
			pt->leaf = true;
		mime_tree_fill(p, &pt->content_type, "text/plain");
		mime_tree_fill(p, &pt->charset, "");
		mime_tree_fill(p, &pt->disposition, "");
		if (pt->leaf && pt->data == NULL) {
			pt->data = malloc(1);
			if (pt->data == NULL)
				p->oom = true;
		}
		if (pt->leaf && !p->px[i].hashed) {
			unsigned int len = 0;
			if (pt->data == NULL ||
			    EVP_Digest(pt->data, pt->size, pt->sha256, &len, EVP_sha256(), NULL) != 1)
				p->oom = true;
			p->px[i].hashed = true;
		}
		pt->filename = mime_tree_best_name(pt);
		mime_tree_extension(pt->filename, pt->extension);
		mime_tree_raw_settle(p, i);
		m->flags |= pt->flags;
	}
}

/* mime_message_free - release a message and everything it owns */
void mime_message_free(struct mime_message *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nparts; i++) {
		struct mime_part *pt = &m->parts[i];
		free(pt->content_type);
		free(pt->charset);
		free(pt->disposition);
		for (size_t k = 0; k < pt->nnames; k++)
			free(pt->names[k].name);
		free(pt->names);
		free(pt->data);
	}
	free(m->parts);
	free(m->header_block);
	free(m->outside);
	free(m);
}

static const char *const mime_flag_names[MIME_FLAG_COUNT] = {
	"duplicate-content-type",
	"duplicate-cte",
	"boundary-missing",
	"boundary-unclosed",
	"boundary-reused",
	"boundary-not-found",
	"base64-invalid",
	"qp-invalid",
	"header-nul",
	"header-bare-cr",
	"header-8bit",
	"message-partial",
	"preamble-content",
	"epilogue-content",
	"mixed-eol",
	"unknown-cte",
	"bad-header-syntax",
	"encoded-multipart",
	"limit",
	"duplicate-parameter",
};

/* mime_flag_name - stable name of one flag bit, "unknown" for anything else */
const char *mime_flag_name(enum mime_flag f)
{
	unsigned v = (unsigned)f;

	if (v == 0 || (v & (v - 1)) != 0)
		return "unknown";
	for (unsigned i = 0; i < MIME_FLAG_COUNT; i++)
		if (v == 1u << i)
			return mime_flag_names[i];
	return "unknown";
}

/* mime_flags_format - "a,b,c" into buf (cut like snprintf); returns the full length */
size_t mime_flags_format(unsigned flags, char *buf, size_t len)
{
	size_t n = 0;

	for (unsigned i = 0; i < MIME_FLAG_COUNT; i++) {
		if (!(flags & (1u << i)))
			continue;
		if (n > 0) {
			if (n + 1 < len)
				buf[n] = ',';
			n++;
		}
		for (const char *c = mime_flag_names[i]; *c; c++, n++)
			if (n + 1 < len)
				buf[n] = *c;
	}
	if (len > 0)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

/* mime_limit_name - "none", "depth", "parts", "header-length", "line-length", "decoded-size" */
const char *mime_limit_name(enum mime_limit_kind k)
{
	switch (k) {
	case MIME_LIMIT_NONE:
		return "none";
	case MIME_LIMIT_DEPTH:
		return "depth";
	case MIME_LIMIT_PARTS:
		return "parts";
	case MIME_LIMIT_HEADER_LENGTH:
		return "header-length";
	case MIME_LIMIT_LINE_LENGTH:
		return "line-length";
	case MIME_LIMIT_DECODED_SIZE:
		return "decoded-size";
	}
	return "unknown";
}

/* mime_cte_name - the transfer encoding as written in a header */
const char *mime_cte_name(enum mime_cte c)
{
	switch (c) {
	case MIME_CTE_7BIT:
		return "7bit";
	case MIME_CTE_8BIT:
		return "8bit";
	case MIME_CTE_BINARY:
		return "binary";
	case MIME_CTE_BASE64:
		return "base64";
	case MIME_CTE_QP:
		return "quoted-printable";
	case MIME_CTE_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}
