/*
 * filter_api - what a Lua filter sees and may do: MIMEDefang's callbacks,
 * the message object, and the actions, recorded into one outcome that the
 * pipeline turns into the final decision.
 *
 * SYNOPSIS
 *	struct filter_opts opts = {.funcs = filter_api_funcs, ...};
 *	filter_prog_compile(path, &opts, &prog, err, errlen);
 *
 *	Early (milter callbacks, before the message exists):
 *	struct filter_early_args a = {.ip = "192.0.2.1", .name = ..., .helo = ...};
 *	struct filter_early_result res;
 *	switch (filter_api_early(st, "filter_sender", &a, &res, budget, err, errlen)) ...
 *	... res.kind: continue, accept, reject (5xx), tempfail (4xx), discard ...
 *
 *	Message (after parsing and scanning):
 *	struct filter_msg_ctx ctx = {.env = &env, .mime = m, .insp = &insp, ...};
 *	filter_outcome_init(&ctx.out, m->nparts);
 *	status = filter_api_message(st, &ctx, budget, err, errlen);
 *	... ctx.out: message action, part actions, header and envelope edits, notices ...
 *	filter_outcome_clear(&ctx.out);
 *
 * DESCRIPTION
 *	Early callbacks. filter_api_early() calls one of, with MIMEDefang's
 *	arguments (absent values are ""):
 *	    filter_relay(ip, name)
 *	    filter_helo(ip, name, helo)
 *	    filter_sender(sender, ip, name, helo, info)
 *	    filter_recipient(rcpt, sender, ip, name, first, helo, info)
 *	info is a table {auth_user=, origin=, queue_id=} (fields nil when
 *	unknown); first is the first recipient of the message. The callback
 *	returns a status word, case-insensitive, and optionally a text, an SMTP
 *	code and a DSN code: "continue" (also nil, or no return value),
 *	"accept", "reject", "tempfail", "discard". Checks, each failing the
 *	call as FILTER_ERROR with a message naming the callback (so the MTA
 *	gets a 4xx and the log says why):
 *	  - an unknown status word;
 *	  - reject with a code that is not 5xx, or a DSN that is not 5.x.x;
 *	  - tempfail with a code that is not 4xx, or a DSN that is not 4.x.x;
 *	  - a code that is not three digits, a DSN that is not d.d{1,3}.d{1,3}.
 *	The text is cleaned, not refused (see Texts below).
 *	Missing code and DSN default to 554 5.7.1 (reject) and 451 4.7.1
 *	(tempfail); a missing text to "Rejected by policy" and "Try again
 *	later". What "accept" and "discard" mean is the milter's business
 *	(milter.c): accept never skips the scan, discard never skips the
 *	durable copy.
 *
 *	Message callbacks. filter_api_message() builds the message object
 *	once, then calls, each only if defined:
 *	    filter_begin(msg)
 *	    filter(part, filename, extension, type)        each leaf, tree order
 *	    filter_multipart(part, filename, extension, type)  each container
 *	    filter_end(msg)
 *	(filter and filter_multipart in one pass over msg.parts, so a
 *	container comes just before its children, as in MIMEDefang)
 *	where filename is part.filename, extension part.extension (with the
 *	dot, ".exe", as MIMEDefang; "" if none) and type part.type. The same
 *	message and part tables are passed to every call, so a filter may
 *	note things in them. One budget (instructions) covers all the calls of
 *	one message; the first call that fails ends the run with its status.
 *
 *	The message object (msg):
 *	    sender, recipients (array), client_addr, client_name, helo,
 *	    auth_user, queue_id, origin ("internal"|"external"), size (bytes),
 *	    subject, headers (array of {name=, value=}, in order, unfolded,
 *	    value without its leading white space, the first 1000 fields),
 *	    header (table: lower-case name -> first value), verdict ("clean",
 *	    "virus", "banned", "limit", "anomaly"), viruses (array of names,
 *	    every reading), banned (the reason, or nil), limit (detail, or
 *	    nil), flags (array of anomaly flag names), reason (why the verdict
 *	    is not clean, as the built-in reply's %r says it: for "anomaly"
 *	    only the flags anomalies_refuse refused; nil when clean or virus), parts (array, tree
 *	    order), root (parts[1]). Absent envelope strings are "", but
 *	    auth_user and queue_id are nil; subject is the pipeline's, else
 *	    the Subject field's value, else "".
 *	A part:
 *	    index (1-based in msg.parts), path ("1.2"), type (lower case
 *	    "type/subtype"), charset, disposition, encoding ("base64", ...),
 *	    filename (best, "" if none), filenames (every source), extension
 *	    (".exe" or ""), size (decoded bytes), sha256 (hex, "" for
 *	    containers), flags (array), verdict ("clean", "virus", "banned",
 *	    "container", "error", "unscanned"), viruses (array), leaf
 *	    (boolean), parent (part, nil for the root), children (array).
 *	    A part inspect has no matching record for is "unscanned".
 *
 *	Functions (globals; those that need a message raise an error outside
 *	filter_begin .. filter_end):
 *	    message_contains_virus()      -> infected (boolean), names (array)
 *	    entity_contains_virus(part)   -> infected, names
 *	    part_body(part [, max])       -> the decoded bytes (leaves; "" else)
 *	    md_syslog(priority, text)     log one line ("info", "warning", "err")
 *	  message actions (the strongest one called wins: tempfail, then
 *	  bounce, then discard, then accept):
 *	    action_accept()
 *	    action_bounce([text [, code [, dsn]]])     5xx, default 554 5.7.1
 *	    action_tempfail([text [, code [, dsn]]])   4xx, default 451 4.7.1
 *	    action_discard()
 *	    action_quarantine_entire_message([reason [, class]])  class "policy"
 *	                                  (default) or "spam", for a clean message
 *	  part actions (part defaults to the part of the running filter() or
 *	  filter_multipart(); in filter_begin/filter_end it is required):
 *	    action_drop([part])
 *	    action_drop_with_warning(text [, part])
 *	    action_replace_with_warning(text [, part])
 *	    action_quarantine(part, [reason])   durable copy, then drop with a
 *	                                        warning (MIMEDefang's meaning)
 *	    action_accept_part([part])  undo an earlier part action (MIMEDefang's
 *	                                action_accept inside filter() is a no-op)
 *	  headers (name: printable ASCII without ':' or space, at most 128
 *	  bytes; value: no CR/LF, at most FILTER_TEXT_MAX; index is 1-based,
 *	  among the headers of that name, default 1):
 *	    action_add_header(name, value)
 *	    action_change_header(name, value [, index])  (adds if absent)
 *	    action_delete_header(name [, index])
 *	    action_delete_all_headers(name)
 *	  envelope (address: no angle brackets, controls or spaces, <= 320):
 *	    add_recipient(addr), delete_recipient(addr), change_sender(addr)
 *	  notices, sent only after the final decision:
 *	    action_notify_administrator(text)
 *	    action_notify_sender(text)
 *	Texts (replies, warnings, reasons, header values, notices) are cleaned,
 *	never refused, because they are often built from what the sender
 *	chose: in replies, reasons and header values CR and LF become spaces;
 *	warnings and notices keep LF (several lines) and lose CR; TAB stays;
 *	other control characters become '?'. Replies, reasons and header
 *	values are cut at FILTER_TEXT_MAX bytes, warnings and notices at
 *	FILTER_NOTE_MAX, on a UTF-8 character boundary. A text, code or DSN that is nil or "" takes
 *	the default. Each list of edits (headers, recipients, notices) holds
 *	at most 1000 entries: that memory is outside the state's cap.
 *	Bad arguments raise a Lua error (the message gets a 4xx). Actions only
 *	record: nothing is applied until the pipeline has the final decision.
 *
 *	The refusal. filter_notice_to_sender_allowed() is the one place that
 *	decides whether a queued sender notice may go: never if any reading
 *	of the message has a virus verdict, never unless the final action is
 *	accept, never to the null sender or a MAILER-DAEMON/postmaster-style
 *	address (local part mailer-daemon, postmaster, owner-*, *-request,
 *	any case; or any control character). Its why names the rule, for
 *	the log. The pipeline calls it with the final decision, after every
 *	callback has run, so a notice queued in filter() for part 1 is
 *	refused when part 3 holds the virus.
 *
 * OWNERSHIP
 *	The outcome owns every string in it; filter_outcome_clear() frees
 *	them. The ctx's env, mime and insp are borrowed for the call.
 *
 * ERRORS
 *	filter_api_early() and filter_api_message() return filter_call()'s
 *	status (filter.h) with err set as it says; FILTER_UNDEFINED from
 *	filter_api_early() means the callback is not defined (res: continue).
 *
 * THREAD SAFETY
 *	A ctx and a state belong to one thread. Logs only from md_syslog.
 */
