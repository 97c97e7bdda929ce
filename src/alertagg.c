/*
 * alertagg - one alert per infected source per window. See alertagg.h for
 * the contract.
 *
 * The state is three tables in alert_spool_dir/aggregate.sqlite:
 *	win        one row per window that is not closed yet: the source, the
 *	           fields of its label, the counters, and the summary key made
 *	           when the window opened (so that every attempt to hand the
 *	           summary off names the same spool file)
 *	win_virus  per window, each virus name with the number of messages
 *	           that carried it
 *	sent       the time of every alert mail counted against the hourly
 *	           cap; rows older than an hour are pruned
 * Closing a window deletes its rows. A window that has ended stays until
 * its summary is handed off, so the cap delays a summary but never drops
 * it. One open window per source at a time: a note looks for the
 * source's window that has not ended yet; a window that ended and waits
 * for its summary does not take new messages.
 */
#include "alertagg.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "ident.h"

#define AG_FILE "aggregate.sqlite"
#define AG_VERSION 1
#define AG_HOUR 3600
#define AG_BUSY_MS 5000
#define AG_FIELD_MAX 255   /* bytes of an address, user or virus name we keep */
#define AG_DUE_BATCH 64    /* summaries per alertagg_due() call: the mail path waits for none longer */

enum ag_stmt {
	AG_FIND,
	AG_BUMP,
	AG_OPEN,
	AG_VIRUS,
	AG_SENT_COUNT,
	AG_SENT_ADD,
	AG_SENT_PRUNE,
	AG_SILENT_VIRUSES,
	AG_SILENT_WIN,
	AG_DUE,
	AG_VIRUSES,
	AG_DROP_VIRUSES,
	AG_DROP_WIN,
	AG_UNBUMP,
	AG_UNSENT,
	AG_COUNT,
	AG_NSTMT
};

static const char *const ag_sql[AG_NSTMT] = {
	[AG_FIND] = "SELECT id FROM win WHERE skey = ?1 AND wend > ?2 ORDER BY wend DESC LIMIT 1",
	[AG_BUMP] = "UPDATE win SET count = count + 1, first = min(first, ?2), last = max(last, ?2) "
		    "WHERE id = ?1",
	[AG_OPEN] = "INSERT INTO win (skey, client_addr, auth_user, origin, first, last, count, alerted, "
		    "wstart, wend, key) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6, ?5, ?7, ?8)",
	[AG_VIRUS] = "INSERT INTO win_virus (win, name, count) VALUES (?1, ?2, 1) "
		     "ON CONFLICT (win, name) DO UPDATE SET count = count + 1",
	[AG_SENT_COUNT] = "SELECT count(*) FROM sent WHERE at > ?1",
	[AG_SENT_ADD] = "INSERT INTO sent (at) VALUES (?1)",
	[AG_SENT_PRUNE] = "DELETE FROM sent WHERE at <= ?1",
	[AG_SILENT_VIRUSES] = "DELETE FROM win_virus WHERE win IN "
			      "(SELECT id FROM win WHERE wend <= ?1 AND count <= alerted)",
	[AG_SILENT_WIN] = "DELETE FROM win WHERE wend <= ?1 AND count <= alerted",
	[AG_DUE] = "SELECT id, skey, client_addr, auth_user, origin, first, last, count, alerted, key "
		   "FROM win WHERE wend <= ?1 AND count > alerted ORDER BY wend, id LIMIT 1 OFFSET ?2",
	[AG_VIRUSES] = "SELECT name, count FROM win_virus WHERE win = ?1 ORDER BY count DESC, name",
	[AG_DROP_VIRUSES] = "DELETE FROM win_virus WHERE win = ?1",
	[AG_DROP_WIN] = "DELETE FROM win WHERE id = ?1",
	[AG_UNBUMP] = "UPDATE win SET count = count - 1, alerted = max(alerted - 1, 0) WHERE id = ?1",
	[AG_UNSENT] = "DELETE FROM sent WHERE rowid = (SELECT max(rowid) FROM sent)",
	[AG_COUNT] = "SELECT count FROM win WHERE id = ?1",
};

