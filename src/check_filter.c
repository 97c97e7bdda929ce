/*
 * check_filter - the filter's part of `klaxon check`. See check_filter.h.
 */
#include "check_filter.h"

#include <errno.h>
#include <string.h>

#include "filter.h"
#include "filter_api.h"
#include "filter_policy.h"
#include "json.h"
#include "log.h"

/* check_filter_stop - an early reject or tempfail as the message's result */
static bool check_filter_stop(const struct filter_early_result *res, struct pipeline_result *r)
{
	if (res->kind != FILTER_EARLY_REJECT && res->kind != FILTER_EARLY_TEMPFAIL)
		return false;
	memset(r, 0, sizeof(*r));
	r->action = res->kind == FILTER_EARLY_REJECT ? ACTION_REJECT : ACTION_TEMPFAIL;
	snprintf(r->rcode, sizeof(r->rcode), "%s", res->code);
	snprintf(r->xcode, sizeof(r->xcode), "%s", res->dsn);
	pipeline_sanitize(r->text, sizeof(r->text), res->text);
	return true;
}

/* check_filter_one - one early callback; true if it stopped the message */
static bool check_filter_one(struct snapshot *snap, const char *cb, const struct filter_early_args *a,
			     bool *done, struct pipeline_early *early, struct pipeline_result *r)
{
	if (*done || !filter_prog_defines(snap->filter, cb))
		return false;
	struct filter_early_result res;
	char err[1024];
	if (filter_policy_early(snap, a->queue_id ? a->queue_id : "NOQUEUE", cb, a, &res, err, sizeof(err)) == -1) {
		pipeline_tempfail_reply(snap->cfg, "policy filter error", r);
		snprintf(r->detail, sizeof(r->detail), "%.*s", (int)sizeof(r->detail) - 1, err);
		return true;
	}
	if (check_filter_stop(&res, r))
		return true;
	if (res.kind == FILTER_EARLY_ACCEPT)
		*done = true;
	if (res.kind == FILTER_EARLY_DISCARD && !early->discard) {
		early->discard = true;
		snprintf(early->why, sizeof(early->why), "%s: discard", cb);
	}
	return false;
}

/* check_filter_early - see check_filter.h */
bool check_filter_early(struct snapshot *snap, const struct envelope *env, struct pipeline_early *early,
			struct pipeline_result *r, char *stage, size_t stagelen)
{
	static const char *const conn_cbs[] = {"filter_relay", "filter_helo", "filter_sender"};
	stage[0] = '\0';
	if (snap->filter == NULL)
		return false;
	struct filter_early_args a = {
		.ip = env->client_addr, .name = env->client_name, .helo = env->helo, .sender = env->sender,
		.auth_user = env->auth_user, .queue_id = env->queue_id, .origin = env->origin,
	};
	bool done = false;
	for (size_t i = 0; i < sizeof(conn_cbs) / sizeof(conn_cbs[0]); i++) {
		if (check_filter_one(snap, conn_cbs[i], &a, &done, early, r)) {
			snprintf(stage, stagelen, "%s", conn_cbs[i]);
			return true;
		}
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		a.rcpt = env->rcpts[i];
		a.first = env->rcpts[0];
		if (check_filter_one(snap, "filter_recipient", &a, &done, early, r)) {
			snprintf(stage, stagelen, "filter_recipient");
			return true;
		}
	}
	return false;
}

static const char *const check_hdr_ops[] = {"add", "change", "delete", "delete_all"};