#ifndef KLAXON_FILTER_API_H
#define KLAXON_FILTER_API_H

#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"
#include "filter.h"
#include "inspect.h"
#include "mime.h"
#include "policy.h"

#define FILTER_TEXT_MAX 400
#define FILTER_NOTE_MAX 4000 /* notices and part warnings */

extern const struct filter_reg filter_api_funcs[];

/* ---- early callbacks ---- */

struct filter_early_args {
	const char *ip, *name, *helo;
	const char *sender;          /* filter_sender, filter_recipient */
	const char *rcpt, *first;    /* filter_recipient */
	const char *auth_user, *queue_id;
	enum origin origin;
};

enum filter_early_kind {
	FILTER_EARLY_CONTINUE = 0,
	FILTER_EARLY_ACCEPT,
	FILTER_EARLY_REJECT,
	FILTER_EARLY_TEMPFAIL,
	FILTER_EARLY_DISCARD,
};

struct filter_early_result {
	enum filter_early_kind kind;
	char code[4];                /* "554"; set for reject and tempfail */
	char dsn[16];                /* "5.7.1" */
	char text[FILTER_TEXT_MAX + 1];
};

enum filter_status filter_api_early(struct filter_state *st, const char *callback,
				    const struct filter_early_args *a, struct filter_early_result *res,
				    unsigned long budget, char *err, size_t errlen);
