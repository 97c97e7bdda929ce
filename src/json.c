/*
 * json - JSON string output. See json.h.
 */
#include "json.h"

/* json_utf8_len - length of a well-formed UTF-8 sequence at s (RFC 3629), or 0 */
static size_t json_utf8_len(const unsigned char *s)
{
	/* Lead byte: its length and the range its first continuation byte may
	 * take, which rules out overlong forms, surrogates and > U+10FFFF. */
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void json_string(FILE *fp, const char *s)
{
	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p == '"' || *p == '\\') {
			fprintf(fp, "\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, fp);
		} else {
			size_t n = json_utf8_len(p);
			if (n == 0) {
				fputs("\\ufffd", fp);
				p++;
			} else {
				fwrite(p, 1, n, fp);
				p += n;
			}
		}
	}
	fputc('"', fp);
}

void json_string_array(FILE *fp, const char *const *v, size_t n)
{
	fputc('[', fp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", fp);
		json_string(fp, v[i]);
	}
	fputc(']', fp);
}
