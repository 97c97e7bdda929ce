/*
 * test_durable - the durable-write recipe and its helpers (durable.h), plus
 * the id helpers it uses (ident.h).
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "durable.h"
#include "ident.h"
#include "unit_fs.h"

struct fixture {
	char dir[PATH_MAX];
	char err[512];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->dir, sizeof(f->dir));
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/* Every path, success or failure, must give back its descriptors. */
	assert_int_equal(ufs_nfds(), f->nfds);
	ufs_rm_rf(f->dir);
	free(f);
	return 0;
}

struct text {
	const char *data;
	size_t len;
	bool fail_after;
};

/* write_text - writer that writes the text, then optionally fails like a full disk */
static int write_text(int fd, void *arg, char *err, size_t errlen)
{
	const struct text *t = arg;

	if (durable_write_all(fd, t->data, t->len, err, errlen) == -1)
		return -1;
	if (t->fail_after) {
		snprintf(err, errlen, "simulated failure");
		return -1;
	}
	return 0;
}

static void test_write_whole_file(void **state)
{
	struct fixture *f = *state;
	static const char data[] = "line one\nline two\0with a NUL\n";
	struct text t = { data, sizeof(data) - 1, false };
	char path[PATH_MAX + 16];
	size_t len;

	assert_int_equal(durable_write(f->dir, "entry", write_text, &t, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/entry", f->dir);
	char *got = ufs_read(path, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(data) - 1);
	assert_memory_equal(got, data, len);
	free(got);
	assert_int_equal(ufs_mode(path), 0600);
	assert_int_equal(ufs_count(f->dir, ".tmp."), 0);
	assert_int_equal(ufs_count(f->dir, ""), 1);
}

static void test_write_mode_despite_umask(void **state)
{
	struct fixture *f = *state;
	struct text t = { "x", 1, false };
	char path[PATH_MAX + 16];

	mode_t old = umask(0277); /* would make it 0400 without the fchmod */
	int rc = durable_write(f->dir, "strict-umask", write_text, &t, f->err, sizeof(f->err));
	umask(old);
	assert_int_equal(rc, 0);
	snprintf(path, sizeof(path), "%s/strict-umask", f->dir);
	assert_int_equal(ufs_mode(path), 0600);
}

static void test_write_replaces_whole(void **state)
{
	struct fixture *f = *state;
	struct text a = { "first version, longer\n", 22, false };
	struct text b = { "second\n", 7, false };
	char path[PATH_MAX + 16];
	size_t len;

	assert_int_equal(durable_write(f->dir, "e", write_text, &a, f->err, sizeof(f->err)), 0);
	assert_int_equal(durable_write(f->dir, "e", write_text, &b, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/e", f->dir);
	char *got = ufs_read(path, &len);
	assert_string_equal(got, "second\n");
	free(got);
}

static void test_writer_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct text t = { "partial", 7, true };

	assert_int_equal(durable_write(f->dir, "entry", write_text, &t, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "simulated failure"));
	/* The writer's error is given the temp path, so a log line says where. */
	assert_non_null(strstr(f->err, "(writing "));
	assert_non_null(strstr(f->err, f->dir));
	assert_int_equal(ufs_count(f->dir, ""), 0);
}

/* write_silent_fail - a writer that fails without saying why */
static int write_silent_fail(int fd, void *arg, char *err, size_t errlen)
{
	(void)fd;
	(void)arg;
	(void)err;
	(void)errlen;
	return -1;
}

static void test_writer_failure_without_reason(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(durable_write(f->dir, "entry", write_silent_fail, NULL, f->err,
				       sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "writer failed"));
	assert_int_equal(ufs_count(f->dir, ""), 0);
}

static void test_write_bad_places(void **state)
{
	struct fixture *f = *state;
	struct text t = { "x", 1, false };
	char file[PATH_MAX + 16], under_file[PATH_MAX + 32], missing[PATH_MAX + 32];

	snprintf(file, sizeof(file), "%s/plain", f->dir);
	assert_int_equal(ufs_write(file, "x", 1), 0);
	snprintf(under_file, sizeof(under_file), "%s/plain/sub", f->dir);
	snprintf(missing, sizeof(missing), "%s/missing/sub", f->dir);

	/* As root, permission bits do not stop us; a file where a directory
	 * should be does, for everyone. */
	const struct {
		const char *dir;
		const char *name;
		const char *want_call;
		const char *want_reason;
	} cases[] = {
		{ missing, "e", "open ", "No such file or directory" },
		{ under_file, "e", "open ", "Not a directory" },
		{ file, "e", "open ", "Not a directory" },
		{ f->dir, "", "bad file name", NULL },
		{ f->dir, "a/b", "bad file name", NULL },
		{ f->dir, "..", "bad file name", NULL },
		{ f->dir, ".tmp.sneaky", "bad file name", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->err[0] = '\0';
		assert_int_equal(durable_write(cases[i].dir, cases[i].name, write_text, &t, f->err,
					       sizeof(f->err)),
				 -1);
		assert_non_null(strstr(f->err, cases[i].want_call));
		assert_non_null(strstr(f->err, cases[i].dir));
		if (cases[i].want_reason != NULL)
			assert_non_null(strstr(f->err, cases[i].want_reason));
	}
	assert_int_equal(ufs_count(f->dir, ""), 1); /* only "plain" */
}

static void test_leftover_temp_is_harmless(void **state)
{
	struct fixture *f = *state;
	struct text t = { "whole\n", 6, false };
	char tmp[PATH_MAX + 64], path[PATH_MAX + 16];
	size_t len;

	/* A crash between the temp write and the rename leaves this behind. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp.entry.0123456789abcdef", f->dir);
	assert_int_equal(ufs_write(tmp, "half", 4), 0);
	assert_int_equal(durable_write(f->dir, "entry", write_text, &t, f->err, sizeof(f->err)), 0);
	snprintf(path, sizeof(path), "%s/entry", f->dir);
	char *got = ufs_read(path, &len);
	assert_string_equal(got, "whole\n");
	free(got);
	/* The stale temp is not ours to delete: only the one we made goes. */
	assert_int_equal(ufs_count(f->dir, ".tmp."), 1);
}

static void test_write_all_errors_name_the_call(void **state)
{
	struct fixture *f = *state;
	char buf[8192] = { 0 };

	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(durable_write_all(fd, buf, sizeof(buf), f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "write fd"));
	assert_non_null(strstr(f->err, strerror(ENOSPC)));
	close(fd);
	assert_int_equal(durable_write_all(-1, buf, 1, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, strerror(EBADF)));
	assert_int_equal(durable_write_all(-1, buf, 0, f->err, sizeof(f->err)), 0);
}

static void test_mkdir(void **state)
{
	struct fixture *f = *state;
	char deep[PATH_MAX + 32], mid[PATH_MAX + 32], file[PATH_MAX + 16], under[PATH_MAX + 32];

	snprintf(deep, sizeof(deep), "%s/a/b/c/", f->dir);
	snprintf(mid, sizeof(mid), "%s/a/b", f->dir);
	assert_int_equal(durable_mkdir(deep, 0700, f->err, sizeof(f->err)), 0);
	assert_int_equal(ufs_mode(deep), 0700);
	assert_int_equal(ufs_mode(mid), 0700);
	/* Existing directories are accepted and left alone. */
	assert_int_equal(chmod(mid, 0755), 0);
	assert_int_equal(durable_mkdir(deep, 0700, f->err, sizeof(f->err)), 0);
	assert_int_equal(ufs_mode(mid), 0755);

	snprintf(file, sizeof(file), "%s/file", f->dir);
	assert_int_equal(ufs_write(file, "x", 1), 0);
	snprintf(under, sizeof(under), "%s/file/sub", f->dir);
	const struct {
		const char *path;
		const char *want;
	} bad[] = {
		{ file, "Not a directory" },
		{ under, "Not a directory" },
		{ "", "No such file" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(durable_mkdir(bad[i].path, 0700, f->err, sizeof(f->err)), -1);
		assert_non_null(strstr(f->err, "mkdir "));
		assert_non_null(strstr(f->err, bad[i].want));
	}
}

static void test_sync_dir(void **state)
{
	struct fixture *f = *state;
	char missing[PATH_MAX + 16];

	assert_int_equal(durable_sync_dir(f->dir, f->err, sizeof(f->err)), 0);
	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	assert_int_equal(durable_sync_dir(missing, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "open "));
	assert_non_null(strstr(f->err, missing));
}

static void test_ident(void **state)
{
	(void)state;
	char a[IDENT_MAX], b[IDENT_MAX], err[256], hex[33];
	regex_t re, ro;

	assert_int_equal(regcomp(&re, "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&ro, "^[0-9]{8}T[0-9]{6}Z-[0-9]{6}-[0-9a-f]{16}$", REG_EXTENDED), 0);
	assert_int_equal(ident_new(a, sizeof(a), 1764233400, err, sizeof(err)), 0);
	assert_int_equal(ident_new(b, sizeof(b), 1764233400, err, sizeof(err)), 0);
	assert_int_equal(regexec(&re, a, 0, NULL, 0), 0);
	assert_memory_equal(a, "20251127T085000Z-", 17);
	assert_string_not_equal(a, b);
	assert_int_equal(ident_new_ordered(a, sizeof(a), err, sizeof(err)), 0);
	assert_int_equal(regexec(&ro, a, 0, NULL, 0), 0);
	assert_int_equal(ident_new(a, 10, 0, err, sizeof(err)), -1);
	assert_int_equal(ident_hex(hex, 32, err, sizeof(err)), 0);
	assert_int_equal(strlen(hex), 32);
	regfree(&re);
	regfree(&ro);

	const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "20251127T085000Z-0123456789abcdef", true },
		{ "", false },
		{ "../etc/passwd", false },
		{ "a/b", false },
		{ ".tmp", false },
		{ "a b", false },
		{ "a\nb", false },
		{ "0123456789012345678901234567890123456789012345678", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ident_valid(cases[i].s), cases[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_whole_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_mode_despite_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_failure_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_failure_without_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_bad_places, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftover_temp_is_harmless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_all_errors_name_the_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_dir, setup, teardown),
		cmocka_unit_test(test_ident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
