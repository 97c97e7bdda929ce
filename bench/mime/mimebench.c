/*
 * mimebench - throughput of klaxon's MIME parser (parse + decode + SHA-256)
 * on attachment-heavy mail, next to memcpy of the same bytes in the same run.
 *
 * The corpus is generated in memory from a fixed seed: N messages, each a
 * multipart/mixed with a quoted-printable text part (2-20 KB) and 1-5
 * base64 attachments (random bytes, sizes log-uniform between 50 KB and
 * 2 MB, 76-column CRLF lines, as mail clients write them). Each message is
 * fed to the parser in chunks (64 KB by default, libmilter's body chunk
 * size), with the default view and roomy limits. Every iteration times:
 *
 *	memcpy        each message copied into a buffer of its size
 *	base64 only   decode_b64_update over each attachment's base64 text
 *	sha256 only   EVP SHA-256 over each attachment's decoded bytes
 *	mime parse    mime_parser_new/feed/finish/mime_message_free
 *
 * and reports MB/s of message input (1 MB = 10^6 bytes); the figures for
 * "base64 only" and "sha256 only" are per byte of the whole corpus too, so
 * the four columns compare directly. The parse result is checked against
 * the corpus (part count, sizes, and no flag but MIME_PREAMBLE_CONTENT,
 * which the usual "This is a multi-part message" preamble sets), so a
 * broken parser cannot look fast.
 *
 * Usage: mimebench [-n messages] [-i iterations] [-c chunk] [-s seed]
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "decode.h"
#include "mime.h"

struct bench_att {
	size_t off, len;   /* the base64 text inside the message */
	size_t decoded;    /* its decoded size */
};

struct bench_msg {
	char *buf;
	size_t len;
	struct bench_att att[5];
	int natt;
	size_t text_len;   /* decoded size of the QP part */
};

static uint64_t bench_rng = 88172645463325252ull;

/* bench_rand - xorshift64 */
static uint64_t bench_rand(void)
{
	bench_rng ^= bench_rng << 13;
	bench_rng ^= bench_rng >> 7;
	bench_rng ^= bench_rng << 17;
	return bench_rng;
}

static double bench_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* bench_append - printf onto the message under construction */
static void bench_append(struct bench_msg *m, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bench_append(struct bench_msg *m, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(m->buf + m->len, *cap - m->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - m->len) {
			m->len += (size_t)n;
			return;
		}
		*cap *= 2;
		if ((m->buf = realloc(m->buf, *cap)) == NULL) {
			perror("realloc");
			exit(2);
		}
	}
}

/* bench_make - one message of the corpus */
static void bench_make(struct bench_msg *m, int idx)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t cap = 1 << 16;

	memset(m, 0, sizeof(*m));
	if ((m->buf = malloc(cap)) == NULL) {
		perror("malloc");
		exit(2);
	}
	bench_append(m, &cap,
		     "Return-Path: <sender%d@example.org>\r\n"
		     "Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
		     "\tby mail.example.net with ESMTPS id %08x; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		     "From: Sender %d <sender%d@example.org>\r\n"
		     "To: rcpt@example.net\r\n"
		     "Subject: quarterly figures %d\r\n"
		     "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		     "Message-ID: <%d.%08x@example.org>\r\n"
		     "MIME-Version: 1.0\r\n"
		     "Content-Type: multipart/mixed; boundary=\"----=_Part_%d_%08x\"\r\n"
		     "\r\n"
		     "This is a multi-part message in MIME format.\r\n",
		     idx, (unsigned)bench_rand(), idx, idx, idx, idx, (unsigned)bench_rand(), idx,
		     (unsigned)idx * 7919u);

	/* The text part: words with some escapes, soft-broken at 76 columns. */
	bench_append(m, &cap,
		     "------=_Part_%d_%08x\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		     idx, (unsigned)idx * 7919u);
	size_t want = 2000 + bench_rand() % 18000, col = 0;
	while (m->text_len < want) {
		static const char *words[] = {"the", "figures", "for", "Q3", "caf=C3=A9", "are",
					      "attached", "na=C3=AFve", "r=C3=A9sum=C3=A9", "see"};
		const char *w = words[bench_rand() % 10];
		size_t wl = strlen(w);
		if (col + wl + 1 > 75) {
			bench_append(m, &cap, "=\r\n");
			col = 0;
		}
		bench_append(m, &cap, "%s ", w);
		col += wl + 1;
		/* decoded length: each "=XX" is one byte */
		size_t d = 0;
		for (size_t i = 0; i < wl; i++, d++)
			if (w[i] == '=')
				i += 2;
		m->text_len += d + 1;
	}
	bench_append(m, &cap, "\r\n");
	/* The last word's trailing space is stripped by QP (rule 3); the last line's CRLF
	 * belongs to the boundary. */
	m->text_len -= 1;

	m->natt = 1 + (int)(bench_rand() % 5);
	for (int k = 0; k < m->natt; k++) {
		double lo = log(50e3), hi = log(2e6);
		size_t n = (size_t)exp(lo + (hi - lo) * (double)(bench_rand() % 1000000) / 1e6);
		bench_append(m, &cap,
			     "------=_Part_%d_%08x\r\n"
			     "Content-Type: application/octet-stream; name=\"data%d.bin\"\r\n"
			     "Content-Transfer-Encoding: base64\r\n"
			     "Content-Disposition: attachment; filename=\"data%d.bin\"\r\n\r\n",
			     idx, (unsigned)idx * 7919u, k, k);
		size_t need = m->len + n / 57 * 78 + 200;
		if (need > cap) {
			while (cap < need)
				cap *= 2;
			if ((m->buf = realloc(m->buf, cap)) == NULL) {
				perror("realloc");
				exit(2);
			}
		}
		m->att[k].off = m->len;
		m->att[k].decoded = n;
		char *o = m->buf + m->len;
		for (size_t i = 0; i < n; i += 3) {
			uint64_t r = bench_rand();
			uint32_t v = (uint32_t)r & 0xffffff;
			size_t left = n - i;
			o[0] = a[v >> 18 & 63];
			o[1] = a[v >> 12 & 63];
			o[2] = left > 1 ? a[v >> 6 & 63] : '=';
			o[3] = left > 2 ? a[v & 63] : '=';
			o += 4;
			if ((i / 3 + 1) % 19 == 0 || i + 3 >= n) {
				*o++ = '\r';
				*o++ = '\n';
			}
		}
		m->len = (size_t)(o - m->buf);
		m->att[k].len = m->len - m->att[k].off;
	}
	bench_append(m, &cap, "------=_Part_%d_%08x--\r\n", idx, (unsigned)idx * 7919u);
}

