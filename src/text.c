/*
 * text - small text helpers shared by the mail writers. See text.h.
 */
#include "text.h"

#include <stdbool.h>

size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		c = s[0] & 0x1f, len = 2, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		c = s[0] & 0x0f, len = 3, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		c = s[0] & 0x07, len = 4, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	/* In order, stopping at the first non-continuation byte: a NUL ends the read. */
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points above U+10FFFF are not UTF-8. */
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

size_t text_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;

	return text_utf8_decode(s, n, &cp);
}

void text_put_date(FILE *fp, time_t when)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL) {
		time_t zero = 0;
		gmtime_r(&zero, &tm);
	}
	fprintf(fp, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void text_put_msgid_host(FILE *fp, const char *host)
{
	const char *p = host && *host ? host : "localhost";

	for (size_t i = 0; p[i] != '\0' && i < TEXT_HOST_MAX; i++) {
		char c = p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-';
		fputc(ok ? c : '-', fp);
	}
}
