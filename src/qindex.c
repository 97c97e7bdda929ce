/*
 * qindex - the SQLite index of the quarantine: the handle, its repair,
 * and sync. See qindex.h for the contract; the queries are in
 * qindex_query.c.
 *
 * Shape. The files are the truth and the index only a cache of their
 * headers, so every damage to the index is answered the same way: move it
 * aside, start a fresh one, sync it from the files. Only the digest state
 * is not in the files, and losing it costs a repeated digest, never a lost
 * item.
 *
 * Sync is a merge of two sorted lists (the directory and the ids in the
 * index), so it reads only the headers of new entries and costs one
 * SELECT when nothing changed. Inserts go in transactions of
 * QINDEX_BATCH entries: one fsync per batch instead of one per entry,
 * and other writers still get a turn between batches.
 */
#include "qindex.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "qindex_int.h"

#define QINDEX_VERSION 1
#define QINDEX_BATCH 5000
#define QINDEX_BUSY_MS 10000

static const char qindex_schema[] =
	"CREATE TABLE entries ("
	" n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time INTEGER NOT NULL,"
	" class INTEGER NOT NULL, origin TEXT NOT NULL, client_addr TEXT NOT NULL,"
	" client_name TEXT NOT NULL, helo TEXT NOT NULL, auth_user TEXT NOT NULL,"
	" sender TEXT NOT NULL, queue_id TEXT NOT NULL, subject TEXT NOT NULL,"
	" payload TEXT NOT NULL, reason TEXT NOT NULL, size INTEGER NOT NULL,"
	" virus TEXT, rcpt TEXT, nrcpts INTEGER NOT NULL);"
	"CREATE INDEX entries_time ON entries(time, id);"
	/* rcpt lower-cased for lookups, addr as written for display */
	"CREATE TABLE rcpts (rcpt TEXT NOT NULL, entry INTEGER NOT NULL, addr TEXT NOT NULL,"
	" PRIMARY KEY (rcpt, entry)) WITHOUT ROWID;"
	"CREATE INDEX rcpts_entry ON rcpts(entry);"
	"CREATE TABLE viruses (virus TEXT NOT NULL, entry INTEGER NOT NULL,"
	" PRIMARY KEY (virus, entry)) WITHOUT ROWID;"
	"CREATE INDEX viruses_entry ON viruses(entry);"
	"CREATE TABLE digest_state (rcpt TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

/* qindex_fail - "index.sqlite: what: sqlite's message"; notes whether the file is damaged */
int qindex_fail(struct qindex *ix, const char *what, char *err, size_t errlen)
{
	int code = sqlite3_errcode(ix->db) & 0xff;

	ix->damaged = ix->damaged || code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
	snprintf(err, errlen, QINDEX_FILE ": %s: %s", what, sqlite3_errmsg(ix->db));
	return -1;
}

