/*
 * vcache - the outbreak verdict cache. See vcache.h.
 *
 * An open hash table with linear probing (the key is already a uniform
 * SHA-256, so its first bytes are the hash) over a fixed slab of entries,
 * and a doubly linked list in recency order for LRU eviction. Deletion
 * uses backward-shift, so no tombstones build up.
 */
#include "vcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VCACHE_NONE ((size_t)-1)

struct vcache_node {
	unsigned char sha[32];
	uint64_t dbver;
	time_t stored;
	enum vcache_status status;
	char **names;
	size_t nnames;
	size_t prev, next;     /* LRU list: head is most recent */
};

struct vcache {
	pthread_mutex_t lock;
	size_t capacity;
	unsigned ttl_s;
	struct vcache_node *nodes;
	size_t used;
	size_t *slots;         /* hash table of node indexes, VCACHE_NONE = empty */
	size_t nslots;         /* power of two, >= 2 * capacity */
	size_t head, tail;
	unsigned long long hits, misses;
};

static void vcache_free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* vcache_copy_names - a deep copy, NULL on allocation failure */
static char **vcache_copy_names(char *const *names, size_t n)
{
	char **copy = calloc(n ? n : 1, sizeof(*copy));
	for (size_t i = 0; copy && i < n; i++) {
		if ((copy[i] = strdup(names[i])) == NULL) {
			vcache_free_names(copy, i);
			return NULL;
		}
	}
	return copy;
}

struct vcache *vcache_new(size_t capacity, unsigned ttl_s)
{
	struct vcache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->capacity = capacity;
	c->ttl_s = ttl_s;
	c->head = c->tail = VCACHE_NONE;
	pthread_mutex_init(&c->lock, NULL);
	if (capacity == 0)
		return c;
	for (c->nslots = 16; c->nslots < capacity * 2; c->nslots *= 2)
		;
	c->nodes = calloc(capacity, sizeof(*c->nodes));
	c->slots = malloc(c->nslots * sizeof(*c->slots));
	if (c->nodes == NULL || c->slots == NULL) {
		vcache_free(c);
		return NULL;
	}
	for (size_t i = 0; i < c->nslots; i++)
		c->slots[i] = VCACHE_NONE;
	return c;
}

static size_t vcache_home(const struct vcache *c, const unsigned char sha[32])
{
	uint64_t h;
	memcpy(&h, sha, sizeof(h));
	return (size_t)h & (c->nslots - 1);
}

/* vcache_find_slot - the slot holding (sha, dbver), or VCACHE_NONE */
static size_t vcache_find_slot(const struct vcache *c, const unsigned char sha[32], uint64_t dbver)
{
	for (size_t s = vcache_home(c, sha);; s = (s + 1) & (c->nslots - 1)) {
		size_t n = c->slots[s];
		if (n == VCACHE_NONE)
			return VCACHE_NONE;
		if (c->nodes[n].dbver == dbver && memcmp(c->nodes[n].sha, sha, 32) == 0)
			return s;
	}
}

static void vcache_unlink(struct vcache *c, size_t n)
{
	struct vcache_node *x = &c->nodes[n];
	if (x->prev != VCACHE_NONE)
		c->nodes[x->prev].next = x->next;
	else
		c->head = x->next;
	if (x->next != VCACHE_NONE)
		c->nodes[x->next].prev = x->prev;
	else
		c->tail = x->prev;
}

static void vcache_push_front(struct vcache *c, size_t n)
{
	c->nodes[n].prev = VCACHE_NONE;
	c->nodes[n].next = c->head;
	if (c->head != VCACHE_NONE)
		c->nodes[c->head].prev = n;
	c->head = n;
	if (c->tail == VCACHE_NONE)
		c->tail = n;
}

