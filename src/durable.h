/*
 * durable - the one durable-write recipe, written once.
 *
 * SYNOPSIS
 *	durable_write(dir, name, writer, arg, err, errlen);
 *
 * DESCRIPTION
 *	durable_write() creates dir/.tmp.<name>.<random> with O_CREAT|O_EXCL
 *	and mode 0600, calls writer(fd, arg, err, errlen) to fill it, then
 *	fsync(2)s it, close(2)s it (checked), rename(2)s it to dir/name and
 *	fsync(2)s the directory. Either dir/name exists whole afterwards, or it
 *	does not exist and the temp file has been removed. A crash can leave a
 *	.tmp.* file behind; readers must ignore names that start with ".tmp.".
 *
 *	durable_write_all() writes len bytes, retrying short writes and EINTR.
 *
 *	durable_mkdir() is mkdir -p: components it creates get exactly mode
 *	(whatever the umask) and their parent is fsync(2)ed; existing
 *	directories are left alone.
 *
 *	durable_sync_dir() fsync(2)s a directory, so that an unlink (or any
 *	other change of names) in it survives a crash.
 *
 * ERRORS
 *	Every function returns 0 on success and -1 on failure, with a message
 *	that names the failed system call and the path in err.
 *	durable_write_all() knows only the fd, so it names that; when a writer
 *	fails, durable_write() appends " (writing <temp path>)" to its message.
 *
 * THREAD SAFETY
 *	Safe from any thread. Does not log.
 */
#ifndef KLAXON_DURABLE_H
#define KLAXON_DURABLE_H

#include <stddef.h>

typedef int (*durable_writer_fn)(int fd, void *arg, char *err, size_t errlen);

int durable_write(const char *dir, const char *name, durable_writer_fn writer, void *arg,
		  char *err, size_t errlen);
int durable_write_all(int fd, const void *buf, size_t len, char *err, size_t errlen);
int durable_mkdir(const char *dir, unsigned mode, char *err, size_t errlen); /* mkdir -p, checked */
int durable_sync_dir(const char *dir, char *err, size_t errlen);

#endif
