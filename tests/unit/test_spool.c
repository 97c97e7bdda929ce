/*
 * test_spool - unit tests for the message spool (src/spool.h is the spec).
 *
 * Each test gets a fresh private directory under /tmp (mkdtemp) as the
 * spool directory, and removes it afterwards. Message bytes are a
 * pseudo-random pattern that includes NUL bytes and CR LF.
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
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"
#include "unit_fs.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct ts_state {
	char dir[64];
	int nfds; /* open descriptors when the test started */
};

/* ts_nfds - descriptors open in this process */
static int ts_nfds(void)
{
	return ufs_count("/proc/self/fd", "") - 1; /* minus the one opendir holds */
}

static int ts_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int ts_setup(void **state)
{
	struct ts_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/klaxon-ut-spool-XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		free(s);
		return -1;
	}
	s->nfds = ts_nfds();
	*state = s;
	return 0;
}

/* ts_teardown - every descriptor the test opened is closed again; remove the dir */
static int ts_teardown(void **state)
{
	struct ts_state *s = *state;
	int leaked = ts_nfds() - s->nfds;
	if (leaked != 0)
		fprintf(stderr, "test_spool: %d descriptor(s) leaked\n", leaked);
	(void)chmod(s->dir, 0700);
	int rc = nftw(s->dir, ts_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return leaked == 0 && rc == 0 ? 0 : -1;
}

/* ts_pattern - n bytes of a repeatable pattern with NULs, CR, LF and high bytes */
static unsigned char *ts_pattern(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n ? n : 1);
	assert_non_null(p);
	uint32_t x = 2463534242u ^ seed;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i % 61 == 60) ? '\n' : (i % 61 == 59) ? '\r' : (i % 97 == 5) ? 0 : (unsigned char)x;
	}
	return p;
}

/* ts_open - a spool in dir that must open */
static struct spool *ts_open(const char *dir, unsigned long long mem, unsigned long long max)
{
	struct spool *sp = NULL;
	char err[256] = "";
	if (spool_open(&sp, dir, mem, max, err, sizeof(err)) != 0)
		fail_msg("spool_open %s: %s", dir, err);
	assert_non_null(sp);
	return sp;
}

/* ts_append - append that must succeed */
static void ts_append(struct spool *sp, const void *buf, size_t len)
{
	char err[256] = "";
	if (spool_append(sp, buf, len, err, sizeof(err)) != 0)
		fail_msg("spool_append %zu bytes: %s", len, err);
}

