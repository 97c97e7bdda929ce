/*
 * test_alertagg - alert windows (alertagg.h): the first infected copy of a
 * source alerts at once, later ones are counted, a window that counted
 * more than its first copy ends in one summary, the hourly cap delays but
 * never drops, and the counters survive a restart. Time is driven by the
 * `now` each call takes.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alertagg.h"
#include "ident.h"
#include "unit_fs.h"

#define T0 ((time_t)1795770000) /* 2026-11-27T09:00:00Z */
#define WINDOW 900

struct fixture {
	char dir[PATH_MAX];
	char err[1024];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->dir, sizeof(f->dir));
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ufs_nfds(), f->nfds);
	ufs_rm_rf(f->dir);
	free(f);
	return 0;
}

/* One summary as fn saw it: the strings copied, since they live only during fn. */
struct seen {
	char key[IDENT_MAX], source[64], label[128], client_addr[64], auth_user[64];
	enum origin origin;
	unsigned long count, alerted;
	time_t first, last;
	char viruses[4][64];
	unsigned long virus_counts[4];
	size_t nviruses;
};

struct collector {
	struct seen seen[8];
	size_t n;
	int calls;
	int fail;       /* fn returns -1 while this is non-zero */
	char last_key[IDENT_MAX]; /* of the last call, taken or not */
};

/* collect - alertagg_summary_fn that keeps a copy of every summary it takes */
static int collect(const struct alertagg_summary *s, void *arg)
{
	struct collector *c = arg;

	c->calls++;
	snprintf(c->last_key, sizeof(c->last_key), "%s", s->key);
	if (c->fail)
		return -1;
	assert_true(c->n < 8);
	struct seen *w = &c->seen[c->n++];
	snprintf(w->key, sizeof(w->key), "%s", s->key);
	snprintf(w->source, sizeof(w->source), "%s", s->source);
	snprintf(w->label, sizeof(w->label), "%s", s->label);
	snprintf(w->client_addr, sizeof(w->client_addr), "%s", s->client_addr ? s->client_addr : "");
	snprintf(w->auth_user, sizeof(w->auth_user), "%s", s->auth_user ? s->auth_user : "");
	w->origin = s->origin;
	w->count = s->count;
	w->alerted = s->alerted;
	w->first = s->first;
	w->last = s->last;
	w->nviruses = s->nviruses;
	for (size_t i = 0; i < s->nviruses && i < 4; i++) {
		snprintf(w->viruses[i], sizeof(w->viruses[i]), "%s", s->viruses[i]);
		w->virus_counts[i] = s->virus_counts[i];
	}
	return 0;
}

static struct alertagg *open_ag(struct fixture *f, unsigned window, unsigned max_per_hour)
{
	const struct alertagg_opts opts = { window, max_per_hour };
	struct alertagg *ag = NULL;

	if (alertagg_open(f->dir, &opts, &ag, f->err, sizeof(f->err)) != 0)
		fail_msg("alertagg_open: %s", f->err);
	assert_non_null(ag);
	return ag;
}

static const char *const eicar[] = { "Eicar-Signature" };
static const char *const sobig[] = { "Sobig.F" };
static const char *const both[] = { "Sobig.F", "Eicar-Signature", "Sobig.F" };

static const struct alertagg_source alice = { "10.1.2.3", "alice", ORIGIN_INTERNAL };
static const struct alertagg_source host = { "10.1.2.4", NULL, ORIGIN_INTERNAL };
static const struct alertagg_source other = { "10.1.2.5", "", ORIGIN_INTERNAL };

/* note - alertagg_note that must succeed; returns the decision */
static enum alertagg_decision note(struct fixture *f, struct alertagg *ag, const struct alertagg_source *src,
				   const char *const *v, size_t n, time_t now)
{
	enum alertagg_decision d = ALERTAGG_COUNTED;

	if (alertagg_note(ag, src, v, n, now, &d, f->err, sizeof(f->err)) != 0)
		fail_msg("alertagg_note: %s", f->err);
	return d;
}

/* due - alertagg_due that must succeed */
static void due(struct fixture *f, struct alertagg *ag, time_t now, struct collector *c)
{
	if (alertagg_due(ag, now, collect, c, f->err, sizeof(f->err)) != 0)
		fail_msg("alertagg_due: %s", f->err);
}

