/*
 * test_decode - unit tests for the base64, quoted-printable and uuencode
 * decoders, one table per behaviour. Every base64 case is also fed one
 * byte at a time and cut at every position, since the decoder streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A string with its length, so that expected outputs may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

struct b64_case {
	const char *in;
	size_t inlen;
	bool strict;
	const char *out;
	size_t outlen;
	unsigned flags;
};

static const struct b64_case b64_cases[] = {
	/* RFC 4648 section 10 */
	{S(""), false, S(""), 0},
	{S("Zg=="), false, S("f"), 0},
	{S("Zm8="), false, S("fo"), 0},
	{S("Zm9v"), false, S("foo"), 0},
	{S("Zm9vYg=="), false, S("foob"), 0},
	{S("Zm9vYmE="), false, S("fooba"), 0},
	{S("Zm9vYmFy"), false, S("foobar"), 0},
	{S("Zm9vYmFy"), true, S("foobar"), 0},
	{S("Zm9vYg=="), true, S("foob"), 0},
	/* white space and line breaks are skipped silently, in both modes */
	{S("Zm9v\r\nYmFy\r\n"), false, S("foobar"), 0},
	{S(" Z m\t9 v \n"), true, S("foo"), 0},
	{S("Zm9vYg==\r\n\r\n"), true, S("foob"), 0},
	{S("\n\n\n"), false, S(""), 0},
	/* the whole alphabet */
	{S("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"), false,
	 S("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
	   "\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f !\"#$%&'()*+,-./012"),
	 0},
	{S("++//"), false, S("\xfb\xef\xff"), 0},
	/* junk: lenient skips it, strict stops there */
	{S("Zm9v!YmFy"), false, S("foobar"), DECODE_B64_JUNK},
	{S("Zm9v!YmFy"), true, S("foo"), DECODE_B64_JUNK},
	{S("Zm9vYmFy\r\n--boundary\r\n"), false, S("foobarn\x8b\xa7u\xaa\xf2"), DECODE_B64_JUNK},
	{S("Zm9vYmFy\r\n--boundary\r\n"), true, S("foobar"), DECODE_B64_JUNK},
	{S("Zm\x80" "9v"), false, S("foo"), DECODE_B64_JUNK},
	{S("Zm\x00" "9v"), false, S("foo"), DECODE_B64_JUNK},
	/* junk in the middle of a group: strict keeps the bits before it at the end */
	{S("Zm9vYm*Fy"), true, S("foob"), DECODE_B64_JUNK | DECODE_B64_NO_PAD},
	/* missing padding */
	{S("Zm9vYg"), false, S("foob"), DECODE_B64_NO_PAD},
	{S("Zm9vYmE"), false, S("fooba"), DECODE_B64_NO_PAD},
	{S("Zm9vYmE"), true, S("fooba"), DECODE_B64_NO_PAD},
	/* a lone last symbol carries no whole byte */
	{S("Zm9vY"), false, S("foo"), DECODE_B64_TRUNCATED},
	{S("Zm9vY="), false, S("foo"), DECODE_B64_TRUNCATED},
	/* data after padding: lenient decodes a new group, strict stops at the '=' */
	{S("Zg==Zm9v"), false, S("ffoo"), DECODE_B64_AFTER_PAD},
	{S("Zg==Zm9v"), true, S("f"), DECODE_B64_AFTER_PAD},
	{S("Zg=Zm9v"), false, S("ffoo"), DECODE_B64_AFTER_PAD},
	{S("Zm8=\r\nYmFy"), false, S("fobar"), DECODE_B64_AFTER_PAD},
	{S("Zm8=\r\nYmFy"), true, S("fo"), DECODE_B64_AFTER_PAD},
	/* a '=' that ends no group is junk */
	{S("Zm9v=YmFy"), false, S("foobar"), DECODE_B64_JUNK},
	{S("Zm9v=YmFy"), true, S("foo"), DECODE_B64_JUNK},
	{S("Zg===="), false, S("f"), 0},
	/* strict still reports what it saw after stopping */
	{S("Zm9v!Ym*Fy"), true, S("foo"), DECODE_B64_JUNK},
	{S("Zg==!"), true, S("f"), DECODE_B64_JUNK},
};

/* b64_run - decode in pieces cut at the given positions; returns the output length */
static size_t b64_run(const struct b64_case *c, const size_t *cuts, size_t ncuts,
		      unsigned char *out, unsigned *flags)
{
	struct decode_b64 b;
	size_t pos = 0, n = 0;

	decode_b64_init(&b, c->strict);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : c->inlen;
		/* Each piece gets a buffer of exactly DECODE_B64_MAX so ASan sees overruns. */
		size_t room = DECODE_B64_MAX(end - pos);
		unsigned char *tmp = malloc(room ? room : 1);
		assert_non_null(tmp);
		size_t k = decode_b64_update(&b, c->in + pos, end - pos, tmp);
		assert_true(k <= room);
		memcpy(out + n, tmp, k);
		free(tmp);
		n += k;
		pos = end;
	}
	n += decode_b64_final(&b, out + n);
	*flags = b.flags;
	return n;
}

