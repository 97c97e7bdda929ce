/*
 * durable - the one durable-write recipe. See durable.h for the contract.
 *
 * The order matters: the data is fsync(2)ed before the rename, so the name
 * can never point at a file whose blocks are not on disk; the directory is
 * fsync(2)ed after the rename, so the name itself survives a crash.
 */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"

#define DURABLE_TMP_PREFIX ".tmp."

/* durable_fail - format "call dir/name: strerror(errnum)" into err */
static void durable_fail(char *err, size_t errlen, const char *call, const char *dir,
			 const char *name, int errnum)
{
	if (name != NULL)
		snprintf(err, errlen, "%s %s/%s: %s", call, dir, name, strerror(errnum));
	else
		snprintf(err, errlen, "%s %s: %s", call, dir, strerror(errnum));
}

/* durable_name_ok - one plain component, never a temp name, so readers may skip ".tmp." */
static bool durable_name_ok(const char *name)
{
	return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 &&
	       strncmp(name, DURABLE_TMP_PREFIX, strlen(DURABLE_TMP_PREFIX)) != 0;
}

/* durable_write_all - write len bytes, riding out short writes and EINTR */
int durable_write_all(int fd, const void *buf, size_t len, char *err, size_t errlen)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "write fd %d: %s", fd, strerror(errno));
			return -1;
		}
		if (n == 0) {
			/* Not expected for a file, but looping on it would never end. */
			snprintf(err, errlen, "write fd %d: wrote 0 of %zu bytes", fd, len);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* durable_writer_context - say which temp file a writer's failure was about */
static void durable_writer_context(char *err, size_t errlen, const char *dir, const char *tmp)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", err[0] != '\0' ? err : "writer failed");
	snprintf(err, errlen, "%s (writing %s/%s)", why, dir, tmp);
}

/* durable_write - temp, write, fsync, close, rename, fsync(dir); one failure label */
int durable_write(const char *dir, const char *name, durable_writer_fn writer, void *arg,
		  char *err, size_t errlen)
{
	char hex[17];
	char tmp[NAME_MAX + 1];
	int dfd = -1;
	int fd = -1;
	bool created = false;
	bool renamed = false;

	if (errlen > 0)
		err[0] = '\0';
	if (!durable_name_ok(name)) {
		snprintf(err, errlen, "durable_write %s: bad file name \"%s\"", dir, name);
		return -1;
	}
	if (ident_hex(hex, 16, err, errlen) == -1)
		return -1;
	int n = snprintf(tmp, sizeof(tmp), DURABLE_TMP_PREFIX "%s.%s", name, hex);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		durable_fail(err, errlen, "durable_write", dir, name, ENAMETOOLONG);
		return -1;
	}

	/* Everything below is relative to one directory fd, so a rename of dir
	 * half-way cannot split the temp file from its final name. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		durable_fail(err, errlen, "open", dir, NULL, errno);
		goto fail;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		durable_fail(err, errlen, "open", dir, tmp, errno);
		goto fail;
	}
	created = true;
	/* The umask can only take bits away, but the contract says 0600, exactly. */
	if (fchmod(fd, 0600) == -1) {
		durable_fail(err, errlen, "fchmod", dir, tmp, errno);
		goto fail;
	}
	if (writer(fd, arg, err, errlen) == -1) {
		durable_writer_context(err, errlen, dir, tmp);
		goto fail;
	}
	if (fsync(fd) == -1) {
		durable_fail(err, errlen, "fsync", dir, tmp, errno);
		goto fail;
	}
	/* close(2) can report a deferred write error (NFS); the fd is gone either way. */
	int rc = close(fd);
	fd = -1;
	if (rc == -1) {
		durable_fail(err, errlen, "close", dir, tmp, errno);
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, name) == -1) {
		durable_fail(err, errlen, "rename", dir, tmp, errno);
		goto fail;
	}
	renamed = true;
	if (fsync(dfd) == -1) {
		durable_fail(err, errlen, "fsync", dir, NULL, errno);
		goto fail;
	}
	rc = close(dfd);
	dfd = -1;
	if (rc == -1) {
		durable_fail(err, errlen, "close", dir, NULL, errno);
		goto fail;
	}
	return 0;

fail:
	if (fd != -1)
		(void)close(fd); /* already failing; the first error is the one to report */
	/* After the rename the file is whole; removing it would lose a good copy. */
	if (created && !renamed && unlinkat(dfd, tmp, 0) == -1) {
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "; unlink %s/%s: %s", dir, tmp,
			 strerror(errno));
	}
	if (dfd != -1)
		(void)close(dfd);
	return -1;
}

/* durable_sync_dir - fsync(2) a directory so that changes of names in it survive a crash */
int durable_sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1) {
		durable_fail(err, errlen, "open", dir, NULL, errno);
		return -1;
	}
	if (fsync(fd) == -1) {
		durable_fail(err, errlen, "fsync", dir, NULL, errno);
		(void)close(fd); /* already failing with the error that matters */
		return -1;
	}
	if (close(fd) == -1) {
		durable_fail(err, errlen, "close", dir, NULL, errno);
		return -1;
	}
	return 0;
}

/* durable_fsync_parent - make the new entry path survive a crash; path is restored */
static int durable_fsync_parent(char *path, char *err, size_t errlen)
{
	char *slash = strrchr(path, '/');

	if (slash == NULL)
		return durable_sync_dir(".", err, errlen);
	if (slash == path)
		return durable_sync_dir("/", err, errlen);
	*slash = '\0';
	int rc = durable_sync_dir(path, err, errlen);
	*slash = '/';
	return rc;
}

/* durable_mkdir_one - create one component (mode exact despite the umask), or accept a dir */
static int durable_mkdir_one(char *path, unsigned mode, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, (mode_t)mode) == -1) {
		if (errno != EEXIST) {
			durable_fail(err, errlen, "mkdir", path, NULL, errno);
			return -1;
		}
		if (stat(path, &st) == -1) {
			durable_fail(err, errlen, "stat", path, NULL, errno);
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			durable_fail(err, errlen, "mkdir", path, NULL, ENOTDIR);
			return -1;
		}
		return 0; /* made by someone else, maybe a concurrent caller: theirs to keep */
	}
	if (chmod(path, (mode_t)mode) == -1) {
		durable_fail(err, errlen, "chmod", path, NULL, errno);
		return -1;
	}
	return durable_fsync_parent(path, err, errlen);
}

/* durable_mkdir - mkdir -p; components we create get mode, existing ones are left alone */
int durable_mkdir(const char *dir, unsigned mode, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	int n = snprintf(path, sizeof(path), "%s", dir);
	if (n <= 0 || (size_t)n >= sizeof(path)) {
		durable_fail(err, errlen, "mkdir", dir, NULL, n <= 0 ? ENOENT : ENAMETOOLONG);
		return -1;
	}
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		int rc = durable_mkdir_one(path, mode, err, errlen);
		*p = '/';
		if (rc == -1)
			return -1;
	}
	return durable_mkdir_one(path, mode, err, errlen);
}
