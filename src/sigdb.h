/*
 * sigdb - choose the ClamAV signature database for libclamav.
 *
 * SYNOPSIS
 *	struct sigdb db;
 *	sigdb_resolve(cfg->clamav_db, &db, err, errlen);
 *	... cl_load(db.dir) ...
 *	sigdb_cleanup(&db);
 *
 * DESCRIPTION
 *	A setting other than "auto" is used as it is. "auto" takes
 *	/var/lib/clamav when it holds at least one database file (a real site
 *	runs freshclam there). Otherwise it writes the built-in test signatures
 *	(EICAR and the clamav-testfiles clam.exe hash, the same lines as
 *	tests/sigs/) into a private temporary directory, and sets builtin so the
 *	caller can warn loudly: those signatures catch test files, not viruses.
 *	sigdb_cleanup() removes that temporary directory once the engine has
 *	loaded it.
 *
 * ERRORS
 *	0 on success, -1 with err naming the failed call.
 *
 * THREAD SAFETY
 *	Safe from any thread. Does not log.
 */
#ifndef KLAXON_SIGDB_H
#define KLAXON_SIGDB_H

#include <stdbool.h>
#include <stddef.h>

#define SIGDB_SYSTEM_DIR "/var/lib/clamav"

struct sigdb {
	char dir[4096];
	bool builtin;      /* the built-in test signatures were chosen */
	bool temporary;    /* dir is ours to remove */
};

struct sigdb_file {
	const char *name;
	const char *text;
};

extern const struct sigdb_file sigdb_builtin[];  /* NULL-name terminated, read-only */

int sigdb_resolve(const char *setting, struct sigdb *out, char *err, size_t errlen);
bool sigdb_dir_has_database(const char *dir);
void sigdb_cleanup(struct sigdb *db);

#endif
