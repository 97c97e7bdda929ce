/*
 * util - small helpers several parsers share.
 *
 * DESCRIPTION
 *	util_errf() formats an error message into err, tolerating a NULL or
 *	zero-length buffer (callers that do not want the text pass NULL).
 *	util_is_list_sep() is the separator of klaxon's lists (networks,
 *	extensions): comma or white space, as an explicit set so that the
 *	locale cannot widen it.
 *
 *	util_time_arg() reads a time T as the command lines take it
 *	(`klaxon quarantine --since/--until`, `klaxon digest --since`):
 *	  - an age back from now: digits and one unit, s, m, h, d or w
 *	    ("90s", "30m", "24h", "7d", "2w"); an age that reaches back before
 *	    the epoch or more than 100 years is refused;
 *	  - an RFC 3339 time, "2026-11-27T09:00:00Z": 't' or a space may stand
 *	    for 'T', 'z' for 'Z', a fraction of a second is dropped, and the
 *	    offset may be "+hh:mm" or "-hh:mm" instead of Z;
 *	  - a date, "2026-11-27", meaning its midnight UTC.
 *	It stores the time in *out and returns 0, or returns -1 and leaves
 *	*out alone when s is none of these.
 *
 * THREAD SAFETY
 *	Stateless. Does not log.
 */
#ifndef KLAXON_UTIL_H
#define KLAXON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

__attribute__((format(printf, 3, 4))) void util_errf(char *err, size_t errlen, const char *fmt, ...);
bool util_is_list_sep(char c);
int util_time_arg(const char *s, time_t now, time_t *out);

#endif
