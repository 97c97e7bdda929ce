/*
 * envelope - what the MTA told us about one message, shared by the daemon
 * and `klaxon check`.
 *
 * DESCRIPTION
 *	A plain record. Strings are owned by whoever built the record (the
 *	milter message context, or check's argv); modules that receive a
 *	const struct envelope * only read it. Any field may be NULL or empty
 *	except sender (the empty string is the null sender <>) and rcpts.
 *	Values are untrusted: anything that copies them into mail or files
 *	must strip CR, LF and other control characters.
 */
#ifndef KLAXON_ENVELOPE_H
#define KLAXON_ENVELOPE_H

#include <stddef.h>

enum origin { ORIGIN_EXTERNAL = 0, ORIGIN_INTERNAL = 1 };

struct envelope {
	const char *client_addr;   /* "192.0.2.1" or "2001:db8::1" */
	const char *client_name;   /* reverse DNS name as the MTA saw it */
	const char *helo;
	const char *auth_user;     /* {auth_authen}, NULL if not authenticated */
	const char *sender;        /* without angle brackets; "" is <> */
	const char *const *rcpts;  /* without angle brackets */
	size_t nrcpts;
	const char *queue_id;      /* {i}, may be NULL */
	enum origin origin;
};

static inline const char *origin_name(enum origin o)
{
	return o == ORIGIN_INTERNAL ? "internal" : "external";
}

#endif
