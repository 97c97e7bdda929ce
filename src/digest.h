/*
 * digest - one recipient's quarantine digest, readable on the day of an
 * outbreak: 500 copies of one worm are one line, and the few items a
 * person may want back are listed first, one line each.
 *
 * SYNOPSIS
 *	struct digest *d = digest_new(&opts, "bob@example.org");
 *	digest_add(d, &row);                 each qindex_row for that recipient
 *	digest_compose(d, &msg, &len, err, errlen);
 *	digest_free(d);
 *
 * DESCRIPTION
 *	Items fold into groups:
 *	  - every virus-class item joins the group of its first virus name;
 *	  - any other item joins the group of its payload hash when at least
 *	    two items (of this digest) share that hash;
 *	  - the rest are singular ("kernels of wheat": a banned attachment,
 *	    an ambiguous message, a policy hold).
 *	A group row reads "Sobig.F: 497 copies, 03:12 to 22:40, from 412
 *	different senders" (a payload group names its first item's reason
 *	and subject instead of a virus). Singular rows come first, oldest
 *	first, each with time, sender, subject, reason and the id to give to
 *	`klaxon quarantine release`; groups follow, largest first.
 *
 *	The message is multipart/alternative (text/plain and text/html, both
 *	UTF-8, quoted-printable), From opts->from, To the recipient, Subject
 *	"Quarantine digest for <rcpt>: N held (M outbreak copies)", Date,
 *	Message-ID, Auto-Submitted: auto-generated. Every value from a message
 *	(sender, subject, reason, virus name) is sanitised: control characters
 *	become '?', long values are cut with "...", and in the HTML part <, >,
 *	&, " and ' are escaped. The recipient in To is the index's
 *	lower-cased address; one that needs quoting or has a control
 *	character is refused (digest_new() returns NULL).
 *
 *	One screen: at most opts->max_rows rows (singular rows first); past
 *	that one line "... and N more: klaxon quarantine list --rcpt <rcpt>"
 *	points to the CLI. With max_rows <= 30 the text part is at most about
 *	40 lines, whatever the number of items.
 *
 *	digest.c groups and plans the rows; digest_mime.c writes the message.
 *
 * OWNERSHIP
 *	digest_add() copies what it keeps of a row. digest_compose() returns
 *	a malloc'd message the caller frees.
 *
 * ERRORS
 *	digest_new() returns NULL for a refused address or out of memory;
 *	digest_add() and digest_compose() return 0, or -1 with err.
 *
 * THREAD SAFETY
 *	A digest belongs to one thread. Does not log.
 */
#ifndef KLAXON_DIGEST_H
#define KLAXON_DIGEST_H

#include <stddef.h>
#include <time.h>

#include "qindex.h"

struct digest_opts {
	const char *from;          /* digest_from */
	const char *hostname;      /* for Message-ID */
	unsigned max_rows;         /* digest_max_rows */
	time_t since, until;       /* the period the digest covers, for its header line */
	time_t when;               /* Date; 0: now */
};

struct digest;

struct digest *digest_new(const struct digest_opts *opts, const char *rcpt);
int digest_add(struct digest *d, const struct qindex_row *row, char *err, size_t errlen);
size_t digest_items(const struct digest *d);
int digest_compose(struct digest *d, char **msg, size_t *len, char *err, size_t errlen);
void digest_free(struct digest *d);

/*
 * `klaxon digest [--config FILE] [--since 24h] [--rcpt ADDR] [--send | --stdout]`
 * (argv[0] is "digest"; digest_cli.c): one digest per recipient with
 * items new since its last digest (and within --since), written to
 * stdout (the default; state unchanged) or submitted through
 * sendmail_command from digest_from (--send; the state is then marked).
 */
int digest_main(int argc, char **argv);

#endif
