/*
 * mimehdr - MIME header field values. See mimehdr.h for the contract.
 *
 * Every value goes through three stages: the lexer (quotes, escapes,
 * comments, folds) yields raw bytes; RFC 2231 or RFC 2047 decoding turns
 * them into bytes in a charset and iconv turns those into UTF-8; a final
 * pass (mimehdr_clean) guarantees valid UTF-8 without control characters,
 * whatever the earlier stages let through.
 *
 * Details the header leaves open:
 *  - The token is the first word of token characters and "/", with white
 *    space and comments allowed only next to the "/" ("text / plain").
 *    Anything else before the first ";" is skipped with MIMEHDR_SYNTAX.
 *  - A bare (unquoted) value runs to the next ";": comments are removed,
 *    white space inside it becomes one space. Lenient clients read
 *    "filename=my file.exe" as one name and so do we, with MIMEHDR_SYNTAX,
 *    as for tspecials in a bare value. "name=" without a value is skipped.
 *  - An unterminated quoted string or comment runs to the end of the field.
 *  - A trailing ";" is not flagged (it is everywhere); ";;" is.
 *  - White space around "=" is legal RFC 822 and is not flagged.
 *  - Encoded words are decoded wherever they appear, not only between
 *    white space, and adjacent words in one charset are joined before
 *    conversion, since encoders split multibyte characters across words.
 *  - "boundary" is never RFC 2047 decoded: "=?" is legal in a boundary,
 *    and decoding it would split the body differently from every client.
 *  - ISO-8859-1 is read as Windows-1252, as mail clients do.
 *  - Charset names are checked before iconv sees them ([A-Za-z0-9._:+-],
 *    at most 40), so no "//TRANSLIT" or path can be injected.
 *  - Tab becomes a space; other control characters (C0, DEL, C1) become
 *    U+FFFD and set MIMEHDR_SYNTAX; invalid UTF-8 becomes U+FFFD and sets
 *    MIMEHDR_BAD_CHARSET. A value the final pass changed is thus flagged.
 *  - RFC 2231: "name*0" and "name*00" are one section (leading zeros set
 *    MIMEHDR_BAD_2231); a malformed suffix ("name*x") keeps the whole name
 *    as a plain parameter with MIMEHDR_BAD_2231; if "name*" and "name*0"
 *    both appear, the first one wins with MIMEHDR_DUP_PARAM. Without an
 *    encoded section 0 there is no charset and the bytes are read as
 *    UTF-8; with only plain sections, RFC 2047 is applied to the join.
 *  - mimehdr_decode_words() cuts its input at MIMEHDR_MAX_FIELD too.
 *  - On failure (-1) the field is all zero: token is NULL, not "".
 */
#include "mimehdr.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One working buffer stops growing here; 16 times covers every expansion. */
#define MIMEHDR_BUF_LIMIT (16 * (size_t)MIMEHDR_MAX_FIELD)
/* No real charset name is longer; longer ones are "unknown" without iconv. */
#define MIMEHDR_CHARSET_MAX 40
#define MIMEHDR_REPL "\xef\xbf\xbd" /* U+FFFD */

struct mimehdr_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;  /* an allocation failed: the whole call fails */
	bool full; /* MIMEHDR_BUF_LIMIT reached: the rest was dropped */
};

/* One iconv descriptor, kept while consecutive conversions share a charset. */
struct mimehdr_conv {
	char name[MIMEHDR_CHARSET_MAX + 1]; /* what cd converts from; "" if nothing opened */
	iconv_t cd;                         /* (iconv_t)-1 when iconv does not know name */
};

struct mimehdr_sect {
	char *raw;
	size_t len;
	bool set;
	bool enc; /* "name*N*": %XX-encoded */
};

/* Everything seen for one parameter name, in its plain and RFC 2231 forms. */
struct mimehdr_group {
	char *name;
	size_t name_len;
	char *plain;
	size_t plain_len;
	bool has_plain;
	char *ext; /* "name*" */
	size_t ext_len;
	bool has_ext;
	bool ext_first;            /* "name*" came before any "name*N" */
	struct mimehdr_sect *sect; /* MIMEHDR_MAX_SECTIONS, allocated on first use */
	size_t nsect;
};

