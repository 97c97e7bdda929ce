/*
 * log - the one logging helper.
 *
 * SYNOPSIS
 *	log_open(ident, to_stderr);
 *	log_info("queue id %s: accepted", qid);
 *
 * DESCRIPTION
 *	Fixed severities, printf-checked formats. In the foreground (or when
 *	to_stderr is set) records go to stderr with a timestamp; otherwise to
 *	syslog(3) with facility LOG_MAIL. log_fatal() logs and exits(1); it is
 *	for start-up and environment errors only, never the message path.
 *	Library-like modules (scan, quarantine, alert, spool, cidr, config)
 *	never call this: they return an error string and the caller logs.
 *
 * THREAD SAFETY
 *	All functions are safe from any thread once log_open() has returned.
 */
#ifndef KLAXON_LOG_H
#define KLAXON_LOG_H

#include <stdbool.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_open(const char *ident, bool to_stderr);
void log_set_debug(bool on);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void log_fatal(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
