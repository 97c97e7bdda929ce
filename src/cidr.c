/*
 * cidr - IPv4 and IPv6 network lists. See cidr.h for the contract.
 *
 * Every entry is kept as a 16-byte address and a prefix counted in the
 * 128-bit space, with IPv4 mapped into ::ffff:0:0/96 (10.0.0.0/8 is stored
 * as ::ffff:10.0.0.0/104). One matcher then serves both families, and an
 * IPv4-mapped client address (what a dual-stack socket reports for an IPv4
 * peer) matches IPv4 entries with no special case. A consequence worth
 * knowing: an IPv6 entry short enough to cover ::ffff:0:0/96, such as ::/0,
 * also matches IPv4 clients, while 0.0.0.0/0 matches no native IPv6 client.
 *
 * Details the header leaves open:
 *  - On failure *out is left untouched and nothing stays allocated, so a
 *    reload that parses into a fresh pointer keeps the old list on error.
 *  - Empty items (",,", a trailing comma) are skipped.
 *  - An IPv6 address may be bracketed: "[2001:db8::]/32".
 *  - The prefix is 1 to 3 decimal digits; no sign, no white space.
 *  - cidr_list_format() truncates like snprintf and always terminates buf;
 *    50 bytes per entry is always enough.
 *  - A NULL list is treated as an empty one everywhere.
 */
#include "cidr.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generous: the longest valid item, "[0000:...:ffff:255.255.255.255]/128", is 51. */
#define CIDR_ITEM_MAX 64
/* An item as shown in an error: at most CIDR_ITEM_MAX bytes, "..." and NUL. */
#define CIDR_SHOW_SIZE (CIDR_ITEM_MAX + 4)

struct cidr_entry {
	unsigned char addr[16];	/* network address, bits below prefix zero */
	unsigned int prefix;	/* 0-128, in the 128-bit space */
};

struct cidr_list {
	size_t count;
	size_t cap;
	struct cidr_entry *entries;
};

/*
 * cidr_show - printable copy of an item for error messages. Config text can
 * hold anything, and the message usually ends up in a log line, so control
 * bytes, quotes and non-ASCII become '?' and long items are cut short.
 */
static void cidr_show(const char *item, size_t len, char out[CIDR_SHOW_SIZE])
{
	size_t n = len > CIDR_ITEM_MAX ? CIDR_ITEM_MAX : len;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)item[i];
		out[i] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* cidr_is_mapped - true if addr lies in ::ffff:0:0/96 */
