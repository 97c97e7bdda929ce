/*
 * rebuild_out - the output side of rebuild.c: a growing buffer, warning
 * texts and parts, the rewritten top-level header, the raw body with the
 * planned edits applied (or wrapped in a new multipart/mixed), and new
 * boundaries. See rebuild.h for the contract; rebuild.c settles the ops,
 * plans the edits and calls these functions.
 *
 * Choices the contract leaves open:
 *  - A text line that starts with "--" gets a leading space: a text may
 *    quote an attacker's file name, and must never be read as a delimiter
 *    of an enclosing multipart. Bytes that are not UTF-8 become '?', so
 *    that the charset=utf-8 label is true.
 *  - New parts end with CRLF, and the line break before each delimiter is
 *    the delimiter's (RFC 2046), so a warning decodes to its text ending
 *    in one line break.
 *  - Wrapping: the root's Content-* fields are copied into the first
 *    child; on the root, a base64 or quoted-printable
 *    Content-Transfer-Encoding is deleted (a multipart may not be
 *    encoded), an identity one stays (it holds for the new root too).
 *    Other root fields stay as they are (the milter changes only
 *    Content-Type, Content-Transfer-Encoding and MIME-Version), so a root
 *    edit leaves e.g. a Content-Disposition on the top-level header.
 *  - "MIME-Version: 1.0" is added whenever the message changes and has no
 *    such field.
 *  - A new boundary must not occur in the raw bytes, nor be a prefix of an
 *    existing boundary or have one as a prefix (a reader that matches by
 *    prefix would see other parts; the parser flags that as ambiguous).
 *    After RB_BOUNDARY_TRIES random ones the message is refused: only a
 *    crafted boundary such as "=_k" can cause that, and retrying would
 *    never succeed.
 *  - A top-level header without a blank line after it (a file, not a
 *    milter spool) gets one in out->message.
 *
 * Ownership: an rb_buf owns its bytes; out of memory sticks in b->oom, and
 * the caller checks it once and frees b->p. raw and the part tree are
 * borrowed from the context. Thread safety: a pure function of the
 * context, apart from reading random bytes for a boundary; does not log.
 */
#include "rebuild.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ident.h"
#include "mimehdr.h"
#include "rebuild_int.h"
#include "text.h"

#define RB_BOUNDARY_PREFIX "=_klaxon_"
#define RB_BOUNDARY_HEX 32 /* random hex digits */
#define RB_BOUNDARY_TRIES 8

/* ------------------------------------------------------------ buffers */

/* rb_put - append n bytes */
void rb_put(struct rb_buf *b, const void *s, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void rb_puts(struct rb_buf *b, const char *s)
{
	rb_put(b, s, strlen(s));
}

/* rb_eol - end the line in progress, if any, with CRLF */
static void rb_eol(struct rb_buf *b)
{
	if (b->len > 0 && b->p[b->len - 1] != '\n')
		rb_put(b, "\r\n", 2);
}

/* ------------------------------------------------------------ texts */

/* rb_filter - t without control characters but LF and TAB, non-UTF-8 bytes as '?' */
static void rb_filter(struct rb_buf *o, const char *t)
{
	const unsigned char *s = (const unsigned char *)t;
	size_t n = strlen(t);

	for (size_t i = 0; i < n;) {
		size_t k = text_utf8_len(s + i, n - i);
		if (k == 0) {
			rb_put(o, "?", 1);
			i++;
		} else if (k == 1 && ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f)) {
			i++;
		} else {
			rb_put(o, s + i, k);
			i += k;
		}
	}
}

/*
 * rb_clean - a text as CRLF lines, the last one ended too, a line that
 * starts with "--" indented by a space; an empty result gives def instead.
 */
void rb_clean(struct rb_buf *o, const char *t, const char *def)
{
	struct rb_buf f = {0};

	rb_filter(&f, t != NULL && t[0] != '\0' ? t : def);
	if (f.len == 0 && !f.oom)
		rb_filter(&f, def);
	for (size_t i = 0; i < f.len;) {
		const char *nl = memchr(f.p + i, '\n', f.len - i);
		size_t n = nl ? (size_t)(nl - (f.p + i)) : f.len - i;
		if (n >= 2 && f.p[i] == '-' && f.p[i + 1] == '-')
			rb_put(o, " ", 1);
		rb_put(o, f.p + i, n);
		rb_put(o, "\r\n", 2);
		i += n + (nl ? 1 : 0);
	}
	o->oom |= f.oom;
	free(f.p);
}

