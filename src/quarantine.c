/*
 * quarantine - the durable quarantine writer. See quarantine.h for the
 * contract and the entry format.
 *
 * The size field comes before the body and the end marker after it, so a
 * reader can tell a whole entry from a cut one without trusting the writer;
 * the durable recipe makes sure only whole entries ever get their name.
 */
#include "quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"

#define QUARANTINE_MAGIC "KLAXON-QUARANTINE 1\n"
#define QUARANTINE_END "\nKLAXON-END "
#define QUARANTINE_SUFFIX ".kq"
/* Far above any real header block; stops a garbage file from being read forever. */
#define QUARANTINE_HEADER_MAX (4u << 20)

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
	for (size_t i = 0; i < meta->nviruses; i++)
		quarantine_put_field(fp, "virus", meta->viruses[i]);
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

/* quarantine_parse_size - strict decimal, no sign, no spaces, no overflow */
static int quarantine_parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (ULLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*out = v;
	return 0;
}

struct quarantine_head {
	bool id_ok;
	bool have_size;
	unsigned long long size;
};

/* quarantine_check_line - one "key: value\n" header line; remembers id and size */
static const char *quarantine_check_line(char *line, const char *id,
					 struct quarantine_head *head)
{
	size_t len = strlen(line);

	if (len == 0 || line[len - 1] != '\n')
		return "header cut short";
	line[len - 1] = '\0';
	char *colon = strstr(line, ": ");
	if (colon == NULL || colon == line)
		return "header line without \"key: \"";
	*colon = '\0';
	const char *value = colon + 2;
	if (strcmp(line, "id") == 0) {
		if (strcmp(value, id) != 0)
			return "id field does not match the file name";
		head->id_ok = true;
	} else if (strcmp(line, "size") == 0) {
		if (head->have_size || quarantine_parse_size(value, &head->size) == -1)
			return "bad size field";
		head->have_size = true;
	}
	return NULL;
}

/* quarantine_read_head - magic line, then fields up to the empty line */
static const char *quarantine_read_head(FILE *fp, const char *id, struct quarantine_head *head)
{
	char *line = NULL;
	size_t cap = 0;
	size_t total = 0;
	const char *why = NULL;
	ssize_t n = getline(&line, &cap, fp);

	if (n == -1 || strcmp(line, QUARANTINE_MAGIC) != 0)
		why = n == -1 ? "empty file" : "no KLAXON-QUARANTINE 1 magic line";
	while (why == NULL) {
		if ((n = getline(&line, &cap, fp)) == -1) {
			why = "header cut short";
		} else if (strcmp(line, "\n") == 0) {
			break;
		} else if ((total += (size_t)n) > QUARANTINE_HEADER_MAX) {
			why = "header too long";
		} else {
			why = quarantine_check_line(line, id, head);
		}
	}
	free(line);
	if (why == NULL && !head->id_ok)
		why = "no id field";
	if (why == NULL && !head->have_size)
		why = "no size field";
	return why;
}

/* quarantine_check_tail - file length and end marker must match the size field */
static const char *quarantine_check_tail(FILE *fp, int fd, const char *id,
					 const struct quarantine_head *head, char *err,
					 size_t errlen)
{
	struct stat st;
	char want[QUARANTINE_ID_MAX + 32];
	char got[sizeof(want)];
	off_t body = ftello(fp);
	int n = snprintf(want, sizeof(want), QUARANTINE_END "%s\n", id);

	if (body == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", body == -1 ? "ftello" : "fstat", strerror(errno));
		return err;
	}
	unsigned long long have = (unsigned long long)st.st_size;
	/* The first test keeps the sum below from wrapping on a forged size. */
	unsigned long long expect = head->size > have ? ULLONG_MAX
						      : (unsigned long long)body + head->size + (unsigned long long)n;
	if (have != expect) {
		snprintf(err, errlen, "%s: size field says %llu body bytes, file has %llu bytes",
			 have < expect ? "truncated" : "trailing bytes", head->size, have);
		return err;
	}
	if (pread(fd, got, (size_t)n, body + (off_t)head->size) != n ||
	    memcmp(got, want, (size_t)n) != 0)
		return "no end marker after the body";
	return NULL;
}

/* quarantine_entry_check - is dir/<id>.kq a whole entry? */
int quarantine_entry_check(const char *dir, const char *id, char *err, size_t errlen)
{
	char path[4096];
	char detail[256] = "";
	struct quarantine_head head = { 0 };

	if (!ident_valid(id)) {
		snprintf(err, errlen, "quarantine_entry_check: bad id \"%.64s\"", id);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s" QUARANTINE_SUFFIX, dir, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	FILE *fp = fdopen(fd, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "fdopen %s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	const char *why = quarantine_read_head(fp, id, &head);
	if (why == NULL)
		why = quarantine_check_tail(fp, fd, id, &head, detail, sizeof(detail));
	if (why != NULL)
		snprintf(err, errlen, "quarantine entry %s: %s", path, why);
	if (fclose(fp) == EOF && why == NULL) {
		snprintf(err, errlen, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return why == NULL ? 0 : -1;
}
