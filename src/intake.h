/*
 * intake - where a message's bytes go as they arrive: the spool (the raw
 * copy) and the streaming MIME parser (the part tree), fed together, so
 * the message is parsed while the client is still sending it.
 *
 * SYNOPSIS
 *	struct intake *in;
 *	intake_open(cfg, &in, err, errlen);
 *	intake_append(in, buf, len, err, errlen);    headers, then body chunks
 *	const struct mime_message *m = intake_finish(in);   the default reading
 *	intake_spool(in)                             the raw bytes, for other readings
 *	intake_close(in);
 *
 * DESCRIPTION
 *	The parser gets the default view (mime.h); other views re-read the
 *	spool (intake_reparse). Once the message passes max_message_size the
 *	parser is not fed any more (the message will be refused unparsed).
 *	intake_finish() returns NULL when the parser ran out of memory or the
 *	message overflowed; the caller checks spool_overflowed() first.
 *
 * OWNERSHIP
 *	The intake owns its spool, parser and message; intake_close() frees
 *	them. intake_reparse() returns a message the caller frees.
 *
 * ERRORS
 *	0 or -1 with err naming the failure (spool write, out of memory).
 *
 * THREAD SAFETY
 *	One intake belongs to one message on one thread. Does not log.
 */
#ifndef KLAXON_INTAKE_H
#define KLAXON_INTAKE_H

#include <stddef.h>

#include "config.h"
#include "mime.h"
#include "spool.h"

struct intake;

int intake_open(const struct config *cfg, struct intake **out, char *err, size_t errlen);
int intake_append(struct intake *in, const void *buf, size_t len, char *err, size_t errlen);
const struct mime_message *intake_finish(struct intake *in);
struct mime_message *intake_reparse(struct intake *in, const struct mime_view *view);
struct spool *intake_spool(struct intake *in);
void intake_limits(const struct config *cfg, struct mime_limits *lim);
void intake_close(struct intake *in);

#endif
