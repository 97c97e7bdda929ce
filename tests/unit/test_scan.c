/*
 * test_scan - unit tests for src/scan.c: both backends.
 *
 * Run from the repository root, or set KLAXON_SRCDIR to it: the tests load
 * tests/sigs (the project's own signatures) and samples from the
 * clamav-testfiles package. The clamd tests talk to fake servers run in a
 * thread here, and to a real /usr/sbin/clamd started on a private socket
 * and stopped by the test's teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "scan.h"

#define TESTFILES "/usr/share/clamav-testfiles"
#define CLAMD "/usr/sbin/clamd"

/* Split so that this source file itself is not an EICAR sample. */
static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-"
			    "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/* ---- helpers ---------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sigs_dir - tests/sigs under KLAXON_SRCDIR or the working directory */
static const char *sigs_dir(char *buf, size_t size)
{
	const char *src = getenv("KLAXON_SRCDIR");

	snprintf(buf, size, "%s/tests/sigs", src != NULL ? src : ".");
	return buf;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void base64_put(FILE *f, const unsigned char *p, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			w |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			w |= p[i + 2];
		fputc(tab[w >> 18 & 63], f);
		fputc(tab[w >> 12 & 63], f);
		fputc(n > 1 ? tab[w >> 6 & 63] : '=', f);
		fputc(n > 2 ? tab[w & 63] : '=', f);
		if ((i / 3 + 1) % 19 == 0) /* 76 columns */
			fputs("\r\n", f);
	}
	fputs("\r\n", f);
}

