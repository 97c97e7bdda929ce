/*
 * digest - one recipient's quarantine digest. See digest.h for the contract.
 *
 * A virus item folds into its group as it is added (a count, the first and
 * last time, a set of sender hashes), so 10 000 copies of a worm cost a few
 * bytes each, not a row each. Any other item is kept whole until
 * digest_compose(), because only then is it known whether another item
 * shares its payload (a payload group) or not (a singular row).
 *
 * Every value from a message is cleaned once, when it is added: control
 * characters and bytes that are not UTF-8 become '?', and a long value is
 * cut at a character boundary and ends in "...". The HTML part escapes the
 * cleaned values as it writes them. Both parts are quoted-printable, whose
 * output never contains "=_" or a line that starts with "====" (every '='
 * is encoded as "=3D"), so the boundary "=_klaxon_..." cannot occur in a
 * body and `klaxon digest --stdout` can separate messages with such lines.
 *
 * Lines end in LF only: the message goes to the local sendmail command,
 * which takes local line endings, as alert.c's messages do.
 *
 * Distinct senders are counted as distinct 64-bit FNV-1a hashes of the
 * lower-cased address: the chance of two of a million senders colliding is
 * about 3e-8, and a group then shows one sender fewer.
 *
 * A refused recipient makes digest_new() return NULL with errno EINVAL (out
 * of memory: ENOMEM), so that a caller can tell bad data from a failure. A
 * recipient address may hold UTF-8 (RFC 6532): it is written as is in To,
 * and the Subject, which names it, is then an RFC 2047 encoded word.
 */
#include "digest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "quarantine.h"

#define DIGEST_ADDR_MAX 254     /* RFC 5321's limit on a path */
#define DIGEST_SENDER_MAX 80    /* bytes of a cleaned value; rows stay readable */
#define DIGEST_SUBJECT_MAX 80
#define DIGEST_REASON_MAX 100
#define DIGEST_VIRUS_MAX 100
#define DIGEST_ID_MAX 64
#define DIGEST_FROM_MAX 200
#define DIGEST_DEFAULT_ROWS 25  /* digest_max_rows' default, for opts->max_rows == 0 */
#define DIGEST_QP_LINE 76       /* RFC 2045 6.7 (5) */

struct digest_hset {
	uint64_t *slot;            /* 0 marks an empty slot; a hash of 0 is stored as 1 */
	size_t cap, n;
};

struct digest_group {
	char *name;                /* virus name, or "<class>: <reason>" of a payload group */
	char *subject;             /* a payload group's first subject; NULL for a virus */
	char *sender;              /* the first sender, shown when it is the only one */
	unsigned long count;
	time_t first, last;
	struct digest_hset senders;
};

struct digest_item {
	char *id, *sender, *subject, *reason, *payload;
	time_t when;
	int class;
};

struct digest {
	char *rcpt, *from, *hostname;
	unsigned max_rows;
	time_t since, until, when;
	struct digest_item *items; /* every non-virus item */
	size_t nitems, icap;
	struct digest_group *groups; /* one per virus name */
	size_t ngroups, gcap;
	size_t *gindex;            /* open addressing over groups: index + 1, 0 empty */
	size_t gindex_cap;
	size_t total;              /* items added */
};

/* What digest_compose() decides before it writes. */
struct digest_plan {
	const struct digest_item **single;
	size_t nsingle;
	struct digest_group *pgroups; /* payload groups, owned by the plan */
	size_t npgroups;
	const struct digest_group **rows; /* every group, largest first */
	size_t nrows;
	unsigned long grouped;     /* items in groups */
	time_t lo, hi;             /* oldest and newest item */
	bool with_day;             /* items span more than one UTC day */
};

