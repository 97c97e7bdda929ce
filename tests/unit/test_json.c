/*
 * test_json - unit tests for the JSON string writer (src/json.h is the spec).
 *
 * Output is captured with open_memstream and read back by a strict JSON
 * string parser written here (RFC 8259: no raw control characters, only the
 * defined escapes, strictly valid UTF-8 per RFC 3629, paired surrogates),
 * so each test checks both that the output is valid JSON and that it means
 * the input.
 *
 * The regressions group holds tests written for bugs that are now fixed;
 * test_json_strict_utf8 failed until json_utf8_len checked RFC 3629 ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* tj_utf8_len - length of the strictly valid UTF-8 sequence at s (RFC 3629 table), or 0 */
static size_t tj_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* no overlong 3-byte forms */
	else if (c == 0xed)
		hi = 0x9f; /* no UTF-16 surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* no overlong 4-byte forms */
	else if (c == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* tj_put_utf8 - append code point cp to out */
static void tj_put_utf8(unsigned long cp, char *out, size_t *len)
{
	if (cp < 0x80) {
		out[(*len)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*len)++] = (char)(0xc0 | (cp >> 6));
		out[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*len)++] = (char)(0xe0 | (cp >> 12));
		out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*len)++] = (char)(0xf0 | (cp >> 18));
		out[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*len)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int tj_hex4(const char *p, unsigned long *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v * 16 + (unsigned long)d;
	}
	return 0;
}

/*
 * tj_parse_string - parse one strict JSON string at *pp; its value goes to
 * out (room for strlen(*pp) bytes plus one), NUL-terminated. On success *pp
 * points after the closing quote. Returns NULL or the reason it is invalid.
 */
static const char *tj_parse_string(const char **pp, char *out)
{
	const char *p = *pp;
	size_t len = 0;
	if (*p++ != '"')
		return "does not start with '\"'";
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == '\0')
			return "unterminated string";
		if (c == '"')
			break;
		if (c < 0x20)
			return "raw control character";
		if (c >= 0x80) {
			size_t n = tj_utf8_len((const unsigned char *)p);
			if (n == 0)
				return "invalid UTF-8 in the output";
			memcpy(out + len, p, n);
			len += n;
			p += n;
			continue;
		}
		if (c != '\\') {
			out[len++] = (char)c;
			p++;
			continue;
		}
		p++;
		unsigned long cp;
		switch (*p) {
		case '"': out[len++] = '"'; p++; break;
		case '\\': out[len++] = '\\'; p++; break;
		case '/': out[len++] = '/'; p++; break;
		case 'b': out[len++] = '\b'; p++; break;
		case 'f': out[len++] = '\f'; p++; break;
		case 'n': out[len++] = '\n'; p++; break;
		case 'r': out[len++] = '\r'; p++; break;
		case 't': out[len++] = '\t'; p++; break;
		case 'u':
			if (tj_hex4(p + 1, &cp) != 0)
				return "bad \\u escape";
			p += 5;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return "lone low surrogate";
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned long lo;
				if (p[0] != '\\' || p[1] != 'u' || tj_hex4(p + 2, &lo) != 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return "unpaired high surrogate";
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				return "\\u0000 cannot come from a C string";
			tj_put_utf8(cp, out, &len);
			break;
		default:
			return "unknown escape";
		}
	}
	out[len] = '\0';
	*pp = p + 1;
	return NULL;
}

/* tj_string - json_string(s) into a malloc'ed buffer */
static char *tj_string(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	json_string(fp, s);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(strlen(buf), len); /* no NUL bytes written */
	return buf;
}

/* tj_decode - json_string(s) must be exactly one valid JSON string; returns its value */
static char *tj_decode(const char *s)
{
	char *json = tj_string(s);
	char *value = malloc(strlen(json) * 4 + 1);
	assert_non_null(value);
	const char *p = json;
	const char *why = tj_parse_string(&p, value);
	if (why == NULL && *p != '\0')
		why = "text after the closing quote";
	if (why != NULL)
		fail_msg("json_string(\"%s\") wrote invalid JSON (%s): %s", s, why, json);
	free(json);
	return value;
}

/* test_null - NULL is the JSON null */
static void test_null(void **state)
{
	(void)state;
	char *json = tj_string(NULL);
	assert_string_equal(json, "null");
	free(json);
}

