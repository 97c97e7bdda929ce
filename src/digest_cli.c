/*
 * digest_cli - `klaxon digest`: one quarantine digest per recipient with
 * something new. See digest.h for the command line and the digest itself.
 *
 *	klaxon digest [--config FILE] [--since T] [--rcpt ADDR] [--send | --stdout]
 *
 *	T is an age ("24h", "7d", "30m", "90s", "2w"), an RFC 3339 time
 *	("2026-11-27T09:00:00Z", "...+01:00") or a date ("2026-11-27", UTC
 *	midnight), as util_time_arg() reads it; the default is 24h. The index
 *	is synced first (qindex.h).
 *	Without --rcpt, every recipient with an item since T gets a digest;
 *	each covers its items from max(T, the end of its last digest) up to
 *	one minute before the run, so that an entry whose write began before
 *	its time was taken but is not yet renamed into place is not skipped:
 *	it falls into the next digest. A recipient with nothing new gets
 *	nothing.
 *
 *	--stdout (the default) writes each digest after a line
 *	"==== digest for <rcpt> ====" and changes no state. Such a line
 *	cannot occur inside a digest: its headers are cleaned and its bodies
 *	are quoted-printable, in which '=' is always written "=3D".
 *
 *	--send submits each digest through sendmail_command (which reads the
 *	recipient from To: "-t", as configured) from digest_from (empty:
 *	alert_from; empty too: klaxon@hostname), and marks the recipient's
 *	digest state only after sendmail_command exited 0, so a failed
 *	submission is repeated by the next run and an item is never skipped.
 *	A recipient address that cannot stand in a To header (digest.h) gets
 *	a warning and no digest; that is not an error of the run.
 *
 *	A summary goes to stderr. Exit status: 0; 1 when the config, the
 *	index or any digest failed (the others are still done); 2 on a usage
 *	error.
 *
 * THREAD SAFETY
 *	A command of its own, single-threaded.
 */
#include "digest.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "qindex.h"
#include "submit.h"
#include "util.h"

#define DIGEST_CLI_GRACE 60            /* seconds: see "one minute before the run" above */
#define DIGEST_CLI_DEFAULT_SINCE "24h"

struct digest_cli_opts {
	const char *config;
	const char *since;
	const char *rcpt;
	bool send;
};

/* What one run shares across recipients. */
struct digest_cli_run {
	const struct config *cfg;
	struct qindex *ix;
	struct digest_opts dopts;      /* since and until set per recipient */
	time_t since, until;
	bool send;
	unsigned done, nothing_new, refused, failed;
};

/* The recipients to visit, collected before any digest is made. */
struct digest_cli_rcpts {
	char **v;
	size_t n, cap;
};

static void digest_cli_usage(FILE *fp)
{
	fprintf(fp, "usage: klaxon digest [--config FILE] [--since 24h|7d|RFC3339] [--rcpt ADDR]\n"
		    "                     [--send | --stdout]\n");
}

/* digest_cli_parse - options into o; -1 on a usage error */
static int digest_cli_parse(int argc, char **argv, struct digest_cli_opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"since", required_argument, NULL, 's'},
		{"rcpt", required_argument, NULL, 'r'}, {"send", no_argument, NULL, 'S'},
		{"stdout", no_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool to_stdout = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->since = optarg; break;
		case 'r': o->rcpt = optarg; break;
		case 'S': o->send = true; break;
		case 'o': to_stdout = true; break;
		case 'h': digest_cli_usage(stdout); exit(0);
		default: return -1;
		}
	}
	return optind == argc && !(o->send && to_stdout) ? 0 : -1;
}

/* digest_cli_put_clean - an untrusted value on stderr, controls shown as '?' */
static void digest_cli_put_clean(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
}

/* digest_cli_rcpt_add - qindex_rcpt_fn: keep a copy of one recipient */
static int digest_cli_rcpt_add(const char *rcpt, void *arg)
{
	struct digest_cli_rcpts *r = arg;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		char **grown = realloc(r->v, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		r->v = grown;
		r->cap = cap;
	}
	if ((r->v[r->n] = strdup(rcpt)) == NULL)
		return -1;
	r->n++;
	return 0;
}

/* digest_cli_rcpts_free - free a recipient list */
static void digest_cli_rcpts_free(struct digest_cli_rcpts *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
}

