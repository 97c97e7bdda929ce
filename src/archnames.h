/*
 * archnames - list the member names inside an archive, with libarchive,
 * for banned-name checks.
 *
 * SYNOPSIS
 *	struct archnames_limits lim = {.max_entries = 1000, .max_depth = 2,
 *				       .max_member_size = 16 << 20};
 *	int n = archnames_list(data, len, &lim, callback, arg, err, errlen);
 *
 * DESCRIPTION
 *	archnames_list() opens data (in memory) with libarchive, with every
 *	format and filter it supports (zip, 7z, rar, tar, cpio, iso, cab, ar,
 *	and gzip, bzip2, xz, lzma, zstd compression), and calls
 *	fn(name, depth, arg) for each member name (UTF-8 as libarchive gives
 *	it; depth 1 for the outer archive's members). A member that is itself
 *	an archive (recognised by content, not by name) and not larger than
 *	max_member_size is read into memory and listed recursively, up to
 *	max_depth. At most max_entries names are reported in all; reaching a
 *	bound stops early and sets *truncated. Data that is not an archive
 *	(libarchive's "raw" format is not enabled, so a plain compressed file
 *	is not an archive here either) returns 0 names and no error. A
 *	corrupt archive stops listing at the damage: the names seen so far are
 *	reported and the function returns them, not an error. Encrypted
 *	members are listed by name (the name is in the clear).
 *	fn returning non-zero stops the listing at once.
 *
 * ERRORS
 *	Returns the number of names reported, or -1 only when out of memory,
 *	with err set.
 *
 * THREAD SAFETY
 *	No shared state. Does not log.
 */
#ifndef KLAXON_ARCHNAMES_H
#define KLAXON_ARCHNAMES_H

#include <stdbool.h>
#include <stddef.h>

struct archnames_limits {
	unsigned max_entries;
	unsigned max_depth;
	size_t max_member_size;
};

typedef int (*archnames_fn)(const char *name, unsigned depth, void *arg);

int archnames_list(const void *data, size_t len, const struct archnames_limits *lim, archnames_fn fn,
		   void *arg, bool *truncated, char *err, size_t errlen);

#endif