struct mimehdr_ctx {
	const char *s;
	size_t n;
	unsigned flags;
	bool oom;
	struct mimehdr_group groups[MIMEHDR_MAX_PARAMS];
	size_t ngroups;
	struct mimehdr_conv conv;
};

/* mimehdr_buf_add - append bytes, dropping what exceeds the limit */
static void mimehdr_buf_add(struct mimehdr_buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (n > MIMEHDR_BUF_LIMIT - b->len) {
		b->full = true;
		n = MIMEHDR_BUF_LIMIT - b->len;
		if (n == 0)
			return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (d == NULL) {
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* mimehdr_buf_addc - append one byte */
static void mimehdr_buf_addc(struct mimehdr_buf *b, char c)
{
	mimehdr_buf_add(b, &c, 1);
}

/* mimehdr_buf_take - hand over the string (never NULL unless out of memory) */
static char *mimehdr_buf_take(struct mimehdr_buf *b)
{
	char *s = NULL;

	if (!b->oom && b->data == NULL) {
		b->data = malloc(1);
		if (b->data != NULL)
			b->data[0] = '\0';
	}
	if (!b->oom)
		s = b->data;
	else
		free(b->data);
	*b = (struct mimehdr_buf){0};
	return s;
}

/* mimehdr_memdup - NUL-terminated copy of n bytes */
static char *mimehdr_memdup(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s != NULL) {
		if (n > 0)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* mimehdr_lower - ASCII only: the locale must not change what a name means */
static char mimehdr_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* mimehdr_is_wsp - RFC 822 linear white space, folds included */
static bool mimehdr_is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* mimehdr_is_token - RFC 2045 token character */
static bool mimehdr_is_token(char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* mimehdr_hex - value of a hex digit, or -1 */
static int mimehdr_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = mimehdr_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* mimehdr_fold_len - length of a line break at s[i] that a fold continues, else 0 */
static size_t mimehdr_fold_len(const char *s, size_t n, size_t i)
{
	size_t k = 0;

	if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
		k = 2;
	else if (s[i] == '\r' || s[i] == '\n')
		k = 1;
	if (k > 0 && i + k < n && (s[i + k] == ' ' || s[i + k] == '\t'))
		return k;
	return 0;
}

/*
 * mimehdr_utf8_len - length of the valid UTF-8 sequence at s (code point in
 * *cp), or 0 with *skip set to the maximal invalid subpart (Unicode 3.9 D93b),
 * so that one bad byte costs one U+FFFD and never swallows good text.
 */
static size_t mimehdr_utf8_len(const unsigned char *s, size_t n, uint32_t *cp, size_t *skip)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	*cp = c;
	*skip = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	*cp = c & (0x3fu >> need);
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || s[k] < lo || s[k] > hi) {
			*skip = k;
			return 0;
		}
		*cp = (*cp << 6) | (s[k] & 0x3fu);
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* mimehdr_clean - the last stage: valid UTF-8, tab as space, no controls */
static void mimehdr_clean(const char *s, size_t n, struct mimehdr_buf *out, unsigned *flags)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t skip;
		size_t k = mimehdr_utf8_len((const unsigned char *)s + i, n - i, &cp, &skip);

		if (k == 0) {
			mimehdr_buf_add(out, MIMEHDR_REPL, 3);
			*flags |= MIMEHDR_BAD_CHARSET;
			i += skip;
			continue;
		}
		if (cp == '\t') {
			mimehdr_buf_addc(out, ' ');
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			mimehdr_buf_add(out, MIMEHDR_REPL, 3);
			*flags |= MIMEHDR_SYNTAX;
		} else {
			mimehdr_buf_add(out, s + i, k);
		}
		i += k;
	}
}

/*
 * mimehdr_charset_norm - checked, lower-cased charset name for iconv; "?"
 * (which iconv is never asked about) when the name cannot be a charset.
 */
static void mimehdr_charset_norm(const char *cs, size_t n, char out[MIMEHDR_CHARSET_MAX + 1])
{
	static const char *const latin1[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
					     "l1"};

	strcpy(out, "?");
	if (n == 0 || n > MIMEHDR_CHARSET_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = mimehdr_lower(cs[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._:+-", c) != NULL) ||
		    c == '\0') {
			strcpy(out, "?");
			return;
		}
		out[i] = c;
	}
	out[n] = '\0';
	for (size_t i = 0; i < sizeof(latin1) / sizeof(latin1[0]); i++)
		if (strcmp(out, latin1[i]) == 0)
			strcpy(out, "windows-1252");
}

/* mimehdr_conv_close - release the cached descriptor */
static void mimehdr_conv_close(struct mimehdr_conv *cv)
{
	if (cv->cd != (iconv_t)-1)
		iconv_close(cv->cd);
	cv->cd = (iconv_t)-1;
	cv->name[0] = '\0';
}

/*
 * mimehdr_convert - append bytes in charset cs (normalized; NULL: already
 * meant as UTF-8) to out as UTF-8. Bytes that do not convert become U+FFFD.
 */
static void mimehdr_convert(struct mimehdr_conv *cv, const char *cs, const char *in, size_t n,
			    struct mimehdr_buf *out, unsigned *flags)
{
	if (cs == NULL) {
		mimehdr_buf_add(out, in, n);
		return;
	}
	if (strcmp(cv->name, cs) != 0) {
		mimehdr_conv_close(cv);
		strcpy(cv->name, cs);
		if (strcmp(cs, "?") != 0)
			cv->cd = iconv_open("UTF-8", cs);
	}
	if (cv->cd == (iconv_t)-1) {
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)in[i] < 0x80) {
				mimehdr_buf_addc(out, in[i]);
			} else {
				mimehdr_buf_add(out, MIMEHDR_REPL, 3);
				*flags |= MIMEHDR_BAD_CHARSET;
			}
		}
		return;
	}
	char *ip = (char *)in;
	size_t il = n;
	char chunk[1024];
	while (il > 0 && !out->oom && !out->full) {
		char *op = chunk;
		size_t ol = sizeof(chunk);
		size_t r = iconv(cv->cd, &ip, &il, &op, &ol);
		int err = errno;
		mimehdr_buf_add(out, chunk, (size_t)(op - chunk));
		if (r != (size_t)-1 || err == E2BIG)
			continue;
		mimehdr_buf_add(out, MIMEHDR_REPL, 3);
		*flags |= MIMEHDR_BAD_CHARSET;
		if (err == EILSEQ) {
			ip++;
			il--;
		} else {
			il = 0; /* EINVAL: a sequence cut short by the end */
		}
	}
	/* Back to the initial shift state, so the next conversion starts clean. */
	char *op = chunk;
	size_t ol = sizeof(chunk);
	(void)iconv(cv->cd, NULL, NULL, &op, &ol);
	mimehdr_buf_add(out, chunk, (size_t)(op - chunk));
}

