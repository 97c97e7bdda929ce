/*
 * cidr - IPv4 and IPv6 network lists, for internal_networks.
 *
 * SYNOPSIS
 *	struct cidr_list *l = NULL;
 *	cidr_list_parse("10.0.0.0/8, 2001:db8::/32 192.0.2.7", &l, err, len);
 *	cidr_list_match_str(l, "10.1.2.3");     -> true
 *	cidr_list_free(l);
 *
 * DESCRIPTION
 *	A list is separated by commas and/or white space. Each item is an
 *	address with an optional /prefix; without one it is a host (/32 or
 *	/128). An IPv4-mapped IPv6 address (::ffff:10.1.2.3) matches IPv4
 *	entries. Bits below the prefix must be zero ("10.1.2.3/8" is an error,
 *	as a typo guard). An empty string gives an empty list, which matches
 *	nothing. cidr_list_format() writes the list back in canonical form.
 *
 * ERRORS
 *	cidr_list_parse returns 0, or -1 with err naming the bad item.
 *	cidr_list_match_str returns false for an unparsable address.
 *
 * THREAD SAFETY
 *	A parsed list is immutable and may be read from any thread. Does not log.
 */
#ifndef KLAXON_CIDR_H
#define KLAXON_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct cidr_list;

int cidr_list_parse(const char *text, struct cidr_list **out, char *err, size_t errlen);
bool cidr_list_match_str(const struct cidr_list *list, const char *addr);
bool cidr_list_match_sockaddr(const struct cidr_list *list, const struct sockaddr *sa);
size_t cidr_list_count(const struct cidr_list *list);
void cidr_list_format(const struct cidr_list *list, char *buf, size_t buflen);
void cidr_list_free(struct cidr_list *list);

#endif
