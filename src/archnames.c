/*
 * archnames - list the member names inside an archive. See archnames.h
 * for the contract.
 *
 * What libarchive is asked to read. archive_read_support_format_all() in
 * libarchive 3.6 enables ar, cpio, empty, lha, mtree, tar, xar, warc,
 * 7zip, cab, rar, rar5, iso9660 and zip (not raw). Three of those would
 * make ordinary data look like an archive, so formats are enabled one by
 * one instead, without:
 *  - "empty", which takes zero bytes for an archive with no members;
 *  - "mtree", a text format whose bidder also accepts plain text that
 *    merely looks like "name keyword=value" lines (a gzipped "hello" is
 *    an mtree archive whose first header fails after naming "hello");
 *  - "warc", a web crawl format whose "names" are URLs.
 * Filters likewise: archive_read_support_filter_all() adds lrzip, lzop and
 * grzip, which (here, without liblzo2) run an external program, and every
 * other filter falls back to one when its library is not built in. A
 * milter thread must not fork and exec on hostile data, so only gzip,
 * bzip2, xz, lzma, lzip, zstd and lz4 are enabled, each only if
 * libarchive reports its library, plus compress, uu and rpm (built in).
 *
 * Recognising an archive: data is an archive when archive_read_open_memory()
 * succeeds (a format's bidder claimed it) and archive_read_next_header()
 * succeeds. Anything else gives no names and no error.
 *
 * Members. Only regular files that are not encrypted are read. A member is
 * first read up to ARCHNAMES_PROBE_SIZE bytes, and that prefix is offered
 * to the bidders; only if one claims it and the first header is not an
 * immediate end of archive (a block of zeros is an empty tar; on a prefix,
 * a header may fail just because the rest is missing) is the rest read, up
 * to max_member_size, and listed one level deeper. So each member of an
 * ordinary archive costs one small read, and a nested archive recognisable
 * only from its end (a zip with something prepended) is not descended into.
 *
 * Bounds, each of which sets *truncated when it keeps us from looking:
 *  - max_entries: reaching it stops the whole listing (exactly
 *    max_entries names is not a truncation);
 *  - max_depth (capped at ARCHNAMES_DEPTH_CAP): a claimed member at the
 *    deepest level is not listed; max_depth 0 lists nothing at all;
 *  - max_member_size: a claimed member whose header declares more is not
 *    read past the probe; one whose size is unknown or a lie (libarchive
 *    inflates a zip member past its declared size) is read until it passes
 *    the bound, then dropped. So a bomb costs at most max_member_size + 1
 *    bytes of memory and inflation per member;
 *  - a budget of ARCHNAMES_BUDGET_FACTOR * max_member_size bytes of member
 *    data read in all (probes included) bounds the work of many nested
 *    members; once spent, members are no longer read, but names are still
 *    listed.
 * Peak memory is about max_depth * max_member_size plus one libarchive
 * reader per level. Not bounded here: the work libarchive does itself to
 * skip over a member of a compressed tar (it must inflate it), which is
 * limited only by the size of the input and the compression ratio.
 *
 * Damage: next_header returning ARCHIVE_FAILED or ARCHIVE_FATAL ends the
 * listing of that archive, without reporting the half-read name (libarchive
 * may have set a garbage name before failing), and without an error; the
 * outer levels carry on. ARCHIVE_WARN still reports the entry. Member data
 * that breaks off (corrupt, truncated, an unsupported method) is listed as
 * far as it goes, like a damaged archive at the top. Note that libarchive's
 * gzip reader fails on a cut stream without handing over the block it was
 * filling (64 KiB of output), so a cut .tar.gz loses the members in that
 * block: all of them when the whole tar is smaller.
 *
 * Names: archive_entry_pathname_utf8(), else archive_entry_pathname() (raw
 * bytes, possibly not UTF-8). libarchive converts names to the charset of
 * the current locale, and in the "C" locale a daemon runs in, every name
 * that is not ASCII fails to convert and comes back NULL: "résumé.exe" in
 * a zip would vanish. So the listing runs under a C.UTF-8 LC_CTYPE set
 * with uselocale(), which affects only the calling thread, and is undone
 * before returning. If that locale cannot be made, the listing runs in the
 * current locale. An entry whose name still cannot be had is not reported
 * but sets *truncated, since a name went unseen.
 */
#include "archnames.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a member offered to the bidders before deciding to read it all. */
#define ARCHNAMES_PROBE_SIZE (64u * 1024u)
/* A hard cap on max_depth, whatever the caller asks: each level holds a reader. */
#define ARCHNAMES_DEPTH_CAP 32u
/* Total member data read in one call, as a multiple of max_member_size. */
#define ARCHNAMES_BUDGET_FACTOR 8u
/* Consecutive ARCHIVE_RETRY answers tolerated before giving up on an archive. */
#define ARCHNAMES_MAX_RETRY 8