struct mimehdr_word {
	const char *cs; /* charset, without "*language" */
	size_t cslen;
	char enc; /* 'b' or 'q' */
	const char *text;
	size_t textlen;
	size_t len; /* the whole "=?...?=" */
};

/*
 * mimehdr_word_parse - recognise "=?charset?e?text?=" at s. Each part
 * stops at the first "?", so trying every "=?" in a text stays linear.
 */
static bool mimehdr_word_parse(const char *s, size_t n, struct mimehdr_word *w)
{
	size_t i = 2;

	if (n < 2 || s[0] != '=' || s[1] != '?')
		return false;
	while (i < n && s[i] > 0x20 && s[i] < 0x7f && s[i] != '?')
		i++;
	if (i == 2 || i + 3 >= n || s[i] != '?' || s[i + 2] != '?')
		return false;
	w->cs = s + 2;
	w->cslen = i - 2;
	const char *star = memchr(w->cs, '*', w->cslen);
	if (star != NULL)
		w->cslen = (size_t)(star - w->cs);
	w->enc = mimehdr_lower(s[i + 1]);
	if (w->cslen == 0 || (w->enc != 'b' && w->enc != 'q'))
		return false;
	i += 3;
	w->text = s + i;
	while (i < n && s[i] > 0x20 && s[i] < 0x7f && s[i] != '?')
		i++;
	if (i + 1 >= n || s[i] != '?' || s[i + 1] != '=')
		return false;
	w->textlen = (size_t)(s + i - w->text);
	w->len = i + 2;
	return true;
}

