/*
 * qcli - `klaxon quarantine`. See qcli.h for the contract.
 *
 * The commands are a table (name, handler, the options it takes, usage),
 * as in OpenSMTPD's smtpctl: one parser serves them all and refuses an
 * option a command does not take. Every command loads the config, opens
 * the index and syncs it with the files before it does anything, so what
 * it shows is what is on disk. Files are the truth: show, release and
 * delete read the entry file itself, never only the index row.
 *
 * This file holds the table, the parser, the output helpers the other
 * commands share, and list, expire, reindex and stats; show is in
 * qcli_show.c, release, delete and the audit log in qcli_release.c, and
 * qcli_int.h is what they share.
 *
 * Everything that came with a message (envelope, header, names) is
 * printed through qcli_clean(): a terminal must never receive a control
 * character from a stranger. --json output is escaped by json.h instead.
 */
#include "qcli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ident.h"
#include "json.h"
#include "log.h"
#include "qcli_int.h"
#include "qindex.h"
#include "quarantine.h"
#include "release.h"
#include "text.h"
#include "util.h"

/* Options, as bits, so each command's row says which it takes. */
enum {
	QO_SINCE = 1u << 0, QO_UNTIL = 1u << 1, QO_RCPT = 1u << 2, QO_CLASS = 1u << 3,
	QO_VIRUS = 1u << 4, QO_LIMIT = 1u << 5, QO_JSON = 1u << 6, QO_TO = 1u << 7,
	QO_FORCE = 1u << 8, QO_DRY_RUN = 1u << 9,
};

struct qcli_cmd {
	const char *name;
	int (*run)(struct qcli *q);
	unsigned opts;              /* QO_* it accepts */
	bool needs_id;
	const char *usage;
};

static int qcli_list(struct qcli *q);
static int qcli_expire(struct qcli *q);
static int qcli_reindex(struct qcli *q);
static int qcli_stats(struct qcli *q);

static const struct qcli_cmd qcli_cmds[] = {
	{"list", qcli_list, QO_SINCE | QO_UNTIL | QO_RCPT | QO_CLASS | QO_VIRUS | QO_LIMIT | QO_JSON,
	 false, "list [--since T] [--until T] [--rcpt ADDR] [--class C] [--virus NAME] [--limit N] [--json]"},
	{"show", qcli_show, QO_JSON, true, "show ID [--json]"},
	{"release", qcli_release, QO_TO | QO_FORCE, true, "release ID [--to ADDR ...] [--force]"},
	{"delete", qcli_delete, 0, true, "delete ID"},
	{"expire", qcli_expire, QO_DRY_RUN, false, "expire [--dry-run]"},
	{"reindex", qcli_reindex, 0, false, "reindex"},
	{"stats", qcli_stats, QO_SINCE | QO_JSON, false, "stats [--since T] [--json]"},
};

#define QCLI_NCMDS (sizeof(qcli_cmds) / sizeof(qcli_cmds[0]))