/* rb_8bit - any byte >= 0x80 */
static bool rb_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* rb_warning_part - a whole text/plain warning part: header, blank line, text */
static void rb_warning_part(struct rb_buf *o, const char *text, const char *def)
{
	struct rb_buf t = {0};

	rb_clean(&t, text, def);
	rb_puts(o, "Content-Type: text/plain; charset=utf-8\r\n");
	rb_puts(o, rb_8bit(t.p, t.len) ? "Content-Transfer-Encoding: 8bit\r\n"
				       : "Content-Transfer-Encoding: 7bit\r\n");
	rb_puts(o, "Content-Disposition: inline; filename=\"WARNING.TXT\"\r\n\r\n");
	rb_put(o, t.p, t.len);
	o->oom |= t.oom;
	free(t.p);
}

/* --------------------------------------------------------- header fields */

/* One header field: [start, end) with its continuation lines and line endings. */
struct rb_field {
	size_t start, end;
	size_t name;      /* length of its name, 0 for a line that is not a field */
	size_t value;     /* offset of the byte after the colon (if name > 0) */
};

/* rb_line_end - the offset after the line at pos (after its LF, or n) */
static size_t rb_line_end(const char *h, size_t n, size_t pos)
{
	const char *nl = memchr(h + pos, '\n', n - pos);
	return nl ? (size_t)(nl - h) + 1 : n;
}

/* rb_field_next - the field at *pos in h[0, n), as the parser reads fields */
static bool rb_field_next(const char *h, size_t n, size_t *pos, struct rb_field *f)
{
	if (*pos >= n)
		return false;
	size_t e = rb_line_end(h, n, *pos);
	size_t colon = 0;
	f->start = *pos;
	f->name = mime_field_name(h + f->start, e - f->start, &colon);
	f->value = f->start + colon + 1;
	while (e < n && (h[e] == ' ' || h[e] == '\t'))
		e = rb_line_end(h, n, e);
	f->end = e;
	*pos = e;
	return true;
}

/* rb_field_is - the field's name is name (lower case) */
static bool rb_field_is(const char *h, const struct rb_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name == n && strncasecmp(h + f->start, name, n) == 0;
}

/* rb_copy_field - a field with every line ending made CRLF */
static void rb_copy_field(struct rb_buf *o, const char *h, const struct rb_field *f)
{
	for (size_t i = f->start; i < f->end;) {
		size_t e = rb_line_end(h, f->end, i), n = e - i;
		if (n > 0 && h[e - 1] == '\n')
			n--;
		if (n > 0 && h[i + n - 1] == '\r')
			n--;
		rb_put(o, h + i, n);
		rb_put(o, "\r\n", 2);
		i = e;
	}
}

/*
 * rb_fields_end - where the fields of the header ending at body end: the
 * start of its blank line, or body itself when the header has none.
 */
static size_t rb_fields_end(const char *raw, size_t body)
{
	if (body == 0 || raw[body - 1] != '\n')
		return body;
	size_t s = body - 1;
	if (s > 0 && raw[s - 1] == '\r')
		s--;
	return s == 0 || raw[s - 1] == '\n' ? s : body;
}

/* rb_has_field - the top-level header has a field of that name */
static bool rb_has_field(const struct rb_ctx *c, const char *name)
{
	size_t fe = rb_fields_end(c->raw, c->m->parts[0].raw_body), pos = 0;
	struct rb_field f;

	while (rb_field_next(c->raw, fe, &pos, &f))
		if (rb_field_is(c->raw, &f, name))
			return true;
	return false;
}

/* rb_content_fields - the root's Content-* fields, all of them, for the first child of a wrap */
static void rb_content_fields(const struct rb_ctx *c, struct rb_buf *o)
{
	static const char *const names[] = {"content-type", "content-transfer-encoding",
					    "content-disposition", "content-description",
					    "content-id"};
	size_t fe = rb_fields_end(c->raw, c->m->parts[0].raw_body), pos = 0;
	struct rb_field f;

	while (rb_field_next(c->raw, fe, &pos, &f))
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (rb_field_is(c->raw, &f, names[k])) {
				rb_copy_field(o, c->raw, &f);
				break;
			}
}

