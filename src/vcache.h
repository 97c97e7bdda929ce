/*
 * vcache - the outbreak verdict cache: SHA-256 of a decoded part plus the
 * signature database version -> clean, or the virus names.
 *
 * SYNOPSIS
 *	struct vcache *c = vcache_new(capacity, ttl_s);
 *	struct vcache_entry e;
 *	if (vcache_get(c, sha, dbver, &e)) { ... e.status, e.names ... vcache_entry_clear(&e); }
 *	vcache_put(c, sha, dbver, status, names, n);
 *	vcache_stats(c, &hits, &misses);
 *	vcache_free(c);
 *
 * DESCRIPTION
 *	During a worm outbreak the same payload arrives thousands of times;
 *	with the cache each copy after the first costs a hash lookup instead
 *	of a scan. Only definite verdicts (clean, virus) are stored, never
 *	errors. The cache is bounded: at most capacity entries, the least
 *	recently used one is evicted first. An entry older than ttl_s seconds
 *	is a miss (for scanners whose signatures change under us, such as
 *	clamd after freshclam). The key includes dbver, a 64-bit value that
 *	names the signature database: a reload with new signatures makes a new
 *	snapshot with a new, empty cache, and dbver keeps a shared cache
 *	honest as well. capacity 0 disables the cache (every get is a miss,
 *	puts are ignored).
 *
 * OWNERSHIP
 *	vcache_get() copies the names into the entry; vcache_entry_clear()
 *	frees them. vcache_put() copies what it is given.
 *
 * THREAD SAFETY
 *	All functions are safe from any thread (one mutex; lookups are O(1)).
 *	Does not log.
 */
#ifndef KLAXON_VCACHE_H
#define KLAXON_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vcache_status { VCACHE_CLEAN = 0, VCACHE_VIRUS = 1 };

struct vcache_entry {
	enum vcache_status status;
	char **names;
	size_t nnames;
};

struct vcache;

struct vcache *vcache_new(size_t capacity, unsigned ttl_s);
bool vcache_get(struct vcache *c, const unsigned char sha[32], uint64_t dbver, struct vcache_entry *out);
void vcache_put(struct vcache *c, const unsigned char sha[32], uint64_t dbver, enum vcache_status status,
		char *const *names, size_t n);
void vcache_stats(struct vcache *c, unsigned long long *hits, unsigned long long *misses);
size_t vcache_size(struct vcache *c);
void vcache_entry_clear(struct vcache_entry *e);
void vcache_free(struct vcache *c);

#endif
