/*
 * mime - klaxon's streaming MIME parser: a bounded part tree with decoded
 * leaf bytes, every filename source, and named anomaly flags.
 *
 * SYNOPSIS
 *	struct mime_parser *p = mime_parser_new(&limits, &view);
 *	mime_parser_feed(p, chunk, len);          as often as chunks arrive
 *	struct mime_message *m = mime_parser_finish(p);   frees p
 *	... m->parts[i] ...
 *	mime_message_free(m);
 *
 * DESCRIPTION
 *	The input is one whole RFC 5322 message (header, blank line, body),
 *	in chunks of any size cut anywhere, with CRLF or LF line endings (a
 *	mix sets MIME_MIXED_EOL). It is processed one line at a time in one
 *	pass, in the manner of Postfix's mime_state.c, and never aborts the
 *	process: hostile input only sets flags or a limit.
 *
 *	The part tree. parts[0] is the message itself. Each part records its
 *	path ("1", "1.2", "1.2.1"; the top is "1"), depth, parent index,
 *	content type (lower case "type/subtype"; text/plain when absent, as
 *	RFC 2045 says; message/rfc822 children of a digest default likewise),
 *	charset, disposition, transfer encoding, every filename source (see
 *	below), the best filename and its extension, the decoded size, the
 *	SHA-256 of the decoded bytes (leaves only) and the part's own flags.
 *	multipart/ parts have children separated by their boundary;
 *	message/rfc822 (and message/global) parts have one child, the
 *	enclosed message, parsed recursively. Everything else is a leaf, and
 *	a leaf's decoded bytes are kept in part->data for scanning from memory.
 *	A uuencoded block ("begin NNN name" ... "end") inside a text leaf
 *	becomes a child leaf of that part with the name as its filename
 *	(source MIME_NAME_UUENCODE); its lines stay in the text part too.
 *
 *	Filenames are collected from every source: Content-Disposition
 *	filename, RFC 2231 filename* (with continuations and charset),
 *	Content-Type name (and name*), the uuencode begin line; all decoded
 *	from RFC 2047 and converted to UTF-8 (mimehdr.h); a parameter with
 *	several readings (RFC 2231 and plain, duplicates) gives every reading
 *	as a name, and sets MIME_DUP_PARAMETER when they differ. part->filename is
 *	the first non-empty one in that order; part->extension is its last
 *	extension, lower case, after trailing dots and spaces are stripped
 *	("" if none). Banned-name checks must look at every source, not only
 *	the best one.
 *
 *	The view. A message that can be read in more than one way is parsed
 *	once per reading. struct mime_view chooses: the first or the last of
 *	duplicate Content-Type and Content-Transfer-Encoding headers, and of
 *	the readings of a boundary parameter (mimehdr.h); strict
 *	or lenient base64 (decode.h); and whether a multipart without a
 *	usable boundary parameter guesses one from the first "--" line of its
 *	body (the reading of lenient clients); and whether a multipart/ or
 *	message/ part with a base64 or quoted-printable encoding (forbidden by
 *	RFC 2045, flagged MIME_ENCODED_MULTIPART) is read raw, as if 7bit, or
 *	decoded, with the decoded bytes parsed as its body (decode_multipart:
 *	the reading of clients that decode first); and whether a bare CR in
 *	a header line ends that line (bare_cr_breaks_header, the reading of
 *	clients that take CR alone as a line ending). The default view (all
 *	false) is the fast path and is what RFC-abiding clients see.
 *
 *	The top-level header block (bytes up to the blank line, capped at the
 *	header limit) is kept in m->header_block, so it can be scanned too.
 *
 *	mime_field_name() is the parser's rule for a header line: the length
 *	of its field name (up to the first colon, trailing blanks dropped,
 *	every byte printable ASCII), 0 when the line is no field; *colon is
 *	then the colon's offset. Code that edits header fields the parser
 *	read (rebuild.h) uses it to see the same fields.
 *
 *	Raw byte ranges. Each part records where it lies in the input, as
 *	offsets from the first byte fed, so that a message can be rebuilt
 *	from its raw bytes with parts cut out (rebuild.h):
 *	  raw_delim  the first byte of the delimiter line ("--boundary") that
 *	             introduces the part, or MIME_RAW_NONE when there is none
 *	             (parts[0], the enclosed message of a message/ part);
 *	  raw_start  the first byte of its header: 0 for parts[0], the byte
 *	             after the delimiter line's ending for a multipart child,
 *	             the container's raw_body for an enclosed message;
 *	  raw_body   the first byte of its body, after the blank line that
 *	             ends the header; where the header ends some other way,
 *	             at the first body line (a line that is not a field) or at
 *	             raw_end (a header cut by a delimiter or the end of input);
 *	  raw_end    one past the last byte of its body. The line ending before
 *	             a delimiter line belongs to the delimiter (RFC 2046 5.1.1)
 *	             and is not included; a part that ends with the input ends
 *	             at its last byte. A blank line right before a delimiter
 *	             ends the header and gives the delimiter its line ending,
 *	             so there raw_body == raw_end and the range before raw_end
 *	             holds the header fields only.
 *	raw_delim <= raw_start <= raw_body <= raw_end <= bytes fed always
 *	holds. raw_known is false for parts with no range of their own: a
 *	uuencoded child, and every part parsed from decoded bytes (the
 *	decode_multipart view); their offsets are an empty range at the
 *	parent's raw_body. The offsets are exact in the default view, in
 *	bounds in every view, and do not depend on how the input was cut.
 *
 *	Limits (struct mime_limits): nesting depth, part count, one header
 *	field's length, one line's length, total decoded bytes. Reaching one
 *	stops building the tree (the rest of the input is read and ignored),
 *	records which limit in m->limit with a detail text, and sets
 *	MIME_LIMIT on the message. A caller must then refuse the message
 *	(klaxon: the configured 4xx or 5xx), never accept it as scanned.
 *	mime_parser_new() takes NULL limits or view for built-in defaults.
 *
 *	Flags (enum mime_flag) are per part and OR-ed into m->flags. Those in
 *	MIME_AMBIGUOUS mean "another reading exists": klaxon then parses with
 *	the other views and scans every one of them. mime_flag_name() gives
 *	each flag's stable name for logs, JSON and config.
 *
 * OWNERSHIP
 *	mime_parser_finish() consumes the parser and returns a message the
 *	caller frees with mime_message_free(). All strings and data buffers
 *	belong to the message.
 *
 * ERRORS
 *	mime_parser_new returns NULL and mime_parser_feed returns -1 only when
 *	out of memory; mime_parser_finish returns NULL only when out of memory
 *	(the parser is freed either way). The caller tempfails then.
 *
 * THREAD SAFETY
 *	A parser and a message belong to one thread. No shared state. Does
 *	not log.
 */
