/*
 * pipeline - scan, decide, act. See pipeline.h for the contract.
 */
#include "pipeline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "alertagg.h"
#include "filter_policy.h"
#include "log.h"
#include "quarantine.h"
#include "release.h"

/* pipeline_sanitize - copy, with control characters and '%' made harmless */
void pipeline_sanitize(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;
	for (; src && *src && n + 1 < dstlen; src++) {
		unsigned char c = (unsigned char)*src;
		/* '%' is kept out because libmilter and some MTAs treat reply
		 * text as a format; control characters could split lines. */
		dst[n++] = (c < 0x20 || c == 0x7f || c == '%') ? '?' : (char)c;
	}
	if (dstlen)
		dst[n] = '\0';
}

/* pipeline_header_value - the first `name:` header in the head, unfolded */
void pipeline_header_value(const char *head, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *end = head + len;
	out[0] = '\0';
	for (const char *line = head; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *next = eol ? eol + 1 : end;
		if (line == eol || (line + 1 == eol && *line == '\r'))
			return; /* blank line: end of the header section */
		if ((size_t)(end - line) > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			char raw[1024];
			size_t n = 0;
			const char *p = line + nlen + 1;
			/* Take continuation lines too, folding each line break to a space. */
			while (p < end && n + 1 < sizeof(raw)) {
				if (*p == '\r' || *p == '\n') {
					const char *q = p + (*p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1);
					if (q >= end || (*q != ' ' && *q != '\t'))
						break;
					p = q;
					continue;
				}
				raw[n++] = *p++;
			}
			raw[n] = '\0';
			const char *v = raw;
			while (*v == ' ' || *v == '\t')
				v++;
			pipeline_sanitize(out, outlen, v);
			return;
		}
		line = next;
	}
}

/*
 * pipeline_join - sanitised items joined with sep, each wrapped in open and
 * close, bounded: past max bytes the rest becomes more ("and 3 more").
 */
static void pipeline_join(char *const *items, size_t n, const char *sep, const char *open,
			  const char *close, const char *more, size_t max, char *out, size_t outlen)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[320];
		pipeline_sanitize(one, sizeof(one), items[i]);
		if (used + strlen(one) + 32 >= outlen || used > max) {
			snprintf(out + used, outlen - used, more, n - i);
			return;
		}
		used += (size_t)snprintf(out + used, outlen - used, "%s%s%s%s", i ? sep : "", open, one, close);
	}
}

/* pipeline_virus_list - "A, B and 3 more", bounded to fit in a reply line */
static void pipeline_virus_list(const struct scan_verdict *v, char *out, size_t outlen)
{
	pipeline_join(v->viruses, v->nviruses, ", ", "", "", " and %zu more", 240, out, outlen);
}

/* pipeline_expand - a reply template with %v, %r, %l and %% filled in */
static void pipeline_expand(const char *tmpl, const char *viruses, const char *reason,
			    const char *limit, char *out, size_t outlen)
{
	size_t n = 0;
	for (const char *t = tmpl; *t && n + 1 < outlen; t++) {
		const char *fill = NULL;
		if (*t == '%' && t[1]) {
			switch (t[1]) {
			case 'v': fill = viruses; break;
			case 'r': fill = reason; break;
			case 'l': fill = limit; break;
			case '%': fill = "%"; break;
			}
		}
		if (fill == NULL) {
			out[n++] = *t;
			continue;
		}
		t++;
		n += (size_t)snprintf(out + n, outlen - n, "%s", fill);
		if (n >= outlen)
			n = outlen - 1;
	}
	out[n] = '\0';
}

/* pipeline_set_reply - split "550 5.7.1 text" into the result */
static void pipeline_set_reply(struct pipeline_result *r, const char *reply)
{
	/* config_load() checked the shape: "DDD X.Y.Z text". */
	snprintf(r->rcode, sizeof(r->rcode), "%.3s", reply);
	const char *x = reply + 4;
	size_t xlen = strcspn(x, " ");
	snprintf(r->xcode, sizeof(r->xcode), "%.*s", (int)(xlen < 15 ? xlen : 15), x);
	pipeline_sanitize(r->text, sizeof(r->text), x + xlen + (x[xlen] ? 1 : 0));
}