static const char ag_schema[] =
	"CREATE TABLE IF NOT EXISTS win ("
	" id INTEGER PRIMARY KEY,"
	" skey TEXT NOT NULL,"              /* "addr:10.1.2.3" or "user:alice": the two never collide */
	" client_addr TEXT NOT NULL,"
	" auth_user TEXT NOT NULL,"
	" origin INTEGER NOT NULL,"
	" first INTEGER NOT NULL,"
	" last INTEGER NOT NULL,"
	" count INTEGER NOT NULL,"
	" alerted INTEGER NOT NULL,"
	" wstart INTEGER NOT NULL,"
	" wend INTEGER NOT NULL,"
	" key TEXT NOT NULL UNIQUE);"
	"CREATE INDEX IF NOT EXISTS win_skey ON win (skey, wend);"
	"CREATE INDEX IF NOT EXISTS win_wend ON win (wend);"
	"CREATE TABLE IF NOT EXISTS win_virus ("
	" win INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" count INTEGER NOT NULL,"
	" PRIMARY KEY (win, name)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sent (at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS sent_at ON sent (at);";

struct alertagg {
	pthread_mutex_t lock;        /* one connection, one user at a time */
	sqlite3 *db;
	sqlite3_stmt *st[AG_NSTMT];
	struct alertagg_opts opts;
	unsigned refs;               /* under alertagg_global_lock */
	char path[4096];
};

/* The process's aggregator for the pipeline; see alertagg_set_global(). */
static pthread_mutex_t alertagg_global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct alertagg *alertagg_current;

/* A window as alertagg_due() reads it; strings are bounded on the way in. */
struct ag_window {
	sqlite3_int64 id;
	char skey[AG_FIELD_MAX + 8];
	char client_addr[AG_FIELD_MAX + 1];
	char auth_user[AG_FIELD_MAX + 1];
	char key[IDENT_MAX];
	char label[2 * AG_FIELD_MAX + 16];
	int origin;
	sqlite3_int64 first, last, count, alerted;
};

struct ag_viruses {
	char **names;
	unsigned long *counts;
	size_t n;
};

/* ag_fail - "what path: sqlite's message"; always -1 */
static int ag_fail(struct alertagg *ag, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s %s: %s", what, ag->path, sqlite3_errmsg(ag->db));
	return -1;
}

/* ag_stmt - a prepared statement, reset and unbound, ready for new values */
static sqlite3_stmt *ag_stmt(struct alertagg *ag, enum ag_stmt which)
{
	sqlite3_stmt *st = ag->st[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* ag_exec - one statement without values, all rows ignored */
static int ag_exec(struct alertagg *ag, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(ag->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "sqlite3 %s: %.40s: %s", ag->path, sql, msg ? msg : sqlite3_errmsg(ag->db));
	sqlite3_free(msg);
	return -1;
}

/* ag_done - step a statement that returns no row */
static int ag_done(struct alertagg *ag, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : ag_fail(ag, what, err, errlen);
}

/* ag_int - step a statement that returns one integer */
static int ag_int(struct alertagg *ag, sqlite3_stmt *st, sqlite3_int64 *out, const char *what, char *err,
		  size_t errlen)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : ag_fail(ag, what, err, errlen);
}

/* ag_bind_text - bind at most AG_FIELD_MAX bytes of s ("" for NULL) */
static void ag_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	size_t n = s ? strnlen(s, AG_FIELD_MAX) : 0;

	sqlite3_bind_text(st, col, s ? s : "", (int)n, SQLITE_TRANSIENT);
}

