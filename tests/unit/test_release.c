/*
 * test_release - release tokens (release.h): the body hash (CRs and the
 * header do not count), mark and check, expiry, pruning, and names that
 * must never become paths.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <cmocka.h>

#include "durable.h"
#include "release.h"
#include "unit_fs.h"

#define BODY_SHA "3d30f93cc988fe4cba5ef49093fac62eb8d6990d85c8168a38157e3b9e7db0a5" /* "body\nline\n" */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ID1 "20261127T090000Z-0123456789abcdef"
#define ID2 "20261127T090001Z-fedcba9876543210"

struct fixture {
	char root[PATH_MAX];
	char released[PATH_MAX + 16];
	char err[512];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->root, sizeof(f->root));
	snprintf(f->released, sizeof(f->released), "%s/released", f->root);
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ufs_nfds(), f->nfds);
	ufs_rm_rf(f->root);
	free(f);
	return 0;
}

static void hash_of(const char *msg, char out[RELEASE_HASH_LEN])
{
	release_body_hash(msg, strlen(msg), out);
}

/* The header is not hashed, CRs nowhere count, and both header endings are found. */
static void test_hash_ignores_cr_and_header(void **state)
{
	static const char *const same[] = {
		"From: a@example.org\r\nSubject: one\r\n\r\nbody\r\nline\r\n",
		"Received: from mx by relay\nFrom: a@example.org\nSubject: other\n\nbody\nline\n",
		"X: y\r\n\r\nbody\r\nli\rne\r\n",                  /* a bare CR in the body */
		"X: y\n\r\nbody\nline\n",                          /* a mixed blank line */
		"\r\nbody\r\nline\r\n",                            /* an empty header */
	};
	char h[RELEASE_HASH_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		hash_of(same[i], h);
		assert_string_equal(h, BODY_SHA);
	}
	/* Only the first blank line ends the header: later ones are body. */
	char h2[RELEASE_HASH_LEN];
	hash_of("X: y\n\nbody\n\nline\n", h);
	hash_of("X: y\n\nbody\nline\n", h2);
	assert_string_not_equal(h, h2);
	/* No blank line: all header, an empty body. */
	hash_of("X: y\r\nZ: w\r\n", h);
	assert_string_equal(h, EMPTY_SHA);
	hash_of("", h);
	assert_string_equal(h, EMPTY_SHA);
	hash_of("X: y\r\n\r\n", h);
	assert_string_equal(h, EMPTY_SHA);
	/* The length is what counts, not a NUL. */
	static const char with_nul[] = "X: y\n\nbody\nline\n\0tail";
	release_body_hash(with_nul, sizeof(with_nul) - 1, h);
	assert_string_not_equal(h, BODY_SHA);
}

/* mark then check: the id comes back, the token is private and one line. */
static void test_mark_and_check(void **state)
{
	struct fixture *f = *state;
	char id[64] = "";
	char path[PATH_MAX * 2];
	time_t now = time(NULL);

	assert_false(release_check(f->root, BODY_SHA, now, id, sizeof(id)));
	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "alice", now + 3600, f->err,
				      sizeof(f->err)), 0);
	assert_true(release_check(f->root, BODY_SHA, now, id, sizeof(id)));
	assert_string_equal(id, ID1);
	assert_true(release_check(f->root, BODY_SHA, now, NULL, 0));
	assert_false(release_check(f->root, EMPTY_SHA, now, id, sizeof(id)));

	assert_int_equal(ufs_mode(f->released), 0700);
	snprintf(path, sizeof(path), "%s/%s", f->released, BODY_SHA);
	assert_int_equal(ufs_mode(path), 0600);
	char *text = ufs_read(path, NULL);
	char want[128];
	snprintf(want, sizeof(want), "%s alice %lld\n", ID1, (long long)(now + 3600));
	assert_string_equal(text, want);
	free(text);
	assert_int_equal(ufs_count(f->released, ".tmp."), 0);

	/* Marking again (another release of the same body) replaces the token. */
	assert_int_equal(release_mark(f->root, BODY_SHA, ID2, "bob", now + 7200, f->err,
				      sizeof(f->err)), 0);
	assert_true(release_check(f->root, BODY_SHA, now + 5000, id, sizeof(id)));
	assert_string_equal(id, ID2);
	/* A short buffer gets a cut, terminated id, never an overflow. */
	char small[8];
	assert_true(release_check(f->root, BODY_SHA, now, small, sizeof(small)));
	assert_string_equal(small, "2026112");
}

/* A token is good up to and including `until`, and false after. */
static void test_expired_token(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	char id[64];

	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "root", now - 1, f->err,
				      sizeof(f->err)), 0);
	assert_false(release_check(f->root, BODY_SHA, now, id, sizeof(id)));
	assert_true(release_check(f->root, BODY_SHA, now - 1, id, sizeof(id)));
}