/* mimehdr_word_decode - append the payload bytes; bad base64 characters are skipped */
static void mimehdr_word_decode(const struct mimehdr_word *w, struct mimehdr_buf *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < w->textlen; i++) {
		char c = w->text[i];
		if (w->enc == 'q') {
			int h, l;
			if (c == '_')
				c = ' ';
			else if (c == '=' && i + 2 < w->textlen &&
				 (h = mimehdr_hex(w->text[i + 1])) >= 0 &&
				 (l = mimehdr_hex(w->text[i + 2])) >= 0) {
				c = (char)(h * 16 + l);
				i += 2;
			}
			mimehdr_buf_addc(out, c);
			continue;
		}
		const char *p = c != '\0' ? strchr(b64, c) : NULL;
		if (p == NULL)
			continue;
		acc = (acc << 6) | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			mimehdr_buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/*
 * mimehdr_words - RFC 2047 decoding of s into out (UTF-8, not yet
 * cleaned). Literal text is copied with folds removed. Decoded bytes of
 * adjacent words in one charset are collected in run and converted together.
 */
static void mimehdr_words(struct mimehdr_buf *out, const char *s, size_t n,
			  struct mimehdr_conv *cv, unsigned *flags)
{
	struct mimehdr_buf run = {0};
	char runcs[MIMEHDR_CHARSET_MAX + 1] = "";
	bool after_word = false;
	size_t i = 0;

	while (i < n) {
		struct mimehdr_word w;
		char cs[MIMEHDR_CHARSET_MAX + 1];

		if (s[i] == '=' && mimehdr_word_parse(s + i, n - i, &w)) {
			mimehdr_charset_norm(w.cs, w.cslen, cs);
			if (runcs[0] != '\0' && strcmp(cs, runcs) != 0) {
				mimehdr_convert(cv, runcs, run.data, run.len, out, flags);
				run.len = 0;
			}
			strcpy(runcs, cs);
			mimehdr_word_decode(&w, &run);
			i += w.len;
			after_word = true;
			continue;
		}
		if (after_word && mimehdr_is_wsp(s[i])) {
			size_t j = i;
			while (j < n && mimehdr_is_wsp(s[j]))
				j++;
			if (j < n && s[j] == '=' && mimehdr_word_parse(s + j, n - j, &w)) {
				i = j; /* white space between encoded words is dropped */
				continue;
			}
		}
		if (runcs[0] != '\0') {
			mimehdr_convert(cv, runcs, run.data, run.len, out, flags);
			run.len = 0;
			runcs[0] = '\0';
		}
		after_word = false;
		size_t fold = mimehdr_fold_len(s, n, i);
		if (fold > 0) {
			i += fold;
			continue;
		}
		mimehdr_buf_addc(out, s[i]);
		i++;
	}
	if (runcs[0] != '\0')
		mimehdr_convert(cv, runcs, run.data, run.len, out, flags);
	if (run.full || out->full)
		*flags |= MIMEHDR_TRUNCATED;
	if (run.oom)
		out->oom = true;
	free(run.data);
}

/* mimehdr_pct - RFC 2231 %XX decoding; a stray "%" stays literal */
static void mimehdr_pct(const char *s, size_t n, struct mimehdr_buf *out, unsigned *flags)
{
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = mimehdr_hex(s[i + 1])) >= 0 && (l = mimehdr_hex(s[i + 2])) >= 0) {
			mimehdr_buf_addc(out, (char)(h * 16 + l));
			i += 2;
			continue;
		}
		if (s[i] == '%')
			*flags |= MIMEHDR_BAD_2231;
		mimehdr_buf_addc(out, s[i]);
	}
}

/*
 * mimehdr_ext_split - split "charset'language'text" (RFC 2231). Without
 * both quotes the whole value is text and there is no charset.
 */