/* pipeline_fail - turn the message into a tempfail with a reason */
void pipeline_fail(struct pipeline_result *r, const char *reason, const char *detail)
{
	r->action = ACTION_TEMPFAIL;
	r->failed = true;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	if (detail)
		snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

/* pipeline_quarantine_class - the store's class for a verdict (quarantine.h) */
const char *pipeline_quarantine_class(enum verdict v)
{
	switch (v) {
	case VERDICT_VIRUS:
		return quarantine_class_name(QUARANTINE_VIRUS);
	case VERDICT_BANNED:
		return quarantine_class_name(QUARANTINE_BANNED);
	case VERDICT_LIMIT:
	case VERDICT_ANOMALY:
		return quarantine_class_name(QUARANTINE_AMBIGUOUS);
	case VERDICT_CLEAN:
	case VERDICT_OVERSIZE:
	case VERDICT_ERROR:
	case VERDICT_COUNT:
		break;
	}
	return quarantine_class_name(QUARANTINE_POLICY);
}

/* pipeline_payload - the part that earned the verdict: the first viral, else banned, leaf */
static const char *pipeline_payload(const struct inspect_result *insp)
{
	static const char *const order[] = {"virus", "banned"};
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < insp->nparts; i++)
			if (insp->parts[i].sha256[0] && strcmp(insp->parts[i].verdict, order[k]) == 0)
				return insp->parts[i].sha256;
	return NULL;
}

/* pipeline_quarantine_copy - the durable copy; -1 if it could not be made */
int pipeline_quarantine_copy(struct snapshot *snap, const struct envelope *env, struct spool *spool,
			     const char *class, struct pipeline_result *r)
{
	const char *banned = r->insp.banned ? r->insp.banned_reason : NULL;
	struct quarantine_meta meta = {
		.env = env,
		.class = class,
		.viruses = (const char *const *)r->insp.scan.viruses,
		.nviruses = r->insp.scan.nviruses,
		.reason = r->reason[0] ? r->reason : NULL,
		.when = time(NULL),
		.size = spool_size(spool),
		.subject = r->subject,
		.banned = banned ? &banned : NULL,
		.nbanned = banned ? 1 : 0,
		.flags = r->insp.flags,
		.payload = pipeline_payload(&r->insp),
	};
	char err[400];
	if (quarantine_store(snap->cfg->quarantine_dir, &meta, spool_write_to, spool, r->quarantine_id,
			     sizeof(r->quarantine_id), err, sizeof(err)) == -1) {
		r->quarantine_id[0] = '\0';
		snprintf(r->detail, sizeof(r->detail), "quarantine: %s", err);
		return -1;
	}
	return 0;
}

/* pipeline_alert_note - compose the alert (with a filter's note) and spool it durably */
int pipeline_alert_note(struct snapshot *snap, const struct envelope *env, const char *note,
			const char *outcome, struct pipeline_result *r)
{
	const struct config *cfg = snap->cfg;
	char from[320];
	snapshot_alert_from(snap, from, sizeof(from));
	struct alert_info info = {
		.env = env,
		.subject = r->subject,
		.viruses = (const char *const *)r->insp.scan.viruses,
		.nviruses = r->insp.scan.nviruses,
		.quarantine_id = r->quarantine_id[0] ? r->quarantine_id : NULL,
		.from = from,
		.to = (const char *const *)cfg->alert_to_list,
		.nto = cfg->alert_to_count,
		.hostname = snap->hostname,
		.when = time(NULL),
		.note = note,
		.outcome = outcome,
	};
	char err[400];
	char *msg = NULL;
	size_t len = 0;
	int rc = alert_compose(&info, &msg, &len, err, sizeof(err));
	if (rc == 0)
		rc = alert_enqueue(cfg->alert_spool_dir, msg, len, r->alert_id, sizeof(r->alert_id), err,
				   sizeof(err));
	free(msg);
	if (rc == -1) {
		r->alert_id[0] = '\0';
		snprintf(r->detail, sizeof(r->detail), "alert spool: %s", err);
	}
	return rc;
}

