/*
 * snapshot - the refcounted config snapshot. See snapshot.h.
 */
#include "snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"
#include "filter_api.h"
#include "sigdb.h"
#include "vcache.h"

/* The one mutable global: which snapshot new messages get. */
static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *snapshot_current;
static unsigned snapshot_pins; /* acquires not yet released: messages in flight */

static void snapshot_unref(struct snapshot *s, bool pinned);

/* snapshot_open_scanner - resolve the database and open the configured backend */
static int snapshot_open_scanner(struct snapshot *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	struct sigdb db = {0};
	if (cfg->scanner == SCAN_BACKEND_LIBCLAMAV &&
	    sigdb_resolve(cfg->clamav_db, &db, err, errlen) == -1)
		return -1;
	s->builtin_sigs = db.builtin;

	struct scan_options opts = {
		.backend = cfg->scanner,
		.db_dir = db.dir,
		.clamd_socket = cfg->clamd_socket,
		.timeout_ms = cfg->scan_timeout * 1000,
		.max_scan_size = cfg->max_message_size,
	};
	int rc = scanner_open(&opts, &s->scanner, err, errlen);
	sigdb_cleanup(&db); /* the engine holds the signatures in memory now */
	return rc;
}

/* snapshot_open_filter - compile the configured filter and make its pool */
static int snapshot_open_filter(struct snapshot *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	if (cfg->filter[0] == '\0')
		return 0;
	struct filter_opts opts = {
		.funcs = filter_api_funcs,
		.mem_limit = cfg->filter_memory_limit,
		.time_limit_ms = cfg->filter_time_limit * 1000,
	};
	char why[600];
	if (filter_prog_compile(cfg->filter, &opts, &s->filter, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "filter: %s", why);
		return -1;
	}
	s->filter_pool = filter_pool_new(s->filter, cfg->filter_pool_size);
	if (s->filter_pool == NULL) {
		snprintf(err, errlen, "filter: out of memory for the state pool");
		filter_prog_free(s->filter);
		s->filter = NULL;
		return -1;
	}
	return 0;
}

/* snapshot_close_filter - the pool first: its states point into the prog */
static void snapshot_close_filter(struct snapshot *s)
{
	filter_pool_free(s->filter_pool);
	filter_prog_free(s->filter);
	s->filter_pool = NULL;
	s->filter = NULL;
}

/* snapshot_build - load config and scanner into a new snapshot with one reference */
int snapshot_build(const char *config_path, struct snapshot **out, char *err, size_t errlen)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->refs = 1;
	if (config_load(config_path, &s->cfg, err, errlen) == -1) {
		free(s);
		return -1;
	}
	if (s->cfg->hostname[0] != '\0')
		snprintf(s->hostname, sizeof(s->hostname), "%s", s->cfg->hostname);
	else if (gethostname(s->hostname, sizeof(s->hostname) - 1) == -1)
		snprintf(s->hostname, sizeof(s->hostname), "localhost");

	if (sem_init(&s->slots, 0, s->cfg->max_concurrent_scans) == -1) {
		snprintf(err, errlen, "sem_init: %s", strerror(errno));
		config_free(s->cfg);
		free(s);
		return -1;
	}
	s->cache = vcache_new(s->cfg->verdict_cache_size, s->cfg->verdict_cache_ttl);
	if (s->cache == NULL || snapshot_open_filter(s, err, errlen) == -1 ||
	    snapshot_open_scanner(s, err, errlen) == -1) {
		if (s->cache == NULL)
			snprintf(err, errlen, "out of memory for the verdict cache");
		snapshot_close_filter(s);
		vcache_free(s->cache);
		sem_destroy(&s->slots);
		config_free(s->cfg);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* snapshot_destroy - the last reference is gone */
static void snapshot_destroy(struct snapshot *s)
{
	scanner_close(s->scanner);
	snapshot_close_filter(s);
	vcache_free(s->cache);
	sem_destroy(&s->slots);
	config_free(s->cfg);
	free(s);
}

/* snapshot_install - make s current; the install takes over the caller's reference */
void snapshot_install(struct snapshot *s)
{
	pthread_mutex_lock(&snapshot_lock);
	struct snapshot *old = snapshot_current;
	snapshot_current = s;
	pthread_mutex_unlock(&snapshot_lock);
	if (old)
		snapshot_unref(old, false); /* the install's own reference, not a pin */
}

/* snapshot_acquire - pin the current snapshot */
struct snapshot *snapshot_acquire(void)
{
	pthread_mutex_lock(&snapshot_lock);
	struct snapshot *s = snapshot_current;
	if (s) {
		s->refs++;
		snapshot_pins++;
	}
	pthread_mutex_unlock(&snapshot_lock);
	return s;
}

/* snapshot_unref - drop one reference; free on the last */
static void snapshot_unref(struct snapshot *s, bool pinned)
{
	pthread_mutex_lock(&snapshot_lock);
	bool last = --s->refs == 0;
	if (pinned)
		snapshot_pins--;
	pthread_mutex_unlock(&snapshot_lock);
	if (last)
		snapshot_destroy(s);
}

/* snapshot_release - unpin what snapshot_acquire() pinned */
void snapshot_release(struct snapshot *s)
{
	if (s)
		snapshot_unref(s, true);
}

/* snapshot_discard - drop a built snapshot that was never installed */
void snapshot_discard(struct snapshot *s)
{
	if (s)
		snapshot_unref(s, false);
}

/* snapshot_wait_idle - wait until nothing is pinned, at most timeout_s; returns what is left */
unsigned snapshot_wait_idle(unsigned timeout_s)
{
	for (unsigned waited_ms = 0;; waited_ms += 50) {
		pthread_mutex_lock(&snapshot_lock);
		unsigned pins = snapshot_pins;
		pthread_mutex_unlock(&snapshot_lock);
		if (pins == 0 || waited_ms >= timeout_s * 1000)
			return pins;
		struct timespec nap = {0, 50 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

/* snapshot_slot_take - wait for a scan slot, at most scan_wait_timeout */
int snapshot_slot_take(struct snapshot *s)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += s->cfg->scan_wait_timeout;
	for (;;) {
		if (sem_timedwait(&s->slots, &deadline) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

void snapshot_slot_give(struct snapshot *s)
{
	sem_post(&s->slots);
}

/* snapshot_alert_from - alert_from, or klaxon@hostname */
void snapshot_alert_from(const struct snapshot *s, char *out, size_t outlen)
{
	if (s->cfg->alert_from[0])
		snprintf(out, outlen, "%s", s->cfg->alert_from);
	else
		snprintf(out, outlen, "klaxon@%s", s->hostname);
}
