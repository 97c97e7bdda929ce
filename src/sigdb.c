/*
 * sigdb - choose the ClamAV signature database. See sigdb.h.
 */
#include "sigdb.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"

/*
 * The built-in test signatures. They must stay identical to tests/sigs/
 * (a unit test compares them), so that `make run` with no database and the
 * test suite agree on what is a "virus".
 */
const struct sigdb_file sigdb_builtin[] = {
	{"klaxon-test.ndb", "Klaxon.Test.EICAR:0:*:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n"},
	{"klaxon-test.hdb", "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:Klaxon.Test.ClamExe\n"},
	{NULL, NULL},
};

/* ClamAV's database file types: signed containers and the text formats. */
static const char *const sigdb_suffixes[] = {
	".cvd", ".cld", ".cud", ".ndb", ".hdb", ".hsb", ".mdb", ".msb", ".ldb", ".db",
	".ndu", ".ldu", ".ign2", ".fp", ".sfp", ".cdb", ".cbc", ".pdb", ".gdb", ".wdb", ".yar", ".yara",
};

static bool sigdb_is_db_name(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(sigdb_suffixes) / sizeof(sigdb_suffixes[0]); i++) {
		size_t s = strlen(sigdb_suffixes[i]);
		if (n > s && strcmp(name + n - s, sigdb_suffixes[i]) == 0)
			return true;
	}
	return false;
}

/* sigdb_dir_has_database - does dir hold at least one database file? */
bool sigdb_dir_has_database(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL)
		found = sigdb_is_db_name(e->d_name);
	closedir(d);
	return found;
}

struct sigdb_text {
	const char *text;
};

static int sigdb_write_text(int fd, void *arg, char *err, size_t errlen)
{
	const char *text = ((struct sigdb_text *)arg)->text;
	return durable_write_all(fd, text, strlen(text), err, errlen);
}

/* sigdb_write_builtin - the built-in signatures into a private temp dir */
static int sigdb_write_builtin(struct sigdb *out, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(out->dir, sizeof(out->dir), "%s/klaxon-sigs.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(out->dir) == NULL) {
		snprintf(err, errlen, "mkdtemp %s: %s", out->dir, strerror(errno));
		return -1;
	}
	out->temporary = true;
	out->builtin = true;
	for (const struct sigdb_file *f = sigdb_builtin; f->name; f++) {
		struct sigdb_text arg = {f->text};
		if (durable_write(out->dir, f->name, sigdb_write_text, &arg, err, errlen) == -1) {
			sigdb_cleanup(out);
			return -1;
		}
	}
	return 0;
}

/* sigdb_resolve - a named directory, the system database, or the built-in one */
int sigdb_resolve(const char *setting, struct sigdb *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(setting, "auto") != 0) {
		snprintf(out->dir, sizeof(out->dir), "%s", setting);
		return 0;
	}
	if (sigdb_dir_has_database(SIGDB_SYSTEM_DIR)) {
		snprintf(out->dir, sizeof(out->dir), "%s", SIGDB_SYSTEM_DIR);
		return 0;
	}
	return sigdb_write_builtin(out, err, errlen);
}

/* sigdb_cleanup - remove a temporary directory we made */
void sigdb_cleanup(struct sigdb *db)
{
	if (!db->temporary)
		return;
	for (const struct sigdb_file *f = sigdb_builtin; f->name; f++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", db->dir, f->name);
		(void)unlink(path); /* may not exist if writing failed half-way */
	}
	(void)rmdir(db->dir);
	db->temporary = false;
}
