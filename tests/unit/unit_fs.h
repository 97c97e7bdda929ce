/*
 * unit_fs - small file-system helpers shared by the unit tests of the
 * durable, quarantine, submit and alert modules. Header-only, so that each
 * test stays one file and the Makefile needs no change.
 */
#ifndef KLAXON_UNIT_FS_H
#define KLAXON_UNIT_FS_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ufs_tmpdir - a fresh private directory under /tmp; aborts the test run on failure */
static inline void ufs_tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/klaxon-unit-XXXXXX");
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

/* ufs_rm_one - nftw callback for ufs_rm_rf */
static inline int ufs_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ufs_rm_rf - remove a test directory tree */
static inline void ufs_rm_rf(const char *path)
{
	(void)nftw(path, ufs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ufs_read - whole file, NUL-terminated for convenience; NULL if it cannot be read */
static inline char *ufs_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (len != NULL)
		*len = 0;
	if (fp == NULL)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			char *grown = realloc(buf, cap);
			if (grown == NULL)
				abort();
			buf = grown;
		}
		size_t got = fread(buf + n, 1, 4096, fp);
		n += got;
		if (got == 0)
			break;
	}
	fclose(fp);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* ufs_write - create or replace a file with exactly these bytes */
static inline int ufs_write(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL)
		return -1;
	size_t n = fwrite(data, 1, len, fp);
	return (fclose(fp) == 0 && n == len) ? 0 : -1;
}

/* ufs_count - entries in dir whose name starts with prefix ("" counts all but . and ..) */
static inline int ufs_count(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* ufs_count_suffix - entries in dir whose name ends with suffix */
static inline int ufs_count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	size_t sl = strlen(suffix);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* ufs_nfds - open descriptors of this process, to catch leaks on error paths */
static inline int ufs_nfds(void)
{
	return ufs_count("/proc/self/fd", "") - 1; /* minus opendir's own fd */
}

/* ufs_mode - permission bits of path, or -1 */
static inline int ufs_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

#endif