/* Hostile names and values never reach the file system; damaged tokens count for nothing. */
static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	char path[PATH_MAX * 2];

	assert_int_equal(release_mark(f->root, "../../etc/passwd", ID1, "root", now + 60, f->err,
				      sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "hash"));
	assert_int_equal(release_mark(f->root, BODY_SHA "0", ID1, "root", now + 60, f->err,
				      sizeof(f->err)), -1);
	assert_int_equal(release_mark(f->root, "3D30F93CC988FE4CBA5EF49093FAC62EB8D6990D85C8168A38157E3B9E7DB0A5",
				      ID1, "root", now + 60, f->err, sizeof(f->err)), -1);
	assert_int_equal(release_mark(f->root, BODY_SHA, "../x", "root", now + 60, f->err,
				      sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "id"));
	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "al ice", now + 60, f->err,
				      sizeof(f->err)), -1);
	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "al\nice", now + 60, f->err,
				      sizeof(f->err)), -1);
	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "", now + 60, f->err,
				      sizeof(f->err)), -1);
	assert_int_equal(ufs_count(f->root, ""), 0);
	assert_false(release_check(f->root, "../x", now, NULL, 0));
	assert_false(release_check(f->root, "", now, NULL, 0));

	/* Damaged tokens: no newline, extra fields, a bad id, a bad time. */
	static const char *const damaged[] = {
		ID1 " root 9999999999",
		ID1 " root 9999999999 extra\n",
		"../x root 9999999999\n",
		ID1 " root 99x\n",
		ID1 " root -5\n",
		"\n",
		"",
	};
	assert_int_equal(durable_mkdir(f->released, 0700, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/%s", f->released, BODY_SHA);
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		assert_int_equal(ufs_write(path, damaged[i], strlen(damaged[i])), 0);
		assert_false(release_check(f->root, BODY_SHA, now, NULL, 0));
	}
	/* A symlink planted as a token is not followed. */
	char good[PATH_MAX * 2];
	snprintf(good, sizeof(good), "%s/good", f->root);
	char line[128];
	snprintf(line, sizeof(line), "%s root %lld\n", ID1, (long long)now + 60);
	assert_int_equal(ufs_write(good, line, strlen(line)), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(good, path), 0);
	assert_false(release_check(f->root, BODY_SHA, now, NULL, 0));
}

static void age_file(const char *path, time_t when)
{
	struct timeval tv[2] = {{.tv_sec = when}, {.tv_sec = when}};

	assert_int_equal(utimes(path, tv), 0);
}

/* prune: expired and damaged tokens and old temp files go; live tokens, young temps, strangers stay. */
/* release_pending: only a good token counts; expired ones are removed on the way */
static void test_pending(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	char path[PATH_MAX * 2];

	assert_false(release_pending(f->root, now)); /* no directory yet */
	assert_int_equal(release_mark(f->root, EMPTY_SHA, ID2, "root", now - 10, f->err, sizeof(f->err)), 0);
	assert_false(release_pending(f->root, now));
	snprintf(path, sizeof(path), "%s/%s", f->released, EMPTY_SHA);
	assert_int_equal(access(path, F_OK), -1); /* the expired token went */
	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "root", now + 60, f->err, sizeof(f->err)), 0);
	assert_true(release_pending(f->root, now));
	assert_false(release_pending(f->root, now + 61));
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	unsigned removed = 99;
	char path[PATH_MAX * 2];

	/* Nothing released yet: no directory, nothing to do. */
	assert_int_equal(release_prune(f->root, now, &removed, f->err, sizeof(f->err)), 0);
	assert_int_equal(removed, 0);

	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "root", now + 3600, f->err,
				      sizeof(f->err)), 0);
	assert_int_equal(release_mark(f->root, EMPTY_SHA, ID2, "root", now - 10, f->err,
				      sizeof(f->err)), 0);
	static const char damaged_hash[] = "00000000000000000000000000000000000000000000000000000000000000aa";
	snprintf(path, sizeof(path), "%s/%s", f->released, damaged_hash);
	assert_int_equal(ufs_write(path, "junk", 4), 0);
	snprintf(path, sizeof(path), "%s/README", f->released);
	assert_int_equal(ufs_write(path, "not a token\n", 12), 0);
	snprintf(path, sizeof(path), "%s/.tmp.%s.0123456789abcdef", f->released, BODY_SHA);
	assert_int_equal(ufs_write(path, "half", 4), 0);
	age_file(path, now - 2 * 3600);
	snprintf(path, sizeof(path), "%s/.tmp.%s.fedcba9876543210", f->released, BODY_SHA);
	assert_int_equal(ufs_write(path, "being written", 13), 0);

	assert_int_equal(release_prune(f->root, now, &removed, f->err, sizeof(f->err)), 0);
	assert_int_equal(removed, 3);
	assert_int_equal(ufs_count(f->released, ""), 3);
	assert_true(release_check(f->root, BODY_SHA, now, NULL, 0));
	snprintf(path, sizeof(path), "%s/README", f->released);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(ufs_count(f->released, ".tmp."), 1);

	/* An hour on, the token has expired and the temp file is a leftover. */
	assert_int_equal(release_prune(f->root, now + 3601, &removed, f->err, sizeof(f->err)), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(ufs_count(f->released, ""), 1);
	assert_false(release_check(f->root, BODY_SHA, now, NULL, 0));

	/* A released path that is not a directory is an error, named. */
	ufs_rm_rf(f->released);
	assert_int_equal(ufs_write(f->released, "x", 1), 0);
	assert_int_equal(release_prune(f->root, now, &removed, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "opendir"));
	assert_int_equal(release_mark(f->root, BODY_SHA, ID1, "root", now + 60, f->err,
				      sizeof(f->err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_ignores_cr_and_header),
		cmocka_unit_test_setup_teardown(test_mark_and_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
