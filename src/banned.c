/*
 * banned - banned attachment names. See banned.h for the contract.
 *
 * Details the header leaves open, decided here:
 *
 *  - The list: items are split at ASCII white space and commas; one
 *    leading dot is dropped (".exe" is "exe", "..exe" is an error); an
 *    item is 1 to 16 bytes of [A-Za-z0-9_-]; duplicates are kept once
 *    (banned_list_count() counts distinct extensions). A NULL text is the
 *    empty list. On error *out is left untouched and nothing is allocated.
 *
 *  - The empty list (or a NULL list) bans nothing at all, not even a
 *    CLSID extension: an empty list is how banning is turned off. With any
 *    non-empty list a CLSID extension is banned whether it is listed or not.
 *
 *  - The name is a C string: whatever follows a NUL is never seen, so
 *    "x.exe\0.pdf" is judged as "x.exe". That is what a C consumer of the
 *    name would save; a caller that keeps names with a NUL inside must
 *    replace the NUL first (mimehdr already turns control bytes into
 *    U+FFFD).
 *
 *  - The last path component is what follows the last '/' or '\'. Both
 *    are ASCII and never occur inside a valid UTF-8 sequence, so a byte
 *    search is exact; in other encodings a 0x5C byte still splits.
 *
 *  - Trailing characters stripped before anything else, repeatedly: '.',
 *    the Unicode White_Space characters (U+0009-000D, U+0020, U+0085,
 *    U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000),
 *    and the invisible ones an attacker can append to push an extension
 *    out of sight without changing what a user sees: U+180E, U+200B-200F,
 *    U+202A-202E, U+2060-2064, U+2066-2069 and U+FEFF. UTF-8 is decoded
 *    strictly (no overlong forms, no surrogates, nothing above U+10FFFF);
 *    a byte that is not part of a valid sequence is an opaque character
 *    that is never stripped.
 *
 *  - Extensions: the last extension is what follows the last '.' of the
 *    stripped component, even at the start, as on Windows: ".exe" has the
 *    extension "exe" and is banned; "exe" (no dot) has no extension.
 *
 *  - The double-extension rule. The component, after leading dots, is
 *    split at '.' into segments: the first segment is the stem and is
 *    never an extension; the last is the last extension; every segment in
 *    between is an inner extension, and any banned inner extension bans
 *    the name ("x.exe.zip", "x.exe.tar.gz", "x..exe.txt", "x.exe .txt").
 *    So ".exe.txt" and ".bashrc.txt" are not banned (their first segment
 *    is the name of a hidden file, not an extension), nor is "exe.txt".
 *    An inner extension has its trailing white space and invisible
 *    characters stripped like the whole name, because that is what a
 *    user sees when the last extension is hidden ("x.exe .txt" shows as
 *    "x.exe "). The price of this rule: names such as "www.example.com.pdf"
 *    are banned when "com" is on the list. Matching only the penultimate
 *    extension would not avoid that case and would miss "x.exe.tar.gz".
 *
 *  - A CLSID extension is "{" 8-4-4-4-12 hexadecimal digits "}" (either
 *    case); it counts as a banned extension in every position the rules
 *    above look at.
 *
 *  - Extensions are compared byte by byte with ASCII case folding only;
 *    a non-ASCII byte never matches (the list is ASCII).
 *
 *  - The reason is printable ASCII only, so that it is safe in an SMTP
 *    reply and in a log line: the name shown is the last path component
 *    as given (before stripping), with control characters, '"', and each
 *    non-ASCII character (or invalid byte) replaced by '?'. A name too long
 *    for why is cut in the middle with "...", keeping the end, where the
 *    extension is. The three forms are
 *	banned extension .EXT in "NAME"
 *	banned double extension .EXT in "NAME"
 *	CLSID extension .{...} in "NAME"
 *    why is "" when the name is not banned; a NULL why is allowed.
 */
#include "banned.h"
#include "text.h"
#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANNED_EXT_MAX 16
/* "{" 8-4-4-4-12 "}" */
#define BANNED_CLSID_LEN 38
/* An item as shown in a parse error: at most this many bytes, then "...". */
#define BANNED_SHOW_MAX 32

struct banned_list {
	size_t count;
	char (*ext)[BANNED_EXT_MAX + 1]; /* lower case, sorted, distinct */
};

enum banned_rule {
	BANNED_NONE,
	BANNED_LAST,
	BANNED_INNER,
	BANNED_CLSID,
};

/* banned_is_ext_char - a byte allowed in a list item */
static bool banned_is_ext_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* banned_lower - ASCII-only lower case; other bytes pass unchanged */
static char banned_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* banned_show_item - printable, bounded copy of a list item for an error */
static void banned_show_item(const char *item, size_t len, char out[BANNED_SHOW_MAX + 4])
{
	size_t n = len > BANNED_SHOW_MAX ? BANNED_SHOW_MAX : len;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)item[i];
		out[i] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* banned_item_parse - validate one item into a lower-case extension */
