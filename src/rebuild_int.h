/*
 * rebuild_int - what rebuild.c (settling the ops, planning the edits, the
 * public functions) and rebuild_out.c (the output buffer, warning texts
 * and parts, header rewriting, applying the edits, new boundaries)
 * share. Not a public interface: only those two files include it;
 * rebuild.h is the contract.
 */
#ifndef KLAXON_REBUILD_INT_H
#define KLAXON_REBUILD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "mime.h"
#include "rebuild.h"

#define RB_DEFAULT_ROOT "The message body was removed by the mail filter."
#define RB_DEFAULT_PART "A part of this message was removed by the mail filter."

/* A growing output buffer; oom sticks, so callers check once at the end. */
struct rb_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

enum rb_kind { RB_CUT = 0, RB_REPLACE, RB_WARN };

/* One edit of the raw bytes: [start, end) is cut, replaced, or (RB_WARN, empty) inserted into. */
struct rb_edit {
	size_t start, end;
	size_t part;
	enum rb_kind kind;
};

struct rb_ctx {
	const char *raw;
	size_t rawlen;
	const struct mime_message *m;
	size_t n;                 /* m->nparts */
	unsigned char *op;        /* effective op per part */
	char **text;              /* effective warning text per part, owned, or NULL */
	bool *under;              /* inside an edited part: its own edits are moot */
	size_t *first, *last, *next; /* children and siblings by index; 0 is "none" */
	char *warn;               /* the warning part's paragraphs, joined, or NULL */
	struct rb_edit *ed;
	size_t ned;
	char *err;
	size_t errlen;
};

/* rebuild.c: errors and the tree */
int rb_fail(struct rb_ctx *c, const char *what);
bool rb_is(const struct mime_part *p, const char *prefix);
const char *rb_delim(const struct rb_ctx *c, size_t i, size_t *len);

/* rebuild_out.c: the buffer, texts, the top-level header, the body, boundaries */
void rb_put(struct rb_buf *b, const void *s, size_t n);
void rb_clean(struct rb_buf *o, const char *t, const char *def);
int rb_top_fields(struct rb_ctx *c, struct rebuild_out *out, const char *bnd);
void rb_header(const struct rb_ctx *c, struct rb_buf *o, const struct rebuild_out *out);
void rb_emit(const struct rb_ctx *c, struct rb_buf *o, size_t from);
void rb_wrap(const struct rb_ctx *c, struct rb_buf *o, const char *bnd);
int rb_boundary(struct rb_ctx *c, char *bnd, size_t len, bool *refused);

#endif
