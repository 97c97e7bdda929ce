/*
 * test_sigdb - unit tests for the signature database choice (src/sigdb.h).
 *
 * Runs from the repository root: the built-in signatures must be byte for
 * byte the files in tests/sigs/ (so `make run` without a database and the
 * test suite agree on what a "virus" is). Temporary directories are made by
 * mkdtemp under /tmp and removed again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigdb.h"
#include "unit_fs.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SIGS_DIR "tests/sigs"

/* tg_read - a whole file into a malloc'ed, NUL-terminated buffer; NULL if unreadable */
static char *tg_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (n + 4097 > cap) {
			cap = (n + 4097) * 2;
			char *bigger = realloc(buf, cap);
			assert_non_null(bigger);
			buf = bigger;
		}
		got = fread(buf + n, 1, 4096, fp);
		n += got;
	} while (got > 0);
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int tg_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tg_setup(void **state)
{
	char *dir = malloc(64);
	if (dir == NULL)
		return -1;
	snprintf(dir, 64, "/tmp/klaxon-ut-sigdb-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int tg_teardown(void **state)
{
	char *dir = *state;
	int rc = nftw(dir, tg_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return rc;
}

/* tg_touch - create dir/name, empty */
static void tg_touch(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd != -1);
	close(fd);
}

/* test_builtin_matches_files - every built-in signature file is the file in tests/sigs/ */
static void test_builtin_matches_files(void **state)
{
	(void)state;
	int n = 0;
	for (const struct sigdb_file *f = sigdb_builtin; f->name != NULL; f++, n++) {
		assert_non_null(f->text);
		assert_null(strchr(f->name, '/'));
		char path[256];
		size_t len = 0;
		snprintf(path, sizeof(path), SIGS_DIR "/%s", f->name);
		char *file = tg_read(path, &len);
		if (file == NULL)
			fail_msg("%s: cannot read (%s); run the tests from the repository root", path,
				 strerror(errno));
		size_t blen = strlen(f->text);
		if (len != blen || memcmp(file, f->text, len) != 0) {
			size_t i = 0;
			while (i < len && i < blen && file[i] == f->text[i])
				i++;
			fail_msg("%s (%zu bytes) differs from sigdb_builtin \"%s\" (%zu bytes) at byte %zu",
				 path, len, f->name, blen, i);
		}
		free(file);
	}
	assert_true(n >= 2); /* EICAR (.ndb) and the clam.exe hash (.hdb) */
}

/* tg_is_db_name - does sigdb itself take a file of this name for a database? */
static bool tg_is_db_name(const char *tmp, const char *name)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/probe", tmp);
	assert_int_equal(mkdir(dir, 0700), 0);
	tg_touch(dir, name);
	bool db = sigdb_dir_has_database(dir);
	assert_int_equal(nftw(dir, tg_rm_one, 4, FTW_DEPTH | FTW_PHYS), 0);
	return db;
}

/* test_files_are_builtin - every signature file in tests/sigs/ is built in, too */
static void test_files_are_builtin(void **state)
{
	const char *tmp = *state;
	DIR *d = opendir(SIGS_DIR);
	if (d == NULL)
		fail_msg(SIGS_DIR ": %s; run the tests from the repository root", strerror(errno));
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !tg_is_db_name(tmp, e->d_name))
			continue; /* a README is not a signature file */
		files++;
		const struct sigdb_file *f = sigdb_builtin;
		while (f->name != NULL && strcmp(f->name, e->d_name) != 0)
			f++;
		if (f->name == NULL)
			fail_msg(SIGS_DIR "/%s is not in sigdb_builtin[]", e->d_name);
	}
	closedir(d);
	assert_true(files >= 2);
}