/* digest_utf8_len - length of the valid UTF-8 sequence at p, or 0 if it is not one */
static size_t digest_utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* Overlong forms, surrogates and code points above U+10FFFF are not UTF-8. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* digest_clean - malloc'd copy: controls and non-UTF-8 become '?', cut at max bytes with "..." */
static char *digest_clean(const char *value, size_t max)
{
	const unsigned char *p = (const unsigned char *)(value ? value : "");
	char *out = malloc(max + 4);
	size_t used = 0;

	if (out == NULL)
		return NULL;
	while (*p != '\0' && used < max) {
		size_t n = *p < 0x80 ? 1 : digest_utf8_len(p);
		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			out[used++] = '?';
			p++;
			continue;
		}
		if (used + n > max)
			break;
		memcpy(out + used, p, n);
		p += n;
		used += n;
	}
	if (*p != '\0') {
		/* Say that it was cut, so nobody takes it for the whole value. */
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
	return out;
}

/* digest_atext - RFC 5322 atext, or a byte of UTF-8 (RFC 6532): needs no quoting */
static bool digest_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* digest_dot_atom_ok - atext runs separated by single dots, none at either end */
static bool digest_dot_atom_ok(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !digest_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* digest_literal_ok - "[...]" with printable ASCII inside, none of [ ] \ */
static bool digest_literal_ok(const char *s, size_t len)
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '\\')
			return false;
	}
	return true;
}

/* digest_addr_ok - local@domain that can stand in To as it is: no quoting, no control */
static bool digest_addr_ok(const char *a)
{
	size_t len = strlen(a);
	const char *at = strrchr(a, '@');

	if (len == 0 || len > DIGEST_ADDR_MAX || at == NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p; ) {
		size_t n = *p < 0x80 ? 1 : digest_utf8_len(p);
		if (n == 0)
			return false;
		p += n;
	}
	size_t llen = (size_t)(at - a), dlen = len - llen - 1;
	return digest_dot_atom_ok(a, llen) &&
	       (digest_dot_atom_ok(at + 1, dlen) || digest_literal_ok(at + 1, dlen));
}

/* digest_hash - FNV-1a 64 of the lower-cased string; 0 is kept for empty slots */
static uint64_t digest_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p + 32) : *p;
		h = (h ^ c) * 0x100000001b3ULL;
	}
	return h ? h : 1;
}

/* digest_hset_put - add a hash; a set grows at half full, so probes stay short */
static int digest_hset_put(struct digest_hset *s, uint64_t h)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *slot = calloc(cap, sizeof(*slot));
		if (slot == NULL)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			size_t j = (size_t)s->slot[i] & (cap - 1);
			while (s->slot[i] && slot[j])
				j = (j + 1) & (cap - 1);
			if (s->slot[i])
				slot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	size_t j = (size_t)h & (s->cap - 1);
	while (s->slot[j] && s->slot[j] != h)
		j = (j + 1) & (s->cap - 1);
	if (s->slot[j] == 0) {
		s->slot[j] = h;
		s->n++;
	}
	return 0;
}

/* digest_group_clear - free what a group owns */
static void digest_group_clear(struct digest_group *g)
{
	free(g->name);
	free(g->subject);
	free(g->sender);
	free(g->senders.slot);
}

/* digest_group_note - count one item (its time and sender) in a group */
static int digest_group_note(struct digest_group *g, time_t when, const char *sender)
{
	if (g->count == 0 || when < g->first)
		g->first = when;
	if (g->count == 0 || when > g->last)
		g->last = when;
	g->count++;
	return digest_hset_put(&g->senders, digest_hash(sender ? sender : ""));
}

/* digest_item_clear - free what an item owns */
static void digest_item_clear(struct digest_item *it)
{
	free(it->id);
	free(it->sender);
	free(it->subject);
	free(it->reason);
	free(it->payload);
}

/* digest_new - an empty digest for one recipient; NULL (errno EINVAL) for a refused address */
struct digest *digest_new(const struct digest_opts *opts, const char *rcpt)
{
	if (rcpt == NULL || !digest_addr_ok(rcpt)) {
		errno = EINVAL;
		return NULL;
	}
	struct digest *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->rcpt = strdup(rcpt);
	d->from = digest_clean(opts->from && *opts->from ? opts->from : "klaxon", DIGEST_FROM_MAX);
	d->hostname = strdup(opts->hostname && *opts->hostname ? opts->hostname : "localhost");
	if (d->rcpt == NULL || d->from == NULL || d->hostname == NULL) {
		digest_free(d);
		errno = ENOMEM;
		return NULL;
	}
	d->max_rows = opts->max_rows ? opts->max_rows : DIGEST_DEFAULT_ROWS;
	d->since = opts->since;
	d->until = opts->until;
	d->when = opts->when;
	return d;
}