/* test_forget - an ALERT_NOW whose alert could not be spooled is undone: the retry alerts again */
static void test_forget(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = {0};

	assert_int_equal(note(f, ag, &host, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(alertagg_forget(ag, &host, T0, f->err, sizeof(f->err)), 0);
	/* the retry of the same message: as if it had never come */
	assert_int_equal(note(f, ag, &host, eicar, 1, T0 + 5), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &host, eicar, 1, T0 + 6), ALERTAGG_COUNTED);
	due(f, ag, T0 + 5 + WINDOW, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, 2);   /* the forgotten note is not in it */
	assert_int_equal(c.seen[0].alerted, 1);

	/* forgetting in a window of several only takes that one back */
	struct collector c2 = {0};
	time_t t1 = T0 + 10 * WINDOW;
	assert_int_equal(note(f, ag, &alice, sobig, 1, t1), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &alice, sobig, 1, t1 + 1), ALERTAGG_COUNTED);
	assert_int_equal(note(f, ag, &alice, sobig, 1, t1 + 2), ALERTAGG_COUNTED);
	assert_int_equal(alertagg_forget(ag, &alice, t1 + 2, f->err, sizeof(f->err)), 0);
	due(f, ag, t1 + WINDOW, &c2);
	assert_int_equal(c2.n, 1);
	assert_int_equal(c2.seen[0].count, 2);
	/* nothing open: forgetting is a no-op */
	assert_int_equal(alertagg_forget(ag, &other, t1, f->err, sizeof(f->err)), 0);
	alertagg_close(ag);
}

static void test_first_alerts_later_counted(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);

	assert_int_equal(note(f, ag, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &alice, eicar, 1, T0 + 1), ALERTAGG_COUNTED);
	assert_int_equal(note(f, ag, &alice, eicar, 1, T0 + WINDOW - 1), ALERTAGG_COUNTED);
	/* Another source has a window of its own. */
	assert_int_equal(note(f, ag, &host, eicar, 1, T0 + 2), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &host, eicar, 1, T0 + 3), ALERTAGG_COUNTED);
	/* The same user from another address is the same source. */
	const struct alertagg_source roaming = { "10.9.9.9", "alice", ORIGIN_INTERNAL };
	assert_int_equal(note(f, ag, &roaming, eicar, 1, T0 + 4), ALERTAGG_COUNTED);
	/* A user named like an address is not that address. */
	const struct alertagg_source tricky = { "10.7.7.7", "10.1.2.4", ORIGIN_INTERNAL };
	assert_int_equal(note(f, ag, &tricky, eicar, 1, T0 + 5), ALERTAGG_ALERT_NOW);
	alertagg_close(ag);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/aggregate.sqlite", f->dir);
	assert_int_equal(ufs_mode(path), 0600);
}

static void test_summary_at_window_end(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { 0 };

	assert_int_equal(note(f, ag, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &alice, sobig, 1, T0 + 10), ALERTAGG_COUNTED);
	assert_int_equal(note(f, ag, &alice, sobig, 1, T0 + 20), ALERTAGG_COUNTED);
	/* A name twice in one message counts once. */
	assert_int_equal(note(f, ag, &alice, both, 3, T0 + 30), ALERTAGG_COUNTED);
	due(f, ag, T0 + WINDOW - 1, &c);
	assert_int_equal(c.calls, 0);
	due(f, ag, T0 + WINDOW, &c);
	assert_int_equal(c.calls, 1);
	const struct seen *s = &c.seen[0];
	assert_true(ident_valid(s->key));
	assert_string_equal(s->source, "alice");
	assert_string_equal(s->label, "10.1.2.3 (user alice)");
	assert_string_equal(s->client_addr, "10.1.2.3");
	assert_string_equal(s->auth_user, "alice");
	assert_int_equal(s->origin, ORIGIN_INTERNAL);
	assert_int_equal(s->count, 4);
	assert_int_equal(s->alerted, 1);
	assert_int_equal(s->first, T0);
	assert_int_equal(s->last, T0 + 30);
	assert_int_equal(s->nviruses, 2);
	assert_string_equal(s->viruses[0], "Sobig.F");
	assert_int_equal(s->virus_counts[0], 3);
	assert_string_equal(s->viruses[1], "Eicar-Signature");
	assert_int_equal(s->virus_counts[1], 2);
	/* Closed for good. */
	due(f, ag, T0 + WINDOW + 100, &c);
	assert_int_equal(c.calls, 1);
	alertagg_close(ag);
}

