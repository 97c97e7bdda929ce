/*
 * spool - one message's raw bytes. See spool.h for the contract.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"

struct spool {
	char *dir;
	unsigned long long mem_limit;
	unsigned long long max_size;
	unsigned long long size;   /* every byte offered, stored or not */
	char *buf;                 /* in memory while fd == -1 */
	size_t len, cap;
	int fd;
	void *map;                 /* spool_map() of the file, or NULL */
	size_t maplen;
};

/* spool_open - an empty spool; nothing touches the disk yet */
int spool_open(struct spool **out, const char *dir, unsigned long long mem_limit,
	       unsigned long long max_size, char *err, size_t errlen)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	if (sp == NULL || (sp->dir = strdup(dir)) == NULL) {
		free(sp);
		snprintf(err, errlen, "spool: out of memory");
		return -1;
	}
	sp->mem_limit = mem_limit;
	sp->max_size = max_size;
	sp->fd = -1;
	*out = sp;
	return 0;
}

/* spool_tmpfile - an unnamed private file in dir */
static int spool_tmpfile(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR) {
		snprintf(err, errlen, "open(O_TMPFILE) %s: %s", dir, strerror(errno));
		return -1;
	}
	/* No O_TMPFILE on this file system: a named file, unlinked at once. */
	char path[4096];
	snprintf(path, sizeof(path), "%s/.spool.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "mkostemp %s: %s", path, strerror(errno));
		return -1;
	}
	if (unlink(path) == -1) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* spool_to_file - move what is in memory to a private file */
static int spool_to_file(struct spool *sp, char *err, size_t errlen)
{
	int fd = spool_tmpfile(sp->dir, err, errlen);
	if (fd == -1)
		return -1;
	if (durable_write_all(fd, sp->buf, sp->len, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	free(sp->buf);
	sp->buf = NULL;
	sp->len = sp->cap = 0;
	sp->fd = fd;
	return 0;
}

/* spool_grow - room for len more bytes in memory */
static int spool_grow(struct spool *sp, size_t len, char *err, size_t errlen)
{
	if (sp->len + len <= sp->cap)
		return 0;
	size_t cap = sp->cap ? sp->cap : 16384;
	while (cap < sp->len + len)
		cap *= 2;
	char *bigger = realloc(sp->buf, cap);
	if (bigger == NULL) {
		snprintf(err, errlen, "spool: out of memory for %zu bytes", cap);
		return -1;
	}
	sp->buf = bigger;
	sp->cap = cap;
	return 0;
}

/* spool_append - store a chunk; past max_size only count it */
int spool_append(struct spool *sp, const void *buf, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return 0;
	sp->size += len;
	if (sp->size > sp->max_size) {
		/* Overflowed: the message will be refused, so free what we hold. */
		free(sp->buf);
		sp->buf = NULL;
		sp->len = sp->cap = 0;
		return 0;
	}
	if (sp->fd == -1 && sp->size > sp->mem_limit && spool_to_file(sp, err, errlen) == -1)
		return -1;
	if (sp->fd != -1)
		return durable_write_all(sp->fd, buf, len, err, errlen);
	if (spool_grow(sp, len, err, errlen) == -1)
		return -1;
	memcpy(sp->buf + sp->len, buf, len);
	sp->len += len;
	return 0;
}

unsigned long long spool_size(const struct spool *sp)
{
	return sp->size;
}

bool spool_overflowed(const struct spool *sp)
{
	return sp->size > sp->max_size;
}

const void *spool_memory(const struct spool *sp, size_t *len)
{
	if (sp->fd != -1)
		return NULL;
	*len = sp->len;
	/* An empty message still has an address, so callers can scan it. */
	return sp->buf ? sp->buf : "";
}

int spool_fd(const struct spool *sp)
{
	return sp->fd;
}

/* spool_head - the first bytes, from memory or file */
size_t spool_head(const struct spool *sp, char *buf, size_t len)
{
	if (sp->fd == -1) {
		size_t n = sp->len < len ? sp->len : len;
		memcpy(buf, sp->buf ? sp->buf : "", n);
		return n;
	}
	ssize_t n = pread(sp->fd, buf, len, 0);
	return n > 0 ? (size_t)n : 0;
}

/* spool_write_to - copy the whole message to fd (a durable_writer_fn) */
int spool_write_to(int fd, void *spool, char *err, size_t errlen)
{
	struct spool *sp = spool;
	if (spool_overflowed(sp)) {
		snprintf(err, errlen, "spool: message over the size limit was not stored");
		return -1;
	}
	if (sp->fd == -1)
		return durable_write_all(fd, sp->buf ? sp->buf : "", sp->len, err, errlen);

	char chunk[65536];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(sp->fd, chunk, sizeof(chunk), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "pread spool: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if (durable_write_all(fd, chunk, (size_t)n, err, errlen) == -1)
			return -1;
		off += n;
	}
}

/* spool_map - the whole message as one read-only run of bytes; NULL with err */
const void *spool_map(struct spool *sp, size_t *len, char *err, size_t errlen)
{
	if (spool_overflowed(sp)) {
		snprintf(err, errlen, "spool: message over the size limit was not stored");
		return NULL;
	}
	if (sp->fd == -1)
		return spool_memory(sp, len);
	if (sp->map != NULL) {
		*len = sp->maplen;
		return sp->map;
	}
	struct stat st;
	if (fstat(sp->fd, &st) == -1) {
		snprintf(err, errlen, "fstat spool: %s", strerror(errno));
		return NULL;
	}
	if ((unsigned long long)st.st_size != sp->size || (unsigned long long)st.st_size > SIZE_MAX) {
		/* A short write we did not see would shift every offset the parser gave. */
		snprintf(err, errlen, "spool: file holds %lld bytes, %llu were stored",
			 (long long)st.st_size, sp->size);
		return NULL;
	}
	if (st.st_size == 0) {
		*len = 0;
		return ""; /* mmap() of nothing is EINVAL */
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, sp->fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "mmap spool (%lld bytes): %s", (long long)st.st_size,
			 strerror(errno));
		return NULL;
	}
	sp->map = m;
	sp->maplen = (size_t)st.st_size;
	*len = sp->maplen;
	return m;
}

/* spool_unmap - release what spool_map() mapped; memory needs nothing */
void spool_unmap(struct spool *sp)
{
	if (sp == NULL || sp->map == NULL)
		return;
	/* munmap() fails only for an address we did not map: nothing to undo then. */
	(void)munmap(sp->map, sp->maplen);
	sp->map = NULL;
	sp->maplen = 0;
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	spool_unmap(sp);
	if (sp->fd != -1)
		close(sp->fd);
	free(sp->buf);
	free(sp->dir);
	free(sp);
}
