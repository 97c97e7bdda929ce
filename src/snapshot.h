/*
 * snapshot - the one immutable, refcounted view of config and signatures.
 *
 * SYNOPSIS
 *	struct snapshot *s;
 *	snapshot_build(path, &s, &builtin_sigs, err, errlen);
 *	snapshot_install(s);                 the process's current snapshot
 *	struct snapshot *cur = snapshot_acquire();
 *	... use cur->cfg, cur->scanner ...
 *	snapshot_release(cur);
 *
 * DESCRIPTION
 *	A snapshot holds a loaded config, the scanner built from it (for
 *	libclamav, one compiled engine shared by every thread), the Lua filter
 *	compiled from its `filter` key with a pool of states (filter.h), this
 *	host's name and the scan-slot limiter. A filter that does not compile
 *	fails the build ("filter: FILE:LINE: message"), so a reload keeps the
 *	old snapshot, filter included. A message pins the snapshot current at
 *	MAIL FROM and releases it when the message ends, so a reload never
 *	changes the config or the signatures under a message in flight: the
 *	old snapshot is freed when its last message lets go.
 *
 *	snapshot_slot_take() waits up to scan_wait_timeout for one of
 *	max_concurrent_scans slots; it returns -1 if none came free, and the
 *	message is then tempfailed, never dropped.
 *
 *	snapshot_alert_from() writes the From of the mail klaxon writes itself
 *	(alerts, summaries, notices): alert_from, or klaxon@ this host's name.
 *
 *	snapshot_wait_idle() waits until no snapshot is pinned (no message in
 *	flight), for a clean stop; it returns how many pins are left.
 *
 *	The "current" pointer is klaxon's only mutable global; it is guarded by
 *	a mutex, and swapping it is the whole of a reload.
 *
 * THREAD SAFETY
 *	acquire, release, install and the slot functions are safe from any
 *	thread. Does not log.
 */
#ifndef KLAXON_SNAPSHOT_H
#define KLAXON_SNAPSHOT_H

#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "scan.h"

struct filter_prog;
struct filter_pool;

struct snapshot {
	unsigned refs;             /* guarded by the snapshot mutex */
	struct config *cfg;
	struct scanner *scanner;
	char hostname[256];
	bool builtin_sigs;         /* running on the built-in test signatures */
	struct vcache *cache;      /* outbreak verdict cache; new, so empty, on every reload */
	struct filter_prog *filter;      /* the compiled Lua filter, NULL: built-in policy */
	struct filter_pool *filter_pool; /* its Lua states, one per thread in a callback */
	sem_t slots;
};

int snapshot_build(const char *config_path, struct snapshot **out, char *err, size_t errlen);
void snapshot_install(struct snapshot *s);
struct snapshot *snapshot_acquire(void);
void snapshot_release(struct snapshot *s);
void snapshot_discard(struct snapshot *s);   /* built, never installed */
unsigned snapshot_wait_idle(unsigned timeout_s);
int snapshot_slot_take(struct snapshot *s);
void snapshot_alert_from(const struct snapshot *s, char *out, size_t outlen);
void snapshot_slot_give(struct snapshot *s);

#endif
