/*
 * gen_outbreak - fill a quarantine directory with an outbreak day: many
 * copies of one worm (the Sobig.F day of August 2003: about 500 copies per
 * person) and a few hundred singular items a person may want back.
 *
 * SYNOPSIS
 *	gen_outbreak --dir DIR [--copies 250000] [--rcpts 500] [--singular 500]
 *	             [--seed N] [--end EPOCH] [--span SECONDS] [--manifest FILE]
 *
 * DESCRIPTION
 *	Writes --copies entries of class virus, virus "Worm.Sobig.F", one
 *	payload hash, forged senders (drawn from a pool of 1,200, as a worm
 *	draws them from the address books it found), nine in ten from outside
 *	and one in ten from an internal host, each to one of --rcpts
 *	recipients user000@example.org ... at random; then --singular items
 *	spread over the same recipients: banned attachments (class banned,
 *	each its own payload), ambiguous messages (class ambiguous, MIME
 *	anomaly flags, no payload) and policy holds (class policy). One in 25
 *	singular items has a hostile subject (markup, quotes, '&', an escape
 *	character). Times are uniform over [end - span, end]; the defaults
 *	are the day that ends ten minutes ago, so `klaxon digest` (which
 *	stops one minute before now) sees every item.
 *
 *	The entries are written in the documented .kq format (quarantine.h)
 *	directly, NOT through quarantine_store(): each file is created with
 *	O_EXCL and mode 0600 and written whole, but without fsync of the file
 *	or the directory. That is what makes 250,000 entries take seconds
 *	rather than the many minutes two fsyncs each would take; it is test
 *	data, and a crash during generation only means generating it again.
 *	Ids have the documented form, the time of the entry and 16 hex digits
 *	that are a bijection of (seed, sequence number), so they never repeat.
 *
 *	--manifest writes what a checker needs to know, one record a line,
 *	tab-separated:
 *	    worm    <rcpt> <copies>
 *	    single  <rcpt> <id> <class> <hostile: 0|1>
 *
 *	Exit status 0, 1 on a failed system call (named on stderr), 2 on a
 *	usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GEN_SENDER_POOL 1200
#define GEN_WORM "Worm.Sobig.F"
/* A stand-in for the worm's SHA-256: one value, so every copy has the same payload. */
#define GEN_WORM_PAYLOAD "5f3c9a1d2e7b4c8a90f1e2d3c4b5a6978877665544332211aabbccddeeff0011"

struct gen_opts {
	const char *dir, *manifest;
	unsigned long copies, rcpts, singular;
	uint64_t seed;
	time_t end, span;
};

struct gen {
	struct gen_opts o;
	uint64_t rng, seq;
	unsigned long *worm_count;     /* per recipient */
	FILE *manifest;
};

/* One entry's fields, before they are written. */
struct gen_entry {
	const char *class, *origin, *client_addr, *client_name, *helo, *auth_user;
	const char *subject, *virus, *banned, *flag, *payload, *reason, *filename;
	char sender[96], rcpt[64];
	time_t when;
};

static const char *const worm_subjects[] = {
	"Re: Details", "Re: Approved", "Re: Re: My details", "Re: Thank you!", "Re: That movie",
	"Re: Wicked screensaver", "Re: Your application", "Thank you!", "Your details",
};
static const char *const worm_files[] = {
	"details.pif", "application.pif", "document_9446.pif", "movie0045.pif",
	"thank_you.pif", "your_details.pif", "your_document.pif", "wicked_scr.scr",
};
static const char *const first_names[] = {
	"anna", "bernd", "carla", "dieter", "emma", "felix", "greta", "hans", "ida", "jonas",
	"klara", "lukas", "mia", "noah", "olga", "paul", "quinn", "rosa", "sven", "tina",
};
static const char *const domains[] = {
	"example.com", "example.net", "mail.example.co.uk", "isp.example", "corp.example",
	"uni.example.edu",
};
static const char hostile_subject[] =
	"<script>alert('digest')</script> & \"quoted\" \x1b[31mred";

