/*
 * scan - libclamav and clamd (zINSTREAM) backends behind one interface.
 *
 * The contract is in scan.h. Implementation notes:
 *
 *	libclamav: one compiled cl_engine per scanner, shared read-only by all
 *	threads. Virus names reach the caller's verdict through the engine's
 *	virus-found callback, whose per-scan context is a struct scan_names on
 *	the scanning thread's stack. Both inputs go through an fmap: memory
 *	directly, a file through pread from offset 0, so no temp file is made
 *	for the top level and the caller's file offset is left alone.
 *
 *	clamd: one non-blocking connection per scan. Every wait (connect, each
 *	send, the reply) is a poll bounded by one deadline for the whole scan.
 *	Replies are NUL-terminated records. clamd sends one per INSTREAM
 *	(it has no all-match mode for streams), but several are accepted and
 *	any "stream: NAME FOUND" among them makes the verdict SCAN_VIRUS.
 *
 *	clamd cuts a scan short at its own MaxScanTime and then answers OK, as
 *	libclamav does; nothing in the reply shows it. Deployments must give
 *	clamd a MaxScanTime above timeout_ms (or AlertExceedsMax yes).
 *
 *	A timeout_ms of 0 means no limit, as for CL_ENGINE_MAX_SCANTIME; a
 *	max_scan_size of 0 means no size guard (libclamav's own file size
 *	limit still applies, see scan_engine_limits).
 */
#include "scan.h"

#include <arpa/inet.h>
#include <clamav.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SCAN_CHUNK (64 * 1024)     /* clamd chunk and pread size */
#define CLAMD_REPLY_MAX 4096       /* one record is ~60 bytes; room for many */
#define CLAMD_COMMAND "zINSTREAM"  /* 'z': NUL-terminated, sent with its NUL */

#define SCAN_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct clamd_addr {
	char spec[320];            /* as configured, for messages */
	int is_unix;
	struct sockaddr_un sun;
	char host[256];            /* inet: resolved per scan */
	char port[6];
};

struct scanner {
	enum scan_backend backend;
	unsigned timeout_ms;
	unsigned long long max_size;  /* 0: no guard */
	unsigned long long engine_max; /* libclamav's effective file size limit */
	struct cl_engine *engine;
	struct cl_scan_options options;
	struct clamd_addr addr;
	char describe[PATH_MAX + 64];
	uint64_t dbver;            /* names the signature set, for verdict caches */
};

/* struct scan_input - bytes to scan: a buffer, or a file read with pread */
struct scan_input {
	const unsigned char *buf;  /* NULL: read fd */
	int fd;
	size_t len;
};

/* struct scan_names - per-scan context of the libclamav virus callback */
struct scan_names {
	struct scan_verdict *v;
	int nomem;
};

/* Written once under scan_once: cl_init() must run once per process. */
static pthread_once_t scan_once = PTHREAD_ONCE_INIT;
static cl_error_t scan_init_rc = CL_EARG;

/* scan_init_once - pthread_once body */
static void scan_init_once(void)
{
	scan_init_rc = cl_init(CL_INIT_DEFAULT);
}

/* scan_global_init - initialise libclamav once per process */
int scan_global_init(char *err, size_t errlen)
{
	int rc = pthread_once(&scan_once, scan_init_once);

	if (rc != 0) {
		snprintf(err, errlen, "pthread_once: %s", strerror(rc));
		return -1;
	}
	if (scan_init_rc != CL_SUCCESS) {
		snprintf(err, errlen, "cl_init: %s", cl_strerror(scan_init_rc));
		return -1;
	}
	return 0;
}

/* scan_verdict_clear - free the names; safe on a zeroed verdict */
void scan_verdict_clear(struct scan_verdict *v)
{
	for (size_t i = 0; i < v->nviruses; i++)
		free(v->viruses[i]);
	free(v->viruses);
	memset(v, 0, sizeof *v);
}