#ifndef KLAXON_MIME_H
#define KLAXON_MIME_H

#include <stdbool.h>
#include <stddef.h>

enum mime_flag {
	MIME_DUP_CONTENT_TYPE = 1u << 0,      /* two Content-Type headers in one part */
	MIME_DUP_CTE = 1u << 1,               /* two Content-Transfer-Encoding headers */
	MIME_BOUNDARY_MISSING = 1u << 2,      /* multipart/ without a boundary parameter */
	MIME_BOUNDARY_UNCLOSED = 1u << 3,     /* closing "--boundary--" never seen */
	MIME_BOUNDARY_REUSED = 1u << 4,       /* a nested multipart reuses an enclosing boundary */
	MIME_BOUNDARY_NOT_FOUND = 1u << 5,    /* the boundary never appears in the body */
	MIME_BASE64_INVALID = 1u << 6,        /* base64 that needed tolerance (decode.h flags) */
	MIME_QP_INVALID = 1u << 7,            /* quoted-printable with bad escapes */
	MIME_HEADER_NUL = 1u << 8,            /* NUL byte in a header */
	MIME_HEADER_BARE_CR = 1u << 9,        /* CR not followed by LF in a header */
	MIME_HEADER_8BIT = 1u << 10,          /* bytes >= 0x80 in a header */
	MIME_PARTIAL = 1u << 11,              /* message/partial */
	MIME_PREAMBLE_CONTENT = 1u << 12,     /* non-blank text before the first boundary */
	MIME_EPILOGUE_CONTENT = 1u << 13,     /* non-blank text after the closing boundary */
	MIME_MIXED_EOL = 1u << 14,            /* both CRLF and bare LF line endings */
	MIME_UNKNOWN_CTE = 1u << 15,          /* a transfer encoding we do not know (kept raw) */
	MIME_BAD_HEADER_SYNTAX = 1u << 16,    /* a header line without a colon, or unreadable params */
	MIME_ENCODED_MULTIPART = 1u << 17,    /* multipart/ or message/ with base64 or QP (invalid) */
	MIME_LIMIT = 1u << 18,                /* a limit was reached; see m->limit */
	MIME_DUP_PARAMETER = 1u << 19,        /* boundary or filename with two readings (RFC 2231 vs
					       * plain, or a duplicate) */
	MIME_FLAG_COUNT = 20
};

/* Flags that mean another plausible reading of the message exists. */
#define MIME_AMBIGUOUS                                                                      \
	(MIME_DUP_CONTENT_TYPE | MIME_DUP_CTE | MIME_BOUNDARY_MISSING | MIME_BOUNDARY_UNCLOSED | \
	 MIME_BOUNDARY_REUSED | MIME_BOUNDARY_NOT_FOUND | MIME_BASE64_INVALID | MIME_HEADER_NUL | \
	 MIME_HEADER_BARE_CR | MIME_PARTIAL | MIME_UNKNOWN_CTE | MIME_ENCODED_MULTIPART |         \
	 MIME_DUP_PARAMETER)