static void mimehdr_ext_split(const char *s, size_t n, char cs[MIMEHDR_CHARSET_MAX + 1],
			      const char **text, size_t *tlen, unsigned *flags)
{
	const char *q1 = memchr(s, '\'', n);
	const char *q2 = q1 != NULL ? memchr(q1 + 1, '\'', (size_t)(s + n - q1 - 1)) : NULL;

	cs[0] = '\0';
	*text = s;
	*tlen = n;
	if (q2 == NULL) {
		*flags |= MIMEHDR_BAD_2231;
		return;
	}
	if (q1 > s)
		mimehdr_charset_norm(s, (size_t)(q1 - s), cs);
	*text = q2 + 1;
	*tlen = (size_t)(s + n - q2 - 1);
}

/* mimehdr_skip_comment - past the (nested) comment at s[i] */
static size_t mimehdr_skip_comment(struct mimehdr_ctx *c, size_t i)
{
	size_t depth = 0;

	for (; i < c->n; i++) {
		if (c->s[i] == '\\')
			i++;
		else if (c->s[i] == '(')
			depth++;
		else if (c->s[i] == ')' && --depth == 0)
			return i + 1;
	}
	c->flags |= MIMEHDR_SYNTAX;
	return c->n;
}

/* mimehdr_skip_cfws - past white space and comments */
static size_t mimehdr_skip_cfws(struct mimehdr_ctx *c, size_t i)
{
	while (i < c->n) {
		if (mimehdr_is_wsp(c->s[i]))
			i++;
		else if (c->s[i] == '(')
			i = mimehdr_skip_comment(c, i);
		else
			break;
	}
	return i;
}

/* mimehdr_read_quoted - the quoted string at s[i] into v; folds removed */
static size_t mimehdr_read_quoted(struct mimehdr_ctx *c, size_t i, struct mimehdr_buf *v)
{
	for (i++; i < c->n; i++) {
		char ch = c->s[i];
		size_t fold;
		if (ch == '"')
			return i + 1;
		if (ch == '\\') {
			if (++i == c->n)
				break;
			ch = c->s[i];
		} else if ((fold = mimehdr_fold_len(c->s, c->n, i)) > 0) {
			i += fold - 1;
			continue;
		}
		mimehdr_buf_addc(v, ch);
	}
	c->flags |= MIMEHDR_SYNTAX;
	return c->n;
}

/* mimehdr_skip_garbage - to the next ";" outside quotes and comments */
static size_t mimehdr_skip_garbage(struct mimehdr_ctx *c, size_t i)
{
	struct mimehdr_buf scratch = {0};

	c->flags |= MIMEHDR_SYNTAX;
	while (i < c->n && c->s[i] != ';') {
		if (c->s[i] == '"') {
			i = mimehdr_read_quoted(c, i, &scratch);
			scratch.len = 0;
		} else if (c->s[i] == '(') {
			i = mimehdr_skip_comment(c, i);
		} else {
			i++;
		}
	}
	if (scratch.oom)
		c->oom = true;
	free(scratch.data);
	return i;
}

/* mimehdr_read_bare - an unquoted value, up to ";" (see the top of this file) */
static size_t mimehdr_read_bare(struct mimehdr_ctx *c, size_t i, struct mimehdr_buf *v)
{
	bool space = false;

	while (i < c->n && c->s[i] != ';') {
		char ch = c->s[i];
		if (mimehdr_is_wsp(ch)) {
			space = true;
			i++;
			continue;
		}
		if (ch == '(') {
			i = mimehdr_skip_comment(c, i);
			continue;
		}
		if (space) {
			mimehdr_buf_addc(v, ' ');
			c->flags |= MIMEHDR_SYNTAX;
			space = false;
		}
		if (!mimehdr_is_token(ch))
			c->flags |= MIMEHDR_SYNTAX;
		mimehdr_buf_addc(v, ch);
		i++;
	}
	return i;
}

/* mimehdr_read_token - the type/subtype or disposition type, lower-cased */
static size_t mimehdr_read_token(struct mimehdr_ctx *c, size_t i, struct mimehdr_buf *t)
{
	bool gap = false;

	i = mimehdr_skip_cfws(c, i);
	while (i < c->n && c->s[i] != ';') {
		char ch = c->s[i];
		if (mimehdr_is_wsp(ch) || ch == '(') {
			i = mimehdr_skip_cfws(c, i);
			gap = true;
			continue;
		}
		bool joins = t->len == 0 || !gap || ch == '/' || t->data[t->len - 1] == '/';
		if ((!mimehdr_is_token(ch) && ch != '/') || !joins)
			return mimehdr_skip_garbage(c, i);
		mimehdr_buf_addc(t, mimehdr_lower(ch));
		gap = false;
		i++;
	}
	return i;
}

