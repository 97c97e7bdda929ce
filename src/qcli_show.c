/*
 * qcli_show - `klaxon quarantine show ID [--json]`: one entry, from its
 * file. See qcli.h for the contract; qcli.c parses the command line and
 * calls qcli_show() from its table.
 *
 * The envelope and verdicts come from the entry's header, the header
 * block and the part tree from the stored raw message, parsed again here
 * (the default reading, with the configured MIME limits). Every value is
 * printed through qcli_clean() or, with --json, escaped by json.h.
 *
 * Ownership: all that is read is freed before qcli_show() returns.
 * Thread safety: a command of its own; writes to stdout and stderr.
 */
#include "qcli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "intake.h"
#include "json.h"
#include "mime.h"
#include "qcli_int.h"
#include "quarantine.h"

/* qcli_parse_message - the stored raw message through the MIME parser (default reading) */
static struct mime_message *qcli_parse_message(const struct config *cfg, const char *msg, size_t len)
{
	struct mime_limits lim;

	intake_limits(cfg, &lim);
	struct mime_parser *p = mime_parser_new(&lim, NULL);
	if (p == NULL || mime_parser_feed(p, msg, len) == -1) {
		if (p != NULL)
			mime_message_free(mime_parser_finish(p));
		return NULL;
	}
	return mime_parser_finish(p);
}

static void qcli_show_list_text(const char *label, char *const *v, size_t n)
{
	printf("%-12s ", label);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", stdout);
		qcli_put(stdout, v[i]);
	}
	fputs(n ? "\n" : "-\n", stdout);
}

static void qcli_show_field(const char *label, const char *value)
{
	printf("%-12s ", label);
	qcli_put(stdout, value);
	fputc('\n', stdout);
}

/* qcli_show_text - envelope, verdicts, header block, part tree, for people */
static void qcli_show_text(const struct quarantine_entry *e, const char *header,
			   const struct mime_message *m)
{
	char stamp[40];

	qcli_stamp(e->when, stamp, sizeof(stamp));
	qcli_show_field("id:", e->id);
	qcli_show_field("time:", stamp);
	qcli_show_field("class:", e->class);
	qcli_show_field("origin:", e->origin);
	qcli_show_field("client:", e->client_addr);
	qcli_show_field("client name:", e->client_name);
	qcli_show_field("helo:", e->helo);
	qcli_show_field("auth user:", e->auth_user);
	qcli_show_field("sender:", e->sender != NULL && e->sender[0] ? e->sender : "<>");
	qcli_show_list_text("recipients:", e->rcpts, e->nrcpts);
	qcli_show_field("queue id:", e->queue_id);
	qcli_show_field("subject:", e->subject);
	qcli_show_list_text("viruses:", e->viruses, e->nviruses);
	qcli_show_list_text("banned:", e->banned, e->nbanned);
	qcli_show_list_text("flags:", e->flags, e->nflags);
	qcli_show_field("reason:", e->reason);
	qcli_show_field("payload:", e->payload);
	printf("%-12s %llu bytes\n", "size:", e->size);

	printf("\nheader:\n");
	for (const char *line = header; *line;) {
		const char *nl = strchr(line, '\n');
		int n = nl ? (int)(nl - line) : (int)strlen(line);
		printf("  %.*s\n", n, line);
		line += n + (nl != NULL);
	}
	if (m == NULL) {
		printf("\nparts: (the message could not be parsed: out of memory)\n");
		return;
	}
	printf("\nparts:\n");
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *pt = &m->parts[i];
		char tree[96];
		snprintf(tree, sizeof(tree), "%*s%s", (int)pt->depth * 2, "", pt->path);
		printf("  %-14s %s", tree, pt->content_type);
		if (pt->filename[0]) {
			fputs("  \"", stdout);
			qcli_put(stdout, pt->filename);
			fputc('"', stdout);
		}
		if (pt->leaf)
			printf("  %zu bytes", pt->size);
		fputc('\n', stdout);
	}
	if (m->limit != MIME_LIMIT_NONE)
		printf("  (the tree stops here: %s)\n", m->limit_detail);
}

static void qcli_json_list(FILE *fp, char *const *v, size_t n)
{
	json_string_array(fp, (const char *const *)v, n);
}

