/*
 * quarantine - the durable quarantine writer.
 *
 * SYNOPSIS
 *	char id[QUARANTINE_ID_MAX];
 *	quarantine_store(dir, &meta, body_writer, body_arg, id, sizeof id, err, errlen);
 *	quarantine_read_meta(dir, id, ...)      for tests and later tools
 *
 * DESCRIPTION
 *	quarantine_store() writes one entry, dir/<id>.kq, through the durable
 *	recipe (durable.h): temp file, fsync, rename, fsync of the directory.
 *	When it returns 0 the copy is on disk; only then may the caller discard
 *	the message. The id is "YYYYMMDDTHHMMSSZ-<16 hex random>" and is safe as
 *	a file name and in a mail header.
 *
 *	The entry format is a record in which a half-written file can never be
 *	taken for a whole one (and only whole files are ever renamed into
 *	place):
 *
 *	    KLAXON-QUARANTINE 1\n
 *	    key: value\n             (one line per field, see below)
 *	    ...
 *	    size: <bytes of raw message>\n
 *	    \n
 *	    <raw message, exactly size bytes>
 *	    \nKLAXON-END <id>\n
 *
 *	Fields: id, time (RFC 3339 UTC), class (virus, ...), origin,
 *	client-addr, client-name, helo, auth-user, sender, rcpt (repeated),
 *	queue-id, virus (repeated), reason, size. Values are percent-encoded
 *	for '%', CR, LF and other bytes below 0x20 or 0x7f, so each field is
 *	exactly one line. Absent values are written as empty.
 *
 *	The directory is created with mode 0700 if missing; entries are 0600.
 *
 * ERRORS
 *	0 on success, -1 with err naming the failed call and path.
 *
 * THREAD SAFETY
 *	Safe from any thread. Does not log.
 */
#ifndef KLAXON_QUARANTINE_H
#define KLAXON_QUARANTINE_H

#include <stddef.h>
#include <time.h>

#include "durable.h"
#include "envelope.h"

#define QUARANTINE_ID_MAX 48

struct quarantine_meta {
	const struct envelope *env;
	const char *class;               /* "virus" */
	const char *const *viruses;
	size_t nviruses;
	const char *reason;              /* free text, may be NULL */
	time_t when;
	unsigned long long size;         /* bytes body_writer will write */
};

int quarantine_store(const char *dir, const struct quarantine_meta *meta,
		     durable_writer_fn body_writer, void *body_arg, char *id_out, size_t idlen,
		     char *err, size_t errlen);

/*
 * quarantine_entry_check - verify that dir/<id>.kq is a whole entry (magic
 * line, size field, exactly size bytes, end marker with the same id).
 * Returns 0 if whole, -1 with the reason otherwise.
 */
int quarantine_entry_check(const char *dir, const char *id, char *err, size_t errlen);

#endif