/* check_filter_json - the filter's outcome as one JSON member, ", \"filter\": {...}" */
void check_filter_json(FILE *fp, const struct pipeline_result *r, const char *stage)
{
	const struct filter_outcome *fo = &r->fo;
	fprintf(fp, ", \"filter\": ");
	if (!r->filtered && !(stage && stage[0]) && !r->filter_note[0]) {
		fputs("null", fp);
		return;
	}
	fprintf(fp, "{\"stage\": ");
	json_string(fp, stage && stage[0] ? stage : r->filtered ? "message" : NULL);
	fprintf(fp, ", \"action\": ");
	json_string(fp, r->filtered ? filter_msg_action_name(fo->action) : NULL);
	fprintf(fp, ", \"note\": ");
	json_string(fp, r->filter_note[0] ? r->filter_note : NULL);
	fprintf(fp, ", \"quarantine_message\": %s, \"parts\": [", fo->quarantine_message ? "true" : "false");
	const char *sep = "";
	for (size_t i = 0; i < fo->nparts; i++) {
		if (fo->part_action[i] == FILTER_PART_KEEP && !fo->part_quarantine[i])
			continue;
		fprintf(fp, "%s{\"path\": ", sep);
		json_string(fp, i < r->insp.nparts ? r->insp.parts[i].path : NULL);
		fprintf(fp, ", \"action\": ");
		json_string(fp, filter_part_action_name((enum filter_part_action)fo->part_action[i]));
		fprintf(fp, ", \"quarantine\": %s}", fo->part_quarantine[i] ? "true" : "false");
		sep = ", ";
	}
	fprintf(fp, "], \"rebuilt\": %s, \"headers\": [", r->rebuilt.changed ? "true" : "false");
	for (size_t i = 0; i < fo->nhdrs; i++) {
		fprintf(fp, "%s{\"op\": ", i ? ", " : "");
		json_string(fp, check_hdr_ops[fo->hdrs[i].op]);
		fprintf(fp, ", \"name\": ");
		json_string(fp, fo->hdrs[i].name);
		fprintf(fp, ", \"value\": ");
		json_string(fp, fo->hdrs[i].value);
		fprintf(fp, ", \"index\": %u}", fo->hdrs[i].index);
	}
	fprintf(fp, "], \"recipients\": [");
	for (size_t i = 0; i < fo->nrcpts; i++) {
		fprintf(fp, "%s{\"op\": \"%s\", \"addr\": ", i ? ", " : "", fo->rcpts[i].add ? "add" : "delete");
		json_string(fp, fo->rcpts[i].addr);
		fputc('}', fp);
	}
	fprintf(fp, "], \"sender\": ");
	json_string(fp, fo->new_sender);
	fprintf(fp, ", \"notices_sent\": %u, \"notices_refused\": %u}", r->notices_sent, r->notices_refused);
}

/* check_filter_text - the same, for people */
void check_filter_text(FILE *fp, const struct pipeline_result *r, const char *stage)
{
	const struct filter_outcome *fo = &r->fo;
	if (stage && stage[0])
		fprintf(fp, "filter stage:  %s\n", stage);
	if (!r->filtered)
		return;
	fprintf(fp, "filter:        %s\n", filter_msg_action_name(fo->action));
	if (r->filter_note[0])
		fprintf(fp, "filter note:   %s\n", r->filter_note);
	for (size_t i = 0; i < fo->nparts; i++)
		if (fo->part_action[i] != FILTER_PART_KEEP)
			fprintf(fp, "filter part:   %s %s\n", i < r->insp.nparts ? r->insp.parts[i].path : "?",
				filter_part_action_name((enum filter_part_action)fo->part_action[i]));
	for (size_t i = 0; i < fo->nhdrs; i++)
		fprintf(fp, "filter header: %s %s%s%s\n", check_hdr_ops[fo->hdrs[i].op], fo->hdrs[i].name,
			fo->hdrs[i].value ? ": " : "", fo->hdrs[i].value ? fo->hdrs[i].value : "");
	for (size_t i = 0; i < fo->nrcpts; i++)
		fprintf(fp, "filter rcpt:   %s <%s>\n", fo->rcpts[i].add ? "add" : "delete", fo->rcpts[i].addr);
	if (fo->new_sender)
		fprintf(fp, "filter sender: <%s>\n", fo->new_sender);
	if (r->notices_sent || r->notices_refused)
		fprintf(fp, "notices:       %u sent, %u refused\n", r->notices_sent, r->notices_refused);
}

/* check_filter_write - the message as the filter left its body */
int check_filter_write(const char *path, const struct pipeline_result *r, struct intake *in)
{
	FILE *fp = fopen(path, "we");
	if (fp == NULL) {
		fprintf(stderr, "klaxon check: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	char err[400];
	size_t len = 0;
	const char *bytes = r->rebuilt.changed ? r->rebuilt.message : NULL;
	if (bytes)
		len = r->rebuilt.msglen;
	else if ((bytes = spool_map(intake_spool(in), &len, err, sizeof(err))) == NULL) {
		fprintf(stderr, "klaxon check: %s\n", err);
		fclose(fp);
		return -1;
	}
	bool bad = fwrite(bytes, 1, len, fp) != len;
	if (!r->rebuilt.changed)
		spool_unmap(intake_spool(in));
	if (fclose(fp) == EOF || bad) {
		fprintf(stderr, "klaxon check: write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}