/* qcli_show_json - the same as one JSON object */
static void qcli_show_json(const struct quarantine_entry *e, const char *header,
			   const struct mime_message *m)
{
	char stamp[40];
	bool first = true;

	qcli_stamp(e->when, stamp, sizeof(stamp));
	fputc('{', stdout);
	qcli_json_key(stdout, &first, "id"), json_string(stdout, e->id);
	qcli_json_key(stdout, &first, "time"), json_string(stdout, stamp);
	qcli_json_key(stdout, &first, "class"), json_string(stdout, e->class);
	qcli_json_key(stdout, &first, "origin"), json_string(stdout, e->origin);
	qcli_json_key(stdout, &first, "client_addr"), json_string(stdout, e->client_addr);
	qcli_json_key(stdout, &first, "client_name"), json_string(stdout, e->client_name);
	qcli_json_key(stdout, &first, "helo"), json_string(stdout, e->helo);
	qcli_json_key(stdout, &first, "auth_user"), json_string(stdout, e->auth_user);
	qcli_json_key(stdout, &first, "sender"), json_string(stdout, e->sender);
	qcli_json_key(stdout, &first, "rcpts"), qcli_json_list(stdout, e->rcpts, e->nrcpts);
	qcli_json_key(stdout, &first, "queue_id"), json_string(stdout, e->queue_id);
	qcli_json_key(stdout, &first, "subject"), json_string(stdout, e->subject);
	qcli_json_key(stdout, &first, "viruses"), qcli_json_list(stdout, e->viruses, e->nviruses);
	qcli_json_key(stdout, &first, "banned"), qcli_json_list(stdout, e->banned, e->nbanned);
	qcli_json_key(stdout, &first, "flags"), qcli_json_list(stdout, e->flags, e->nflags);
	qcli_json_key(stdout, &first, "reason"), json_string(stdout, e->reason);
	qcli_json_key(stdout, &first, "payload"), json_string(stdout, e->payload);
	qcli_json_key(stdout, &first, "size"), printf("%llu", e->size);
	qcli_json_key(stdout, &first, "header"), json_string(stdout, header);
	qcli_json_key(stdout, &first, "parts");
	fputc('[', stdout);
	for (size_t i = 0; m != NULL && i < m->nparts; i++) {
		const struct mime_part *pt = &m->parts[i];
		printf("%s{\"path\": ", i ? ", " : "");
		json_string(stdout, pt->path);
		printf(", \"depth\": %u, \"type\": ", pt->depth);
		json_string(stdout, pt->content_type);
		fputs(", \"filename\": ", stdout);
		json_string(stdout, pt->filename);
		printf(", \"leaf\": %s, \"size\": %zu}", pt->leaf ? "true" : "false", pt->size);
	}
	fputc(']', stdout);
	qcli_json_key(stdout, &first, "limit");
	json_string(stdout, m != NULL && m->limit != MIME_LIMIT_NONE ? m->limit_detail : NULL);
	fputs("}\n", stdout);
}

/* qcli_show - one entry, from its file */
int qcli_show(struct qcli *q)
{
	struct quarantine_entry e;
	char err[1024];
	char *msg = NULL;
	size_t len = 0;

	if (qcli_read(q, "show", &e) == -1)
		return QCLI_ERR;
	if (quarantine_read_message(q->cfg->quarantine_dir, &e, &msg, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine show: %s\n", err);
		quarantine_entry_clear(&e);
		return QCLI_ERR;
	}
	struct mime_message *m = qcli_parse_message(q->cfg, msg, len);
	/* The header block as the parser cut it (bounded by mime_max_header_length). */
	char *header = m != NULL ? qcli_clean(m->header_block ? m->header_block : "", m->header_len, true)
				 : qcli_clean("", 0, true);
	/* The blank line that ends the header block is not a field. */
	for (size_t n = strlen(header); n >= 2 && header[n - 1] == '\n' && header[n - 2] == '\n'; n--)
		header[n - 1] = '\0';
	if (q->o.json)
		qcli_show_json(&e, header, m);
	else
		qcli_show_text(&e, header, m);
	free(header);
	mime_message_free(m);
	free(msg);
	quarantine_entry_clear(&e);
	return 0;
}
