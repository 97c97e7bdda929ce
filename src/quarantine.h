/*
 * quarantine - the durable quarantine writer.
 *
 * SYNOPSIS
 *	char id[QUARANTINE_ID_MAX];
 *	quarantine_store(dir, &meta, body_writer, body_arg, id, sizeof id, err, errlen);
 *	struct quarantine_entry e;
 *	quarantine_read(dir, id, &e, err, errlen);      header fields, whole entries only
 *	quarantine_read_message(dir, &e, &msg, &len, err, errlen);
 *	quarantine_entry_clear(&e);
 *	quarantine_list(dir, fn, arg, err, errlen);     every entry id
 *	quarantine_delete(dir, id, err, errlen);
 *	quarantine_path(buf, len, dir, id, err, errlen);  dir/<id>.kq
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
 *	Fields: id, time (RFC 3339 UTC), class, origin, client-addr,
 *	client-name, helo, auth-user, sender, rcpt (repeated), queue-id,
 *	subject, virus (repeated), banned (repeated), flag (repeated, MIME
 *	anomaly names), payload (hex SHA-256 of the part that earned the
 *	verdict: the first viral, else banned, part; empty if none), reason,
 *	size. Values are percent-encoded for '%', CR, LF and other bytes
 *	below 0x20 or 0x7f, so each field is exactly one line. Absent values
 *	are written as empty. Readers ignore keys they do not know (entries
 *	written before a field existed simply lack it).
 *
 *	Classes (enum quarantine_class): virus, banned, ambiguous (a MIME
 *	limit or a refused anomaly: klaxon could not be sure what the message
 *	holds), policy (a filter's or an early callback's hold), spam (a
 *	filter's hold with class "spam"). Retention is configured per class.
 *
 *	Reading. quarantine_read() checks that an entry is whole (as
 *	quarantine_entry_check()) and returns its fields, percent-decoded, with
 *	the offset of the raw message in the file; quarantine_read_message()
 *	returns the raw message itself. quarantine_delete() unlinks an entry
 *	and fsyncs the directory. quarantine_list() calls fn for the id of
 *	every "<id>.kq" in the directory (never temp files, which the durable
 *	recipe names differently), in no particular order. quarantine_path()
 *	is the entry's file name, dir/<id>.kq, for an id that ident_valid()
 *	accepts (so it cannot name another path); every function here that
 *	takes an id goes through it.
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

enum quarantine_class {
	QUARANTINE_VIRUS = 0,
	QUARANTINE_BANNED,
	QUARANTINE_AMBIGUOUS,
	QUARANTINE_POLICY,
	QUARANTINE_SPAM,
	QUARANTINE_CLASS_COUNT
};

struct quarantine_meta {
	const struct envelope *env;
	const char *class;               /* quarantine_class_name(): "virus", ... */
	const char *const *viruses;
	size_t nviruses;
	const char *reason;              /* free text, may be NULL */
	time_t when;
	unsigned long long size;         /* bytes body_writer will write */
	const char *subject;             /* sanitised Subject, may be NULL */
	const char *const *banned;       /* banned-name reasons, may be NULL */
	size_t nbanned;
	unsigned flags;                  /* enum mime_flag bits */
	const char *payload;             /* hex SHA-256, may be NULL */
};

/* One entry as read back; every string is owned by the entry. Single-valued
 * strings are never NULL (a field an older writer lacked reads as ""); an
 * absent repeated field is NULL with a count of 0. */
struct quarantine_entry {
	char id[QUARANTINE_ID_MAX];
	time_t when;
	char *class, *origin, *client_addr, *client_name, *helo, *auth_user, *sender;
	char *queue_id, *subject, *payload, *reason;
	char **rcpts;
	size_t nrcpts;
	char **viruses;
	size_t nviruses;
	char **banned;
	size_t nbanned;
	char **flags;
	size_t nflags;
	unsigned long long size;         /* bytes of the raw message */
	long long body_offset;           /* where the raw message starts in the file */
};

typedef int (*quarantine_list_fn)(const char *id, void *arg); /* non-zero stops */

const char *quarantine_class_name(enum quarantine_class c);
int quarantine_class_parse(const char *name);                 /* -1 if unknown */

int quarantine_store(const char *dir, const struct quarantine_meta *meta,
		     durable_writer_fn body_writer, void *body_arg, char *id_out, size_t idlen,
		     char *err, size_t errlen);

/*
 * quarantine_entry_check - verify that dir/<id>.kq is a whole entry (magic
 * line, size field, exactly size bytes, end marker with the same id).
 * Returns 0 if whole, -1 with the reason otherwise.
 */
int quarantine_entry_check(const char *dir, const char *id, char *err, size_t errlen);

int quarantine_read(const char *dir, const char *id, struct quarantine_entry *e, char *err,
		    size_t errlen);
int quarantine_read_message(const char *dir, const struct quarantine_entry *e, char **msg,
			    size_t *len, char *err, size_t errlen);       /* caller frees *msg */
void quarantine_entry_clear(struct quarantine_entry *e);
int quarantine_delete(const char *dir, const char *id, char *err, size_t errlen);
int quarantine_path(char *buf, size_t len, const char *dir, const char *id, char *err,
		    size_t errlen);
int quarantine_list(const char *dir, quarantine_list_fn fn, void *arg, char *err, size_t errlen);

#endif