const char *filter_early_kind_name(enum filter_early_kind k);

/* ---- message callbacks ---- */

/* In order of strength: a stronger one called later or earlier wins. */
enum filter_msg_action {
	FILTER_MSG_NONE = 0,         /* the filter said nothing */
	FILTER_MSG_ACCEPT,
	FILTER_MSG_DISCARD,
	FILTER_MSG_BOUNCE,
	FILTER_MSG_TEMPFAIL,
};

enum filter_part_action {
	FILTER_PART_KEEP = 0,
	FILTER_PART_DROP,            /* removed without a trace */
	FILTER_PART_DROP_WARN,       /* removed; its warning goes in a warning part */
	FILTER_PART_REPLACE_WARN,    /* replaced in place by a text/plain warning */
};

enum filter_hdr_op { FILTER_HDR_ADD = 0, FILTER_HDR_CHANGE, FILTER_HDR_DELETE, FILTER_HDR_DELETE_ALL };

struct filter_hdr_edit {
	enum filter_hdr_op op;
	char *name;
	char *value;                 /* NULL for the deletes */
	unsigned index;              /* 1-based, change and delete */
};

struct filter_rcpt_edit {
	bool add;                    /* add_recipient, else delete_recipient */
	char *addr;
};

struct filter_notice {
	bool to_sender;              /* action_notify_sender, else administrator */
	char *text;
	char *callback;              /* which callback queued it, for the log */
};

struct filter_outcome {
	enum filter_msg_action action;
	char code[4], dsn[16];       /* bounce and tempfail */
	char text[FILTER_TEXT_MAX + 1];

	bool quarantine_message;     /* action_quarantine_entire_message */
	char quarantine_reason[256];
	char quarantine_class[8];    /* "policy" or "spam"; "" if not called */

	size_t nparts;               /* == mime->nparts */
	unsigned char *part_action;  /* enum filter_part_action, per part index */
	char **part_text;            /* the warning per part (DROP_WARN, REPLACE_WARN), or NULL */
	bool *part_quarantine;       /* action_quarantine: keep a durable copy first */
	char **part_reason;          /* its reason, or NULL */
	bool parts_changed;          /* any part action other than KEEP */

	struct filter_hdr_edit *hdrs;
	size_t nhdrs, hdrcap;
	struct filter_rcpt_edit *rcpts;
	size_t nrcpts, rcptcap;
	char *new_sender;            /* change_sender, NULL if not called */
	struct filter_notice *notices;
	size_t nnotices, noticecap;
};

struct filter_msg_ctx {
	const struct envelope *env;
	const struct mime_message *mime;       /* the default reading, with leaf data */
	const struct inspect_result *insp;     /* verdicts; parts[] match mime->parts[] by index */
	enum verdict verdict;
	const char *subject;
	const char *reason;                    /* the verdict's reason (built-in reply's %r), or NULL */
	unsigned long long size;
	struct filter_outcome out;
	/* private to filter_api.c and filter_msgobj.c (the message object) while a run is on */
	int current_part;                      /* index, -1 outside filter()/filter_multipart() */
	const char *callback;
	int msg_ref;                           /* registry refs of the message and parts tables */
	int parts_ref;
};

int filter_outcome_init(struct filter_outcome *out, size_t nparts); /* -1: out of memory */
void filter_outcome_clear(struct filter_outcome *out);
enum filter_status filter_api_message(struct filter_state *st, struct filter_msg_ctx *ctx,
				      unsigned long budget, char *err, size_t errlen);
const char *filter_msg_action_name(enum filter_msg_action a);
const char *filter_part_action_name(enum filter_part_action a);

/* The one rule for action_notify_sender; see above. */
bool filter_notice_to_sender_allowed(const struct inspect_result *insp, enum action final,
				     const char *sender, char *why, size_t whylen);

#endif
