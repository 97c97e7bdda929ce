/*
 * milter - the libmilter callbacks: one connection context, one message
 * context, thin callbacks that call module functions.
 *
 * DESCRIPTION
 *	milter_register() registers klaxon's smfiDesc with libmilter.
 *
 *	Ownership, in one place: the connection context is created in
 *	connect and freed only in close. The message context is created in
 *	MAIL FROM and freed only by milter_msg_reset(), which eom, abort,
 *	close and the next MAIL FROM call. The message pins the current
 *	snapshot from MAIL FROM to its reset.
 *
 *	Every failure inside a callback (out of memory, spool write, no
 *	snapshot) becomes a 451 tempfail for that message with a log line;
 *	the daemon keeps running.
 *
 * THREAD SAFETY
 *	libmilter runs one thread per connection; contexts are per connection.
 */
#ifndef KLAXON_MILTER_H
#define KLAXON_MILTER_H

#include <stdbool.h>

int milter_register(void);

/* Called by the daemon's alert thread hook: an alert was spooled. */
typedef void (*milter_alert_hook)(void);
void milter_set_alert_hook(milter_alert_hook hook);

#endif