static int banned_item_parse(const char *item, size_t len, char out[BANNED_EXT_MAX + 1],
			     char *err, size_t errlen)
{
	char show[BANNED_SHOW_MAX + 4];
	const char *p = item;
	size_t n = len;

	if (n > 0 && p[0] == '.') {
		p++;
		n--;
	}
	if (n == 0) {
		banned_show_item(item, len, show);
		util_errf(err, errlen, "banned extension \"%s\": empty extension", show);
		return -1;
	}
	if (n > BANNED_EXT_MAX) {
		banned_show_item(item, len, show);
		util_errf(err, errlen, "banned extension \"%s\": longer than %d bytes", show,
			   BANNED_EXT_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!banned_is_ext_char((unsigned char)p[i])) {
			banned_show_item(item, len, show);
			util_errf(err, errlen,
				   "banned extension \"%s\": only letters, digits, '_' and '-' are "
				   "allowed",
				   show);
			return -1;
		}
		out[i] = banned_lower(p[i]);
	}
	out[n] = '\0';
	return 0;
}

/* banned_ext_cmp - qsort and bsearch order of two extensions */
static int banned_ext_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int banned_list_parse(const char *text, struct banned_list **out, char *err, size_t errlen)
{
	struct banned_list *b = calloc(1, sizeof(*b));
	size_t cap = 0;

	if (b == NULL) {
		util_errf(err, errlen, "banned extensions: out of memory");
		return -1;
	}
	for (const char *p = text ? text : ""; *p != '\0';) {
		while (*p != '\0' && util_is_list_sep(*p))
			p++;
		const char *start = p;
		while (*p != '\0' && !util_is_list_sep(*p))
			p++;
		if (p == start)
			continue;
		if (b->count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *n = realloc(b->ext, ncap * sizeof(*b->ext));
			if (n == NULL) {
				util_errf(err, errlen, "banned extensions: out of memory");
				banned_list_free(b);
				return -1;
			}
			b->ext = n;
			cap = ncap;
		}
		if (banned_item_parse(start, (size_t)(p - start), b->ext[b->count], err, errlen) != 0) {
			banned_list_free(b);
			return -1;
		}
		b->count++;
	}
	if (b->count > 1) {
		qsort(b->ext, b->count, sizeof(*b->ext), banned_ext_cmp);
		size_t w = 1;
		for (size_t r = 1; r < b->count; r++)
			if (strcmp(b->ext[r], b->ext[w - 1]) != 0)
				memcpy(b->ext[w++], b->ext[r], sizeof(*b->ext));
		b->count = w;
	}
	*out = b;
	return 0;
}

size_t banned_list_count(const struct banned_list *b)
{
	return b ? b->count : 0;
}

void banned_list_free(struct banned_list *b)
{
	if (b == NULL)
		return;
	free(b->ext);
	free(b);
}

/* banned_is_blank - white space or an invisible character, as stripped at the end */
static bool banned_is_blank(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       c == 0x180e || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
	       (c >= 0x205f && c <= 0x2064) || (c >= 0x2066 && c <= 0x2069) || c == 0x3000 ||
	       c == 0xfeff;
}

/*
 * banned_last_char - the character that ends s[0..end): its length and code
 * point, or length 1 and a code point no rule matches for an invalid byte.
 */
static size_t banned_last_char(const unsigned char *s, size_t end, uint32_t *cp)
{
	for (size_t k = 1; k <= 4 && k <= end; k++) {
		if ((s[end - k] & 0xc0) == 0x80)
			continue;
		if (text_utf8_decode(s + end - k, k, cp) == k)
			return k;
		break;
	}
	*cp = UINT32_MAX;
	return 1;
}

/* banned_strip_end - length of s[0..end) without trailing blanks (and dots if asked) */
static size_t banned_strip_end(const unsigned char *s, size_t end, bool dots)
{
	while (end > 0) {
		uint32_t cp;
		size_t k = banned_last_char(s, end, &cp);
		if (!(banned_is_blank(cp) || (dots && cp == '.')))
			break;
		end -= k;
	}
	return end;
}

static bool banned_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* banned_is_clsid - s[0..len) is "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" */
static bool banned_is_clsid(const unsigned char *s, size_t len)
{
	if (len != BANNED_CLSID_LEN || s[0] != '{' || s[len - 1] != '}')
		return false;
	for (size_t i = 1; i < len - 1; i++) {
		bool dash = i == 9 || i == 14 || i == 19 || i == 24;
		if (dash ? s[i] != '-' : !banned_is_hex(s[i]))
			return false;
	}
	return true;
}

