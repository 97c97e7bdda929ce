/*
 * release - release tokens for messages let out of the quarantine. See
 * release.h for the contract.
 *
 * A token is quarantine_dir/released/<hash>, one line "id who until\n".
 * The name is the hash, so a check is one open(2) and no directory scan
 * on the message path. Tokens are written by the durable recipe, so a
 * reader sees a whole token or none. When the CLI runs as root and the
 * quarantine belongs to the daemon's user, the directory and tokens are
 * handed to that user: the daemon must be able to read them.
 */
#include "release.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "ident.h"

#define RELEASE_SUBDIR "released"
#define RELEASE_TOKEN_MAX 512       /* "id who until\n" is far shorter */
#define RELEASE_WHO_MAX 128
#define RELEASE_TMP_PREFIX ".tmp."
#define RELEASE_TMP_AGE 3600        /* a temp file this old is a crash's leftover */

struct release_token {
	const char *id;
	const char *who;
	time_t until;
	uid_t uid;                  /* owner to give the token, or (uid_t)-1 */
	gid_t gid;
};

/* release_hex - lowercase hex of n bytes into out (2n + 1 bytes) */
static void release_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* release_body_start - offset of the body: after the first empty line, CRs not counted */
static size_t release_body_start(const char *msg, size_t len)
{
	bool at_line_start = true; /* an empty first line means an empty header */

	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r')
			continue;
		if (msg[i] == '\n') {
			if (at_line_start)
				return i + 1;
			at_line_start = true;
		} else {
			at_line_start = false;
		}
	}
	return len; /* no blank line: all header, the body is empty */
}

/* release_body_hash - SHA-256 of the body without CRs; "" if libcrypto fails */
void release_body_hash(const char *msg, size_t len, char hash[RELEASE_HASH_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	hash[0] = '\0';
	/* Feed the runs between CRs, so CRLF and LF copies give the same bytes. */
	for (size_t i = release_body_start(msg, len); ok && i < len;) {
		const char *cr = memchr(msg + i, '\r', len - i);
		size_t run = cr != NULL ? (size_t)(cr - (msg + i)) : len - i;
		if (run > 0 && EVP_DigestUpdate(ctx, msg + i, run) != 1)
			ok = false;
		i += run + (cr != NULL);
	}
	if (ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32)
		release_hex(md, mdlen, hash);
	EVP_MD_CTX_free(ctx);
}

/* release_hash_ok - exactly 64 lowercase hex digits: a name that cannot leave the directory */
static bool release_hash_ok(const char *hash)
{
	size_t n = 0;

	for (; hash[n] != '\0'; n++)
		if (!((hash[n] >= '0' && hash[n] <= '9') || (hash[n] >= 'a' && hash[n] <= 'f')))
			return false;
	return n == RELEASE_HASH_LEN - 1;
}

/* release_who_ok - one word of printable ASCII, so the token stays three fields */
static bool release_who_ok(const char *who)
{
	size_t n = 0;

	for (; who[n] != '\0'; n++)
		if ((unsigned char)who[n] <= 0x20 || (unsigned char)who[n] >= 0x7f)
			return false;
	return n > 0 && n < RELEASE_WHO_MAX;
}

/* release_dir - quarantine_dir/released into buf */
static int release_dir(const char *qdir, char *buf, size_t len, char *err, size_t errlen)
{
	int n = snprintf(buf, len, "%s/" RELEASE_SUBDIR, qdir);

	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "release: quarantine_dir path too long: %s", qdir);
		return -1;
	}
	return 0;
}

/* release_write_token - durable_writer_fn: the one line, owned like the quarantine */
static int release_write_token(int fd, void *arg, char *err, size_t errlen)
{
	const struct release_token *t = arg;
	char line[RELEASE_TOKEN_MAX];
	int n = snprintf(line, sizeof(line), "%s %s %lld\n", t->id, t->who, (long long)t->until);

	if (n < 0 || (size_t)n >= sizeof(line)) {
		snprintf(err, errlen, "release token too long");
		return -1;
	}
	if (t->uid != (uid_t)-1 && fchown(fd, t->uid, t->gid) == -1) {
		snprintf(err, errlen, "fchown fd %d: %s", fd, strerror(errno));
		return -1;
	}
	return durable_write_all(fd, line, (size_t)n, err, errlen);
}