static bool cidr_is_mapped(const unsigned char addr[16])
{
	static const unsigned char head[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(addr, head, sizeof(head)) == 0;
}

/* cidr_map_v4 - place a 4-byte IPv4 address into ::ffff:0:0/96 */
static void cidr_map_v4(unsigned char out[16], const void *v4)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

/* cidr_mask - clear every bit below prefix */
static void cidr_mask(unsigned char addr[16], unsigned int prefix)
{
	size_t full = prefix / 8;
	unsigned int rest = prefix % 8;

	if (full >= 16)
		return;
	if (rest != 0) {
		addr[full] &= (unsigned char)(0xff << (8 - rest));
		full++;
	}
	memset(addr + full, 0, 16 - full);
}

/* cidr_entry_match - true if addr lies inside entry */
static bool cidr_entry_match(const struct cidr_entry *e, const unsigned char addr[16])
{
	size_t full = e->prefix / 8;
	unsigned int rest = e->prefix % 8;

	if (memcmp(e->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char m = (unsigned char)(0xff << (8 - rest));
	return (addr[full] & m) == e->addr[full];
}

/*
 * cidr_entry_text - one entry in canonical form. Entries inside the mapped
 * range with a prefix of at least 96 are IPv4 networks and are written as
 * such, whichever notation they were given in.
 */
static void cidr_entry_text(const unsigned char addr[16], unsigned int prefix, char *out,
			    size_t outlen)
{
	char a[INET6_ADDRSTRLEN];

	if (prefix >= 96 && cidr_is_mapped(addr)) {
		inet_ntop(AF_INET, addr + 12, a, sizeof(a));
		snprintf(out, outlen, "%s/%u", a, prefix - 96);
	} else {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(out, outlen, "%s/%u", a, prefix);
	}
}

/* cidr_addr_parse - a bare address into 16 bytes; returns its AF_*, or 0 */
static int cidr_addr_parse(const char *text, unsigned char out[16], bool allow_v4)
{
	struct in_addr v4;

	if (allow_v4 && inet_pton(AF_INET, text, &v4) == 1) {
		cidr_map_v4(out, &v4);
		return AF_INET;
	}
	return inet_pton(AF_INET6, text, out) == 1 ? AF_INET6 : 0;
}

/* cidr_item_parse - one list item ("addr", "addr/len", "[v6]/len") */
static int cidr_item_parse(const char *item, size_t len, struct cidr_entry *e, char *err,
			   size_t errlen)
{
	char shown[CIDR_SHOW_SIZE];
	char buf[CIDR_ITEM_MAX + 1];
	char *addr = buf;
	char *pfx = NULL;
	bool bracketed = false;

	cidr_show(item, len, shown);
	if (len > CIDR_ITEM_MAX) {
		util_errf(err, errlen, "\"%s\": item longer than %d characters", shown,
			 CIDR_ITEM_MAX);
		return -1;
	}
	memcpy(buf, item, len);
	buf[len] = '\0';

	char *slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		pfx = slash + 1;
	}
	if (addr[0] == '[') {
		size_t alen = strlen(addr);
		if (alen < 2 || addr[alen - 1] != ']') {
			util_errf(err, errlen, "\"%s\": unbalanced bracket", shown);
			return -1;
		}
		addr[alen - 1] = '\0';
		addr++;
		bracketed = true;
	}
	/* Brackets are the URL notation for IPv6 only; "[10.0.0.1]" is a typo. */
	int family = cidr_addr_parse(addr, e->addr, !bracketed);
	if (family == 0) {
		util_errf(err, errlen, "\"%s\": not an %saddress", shown,
			 bracketed ? "IPv6 " : "IPv4 or IPv6 ");
		return -1;
	}

	/* The prefix is read in the family of the notation, not of the bytes. */
	bool v4 = family == AF_INET;
	unsigned int maxp = v4 ? 32 : 128;
	unsigned int p = maxp;

	if (pfx != NULL) {
		size_t plen = strlen(pfx);
		if (plen == 0) {
			util_errf(err, errlen, "\"%s\": missing prefix length after '/'", shown);
			return -1;
		}
		if (strspn(pfx, "0123456789") != plen) {
			util_errf(err, errlen, "\"%s\": prefix length is not a number", shown);
			return -1;
		}
		/* Three digits bound the value before it can overflow. */
		p = plen > 3 ? maxp + 1 : (unsigned int)strtoul(pfx, NULL, 10);
		if (p > maxp) {
			util_errf(err, errlen, "\"%s\": prefix length out of range (0-%u)", shown,
				 maxp);
			return -1;
		}
	}
	e->prefix = v4 ? p + 96 : p;

	/* Host bits below the prefix are almost always a typo for another net. */
	unsigned char net[16];
	memcpy(net, e->addr, sizeof(net));
	cidr_mask(net, e->prefix);
	if (memcmp(net, e->addr, sizeof(net)) != 0) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? net + 12 : net, a, sizeof(a));
		util_errf(err, errlen, "\"%s\": host bits set; did you mean %s/%u?", shown, a, p);
		return -1;
	}
	return 0;
}

