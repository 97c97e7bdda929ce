/*
 * qcli - `klaxon quarantine ...`: list, show, release, delete, expire,
 * reindex and stats over the quarantine store, text by default and
 * --json for scripts.
 *
 * SYNOPSIS
 *	return qcli_main(argc - 1, argv + 1);    argv[0] is "quarantine"
 *
 * DESCRIPTION
 *	klaxon quarantine [--config FILE] list [--since T] [--until T] [--rcpt ADDR]
 *	                                       [--class C] [--virus NAME] [--limit N] [--json]
 *	klaxon quarantine [--config FILE] show ID [--json]
 *	klaxon quarantine [--config FILE] release ID [--to ADDR ...] [--force]
 *	klaxon quarantine [--config FILE] delete ID
 *	klaxon quarantine [--config FILE] expire [--dry-run]
 *	klaxon quarantine [--config FILE] reindex
 *	klaxon quarantine [--config FILE] stats [--since T] [--json]
 *
 *	T is an RFC 3339 time ("2026-11-27T09:00:00Z"), a date, or an age
 *	("24h", "7d", "30m"). Every command syncs the index first (qindex.h).
 *	show prints the envelope, verdicts, the header block and the part tree
 *	(parsed again from the stored raw message). release re-injects the raw
 *	message through sendmail_command (without -t: "-f SENDER -- RCPT...")
 *	to its original recipients or the --to addresses, with the original
 *	envelope sender, after leaving a release token (release.h); a
 *	virus-class entry needs --force. release and delete append one line
 *	to quarantine_dir/audit.log (O_APPEND, fsync): time, command, id,
 *	recipients, who (the login name, SUDO_USER, and uid) and the result.
 *	expire deletes entries past quarantine_retention_<class> days and logs
 *	each one it removed (syslog, and a line on stdout).
 *
 *	Exit status: 0, 1 on an error (a message on stderr), 2 on a usage
 *	error.
 *
 *	qcli.c holds the table, parsing, list, expire, reindex and stats;
 *	qcli_show.c show; qcli_release.c release, delete and the audit log.
 *
 * THREAD SAFETY
 *	A command of its own. Logs expiry and releases.
 */
#ifndef KLAXON_QCLI_H
#define KLAXON_QCLI_H

int qcli_main(int argc, char **argv);

#endif