/* pipeline_unquarantine - undo a copy whose message will come back on retry */
void pipeline_unquarantine(struct snapshot *snap, struct pipeline_result *r)
{
	char err[400];
	if (r->quarantine_id[0] == '\0')
		return;
	if (quarantine_delete(snap->cfg->quarantine_dir, r->quarantine_id, err, sizeof(err)) == 0)
		r->quarantine_id[0] = '\0';
	else
		log_warn("quarantine copy %s not undone: %s", r->quarantine_id, err);
}

/*
 * pipeline_alert_counted - true when the aggregator (alertagg.h) counts this
 * viral copy into its source's window instead of an alert of its own. Any
 * doubt (no aggregator, another verdict, a failed note) means an alert.
 * *noted says whether a note went in, so that only then is it forgotten.
 */
static bool pipeline_alert_counted(const struct envelope *env, const struct pipeline_result *r,
				   bool *noted)
{
	*noted = false;
	if (r->verdict != VERDICT_VIRUS)
		return false;
	struct alertagg *ag = alertagg_global();
	if (ag == NULL)
		return false;
	const struct alertagg_source src = {env->client_addr, env->auth_user, env->origin};
	enum alertagg_decision d = ALERTAGG_ALERT_NOW;
	char err[400];
	if (alertagg_note(ag, &src, (const char *const *)r->insp.scan.viruses, r->insp.scan.nviruses, time(NULL),
			  &d, err, sizeof(err)) == -1)
		log_warn("%s: alert aggregation failed, alerting for this message: %s",
			 env->queue_id ? env->queue_id : "NOQUEUE", err);
	else
		*noted = true;
	alertagg_close(ag);
	return d == ALERTAGG_COUNTED;
}

/* pipeline_alert_forget - the message is tempfailed: its note must not count, its retry alerts */
static void pipeline_alert_forget(const struct envelope *env)
{
	struct alertagg *ag = alertagg_global();
	if (ag == NULL)
		return;
	const struct alertagg_source src = {env->client_addr, env->auth_user, env->origin};
	char err[400];
	if (alertagg_forget(ag, &src, time(NULL), err, sizeof(err)) == -1)
		log_warn("%s: alert aggregation: %s", env->queue_id ? env->queue_id : "NOQUEUE", err);
	alertagg_close(ag);
}

/* pipeline_act - quarantine and alert as the cell says, keeping the no-loss rules */
static void pipeline_act(struct snapshot *snap, const struct envelope *env, struct spool *spool,
			 struct policy_cell cell, struct pipeline_result *r)
{
	bool noted = false;

	if (cell.quarantine &&
	    pipeline_quarantine_copy(snap, env, spool, pipeline_quarantine_class(r->verdict), r) == -1) {
		if (r->action == ACTION_DISCARD) {
			pipeline_fail(r, "quarantine unavailable", NULL);
			return;
		}
		/* A reject leaves the message with the sender: nothing is lost. */
		log_warn("%s: optional quarantine copy failed: %s", env->queue_id ? env->queue_id : "NOQUEUE",
			 r->detail);
	}
	if (cell.alert && pipeline_alert_counted(env, r, &noted)) {
		/* The window's summary will tell; the log says alert=counted. */
		r->alert_counted = true;
		return;
	}
	if (cell.alert && pipeline_alert_note(snap, env, NULL, NULL, r) == -1) {
		pipeline_unquarantine(snap, r);
		if (noted) /* a failed note counted nothing: forgetting would undo another message's */
			pipeline_alert_forget(env);
		pipeline_fail(r, "alert spool unavailable", NULL);
	}
}

/* pipeline_template - the reply text the verdict and action call for, or NULL */
static const char *pipeline_template(const struct config *cfg, const struct pipeline_result *r)
{
	if (r->action == ACTION_ACCEPT || r->action == ACTION_DISCARD)
		return NULL;
	if (r->failed)
		return cfg->reply_tempfail;
	switch (r->verdict) {
	case VERDICT_VIRUS:
		return cfg->reply_virus;
	case VERDICT_BANNED:
		return cfg->reply_banned;
	case VERDICT_LIMIT:
		return cfg->reply_mime_limit;
	case VERDICT_ANOMALY:
		return cfg->reply_anomaly;
	case VERDICT_OVERSIZE:
		return cfg->reply_oversize;
	case VERDICT_CLEAN:
	case VERDICT_ERROR:
	case VERDICT_COUNT:
		break;
	}
	return cfg->reply_tempfail;
}

