/*
 * filter_policy - the Lua filter decides, klaxon keeps its promises. See
 * filter_policy.h for the contract.
 */
#include "filter_policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "filter.h"
#include "filter_api.h"
#include "log.h"
#include "quarantine.h"
#include "rebuild.h"

/* The part actions and the rebuild operations are the same list. */
_Static_assert((int)FILTER_PART_KEEP == (int)REBUILD_KEEP && (int)FILTER_PART_DROP == (int)REBUILD_DROP &&
		       (int)FILTER_PART_DROP_WARN == (int)REBUILD_DROP_WARN &&
		       (int)FILTER_PART_REPLACE_WARN == (int)REBUILD_REPLACE_WARN,
	       "filter part actions and rebuild ops must match");

#define FILTER_POLICY_MAX_ALERTS 5 /* administrator notices per message */

static const char *fp_qid(const struct envelope *env)
{
	return env->queue_id && *env->queue_id ? env->queue_id : "NOQUEUE";
}

/* fp_note - append to the log note: what klaxon did about the filter's wishes */
static void fp_note(struct pipeline_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fp_note(struct pipeline_result *r, const char *fmt, ...)
{
	size_t used = strlen(r->filter_note);
	if (used + 3 >= sizeof(r->filter_note))
		return;
	if (used)
		used += (size_t)snprintf(r->filter_note + used, sizeof(r->filter_note) - used, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->filter_note + used, sizeof(r->filter_note) - used, fmt, ap);
	va_end(ap);
}

/* fp_class - the quarantine class of a copy the filter caused */
static const char *fp_class(const struct pipeline_result *r)
{
	if (r->fo.quarantine_class[0] && r->verdict == VERDICT_CLEAN)
		return r->fo.quarantine_class; /* "spam" or "policy": a filter may name only those */
	return pipeline_quarantine_class(r->verdict);
}

/* fp_set_reply - the filter's own code, DSN and text */
static void fp_set_reply(struct pipeline_result *r, const char *code, const char *dsn, const char *text,
			 const char *dcode, const char *ddsn)
{
	snprintf(r->rcode, sizeof(r->rcode), "%s", code[0] ? code : dcode);
	snprintf(r->xcode, sizeof(r->xcode), "%s", dsn[0] ? dsn : ddsn);
	pipeline_sanitize(r->text, sizeof(r->text),
			  text[0] ? text : dcode[0] == '5' ? "Message rejected by policy" : "Try again later");
}

/* fp_run - the filter's message callbacks; -1 if it failed (r is then a tempfail) */
static int fp_run(struct snapshot *snap, const struct envelope *env, struct intake *in,
		  struct pipeline_result *r)
{
	const struct mime_message *m = intake_finish(in);
	char err[1024];
	if (m == NULL) {
		pipeline_fail(r, "out of memory", "filter: the message could not be parsed");
		return -1;
	}
	struct filter_state *st;
	if (filter_pool_get(snap->filter_pool, &st, err, sizeof(err)) == -1) {
		pipeline_fail(r, "policy filter unavailable", err);
		return -1;
	}
	struct filter_msg_ctx ctx = {
		.env = env,
		.mime = m,
		.insp = &r->insp,
		.verdict = r->verdict,
		.subject = r->subject,
		.reason = r->reason,
		.size = spool_size(intake_spool(in)),
	};
	enum filter_status fs = FILTER_MEMORY;
	snprintf(err, sizeof(err), "%s: out of memory", filter_prog_path(snap->filter));
	if (filter_outcome_init(&ctx.out, m->nparts) == 0)
		fs = filter_api_message(st, &ctx, snap->cfg->filter_instruction_budget, err, sizeof(err));
	filter_pool_put(snap->filter_pool, st);
	r->fo = ctx.out; /* the result owns it now, whatever happened */
	r->filtered = true;
	if (fs == FILTER_OK || fs == FILTER_UNDEFINED)
		return 0;
	err[strcspn(err, "\n")] = '\0'; /* the first line is "FILE:LINE: message" */
	log_warn("%s: filter %s: %s", fp_qid(env), filter_status_name(fs), err);
	pipeline_fail(r, "policy filter error", err);
	return -1;
}

/* fp_fallback - the filter's accept would break a promise: the built-in policy decides */
static void fp_fallback(struct snapshot *snap, const struct envelope *env, struct intake *in,
			struct pipeline_result *r, const char *why)
{
	fp_note(r, "filter's accept overridden (%s): built-in policy", why);
	rebuild_out_clear(&r->rebuilt);
	pipeline_builtin(snap, env, intake_spool(in), r);
}

/* fp_rebuild - apply the part actions to a new body; -1 if the message was refused or failed */
static int fp_rebuild(struct intake *in, struct pipeline_result *r)
{
	const struct filter_outcome *fo = &r->fo;
	char err[400];
	size_t len;
	struct spool *spool = intake_spool(in);
	const char *raw = spool_map(spool, &len, err, sizeof(err));
	if (raw == NULL) {
		pipeline_fail(r, "spool unavailable", err);
		return -1;
	}
	int rc = rebuild_message(raw, len, intake_finish(in), fo->part_action,
				 (const char *const *)fo->part_text, &r->rebuilt, err, sizeof(err));
	spool_unmap(spool);
	if (rc == 0)
		return 0;
	if (!r->rebuilt.refused) {
		pipeline_fail(r, "internal error", err);
		return -1;
	}
	/* Delivering it unedited would defeat the filter; back to the sender, whole. */
	fp_note(r, "parts not edited: %s", err);
	r->action = ACTION_REJECT;
	fp_set_reply(r, "554", "5.6.0", "Message rejected: its MIME structure is ambiguous and cannot be modified safely",
		     "554", "5.6.0");
	rebuild_out_clear(&r->rebuilt);
	return -1;
}

/* fp_rescan - scan the rebuilt message; true only if it is clean and wholly read */
static bool fp_rescan(struct snapshot *snap, struct pipeline_result *r)
{
	struct intake *in2;
	char err[400];
	if (intake_open(snap->cfg, &in2, err, sizeof(err)) == -1)
		return false;
	bool clean = false;
	if (intake_append(in2, r->rebuilt.message, r->rebuilt.msglen, err, sizeof(err)) == 0 &&
	    !spool_overflowed(intake_spool(in2))) {
		struct inspect_result *again = calloc(1, sizeof(*again));
		if (again && snapshot_slot_take(snap) == 0) {
			inspect_message(snap, in2, again);
			snapshot_slot_give(snap);
			clean = again->scan.status == SCAN_CLEAN && again->limit == MIME_LIMIT_NONE;
			inspect_result_clear(again);
		}
		free(again);
	}
	intake_close(in2);
	return clean;
}

/* fp_accept - the filter wants the message delivered: edit, and check the promises */
static void fp_accept(struct snapshot *snap, const struct envelope *env, struct intake *in,
		      struct pipeline_result *r)
{
	r->action = ACTION_ACCEPT;
	if (r->fo.parts_changed && fp_rebuild(in, r) == -1)
		return;
	if (r->verdict != VERDICT_VIRUS && r->verdict != VERDICT_LIMIT)
		return;
	if (!r->rebuilt.changed) {
		fp_fallback(snap, env, in, r, policy_verdict_name(r->verdict));
		return;
	}
	if (!fp_rescan(snap, r)) {
		fp_fallback(snap, env, in, r, "the rebuilt message does not scan clean");
		return;
	}
	fp_note(r, "parts removed; the rebuilt message scans clean");
}

/* fp_copy_reason - why the filter's copy exists, for the quarantine record */
static void fp_copy_reason(const struct pipeline_result *r, char *out, size_t outlen)
{
	const struct filter_outcome *fo = &r->fo;
	size_t n = (size_t)snprintf(out, outlen, "filter: %s",
				    fo->quarantine_reason[0] ? fo->quarantine_reason
							     : r->action == ACTION_DISCARD ? "discard" : "parts removed");
	for (size_t i = 0; i < fo->nparts && n + 40 < outlen; i++) {
		if (fo->part_action[i] == FILTER_PART_KEEP && !fo->part_quarantine[i])
			continue;
		n += (size_t)snprintf(out + n, outlen - n, "; part %s %s%s%s", r->insp.nparts > i ? r->insp.parts[i].path : "?",
				      filter_part_action_name((enum filter_part_action)fo->part_action[i]),
				      fo->part_reason[i] ? ": " : "", fo->part_reason[i] ? fo->part_reason[i] : "");
	}
}

/* fp_needs_copy - does anything the filter asked for drop content? */
static bool fp_needs_copy(const struct pipeline_result *r)
{
	if (r->fo.quarantine_message || r->action == ACTION_DISCARD)
		return true;
	if (r->action == ACTION_ACCEPT && r->rebuilt.changed)
		return true;
	for (size_t i = 0; i < r->fo.nparts; i++)
		if (r->fo.part_quarantine[i])
			return true;
	return false;
}

/* fp_copy - one durable copy of the original serves every request; -1: tempfailed */
static int fp_copy(struct snapshot *snap, const struct envelope *env, struct intake *in,
		   struct pipeline_result *r)
{
	if (r->quarantine_id[0] || !fp_needs_copy(r))
		return 0;
	char keep[sizeof(r->reason)];
	snprintf(keep, sizeof(keep), "%s", r->reason);
	fp_copy_reason(r, r->reason, sizeof(r->reason));
	int rc = pipeline_quarantine_copy(snap, env, intake_spool(in), fp_class(r), r);
	snprintf(r->reason, sizeof(r->reason), "%s", keep);
	if (rc == 0)
		return 0;
	pipeline_fail(r, "quarantine unavailable", NULL);
	pipeline_reply(snap->cfg, r);
	return -1;
}

static const char *fp_outcome_word(enum action a)
{
	switch (a) {
	case ACTION_ACCEPT: return "accepted";
	case ACTION_REJECT: return "rejected";
	case ACTION_DISCARD: return "discarded";
	case ACTION_TEMPFAIL: break;
	}
	return "deferred";
}

/* fp_notify_sender - the one path that writes to the envelope sender, behind the one rule */
static void fp_notify_sender(struct snapshot *snap, const struct envelope *env, const struct filter_notice *n,
			     struct pipeline_result *r)
{
	char why[200] = "";
	if (!filter_notice_to_sender_allowed(&r->insp, r->action, env->sender, why, sizeof(why))) {
		log_info("%s: notify_sender from %s %s", fp_qid(env), n->callback ? n->callback : "filter", why);
		fp_note(r, "notify_sender %s", why);
		r->notices_refused++;
		return;
	}
	char from[320], err[400], id[QUARANTINE_ID_MAX];
	snapshot_alert_from(snap, from, sizeof(from));
	struct alert_notice an = {
		.from = from, .to = env->sender, .subject = r->subject, .text = n->text,
		.queue_id = env->queue_id, .hostname = snap->hostname, .when = time(NULL),
	};
	char *msg = NULL;
	size_t len = 0;
	if (alert_compose_notice(&an, &msg, &len, err, sizeof(err)) == 0 &&
	    alert_enqueue(snap->cfg->alert_spool_dir, msg, len, id, sizeof(id), err, sizeof(err)) == 0) {
		r->notices_sent++;
		fp_note(r, "notify_sender queued as %s", id);
	} else {
		/* A notice to the sender is a courtesy, not a promise: log and go on. */
		log_warn("%s: notify_sender not queued: %s", fp_qid(env), err);
	}
	free(msg);
}

/* fp_notices - the queued notices, now that the decision is final; -1: tempfailed */
static int fp_notices(struct snapshot *snap, const struct envelope *env, struct pipeline_result *r)
{
	unsigned alerts = 0;
	for (size_t i = 0; i < r->fo.nnotices; i++) {
		const struct filter_notice *n = &r->fo.notices[i];
		if (n->to_sender) {
			fp_notify_sender(snap, env, n, r);
			continue;
		}
		if (++alerts > FILTER_POLICY_MAX_ALERTS) {
			fp_note(r, "notify_administrator: more than %d, the rest dropped", FILTER_POLICY_MAX_ALERTS);
			break;
		}
		char first[QUARANTINE_ID_MAX];
		snprintf(first, sizeof(first), "%s", r->alert_id);
		if (pipeline_alert_note(snap, env, n->text, fp_outcome_word(r->action), r) == -1)
			return -1;
		if (first[0])
			snprintf(r->alert_id, sizeof(r->alert_id), "%s", first); /* the log shows the first */
	}
	return 0;
}

/* filter_policy_early - see filter_policy.h */
int filter_policy_early(struct snapshot *snap, const char *qid, const char *callback,
			const struct filter_early_args *a, struct filter_early_result *res, char *err,
			size_t errlen)
{
	struct filter_state *st;
	memset(res, 0, sizeof(*res));
	if (filter_pool_get(snap->filter_pool, &st, err, errlen) == -1) {
		log_warn("%s: %s: policy filter unavailable: %s", qid, callback, err);
		return -1;
	}
	enum filter_status fs = filter_api_early(st, callback, a, res, snap->cfg->filter_instruction_budget, err,
						 errlen);
	filter_pool_put(snap->filter_pool, st);
	if (fs == FILTER_OK || fs == FILTER_UNDEFINED)
		return 0;
	err[strcspn(err, "\n")] = '\0'; /* the first line is "FILE:LINE: message" */
	log_warn("%s: %s %s: %s", qid, callback, filter_status_name(fs), err);
	return -1;
}

/* filter_policy_decide - see filter_policy.h */
void filter_policy_decide(struct snapshot *snap, const struct envelope *env, struct intake *in,
			  const struct pipeline_early *early, struct pipeline_result *r)
{
	if (fp_run(snap, env, in, r) == -1) {
		pipeline_reply(snap->cfg, r);
		return;
	}
	const struct filter_outcome *fo = &r->fo;
	switch (fo->action) {
	case FILTER_MSG_TEMPFAIL:
		/* Nothing else happens: the message comes back and the filter runs again. */
		r->action = ACTION_TEMPFAIL;
		fp_set_reply(r, fo->code, fo->dsn, fo->text, "451", "4.7.1");
		return;
	case FILTER_MSG_BOUNCE:
		r->action = ACTION_REJECT;
		fp_set_reply(r, fo->code, fo->dsn, fo->text, "554", "5.7.1");
		break;
	case FILTER_MSG_DISCARD:
		r->action = ACTION_DISCARD;
		break;
	case FILTER_MSG_NONE:
	case FILTER_MSG_ACCEPT:
		fp_accept(snap, env, in, r);
		break;
	}
	if (early && early->discard && r->action == ACTION_ACCEPT) {
		r->action = ACTION_DISCARD; /* the copy below comes first; notices see the discard */
		rebuild_out_clear(&r->rebuilt);
		fp_note(r, "%s", early->why);
	}
	if (r->action == ACTION_TEMPFAIL) {
		if (r->rcode[0] == '\0')
			pipeline_reply(snap->cfg, r); /* klaxon's own failure on the way */
		return;
	}
	if (fp_copy(snap, env, in, r) == -1)
		return;
	if (fp_notices(snap, env, r) == -1) {
		pipeline_unquarantine(snap, r); /* the retry makes a new copy */
		pipeline_fail(r, "alert spool unavailable", NULL);
		pipeline_reply(snap->cfg, r);
	}
}