/* test_escapes - quotes, backslash and every control character round-trip */
static void test_escapes(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"",
		"plain text",
		"a\"b",
		"\"",
		"\"\"\"",
		"\\",
		"a\\b\\\\c",
		"\\\"",
		"\\u0041", /* a literal backslash-u, not an escape */
		"line\nbreak\r\n",
		"tab\there",
		"\b\f",
		"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
		"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
		"\x7f",
		"</script><!--",
		"{\"k\": [1, 2]}",
		"%s %n %%",
	};
	for (size_t i = 0; i < NELEM(inputs); i++) {
		char *value = tj_decode(inputs[i]);
		if (strcmp(value, inputs[i]) != 0)
			fail_msg("input %zu decodes to something else", i);
		free(value);
	}
	/* The unambiguous spellings, exactly. */
	static const struct {
		const char *in, *out;
	} exact[] = {
		{"", "\"\""},
		{"abc", "\"abc\""},
		{"a\"b", "\"a\\\"b\""},
		{"a\\b", "\"a\\\\b\""},
		{"/", "\"/\""},
	};
	for (size_t i = 0; i < NELEM(exact); i++) {
		char *json = tj_string(exact[i].in);
		assert_string_equal(json, exact[i].out);
		free(json);
	}
}

/* test_utf8_passthrough - valid UTF-8 is written as it is, not escaped */
static void test_utf8_passthrough(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"\xc2\x80",         /* U+0080, the first 2-byte */
		"caf\xc3\xa9",      /* café */
		"\xdf\xbf",         /* U+07FF */
		"\xe0\xa0\x80",     /* U+0800, the first 3-byte */
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", /* 日本語 */
		"\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
		"\xee\x80\x80",     /* U+E000, just above them */
		"\xef\xbf\xbd",     /* U+FFFD itself */
		"\xef\xbf\xbf",     /* U+FFFF */
		"\xf0\x90\x80\x80", /* U+10000, the first 4-byte */
		"\xf0\x9f\x98\x80", /* 😀 */
		"\xf4\x8f\xbf\xbf", /* U+10FFFF, the last */
		"a\xc3\xa9\"\xe2\x82\xac\\\n\xf0\x9f\x98\x80z",
	};
	for (size_t i = 0; i < NELEM(inputs); i++) {
		char *value = tj_decode(inputs[i]);
		assert_string_equal(value, inputs[i]);
		free(value);
		if (strpbrk(inputs[i], "\"\\\n") == NULL) {
			char *json = tj_string(inputs[i]);
			assert_int_equal(strlen(json), strlen(inputs[i]) + 2);
			assert_memory_equal(json + 1, inputs[i], strlen(inputs[i]));
			free(json);
		}
	}
}

/* tj_show - text with bytes >= 0x80 as \xNN, for messages (a static buffer) */
static const char *tj_show(const char *s)
{
	static char buf[512];
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && n + 5 < sizeof(buf); p++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, *p >= 0x80 ? "\\x%02x" : "%c", *p);
	buf[n] = '\0';
	return buf;
}

/*
 * tj_check_replaced - json_string(in) is valid JSON whose value holds at
 * least one U+FFFD, and is rest once every U+FFFD is removed: the invalid
 * bytes were replaced, the valid ones kept.
 */
static const char *tj_check_replaced(const char *in, const char *rest, char *why, size_t whylen)
{
	char *json = tj_string(in);
	char *value = malloc(strlen(json) * 4 + 1);
	assert_non_null(value);
	const char *p = json;
	const char *bad = tj_parse_string(&p, value);
	if (bad == NULL && *p != '\0')
		bad = "text after the closing quote";
	if (bad != NULL) {
		snprintf(why, whylen, "invalid JSON (%s): %s", bad, tj_show(json));
	} else if (strstr(value, "\xef\xbf\xbd") == NULL) {
		snprintf(why, whylen, "no U+FFFD in %s", tj_show(json));
	} else {
		char *w = value;
		for (char *r = value; *r;) {
			if (strncmp(r, "\xef\xbf\xbd", 3) == 0)
				r += 3;
			else
				*w++ = *r++;
		}
		*w = '\0';
		if (strcmp(value, rest) != 0)
			snprintf(why, whylen, "valid bytes lost or changed: %s", tj_show(json));
		else
			why = NULL;
	}
	free(value);
	free(json);
	return why;
}

/* test_invalid_utf8 - invalid sequences become U+FFFD; the output stays valid */
static void test_invalid_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *in, *rest;
	} rows[] = {
		{"\x80", ""},                  /* a lone continuation byte */
		{"a\x80z", "az"},
		{"\xbf\xbf", ""},
		{"\xc0\xaf", ""},              /* overlong '/' */
		{"\xc1\xbf", ""},              /* overlong DEL */
		{"\xc2", ""},                  /* cut off at the end */
		{"\xc2z", "z"},
		{"\xe2\x82", ""},              /* 3-byte cut off */
		{"\xe2\x82z", "z"},
		{"\xe2z\xac", "z"},
		{"\xf0\x9f\x98", ""},          /* 4-byte cut off */
		{"\xf0\x9f\x98z", "z"},
		{"\xfe", ""},
		{"\xff", ""},
		{"\xfe\xff z", " z"},
		{"caf\xe9", "caf"},            /* Latin-1 é */
		{"ok\xff\xc3\xa9\"", "ok\xc3\xa9\""},
	};
	for (size_t i = 0; i < NELEM(rows); i++) {
		char why[512];
		if (tj_check_replaced(rows[i].in, rows[i].rest, why, sizeof(why)) != NULL)
			fail_msg("row %zu: %s", i, why);
	}
}

