/*
 * spool - one message's raw bytes: in memory up to a threshold, then in a
 * private file.
 *
 * SYNOPSIS
 *	struct spool *sp;
 *	spool_open(&sp, dir, mem_limit, max_size, err, errlen);
 *	spool_append(sp, buf, len, err, errlen);     as chunks arrive
 *	spool_memory(sp, &len) or spool_fd(sp)        to scan
 *	raw = spool_map(sp, &len, err, errlen)        the whole message, to rebuild
 *	spool_unmap(sp)
 *	spool_write_to(fd, sp, err, errlen)           to copy (a durable_writer_fn)
 *	spool_close(sp);
 *
 * DESCRIPTION
 *	Bytes stay in one growing buffer until they pass mem_limit; then the
 *	buffer is moved to an unnamed file in dir (O_TMPFILE, or mkstemp and
 *	unlink where the file system lacks it), mode 0600, so no other user can
 *	read it and nothing is left behind if klaxon dies. Past max_size the
 *	spool stops storing but keeps counting: spool_overflowed() is then true
 *	and spool_size() is the full size, so the caller can refuse the message
 *	with its real size. A spool that overflowed is never scanned or copied.
 *
 *	spool_head() copies up to len bytes from the start, for header lookups.
 *
 *	spool_map() gives the whole message as one read-only run of bytes,
 *	wherever it is: the memory buffer itself, or a private read-only
 *	mmap of the file (PROT_READ, MAP_PRIVATE; an empty message is "").
 *	Calling it again while mapped returns the same mapping. An overflowed
 *	spool holds no message, so mapping it is an error. spool_unmap()
 *	releases a mapping (nothing to do for memory); spool_close() does it
 *	too.
 *
 * OWNERSHIP
 *	The spool owns its buffer and descriptor; spool_close() frees both.
 *	The pointer from spool_memory() is valid until the next append or close;
 *	the one from spool_map() until the next append, spool_unmap() or close.
 *
 * ERRORS
 *	0 on success, -1 with err naming the failed call (a full disk is an
 *	error the caller turns into a 4xx, never a silent truncation).
 *
 * THREAD SAFETY
 *	One spool belongs to one message on one thread. Does not log.
 */
#ifndef KLAXON_SPOOL_H
#define KLAXON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct spool;

int spool_open(struct spool **out, const char *dir, unsigned long long mem_limit,
	       unsigned long long max_size, char *err, size_t errlen);
int spool_append(struct spool *sp, const void *buf, size_t len, char *err, size_t errlen);
unsigned long long spool_size(const struct spool *sp);
bool spool_overflowed(const struct spool *sp);
const void *spool_memory(const struct spool *sp, size_t *len); /* NULL when on file */
int spool_fd(const struct spool *sp);                            /* -1 when in memory */
size_t spool_head(const struct spool *sp, char *buf, size_t len);
const void *spool_map(struct spool *sp, size_t *len, char *err, size_t errlen);
void spool_unmap(struct spool *sp);
int spool_write_to(int fd, void *spool, char *err, size_t errlen);
void spool_close(struct spool *sp);

#endif