/* digest_group_find - the virus group named name, created if new; NULL when out of memory */
static struct digest_group *digest_group_find(struct digest *d, const char *name)
{
	uint64_t h = digest_hash(name);

	if ((d->ngroups + 1) * 2 > d->gindex_cap) {
		size_t cap = d->gindex_cap ? d->gindex_cap * 2 : 16;
		size_t *idx = calloc(cap, sizeof(*idx));
		if (idx == NULL)
			return NULL;
		for (size_t i = 0; i < d->ngroups; i++) {
			size_t j = (size_t)digest_hash(d->groups[i].name) & (cap - 1);
			while (idx[j])
				j = (j + 1) & (cap - 1);
			idx[j] = i + 1;
		}
		free(d->gindex);
		d->gindex = idx;
		d->gindex_cap = cap;
	}
	size_t j = (size_t)h & (d->gindex_cap - 1);
	for (; d->gindex[j]; j = (j + 1) & (d->gindex_cap - 1)) {
		struct digest_group *g = &d->groups[d->gindex[j] - 1];
		if (strcmp(g->name, name) == 0)
			return g;
	}
	if (d->ngroups == d->gcap) {
		size_t cap = d->gcap ? d->gcap * 2 : 4;
		struct digest_group *grown = realloc(d->groups, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		d->groups = grown;
		d->gcap = cap;
	}
	struct digest_group *g = &d->groups[d->ngroups];
	*g = (struct digest_group){ .name = strdup(name) };
	if (g->name == NULL)
		return NULL;
	d->gindex[j] = ++d->ngroups;
	return g;
}

/* digest_add_virus - fold a virus item into the group of its first virus name */
static int digest_add_virus(struct digest *d, const struct qindex_row *row)
{
	char *name = digest_clean(row->virus && *row->virus ? row->virus : "unnamed virus",
				  DIGEST_VIRUS_MAX);
	if (name == NULL)
		return -1;
	struct digest_group *g = digest_group_find(d, name);
	free(name);
	if (g == NULL)
		return -1;
	if (g->sender == NULL && (g->sender = digest_clean(row->sender, DIGEST_SENDER_MAX)) == NULL)
		return -1;
	return digest_group_note(g, row->when, row->sender);
}

/* digest_add_item - keep a non-virus item whole until compose */
static int digest_add_item(struct digest *d, const struct qindex_row *row)
{
	if (d->nitems == d->icap) {
		size_t cap = d->icap ? d->icap * 2 : 16;
		struct digest_item *grown = realloc(d->items, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		d->items = grown;
		d->icap = cap;
	}
	struct digest_item *it = &d->items[d->nitems];
	*it = (struct digest_item){
		.id = digest_clean(row->id, DIGEST_ID_MAX),
		.sender = digest_clean(row->sender, DIGEST_SENDER_MAX),
		.subject = digest_clean(row->subject, DIGEST_SUBJECT_MAX),
		.reason = digest_clean(row->reason, DIGEST_REASON_MAX),
		.payload = strdup(row->payload ? row->payload : ""),
		.when = row->when,
		.class = row->class,
	};
	if (!it->id || !it->sender || !it->subject || !it->reason || !it->payload) {
		digest_item_clear(it);
		return -1;
	}
	d->nitems++;
	return 0;
}

/* digest_add - one row of the index for this digest's recipient */
int digest_add(struct digest *d, const struct qindex_row *row, char *err, size_t errlen)
{
	int rc = row->class == QUARANTINE_VIRUS ? digest_add_virus(d, row) : digest_add_item(d, row);

	if (rc == -1) {
		snprintf(err, errlen, "digest_add: %s", strerror(ENOMEM));
		return -1;
	}
	d->total++;
	return 0;
}

/* digest_items - how many items were added */
size_t digest_items(const struct digest *d)
{
	return d->total;
}

/* digest_free - free the digest and everything it kept */
void digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nitems; i++)
		digest_item_clear(&d->items[i]);
	for (size_t i = 0; i < d->ngroups; i++)
		digest_group_clear(&d->groups[i]);
	free(d->items);
	free(d->groups);
	free(d->gindex);
	free(d->rcpt);
	free(d->from);
	free(d->hostname);
	free(d);
}