/* State of one archnames_list() call, shared by every level. */
struct archnames_run {
	unsigned max_entries;
	unsigned max_depth;
	size_t max_member;
	size_t budget;      /* member bytes that may still be read */
	archnames_fn fn;
	void *arg;
	bool *truncated;
	unsigned reported;
	bool stop;          /* the callback or max_entries ended the listing */
	bool oom;
};

/*
 * archnames_new - a reader with the formats and in-process filters above;
 * NULL only when out of memory.
 */
static struct archive *archnames_new(void)
{
	static const struct {
		int (*enable)(struct archive *);
		const char *(*library)(void); /* NULL: built into libarchive */
	} filters[] = {
		{archive_read_support_filter_gzip, archive_zlib_version},
		{archive_read_support_filter_bzip2, archive_bzlib_version},
		{archive_read_support_filter_xz, archive_liblzma_version},
		{archive_read_support_filter_lzma, archive_liblzma_version},
		{archive_read_support_filter_lzip, archive_liblzma_version},
		{archive_read_support_filter_zstd, archive_libzstd_version},
		{archive_read_support_filter_lz4, archive_liblz4_version},
		{archive_read_support_filter_compress, NULL},
		{archive_read_support_filter_uu, NULL},
		{archive_read_support_filter_rpm, NULL},
	};
	static int (*const formats[])(struct archive *) = {
		archive_read_support_format_7zip, archive_read_support_format_ar,
		archive_read_support_format_cab,  archive_read_support_format_cpio,
		archive_read_support_format_iso9660, archive_read_support_format_lha,
		archive_read_support_format_rar,  archive_read_support_format_rar5,
		archive_read_support_format_tar,  archive_read_support_format_xar,
		archive_read_support_format_zip,
	};
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (filters[i].library == NULL || filters[i].library() != NULL)
			(void)filters[i].enable(a);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		(void)formats[i](a);
	return a;
}

/*
 * archnames_claims - whether data, possibly only a member's first bytes, is
 * taken for an archive: a format's bidder claims it and the first header
 * does not say "end of archive" (a block of zeros is an empty tar; on a
 * prefix, a header may fail only because the rest is missing).
 * Returns 1 or 0, or -1 when out of memory.
 */
static int archnames_claims(const void *data, size_t len)
{
	struct archive *a = archnames_new();
	struct archive_entry *e;
	int claimed = 0;

	if (a == NULL)
		return -1;
	if (archive_read_open_memory(a, data, len) == ARCHIVE_OK)
		claimed = archive_read_next_header(a, &e) != ARCHIVE_EOF;
	archive_read_free(a);
	return claimed;
}

/* What archnames_read() ran into. */
enum archnames_got {
	ARCHNAMES_FILLED,  /* read all that was asked for; there may be more */
	ARCHNAMES_END,     /* the member's data ended */
	ARCHNAMES_BROKEN,  /* the data could not be read on; what was read stays */
	ARCHNAMES_STOP,    /* the budget ran out (*truncated set) or out of memory */
};

/*
 * archnames_read - append up to want bytes of the current member's data to
 * *buf (capacity *cap, *used filled), growing it as needed but never past
 * limit bytes.
 */
static enum archnames_got archnames_read(struct archnames_run *run, struct archive *a,
					 unsigned char **buf, size_t *cap, size_t *used,
					 size_t want, size_t limit)
{
	size_t goal = want > limit - *used ? limit : *used + want;

	while (*used < goal) {
		if (run->budget == 0) {
			*run->truncated = true;
			return ARCHNAMES_STOP;
		}
		if (*used == *cap) {
			size_t ncap = *cap ? *cap * 2 : ARCHNAMES_PROBE_SIZE;
			if (ncap > limit || ncap < *cap)
				ncap = limit;
			unsigned char *n = realloc(*buf, ncap);
			if (n == NULL) {
				run->oom = true;
				return ARCHNAMES_STOP;
			}
			*buf = n;
			*cap = ncap;
		}
		size_t chunk = goal - *used;
		if (chunk > *cap - *used)
			chunk = *cap - *used;
		if (chunk > run->budget)
			chunk = run->budget;
		la_ssize_t got = archive_read_data(a, *buf + *used, chunk);
		if (got < 0)
			return ARCHNAMES_BROKEN;
		if (got == 0)
			return ARCHNAMES_END;
		*used += (size_t)got;
		run->budget -= (size_t)got;
	}
	return ARCHNAMES_FILLED;
}

/* archnames_reserve - grow *buf to at least want bytes; false when out of memory */
static bool archnames_reserve(struct archnames_run *run, unsigned char **buf, size_t *cap,
			      size_t want)
{
	if (want <= *cap)
		return true;
	unsigned char *n = realloc(*buf, want);
	if (n == NULL) {
		run->oom = true;
		return false;
	}
	*buf = n;
	*cap = want;
	return true;
}

static void archnames_level(struct archnames_run *run, const void *data, size_t len,
			    unsigned depth);