/* gen_next - splitmix64: small, fast, and a bijection of its state */
static uint64_t gen_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* gen_below - a uniform-enough number in [0, n) */
static unsigned long gen_below(struct gen *g, unsigned long n)
{
	return (unsigned long)(gen_next(&g->rng) % n);
}

/* gen_put_value - percent-encode '%', controls and DEL, as quarantine.h says */
static void gen_put_value(FILE *fp, const char *key, const char *value)
{
	fprintf(fp, "%s: ", key);
	for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++) {
		if (*p == '%' || *p < 0x20 || *p == 0x7f)
			fprintf(fp, "%%%02X", *p);
		else
			fputc(*p, fp);
	}
	fputc('\n', fp);
}

/* gen_id - "YYYYMMDDTHHMMSSZ-<16 hex>", unique per (seed, sequence) */
static void gen_id(struct gen *g, time_t when, char *id, size_t len)
{
	struct tm tm;
	uint64_t s = g->o.seed * 0x100000000ULL + g->seq++;

	gmtime_r(&when, &tm);
	snprintf(id, len, "%04d%02d%02dT%02d%02d%02dZ-%016" PRIx64, tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, gen_next(&s));
}

/* gen_message - the raw message: small, one text part and one fake attachment */
static void gen_message(FILE *fp, const struct gen_entry *e, const char *id)
{
	fprintf(fp, "From: <%s>\r\nTo: <%s>\r\nSubject: ", e->sender, e->rcpt);
	for (const char *p = e->subject; *p; p++)
		fputc(*p == '\x1b' ? '?' : *p, fp);
	fprintf(fp, "\r\nMessage-ID: <%s@gen.example>\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		    "--b1\r\nContent-Type: text/plain\r\n\r\nPlease see the attached file for details.\r\n"
		    "--b1\r\nContent-Type: application/octet-stream; name=\"%s\"\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n"
		    "VGhpcyBpcyBub3QgYSB2aXJ1cywganVzdCB0ZXN0IGJ5dGVzIGZvciBrbGF4b24uCg==\r\n"
		    "--b1--\r\n", id, e->filename ? e->filename : "data.bin");
}

