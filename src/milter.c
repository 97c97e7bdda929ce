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
#include <strings.h>

#include "envelope.h"
#include "filter.h"
#include "filter_api.h"
#include "filter_policy.h"
#include "log.h"
#include "origin.h"
#include "pipeline.h"
#include "snapshot.h"
#include "intake.h"
#include "spool.h"

/* What klaxon may ask of the MTA: its headers, and for a Lua filter the body and envelope. */
#define MILTER_ACTIONS \
	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGFROM)

/* Set once before smfi_main() starts threads; read-only afterwards. */
static milter_alert_hook milter_on_alert;

struct milter_conn {
	char addr[INET6_ADDRSTRLEN];
	char *name;
	char *helo;
	struct milter_msg *msg;
	bool leadspc;              /* SMFIP_HDR_LEADSPC: header values we send carry their own space */
	bool early_done;           /* filter_relay or filter_helo said accept: no more early calls */
	bool early_discard;        /* ... or discard: every message of the connection, copy first */
	char early_why[128];
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
	bool early_done;           /* filter_sender or filter_recipient said accept */
	struct pipeline_early early; /* an early callback said discard */
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

/* milter_early_reply - the filter's own reject or tempfail reply */
static sfsistat milter_early_reply(SMFICTX *ctx, const struct filter_early_result *res)
{
	char text[FILTER_TEXT_MAX + 1];
	pipeline_sanitize(text, sizeof(text), res->text);
	if (smfi_setreply(ctx, (char *)res->code, (char *)res->dsn, text) != MI_SUCCESS)
		log_warn("smfi_setreply refused the filter's reply text; the MTA sends its default");
	return res->kind == FILTER_EARLY_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/*
 * milter_early - one early callback (filter_relay, _helo, _sender, _recipient).
 * "accept" only ends the early callbacks: the message is still scanned and
 * filtered. "discard" is remembered and done at end of message, after the
 * durable copy. A filter error is a 4xx, logged with the file and line.
 */
static sfsistat milter_early(SMFICTX *ctx, struct snapshot *snap, struct milter_conn *conn,
			     struct milter_msg *m, const char *cb, const struct filter_early_args *a)
{
	if (snap == NULL || snap->filter == NULL || !filter_prog_defines(snap->filter, cb) ||
	    conn->early_done || (m && m->early_done))
		return SMFIS_CONTINUE;
	const char *qid = m && m->queue_id[0] ? m->queue_id : "NOQUEUE";
	struct filter_early_result res;
	char err[1024];
	if (filter_policy_early(snap, qid, cb, a, &res, err, sizeof(err)) == -1)
		return milter_tempfail(ctx, "policy filter error", err);
	if (res.kind != FILTER_EARLY_CONTINUE)
		log_info("%s: %s: %s%s%s%s%s", qid, cb, filter_early_kind_name(res.kind), res.code[0] ? " " : "",
			 res.code, res.dsn[0] ? " " : "", res.dsn);
	switch (res.kind) {
	case FILTER_EARLY_CONTINUE:
		break;
	case FILTER_EARLY_ACCEPT:
		*(m ? &m->early_done : &conn->early_done) = true;
		break;
	case FILTER_EARLY_REJECT:
	case FILTER_EARLY_TEMPFAIL:
		return milter_early_reply(ctx, &res);
	case FILTER_EARLY_DISCARD:
		if (m) {
			m->early.discard = true;
			snprintf(m->early.why, sizeof(m->early.why), "%s: discard", cb);
		} else {
			conn->early_discard = true;
			snprintf(conn->early_why, sizeof(conn->early_why), "%s: discard", cb);
		}
		break;
	}
	return SMFIS_CONTINUE;
}

/* milter_early_conn - an early callback before any message: pin a snapshot for it */
static sfsistat milter_early_conn(SMFICTX *ctx, struct milter_conn *conn, const char *cb)
{
	struct snapshot *snap = snapshot_acquire();
	struct filter_early_args a = {.ip = conn->addr, .name = conn->name, .helo = conn->helo};
	if (snap)
		a.origin = origin_decide(snap->cfg, conn->addr, NULL);
	sfsistat rc = milter_early(ctx, snap, conn, NULL, cb, &a);
	snapshot_release(snap);
	return rc;
}

/* milter_early_args - the arguments of filter_sender and filter_recipient */
static struct filter_early_args milter_early_args(const struct milter_conn *conn, const struct milter_msg *m)
{
	return (struct filter_early_args){
		.ip = conn->addr, .name = conn->name, .helo = conn->helo, .sender = m->sender,
		.first = m->nrcpts ? m->rcpts[0] : NULL, .auth_user = m->auth_user,
		.queue_id = m->queue_id[0] ? m->queue_id : NULL, .origin = m->origin,
	};
}

static sfsistat milter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	/* milter_negotiate made it, when the MTA negotiates (Postfix, Sendmail 8.14+). */
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL)
		conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return milter_tempfail(ctx, "out of memory", "connect");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, conn->addr, sizeof(conn->addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, conn->addr, sizeof(conn->addr));
	conn->name = strdup(hostname ? hostname : "");
	if (smfi_setpriv(ctx, conn) != MI_SUCCESS || conn->name == NULL) {
		smfi_setpriv(ctx, NULL); /* so close does not free it again */
		free(conn->name);
		free(conn);
		return milter_tempfail(ctx, "out of memory", "connect");
	}
	return milter_early_conn(ctx, conn, "filter_relay");
}