/* vcache_remove_slot - empty slot s, shifting back the probe run behind it */
static void vcache_remove_slot(struct vcache *c, size_t s)
{
	size_t mask = c->nslots - 1;
	c->slots[s] = VCACHE_NONE;
	for (size_t next = (s + 1) & mask; c->slots[next] != VCACHE_NONE; next = (next + 1) & mask) {
		size_t home = vcache_home(c, c->nodes[c->slots[next]].sha);
		/* Move the entry back if its home is not in (s, next]. */
		bool stays = s <= next ? (home > s && home <= next) : (home > s || home <= next);
		if (!stays) {
			c->slots[s] = c->slots[next];
			c->slots[next] = VCACHE_NONE;
			s = next;
		}
	}
}

/* vcache_evict - drop node n from table and list; its index becomes free */
static void vcache_evict(struct vcache *c, size_t n)
{
	size_t s = vcache_find_slot(c, c->nodes[n].sha, c->nodes[n].dbver);
	if (s != VCACHE_NONE)
		vcache_remove_slot(c, s);
	vcache_unlink(c, n);
	vcache_free_names(c->nodes[n].names, c->nodes[n].nnames);
	c->nodes[n].names = NULL;
	c->nodes[n].nnames = 0;
}

bool vcache_get(struct vcache *c, const unsigned char sha[32], uint64_t dbver, struct vcache_entry *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	bool hit = false;
	size_t s = c->capacity ? vcache_find_slot(c, sha, dbver) : VCACHE_NONE;
	if (s != VCACHE_NONE) {
		size_t n = c->slots[s];
		struct vcache_node *x = &c->nodes[n];
		if (c->ttl_s && time(NULL) - x->stored >= (time_t)c->ttl_s) {
			/* Stale: leave it for LRU to reuse, but report a miss. */
		} else if ((out->names = vcache_copy_names(x->names, x->nnames)) != NULL) {
			out->status = x->status;
			out->nnames = x->nnames;
			vcache_unlink(c, n);
			vcache_push_front(c, n);
			hit = true;
		}
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void vcache_put(struct vcache *c, const unsigned char sha[32], uint64_t dbver, enum vcache_status status,
		char *const *names, size_t n)
{
	if (c->capacity == 0)
		return;
	char **copy = vcache_copy_names(names, n);
	if (copy == NULL)
		return; /* a cache may forget; the next copy is simply scanned */
	pthread_mutex_lock(&c->lock);
	size_t s = vcache_find_slot(c, sha, dbver);
	size_t idx;
	if (s != VCACHE_NONE) {
		/* Known payload: the newest verdict wins, in the same node. */
		idx = c->slots[s];
		vcache_free_names(c->nodes[idx].names, c->nodes[idx].nnames);
		vcache_unlink(c, idx);
	} else {
		if (c->used < c->capacity) {
			idx = c->used++;
		} else {
			idx = c->tail;
			vcache_evict(c, idx);
		}
		for (s = vcache_home(c, sha); c->slots[s] != VCACHE_NONE; s = (s + 1) & (c->nslots - 1))
			;
		c->slots[s] = idx;
	}
	struct vcache_node *x = &c->nodes[idx];
	memcpy(x->sha, sha, 32);
	x->dbver = dbver;
	x->stored = time(NULL);
	x->status = status;
	x->names = copy;
	x->nnames = n;
	vcache_push_front(c, idx);
	pthread_mutex_unlock(&c->lock);
}

void vcache_stats(struct vcache *c, unsigned long long *hits, unsigned long long *misses)
{
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

size_t vcache_size(struct vcache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = 0;
	for (size_t i = c->head; i != VCACHE_NONE; i = c->nodes[i].next)
		n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void vcache_entry_clear(struct vcache_entry *e)
{
	vcache_free_names(e->names, e->nnames);
	e->names = NULL;
	e->nnames = 0;
}

void vcache_free(struct vcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->nodes && i < c->used; i++)
		vcache_free_names(c->nodes[i].names, c->nodes[i].nnames);
	free(c->nodes);
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
