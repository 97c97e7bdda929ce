/*
 * milterload - a milter-protocol load client: the MTA side of milter
 * protocol version 6, spoken directly over a unix or loopback TCP socket.
 *
 * SYNOPSIS
 *	milterload --socket unix:/path|inet:PORT@127.0.0.1 [--concurrency N]
 *	           [--messages M] [--per-conn K] [--corpus text|attach]
 *	           [--size BYTES[k|m]] [--eicar PCT] [--run-id ID]
 *	           [--client-ip A.B.C.D] [--timeout S] [--max-time S]
 *	milterload --dump N [corpus options]     (print message N and exit)
 *
 * DESCRIPTION
 *	N threads each open milter connections and run messages through them
 *	until M messages are done. Per connection: OPTNEG (version 6, every
 *	action and protocol step offered, as Postfix does), CONNECT with an
 *	IPv4 address, HELO, then K messages of MAIL, RCPT, DATA, HEADER...,
 *	EOH, BODY chunks of at most 65535 bytes, EOM, then QUIT. The steps and
 *	replies the filter switched off in OPTNEG (SMFIP_NO*, SMFIP_NR_*) are
 *	honoured, as are SMFIP_HDR_LEADSPC and SKIP.
 *
 *	Every message is unique: its Message-ID, Subject and X-Bench headers,
 *	the first line of its text, the MIME boundary and the first 114 bytes
 *	of its attachment all carry the run id and the message number, so no
 *	scanner cache (clamd's clean cache keyed by content hash, libclamav's
 *	engine cache) can answer for a part it has seen before. The default run
 *	id differs on every run, so warm-up runs do not warm the caches either.
 *
 *	--corpus text: one text/plain part of --size bytes (default 10k).
 *	--corpus attach: a short text part and a base64 application/octet-stream
 *	attachment of pseudo-random bytes, --size bytes in all (e.g. 100k, 1m).
 *	--no-preamble: the attach corpus without the usual "This is a
 *	multi-part message in MIME format." note before the first boundary.
 *	--eicar PCT: that share of messages (spread evenly) carries the EICAR
 *	string: as a line of the text (text corpus), or at the start of the
 *	decoded attachment, so only a scanner that decodes MIME finds it
 *	(attach corpus).
 *
 *	Expected outcomes: a clean message must end in ACCEPT or CONTINUE at
 *	end of message; an EICAR message in REJECT, a 5xx REPLYCODE or DISCARD.
 *	Anything else (TEMPFAIL, 4xx, a final reply before end of message, a
 *	clean message rejected, a virus accepted) is unexpected: it is printed
 *	and the exit status is 1. A protocol error, a timeout or a failed
 *	system call stops the run at once with exit status 2.
 *
 *	Latency of a message: from its first command (CONNECT when the message
 *	opens a connection, MAIL otherwise) to the final reply to EOM.
 *	Throughput: messages completed / wall time of the whole run.
 *
 *	The last line of output is machine-readable:
 *	  RESULT key=value ...
 *
 * SAFETY
 *	Only unix sockets and loopback TCP (127.0.0.0/8, ::1) are accepted as
 *	targets. The run is bounded: M messages, a per-reply timeout, and
 *	--max-time, after which no new message is started.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Milter protocol constants (sendmail's mfdef.h, protocol version 6). */
#define MILTER_VERSION 6
#define MILTER_CHUNK 65535

#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'

#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN '4'
#define SMFIR_ACCEPT 'a'
#define SMFIR_REPLBODY 'b'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_CONN_FAIL 'f'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_SETSYMLIST 'l'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'

#define SMFIF_ALL 0x000001ffU /* every action up to SETSYMLIST */

#define SMFIP_NOCONNECT 0x00000001U
#define SMFIP_NOHELO 0x00000002U
#define SMFIP_NOMAIL 0x00000004U
#define SMFIP_NORCPT 0x00000008U
#define SMFIP_NOBODY 0x00000010U
#define SMFIP_NOHDRS 0x00000020U
#define SMFIP_NOEOH 0x00000040U
#define SMFIP_NR_HDR 0x00000080U
#define SMFIP_NOUNKNOWN 0x00000100U
#define SMFIP_NODATA 0x00000200U
#define SMFIP_SKIP 0x00000400U
#define SMFIP_RCPT_REJ 0x00000800U
#define SMFIP_NR_CONN 0x00001000U
#define SMFIP_NR_HELO 0x00002000U
#define SMFIP_NR_MAIL 0x00004000U
#define SMFIP_NR_RCPT 0x00008000U
#define SMFIP_NR_DATA 0x00010000U
#define SMFIP_NR_UNKN 0x00020000U
#define SMFIP_NR_EOH 0x00040000U
#define SMFIP_NR_BODY 0x00080000U
#define SMFIP_HDR_LEADSPC 0x00100000U
#define SMFIP_OFFERED 0x001fffffU /* what Postfix 3.x offers */

#define MAX_REPLY (1024 * 1024 + 64)

