/*
 * alert - internal-virus alerts: compose, spool durably, submit, retry.
 *
 * SYNOPSIS
 *	alert_compose(&info, &msg, &len, err, errlen);
 *	alert_enqueue(spool_dir, msg, len, id, idlen, err, errlen);
 *	alert_compose_summary(&summary, &msg, &len, err, errlen);
 *	alert_enqueue_named(spool_dir, summary.key, msg, len, err, errlen);
 *	alert_flush(spool_dir, sendmail_argv, timeout_s, &stats, err, errlen);
 *
 * DESCRIPTION
 *	An alert tells the internal alert list that an internal host sent a
 *	virus. alert_compose() builds a complete RFC 5322 message (From, To,
 *	Subject, Date, Message-ID, Auto-Submitted: auto-generated, MIME-Version,
 *	text/plain UTF-8) naming the client address and name, HELO, auth user,
 *	envelope sender, recipients, subject of the infected message, viruses,
 *	queue id, quarantine id and the time. Every untrusted value is
 *	sanitised: CR, LF and other control characters become '?', and header
 *	values are length-limited, so nothing can inject a header or a line.
 *	The recipients of the alert are only info->to; the envelope sender of
 *	the infected mail never receives anything. A Lua filter's
 *	action_notify_administrator text (info->note) opens the body, and
 *	info->outcome says what became of the message.
 *
 *	alert_compose_notice() builds a filter's action_notify_sender notice
 *	(n->to only). It does not decide whether the notice may go: that is
 *	filter_notice_to_sender_allowed() (filter_api.h), which refuses it for
 *	any message with a virus verdict; the caller asks it first.
 *
 *	alert_compose_summary() builds the summary of an alert window
 *	(alertagg.h): Subject "klaxon: 3,412 infected messages from internal
 *	host 10.1.2.3 (user alice)", the line "10.1.2.3 (user alice): 3,412
 *	infected messages, Sobig.F, 09:00 to 09:15" (UTC; with dates when the
 *	window spans days), how many of them had an alert of their own, one
 *	line per virus with its count, the first and last time, and the
 *	`klaxon quarantine list` command that shows the copies. Values are
 *	sanitised as in alert_compose(). When s->key is a valid id it is the
 *	Message-ID's left part, so a summary sent twice is recognisably one.
 *
 *	alert_enqueue() writes the message into spool_dir as one file through
 *	the durable recipe, before any attempt to send it.
 *	alert_enqueue_named() does the same under a name the caller chose (an
 *	id, ident_valid()) and does nothing when that name is already spooled,
 *	so spooling one summary twice gives one alert. alert_flush() tries
 *	to submit every spooled alert (oldest first) with submit_message(); an
 *	alert is removed from the spool only after the command exits 0. A
 *	failed alert stays and is tried again at the next flush, so an alert is
 *	never lost because the MTA was briefly down.
 *
 * OWNERSHIP
 *	alert_compose() and alert_compose_summary() return a malloc'd message
 *	the caller frees.
 *
 * ERRORS
 *	0 on success, -1 with err set. alert_flush() returns 0 if every alert
 *	was sent, -1 if any is still pending (stats say how many and err the
 *	last reason).
 *
 * THREAD SAFETY
 *	compose and enqueue are safe from any thread. alert_flush() takes an
 *	flock(2) on spool_dir/.lock so that two flushers (the daemon's retry
 *	thread and a `klaxon check`) never send the same alert twice. Does not log.
 */
#ifndef KLAXON_ALERT_H
#define KLAXON_ALERT_H

#include <stddef.h>
#include <time.h>

#include "envelope.h"

struct alert_info {
	const struct envelope *env;
	const char *subject;             /* of the infected message, may be NULL */
	const char *const *viruses;
	size_t nviruses;
	const char *quarantine_id;
	const char *from;                /* alert_from */
	const char *const *to;           /* alert_to addresses */
	size_t nto;
	const char *hostname;            /* this host, for Message-ID and text */
	time_t when;
	const char *note;                /* a filter's action_notify_administrator text, or NULL */
	const char *outcome;             /* "discarded", "accepted", ...; NULL: by quarantine_id */
};

/* A filter's action_notify_sender notice; see alert_compose_notice(). */
struct alert_notice {
	const char *from;                /* alert_from */
	const char *to;                  /* the envelope sender, already allowed by the caller */
	const char *subject;             /* of the original message, may be NULL */
	const char *text;                /* the filter's text */
	const char *queue_id;
	const char *hostname;
	time_t when;
};

/* The summary of one alert window; see alert_compose_summary(). */
struct alert_summary_info {
	const char *key;                 /* unique per window; the Message-ID when ident_valid() */
	const char *label;               /* "10.1.2.3 (user alice)" */
	const char *client_addr;         /* may be NULL */
	const char *auth_user;           /* may be NULL */
	enum origin origin;
	unsigned long count;             /* every message in the window */
	unsigned long alerted;           /* how many of them had an alert of their own */
	time_t first, last;
	const char *const *viruses;      /* most frequent first */
	const unsigned long *virus_counts;
	size_t nviruses;
	const char *from;                /* alert_from */
	const char *const *to;           /* alert_to addresses */
	size_t nto;
	const char *hostname;
	time_t when;
};

struct alert_flush_stats {
	unsigned sent;
	unsigned pending;
};

int alert_compose(const struct alert_info *info, char **msg, size_t *len, char *err, size_t errlen);
int alert_compose_notice(const struct alert_notice *n, char **msg, size_t *len, char *err,
			 size_t errlen);
int alert_compose_summary(const struct alert_summary_info *s, char **msg, size_t *len, char *err,
			  size_t errlen);
int alert_enqueue_named(const char *spool_dir, const char *name, const char *msg, size_t len, char *err,
			size_t errlen);
int alert_enqueue(const char *spool_dir, const char *msg, size_t len, char *id_out, size_t idlen,
		  char *err, size_t errlen);
int alert_flush(const char *spool_dir, char *const sendmail_argv[], unsigned timeout_s,
		struct alert_flush_stats *stats, char *err, size_t errlen);

#endif