static void test_labels(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { 0 };
	const struct alertagg_source user_only = { NULL, "bob", ORIGIN_INTERNAL };
	const struct alertagg_source nothing = { "", NULL, ORIGIN_EXTERNAL };

	for (int i = 0; i < 2; i++) {
		note(f, ag, &host, eicar, 1, T0 + i);
		note(f, ag, &user_only, eicar, 1, T0 + 1 + i);
		note(f, ag, &nothing, NULL, 0, T0 + 2 + i);
	}
	due(f, ag, T0 + WINDOW + 5, &c);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.seen[0].label, "10.1.2.4");
	assert_string_equal(c.seen[0].source, "10.1.2.4");
	assert_string_equal(c.seen[0].auth_user, "");
	assert_string_equal(c.seen[1].label, "user bob");
	assert_string_equal(c.seen[1].source, "bob");
	assert_string_equal(c.seen[2].label, "unknown host");
	assert_int_equal(c.seen[2].origin, ORIGIN_EXTERNAL);
	assert_int_equal(c.seen[2].nviruses, 0);
	/* Keys differ per window. */
	assert_string_not_equal(c.seen[0].key, c.seen[1].key);
	assert_string_not_equal(c.seen[1].key, c.seen[2].key);
	alertagg_close(ag);
}

static void test_fn_failure_keeps_window(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { .fail = 1 };

	note(f, ag, &alice, eicar, 1, T0);
	note(f, ag, &alice, eicar, 1, T0 + 1);
	note(f, ag, &host, eicar, 1, T0 + 2);
	note(f, ag, &host, eicar, 1, T0 + 3);
	assert_int_equal(alertagg_due(ag, T0 + WINDOW + 3, collect, &c, f->err, sizeof(f->err)), -1);
	assert_int_equal(c.calls, 2); /* one failure does not hold the other window back */
	assert_non_null(strstr(f->err, "2 summaries"));
	c.fail = 0;
	due(f, ag, T0 + WINDOW + 5, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.seen[0].count, 2);
	assert_string_equal(c.seen[0].source, "alice");
	assert_string_equal(c.seen[1].source, "10.1.2.4");
	due(f, ag, T0 + WINDOW + 10, &c);
	assert_int_equal(c.n, 2);
	alertagg_close(ag);
}

static void test_same_key_on_retry(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { .fail = 1 };
	char key[IDENT_MAX];

	note(f, ag, &alice, eicar, 1, T0);
	note(f, ag, &alice, eicar, 1, T0 + 1);
	assert_int_equal(alertagg_due(ag, T0 + WINDOW, collect, &c, f->err, sizeof(f->err)), -1);
	snprintf(key, sizeof(key), "%s", c.last_key);
	assert_true(ident_valid(key));
	assert_non_null(strstr(key, "-summary-"));
	assert_int_equal(strncmp(key, "20261127T091500Z", 16), 0); /* the window's end sorts it in the spool */
	/* A restart in between (as after a crash past the spooling) offers the same key again. */
	alertagg_close(ag);
	ag = open_ag(f, WINDOW, 30);
	assert_int_equal(alertagg_due(ag, T0 + WINDOW + 2, collect, &c, f->err, sizeof(f->err)), -1);
	assert_string_equal(c.last_key, key);
	c.fail = 0;
	due(f, ag, T0 + WINDOW + 4, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.seen[0].key, key);
	alertagg_close(ag);
}

