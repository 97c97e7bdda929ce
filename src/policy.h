/*
 * policy - the built-in policy table: origin x verdict -> action.
 *
 * SYNOPSIS
 *	struct policy_table t;
 *	policy_defaults(&t);
 *	struct policy_cell c = policy_decide(&t, ORIGIN_INTERNAL, VERDICT_VIRUS);
 *
 * DESCRIPTION
 *	Each cell says what to do with a message of one origin and one
 *	verdict: the SMTP action, whether to keep a durable quarantine copy
 *	first, and whether to alert the internal list. The default is the
 *	klaxon policy:
 *
 *	    verdict    external             internal
 *	    clean      accept               accept
 *	    virus      reject 5xx           discard + quarantine + alert
 *	    oversize   reply_oversize code  reply_oversize code
 *	    banned     reject 5xx           reject 5xx
 *	    limit      reply_mime_limit     reply_mime_limit
 *	    anomaly    reply_anomaly        reply_anomaly
 *	    error      tempfail 4xx         tempfail 4xx
 *
 *	policy_decide() enforces the invariants that no configuration can
 *	break, so the rest of klaxon may rely on them:
 *	  - an error verdict is always a tempfail (never accept unscanned);
 *	  - a discard always keeps a quarantine copy (never discard without a
 *	    durable copy);
 *	  - only a clean verdict may be accepted;
 *	  - there is no "notify sender" column at all: klaxon never writes to
 *	    the envelope sender.
 *
 * THREAD SAFETY
 *	Pure functions over an immutable table. Does not log.
 */
#ifndef KLAXON_POLICY_H
#define KLAXON_POLICY_H

#include <stdbool.h>

#include "envelope.h"

enum verdict {
	VERDICT_CLEAN = 0,
	VERDICT_VIRUS,
	VERDICT_OVERSIZE,     /* over max_message_size: never parsed or scanned */
	VERDICT_BANNED,       /* a banned attachment name, or message/partial */
	VERDICT_LIMIT,        /* a MIME limit was reached: the message was not fully read */
	VERDICT_ANOMALY,      /* a MIME anomaly the site chose to refuse */
	VERDICT_ERROR,
	VERDICT_COUNT
};
enum action { ACTION_ACCEPT = 0, ACTION_REJECT, ACTION_TEMPFAIL, ACTION_DISCARD };

struct policy_cell {
	enum action action;
	bool quarantine;
	bool alert;
};

struct policy_table {
	struct policy_cell cell[2][VERDICT_COUNT]; /* [origin][verdict] */
};

void policy_defaults(struct policy_table *t);
struct policy_cell policy_decide(const struct policy_table *t, enum origin origin, enum verdict v);
const char *policy_action_name(enum action a);
const char *policy_verdict_name(enum verdict v);

#endif
