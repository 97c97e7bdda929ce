/*
 * mimehdr - MIME header field values. See mimehdr.h for the contract.
 *
 * Each value passes three stages: the lexer (quotes, escapes, comments,
 * folds) gives raw bytes; RFC 2231 or RFC 2047 decoding and iconv give
 * UTF-8; a last pass (mimehdr_clean) makes it valid UTF-8 without control
 * characters, whatever the earlier stages let through.
 *
 * Details the header leaves open:
 *  - The token is the first word of token characters and "/", with white
 *    space and comments allowed only next to the "/" ("text / plain").
 *    Anything else before the first ";" is skipped with MIMEHDR_SYNTAX.
 *  - A bare value runs to the next ";", comments removed, inner white
 *    space as one space: lenient clients read "filename=my file.exe" as
 *    one name, and so do we, with MIMEHDR_SYNTAX (as for tspecials in a
 *    bare value). "name=" without a value is skipped.
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

/* One raw value as read: plain, "name*", or one section of "name*N". */
struct mimehdr_slot {
	char *raw;
	size_t len;
	bool set;
	bool enc; /* %XX-encoded: "name*" or "name*N*" */
};

/* Everything seen for one parameter name, in its plain and RFC 2231 forms. */
struct mimehdr_group {
	char *name;
	size_t name_len;
	struct mimehdr_slot plain;
	struct mimehdr_slot plain_last; /* the last of duplicate plain values */
	struct mimehdr_slot ext;   /* "name*" */
	struct mimehdr_slot *sect; /* MIMEHDR_MAX_SECTIONS, allocated on first use */
	size_t nsect;
	bool ext_first; /* "name*" came before any "name*N" */
};

struct mimehdr_ctx {
	const char *s;
	size_t n;
	unsigned flags;
	bool oom;
	struct mimehdr_group groups[MIMEHDR_MAX_PARAMS];
	size_t ngroups;
};

/* mimehdr_buf_add - append bytes, dropping what exceeds the limit */
static void mimehdr_buf_add(struct mimehdr_buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (n > MIMEHDR_BUF_LIMIT - b->len) {
		b->full = true;
		n = MIMEHDR_BUF_LIMIT - b->len;
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

/* mimehdr_buf_take - hand over the string ("" if empty; NULL if out of memory) */
static char *mimehdr_buf_take(struct mimehdr_buf *b)
{
	char *s = b->oom ? NULL : b->data != NULL ? b->data : calloc(1, 1);

	if (b->oom)
		free(b->data);
	*b = (struct mimehdr_buf){0};
	return s;
}

/* mimehdr_memdup - NUL-terminated copy of n bytes */
static char *mimehdr_memdup(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL && n > 0)
		memcpy(s, p, n);
	if (s != NULL)
		s[n] = '\0';
	return s;
}

/* mimehdr_lower - ASCII only: the locale must not change what a name means */
static char mimehdr_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* mimehdr_name_eq - names compare without regard to (ASCII) case */
static bool mimehdr_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t k = 0;

	while (alen == blen && k < alen && mimehdr_lower(a[k]) == mimehdr_lower(b[k]))
		k++;
	return alen == blen && k == alen;
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
	static const char digits[] = "0123456789abcdef";
	const char *p = c != '\0' ? strchr(digits, mimehdr_lower(c)) : NULL;

	return p != NULL ? (int)(p - digits) : -1;
}

