/*
 * fuzz_mimehdr - libFuzzer target for mimehdr_parse and mimehdr_decode_words.
 *
 * The input is both a field body and a text of encoded words. Every string
 * that comes back must be valid UTF-8 (no overlongs, surrogates or values
 * above U+10FFFF) without C0, DEL or C1 controls; the token and names must
 * be lower-case token characters; the bounds must hold; a second parse must
 * give the same answer. Everything is freed, so LeakSanitizer sees leaks.
 */
// fuzz-sources: src/mimehdr.c
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimehdr.h"

/* Past the field bound, so truncation is reachable; larger only slows. */
#define FUZZ_MAX_INPUT (MIMEHDR_MAX_FIELD + 1024)
#define FUZZ_ALL_FLAGS                                                                      \
	(MIMEHDR_SYNTAX | MIMEHDR_DUP_PARAM | MIMEHDR_BAD_2231 | MIMEHDR_BAD_CHARSET |       \
	 MIMEHDR_TRUNCATED)

/* fuzz_check - abort with a message, so libFuzzer records the input */
static void fuzz_check(bool ok, const char *what, const char *detail)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mimehdr: %s: %.200s\n", what, detail != NULL ? detail : "");
		abort();
	}
}

/* fuzz_clean - strict UTF-8 without control characters */
static bool fuzz_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		size_t k;
		if (*p < 0x80) {
			cp = *p, k = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f, k = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f, k = 3;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07, k = 4;
		} else {
			return false;
		}
		for (size_t j = 1; j < k; j++) {
			if ((p[j] & 0xc0) != 0x80) /* also stops at the NUL */
				return false;
			cp = (cp << 6) | (p[j] & 0x3f);
		}
		static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 ||
		    (cp >= 0x7f && cp < 0xa0))
			return false;
		p += k;
	}
	return true;
}

/* fuzz_lower_token - lower-case ASCII token characters, plus those in extra */
static bool fuzz_lower_token(const char *s, const char *extra)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || (c >= 'A' && c <= 'Z'))
			return false;
		if (strchr("()<>@,;:\\\"/[]?=", c) != NULL && strchr(extra, c) == NULL)
			return false;
	}
	return true;
}

/* fuzz_field - check one parsed field in full */
static void fuzz_field(const struct mimehdr_field *f)
{
	fuzz_check(f->token != NULL, "NULL token", NULL);
	fuzz_check(fuzz_clean(f->token) && fuzz_lower_token(f->token, "/"), "bad token", f->token);
	fuzz_check(f->nparams <= 4 * MIMEHDR_MAX_PARAMS, "too many params", NULL);
	fuzz_check((f->flags & ~(unsigned)FUZZ_ALL_FLAGS) == 0, "unknown flag", NULL);
	for (size_t i = 0; i < f->nparams; i++) {
		const struct mimehdr_param *p = &f->params[i];
		fuzz_check(p->name != NULL && p->value != NULL, "NULL param", NULL);
		fuzz_check(p->name[0] != '\0' && fuzz_lower_token(p->name, ""), "bad name", p->name);
		fuzz_check(fuzz_clean(p->value), "bad value", p->value);
		fuzz_check(mimehdr_param(f, p->name) != NULL, "lookup misses", p->name);
		/* Readings of one name are adjacent and distinct (mimehdr.h). */
		for (size_t j = 0; j + 1 < i; j++)
			fuzz_check(strcmp(f->params[j].name, p->name) != 0 ||
					   strcmp(f->params[j + 1].name, p->name) == 0,
				   "readings of a name not adjacent", p->name);
		for (size_t j = 0; j < i; j++)
			fuzz_check(strcmp(f->params[j].name, p->name) != 0 ||
					   strcmp(f->params[j].value, p->value) != 0,
				   "a reading twice", p->value);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* An exact-size copy, so ASan catches any read past len. */
	char *in = malloc(size > 0 ? size : 1);
	fuzz_check(in != NULL, "malloc", NULL);
	memcpy(in, data, size);

	struct mimehdr_field f, g;
	fuzz_check(mimehdr_parse(in, size, &f) == 0, "parse failed", NULL);
	fuzz_field(&f);
	fuzz_check(mimehdr_parse(in, size, &g) == 0, "second parse failed", NULL);
	fuzz_check(strcmp(f.token, g.token) == 0 && f.nparams == g.nparams && f.flags == g.flags,
		   "second parse differs", f.token);
	for (size_t i = 0; i < f.nparams; i++)
		fuzz_check(strcmp(f.params[i].value, g.params[i].value) == 0,
			   "second parse differs", f.params[i].name);
	mimehdr_field_free(&g);
	mimehdr_field_free(&f);
	fuzz_check(f.token == NULL && f.params == NULL && f.nparams == 0, "free left data", NULL);

	char *s = mimehdr_decode_words(in, size);
	fuzz_check(s != NULL, "decode_words failed", NULL);
	fuzz_check(fuzz_clean(s), "bad decoded text", s);
	free(s);
	free(in);
	return 0;
}