static void qcli_usage(FILE *fp)
{
	fputs("usage:", fp);
	for (size_t i = 0; i < QCLI_NCMDS; i++)
		fprintf(fp, "%s klaxon quarantine [--config FILE] %s\n", i ? "      " : "",
			qcli_cmds[i].usage);
	fputs("T: an RFC 3339 time (2026-11-27T09:00:00Z), a date (2026-11-27) or an age (30m, 24h, 7d)\n"
	      "C: virus, banned, ambiguous, policy or spam\n",
	      fp);
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

/* qcli_utf8_len - a well-formed UTF-8 character at s that is safe to show (no C1 control), or 0 */
static size_t qcli_utf8_len(const unsigned char *s, size_t avail)
{
	size_t n = text_utf8_len(s, avail);

	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0 ? 0 : n;
}

/*
 * qcli_clean - a copy fit for a terminal: control characters and broken
 * UTF-8 become '?'. multiline keeps LF and tab and drops the CR of a CRLF
 * (for the header block); otherwise a value stays on one line.
 */
char *qcli_clean(const char *s, size_t len, bool multiline)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (out == NULL) {
		fprintf(stderr, "klaxon quarantine: out of memory\n");
		exit(QCLI_ERR);
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t u = c >= 0x80 ? qcli_utf8_len((const unsigned char *)s + i, len - i) : 0;
		if (u > 0) {
			memcpy(out + n, s + i, u);
			n += u;
			i += u;
			continue;
		}
		if (multiline && c == '\r' && i + 1 < len && s[i + 1] == '\n')
			; /* the CR of CRLF */
		else if (multiline && (c == '\n' || c == '\t'))
			out[n++] = (char)c;
		else
			out[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
		i++;
	}
	out[n] = '\0';
	return out;
}

/* qcli_put - print one value cleaned; dash for an empty one */
void qcli_put(FILE *fp, const char *s)
{
	if (s == NULL || *s == '\0') {
		fputc('-', fp);
		return;
	}
	char *c = qcli_clean(s, strlen(s), false);
	fputs(c, fp);
	free(c);
}

/* qcli_stamp - RFC 3339 UTC */
void qcli_stamp(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

/* qcli_age - "31d", "5h", "12m", "40s": the largest whole unit */
static void qcli_age(long long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(buf, len, "%lldd", secs / 86400);
	else if (secs >= 3600)
		snprintf(buf, len, "%lldh", secs / 3600);
	else if (secs >= 60)
		snprintf(buf, len, "%lldm", secs / 60);
	else
		snprintf(buf, len, "%llds", secs);
}

void qcli_json_key(FILE *fp, bool *first, const char *key)
{
	fprintf(fp, "%s\"%s\": ", *first ? "" : ", ", key);
	*first = false;
}

/* ------------------------------------------------------------------ */
/* The entry named on the command line                                 */
/* ------------------------------------------------------------------ */

/* qcli_read - the entry named on the command line; prints why not */
int qcli_read(struct qcli *q, const char *cmd, struct quarantine_entry *e)
{
	char err[1024];

	memset(e, 0, sizeof(*e));
	if (!ident_valid(q->o.id)) {
		char *c = qcli_clean(q->o.id, strlen(q->o.id), false);
		fprintf(stderr, "klaxon quarantine %s: '%s' is not a quarantine id\n", cmd, c);
		free(c);
		return -1;
	}
	if (quarantine_read(q->cfg->quarantine_dir, q->o.id, e, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

static const struct option qcli_longopts[] = {
	{"since", required_argument, NULL, 'S'}, {"until", required_argument, NULL, 'U'},
	{"rcpt", required_argument, NULL, 'R'}, {"class", required_argument, NULL, 'C'},
	{"virus", required_argument, NULL, 'V'}, {"limit", required_argument, NULL, 'L'},
	{"json", no_argument, NULL, 'J'}, {"to", required_argument, NULL, 'T'},
	{"force", no_argument, NULL, 'F'}, {"dry-run", no_argument, NULL, 'D'},
	{NULL, 0, NULL, 0},
};

/* qcli_opt_bit - the QO_ bit of a getopt code */
static unsigned qcli_opt_bit(int c)
{
	switch (c) {
	case 'S': return QO_SINCE;
	case 'U': return QO_UNTIL;
	case 'R': return QO_RCPT;
	case 'C': return QO_CLASS;
	case 'V': return QO_VIRUS;
	case 'L': return QO_LIMIT;
	case 'J': return QO_JSON;
	case 'T': return QO_TO;
	case 'F': return QO_FORCE;
	case 'D': return QO_DRY_RUN;
	default: return 0;
	}
}

/* qcli_opt_value - store one option's value; -1 with a message if it is bad */
static int qcli_opt_value(struct qcli *q, int c, const char *arg)
{
	struct qcli_opts *o = &q->o;
	char *end = NULL;

	switch (c) {
	case 'S':
	case 'U':
		if (util_time_arg(arg, q->now, c == 'S' ? &o->since : &o->until) == -1) {
			fprintf(stderr, "klaxon quarantine: bad time '%s' (2026-11-27T09:00:00Z, 2026-11-27, 24h, 7d)\n", arg);
			return -1;
		}
		return 0;
	case 'R': o->rcpt = arg; return 0;
	case 'V': o->virus = arg; return 0;
	case 'J': o->json = true; return 0;
	case 'F': o->force = true; return 0;
	case 'D': o->dry_run = true; return 0;
	case 'T': o->to[o->nto++] = arg; return 0;
	case 'C':
		if ((o->class = quarantine_class_parse(arg)) == -1) {
			fprintf(stderr, "klaxon quarantine: unknown class '%s' (virus, banned, ambiguous, policy, spam)\n", arg);
			return -1;
		}
		return 0;
	case 'L':
		errno = 0;
		unsigned long long v = strtoull(arg, &end, 10);
		if (errno != 0 || *end != '\0' || *arg < '1' || *arg > '9' || v > 10000000) {
			fprintf(stderr, "klaxon quarantine: bad --limit '%s'\n", arg);
			return -1;
		}
		o->limit = (size_t)v;
		return 0;
	}
	return -1;
}

/* qcli_parse - the command's options and its ID; -1 on a usage error (already said) */
static int qcli_parse(struct qcli *q, const struct qcli_cmd *cmd, int argc, char **argv)
{
	int c;

	q->o.to = calloc((size_t)argc + 1, sizeof(*q->o.to));
	if (q->o.to == NULL) {
		fprintf(stderr, "klaxon quarantine: out of memory\n");
		return -1;
	}
	optind = 0; /* GNU: start over; it also permutes, so "show ID --json" works */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", qcli_longopts, NULL)) != -1) {
		unsigned bit = qcli_opt_bit(c);
		if (bit == 0) {
			fprintf(stderr, "klaxon quarantine %s: %s option %s\n", cmd->name,
				optopt != 0 ? "missing value for" : "unknown", argv[optind - 1]);
			return -1;
		}
		if ((cmd->opts & bit) == 0) {
			fprintf(stderr, "klaxon quarantine %s: %s is not an option of %s\n", cmd->name,
				argv[optind - 1], cmd->name);
			return -1;
		}
		if (qcli_opt_value(q, c, optarg) == -1)
			return -1;
	}
	if (cmd->needs_id && optind < argc)
		q->o.id = argv[optind++];
	if (optind != argc || (cmd->needs_id && q->o.id == NULL)) {
		fprintf(stderr, "usage: klaxon quarantine [--config FILE] %s\n", cmd->usage);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* list                                                                */
/* ------------------------------------------------------------------ */

struct qcli_list_state {
	bool json;
	unsigned long n;
};

/* qcli_row_json - one index row as a JSON object */
static void qcli_row_json(FILE *fp, const struct qindex_row *r)
{
	char stamp[40];
	bool first = true;

	qcli_stamp(r->when, stamp, sizeof(stamp));
	fputc('{', fp);
	qcli_json_key(fp, &first, "id"), json_string(fp, r->id);
	qcli_json_key(fp, &first, "time"), json_string(fp, stamp);
	qcli_json_key(fp, &first, "class"), json_string(fp, quarantine_class_name(r->class));
	qcli_json_key(fp, &first, "origin"), json_string(fp, r->origin);
	qcli_json_key(fp, &first, "client_addr"), json_string(fp, r->client_addr);
	qcli_json_key(fp, &first, "client_name"), json_string(fp, r->client_name);
	qcli_json_key(fp, &first, "helo"), json_string(fp, r->helo);
	qcli_json_key(fp, &first, "auth_user"), json_string(fp, r->auth_user);
	qcli_json_key(fp, &first, "sender"), json_string(fp, r->sender);
	qcli_json_key(fp, &first, "rcpt"), json_string(fp, r->rcpt);
	qcli_json_key(fp, &first, "nrcpts"), fprintf(fp, "%u", r->nrcpts);
	qcli_json_key(fp, &first, "queue_id"), json_string(fp, r->queue_id);
	qcli_json_key(fp, &first, "subject"), json_string(fp, r->subject);
	qcli_json_key(fp, &first, "virus"), json_string(fp, r->virus);
	qcli_json_key(fp, &first, "reason"), json_string(fp, r->reason);
	qcli_json_key(fp, &first, "payload"), json_string(fp, r->payload);
	qcli_json_key(fp, &first, "size"), fprintf(fp, "%llu", r->size);
	fputc('}', fp);
}

/* qcli_row_text - time, id, class, sender, first recipient (+N), virus or reason, subject */
static void qcli_row_text(FILE *fp, const struct qindex_row *r)
{
	char stamp[40];

	qcli_stamp(r->when, stamp, sizeof(stamp));
	fprintf(fp, "%s  %s  %-9s  ", stamp, r->id, quarantine_class_name(r->class));
	if (r->sender == NULL || r->sender[0] == '\0')
		fputs("<>", fp);
	else
		qcli_put(fp, r->sender);
	fputs("  ", fp);
	qcli_put(fp, r->rcpt);
	if (r->nrcpts > 1)
		fprintf(fp, " (+%u)", r->nrcpts - 1);
	fputs("  ", fp);
	qcli_put(fp, r->virus != NULL && r->virus[0] ? r->virus : r->reason);
	fputs("  ", fp);
	qcli_put(fp, r->subject);
	fputc('\n', fp);
}

static int qcli_list_row(const struct qindex_row *r, void *arg)
{
	struct qcli_list_state *st = arg;

	if (st->json) {
		fputs(st->n ? ",\n " : "\n ", stdout);
		qcli_row_json(stdout, r);
	} else {
		qcli_row_text(stdout, r);
	}
	st->n++;
	return 0;
}

/* qcli_list - the entries that match, newest first */
static int qcli_list(struct qcli *q)
{
	struct qindex_filter f = {
		.since = q->o.since, .until = q->o.until, .rcpt = q->o.rcpt, .class = q->o.class,
		.virus = q->o.virus, .limit = q->o.limit, .newest_first = true,
	};
	struct qcli_list_state st = {.json = q->o.json};
	char err[1024];

	if (st.json)
		fputc('[', stdout);
	int rc = qindex_list(q->ix, &f, qcli_list_row, &st, err, sizeof(err));
	if (st.json)
		fputs(st.n ? "\n]\n" : "]\n", stdout);
	if (rc == -1) {
		fprintf(stderr, "klaxon quarantine list: %s\n", err);
		return QCLI_ERR;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* expire, reindex, stats                                              */
/* ------------------------------------------------------------------ */

struct qcli_victim {
	char id[QUARANTINE_ID_MAX];
	int class;
	time_t when;
};

struct qcli_victims {
	struct qcli_victim *v;
	size_t n, cap;
};

/* qcli_collect - remember a candidate; deleting inside the query would pull rows from under it */
static int qcli_collect(const struct qindex_row *r, void *arg)
{
	struct qcli_victims *vs = arg;

	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 64;
		struct qcli_victim *nv = realloc(vs->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		vs->v = nv;
		vs->cap = cap;
	}
	struct qcli_victim *v = &vs->v[vs->n++];
	snprintf(v->id, sizeof(v->id), "%s", r->id);
	v->class = r->class;
	v->when = r->when;
	return 0;
}

/* qcli_expire_one - file, row, log, stdout; -1 if the file could not go */
static int qcli_expire_one(struct qcli *q, const struct qcli_victim *v, const char *age)
{
	const char *cname = quarantine_class_name(v->class);
	char err[1024];

	if (quarantine_delete(q->cfg->quarantine_dir, v->id, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine expire: %s\n", err);
		log_warn("quarantine expire: %s: %s", v->id, err);
		return -1;
	}
	if (qindex_remove(q->ix, v->id, err, sizeof(err)) == -1)
		fprintf(stderr, "klaxon quarantine expire: %s (the next sync drops the row)\n", err);
	log_info("quarantine expire: %s class=%s age=%s", v->id, cname, age);
	printf("expired %s class=%s age=%s\n", v->id, cname, age);
	return 0;
}

/* qcli_expire - entries past their class's retention, and stale release tokens */
static int qcli_expire(struct qcli *q)
{
	time_t cutoff[QUARANTINE_CLASS_COUNT];
	struct qcli_victims vs = {0};
	char err[1024], age[32];
	unsigned long done = 0, failed = 0;

	for (int c = 0; c < QUARANTINE_CLASS_COUNT; c++)
		cutoff[c] = q->cfg->quarantine_retention[c] == 0
				    ? 0 /* keep for ever */
				    : q->now - (time_t)q->cfg->quarantine_retention[c] * 86400;
	if (qindex_expire_candidates(q->ix, cutoff, qcli_collect, &vs, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine expire: %s\n", err);
		free(vs.v);
		return QCLI_ERR;
	}
	for (size_t i = 0; i < vs.n; i++) {
		qcli_age((long long)(q->now - vs.v[i].when), age, sizeof(age));
		if (q->o.dry_run)
			printf("would expire %s class=%s age=%s\n", vs.v[i].id,
			       quarantine_class_name(vs.v[i].class), age);
		else if (qcli_expire_one(q, &vs.v[i], age) == -1)
			failed++;
		else
			done++;
	}
	free(vs.v);
	if (q->o.dry_run) {
		printf("would expire %zu entries\n", vs.n);
		return 0;
	}
	unsigned pruned = 0;
	int rc = release_prune(q->cfg->quarantine_dir, q->now, &pruned, err, sizeof(err));
	if (rc == -1)
		fprintf(stderr, "klaxon quarantine expire: release tokens: %s\n", err);
	printf("expired %lu entries%s; removed %u stale release tokens\n", done,
	       failed ? " (some could not be deleted)" : "", pruned);
	return failed || rc == -1 ? QCLI_ERR : 0;
}

/* qcli_reindex - drop the rows and read every file again */
static int qcli_reindex(struct qcli *q)
{
	struct qindex_sync_stats st = {0};
	char err[1024];

	if (qindex_reindex(q->ix, &st, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine reindex: %s\n", err);
		return QCLI_ERR;
	}
	printf("reindexed %lu entries (%lu damaged, not indexed)\n", st.total, st.damaged);
	return 0;
}

struct qcli_stat {
	char group[8];
	char *key;
	unsigned long count;
};

struct qcli_stats {
	struct qcli_stat *v;
	size_t n, cap;
};

static int qcli_stat_collect(const char *group, const char *key, unsigned long count, void *arg)
{
	struct qcli_stats *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct qcli_stat *nv = realloc(s->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		s->v = nv;
		s->cap = cap;
	}
	struct qcli_stat *st = &s->v[s->n];
	snprintf(st->group, sizeof(st->group), "%s", group);
	if ((st->key = strdup(key ? key : "")) == NULL)
		return -1;
	st->count = count;
	s->n++;
	return 0;
}

/* qcli_stats_print - per class, per virus, per day; text or one JSON object */
static void qcli_stats_print(const struct qcli *q, const struct qcli_stats *s, unsigned long total)
{
	static const char *const groups[] = {"class", "virus", "day"};
	char stamp[40];

	qcli_stamp(q->o.since, stamp, sizeof(stamp));
	if (q->o.json) {
		printf("{\"since\": ");
		json_string(stdout, q->o.since ? stamp : NULL);
		printf(", \"total\": %lu", total);
	} else {
		printf("entries: %lu%s%s\n", total, q->o.since ? " since " : "", q->o.since ? stamp : "");
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		bool first = true;
		printf(q->o.json ? ", \"%s\": {" : "%s:\n", groups[g]);
		for (size_t i = 0; i < s->n; i++) {
			if (strcmp(s->v[i].group, groups[g]) != 0)
				continue;
			if (q->o.json) {
				fputs(first ? "" : ", ", stdout);
				json_string(stdout, s->v[i].key);
				printf(": %lu", s->v[i].count);
			} else {
				char *key = qcli_clean(s->v[i].key, strlen(s->v[i].key), false);
				printf("  %-32s %lu\n", key, s->v[i].count);
				free(key);
			}
			first = false;
		}
		if (q->o.json)
			fputc('}', stdout);
	}
	if (q->o.json)
		fputs("}\n", stdout);
}

/* qcli_stats - counts since --since (or ever) */
static int qcli_stats(struct qcli *q)
{
	struct qindex_filter f = {.since = q->o.since, .class = -1};
	struct qcli_stats s = {0};
	unsigned long total = 0;
	char err[1024];
	int rc = 0;

	if (qindex_count(q->ix, &f, &total, err, sizeof(err)) == -1 ||
	    qindex_stats(q->ix, q->o.since, qcli_stat_collect, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine stats: %s\n", err);
		rc = QCLI_ERR;
	} else {
		qcli_stats_print(q, &s, total);
	}
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i].key);
	free(s.v);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

/* qcli_open - config, index, sync: the start of every command */
static int qcli_open(struct qcli *q, const char *config, const struct qcli_cmd *cmd)
{
	struct qindex_sync_stats st = {0};
	char err[1024];

	if (config_load(config, &q->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine: %s\n", err);
		return -1;
	}
	if (qindex_open(q->cfg->quarantine_dir, &q->ix, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine: %s\n", err);
		return -1;
	}
	/* reindex rebuilds everything itself; a sync first would read every file twice. */
	if (cmd->run == qcli_reindex)
		return 0;
	if (qindex_sync(q->ix, &st, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine: %s\n", err);
		return -1;
	}
	if (st.rebuilt)
		fprintf(stderr, "klaxon quarantine: the index %s/index.sqlite was missing or damaged; "
				"rebuilt it from the %lu entry files\n",
			q->cfg->quarantine_dir, st.total);
	if (st.damaged)
		fprintf(stderr, "klaxon quarantine: %lu damaged entry files are not indexed\n", st.damaged);
	return 0;
}

/* qcli_find - the command's row, or NULL */
static const struct qcli_cmd *qcli_find(const char *name)
{
	for (size_t i = 0; i < QCLI_NCMDS; i++)
		if (strcmp(qcli_cmds[i].name, name) == 0)
			return &qcli_cmds[i];
	return NULL;
}

/* qcli_main - [--config FILE] COMMAND [options]; argv[0] is "quarantine" */
int qcli_main(int argc, char **argv)
{
	const char *config = NULL;
	int i = 1;

	if (i < argc && strncmp(argv[i], "--config=", 9) == 0)
		config = argv[i++] + 9;
	else if (i + 1 < argc && strcmp(argv[i], "--config") == 0)
		config = argv[i + 1], i += 2;
	if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "help") == 0)) {
		qcli_usage(stdout);
		return 0;
	}
	const struct qcli_cmd *cmd = i < argc ? qcli_find(argv[i]) : NULL;
	if (cmd == NULL) {
		if (i < argc)
			fprintf(stderr, "klaxon quarantine: unknown command '%s'\n", argv[i]);
		qcli_usage(stderr);
		return QCLI_USAGE;
	}
	struct qcli q = {.now = time(NULL), .o = {.class = -1}};
	int rc = QCLI_USAGE;
	if (qcli_parse(&q, cmd, argc - i, argv + i) == 0) {
		/* Expiry and releases belong in the mail log, next to the daemon's records. */
		log_open("klaxon", false);
		signal(SIGPIPE, SIG_IGN); /* submit_message writes to a child that may exit early */
		rc = qcli_open(&q, config, cmd) == -1 ? QCLI_ERR : cmd->run(&q);
	}
	if (fflush(stdout) == EOF && rc == 0) {
		fprintf(stderr, "klaxon quarantine: writing output: %s\n", strerror(errno));
		rc = QCLI_ERR;
	}
	if (q.ix != NULL)
		qindex_close(q.ix);
	config_free(q.cfg);
	free(q.o.to);
	return rc;
}
