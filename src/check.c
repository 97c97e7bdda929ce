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
#include "durable.h"
#include "json.h"
#include "log.h"
#include "origin.h"
#include "pipeline.h"
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
	const char *file;
	char *from_buf;
};

static void check_usage(FILE *fp)
{
	fprintf(fp, "usage: klaxon check [--config FILE] --client-ip IP [--client-name NAME] [--helo NAME]\n"
		    "                    [--auth USER] [--queue-id ID] --from ADDR --rcpt ADDR [--rcpt ADDR ...]\n"
		    "                    [--json] FILE|-\n");
}

/* check_parse - options into struct check_opts; -1 on a usage error */
static int check_parse(int argc, char **argv, struct check_opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"client-ip", required_argument, NULL, 'i'},
		{"client-name", required_argument, NULL, 'n'}, {"helo", required_argument, NULL, 'H'},
		{"auth", required_argument, NULL, 'a'}, {"from", required_argument, NULL, 'f'},
		{"rcpt", required_argument, NULL, 'r'}, {"queue-id", required_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	o->rcpts = calloc((size_t)argc, sizeof(*o->rcpts));
	if (o->rcpts == NULL)
		return -1;
	int c;
	while ((c = getopt_long(argc, argv, "c:i:n:H:a:f:r:q:jh", longopts, NULL)) != -1) {
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

/* check_read - the message into a spool, as the milter would fill it */
static int check_read(const struct check_opts *o, const struct config *cfg, struct spool **sp)
{
	char err[512];
	int fd = strcmp(o->file, "-") == 0 ? 0 : open(o->file, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		fprintf(stderr, "klaxon check: open %s: %s\n", o->file, strerror(errno));
		return -1;
	}
	if (durable_mkdir(cfg->spool_dir, 0700, err, sizeof(err)) == -1 ||
	    spool_open(sp, cfg->spool_dir, cfg->memory_spool_limit, cfg->max_message_size, err, sizeof(err)) == -1)
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
		if (spool_append(*sp, buf, (size_t)n, err, sizeof(err)) == -1)
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

static void check_print_json(const struct envelope *env, const struct pipeline_result *r,
			     unsigned long long size, bool alert_sent)
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
	json_string_array(stdout, (const char *const *)r->scan.viruses, r->scan.nviruses);
	printf(", \"quarantine_id\": ");
	json_string(stdout, r->quarantine_id[0] ? r->quarantine_id : NULL);
	printf(", \"alert_id\": ");
	json_string(stdout, r->alert_id[0] ? r->alert_id : NULL);
	printf(", \"alert_sent\": %s", r->alert_id[0] && alert_sent ? "true" : "false");
	printf(", \"reason\": ");
	json_string(stdout, r->detail[0] ? r->detail : NULL);
	printf(", \"header\": ");
	json_string(stdout, r->add_scanned_header ? r->scanned_value : NULL);
	printf(", \"size\": %llu, \"elapsed_ms\": %ld}\n", size, r->elapsed_ms);
}

static void check_print_text(const struct envelope *env, const struct pipeline_result *r, bool alert_sent)
{
	printf("action:        %s\n", policy_action_name(r->action));
	if (r->rcode[0])
		printf("smtp reply:    %s %s %s\n", r->rcode, r->xcode, r->text);
	printf("origin:        %s\n", origin_name(env->origin));
	printf("verdict:       %s\n", policy_verdict_name(r->verdict));
	for (size_t i = 0; i < r->scan.nviruses; i++)
		printf("virus:         %s\n", r->scan.viruses[i]);
	if (r->quarantine_id[0])
		printf("quarantine id: %s\n", r->quarantine_id);
	if (r->alert_id[0])
		printf("alert:         %s (%s)\n", r->alert_id, alert_sent ? "sent" : "spooled for retry");
	if (r->detail[0])
		printf("reason:        %s\n", r->detail);
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
	struct spool *spool = NULL;
	int status = 1;
	if (check_read(&o, snap->cfg, &spool) == 0) {
		struct envelope env = {
			.client_addr = o.client_ip, .client_name = o.client_name, .helo = o.helo,
			.auth_user = o.auth, .sender = o.from, .rcpts = o.rcpts, .nrcpts = o.nrcpts,
			.queue_id = o.queue_id,
			.origin = origin_decide(snap->cfg, o.client_ip, o.auth),
		};
		struct pipeline_result r;
		pipeline_run(snap, &env, spool, &r);
		pipeline_log(&env, spool_size(spool), &r);
		bool sent = r.alert_id[0] ? check_send_alerts(snap->cfg) : false;
		if (o.json)
			check_print_json(&env, &r, spool_size(spool), sent);
		else
			check_print_text(&env, &r, sent);
		pipeline_result_clear(&r);
		status = 0;
	}
	spool_close(spool);
	snapshot_discard(snap);
	free(o.rcpts);
	free(o.from_buf);
	return status;
}
