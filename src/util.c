/*
 * util - shared helpers. See util.h.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UTIL_AGE_MAX (100LL * 365 * 86400) /* an age further back is a typo */

void util_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

bool util_is_list_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* util_time_age - "24h", "7d", "30m", "90s", "2w" back from now; -1 if s is not such an age */
static int util_time_age(const char *s, time_t now, time_t *out)
{
	static const char units[] = "smhdw";
	static const long long mult[] = { 1, 60, 3600, 86400, 7 * 86400 };
	char *end = NULL;

	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || end[0] == '\0' || end[1] != '\0' || strchr(units, end[0]) == NULL)
		return -1;
	long long unit = mult[strchr(units, end[0]) - units];
	if (n > (unsigned long long)(now / unit) || n > (unsigned long long)(UTIL_AGE_MAX / unit))
		return -1;
	*out = now - (time_t)(n * (unsigned long long)unit);
	return 0;
}

/* util_time_rfc3339 - "2026-11-27T09:00:00[.frac](Z|+hh:mm)" or "2026-11-27"; -1 if neither */
static int util_time_rfc3339(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	long off = 0;

	if (p == NULL || strlen(s) < 10)
		return -1;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		if ((p = strptime(p + 1, "%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
		if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
			off = 0;
		} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
			int hh, mm, used = 0;
			if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5 || hh > 23 ||
			    mm > 59)
				return -1;
			off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		} else {
			return -1;
		}
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - off;
	return 0;
}

int util_time_arg(const char *s, time_t now, time_t *out)
{
	/* A leading digit and no '-': an age or nothing; a date always has its '-'. */
	if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL)
		return util_time_age(s, now, out);
	return util_time_rfc3339(s, out);
}
