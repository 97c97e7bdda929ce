/*
 * qindex_query - the queries of the quarantine index: list, count,
 * recipients, statistics, expiry candidates, removal and digest state.
 * See qindex.h for the contract; qindex.c opens, repairs and syncs.
 *
 * No callback ever runs while a statement is open: the rows are chosen
 * first (row ids, or a small result copied out), then fetched one by one
 * and copied, so a callback may remove rows (expiry does) on this same
 * handle without writing under an open read snapshot (which WAL answers
 * with SQLITE_BUSY_SNAPSHOT) or changing a table a statement walks.
 * Every query goes through qindex_run(), so a damaged index found here is
 * replaced and synced, and the query asked again, before any callback.
 */
#include "qindex.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qindex_int.h"

/* The columns of struct qindex_row, in its order; ?1 is the row id, ?2 a recipient. */
static const char qindex_row_sql[] =
	"SELECT id, time, class, origin, client_addr, client_name, helo, auth_user, sender,"
	" queue_id, subject, payload, reason, virus,"
	" coalesce((SELECT addr FROM rcpts WHERE rcpt = lower(?2) AND entry = e.n), rcpt), nrcpts, size"
	" FROM entries e WHERE n = ?1";

/* An absent filter: every entry. */
static const struct qindex_filter qindex_any = { .class = -1 };

/* qindex_cat - append to a statement being built; the buffers are sized for every clause */
static void qindex_cat(char *sql, size_t len, const char *s)
{
	size_t n = strlen(sql);

	snprintf(sql + n, len - n, "%s", s);
}

/* qindex_where - the WHERE clause of a filter, with named parameters (bound by qindex_bind) */
static void qindex_where(char *sql, size_t len, const struct qindex_filter *f)
{
	qindex_cat(sql, len, " WHERE 1");
	if (f->since != 0)
		qindex_cat(sql, len, " AND e.time >= :since");
	if (f->until != 0)
		qindex_cat(sql, len, " AND e.time < :until");
	if (f->class >= 0)
		qindex_cat(sql, len, " AND e.class = :class");
	if (f->id != NULL)
		qindex_cat(sql, len, " AND e.id = :id");
	/* IN (subquery) lets SQLite start from the rcpt or virus index, not from every entry. */
	if (f->rcpt != NULL)
		qindex_cat(sql, len, " AND e.n IN (SELECT entry FROM rcpts WHERE rcpt = lower(:rcpt))");
	if (f->virus != NULL)
		qindex_cat(sql, len, " AND e.n IN (SELECT entry FROM viruses WHERE virus = :virus)");
}

/* qindex_bind - bind whichever of the filter's parameters the statement has */
static void qindex_bind(sqlite3_stmt *st, const struct qindex_filter *f)
{
	int i;

	if ((i = sqlite3_bind_parameter_index(st, ":since")) > 0)
		sqlite3_bind_int64(st, i, (sqlite3_int64)f->since);
	if ((i = sqlite3_bind_parameter_index(st, ":until")) > 0)
		sqlite3_bind_int64(st, i, (sqlite3_int64)f->until);
	if ((i = sqlite3_bind_parameter_index(st, ":class")) > 0)
		sqlite3_bind_int(st, i, f->class);
	if ((i = sqlite3_bind_parameter_index(st, ":id")) > 0)
		sqlite3_bind_text(st, i, f->id, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":rcpt")) > 0)
		sqlite3_bind_text(st, i, f->rcpt, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":virus")) > 0)
		sqlite3_bind_text(st, i, f->virus, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":limit")) > 0)
		sqlite3_bind_int64(st, i, f->limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)f->limit);
}

/* The row ids a query chose, to be fetched one by one with no statement open. */
struct qindex_pick {
	char sql[1024];
	const struct qindex_filter *f;       /* for qindex_bind, or NULL */
	const time_t *cutoff;                 /* for expiry, or NULL */
	sqlite3_int64 *n;
	size_t count, cap;
};