/* scan_verdict_add - append a name unless already listed; -1 on ENOMEM */
static int scan_verdict_add(struct scan_verdict *v, const char *name)
{
	char **grown;

	for (size_t i = 0; i < v->nviruses; i++)
		if (strcmp(v->viruses[i], name) == 0)
			return 0;
	grown = realloc(v->viruses, (v->nviruses + 1) * sizeof *grown);
	if (grown == NULL)
		return -1;
	v->viruses = grown;
	if ((grown[v->nviruses] = strdup(name)) == NULL)
		return -1;
	v->nviruses++;
	return 0;
}

/* scan_verdict_fail - make the verdict SCAN_ERROR with a reason, no names */
static void SCAN_PRINTF(2, 3) scan_verdict_fail(struct scan_verdict *v, const char *fmt, ...)
{
	va_list ap;

	scan_verdict_clear(v);
	v->status = SCAN_ERROR;
	va_start(ap, fmt);
	vsnprintf(v->error, sizeof v->error, fmt, ap);
	va_end(ap);
}

/* scan_verdict_start - empty verdict that reads as an error until decided */
static void scan_verdict_start(struct scan_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->status = SCAN_ERROR; /* SCAN_CLEAN is 0: never let a zeroed verdict pass */
	snprintf(v->error, sizeof v->error, "scan did not complete");
}

/* scan_verdict_set - decide the verdict, keeping its names */
static void scan_verdict_set(struct scan_verdict *v, enum scan_status status)
{
	v->status = status;
	v->error[0] = '\0';
}

/* scan_virus_found - libclamav callback, once per match in all-match mode */
static void scan_virus_found(int fd, const char *virname, void *context)
{
	struct scan_names *names = context;

	(void)fd;
	if (names != NULL && virname != NULL && scan_verdict_add(names->v, virname) == -1)
		names->nomem = 1;
}

/* clock_ms - monotonic milliseconds */
static long long clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* scan_pread - fmap read callback: the handle points at the fd */
static off_t scan_pread(void *handle, void *buf, size_t count, off_t offset)
{
	ssize_t n;

	do
		n = pread(*(const int *)handle, buf, count, offset);
	while (n == -1 && errno == EINTR);
	return n;
}

