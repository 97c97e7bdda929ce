/*
 * check - `klaxon check`. See check.h.
 */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "check_filter.h"
#include "durable.h"
#include "json.h"
#include "log.h"
#include "origin.h"
#include "pipeline.h"
#include "intake.h"
#include "snapshot.h"

struct check_opts {
	const char *config;
	const char *client_ip;
	const char *client_name;
	const char *helo;
	const char *auth;
	const char *from;
	const char *queue_id;
	const char **rcpts;
	size_t nrcpts;
	bool json;
	const char *rebuilt;           /* --rebuilt FILE: the message as the filter left it */
	const char *file;
	char *from_buf;
};

static void check_usage(FILE *fp)
{
	fprintf(fp, "usage: klaxon check [--config FILE] --client-ip IP [--client-name NAME] [--helo NAME]\n"
		    "                    [--auth USER] [--queue-id ID] --from ADDR --rcpt ADDR [--rcpt ADDR ...]\n"
		    "                    [--json] [--rebuilt OUT] FILE|-\n");
}

/* check_parse - options into struct check_opts; -1 on a usage error */
static int check_parse(int argc, char **argv, struct check_opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"client-ip", required_argument, NULL, 'i'},
		{"client-name", required_argument, NULL, 'n'}, {"helo", required_argument, NULL, 'H'},
		{"auth", required_argument, NULL, 'a'}, {"from", required_argument, NULL, 'f'},
		{"rcpt", required_argument, NULL, 'r'}, {"queue-id", required_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
		{"rebuilt", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0},
	};
	o->rcpts = calloc((size_t)argc, sizeof(*o->rcpts));
	if (o->rcpts == NULL)
		return -1;
	int c;
	while ((c = getopt_long(argc, argv, "c:i:n:H:a:f:r:q:jho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'i': o->client_ip = optarg; break;
		case 'n': o->client_name = optarg; break;
		case 'H': o->helo = optarg; break;
		case 'a': o->auth = optarg; break;
		case 'f': o->from = optarg; break;
		case 'r': o->rcpts[o->nrcpts++] = optarg; break;
		case 'q': o->queue_id = optarg; break;
		case 'j': o->json = true; break;
		case 'o': o->rebuilt = optarg; break;
		case 'h': check_usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind + 1 != argc || o->client_ip == NULL || o->from == NULL || o->nrcpts == 0) {
		fprintf(stderr, "klaxon check: need --client-ip, --from, at least one --rcpt and one FILE\n");
		return -1;
	}
	struct in6_addr probe;
	if (inet_pton(AF_INET, o->client_ip, &probe) != 1 && inet_pton(AF_INET6, o->client_ip, &probe) != 1) {
		fprintf(stderr, "klaxon check: --client-ip %s is not an IPv4 or IPv6 address\n", o->client_ip);
		return -1;
	}
	/* Accept the sender as the MTA shows it, "<a@b>" or "<>", too. */
	size_t flen = strlen(o->from);
	if (flen >= 2 && o->from[0] == '<' && o->from[flen - 1] == '>') {
		o->from_buf = strndup(o->from + 1, flen - 2);
		if (o->from_buf == NULL)
			return -1;
		o->from = o->from_buf;
	}
	o->file = argv[optind];
	return 0;
}

/* check_read - the message into an intake, as the milter would fill it */
static int check_read(const struct check_opts *o, const struct config *cfg, struct intake **in)
{
	char err[512];
	int fd = strcmp(o->file, "-") == 0 ? 0 : open(o->file, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		fprintf(stderr, "klaxon check: open %s: %s\n", o->file, strerror(errno));
		return -1;
	}
	if (durable_mkdir(cfg->spool_dir, 0700, err, sizeof(err)) == -1 ||
	    intake_open(cfg, in, err, sizeof(err)) == -1)
		goto fail;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, sizeof(err), "read %s: %s", o->file, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (intake_append(*in, buf, (size_t)n, err, sizeof(err)) == -1)
			goto fail;
	}
	if (fd != 0)
		close(fd);
	return 0;
fail:
	fprintf(stderr, "klaxon check: %s\n", err);
	if (fd > 0)
		close(fd);
	return -1;
}