/* release_owner - as root, who owns qdir (the daemon's user); else nobody to hand over to */
static int release_owner(const char *qdir, struct release_token *t, char *err, size_t errlen)
{
	struct stat st;

	t->uid = (uid_t)-1;
	t->gid = (gid_t)-1;
	if (geteuid() != 0)
		return 0;
	if (stat(qdir, &st) == -1) {
		snprintf(err, errlen, "stat %s: %s", qdir, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0) {
		t->uid = st.st_uid;
		t->gid = st.st_gid;
	}
	return 0;
}

/* release_mark - leave the token that lets this body through until `until` */
int release_mark(const char *qdir, const char *hash, const char *id, const char *who, time_t until,
		 char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct release_token t = {.id = id, .who = who, .until = until};

	if (!release_hash_ok(hash) || !ident_valid(id) || !release_who_ok(who)) {
		snprintf(err, errlen, "release_mark: bad %s",
			 !release_hash_ok(hash) ? "hash" : !ident_valid(id) ? "id" : "user name");
		return -1;
	}
	if (release_dir(qdir, dir, sizeof(dir), err, errlen) == -1 ||
	    release_owner(qdir, &t, err, errlen) == -1 || durable_mkdir(dir, 0700, err, errlen) == -1)
		return -1;
	if (t.uid != (uid_t)-1 && chown(dir, t.uid, t.gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", dir, strerror(errno));
		return -1;
	}
	return durable_write(dir, hash, release_write_token, &t, err, errlen);
}

/* release_parse - "id who until\n" into its parts; -1 if it is not such a line */
static int release_parse(char *line, char **id, time_t *until)
{
	char *save = NULL;
	char *tid = strtok_r(line, " ", &save);
	char *who = strtok_r(NULL, " ", &save);
	char *when = strtok_r(NULL, " \n", &save);
	char *end = NULL;

	if (tid == NULL || who == NULL || when == NULL || strtok_r(NULL, " \n", &save) != NULL ||
	    !ident_valid(tid))
		return -1;
	errno = 0;
	long long v = strtoll(when, &end, 10);
	if (errno != 0 || *end != '\0' || end == when || v <= 0)
		return -1;
	*id = tid;
	*until = (time_t)v;
	return 0;
}

/* release_read - the token's line at dirfd/name (name a path with AT_FDCWD); -1 if unreadable */
static int release_read(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd == -1)
		return -1;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == -1)
				got = 0;
			break;
		}
		got += (size_t)n;
	}
	(void)close(fd); /* read-only: close cannot lose data */
	buf[got] = '\0';
	return got > 0 && buf[got - 1] == '\n' ? 0 : -1;
}

/* release_check - is there a token for this body that is still good at now? */
bool release_check(const char *qdir, const char *hash, time_t now, char *id_out, size_t idlen)
{
	char path[PATH_MAX];
	char line[RELEASE_TOKEN_MAX];
	char *id;
	time_t until;

	if (!release_hash_ok(hash))
		return false;
	/* The message path: one open(2) of the token itself, no directory handle. */
	int n = snprintf(path, sizeof(path), "%s/" RELEASE_SUBDIR "/%s", qdir, hash);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    release_read(AT_FDCWD, path, line, sizeof(line)) == -1 ||
	    release_parse(line, &id, &until) == -1 || now > until)
		return false;
	if (id_out != NULL && idlen > 0)
		snprintf(id_out, idlen, "%s", id);
	return true;
}

/* release_stale - should this directory entry go? Expired or broken tokens, old temp files */
static bool release_stale(int dfd, const char *name, time_t now)
{
	char line[RELEASE_TOKEN_MAX];
	char *id;
	time_t until;
	struct stat st;

	if (strncmp(name, RELEASE_TMP_PREFIX, strlen(RELEASE_TMP_PREFIX)) == 0)
		/* Young temp files may be a token being written right now. */
		return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		       st.st_mtime + RELEASE_TMP_AGE < now;
	if (!release_hash_ok(name))
		return false; /* not ours: leave it */
	if (release_read(dfd, name, line, sizeof(line)) == -1 ||
	    release_parse(line, &id, &until) == -1)
		return true; /* release_check never honours it */
	return now > until;
}

/* release_prune - remove expired tokens (and crash leftovers) from quarantine_dir/released */
/*
 * release_pending - is any token still good? The daemon asks this before it
 * hashes a message, so that a body is hashed only while a release is open.
 * Expired tokens it meets are removed on the way (best effort, no fsync: one
 * that comes back after a crash is expired still), so the question stays a
 * readdir of an empty directory once the release window has passed.
 */
bool release_pending(const char *qdir, time_t now)
{
	char dir[PATH_MAX], err[64];
	bool live = false;

	if (release_dir(qdir, dir, sizeof(dir), err, sizeof(err)) == -1)
		return false;
	DIR *d = opendir(dir);
	if (d == NULL)
		return false; /* nothing was ever released (or the directory is unreadable: no token counts) */
	int dfd = dirfd(d);
	for (struct dirent *de; !live && (de = readdir(d)) != NULL;) {
		/* Temp files are skipped: release_mark() renames its token into place before the submission. */
		if (!release_hash_ok(de->d_name))
			continue;
		if (release_stale(dfd, de->d_name, now))
			(void)unlinkat(dfd, de->d_name, 0);
		else
			live = true;
	}
	(void)closedir(d);
	return live;
}

int release_prune(const char *qdir, time_t now, unsigned *removed, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int rc = 0;

	*removed = 0;
	if (release_dir(qdir, dir, sizeof(dir), err, errlen) == -1)
		return -1;
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0; /* nothing was ever released */
		snprintf(err, errlen, "opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	int dfd = dirfd(d);
	for (;;) {
		errno = 0; /* readdir(3) reports an error only through errno */
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				snprintf(err, errlen, "readdir %s: %s", dir, strerror(errno));
				rc = -1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    !release_stale(dfd, de->d_name, now))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "unlink %s/%s: %s", dir, de->d_name, strerror(errno));
			rc = -1;
			break;
		}
		(*removed)++;
	}
	if (closedir(d) == -1 && rc == 0) {
		snprintf(err, errlen, "closedir %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && *removed > 0)
		rc = durable_sync_dir(dir, err, errlen);
	return rc;
}