/* mimehdr_group_find - the group for a base name, created if there is room */
static struct mimehdr_group *mimehdr_group_find(struct mimehdr_ctx *c, const char *name,
						size_t len)
{
	for (size_t g = 0; g < c->ngroups; g++) {
		struct mimehdr_group *grp = &c->groups[g];
		size_t k = 0;
		if (grp->name_len != len)
			continue;
		while (k < len && grp->name[k] == mimehdr_lower(name[k]))
			k++;
		if (k == len)
			return grp;
	}
	if (c->ngroups == MIMEHDR_MAX_PARAMS) {
		c->flags |= MIMEHDR_TRUNCATED;
		return NULL;
	}
	struct mimehdr_group *grp = &c->groups[c->ngroups];
	memset(grp, 0, sizeof(*grp));
	grp->name = mimehdr_memdup(name, len);
	if (grp->name == NULL) {
		c->oom = true;
		return NULL;
	}
	for (size_t k = 0; k < len; k++)
		grp->name[k] = mimehdr_lower(grp->name[k]);
	grp->name_len = len;
	c->ngroups++;
	return grp;
}

/* mimehdr_store - keep the first of duplicate values */
static void mimehdr_store(struct mimehdr_ctx *c, bool *set, char **dst, size_t *dlen,
			  const struct mimehdr_buf *v)
{
	if (*set) {
		c->flags |= MIMEHDR_DUP_PARAM;
		return;
	}
	*dst = mimehdr_memdup(v->data, v->len);
	*dlen = v->len;
	*set = *dst != NULL;
	if (*dst == NULL)
		c->oom = true;
}

/*
 * mimehdr_param_add - file one "name=value" under its base name: plain,
 * "name*" (extended), or section N of "name*N" / "name*N*".
 */
static void mimehdr_param_add(struct mimehdr_ctx *c, const char *name, size_t nlen,
			      const struct mimehdr_buf *v)
{
	const char *star = memchr(name, '*', nlen);
	size_t blen = nlen, sect = 0, digits = 0;
	enum { PLAIN, EXT, SECT } kind = PLAIN;
	bool enc = false;

	if (star != NULL) {
		const char *p = star + 1, *end = name + nlen;
		for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 10)
				sect = sect * 10 + (size_t)(*p - '0');
		if (p == end && digits == 0) {
			kind = EXT;
		} else if (digits > 0 && (p == end || (p + 1 == end && *p == '*'))) {
			kind = SECT;
			enc = p != end;
			if (digits > 1 && star[1] == '0')
				c->flags |= MIMEHDR_BAD_2231;
			if (digits > 9 || sect >= MIMEHDR_MAX_SECTIONS) {
				c->flags |= MIMEHDR_TRUNCATED;
				return;
			}
		} else {
			c->flags |= MIMEHDR_BAD_2231; /* kept under its whole name */
		}
		if (kind != PLAIN)
			blen = (size_t)(star - name);
	}
	if (blen == 0) {
		c->flags |= MIMEHDR_SYNTAX;
		return;
	}
	struct mimehdr_group *g = mimehdr_group_find(c, name, blen);
	if (g == NULL)
		return;
	if (kind == PLAIN) {
		mimehdr_store(c, &g->has_plain, &g->plain, &g->plain_len, v);
	} else if (kind == EXT) {
		g->ext_first = g->ext_first || (!g->has_ext && g->nsect == 0);
		mimehdr_store(c, &g->has_ext, &g->ext, &g->ext_len, v);
	} else {
		if (g->sect == NULL && (g->sect = calloc(MIMEHDR_MAX_SECTIONS, sizeof(*g->sect))) == NULL) {
			c->oom = true;
			return;
		}
		struct mimehdr_sect *sc = &g->sect[sect];
		bool was = sc->set;
		mimehdr_store(c, &sc->set, &sc->raw, &sc->len, v);
		if (!was && sc->set) {
			sc->enc = enc;
			g->nsect++;
		}
	}
}