/* mail_build - a message with a text body and an optional attachment */
static char *mail_build(const char *body, const char *attach_path, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	fputs("From: a@example.org\r\nTo: b@example.org\r\nSubject: test\r\n"
	      "Message-ID: <t@example.org>\r\nMIME-Version: 1.0\r\n", f);
	if (attach_path == NULL) {
		fprintf(f, "Content-Type: text/plain\r\n\r\n%s\r\n", body);
	} else {
		size_t alen;
		unsigned char *a = slurp(attach_path, &alen);
		const char *name = strrchr(attach_path, '/') + 1;

		fprintf(f, "Content-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
			   "--BB\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
			   "--BB\r\nContent-Type: application/octet-stream; name=\"%s\"\r\n"
			   "Content-Disposition: attachment; filename=\"%s\"\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n",
			body, name, name);
		base64_put(f, a, alen);
		fputs("--BB--\r\n", f);
		free(a);
	}
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int tmp_fd_with(const void *buf, size_t len)
{
	char path[] = "/tmp/test_scan.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd; /* offset left at the end on purpose */
}

static int has_name(const struct scan_verdict *v, const char *part)
{
	for (size_t i = 0; i < v->nviruses; i++)
		if (strstr(v->viruses[i], part) != NULL)
			return 1;
	return 0;
}

static struct scanner *open_libclamav(unsigned long long max)
{
	char dir[PATH_MAX], err[256] = "";
	struct scan_options o = {.backend = SCAN_BACKEND_LIBCLAMAV, .db_dir = sigs_dir(dir, sizeof dir),
				 .timeout_ms = 30000, .max_scan_size = max};
	struct scanner *s = NULL;

	if (scanner_open(&o, &s, err, sizeof err) != 0)
		fail_msg("scanner_open: %s", err);
	return s;
}

static struct scanner *open_clamd(const char *spec, unsigned timeout_ms)
{
	struct scan_options o = {.backend = SCAN_BACKEND_CLAMD, .clamd_socket = spec,
				 .timeout_ms = timeout_ms, .max_scan_size = 64 << 20};
	struct scanner *s = NULL;
	char err[256] = "";

	if (scanner_open(&o, &s, err, sizeof err) != 0)
		fail_msg("scanner_open %s: %s", spec, err);
	return s;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- libclamav backend ------------------------------------------------ */

static int group_setup(void **state)
{
	char err[256] = "";

	if (scan_global_init(err, sizeof err) != 0) {
		fprintf(stderr, "scan_global_init: %s\n", err);
		return -1;
	}
	*state = open_libclamav(64 << 20);
	return 0;
}

static int group_teardown(void **state)
{
	scanner_close(*state);
	return 0;
}

static void test_eicar_memory(void **state)
{
	struct scan_verdict v;
	size_t len;
	char *mail = mail_build(eicar, NULL, &len);

	scanner_scan_memory(*state, mail, len, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_int_equal(v.nviruses, 1);
	assert_true(has_name(&v, "Klaxon.Test.EICAR"));
	scan_verdict_clear(&v);
	free(mail);
}

static void test_eicar_fd_at_end(void **state)
{
	struct scan_verdict v;
	size_t len;
	char *mail = mail_build(eicar, NULL, &len);
	int fd = tmp_fd_with(mail, len);

	scanner_scan_fd(*state, fd, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_true(has_name(&v, "Klaxon.Test.EICAR"));
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)len); /* offset untouched */
	scan_verdict_clear(&v);
	close(fd);
	free(mail);
}

static void test_clean(void **state)
{
	struct scan_verdict v;
	size_t len;
	char *mail = mail_build("Hello, nothing to see here.", NULL, &len);
	int fd = tmp_fd_with(mail, len);

	scanner_scan_memory(*state, mail, len, &v);
	assert_int_equal(v.status, SCAN_CLEAN);
	assert_int_equal(v.nviruses, 0);
	scanner_scan_fd(*state, fd, &v);
	assert_int_equal(v.status, SCAN_CLEAN);
	scanner_scan_memory(*state, "", 0, &v);
	assert_int_equal(v.status, SCAN_CLEAN);
	close(fd);
	free(mail);
}

static void test_zip_attachment(void **state)
{
	struct scan_verdict v;
	size_t len;
	char *mail = mail_build("see attachment", TESTFILES "/clam.zip", &len);

	scanner_scan_memory(*state, mail, len, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_true(has_name(&v, "Klaxon.Test.ClamExe"));
	scan_verdict_clear(&v);
	free(mail);
}

static void test_two_viruses(void **state)
{
	struct scan_verdict v;
	size_t len;
	char *mail = mail_build(eicar, TESTFILES "/clam.exe", &len);
	int fd = tmp_fd_with(mail, len);

	scanner_scan_memory(*state, mail, len, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_int_equal(v.nviruses, 2);
	assert_true(has_name(&v, "Klaxon.Test.EICAR"));
	assert_true(has_name(&v, "Klaxon.Test.ClamExe"));
	scan_verdict_clear(&v);
	scanner_scan_fd(*state, fd, &v);
	assert_int_equal(v.nviruses, 2);
	scan_verdict_clear(&v);
	close(fd);
	free(mail);
}

static void test_bad_db(void **state)
{
	struct scan_options o = {.backend = SCAN_BACKEND_LIBCLAMAV, .db_dir = "/nonexistent/klaxon",
				 .timeout_ms = 1000, .max_scan_size = 1 << 20};
	struct scanner *s = (void *)1;
	char err[256] = "";

	(void)state;
	assert_int_equal(scanner_open(&o, &s, err, sizeof err), -1);
	assert_null(s);
	assert_non_null(strstr(err, "/nonexistent/klaxon"));
	o.db_dir = NULL;
	assert_int_equal(scanner_open(&o, &s, err, sizeof err), -1);
	o.backend = (enum scan_backend)7;
	assert_int_equal(scanner_open(&o, &s, err, sizeof err), -1);
}

static void test_limits_and_inputs(void **state)
{
	struct scanner *small = open_libclamav(32);
	struct scan_verdict v;
	int p[2];

	scanner_scan_memory(small, eicar, strlen(eicar), &v);
	assert_int_equal(v.status, SCAN_ERROR);
	assert_non_null(strstr(v.error, "larger than max_scan_size"));
	scanner_close(small);

	assert_int_equal(pipe(p), 0);
	scanner_scan_fd(*state, p[0], &v);
	assert_int_equal(v.status, SCAN_ERROR);
	assert_non_null(strstr(v.error, "not a regular file"));
	close(p[0]), close(p[1]);
	scanner_scan_fd(*state, 999, &v);
	assert_int_equal(v.status, SCAN_ERROR);
	assert_non_null(strstr(v.error, "fstat"));
}

/* A message that takes libclamav well over 1 ms, with EICAR at the end. */
static char *mail_slow(size_t *len)
{
	size_t n = 4 << 20;
	unsigned char *noise = malloc(n);
	uint32_t x = 12345;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(noise);
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		noise[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 24);
	fputs("From: a@example.org\r\nMIME-Version: 1.0\r\n"
	      "Content-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
	      "--BB\r\nContent-Type: application/octet-stream\r\n"
	      "Content-Transfer-Encoding: base64\r\n\r\n", f);
	base64_put(f, noise, n);
	fprintf(f, "--BB\r\nContent-Type: text/plain\r\n\r\n%s\r\n--BB--\r\n", eicar);
	assert_int_equal(fclose(f), 0);
	free(noise);
	return buf;
}

/* libclamav calls a scan cut short by its time limit clean: must be an error */
static void test_time_limit(void **state)
{
	char dir[PATH_MAX], err[256] = "";
	struct scan_options o = {.backend = SCAN_BACKEND_LIBCLAMAV, .db_dir = sigs_dir(dir, sizeof dir),
				 .timeout_ms = 1, .max_scan_size = 64 << 20};
	struct scanner *s;
	struct scan_verdict v;
	size_t len;
	char *mail = mail_slow(&len);

	if (scanner_open(&o, &s, err, sizeof err) != 0)
		fail_msg("scanner_open: %s", err);
	scanner_scan_memory(s, mail, len, &v);
	if (v.status != SCAN_ERROR || strstr(v.error, "time limit") == NULL)
		fail_msg("status %d, error \"%s\"", v.status, v.error);
	scanner_close(s);
	scanner_scan_memory(*state, mail, len, &v); /* 30 s is plenty */
	assert_int_equal(v.status, SCAN_VIRUS);
	scan_verdict_clear(&v);
	free(mail);
}

static void test_describe(void **state)
{
	const char *d = scanner_describe(*state);
	struct scanner *c = open_clamd("unix:/run/clamav/clamd.ctl", 1000);

	assert_non_null(strstr(d, "libclamav 1."));
	assert_non_null(strstr(d, " 2 signatures from "));
	assert_string_equal(scanner_describe(c), "clamd at unix:/run/clamav/clamd.ctl");
	scanner_close(c);
}

struct worker {
	struct scanner *s;
	const char *mail[2];
	size_t len[2];
	int failures;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct scan_verdict v;

	for (int i = 0; i < 20; i++) {
		scanner_scan_memory(w->s, w->mail[i % 2], w->len[i % 2], &v);
		if (v.status != (i % 2 ? SCAN_CLEAN : SCAN_VIRUS))
			w->failures++;
		scan_verdict_clear(&v);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct worker w[4];
	pthread_t th[4];
	size_t lv, lc;
	char *virus = mail_build(eicar, TESTFILES "/clam.zip", &lv);
	char *clean = mail_build("clean", NULL, &lc);

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){*state, {virus, clean}, {lv, lc}, 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	free(virus);
	free(clean);
}

/* ---- clamd backend: address parsing and fake servers ------------------- */

static void test_clamd_addresses(void **state)
{
	static const char *bad[] = {"", "tcp:3310@localhost", "unix:", "unix:relative/sock",
				    "inet:3310", "inet:@localhost", "inet:0@localhost",
				    "inet:70000@localhost", "inet:3310@", "inet:33x0@localhost",
				    "inet:-1@localhost", "inet:3310@[]"};
	static const char *good[] = {"unix:/run/clamav/clamd.ctl", "inet:3310@127.0.0.1",
				     "inet:3310@::1", "inet:3310@[::1]", "inet:3310@localhost"};
	struct scan_options o = {.backend = SCAN_BACKEND_CLAMD, .timeout_ms = 1000};
	struct scanner *s;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		o.clamd_socket = bad[i];
		err[0] = '\0';
		if (scanner_open(&o, &s, err, sizeof err) != -1)
			fail_msg("accepted bad address \"%s\"", bad[i]);
		assert_true(err[0] != '\0');
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		o.clamd_socket = good[i];
		if (scanner_open(&o, &s, err, sizeof err) != 0)
			fail_msg("rejected \"%s\": %s", good[i], err);
		scanner_close(s);
	}
}

static void test_clamd_missing_socket(void **state)
{
	struct scanner *s = open_clamd("unix:/nonexistent/klaxon/clamd.sock", 1000);
	struct scan_verdict v;

	(void)state;
	scanner_scan_memory(s, eicar, strlen(eicar), &v);
	assert_int_equal(v.status, SCAN_ERROR);
	assert_non_null(strstr(v.error, "unix:/nonexistent/klaxon/clamd.sock"));
	assert_non_null(strstr(v.error, "connect"));
	scanner_close(s);
}

enum fake_mode {
	FAKE_REPLY,   /* read the whole stream, reply, close */
	FAKE_SILENT,  /* read everything, never reply */
	FAKE_EARLY,   /* reply after the command, close without reading more */
	FAKE_NOCLOSE, /* read the stream, reply, keep the connection open */
};

struct fake {
	enum fake_mode mode;
	const char *reply;
	size_t reply_len;
	int lfd;
	char dir[64];
	char spec[128];
	pthread_t th;
	int joined;
	/* what the fake saw */
	int proto_ok;
	unsigned char *got;
	size_t got_len;
};

static int read_full(int fd, void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = read(fd, (char *)buf + off, len - off);

		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* fake_stream - read a zINSTREAM request into f->got */
static void fake_stream(struct fake *f, int c)
{
	char cmd[10];
	uint32_t hdr;

	if (read_full(c, cmd, sizeof cmd) == -1 || memcmp(cmd, "zINSTREAM", 10) != 0)
		return;
	for (;;) {
		if (read_full(c, &hdr, sizeof hdr) == -1)
			return;
		if ((hdr = ntohl(hdr)) == 0)
			break;
		f->got = realloc(f->got, f->got_len + hdr);
		if (f->got == NULL || read_full(c, f->got + f->got_len, hdr) == -1)
			return;
		f->got_len += hdr;
	}
	f->proto_ok = 1;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = {.fd = f->lfd, .events = POLLIN};
	char sink[4096];
	int c;

	if (poll(&p, 1, 10000) != 1 || (c = accept(f->lfd, NULL, NULL)) == -1)
		return NULL;
	if (f->mode == FAKE_EARLY && read_full(c, sink, 10) == 0)
		f->proto_ok = 1;
	else if (f->mode != FAKE_SILENT)
		fake_stream(f, c);
	if (f->mode != FAKE_SILENT && f->reply_len > 0)
		(void)!write(c, f->reply, f->reply_len);
	if (f->mode == FAKE_SILENT || f->mode == FAKE_NOCLOSE)
		while (read(c, sink, sizeof sink) > 0)
			;
	close(c);
	return NULL;
}

/* fake_listen - a listener: a unix socket in a temp dir, or TCP on 127.0.0.1 */
static void fake_listen(struct fake *f, int inet)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof sin;

	strcpy(f->dir, "/tmp/test_scan_fake.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->lfd = socket(inet ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	if (inet) {
		assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
		assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin, &slen), 0);
		snprintf(f->spec, sizeof f->spec, "inet:%u@127.0.0.1", ntohs(sin.sin_port));
	} else {
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s/clamd.sock", f->dir);
		snprintf(f->spec, sizeof f->spec, "unix:%s", sun.sun_path);
		assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	}
	assert_int_equal(listen(f->lfd, 4), 0);
}

/* fake_start - serve one connection in a thread */
static void fake_start(struct fake *f, enum fake_mode mode, const char *reply, size_t reply_len,
		       int inet)
{
	memset(f, 0, sizeof *f);
	f->mode = mode;
	f->reply = reply;
	f->reply_len = reply_len;
	fake_listen(f, inet);
	assert_int_equal(pthread_create(&f->th, NULL, fake_run, f), 0);
}

/* fake_join - wait for the fake to finish; what it saw stays readable */
static void fake_join(struct fake *f)
{
	if (!f->joined)
		assert_int_equal(pthread_join(f->th, NULL), 0);
	f->joined = 1;
}

static void fake_stop(struct fake *f)
{
	fake_join(f);
	close(f->lfd);
	free(f->got);
	rm_rf(f->dir);
}

#define R(lit) lit, sizeof lit - 1

static void test_clamd_fake_replies(void **state)
{
	static const struct {
		const char *reply;
		size_t len;
		enum scan_status status;
		const char *expect; /* a virus name, or part of the error */
	} cases[] = {
		{R("stream: OK\0"), SCAN_CLEAN, NULL},
		{R("stream: OK"), SCAN_CLEAN, NULL},
		{R("stream: Foo.Bar FOUND\0"), SCAN_VIRUS, "Foo.Bar"},
		{R("stream: A.One FOUND\0stream: B.Two FOUND\0stream: A.One FOUND\0"), SCAN_VIRUS, "B.Two"},
		{R("stream: X FOUND\0stream: Can't allocate memory ERROR\0"), SCAN_VIRUS, "X"},
		{R("INSTREAM size limit exceeded. ERROR\0"), SCAN_ERROR, "size limit exceeded"},
		{R("stream: Can't allocate memory ERROR\0"), SCAN_ERROR, "Can't allocate memory ERROR"},
		{R(""), SCAN_ERROR, "without a reply"},
		{R("\x01\x02garbage\xff"), SCAN_ERROR, "garbled reply \"??garbage?\""},
		{R("UNKNOWN COMMAND\n"), SCAN_ERROR, "garbled"},
		{R("stream: FOUND\0"), SCAN_ERROR, "garbled"},
		{R("stream: OK\0junk\0"), SCAN_ERROR, "garbled"},
	};
	struct scan_verdict v;
	struct fake f;
	size_t len;
	char *mail = mail_build("a clean body, long enough to matter", NULL, &len);

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct scanner *s;

		fake_start(&f, FAKE_REPLY, cases[i].reply, cases[i].len, 0);
		s = open_clamd(f.spec, 5000);
		scanner_scan_memory(s, mail, len, &v);
		fake_stop(&f);
		if (v.status != cases[i].status)
			fail_msg("case %zu: status %d, want %d (%s)", i, v.status, cases[i].status,
				 v.error);
		if (cases[i].status == SCAN_VIRUS && !has_name(&v, cases[i].expect))
			fail_msg("case %zu: no name %s", i, cases[i].expect);
		if (cases[i].status == SCAN_ERROR &&
		    (strstr(v.error, cases[i].expect) == NULL || strstr(v.error, f.spec) == NULL))
			fail_msg("case %zu: error \"%s\"", i, v.error);
		if (i == 3)
			assert_int_equal(v.nviruses, 2);
		scan_verdict_clear(&v);
		scanner_close(s);
	}
	free(mail);
}

static void test_clamd_fake_stream_content(void **state)
{
	static const char ok[] = "stream: OK";
	size_t big = 3 * 64 * 1024 + 123; /* several chunks and a short one */
	unsigned char *data = malloc(big);
	struct scan_verdict v;
	struct scanner *s;
	struct fake f;
	int fd;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	fd = tmp_fd_with(data, big);
	for (int pass = 0; pass < 2; pass++) {
		fake_start(&f, FAKE_REPLY, ok, sizeof ok, 0);
		s = open_clamd(f.spec, 5000);
		if (pass == 0)
			scanner_scan_memory(s, data, big, &v);
		else
			scanner_scan_fd(s, fd, &v);
		fake_join(&f);
		assert_int_equal(v.status, SCAN_CLEAN);
		assert_true(f.proto_ok);
		assert_int_equal(f.got_len, big);
		assert_memory_equal(f.got, data, big);
		fake_stop(&f);
		scanner_close(s);
	}
	close(fd);
	free(data);
}

static void test_clamd_fake_silent(void **state)
{
	struct scan_verdict v;
	struct scanner *s;
	struct fake f;
	long long t0;

	(void)state;
	fake_start(&f, FAKE_SILENT, NULL, 0, 0);
	s = open_clamd(f.spec, 500);
	t0 = now_ms();
	scanner_scan_memory(s, eicar, strlen(eicar), &v);
	t0 = now_ms() - t0;
	fake_stop(&f);
	assert_int_equal(v.status, SCAN_ERROR);
	assert_non_null(strstr(v.error, "timeout"));
	assert_true(t0 >= 450 && t0 < 2000);
	scanner_close(s);
}

static void test_clamd_fake_found_no_close(void **state)
{
	static const char found[] = "stream: Slow.Clamd FOUND";
	struct scan_verdict v;
	struct scanner *s;
	struct fake f;

	(void)state;
	fake_start(&f, FAKE_NOCLOSE, found, sizeof found, 0);
	s = open_clamd(f.spec, 500);
	scanner_scan_memory(s, eicar, strlen(eicar), &v);
	fake_stop(&f);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_true(has_name(&v, "Slow.Clamd"));
	scan_verdict_clear(&v);
	scanner_close(s);
}

static void test_clamd_fake_early_error(void **state)
{
	static const char limit[] = "INSTREAM size limit exceeded. ERROR";
	size_t big = 16 << 20; /* far more than the socket buffers */
	unsigned char *data = calloc(1, big);
	struct scan_verdict v;
	struct scanner *s;
	struct fake f;

	(void)state;
	assert_non_null(data);
	fake_start(&f, FAKE_EARLY, limit, sizeof limit, 0);
	s = open_clamd(f.spec, 5000);
	scanner_scan_memory(s, data, big, &v);
	fake_stop(&f);
	assert_int_equal(v.status, SCAN_ERROR);
	if (strstr(v.error, "size limit exceeded") == NULL)
		fail_msg("error: %s", v.error);
	scanner_close(s);
	free(data);
}

static void test_clamd_fake_inet(void **state)
{
	static const char ok[] = "stream: OK";
	struct scan_verdict v;
	struct scanner *s;
	struct fake f;

	(void)state;
	fake_start(&f, FAKE_REPLY, ok, sizeof ok, 1);
	s = open_clamd(f.spec, 5000);
	scanner_scan_memory(s, eicar, strlen(eicar), &v);
	fake_stop(&f);
	assert_int_equal(v.status, SCAN_CLEAN);

	/* Nothing listens on that port now: refused, not clean. */
	scanner_scan_memory(s, eicar, strlen(eicar), &v);
	assert_int_equal(v.status, SCAN_ERROR);
	assert_non_null(strstr(v.error, "connect"));
	scanner_close(s);
}

/* ---- clamd backend: a real clamd -------------------------------------- */

struct clamd_run {
	char dir[64];
	char spec[128];
	pid_t pid;
};

static int clamd_setup(void **state)
{
	struct clamd_run *r = calloc(1, sizeof *r);
	char sigs[PATH_MAX], real[PATH_MAX], conf[128], sock[100];
	FILE *f;

	if (r == NULL || realpath(sigs_dir(sigs, sizeof sigs), real) == NULL)
		return -1;
	strcpy(r->dir, "/tmp/test_scan_clamd.XXXXXX");
	if (mkdtemp(r->dir) == NULL)
		return -1;
	snprintf(conf, sizeof conf, "%s/clamd.conf", r->dir);
	snprintf(sock, sizeof sock, "%s/clamd.sock", r->dir);
	snprintf(r->spec, sizeof r->spec, "unix:%s", sock);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nUser root\n"
		   "Bytecode no\nLogFile %s/clamd.log\nTemporaryDirectory %s\n",
		sock, real, r->dir, r->dir);
	fclose(f);
	*state = r;
	if ((r->pid = fork()) == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1), dup2(null, 2);
		execl(CLAMD, CLAMD, "-c", conf, (char *)NULL);
		_exit(127);
	}
	return r->pid > 0 ? 0 : -1;
}

