/*
 * fuzz_cidr - libFuzzer target for the cidr list parser.
 *
 * Parses the input as a list, formats it, checks that the canonical text
 * parses back to the same text, and matches a few addresses of each kind.
 * Everything is freed, so LeakSanitizer sees any leak on the error paths.
 */
// fuzz-sources: src/cidr.c src/util.c
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cidr.h"

/* Inputs past this size only slow the fuzzer down; items are capped at 64. */
#define FUZZ_MAX_INPUT 4096

/* fuzz_check - abort with a message, so libFuzzer records the input */
static void fuzz_check(int ok, const char *what, const char *detail)
{
	if (!ok) {
		fprintf(stderr, "fuzz_cidr: %s: %s\n", what, detail);
		abort();
	}
}

/* fuzz_match_sockaddrs - every family through cidr_list_match_sockaddr */
static void fuzz_match_sockaddrs(const struct cidr_list *l, const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, data, size < 4 ? size : 4);
	(void)cidr_list_match_sockaddr(l, (const struct sockaddr *)&sin);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, data, size < 16 ? size : 16);
	(void)cidr_list_match_sockaddr(l, (const struct sockaddr *)&sin6);

	/* The same four bytes as a mapped address must agree with AF_INET. */
	memset(&sin6.sin6_addr, 0, 10);
	memset((char *)&sin6.sin6_addr + 10, 0xff, 2);
	memcpy((char *)&sin6.sin6_addr + 12, &sin.sin_addr, 4);
	fuzz_check(cidr_list_match_sockaddr(l, (const struct sockaddr *)&sin) ==
			   cidr_list_match_sockaddr(l, (const struct sockaddr *)&sin6),
		   "mapped and AF_INET disagree", "");

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	fuzz_check(!cidr_list_match_sockaddr(l, (const struct sockaddr *)&sun),
		   "AF_UNIX matched", "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct cidr_list *l = NULL;
	char err[128];
	if (cidr_list_parse(text, &l, err, sizeof(err)) != 0) {
		fuzz_check(l == NULL, "failed parse set *out", text);
		fuzz_check(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated", text);
		/* The input itself as an address: must not crash against NULL. */
		(void)cidr_list_match_str(NULL, text);
		free(text);
		return 0;
	}

	/* Canonical text must parse back to itself, with the same count. */
	size_t need = cidr_list_count(l) * 52 + 1;
	char *one = malloc(need);
	char *two = malloc(need);
	fuzz_check(one != NULL && two != NULL, "malloc", "");
	cidr_list_format(l, one, need);
	struct cidr_list *again = NULL;
	fuzz_check(cidr_list_parse(one, &again, err, sizeof(err)) == 0, "canonical text rejected",
		   one);
	cidr_list_format(again, two, need);
	fuzz_check(strcmp(one, two) == 0, "format not stable", one);
	fuzz_check(cidr_list_count(l) == cidr_list_count(again), "count changed", one);

	/* A few fixed addresses, the input itself, and raw bytes as addresses. */
	static const char *const probes[] = {
		"0.0.0.0", "10.1.2.3", "255.255.255.255", "::", "::1", "::ffff:10.1.2.3",
		"2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "", "bogus",
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		fuzz_check(cidr_list_match_str(l, probes[i]) ==
				   cidr_list_match_str(again, probes[i]),
			   "reparsed list matches differently", probes[i]);
	(void)cidr_list_match_str(l, text);
	fuzz_match_sockaddrs(l, data, size);

	free(two);
	free(one);
	cidr_list_free(again);
	cidr_list_free(l);
	free(text);
	return 0;
}