/* ts_copy - spool_write_to into an unnamed file; returns what was written */
static unsigned char *ts_copy(struct spool *sp, const char *dir, size_t *len)
{
	char err[256] = "";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	if (spool_write_to(fd, sp, err, sizeof(err)) != 0)
		fail_msg("spool_write_to: %s", err);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	unsigned char *buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* ts_same - the spool holds exactly want[0..len) (copy and head agree) */
static void ts_same(struct spool *sp, const char *dir, const unsigned char *want, size_t len)
{
	size_t got_len;
	unsigned char *got = ts_copy(sp, dir, &got_len);
	if (got_len != len)
		fail_msg("spool_write_to wrote %zu bytes, want %zu", got_len, len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("byte %zu of %zu differs: 0x%02x, want 0x%02x", i, len, got[i], want[i]);
	free(got);
}

/* test_memory_below_limit - up to mem_limit bytes stay in memory, nothing on disk */
static void test_memory_below_limit(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(1024, 1);
	struct spool *sp = ts_open(s->dir, 1024, 8192);

	ts_append(sp, data, 100);
	ts_append(sp, data + 100, 900);
	assert_int_equal(spool_fd(sp), -1);
	size_t len = 0;
	const unsigned char *mem = spool_memory(sp, &len);
	assert_non_null(mem);
	assert_int_equal(len, 1000);
	assert_memory_equal(mem, data, 1000);
	assert_true(spool_size(sp) == 1000);
	assert_false(spool_overflowed(sp));

	/* Exactly at the limit: still in memory. */
	ts_append(sp, data + 1000, 24);
	assert_int_equal(spool_fd(sp), -1);
	mem = spool_memory(sp, &len);
	assert_non_null(mem);
	assert_int_equal(len, 1024);
	assert_memory_equal(mem, data, 1024);
	assert_int_equal(ufs_count(s->dir, ""), 0);
	ts_same(sp, s->dir, data, 1024);
	spool_close(sp);
	free(data);
}

/* test_crosses_to_file - one byte past mem_limit moves to a private, unnamed file */
static void test_crosses_to_file(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(2000, 2);
	mode_t old = umask(0); /* the file must be private whatever the umask */
	struct spool *sp = ts_open(s->dir, 1024, 1 << 20);

	ts_append(sp, data, 1024);
	assert_int_equal(spool_fd(sp), -1);
	ts_append(sp, data + 1024, 1);
	umask(old);

	int fd = spool_fd(sp);
	assert_true(fd != -1);
	size_t len = 12345;
	assert_null(spool_memory(sp, &len));
	assert_true(spool_size(sp) == 1025);

	/* Not visible in the directory, 0600, ours, and gone when closed. */
	assert_int_equal(ufs_count(s->dir, ""), 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 1025);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	struct stat dst;
	assert_int_equal(stat(s->dir, &dst), 0);
	assert_int_equal(st.st_dev, dst.st_dev); /* in spool_dir's file system, not elsewhere */

	ts_append(sp, data + 1025, 975);
	assert_int_equal(spool_fd(sp), fd);
	assert_true(spool_size(sp) == 2000);
	ts_same(sp, s->dir, data, 2000);
	spool_close(sp);
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* the descriptor is closed */
	assert_int_equal(ufs_count(s->dir, ""), 0);
	free(data);
}

/* test_content - the bytes come back identical, whatever the chunks and the limit */
static void test_content(void **state)
{
	struct ts_state *s = *state;
	static const struct {
		unsigned long long mem;
		size_t total;
		size_t chunk;
	} rows[] = {
		{0, 1, 1},            /* the first byte already crosses */
		{0, 5000, 7},
		{16, 17, 1},
		{1024, 1023, 1023},
		{1024, 1025, 1},
		{1024, 4096, 1000},
		{65536, 65537, 4096},
		{1 << 20, 300000, 65536},  /* stays in memory */
		{4096, 300000, 65536},     /* several 64K chunks on file */
		{4096, 300001, 99991},
		{100000, 250000, 250000},  /* one append that crosses */
	};
	for (size_t i = 0; i < NELEM(rows); i++) {
		unsigned char *data = ts_pattern(rows[i].total, (unsigned)i);
		struct spool *sp = ts_open(s->dir, rows[i].mem, 1ULL << 30);
		for (size_t off = 0; off < rows[i].total; off += rows[i].chunk) {
			size_t n = rows[i].total - off < rows[i].chunk ? rows[i].total - off : rows[i].chunk;
			ts_append(sp, data + off, n);
		}
		assert_true(spool_size(sp) == rows[i].total);
		bool on_file = rows[i].total > rows[i].mem;
		if ((spool_fd(sp) != -1) != on_file)
			fail_msg("row %zu: %zu bytes, limit %llu: fd %d", i, rows[i].total, rows[i].mem,
				 spool_fd(sp));
		size_t len = 0;
		const void *mem = spool_memory(sp, &len);
		if (on_file) {
			assert_null(mem);
		} else {
			assert_non_null(mem);
			assert_int_equal(len, rows[i].total);
			assert_memory_equal(mem, data, len);
		}
		ts_same(sp, s->dir, data, rows[i].total);
		/* A second copy is the same as the first. */
		ts_same(sp, s->dir, data, rows[i].total);
		spool_close(sp);
		free(data);
	}
	assert_int_equal(ufs_count(s->dir, ""), 0);
}

/* test_write_to_pipe - spool_write_to works on a pipe too (no seeking on the target) */
static void test_write_to_pipe(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(40000, 9);
	for (int crossed = 0; crossed < 2; crossed++) {
		struct spool *sp = ts_open(s->dir, crossed ? 1000 : 1 << 20, 1 << 20);
		ts_append(sp, data, 40000);
		assert_int_equal(spool_fd(sp) != -1, crossed);
		int p[2];
		assert_int_equal(pipe(p), 0);
		char err[256] = "";
		if (spool_write_to(p[1], sp, err, sizeof(err)) != 0)
			fail_msg("spool_write_to pipe: %s", err);
		close(p[1]);
		unsigned char *got = malloc(40001);
		assert_non_null(got);
		size_t n = 0;
		ssize_t r;
		while ((r = read(p[0], got + n, 40001 - n)) > 0)
			n += (size_t)r;
		close(p[0]);
		assert_int_equal(n, 40000);
		assert_memory_equal(got, data, 40000);
		free(got);
		spool_close(sp);
	}
	free(data);
}

/* test_write_to_full_disk - a target that cannot take the bytes is an error, not a truncation */
static void test_write_to_full_disk(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(5000, 3);
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (full == -1) {
		free(data);
		skip();
	}
	for (int crossed = 0; crossed < 2; crossed++) {
		struct spool *sp = ts_open(s->dir, crossed ? 100 : 1 << 20, 1 << 20);
		ts_append(sp, data, 5000);
		char err[256] = "";
		assert_int_equal(spool_write_to(full, sp, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		spool_close(sp);
	}
	close(full);
	free(data);
}

/* test_head - the first bytes, from memory and from file */
static void test_head(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(3000, 4);
	for (int crossed = 0; crossed < 2; crossed++) {
		struct spool *sp = ts_open(s->dir, crossed ? 1000 : 4096, 8192);
		ts_append(sp, data, 3000);
		assert_int_equal(spool_fd(sp) != -1, crossed);
		static const size_t asks[] = {0, 1, 10, 999, 1000, 1001, 2999, 3000, 3001, 5000};
		char *buf = malloc(5000);
		assert_non_null(buf);
		for (size_t i = 0; i < NELEM(asks); i++) {
			memset(buf, 0x5a, 5000);
			size_t want = asks[i] < 3000 ? asks[i] : 3000;
			size_t got = spool_head(sp, buf, asks[i]);
			if (got != want)
				fail_msg("%s: spool_head(%zu) = %zu, want %zu", crossed ? "file" : "memory",
					 asks[i], got, want);
			assert_memory_equal(buf, data, want);
			if (asks[i] < 5000)
				assert_int_equal((unsigned char)buf[asks[i] < 3000 ? asks[i] : 3000], 0x5a);
		}
		free(buf);
		spool_close(sp);
	}
	free(data);
}

/* test_overflow - past max_size: counted, not stored, never copied */
static void test_overflow(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(10000, 5);
	static const struct {
		unsigned long long mem, max;
		size_t first, second;
	} rows[] = {
		{4096, 2000, 1500, 600},   /* overflows while in memory */
		{100, 2000, 1500, 600},    /* overflows on file */
		{100, 2000, 2001, 0},      /* the first append is already over */
		{0, 0, 1, 0},              /* nothing may be stored */
		{1000, 1500, 1000, 1000},  /* the chunk that crosses mem_limit also overflows */
	};
	for (size_t i = 0; i < NELEM(rows); i++) {
		struct spool *sp = ts_open(s->dir, rows[i].mem, rows[i].max);
		char err[256] = "";
		assert_int_equal(spool_append(sp, data, rows[i].first, err, sizeof(err)), 0);
		assert_int_equal(spool_append(sp, data, rows[i].second, err, sizeof(err)), 0);
		unsigned long long total = rows[i].first + rows[i].second;
		assert_true(spool_overflowed(sp));
		assert_true(spool_size(sp) == total);
		/* It keeps counting every byte offered. */
		assert_int_equal(spool_append(sp, data, 10000, err, sizeof(err)), 0);
		assert_true(spool_size(sp) == total + 10000);
		assert_true(spool_overflowed(sp));
		/* And is never copied. */
		int fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		assert_true(fd != -1);
		err[0] = '\0';
		assert_int_equal(spool_write_to(fd, sp, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_size, 0);
		close(fd);
		spool_close(sp);
	}

	/* Exactly max_size is not an overflow. */
	struct spool *sp = ts_open(s->dir, 100, 2000);
	ts_append(sp, data, 1999);
	ts_append(sp, data + 1999, 1);
	assert_false(spool_overflowed(sp));
	assert_true(spool_size(sp) == 2000);
	ts_same(sp, s->dir, data, 2000);
	ts_append(sp, data, 1);
	assert_true(spool_overflowed(sp));
	assert_true(spool_size(sp) == 2001);
	spool_close(sp);
	assert_int_equal(ufs_count(s->dir, ""), 0);
	free(data);
}

/* ts_expect_dir_error - a spool in dir fails at the append that crosses mem_limit */
static void ts_expect_dir_error(const char *dir)
{
	unsigned char data[200] = {0};
	struct spool *sp = ts_open(dir, 100, 1 << 20);
	char err[512] = "";
	ts_append(sp, data, 100); /* below the limit: memory only */
	assert_int_equal(spool_append(sp, data, 1, err, sizeof(err)), -1);
	if (strstr(err, dir) == NULL || (strstr(err, "open") == NULL && strstr(err, "mkostemp") == NULL))
		fail_msg("error \"%s\" does not name the failed call and %s", err, dir);
	spool_close(sp);
}

/* test_bad_dir - a missing or non-directory spool_dir: the crossing append fails, named */
static void test_bad_dir(void **state)
{
	struct ts_state *s = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/missing", s->dir);
	ts_expect_dir_error(path);

	snprintf(path, sizeof(path), "%s/plain-file", s->dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	close(fd);
	ts_expect_dir_error(path);
	assert_int_equal(ufs_count(s->dir, ""), 1); /* nothing left behind */
}

/* test_unwritable_dir - a directory we may not write to (as a non-root user) */
static void test_unwritable_dir(void **state)
{
	struct ts_state *s = *state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/ro", s->dir);
	assert_int_equal(mkdir(dir, 0555), 0);
	assert_int_equal(chmod(dir, 0555), 0);
	assert_int_equal(chmod(s->dir, 0755), 0);

	if (geteuid() != 0) {
		ts_expect_dir_error(dir);
		return;
	}
	/* root writes anywhere: run the check in a child that drops to nobody. */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(65534) == -1 || setuid(65534) == -1)
			_exit(2);
		unsigned char data[200] = {0};
		struct spool *sp = NULL;
		char err[512] = "";
		if (spool_open(&sp, dir, 100, 1 << 20, err, sizeof(err)) != 0)
			_exit(3);
		if (spool_append(sp, data, 100, err, sizeof(err)) != 0)
			_exit(4);
		if (spool_append(sp, data, 1, err, sizeof(err)) != -1)
			_exit(5);
		if (strstr(err, dir) == NULL || (strstr(err, "open") == NULL && strstr(err, "mkostemp") == NULL))
			_exit(6);
		spool_close(sp);
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2) {
		print_message("  cannot become uid 65534 here; skipped\n");
		skip();
	}
	if (WEXITSTATUS(status) != 0)
		fail_msg("child as nobody: step %d failed (5: the append succeeded, 6: the message)",
			 WEXITSTATUS(status));
	assert_int_equal(ufs_count(dir, ""), 0);
}

/* test_empty - a spool with nothing appended is a valid empty message */
static void test_empty(void **state)
{
	struct ts_state *s = *state;
	for (int appended = 0; appended < 2; appended++) {
		struct spool *sp = ts_open(s->dir, 1024, 4096);
		if (appended) { /* empty chunks after a real one change nothing */
			ts_append(sp, "x", 1);
			ts_append(sp, "", 0);
			spool_close(sp);
			sp = ts_open(s->dir, 1024, 4096);
		}
		assert_true(spool_size(sp) == 0);
		assert_false(spool_overflowed(sp));
		assert_int_equal(spool_fd(sp), -1);
		size_t len = 99;
		assert_non_null(spool_memory(sp, &len)); /* an address, so it can be scanned */
		assert_int_equal(len, 0);
		char buf[8];
		assert_int_equal(spool_head(sp, buf, sizeof(buf)), 0);
		ts_same(sp, s->dir, (const unsigned char *)"", 0);
		spool_close(sp);
	}
	assert_int_equal(ufs_count(s->dir, ""), 0);
}

/* ts_maps_perms - the permissions /proc/self/maps gives the mapping holding addr, "" if none */
static void ts_maps_perms(const void *addr, char perms[8])
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[512];
	uintptr_t a = (uintptr_t)addr;

	assert_non_null(fp);
	perms[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned long lo, hi;
		char pm[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, pm) == 3 && a >= lo && a < hi) {
			snprintf(perms, 8, "%s", pm);
			break;
		}
	}
	fclose(fp);
}

/* ts_map - spool_map that must succeed */
static const unsigned char *ts_map(struct spool *sp, size_t *len)
{
	char err[256] = "";
	const unsigned char *m = spool_map(sp, len, err, sizeof(err));
	if (m == NULL)
		fail_msg("spool_map: %s", err);
	return m;
}

/* test_map_memory - in memory, the map is the buffer itself; unmap has nothing to do */
static void test_map_memory(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(3000, 11);
	struct spool *sp = ts_open(s->dir, 4096, 8192);

	size_t len = 99;
	const unsigned char *m = ts_map(sp, &len); /* empty: an address and no bytes */
	assert_int_equal(len, 0);
	ts_append(sp, data, 1000);
	ts_append(sp, data + 1000, 2000);
	m = ts_map(sp, &len);
	size_t mlen = 0;
	assert_ptr_equal(m, spool_memory(sp, &mlen));
	assert_int_equal(len, 3000);
	assert_memory_equal(m, data, 3000);
	spool_unmap(sp);
	spool_unmap(sp); /* twice is harmless */
	assert_ptr_equal(ts_map(sp, &len), m);
	spool_close(sp);
	free(data);
}

/* test_map_file - on file, a private read-only mapping of the whole message, released by unmap */
static void test_map_file(void **state)
{
	struct ts_state *s = *state;
	size_t total = 300000;
	unsigned char *data = ts_pattern(total, 12);
	struct spool *sp = ts_open(s->dir, 1024, 1 << 20);

	for (size_t o = 0; o < total; o += 7000)
		ts_append(sp, data + o, total - o < 7000 ? total - o : 7000);
	assert_true(spool_fd(sp) != -1);
	size_t len = 0;
	const unsigned char *m = ts_map(sp, &len);
	assert_int_equal(len, total);
	assert_memory_equal(m, data, total);
	char perms[8];
	ts_maps_perms(m, perms);
	assert_string_equal(perms, "r--p");

	/* Mapped again: the same mapping. Unmapped: gone, and it can be mapped anew. */
	size_t len2 = 0;
	assert_ptr_equal(ts_map(sp, &len2), m);
	assert_int_equal(len2, total);
	spool_unmap(sp);
	ts_maps_perms(m, perms);
	assert_string_equal(perms, "");
	m = ts_map(sp, &len);
	assert_memory_equal(m, data, total);

	/* spool_close() unmaps what is still mapped. */
	spool_close(sp);
	ts_maps_perms(m, perms);
	assert_string_equal(perms, "");
	free(data);
}

/* test_map_overflow - an overflowed spool holds no message: mapping it is an error */
static void test_map_overflow(void **state)
{
	struct ts_state *s = *state;
	unsigned char *data = ts_pattern(5000, 13);
	static const unsigned long long mem[] = {100000, 1000}; /* overflow in memory, on file */

	for (size_t i = 0; i < NELEM(mem); i++) {
		struct spool *sp = ts_open(s->dir, mem[i], 4000);
		ts_append(sp, data, 3000);
		ts_append(sp, data + 3000, 2000);
		assert_true(spool_overflowed(sp));
		char err[256] = "";
		size_t len = 7;
		assert_null(spool_map(sp, &len, err, sizeof(err)));
		assert_true(strstr(err, "size limit") != NULL);
		spool_unmap(sp);
		spool_close(sp);
	}
	free(data);
}

/*
 * Regression, fixed (src/spool.c, spool_append, the memcpy at the end): the first
 * append to a new spool with len 0 calls memcpy(NULL + 0, buf, 0), because
 * spool_grow() allocates nothing for 0 bytes. Passing NULL to memcpy is
 * undefined behaviour even for 0 bytes (C17 7.24.1p2); UBSan reports it and
 * the sanitizer build aborts. A plain build passes. The append runs in a
 * child process so that the abort is reported as this test failing.
 */
static void test_append_empty_first_chunk(void **state)
{
	struct ts_state *s = *state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct spool *sp = NULL;
		char err[256];
		if (spool_open(&sp, s->dir, 1024, 4096, err, sizeof(err)) != 0)
			_exit(3);
		int rc = spool_append(sp, "", 0, err, sizeof(err));
		size_t len = 1;
		int ok = rc == 0 && spool_size(sp) == 0 && spool_memory(sp, &len) != NULL && len == 0;
		spool_close(sp);
		_exit(ok ? 0 : 4);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("spool_append(sp, \"\", 0) on a new spool: child %s %d",
			 WIFEXITED(status) ? "exited" : "killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memory_below_limit, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_crosses_to_file, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_content, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_write_to_pipe, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_write_to_full_disk, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_head, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_overflow, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_dir, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_empty, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_map_memory, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_map_file, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_map_overflow, ts_setup, ts_teardown),
	};
	const struct CMUnitTest known_bugs[] = {
		cmocka_unit_test_setup_teardown(test_append_empty_first_chunk, ts_setup, ts_teardown),
	};
	int failed = cmocka_run_group_tests_name("spool", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("spool regressions", known_bugs, NULL, NULL);
	return failed;
}
