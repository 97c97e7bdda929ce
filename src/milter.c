/*
 * milter - the libmilter callbacks. See milter.h for the contract.
 */
#include "milter.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "log.h"
#include "origin.h"
#include "pipeline.h"
#include "snapshot.h"
#include "intake.h"
#include "spool.h"

/* Set once before smfi_main() starts threads; read-only afterwards. */
static milter_alert_hook milter_on_alert;

struct milter_conn {
	char addr[INET6_ADDRSTRLEN];
	char *name;
	char *helo;
	struct milter_msg *msg;
};

struct milter_msg {
	struct snapshot *snap;
	char *sender;
	char *auth_user;
	char **rcpts;
	size_t nrcpts, rcap;
	struct intake *intake;     /* spool and MIME parser, fed together */
	enum origin origin;
	char queue_id[64];         /* {i}, as soon as the MTA tells us */
	bool failed;               /* a tempfail is already decided */
	char fail_detail[400];
};

void milter_set_alert_hook(milter_alert_hook hook)
{
	milter_on_alert = hook;
}

/* milter_strip_brackets - "<a@b>" -> "a@b" (a malloc'd copy) */
static char *milter_strip_brackets(const char *s)
{
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
		return strndup(s + 1, len - 2);
	return strdup(s);
}

/* milter_msg_reset - the one place a message context is freed */
static void milter_msg_reset(struct milter_conn *conn)
{
	struct milter_msg *m = conn->msg;
	if (m == NULL)
		return;
	intake_close(m->intake);
	for (size_t i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	free(m->sender);
	free(m->auth_user);
	snapshot_release(m->snap);
	free(m);
	conn->msg = NULL;
}

/* milter_tempfail - a 4xx with the configured reply_tempfail text; the detail is logged */
static sfsistat milter_tempfail(SMFICTX *ctx, const char *reason, const char *detail)
{
	struct pipeline_result r;
	struct snapshot *snap = snapshot_acquire();
	pipeline_tempfail_reply(snap ? snap->cfg : NULL, reason, &r);
	snapshot_release(snap);
	log_warn("tempfail: %s: %s", reason, detail ? detail : "");
	if (smfi_setreply(ctx, r.rcode, r.xcode, r.text) != MI_SUCCESS)
		log_warn("smfi_setreply refused the reply text; the MTA sends its default");
	return SMFIS_TEMPFAIL;
}

static sfsistat milter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct milter_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return milter_tempfail(ctx, "out of memory", "connect");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, conn->addr, sizeof(conn->addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, conn->addr, sizeof(conn->addr));
	conn->name = strdup(hostname ? hostname : "");
	if (smfi_setpriv(ctx, conn) != MI_SUCCESS || conn->name == NULL) {
		free(conn->name);
		free(conn);
		return milter_tempfail(ctx, "out of memory", "connect");
	}
	return SMFIS_CONTINUE;
}

static sfsistat milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL)
		return milter_tempfail(ctx, "internal error", "helo without connection context");
	free(conn->helo);
	conn->helo = strdup(helo ? helo : "");
	return SMFIS_CONTINUE;
}

/* milter_note_queue_id - Postfix sends {i} at MAIL FROM or only at end of data */
static void milter_note_queue_id(SMFICTX *ctx, struct milter_msg *m)
{
	const char *qid = smfi_getsymval(ctx, "i");
	if (m->queue_id[0] == '\0' && qid && *qid)
		snprintf(m->queue_id, sizeof(m->queue_id), "%s", qid);
}

/* milter_msg_new - a message context pinned to the current snapshot */
static struct milter_msg *milter_msg_new(SMFICTX *ctx, struct milter_conn *conn, const char *from,
					 char *err, size_t errlen)
{
	struct milter_msg *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return snprintf(err, errlen, "out of memory"), NULL;
	conn->msg = m;
	m->snap = snapshot_acquire();
	if (m->snap == NULL)
		return snprintf(err, errlen, "no configuration loaded"), NULL;
	const struct config *cfg = m->snap->cfg;
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	m->sender = milter_strip_brackets(from);
	m->auth_user = auth && *auth ? strdup(auth) : NULL;
	if (m->sender == NULL || (auth && *auth && m->auth_user == NULL))
		return snprintf(err, errlen, "out of memory"), NULL;
	if (intake_open(cfg, &m->intake, err, errlen) == -1)
		return NULL;
	m->origin = origin_decide(cfg, conn->addr, m->auth_user);
	milter_note_queue_id(ctx, m);
	return m;
}

static sfsistat milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL)
		return milter_tempfail(ctx, "internal error", "MAIL FROM without connection context");
	milter_msg_reset(conn);
	char err[400];
	if (milter_msg_new(ctx, conn, argv[0] ? argv[0] : "", err, sizeof(err)) == NULL) {
		milter_msg_reset(conn);
		return milter_tempfail(ctx, "internal error", err);
	}
	return SMFIS_CONTINUE;
}

static sfsistat milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	struct milter_msg *m = conn ? conn->msg : NULL;
	if (m == NULL)
		return milter_tempfail(ctx, "internal error", "RCPT TO without message context");
	if (m->nrcpts + 1 >= m->rcap) {
		size_t cap = m->rcap ? m->rcap * 2 : 8;
		char **bigger = realloc(m->rcpts, cap * sizeof(*bigger));
		if (bigger == NULL)
			return milter_tempfail(ctx, "out of memory", "RCPT TO");
		m->rcpts = bigger;
		m->rcap = cap;
	}
	if ((m->rcpts[m->nrcpts] = milter_strip_brackets(argv[0] ? argv[0] : "")) == NULL)
		return milter_tempfail(ctx, "out of memory", "RCPT TO");
	m->nrcpts++;
	return SMFIS_CONTINUE;
}

