/*
 * digest_int - what digest.c (cleaning, grouping, the plan, the public
 * functions) and digest_mime.c (the text and HTML parts, quoted-printable,
 * header encoding, the message) share. Not a public interface: only
 * those two files include it; digest.h is the contract.
 */
#ifndef KLAXON_DIGEST_INT_H
#define KLAXON_DIGEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"

#define DIGEST_ADDR_MAX 254     /* RFC 5321's limit on a path */
#define DIGEST_SENDER_MAX 80    /* bytes of a cleaned value; rows stay readable */
#define DIGEST_SUBJECT_MAX 80
#define DIGEST_REASON_MAX 100
#define DIGEST_VIRUS_MAX 100
#define DIGEST_ID_MAX 64
#define DIGEST_FROM_MAX 200

struct digest_hset {
	uint64_t *slot;            /* 0 marks an empty slot; a hash of 0 is stored as 1 */
	size_t cap, n;
};

struct digest_group {
	char *name;                /* virus name, or "<class>: <reason>" of a payload group */
	char *subject;             /* a payload group's first subject; NULL for a virus */
	char *sender;              /* the first sender, shown when it is the only one */
	unsigned long count;
	time_t first, last;
	struct digest_hset senders;
};

struct digest_item {
	char *id, *sender, *subject, *reason, *payload;
	time_t when;
	int class;
};

struct digest {
	char *rcpt, *from, *hostname;
	unsigned max_rows;
	time_t since, until, when;
	struct digest_item *items; /* every non-virus item */
	size_t nitems, icap;
	struct digest_group *groups; /* one per virus name */
	size_t ngroups, gcap;
	size_t *gindex;            /* open addressing over groups: index + 1, 0 empty */
	size_t gindex_cap;
	size_t total;              /* items added */
};

/* What digest_compose() decides before it writes. */
struct digest_plan {
	const struct digest_item **single;
	size_t nsingle;
	struct digest_group *pgroups; /* payload groups, owned by the plan */
	size_t npgroups;
	const struct digest_group **rows; /* every group, largest first */
	size_t nrows;
	unsigned long grouped;     /* items in groups */
	time_t lo, hi;             /* oldest and newest item */
	bool with_day;             /* items span more than one UTC day */
};

/* digest.c */
const char *digest_class_label(int class);

/* digest_mime.c: the two parts unencoded, then the whole message; the caller frees the buffers */
int digest_render(const struct digest *d, const struct digest_plan *p, char **txt, size_t *tlen,
		  char **html, size_t *hlen, char *err, size_t errlen);
int digest_assemble(const struct digest *d, const struct digest_plan *p, const char *txt,
		    size_t tlen, const char *html, size_t hlen, char **msg, size_t *len, char *err,
		    size_t errlen);

#endif
