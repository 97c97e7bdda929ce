/*
 * log - the one logging helper. See log.h for the contract.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

/* Set once at start-up, before any thread exists; read-only afterwards. */
static bool log_to_stderr = true;
static bool log_debug_on = false;
static const char *log_ident = "klaxon";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_open(const char *ident, bool to_stderr)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_debug(bool on)
{
	log_debug_on = on;
}

/* log_emit - format one record to the chosen sink */
static void log_emit(int prio, const char *tag, const char *fmt, va_list ap)
{
	if (!log_to_stderr) {
		vsyslog(prio, fmt, ap);
		return;
	}
	char stamp[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One lock so concurrent records never interleave on stderr. */
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ld %s: %s: ", stamp, now.tv_nsec / 1000000, log_ident, tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

#define LOG_BODY(prio, tag)                      \
	do {                                     \
		va_list ap;                      \
		va_start(ap, fmt);               \
		log_emit((prio), (tag), fmt, ap); \
		va_end(ap);                      \
	} while (0)

void log_debug(const char *fmt, ...)
{
	if (log_debug_on)
		LOG_BODY(LOG_DEBUG, "debug");
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, "info");
}

void log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning");
}

void log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, "error");
}

void log_fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal");
	exit(1);
}
