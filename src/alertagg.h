/*
 * alertagg - one alert per infected source per window, not one per copy.
 *
 * SYNOPSIS
 *	struct alertagg *ag;
 *	alertagg_open(alert_spool_dir, &opts, &ag, err, errlen);
 *	(per internal viral message, from any thread)
 *	enum alertagg_decision d;
 *	alertagg_note(ag, &src, "Sobig.F", time(NULL), &d, err, errlen);
 *	if (d == ALERTAGG_ALERT_NOW) ... compose and spool the usual alert ...
 *	(from the daemon's alert thread, every few seconds)
 *	alertagg_due(ag, time(NULL), summary_fn, arg, err, errlen);
 *	alertagg_close(ag);
 *
 * DESCRIPTION
 *	A source is the client address, or the auth user when there is one
 *	("10.1.2.3" or "alice"); its label for people is "10.1.2.3 (user
 *	alice)". The first infected message from a source opens a window of
 *	opts->window seconds and gets ALERTAGG_ALERT_NOW: the caller sends the
 *	per-message alert at once, as before. Every later message from that
 *	source inside the window gets ALERTAGG_COUNTED: it is counted (total,
 *	first and last time, the virus names with their counts) and no mail
 *	goes out for it.
 *
 *	When the window has ended and it counted messages after the first,
 *	alertagg_due() hands a summary to fn ("10.1.2.3 (user alice): 3,412
 *	infected messages, Sobig.F, 09:00 to 09:15"); when fn returns 0 the
 *	window is closed for good. A window with only its first message closes
 *	without a summary. The next message from that source opens a new
 *	window (and alerts at once again).
 *
 *	The hard cap: at most opts->max_per_hour alert mails (immediate and
 *	summaries together) in any sliding hour. Past it, a first message is
 *	COUNTED instead (its window then always ends in a summary), and due
 *	summaries wait until the cap allows; nothing is dropped, only delayed.
 *
 *	Durability: the state lives in alert_spool_dir/aggregate.sqlite (WAL,
 *	synchronous=NORMAL: a crash of klaxon loses nothing; a power loss may
 *	lose the last second). Each note is one transaction, so counters
 *	survive a restart: no alert is lost and none is repeated. A summary
 *	is idempotent: fn gets a key unique to the window (summary->key), which
 *	the caller uses as the spool name (alert_enqueue_named()), so a crash
 *	between spooling it and closing the window spools the same file again
 *	rather than a second alert.
 *
 *	alertagg_set_global() makes one aggregator the process's own, for the
 *	pipeline: alertagg_global() returns it pinned (or NULL: no aggregation,
 *	one alert per message, as `klaxon check` has it), and the caller
 *	drops the pin with alertagg_close(). The daemon sets it at start and
 *	swaps it on a reload; a swap never closes a database under a thread
 *	that still holds the old one.
 *
 * OWNERSHIP
 *	The strings in a summary are valid during fn. An aggregator is
 *	refcounted: alertagg_open() gives one reference, alertagg_global()
 *	and alertagg_set_global() take one each, alertagg_close() drops one
 *	and the last one closes the database.
 *
 * ERRORS
 *	0, or -1 with err. A note that fails must not lose the alert: the
 *	caller then sends the per-message alert as before (d is set to
 *	ALERTAGG_ALERT_NOW). When a note said ALERT_NOW but the alert could
 *	not be spooled (the message is then tempfailed), alertagg_forget()
 *	undoes it: the retry finds the source as before and alerts at once. alertagg_due() returns -1 also when fn failed
 *	for a window: that window stays and is offered again at the next call.
 *
 * THREAD SAFETY
 *	alertagg_note() and alertagg_due() are safe from any thread (one
 *	connection, serialised by a mutex; fn runs under it, so it must not
 *	call back into the same aggregator). The global functions are safe
 *	from any thread. Does not log.
 */
#ifndef KLAXON_ALERTAGG_H
#define KLAXON_ALERTAGG_H

#include <stddef.h>
#include <time.h>

#include "envelope.h"

struct alertagg_opts {
	unsigned window;           /* seconds, alert_window */
	unsigned max_per_hour;     /* alert_max_per_hour */
};

struct alertagg_source {
	const char *client_addr;   /* may be NULL or "" */
	const char *auth_user;     /* may be NULL */
	enum origin origin;
};

enum alertagg_decision { ALERTAGG_ALERT_NOW = 0, ALERTAGG_COUNTED };

struct alertagg_summary {
	const char *key;           /* unique per window, safe as a file name */
	const char *source;        /* "10.1.2.3" or "alice" */
	const char *label;         /* "10.1.2.3 (user alice)" */
	const char *client_addr, *auth_user;
	enum origin origin;
	unsigned long count;       /* every message in the window, the first included */
	unsigned long alerted;     /* how many of them already had their own alert (0 or 1) */
	time_t first, last;
	const char *const *viruses;      /* names, most frequent first */
	const unsigned long *virus_counts;
	size_t nviruses;
};

typedef int (*alertagg_summary_fn)(const struct alertagg_summary *s, void *arg);

struct alertagg;

int alertagg_open(const char *dir, const struct alertagg_opts *opts, struct alertagg **out, char *err,
		  size_t errlen);
int alertagg_note(struct alertagg *ag, const struct alertagg_source *src, const char *const *viruses,
		  size_t nviruses, time_t now, enum alertagg_decision *d, char *err, size_t errlen);
int alertagg_forget(struct alertagg *ag, const struct alertagg_source *src, time_t now, char *err,
		    size_t errlen);
int alertagg_due(struct alertagg *ag, time_t now, alertagg_summary_fn fn, void *arg, char *err,
		 size_t errlen);
void alertagg_close(struct alertagg *ag);

void alertagg_set_global(struct alertagg *ag);  /* NULL: none; takes its own reference */
struct alertagg *alertagg_global(void);          /* pinned, or NULL; alertagg_close() it */

#endif