/* banned_ext_listed - s[0..len) is on the list, ignoring ASCII case */
static bool banned_ext_listed(const struct banned_list *b, const unsigned char *s, size_t len)
{
	char key[BANNED_EXT_MAX + 1];

	if (len == 0 || len > BANNED_EXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		key[i] = banned_lower((char)s[i]);
	key[len] = '\0';
	return bsearch(key, b->ext, b->count, sizeof(*b->ext), banned_ext_cmp) != NULL;
}

/* banned_ext_rule - the rule an extension in the given position breaks, if any */
static enum banned_rule banned_ext_rule(const struct banned_list *b, const unsigned char *s,
					size_t len, bool inner)
{
	if (banned_is_clsid(s, len))
		return BANNED_CLSID;
	if (banned_ext_listed(b, s, len))
		return inner ? BANNED_INNER : BANNED_LAST;
	return BANNED_NONE;
}

/*
 * banned_component_check - apply the rules to one path component; on a hit
 * *ext and *extlen say which extension broke it.
 */
static enum banned_rule banned_component_check(const struct banned_list *b,
					       const unsigned char *s, size_t len,
					       const unsigned char **ext, size_t *extlen)
{
	size_t end = banned_strip_end(s, len, true);
	const unsigned char *last = NULL;

	for (size_t i = end; i > 0; i--) {
		if (s[i - 1] == '.') {
			last = s + i - 1;
			break;
		}
	}
	if (last == NULL)
		return BANNED_NONE;

	*ext = last + 1;
	*extlen = (size_t)(s + end - *ext);
	enum banned_rule r = banned_ext_rule(b, *ext, *extlen, false);
	if (r != BANNED_NONE)
		return r;

	/* Inner extensions: segments between the stem and the last extension. */
	const unsigned char *p = s;
	while (p < last && *p == '.')
		p++;
	while (p < last && *p != '.')
		p++;
	while (p < last) {
		const unsigned char *seg = p + 1;
		const unsigned char *q = seg;
		while (q < last && *q != '.')
			q++;
		size_t seglen = banned_strip_end(seg, (size_t)(q - seg), false);
		r = banned_ext_rule(b, seg, seglen, true);
		if (r != BANNED_NONE) {
			*ext = seg;
			*extlen = seglen;
			return r;
		}
		p = q;
	}
	return BANNED_NONE;
}

/*
 * banned_show_name - printable ASCII copy of s[0..len) into out (cap bytes,
 * cap >= 1), cut in the middle with "..." when it does not fit.
 */
static void banned_show_name(const unsigned char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0, i = 0;
	size_t room = cap - 1;
	char *o = out;

	/* First pass: how many characters the name shows as. */
	while (i < len) {
		uint32_t cp;
		size_t k = text_utf8_decode(s + i, len - i, &cp);
		i += k ? k : 1;
		n++;
	}
	/* Head and tail character counts that fit. */
	size_t head = n, tail = 0;
	if (n > room) {
		if (room < 3) {
			head = room;
		} else {
			tail = (room - 3) * 2 / 3;
			head = room - 3 - tail;
		}
	}
	size_t idx = 0;
	i = 0;
	while (i < len) {
		uint32_t cp;
		size_t k = text_utf8_decode(s + i, len - i, &cp);
		char c = (k == 1 && cp >= 0x20 && cp < 0x7f && cp != '"') ? (char)cp : '?';
		i += k ? k : 1;
		if (idx < head || idx >= n - tail)
			*o++ = c;
		else if (idx == head && n > room && room >= 3) {
			memcpy(o, "...", 3);
			o += 3;
		}
		idx++;
	}
	*o = '\0';
}

/* banned_why - the reason text for a hit */
static void banned_why(char *why, size_t whylen, enum banned_rule r, const unsigned char *ext,
		       size_t extlen, const unsigned char *comp, size_t complen)
{
	static const char *const form[] = {
		[BANNED_LAST] = "banned extension .",
		[BANNED_INNER] = "banned double extension .",
		[BANNED_CLSID] = "CLSID extension .",
	};
	char extshow[BANNED_CLSID_LEN + 1];
	size_t used;

	/* Every extension that can match is ASCII and at most 38 bytes. */
	memcpy(extshow, ext, extlen);
	extshow[extlen] = '\0';
	int w = snprintf(why, whylen, "%s%s in \"", form[r], extshow);
	if (w < 0 || (size_t)w + 2 >= whylen)
		return;
	used = (size_t)w;
	banned_show_name(comp, complen, why + used, whylen - used - 1);
	used += strlen(why + used);
	why[used++] = '"';
	why[used] = '\0';
}

bool banned_name_check(const struct banned_list *b, const char *name, char *why, size_t whylen)
{
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (b == NULL || b->count == 0 || name == NULL)
		return false;

	const char *comp = name;
	for (const char *p = name; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			comp = p + 1;
	size_t complen = strlen(comp);

	const unsigned char *ext = NULL;
	size_t extlen = 0;
	enum banned_rule r =
		banned_component_check(b, (const unsigned char *)comp, complen, &ext, &extlen);
	if (r == BANNED_NONE)
		return false;
	if (why != NULL && whylen > 0)
		banned_why(why, whylen, r, ext, extlen, (const unsigned char *)comp, complen);
	return true;
}