/* ag_rollback - undo a failed transaction; the error that led here is the one to report */
static void ag_rollback(struct alertagg *ag)
{
	if (!sqlite3_get_autocommit(ag->db))
		(void)sqlite3_exec(ag->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ag_end - end the open transaction: COMMIT after a body that succeeded (rc 0), else ROLLBACK */
static int ag_end(struct alertagg *ag, int rc, char *err, size_t errlen)
{
	if (rc == 0)
		rc = ag_exec(ag, "COMMIT", err, errlen);
	if (rc == -1)
		ag_rollback(ag);
	return rc;
}

/* ag_create_file - the database file, 0600 from the start (SQLite gives its -wal and -shm the same) */
static int ag_create_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ag_schema_check - the tables, made once; a newer schema than ours is refused */
static int ag_schema_check(struct alertagg *ag, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 version = 0;

	if (sqlite3_prepare_v2(ag->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return ag_fail(ag, "sqlite3_prepare_v2 user_version", err, errlen);
	int rc = ag_int(ag, st, &version, "PRAGMA user_version", err, errlen);
	sqlite3_finalize(st);
	if (rc == -1)
		return -1;
	if (version > AG_VERSION) {
		snprintf(err, errlen, "%s: schema version %lld is newer than this klaxon's (%d)", ag->path,
			 (long long)version, AG_VERSION);
		return -1;
	}
	if (ag_exec(ag, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	rc = ag_exec(ag, ag_schema, err, errlen) == -1 ||
	     ag_exec(ag, "PRAGMA user_version = 1", err, errlen) == -1 ? -1 : 0;
	return ag_end(ag, rc, err, errlen);
}

/* ag_journal - WAL with synchronous=NORMAL: a crash of klaxon loses no commit, and a note costs no fsync */
static int ag_journal(struct alertagg *ag, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(ag->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
		return ag_fail(ag, "sqlite3_prepare_v2 journal_mode", err, errlen);
	int rc = sqlite3_step(st);
	bool wal = rc == SQLITE_ROW && sqlite3_column_text(st, 0) &&
		   strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!wal) {
		snprintf(err, errlen, "PRAGMA journal_mode = WAL %s: refused (%s)", ag->path,
			 sqlite3_errmsg(ag->db));
		return -1;
	}
	return ag_exec(ag, "PRAGMA synchronous = NORMAL", err, errlen);
}

/* ag_free - finalize, close and free, whatever state open left it in */
static void ag_free(struct alertagg *ag)
{
	for (size_t i = 0; i < AG_NSTMT; i++)
		sqlite3_finalize(ag->st[i]);
	sqlite3_close(ag->db); /* NULL is fine; every statement is finalized, so it closes now */
	pthread_mutex_destroy(&ag->lock);
	free(ag);
}

/* ag_connect - open the database, set it up and prepare every statement */
static int ag_connect(struct alertagg *ag, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;

	if (ag_create_file(ag->path, err, errlen) == -1)
		return -1;
	if (sqlite3_open_v2(ag->path, &ag->db, flags, NULL) != SQLITE_OK)
		return ag_fail(ag, "sqlite3_open_v2", err, errlen);
	sqlite3_extended_result_codes(ag->db, 1);
	if (sqlite3_busy_timeout(ag->db, AG_BUSY_MS) != SQLITE_OK)
		return ag_fail(ag, "sqlite3_busy_timeout", err, errlen);
	if (ag_journal(ag, err, errlen) == -1 || ag_schema_check(ag, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < AG_NSTMT; i++)
		if (sqlite3_prepare_v3(ag->db, ag_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ag->st[i], NULL) !=
		    SQLITE_OK)
			return ag_fail(ag, "sqlite3_prepare_v3", err, errlen);
	return 0;
}

/* alertagg_open - the aggregator over dir/aggregate.sqlite, made if missing */
int alertagg_open(const char *dir, const struct alertagg_opts *opts, struct alertagg **out, char *err,
		  size_t errlen)
{
	*out = NULL;
	if (opts->window == 0 || opts->max_per_hour == 0) {
		snprintf(err, errlen, "alertagg_open: window and max_per_hour must be at least 1");
		return -1;
	}
	if (durable_mkdir(dir, 0700, err, errlen) == -1)
		return -1;
	struct alertagg *ag = calloc(1, sizeof(*ag));
	if (ag == NULL) {
		snprintf(err, errlen, "alertagg_open: %s", strerror(ENOMEM));
		return -1;
	}
	if (pthread_mutex_init(&ag->lock, NULL) != 0) {
		snprintf(err, errlen, "alertagg_open: pthread_mutex_init failed");
		free(ag);
		return -1;
	}
	ag->opts = *opts;
	ag->refs = 1;
	if ((size_t)snprintf(ag->path, sizeof(ag->path), "%s/%s", dir, AG_FILE) >= sizeof(ag->path)) {
		snprintf(err, errlen, "alertagg_open: %s: path too long", dir);
		ag_free(ag);
		return -1;
	}
	if (ag_connect(ag, err, errlen) == -1) {
		ag_free(ag);
		return -1;
	}
	*out = ag;
	return 0;
}

/* ag_source_key - "user:alice" when authenticated, else "addr:10.1.2.3" */
static void ag_source_key(const struct alertagg_source *src, char *out, size_t outlen)
{
	if (src->auth_user && *src->auth_user)
		snprintf(out, outlen, "user:%.*s", AG_FIELD_MAX, src->auth_user);
	else
		snprintf(out, outlen, "addr:%.*s", AG_FIELD_MAX,
			 src->client_addr && *src->client_addr ? src->client_addr : "unknown");
}

/* ag_summary_key - "<window end>-summary-<16 hex>": sorts in the spool by the window's end */
static int ag_summary_key(time_t wend, char *out, size_t outlen, char *err, size_t errlen)
{
	char hex[17], stamp[17]; /* "YYYYMMDDTHHMMSSZ": a later year does not fit, and is refused */
	struct tm tm;

	if (gmtime_r(&wend, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0) {
		snprintf(err, errlen, "gmtime_r: window end %lld out of range", (long long)wend);
		return -1;
	}
	if (ident_hex(hex, 16, err, errlen) == -1)
		return -1;
	snprintf(out, outlen, "%s-summary-%s", stamp, hex);
	return 0;
}

/* ag_room - true while the hour since now holds fewer than max_per_hour alert mails */
static int ag_room(struct alertagg *ag, time_t now, bool *room, char *err, size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_SENT_COUNT);
	sqlite3_int64 used = 0;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now - AG_HOUR);
	if (ag_int(ag, st, &used, "count sent", err, errlen) == -1)
		return -1;
	*room = used < (sqlite3_int64)ag->opts.max_per_hour;
	return 0;
}

/* ag_sent - one alert mail goes against the cap; older entries no longer count */
static int ag_sent(struct alertagg *ag, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_SENT_ADD);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	return ag_done(ag, st, "insert sent", err, errlen);
}

/* ag_prune - forget alert mails that left the sliding hour */
static int ag_prune(struct alertagg *ag, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_SENT_PRUNE);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now - AG_HOUR);
	return ag_done(ag, st, "prune sent", err, errlen);
}

/* ag_find - the source's window that has not ended at now; 0 if none */
static int ag_find(struct alertagg *ag, const char *skey, time_t now, sqlite3_int64 *id, char *err,
		   size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_FIND);

	sqlite3_bind_text(st, 1, skey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	int rc = sqlite3_step(st);
	*id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ag_fail(ag, "select window", err, errlen);
}

/* ag_bump - count one more message in an open window */
static int ag_bump(struct alertagg *ag, sqlite3_int64 id, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_BUMP);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	return ag_done(ag, st, "update window", err, errlen);
}

/* ag_open_window - a new window from now; alerted says whether its first message alerts at once */
static int ag_open_window(struct alertagg *ag, const struct alertagg_source *src, const char *skey, time_t now,
			  bool alerted, sqlite3_int64 *id, char *err, size_t errlen)
{
	char key[IDENT_MAX];
	time_t wend = now + (time_t)ag->opts.window;

	if (ag_summary_key(wend, key, sizeof(key), err, errlen) == -1)
		return -1;
	sqlite3_stmt *st = ag_stmt(ag, AG_OPEN);
	sqlite3_bind_text(st, 1, skey, -1, SQLITE_STATIC);
	ag_bind_text(st, 2, src->client_addr);
	ag_bind_text(st, 3, src->auth_user);
	sqlite3_bind_int(st, 4, (int)src->origin);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	sqlite3_bind_int(st, 6, alerted ? 1 : 0);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)wend);
	sqlite3_bind_text(st, 8, key, -1, SQLITE_STATIC);
	if (ag_done(ag, st, "insert window", err, errlen) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(ag->db);
	return 0;
}

/* ag_count_viruses - each distinct name of the message counts once for the window */
static int ag_count_viruses(struct alertagg *ag, sqlite3_int64 id, const char *const *viruses, size_t n,
			    char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = viruses[i] == NULL || *viruses[i] == '\0';
		for (size_t j = 0; j < i && !seen; j++)
			seen = viruses[j] && strncmp(viruses[j], viruses[i], AG_FIELD_MAX) == 0;
		if (seen)
			continue;
		sqlite3_stmt *st = ag_stmt(ag, AG_VIRUS);
		sqlite3_bind_int64(st, 1, id);
		ag_bind_text(st, 2, viruses[i]);
		if (ag_done(ag, st, "count virus", err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* ag_note_tx - the body of one note's transaction */
static int ag_note_tx(struct alertagg *ag, const struct alertagg_source *src, const char *const *viruses,
		      size_t nviruses, time_t now, enum alertagg_decision *d, char *err, size_t errlen)
{
	char skey[AG_FIELD_MAX + 8];
	sqlite3_int64 id = 0;
	bool room = false;

	/* No prune here: ag_room() counts only the last hour, and alertagg_due() prunes every round. */
	ag_source_key(src, skey, sizeof(skey));
	if (ag_find(ag, skey, now, &id, err, errlen) == -1)
		return -1;
	if (id != 0) {
		if (ag_bump(ag, id, now, err, errlen) == -1)
			return -1;
		*d = ALERTAGG_COUNTED;
	} else {
		/* Past the cap the first copy is only counted; its window then ends in a summary. */
		if (ag_room(ag, now, &room, err, errlen) == -1 ||
		    ag_open_window(ag, src, skey, now, room, &id, err, errlen) == -1 ||
		    (room && ag_sent(ag, now, err, errlen) == -1))
			return -1;
		*d = room ? ALERTAGG_ALERT_NOW : ALERTAGG_COUNTED;
	}
	return ag_count_viruses(ag, id, viruses, nviruses, err, errlen);
}

/* ag_forget_tx - the body of alertagg_forget()'s transaction */
static int ag_forget_tx(struct alertagg *ag, const struct alertagg_source *src, time_t now, char *err,
			size_t errlen)
{
	char skey[AG_FIELD_MAX + 8];
	sqlite3_int64 id = 0, count = 0;

	ag_source_key(src, skey, sizeof(skey));
	if (ag_find(ag, skey, now, &id, err, errlen) == -1)
		return -1;
	if (id == 0)
		return 0;
	sqlite3_stmt *st = ag_stmt(ag, AG_UNSENT);
	if (ag_done(ag, st, "forget sent", err, errlen) == -1)
		return -1;
	/* The window's own count decides: a window that only held this message goes. */
	st = ag_stmt(ag, AG_COUNT);
	sqlite3_bind_int64(st, 1, id);
	if (ag_int(ag, st, &count, "select count", err, errlen) == -1)
		return -1;
	if (count > 1) {
		st = ag_stmt(ag, AG_UNBUMP);
		sqlite3_bind_int64(st, 1, id);
		return ag_done(ag, st, "forget count", err, errlen);
	}
	st = ag_stmt(ag, AG_DROP_VIRUSES);
	sqlite3_bind_int64(st, 1, id);
	if (ag_done(ag, st, "forget viruses", err, errlen) == -1)
		return -1;
	st = ag_stmt(ag, AG_DROP_WIN);
	sqlite3_bind_int64(st, 1, id);
	return ag_done(ag, st, "forget window", err, errlen);
}

/*
 * alertagg_forget - undo the last note of src: it said ALERT_NOW, but the
 * alert could not be spooled and the message was tempfailed, so its retry
 * must find things as if it had never come (and alert at once again).
 */
int alertagg_forget(struct alertagg *ag, const struct alertagg_source *src, time_t now, char *err,
		    size_t errlen)
{
	int rc = -1;

	pthread_mutex_lock(&ag->lock);
	if (ag_exec(ag, "BEGIN IMMEDIATE", err, errlen) == 0)
		rc = ag_end(ag, ag_forget_tx(ag, src, now, err, errlen), err, errlen);
	pthread_mutex_unlock(&ag->lock);
	return rc;
}

/* alertagg_note - count one infected message; d says whether it alerts at once */
int alertagg_note(struct alertagg *ag, const struct alertagg_source *src, const char *const *viruses,
		  size_t nviruses, time_t now, enum alertagg_decision *d, char *err, size_t errlen)
{
	enum alertagg_decision got = ALERTAGG_ALERT_NOW;
	int rc = -1;

	pthread_mutex_lock(&ag->lock);
	if (ag_exec(ag, "BEGIN IMMEDIATE", err, errlen) == 0)
		rc = ag_end(ag, ag_note_tx(ag, src, viruses, nviruses, now, &got, err, errlen), err, errlen);
	pthread_mutex_unlock(&ag->lock);
	/* Nothing was counted after a failure, so the message must have its own alert. */
	*d = rc == 0 ? got : ALERTAGG_ALERT_NOW;
	return rc;
}

/* ag_close_silent - windows that ended with no message past their alerted first one */
static int ag_close_silent(struct alertagg *ag, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *viruses = ag_stmt(ag, AG_SILENT_VIRUSES);
	sqlite3_stmt *wins = ag_stmt(ag, AG_SILENT_WIN);

	sqlite3_bind_int64(viruses, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(wins, 1, (sqlite3_int64)now);
	if (ag_exec(ag, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	int rc = ag_prune(ag, now, err, errlen) == -1 ||
		 ag_done(ag, viruses, "delete viruses", err, errlen) == -1 ||
		 ag_done(ag, wins, "delete windows", err, errlen) == -1 ? -1 : 0;
	return ag_end(ag, rc, err, errlen);
}

/* ag_copy_text - a column into a fixed buffer, cut at its size */
static void ag_copy_text(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, outlen, "%s", s ? (const char *)s : "");
}

/* ag_label - "10.1.2.3 (user alice)", "10.1.2.3", "user alice" or "unknown host" */
static void ag_label(struct ag_window *w)
{
	if (w->client_addr[0] && w->auth_user[0])
		snprintf(w->label, sizeof(w->label), "%s (user %s)", w->client_addr, w->auth_user);
	else if (w->client_addr[0])
		snprintf(w->label, sizeof(w->label), "%s", w->client_addr);
	else if (w->auth_user[0])
		snprintf(w->label, sizeof(w->label), "user %s", w->auth_user);
	else
		snprintf(w->label, sizeof(w->label), "unknown host");
}

/* ag_next_due - the skip-th ended window that owes a summary; 0 with w->id = 0 if none */
static int ag_next_due(struct alertagg *ag, time_t now, unsigned skip, struct ag_window *w, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_DUE);

	memset(w, 0, sizeof(*w));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int(st, 2, (int)skip);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		w->id = sqlite3_column_int64(st, 0);
		ag_copy_text(st, 1, w->skey, sizeof(w->skey));
		ag_copy_text(st, 2, w->client_addr, sizeof(w->client_addr));
		ag_copy_text(st, 3, w->auth_user, sizeof(w->auth_user));
		w->origin = sqlite3_column_int(st, 4);
		w->first = sqlite3_column_int64(st, 5);
		w->last = sqlite3_column_int64(st, 6);
		w->count = sqlite3_column_int64(st, 7);
		w->alerted = sqlite3_column_int64(st, 8);
		ag_copy_text(st, 9, w->key, sizeof(w->key));
		ag_label(w);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ag_fail(ag, "select due window", err, errlen);
}

/* ag_viruses_free - names and counts of one window */
static void ag_viruses_free(struct ag_viruses *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->names[i]);
	free(v->names);
	free(v->counts);
	*v = (struct ag_viruses){ 0 };
}

/* ag_viruses_add - append one name and its count */
static int ag_viruses_add(struct ag_viruses *v, const char *name, unsigned long count)
{
	char **names = realloc(v->names, (v->n + 1) * sizeof(*names));
	if (names == NULL)
		return -1;
	v->names = names;
	unsigned long *counts = realloc(v->counts, (v->n + 1) * sizeof(*counts));
	if (counts == NULL)
		return -1;
	v->counts = counts;
	if ((v->names[v->n] = strdup(name)) == NULL)
		return -1;
	v->counts[v->n++] = count;
	return 0;
}

/* ag_load_viruses - the window's names, most frequent first */
static int ag_load_viruses(struct alertagg *ag, sqlite3_int64 id, struct ag_viruses *v, char *err,
			   size_t errlen)
{
	sqlite3_stmt *st = ag_stmt(ag, AG_VIRUSES);
	int rc;

	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 0);
		if (ag_viruses_add(v, name ? (const char *)name : "", (unsigned long)sqlite3_column_int64(st, 1)) ==
		    -1) {
			sqlite3_reset(st);
			snprintf(err, errlen, "alertagg_due: %s", strerror(ENOMEM));
			return -1;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : ag_fail(ag, "select viruses", err, errlen);
}

/* ag_close_window - the summary is handed off: delete the window, count its mail against the cap */
static int ag_close_window(struct alertagg *ag, sqlite3_int64 id, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *viruses = ag_stmt(ag, AG_DROP_VIRUSES);
	sqlite3_stmt *win = ag_stmt(ag, AG_DROP_WIN);

	sqlite3_bind_int64(viruses, 1, id);
	sqlite3_bind_int64(win, 1, id);
	if (ag_exec(ag, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	int rc = ag_done(ag, viruses, "delete viruses", err, errlen) == -1 ||
		 ag_done(ag, win, "delete window", err, errlen) == -1 ||
		 ag_sent(ag, now, err, errlen) == -1 ? -1 : 0;
	return ag_end(ag, rc, err, errlen);
}

/* ag_hand_off - build the summary of w, give it to fn; 1 if fn took it, 0 if not, -1 on error */
static int ag_hand_off(struct alertagg *ag, const struct ag_window *w, time_t now, alertagg_summary_fn fn,
		       void *arg, char *err, size_t errlen)
{
	struct ag_viruses v = { 0 };

	if (ag_load_viruses(ag, w->id, &v, err, errlen) == -1) {
		ag_viruses_free(&v);
		return -1;
	}
	const struct alertagg_summary s = {
		.key = w->key,
		.source = strlen(w->skey) > 5 ? w->skey + 5 : w->skey, /* past "addr:" or "user:" */
		.label = w->label,
		.client_addr = w->client_addr,
		.auth_user = w->auth_user[0] ? w->auth_user : NULL,
		.origin = w->origin == ORIGIN_INTERNAL ? ORIGIN_INTERNAL : ORIGIN_EXTERNAL,
		.count = (unsigned long)w->count,
		.alerted = (unsigned long)w->alerted,
		.first = (time_t)w->first,
		.last = (time_t)w->last,
		.viruses = (const char *const *)v.names,
		.virus_counts = v.counts,
		.nviruses = v.n,
	};
	/* A crash between fn and the close below offers the same key again: fn's spool
	 * name makes that harmless. */
	int rc = fn(&s, arg) == 0 ? 1 : 0;
	ag_viruses_free(&v);
	if (rc == 1 && ag_close_window(ag, w->id, now, err, errlen) == -1)
		return -1;
	return rc;
}

/* ag_due_one - hand off the skip-th due summary if the cap allows; 1 done, 0 kept, -1 error, 2 nothing left */
static int ag_due_one(struct alertagg *ag, time_t now, unsigned skip, alertagg_summary_fn fn, void *arg,
		      char *err, size_t errlen)
{
	struct ag_window w;
	bool room = false;
	int rc = -1;

	pthread_mutex_lock(&ag->lock);
	if (ag_room(ag, now, &room, err, errlen) == 0 && !room)
		rc = 2; /* waits until the hour allows */
	else if (room && ag_next_due(ag, now, skip, &w, err, errlen) == 0)
		rc = w.id == 0 ? 2 : ag_hand_off(ag, &w, now, fn, arg, err, errlen);
	pthread_mutex_unlock(&ag->lock);
	return rc;
}

/* alertagg_due - close ended windows: silently, or through fn with a summary */
int alertagg_due(struct alertagg *ag, time_t now, alertagg_summary_fn fn, void *arg, char *err,
		 size_t errlen)
{
	unsigned kept = 0;

	pthread_mutex_lock(&ag->lock);
	int rc = ag_close_silent(ag, now, err, errlen);
	pthread_mutex_unlock(&ag->lock);
	if (rc == -1)
		return -1;
	/* The lock is taken per window, so notes from the mail path wait for one hand-off at most. */
	for (unsigned i = 0; i < AG_DUE_BATCH; i++) {
		rc = ag_due_one(ag, now, kept, fn, arg, err, errlen);
		if (rc == -1)
			return -1;
		if (rc == 2)
			break;
		kept += rc == 0;
	}
	if (kept) {
		snprintf(err, errlen, "%u summar%s not handed off, kept for the next round", kept,
			 kept == 1 ? "y" : "ies");
		return -1;
	}
	return 0;
}

/* alertagg_close - drop one reference; the last one closes the database */
void alertagg_close(struct alertagg *ag)
{
	if (ag == NULL)
		return;
	pthread_mutex_lock(&alertagg_global_lock);
	bool last = --ag->refs == 0;
	pthread_mutex_unlock(&alertagg_global_lock);
	if (last)
		ag_free(ag);
}

/* alertagg_set_global - the pipeline's aggregator from now on (NULL: none) */
void alertagg_set_global(struct alertagg *ag)
{
	pthread_mutex_lock(&alertagg_global_lock);
	struct alertagg *old = alertagg_current;
	if (ag != NULL)
		ag->refs++;
	alertagg_current = ag;
	pthread_mutex_unlock(&alertagg_global_lock);
	alertagg_close(old); /* a thread still holding it keeps it open until it lets go */
}

/* alertagg_global - the pipeline's aggregator, pinned, or NULL */
struct alertagg *alertagg_global(void)
{
	pthread_mutex_lock(&alertagg_global_lock);
	struct alertagg *ag = alertagg_current;
	if (ag != NULL)
		ag->refs++;
	pthread_mutex_unlock(&alertagg_global_lock);
	return ag;
}