static void test_single_message_closes_silently(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { 0 };

	assert_int_equal(note(f, ag, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	due(f, ag, T0 + WINDOW, &c);
	assert_int_equal(c.calls, 0);
	/* The next copy opens a new window and alerts again. */
	assert_int_equal(note(f, ag, &alice, eicar, 1, T0 + WINDOW + 1), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &alice, eicar, 1, T0 + WINDOW + 2), ALERTAGG_COUNTED);
	due(f, ag, T0 + 2 * WINDOW + 1, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, 2);
	assert_int_equal(c.seen[0].first, T0 + WINDOW + 1);
	alertagg_close(ag);
}

static void test_new_window_before_due(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { 0 };

	note(f, ag, &alice, eicar, 1, T0);
	note(f, ag, &alice, eicar, 1, T0 + 5);
	/* The window ended but nobody called due yet: a new copy still opens a new window. */
	assert_int_equal(note(f, ag, &alice, sobig, 1, T0 + WINDOW), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &alice, sobig, 1, T0 + WINDOW + 1), ALERTAGG_COUNTED);
	due(f, ag, T0 + WINDOW + 2, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, 2);
	assert_int_equal(c.seen[0].last, T0 + 5);
	assert_string_equal(c.seen[0].viruses[0], "Eicar-Signature");
	due(f, ag, T0 + 2 * WINDOW, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.seen[1].count, 2);
	assert_string_equal(c.seen[1].viruses[0], "Sobig.F");
	alertagg_close(ag);
}

static void test_hourly_cap(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 2);
	struct collector c = { 0 };
	const struct alertagg_source third = { "10.1.2.6", NULL, ORIGIN_INTERNAL };

	assert_int_equal(note(f, ag, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &host, eicar, 1, T0 + 1), ALERTAGG_ALERT_NOW);
	/* Past the cap: counted, never dropped. */
	assert_int_equal(note(f, ag, &third, eicar, 1, T0 + 2), ALERTAGG_COUNTED);
	assert_int_equal(note(f, ag, &third, eicar, 1, T0 + 3), ALERTAGG_COUNTED);
	/* The silent windows close; the third one's summary waits for the hour. */
	due(f, ag, T0 + WINDOW + 2, &c);
	assert_int_equal(c.calls, 0);
	due(f, ag, T0 + 3599, &c);
	assert_int_equal(c.calls, 0);
	due(f, ag, T0 + 3600, &c); /* the alert at T0 left the hour: room for one */
	assert_int_equal(c.n, 1);
	assert_string_equal(c.seen[0].source, "10.1.2.6");
	assert_int_equal(c.seen[0].count, 2);
	assert_int_equal(c.seen[0].alerted, 0);
	/* The summary counts against the cap too: at T0+3600 the hour holds T0+1 and the summary. */
	assert_int_equal(note(f, ag, &other, eicar, 1, T0 + 3600), ALERTAGG_COUNTED);
	assert_int_equal(note(f, ag, &alice, eicar, 1, T0 + 3601), ALERTAGG_ALERT_NOW);
	alertagg_close(ag);
}

static void test_cap_lone_message_summarised(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 1);
	struct collector c = { 0 };

	assert_int_equal(note(f, ag, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &host, sobig, 1, T0 + 1), ALERTAGG_COUNTED);
	due(f, ag, T0 + 3601, &c);
	/* One copy with no alert of its own still gets its summary. */
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, 1);
	assert_int_equal(c.seen[0].alerted, 0);
	alertagg_close(ag);
}

static void test_restart_keeps_state(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct collector c = { 0 };

	assert_int_equal(note(f, ag, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, ag, &alice, eicar, 1, T0 + 1), ALERTAGG_COUNTED);
	alertagg_close(ag);
	ag = open_ag(f, WINDOW, 30);
	/* No second immediate alert after the restart. */
	assert_int_equal(note(f, ag, &alice, sobig, 1, T0 + 2), ALERTAGG_COUNTED);
	due(f, ag, T0 + WINDOW, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, 3);
	assert_int_equal(c.seen[0].alerted, 1);
	alertagg_close(ag);
	ag = open_ag(f, WINDOW, 30);
	/* ... and no second summary. */
	due(f, ag, T0 + WINDOW + 10, &c);
	assert_int_equal(c.calls, 1);
	alertagg_close(ag);
	/* The cap's log survives too: with max 2, the alert and the summary fill the hour. */
	ag = open_ag(f, WINDOW, 2);
	assert_int_equal(note(f, ag, &host, eicar, 1, T0 + WINDOW + 20), ALERTAGG_COUNTED);
	alertagg_close(ag);
}