static sfsistat milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *conn = smfi_getpriv(ctx);
	if (conn == NULL)
		return milter_tempfail(ctx, "internal error", "helo without connection context");
	free(conn->helo);
	conn->helo = strdup(helo ? helo : "");
	if (conn->helo == NULL)
		return milter_tempfail(ctx, "out of memory", "helo");
	return milter_early_conn(ctx, conn, "filter_helo");
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
	struct milter_msg *m = milter_msg_new(ctx, conn, argv[0] ? argv[0] : "", err, sizeof(err));
	if (m == NULL) {
		milter_msg_reset(conn);
		return milter_tempfail(ctx, "internal error", err);
	}
	struct filter_early_args a = milter_early_args(conn, m);
	return milter_early(ctx, m->snap, conn, m, "filter_sender", &a);
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
	char *rcpt = milter_strip_brackets(argv[0] ? argv[0] : "");
	if (rcpt == NULL)
		return milter_tempfail(ctx, "out of memory", "RCPT TO");
	struct filter_early_args a = milter_early_args(conn, m);
	a.rcpt = rcpt;
	if (a.first == NULL)
		a.first = rcpt;
	sfsistat rc = milter_early(ctx, m->snap, conn, m, "filter_recipient", &a);
	if (rc != SMFIS_CONTINUE) {
		free(rcpt); /* the MTA refuses this recipient: it is not one of the message's */
		return rc;
	}
	m->rcpts[m->nrcpts++] = rcpt;
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

/*
 * milter_header_call - smfi_addheader or smfi_chgheader with the value as
 * the MTA wants it: with SMFIP_HDR_LEADSPC negotiated (we ask for it, to
 * copy headers exactly) the MTA writes "Name:" and the value as given, so
 * the usual space must be ours. value NULL deletes (chgheader only).
 */
static int milter_header_call(SMFICTX *ctx, bool add, const char *name, int index, const char *value)
{
	const struct milter_conn *conn = smfi_getpriv(ctx);
	char *spaced = NULL;
	if (value && conn && conn->leadspc && value[0] != ' ' && value[0] != '\t') {
		if ((spaced = malloc(strlen(value) + 2)) == NULL)
			return MI_FAILURE;
		spaced[0] = ' ';
		strcpy(spaced + 1, value);
		value = spaced;
	}
	int rc = add ? smfi_addheader(ctx, (char *)name, (char *)value)
		     : smfi_chgheader(ctx, (char *)name, index, (char *)value);
	free(spaced);
	return rc;
}

static int milter_addheader(SMFICTX *ctx, const char *name, const char *value)
{
	return milter_header_call(ctx, true, name, 0, value);
}

static int milter_chgheader(SMFICTX *ctx, const char *name, int index, const char *value)
{
	return milter_header_call(ctx, false, name, index, value);
}

/* milter_count_headers - how many fields called name the message had */
static unsigned milter_count_headers(const struct mime_message *mm, const char *name)
{
	unsigned n = 0;
	size_t nlen = strlen(name);
	if (mm == NULL || mm->header_block == NULL)
		return 0;
	const char *p = mm->header_block, *end = p + mm->header_len;
	for (const char *line = p; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if ((size_t)(end - line) > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':')
			n++;
		line = eol ? eol + 1 : end;
	}
	return n;
}

/* milter_hdr_edit - one of the filter's header edits */
static int milter_hdr_edit(SMFICTX *ctx, const struct filter_hdr_edit *e, const struct mime_message *mm)
{
	switch (e->op) {
	case FILTER_HDR_ADD:
		return milter_addheader(ctx, e->name, e->value);
	case FILTER_HDR_CHANGE:
		return milter_chgheader(ctx, e->name, (int)e->index, e->value);
	case FILTER_HDR_DELETE:
		return smfi_chgheader(ctx, e->name, (int)e->index, NULL);
	case FILTER_HDR_DELETE_ALL:
		/* From the last to the first, so no deletion renumbers the next. */
		for (unsigned i = milter_count_headers(mm, e->name); i >= 1; i--)
			if (smfi_chgheader(ctx, e->name, (int)i, NULL) != MI_SUCCESS)
				return MI_FAILURE;
		return MI_SUCCESS;
	}
	return MI_FAILURE;
}