/*
 * Flags for bytes that belong to no part: text in a preamble or epilogue.
 * Every reading agrees on the parts, so the message is not re-read; but
 * those bytes (an old client may decode a uuencoded block there) belong to
 * no part, so the parser keeps them in m->outside (up to MIME_OUTSIDE_MAX;
 * past that, m->outside_truncated) and klaxon scans them too. The
 * "This is a multi-part message in MIME format." note most clients write
 * is such text: this keeps that common case off the re-reading path.
 */
#define MIME_OUTSIDE_PARTS (MIME_PREAMBLE_CONTENT | MIME_EPILOGUE_CONTENT)
#define MIME_OUTSIDE_MAX (256 * 1024) /* bytes of such text kept in m->outside */

/* raw_delim of a part that no delimiter line introduces */
#define MIME_RAW_NONE ((size_t)-1)

enum mime_limit_kind {
	MIME_LIMIT_NONE = 0,
	MIME_LIMIT_DEPTH,
	MIME_LIMIT_PARTS,
	MIME_LIMIT_HEADER_LENGTH,
	MIME_LIMIT_LINE_LENGTH,
	MIME_LIMIT_DECODED_SIZE,
};

enum mime_cte { MIME_CTE_7BIT = 0, MIME_CTE_8BIT, MIME_CTE_BINARY, MIME_CTE_BASE64, MIME_CTE_QP, MIME_CTE_UNKNOWN };

enum mime_name_source {
	MIME_NAME_DISPOSITION = 0,   /* Content-Disposition filename / filename* */
	MIME_NAME_CONTENT_TYPE,      /* Content-Type name / name* */
	MIME_NAME_UUENCODE,          /* "begin 644 name" */
};

struct mime_limits {
	unsigned max_depth;                   /* nesting of multipart and message parts */
	unsigned max_parts;
	size_t max_header_length;             /* one header field, unfolded, in bytes */
	size_t max_line_length;               /* one line of input, in bytes */
	unsigned long long max_decoded_size;  /* all leaves' decoded bytes together */
};

struct mime_view {
	bool last_content_type;      /* use the last of duplicate Content-Type headers */
	bool last_cte;               /* likewise Content-Transfer-Encoding */
	bool strict_base64;          /* stop decoding at the first junk byte or padding */
	bool guess_boundary;         /* multipart without a usable boundary: take the first "--x" line */
	bool decode_multipart;       /* encoded multipart/ or message/: decode, parse the result */
	bool bare_cr_breaks_header;  /* a bare CR in a header ends the line, as some clients read it */
};

struct mime_name {
	enum mime_name_source source;
	char *name;                  /* UTF-8, decoded */
};

struct mime_part {
	char path[64];               /* "1", "1.2", ... */
	unsigned depth;              /* 0 for the message itself */
	int parent;                  /* index in parts[], -1 for parts[0] */
	char *content_type;          /* "type/subtype", lower case */
	char *charset;               /* lower case, may be "" */
	char *disposition;           /* "inline", "attachment" or "" */
	enum mime_cte cte;
	struct mime_name *names;     /* every filename source, in order found */
	size_t nnames;
	const char *filename;        /* best name (points into names), "" if none */
	char extension[32];          /* last extension of filename, lower case */
	bool leaf;
	unsigned char *data;         /* decoded bytes of a leaf; NULL otherwise */
	size_t size;                 /* decoded size */
	unsigned char sha256[32];    /* of data (leaves only) */
	unsigned flags;              /* this part's own flags */
	size_t raw_delim;            /* delimiter line, or MIME_RAW_NONE (see DESCRIPTION) */
	size_t raw_start;            /* header */
	size_t raw_body;             /* body */
	size_t raw_end;              /* one past the body, before the delimiter's line ending */
	bool raw_known;              /* false: no raw range of its own */
};

struct mime_message {
	struct mime_part *parts;
	size_t nparts;
	unsigned flags;              /* OR of every part's flags */
	enum mime_limit_kind limit;
	char limit_detail[128];      /* e.g. "nesting depth 21 over mime_max_depth 20" */
	char *header_block;          /* top-level header bytes */
	size_t header_len;
	char *outside;               /* non-blank preamble and epilogue lines, CRLF-terminated */
	size_t outside_len;
	bool outside_truncated;      /* more than MIME_OUTSIDE_MAX bytes: scan the whole message */
};

struct mime_parser;

struct mime_parser *mime_parser_new(const struct mime_limits *limits, const struct mime_view *view);
int mime_parser_feed(struct mime_parser *p, const char *buf, size_t len);
struct mime_message *mime_parser_finish(struct mime_parser *p);
void mime_message_free(struct mime_message *m);

const char *mime_flag_name(enum mime_flag f);      /* "duplicate-content-type", ... */
size_t mime_flags_format(unsigned flags, char *buf, size_t len); /* "a,b,c" */
const char *mime_limit_name(enum mime_limit_kind k);                 /* "depth", ... */
const char *mime_cte_name(enum mime_cte c);
size_t mime_field_name(const char *line, size_t n, size_t *colon); /* 0: not a field */

#endif