struct racer {
	struct fixture *f;
	struct alertagg *ag;
	unsigned now_alerts, counted, failures;
};

enum { RACERS = 4, NOTES_EACH = 250 };

static void *race(void *arg)
{
	struct racer *r = arg;
	char err[512];

	for (int i = 0; i < NOTES_EACH; i++) {
		enum alertagg_decision d;
		if (alertagg_note(r->ag, &alice, eicar, 1, T0 + i / 100, &d, err, sizeof(err)) != 0)
			r->failures++;
		else if (d == ALERTAGG_ALERT_NOW)
			r->now_alerts++;
		else
			r->counted++;
	}
	return NULL;
}

static void test_two_threads_count_exactly(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);
	struct racer r[RACERS];
	pthread_t tid[RACERS];
	struct collector c = { 0 };

	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){ .f = f, .ag = ag };
		assert_int_equal(pthread_create(&tid[i], NULL, race, &r[i]), 0);
	}
	unsigned alerts = 0, counted = 0;
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(r[i].failures, 0);
		alerts += r[i].now_alerts;
		counted += r[i].counted;
	}
	assert_int_equal(alerts, 1);
	assert_int_equal(counted, RACERS * NOTES_EACH - 1);
	due(f, ag, T0 + WINDOW + 5, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, RACERS * NOTES_EACH);
	assert_int_equal(c.seen[0].virus_counts[0], RACERS * NOTES_EACH);
	alertagg_close(ag);
}

/* A second connection on the same file (a reload opens one before the old one is let go). */
static void test_two_connections(void **state)
{
	struct fixture *f = *state;
	struct alertagg *a = open_ag(f, WINDOW, 30), *b = open_ag(f, WINDOW, 30);
	struct collector c = { 0 };

	assert_int_equal(note(f, a, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	assert_int_equal(note(f, b, &alice, eicar, 1, T0 + 1), ALERTAGG_COUNTED);
	alertagg_close(a);
	due(f, b, T0 + WINDOW, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seen[0].count, 2);
	alertagg_close(b);
}

static void test_global_refcount(void **state)
{
	struct fixture *f = *state;
	struct alertagg *ag = open_ag(f, WINDOW, 30);

	assert_null(alertagg_global());
	alertagg_set_global(ag);
	alertagg_close(ag); /* the global keeps it open */
	struct alertagg *pinned = alertagg_global();
	assert_ptr_equal(pinned, ag);
	alertagg_set_global(NULL);
	assert_null(alertagg_global());
	/* Still usable by the thread that pinned it; freed when it lets go (ASan says if not). */
	assert_int_equal(note(f, pinned, &alice, eicar, 1, T0), ALERTAGG_ALERT_NOW);
	alertagg_close(pinned);
	alertagg_close(NULL);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	const struct alertagg_opts opts = { WINDOW, 30 }, zero = { 0, 30 };
	struct alertagg *ag = (struct alertagg *)1;

	snprintf(path, sizeof(path), "%s/file", f->dir);
	assert_int_equal(ufs_write(path, "x", 1), 0);
	assert_int_equal(alertagg_open(path, &opts, &ag, f->err, sizeof(f->err)), -1);
	assert_null(ag);
	assert_true(f->err[0] != '\0');
	assert_int_equal(alertagg_open(f->dir, &zero, &ag, f->err, sizeof(f->err)), -1);
	/* Not a database: refused with sqlite's word for it, and nothing is overwritten. */
	snprintf(path, sizeof(path), "%s/aggregate.sqlite", f->dir);
	char junk[4096];
	memset(junk, 'J', sizeof(junk));
	assert_int_equal(ufs_write(path, junk, sizeof(junk)), 0);
	assert_int_equal(alertagg_open(f->dir, &opts, &ag, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "aggregate.sqlite"));
	size_t len = 0;
	char *back = ufs_read(path, &len);
	assert_int_equal(len, sizeof(junk));
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_alerts_later_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_at_window_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fn_failure_keeps_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_key_on_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_message_closes_silently, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_window_before_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hourly_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_lone_message_summarised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_threads_count_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_refcount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
