/*
 * quarantine - the durable quarantine writer, the class names, and the
 * operations on entry names (delete, list). See quarantine.h for the
 * contract and the entry format; the reader, which must agree with this
 * file on the format, is quarantine_read.c.
 *
 * The size field comes before the body and the end marker after it, so a
 * reader can tell a whole entry from a cut one without trusting the writer;
 * the durable recipe makes sure only whole entries ever get their name.
 */
#include "quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"
#include "mime.h"

/* The format in three strings; quarantine_read.c has the first two, and
 * quarantine_path() below is the one maker of an entry's file name. */
#define QUARANTINE_MAGIC "KLAXON-QUARANTINE 1\n"
#define QUARANTINE_END "\nKLAXON-END "
#define QUARANTINE_SUFFIX ".kq"

struct quarantine_job {
	const struct quarantine_meta *meta;
	const char *id;
	durable_writer_fn body_writer;
	void *body_arg;
};

/* quarantine_put_value - percent-encode '%', C0 controls and DEL so a field stays one line */
static void quarantine_put_value(FILE *fp, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++) {
		if (*p == '%' || *p < 0x20 || *p == 0x7f) {
			fputc('%', fp);
			fputc(hex[*p >> 4], fp);
			fputc(hex[*p & 0xf], fp);
		} else {
			fputc(*p, fp);
		}
	}
}

/* quarantine_put_field - one "key: value" line */
static void quarantine_put_field(FILE *fp, const char *key, const char *value)
{
	fputs(key, fp);
	fputs(": ", fp);
	quarantine_put_value(fp, value);
	fputc('\n', fp);
}

/* quarantine_put_fields - every metadata field, in the documented order */
static void quarantine_put_fields(FILE *fp, const struct quarantine_meta *meta, const char *id)
{
	static const struct envelope no_env = { 0 };
	const struct envelope *env = meta->env ? meta->env : &no_env;
	char stamp[32] = "";
	char size[32];
	struct tm tm;

	if (gmtime_r(&meta->when, &tm) != NULL)
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(size, sizeof(size), "%llu", meta->size);

	fputs(QUARANTINE_MAGIC, fp);
	quarantine_put_field(fp, "id", id);
	quarantine_put_field(fp, "time", stamp);
	quarantine_put_field(fp, "class", meta->class);
	quarantine_put_field(fp, "origin", origin_name(env->origin));
	quarantine_put_field(fp, "client-addr", env->client_addr);
	quarantine_put_field(fp, "client-name", env->client_name);
	quarantine_put_field(fp, "helo", env->helo);
	quarantine_put_field(fp, "auth-user", env->auth_user);
	quarantine_put_field(fp, "sender", env->sender);
	for (size_t i = 0; i < env->nrcpts; i++)
		quarantine_put_field(fp, "rcpt", env->rcpts[i]);
	quarantine_put_field(fp, "queue-id", env->queue_id);
	quarantine_put_field(fp, "subject", meta->subject);
	for (size_t i = 0; i < meta->nviruses; i++)
		quarantine_put_field(fp, "virus", meta->viruses[i]);
	for (size_t i = 0; meta->banned != NULL && i < meta->nbanned; i++)
		quarantine_put_field(fp, "banned", meta->banned[i]);
	/* Names, not bits: the bit values may change, the names are stable. */
	for (unsigned i = 0; i < MIME_FLAG_COUNT; i++)
		if (meta->flags & (1u << i))
			quarantine_put_field(fp, "flag", mime_flag_name((enum mime_flag)(1u << i)));
	quarantine_put_field(fp, "payload", meta->payload);
	quarantine_put_field(fp, "reason", meta->reason);
	quarantine_put_field(fp, "size", size);
	fputc('\n', fp);
}

