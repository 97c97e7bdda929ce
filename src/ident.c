/*
 * ident - random hex strings and time-ordered ids. See ident.h.
 */
#include "ident.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* ident_fill - fill buf from getrandom(2), riding out EINTR and short reads */
static int ident_fill(unsigned char *buf, size_t len, char *err, size_t errlen)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(buf + done, len - done, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* ident_hex - nhex random lowercase hex digits plus NUL */
int ident_hex(char *out, size_t nhex, char *err, size_t errlen)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];

	if (nhex > 2 * sizeof(raw)) {
		snprintf(err, errlen, "ident_hex: %zu digits is too many", nhex);
		return -1;
	}
	if (ident_fill(raw, (nhex + 1) / 2, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < nhex; i++)
		out[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[nhex] = '\0';
	return 0;
}

/* ident_format - the common body of ident_new and ident_new_ordered; usec < 0 means none */
static int ident_format(char *out, size_t outlen, time_t when, long usec, char *err,
			size_t errlen)
{
	struct tm tm;
	char hex[17];
	char fine[24] = "";

	if (gmtime_r(&when, &tm) == NULL) {
		snprintf(err, errlen, "gmtime_r: %s", strerror(EOVERFLOW));
		return -1;
	}
	if (ident_hex(hex, 16, err, errlen) == -1)
		return -1;
	if (usec >= 0)
		snprintf(fine, sizeof(fine), "%06ld-", usec);
	int n = snprintf(out, outlen, "%04d%02d%02dT%02d%02d%02dZ-%s%s", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fine, hex);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "ident_new: buffer of %zu bytes is too small", outlen);
		return -1;
	}
	return 0;
}

/* ident_new - "YYYYMMDDTHHMMSSZ-<16 hex>" for when, in UTC */
int ident_new(char *out, size_t outlen, time_t when, char *err, size_t errlen)
{
	return ident_format(out, outlen, when, -1, err, errlen);
}

/* ident_new_ordered - like ident_new for now, with microseconds to order a burst */
int ident_new_ordered(char *out, size_t outlen, char *err, size_t errlen)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) == -1) {
		snprintf(err, errlen, "clock_gettime: %s", strerror(errno));
		return -1;
	}
	return ident_format(out, outlen, now.tv_sec, now.tv_nsec / 1000, err, errlen);
}

/* ident_valid - could s be one of our ids? Keeps '/', '.' and controls out of paths */
bool ident_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '-'))
			return false;
	}
	return n > 0 && n < IDENT_MAX;
}