/* milter_spool - append to the message spool, remembering the first failure */
static void milter_spool(struct milter_msg *m, const void *buf, size_t len)
{
	if (m->failed)
		return;
	if (intake_append(m->intake, buf, len, m->fail_detail, sizeof(m->fail_detail)) == -1)
		m->failed = true;
}

static sfsistat milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	struct milter_msg *m = conn ? conn->msg : NULL;
	if (m == NULL)
		return milter_tempfail(ctx, "internal error", "header without message context");
	/* Rebuild the header as it was on the wire; with SMFIP_HDR_LEADSPC the
	 * value keeps its leading space, otherwise we add the usual one. */
	milter_spool(m, name, strlen(name));
	milter_spool(m, ":", 1);
	if (value[0] != ' ' && value[0] != '\t')
		milter_spool(m, " ", 1);
	/* Folded values arrive with bare LF line breaks from Postfix. */
	for (const char *v = value; *v; v++) {
		if (*v == '\n' && (v == value || v[-1] != '\r'))
			milter_spool(m, "\r\n", 2);
		else
			milter_spool(m, v, 1);
	}
	milter_spool(m, "\r\n", 2);
	return SMFIS_CONTINUE;
}

static sfsistat milter_eoh(SMFICTX *ctx)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL || conn->msg == NULL)
		return milter_tempfail(ctx, "internal error", "end of headers without message context");
	milter_spool(conn->msg, "\r\n", 2);
	return SMFIS_CONTINUE;
}

static sfsistat milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL || conn->msg == NULL)
		return milter_tempfail(ctx, "internal error", "body without message context");
	milter_spool(conn->msg, chunk, len);
	return SMFIS_CONTINUE;
}

/* milter_apply - map the pipeline's decision to libmilter, in one place */
static sfsistat milter_apply(SMFICTX *ctx, const struct config *cfg, const struct pipeline_result *r)
{
	switch (r->action) {
	case ACTION_ACCEPT:
		if (r->add_scanned_header &&
		    smfi_addheader(ctx, cfg->scanned_header, (char *)r->scanned_value) != MI_SUCCESS)
			log_warn("could not add %s header", cfg->scanned_header);
		if (r->add_anomaly_header &&
		    smfi_addheader(ctx, cfg->anomaly_header, (char *)r->anomalies) != MI_SUCCESS)
			log_warn("could not add %s header", cfg->anomaly_header);
		return SMFIS_CONTINUE;
	case ACTION_DISCARD:
		return SMFIS_DISCARD;
	case ACTION_REJECT:
	case ACTION_TEMPFAIL:
		if (smfi_setreply(ctx, (char *)r->rcode, (char *)r->xcode, (char *)r->text) != MI_SUCCESS)
			log_warn("smfi_setreply refused the reply text; the MTA sends its default");
		return r->action == ACTION_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
	return SMFIS_TEMPFAIL;
}

static sfsistat milter_eom(SMFICTX *ctx)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	struct milter_msg *m = conn ? conn->msg : NULL;
	if (m == NULL)
		return milter_tempfail(ctx, "internal error", "end of message without message context");
	if (m->failed) {
		sfsistat rc = milter_tempfail(ctx, "spool unavailable", m->fail_detail);
		milter_msg_reset(conn);
		return rc;
	}
	milter_note_queue_id(ctx, m);
	struct envelope env = {
		.client_addr = conn->addr,
		.client_name = conn->name,
		.helo = conn->helo,
		.auth_user = m->auth_user,
		.sender = m->sender,
		.rcpts = (const char *const *)m->rcpts,
		.nrcpts = m->nrcpts,
		.queue_id = m->queue_id,
		.origin = m->origin,
	};
	struct pipeline_result r;
	pipeline_run(m->snap, &env, m->intake, &r);
	pipeline_log(&env, spool_size(intake_spool(m->intake)), &r);
	if (r.alert_id[0] && milter_on_alert)
		milter_on_alert();
	sfsistat rc = milter_apply(ctx, m->snap->cfg, &r);
	pipeline_result_clear(&r);
	milter_msg_reset(conn);
	return rc;
}

static sfsistat milter_abort(SMFICTX *ctx)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn)
		milter_msg_reset(conn);
	return SMFIS_CONTINUE;
}

static sfsistat milter_close(SMFICTX *ctx)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL)
		return SMFIS_CONTINUE;
	milter_msg_reset(conn);
	free(conn->name);
	free(conn->helo);
	free(conn);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

/* milter_negotiate - ask for the header leading space, so copies are exact */
static sfsistat milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
				 unsigned long f3, unsigned long *pf0, unsigned long *pf1,
				 unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx;
	(void)f2;
	(void)f3;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
	*pf1 = f1 & SMFIP_HDR_LEADSPC;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* milter_register - hand libmilter our callbacks */
int milter_register(void)
{
	static struct smfiDesc desc = {
		.xxfi_name = "klaxon",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
		.xxfi_connect = milter_connect,
		.xxfi_helo = milter_helo,
		.xxfi_envfrom = milter_envfrom,
		.xxfi_envrcpt = milter_envrcpt,
		.xxfi_header = milter_header,
		.xxfi_eoh = milter_eoh,
		.xxfi_body = milter_body,
		.xxfi_eom = milter_eom,
		.xxfi_abort = milter_abort,
		.xxfi_close = milter_close,
		.xxfi_negotiate = milter_negotiate,
	};
	return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}
