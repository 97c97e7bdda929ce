/*
 * submit - hand a message to the local MTA through sendmail_command.
 *
 * SYNOPSIS
 *	submit_message(argv, msg, len, timeout_s, err, errlen);
 *
 * DESCRIPTION
 *	Runs argv[0] with argv (no shell; posix_spawn, so it is safe in a
 *	threaded daemon), writes the len bytes of msg to its standard input,
 *	closes it and waits at most timeout_s seconds for it to exit. Success
 *	means the command exited with status 0. On timeout the child is killed
 *	(SIGKILL) and reaped. Standard output and error of the child are sent to
 *	/dev/null, except that the first line of its stderr is put into err on
 *	failure, so the caller can log why.
 *
 * ERRORS
 *	0 on success, -1 on failure with a reason in err.
 *
 * THREAD SAFETY
 *	Safe from any thread. Does not log. SIGPIPE must be ignored or blocked
 *	by the caller (klaxon does so at start-up).
 */
#ifndef KLAXON_SUBMIT_H
#define KLAXON_SUBMIT_H

#include <stddef.h>

int submit_message(char *const argv[], const void *msg, size_t len, unsigned timeout_s,
		   char *err, size_t errlen);

#endif