/*
 * rb_header - the top-level header with out's changes: the first
 * Content-Type replaced, the first Content-Transfer-Encoding replaced or
 * deleted, missing ones and MIME-Version appended; then the blank line.
 */
void rb_header(const struct rb_ctx *c, struct rb_buf *o, const struct rebuild_out *out)
{
	size_t body = c->m->parts[0].raw_body, fe = rb_fields_end(c->raw, body), pos = 0;
	bool ct_done = out->content_type == NULL, cte_done = out->cte == NULL;
	struct rb_field f;

	while (rb_field_next(c->raw, fe, &pos, &f)) {
		if (!ct_done && rb_field_is(c->raw, &f, "content-type")) {
			rb_puts(o, "Content-Type: ");
			rb_puts(o, out->content_type);
			rb_put(o, "\r\n", 2);
			ct_done = true;
		} else if (out->delete_disposition && rb_field_is(c->raw, &f, "content-disposition")) {
			continue; /* it described the old root, which is now a child or gone */
		} else if (!cte_done && rb_field_is(c->raw, &f, "content-transfer-encoding")) {
			if (out->cte[0] != '\0') {
				rb_puts(o, "Content-Transfer-Encoding: ");
				rb_puts(o, out->cte);
				rb_put(o, "\r\n", 2);
			}
			cte_done = true;
		} else {
			rb_put(o, c->raw + f.start, f.end - f.start);
		}
	}
	rb_eol(o);
	if (!ct_done) {
		rb_puts(o, "Content-Type: ");
		rb_puts(o, out->content_type);
		rb_put(o, "\r\n", 2);
	}
	if (!cte_done && out->cte[0] != '\0') {
		rb_puts(o, "Content-Transfer-Encoding: ");
		rb_puts(o, out->cte);
		rb_put(o, "\r\n", 2);
	}
	if (out->add_mime_version)
		rb_puts(o, "MIME-Version: 1.0\r\n");
	if (fe < body)
		rb_put(o, c->raw + fe, body - fe);
	else
		rb_put(o, "\r\n", 2);
}

/* rb_top_fields - content_type, cte and add_mime_version for a root edit or a wrap */
int rb_top_fields(struct rb_ctx *c, struct rebuild_out *out, const char *bnd)
{
	const struct mime_part *root = &c->m->parts[0];
	const char *cte = NULL;

	if (bnd != NULL) {
		size_t n = strlen(bnd) + 40;
		if ((out->content_type = malloc(n)) != NULL)
			snprintf(out->content_type, n, "multipart/mixed; boundary=\"%s\"", bnd);
		if (root->cte == MIME_CTE_BASE64 || root->cte == MIME_CTE_QP)
			cte = "";
	} else if (c->op[0] != REBUILD_KEEP) {
		struct rb_buf t = {0};
		rb_clean(&t, c->text[0], RB_DEFAULT_ROOT);
		bool eight = rb_8bit(t.p, t.len);
		free(t.p);
		out->content_type = strdup("text/plain; charset=utf-8");
		if (eight)
			cte = "8bit";
		else if (root->cte != MIME_CTE_7BIT || rb_has_field(c, "content-transfer-encoding"))
			cte = "7bit";
		if (out->content_type == NULL)
			return rb_fail(c, "out of memory");
	}
	if (cte != NULL && (out->cte = strdup(cte)) == NULL)
		return rb_fail(c, "out of memory");
	if (bnd != NULL && out->content_type == NULL)
		return rb_fail(c, "out of memory");
	out->add_mime_version = !rb_has_field(c, "mime-version");
	out->delete_disposition = (bnd != NULL || c->op[0] != REBUILD_KEEP) && rb_has_field(c, "content-disposition");
	return 0;
}

/* ----------------------------------------------------------- output */

/* rb_apply - one edit at its place in the output */
static void rb_apply(const struct rb_ctx *c, struct rb_buf *o, const struct rb_edit *e)
{
	size_t dl;
	const char *d;

	switch (e->kind) {
	case RB_CUT:
		return;
	case RB_REPLACE:
		rb_warning_part(o, c->text[e->part], RB_DEFAULT_PART);
		/* The line break before the next delimiter is normally still there. */
		if (e->end >= c->rawlen || (c->raw[e->end] != '\r' && c->raw[e->end] != '\n'))
			rb_put(o, "\r\n", 2);
		return;
	case RB_WARN:
		d = rb_delim(c, c->first[0], &dl);
		rb_eol(o);
		rb_put(o, d, dl);
		rb_put(o, "\r\n", 2);
		rb_warning_part(o, c->warn, RB_DEFAULT_PART);
		rb_put(o, "\r\n", 2);
		return;
	}
}