/* cidr_list_append - add one entry, growing the array geometrically */
static int cidr_list_append(struct cidr_list *list, const struct cidr_entry *e)
{
	if (list->count == list->cap) {
		size_t ncap = list->cap ? list->cap * 2 : 8;
		if (ncap > SIZE_MAX / sizeof(*e))
			return -1;
		struct cidr_entry *n = realloc(list->entries, ncap * sizeof(*e));
		if (n == NULL)
			return -1;
		list->entries = n;
		list->cap = ncap;
	}
	list->entries[list->count++] = *e;
	return 0;
}

/* cidr_list_parse - parse a separated list of networks into a new list */
int cidr_list_parse(const char *text, struct cidr_list **out, char *err, size_t errlen)
{
	if (out == NULL) {
		util_errf(err, errlen, "cidr_list_parse: no result pointer");
		return -1;
	}
	struct cidr_list *list = calloc(1, sizeof(*list));
	if (list == NULL) {
		util_errf(err, errlen, "out of memory");
		return -1;
	}
	const char *p = text != NULL ? text : "";
	for (;;) {
		while (*p != '\0' && util_is_list_sep(*p))
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		while (*p != '\0' && !util_is_list_sep(*p))
			p++;

		struct cidr_entry e;
		if (cidr_item_parse(start, (size_t)(p - start), &e, err, errlen) == -1)
			goto fail;
		if (cidr_list_append(list, &e) == -1) {
			util_errf(err, errlen, "out of memory");
			goto fail;
		}
	}
	*out = list;
	return 0;

fail:
	cidr_list_free(list);
	return -1;
}

/* cidr_list_match_addr - true if any entry contains the 16-byte address */
static bool cidr_list_match_addr(const struct cidr_list *list, const unsigned char addr[16])
{
	if (list == NULL)
		return false;
	for (size_t i = 0; i < list->count; i++)
		if (cidr_entry_match(&list->entries[i], addr))
			return true;
	return false;
}

/* cidr_list_match_str - match a textual address; unparsable means no match */
bool cidr_list_match_str(const struct cidr_list *list, const char *addr)
{
	unsigned char a[16];

	if (addr == NULL || cidr_addr_parse(addr, a, true) == 0)
		return false;
	return cidr_list_match_addr(list, a);
}

/* cidr_list_match_sockaddr - match a peer address; non-IP families never match */
bool cidr_list_match_sockaddr(const struct cidr_list *list, const struct sockaddr *sa)
{
	unsigned char a[16];

	if (sa == NULL)
		return false;
	switch (sa->sa_family) {
	case AF_INET: {
		/* Copy out rather than cast: the caller's storage may be unaligned. */
		struct sockaddr_in sin;
		memcpy(&sin, sa, sizeof(sin));
		cidr_map_v4(a, &sin.sin_addr);
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(a, &sin6.sin6_addr, sizeof(a));
		break;
	}
	default:
		return false;
	}
	return cidr_list_match_addr(list, a);
}

/* cidr_list_count - number of entries */
size_t cidr_list_count(const struct cidr_list *list)
{
	return list != NULL ? list->count : 0;
}

/* cidr_list_format - canonical "a/n, b/m" text, truncated to fit buf */
void cidr_list_format(const struct cidr_list *list, char *buf, size_t buflen)
{
	size_t used = 0;

	if (buf == NULL || buflen == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < cidr_list_count(list); i++) {
		char one[INET6_ADDRSTRLEN + 16]; /* address, "/", any unsigned */
		const struct cidr_entry *e = &list->entries[i];

		cidr_entry_text(e->addr, e->prefix, one, sizeof(one));
		int n = snprintf(buf + used, buflen - used, "%s%s", i ? ", " : "", one);
		if (n < 0 || (size_t)n >= buflen - used)
			return;
		used += (size_t)n;
	}
}

/* cidr_list_free - release a list; NULL is fine */
void cidr_list_free(struct cidr_list *list)
{
	if (list == NULL)
		return;
	free(list->entries);
	free(list);
}
