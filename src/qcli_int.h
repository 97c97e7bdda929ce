/*
 * qcli_int - what qcli.c (the command table, option parsing, output
 * helpers, list, expire, reindex and stats), qcli_show.c (show) and
 * qcli_release.c (release, delete and the audit log) share. Not a public
 * interface: only the qcli*.c files include it; qcli.h is the contract.
 */
#ifndef KLAXON_QCLI_INT_H
#define KLAXON_QCLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct config;
struct qindex;
struct quarantine_entry;

#define QCLI_ERR 1
#define QCLI_USAGE 2

struct qcli_opts {
	time_t since, until;
	const char *rcpt, *virus, *id;
	int class;                  /* enum quarantine_class, -1: any */
	size_t limit;
	const char **to;
	size_t nto;
	bool json, force, dry_run;
};

struct qcli {
	struct config *cfg;
	struct qindex *ix;
	struct qcli_opts o;
	time_t now;
};

/* qcli.c: output helpers, and the entry the ID argument names */
char *qcli_clean(const char *s, size_t len, bool multiline);
void qcli_put(FILE *fp, const char *s);
void qcli_stamp(time_t t, char *buf, size_t len);
void qcli_json_key(FILE *fp, bool *first, const char *key);
int qcli_read(struct qcli *q, const char *cmd, struct quarantine_entry *e);

/* The commands of the table that live in files of their own. */
int qcli_show(struct qcli *q);    /* qcli_show.c */
int qcli_release(struct qcli *q); /* qcli_release.c */
int qcli_delete(struct qcli *q);  /* qcli_release.c */

#endif
