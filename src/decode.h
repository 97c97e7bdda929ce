/*
 * decode - Content-Transfer-Encoding decoders: base64, quoted-printable,
 * uuencode. Streaming, so a part is decoded as its lines arrive.
 *
 * SYNOPSIS
 *	struct decode_b64 b;
 *	decode_b64_init(&b, strict);
 *	n = decode_b64_update(&b, in, len, out);     out holds >= DECODE_B64_MAX(len)
 *	n += decode_b64_final(&b, out + n);
 *	b.flags                                      what had to be tolerated
 *
 *	n = decode_qp_line(line, len, has_eol, out, &flags);   out holds >= len + 2
 *	n = decode_uu_line(line, len, out, &flags);             out holds >= len
 *
 * DESCRIPTION
 *	Base64 (RFC 2045 6.8). Lenient mode (strict = false), the reading of
 *	most mail clients and of ClamAV: white space and CR/LF are skipped
 *	silently; any other byte outside the alphabet is skipped and sets
 *	DECODE_B64_JUNK; data after '=' padding is decoded as a new group and
 *	sets DECODE_B64_AFTER_PAD; a final group of 2 or 3 symbols without
 *	padding is decoded and sets DECODE_B64_NO_PAD; a lone final symbol
 *	(6 bits, no whole byte) sets DECODE_B64_TRUNCATED. Strict mode decodes
 *	the same way up to the first junk byte or padding, then stops: every
 *	later byte is ignored (flags still say what was seen). The two modes
 *	are the two "views" klaxon scans when a part's base64 is not clean.
 *	The update function is the hot path: it must decode >= 1 GB/s on one
 *	core for well-formed input (table-driven, four symbols at a time).
 *
 *	Quoted-printable (RFC 2045 6.7), one line at a time, the line given
 *	without its line ending; has_eol says whether a line ending followed
 *	(it is emitted as CRLF unless the line ends in a soft break '=').
 *	"=XX" with hex digits (either case) decodes; a '=' not followed by two
 *	hex digits is kept literally and sets DECODE_QP_BAD_ESCAPE. Trailing
 *	white space on a line is removed (RFC 2045 rule 3).
 *
 *	uuencode, one body line at a time between "begin MODE NAME" and "end"
 *	(the caller finds those lines; decode_uu_begin() parses the first):
 *	the first character gives the byte count; a line whose length does
 *	not match sets DECODE_UU_BAD_LINE and decodes what it can.
 *
 * THREAD SAFETY
 *	No shared state. Does not log, never allocates.
 */
#ifndef KLAXON_DECODE_H
#define KLAXON_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum decode_flag {
	DECODE_B64_JUNK = 1u << 0,
	DECODE_B64_AFTER_PAD = 1u << 1,
	DECODE_B64_NO_PAD = 1u << 2,
	DECODE_B64_TRUNCATED = 1u << 3,
	DECODE_QP_BAD_ESCAPE = 1u << 4,
	DECODE_UU_BAD_LINE = 1u << 5,
};

#define DECODE_B64_MAX(len) ((len) / 4 * 3 + 3)

struct decode_b64 {
	uint32_t acc;      /* bits of the group in progress */
	unsigned nsym;     /* symbols in acc (0..3) */
	unsigned flags;
	bool strict;
	bool stopped;      /* strict mode met junk or padding */
	bool padded;       /* padding seen in the current group */
};

void decode_b64_init(struct decode_b64 *b, bool strict);
size_t decode_b64_update(struct decode_b64 *b, const char *in, size_t len, unsigned char *out);
size_t decode_b64_final(struct decode_b64 *b, unsigned char *out);

size_t decode_qp_line(const char *line, size_t len, bool has_eol, unsigned char *out, unsigned *flags);

/* decode_uu_begin - is this a "begin NNN name" line? Copies the name. */
bool decode_uu_begin(const char *line, size_t len, char *name, size_t namelen);
size_t decode_uu_line(const char *line, size_t len, unsigned char *out, unsigned *flags);

#endif