struct digest_cli_add {
	struct digest *d;
	char *err;
	size_t errlen;
};

/* digest_cli_row - qindex_row_fn: one row into the digest; non-zero stops on failure */
static int digest_cli_row(const struct qindex_row *row, void *arg)
{
	struct digest_cli_add *a = arg;

	return digest_add(a->d, row, a->err, a->errlen) == -1;
}

/* digest_cli_fill - the recipient's items from its start time into d */
static int digest_cli_fill(struct digest_cli_run *run, struct digest *d, const char *rcpt,
			   time_t from, char *err, size_t errlen)
{
	struct qindex_filter f = { .since = from, .until = run->until, .rcpt = rcpt, .class = -1 };
	struct digest_cli_add a = { .d = d, .err = err, .errlen = errlen };

	*err = '\0';
	if (qindex_list(run->ix, &f, digest_cli_row, &a, err, errlen) == -1)
		return -1;
	return *err ? -1 : 0; /* a digest_add() failure stopped the listing */
}

/* digest_cli_deliver - print or submit one composed digest; mark it only once it is sent */
static int digest_cli_deliver(struct digest_cli_run *run, const char *rcpt, const char *msg,
			      size_t len, char *err, size_t errlen)
{
	if (!run->send) {
		printf("==== digest for %s ====\n", rcpt);
		if (fwrite(msg, 1, len, stdout) != len) {
			snprintf(err, errlen, "write to stdout: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (submit_message(run->cfg->sendmail_argv, msg, len, run->cfg->sendmail_timeout, err,
			   errlen) == -1)
		return -1;
	return qindex_digest_mark(run->ix, rcpt, run->until, err, errlen);
}

/* digest_cli_refused - why digest_new() failed: -2 refused address (if it has news), -1 failure */
static int digest_cli_refused(struct digest_cli_run *run, const char *rcpt, time_t from,
			      int why, char *err, size_t errlen)
{
	struct qindex_filter f = { .since = from, .until = run->until, .rcpt = rcpt, .class = -1 };
	unsigned long n = 0;

	if (why != EINVAL) {
		snprintf(err, errlen, "digest_new: %s", strerror(why));
		return -1;
	}
	/* Warn only when a digest was due, not on every run for an old odd address. */
	if (qindex_count(run->ix, &f, &n, err, errlen) == -1)
		return -1;
	snprintf(err, errlen, "%lu item%s held; the address cannot stand in a To header, "
		 "so it gets no digest", n, n == 1 ? "" : "s");
	return n ? -2 : 1;
}

/* digest_cli_one - one recipient: 1 nothing new, 0 done, -1 failed, -2 refused address */
static int digest_cli_one(struct digest_cli_run *run, const char *rcpt, char *err, size_t errlen)
{
	time_t last = 0;

	if (qindex_digest_last(run->ix, rcpt, &last, err, errlen) == -1)
		return -1;
	struct digest_opts o = run->dopts;
	o.since = last > run->since ? last : run->since;
	o.until = run->until;
	if (o.since >= o.until)
		return 1;
	struct digest *d = digest_new(&o, rcpt);
	if (d == NULL)
		return digest_cli_refused(run, rcpt, o.since, errno, err, errlen);
	char *msg = NULL;
	size_t len = 0;
	int rc = digest_cli_fill(run, d, rcpt, o.since, err, errlen);
	if (rc == 0 && digest_items(d) == 0)
		rc = 1;
	else if (rc == 0 && (rc = digest_compose(d, &msg, &len, err, errlen)) == 0)
		rc = digest_cli_deliver(run, rcpt, msg, len, err, errlen);
	free(msg);
	digest_free(d);
	return rc;
}

/* digest_cli_each - every recipient in turn; a failure does not stop the others */
static void digest_cli_each(struct digest_cli_run *run, const struct digest_cli_rcpts *r)
{
	char err[1024];

	for (size_t i = 0; i < r->n; i++) {
		int rc = digest_cli_one(run, r->v[i], err, sizeof(err));
		if (rc == 0) {
			run->done++;
			continue;
		}
		if (rc == 1) {
			run->nothing_new++;
			continue;
		}
		fprintf(stderr, "klaxon digest: %s <", rc == -2 ? "warning:" : "error:");
		digest_cli_put_clean(r->v[i]);
		fprintf(stderr, ">: %s\n", err);
		if (rc == -2)
			run->refused++;
		else
			run->failed++;
	}
}

/* digest_cli_identity - From and the Message-ID host, as the config says */
static void digest_cli_identity(const struct config *cfg, char *host, size_t hostlen, char *from,
				size_t fromlen)
{
	if (cfg->hostname[0] != '\0')
		snprintf(host, hostlen, "%s", cfg->hostname);
	else if (gethostname(host, hostlen - 1) == -1)
		snprintf(host, hostlen, "localhost");
	host[hostlen - 1] = '\0';
	if (cfg->digest_from[0] != '\0')
		snprintf(from, fromlen, "%s", cfg->digest_from);
	else if (cfg->alert_from[0] != '\0')
		snprintf(from, fromlen, "%s", cfg->alert_from);
	else
		snprintf(from, fromlen, "klaxon@%s", host);
}

/* digest_cli_sync - bring the index up to date and say what it holds */
static int digest_cli_sync(struct qindex *ix, char *err, size_t errlen)
{
	struct qindex_sync_stats st = { 0 };

	if (qindex_sync(ix, &st, err, errlen) == -1)
		return -1;
	fprintf(stderr, "klaxon digest: index: %lu entries (%lu added, %lu removed, %lu damaged%s)\n",
		st.total, st.added, st.removed, st.damaged, st.rebuilt ? ", rebuilt" : "");
	return 0;
}

/* digest_cli_targets - --rcpt (lower-cased, as the index keeps addresses) or every recipient */
static int digest_cli_targets(struct digest_cli_run *run, const char *rcpt,
			      struct digest_cli_rcpts *r, char *err, size_t errlen)
{
	if (rcpt == NULL)
		return qindex_recipients(run->ix, run->since, digest_cli_rcpt_add, r, err, errlen);
	if (digest_cli_rcpt_add(rcpt, r) == -1) {
		snprintf(err, errlen, "strdup: %s", strerror(ENOMEM));
		return -1;
	}
	for (char *p = r->v[0]; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return 0;
}

/* digest_cli_run - sync, then one digest per recipient; returns the exit status */
static int digest_cli_run(struct digest_cli_run *run, const char *rcpt)
{
	struct digest_cli_rcpts r = { 0 };
	char err[1024];

	if (qindex_open(run->cfg->quarantine_dir, &run->ix, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon digest: %s\n", err);
		return 1;
	}
	int rc = 1;
	if (digest_cli_sync(run->ix, err, sizeof(err)) == -1 ||
	    digest_cli_targets(run, rcpt, &r, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon digest: %s\n", err);
	} else {
		digest_cli_each(run, &r);
		fprintf(stderr, "klaxon digest: %zu recipient%s: %u digest%s %s, %u with nothing new, "
			"%u refused, %u failed\n", r.n, r.n == 1 ? "" : "s", run->done,
			run->done == 1 ? "" : "s", run->send ? "sent" : "written", run->nothing_new,
			run->refused, run->failed);
		rc = run->failed ? 1 : 0;
	}
	digest_cli_rcpts_free(&r);
	qindex_close(run->ix);
	return rc;
}

/* digest_main - `klaxon digest`; argv[0] is "digest" */
int digest_main(int argc, char **argv)
{
	struct digest_cli_opts o = { .since = DIGEST_CLI_DEFAULT_SINCE };
	time_t now = time(NULL), since;

	if (digest_cli_parse(argc, argv, &o) == -1 || util_time_arg(o.since, now, &since) == -1) {
		digest_cli_usage(stderr);
		return 2;
	}
	struct config *cfg;
	char err[1024], host[256], from[512];
	if (config_load(o.config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon digest: %s\n", err);
		return 1;
	}
	/* submit_message() needs it, and a closed stdout must be an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	digest_cli_identity(cfg, host, sizeof(host), from, sizeof(from));
	struct digest_cli_run run = {
		.cfg = cfg, .since = since, .until = now - DIGEST_CLI_GRACE, .send = o.send,
		.dopts = { .from = from, .hostname = host, .max_rows = cfg->digest_max_rows, .when = now },
	};
	int rc = digest_cli_run(&run, o.rcpt);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "klaxon digest: write to stdout: %s\n", strerror(errno));
		rc = 1;
	}
	config_free(cfg);
	return rc;
}
