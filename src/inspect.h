/*
 * inspect - the MIME-aware scan of one message: every decoded part, every
 * plausible reading, banned names, limits and anomalies, one verdict.
 *
 * SYNOPSIS
 *	struct inspect_result r;
 *	inspect_message(snap, intake, &r);
 *	... r.scan (union of viruses), r.banned, r.limit, r.flags, r.parts ...
 *	inspect_result_clear(&r);
 *
 * DESCRIPTION
 *	The fast path: a well-formed message (no flag in MIME_AMBIGUOUS) is
 *	read once, by the streaming parser, and each decoded leaf and the
 *	top-level header block are scanned from memory once.
 *
 *	The ambiguity defense: when the message can be read in more than one
 *	way, klaxon reads it every plausible way (the first and the last
 *	Content-Type and Content-Transfer-Encoding, a guessed boundary,
 *	strict and lenient base64, an encoded multipart read raw or decoded), scans the decoded parts of every reading,
 *	and also hands the whole raw message to ClamAV's own mail parser. A
 *	virus in any reading is a virus; a banned name in any reading is
 *	banned. A payload that several readings share is scanned once.
 *
 *	Text outside every part (a preamble or epilogue, MIME_OUTSIDE_PARTS)
 *	does not make a second reading, but it is scanned: the parser's copy of
 *	it, or, past MIME_OUTSIDE_MAX bytes, the whole raw message.
 *
 *	The outbreak cache: before a part is scanned its SHA-256 is looked up
 *	in the snapshot's verdict cache (vcache.h); a hit costs no scan. Only
 *	definite verdicts are cached. Hits and lookups are counted per message.
 *
 *	Banned names: every filename source of every part (and, up to
 *	banned_archive_depth, the member names inside archive parts, listed
 *	with libarchive) is checked against banned_extensions. message/partial
 *	is banned too: it is a way to smuggle a message past scanners in
 *	pieces.
 *
 *	Limits: when the parser reached a MIME limit, the message was not
 *	fully read. The whole raw message is still scanned (so a virus can be
 *	named) but the result carries the limit, and the caller refuses it.
 *
 *	Any scan error (and no virus) leaves r->scan.status == SCAN_ERROR:
 *	the caller tempfails; nothing unscanned is called clean.
 *
 * OWNERSHIP
 *	The result owns its strings; inspect_result_clear() frees them.
 *
 * THREAD SAFETY
 *	Safe from any thread with a pinned snapshot. Does not log.
 */
#ifndef KLAXON_INSPECT_H
#define KLAXON_INSPECT_H

#include <stdbool.h>

#include "intake.h"
#include "mime.h"
#include "scan.h"
#include "snapshot.h"

struct inspect_part {
	char path[64];
	char *content_type;
	char *filename;              /* best name, "" if none */
	unsigned long long size;
	char sha256[65];             /* hex, "" for containers */
	unsigned flags;
	const char *verdict;         /* "clean", "virus", "banned", "container", "error", "unscanned" */
	char *detail;                /* virus names or the banned reason, "" if none */
	bool cached;                 /* the verdict came from the outbreak cache */
};

struct inspect_result {
	struct scan_verdict scan;    /* union of every scan: CLEAN, VIRUS (names) or ERROR */
	bool banned;
	char banned_reason[256];
	enum mime_limit_kind limit;
	char limit_detail[128];
	unsigned flags;              /* union of every reading's flags */
	unsigned readings;           /* how many readings were scanned */
	bool whole_scanned;          /* the raw message went to ClamAV's mail parser */
	unsigned long long cache_hits, cache_lookups, scans;
	struct inspect_part *parts;  /* the default reading's part tree */
	size_t nparts;
};

void inspect_message(struct snapshot *snap, struct intake *in, struct inspect_result *r);
void inspect_result_clear(struct inspect_result *r);

#endif
