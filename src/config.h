/*
 * config - klaxon's configuration: one table drives parsing, validation,
 * `klaxon config --dump` and the reference in README.md.
 *
 * SYNOPSIS
 *	struct config *cfg;
 *	config_load(path, &cfg, err, errlen);   path NULL: embedded defaults only
 *	config_dump(cfg, stdout);
 *	config_free(cfg);
 *
 * DESCRIPTION
 *	The file is `key = value` lines; '#' starts a comment at the start of
 *	a line or after white space; blank lines are ignored; a value may be
 *	wrapped in double quotes to keep leading or trailing spaces or a '#'.
 *	Keys not set take the default from the table. An unknown key, a key set
 *	twice, a bad value, a missing or unreadable file all fail, with err
 *	naming the file and line: "/etc/klaxon.conf:12: unknown key 'foo'".
 *	After parsing, cross-field rules are checked (for example a reply text
 *	whose code does not match its action) and reported with the line that
 *	set the offending key.
 *
 *	A loaded config is immutable. Derived values (parsed CIDR list, argv
 *	split from sendmail_command, the resolved ClamAV database directory)
 *	are computed once at load.
 *
 * OWNERSHIP
 *	config_load() allocates; config_free() releases everything.
 *
 * THREAD SAFETY
 *	A loaded config may be read from any thread. Does not log.
 */
#ifndef KLAXON_CONFIG_H
#define KLAXON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "policy.h"
#include "scan.h"

struct banned_list;
struct cidr_list;

struct config {
	char *path;                    /* file it came from, or "(defaults)" */

	/* milter */
	char *milter_socket;
	unsigned milter_socket_mode;
	unsigned milter_timeout;
	char *pid_file;
	char *user;
	char *hostname;
	bool debug;

	/* scanning */
	enum scan_backend scanner;
	char *clamav_db;               /* as written: a directory or "auto" */
	char *clamd_socket;
	unsigned scan_timeout;         /* seconds */
	unsigned max_concurrent_scans;
	unsigned scan_wait_timeout;    /* seconds */
	unsigned long long max_message_size;
	unsigned long long memory_spool_limit;
	char *spool_dir;

	/* origin */
	char *internal_networks;
	struct cidr_list *internal;    /* parsed internal_networks */
	bool trust_authenticated;

	/* policy */
	struct policy_table policy;
	char *scanned_header;          /* empty: no header */

	/* MIME engine */
	unsigned mime_max_depth;
	unsigned mime_max_parts;
	unsigned long long mime_max_header_length;
	unsigned long long mime_max_line_length;
	unsigned long long mime_max_decoded_size;
	char *reply_mime_limit;
	char *banned_extensions;
	struct banned_list *banned;    /* parsed banned_extensions */
	bool quarantine_banned;
	char *reply_banned;
	unsigned banned_archive_depth;
	unsigned banned_archive_entries;
	char *anomalies_refuse;
	unsigned anomalies_refuse_mask; /* parsed anomalies_refuse: enum mime_flag bits */
	char *reply_anomaly;
	char *anomaly_header;
	unsigned verdict_cache_size;
	unsigned verdict_cache_ttl;
	bool always_scan_whole_message;

	/* Lua policy filter */
	char *filter;                  /* path, "" for the built-in policy */
	unsigned filter_instruction_budget;
	unsigned filter_time_limit;    /* seconds per callback */
	unsigned long long filter_memory_limit;
	unsigned filter_pool_size;

	/* quarantine and alerts */
	char *quarantine_dir;
	unsigned quarantine_retention[5]; /* days per enum quarantine_class, 0: for ever */
	unsigned release_window;          /* seconds */
	char *digest_from;
	unsigned digest_max_rows;
	unsigned alert_window;            /* seconds */
	unsigned alert_max_per_hour;
	char *alert_spool_dir;
	char *alert_to;
	char **alert_to_list;          /* split alert_to, NULL-terminated */
	size_t alert_to_count;
	char *alert_from;
	unsigned alert_retry_interval;
	char *sendmail_command;
	char **sendmail_argv;          /* split sendmail_command, NULL-terminated */
	unsigned sendmail_timeout;

	/* reply texts: "CODE X.Y.Z text", %v viruses, %r reason, %l limit */
	char *reply_virus;
	char *reply_tempfail;
	char *reply_oversize;
};

int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_dump(const struct config *cfg, FILE *fp);
void config_reference(FILE *fp);   /* markdown table of every key, for README */
void config_free(struct config *cfg);

#endif
