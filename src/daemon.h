/*
 * daemon - `klaxon serve` and `klaxon reload`.
 *
 * DESCRIPTION
 *	daemon_serve() loads the config and signatures, opens the milter
 *	socket, writes the pid file, drops privileges (when started as root
 *	and `user` is set), optionally detaches, and runs libmilter until
 *	SIGTERM, SIGINT or SIGHUP (libmilter's own signal thread takes those and
 *	stops the milter). Two threads of klaxon's own run beside it:
 *	  - the reload thread waits for SIGUSR1 and swaps in a new snapshot;
 *	    a bad config is logged and the old snapshot stays;
 *	  - the alert thread, every 2 s: hands the summaries of alert windows
 *	    that ended (alertagg.h) to the spool, and submits spooled alerts,
 *	    at once when the milter spools one or a summary was spooled, and
 *	    every alert_retry_interval while any is pending. The aggregator is
 *	    opened after the privilege drop and reopened on reload when its
 *	    settings change; if it cannot be opened every message alerts.
 *	Start-up errors (bad config, no signatures, socket in use) are printed
 *	to stderr with the file and line and the exit status is 1.
 *
 *	daemon_reload() checks the config file, then sends SIGUSR1 to the pid
 *	in its pid_file, after making sure that pid is a klaxon process.
 */
#ifndef KLAXON_DAEMON_H
#define KLAXON_DAEMON_H

#include <stdbool.h>

int daemon_serve(const char *config_path, bool foreground);
int daemon_reload(const char *config_path);

#endif
