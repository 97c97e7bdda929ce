/*
 * release - let a message an administrator released from the quarantine
 * pass klaxon once more, without a back door for anyone else.
 *
 * SYNOPSIS
 *	(klaxon quarantine release)
 *	char hash[RELEASE_HASH_LEN];
 *	release_body_hash(msg, len, hash);
 *	release_mark(qdir, hash, id, "root", time(NULL) + cfg->release_window, err, errlen);
 *	... submit msg through sendmail_command ...
 *	(the pipeline, for a message it would not accept)
 *	char id[QUARANTINE_ID_MAX];
 *	if (release_check(qdir, hash, time(NULL), id, sizeof id)) ... accept, log the release ...
 *
 * DESCRIPTION
 *	A released message goes back through the MTA and so through klaxon,
 *	which would hold it again. So the release leaves a token,
 *	quarantine_dir/released/<hash>, written by the durable recipe, naming
 *	the entry, who released it and until when the token is good
 *	(release_window). The hash is the SHA-256 of the message body (every
 *	byte after the blank line that ends the header, with every CR
 *	removed, so CRLF and LF copies agree): the MTA adds Received lines and
 *	may rewrite header fields, but does not touch the body. A token lets
 *	through only a body an administrator looked at and released; the
 *	same body from anyone else within the window is that same content.
 *	Tokens are not consumed (a message to several recipients may come
 *	back more than once); release_prune() removes expired ones.
 *	release_pending() says whether any token is still good (removing the
 *	expired ones it meets), so the daemon hashes bodies only while a
 *	release is open.
 *
 * ERRORS
 *	0, or -1 with err. release_check() is false on any error.
 *
 * THREAD SAFETY
 *	Safe from any thread and process. Does not log.
 */
#ifndef KLAXON_RELEASE_H
#define KLAXON_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RELEASE_HASH_LEN 65 /* hex SHA-256 and NUL */

void release_body_hash(const char *msg, size_t len, char hash[RELEASE_HASH_LEN]);
int release_mark(const char *qdir, const char *hash, const char *id, const char *who, time_t until,
		 char *err, size_t errlen);
bool release_check(const char *qdir, const char *hash, time_t now, char *id_out, size_t idlen);
bool release_pending(const char *qdir, time_t now);
int release_prune(const char *qdir, time_t now, unsigned *removed, char *err, size_t errlen);

#endif