/* b64_check - one case, with the decoded bytes and flags it must give */
static void b64_check(const struct b64_case *c, const size_t *cuts, size_t ncuts, const char *how)
{
	unsigned char out[512];
	unsigned flags;
	size_t n = b64_run(c, cuts, ncuts, out, &flags);

	if (n != c->outlen || memcmp(out, c->out, n) != 0 || flags != c->flags)
		fail_msg("b64 \"%.*s\" strict=%d (%s): got %zu bytes flags %#x, want %zu bytes flags %#x",
			 (int)c->inlen, c->in, c->strict, how, n, flags, c->outlen, c->flags);
}

/* test_b64_table - every case whole, a byte at a time, and cut at each position */
static void test_b64_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(b64_cases); i++) {
		const struct b64_case *c = &b64_cases[i];
		b64_check(c, NULL, 0, "whole");
		size_t cuts[128];
		assert_true(c->inlen <= NELEM(cuts));
		for (size_t k = 0; k < c->inlen; k++)
			cuts[k] = k;
		b64_check(c, cuts, c->inlen, "bytewise");
		for (size_t k = 0; k <= c->inlen; k++)
			b64_check(c, &k, 1, "one cut");
	}
}

/* test_b64_encode - a simple encoder for round trips */
static size_t test_b64_encode(const unsigned char *in, size_t n, char *out, size_t linelen)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, col = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
		col += 4;
		if (linelen && col >= linelen) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
	}
	return o;
}

/* test_b64_roundtrip - random data of many lengths and line widths, random cuts */
static void test_b64_roundtrip(void **state)
{
	(void)state;
	unsigned seed = 12345;
	enum { MAXN = 5000 };
	unsigned char *data = malloc(MAXN), *out = malloc(MAXN + 8);
	char *enc = malloc(MAXN * 2 + 64);
	assert_non_null(data);
	assert_non_null(out);
	assert_non_null(enc);

	for (size_t n = 0; n < MAXN; n += 1 + n / 3) {
		for (size_t i = 0; i < n; i++)
			data[i] = (unsigned char)((seed = seed * 1103515245 + 12345) >> 16);
		static const size_t widths[] = {0, 4, 60, 76, 1000};
		for (size_t w = 0; w < NELEM(widths); w++) {
			size_t elen = test_b64_encode(data, n, enc, widths[w]);
			for (int strict = 0; strict <= 1; strict++) {
				struct decode_b64 b;
				size_t pos = 0, k = 0;
				decode_b64_init(&b, strict);
				while (pos < elen) {
					size_t step = 1 + ((seed = seed * 1103515245 + 12345) >> 16) % 97;
					if (step > elen - pos)
						step = elen - pos;
					k += decode_b64_update(&b, enc + pos, step, out + k);
					pos += step;
				}
				k += decode_b64_final(&b, out + k);
				if (k != n || memcmp(out, data, n) != 0 || b.flags != 0)
					fail_msg("round trip n=%zu width=%zu strict=%d: got %zu flags %#x", n,
						 widths[w], strict, k, b.flags);
			}
		}
	}
	free(data);
	free(out);
	free(enc);
}

struct qp_case {
	const char *in;
	size_t inlen;
	bool has_eol;
	const char *out;
	size_t outlen;
	unsigned flags;
};

static const struct qp_case qp_cases[] = {
	{S("hello"), true, S("hello\r\n"), 0},
	{S("hello"), false, S("hello"), 0},
	{S(""), true, S("\r\n"), 0},
	{S(""), false, S(""), 0},
	{S("a=3Db"), true, S("a=b\r\n"), 0},
	{S("a=3db"), false, S("a=b"), 0},
	{S("=C3=A9t=C3=A9"), false, S("\xc3\xa9t\xc3\xa9"), 0},
	{S("=00=FF"), false, S("\x00\xff"), 0},
	{S("=0D=0A"), true, S("\r\n\r\n"), 0},
	{S("a\tb"), false, S("a\tb"), 0},
	/* soft line breaks, with white space after them too */
	{S("soft="), true, S("soft"), 0},
	{S("soft=  \t"), true, S("soft"), 0},
	{S("="), true, S(""), 0},
	{S("x=3D="), true, S("x="), 0},
	/* trailing white space is removed (RFC 2045 rule 3); encoded white space stays */
	{S("trail   "), true, S("trail\r\n"), 0},
	{S("trail\t "), false, S("trail"), 0},
	{S("trail=20"), true, S("trail \r\n"), 0},
	/* bad escapes are kept literally */
	{S("bad=ZZ"), true, S("bad=ZZ\r\n"), DECODE_QP_BAD_ESCAPE},
	{S("x=4"), false, S("x=4"), DECODE_QP_BAD_ESCAPE},
	{S("a = b"), false, S("a = b"), DECODE_QP_BAD_ESCAPE},
	{S("==41"), false, S("=A"), DECODE_QP_BAD_ESCAPE},
	{S("=G1=1"), false, S("=G1=1"), DECODE_QP_BAD_ESCAPE},
	{S("8bit \xe9 kept"), false, S("8bit \xe9 kept"), 0},
};