/* check_send_alerts - one submission attempt; what fails stays spooled */
static bool check_send_alerts(const struct config *cfg)
{
	struct alert_flush_stats st = {0};
	char err[512];
	if (alert_flush(cfg->alert_spool_dir, cfg->sendmail_argv, cfg->sendmail_timeout, &st, err,
			sizeof(err)) == -1) {
		log_warn("alerts: %u pending in %s (the daemon retries them): %s", st.pending,
			 cfg->alert_spool_dir, err);
		return false;
	}
	return true;
}

/* check_print_flags - anomaly flags as a JSON array of their names */
static void check_print_flags(unsigned flags)
{
	fputc('[', stdout);
	const char *sep = "";
	for (unsigned bit = 0; bit < MIME_FLAG_COUNT; bit++) {
		if (!(flags & (1u << bit)))
			continue;
		fputs(sep, stdout);
		json_string(stdout, mime_flag_name((enum mime_flag)(1u << bit)));
		sep = ", ";
	}
	fputc(']', stdout);
}

/* check_print_parts - the part tree of the default reading */
static void check_print_parts(const struct inspect_result *i)
{
	fputc('[', stdout);
	for (size_t k = 0; k < i->nparts; k++) {
		const struct inspect_part *p = &i->parts[k];
		printf("%s{\"path\": ", k ? ", " : "");
		json_string(stdout, p->path);
		printf(", \"type\": ");
		json_string(stdout, p->content_type);
		printf(", \"filename\": ");
		json_string(stdout, p->filename[0] ? p->filename : NULL);
		printf(", \"size\": %llu, \"sha256\": ", p->size);
		json_string(stdout, p->sha256[0] ? p->sha256 : NULL);
		printf(", \"verdict\": ");
		json_string(stdout, p->verdict);
		printf(", \"detail\": ");
		json_string(stdout, p->detail && p->detail[0] ? p->detail : NULL);
		printf(", \"cached\": %s, \"flags\": ", p->cached ? "true" : "false");
		check_print_flags(p->flags);
		fputc('}', stdout);
	}
	fputc(']', stdout);
}

static void check_print_json(const struct envelope *env, const struct pipeline_result *r,
			     unsigned long long size, bool alert_sent, const char *stage)
{
	char reply[600];
	snprintf(reply, sizeof(reply), "%s %s %s", r->rcode, r->xcode, r->text);
	printf("{\"action\": ");
	json_string(stdout, policy_action_name(r->action));
	printf(", \"smtp_reply\": ");
	json_string(stdout, r->rcode[0] ? reply : NULL);
	printf(", \"origin\": ");
	json_string(stdout, origin_name(env->origin));
	printf(", \"verdict\": ");
	json_string(stdout, policy_verdict_name(r->verdict));
	printf(", \"viruses\": ");
	json_string_array(stdout, (const char *const *)r->insp.scan.viruses, r->insp.scan.nviruses);
	printf(", \"quarantine_id\": ");
	json_string(stdout, r->quarantine_id[0] ? r->quarantine_id : NULL);
	printf(", \"alert_id\": ");
	json_string(stdout, r->alert_id[0] ? r->alert_id : NULL);
	printf(", \"alert_sent\": %s", r->alert_id[0] && alert_sent ? "true" : "false");
	printf(", \"reason\": ");
	json_string(stdout, r->detail[0] ? r->detail : NULL);
	printf(", \"header\": ");
	json_string(stdout, r->add_scanned_header ? r->scanned_value : NULL);
	const struct inspect_result *i = &r->insp;
	printf(", \"banned\": ");
	json_string(stdout, i->banned ? i->banned_reason : NULL);
	printf(", \"limit\": ");
	json_string(stdout, i->limit != MIME_LIMIT_NONE ? i->limit_detail : NULL);
	printf(", \"flags\": ");
	check_print_flags(i->flags);
	printf(", \"readings\": %u, \"whole_message_scanned\": %s, \"scans\": %llu", i->readings,
	       i->whole_scanned ? "true" : "false", i->scans);
	printf(", \"cache\": {\"hits\": %llu, \"lookups\": %llu}", i->cache_hits, i->cache_lookups);
	printf(", \"parts\": ");
	check_print_parts(i);
	check_filter_json(stdout, r, stage);
	printf(", \"size\": %llu, \"elapsed_ms\": %ld}\n", size, r->elapsed_ms);
}