/*
 * mimehdr_sections - join "name*0", "name*1" ... in numeric order. The
 * charset comes from an encoded section 0; plain sections are taken as is.
 */
static void mimehdr_sections(struct mimehdr_ctx *c, struct mimehdr_group *g, bool words,
			     struct mimehdr_buf *raw)
{
	struct mimehdr_buf joined = {0};
	char cs[MIMEHDR_CHARSET_MAX + 1] = "";
	bool any_enc = false;
	size_t seen = 0;

	for (size_t k = 0; k < MIMEHDR_MAX_SECTIONS && seen < g->nsect; k++) {
		const struct mimehdr_sect *sc = &g->sect[k];
		if (!sc->set) {
			c->flags |= MIMEHDR_BAD_2231; /* a gap, or no section 0 */
			continue;
		}
		seen++;
		if (!sc->enc) {
			mimehdr_buf_add(&joined, sc->raw, sc->len);
			continue;
		}
		const char *text = sc->raw;
		size_t tlen = sc->len;
		if (k == 0)
			mimehdr_ext_split(sc->raw, sc->len, cs, &text, &tlen, &c->flags);
		mimehdr_pct(text, tlen, &joined, &c->flags);
		any_enc = true;
	}
	if (any_enc)
		mimehdr_convert(&c->conv, cs[0] != '\0' ? cs : NULL, joined.data, joined.len, raw,
				&c->flags);
	else if (words)
		mimehdr_words(raw, joined.data, joined.len, &c->conv, &c->flags);
	else
		mimehdr_buf_add(raw, joined.data, joined.len);
	if (joined.full)
		c->flags |= MIMEHDR_TRUNCATED;
	if (joined.oom)
		raw->oom = true;
	free(joined.data);
}

/* mimehdr_group_value - the final UTF-8 value; RFC 2231 forms win over plain */
static char *mimehdr_group_value(struct mimehdr_ctx *c, struct mimehdr_group *g)
{
	struct mimehdr_buf raw = {0}, out = {0};
	bool words = strcmp(g->name, "boundary") != 0;

	if (g->has_ext && g->nsect > 0)
		c->flags |= MIMEHDR_DUP_PARAM;
	if (g->has_ext && (g->nsect == 0 || g->ext_first)) {
		struct mimehdr_buf bytes = {0};
		char cs[MIMEHDR_CHARSET_MAX + 1];
		const char *text;
		size_t tlen;
		mimehdr_ext_split(g->ext, g->ext_len, cs, &text, &tlen, &c->flags);
		mimehdr_pct(text, tlen, &bytes, &c->flags);
		mimehdr_convert(&c->conv, cs[0] != '\0' ? cs : NULL, bytes.data, bytes.len, &raw,
				&c->flags);
		if (bytes.oom)
			raw.oom = true;
		free(bytes.data);
	} else if (g->nsect > 0) {
		mimehdr_sections(c, g, words, &raw);
	} else if (words) {
		mimehdr_words(&raw, g->plain, g->plain_len, &c->conv, &c->flags);
	} else {
		mimehdr_buf_add(&raw, g->plain, g->plain_len);
	}
	mimehdr_clean(raw.data, raw.len, &out, &c->flags);
	if (raw.full || out.full)
		c->flags |= MIMEHDR_TRUNCATED;
	if (raw.oom)
		out.oom = true;
	free(raw.data);
	return mimehdr_buf_take(&out);
}

/* mimehdr_group_free - release one group's raw values */
static void mimehdr_group_free(struct mimehdr_group *g)
{
	free(g->name);
	free(g->plain);
	free(g->ext);
	if (g->sect != NULL)
		for (size_t k = 0; k < MIMEHDR_MAX_SECTIONS; k++)
			free(g->sect[k].raw);
	free(g->sect);
}

