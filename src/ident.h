/*
 * ident - random hex strings and time-ordered ids for file and header use.
 *
 * SYNOPSIS
 *	char hex[17];
 *	ident_hex(hex, 16, err, errlen);
 *	char id[IDENT_MAX];
 *	ident_new(id, sizeof id, when, err, errlen);
 *
 * DESCRIPTION
 *	ident_hex() writes nhex lowercase hex digits from getrandom(2) and a
 *	NUL into out, which must hold nhex + 1 bytes.
 *
 *	ident_new() writes "YYYYMMDDTHHMMSSZ-<16 hex>" for when (UTC). The
 *	time prefix makes ids sort oldest first; the random part makes them
 *	unique without any shared counter. The result contains only
 *	[0-9A-Za-z-], so it is safe as a file name, in a mail header and in a
 *	Message-ID.
 *
 *	ident_new_ordered() writes "YYYYMMDDTHHMMSSZ-uuuuuu-<16 hex>" for now,
 *	where uuuuuu are the microseconds, so that ids made within the same
 *	second (two alerts in a burst) still sort in the order they were made.
 *
 *	ident_valid() says whether s could be an id made here (charset and
 *	length only), so that an id from outside cannot name another path.
 *
 * ERRORS
 *	0 on success, -1 with err naming the failed call.
 *
 * THREAD SAFETY
 *	Safe from any thread. Does not log.
 */
#ifndef KLAXON_IDENT_H
#define KLAXON_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define IDENT_MAX 48

int ident_hex(char *out, size_t nhex, char *err, size_t errlen);
int ident_new(char *out, size_t outlen, time_t when, char *err, size_t errlen);
int ident_new_ordered(char *out, size_t outlen, char *err, size_t errlen);
bool ident_valid(const char *s);

#endif
