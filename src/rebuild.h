/*
 * rebuild - a message with some parts dropped or replaced by warnings,
 * rebuilt as valid MIME from the raw bytes, for smfi_replacebody().
 *
 * SYNOPSIS
 *	unsigned char op[m->nparts] = {REBUILD_KEEP...}; op[3] = REBUILD_DROP_WARN;
 *	const char *text[m->nparts] = {NULL...};        text[3] = "virus removed";
 *	struct rebuild_out out;
 *	if (rebuild_message(raw, rawlen, m, op, text, &out, err, errlen) == -1) ...
 *	... smfi_replacebody(out.body, out.bodylen); out.content_type, out.cte ...
 *	rebuild_out_clear(&out);
 *
 * DESCRIPTION
 *	The raw message is the exact bytes the parser read (the spool); m is
 *	the default reading of those bytes, whose parts carry their raw byte
 *	ranges (mime.h: raw_delim, raw_start, raw_body, raw_end). Nothing is
 *	decoded and re-encoded: every part that is kept is copied byte for
 *	byte, so signatures over untouched parts and their encodings survive.
 *
 *	Operations, per part index:
 *	  REBUILD_KEEP          copied as it is;
 *	  REBUILD_DROP          removed with its delimiter line, as if it had
 *	                        never been there;
 *	  REBUILD_DROP_WARN     removed, and text[i] goes into the warning part;
 *	  REBUILD_REPLACE_WARN  replaced in place by a text/plain part holding
 *	                        text[i] (Content-Disposition: inline; filename
 *	                        "WARNING.TXT"), so the structure keeps its shape.
 *	An edit on a part without a raw range of its own (a uuencoded block
 *	inside a text part) applies to its parent; an edit on the enclosed
 *	message of a message/rfc822 part applies to that message/ part. An
 *	edit inside a part that is itself dropped or replaced is moot. If
 *	every child of a multipart would be dropped, the first one is
 *	replaced by a warning instead (a multipart needs a body part).
 *
 *	The warning part. The texts of REBUILD_DROP_WARN parts, one paragraph
 *	each, in part order, become one text/plain; charset=utf-8 part,
 *	"WARNING.TXT", inline. If the root is multipart/mixed it is appended
 *	as the root's last child; otherwise the message is wrapped: a new
 *	multipart/mixed root whose first child is the old root (with its
 *	Content-* header fields) and whose second is the warning.
 *
 *	The root. An edit on the root itself (parts[0]) replaces the whole
 *	body by a text/plain warning (text[0], or "The message body was
 *	removed by the mail filter." for a plain REBUILD_DROP).
 *
 *	Texts are UTF-8; control characters other than LF and TAB are
 *	dropped, line endings become CRLF, long lines are left alone (the
 *	part is 8bit when any byte is >= 0x80, else 7bit). New boundaries are
 *	"=_klaxon_<hex>" checked not to occur in the raw message.
 *
 *	Output. out->body is the new body: every byte after the blank line
 *	that ends the top-level header. The top-level header fields to change
 *	are given separately, because the milter changes headers and body
 *	with different calls: content_type (the new Content-Type value, NULL
 *	if unchanged), cte (the new Content-Transfer-Encoding value, "" to
 *	delete it, NULL if unchanged), add_mime_version (no MIME-Version
 *	field was there and one is needed) and delete_disposition (the root
 *	was replaced or wrapped: its Content-Disposition, a filename maybe,
 *	described what is now gone or a child, which has its own copy). out->message is the whole new
 *	message, header changes applied, for a rescan and for `klaxon check
 *	--rebuilt`. When no op changes anything, out->changed is false and
 *	the buffers are NULL.
 *
 *	Refusals: a message with a flag in MIME_AMBIGUOUS, or a MIME limit,
 *	cannot be edited safely (another reader would see other parts):
 *	rebuild_message() returns -1 with *refused set and err naming the
 *	flags. The caller rejects such a message (5xx: it goes back to the
 *	sender whole) rather than deliver it unedited.
 *
 *	rebuild.c settles the ops and plans the edits; rebuild_out.c writes
 *	the new header and body.
 *
 * OWNERSHIP
 *	rebuild_out_clear() frees the buffers. raw and m are borrowed.
 *
 * ERRORS
 *	0, or -1 with err (and *refused true for the refusals above, false
 *	for out of memory or a part tree without raw ranges).
 *
 * THREAD SAFETY
 *	Pure function of its inputs. Does not log.
 */
#ifndef KLAXON_REBUILD_H
#define KLAXON_REBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "mime.h"

enum rebuild_op {
	REBUILD_KEEP = 0,
	REBUILD_DROP,
	REBUILD_DROP_WARN,
	REBUILD_REPLACE_WARN,
};

struct rebuild_out {
	bool changed;
	bool refused;
	char *body;
	size_t bodylen;
	char *content_type;   /* new top-level value, or NULL */
	char *cte;            /* new value, "" to delete, NULL if unchanged */
	bool add_mime_version;
	bool delete_disposition; /* delete every top-level Content-Disposition field */
	char *message;        /* whole new message */
	size_t msglen;
};

int rebuild_message(const char *raw, size_t rawlen, const struct mime_message *m,
		    const unsigned char *op, const char *const *text, struct rebuild_out *out,
		    char *err, size_t errlen);
void rebuild_out_clear(struct rebuild_out *out);

#endif