/* qindex_bind_cutoffs - ?1 the latest cutoff, ?2... each class's (NULL: keep forever) */
static void qindex_bind_cutoffs(sqlite3_stmt *st, const time_t *cutoff)
{
	time_t latest = 0;

	for (int c = 0; c < QUARANTINE_CLASS_COUNT; c++) {
		if (cutoff[c] != 0)
			sqlite3_bind_int64(st, 2 + c, (sqlite3_int64)cutoff[c]);
		if (cutoff[c] > latest)
			latest = cutoff[c];
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)latest);
}

/* qindex_pick_op - qindex_op: run the query and keep its row ids */
static int qindex_pick_op(struct qindex *ix, void *args, char *err, size_t errlen)
{
	struct qindex_pick *p = args;
	sqlite3_stmt *st = qindex_prepare(ix, p->sql, err, errlen);
	int rc;

	p->count = 0;
	if (st == NULL)
		return -1;
	if (p->f != NULL)
		qindex_bind(st, p->f);
	if (p->cutoff != NULL)
		qindex_bind_cutoffs(st, p->cutoff);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (p->count == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 256;
			void *grown = realloc(p->n, cap * sizeof(*p->n));
			if (grown == NULL) {
				sqlite3_finalize(st);
				snprintf(err, errlen, QINDEX_FILE ": select: %s", strerror(ENOMEM));
				return -1;
			}
			p->n = grown;
			p->cap = cap;
		}
		p->n[p->count++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE)
		qindex_fail(ix, "select", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A fetched row, copied out of its statement. */
struct qindex_rowbuf {
	char *buf;
	size_t cap;
};

/* qindex_row_load - copy the statement's current row (qindex_row_sql) into b and row */
static int qindex_row_load(sqlite3_stmt *st, struct qindex_rowbuf *b, struct qindex_row *row)
{
	const char **slot[] = { &row->id,	 &row->origin,	 &row->client_addr,
				&row->client_name, &row->helo,	 &row->auth_user,
				&row->sender,	 &row->queue_id, &row->subject,
				&row->payload,	 &row->reason,	 &row->virus,
				&row->rcpt };
	static const int col[] = { 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	const size_t nslot = sizeof(col) / sizeof(col[0]);
	size_t need = 0, at = 0;

	for (size_t i = 0; i < nslot; i++)
		need += (size_t)sqlite3_column_bytes(st, col[i]) + 1;
	if (need > b->cap) {
		char *grown = realloc(b->buf, need);
		if (grown == NULL)
			return -1;
		b->buf = grown;
		b->cap = need;
	}
	memset(row, 0, sizeof(*row));
	for (size_t i = 0; i < nslot; i++) {
		const unsigned char *text = sqlite3_column_text(st, col[i]);
		size_t len = (size_t)sqlite3_column_bytes(st, col[i]);
		bool nullable = slot[i] == &row->virus || slot[i] == &row->rcpt;
		if (text == NULL && nullable)
			continue;
		memcpy(b->buf + at, text ? (const char *)text : "", text ? len : 0);
		b->buf[at + (text ? len : 0)] = '\0';
		*slot[i] = b->buf + at;
		at += (text ? len : 0) + 1;
	}
	row->when = (time_t)sqlite3_column_int64(st, 1);
	row->class = sqlite3_column_int(st, 2);
	row->nrcpts = (unsigned)sqlite3_column_int64(st, 15);
	row->size = (unsigned long long)sqlite3_column_int64(st, 16);
	return 0;
}

/* qindex_emit - fetch each picked row, copy it, close the statement's read, call fn */
static int qindex_emit(struct qindex *ix, const struct qindex_pick *p, const char *rcpt,
		       qindex_row_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = qindex_prepare(ix, qindex_row_sql, err, errlen);
	struct qindex_rowbuf b = { 0 };
	struct qindex_row row;
	int rc = 0;

	if (st == NULL)
		return -1;
	if (rcpt != NULL)
		sqlite3_bind_text(st, 2, rcpt, -1, SQLITE_STATIC);
	for (size_t i = 0; i < p->count; i++) {
		sqlite3_bind_int64(st, 1, p->n[i]);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW && qindex_row_load(st, &b, &row) == -1) {
			snprintf(err, errlen, QINDEX_FILE ": fetch: %s", strerror(ENOMEM));
			rc = -1;
		} else if (step != SQLITE_ROW && step != SQLITE_DONE) {
			rc = qindex_fail(ix, "fetch", err, errlen);
		}
		sqlite3_reset(st);
		if (rc == -1)
			break;
		/* DONE: an earlier callback removed it. */
		if (step == SQLITE_ROW && fn(&row, arg) != 0)
			break;
	}
	sqlite3_finalize(st);
	free(b.buf);
	return rc;
}

/* qindex_list - fn for every entry that passes the filter */
int qindex_list(struct qindex *ix, const struct qindex_filter *f, qindex_row_fn fn, void *arg,
		char *err, size_t errlen)
{
	if (f == NULL)
		f = &qindex_any;
	struct qindex_pick p = { .sql = "SELECT e.n FROM entries e", .f = f };

	qindex_where(p.sql, sizeof(p.sql), f);
	if (f->newest_first || f->limit > 0)
		qindex_cat(p.sql, sizeof(p.sql), " ORDER BY e.time DESC, e.id DESC");
	else
		qindex_cat(p.sql, sizeof(p.sql), " ORDER BY e.time, e.id");
	if (f->limit > 0)
		qindex_cat(p.sql, sizeof(p.sql), " LIMIT :limit");
	int rc = qindex_run(ix, qindex_pick_op, &p, err, errlen);
	if (rc == 0)
		rc = qindex_emit(ix, &p, f->rcpt, fn, arg, err, errlen);
	free(p.n);
	return rc;
}

/* qindex_expire_candidates - fn for every entry older than its class's cutoff, oldest first */
int qindex_expire_candidates(struct qindex *ix, const time_t cutoff[QUARANTINE_CLASS_COUNT],
			     qindex_row_fn fn, void *arg, char *err, size_t errlen)
{
	struct qindex_pick p = { .sql = "SELECT n FROM entries WHERE time < ?1 AND time < CASE class",
				 .cutoff = cutoff };
	char when[48];

	for (int c = 0; c < QUARANTINE_CLASS_COUNT; c++) {
		snprintf(when, sizeof(when), " WHEN %d THEN ?%d", c, 2 + c);
		qindex_cat(p.sql, sizeof(p.sql), when);
	}
	/* An unbound parameter is NULL, and "time < NULL" holds for no row: kept forever. */
	qindex_cat(p.sql, sizeof(p.sql), " END ORDER BY time, id");
	int rc = qindex_run(ix, qindex_pick_op, &p, err, errlen);
	if (rc == 0)
		rc = qindex_emit(ix, &p, NULL, fn, arg, err, errlen);
	free(p.n);
	return rc;
}

struct qindex_count_args {
	const struct qindex_filter *f;
	unsigned long *n;
};

/* qindex_count_op - qindex_op: count what qindex_list would give */
static int qindex_count_op(struct qindex *ix, void *args, char *err, size_t errlen)
{
	struct qindex_count_args *a = args;
	char sql[1024] = "SELECT count(*) FROM (SELECT 1 FROM entries e";

	qindex_where(sql, sizeof(sql), a->f);
	qindex_cat(sql, sizeof(sql), a->f->limit > 0 ? " LIMIT :limit)" : ")");
	sqlite3_stmt *st = qindex_prepare(ix, sql, err, errlen);
	if (st == NULL)
		return -1;
	qindex_bind(st, a->f);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*a->n = (unsigned long)sqlite3_column_int64(st, 0);
	else
		qindex_fail(ix, "count", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* qindex_count - how many entries pass the filter (at most its limit) */
int qindex_count(struct qindex *ix, const struct qindex_filter *f, unsigned long *n, char *err,
		 size_t errlen)
{
	struct qindex_count_args a = { .f = f != NULL ? f : &qindex_any, .n = n };

	*n = 0;
	return qindex_run(ix, qindex_count_op, &a, err, errlen);
}

/* Small results (recipients, statistics), copied out before any callback runs. */
struct qindex_tally {
	const char *group;
	char *key;
	unsigned long count;
};

struct qindex_tallies {
	struct qindex_tally *t;
	size_t n, cap;
	time_t since;
	bool stats; /* three groups of statistics, else the recipient list */
};

/* qindex_tallies_reset - free the keys, keep nothing */
static void qindex_tallies_reset(struct qindex_tallies *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->t[i].key);
	v->n = 0;
}

/* qindex_tally_add - append one (group, key, count) */
static int qindex_tally_add(struct qindex_tallies *v, const char *group, const char *key,
			    unsigned long count)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		void *grown = realloc(v->t, cap * sizeof(*v->t));
		if (grown == NULL)
			return -1;
		v->t = grown;
		v->cap = cap;
	}
	char *copy = strdup(key);
	if (copy == NULL)
		return -1;
	v->t[v->n++] = (struct qindex_tally){ .group = group, .key = copy, .count = count };
	return 0;
}

/* qindex_tally_query - (group, column 0, column 1) for each row; ?1 is since */
static int qindex_tally_query(struct qindex *ix, struct qindex_tallies *v, const char *group,
			      const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = qindex_prepare(ix, sql, err, errlen);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)v->since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		unsigned long count = (unsigned long)sqlite3_column_int64(st, 1);
		if (group != NULL && strcmp(group, "class") == 0)
			key = quarantine_class_name(sqlite3_column_int(st, 0));
		if (qindex_tally_add(v, group, key ? key : "", count) == -1) {
			sqlite3_finalize(st);
			snprintf(err, errlen, QINDEX_FILE ": %s: %s", group ? group : "rcpt",
				 strerror(ENOMEM));
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		qindex_fail(ix, group ? group : "recipients", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* qindex_tally_op - qindex_op: the statistics (or the recipients) since v->since */
static int qindex_tally_op(struct qindex *ix, void *args, char *err, size_t errlen)
{
	struct qindex_tallies *v = args;

	qindex_tallies_reset(v);
	/* CROSS JOIN keeps entries outermost, read through the time index: a
	 * digest's "since yesterday" reads a day of rows, not every recipient. */
	if (!v->stats)
		return qindex_tally_query(ix, v, NULL,
					  "SELECT DISTINCT r.rcpt, 0 FROM entries e CROSS JOIN rcpts r"
					  " ON r.entry = e.n WHERE e.time >= ?1 ORDER BY r.rcpt",
					  err, errlen);
	if (qindex_tally_query(ix, v, "class",
			       "SELECT class, count(*) AS c FROM entries WHERE time >= ?1"
			       " GROUP BY class ORDER BY c DESC, class",
			       err, errlen) == -1 ||
	    qindex_tally_query(ix, v, "virus",
			       "SELECT v.virus, count(*) AS c FROM entries e CROSS JOIN viruses v"
			       " ON v.entry = e.n WHERE e.time >= ?1 GROUP BY v.virus"
			       " ORDER BY c DESC, v.virus",
			       err, errlen) == -1 ||
	    qindex_tally_query(ix, v, "day",
			       "SELECT strftime('%Y-%m-%d', time, 'unixepoch') AS d, count(*) AS c"
			       " FROM entries WHERE time >= ?1 GROUP BY d ORDER BY c DESC, d",
			       err, errlen) == -1)
		return -1;
	return 0;
}

/* qindex_tally_run - collect, then call back with no statement open */
static int qindex_tally_run(struct qindex *ix, struct qindex_tallies *v, qindex_stat_fn sfn,
			    qindex_rcpt_fn rfn, void *arg, char *err, size_t errlen)
{
	int rc = qindex_run(ix, qindex_tally_op, v, err, errlen);

	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		const struct qindex_tally *t = &v->t[i];
		if (sfn != NULL ? sfn(t->group, t->key, t->count, arg) != 0 : rfn(t->key, arg) != 0)
			break;
	}
	qindex_tallies_reset(v);
	free(v->t);
	return rc;
}

/* qindex_recipients - every recipient (lower-cased, once) with entries since then */
int qindex_recipients(struct qindex *ix, time_t since, qindex_rcpt_fn fn, void *arg, char *err,
		      size_t errlen)
{
	struct qindex_tallies v = { .since = since };

	return qindex_tally_run(ix, &v, NULL, fn, arg, err, errlen);
}

/* qindex_stats - per class, per virus, per day (UTC), each sorted by count */
int qindex_stats(struct qindex *ix, time_t since, qindex_stat_fn fn, void *arg, char *err,
		 size_t errlen)
{
	struct qindex_tallies v = { .since = since, .stats = true };

	return qindex_tally_run(ix, &v, fn, NULL, arg, err, errlen);
}

/* qindex_remove_op - qindex_op: every row of one entry, in one transaction */
static int qindex_remove_op(struct qindex *ix, void *args, char *err, size_t errlen)
{
	struct qindex_writer w;

	if (qindex_writer_open(ix, &w, err, errlen) == -1)
		return -1;
	int rc = qindex_exec(ix, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc == 0)
		rc = qindex_delete_rows(ix, &w, args, err, errlen);
	if (rc == 0)
		rc = qindex_exec(ix, "COMMIT", "commit", err, errlen);
	if (rc == -1)
		qindex_rollback(ix);
	qindex_writer_close(&w);
	return rc;
}

/* qindex_remove - forget one entry (after quarantine_delete()); no row is not an error */
int qindex_remove(struct qindex *ix, const char *id, char *err, size_t errlen)
{
	return qindex_run(ix, qindex_remove_op, (void *)id, err, errlen);
}

struct qindex_digest_args {
	const char *rcpt;
	time_t *last;     /* digest_last */
	time_t mark;      /* digest_mark, when last is NULL */
};

/* qindex_digest_op - qindex_op: read or set one recipient's digest time */
static int qindex_digest_op(struct qindex *ix, void *args, char *err, size_t errlen)
{
	struct qindex_digest_args *a = args;
	const char *sql = a->last != NULL ? "SELECT last FROM digest_state WHERE rcpt = lower(?1)"
					  : "INSERT INTO digest_state (rcpt, last) VALUES (lower(?1), ?2)"
					    " ON CONFLICT (rcpt) DO UPDATE SET last = excluded.last";
	sqlite3_stmt *st = qindex_prepare(ix, sql, err, errlen);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, a->rcpt, -1, SQLITE_STATIC);
	if (a->last == NULL)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)a->mark);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*a->last = (time_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		qindex_fail(ix, "digest state", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* qindex_digest_last - when rcpt's last digest ended; 0 if none was ever sent */
int qindex_digest_last(struct qindex *ix, const char *rcpt, time_t *when, char *err, size_t errlen)
{
	struct qindex_digest_args a = { .rcpt = rcpt, .last = when };

	*when = 0;
	if (rcpt == NULL || *rcpt == '\0') {
		snprintf(err, errlen, QINDEX_FILE ": digest state: no recipient");
		return -1;
	}
	return qindex_run(ix, qindex_digest_op, &a, err, errlen);
}

/* qindex_digest_mark - rcpt's digest now covers everything before when */
int qindex_digest_mark(struct qindex *ix, const char *rcpt, time_t when, char *err, size_t errlen)
{
	struct qindex_digest_args a = { .rcpt = rcpt, .mark = when };

	if (rcpt == NULL || *rcpt == '\0') {
		snprintf(err, errlen, QINDEX_FILE ": digest state: no recipient");
		return -1;
	}
	return qindex_run(ix, qindex_digest_op, &a, err, errlen);
}
