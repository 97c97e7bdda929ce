/*
 * util - two small helpers several parsers share.
 *
 * DESCRIPTION
 *	util_errf() formats an error message into err, tolerating a NULL or
 *	zero-length buffer (callers that do not want the text pass NULL).
 *	util_is_list_sep() is the separator of klaxon's lists (networks,
 *	extensions): comma or white space, as an explicit set so that the
 *	locale cannot widen it.
 *
 * THREAD SAFETY
 *	Stateless. Does not log.
 */
#ifndef KLAXON_UTIL_H
#define KLAXON_UTIL_H

#include <stdbool.h>
#include <stddef.h>

__attribute__((format(printf, 3, 4))) void util_errf(char *err, size_t errlen, const char *fmt, ...);
bool util_is_list_sep(char c);

#endif
