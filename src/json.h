/*
 * json - just enough JSON output for `klaxon check --json` and the CLI.
 *
 * DESCRIPTION
 *	json_string() writes a quoted, escaped JSON string (or null for NULL):
 *	'"', '\\' and control characters are escaped, bytes >= 0x80 are passed
 *	through (UTF-8 stays UTF-8; invalid UTF-8 is replaced by U+FFFD so the
 *	output is always valid JSON).
 *
 * THREAD SAFETY
 *	Stateless. Does not log.
 */
#ifndef KLAXON_JSON_H
#define KLAXON_JSON_H

#include <stddef.h>
#include <stdio.h>

void json_string(FILE *fp, const char *s);
void json_string_array(FILE *fp, const char *const *v, size_t n);

#endif
