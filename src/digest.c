/*
 * digest - one recipient's quarantine digest: cleaning, grouping, the plan
 * of rows, and the public functions. See digest.h for the contract;
 * digest_mime.c writes the message, digest_int.h is what they share.
 *
 * A virus item folds into its group as it is added (a count, the first and
 * last time, a set of sender hashes), so 10 000 copies of a worm cost a few
 * bytes each, not a row each. Any other item is kept whole until
 * digest_compose(), because only then is it known whether another item
 * shares its payload (a payload group) or not (a singular row).
 *
 * Every value from a message is cleaned once, when it is added: control
 * characters and bytes that are not UTF-8 become '?', and a long value is
 * cut at a character boundary and ends in "...". digest_mime.c escapes the
 * cleaned values for the HTML part as it writes them.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest_int.h"
#include "quarantine.h"
#include "text.h"

#define DIGEST_DEFAULT_ROWS 25  /* digest_max_rows' default, for opts->max_rows == 0 */

/* digest_clean - malloc'd copy: controls and non-UTF-8 become '?', cut at max bytes with "..." */
static char *digest_clean(const char *value, size_t max)
{
	const unsigned char *p = (const unsigned char *)(value ? value : "");
	char *out = malloc(max + 4);
	size_t used = 0;

	if (out == NULL)
		return NULL;
	while (*p != '\0' && used < max) {
		size_t n = text_utf8_len(p, TEXT_TO_NUL);
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
		size_t n = text_utf8_len(p, TEXT_TO_NUL);
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
const char *digest_class_label(int class)
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
