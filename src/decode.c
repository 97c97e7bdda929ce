/*
 * decode - base64, quoted-printable and uuencode decoders (see decode.h).
 *
 * Base64 is the hot path. Four tables map a symbol straight to its bits
 * already shifted into place for its position in a group, and an invalid
 * symbol to a marker bit above the 24 data bits, so a group of four is
 * four loads, three ORs and one test. The fast loop takes two groups at a
 * time and stores their six bytes with one 8-byte write; it only runs
 * while at least 16 input bytes remain, which keeps that write inside
 * DECODE_B64_MAX(len) (see decode_b64_update). Anything the fast loop
 * does not like (a line end, junk, padding, a group cut by a chunk) goes
 * through the one-symbol-at-a-time state machine, which then hands back
 * to the fast loop at the next group boundary.
 *
 * uuencode line lengths: a line "matches" when it carries at least the
 * characters its count needs, and at most one more (some encoders append
 * a checksum character). Characters beyond are ignored.
 */
#include "decode.h"

#include <string.h>

/* Symbol classes in b64_class[]: 0..63 are alphabet values. */
#define B64_WS 64
#define B64_PAD 65
#define B64_JUNK 66

/* Bit set in a b64_dN[] entry for a byte outside the alphabet. */
#define B64_BAD 0x01000000u