/* bench_check - the parse must find what the corpus holds */
static void bench_check(const struct mime_message *mm, const struct bench_msg *m, int idx)
{
	/* The usual "This is a multi-part message" preamble sets MIME_PREAMBLE_CONTENT. */
	int bad = mm->nparts != (size_t)(2 + m->natt) || mm->flags != MIME_PREAMBLE_CONTENT ||
		  mm->parts[1].size != m->text_len;
	for (int k = 0; !bad && k < m->natt; k++)
		bad = mm->parts[2 + k].size != m->att[k].decoded;
	if (bad) {
		char fl[256];
		mime_flags_format(mm->flags, fl, sizeof(fl));
		fprintf(stderr, "mimebench: message %d parsed wrong: %zu parts, flags [%s], text %zu/%zu\n",
			idx, mm->nparts, fl, mm->parts[1].size, m->text_len);
		exit(1);
	}
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int nmsg = 200, iters = 5, c;
	size_t chunk = 65536;
	while ((c = getopt(argc, argv, "n:i:c:s:")) != -1) {
		switch (c) {
		case 'n':
			nmsg = atoi(optarg);
			break;
		case 'i':
			iters = atoi(optarg);
			break;
		case 'c':
			chunk = (size_t)atol(optarg);
			break;
		case 's':
			bench_rng = strtoull(optarg, NULL, 0) | 1;
			break;
		default:
			fprintf(stderr, "usage: mimebench [-n messages] [-i iterations] [-c chunk] [-s seed]\n");
			return 2;
		}
	}
	if (nmsg < 1 || iters < 1 || chunk < 1) {
		fprintf(stderr, "mimebench: -n, -i and -c must be positive\n");
		return 2;
	}

	struct bench_msg *msgs = calloc((size_t)nmsg, sizeof(*msgs));
	size_t total = 0, maxlen = 0, natt = 0, attbytes = 0;
	for (int i = 0; i < nmsg; i++) {
		bench_make(&msgs[i], i);
		total += msgs[i].len;
		if (msgs[i].len > maxlen)
			maxlen = msgs[i].len;
		natt += (size_t)msgs[i].natt;
		for (int k = 0; k < msgs[i].natt; k++)
			attbytes += msgs[i].att[k].decoded;
	}
	printf("corpus: %d messages, %zu attachments, %.1f MB input, %.1f MB decoded attachments, "
	       "chunk %zu, %d iterations\n",
	       nmsg, natt, (double)total / 1e6, (double)attbytes / 1e6, chunk, iters);

	char *copy = malloc(maxlen);
	unsigned char *dec = malloc(DECODE_B64_MAX(maxlen));
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	struct mime_limits lim = {.max_depth = 20, .max_parts = 1000, .max_header_length = 65536,
				  .max_line_length = 1 << 20, .max_decoded_size = 1ull << 30};
	double *t[4];
	for (int k = 0; k < 4; k++)
		t[k] = calloc((size_t)iters, sizeof(double));
	if (copy == NULL || dec == NULL || sha == NULL || t[3] == NULL) {
		perror("malloc");
		return 2;
	}
	/* Decoded attachments for the SHA-256 column, made once. */
	unsigned char **plain = calloc(natt, sizeof(*plain));
	size_t *plainlen = calloc(natt, sizeof(*plainlen));
	for (int i = 0, j = 0; i < nmsg; i++)
		for (int k = 0; k < msgs[i].natt; k++, j++) {
			struct decode_b64 b;
			plain[j] = malloc(DECODE_B64_MAX(msgs[i].att[k].len));
			decode_b64_init(&b, false);
			plainlen[j] = decode_b64_update(&b, msgs[i].buf + msgs[i].att[k].off,
							msgs[i].att[k].len, plain[j]);
			plainlen[j] += decode_b64_final(&b, plain[j] + plainlen[j]);
			if (plainlen[j] != msgs[i].att[k].decoded || b.flags) {
				fprintf(stderr, "mimebench: corpus base64 does not decode\n");
				return 1;
			}
		}

	printf("\n%-5s %12s %14s %14s %14s\n", "iter", "memcpy MB/s", "base64 MB/s", "sha256 MB/s",
	       "parse MB/s");
	for (int it = 0; it < iters; it++) {
		double t0 = bench_now();
		for (int i = 0; i < nmsg; i++) {
			memcpy(copy, msgs[i].buf, msgs[i].len);
			__asm__ volatile("" : : "r"(copy) : "memory");
		}
		double t1 = bench_now();
		for (int i = 0; i < nmsg; i++)
			for (int k = 0; k < msgs[i].natt; k++) {
				struct decode_b64 b;
				decode_b64_init(&b, false);
				(void)decode_b64_update(&b, msgs[i].buf + msgs[i].att[k].off,
							msgs[i].att[k].len, dec);
				__asm__ volatile("" : : "r"(dec) : "memory");
			}
		double t2 = bench_now();
		for (size_t j = 0; j < natt; j++) {
			unsigned char h[32];
			EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
			EVP_DigestUpdate(sha, plain[j], plainlen[j]);
			EVP_DigestFinal_ex(sha, h, NULL);
		}
		double t3 = bench_now();
		for (int i = 0; i < nmsg; i++) {
			struct mime_parser *p = mime_parser_new(&lim, NULL);
			for (size_t off = 0; off < msgs[i].len; off += chunk) {
				size_t n = msgs[i].len - off < chunk ? msgs[i].len - off : chunk;
				if (mime_parser_feed(p, msgs[i].buf + off, n) != 0) {
					fprintf(stderr, "mimebench: out of memory\n");
					return 2;
				}
			}
			struct mime_message *m = mime_parser_finish(p);
			if (m == NULL) {
				fprintf(stderr, "mimebench: out of memory\n");
				return 2;
			}
			if (it == 0)
				bench_check(m, &msgs[i], i);
			mime_message_free(m);
		}
		double t4 = bench_now();
		t[0][it] = (double)total / (t1 - t0) / 1e6;
		t[1][it] = (double)total / (t2 - t1) / 1e6;
		t[2][it] = (double)total / (t3 - t2) / 1e6;
		t[3][it] = (double)total / (t4 - t3) / 1e6;
		printf("%-5d %12.0f %14.0f %14.0f %14.0f\n", it + 1, t[0][it], t[1][it], t[2][it],
		       t[3][it]);
	}
	for (int k = 0; k < 4; k++)
		qsort(t[k], (size_t)iters, sizeof(double), bench_cmp);
	printf("%-5s %12.0f %14.0f %14.0f %14.0f\n", "median", t[0][iters / 2], t[1][iters / 2],
	       t[2][iters / 2], t[3][iters / 2]);
	printf("%-5s %12.0f %14.0f %14.0f %14.0f\n", "best", t[0][iters - 1], t[1][iters - 1],
	       t[2][iters - 1], t[3][iters - 1]);
	printf("\nparse = mime_parser_new + feed (%zu-byte chunks) + finish + free: line splitting,\n"
	       "headers, boundaries, QP and base64 decoding into part buffers, SHA-256 of every leaf.\n"
	       "All columns are MB/s of message input (10^6 bytes), one thread.\n",
	       chunk);

	for (size_t j = 0; j < natt; j++)
		free(plain[j]);
	free(plain);
	free(plainlen);
	for (int i = 0; i < nmsg; i++)
		free(msgs[i].buf);
	free(msgs);
	free(copy);
	free(dec);
	for (int k = 0; k < 4; k++)
		free(t[k]);
	EVP_MD_CTX_free(sha);
	return 0;
}