/* mimehdr_read_params - every "; name=value" from s[i] on */
static void mimehdr_read_params(struct mimehdr_ctx *c, size_t i)
{
	struct mimehdr_buf v = {0};

	while (i < c->n && !c->oom) {
		i = mimehdr_skip_cfws(c, i + 1); /* past the ";" */
		if (i >= c->n)
			break;
		if (c->s[i] == ';') {
			c->flags |= MIMEHDR_SYNTAX;
			continue;
		}
		size_t name = i;
		while (i < c->n && mimehdr_is_token(c->s[i]))
			i++;
		size_t nlen = i - name;
		i = mimehdr_skip_cfws(c, i);
		if (nlen == 0 || i >= c->n || c->s[i] != '=') {
			i = mimehdr_skip_garbage(c, i);
			continue;
		}
		i = mimehdr_skip_cfws(c, i + 1);
		v.len = 0;
		if (i < c->n && c->s[i] == '"') {
			i = mimehdr_skip_cfws(c, mimehdr_read_quoted(c, i, &v));
			if (i < c->n && c->s[i] != ';')
				i = mimehdr_skip_garbage(c, i);
		} else {
			i = mimehdr_read_bare(c, i, &v);
			if (v.len == 0) {
				c->flags |= MIMEHDR_SYNTAX;
				continue;
			}
		}
		if (v.oom)
			c->oom = true;
		else
			mimehdr_param_add(c, c->s + name, nlen, &v);
	}
	if (v.oom)
		c->oom = true;
	free(v.data);
}

/* mimehdr_parse - see mimehdr.h */
int mimehdr_parse(const char *value, size_t len, struct mimehdr_field *out)
{
	struct mimehdr_ctx *c = calloc(1, sizeof(*c));
	struct mimehdr_buf tok = {0};

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return -1;
	c->s = value != NULL ? value : "";
	c->n = value != NULL ? len : 0;
	c->conv.cd = (iconv_t)-1;
	if (c->n > MIMEHDR_MAX_FIELD) {
		c->n = MIMEHDR_MAX_FIELD;
		c->flags |= MIMEHDR_TRUNCATED;
	}
	mimehdr_read_params(c, mimehdr_read_token(c, 0, &tok));
	out->token = mimehdr_buf_take(&tok);
	if (c->ngroups > 0 && out->token != NULL && !c->oom)
		out->params = calloc(c->ngroups, sizeof(*out->params));
	bool ok = out->token != NULL && !c->oom && (c->ngroups == 0 || out->params != NULL);
	for (size_t g = 0; g < c->ngroups; g++) {
		if (ok) {
			struct mimehdr_param *p = &out->params[out->nparams];
			p->value = mimehdr_group_value(c, &c->groups[g]);
			p->name = c->groups[g].name;
			c->groups[g].name = NULL;
			out->nparams++;
			ok = p->value != NULL;
		}
		mimehdr_group_free(&c->groups[g]);
	}
	out->flags = c->flags;
	mimehdr_conv_close(&c->conv);
	free(c);
	if (!ok) {
		mimehdr_field_free(out);
		return -1;
	}
	return 0;
}

/* mimehdr_param - see mimehdr.h; names compare without regard to case */
const char *mimehdr_param(const struct mimehdr_field *f, const char *name)
{
	if (f == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < f->nparams; i++) {
		const char *a = f->params[i].name, *b = name;
		while (*a != '\0' && mimehdr_lower(*a) == mimehdr_lower(*b)) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return f->params[i].value;
	}
	return NULL;
}

/* mimehdr_field_free - see mimehdr.h; leaves the field empty, safe to free again */
void mimehdr_field_free(struct mimehdr_field *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nparams; i++) {
		free(f->params[i].name);
		free(f->params[i].value);
	}
	free(f->params);
	free(f->token);
	memset(f, 0, sizeof(*f));
}

/* mimehdr_decode_words - see mimehdr.h */
char *mimehdr_decode_words(const char *text, size_t len)
{
	struct mimehdr_conv cv = {.cd = (iconv_t)-1};
	struct mimehdr_buf raw = {0}, out = {0};
	unsigned flags = 0;

	if (text == NULL)
		len = 0;
	if (len > MIMEHDR_MAX_FIELD)
		len = MIMEHDR_MAX_FIELD;
	mimehdr_words(&raw, text, len, &cv, &flags);
	mimehdr_conv_close(&cv);
	mimehdr_clean(raw.data, raw.len, &out, &flags);
	if (raw.oom)
		out.oom = true;
	free(raw.data);
	return mimehdr_buf_take(&out);
}
