/*
 * qindex - the SQLite index of the quarantine, for listing, statistics and
 * digests. The files are the truth; the index is a cache of their headers.
 *
 * SYNOPSIS
 *	struct qindex *ix;
 *	if (qindex_open(quarantine_dir, &ix, err, errlen) == -1) ...
 *	struct qindex_sync_stats st;
 *	qindex_sync(ix, &st, err, errlen);       files -> index, incrementally
 *	struct qindex_filter f = {.since = t, .rcpt = "bob@example.org", .class = -1};
 *	qindex_list(ix, &f, row_fn, arg, err, errlen);
 *	qindex_close(ix);
 *
 * DESCRIPTION
 *	The index lives in quarantine_dir/index.sqlite (WAL mode, mode 0600,
 *	owned like the directory: a root-run CLI chowns what it creates to the
 *	directory's owner, so the daemon user can still use it). The daemon
 *	never writes it: it only writes entry files, so the hot path has no
 *	database in it and no lock to wait for. Every CLI command that reads
 *	the index first calls qindex_sync(), which lists the directory, adds
 *	the entries the index lacks (reading only their headers, through
 *	quarantine_read()) and removes rows whose file is gone; an entry that
 *	is not whole (a crash between the temp write and the rename leaves
 *	only a temp file, which is never listed; a damaged .kq is reported)
 *	is never indexed. qindex_reindex() drops every entry row and re-reads
 *	every file.
 *
 *	qindex_open() never fails because of the index itself: a missing file
 *	is created; a file SQLite calls corrupt or not a database, or with an
 *	unknown schema version, is moved aside to index.sqlite.corrupt-<time>
 *	and rebuilt; *rebuilt (in the stats of the next sync) says so. It fails
 *	only when the directory cannot be read or written.
 *
 *	Rows: one per entry (id, time, class, origin, client address and
 *	name, helo, auth user, sender, queue id, subject, payload, reason,
 *	size, first virus), one per (entry, recipient), one per (entry, virus
 *	name). Queries use indexes on time, recipient and virus, so a digest
 *	for one recipient among 250 000 entries costs milliseconds.
 *
 *	Digest state: qindex_digest_last() and qindex_digest_mark() keep, per
 *	recipient (lower-cased), the time up to which a digest was sent. It is
 *	kept across reindexing (a separate table), lost only with a corrupt
 *	index (then the next digest may repeat items: a digest too many, never
 *	an item lost).
 *
 *	Expiry: qindex_expire_candidates() calls fn for every entry older than
 *	the cutoff for its class (cutoff[class] == 0: keep forever). The
 *	caller deletes the file (quarantine_delete()) and then the row
 *	(qindex_remove()).
 *
 * OWNERSHIP
 *	Row strings passed to fn are valid only during the call. No statement
 *	is open while fn runs, so fn may call any qindex function on the same
 *	handle (expiry calls qindex_remove() from its callback).
 *
 * ERRORS
 *	0, or -1 with err ("index.sqlite: <what>: <sqlite message>").
 *
 * THREAD SAFETY
 *	One handle per thread. Several processes may use the index at once
 *	(WAL, busy timeout of 10 s). Does not log.
 */
#ifndef KLAXON_QINDEX_H
#define KLAXON_QINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "quarantine.h"

struct qindex;

struct qindex_sync_stats {
	bool rebuilt;              /* the index was missing or corrupt and was rebuilt */
	unsigned long added, removed, damaged, total;
};

struct qindex_filter {
	time_t since, until;       /* 0: no bound; since is inclusive, until exclusive */
	const char *rcpt;          /* case-insensitive, exact; NULL: any */
	int class;                 /* enum quarantine_class, -1: any (0 is virus: set it) */
	const char *virus;         /* exact virus name; NULL: any */
	const char *id;            /* one entry; NULL: any */
	size_t limit;              /* 0: no limit; newest first when set */
	bool newest_first;
};

struct qindex_row {
	const char *id;
	time_t when;
	int class;                 /* enum quarantine_class */
	const char *origin, *client_addr, *client_name, *helo, *auth_user, *sender;
	const char *queue_id, *subject, *payload, *reason;
	const char *virus;         /* the first virus name, or NULL */
	const char *rcpt;          /* with a rcpt filter: that recipient; else the first */
	unsigned nrcpts;
	unsigned long long size;
};

typedef int (*qindex_row_fn)(const struct qindex_row *row, void *arg);   /* non-zero stops */
typedef int (*qindex_rcpt_fn)(const char *rcpt, void *arg);

/* Per class, per virus, per day; fn gets ("class", name, count), ("virus", name, count),
 * ("day", "YYYY-MM-DD", count), in that order, each group sorted by count. */
typedef int (*qindex_stat_fn)(const char *group, const char *key, unsigned long count, void *arg);

int qindex_open(const char *qdir, struct qindex **out, char *err, size_t errlen);
int qindex_sync(struct qindex *ix, struct qindex_sync_stats *st, char *err, size_t errlen);
int qindex_reindex(struct qindex *ix, struct qindex_sync_stats *st, char *err, size_t errlen);
int qindex_list(struct qindex *ix, const struct qindex_filter *f, qindex_row_fn fn, void *arg,
		char *err, size_t errlen);                       /* f NULL: every entry */
int qindex_count(struct qindex *ix, const struct qindex_filter *f, unsigned long *n, char *err,
		 size_t errlen);
int qindex_recipients(struct qindex *ix, time_t since, qindex_rcpt_fn fn, void *arg, char *err,
		      size_t errlen);
int qindex_stats(struct qindex *ix, time_t since, qindex_stat_fn fn, void *arg, char *err, size_t errlen);
int qindex_remove(struct qindex *ix, const char *id, char *err, size_t errlen);
int qindex_expire_candidates(struct qindex *ix, const time_t cutoff[QUARANTINE_CLASS_COUNT],
			     qindex_row_fn fn, void *arg, char *err, size_t errlen);
int qindex_digest_last(struct qindex *ix, const char *rcpt, time_t *when, char *err, size_t errlen);
int qindex_digest_mark(struct qindex *ix, const char *rcpt, time_t when, char *err, size_t errlen);
void qindex_close(struct qindex *ix);

#endif