#define B64_VALUE(c)                                                                        \
	((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                              \
	 : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                         \
	 : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                         \
	 : (c) == '+'               ? 62                                                     \
	 : (c) == '/'               ? 63                                                     \
	 : (c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n' ? B64_WS                  \
	 : (c) == '='                                              ? B64_PAD                 \
								   : B64_JUNK)

#define B64_SHIFTED(c, sh) (B64_VALUE(c) < 64 ? (uint32_t)B64_VALUE(c) << (sh) : B64_BAD)

#define R4(F, n) F(n) F((n) + 1) F((n) + 2) F((n) + 3)
#define R16(F, n) R4(F, n) R4(F, (n) + 4) R4(F, (n) + 8) R4(F, (n) + 12)
#define R64(F, n) R16(F, n) R16(F, (n) + 16) R16(F, (n) + 32) R16(F, (n) + 48)
#define R256(F) R64(F, 0) R64(F, 64) R64(F, 128) R64(F, 192)

#define CLASS_ENTRY(n) (unsigned char)B64_VALUE(n),
#define D0_ENTRY(n) B64_SHIFTED(n, 18),
#define D1_ENTRY(n) B64_SHIFTED(n, 12),
#define D2_ENTRY(n) B64_SHIFTED(n, 6),
#define D3_ENTRY(n) B64_SHIFTED(n, 0),

static const unsigned char b64_class[256] = {R256(CLASS_ENTRY)};
static const uint32_t b64_d0[256] = {R256(D0_ENTRY)};
static const uint32_t b64_d1[256] = {R256(D1_ENTRY)};
static const uint32_t b64_d2[256] = {R256(D2_ENTRY)};
static const uint32_t b64_d3[256] = {R256(D3_ENTRY)};

/* decode_b64_init - start a new base64 stream */
void decode_b64_init(struct decode_b64 *b, bool strict)
{
	memset(b, 0, sizeof(*b));
	b->strict = strict;
}

/* decode_b64_group - the 24 bits of one group as three bytes, big end first */
static inline uint32_t decode_b64_bytes(uint32_t x)
{
	return __builtin_bswap32(x << 8);
}

/* decode_b64_scan - after a strict stop: only note what the rest holds */
static void decode_b64_scan(struct decode_b64 *b, const unsigned char *s, const unsigned char *end)
{
	for (; s < end; s++) {
		unsigned c = b64_class[*s];
		if (c < 64) {
			if (b->padded)
				b->flags |= DECODE_B64_AFTER_PAD;
			b->padded = false;
		} else if (c == B64_PAD) {
			b->padded = true;
		} else if (c == B64_JUNK) {
			b->flags |= DECODE_B64_JUNK;
		}
	}
}

/* decode_b64_pad - a '=': finish the group in progress */
static unsigned char *decode_b64_pad(struct decode_b64 *b, unsigned char *o)
{
	switch (b->nsym) {
	case 0:
		/* The second '=' of "xx==" (or more) is fine; a '=' that ends no group is junk. */
		if (!b->padded) {
			b->flags |= DECODE_B64_JUNK;
			if (b->strict)
				b->stopped = true;
		}
		return o;
	case 1:
		b->flags |= DECODE_B64_TRUNCATED;
		break;
	case 2:
		*o++ = (unsigned char)(b->acc >> 4);
		break;
	default:
		*o++ = (unsigned char)(b->acc >> 10);
		*o++ = (unsigned char)(b->acc >> 2);
		break;
	}
	b->acc = 0;
	b->nsym = 0;
	b->padded = true;
	if (b->strict)
		b->stopped = true;
	return o;
}

/*
 * decode_b64_update - decode len bytes into out, which holds at least
 * DECODE_B64_MAX(len). At most 3 symbols are carried in b, so the output
 * is at most (3 + len) / 4 * 3 bytes; the 8-byte store of the fast loop
 * writes 2 bytes past its 6, and the loop runs only while 16 input bytes
 * remain, which leaves at least 9 bytes of room past those 6.
 */
size_t decode_b64_update(struct decode_b64 *b, const char *in, size_t len, unsigned char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	const unsigned char *end = s + len;
	unsigned char *o = out;

	while (s < end) {
		if (b->stopped) {
			decode_b64_scan(b, s, end);
			break;
		}
		if (b->nsym == 0 && !b->padded) {
			while (end - s >= 16) {
				uint32_t x = b64_d0[s[0]] | b64_d1[s[1]] | b64_d2[s[2]] | b64_d3[s[3]];
				uint32_t y = b64_d0[s[4]] | b64_d1[s[5]] | b64_d2[s[6]] | b64_d3[s[7]];
				if ((x | y) & B64_BAD)
					break;
				uint64_t w = (uint64_t)decode_b64_bytes(x) |
					     (uint64_t)decode_b64_bytes(y) << 24;
				memcpy(o, &w, 8);
				o += 6;
				s += 8;
			}
			while (end - s >= 4) {
				uint32_t x = b64_d0[s[0]] | b64_d1[s[1]] | b64_d2[s[2]] | b64_d3[s[3]];
				if (x & B64_BAD)
					break;
				o[0] = (unsigned char)(x >> 16);
				o[1] = (unsigned char)(x >> 8);
				o[2] = (unsigned char)x;
				o += 3;
				s += 4;
			}
			if (s >= end)
				break;
		}
		unsigned c = b64_class[*s++];
		if (c < 64) {
			if (b->padded) {
				b->flags |= DECODE_B64_AFTER_PAD;
				b->padded = false;
			}
			b->acc = b->acc << 6 | c;
			if (++b->nsym == 4) {
				o[0] = (unsigned char)(b->acc >> 16);
				o[1] = (unsigned char)(b->acc >> 8);
				o[2] = (unsigned char)b->acc;
				o += 3;
				b->acc = 0;
				b->nsym = 0;
			}
		} else if (c == B64_PAD) {
			o = decode_b64_pad(b, o);
		} else if (c == B64_JUNK) {
			b->flags |= DECODE_B64_JUNK;
			if (b->strict)
				b->stopped = true;
		}
	}
	return (size_t)(o - out);
}

/* decode_b64_final - the last 1 or 2 bytes of an unpadded stream; out holds >= 2 */
size_t decode_b64_final(struct decode_b64 *b, unsigned char *out)
{
	size_t n = 0;

	switch (b->nsym) {
	case 0:
		break;
	case 1:
		b->flags |= DECODE_B64_TRUNCATED;
		break;
	case 2:
		b->flags |= DECODE_B64_NO_PAD;
		out[n++] = (unsigned char)(b->acc >> 4);
		break;
	default:
		b->flags |= DECODE_B64_NO_PAD;
		out[n++] = (unsigned char)(b->acc >> 10);
		out[n++] = (unsigned char)(b->acc >> 2);
		break;
	}
	b->acc = 0;
	b->nsym = 0;
	return n;
}

/* decode_hex - value of one hex digit (either case), or -1 */
static inline int decode_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* decode_qp_line - one quoted-printable line without its line ending */
size_t decode_qp_line(const char *line, size_t len, bool has_eol, unsigned char *out, unsigned *flags)
{
	unsigned char *o = out;
	bool soft;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	soft = len > 0 && line[len - 1] == '=';
	if (soft)
		len--;

	const char *s = line, *end = line + len;
	while (s < end) {
		const char *eq = memchr(s, '=', (size_t)(end - s));
		if (eq == NULL) {
			memcpy(o, s, (size_t)(end - s));
			o += end - s;
			break;
		}
		memcpy(o, s, (size_t)(eq - s));
		o += eq - s;
		int hi = end - eq > 2 ? decode_hex((unsigned char)eq[1]) : -1;
		int lo = hi >= 0 ? decode_hex((unsigned char)eq[2]) : -1;
		if (lo >= 0) {
			*o++ = (unsigned char)(hi << 4 | lo);
			s = eq + 3;
		} else {
			*o++ = '=';
			*flags |= DECODE_QP_BAD_ESCAPE;
			s = eq + 1;
		}
	}
	if (has_eol && !soft) {
		*o++ = '\r';
		*o++ = '\n';
	}
	return (size_t)(o - out);
}

/* decode_uu_begin - "begin" SP octal-mode SP name; copies the name (NUL-terminated) */
bool decode_uu_begin(const char *line, size_t len, char *name, size_t namelen)
{
	size_t i = 6, digits = 0;

	if (len < 6 || memcmp(line, "begin ", 6) != 0)
		return false;
	while (i < len && line[i] == ' ')
		i++;
	while (i < len && line[i] >= '0' && line[i] <= '7' && digits < 5) {
		i++;
		digits++;
	}
	if (digits == 0 || i >= len || (line[i] != ' ' && line[i] != '\t'))
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (i >= len)
		return false;
	if (namelen > 0) {
		size_t n = len - i < namelen - 1 ? len - i : namelen - 1;
		memcpy(name, line + i, n);
		name[n] = '\0';
	}
	return true;
}

/* decode_uu_line - one line of a uuencoded body; out holds >= len */
size_t decode_uu_line(const char *line, size_t len, unsigned char *out, unsigned *flags)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t count, need, avail, n = 0;

	if (len == 0) {
		*flags |= DECODE_UU_BAD_LINE;
		return 0;
	}
	count = (size_t)((s[0] - 0x20) & 0x3f);
	need = (count + 2) / 3 * 4;
	avail = len - 1;
	if (avail < need || avail > need + 1)
		*flags |= DECODE_UU_BAD_LINE;
	if (avail > need)
		avail = need;
	for (size_t i = 1; i <= avail; i++)
		if (s[i] < 0x20 || s[i] > 0x60) {
			*flags |= DECODE_UU_BAD_LINE;
			break;
		}
	/* Bytes whose bits are all present: 3 per whole group, k-1 for k trailing symbols. */
	size_t have = avail / 4 * 3 + (avail % 4 > 1 ? avail % 4 - 1 : 0);
	if (have > count)
		have = count;
	for (size_t i = 0; n < have; i += 4) {
		unsigned c0 = (s[1 + i] - 0x20u) & 0x3f;
		unsigned c1 = i + 2 <= avail ? (s[2 + i] - 0x20u) & 0x3f : 0;
		unsigned c2 = i + 3 <= avail ? (s[3 + i] - 0x20u) & 0x3f : 0;
		unsigned c3 = i + 4 <= avail ? (s[4 + i] - 0x20u) & 0x3f : 0;
		out[n++] = (unsigned char)(c0 << 2 | c1 >> 4);
		if (n < have)
			out[n++] = (unsigned char)(c1 << 4 | c2 >> 2);
		if (n < have)
			out[n++] = (unsigned char)(c2 << 6 | c3);
	}
	return n;
}