/* ---- composing: the plan ---- */

/* digest_cmp_payload - by payload, then oldest first, then id: a stable order for groups */
static int digest_cmp_payload(const void *a, const void *b)
{
	const struct digest_item *x = *(const struct digest_item *const *)a;
	const struct digest_item *y = *(const struct digest_item *const *)b;
	int c = strcmp(x->payload, y->payload);

	if (c != 0)
		return c;
	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* digest_cmp_when - singular rows: oldest first, then by id */
static int digest_cmp_when(const void *a, const void *b)
{
	const struct digest_item *x = *(const struct digest_item *const *)a;
	const struct digest_item *y = *(const struct digest_item *const *)b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* digest_cmp_group - largest first, then the earliest, then by name */
static int digest_cmp_group(const void *a, const void *b)
{
	const struct digest_group *x = *(const struct digest_group *const *)a;
	const struct digest_group *y = *(const struct digest_group *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* digest_class_label - the class name for a row, never NULL */
static const char *digest_class_label(int class)
{
	const char *name = class >= 0 && class < QUARANTINE_CLASS_COUNT
				   ? quarantine_class_name((enum quarantine_class)class) : NULL;
	return name ? name : "held";
}

/* digest_payload_group - turn a run of items sharing a payload into a group */
static int digest_payload_group(struct digest_group *g, const struct digest_item *const *run,
				size_t n)
{
	const struct digest_item *first = run[0];
	const char *label = digest_class_label(first->class);

	*g = (struct digest_group){ 0 };
	if (*first->reason != '\0' ? asprintf(&g->name, "%s: %s", label, first->reason) == -1
				   : (g->name = strdup(label)) == NULL) {
		g->name = NULL;
		return -1;
	}
	g->subject = strdup(first->subject);
	g->sender = strdup(first->sender);
	if (g->subject == NULL || g->sender == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (digest_group_note(g, run[i]->when, run[i]->sender) == -1)
			return -1;
	return 0;
}

/* digest_plan_items - split the kept items into payload groups and singular rows */
static int digest_plan_items(const struct digest *d, struct digest_plan *p)
{
	const struct digest_item **by = calloc(d->nitems + 1, sizeof(*by));

	p->single = calloc(d->nitems + 1, sizeof(*p->single));
	p->pgroups = calloc(d->nitems / 2 + 1, sizeof(*p->pgroups));
	if (by == NULL || p->single == NULL || p->pgroups == NULL) {
		free(by);
		return -1;
	}
	for (size_t i = 0; i < d->nitems; i++)
		by[i] = &d->items[i];
	qsort(by, d->nitems, sizeof(*by), digest_cmp_payload);
	for (size_t i = 0, run; i < d->nitems; i += run) {
		for (run = 1; i + run < d->nitems && *by[i]->payload != '\0' &&
			      strcmp(by[i]->payload, by[i + run]->payload) == 0; run++)
			;
		if (run == 1) {
			p->single[p->nsingle++] = by[i];
			continue;
		}
		if (digest_payload_group(&p->pgroups[p->npgroups++], by + i, run) == -1) {
			free(by);
			return -1;
		}
	}
	free(by);
	qsort(p->single, p->nsingle, sizeof(*p->single), digest_cmp_when);
	return 0;
}

/* digest_plan_span - the oldest and newest item, and whether they are on different days */
static void digest_plan_span(struct digest_plan *p)
{
	bool any = false;

	for (size_t i = 0; i < p->nrows; i++) {
		const struct digest_group *g = p->rows[i];
		p->lo = !any || g->first < p->lo ? g->first : p->lo;
		p->hi = !any || g->last > p->hi ? g->last : p->hi;
		any = true;
	}
	for (size_t i = 0; i < p->nsingle; i++) {
		time_t t = p->single[i]->when;
		p->lo = !any || t < p->lo ? t : p->lo;
		p->hi = !any || t > p->hi ? t : p->hi;
		any = true;
	}
	p->with_day = p->lo / 86400 != p->hi / 86400 || p->lo < 0;
}

/* digest_plan_clear - free what a plan owns */
static void digest_plan_clear(struct digest_plan *p)
{
	for (size_t i = 0; i < p->npgroups; i++)
		digest_group_clear(&p->pgroups[i]);
	free(p->pgroups);
	free(p->single);
	free(p->rows);
}

/* digest_plan_make - decide the rows and their order */
static int digest_plan_make(const struct digest *d, struct digest_plan *p)
{
	*p = (struct digest_plan){ 0 };
	if (digest_plan_items(d, p) == -1)
		return -1;
	p->rows = calloc(d->ngroups + p->npgroups + 1, sizeof(*p->rows));
	if (p->rows == NULL)
		return -1;
	for (size_t i = 0; i < d->ngroups; i++)
		p->rows[p->nrows++] = &d->groups[i];
	for (size_t i = 0; i < p->npgroups; i++)
		p->rows[p->nrows++] = &p->pgroups[i];
	qsort(p->rows, p->nrows, sizeof(*p->rows), digest_cmp_group);
	for (size_t i = 0; i < p->nrows; i++)
		p->grouped += p->rows[i]->count;
	digest_plan_span(p);
	return 0;
}

/* ---- composing: the words ---- */

/* digest_fmt_time - "03:12", or "Nov 27 03:12" when the items span days; UTC, no locale */
static void digest_fmt_time(char *buf, size_t len, time_t t, bool with_day)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	if (with_day)
		snprintf(buf, len, "%s %02d %02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
			 tm.tm_min);
	else
		snprintf(buf, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

/* digest_fmt_stamp - "2026-11-27 09:00" (UTC), for the period in the header line */
static void digest_fmt_stamp(char *buf, size_t len, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}

/* digest_summary - "497 copies, 03:12 to 22:40, from 412 different senders" */
static void digest_summary(char *buf, size_t len, const struct digest_group *g, bool with_day)
{
	char a[32], b[32], when[80], who[DIGEST_SENDER_MAX + 32];

	digest_fmt_time(a, sizeof(a), g->first, with_day);
	digest_fmt_time(b, sizeof(b), g->last, with_day);
	if (strcmp(a, b) == 0)
		snprintf(when, sizeof(when), "at %s", a);
	else
		snprintf(when, sizeof(when), "%s to %s", a, b);
	if (g->senders.n == 1)
		snprintf(who, sizeof(who), "from <%s>", g->sender ? g->sender : "");
	else
		snprintf(who, sizeof(who), "from %zu different senders", g->senders.n);
	snprintf(buf, len, "%lu %s, %s, %s", g->count, g->count == 1 ? "copy" : "copies", when, who);
}

/* digest_put_html - a cleaned value, HTML-escaped */
static void digest_put_html(FILE *fp, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		default: fputc(*s, fp);
		}
	}
}

/*
 * digest_html - fmt with each "%s" argument HTML-escaped (no other conversion). It is the one
 * way text reaches the HTML part, so no value can reach it unescaped.
 */
__attribute__((format(printf, 2, 3))) static void digest_html(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			digest_put_html(fp, va_arg(ap, const char *));
			p++;
		} else {
			fputc(*p, fp);
		}
	}
	va_end(ap);
}

/* digest_put_single - one singular row in both parts */
static void digest_put_single(FILE *txt, FILE *html, const struct digest_item *it, bool with_day)
{
	char when[32];
	const char *label = digest_class_label(it->class), *sep = *it->reason ? ": " : "";

	digest_fmt_time(when, sizeof(when), it->when, with_day);
	fprintf(txt, "  %s  <%s>  \"%s\"  %s%s%s  id %s\n", when, it->sender, it->subject, label,
		sep, it->reason, it->id);
	digest_html(html, "<tr><td>%s</td><td>&lt;%s&gt;</td><td>%s</td><td>%s%s%s</td>"
			  "<td><code>%s</code></td></tr>\n",
		    when, it->sender, it->subject, label, sep, it->reason, it->id);
}

/* digest_put_group - one group row in both parts; a payload group quotes its subject */
static void digest_put_group(FILE *txt, FILE *html, const struct digest_group *g, bool with_day)
{
	char summary[256];
	const char *open = g->subject ? " (\"" : "", *close = g->subject ? "\")" : "";
	const char *subject = g->subject ? g->subject : "";

	digest_summary(summary, sizeof(summary), g, with_day);
	fprintf(txt, "  %s%s%s%s: %s\n", g->name, open, subject, close, summary);
	digest_html(html, "<tr><td>%s%s%s%s</td><td>%s</td></tr>\n", g->name, open, subject, close,
		    summary);
}

/* digest_put_head - the header line of both parts */
static void digest_put_head(FILE *txt, FILE *html, const struct digest *d,
			    const struct digest_plan *p)
{
	char a[32], b[32], line[160];

	digest_fmt_stamp(a, sizeof(a), d->since ? d->since : p->lo);
	digest_fmt_stamp(b, sizeof(b), d->until ? d->until : p->hi);
	snprintf(line, sizeof(line), "%zu message%s held for you between %s and %s (UTC).",
		 d->total, d->total == 1 ? "" : "s", a, b);
	fprintf(txt, "%s\n", line);
	digest_html(html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			  "<title>Quarantine digest</title></head><body>\n<p>%s</p>\n", line);
}

/* digest_put_title - a section title and, in HTML, the start of its table */
static void digest_put_title(FILE *txt, FILE *html, const char *title, const char *columns)
{
	fprintf(txt, "\n%s:\n", title);
	digest_html(html, "<h3>%s</h3>\n<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n",
		    title);
	fprintf(html, "<tr>%s</tr>\n", columns);
}

/* digest_put_rows - singular rows, then groups, at most max_rows; returns the items not shown */
static unsigned long digest_put_rows(FILE *txt, FILE *html, const struct digest *d,
				     const struct digest_plan *p)
{
	size_t left = d->max_rows, nsingle = p->nsingle < left ? p->nsingle : left;
	unsigned long hidden = p->nsingle - nsingle;

	if (nsingle > 0) {
		digest_put_title(txt, html, "Held for you (one each; ask for any you expected)",
				 "<th>Time</th><th>Sender</th><th>Subject</th><th>Reason</th><th>ID</th>");
		for (size_t i = 0; i < nsingle; i++)
			digest_put_single(txt, html, p->single[i], p->with_day);
		fputs("</table>\n", html);
	}
	left -= nsingle;
	size_t ngroups = p->nrows < left ? p->nrows : left;
	for (size_t i = ngroups; i < p->nrows; i++)
		hidden += p->rows[i]->count;
	if (ngroups > 0) {
		digest_put_title(txt, html, "Outbreaks and repeated copies (one row each)",
				 "<th>What</th><th>Copies</th>");
		for (size_t i = 0; i < ngroups; i++)
			digest_put_group(txt, html, p->rows[i], p->with_day);
		fputs("</table>\n", html);
	}
	return hidden;
}

/* digest_put_body - both parts, unencoded */
static void digest_put_body(FILE *txt, FILE *html, const struct digest *d,
			    const struct digest_plan *p)
{
	static const char release[] = "klaxon quarantine release ID";
	char more[32];

	digest_put_head(txt, html, d, p);
	unsigned long hidden = digest_put_rows(txt, html, d, p);
	if (hidden > 0) {
		snprintf(more, sizeof(more), "%lu", hidden);
		fprintf(txt, "... and %s more: klaxon quarantine list --rcpt %s\n", more, d->rcpt);
		digest_html(html, "<p>... and %s more: <code>klaxon quarantine list --rcpt %s</code></p>\n",
			    more, d->rcpt);
	}
	fprintf(txt, "\nTo get a message back, ask your postmaster to run: %s\n", release);
	digest_html(html, "<p>To get a message back, ask your postmaster to run: <code>%s</code></p>\n"
			  "</body></html>\n", release);
}

/* ---- composing: the message ---- */

/* digest_put_qp - text as quoted-printable (RFC 2045 6.7); LF ends a line */
static void digest_put_qp(FILE *fp, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			fputc('\n', fp);
			col = 0;
			continue;
		}
		bool at_eol = i + 1 == len || s[i + 1] == '\n';
		/* Space and tab are literal except at the end of a line, where transport may eat them. */
		bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
		size_t need = literal ? 1 : 3;
		/* Keep room for the soft break '=', unless this is the line's last character. */
		if (col + need > (at_eol ? DIGEST_QP_LINE : DIGEST_QP_LINE - 1)) {
			fputs("=\n", fp);
			col = 0;
		}
		if (literal) {
			fputc(c, fp);
		} else {
			fputc('=', fp);
			fputc(hex[c >> 4], fp);
			fputc(hex[c & 0xf], fp);
		}
		col += need;
	}
}

