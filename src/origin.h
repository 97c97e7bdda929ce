/*
 * origin - is this message internal or external?
 *
 * DESCRIPTION
 *	origin_decide() says internal when the client address is in
 *	internal_networks, or when the session is SMTP-authenticated and
 *	trust_authenticated is on. A message with no client address at all is
 *	local submission (Postfix's non_smtpd_milters: sendmail, pickup) and
 *	is internal: it came from a user of this host. Everything else,
 *	including an address that does not parse, is external, the safe side.
 *
 * THREAD SAFETY
 *	Pure function of its arguments. Does not log.
 */
#ifndef KLAXON_ORIGIN_H
#define KLAXON_ORIGIN_H

#include "config.h"
#include "envelope.h"

enum origin origin_decide(const struct config *cfg, const char *client_addr, const char *auth_user);

#endif