/*
 * Regression, fixed (src/json.c, json_utf8_len): the length check accepts lead
 * bytes 0xf5-0xff as 3-byte sequences (the "s[0] >= 0xe0" branch), and does
 * not check the second byte of 0xe0, 0xed, 0xf0 and 0xf4 sequences, so
 * overlong forms, UTF-16 surrogates and code points above U+10FFFF are
 * passed through. The output is then not valid UTF-8, against json.h
 * ("invalid UTF-8 is replaced by U+FFFD so the output is always valid JSON").
 */
static void test_json_strict_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *in, *rest, *what;
	} rows[] = {
		{"\xf5\x80\x80\x80", "", "lead byte 0xf5 (above U+10FFFF)"},
		{"\xf8\x88\x80\x80\x80", "", "5-byte form"},
		{"\xff\x80\x80", "", "0xff with two continuation bytes"},
		{"\xe0\x80\xaf", "", "overlong 3-byte '/'"},
		{"\xed\xa0\x80", "", "UTF-16 high surrogate U+D800"},
		{"\xed\xbf\xbf", "", "UTF-16 low surrogate U+DFFF"},
		{"\xf0\x80\x80\xaf", "", "overlong 4-byte '/'"},
		{"\xf4\x90\x80\x80", "", "U+110000"},
	};
	int bad = 0;
	for (size_t i = 0; i < NELEM(rows); i++) {
		char why[512];
		if (tj_check_replaced(rows[i].in, rows[i].rest, why, sizeof(why)) != NULL) {
			print_message("  %s: %s\n", rows[i].what, why);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* tj_skip_ws - JSON white space */
static const char *tj_skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* tj_check_array - json_string_array(v, n) is a JSON array of exactly these values */
static void tj_check_array(const char *const *v, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	json_string_array(fp, v, n);
	assert_int_equal(fclose(fp), 0);

	char *value = malloc(len * 4 + 1);
	assert_non_null(value);
	const char *p = tj_skip_ws(buf);
	if (*p++ != '[')
		fail_msg("not an array: %s", buf);
	p = tj_skip_ws(p);
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			if (*p++ != ',')
				fail_msg("no ',' before element %zu: %s", i, buf);
			p = tj_skip_ws(p);
		}
		if (v[i] == NULL) {
			if (strncmp(p, "null", 4) != 0)
				fail_msg("element %zu is not null: %s", i, buf);
			p += 4;
		} else {
			const char *why = tj_parse_string(&p, value);
			if (why != NULL)
				fail_msg("element %zu: %s: %s", i, why, buf);
			if (strcmp(value, v[i]) != 0)
				fail_msg("element %zu is \"%s\", want \"%s\"", i, value, v[i]);
		}
		p = tj_skip_ws(p);
	}
	if (*p++ != ']' || *tj_skip_ws(p) != '\0')
		fail_msg("array not closed, or text after it: %s", buf);
	free(value);
	free(buf);
}

/* test_arrays - empty, one, several, with NULL and escapes */
static void test_arrays(void **state)
{
	(void)state;
	static const char *const one[] = {"Eicar-Signature"};
	static const char *const many[] = {"a", NULL, "b\"c", "d\\e\n", "", "caf\xc3\xa9",
					   "Klaxon.Test.EICAR"};
	tj_check_array(NULL, 0);
	tj_check_array(one, 0); /* n counts, not the vector */
	tj_check_array(one, NELEM(one));
	tj_check_array(many, NELEM(many));
	tj_check_array(many, 2);
}

/* test_self_check - the strict parser here refuses what it must (so passing means something) */
static void test_self_check(void **state)
{
	(void)state;
	static const char *const invalid[] = {
		"abc", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\xff\"", "\"\xed\xa0\x80\"", "\"\xe0\x80\xaf\"", "\"\xf4\x90\x80\x80\"", "\"\xc2\"",
	};
	char out[64];
	for (size_t i = 0; i < NELEM(invalid); i++) {
		const char *p = invalid[i];
		if (tj_parse_string(&p, out) == NULL)
			fail_msg("the test parser accepts invalid %zu", i);
	}
	const char *p = "\"a\\u00e9\\ud83d\\ude00\\/\"";
	assert_null(tj_parse_string(&p, out));
	assert_string_equal(out, "a\xc3\xa9\xf0\x9f\x98\x80/");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_check),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8_passthrough),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_arrays),
	};
	const struct CMUnitTest known_bugs[] = {
		cmocka_unit_test(test_json_strict_utf8),
	};
	int failed = cmocka_run_group_tests_name("json", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("json regressions", known_bugs, NULL, NULL);
	return failed;
}