/* milter_bracket - "<addr>" for the envelope calls */
static void milter_bracket(char *out, size_t outlen, const char *addr)
{
	snprintf(out, outlen, "<%s>", addr);
}

/* milter_body_edit - the rebuilt body and the top-level fields that go with it */
static int milter_body_edit(SMFICTX *ctx, const struct rebuild_out *rb, const struct mime_message *mm)
{
	for (size_t off = 0; off < rb->bodylen;) {
		size_t n = rb->bodylen - off < 65536 ? rb->bodylen - off : 65536;
		if (smfi_replacebody(ctx, (unsigned char *)rb->body + off, (int)n) != MI_SUCCESS)
			return -1;
		off += n;
	}
	if (rb->content_type && milter_chgheader(ctx, "Content-Type", 1, rb->content_type) != MI_SUCCESS)
		return -1;
	if (rb->cte && milter_chgheader(ctx, "Content-Transfer-Encoding", 1, rb->cte[0] ? rb->cte : NULL) != MI_SUCCESS)
		return -1;
	if (rb->add_mime_version && milter_addheader(ctx, "MIME-Version", "1.0") != MI_SUCCESS)
		return -1;
	/* From the last to the first, so no deletion renumbers the next. */
	for (unsigned i = rb->delete_disposition ? milter_count_headers(mm, "Content-Disposition") : 0; i >= 1; i--)
		if (milter_chgheader(ctx, "Content-Disposition", (int)i, NULL) != MI_SUCCESS)
			return -1;
	return 0;
}

/* milter_filter_edits - everything the filter asked to change; -1 names the failed step */
static int milter_filter_edits(SMFICTX *ctx, const struct pipeline_result *r, const struct mime_message *mm,
			       const char **step)
{
	char addr[340];
	const struct filter_outcome *fo = &r->fo;
	*step = "replacebody";
	if (r->rebuilt.changed && milter_body_edit(ctx, &r->rebuilt, mm) == -1)
		return -1;
	*step = "header";
	for (size_t i = 0; i < fo->nhdrs; i++)
		if (milter_hdr_edit(ctx, &fo->hdrs[i], mm) != MI_SUCCESS)
			return -1;
	*step = "recipient";
	for (size_t i = 0; i < fo->nrcpts; i++) {
		milter_bracket(addr, sizeof(addr), fo->rcpts[i].addr);
		if ((fo->rcpts[i].add ? smfi_addrcpt(ctx, addr) : smfi_delrcpt(ctx, addr)) != MI_SUCCESS)
			return -1;
	}
	*step = "sender";
	if (fo->new_sender) {
		milter_bracket(addr, sizeof(addr), fo->new_sender);
		if (smfi_chgfrom(ctx, addr, NULL) != MI_SUCCESS)
			return -1;
	}
	return 0;
}

/* milter_apply - map the pipeline's decision to libmilter, in one place */
static sfsistat milter_apply(SMFICTX *ctx, const struct config *cfg, const struct pipeline_result *r,
			     const struct mime_message *mm)
{
	const char *step;
	switch (r->action) {
	case ACTION_ACCEPT:
		/* A half-applied edit must not be delivered: the MTA keeps the message and retries. */
		if (r->filtered && milter_filter_edits(ctx, r, mm, &step) == -1) {
			char why[80];
			snprintf(why, sizeof(why), "the MTA refused the filter's %s change", step);
			return milter_tempfail(ctx, "internal error", why);
		}
		if (r->add_scanned_header &&
		    milter_addheader(ctx, cfg->scanned_header, r->scanned_value) != MI_SUCCESS)
			log_warn("could not add %s header", cfg->scanned_header);
		if (r->add_anomaly_header &&
		    milter_addheader(ctx, cfg->anomaly_header, r->anomalies) != MI_SUCCESS)
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
	if (conn->early_discard && !m->early.discard) {
		m->early.discard = true;
		snprintf(m->early.why, sizeof(m->early.why), "%s", conn->early_why);
	}
	struct pipeline_result r;
	pipeline_run(m->snap, &env, m->intake, &m->early, &r);
	pipeline_log(&env, spool_size(intake_spool(m->intake)), &r);
	if ((r.alert_id[0] || r.notices_sent) && milter_on_alert)
		milter_on_alert();
	sfsistat rc = milter_apply(ctx, m->snap->cfg, &r, intake_finish(m->intake));
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
	(void)f2;
	(void)f3;
	*pf0 = f0 & MILTER_ACTIONS;
	*pf1 = f1 & SMFIP_HDR_LEADSPC;
	/* The connection context starts here, to remember the one option that
	 * changes how we write headers; connect fills in the rest. */
	struct milter_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL || smfi_setpriv(ctx, conn) != MI_SUCCESS) {
		free(conn);
		return SMFIS_TEMPFAIL;
	}
	conn->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
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
		.xxfi_flags = MILTER_ACTIONS,
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