/* digest_put_b64word - one RFC 2047 "B" encoded word of n bytes */
static void digest_put_b64word(FILE *fp, const unsigned char *s, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	fputs("=?UTF-8?B?", fp);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		fputc(b64[v >> 18 & 63], fp);
		fputc(b64[v >> 12 & 63], fp);
		fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', fp);
		fputc(i + 2 < n ? b64[v & 63] : '=', fp);
	}
	fputs("?=", fp);
}

/* digest_put_subject - plain when ASCII, else RFC 2047 words cut at character boundaries */
static void digest_put_subject(FILE *fp, const char *subject)
{
	const unsigned char *p = (const unsigned char *)subject;
	bool ascii = true;

	for (size_t i = 0; p[i]; i++)
		ascii = ascii && p[i] < 0x80;
	fputs("Subject: ", fp);
	if (ascii) {
		fprintf(fp, "%s\n", subject);
		return;
	}
	/* 45 bytes make 60 base64 characters: each word stays under RFC 2047's 75. */
	for (size_t i = 0, word = 0; p[i]; word++) {
		size_t n = 0;
		while (p[i + n]) {
			size_t c = p[i + n] < 0x80 ? 1 : digest_utf8_len(p + i + n);
			c = c ? c : 1;
			if (n + c > 45)
				break;
			n += c;
		}
		fputs(word ? "\n " : "", fp);
		digest_put_b64word(fp, p + i, n);
		i += n;
	}
	fputc('\n', fp);
}

