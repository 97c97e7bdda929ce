/*
 * filter_policy - the Lua filter decides a message, and klaxon keeps its
 * promises whatever the filter says.
 *
 * SYNOPSIS
 *	(inside pipeline_run, after the scan, when snap->filter is set)
 *	filter_policy_decide(snap, env, intake, early, r);
 *	... r->action, the reply, r->fo (edits to apply), r->rebuilt (new body) ...
 *
 * DESCRIPTION
 *	filter_policy_decide() runs the filter's message callbacks
 *	(filter_api_message(): filter_begin, filter, filter_multipart,
 *	filter_end) on a state from the snapshot's pool, with one instruction
 *	budget for the message, and turns the outcome into the final
 *	decision:
 *
 *	    filter said          klaxon does
 *	    tempfail             4xx with the filter's code and text
 *	    bounce               5xx with the filter's code and text
 *	    discard              durable copy, then discard
 *	    accept, or nothing   accept, after the checks below
 *
 *	The invariants, enforced here and nowhere else for a filtered message:
 *	  - A filter error, an exhausted budget or memory cap: 4xx ("policy
 *	    filter error"), and a log line with the file, the line and the
 *	    message. Nothing else the filter asked for happens.
 *	  - Never accept a virus, or a message that was not fully read (a MIME
 *	    limit): unless the filter removed parts and the rebuilt message
 *	    scans clean, the built-in policy cell for the verdict applies
 *	    instead (and r->filter_note says so).
 *	  - Never drop content without a durable copy: a discard, a
 *	    quarantine request and any dropped or replaced part each need the
 *	    whole original message in the quarantine first (one copy serves
 *	    all); if it cannot be written, 4xx.
 *	  - A body edit that cannot be made safely (ambiguous MIME): 554
 *	    5.6.0, the message goes back to the sender whole.
 *	  - An early callback's discard (early->discard, may be NULL) turns
 *	    the filter's accept into a discard before anything else happens,
 *	    so the copy is made and no notice treats the message as accepted.
 *	  - Notices go out only after the decision, and not at all on a
 *	    tempfail (the retry would repeat them). Administrator notices are
 *	    alerts to alert_to. Sender notices pass
 *	    filter_notice_to_sender_allowed() or are dropped with a log line.
 *	Header and envelope edits are left in r->fo for the milter to apply on
 *	accept; the new body and top-level header changes in r->rebuilt.
 *
 *	filter_policy_early() runs one early callback (filter_api_early()) on
 *	a state from the pool: 0 with res filled (continue when undefined), or
 *	-1, logged, with err's first line ("FILE:LINE: message"), when the
 *	pool or the filter failed; the caller then answers 4xx. What the
 *	result means is the caller's: the milter and `klaxon check`.
 *
 * THREAD SAFETY
 *	As pipeline_run(). Logs the filter's errors and refused notices.
 */
#ifndef KLAXON_FILTER_POLICY_H
#define KLAXON_FILTER_POLICY_H

#include "envelope.h"
#include "filter_api.h"
#include "intake.h"
#include "pipeline.h"
#include "snapshot.h"

int filter_policy_early(struct snapshot *snap, const char *qid, const char *callback,
			const struct filter_early_args *a, struct filter_early_result *res, char *err,
			size_t errlen);
void filter_policy_decide(struct snapshot *snap, const struct envelope *env, struct intake *in,
			  const struct pipeline_early *early, struct pipeline_result *r);

#endif