static int clamd_teardown(void **state)
{
	struct clamd_run *r = *state;
	int status;

	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		for (int i = 0; i < 100 && waitpid(r->pid, &status, WNOHANG) == 0; i++)
			usleep(50000);
		if (waitpid(r->pid, &status, WNOHANG) == 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
		}
	}
	rm_rf(r->dir);
	free(r);
	return 0;
}

/* clamd_show_log - print clamd's log before the teardown removes it */
static void clamd_show_log(const struct clamd_run *r)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/clamd.log", r->dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL)
		print_error("clamd.log: %s", line);
	fclose(f);
}

/* clamd_wait_up - wait up to 20 s for clamd to answer PING */
static void clamd_wait_up(struct clamd_run *r)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char pong[8] = "";
	int status;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", r->spec + 5);
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 &&
		    write(fd, "zPING", 6) == 6 && read(fd, pong, 5) == 5) {
			close(fd);
			return;
		}
		close(fd);
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			clamd_show_log(r);
			fail_msg("clamd exited early (status %d)", status);
		}
		usleep(100000);
	}
	clamd_show_log(r);
	fail_msg("clamd did not come up in 20 s");
}

static void test_clamd_real(void **state)
{
	struct clamd_run *r = *state;
	struct scan_verdict v;
	struct scanner *s;
	size_t lv, lc, lz;
	char *virus = mail_build(eicar, NULL, &lv);
	char *clean = mail_build("nothing here", NULL, &lc);
	char *zip = mail_build(eicar, TESTFILES "/clam.zip", &lz);
	int fd = tmp_fd_with(virus, lv);

	if (access(CLAMD, X_OK) != 0)
		skip();
	clamd_wait_up(r);
	s = open_clamd(r->spec, 20000);
	scanner_scan_memory(s, virus, lv, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_true(has_name(&v, "Klaxon.Test.EICAR"));
	scan_verdict_clear(&v);
	scanner_scan_fd(s, fd, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	scan_verdict_clear(&v);
	/* INSTREAM has no all-match mode: clamd names one of the two. */
	scanner_scan_memory(s, zip, lz, &v);
	assert_int_equal(v.status, SCAN_VIRUS);
	assert_int_equal(v.nviruses, 1);
	assert_true(has_name(&v, "Klaxon.Test.ClamExe") || has_name(&v, "Klaxon.Test.EICAR"));
	scan_verdict_clear(&v);
	scanner_scan_memory(s, clean, lc, &v);
	if (v.status != SCAN_CLEAN)
		fail_msg("clean mail: status %d (%s)", v.status, v.error);
	scan_verdict_clear(&v);
	scanner_close(s);
	close(fd);
	free(virus);
	free(clean);
	free(zip);
}

int main(void)
{
	const struct CMUnitTest libclamav[] = {
		cmocka_unit_test(test_eicar_memory),
		cmocka_unit_test(test_eicar_fd_at_end),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_zip_attachment),
		cmocka_unit_test(test_two_viruses),
		cmocka_unit_test(test_bad_db),
		cmocka_unit_test(test_limits_and_inputs),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_concurrent),
	};
	const struct CMUnitTest clamd[] = {
		cmocka_unit_test(test_clamd_addresses),
		cmocka_unit_test(test_clamd_missing_socket),
		cmocka_unit_test(test_clamd_fake_replies),
		cmocka_unit_test(test_clamd_fake_stream_content),
		cmocka_unit_test(test_clamd_fake_silent),
		cmocka_unit_test(test_clamd_fake_found_no_close),
		cmocka_unit_test(test_clamd_fake_early_error),
		cmocka_unit_test(test_clamd_fake_inet),
		cmocka_unit_test_setup_teardown(test_clamd_real, clamd_setup, clamd_teardown),
	};
	int failed;

	signal(SIGPIPE, SIG_IGN); /* the fakes write to peers that may be gone */
	failed = cmocka_run_group_tests_name("scan_libclamav", libclamav, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("scan_clamd", clamd, NULL, NULL);
	return failed != 0;
}