static void check_print_text(const struct envelope *env, const struct pipeline_result *r, bool alert_sent,
			     const char *stage)
{
	printf("action:        %s\n", policy_action_name(r->action));
	if (r->rcode[0])
		printf("smtp reply:    %s %s %s\n", r->rcode, r->xcode, r->text);
	printf("origin:        %s\n", origin_name(env->origin));
	printf("verdict:       %s\n", policy_verdict_name(r->verdict));
	for (size_t i = 0; i < r->insp.scan.nviruses; i++)
		printf("virus:         %s\n", r->insp.scan.viruses[i]);
	if (r->quarantine_id[0])
		printf("quarantine id: %s\n", r->quarantine_id);
	if (r->alert_id[0])
		printf("alert:         %s (%s)\n", r->alert_id, alert_sent ? "sent" : "spooled for retry");
	if (r->insp.banned)
		printf("banned:        %s\n", r->insp.banned_reason);
	if (r->insp.limit != MIME_LIMIT_NONE)
		printf("limit:         %s\n", r->insp.limit_detail);
	if (r->anomalies[0])
		printf("anomalies:     %s\n", r->anomalies);
	if (r->detail[0])
		printf("reason:        %s\n", r->detail);
	for (size_t k = 0; k < r->insp.nparts; k++) {
		const struct inspect_part *p = &r->insp.parts[k];
		printf("part %-8s  %-28s %-10s %8llu  %s%s%s%s\n", p->path, p->content_type, p->verdict, p->size,
		       p->filename[0] ? p->filename : "", p->detail[0] ? "  (" : "", p->detail,
		       p->detail[0] ? ")" : "");
	}
	check_filter_text(stdout, r, stage);
}

int check_main(int argc, char **argv)
{
	struct check_opts o = {0};
	if (check_parse(argc, argv, &o) == -1) {
		check_usage(stderr);
		free(o.rcpts);
		free(o.from_buf);
		return 2;
	}
	log_open("klaxon", true);
	signal(SIGPIPE, SIG_IGN);
	char err[1024];
	struct snapshot *snap;
	if (scan_global_init(err, sizeof(err)) == -1 || snapshot_build(o.config, &snap, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon check: %s\n", err);
		free(o.rcpts);
		free(o.from_buf);
		return 1;
	}
	if (snap->builtin_sigs)
		log_warn("using the built-in test signatures (no database in /var/lib/clamav)");
	struct intake *in = NULL;
	int status = 1;
	if (check_read(&o, snap->cfg, &in) == 0) {
		unsigned long long size = spool_size(intake_spool(in));
		struct envelope env = {
			.client_addr = o.client_ip, .client_name = o.client_name, .helo = o.helo,
			.auth_user = o.auth, .sender = o.from, .rcpts = o.rcpts, .nrcpts = o.nrcpts,
			.queue_id = o.queue_id,
			.origin = origin_decide(snap->cfg, o.client_ip, o.auth),
		};
		struct pipeline_result r;
		struct pipeline_early early = {0};
		char stage[32];
		if (!check_filter_early(snap, &env, &early, &r, stage, sizeof(stage)))
			pipeline_run(snap, &env, in, &early, &r);
		pipeline_log(&env, size, &r);
		bool sent = r.alert_id[0] || r.notices_sent ? check_send_alerts(snap->cfg) : false;
		if (o.json)
			check_print_json(&env, &r, size, sent, stage);
		else
			check_print_text(&env, &r, sent, stage);
		status = o.rebuilt && check_filter_write(o.rebuilt, &r, in) == -1 ? 1 : 0;
		pipeline_result_clear(&r);
	}
	intake_close(in);
	snapshot_discard(snap);
	free(o.rcpts);
	free(o.from_buf);
	return status;
}