/* mimehdr_fold_len - length of a line break at s[i] that a fold continues, else 0 */
static size_t mimehdr_fold_len(const char *s, size_t n, size_t i)
{
	size_t k = (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2
		   : (s[i] == '\r' || s[i] == '\n')		 ? 1
								 : 0;

	return k > 0 && i + k < n && (s[i + k] == ' ' || s[i + k] == '\t') ? k : 0;
}

/*
 * mimehdr_utf8_len - length of the valid UTF-8 sequence at s (code point in
 * *cp), or 0 with *skip set to the maximal invalid subpart (Unicode 3.9 D93b),
 * so that one bad byte costs one U+FFFD and never swallows good text.
 */
static size_t mimehdr_utf8_len(const unsigned char *s, size_t n, uint32_t *cp, size_t *skip)
{
	unsigned char c = s[0];
	unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80; /* overlongs */
	unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf; /* surrogates, > U+10FFFF */
	size_t need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;

	*cp = c;
	*skip = 1;
	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
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
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz0123456789._:+-";

	strcpy(out, "?");
	if (n == 0 || n > MIMEHDR_CHARSET_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		out[i] = mimehdr_lower(cs[i]);
		if (out[i] == '\0' || strchr(ok, out[i]) == NULL) {
			strcpy(out, "?");
			return;
		}
	}
	out[n] = '\0';
	for (size_t i = 0; i < sizeof(latin1) / sizeof(latin1[0]); i++)
		if (strcmp(out, latin1[i]) == 0)
			strcpy(out, "windows-1252");
}

/*
 * mimehdr_convert - append bytes in charset cs (normalized; NULL: already
 * meant as UTF-8) to out as UTF-8. Bytes that do not convert become U+FFFD.
 * A descriptor per conversion: adjacent words in one charset are already
 * converted together, and nothing is shared between threads.
 */
static void mimehdr_convert(const char *cs, const char *in, size_t n, struct mimehdr_buf *out,
			    unsigned *flags)
{
	iconv_t cd = (iconv_t)-1;
	char *ip = (char *)in, chunk[1024];
	size_t il = n;

	/* EINVAL: a charset iconv does not know. Anything else (ENOMEM) must not
	 * pass for an unknown charset, or the caller would get U+FFFD for text. */
	if (cs != NULL && strcmp(cs, "?") != 0 && (cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		out->oom = out->oom || errno != EINVAL;

	for (size_t i = 0; cd == (iconv_t)-1 && i < n; i++) {
		bool keep = cs == NULL || (unsigned char)in[i] < 0x80;
		mimehdr_buf_add(out, keep ? in + i : MIMEHDR_REPL, keep ? 1 : 3);
		*flags |= keep ? 0 : MIMEHDR_BAD_CHARSET;
	}
	while (cd != (iconv_t)-1 && il > 0 && !out->oom && !out->full) {
		char *op = chunk;
		size_t ol = sizeof(chunk);
		size_t r = iconv(cd, &ip, &il, &op, &ol);
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
	if (cd != (iconv_t)-1)
		iconv_close(cd);
}

/*
 * mimehdr_unescape - append s with esc+2 hex digits decoded (RFC 2231 "%",
 * Q "=", which also reads "_" as a space); a stray esc stays literal.
 * Returns whether one did.
 */
static bool mimehdr_unescape(const char *s, size_t n, char esc, struct mimehdr_buf *out)
{
	bool stray = false;

	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == esc && i + 2 < n && (h = mimehdr_hex(s[i + 1])) >= 0 &&
		    (l = mimehdr_hex(s[i + 2])) >= 0) {
			mimehdr_buf_addc(out, (char)(h * 16 + l));
			i += 2;
			continue;
		}
		stray = stray || s[i] == esc;
		mimehdr_buf_addc(out, s[i] == '_' && esc == '=' ? ' ' : s[i]);
	}
	return stray;
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

	if (w->enc == 'q') {
		(void)mimehdr_unescape(w->text, w->textlen, '=', out);
		return;
	}
	for (size_t i = 0; i < w->textlen; i++) {
		const char *p = w->text[i] != '\0' ? strchr(b64, w->text[i]) : NULL;
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
			  unsigned *flags)
{
	struct mimehdr_buf run = {0};
	char runcs[MIMEHDR_CHARSET_MAX + 1] = "";
	bool after_word = false;

	for (size_t i = 0; i <= n;) {
		struct mimehdr_word w;
		char cs[MIMEHDR_CHARSET_MAX + 1] = "";
		size_t j = i;

		while (after_word && j < n && mimehdr_is_wsp(s[j]))
			j++; /* dropped if another encoded word follows */
		bool word = j < n && s[j] == '=' && mimehdr_word_parse(s + j, n - j, &w);
		if (word)
			mimehdr_charset_norm(w.cs, w.cslen, cs);
		if (runcs[0] != '\0' && (!word || strcmp(cs, runcs) != 0)) {
			mimehdr_convert(runcs, run.data, run.len, out, flags);
			run.len = 0;
			runcs[0] = '\0';
		}
		if (i == n)
			break;
		after_word = word;
		if (word) {
			strcpy(runcs, cs);
			mimehdr_word_decode(&w, &run);
			i = j + w.len;
			continue;
		}
		size_t fold = mimehdr_fold_len(s, n, i);
		if (fold == 0)
			mimehdr_buf_addc(out, s[i]);
		i += fold > 0 ? fold : 1;
	}
	if (run.full || out->full)
		*flags |= MIMEHDR_TRUNCATED;
	out->oom = out->oom || run.oom;
	free(run.data);
}

/* mimehdr_skip_comment - past the (nested) comment at s[i]; no recursion */
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
	while (i < c->n && (mimehdr_is_wsp(c->s[i]) || c->s[i] == '('))
		i = c->s[i] == '(' ? mimehdr_skip_comment(c, i) : i + 1;
	return i;
}

/* mimehdr_read_quoted - the quoted string at s[i] into v (if not NULL), unfolded */
static size_t mimehdr_read_quoted(struct mimehdr_ctx *c, size_t i, struct mimehdr_buf *v)
{
	for (i++; i < c->n; i++) {
		size_t fold;
		if (c->s[i] == '"')
			return i + 1;
		if (c->s[i] == '\\') {
			if (++i == c->n)
				break;
		} else if ((fold = mimehdr_fold_len(c->s, c->n, i)) > 0) {
			i += fold - 1;
			continue;
		}
		if (v != NULL)
			mimehdr_buf_addc(v, c->s[i]);
	}
	c->flags |= MIMEHDR_SYNTAX;
	return c->n;
}

/* mimehdr_skip_garbage - to the next ";" outside quotes and comments */
static size_t mimehdr_skip_garbage(struct mimehdr_ctx *c, size_t i)
{
	c->flags |= MIMEHDR_SYNTAX;
	while (i < c->n && c->s[i] != ';') {
		if (c->s[i] == '"')
			i = mimehdr_read_quoted(c, i, NULL);
		else if (c->s[i] == '(')
			i = mimehdr_skip_comment(c, i);
		else
			i++;
	}
	return i;
}

/* mimehdr_read_bare - an unquoted value, up to ";" (see the top of this file) */
static size_t mimehdr_read_bare(struct mimehdr_ctx *c, size_t i, struct mimehdr_buf *v)
{
	bool space = false;

	while (i < c->n && c->s[i] != ';') {
		char ch = c->s[i];
		if (mimehdr_is_wsp(ch) || ch == '(') {
			space = space || ch != '(';
			i = ch == '(' ? mimehdr_skip_comment(c, i) : i + 1;
			continue;
		}
		if (space)
			mimehdr_buf_addc(v, ' ');
		if (space || !mimehdr_is_token(ch))
			c->flags |= MIMEHDR_SYNTAX;
		space = false;
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
	for (size_t g = 0; g < c->ngroups; g++)
		if (mimehdr_name_eq(c->groups[g].name, c->groups[g].name_len, name, len))
			return &c->groups[g];
	if (c->ngroups == MIMEHDR_MAX_PARAMS) {
		c->flags |= MIMEHDR_TRUNCATED;
		return NULL;
	}
	struct mimehdr_group *grp = &c->groups[c->ngroups];
	if ((grp->name = mimehdr_memdup(name, len)) == NULL) {
		c->oom = true;
		return NULL;
	}
	for (size_t k = 0; k < len; k++)
		grp->name[k] = mimehdr_lower(grp->name[k]);
	grp->name_len = len;
	c->ngroups++;
	return grp;
}

/* mimehdr_store - fill a slot; the first of duplicate values is kept */
static bool mimehdr_store(struct mimehdr_ctx *c, struct mimehdr_slot *slot,
			  const struct mimehdr_buf *v, bool enc)
{
	if (slot->set) {
		c->flags |= MIMEHDR_DUP_PARAM;
		return false;
	}
	if ((slot->raw = mimehdr_memdup(v->data, v->len)) == NULL) {
		c->oom = true;
		return false;
	}
	slot->len = v->len;
	slot->enc = enc;
	slot->set = true;
	return true;
}

/*
 * mimehdr_param_add - file one "name=value" under its base name: plain,
 * "name*" (extended), or section N of "name*N" / "name*N*".
 */
static void mimehdr_param_add(struct mimehdr_ctx *c, const char *name, size_t nlen,
			      const struct mimehdr_buf *v)
{
	const char *star = memchr(name, '*', nlen), *end = name + nlen, *p = end;
	size_t sect = 0, digits = 0;

	if (star != NULL) {
		for (p = star + 1; p < end && *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 10)
				sect = sect * 10 + (size_t)(*p - '0');
		bool tail = p == end || (digits > 0 && p + 1 == end && *p == '*');
		if (!tail) {
			c->flags |= MIMEHDR_BAD_2231; /* kept as a plain name, star and all */
			star = NULL;
		} else if (digits > 9 || sect >= MIMEHDR_MAX_SECTIONS) {
			c->flags |= MIMEHDR_TRUNCATED;
			return;
		} else if (digits > 1 && star[1] == '0') {
			c->flags |= MIMEHDR_BAD_2231;
		}
	}
	size_t blen = star != NULL ? (size_t)(star - name) : nlen;
	if (blen == 0) {
		c->flags |= MIMEHDR_SYNTAX;
		return;
	}
	struct mimehdr_group *g = mimehdr_group_find(c, name, blen);
	if (g == NULL)
		return;
	if (star == NULL && g->plain.set) {
		/* Some clients take the last of duplicates: keep it as a reading too. */
		c->flags |= MIMEHDR_DUP_PARAM;
		free(g->plain_last.raw);
		g->plain_last.set = false;
		mimehdr_store(c, &g->plain_last, v, false);
	} else if (star == NULL) {
		mimehdr_store(c, &g->plain, v, false);
	} else if (digits == 0) {
		g->ext_first = g->ext_first || (!g->ext.set && g->nsect == 0);
		mimehdr_store(c, &g->ext, v, true);
	} else if (g->sect == NULL &&
		   (g->sect = calloc(MIMEHDR_MAX_SECTIONS, sizeof(*g->sect))) == NULL) {
		c->oom = true;
	} else if (mimehdr_store(c, &g->sect[sect], v, p != end)) {
		g->nsect++;
	}
}

/*
 * mimehdr_join - the UTF-8 bytes of slots[0..n) joined in order: %XX
 * decoding for encoded slots, the charset from an encoded slot 0, RFC 2047
 * if nothing was encoded (and words is set), MIMEHDR_BAD_2231 for a gap.
 */
static void mimehdr_join(struct mimehdr_ctx *c, const struct mimehdr_slot *slots, size_t n,
			 size_t nset, bool words, struct mimehdr_buf *raw)
{
	struct mimehdr_buf joined = {0};
	char cs[MIMEHDR_CHARSET_MAX + 1] = "";
	bool any_enc = false;

	for (size_t k = 0, seen = 0; k < n && seen < nset; k++) {
		const char *text = slots[k].raw;
		size_t tlen = slots[k].len;
		if (!slots[k].set) {
			c->flags |= MIMEHDR_BAD_2231;
			continue;
		}
		seen++;
		if (!slots[k].enc) {
			mimehdr_buf_add(&joined, text, tlen);
			continue;
		}
		const char *q1 = k == 0 ? memchr(text, '\'', tlen) : NULL;
		const char *q2 = q1 != NULL ? memchr(q1 + 1, '\'', tlen - (size_t)(q1 + 1 - text)) : NULL;
		if (k == 0 && q2 == NULL) {
			c->flags |= MIMEHDR_BAD_2231; /* no charset'language' */
		} else if (k == 0) {
			if (q1 > text)
				mimehdr_charset_norm(text, (size_t)(q1 - text), cs);
			tlen -= (size_t)(q2 + 1 - text);
			text = q2 + 1;
		}
		if (mimehdr_unescape(text, tlen, '%', &joined))
			c->flags |= MIMEHDR_BAD_2231;
		any_enc = true;
	}
	if (any_enc)
		mimehdr_convert(cs[0] != '\0' ? cs : NULL, joined.data, joined.len, raw,
				&c->flags);
	else if (words)
		mimehdr_words(raw, joined.data, joined.len, &c->flags);
	else
		mimehdr_buf_add(raw, joined.data, joined.len);
	raw->oom = raw->oom || joined.oom;
	free(joined.data);
}

/* mimehdr_slots_value - joined, converted and cleaned value of some slots */
static char *mimehdr_slots_value(struct mimehdr_ctx *c, const struct mimehdr_slot *slots, size_t n,
				 size_t nset, bool words)
{
	struct mimehdr_buf raw = {0}, out = {0};
	mimehdr_join(c, slots, n, nset, words, &raw);
	mimehdr_clean(raw.data, raw.len, &out, &c->flags);
	if (raw.full || out.full)
		c->flags |= MIMEHDR_TRUNCATED;
	out.oom = out.oom || raw.oom;
	free(raw.data);
	return mimehdr_buf_take(&out);
}

/*
 * mimehdr_group_values - every reading of one parameter, the preferred one
 * first: an RFC 2231 form wins over a plain one, and the first of
 * duplicates over the last. The others follow, because a client that does
 * not know RFC 2231, or takes the last duplicate, sees them instead, and a
 * banned-name check must see what any client sees. Returns how many values
 * were stored in v (at most 4), or -1 when out of memory.
 */
static int mimehdr_group_values(struct mimehdr_ctx *c, struct mimehdr_group *g, char *v[4])
{
	bool words = strcmp(g->name, "boundary") != 0;
	int n = 0;
	bool ext_wins = g->ext.set && (g->nsect == 0 || g->ext_first);

	if (g->ext.set && g->nsect > 0)
		c->flags |= MIMEHDR_DUP_PARAM;
	if (ext_wins)
		v[n++] = mimehdr_slots_value(c, &g->ext, 1, 1, words);
	if (g->nsect > 0)
		v[n++] = mimehdr_slots_value(c, g->sect, MIMEHDR_MAX_SECTIONS, g->nsect, words);
	if (g->ext.set && !ext_wins)
		v[n++] = mimehdr_slots_value(c, &g->ext, 1, 1, words);
	if (g->plain.set || n == 0)
		v[n++] = mimehdr_slots_value(c, &g->plain, 1, 1, words);
	if (g->plain_last.set)
		v[n++] = mimehdr_slots_value(c, &g->plain_last, 1, 1, words);
	int kept = 0;
	bool oom = false;
	for (int k = 0; k < n; k++) {
		bool dup = false;
		for (int j = 0; v[k] && j < kept; j++)
			dup = dup || strcmp(v[j], v[k]) == 0;
		oom = oom || v[k] == NULL;
		if (v[k] == NULL || dup)
			free(v[k]);
		else
			v[kept++] = v[k];
	}
	if (oom) {
		for (int k = 0; k < kept; k++)
			free(v[k]);
		return -1;
	}
	return kept;
}

/* mimehdr_group_free - release one group's raw values */
static void mimehdr_group_free(struct mimehdr_group *g)
{
	for (size_t k = 0; g->sect != NULL && k < MIMEHDR_MAX_SECTIONS; k++)
		free(g->sect[k].raw);
	free(g->sect);
	free(g->name);
	free(g->plain.raw);
	free(g->plain_last.raw);
	free(g->ext.raw);
}

/* mimehdr_read_params - every "; name=value" from s[i] on; v is scratch */
static void mimehdr_read_params(struct mimehdr_ctx *c, size_t i, struct mimehdr_buf *v)
{
	while (i < c->n && !c->oom) {
		i = mimehdr_skip_cfws(c, i + 1); /* past the ";" */
		if (i < c->n && c->s[i] == ';')
			c->flags |= MIMEHDR_SYNTAX;
		if (i >= c->n || c->s[i] == ';')
			continue;
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
		v->len = 0;
		if (i < c->n && c->s[i] == '"') {
			i = mimehdr_skip_cfws(c, mimehdr_read_quoted(c, i, v));
			if (i < c->n && c->s[i] != ';')
				i = mimehdr_skip_garbage(c, i);
		} else {
			i = mimehdr_read_bare(c, i, v);
			if (v->len == 0) {
				c->flags |= MIMEHDR_SYNTAX;
				continue;
			}
		}
		c->oom = c->oom || v->oom;
		if (!c->oom)
			mimehdr_param_add(c, c->s + name, nlen, v);
	}
}

/* mimehdr_parse - see mimehdr.h */
int mimehdr_parse(const char *value, size_t len, struct mimehdr_field *out)
{
	struct mimehdr_ctx *c = calloc(1, sizeof(*c));
	struct mimehdr_buf tok = {0}, v = {0};

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return -1;
	c->s = value != NULL ? value : "";
	c->n = value != NULL ? len : 0;
	if (c->n > MIMEHDR_MAX_FIELD) {
		c->n = MIMEHDR_MAX_FIELD;
		c->flags |= MIMEHDR_TRUNCATED;
	}
	mimehdr_read_params(c, mimehdr_read_token(c, 0, &tok), &v);
	free(v.data);
	out->token = mimehdr_buf_take(&tok);
	if (c->ngroups > 0)
		out->params = calloc(c->ngroups * 4, sizeof(*out->params));
	bool ok = out->token != NULL && !c->oom && !v.oom && (c->ngroups == 0 || out->params);
	for (size_t g = 0; g < c->ngroups; g++) {
		char *vals[4];
		int n = ok ? mimehdr_group_values(c, &c->groups[g], vals) : 0;
		ok = ok && n >= 0;
		for (int k = 0; ok && k < n; k++) {
			struct mimehdr_param *p = &out->params[out->nparams++];
			p->value = vals[k];
			p->name = strdup(c->groups[g].name);
			if (p->name == NULL) {
				ok = false;
				for (int j = k + 1; j < n; j++)
					free(vals[j]);
			}
		}
		mimehdr_group_free(&c->groups[g]);
	}
	out->flags = c->flags;
	free(c);
	if (!ok)
		mimehdr_field_free(out);
	return ok ? 0 : -1;
}

/* mimehdr_param - see mimehdr.h; names compare without regard to case */
const char *mimehdr_param(const struct mimehdr_field *f, const char *name)
{
	for (size_t i = 0; f != NULL && name != NULL && i < f->nparams; i++)
		if (mimehdr_name_eq(f->params[i].name, strlen(f->params[i].name), name, strlen(name)))
			return f->params[i].value;
	return NULL;
}

/* mimehdr_field_free - see mimehdr.h; leaves the field empty, safe to free again */
void mimehdr_field_free(struct mimehdr_field *f)
{
	for (size_t i = 0; f != NULL && i < f->nparams; i++) {
		free(f->params[i].name);
		free(f->params[i].value);
	}
	if (f != NULL) {
		free(f->params);
		free(f->token);
		memset(f, 0, sizeof(*f));
	}
}

/* mimehdr_decode_words - see mimehdr.h */
char *mimehdr_decode_words(const char *text, size_t len)
{
	struct mimehdr_buf raw = {0}, out = {0};
	unsigned flags = 0;

	len = text == NULL ? 0 : len > MIMEHDR_MAX_FIELD ? MIMEHDR_MAX_FIELD : len;
	mimehdr_words(&raw, text, len, &flags);
	mimehdr_clean(raw.data, raw.len, &out, &flags);
	out.oom = out.oom || raw.oom;
	free(raw.data);
	return mimehdr_buf_take(&out);
}