/* scan_engine_raise - raise a libclamav size limit to want, never lower it */
static int scan_engine_raise(struct cl_engine *e, enum cl_engine_field f, long long want,
			     long long *now, char *err, size_t errlen)
{
	int rc = CL_SUCCESS;

	*now = cl_engine_get_num(e, f, &rc);
	if (rc == CL_SUCCESS && *now < want) {
		/* libclamav clamps some limits (file size: INT_MAX - 2); reread. */
		if ((rc = cl_engine_set_num(e, f, want)) == CL_SUCCESS)
			*now = cl_engine_get_num(e, f, &rc);
	}
	if (rc != CL_SUCCESS) {
		snprintf(err, errlen, "cl_engine_set_num: %s", cl_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * scan_engine_limits - make libclamav's limits agree with max_scan_size.
 *
 * A file over CL_ENGINE_MAX_FILESIZE is skipped and reported clean, so the
 * limit must cover every message we accept to scan. The total scan size
 * gets four times that, for archives that expand. Limits are only ever
 * raised: lowering them below libclamav's defaults would skip more.
 */
static int scan_engine_limits(struct scanner *s, char *err, size_t errlen)
{
	/* libclamav caps the file size near INT_MAX and warns above it. */
	long long want = s->max_size > INT_MAX ? INT_MAX : (long long)s->max_size;
	long long file_now, scan_now;
	int rc;

	if (scan_engine_raise(s->engine, CL_ENGINE_MAX_FILESIZE, want, &file_now, err, errlen) == -1 ||
	    scan_engine_raise(s->engine, CL_ENGINE_MAX_SCANSIZE, want * 4, &scan_now, err, errlen) == -1)
		return -1;
	s->engine_max = (unsigned long long)(file_now < scan_now ? file_now : scan_now);
	if (s->timeout_ms > 0) {
		rc = cl_engine_set_num(s->engine, CL_ENGINE_MAX_SCANTIME, s->timeout_ms);
		if (rc != CL_SUCCESS) {
			snprintf(err, errlen, "cl_engine_set_num(MAX_SCANTIME): %s", cl_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* scan_fnv1a - a 64-bit FNV-1a hash, to name a signature set in one number */
static uint64_t scan_fnv1a(const char *text)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

/* scanner_open_libclamav - load and compile the signatures */
static int scanner_open_libclamav(struct scanner *s, const char *db_dir, char *err, size_t errlen)
{
	unsigned int sigs = 0;
	cl_error_t rc;

	if (db_dir == NULL || *db_dir == '\0') {
		snprintf(err, errlen, "libclamav: no signature directory given");
		return -1;
	}
	if (scan_global_init(err, errlen) == -1)
		return -1;
	if ((s->engine = cl_engine_new()) == NULL) {
		snprintf(err, errlen, "cl_engine_new: out of memory");
		return -1;
	}
	if (scan_engine_limits(s, err, errlen) == -1)
		return -1;
	/* Callbacks are engine settings: set before the engine is shared. */
	cl_engine_set_clcb_virus_found(s->engine, scan_virus_found);
	if ((rc = cl_load(db_dir, s->engine, &sigs, CL_DB_STDOPT)) != CL_SUCCESS) {
		snprintf(err, errlen, "cl_load %s: %s", db_dir, cl_strerror(rc));
		return -1;
	}
	if (sigs == 0) {
		/* An engine without signatures would call everything clean. */
		snprintf(err, errlen, "cl_load %s: no signatures loaded", db_dir);
		return -1;
	}
	if ((rc = cl_engine_compile(s->engine)) != CL_SUCCESS) {
		snprintf(err, errlen, "cl_engine_compile %s: %s", db_dir, cl_strerror(rc));
		return -1;
	}
	s->options.general = CL_SCAN_GENERAL_ALLMATCHES;
	s->options.parse = ~0u; /* mail, archives, documents: everything */
	snprintf(s->describe, sizeof s->describe, "libclamav %s, %u signatures from %s", cl_retver(),
		 sigs, db_dir);
	char id[128];
	snprintf(id, sizeof id, "libclamav:%llu:%llu:%u",
		 (unsigned long long)cl_engine_get_num(s->engine, CL_ENGINE_DB_VERSION, NULL),
		 (unsigned long long)cl_engine_get_num(s->engine, CL_ENGINE_DB_TIME, NULL), sigs);
	s->dbver = scan_fnv1a(id);
	return 0;
}

/* scan_libclamav_pass - one cl_scanmap_callback over the input; -1 if no map */
static int scan_libclamav_pass(const struct scanner *s, const struct scan_input *in, unsigned general,
			       struct scan_names *names, cl_error_t *rc, const char **virname,
			       long long *elapsed)
{
	struct cl_scan_options opts = s->options; /* the API takes it non-const */
	unsigned long scanned = 0;
	int fd = in->fd;
	cl_fmap_t *map = in->buf != NULL ? cl_fmap_open_memory(in->buf, in->len)
					 : cl_fmap_open_handle(&fd, 0, in->len, scan_pread, 1);
	if (map == NULL)
		return -1;
	opts.general = general;
	long long started = clock_ms();
	*rc = cl_scanmap_callback(map, NULL, virname, &scanned, s->engine, &opts, names);
	*elapsed = clock_ms() - started;
	cl_fmap_close(map);
	return 0;
}

/*
 * scan_with_libclamav - scan one input with the shared engine.
 *
 * All-match mode costs about a third more matching time, and almost all
 * mail is clean, so the first pass stops at the first match; only an
 * infected input is scanned again in all-match mode, to name every virus.
 */
static void scan_with_libclamav(const struct scanner *s, const struct scan_input *in,
				struct scan_verdict *v)
{
	struct scan_names names = {.v = v, .nomem = 0};
	const char *virname = NULL;
	long long elapsed = 0;
	cl_error_t rc = CL_CLEAN;

	if (in->len > s->engine_max) {
		scan_verdict_fail(v, "message larger than libclamav's size limit (%zu > %llu bytes)",
				  in->len, s->engine_max);
		return;
	}
	if (scan_libclamav_pass(s, in, 0, &names, &rc, &virname, &elapsed) == -1) {
		scan_verdict_fail(v, "cl_fmap_open failed (out of memory?)");
		return;
	}
	if (rc == CL_VIRUS || v->nviruses > 0) {
		scan_verdict_clear(v); /* the first pass's name comes back with the others */
		scan_verdict_start(v);
		virname = NULL;
		if (scan_libclamav_pass(s, in, CL_SCAN_GENERAL_ALLMATCHES, &names, &rc, &virname,
					&elapsed) == -1) {
			scan_verdict_fail(v, "cl_fmap_open failed (out of memory?)");
			return;
		}
	}

	/* The callback is the source of truth in all-match mode; the return
	 * code may be CL_CLEAN or even an error (timeout) after matches. */
	if (rc == CL_VIRUS && v->nviruses == 0 && virname != NULL && scan_verdict_add(v, virname) == -1)
		names.nomem = 1;
	if (names.nomem)
		scan_verdict_fail(v, "out of memory recording virus names");
	else if (v->nviruses > 0)
		scan_verdict_set(v, SCAN_VIRUS);
	else if (rc == CL_CLEAN && s->timeout_ms > 0 && elapsed >= s->timeout_ms)
		/* libclamav 1.4 reports a scan cut short by MAX_SCANTIME as clean
		 * (it alerts only with the exceeds-max heuristic): the clock decides. */
		scan_verdict_fail(v, "libclamav: scan time limit reached (%u ms)", s->timeout_ms);
	else if (rc == CL_CLEAN)
		scan_verdict_set(v, SCAN_CLEAN);
	else if (rc == CL_VIRUS)
		scan_verdict_fail(v, "libclamav reported a virus without a name");
	else
		scan_verdict_fail(v, "libclamav: %s", cl_strerror(rc));
}

/* clamd_parse_addr - parse "unix:/path" or "inet:PORT@HOST" */
static int clamd_parse_addr(struct clamd_addr *a, const char *spec, char *err, size_t errlen)
{
	const char *at, *host;
	size_t hlen;
	char *end;
	long port;

	if (spec == NULL || *spec == '\0' || strlen(spec) >= sizeof a->spec) {
		snprintf(err, errlen, "clamd socket: missing or too long");
		return -1;
	}
	strcpy(a->spec, spec);
	if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] != '/' || strlen(spec + 5) >= sizeof a->sun.sun_path) {
			snprintf(err, errlen, "clamd socket %s: need an absolute path under %zu bytes",
				 spec, sizeof a->sun.sun_path);
			return -1;
		}
		a->is_unix = 1;
		a->sun.sun_family = AF_UNIX;
		strcpy(a->sun.sun_path, spec + 5);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) != 0 || (at = strchr(spec + 5, '@')) == NULL) {
		snprintf(err, errlen, "clamd socket %s: expected unix:/path or inet:PORT@HOST", spec);
		return -1;
	}
	errno = 0;
	port = strtol(spec + 5, &end, 10);
	host = at + 1;
	hlen = strlen(host);
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') /* [::1] */
		host++, hlen -= 2;
	if (end != at || spec[5] < '0' || spec[5] > '9' || errno != 0 || port < 1 || port > 65535 ||
	    hlen == 0 || hlen >= sizeof a->host) {
		snprintf(err, errlen, "clamd socket %s: bad port or host in inet:PORT@HOST", spec);
		return -1;
	}
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	snprintf(a->port, sizeof a->port, "%ld", port);
	return 0;
}

/* clamd_fail - SCAN_ERROR naming the clamd socket */
static void SCAN_PRINTF(3, 4) clamd_fail(const struct scanner *s, struct scan_verdict *v,
					const char *fmt, ...)
{
	char why[sizeof v->error];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	scan_verdict_fail(v, "clamd at %s: %s", s->addr.spec, why);
}

/* deadline_left - poll timeout until the deadline: -1 none, 0 expired */
static int deadline_left(long long deadline)
{
	long long left;

	if (deadline == 0)
		return -1;
	left = deadline - clock_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* clamd_wait - poll for events within the deadline; -1 with v set */
static int clamd_wait(const struct scanner *s, int fd, short events, long long deadline,
		      const char *what, struct scan_verdict *v)
{
	struct pollfd p = {.fd = fd, .events = events};
	int ms, n;

	for (;;) {
		if ((ms = deadline_left(deadline)) == 0) {
			clamd_fail(s, v, "timeout (%u ms) %s", s->timeout_ms, what);
			return -1;
		}
		/* POLLERR/POLLHUP also end the wait: the next call names the error. */
		if ((n = poll(&p, 1, ms)) > 0)
			return 0;
		if (n == -1 && errno != EINTR) {
			clamd_fail(s, v, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* clamd_connect_one - connect one address within the deadline */
static int clamd_connect_one(const struct scanner *s, int family, const struct sockaddr *sa,
			     socklen_t salen, long long deadline, struct scan_verdict *v)
{
	int fd, soerr = 0;
	socklen_t len = sizeof soerr;

	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		clamd_fail(s, v, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		clamd_fail(s, v, "connect: %s", strerror(errno));
	} else if (clamd_wait(s, fd, POLLOUT, deadline, "connecting", v) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			clamd_fail(s, v, "getsockopt(SO_ERROR): %s", strerror(errno));
		else if (soerr != 0)
			clamd_fail(s, v, "connect: %s", strerror(soerr));
		else
			return fd;
	}
	close(fd);
	return -1;
}

/* clamd_connect - connect to clamd, trying each resolved address in turn */
static int clamd_connect(const struct scanner *s, long long deadline, struct scan_verdict *v)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	int fd = -1, rc;

	if (s->addr.is_unix)
		return clamd_connect_one(s, AF_UNIX, (const struct sockaddr *)&s->addr.sun,
					 sizeof s->addr.sun, deadline, v);
	/* getaddrinfo cannot be bounded by the deadline; use an IP literal or
	 * a name from /etc/hosts where that matters. */
	if ((rc = getaddrinfo(s->addr.host, s->addr.port, &hints, &res)) != 0) {
		clamd_fail(s, v, "getaddrinfo: %s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = clamd_connect_one(s, ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline, v);
	freeaddrinfo(res);
	return fd;
}

/* clamd_send - send all of iov[0..n), waiting for room within the deadline */
static int clamd_send(const struct scanner *s, int fd, struct iovec *iov, int n, long long deadline,
		      struct scan_verdict *v)
{
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
	ssize_t sent;

	while (m.msg_iovlen > 0) {
		if (m.msg_iov->iov_len == 0) {
			m.msg_iov++, m.msg_iovlen--;
			continue;
		}
		if ((sent = sendmsg(fd, &m, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				clamd_fail(s, v, "sendmsg: %s", strerror(errno));
				return -1;
			}
			if (clamd_wait(s, fd, POLLOUT, deadline, "sending", v) == -1)
				return -1;
			continue;
		}
		for (; m.msg_iovlen > 0 && (size_t)sent >= m.msg_iov->iov_len; m.msg_iov++, m.msg_iovlen--)
			sent -= (ssize_t)m.msg_iov->iov_len;
		if (m.msg_iovlen > 0) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + sent;
			m.msg_iov->iov_len -= (size_t)sent;
		}
	}
	return 0;
}

/* clamd_stream - send the command, the input as chunks, and the end mark */
static int clamd_stream(const struct scanner *s, int fd, const struct scan_input *in,
			unsigned char *chunk, long long deadline, struct scan_verdict *v)
{
	struct iovec iov[2] = {{.iov_base = CLAMD_COMMAND, .iov_len = sizeof CLAMD_COMMAND}};
	uint32_t hdr;
	size_t off = 0, n;
	ssize_t got;

	if (clamd_send(s, fd, iov, 1, deadline, v) == -1)
		return -1;
	do { /* the last round sends the zero-length chunk that ends the stream */
		n = in->len - off < SCAN_CHUNK ? in->len - off : SCAN_CHUNK;
		iov[1].iov_base = (void *)(in->buf != NULL ? in->buf + off : chunk);
		if (in->buf == NULL && n > 0) {
			do
				got = pread(in->fd, chunk, n, (off_t)off);
			while (got == -1 && errno == EINTR);
			if (got <= 0) {
				clamd_fail(s, v, "pread: %s", got == 0 ? "file shrank" : strerror(errno));
				return -1;
			}
			n = (size_t)got;
		}
		hdr = htonl((uint32_t)n);
		iov[0] = (struct iovec){.iov_base = &hdr, .iov_len = sizeof hdr};
		iov[1].iov_len = n;
		if (clamd_send(s, fd, iov, 2, deadline, v) == -1)
			return -1;
		off += n;
	} while (n > 0);
	return 0;
}

/* clamd_reply_final - whether buf holds a complete record that ends the reply */
static int clamd_reply_final(const char *buf, size_t len)
{
	const char *rec = buf, *nul;

	/* FOUND records may be followed by more; any other record ends it. */
	while ((nul = memchr(rec, '\0', len - (size_t)(rec - buf))) != NULL) {
		if (nul - rec < 6 || memcmp(nul - 6, " FOUND", 6) != 0)
			return 1;
		rec = nul + 1;
	}
	return 0;
}

/* clamd_recv - read reply records until a final one, EOF or the deadline */
static int clamd_recv(const struct scanner *s, int fd, char *buf, size_t size, long long deadline,
		      struct scan_verdict *v)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && !clamd_reply_final(buf, len)) {
		if (clamd_wait(s, fd, POLLIN, deadline, "waiting for the reply", v) == -1) {
			/* A name already received stands; clamd just did not close. */
			if (memchr(buf, '\0', len) == NULL)
				return -1;
			break;
		}
		if ((n = recv(fd, buf + len, size - 1 - len, 0)) == 0)
			break;
		if (n == -1 && errno != EINTR && errno != EAGAIN) {
			clamd_fail(s, v, "recv: %s", strerror(errno));
			return -1;
		}
		len += n > 0 ? (size_t)n : 0;
	}
	buf[len] = '\0'; /* a last record without its NUL still counts */
	/* Drop a timeout recorded after names arrived: the names decide. */
	scan_verdict_start(v);
	return (int)len;
}

/* clamd_verdict - turn the reply records into the verdict */
static void clamd_verdict(const struct scanner *s, char *buf, size_t len, struct scan_verdict *v)
{
	const char *error = NULL, *garbled = NULL;
	char *rec, *next;
	size_t rlen;
	int ok = 0;

	/* Records end in NUL; a newline is taken as an end too. */
	for (rec = buf; rec < buf + len; rec = next) {
		rlen = strcspn(rec, "\n");
		next = rec + rlen + 1;
		rec[rlen] = '\0';
		if (rlen > 14 && strncmp(rec, "stream: ", 8) == 0 &&
		    strcmp(rec + rlen - 6, " FOUND") == 0) {
			rec[rlen - 6] = '\0';
			if (scan_verdict_add(v, rec + 8) == -1) {
				clamd_fail(s, v, "out of memory recording virus names");
				return;
			}
		} else if (strcmp(rec, "stream: OK") == 0) {
			ok = 1;
		} else if (rlen >= 5 && strcmp(rec + rlen - 5, "ERROR") == 0) {
			error = error != NULL ? error : rec;
		} else if (rlen > 0 && garbled == NULL) {
			for (char *p = rec; *p != '\0'; p++) /* safe to quote in a log */
				*p = *p < 0x20 || *p > 0x7e ? '?' : *p;
			garbled = rec;
		}
	}
	if (v->nviruses > 0)
		scan_verdict_set(v, SCAN_VIRUS);
	else if (error != NULL)
		clamd_fail(s, v, "%s", error);
	else if (garbled != NULL)
		clamd_fail(s, v, "garbled reply \"%.80s\"", garbled);
	else if (ok)
		scan_verdict_set(v, SCAN_CLEAN);
	else
		clamd_fail(s, v, "connection closed without a reply");
}

/* scan_with_clamd - one zINSTREAM session: connect, stream, read the reply */
static void scan_with_clamd(const struct scanner *s, const struct scan_input *in,
			    struct scan_verdict *v)
{
	long long deadline = s->timeout_ms > 0 ? clock_ms() + s->timeout_ms : 0;
	char reply[CLAMD_REPLY_MAX];
	struct scan_verdict send_error;
	unsigned char *chunk = NULL;
	int fd, len;

	if (in->buf == NULL && (chunk = malloc(SCAN_CHUNK)) == NULL) {
		clamd_fail(s, v, "out of memory");
		return;
	}
	if ((fd = clamd_connect(s, deadline, v)) == -1) {
		free(chunk);
		return;
	}
	if (clamd_stream(s, fd, in, chunk, deadline, v) == 0) {
		if ((len = clamd_recv(s, fd, reply, sizeof reply, deadline, v)) >= 0)
			clamd_verdict(s, reply, (size_t)len, v);
	} else if (deadline_left(deadline) != 0) {
		/* clamd may have said why it stopped reading (size limit). */
		send_error = *v;
		if ((len = clamd_recv(s, fd, reply, sizeof reply, deadline, v)) > 0) {
			clamd_verdict(s, reply, (size_t)len, v);
		} else {
			scan_verdict_clear(v);
			*v = send_error;
		}
	}
	free(chunk);
	/* Only a clean verdict is worth doubting when close fails. */
	if (close(fd) == -1 && v->status == SCAN_CLEAN)
		clamd_fail(s, v, "close: %s", strerror(errno));
}

/* scanner_open - create a scanner for one backend */
int scanner_open(const struct scan_options *opts, struct scanner **out, char *err, size_t errlen)
{
	struct scanner *s;
	int rc = -1;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return -1;
	}
	s->backend = opts->backend;
	s->timeout_ms = opts->timeout_ms;
	s->max_size = opts->max_scan_size;
	if (opts->backend == SCAN_BACKEND_LIBCLAMAV) {
		rc = scanner_open_libclamav(s, opts->db_dir, err, errlen);
	} else if (opts->backend == SCAN_BACKEND_CLAMD) {
		rc = clamd_parse_addr(&s->addr, opts->clamd_socket, err, errlen);
		snprintf(s->describe, sizeof s->describe, "clamd at %s", s->addr.spec);
		/* clamd reloads on its own; verdict caches use a time limit for it. */
		s->dbver = scan_fnv1a(s->describe);
	} else {
		snprintf(err, errlen, "unknown scan backend %d", (int)opts->backend);
	}
	if (rc == -1) {
		scanner_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* scanner_run - checks common to both inputs, then the backend */
static void scanner_run(struct scanner *s, const struct scan_input *in, struct scan_verdict *v)
{
	if (s->max_size > 0 && in->len > s->max_size) {
		scan_verdict_fail(v, "message larger than max_scan_size (%zu > %llu bytes)", in->len,
				  s->max_size);
		return;
	}
	if (in->len == 0) { /* nothing can match; libclamav refuses empty maps */
		scan_verdict_set(v, SCAN_CLEAN);
		return;
	}
	if (s->backend == SCAN_BACKEND_CLAMD)
		scan_with_clamd(s, in, v);
	else
		scan_with_libclamav(s, in, v);
}

/* scanner_scan_memory - scan a whole message held in memory */
void scanner_scan_memory(struct scanner *s, const void *buf, size_t len, struct scan_verdict *v)
{
	struct scan_input in = {.buf = buf, .fd = -1, .len = len};

	scan_verdict_start(v);
	scanner_run(s, &in, v);
}

/* scanner_scan_fd - scan a whole regular file from offset 0 */
void scanner_scan_fd(struct scanner *s, int fd, struct scan_verdict *v)
{
	struct scan_input in = {.buf = NULL, .fd = fd};
	struct stat st;

	scan_verdict_start(v);
	if (fstat(fd, &st) == -1) {
		scan_verdict_fail(v, "fstat: %s", strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) { /* pread needs a regular file */
		scan_verdict_fail(v, "scan input fd %d is not a regular file", fd);
		return;
	}
	in.len = (size_t)st.st_size;
	scanner_run(s, &in, v);
}

/* scanner_describe - one line for logs and `klaxon version` */
const char *scanner_describe(const struct scanner *s)
{
	return s->describe;
}

/* scanner_db_version - a number that changes when the signatures do */
uint64_t scanner_db_version(const struct scanner *s)
{
	return s->dbver;
}

/* scanner_close - free the engine; no scan may be running */
void scanner_close(struct scanner *s)
{
	if (s == NULL)
		return;
	if (s->engine != NULL)
		cl_engine_free(s->engine);
	free(s);
}