/* test_qp_table - each line with its expected bytes and flags */
static void test_qp_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(qp_cases); i++) {
		const struct qp_case *c = &qp_cases[i];
		unsigned flags = 0;
		unsigned char *out = malloc(c->inlen + 2);
		assert_non_null(out);
		size_t n = decode_qp_line(c->in, c->inlen, c->has_eol, out, &flags);
		if (n != c->outlen || memcmp(out, c->out, n) != 0 || flags != c->flags)
			fail_msg("qp \"%.*s\" eol=%d: got \"%.*s\" flags %#x", (int)c->inlen, c->in,
				 c->has_eol, (int)n, out, flags);
		free(out);
	}
}

static const struct {
	const char *line;
	bool ok;
	const char *name;
	size_t namelen;
} uu_begin_cases[] = {
	{"begin 644 cat.txt", true, "cat.txt", 64},
	{"begin 0644 my file.exe  \t", true, "my file.exe", 64},
	{"begin 7 x", true, "x", 64},
	{"begin 644 abcdef", true, "abc", 4},
	{"begin  644   spaced.bin", true, "spaced.bin", 64},
	{"begin-base64 644 x", false, "", 64},
	{"begin 644", false, "", 64},
	{"begin 644 ", false, "", 64},
	{"begin abc x", false, "", 64},
	{"begin 9 x", false, "", 64},
	{"begin 644x y", false, "", 64},
	{"Begin 644 x", false, "", 64},
	{"", false, "", 64},
};

/* test_uu_begin - the begin line and its name */
static void test_uu_begin(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(uu_begin_cases); i++) {
		char name[64] = "";
		bool ok = decode_uu_begin(uu_begin_cases[i].line, strlen(uu_begin_cases[i].line), name,
					  uu_begin_cases[i].namelen);
		if (ok != uu_begin_cases[i].ok || (ok && strcmp(name, uu_begin_cases[i].name) != 0))
			fail_msg("uu begin \"%s\": got %d \"%s\"", uu_begin_cases[i].line, ok, name);
	}
}

struct uu_case {
	const char *in;
	size_t inlen;
	const char *out;
	size_t outlen;
	unsigned flags;
};

/* Expected values from Python's binascii.b2a_uu(data, backtick=True). */
static const struct uu_case uu_cases[] = {
	{S("#0V%T"), S("Cat"), 0},
	{S("-2&5L;&\\L(%=O<FQD(0``"), S("Hello, World!"), 0},
	{S("M``$\"`P0%!@<(\"0H+#`T.#Q`1$A,4%187&!D:&QP='A\\@(2(C)\"4F)R@I*BLL"),
	 S("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"
	   "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f !\"#$%&'()*+,"),
	 0},
	{S("\"86("), S("ab"), DECODE_UU_BAD_LINE},
	{S("\"86(`"), S("ab"), 0},
	{S("`"), S(""), 0},
	{S(" "), S(""), 0},
	/* one checksum character is tolerated, more is not */
	{S("#0V%TX"), S("Cat"), 0},
	{S("#0V%TXY"), S("Cat"), DECODE_UU_BAD_LINE},
	/* short lines decode what they carry */
	{S("#0V"), S("C"), DECODE_UU_BAD_LINE},
	{S("#0V%"), S("Ca"), DECODE_UU_BAD_LINE},
	{S("#"), S(""), DECODE_UU_BAD_LINE},
	{S(""), S(""), DECODE_UU_BAD_LINE},
	/* characters outside the uuencode range */
	{S("#0V%\x7f"), S("Ca_"), DECODE_UU_BAD_LINE},
};

/* test_uu_table - body lines */
static void test_uu_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(uu_cases); i++) {
		const struct uu_case *c = &uu_cases[i];
		unsigned flags = 0;
		unsigned char *out = malloc(c->inlen ? c->inlen : 1);
		assert_non_null(out);
		size_t n = decode_uu_line(c->in, c->inlen, out, &flags);
		if (n != c->outlen || memcmp(out, c->out, n) != 0 || flags != c->flags)
			fail_msg("uu \"%.*s\": got %zu bytes flags %#x, want %zu flags %#x", (int)c->inlen,
				 c->in, n, flags, c->outlen, c->flags);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_table), cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_qp_table),  cmocka_unit_test(test_uu_begin),
		cmocka_unit_test(test_uu_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