/*
 * archnames_member - look into the current member (at depth, the level of
 * its name): probe, then read it all and list it if it is an archive. Data
 * that breaks off (a corrupt or truncated member) is listed as far as it
 * goes, like a corrupt archive at the top.
 */
static void archnames_member(struct archnames_run *run, struct archive *a,
			     struct archive_entry *e, unsigned depth)
{
	unsigned char *buf = NULL;
	size_t cap = 0, used = 0;
	/* One byte past the bound tells "exactly max" from "more". */
	size_t limit = run->max_member < SIZE_MAX ? run->max_member + 1 : SIZE_MAX;
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	bool declared_big = size >= 0 && (uint64_t)size > (uint64_t)run->max_member;

	enum archnames_got got =
		archnames_read(run, a, &buf, &cap, &used, ARCHNAMES_PROBE_SIZE, limit);
	if (got == ARCHNAMES_STOP || used == 0)
		goto done;
	int claimed = archnames_claims(buf, used);
	if (claimed <= 0) {
		run->oom = claimed < 0;
		goto done;
	}
	if (declared_big || depth >= run->max_depth) {
		*run->truncated = true;
		goto done;
	}
	if (got == ARCHNAMES_FILLED) {
		/* A declared size is a hint: room for it and the byte that shows the end. */
		if (size >= 0 && !archnames_reserve(run, &buf, &cap, (size_t)size + 1))
			goto done;
		got = archnames_read(run, a, &buf, &cap, &used, limit, limit);
		if (got == ARCHNAMES_STOP)
			goto done;
		if (got == ARCHNAMES_FILLED) { /* filled to limit: bigger than max_member_size */
			*run->truncated = true;
			goto done;
		}
	}
	archnames_level(run, buf, used, depth + 1);
done:
	free(buf);
}

/*
 * archnames_level - report the names of the archive in data[0..len) at
 * depth, and descend into its members. Not an archive: nothing happens.
 */
static void archnames_level(struct archnames_run *run, const void *data, size_t len,
			    unsigned depth)
{
	struct archive *a = archnames_new();
	struct archive_entry *e;
	int retries = 0;

	if (a == NULL) {
		run->oom = true;
		return;
	}
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
		goto done;
	while (!run->stop && !run->oom) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY && ++retries <= ARCHNAMES_MAX_RETRY)
			continue;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			break;
		retries = 0;

		const char *name = archive_entry_pathname_utf8(e);
		if (name == NULL)
			name = archive_entry_pathname(e);
		if (name == NULL) {
			*run->truncated = true;
		} else {
			if (run->reported >= run->max_entries) {
				*run->truncated = true;
				run->stop = true;
				break;
			}
			run->reported++;
			if (run->fn != NULL && run->fn(name, depth, run->arg) != 0) {
				run->stop = true;
				break;
			}
		}
		mode_t type = archive_entry_filetype(e);
		if ((type == AE_IFREG || type == 0) && !archive_entry_is_encrypted(e))
			archnames_member(run, a, e, depth);
	}
done:
	archive_read_free(a);
}

int archnames_list(const void *data, size_t len, const struct archnames_limits *lim, archnames_fn fn,
		   void *arg, bool *truncated, char *err, size_t errlen)
{
	static const struct archnames_limits defaults = {
		.max_entries = 1000, .max_depth = 2, .max_member_size = 16u << 20};
	bool dummy = false;
	struct archnames_run run = {0};

	if (lim == NULL)
		lim = &defaults;
	if (truncated == NULL)
		truncated = &dummy;
	*truncated = false;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	/* The count is returned as an int. */
	run.max_entries = lim->max_entries < INT_MAX ? lim->max_entries : INT_MAX;
	run.max_depth = lim->max_depth < ARCHNAMES_DEPTH_CAP ? lim->max_depth : ARCHNAMES_DEPTH_CAP;
	run.max_member = lim->max_member_size;
	run.budget = lim->max_member_size <= SIZE_MAX / ARCHNAMES_BUDGET_FACTOR
			     ? lim->max_member_size * ARCHNAMES_BUDGET_FACTOR
			     : SIZE_MAX;
	run.fn = fn;
	run.arg = arg;
	run.truncated = truncated;

	if (data == NULL || len == 0)
		return 0;
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t saved = utf8 != (locale_t)0 ? uselocale(utf8) : (locale_t)0;
	if (run.max_depth == 0) {
		/* Not even the outer members may be listed. */
		int claimed = archnames_claims(data, len);
		if (claimed > 0)
			*truncated = true;
		run.oom = claimed < 0;
	} else {
		archnames_level(&run, data, len, 1);
	}
	if (utf8 != (locale_t)0) {
		uselocale(saved);
		freelocale(utf8);
	}
	if (run.oom) {
		util_errf(err, errlen, "archive listing: out of memory");
		return -1;
	}
	return (int)run.reported;
}