/* pipeline_reply - fill the SMTP reply the action needs */
void pipeline_reply(const struct config *cfg, struct pipeline_result *r)
{
	char viruses[400], limit[32], reason[300];
	pipeline_virus_list(&r->insp.scan, viruses, sizeof(viruses));
	snprintf(limit, sizeof(limit), "%llu bytes", cfg->max_message_size);
	pipeline_sanitize(reason, sizeof(reason), r->reason);

	const char *tmpl = pipeline_template(cfg, r);
	if (tmpl == NULL)
		return;
	char reply[800];
	pipeline_expand(tmpl, viruses, reason, limit, reply, sizeof(reply));
	pipeline_set_reply(r, reply);
}

/* pipeline_tempfail_reply - a tempfail decided outside pipeline_run (milter callbacks) */
void pipeline_tempfail_reply(const struct config *cfg, const char *reason, struct pipeline_result *r)
{
	memset(r, 0, sizeof(*r));
	r->verdict = VERDICT_ERROR;
	r->action = ACTION_TEMPFAIL;
	r->failed = true;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	if (cfg) {
		pipeline_reply(cfg, r);
		return;
	}
	snprintf(r->rcode, sizeof(r->rcode), "451");
	snprintf(r->xcode, sizeof(r->xcode), "4.7.1");
	pipeline_sanitize(r->text, sizeof(r->text), reason);
}

/* pipeline_inspect - the MIME-aware scan, holding one scan slot */
void pipeline_inspect(struct snapshot *snap, struct intake *in, struct pipeline_result *r)
{
	if (snapshot_slot_take(snap) == -1) {
		memset(&r->insp, 0, sizeof(r->insp));
		r->insp.scan.status = SCAN_ERROR;
		snprintf(r->insp.scan.error, sizeof(r->insp.scan.error),
			 "no scan slot free within %u s (max_concurrent_scans = %u)",
			 snap->cfg->scan_wait_timeout, snap->cfg->max_concurrent_scans);
		return;
	}
	inspect_message(snap, in, &r->insp);
	snapshot_slot_give(snap);
}

/* pipeline_verdict - what the size, the parts and the scans say; first match wins */
static enum verdict pipeline_verdict(struct snapshot *snap, struct intake *in, struct pipeline_result *r)
{
	struct spool *spool = intake_spool(in);
	if (spool_overflowed(spool)) {
		snprintf(r->detail, sizeof(r->detail), "size %llu over max_message_size %llu",
			 spool_size(spool), snap->cfg->max_message_size);
		return VERDICT_OVERSIZE;
	}
	pipeline_inspect(snap, in, r);
	const struct inspect_result *i = &r->insp;
	mime_flags_format(i->flags, r->anomalies, sizeof(r->anomalies));
	if (i->scan.status == SCAN_VIRUS)
		return VERDICT_VIRUS;
	if (i->banned) {
		snprintf(r->reason, sizeof(r->reason), "%s", i->banned_reason);
		return VERDICT_BANNED;
	}
	if (i->limit != MIME_LIMIT_NONE) {
		snprintf(r->reason, sizeof(r->reason), "%s", i->limit_detail);
		return VERDICT_LIMIT;
	}
	unsigned refused = i->flags & snap->cfg->anomalies_refuse_mask;
	if (refused) {
		mime_flags_format(refused, r->reason, sizeof(r->reason));
		return VERDICT_ANOMALY;
	}
	if (i->scan.status == SCAN_ERROR) {
		snprintf(r->reason, sizeof(r->reason), "%s",
			 strstr(i->scan.error, "slot") ? "scanner busy" : "scanner unavailable");
		snprintf(r->detail, sizeof(r->detail), "scan: %s", i->scan.error);
		return VERDICT_ERROR;
	}
	return VERDICT_CLEAN;
}