/* test_resolve_as_is - any setting other than "auto" is used as it is */
static void test_resolve_as_is(void **state)
{
	(void)state;
	static const char *const settings[] = {"some/dir", "/var/lib/clamav", "/nonexistent/db",
					       "Auto", "auto/"};
	for (size_t i = 0; i < NELEM(settings); i++) {
		struct sigdb db;
		char err[256] = "";
		memset(&db, 0x5a, sizeof(db));
		if (sigdb_resolve(settings[i], &db, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", settings[i], err);
		assert_string_equal(db.dir, settings[i]);
		assert_false(db.builtin);
		assert_false(db.temporary);
		sigdb_cleanup(&db); /* not ours: must not remove anything */
	}
}

/* test_cleanup_keeps_given_dir - cleanup of a directory we were given leaves it alone */
static void test_cleanup_keeps_given_dir(void **state)
{
	const char *dir = *state;
	tg_touch(dir, "main.cvd");
	tg_touch(dir, "klaxon-test.ndb");
	struct sigdb db;
	char err[256] = "";
	assert_int_equal(sigdb_resolve(dir, &db, err, sizeof(err)), 0);
	sigdb_cleanup(&db);
	assert_int_equal(ufs_count(dir, ""), 2);
}

/* test_resolve_auto_builtin - auto with no system database: a private temp dir of test signatures */
static void test_resolve_auto_builtin(void **state)
{
	const char *tmp = *state;
	if (sigdb_dir_has_database(SIGDB_SYSTEM_DIR)) {
		print_message("  " SIGDB_SYSTEM_DIR " holds a database; cannot test the fallback\n");
		skip();
	}
	/* The temp dir goes under TMPDIR; point it at ours to see what is left. */
	char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	assert_int_equal(setenv("TMPDIR", tmp, 1), 0);

	struct sigdb db;
	char err[256] = "";
	int rc = sigdb_resolve("auto", &db, err, sizeof(err));
	if (saved) {
		setenv("TMPDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TMPDIR");
	}
	if (rc != 0)
		fail_msg("sigdb_resolve(auto): %s", err);
	assert_true(db.builtin);
	assert_true(db.temporary);
	assert_int_equal(strncmp(db.dir, tmp, strlen(tmp)), 0);
	assert_int_equal(ufs_count(tmp, ""), 1);

	/* A private directory holding exactly the built-in files. */
	struct stat st;
	assert_int_equal(stat(db.dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 077, 0);
	assert_int_equal(st.st_uid, geteuid());
	int n = 0;
	for (const struct sigdb_file *f = sigdb_builtin; f->name != NULL; f++, n++) {
		char path[4200];
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/%s", db.dir, f->name);
		char *text = tg_read(path, &len);
		if (text == NULL)
			fail_msg("%s missing", path);
		assert_int_equal(len, strlen(f->text));
		assert_memory_equal(text, f->text, len);
		free(text);
	}
	assert_int_equal(ufs_count(db.dir, ""), n); /* no temp files left behind */
	assert_true(sigdb_dir_has_database(db.dir));

	char dir[sizeof(db.dir)];
	memcpy(dir, db.dir, sizeof(dir));
	sigdb_cleanup(&db);
	assert_false(db.temporary);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(ufs_count(tmp, ""), 0);
	sigdb_cleanup(&db); /* twice is harmless */
}

/* test_has_database - a directory with at least one database file */
static void test_has_database(void **state)
{
	const char *tmp = *state;
	static const struct {
		const char *files[3];
		bool want;
	} rows[] = {
		{{NULL}, false},
		{{"main.cvd"}, true},
		{{"daily.cld"}, true},
		{{"bytecode.cvd", "freshclam.dat"}, true},
		{{"klaxon-test.ndb"}, true},
		{{"klaxon-test.hdb"}, true},
		{{"local.ldb"}, true},
		{{"README"}, false},
		{{"notes.txt", "mirrors.dat"}, false},
		{{"cvd", "ndb"}, false},
		{{"main.cvd.bak"}, false},
		{{"freshclam.conf", "main.ndb.old"}, false},
	};
	for (size_t i = 0; i < NELEM(rows); i++) {
		char dir[128];
		snprintf(dir, sizeof(dir), "%s/db%zu", tmp, i);
		assert_int_equal(mkdir(dir, 0700), 0);
		for (size_t k = 0; k < NELEM(rows[i].files) && rows[i].files[k]; k++)
			tg_touch(dir, rows[i].files[k]);
		if (sigdb_dir_has_database(dir) != rows[i].want)
			fail_msg("row %zu (%s ...): got %d", i, rows[i].files[0] ? rows[i].files[0] : "empty",
				 !rows[i].want);
	}
	/* A missing directory has no database. */
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/missing", tmp);
	assert_false(sigdb_dir_has_database(missing));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_matches_files),
		cmocka_unit_test_setup_teardown(test_files_are_builtin, tg_setup, tg_teardown),
		cmocka_unit_test(test_resolve_as_is),
		cmocka_unit_test_setup_teardown(test_cleanup_keeps_given_dir, tg_setup, tg_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_auto_builtin, tg_setup, tg_teardown),
		cmocka_unit_test_setup_teardown(test_has_database, tg_setup, tg_teardown),
	};
	return cmocka_run_group_tests_name("sigdb", tests, NULL, NULL);
}