/* rb_emit - raw[from, rawlen) with every planned edit applied */
void rb_emit(const struct rb_ctx *c, struct rb_buf *o, size_t from)
{
	size_t pos = from;

	for (size_t k = 0; k < c->ned; k++) {
		rb_put(o, c->raw + pos, c->ed[k].start - pos);
		rb_apply(c, o, &c->ed[k]);
		pos = c->ed[k].end;
	}
	rb_put(o, c->raw + pos, c->rawlen - pos);
}

/* rb_wrap - a multipart/mixed body: the old root with its Content-* fields, then the warning */
void rb_wrap(const struct rb_ctx *c, struct rb_buf *o, const char *bnd)
{
	rb_puts(o, "--");
	rb_puts(o, bnd);
	rb_put(o, "\r\n", 2);
	rb_content_fields(c, o);
	rb_put(o, "\r\n", 2);
	rb_emit(c, o, c->m->parts[0].raw_body);
	rb_puts(o, "\r\n--");
	rb_puts(o, bnd);
	rb_put(o, "\r\n", 2);
	rb_warning_part(o, c->warn, RB_DEFAULT_PART);
	rb_puts(o, "\r\n--");
	rb_puts(o, bnd);
	rb_puts(o, "--\r\n");
}

/* ----------------------------------------------------------- boundary */

/* rb_part_boundary - the boundary parameter of multipart part i's first Content-Type, or NULL */
static char *rb_part_boundary(const struct rb_ctx *c, size_t i, bool *oom)
{
	const struct mime_part *p = &c->m->parts[i];
	const char *h = c->raw + p->raw_start;
	size_t n = p->raw_body - p->raw_start, pos = 0;
	struct rb_field f;
	char *b = NULL;

	while (rb_field_next(h, n, &pos, &f)) {
		if (!rb_field_is(h, &f, "content-type"))
			continue;
		struct mimehdr_field mf;
		if (mimehdr_parse(h + f.value, f.end - f.value, &mf) == -1)
			*oom = true;
		const char *v = mimehdr_param(&mf, "boundary");
		if (v != NULL && (b = strdup(v)) == NULL)
			*oom = true;
		mimehdr_field_free(&mf);
		break;
	}
	return b;
}

/* rb_clash - bnd and an existing boundary are equal, or one is a prefix of the other */
static bool rb_clash(const struct rb_ctx *c, const char *bnd, bool *oom)
{
	size_t bl = strlen(bnd);

	if (memmem(c->raw, c->rawlen, bnd, bl) != NULL)
		return true;
	for (size_t i = 0; i < c->n; i++) {
		if (!rb_is(&c->m->parts[i], "multipart/"))
			continue;
		char *b = rb_part_boundary(c, i, oom);
		if (b == NULL)
			continue;
		size_t n = strlen(b) < bl ? strlen(b) : bl;
		bool same = memcmp(b, bnd, n) == 0;
		free(b);
		if (same)
			return true;
	}
	return false;
}

/* rb_boundary - a new boundary that clashes with nothing; -1 with err (refused: none found) */
int rb_boundary(struct rb_ctx *c, char *bnd, size_t len, bool *refused)
{
	size_t o = strlen(RB_BOUNDARY_PREFIX);

	if (o + RB_BOUNDARY_HEX >= len)
		return rb_fail(c, "no room for a boundary");
	memcpy(bnd, RB_BOUNDARY_PREFIX, o);
	for (int t = 0; t < RB_BOUNDARY_TRIES; t++) {
		if (ident_hex(bnd + o, RB_BOUNDARY_HEX, c->err, c->errlen) == -1)
			return -1;
		bool oom = false;
		bool clash = rb_clash(c, bnd, &oom);
		if (oom)
			return rb_fail(c, "out of memory");
		if (!clash)
			return 0;
	}
	*refused = true;
	snprintf(c->err, c->errlen, "rebuild: no new boundary clear of the message's own after %d tries",
		 RB_BOUNDARY_TRIES);
	return -1;
}