static long pipeline_ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* pipeline_headers - what an accepted message gets added */
static void pipeline_headers(struct snapshot *snap, struct pipeline_result *r)
{
	const struct config *cfg = snap->cfg;
	if (cfg->scanned_header[0]) {
		r->add_scanned_header = true;
		snprintf(r->scanned_value, sizeof(r->scanned_value), "%s%s%s by klaxon %s (%s) on %s",
			 r->released_id[0] ? "released from quarantine entry " : "clean", r->released_id,
			 r->released_id[0] && r->verdict != VERDICT_CLEAN ? (r->verdict == VERDICT_VIRUS ? ", infected" : ", not clean") : "",
			 KLAXON_VERSION, cfg->scanner == SCAN_BACKEND_CLAMD ? "clamd" : "libclamav", snap->hostname);
	}
	r->add_anomaly_header = cfg->anomaly_header[0] && r->anomalies[0];
}

/* pipeline_builtin - the built-in policy table decides */
void pipeline_builtin(struct snapshot *snap, const struct envelope *env, struct spool *spool,
			     struct pipeline_result *r)
{
	struct policy_cell cell = policy_decide(&snap->cfg->policy, env->origin, r->verdict);
	r->action = cell.action;
	if (cell.quarantine || cell.alert)
		pipeline_act(snap, env, spool, cell, r);
	pipeline_reply(snap->cfg, r);
}

/* pipeline_early_discard - an early callback asked for a discard: copy first, then discard */
static void pipeline_early_discard(struct snapshot *snap, const struct envelope *env,
				   struct spool *spool, const struct pipeline_early *early,
				   struct pipeline_result *r)
{
	if (r->action != ACTION_ACCEPT && r->action != ACTION_DISCARD)
		return; /* a reject or tempfail already keeps the message with the sender */
	if (r->quarantine_id[0] == '\0') {
		snprintf(r->reason, sizeof(r->reason), "%s", early->why);
		if (pipeline_quarantine_copy(snap, env, spool, pipeline_quarantine_class(r->verdict), r) == -1) {
			pipeline_fail(r, "quarantine unavailable", NULL);
			pipeline_reply(snap->cfg, r);
			return;
		}
	}
	r->action = ACTION_DISCARD;
	r->rcode[0] = r->xcode[0] = r->text[0] = '\0';
	snprintf(r->filter_note + strlen(r->filter_note), sizeof(r->filter_note) - strlen(r->filter_note),
		 "%s%s", r->filter_note[0] ? "; " : "", early->why);
}

/*
 * pipeline_released - is this a body an administrator released from the
 * quarantine (release.h)? Only asked of a message klaxon might hold: a
 * verdict other than clean, or any message when a filter decides.
 */
static bool pipeline_released(struct snapshot *snap, struct spool *spool, struct pipeline_result *r)
{
	char hash[RELEASE_HASH_LEN], err[300];
	if (r->verdict == VERDICT_ERROR || r->verdict == VERDICT_OVERSIZE ||
	    (r->verdict == VERDICT_CLEAN && snap->filter == NULL))
		return false;
	if (!release_pending(snap->cfg->quarantine_dir, time(NULL)))
		return false; /* no release open: no hashing on the per-message path */
	size_t len;
	const char *raw = spool_map(spool, &len, err, sizeof(err));
	if (raw == NULL)
		return false;
	release_body_hash(raw, len, hash);
	spool_unmap(spool);
	return release_check(snap->cfg->quarantine_dir, hash, time(NULL), r->released_id,
			     sizeof(r->released_id));
}

