/*
 * text - small text helpers shared by the mail writers: UTF-8 validation,
 * RFC 5322 dates, Message-ID right-hand sides.
 *
 * SYNOPSIS
 *	size_t k = text_utf8_len(s, n);            (s has n bytes)
 *	size_t k = text_utf8_len(s, TEXT_TO_NUL);  (s ends with a NUL)
 *	uint32_t cp;
 *	size_t k = text_utf8_decode(s, n, &cp);
 *	text_put_date(fp, when);
 *	text_put_msgid_host(fp, hostname);
 *
 * DESCRIPTION
 *	text_utf8_len() is the length of the character at s, which has n
 *	bytes: 1 for an ASCII byte (NUL and controls too; what to do with
 *	them is the caller's choice), 2 to 4 for a well-formed UTF-8 sequence
 *	(RFC 3629; Unicode table 3-7), and 0 for anything else: n == 0, a
 *	stray continuation byte, an overlong form, a surrogate, a code point
 *	above U+10FFFF, or a sequence cut short by the end of s. It reads at
 *	most n bytes and never past the first byte that is not a continuation
 *	byte, so a NUL-terminated string may pass TEXT_TO_NUL for n: its NUL
 *	ends any sequence. text_utf8_decode() is the same and also stores the
 *	code point in *cp; it leaves *cp alone when it returns 0.
 *
 *	text_put_date() writes when as an RFC 5322 date in UTC,
 *	"Tue, 03 Nov 2026 09:00:00 +0000", with its own day and month names
 *	so that the locale cannot leak in, and no "Date: " or line end. A time
 *	gmtime_r() cannot convert is written as the epoch.
 *
 *	text_put_msgid_host() writes host as the right-hand side of a
 *	Message-ID: at most TEXT_HOST_MAX bytes, each byte outside
 *	[A-Za-z0-9.-] as '-'; a NULL or empty host as "localhost".
 *
 * ERRORS
 *	The writers leave stream errors to the caller's ferror().
 *
 * THREAD SAFETY
 *	Stateless. Does not log.
 */
#ifndef KLAXON_TEXT_H
#define KLAXON_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define TEXT_TO_NUL SIZE_MAX /* text_utf8_len's n for a NUL-terminated string */
#define TEXT_HOST_MAX 200    /* bytes of a Message-ID right-hand side */

size_t text_utf8_len(const unsigned char *s, size_t n);
size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
void text_put_date(FILE *fp, time_t when);
void text_put_msgid_host(FILE *fp, const char *host);

#endif
