/*
 * rebuild - a message with parts dropped or replaced by warnings, rebuilt
 * from its raw bytes: settling the ops, planning the edits, and the public
 * functions. See rebuild.h for the contract; rebuild_out.c writes the
 * output, and rebuild_int.h is what the two share.
 *
 * Three steps. rb_settle() turns the caller's ops into one effective op
 * per part: an edit climbs to the part that has a raw range of its own
 * (a uuencoded block's text part; an enclosed message's message/ part),
 * edits inside an edited part are moot, and a multipart about to lose
 * every child keeps its first one as a warning. rb_plan() turns the ops
 * into edits of the raw bytes, sorted by offset: a cut (a dropped part
 * with its delimiter line, up to the next delimiter line), a replacement
 * (a part's header and body; its delimiter line stays) and the insertion
 * of the warning part before the closing delimiter of a multipart/mixed
 * root. rb_emit() (rebuild_out.c) copies the raw body with those edits
 * applied, inside a new multipart/mixed when the root must be wrapped,
 * after the top-level header that rb_header() rewrote.
 *
 * Choices the contract leaves open (rebuild_out.c lists those of the
 * output: texts, new parts, wrapping, MIME-Version, boundaries):
 *  - Several edits landing on one part (uuencoded blocks climbing to their
 *    text part): the strongest op wins (KEEP < DROP < DROP_WARN <
 *    REPLACE_WARN) and the warning texts are joined as paragraphs, the
 *    part's own first.
 *  - A NULL or empty text, or one with nothing left after cleaning: a
 *    default sentence.
 *  - out->body points into out->message: the body is its tail.
 */
#include "rebuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebuild_int.h"

/* ------------------------------------------------------------ errors */

/* rb_fail - err for a failure that is not a refusal */
int rb_fail(struct rb_ctx *c, const char *what)
{
	snprintf(c->err, c->errlen, "rebuild: %s", what);
	return -1;
}

/* ------------------------------------------------------------ texts */

/* rb_join - append a paragraph to *dst (NULL: just a copy); false when out of memory */
static bool rb_join(char **dst, const char *par)
{
	size_t a = *dst ? strlen(*dst) : 0, b = strlen(par);
	char *s = realloc(*dst, a + b + 3);

	if (s == NULL)
		return false;
	if (a > 0)
		memcpy(s + a, "\n\n", 2), a += 2;
	memcpy(s + a, par, b + 1);
	*dst = s;
	return true;
}

/* ----------------------------------------------------------- the tree */

bool rb_is(const struct mime_part *p, const char *prefix)
{
	return !p->leaf && strncmp(p->content_type, prefix, strlen(prefix)) == 0;
}

/* rb_climbs - an edit on part i belongs to its parent */
static bool rb_climbs(const struct mime_message *m, size_t i)
{
	return i > 0 && (!m->parts[i].raw_known || rb_is(&m->parts[m->parts[i].parent], "message/"));
}

/* rb_delim - part i's delimiter line without its ending and padding ("--boundary") */
const char *rb_delim(const struct rb_ctx *c, size_t i, size_t *len)
{
	const struct mime_part *p = &c->m->parts[i];
	size_t n = p->raw_start - p->raw_delim;
	const char *s = c->raw + p->raw_delim;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*len = n;
	return s;
}

/* rb_close_delim - offset of multipart mp's closing delimiter line, or MIME_RAW_NONE */
static size_t rb_close_delim(const struct rb_ctx *c, size_t mp)
{
	size_t lk = c->last[mp], dl, pos;

	if (lk == 0)
		return MIME_RAW_NONE;
	const char *d = rb_delim(c, c->first[mp], &dl);
	pos = c->m->parts[lk].raw_end;
	if (pos + 1 < c->rawlen && c->raw[pos] == '\r' && c->raw[pos + 1] == '\n')
		pos += 2;
	else if (pos < c->rawlen && c->raw[pos] == '\n')
		pos++;
	if (dl < 3 || dl + 2 > c->rawlen - pos || memcmp(c->raw + pos, d, dl) != 0 ||
	    memcmp(c->raw + pos + dl, "--", 2) != 0)
		return MIME_RAW_NONE;
	return pos;
}

/* rb_check - the tree's raw ranges fit these bytes (the caller passed what was parsed) */
static int rb_check(struct rb_ctx *c)
{
	const struct mime_message *m = c->m;

	if (m->nparts == 0 || m->parts[0].raw_end != c->rawlen) {
		snprintf(c->err, c->errlen, "rebuild: the part tree was parsed from %zu bytes, not %zu",
			 m->nparts ? m->parts[0].raw_end : 0, c->rawlen);
		return -1;
	}
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (p->raw_known &&
		    (p->raw_start > p->raw_body || p->raw_body > p->raw_end || p->raw_end > c->rawlen ||
		     (p->raw_delim != MIME_RAW_NONE && p->raw_delim > p->raw_start)))
			return rb_fail(c, "a part's raw range is out of order");
	}
	return 0;
}

