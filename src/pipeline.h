/*
 * pipeline - scan, decide, act: the one code path shared by the daemon and
 * `klaxon check`.
 *
 * SYNOPSIS
 *	struct pipeline_result r;
 *	pipeline_run(snap, &env, intake, &r);
 *	... apply r.action; r.rcode/r.xcode/r.text for the SMTP reply ...
 *	pipeline_log(&env, spool_size(intake_spool(intake)), &r);
 *	pipeline_result_clear(&r);
 *
 * DESCRIPTION
 *	pipeline_run() takes a whole message (intake: spool and parsed tree)
 *	with its envelope and decides, in this order:
 *	  1. over max_message_size: the oversize verdict (never scanned, never
 *	     accepted);
 *	  2. inspect (inspect.h), holding one of the snapshot's scan slots: the
 *	     verdict is, first match wins, virus, banned, limit, anomaly (one
 *	     the site refuses), error, clean;
 *	  3. policy_decide() for origin x verdict;
 *	  4. a durable quarantine copy when the cell asks for one. If that
 *	     fails and the action was a discard, the action becomes a tempfail:
 *	     nothing is discarded without a durable copy;
 *	  5. an alert, composed and written durably to the alert spool (sending
 *	     is the caller's business: the daemon's retry thread or check's
 *	     flush). With the daemon's aggregator (alertagg.h) a viral message
 *	     from a source already alerted about in its window is only counted
 *	     (alert_counted, and no alert_id: nothing wakes the alert thread);
 *	     the window's summary tells. If spooling fails the message is
 *	     tempfailed, its quarantine copy removed and
 *	     its note forgotten, so the retry neither duplicates nor loses.
 *	Any error on the way gives ACTION_TEMPFAIL with reply_tempfail, a
 *	short public reason for the SMTP reply and the detail for the log.
 *
 *	A message whose body an administrator released from the quarantine
 *	(release.h) is accepted at step 3, with released_id set, when it
 *	would otherwise be held (any verdict but error and oversize).
 *
 *	With a Lua filter (snap->filter), steps 3 to 5 are the filter's
 *	(filter_policy.h), under the same invariants. Error and oversize
 *	verdicts never reach the filter. An early discard (early->discard)
 *	turns any accept into a discard, durable copy first.
 *
 *	klaxon writes to the envelope sender only for a filter's
 *	action_notify_sender, and only where filter_notice_to_sender_allowed()
 *	says so: never for a message with a virus verdict.
 *
 * OWNERSHIP
 *	The result owns its verdict; pipeline_result_clear() frees it.
 *
 * THREAD SAFETY
 *	Safe from any thread; the snapshot must be pinned by the caller. Logs
 *	only through pipeline_log(), which the caller calls once per message.
 */
#ifndef KLAXON_PIPELINE_H
#define KLAXON_PIPELINE_H

#include <stdbool.h>

#include "envelope.h"
#include "policy.h"
#include "quarantine.h"
#include "scan.h"
#include "snapshot.h"
#include "inspect.h"
#include "intake.h"
#include "spool.h"
#include "filter_api.h"
#include "rebuild.h"

struct pipeline_result {
	enum verdict verdict;
	enum action action;
	struct inspect_result insp;    /* parts, readings, banned names, the union of viruses */
	bool add_scanned_header;       /* clean mail gets cfg->scanned_header */
	char scanned_value[480];       /* its value */
	bool add_anomaly_header;       /* accepted mail with anomalies gets cfg->anomaly_header */
	char anomalies[512];           /* "flag,flag", "" if none */
	bool failed;                   /* tempfailed because klaxon could not do its part */
	char rcode[4];                 /* "550", empty when action needs no reply */
	char xcode[16];                /* "5.7.1" */
	char text[512];                /* reply text, no CR or LF */
	char reason[256];              /* public reason, %r in the reply */
	char detail[512];              /* the full story, for the log */
	char quarantine_id[QUARANTINE_ID_MAX];
	char alert_id[QUARANTINE_ID_MAX];
	bool alert_counted;            /* no alert of its own: counted into its source's window */
	char released_id[QUARANTINE_ID_MAX]; /* accepted because this entry was released (release.h) */
	char subject[256];             /* sanitised, for log and alert */
	long elapsed_ms;

	/* The Lua filter's part (filter_policy.h); all empty without a filter. */
	bool filtered;                 /* a filter ran and its outcome is below */
	struct filter_outcome fo;      /* header, envelope edits to apply on accept */
	struct rebuild_out rebuilt;    /* rebuilt.changed: replace the body (and top headers) */
	char filter_note[400];         /* what klaxon did about the filter's wishes, for the log */
	unsigned notices_sent, notices_refused;
};

/* What happened before the message: an early filter callback asked for a discard. */
struct pipeline_early {
	bool discard;
	char why[128];                 /* "filter_sender: discard" */
};

void pipeline_run(struct snapshot *snap, const struct envelope *env, struct intake *in,
		  const struct pipeline_early *early, struct pipeline_result *r);
void pipeline_log(const struct envelope *env, unsigned long long size, const struct pipeline_result *r);
void pipeline_result_clear(struct pipeline_result *r);
void pipeline_tempfail_reply(const struct config *cfg, const char *reason, struct pipeline_result *r);

/* Shared with filter_policy.c. */
int pipeline_quarantine_copy(struct snapshot *snap, const struct envelope *env, struct spool *spool,
			     const char *class, struct pipeline_result *r);
int pipeline_alert_note(struct snapshot *snap, const struct envelope *env, const char *note,
			const char *outcome, struct pipeline_result *r);
const char *pipeline_quarantine_class(enum verdict v);
void pipeline_unquarantine(struct snapshot *snap, struct pipeline_result *r);
void pipeline_fail(struct pipeline_result *r, const char *reason, const char *detail);
void pipeline_reply(const struct config *cfg, struct pipeline_result *r);
void pipeline_inspect(struct snapshot *snap, struct intake *in, struct pipeline_result *r);
void pipeline_builtin(struct snapshot *snap, const struct envelope *env, struct spool *spool,
		      struct pipeline_result *r);

/* Shared helpers, also used by check's output. */
void pipeline_sanitize(char *dst, size_t dstlen, const char *src);
void pipeline_header_value(const char *head, size_t len, const char *name, char *out, size_t outlen);

#endif
