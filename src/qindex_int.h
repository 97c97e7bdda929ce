/*
 * qindex_int - what qindex.c (the handle, recovery and sync) and
 * qindex_query.c (the queries) share. Not for other modules: qindex.h is
 * the contract.
 */
#ifndef KLAXON_QINDEX_INT_H
#define KLAXON_QINDEX_INT_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

#include "qindex.h"

#define QINDEX_FILE "index.sqlite"

struct qindex {
	sqlite3 *db;
	char dir[PATH_MAX];
	char path[PATH_MAX];
	uid_t owner;  /* the directory's owner and group, for files a root CLI creates */
	gid_t group;
	dev_t dev;    /* the file we opened, so we never move aside someone else's fresh one */
	ino_t ino;
	bool rebuilt; /* created or moved aside since a sync last said so */
	bool damaged; /* the last failure was SQLite calling the file corrupt */
};

/* One query or write, to be run again on a fresh index if SQLite calls this one damaged. */
typedef int (*qindex_op)(struct qindex *ix, void *args, char *err, size_t errlen);

/* The statements of one write pass, prepared once. */
struct qindex_writer {
	sqlite3_stmt *entry, *rcpt, *virus;
	sqlite3_stmt *del[3];
};

int qindex_run(struct qindex *ix, qindex_op op, void *args, char *err, size_t errlen);
int qindex_fail(struct qindex *ix, const char *what, char *err, size_t errlen);
int qindex_exec(struct qindex *ix, const char *sql, const char *what, char *err, size_t errlen);
void qindex_rollback(struct qindex *ix);
sqlite3_stmt *qindex_prepare(struct qindex *ix, const char *sql, char *err, size_t errlen);
int qindex_writer_open(struct qindex *ix, struct qindex_writer *w, char *err, size_t errlen);
void qindex_writer_close(struct qindex_writer *w);
int qindex_delete_rows(struct qindex *ix, struct qindex_writer *w, const char *id, char *err,
		       size_t errlen);

#endif