/* qindex_exec - run SQL that returns no rows */
int qindex_exec(struct qindex *ix, const char *sql, const char *what, char *err, size_t errlen)
{
	if (sqlite3_exec(ix->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return qindex_fail(ix, what, err, errlen);
	return 0;
}

/* qindex_rollback - after a failure: the failure is the error to report, not this */
void qindex_rollback(struct qindex *ix)
{
	if (!sqlite3_get_autocommit(ix->db))
		(void)sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
}

/* qindex_prepare - one statement; NULL after qindex_fail() */
sqlite3_stmt *qindex_prepare(struct qindex *ix, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) {
		qindex_fail(ix, "prepare", err, errlen);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* qindex_int - one integer from a one-row query (a pragma or a count) */
static int qindex_int(struct qindex *ix, const char *sql, long long *out, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st = qindex_prepare(ix, sql, err, errlen);

	if (st == NULL)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		qindex_fail(ix, "query", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* qindex_set_path - dir/name into buf, refusing to cut it */
static int qindex_set_path(char *buf, size_t len, const char *dir, const char *name, char *err,
			   size_t errlen)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, QINDEX_FILE ": %s/%s: %s", dir, name, strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/*
 * qindex_create_file - make a missing index file ourselves, 0600 and owned
 * like the directory. SQLite gives its -wal and -shm files the database
 * file's mode and (when run as root) its owner, so this one file decides
 * for all three. A -wal left from a deleted index is no danger: SQLite
 * drops a WAL it finds next to an empty database file, and removing it
 * here could race with another CLI that has just opened the new file.
 */
static int qindex_create_file(struct qindex *ix, char *err, size_t errlen)
{
	int fd = open(ix->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	const char *call = "open";

	if (fd == -1) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, QINDEX_FILE ": open %s: %s", ix->path, strerror(errno));
		return -1;
	}
	ix->rebuilt = true;
	if (fchmod(fd, 0600) == -1)
		call = "fchmod";
	else if (geteuid() == 0 && ix->owner != 0 && fchown(fd, ix->owner, ix->group) == -1)
		call = "fchown";
	else
		call = NULL;
	if (call != NULL)
		snprintf(err, errlen, QINDEX_FILE ": %s %s: %s", call, ix->path, strerror(errno));
	if (close(fd) == -1 && call == NULL) {
		call = "close";
		snprintf(err, errlen, QINDEX_FILE ": close %s: %s", ix->path, strerror(errno));
	}
	return call != NULL ? -1 : 0;
}

/* qindex_schema_ok - our tables at our version (creating them in an empty file); 1 if unknown */
static int qindex_schema_ok(struct qindex *ix, char *err, size_t errlen)
{
	long long version = -1, tables = -1;

	if (qindex_int(ix, "PRAGMA user_version", &version, err, errlen) == -1)
		return -1;
	if (version == 0) {
		/* Two CLIs may meet here on a new file: the write lock decides who creates. */
		if (qindex_exec(ix, "BEGIN IMMEDIATE", "begin", err, errlen) == -1 ||
		    qindex_int(ix, "PRAGMA user_version", &version, err, errlen) == -1 ||
		    qindex_int(ix, "SELECT count(*) FROM sqlite_master", &tables, err, errlen) == -1)
			goto fail;
		if (version == 0 && tables == 0) {
			if (qindex_exec(ix, qindex_schema, "create schema", err, errlen) == -1)
				goto fail;
			ix->rebuilt = true; /* an empty file is as good as a missing one */
		}
		if (qindex_exec(ix, "COMMIT", "commit", err, errlen) == -1)
			goto fail;
		if (version == 0 && tables != 0) {
			snprintf(err, errlen, QINDEX_FILE ": tables but no schema version");
			return 1;
		}
		version = QINDEX_VERSION;
	}
	if (version != QINDEX_VERSION) {
		snprintf(err, errlen, QINDEX_FILE ": unknown schema version %lld", version);
		return 1;
	}
	if (qindex_int(ix,
		       "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
		       " ('entries', 'rcpts', 'viruses', 'digest_state')",
		       &tables, err, errlen) == -1)
		return -1;
	if (tables != 4) {
		snprintf(err, errlen, QINDEX_FILE ": schema version %d without its tables",
			 QINDEX_VERSION);
		return 1;
	}
	return 0;

fail:
	qindex_rollback(ix);
	return -1;
}

/* qindex_try_connect - open and check the file: 0, -1 on an error, 1 if the file is unusable */
static int qindex_try_connect(struct qindex *ix, char *err, size_t errlen)
{
	struct stat st;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	ix->damaged = false;
	if (qindex_create_file(ix, err, errlen) == -1)
		return -1;
#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (sqlite3_open_v2(ix->path, &ix->db, flags, NULL) != SQLITE_OK)
		return qindex_fail(ix, "open", err, errlen);
	if (stat(ix->path, &st) == -1) {
		snprintf(err, errlen, QINDEX_FILE ": stat %s: %s", ix->path, strerror(errno));
		return -1;
	}
	ix->dev = st.st_dev;
	ix->ino = st.st_ino;
	sqlite3_busy_timeout(ix->db, QINDEX_BUSY_MS);
	/* NORMAL is enough in WAL mode: a crash may lose the last commits of a
	 * cache that the next sync refills, never the files. */
	if (qindex_exec(ix,
			"PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			" PRAGMA journal_size_limit = 67108864",
			"open", err, errlen) == -1)
		return ix->damaged ? 1 : -1;
	int rc = qindex_schema_ok(ix, err, errlen);
	return rc == -1 && ix->damaged ? 1 : rc;
}

/* qindex_disconnect - close the handle; statements are never kept between calls */
static void qindex_disconnect(struct qindex *ix)
{
	(void)sqlite3_close_v2(ix->db);
	ix->db = NULL;
}

/* qindex_aside_name - index.sqlite.corrupt-<time>, with .N if that name is taken */
static void qindex_aside_name(const struct qindex *ix, char *buf, size_t len)
{
	struct stat st;
	long long now = (long long)time(NULL);

	snprintf(buf, len, "%s.corrupt-%lld", ix->path, now);
	for (int i = 1; lstat(buf, &st) == 0 && i < 1000; i++)
		snprintf(buf, len, "%s.corrupt-%lld.%d", ix->path, now, i);
}

/* qindex_move_aside - keep the damaged file (and its -wal, -shm) for a post-mortem */
static int qindex_move_aside(struct qindex *ix, char *err, size_t errlen)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char aside[PATH_MAX + 64];
	char from[PATH_MAX + 8], to[sizeof(aside) + 8];
	struct stat st;

	/* Another CLI may have moved it and made a fresh one already: leave that alone. */
	if (lstat(ix->path, &st) == -1 || st.st_dev != ix->dev || st.st_ino != ix->ino)
		return 0;
	qindex_aside_name(ix, aside, sizeof(aside));
	for (size_t i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s%s", ix->path, suffix[i]);
		snprintf(to, sizeof(to), "%s%s", aside, suffix[i]);
		if (rename(from, to) == -1 && errno != ENOENT) {
			snprintf(err, errlen, QINDEX_FILE ": rename %s: %s", from, strerror(errno));
			return -1;
		}
	}
	return durable_sync_dir(ix->dir, err, errlen);
}

/* qindex_connect - a usable index: the file as it is, or a fresh one in place of a damaged one */
static int qindex_connect(struct qindex *ix, char *err, size_t errlen)
{
	int rc = qindex_try_connect(ix, err, errlen);

	if (rc == 0)
		return 0;
	qindex_disconnect(ix);
	if (rc == -1)
		return -1;
	if (qindex_move_aside(ix, err, errlen) == -1)
		return -1;
	ix->rebuilt = true;
	rc = qindex_try_connect(ix, err, errlen);
	if (rc == 0)
		return 0;
	qindex_disconnect(ix);
	return -1; /* a fresh file we cannot use: the directory, not the index, is at fault */
}

/* qindex_open - open (or create, or replace a damaged) dir/index.sqlite */
int qindex_open(const char *qdir, struct qindex **out, char *err, size_t errlen)
{
	struct stat st;

	*out = NULL;
	if (stat(qdir, &st) == -1) {
		snprintf(err, errlen, QINDEX_FILE ": stat %s: %s", qdir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, QINDEX_FILE ": %s: %s", qdir, strerror(ENOTDIR));
		return -1;
	}
	struct qindex *ix = calloc(1, sizeof(*ix));
	if (ix == NULL) {
		snprintf(err, errlen, QINDEX_FILE ": calloc: %s", strerror(errno));
		return -1;
	}
	ix->owner = st.st_uid;
	ix->group = st.st_gid;
	int n = snprintf(ix->dir, sizeof(ix->dir), "%s", qdir);
	if (n < 0 || (size_t)n >= sizeof(ix->dir)) {
		snprintf(err, errlen, QINDEX_FILE ": %s: %s", qdir, strerror(ENAMETOOLONG));
		free(ix);
		return -1;
	}
	if (qindex_set_path(ix->path, sizeof(ix->path), qdir, QINDEX_FILE, err, errlen) == -1 ||
	    qindex_connect(ix, err, errlen) == -1) {
		free(ix);
		return -1;
	}
	*out = ix;
	return 0;
}

/* qindex_close - close the handle; the last one out folds the WAL back in */
void qindex_close(struct qindex *ix)
{
	if (ix == NULL)
		return;
	qindex_disconnect(ix);
	free(ix);
}

/* qindex_recover - replace a damaged index by a fresh one */
static int qindex_recover(struct qindex *ix, char *err, size_t errlen)
{
	qindex_disconnect(ix);
	if (qindex_move_aside(ix, err, errlen) == -1)
		return -1;
	ix->rebuilt = true;
	return qindex_connect(ix, err, errlen);
}

/* ---- sync ---- */

struct qindex_ids {
	char (*id)[QUARANTINE_ID_MAX];
	size_t n, cap;
};

/* qindex_ids_add - append one id */
static int qindex_ids_add(struct qindex_ids *v, const char *id)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 1024;
		void *grown = realloc(v->id, cap * sizeof(*v->id));
		if (grown == NULL)
			return -1;
		v->id = grown;
		v->cap = cap;
	}
	snprintf(v->id[v->n++], QUARANTINE_ID_MAX, "%s", id);
	return 0;
}

struct qindex_collect {
	struct qindex_ids *ids;
	bool oom;
};

/* qindex_list_one - quarantine_list_fn: collect, or stop when out of memory */
static int qindex_list_one(const char *id, void *arg)
{
	struct qindex_collect *c = arg;

	c->oom = qindex_ids_add(c->ids, id) == -1;
	return c->oom;
}

/* qindex_idcmp - qsort order, the same as SQLite's BINARY collation for ASCII ids */
static int qindex_idcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* qindex_files - the sorted ids of every entry file in the directory */
static int qindex_files(struct qindex *ix, struct qindex_ids *files, char *err, size_t errlen)
{
	struct qindex_collect c = { .ids = files };

	if (quarantine_list(ix->dir, qindex_list_one, &c, err, errlen) == -1)
		return -1;
	if (c.oom) {
		snprintf(err, errlen, QINDEX_FILE ": listing %s: %s", ix->dir, strerror(ENOMEM));
		return -1;
	}
	if (files->n > 0)
		qsort(files->id, files->n, sizeof(*files->id), qindex_idcmp);
	return 0;
}

/*
 * qindex_diff - merge the sorted file ids with the index's sorted ids:
 * files not indexed go to add, rows without a file go to gone.
 */
static int qindex_diff(struct qindex *ix, const struct qindex_ids *files, struct qindex_ids *add,
		       struct qindex_ids *gone, char *err, size_t errlen)
{
	sqlite3_stmt *st = qindex_prepare(ix, "SELECT id FROM entries ORDER BY id", err, errlen);
	size_t i = 0;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row = (const char *)sqlite3_column_text(st, 0);
		int c = -1;
		while (i < files->n && (c = strcmp(files->id[i], row ? row : "")) < 0)
			if (qindex_ids_add(add, files->id[i++]) == -1)
				goto oom;
		if (c == 0)
			i++;
		else if (qindex_ids_add(gone, row ? row : "") == -1)
			goto oom;
	}
	if (rc != SQLITE_DONE) {
		qindex_fail(ix, "select ids", err, errlen);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	for (; i < files->n; i++)
		if (qindex_ids_add(add, files->id[i]) == -1)
			goto oom;
	return 0;

oom:
	sqlite3_finalize(st);
	snprintf(err, errlen, QINDEX_FILE ": sync: %s", strerror(ENOMEM));
	return -1;
}

static const char *const qindex_del_sql[3] = {
	"DELETE FROM rcpts WHERE entry = (SELECT n FROM entries WHERE id = ?1)",
	"DELETE FROM viruses WHERE entry = (SELECT n FROM entries WHERE id = ?1)",
	"DELETE FROM entries WHERE id = ?1",
};

/* qindex_writer_close - finalize whatever was prepared */
void qindex_writer_close(struct qindex_writer *w)
{
	sqlite3_finalize(w->entry);
	sqlite3_finalize(w->rcpt);
	sqlite3_finalize(w->virus);
	for (size_t i = 0; i < 3; i++)
		sqlite3_finalize(w->del[i]);
	memset(w, 0, sizeof(*w));
}

/* qindex_writer_open - prepare the insert and delete statements */
int qindex_writer_open(struct qindex *ix, struct qindex_writer *w, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->entry = qindex_prepare(ix,
				  "INSERT OR IGNORE INTO entries (id, time, class, origin, client_addr,"
				  " client_name, helo, auth_user, sender, queue_id, subject, payload,"
				  " reason, size, virus, rcpt, nrcpts) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
				  " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
				  err, errlen);
	if (w->entry != NULL)
		w->rcpt = qindex_prepare(ix,
					 "INSERT OR IGNORE INTO rcpts (rcpt, entry, addr)"
					 " VALUES (lower(?1), ?2, ?1)",
					 err, errlen);
	if (w->rcpt != NULL)
		w->virus = qindex_prepare(ix,
					  "INSERT OR IGNORE INTO viruses (virus, entry)"
					  " VALUES (?1, ?2)",
					  err, errlen);
	for (size_t i = 0; i < 3 && w->virus != NULL; i++)
		if ((w->del[i] = qindex_prepare(ix, qindex_del_sql[i], err, errlen)) == NULL)
			break;
	if (w->del[2] != NULL)
		return 0;
	qindex_writer_close(w);
	return -1;
}

/* qindex_step - run a bound write statement to completion and reset it */
static int qindex_step(struct qindex *ix, sqlite3_stmt *st, const char *what, char *err,
		       size_t errlen)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : qindex_fail(ix, what, err, errlen);
}

