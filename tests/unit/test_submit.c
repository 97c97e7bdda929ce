/*
 * test_submit - running the MTA's sendmail command (submit.h): delivery,
 * exit statuses, spawn failures, timeouts, and no leaked fds or zombies.
 *
 * The commands here use /bin/sh -c for brevity; that is fine in a test.
 * klaxon itself always runs an argv without a shell.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "submit.h"
#include "unit_fs.h"

struct fixture {
	char dir[PATH_MAX];
	char out[PATH_MAX + 16];
	char cat_cmd[PATH_MAX + 32];
	char err[512];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
	snprintf(f->cat_cmd, sizeof(f->cat_cmd), "cat > %s", f->out);
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

/* no_children - every child we started has been reaped */
static bool no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ufs_nfds(), f->nfds);
	assert_true(no_children());
	ufs_rm_rf(f->dir);
	free(f);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* big_message - len bytes of every value, so binary and size both get exercised */
static char *big_message(size_t len)
{
	char *m = malloc(len);

	for (size_t i = 0; i < len; i++)
		m[i] = (char)(i * 7 + i / 251);
	return m;
}

static void test_delivers_exact_bytes(void **state)
{
	struct fixture *f = *state;
	const size_t sizes[] = { 0, 1, 65536, 3 * 1024 * 1024 + 17 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *const argv[] = { "/bin/sh", "-c", f->cat_cmd, NULL };
		char *msg = big_message(sizes[i]);
		size_t len;
		assert_int_equal(submit_message(argv, msg, sizes[i], 10, f->err, sizeof(f->err)), 0);
		char *got = ufs_read(f->out, &len);
		assert_non_null(got);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(got, msg, len);
		free(got);
		free(msg);
	}
}

static void test_failures(void **state)
{
	struct fixture *f = *state;
	char *big = big_message(1 << 20);
	char want_noexec[PATH_MAX + 64];

	/* Mode 0644: even root may not execute it. */
	assert_int_equal(ufs_write(f->out, "data\n", 5), 0);
	assert_int_equal(chmod(f->out, 0644), 0);
	snprintf(want_noexec, sizeof(want_noexec), "spawn %s: %s", f->out, strerror(EACCES));
	const struct {
		const char *name;
		char *argv[4];
		size_t len;
		const char *want;
	} cases[] = {
		{ "tempfail with a reason",
		  { "/bin/sh", "-c", "cat >/dev/null; echo 'queue file write error' >&2; exit 75" },
		  100,
		  "/bin/sh exited with status 75: queue file write error" },
		/* Exits without reading a message larger than the pipe: EPIPE, not a hang. */
		{ "exits before reading",
		  { "/bin/sh", "-c", "echo 'refused' >&2; exit 75" },
		  1 << 20,
		  "/bin/sh exited with status 75: refused" },
		{ "no stderr text", { "/bin/false" }, 10, "/bin/false exited with status 1" },
		{ "CRLF and controls in stderr",
		  { "/bin/sh", "-c", "printf 'bad\\033[31m thing\\r\\nsecond line\\n' >&2; exit 1" },
		  0,
		  "/bin/sh exited with status 1: bad?[31m thing" },
		{ "killed by a signal", { "/bin/sh", "-c", "kill -TERM $$" }, 0,
		  "/bin/sh killed by signal 15" },
		{ "no such program", { "/nonexistent/sendmail" }, 10,
		  "spawn /nonexistent/sendmail: No such file or directory" },
		{ "not executable", { f->out }, 10, "spawn " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].argv[0] == f->out ? want_noexec : cases[i].want;
		f->err[0] = '\0';
		assert_int_equal(submit_message(cases[i].argv, big, cases[i].len, 10, f->err,
						sizeof(f->err)),
				 -1);
		if (strcmp(f->err, want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name, f->err, want);
		assert_int_equal(ufs_nfds(), f->nfds);
		assert_true(no_children());
	}
	free(big);
}

static void test_long_stderr_is_cut(void **state)
{
	struct fixture *f = *state;
	/* A megabyte of stderr must neither deadlock us nor overflow err. */
	char *const argv[] = { "/bin/sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x >&2; exit 2",
			       NULL };

	assert_int_equal(submit_message(argv, "m", 1, 10, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "exited with status 2: xxxx"));
	assert_true(strlen(f->err) < sizeof(f->err));
}

static void test_timeout_kills_and_reaps(void **state)
{
	struct fixture *f = *state;
	char *big = big_message(1 << 20);
	const struct {
		char *argv[4];
		size_t len;
	} cases[] = {
		{ { "/bin/sleep", "30" }, 10 },
		/* Does not read stdin, so our write blocks: the deadline still holds. */
		{ { "/bin/sleep", "30" }, 1 << 20 },
		/* Reads stdin to the end, then hangs. */
		{ { "/bin/sh", "-c", "cat >/dev/null; exec sleep 30" }, 1 << 20 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double start = now_s();
		assert_int_equal(submit_message(cases[i].argv, big, cases[i].len, 1, f->err,
						sizeof(f->err)),
				 -1);
		double took = now_s() - start;
		assert_string_equal(f->err, "timed out after 1 s");
		assert_true(took >= 0.9 && took < 2.0);
		assert_true(no_children());
	}
	free(big);
}

static void test_child_gets_clean_process_state(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 128];

	/* A descriptor without FD_CLOEXEC must not leak into the MTA. */
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 50), 50);
	close(fd);
	char *const probe[] = { "/bin/sh", "-c", "test ! -e /proc/self/fd/50", NULL };
	assert_int_equal(submit_message(probe, "", 0, 10, f->err, sizeof(f->err)), 0);
	close(50);

	/* We ignore SIGPIPE (submit.h says the caller must); the child must not. */
	snprintf(cmd, sizeof(cmd), "grep '^SigIgn' /proc/self/status > %s", f->out);
	char *const sig[] = { "/bin/sh", "-c", cmd, NULL };
	assert_int_equal(submit_message(sig, "", 0, 10, f->err, sizeof(f->err)), 0);
	char *got = ufs_read(f->out, NULL);
	unsigned long long mask = strtoull(got + strlen("SigIgn:"), NULL, 16);
	free(got);
	assert_int_equal(mask & (1ULL << (SIGPIPE - 1)), 0);

	/* stdout goes to /dev/null, not to ours. */
	char *const out[] = { "/bin/sh", "-c",
			      "x=$(readlink /proc/$$/fd/1); echo \"$x\" >&2; exit 3", NULL };
	assert_int_equal(submit_message(out, "", 0, 10, f->err, sizeof(f->err)), -1);
	assert_string_equal(f->err, "/bin/sh exited with status 3: /dev/null");
}

static void test_empty_argv(void **state)
{
	struct fixture *f = *state;
	char *const argv[] = { NULL };

	assert_int_equal(submit_message(argv, "", 0, 1, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "empty command"));
}

int main(void)
{
	/* The contract: SIGPIPE is the caller's to ignore, as klaxon does at start-up. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delivers_exact_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_stderr_is_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_and_reaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_gets_clean_process_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_argv, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
