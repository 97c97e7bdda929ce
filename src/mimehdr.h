/*
 * mimehdr - MIME header field values: Content-Type and
 * Content-Disposition with their parameters, and RFC 2047 encoded words.
 *
 * SYNOPSIS
 *	struct mimehdr_field f;
 *	mimehdr_parse(value, len, &f);          "multipart/mixed; boundary=x"
 *	f.token                                 "multipart/mixed" (lower case)
 *	mimehdr_param(&f, "boundary")           "x"
 *	mimehdr_field_free(&f);
 *
 *	char *s = mimehdr_decode_words(text, len);  "=?utf-8?B?...?=" -> UTF-8
 *
 * DESCRIPTION
 *	mimehdr_parse() reads an RFC 2045 header field body (the part after
 *	"Name:", unfolded or not: CR, LF and tabs count as white space):
 *	a token (type/subtype, or a disposition type), lower-cased, then
 *	";"-separated parameters. Comments in parentheses are skipped.
 *	Parameter values are tokens or quoted strings (backslash escapes
 *	honoured). Parameter names are lower-cased. RFC 2231 is applied:
 *	name*0, name*1 ... continuations are joined in order; name* and
 *	name*0* values are charset'language'%XX-encoded and are decoded and
 *	converted to UTF-8 with iconv. Plain values that contain RFC 2047
 *	encoded words (a common non-standard practice for filenames) are
 *	decoded too. Every returned value is valid UTF-8 with no control
 *	characters (those, and bytes that do not convert, become U+FFFD or
 *	'?'). Hostile input never fails the parse: what cannot be read is
 *	skipped and reported in f.flags.
 *
 *	A parameter can have more than one reading: a plain value and an RFC
 *	2231 one that differ ("filename=x.exe; filename*=utf-8''x.txt"), or a
 *	duplicate ("filename=a; filename=b", MIMEHDR_DUP_PARAM; some clients
 *	take the first, some the last). mimehdr_param() returns the preferred
 *	reading (RFC 2231 over plain, the first duplicate over the last);
 *	every other distinct reading follows in params[] under the same name,
 *	so a caller that must see what any client sees (banned names) walks
 *	params[] for all entries with that name.
 *
 *	mimehdr_decode_words() decodes RFC 2047 encoded words ("=?charset?
 *	B|Q?text?=", upper or lower case) in unstructured text, dropping the
 *	white space between adjacent encoded words, converting each to UTF-8
 *	with iconv (unknown charsets: bytes >= 0x80 become U+FFFD), and
 *	returns a malloc'd UTF-8 string without control characters.
 *
 *	Bounds: a field body longer than MIMEHDR_MAX_FIELD is cut there; at
 *	most MIMEHDR_MAX_PARAMS parameters are kept; RFC 2231 sections above
 *	MIMEHDR_MAX_SECTIONS are dropped. Each bound sets a flag.
 *
 * OWNERSHIP
 *	The field owns its strings; mimehdr_field_free() frees them. The
 *	string from mimehdr_decode_words() is the caller's to free.
 *
 * ERRORS
 *	mimehdr_parse returns 0, or -1 only when out of memory (then the
 *	field is empty and safe to free). mimehdr_decode_words returns NULL
 *	only when out of memory.
 *
 * THREAD SAFETY
 *	No shared state (iconv descriptors are opened per call). Does not log.
 */
#ifndef KLAXON_MIMEHDR_H
#define KLAXON_MIMEHDR_H

#include <stddef.h>

#define MIMEHDR_MAX_FIELD 65536
#define MIMEHDR_MAX_PARAMS 64
#define MIMEHDR_MAX_SECTIONS 64

enum mimehdr_flag {
	MIMEHDR_SYNTAX = 1u << 0,      /* something unreadable was skipped */
	MIMEHDR_DUP_PARAM = 1u << 1,   /* a parameter given twice */
	MIMEHDR_BAD_2231 = 1u << 2,    /* a broken RFC 2231 value or section order */
	MIMEHDR_BAD_CHARSET = 1u << 3, /* an unknown charset or bytes that did not convert */
	MIMEHDR_TRUNCATED = 1u << 4,   /* a bound was reached */
};

struct mimehdr_param {
	char *name;                    /* lower case, without "*0*" suffixes */
	char *value;                   /* UTF-8 */
};

struct mimehdr_field {
	char *token;                   /* lower case; "" if absent */
	struct mimehdr_param *params;
	size_t nparams;
	unsigned flags;
};

int mimehdr_parse(const char *value, size_t len, struct mimehdr_field *out);
const char *mimehdr_param(const struct mimehdr_field *f, const char *name);
void mimehdr_field_free(struct mimehdr_field *f);
char *mimehdr_decode_words(const char *text, size_t len);

#endif
