/*
 * json - JSON string output. See json.h.
 */
#include "json.h"

#include "text.h"

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
			size_t n = text_utf8_len(p, TEXT_TO_NUL);
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