/* rb_family - first and last child and next sibling of every part */
static void rb_family(struct rb_ctx *c)
{
	for (size_t i = 1; i < c->n; i++) {
		size_t par = (size_t)c->m->parts[i].parent;
		if (c->first[par] == 0)
			c->first[par] = i;
		else
			c->next[c->last[par]] = i;
		c->last[par] = i;
	}
}

/* rb_land - op and text of part i land on part t (its own, or climbed) */
static int rb_land(struct rb_ctx *c, size_t t, unsigned char op, const char *text)
{
	if (op > c->op[t])
		c->op[t] = op;
	const char *def = t == 0 ? RB_DEFAULT_ROOT : RB_DEFAULT_PART;
	if ((op == REBUILD_DROP_WARN || op == REBUILD_REPLACE_WARN) &&
	    !rb_join(&c->text[t], text && text[0] ? text : def))
		return rb_fail(c, "out of memory");
	return 0;
}

/* rb_sole_child - a multipart that would lose every child keeps its first, as a warning */
static void rb_sole_child(struct rb_ctx *c, size_t mp)
{
	if (c->first[mp] == 0 || c->op[mp] != REBUILD_KEEP || c->under[mp])
		return;
	for (size_t k = c->first[mp]; k != 0; k = c->next[k])
		if (c->op[k] != REBUILD_DROP && c->op[k] != REBUILD_DROP_WARN)
			return;
	c->op[c->first[mp]] = REBUILD_REPLACE_WARN;
}

/*
 * rb_settle - the effective op of every part: climbed, strongest first,
 * moot inside an edited part, no multipart left empty; then the warning
 * part's paragraphs.
 */
static int rb_settle(struct rb_ctx *c, const unsigned char *op, const char *const *text)
{
	const struct mime_part *parts = c->m->parts;

	for (size_t i = 0; i < c->n; i++) {
		if (op[i] > REBUILD_REPLACE_WARN) {
			snprintf(c->err, c->errlen, "rebuild: unknown op %u for part %s", op[i],
				 parts[i].path);
			return -1;
		}
		if (op[i] == REBUILD_KEEP)
			continue;
		size_t t = i;
		while (rb_climbs(c->m, t))
			t = (size_t)parts[t].parent;
		if (rb_land(c, t, op[i], text ? text[i] : NULL) == -1)
			return -1;
	}
	for (size_t i = 1; i < c->n; i++) {
		size_t par = (size_t)parts[i].parent;
		if (c->under[par] || c->op[par] != REBUILD_KEEP) {
			c->under[i] = true;
			c->op[i] = REBUILD_KEEP;
		}
	}
	rb_family(c);
	for (size_t i = 0; i < c->n; i++)
		if (rb_is(&parts[i], "multipart/"))
			rb_sole_child(c, i);
	for (size_t i = 1; i < c->n; i++)
		if (c->op[i] == REBUILD_DROP_WARN &&
		    !rb_join(&c->warn, c->text[i] ? c->text[i] : RB_DEFAULT_PART))
			return rb_fail(c, "out of memory");
	return 0;
}

/* ----------------------------------------------------------- the plan */

static int rb_edit_cmp(const void *a, const void *b)
{
	const struct rb_edit *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/* rb_plan_part - the edit for part i's effective op */
static int rb_plan_part(struct rb_ctx *c, size_t i, struct rb_edit *e)
{
	const struct mime_part *p = &c->m->parts[i];
	size_t par = (size_t)p->parent;

	/* Climbing leaves edits only on parts that a delimiter line introduces. */
	if (!rb_is(&c->m->parts[par], "multipart/") || p->raw_delim == MIME_RAW_NONE) {
		snprintf(c->err, c->errlen, "rebuild: part %s has no raw range of its own", p->path);
		return -1;
	}
	e->part = i;
	if (c->op[i] == REBUILD_REPLACE_WARN) {
		e->kind = RB_REPLACE;
		e->start = p->raw_start;
		e->end = p->raw_end;
		return 0;
	}
	e->kind = RB_CUT;
	e->start = p->raw_delim;
	e->end = c->next[i] ? c->m->parts[c->next[i]].raw_delim : rb_close_delim(c, par);
	if (e->end == MIME_RAW_NONE || e->end < e->start) {
		snprintf(c->err, c->errlen, "rebuild: no closing delimiter after part %s", p->path);
		return -1;
	}
	return 0;
}

/* rb_plan - the edits of the raw bytes, sorted and checked not to overlap */
static int rb_plan(struct rb_ctx *c, bool append_warning)
{
	size_t n = append_warning ? 1 : 0;

	for (size_t i = 1; i < c->n; i++)
		n += c->op[i] != REBUILD_KEEP;
	if ((c->ed = calloc(n ? n : 1, sizeof(*c->ed))) == NULL)
		return rb_fail(c, "out of memory");
	for (size_t i = 1; i < c->n; i++)
		if (c->op[i] != REBUILD_KEEP && rb_plan_part(c, i, &c->ed[c->ned++]) == -1)
			return -1;
	if (append_warning) {
		size_t at = rb_close_delim(c, 0);
		if (at == MIME_RAW_NONE)
			return rb_fail(c, "no closing delimiter for the root");
		c->ed[c->ned++] = (struct rb_edit){.start = at, .end = at, .part = 0, .kind = RB_WARN};
	}
	qsort(c->ed, c->ned, sizeof(*c->ed), rb_edit_cmp);
	for (size_t k = 1; k < c->ned; k++)
		if (c->ed[k].start < c->ed[k - 1].end)
			return rb_fail(c, "edits overlap");
	return 0;
}

/* ----------------------------------------------------------- the whole */

/* rb_changes - any effective edit at all */
static bool rb_changes(const struct rb_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->op[i] != REBUILD_KEEP)
			return true;
	return false;
}