/* quarantine_write_header - format the header block in memory, then write it in one go */
static int quarantine_write_header(int fd, const struct quarantine_job *job, char *err,
				   size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	quarantine_put_fields(fp, job->meta, job->id);
	bool bad = ferror(fp) != 0;
	if (fclose(fp) == EOF || bad) {
		snprintf(err, errlen, "open_memstream: %s", strerror(bad ? ENOMEM : errno));
		free(buf);
		return -1;
	}
	int rc = durable_write_all(fd, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* quarantine_body - run the caller's writer and prove it wrote exactly meta->size bytes */
static int quarantine_body(int fd, const struct quarantine_job *job, char *err, size_t errlen)
{
	struct stat st;
	off_t start = lseek(fd, 0, SEEK_CUR);

	if (start == -1) {
		snprintf(err, errlen, "lseek fd %d: %s", fd, strerror(errno));
		return -1;
	}
	if (job->body_writer(fd, job->body_arg, err, errlen) == -1)
		return -1;
	off_t end = lseek(fd, 0, SEEK_CUR);
	if (end == -1) {
		snprintf(err, errlen, "lseek fd %d: %s", fd, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat fd %d: %s", fd, strerror(errno));
		return -1;
	}
	/* Both checks: a writer that seeks or uses pwrite(2) can fool either alone. */
	if ((unsigned long long)(end - start) != job->meta->size || st.st_size != end) {
		snprintf(err, errlen,
			 "quarantine body writer wrote %lld bytes (%lld in the file), expected %llu",
			 (long long)(end - start), (long long)(st.st_size - start), job->meta->size);
		return -1;
	}
	return 0;
}

/* quarantine_write_entry - durable_writer_fn: header, body, end marker */
static int quarantine_write_entry(int fd, void *arg, char *err, size_t errlen)
{
	const struct quarantine_job *job = arg;
	char trailer[QUARANTINE_ID_MAX + 32];

	if (quarantine_write_header(fd, job, err, errlen) == -1)
		return -1;
	if (quarantine_body(fd, job, err, errlen) == -1)
		return -1;
	int n = snprintf(trailer, sizeof(trailer), QUARANTINE_END "%s\n", job->id);
	return durable_write_all(fd, trailer, (size_t)n, err, errlen);
}

/* quarantine_store - write dir/<id>.kq durably; only a 0 return allows a discard */
int quarantine_store(const char *dir, const struct quarantine_meta *meta,
		     durable_writer_fn body_writer, void *body_arg, char *id_out, size_t idlen,
		     char *err, size_t errlen)
{
	char id[QUARANTINE_ID_MAX];
	char name[QUARANTINE_ID_MAX + sizeof(QUARANTINE_SUFFIX)];
	struct quarantine_meta when_fixed = *meta;

	/* One time for the id and the time field, so they never disagree. */
	if (when_fixed.when == 0)
		when_fixed.when = time(NULL);
	if (ident_new(id, sizeof(id), when_fixed.when, err, errlen) == -1)
		return -1;
	if (strlen(id) >= idlen) {
		snprintf(err, errlen, "quarantine_store: id buffer of %zu bytes is too small",
			 idlen);
		return -1;
	}
	if (durable_mkdir(dir, 0700, err, errlen) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s" QUARANTINE_SUFFIX, id);
	struct quarantine_job job = {
		.meta = &when_fixed, .id = id, .body_writer = body_writer, .body_arg = body_arg
	};
	if (durable_write(dir, name, quarantine_write_entry, &job, err, errlen) == -1)
		return -1;
	memcpy(id_out, id, strlen(id) + 1);
	return 0;
}

static const char *const quarantine_class_names[QUARANTINE_CLASS_COUNT] = {
	[QUARANTINE_VIRUS] = "virus",	    [QUARANTINE_BANNED] = "banned",
	[QUARANTINE_AMBIGUOUS] = "ambiguous", [QUARANTINE_POLICY] = "policy",
	[QUARANTINE_SPAM] = "spam",
};

/* quarantine_class_name - the class as written in entries and typed on the command line */
const char *quarantine_class_name(enum quarantine_class c)
{
	return (unsigned)c < QUARANTINE_CLASS_COUNT ? quarantine_class_names[c] : "unknown";
}

/* quarantine_class_parse - a class name (any case) to its enum value, -1 if unknown */
int quarantine_class_parse(const char *name)
{
	for (int c = 0; name != NULL && c < QUARANTINE_CLASS_COUNT; c++)
		if (strcasecmp(name, quarantine_class_names[c]) == 0)
			return c;
	return -1;
}

/* quarantine_path - dir/<id>.kq, refusing ids that could name another path */
int quarantine_path(char *buf, size_t len, const char *dir, const char *id, char *err,
		    size_t errlen)
{
	if (!ident_valid(id)) {
		snprintf(err, errlen, "quarantine entry: bad id \"%.64s\"", id);
		return -1;
	}
	int n = snprintf(buf, len, "%s/%s" QUARANTINE_SUFFIX, dir, id);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "quarantine entry in %s: %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/* quarantine_delete - unlink dir/<id>.kq and make the removal survive a crash */
int quarantine_delete(const char *dir, const char *id, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (quarantine_path(path, sizeof(path), dir, id, err, errlen) == -1)
		return -1;
	if (unlink(path) == -1) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	return durable_sync_dir(dir, err, errlen);
}

/* quarantine_list_name - the id in "<id>.kq", or false for any other name */
static bool quarantine_list_name(const char *name, char id[QUARANTINE_ID_MAX])
{
	size_t len = strlen(name);
	size_t sl = strlen(QUARANTINE_SUFFIX);

	if (len <= sl || len - sl >= QUARANTINE_ID_MAX ||
	    strcmp(name + len - sl, QUARANTINE_SUFFIX) != 0)
		return false;
	memcpy(id, name, len - sl);
	id[len - sl] = '\0';
	/* No '.' in an id: the durable recipe's ".tmp.<name>.<hex>" can never pass. */
	return ident_valid(id);
}

/* quarantine_list - fn(id) for every entry name in dir; a non-zero fn stops early, not an error */
int quarantine_list(const char *dir, quarantine_list_fn fn, void *arg, char *err, size_t errlen)
{
	char id[QUARANTINE_ID_MAX];
	struct dirent *de;
	int rc = 0;
	DIR *d = opendir(dir);

	if (d == NULL) {
		snprintf(err, errlen, "opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				snprintf(err, errlen, "readdir %s: %s", dir, strerror(errno));
				rc = -1;
			}
			break;
		}
		if (quarantine_list_name(de->d_name, id) && fn(id, arg) != 0)
			break;
	}
	if (closedir(d) == -1 && rc == 0) {
		snprintf(err, errlen, "closedir %s: %s", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}