/* digest_put_hostname - a Message-ID right-hand side: [A-Za-z0-9.-] only */
static void digest_put_hostname(FILE *fp, const char *host)
{
	for (size_t i = 0; host[i] != '\0' && i < DIGEST_FROM_MAX; i++) {
		char c = host[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-';
		fputc(ok ? c : '-', fp);
	}
}

/* digest_put_date - RFC 5322 date in UTC, with our own names so the locale cannot leak in */
static void digest_put_date(FILE *fp, time_t when)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL) {
		time_t zero = 0;
		gmtime_r(&zero, &tm);
	}
	fprintf(fp, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\n", days[tm.tm_wday], tm.tm_mday,
		months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* digest_put_headers - the top-level header block; values are cleaned or validated already */
static int digest_put_headers(FILE *fp, const struct digest *d, const struct digest_plan *p,
			      const char *boundary, time_t when, char *err, size_t errlen)
{
	char msgid[IDENT_MAX], *subject;

	if (ident_new(msgid, sizeof(msgid), when, err, errlen) == -1)
		return -1;
	if (asprintf(&subject, "Quarantine digest for %s: %zu held (%lu outbreak copies)", d->rcpt,
		     d->total, p->grouped) == -1) {
		snprintf(err, errlen, "digest_compose: %s", strerror(ENOMEM));
		return -1;
	}
	fprintf(fp, "From: %s\nTo: %s\n", d->from, d->rcpt);
	digest_put_subject(fp, subject);
	free(subject);
	digest_put_date(fp, when);
	fprintf(fp, "Message-ID: <%s@", msgid);
	digest_put_hostname(fp, d->hostname);
	fprintf(fp, ">\nAuto-Submitted: auto-generated\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: multipart/alternative; boundary=\"%s\"\n"
		    "\n"
		    "This is a multi-part message in MIME format.\n",
		boundary);
	return 0;
}

/* digest_put_part - one quoted-printable part of the alternative */
static void digest_put_part(FILE *fp, const char *boundary, const char *type, const char *body,
			    size_t len)
{
	fprintf(fp, "\n--%s\nContent-Type: %s; charset=utf-8\n"
		    "Content-Transfer-Encoding: quoted-printable\n\n",
		boundary, type);
	digest_put_qp(fp, body, len);
}

/* digest_memstream_close - close a memstream; -1 if anything written to it failed */
static int digest_memstream_close(FILE *fp, char **buf, char *err, size_t errlen)
{
	bool bad = ferror(fp) != 0;

	if (fclose(fp) == EOF || bad) {
		snprintf(err, errlen, "open_memstream: %s", strerror(ENOMEM));
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

/* digest_render - the two parts, unencoded, into *txt and *html */
static int digest_render(const struct digest *d, const struct digest_plan *p, char **txt,
			 size_t *tlen, char **html, size_t *hlen, char *err, size_t errlen)
{
	*txt = *html = NULL;
	FILE *tf = open_memstream(txt, tlen);
	FILE *hf = tf ? open_memstream(html, hlen) : NULL;

	if (hf == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		if (tf != NULL)
			digest_memstream_close(tf, txt, err, errlen);
		return -1;
	}
	digest_put_body(tf, hf, d, p);
	int rc = digest_memstream_close(tf, txt, err, errlen);
	if (digest_memstream_close(hf, html, err, errlen) == -1 || rc == -1) {
		free(*txt);
		*txt = NULL;
		return -1;
	}
	return 0;
}

/* digest_assemble - headers and both parts into one message */
static int digest_assemble(const struct digest *d, const struct digest_plan *p, const char *txt,
			   size_t tlen, const char *html, size_t hlen, char **msg, size_t *len,
			   char *err, size_t errlen)
{
	char hexb[17], boundary[40];
	time_t when = d->when ? d->when : time(NULL);

	if (ident_hex(hexb, 16, err, errlen) == -1)
		return -1;
	/* "=_" never appears in quoted-printable output, so no body line can be the boundary. */
	snprintf(boundary, sizeof(boundary), "=_klaxon_%s", hexb);
	*msg = NULL;
	FILE *fp = open_memstream(msg, len);
	if (fp == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	int rc = digest_put_headers(fp, d, p, boundary, when, err, errlen);
	if (rc == 0) {
		digest_put_part(fp, boundary, "text/plain", txt, tlen);
		digest_put_part(fp, boundary, "text/html", html, hlen);
		fprintf(fp, "\n--%s--\n", boundary);
	}
	if (digest_memstream_close(fp, msg, err, errlen) == -1 || rc == -1) {
		free(*msg);
		*msg = NULL;
		return -1;
	}
	return 0;
}

/* digest_compose - the whole digest message; the caller frees *msg */
int digest_compose(struct digest *d, char **msg, size_t *len, char *err, size_t errlen)
{
	struct digest_plan p;
	char *txt = NULL, *html = NULL;
	size_t tlen = 0, hlen = 0;
	int rc = -1;

	if (digest_plan_make(d, &p) == -1)
		snprintf(err, errlen, "digest_compose: %s", strerror(ENOMEM));
	else if (digest_render(d, &p, &txt, &tlen, &html, &hlen, err, errlen) == 0)
		rc = digest_assemble(d, &p, txt, tlen, html, hlen, msg, len, err, errlen);
	free(txt);
	free(html);
	digest_plan_clear(&p);
	return rc;
}