/* rb_build - the new message into out */
static int rb_build(struct rb_ctx *c, struct rebuild_out *out)
{
	const struct mime_part *root = &c->m->parts[0];
	bool warn = c->warn != NULL && c->op[0] == REBUILD_KEEP;
	bool mixed = strcmp(root->content_type, "multipart/mixed") == 0 && !root->leaf &&
		     c->first[0] != 0;
	char bnd[64];
	bool wrap = warn && !mixed;

	if (c->op[0] == REBUILD_KEEP && rb_plan(c, warn && mixed) == -1)
		return -1;
	if (wrap && rb_boundary(c, bnd, sizeof(bnd), &out->refused) == -1)
		return -1;
	if (rb_top_fields(c, out, wrap ? bnd : NULL) == -1)
		return -1;

	struct rb_buf o = {0};
	rb_header(c, &o, out);
	size_t hlen = o.len;
	if (c->op[0] != REBUILD_KEEP)
		rb_clean(&o, c->text[0], RB_DEFAULT_ROOT);
	else if (wrap)
		rb_wrap(c, &o, bnd);
	else
		rb_emit(c, &o, root->raw_body);
	if (o.oom) {
		free(o.p);
		return rb_fail(c, "out of memory");
	}
	rb_put(&o, "", 1); /* a NUL after the end, for callers that print it */
	out->message = o.p;
	out->msglen = o.len - 1;
	out->body = o.p + hlen;
	out->bodylen = out->msglen - hlen;
	out->changed = true;
	return 0;
}

/* rb_refuse - a message another reader would see differently: refused, with the reason */
static bool rb_refuse(const struct mime_message *m, struct rebuild_out *out, char *err,
		      size_t errlen)
{
	char names[400];

	if (m->limit != MIME_LIMIT_NONE) {
		snprintf(err, errlen, "MIME limit reached (%s: %s)", mime_limit_name(m->limit),
			 m->limit_detail);
	} else if (m->flags & MIME_AMBIGUOUS) {
		mime_flags_format(m->flags & MIME_AMBIGUOUS, names, sizeof(names));
		snprintf(err, errlen, "ambiguous MIME structure (%s)", names);
	} else {
		return false;
	}
	out->refused = true;
	return true;
}

/* rb_ctx_free - what the context owns */
static void rb_ctx_free(struct rb_ctx *c)
{
	if (c->text != NULL)
		for (size_t i = 0; i < c->n; i++)
			free(c->text[i]);
	free(c->text);
	free(c->op);
	free(c->under);
	free(c->first);
	free(c->last);
	free(c->next);
	free(c->warn);
	free(c->ed);
}

/* rebuild_message - see rebuild.h */
int rebuild_message(const char *raw, size_t rawlen, const struct mime_message *m,
		    const unsigned char *op, const char *const *text, struct rebuild_out *out,
		    char *err, size_t errlen)
{
	struct rb_ctx c = {.raw = raw, .rawlen = rawlen, .m = m, .n = m->nparts, .err = err,
			   .errlen = errlen};

	memset(out, 0, sizeof(*out));
	if (rb_refuse(m, out, err, errlen))
		return -1;
	if (rb_check(&c) == -1)
		return -1;
	c.op = calloc(c.n, sizeof(*c.op));
	c.text = calloc(c.n, sizeof(*c.text));
	c.under = calloc(c.n, sizeof(*c.under));
	c.first = calloc(c.n, sizeof(*c.first));
	c.last = calloc(c.n, sizeof(*c.last));
	c.next = calloc(c.n, sizeof(*c.next));
	int rc = -1;
	if (!c.op || !c.text || !c.under || !c.first || !c.last || !c.next)
		rb_fail(&c, "out of memory");
	else if (rb_settle(&c, op, text) == 0)
		rc = rb_changes(&c) ? rb_build(&c, out) : 0;
	rb_ctx_free(&c);
	if (rc == -1) {
		bool refused = out->refused;
		rebuild_out_clear(out);
		out->refused = refused;
	}
	return rc;
}

/* rebuild_out_clear - free the buffers; out is all zero afterwards */
void rebuild_out_clear(struct rebuild_out *out)
{
	free(out->message); /* out->body points into it */
	free(out->content_type);
	free(out->cte);
	memset(out, 0, sizeof(*out));
}