/* qindex_delete_rows - the rows of one entry, in every table */
int qindex_delete_rows(struct qindex *ix, struct qindex_writer *w, const char *id, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < 3; i++) {
		sqlite3_bind_text(w->del[i], 1, id, -1, SQLITE_STATIC);
		if (qindex_step(ix, w->del[i], "delete", err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* qindex_class_of - the class of an entry; names older writers used map to today's classes */
static int qindex_class_of(const char *name)
{
	int c = quarantine_class_parse(name);

	if (c >= 0)
		return c;
	if (strcasecmp(name, "limit") == 0 || strcasecmp(name, "anomaly") == 0)
		return QUARANTINE_AMBIGUOUS;
	/* Unknown: the longest-kept class a site is likely to have, rather than none. */
	return QUARANTINE_POLICY;
}

/* qindex_insert - one entry's rows; *added says whether it was new (another CLI may be first) */
static int qindex_insert(struct qindex *ix, struct qindex_writer *w,
			 const struct quarantine_entry *e, bool *added, char *err, size_t errlen)
{
	const char *const text[] = { e->origin, e->client_addr, e->client_name, e->helo, e->auth_user,
				     e->sender, e->queue_id, e->subject, e->payload, e->reason };
	sqlite3_stmt *st = w->entry;

	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)e->when);
	sqlite3_bind_int(st, 3, qindex_class_of(e->class));
	for (int i = 0; i < 10; i++)
		sqlite3_bind_text(st, 4 + i, text[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, e->size > INT64_MAX ? INT64_MAX : (sqlite3_int64)e->size);
	if (e->nviruses > 0)
		sqlite3_bind_text(st, 15, e->viruses[0], -1, SQLITE_STATIC);
	if (e->nrcpts > 0)
		sqlite3_bind_text(st, 16, e->rcpts[0], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 17, (sqlite3_int64)e->nrcpts);
	if (qindex_step(ix, st, "insert", err, errlen) == -1)
		return -1;
	*added = sqlite3_changes(ix->db) == 1;
	if (!*added)
		return 0;
	sqlite3_int64 n = sqlite3_last_insert_rowid(ix->db);
	for (size_t i = 0; i < e->nrcpts; i++) {
		sqlite3_bind_text(w->rcpt, 1, e->rcpts[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(w->rcpt, 2, n);
		if (qindex_step(ix, w->rcpt, "insert rcpt", err, errlen) == -1)
			return -1;
	}
	for (size_t i = 0; i < e->nviruses; i++) {
		sqlite3_bind_text(w->virus, 1, e->viruses[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(w->virus, 2, n);
		if (qindex_step(ix, w->virus, "insert virus", err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* qindex_file_gone - true if dir/<id>.kq no longer exists (deleted since we listed it) */
static bool qindex_file_gone(const struct qindex *ix, const char *id)
{
	char path[PATH_MAX], why[128];
	struct stat st;

	if (quarantine_path(path, sizeof(path), ix->dir, id, why, sizeof(why)) == -1)
		return false; /* in doubt, keep the row */
	return lstat(path, &st) == -1 && errno == ENOENT;
}

/* qindex_add_one - read one entry's header and index it; damaged entries are only counted */
static int qindex_add_one(struct qindex *ix, struct qindex_writer *w, const char *id,
			  struct qindex_sync_stats *st, char *err, size_t errlen)
{
	struct quarantine_entry e;
	char why[512];
	bool added = false;

	if (quarantine_read(ix->dir, id, &e, why, sizeof(why)) == -1) {
		if (!qindex_file_gone(ix, id))
			st->damaged++;
		return 0;
	}
	int rc = qindex_insert(ix, w, &e, &added, err, errlen);
	quarantine_entry_clear(&e);
	st->added += added;
	return rc;
}

/* qindex_write - remove the rows of gone files, add the new entries, in batches */
static int qindex_write(struct qindex *ix, const struct qindex_ids *add,
			const struct qindex_ids *gone, bool one_tx, struct qindex_sync_stats *st,
			char *err, size_t errlen)
{
	struct qindex_writer w;
	size_t batch = 0;

	if (qindex_writer_open(ix, &w, err, errlen) == -1)
		return -1;
	if (sqlite3_get_autocommit(ix->db) &&
	    qindex_exec(ix, "BEGIN IMMEDIATE", "begin", err, errlen) == -1)
		goto fail;
	for (size_t i = 0; i < gone->n; i++) {
		/* Listed after we read the directory? Then it is new, not gone. */
		if (!one_tx && !qindex_file_gone(ix, gone->id[i]))
			continue;
		if (qindex_delete_rows(ix, &w, gone->id[i], err, errlen) == -1)
			goto fail;
		st->removed++;
	}
	for (size_t i = 0; i < add->n; i++) {
		if (qindex_add_one(ix, &w, add->id[i], st, err, errlen) == -1)
			goto fail;
		if (!one_tx && ++batch == QINDEX_BATCH) {
			batch = 0;
			if (qindex_exec(ix, "COMMIT; BEGIN IMMEDIATE", "commit", err, errlen) == -1)
				goto fail;
		}
	}
	if (qindex_exec(ix, "COMMIT", "commit", err, errlen) == -1)
		goto fail;
	qindex_writer_close(&w);
	return 0;

fail:
	qindex_writer_close(&w);
	qindex_rollback(ix);
	return -1;
}

/* qindex_sync_pass - one sync (wipe: drop every entry row first, all in one transaction) */
static int qindex_sync_pass(struct qindex *ix, bool wipe, struct qindex_sync_stats *st,
			    char *err, size_t errlen)
{
	struct qindex_ids files = { 0 }, add = { 0 }, gone = { 0 };
	long long total = 0;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (qindex_files(ix, &files, err, errlen) == -1)
		goto out;
	/* A reindex is one transaction, so readers see the old rows until the new ones are all in. */
	if (wipe && qindex_exec(ix, "BEGIN IMMEDIATE", "begin", err, errlen) == -1)
		goto out;
	if (qindex_diff(ix, &files, &add, &gone, err, errlen) == -1)
		goto out;
	if (wipe) {
		if (qindex_exec(ix, "DELETE FROM rcpts; DELETE FROM viruses; DELETE FROM entries",
				"reindex", err, errlen) == -1)
			goto out;
		st->removed = gone.n;
		gone.n = 0;
		add.n = 0;
		for (size_t i = 0; i < files.n; i++)
			if (qindex_ids_add(&add, files.id[i]) == -1) {
				snprintf(err, errlen, QINDEX_FILE ": reindex: %s", strerror(ENOMEM));
				goto out;
			}
	}
	if ((wipe || add.n > 0 || gone.n > 0) &&
	    qindex_write(ix, &add, &gone, wipe, st, err, errlen) == -1)
		goto out;
	if (qindex_int(ix, "SELECT count(*) FROM entries", &total, err, errlen) == -1)
		goto out;
	st->total = (unsigned long)total;
	rc = 0;
out:
	if (rc == -1)
		qindex_rollback(ix);
	free(files.id);
	free(add.id);
	free(gone.id);
	return rc;
}

/* qindex_sync_run - a sync pass, and on a damaged index a fresh index and one more pass */
static int qindex_sync_run(struct qindex *ix, bool wipe, struct qindex_sync_stats *st,
			   char *err, size_t errlen)
{
	ix->damaged = false;
	int rc = qindex_sync_pass(ix, wipe, st, err, errlen);
	if (rc == -1 && ix->damaged) {
		if (qindex_recover(ix, err, errlen) == -1)
			return -1;
		rc = qindex_sync_pass(ix, false, st, err, errlen);
	}
	if (rc == 0) {
		st->rebuilt = ix->rebuilt;
		ix->rebuilt = false;
	}
	return rc;
}

/* qindex_sync - bring the index up to date with the files */
int qindex_sync(struct qindex *ix, struct qindex_sync_stats *st, char *err, size_t errlen)
{
	return qindex_sync_run(ix, false, st, err, errlen);
}

/* qindex_reindex - forget every entry row and read every file again; digest state stays */
int qindex_reindex(struct qindex *ix, struct qindex_sync_stats *st, char *err, size_t errlen)
{
	return qindex_sync_run(ix, true, st, err, errlen);
}

/* qindex_run - op, and once more on a fresh, synced index if SQLite found this one damaged */
int qindex_run(struct qindex *ix, qindex_op op, void *args, char *err, size_t errlen)
{
	struct qindex_sync_stats st;

	ix->damaged = false;
	if (op(ix, args, err, errlen) == 0)
		return 0;
	if (!ix->damaged)
		return -1;
	if (qindex_recover(ix, err, errlen) == -1 || qindex_sync_run(ix, false, &st, err, errlen) == -1)
		return -1;
	ix->rebuilt = true; /* that sync's stats went nowhere: the caller's next sync says it */
	return op(ix, args, err, errlen);
}