/* gen_entry_text - the whole .kq file in memory; the caller frees *buf */
static int gen_entry_text(const struct gen_entry *e, const char *id, char **buf, size_t *len)
{
	char *msg = NULL, stamp[32], size[32];
	size_t mlen = 0;
	struct tm tm;
	FILE *m = open_memstream(&msg, &mlen);

	if (m == NULL)
		return -1;
	gen_message(m, e, id);
	if (fclose(m) == EOF)
		return -1;
	gmtime_r(&e->when, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(size, sizeof(size), "%zu", mlen);
	FILE *fp = open_memstream(buf, len);
	if (fp == NULL) {
		free(msg);
		return -1;
	}
	fputs("KLAXON-QUARANTINE 1\n", fp);
	const char *const kv[][2] = {
		{ "id", id }, { "time", stamp }, { "class", e->class }, { "origin", e->origin },
		{ "client-addr", e->client_addr }, { "client-name", e->client_name },
		{ "helo", e->helo }, { "auth-user", e->auth_user }, { "sender", e->sender },
		{ "rcpt", e->rcpt }, { "queue-id", "" }, { "subject", e->subject },
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		gen_put_value(fp, kv[i][0], kv[i][1]);
	if (e->virus)
		gen_put_value(fp, "virus", e->virus);
	if (e->banned)
		gen_put_value(fp, "banned", e->banned);
	if (e->flag)
		gen_put_value(fp, "flag", e->flag);
	gen_put_value(fp, "payload", e->payload);
	gen_put_value(fp, "reason", e->reason);
	gen_put_value(fp, "size", size);
	fputc('\n', fp);
	fwrite(msg, 1, mlen, fp);
	fprintf(fp, "\nKLAXON-END %s\n", id);
	free(msg);
	bool bad = ferror(fp) != 0;
	return fclose(fp) == EOF || bad ? -1 : 0;
}

/* gen_write - create DIR/<id>.kq with O_EXCL, 0600, and write it whole (no fsync: see above) */
static int gen_write(struct gen *g, const struct gen_entry *e, char *id, size_t idlen)
{
	char path[4096], *buf = NULL;
	size_t len = 0;

	gen_id(g, e->when, id, idlen);
	if (gen_entry_text(e, id, &buf, &len) == -1) {
		fprintf(stderr, "gen_outbreak: open_memstream: %s\n", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.kq", g->o.dir, id);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		fprintf(stderr, "gen_outbreak: open %s: %s\n", path, strerror(errno));
		free(buf);
		return -1;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "gen_outbreak: write %s: %s\n", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		off += (size_t)n;
	}
	free(buf);
	if (close(fd) == -1) {
		fprintf(stderr, "gen_outbreak: close %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* gen_common - time, recipient and a plausible client for any entry */
static unsigned long gen_common(struct gen *g, struct gen_entry *e, bool internal)
{
	static char addr[32];
	unsigned long r = gen_below(g, g->o.rcpts);

	e->when = g->o.end - (time_t)gen_below(g, (unsigned long)g->o.span + 1);
	snprintf(e->rcpt, sizeof(e->rcpt), "user%03lu@example.org", r);
	/* The entry is formatted before the next call, so one static buffer is enough. */
	if (internal)
		snprintf(addr, sizeof(addr), "10.1.%lu.%lu", gen_below(g, 256), 1 + gen_below(g, 254));
	else
		snprintf(addr, sizeof(addr), "203.0.113.%lu", 1 + gen_below(g, 254));
	e->client_addr = addr;
	e->origin = internal ? "internal" : "external";
	e->client_name = internal ? "pc.lan.example.org" : "unknown";
	e->helo = internal ? "pc" : "dsl-pool.example.net";
	return r;
}

/* gen_worm - one copy of the worm */
static int gen_worm(struct gen *g)
{
	struct gen_entry e = { .class = "virus", .virus = GEN_WORM, .payload = GEN_WORM_PAYLOAD,
			       .reason = "virus " GEN_WORM, .auth_user = "" };
	char id[64];
	unsigned long k = gen_below(g, GEN_SENDER_POOL);
	unsigned long r = gen_common(g, &e, gen_below(g, 10) == 0);

	snprintf(e.sender, sizeof(e.sender), "%s.%lu@%s",
		 first_names[k % (sizeof(first_names) / sizeof(first_names[0]))], k,
		 domains[k % (sizeof(domains) / sizeof(domains[0]))]);
	e.subject = worm_subjects[gen_below(g, sizeof(worm_subjects) / sizeof(worm_subjects[0]))];
	e.filename = worm_files[gen_below(g, sizeof(worm_files) / sizeof(worm_files[0]))];
	if (gen_write(g, &e, id, sizeof(id)) == -1)
		return -1;
	g->worm_count[r]++;
	return 0;
}

/* gen_single - one item a person may want back: banned, ambiguous or policy */
static int gen_single(struct gen *g, unsigned long i)
{
	struct gen_entry e = { .auth_user = "", .payload = "" };
	char id[64], payload[65], banned[128], subject[160];
	static const char *const exts[] = { ".pif", ".scr", ".exe", ".js", ".vbs" };
	const char *ext = exts[i % 5];
	bool hostile = i % 25 == 7;

	gen_common(g, &e, i % 3 == 0);
	snprintf(e.sender, sizeof(e.sender), "%s@partner%lu.example.com", first_names[i % 20], i % 7);
	snprintf(subject, sizeof(subject), "Order %lu: the file you asked for", 1000 + i);
	e.subject = hostile ? hostile_subject : subject;
	switch (i % 10) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		snprintf(payload, sizeof(payload), "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
			 gen_next(&g->rng), gen_next(&g->rng), gen_next(&g->rng), gen_next(&g->rng));
		snprintf(banned, sizeof(banned), "banned extension %s in \"order%lu%s\"", ext, i, ext);
		e.class = "banned";
		e.banned = e.reason = banned;
		e.payload = payload;
		break;
	case 6: case 7: case 8:
		e.class = "ambiguous";
		e.flag = i % 2 ? "duplicate-content-type" : "boundary-missing";
		e.reason = i % 2 ? "MIME anomaly: duplicate-content-type" : "MIME anomaly: boundary-missing";
		break;
	default:
		e.class = "policy";
		e.reason = "held by filter: invoice from a new sender";
		break;
	}
	if (gen_write(g, &e, id, sizeof(id)) == -1)
		return -1;
	if (g->manifest)
		fprintf(g->manifest, "single\t%s\t%s\t%s\t%d\n", e.rcpt, id, e.class, hostile);
	return 0;
}

static void gen_usage(void)
{
	fprintf(stderr, "usage: gen_outbreak --dir DIR [--copies N] [--rcpts N] [--singular N] "
			"[--seed N] [--end EPOCH] [--span SECONDS] [--manifest FILE]\n");
}

/* gen_number - a whole number option; false if it is not one */
static bool gen_number(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return *s >= '0' && *s <= '9' && *end == '\0' && errno == 0;
}

/* gen_parse - options into o; -1 on a usage error */
static int gen_parse(int argc, char **argv, struct gen_opts *o)
{
	static const struct option longopts[] = {
		{"dir", required_argument, NULL, 'd'}, {"copies", required_argument, NULL, 'c'},
		{"rcpts", required_argument, NULL, 'r'}, {"singular", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'}, {"end", required_argument, NULL, 'e'},
		{"span", required_argument, NULL, 'p'}, {"manifest", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "d:c:r:s:S:e:p:m:", longopts, NULL)) != -1) {
		if (c == 'd' || c == 'm') {
			*(c == 'd' ? &o->dir : &o->manifest) = optarg;
			continue;
		}
		if (c == '?' || !gen_number(optarg, &v))
			return -1;
		switch (c) {
		case 'c': o->copies = v; break;
		case 'r': o->rcpts = v; break;
		case 's': o->singular = v; break;
		case 'S': o->seed = v; break;
		case 'e': o->end = (time_t)v; break;
		case 'p': o->span = (time_t)v; break;
		}
	}
	return optind == argc && o->dir && o->rcpts > 0 && o->rcpts <= 1000 ? 0 : -1;
}

/* gen_finish - the per-recipient worm counts into the manifest, then close it */
static int gen_finish(struct gen *g)
{
	if (g->manifest == NULL)
		return 0;
	for (unsigned long r = 0; r < g->o.rcpts; r++)
		if (g->worm_count[r])
			fprintf(g->manifest, "worm\tuser%03lu@example.org\t%lu\n", r, g->worm_count[r]);
	bool bad = ferror(g->manifest) != 0;
	if (fclose(g->manifest) == EOF || bad) {
		fprintf(stderr, "gen_outbreak: write %s: %s\n", g->o.manifest, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct gen g = { .o = { .copies = 250000, .rcpts = 500, .singular = 500, .seed = 1,
				.end = time(NULL) - 600, .span = 86400 - 1200 } };

	if (gen_parse(argc, argv, &g.o) == -1) {
		gen_usage();
		return 2;
	}
	g.rng = g.o.seed ^ 0x5eedULL;
	g.worm_count = calloc(g.o.rcpts, sizeof(*g.worm_count));
	if (g.worm_count == NULL || (mkdir(g.o.dir, 0700) == -1 && errno != EEXIST)) {
		fprintf(stderr, "gen_outbreak: mkdir %s: %s\n", g.o.dir, strerror(errno));
		return 1;
	}
	if (g.o.manifest && (g.manifest = fopen(g.o.manifest, "w")) == NULL) {
		fprintf(stderr, "gen_outbreak: fopen %s: %s\n", g.o.manifest, strerror(errno));
		return 1;
	}
	for (unsigned long i = 0; i < g.o.copies; i++)
		if (gen_worm(&g) == -1)
			return 1;
	for (unsigned long i = 0; i < g.o.singular; i++)
		if (gen_single(&g, i) == -1)
			return 1;
	if (gen_finish(&g) == -1)
		return 1;
	free(g.worm_count);
	return 0;
}