/* pipeline_run - the whole decision for one message */
void pipeline_run(struct snapshot *snap, const struct envelope *env, struct intake *in,
		  const struct pipeline_early *early, struct pipeline_result *r)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(r, 0, sizeof(*r));
	struct spool *spool = intake_spool(in);

	char head[8192];
	size_t hlen = spool_head(spool, head, sizeof(head));
	pipeline_header_value(head, hlen, "Subject", r->subject, sizeof(r->subject));

	r->verdict = pipeline_verdict(snap, in, r);
	if (pipeline_released(snap, spool, r))
		r->action = ACTION_ACCEPT; /* an administrator looked at this body and let it go */
	/* Error and oversize mean the message was not read: the filter cannot judge it. */
	else if (snap->filter && r->verdict != VERDICT_ERROR && r->verdict != VERDICT_OVERSIZE) {
		/* The filter path applies an early discard itself, before its notices go out. */
		filter_policy_decide(snap, env, in, early, r);
		early = NULL;
	} else
		pipeline_builtin(snap, env, spool, r);
	if (early && early->discard)
		pipeline_early_discard(snap, env, spool, early, r);
	if (r->action == ACTION_ACCEPT)
		pipeline_headers(snap, r);
	r->elapsed_ms = pipeline_ms_since(&t0);
}

/* pipeline_rcpt_list - "<a>,<b>" bounded, for the log */
static void pipeline_rcpt_list(const struct envelope *env, char *out, size_t outlen)
{
	pipeline_join((char *const *)env->rcpts, env->nrcpts, ",", "<", ">", ",+%zu more", outlen, out,
		      outlen);
}

/* pipeline_log - the one record per message */
void pipeline_log(const struct envelope *env, unsigned long long size, const struct pipeline_result *r)
{
	char qid[64], client[80], sender[320], rcpts[1024], viruses[400], auth[128];
	pipeline_sanitize(qid, sizeof(qid), env->queue_id && *env->queue_id ? env->queue_id : "NOQUEUE");
	pipeline_sanitize(client, sizeof(client), env->client_addr && *env->client_addr ? env->client_addr : "local");
	pipeline_sanitize(sender, sizeof(sender), env->sender);
	pipeline_sanitize(auth, sizeof(auth), env->auth_user ? env->auth_user : "");
	pipeline_rcpt_list(env, rcpts, sizeof(rcpts));
	pipeline_virus_list(&r->insp.scan, viruses, sizeof(viruses));
	char mime[700] = "";
	const struct inspect_result *i = &r->insp;
	if (i->readings)
		snprintf(mime, sizeof(mime), " parts=%zu readings=%u scans=%llu cache=%llu/%llu%s%s", i->nparts,
			 i->readings, i->scans, i->cache_hits, i->cache_lookups, r->anomalies[0] ? " anomalies=" : "",
			 r->anomalies);
	char reason[300] = "";
	if (r->reason[0] && r->verdict != VERDICT_ERROR && !r->failed)
		pipeline_sanitize(reason, sizeof(reason), r->reason);

	char filt[600] = "";
	if (r->filtered || r->filter_note[0]) {
		char note[420];
		pipeline_sanitize(note, sizeof(note), r->filter_note);
		snprintf(filt, sizeof(filt), " filter=%s%s%s%s", r->filtered ? filter_msg_action_name(r->fo.action) : "-",
			 note[0] ? " filter_note=\"" : "", note, note[0] ? "\"" : "");
	}
	log_info("%s: client=%s origin=%s%s%s from=<%s> to=%s size=%llu%s verdict=%s%s%s%s%s%s%s action=%s%s%s%s%s%s%s ms=%ld%s%s%s",
		 qid, client, origin_name(env->origin), auth[0] ? " auth=" : "", auth, sender, rcpts, size, mime,
		 policy_verdict_name(r->verdict), viruses[0] ? " viruses=" : "", viruses,
		 reason[0] ? " why=\"" : "", reason, reason[0] ? "\"" : "", filt,
		 policy_action_name(r->action), r->released_id[0] ? " released=" : "", r->released_id,
		 r->quarantine_id[0] ? " quarantine=" : "", r->quarantine_id,
		 r->alert_id[0] || r->alert_counted ? " alert=" : "", r->alert_counted ? "counted" : r->alert_id,
		 r->elapsed_ms, r->detail[0] ? " detail=\"" : "",
		 r->detail, r->detail[0] ? "\"" : "");
}

void pipeline_result_clear(struct pipeline_result *r)
{
	inspect_result_clear(&r->insp);
	filter_outcome_clear(&r->fo);
	rebuild_out_clear(&r->rebuilt);
}