static const char EICAR[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/* ------------------------------------------------------------------ */
/* options and shared state                                            */

enum corpus { CORPUS_TEXT, CORPUS_ATTACH };

static struct {
	const char *socket_spec;
	unsigned concurrency;
	unsigned long messages;
	unsigned per_conn;
	enum corpus corpus;
	size_t size;
	unsigned eicar_pct;
	char run_id[40];
	char client_ip[INET_ADDRSTRLEN];
	unsigned timeout_s;
	unsigned max_time_s;
	long dump; /* -1: no dump */
	bool quiet;
	bool no_preamble; /* attach corpus: no text before the first boundary */
} opt = {
	.concurrency = 1,
	.messages = 1000,
	.per_conn = 1,
	.corpus = CORPUS_TEXT,
	.size = 10 * 1024,
	.eicar_pct = 0,
	.client_ip = "127.0.0.1",
	.timeout_s = 120,
	.max_time_s = 0,
	.dump = -1,
};

/* The parsed target. */
static struct sockaddr_storage target;
static socklen_t target_len;

/* Corpus templates, built once, read-only afterwards. */
static char *text_template;   /* CRLF lines of words */
static size_t text_template_len;
static char *b64_template;    /* CRLF base64 lines; the first two are replaced */
static size_t b64_template_len;
static size_t attach_text_len; /* filler text in the attach corpus */

static atomic_ulong next_msg;
static atomic_bool stop_all;
static atomic_ulong unexpected_total;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec run_start;

/* Per-message latency in ms, indexed by message number; < 0: not done. */
static double *latency_ms;

enum outcome {
	OUT_ACCEPT,
	OUT_CONTINUE,
	OUT_REJECT,
	OUT_REPLY5,
	OUT_REPLY4,
	OUT_DISCARD,
	OUT_TEMPFAIL,
	OUT_EARLY, /* a final reply before end of message */
	OUT_OTHER,
	OUT_N
};
static const char *const outcome_name[OUT_N] = {
	"accept", "continue", "reject", "reply5xx", "reply4xx", "discard", "tempfail", "early", "other",
};

enum mod { MOD_ADDHDR, MOD_INSHDR, MOD_CHGHDR, MOD_REPLBODY, MOD_ADDRCPT, MOD_DELRCPT,
	   MOD_CHGFROM, MOD_QUARANTINE, MOD_PROGRESS, MOD_SKIP, MOD_N };
static const char *const mod_name[MOD_N] = {
	"addheader", "insheader", "chgheader", "replbody", "addrcpt",
	"delrcpt",   "chgfrom",   "quarantine", "progress", "skip",
};

struct stats {
	unsigned long outcome[OUT_N];
	unsigned long mod[MOD_N];
	unsigned long infected_sent;
	unsigned long connections;
	unsigned long done;
};

/* ------------------------------------------------------------------ */
/* errors                                                              */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("milterload: FATAL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* A worker's fatal error: report it and stop every thread. */
struct worker;
static void fail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static double now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

/* ------------------------------------------------------------------ */
/* corpus                                                              */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fast, deterministic, good enough for filler */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static const char *const words[] = {
	"the",     "mail",    "filter",  "scanner", "message", "quarterly", "report", "attached",
	"please",  "review",  "meeting", "budget",  "project", "schedule",  "update", "thanks",
	"regards", "invoice", "delivery", "customer", "server",  "network",  "change", "release",
	"notes",   "draft",   "final",   "version", "team",    "office",    "monday", "friday",
};

/* build_text - CRLF lines of words, at least len bytes (cut at a line end) */
static char *build_text(size_t len, uint64_t seed, size_t *outlen)
{
	size_t cap = len + 128, n = 0;
	char *t = xmalloc(cap);
	uint64_t s = seed;
	while (n < len) {
		size_t line = 0;
		while (line < 66) {
			const char *w = words[rng_next(&s) % (sizeof(words) / sizeof(words[0]))];
			size_t wl = strlen(w);
			if (line > 0)
				t[n + line++] = ' ';
			memcpy(t + n + line, w, wl);
			line += wl;
		}
		t[n + line++] = '.';
		t[n + line++] = '\r';
		t[n + line++] = '\n';
		n += line;
	}
	*outlen = n;
	return t;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_line - encode 57 bytes into 76 characters plus CRLF (78 bytes) */
static void b64_line(const unsigned char *in, char *out)
{
	for (int i = 0; i < 19; i++) {
		uint32_t v = (uint32_t)in[3 * i] << 16 | (uint32_t)in[3 * i + 1] << 8 | in[3 * i + 2];
		out[4 * i] = b64chars[v >> 18 & 63];
		out[4 * i + 1] = b64chars[v >> 12 & 63];
		out[4 * i + 2] = b64chars[v >> 6 & 63];
		out[4 * i + 3] = b64chars[v & 63];
	}
	out[76] = '\r';
	out[77] = '\n';
}

/* Fixed overheads of the attach corpus besides the attachment, measured on a
 * sample so the total comes out close to --size. */
#define ATTACH_TEXT_TARGET 2048
#define B64_LINE 78
#define B64_RAW 57
#define B64_UNIQUE_LINES 2

static void corpus_init(void)
{
	if (opt.corpus == CORPUS_TEXT) {
		/* the headers and the unique first line take ~600 bytes */
		text_template = build_text(opt.size - 600, 0x9E3779B97F4A7C15ULL, &text_template_len);
		return;
	}
	text_template = build_text(ATTACH_TEXT_TARGET, 0x9E3779B97F4A7C15ULL, &text_template_len);
	attach_text_len = text_template_len;
	/* headers ~700, MIME framing ~400, text part ~2 KiB */
	size_t overhead = 1100 + attach_text_len;
	size_t b64_bytes = opt.size > overhead + 4 * B64_LINE ? opt.size - overhead : 4 * B64_LINE;
	size_t lines = b64_bytes / B64_LINE;
	if (lines < B64_UNIQUE_LINES + 1)
		lines = B64_UNIQUE_LINES + 1;
	b64_template_len = lines * B64_LINE;
	b64_template = xmalloc(b64_template_len);
	uint64_t s = 0xD1B54A32D192ED03ULL;
	unsigned char raw[B64_RAW];
	for (size_t l = 0; l < lines; l++) {
		for (size_t i = 0; i < B64_RAW; i++)
			raw[i] = (unsigned char)(rng_next(&s) >> 56);
		b64_line(raw, b64_template + l * B64_LINE);
	}
}

static bool msg_infected(unsigned long n)
{
	/* spread evenly: message n is infected when floor((n+1)*p/100) grows */
	return opt.eicar_pct > 0 &&
	       ((n + 1) * opt.eicar_pct) / 100 != (n * opt.eicar_pct) / 100;
}

struct header {
	char name[32];
	char value[256];
};
#define MAX_HEADERS 12

struct message {
	unsigned long n;
	bool infected;
	char qid[32];
	struct header hdr[MAX_HEADERS];
	size_t nhdr;
	char *body; /* CRLF, owned by the worker, reused */
	size_t body_len, body_cap;
};

static void add_header(struct message *m, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_header(struct message *m, const char *name, const char *fmt, ...)
{
	if (m->nhdr >= MAX_HEADERS)
		die("internal: too many headers");
	struct header *h = &m->hdr[m->nhdr++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(h->value, sizeof(h->value), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(h->value))
		die("internal: header %s too long", name);
}

static void body_put(struct message *m, const void *p, size_t len)
{
	if (m->body_len + len > m->body_cap)
		die("internal: body buffer too small (%zu + %zu > %zu)", m->body_len, len, m->body_cap);
	memcpy(m->body + m->body_len, p, len);
	m->body_len += len;
}

static void body_printf(struct message *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void body_printf(struct message *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(m->body + m->body_len, m->body_cap - m->body_len, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= m->body_cap - m->body_len)
		die("internal: body buffer too small");
	m->body_len += (size_t)r;
}

/* message_build - message n, unique in headers, first text line, boundary
 * and attachment start */
static void message_build(struct message *m, unsigned long n)
{
	if (m->body == NULL) {
		m->body_cap = text_template_len + b64_template_len + 4096;
		m->body = xmalloc(m->body_cap);
	}
	m->n = n;
	m->infected = msg_infected(n);
	m->nhdr = 0;
	m->body_len = 0;
	snprintf(m->qid, sizeof(m->qid), "%.12s%lX", opt.run_id, n);

	add_header(m, "Received",
		   "from bench-client.test (localhost [%s])\n\tby mx.bench.test (milterload) with ESMTP id %s\n\tfor <rcpt@bench.test>; Mon, 6 Jan 2025 10:00:00 +0000",
		   opt.client_ip, m->qid);
	add_header(m, "Date", "Mon, 6 Jan 2025 10:00:00 +0000");
	add_header(m, "From", "Bench Sender <sender@bench.test>");
	add_header(m, "To", "Bench Recipient <rcpt@bench.test>");
	add_header(m, "Subject", "milterload message %lu of run %s", n, opt.run_id);
	add_header(m, "Message-ID", "<%s.%lu@milterload.bench.test>", opt.run_id, n);
	add_header(m, "MIME-Version", "1.0");
	add_header(m, "X-Bench", "run=%s msg=%lu", opt.run_id, n);

	if (opt.corpus == CORPUS_TEXT) {
		add_header(m, "Content-Type", "text/plain; charset=us-ascii");
		add_header(m, "Content-Transfer-Encoding", "7bit");
		body_printf(m, "Message %lu of milterload run %s.\r\n", n, opt.run_id);
		if (m->infected)
			body_printf(m, "%s\r\n", EICAR);
		body_put(m, text_template, text_template_len);
		return;
	}

	char boundary[96];
	snprintf(boundary, sizeof(boundary), "=_milterload_%s_%lu", opt.run_id, n);
	add_header(m, "Content-Type", "multipart/mixed;\n\tboundary=\"%s\"", boundary);
	if (!opt.no_preamble)
		body_printf(m, "This is a multi-part message in MIME format.\r\n\r\n");
	body_printf(m, "--%s\r\n", boundary);
	body_printf(m, "Content-Type: text/plain; charset=us-ascii\r\n"
		       "Content-Transfer-Encoding: 7bit\r\n\r\n");
	body_printf(m, "Message %lu of milterload run %s.\r\n", n, opt.run_id);
	body_put(m, text_template, attach_text_len);
	body_printf(m, "\r\n--%s\r\n", boundary);
	body_printf(m, "Content-Type: application/octet-stream; name=\"report-%lu.bin\"\r\n"
		       "Content-Transfer-Encoding: base64\r\n"
		       "Content-Disposition: attachment; filename=\"report-%lu.bin\"\r\n\r\n",
		    n, n);
	/* the first 114 decoded bytes: EICAR or not, then the unique tag */
	unsigned char head[B64_UNIQUE_LINES * B64_RAW];
	memset(head, '.', sizeof(head));
	size_t off = 0;
	if (m->infected) {
		memcpy(head, EICAR, sizeof(EICAR) - 1);
		off = sizeof(EICAR) - 1;
	}
	char tag[64];
	int tl = snprintf(tag, sizeof(tag), "milterload %s %lu ", opt.run_id, n);
	if (tl < 0)
		die("internal: snprintf");
	memcpy(head + off, tag, (size_t)tl < sizeof(head) - off ? (size_t)tl : sizeof(head) - off);
	char line[B64_LINE];
	for (int l = 0; l < B64_UNIQUE_LINES; l++) {
		b64_line(head + l * B64_RAW, line);
		body_put(m, line, B64_LINE);
	}
	body_put(m, b64_template + B64_UNIQUE_LINES * B64_LINE,
		 b64_template_len - B64_UNIQUE_LINES * B64_LINE);
	body_printf(m, "\r\n--%s--\r\n", boundary);
}

/* message_size - the size of the message as an RFC 5322 file with CRLF */
static size_t message_size(const struct message *m)
{
	size_t s = m->body_len + 2;
	for (size_t i = 0; i < m->nhdr; i++) {
		s += strlen(m->hdr[i].name) + 2 + strlen(m->hdr[i].value) + 2;
		for (const char *v = m->hdr[i].value; *v; v++)
			s += *v == '\n'; /* LF becomes CRLF */
	}
	return s;
}

static void message_dump(const struct message *m)
{
	for (size_t i = 0; i < m->nhdr; i++) {
		printf("%s: ", m->hdr[i].name);
		for (const char *v = m->hdr[i].value; *v; v++) {
			if (*v == '\n')
				putchar('\r');
			putchar(*v);
		}
		fputs("\r\n", stdout);
	}
	fputs("\r\n", stdout);
	if (fwrite(m->body, 1, m->body_len, stdout) != m->body_len || fflush(stdout) != 0)
		die("writing the message: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* the wire                                                            */

struct worker {
	unsigned id;
	pthread_t thread;
	int fd;
	uint32_t pflags;     /* protocol flags the filter asked for */
	uint32_t fversion;   /* the filter's protocol version */
	unsigned on_conn;    /* messages run on the current connection */
	struct message msg;
	struct stats st;
	unsigned char *rbuf; /* MAX_REPLY */
	char *sbuf;          /* send scratch */
	size_t sbuf_cap;
	bool failed;
};

static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (pthread_mutex_lock(&report_lock) != 0)
		abort();
	fprintf(stderr, "milterload: FATAL (thread %u, message %lu): ", w->id, w->msg.n);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (pthread_mutex_unlock(&report_lock) != 0)
		abort();
	va_end(ap);
	w->failed = true;
	atomic_store(&stop_all, true);
}

/* send_all - write an iovec fully; false after reporting on error */
static bool send_all(struct worker *w, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
		ssize_t r = sendmsg(w->fd, &mh, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fail(w, "send: %s", errno == EAGAIN ? "timed out" : strerror(errno));
			return false;
		}
		size_t left = (size_t)r;
		while (iovcnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return true;
}

/* send_cmd - one milter packet: length, command, data */
static bool send_cmd(struct worker *w, char cmd, const void *data, size_t len)
{
	if (len + 1 > UINT32_MAX) {
		fail(w, "packet too long");
		return false;
	}
	unsigned char head[5];
	uint32_t be = htonl((uint32_t)(len + 1));
	memcpy(head, &be, 4);
	head[4] = (unsigned char)cmd;
	struct iovec iov[2] = {{head, 5}, {(void *)data, len}};
	return send_all(w, iov, len > 0 ? 2 : 1);
}

static bool recv_all(struct worker *w, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = recv(w->fd, (char *)buf + got, len - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fail(w, "recv: %s", errno == EAGAIN ? "timed out waiting for the filter" : strerror(errno));
			return false;
		}
		if (r == 0) {
			fail(w, "the filter closed the connection");
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

/* recv_reply - one packet from the filter; its data in w->rbuf */
static bool recv_reply(struct worker *w, char *cmd, size_t *len)
{
	unsigned char head[5];
	if (!recv_all(w, head, 5))
		return false;
	uint32_t be;
	memcpy(&be, head, 4);
	uint32_t plen = ntohl(be);
	if (plen < 1 || plen > MAX_REPLY) {
		fail(w, "bad reply length %" PRIu32, plen);
		return false;
	}
	*cmd = (char)head[4];
	*len = plen - 1;
	if (*len > 0 && !recv_all(w, w->rbuf, *len))
		return false;
	return true;
}

/* A small builder for NUL-separated argument data. */
static void sb_reset(struct worker *w, size_t *n)
{
	*n = 0;
	(void)w;
}
static void sb_add(struct worker *w, size_t *n, const void *p, size_t len)
{
	if (*n + len > w->sbuf_cap)
		die("internal: send buffer too small");
	memcpy(w->sbuf + *n, p, len);
	*n += len;
}
static void sb_str(struct worker *w, size_t *n, const char *s)
{
	sb_add(w, n, s, strlen(s) + 1);
}

/* macro - define macros for the next command: pairs of name, value */
static bool send_macros(struct worker *w, char for_cmd, const char *const *kv, size_t nkv)
{
	size_t n;
	sb_reset(w, &n);
	sb_add(w, &n, &for_cmd, 1);
	for (size_t i = 0; i < nkv; i++)
		sb_str(w, &n, kv[i]);
	return send_cmd(w, SMFIC_MACRO, w->sbuf, n);
}

/*
 * Reply handling. A step's reply is CONTINUE to go on; a final reply
 * (ACCEPT, REJECT, ...) ends the message early. Returns:
 *   1 go on, 0 the message ended (outcome recorded), -1 fatal.
 */
static int classify_final(struct worker *w, char cmd, size_t len, enum outcome *out)
{
	switch (cmd) {
	case SMFIR_ACCEPT:
		*out = OUT_ACCEPT;
		return 0;
	case SMFIR_CONTINUE:
		*out = OUT_CONTINUE;
		return 0;
	case SMFIR_REJECT:
		*out = OUT_REJECT;
		return 0;
	case SMFIR_DISCARD:
		*out = OUT_DISCARD;
		return 0;
	case SMFIR_TEMPFAIL:
		*out = OUT_TEMPFAIL;
		return 0;
	case SMFIR_REPLYCODE:
		if (len < 3) {
			fail(w, "REPLYCODE too short");
			return -1;
		}
		*out = w->rbuf[0] == '5' ? OUT_REPLY5 : w->rbuf[0] == '4' ? OUT_REPLY4 : OUT_OTHER;
		return 0;
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		*out = OUT_OTHER;
		return 0;
	default:
		return 1;
	}
}

static void note_unexpected(struct worker *w, const char *what, size_t len)
{
	unsigned long k = atomic_fetch_add(&unexpected_total, 1) + 1;
	if (k > 10)
		return;
	char text[200] = "";
	if (len > 0) {
		size_t l = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
		for (size_t i = 0; i < l; i++) {
			unsigned char c = w->rbuf[i];
			text[i] = c == 0 ? ' ' : (c < 0x20 || c > 0x7e) ? '?' : (char)c;
		}
		text[l] = '\0';
	}
	if (pthread_mutex_lock(&report_lock) != 0)
		abort();
	fprintf(stderr, "milterload: UNEXPECTED (message %lu, %s): %s%s%s\n", w->msg.n,
		w->msg.infected ? "EICAR" : "clean", what, text[0] ? ": " : "", text);
	if (pthread_mutex_unlock(&report_lock) != 0)
		abort();
}

/* step_reply - read the one reply to a step that expects one */
static int step_reply(struct worker *w, const char *step, enum outcome *out)
{
	for (;;) {
		char cmd;
		size_t len;
		if (!recv_reply(w, &cmd, &len))
			return -1;
		if (cmd == SMFIR_PROGRESS) {
			w->st.mod[MOD_PROGRESS]++;
			continue;
		}
		if (cmd == SMFIR_CONTINUE)
			return 1;
		if (cmd == SMFIR_SKIP && strcmp(step, "body") == 0) {
			w->st.mod[MOD_SKIP]++;
			return 2;
		}
		if (classify_final(w, cmd, len, out) == 0) {
			char what[96];
			snprintf(what, sizeof(what), "final reply '%c' (%s) at %s", cmd,
				 outcome_name[*out], step);
			note_unexpected(w, what, len);
			*out = OUT_EARLY;
			return 0;
		}
		fail(w, "unexpected reply '%c' (0x%02x) to %s", cmd, (unsigned char)cmd, step);
		return -1;
	}
}

/* step - send a command, then read its reply unless the filter waived it */
static int step(struct worker *w, char cmd, const void *data, size_t len, uint32_t nr_flag,
		const char *name, enum outcome *out)
{
	if (!send_cmd(w, cmd, data, len))
		return -1;
	if (w->pflags & nr_flag)
		return 1;
	return step_reply(w, name, out);
}

static bool conn_open(struct worker *w)
{
	w->fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0) {
		fail(w, "socket: %s", strerror(errno));
		return false;
	}
	struct timeval tv = {.tv_sec = (time_t)opt.timeout_s};
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		fail(w, "setsockopt: %s", strerror(errno));
		return false;
	}
	if (connect(w->fd, (struct sockaddr *)&target, target_len) != 0) {
		fail(w, "connect %s: %s", opt.socket_spec, strerror(errno));
		return false;
	}
	w->st.connections++;
	w->on_conn = 0;

	/* OPTNEG: version, actions, protocol flags */
	uint32_t neg[3] = {htonl(MILTER_VERSION), htonl(SMFIF_ALL), htonl(SMFIP_OFFERED)};
	if (!send_cmd(w, SMFIC_OPTNEG, neg, sizeof(neg)))
		return false;
	char cmd;
	size_t len;
	if (!recv_reply(w, &cmd, &len))
		return false;
	if (cmd != SMFIC_OPTNEG || len < 12) {
		fail(w, "bad OPTNEG reply '%c' length %zu", cmd, len);
		return false;
	}
	uint32_t v[3];
	memcpy(v, w->rbuf, sizeof(v));
	w->fversion = ntohl(v[0]);
	w->pflags = ntohl(v[2]);
	if (w->fversion < 2 || w->fversion > MILTER_VERSION) {
		fail(w, "filter speaks milter protocol version %" PRIu32, w->fversion);
		return false;
	}
	if (w->pflags & ~SMFIP_OFFERED) {
		fail(w, "filter asked for protocol flags we did not offer: 0x%" PRIx32,
		     w->pflags & ~SMFIP_OFFERED);
		return false;
	}
	return true;
}

static void conn_close(struct worker *w)
{
	if (w->fd < 0)
		return;
	if (!w->failed)
		(void)send_cmd(w, SMFIC_QUIT, NULL, 0);
	if (close(w->fd) != 0 && !w->failed)
		fail(w, "close: %s", strerror(errno));
	w->fd = -1;
}

/* conn_hello - CONNECT and HELO; 1 on, 0 the connection was refused, -1 fatal */
static int conn_hello(struct worker *w, enum outcome *out)
{
	size_t n;
	int r;
	const char *cmac[] = {"j", "mx.bench.test", "{daemon_name}", "milterload", "v", "milterload 1"};
	if (!send_macros(w, SMFIC_CONNECT, cmac, 6))
		return -1;
	if (!(w->pflags & SMFIP_NOCONNECT)) {
		sb_reset(w, &n);
		sb_str(w, &n, "bench-client.test");
		sb_add(w, &n, "4", 1);
		uint16_t port = htons(40000 + (uint16_t)w->id);
		sb_add(w, &n, &port, 2);
		sb_str(w, &n, opt.client_ip);
		if ((r = step(w, SMFIC_CONNECT, w->sbuf, n, SMFIP_NR_CONN, "connect", out)) != 1)
			return r;
	}
	if (!(w->pflags & SMFIP_NOHELO)) {
		sb_reset(w, &n);
		sb_str(w, &n, "bench-client.test");
		if ((r = step(w, SMFIC_HELO, w->sbuf, n, SMFIP_NR_HELO, "helo", out)) != 1)
			return r;
	}
	return 1;
}

/* run_message - one transaction; the outcome in *out; -1 fatal */
static int run_message(struct worker *w, enum outcome *out)
{
	struct message *m = &w->msg;
	size_t n;
	int r;

	const char *mmac[] = {"i", m->qid, "{mail_addr}", "sender@bench.test"};
	if (!send_macros(w, SMFIC_MAIL, mmac, 4))
		return -1;
	if (!(w->pflags & SMFIP_NOMAIL)) {
		sb_reset(w, &n);
		sb_str(w, &n, "<sender@bench.test>");
		sb_str(w, &n, "SIZE=1000");
		if ((r = step(w, SMFIC_MAIL, w->sbuf, n, SMFIP_NR_MAIL, "mail", out)) != 1)
			return r;
	}
	const char *rmac[] = {"{rcpt_addr}", "rcpt@bench.test"};
	if (!send_macros(w, SMFIC_RCPT, rmac, 2))
		return -1;
	if (!(w->pflags & SMFIP_NORCPT)) {
		sb_reset(w, &n);
		sb_str(w, &n, "<rcpt@bench.test>");
		if ((r = step(w, SMFIC_RCPT, w->sbuf, n, SMFIP_NR_RCPT, "rcpt", out)) != 1)
			return r;
	}
	if (w->fversion >= 4 && !(w->pflags & SMFIP_NODATA)) {
		if ((r = step(w, SMFIC_DATA, NULL, 0, SMFIP_NR_DATA, "data", out)) != 1)
			return r;
	}
	if (!(w->pflags & SMFIP_NOHDRS)) {
		for (size_t i = 0; i < m->nhdr; i++) {
			sb_reset(w, &n);
			sb_str(w, &n, m->hdr[i].name);
			if (w->pflags & SMFIP_HDR_LEADSPC)
				sb_add(w, &n, " ", 1);
			sb_str(w, &n, m->hdr[i].value); /* folded with bare LF, as Postfix */
			if ((r = step(w, SMFIC_HEADER, w->sbuf, n, SMFIP_NR_HDR, "header", out)) != 1)
				return r;
		}
	}
	if (!(w->pflags & SMFIP_NOEOH)) {
		if ((r = step(w, SMFIC_EOH, NULL, 0, SMFIP_NR_EOH, "eoh", out)) != 1)
			return r;
	}
	if (!(w->pflags & SMFIP_NOBODY)) {
		for (size_t off = 0; off < m->body_len;) {
			size_t len = m->body_len - off < MILTER_CHUNK ? m->body_len - off : MILTER_CHUNK;
			r = step(w, SMFIC_BODY, m->body + off, len, SMFIP_NR_BODY, "body", out);
			if (r == 2)
				break; /* SKIP: no more body wanted */
			if (r != 1)
				return r;
			off += len;
		}
	}
	const char *emac[] = {"i", m->qid};
	if (!send_macros(w, SMFIC_BODYEOB, emac, 2))
		return -1;
	if (!send_cmd(w, SMFIC_BODYEOB, NULL, 0))
		return -1;
	/* modifications, then one final reply */
	for (;;) {
		char cmd;
		size_t len;
		if (!recv_reply(w, &cmd, &len))
			return -1;
		switch (cmd) {
		case SMFIR_ADDHEADER: w->st.mod[MOD_ADDHDR]++; continue;
		case SMFIR_INSHEADER: w->st.mod[MOD_INSHDR]++; continue;
		case SMFIR_CHGHEADER: w->st.mod[MOD_CHGHDR]++; continue;
		case SMFIR_REPLBODY: w->st.mod[MOD_REPLBODY]++; continue;
		case SMFIR_ADDRCPT:
		case SMFIR_ADDRCPT_PAR: w->st.mod[MOD_ADDRCPT]++; continue;
		case SMFIR_DELRCPT: w->st.mod[MOD_DELRCPT]++; continue;
		case SMFIR_CHGFROM: w->st.mod[MOD_CHGFROM]++; continue;
		case SMFIR_QUARANTINE: w->st.mod[MOD_QUARANTINE]++; continue;
		case SMFIR_PROGRESS: w->st.mod[MOD_PROGRESS]++; continue;
		default: break;
		}
		if (classify_final(w, cmd, len, out) == 0) {
			bool ok = m->infected ? (*out == OUT_REJECT || *out == OUT_REPLY5 || *out == OUT_DISCARD)
					      : (*out == OUT_ACCEPT || *out == OUT_CONTINUE);
			if (!ok) {
				char what[96];
				snprintf(what, sizeof(what), "end of message: '%c' (%s)", cmd,
					 outcome_name[*out]);
				note_unexpected(w, what, len);
			}
			return 0;
		}
		fail(w, "unexpected reply '%c' (0x%02x) at end of message", cmd, (unsigned char)cmd);
		return -1;
	}
}

static double elapsed_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (double)(ts.tv_sec - run_start.tv_sec) + (double)(ts.tv_nsec - run_start.tv_nsec) / 1e9;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->fd = -1;
	while (!atomic_load(&stop_all)) {
		if (opt.max_time_s > 0 && elapsed_s() >= opt.max_time_s)
			break;
		unsigned long n = atomic_fetch_add(&next_msg, 1);
		if (n >= opt.messages)
			break;
		message_build(&w->msg, n);
		double t0 = now_ms();
		enum outcome out = OUT_OTHER;
		if (w->fd < 0) {
			if (!conn_open(w))
				break;
			int r = conn_hello(w, &out);
			if (r < 0)
				break;
			if (r == 0) { /* refused at connect or HELO */
				w->st.outcome[out]++;
				w->st.infected_sent += w->msg.infected;
				w->st.done++;
				latency_ms[n] = now_ms() - t0;
				conn_close(w);
				continue;
			}
		}
		int r = run_message(w, &out);
		if (r < 0)
			break;
		latency_ms[n] = now_ms() - t0;
		w->st.outcome[out]++;
		w->st.infected_sent += w->msg.infected;
		w->st.done++;
		if (out == OUT_EARLY) {
			/* the transaction was cut short: abort it, as an MTA would */
			if (!send_cmd(w, SMFIC_ABORT, NULL, 0))
				break;
		}
		if (++w->on_conn >= opt.per_conn)
			conn_close(w);
	}
	conn_close(w);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* setup and report                                                    */

static void parse_target(const char *spec)
{
	memset(&target, 0, sizeof(target));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0 || spec[0] == '/') {
		const char *path = spec[0] == '/' ? spec : strchr(spec, ':') + 1;
		struct sockaddr_un *sun = (struct sockaddr_un *)&target;
		if (strlen(path) >= sizeof(sun->sun_path))
			die("socket path too long: %s", path);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		target_len = sizeof(*sun);
		return;
	}
	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
		bool six = spec[4] == '6';
		const char *p = spec + (six ? 6 : 5);
		const char *at = strchr(p, '@');
		if (at == NULL)
			die("socket %s: expected inet:PORT@ADDRESS", spec);
		char *end;
		errno = 0;
		unsigned long port = strtoul(p, &end, 10);
		if (errno != 0 || end != at || port == 0 || port > 65535)
			die("socket %s: bad port", spec);
		const char *addr = at + 1;
		if (!six) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&target;
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			if (strcmp(addr, "localhost") == 0)
				addr = "127.0.0.1";
			if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
				die("socket %s: bad IPv4 address", spec);
			if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
				die("socket %s: only loopback (127.0.0.0/8) targets are allowed", spec);
			target_len = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&target;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)port);
			if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
				die("socket %s: bad IPv6 address", spec);
			if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
				die("socket %s: only the loopback (::1) target is allowed", spec);
			target_len = sizeof(*sin6);
		}
		return;
	}
	die("socket %s: expected unix:/path or inet:PORT@127.0.0.1", spec);
}

static unsigned long parse_num(const char *s, const char *what, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	unsigned long mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1024 * 1024, end++;
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max / mult)
		die("bad %s: %s", what, s);
	return v * mult;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	/* nearest rank */
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void usage(FILE *f)
{
	fputs("usage: milterload --socket unix:/path|inet:PORT@127.0.0.1 [--concurrency N]\n"
	      "                  [--messages M] [--per-conn K] [--corpus text|attach]\n"
	      "                  [--size BYTES[k|m]] [--eicar PCT] [--run-id ID]\n"
	      "                  [--client-ip A.B.C.D] [--timeout S] [--max-time S] [--quiet]\n"
	      "                  [--no-preamble]\n"
	      "       milterload --dump N [--corpus ...] [--size ...] [--eicar ...] [--run-id ID]\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"concurrency", required_argument, NULL, 'c'},
		{"messages", required_argument, NULL, 'n'},
		{"per-conn", required_argument, NULL, 'k'},
		{"corpus", required_argument, NULL, 'C'},
		{"size", required_argument, NULL, 'z'},
		{"eicar", required_argument, NULL, 'e'},
		{"run-id", required_argument, NULL, 'r'},
		{"client-ip", required_argument, NULL, 'i'},
		{"timeout", required_argument, NULL, 't'},
		{"max-time", required_argument, NULL, 'T'},
		{"dump", required_argument, NULL, 'D'},
		{"quiet", no_argument, NULL, 'q'},
		{"no-preamble", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	bool have_run_id = false;
	while ((c = getopt_long(argc, argv, "s:c:n:k:C:z:e:r:i:t:T:D:qh", lopts, NULL)) != -1) {
		switch (c) {
		case 's': opt.socket_spec = optarg; break;
		case 'c': opt.concurrency = (unsigned)parse_num(optarg, "concurrency", 1024); break;
		case 'n': opt.messages = parse_num(optarg, "messages", 100000000UL); break;
		case 'k': opt.per_conn = (unsigned)parse_num(optarg, "per-conn", 1000000); break;
		case 'C':
			if (strcmp(optarg, "text") == 0)
				opt.corpus = CORPUS_TEXT;
			else if (strcmp(optarg, "attach") == 0)
				opt.corpus = CORPUS_ATTACH;
			else
				die("bad corpus %s (text or attach)", optarg);
			break;
		case 'z': opt.size = parse_num(optarg, "size", 64UL * 1024 * 1024); break;
		case 'e': opt.eicar_pct = (unsigned)parse_num(optarg, "eicar percentage", 100); break;
		case 'r':
			if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(opt.run_id) ||
			    strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") !=
				    strlen(optarg))
				die("bad run id %s (letters, digits, '-', at most %zu)", optarg,
				    sizeof(opt.run_id) - 1);
			strcpy(opt.run_id, optarg);
			have_run_id = true;
			break;
		case 'i': {
			struct in_addr a;
			if (inet_pton(AF_INET, optarg, &a) != 1)
				die("bad client IPv4 address %s", optarg);
			snprintf(opt.client_ip, sizeof(opt.client_ip), "%s", optarg);
			break;
		}
		case 't': opt.timeout_s = (unsigned)parse_num(optarg, "timeout", 3600); break;
		case 'T': opt.max_time_s = (unsigned)parse_num(optarg, "max-time", 86400); break;
		case 'D': opt.dump = (long)parse_num(optarg, "dump", 100000000UL); break;
		case 'q': opt.quiet = true; break;
		case 'P': opt.no_preamble = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (opt.concurrency < 1 || opt.messages < 1 || opt.per_conn < 1 || opt.timeout_s < 1)
		die("concurrency, messages, per-conn and timeout must be at least 1");
	if (opt.size < 512)
		die("size must be at least 512 bytes");
	if (!have_run_id) {
		struct timespec ts;
		if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
			die("clock_gettime: %s", strerror(errno));
		snprintf(opt.run_id, sizeof(opt.run_id), "%llx%05x",
			 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000,
			 (unsigned)getpid() & 0xfffff);
	}

	corpus_init();

	if (opt.dump >= 0) {
		struct message m = {0};
		message_build(&m, (unsigned long)opt.dump);
		message_dump(&m);
		free(m.body);
		return 0;
	}
	if (opt.socket_spec == NULL) {
		usage(stderr);
		return 2;
	}
	parse_target(opt.socket_spec);

	latency_ms = xmalloc(opt.messages * sizeof(double));
	for (unsigned long i = 0; i < opt.messages; i++)
		latency_ms[i] = -1;
	struct worker *ws = calloc(opt.concurrency, sizeof(*ws));
	if (ws == NULL)
		die("out of memory");

	struct message sample = {0};
	message_build(&sample, 0);
	size_t msg_size = message_size(&sample);
	free(sample.body);

	struct rusage ru0, ru1;
	if (getrusage(RUSAGE_SELF, &ru0) != 0)
		die("getrusage: %s", strerror(errno));
	if (clock_gettime(CLOCK_MONOTONIC, &run_start) != 0)
		die("clock_gettime: %s", strerror(errno));
	for (unsigned i = 0; i < opt.concurrency; i++) {
		ws[i].id = i;
		ws[i].rbuf = xmalloc(MAX_REPLY);
		ws[i].sbuf_cap = 4096;
		ws[i].sbuf = xmalloc(ws[i].sbuf_cap);
		int e = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
		if (e != 0)
			die("pthread_create: %s", strerror(e));
	}
	struct stats total = {0};
	bool failed = false;
	for (unsigned i = 0; i < opt.concurrency; i++) {
		int e = pthread_join(ws[i].thread, NULL);
		if (e != 0)
			die("pthread_join: %s", strerror(e));
		for (int k = 0; k < OUT_N; k++)
			total.outcome[k] += ws[i].st.outcome[k];
		for (int k = 0; k < MOD_N; k++)
			total.mod[k] += ws[i].st.mod[k];
		total.infected_sent += ws[i].st.infected_sent;
		total.connections += ws[i].st.connections;
		total.done += ws[i].st.done;
		failed |= ws[i].failed;
		free(ws[i].rbuf);
		free(ws[i].sbuf);
		free(ws[i].msg.body);
	}
	double wall = elapsed_s();
	if (getrusage(RUSAGE_SELF, &ru1) != 0)
		die("getrusage: %s", strerror(errno));
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
			      ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
			      ru0.ru_stime.tv_usec) / 1e6;

	double *lat = xmalloc((total.done ? total.done : 1) * sizeof(double));
	size_t nl = 0;
	for (unsigned long i = 0; i < opt.messages; i++)
		if (latency_ms[i] >= 0 && nl < total.done)
			lat[nl++] = latency_ms[i];
	qsort(lat, nl, sizeof(double), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < nl; i++)
		sum += lat[i];
	bool truncated = total.done < opt.messages && !failed;
	unsigned long unexpected = atomic_load(&unexpected_total);

	if (!opt.quiet) {
		printf("target      %s, %u connection(s), %u message(s) per connection\n", opt.socket_spec,
		       opt.concurrency, opt.per_conn);
		printf("corpus      %s, ~%zu bytes per message (message 0: %zu), %u%% EICAR, run id %s\n",
		       opt.corpus == CORPUS_TEXT ? "text" : "attach", opt.size, msg_size, opt.eicar_pct,
		       opt.run_id);
		printf("done        %lu of %lu messages in %.3f s over %lu connection(s)%s\n", total.done,
		       opt.messages, wall, total.connections, truncated ? " (max-time reached)" : "");
		printf("throughput  %.1f messages/s, %.2f MB/s\n", total.done / wall,
		       total.done * (double)msg_size / wall / 1e6);
		printf("latency ms  mean %.2f  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n",
		       nl ? sum / (double)nl : 0, percentile(lat, nl, 50), percentile(lat, nl, 95),
		       percentile(lat, nl, 99), nl ? lat[nl - 1] : 0);
		printf("outcomes   ");
		for (int k = 0; k < OUT_N; k++)
			if (total.outcome[k])
				printf(" %s=%lu", outcome_name[k], total.outcome[k]);
		printf("  (EICAR sent: %lu)\n", total.infected_sent);
		printf("changes    ");
		for (int k = 0; k < MOD_N; k++)
			if (total.mod[k])
				printf(" %s=%lu", mod_name[k], total.mod[k]);
		printf("\nclient cpu  %.3f s (%.3f ms per message)\n", cpu,
		       total.done ? cpu * 1e3 / (double)total.done : 0);
	}
	printf("RESULT status=%s msgs=%lu wall_s=%.3f mps=%.1f mean_ms=%.3f p50_ms=%.3f p95_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f client_cpu_s=%.3f size=%zu conc=%u unexpected=%lu",
	       failed ? "FATAL" : unexpected ? "UNEXPECTED" : truncated ? "TRUNCATED" : "ok", total.done,
	       wall, total.done / wall, nl ? sum / (double)nl : 0, percentile(lat, nl, 50),
	       percentile(lat, nl, 95), percentile(lat, nl, 99), nl ? lat[nl - 1] : 0, cpu, msg_size,
	       opt.concurrency, unexpected);
	for (int k = 0; k < OUT_N; k++)
		printf(" %s=%lu", outcome_name[k], total.outcome[k]);
	for (int k = 0; k < MOD_N; k++)
		printf(" %s=%lu", mod_name[k], total.mod[k]);
	printf(" eicar_sent=%lu\n", total.infected_sent);
	if (fflush(stdout) != 0)
		die("stdout: %s", strerror(errno));
	free(lat);
	free(latency_ms);
	free(ws);
	free(text_template);
	free(b64_template);
	if (failed)
		return 2;
	if (unexpected) {
		fprintf(stderr, "milterload: FAIL: %lu unexpected repl%s (the first ones are shown above)\n",
			unexpected, unexpected == 1 ? "y" : "ies");
		return 1;
	}
	return 0;
}
