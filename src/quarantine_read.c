/*
 * quarantine_read - the reader of quarantine entries: the wholeness check,
 * the fields, the raw message. See quarantine.h for the contract and the
 * entry format; quarantine.c writes what this file reads.
 *
 * One parser serves both quarantine_entry_check() and quarantine_read(),
 * so "whole" means the same thing to the daemon, which checks its own
 * copy, and to every tool that reads entries back. The raw message is
 * never read to check an entry: the size field, the file length and the
 * end marker (one pread(2)) are enough, which keeps indexing 250 000
 * entries to header reads.
 */
#include "quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The format in two strings; quarantine.c has the same two (and the file name). */
#define QUARANTINE_MAGIC "KLAXON-QUARANTINE 1\n"
#define QUARANTINE_END "\nKLAXON-END "
/* Far above any real header block; stops a garbage file from being read forever. */
#define QUARANTINE_HEADER_MAX (4u << 20)
#define QUARANTINE_ONE SIZE_MAX

/* Where each field lands in struct quarantine_entry: a string, or a list and its count. */
struct quarantine_field {
	const char *key;
	size_t value;
	size_t count; /* QUARANTINE_ONE for a single-valued field */
};

#define QF_ONE(k, m) { k, offsetof(struct quarantine_entry, m), QUARANTINE_ONE }
#define QF_MANY(k, m, n) \
	{ k, offsetof(struct quarantine_entry, m), offsetof(struct quarantine_entry, n) }

static const struct quarantine_field quarantine_fields[] = {
	QF_ONE("class", class),
	QF_ONE("origin", origin),
	QF_ONE("client-addr", client_addr),
	QF_ONE("client-name", client_name),
	QF_ONE("helo", helo),
	QF_ONE("auth-user", auth_user),
	QF_ONE("sender", sender),
	QF_ONE("queue-id", queue_id),
	QF_ONE("subject", subject),
	QF_ONE("payload", payload),
	QF_ONE("reason", reason),
	QF_MANY("rcpt", rcpts, nrcpts),
	QF_MANY("virus", viruses, nviruses),
	QF_MANY("banned", banned, nbanned),
	QF_MANY("flag", flags, nflags),
};

#define QUARANTINE_NFIELDS (sizeof(quarantine_fields) / sizeof(quarantine_fields[0]))

struct quarantine_head {
	bool id_ok;
	bool have_size;
	bool have_time;
	unsigned long long size;
	off_t body;                     /* where the raw message starts */
	struct quarantine_entry *entry; /* NULL when only checking */
};

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

/* quarantine_parse_time - a UTC time in fmt, followed by exactly the byte end */
static int quarantine_parse_time(const char *s, const char *fmt, char end, time_t *out)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, fmt, &tm);

	if (rest == NULL || *rest != end)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* quarantine_hexval - one hex digit, or -1 */
static int quarantine_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* quarantine_decode - undo the writer's percent-encoding into a new string */
static char *quarantine_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1);
	char *o = out;
	int hi, lo;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		/* "%00" stays as it is: a C string cannot hold the byte, and the
		 * writer never makes it. A lone '%' was not written by us either. */
		if (*s == '%' && (hi = quarantine_hexval(s[1])) >= 0 &&
		    (lo = quarantine_hexval(s[2])) >= 0 && (hi | lo) != 0) {
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* quarantine_append - one more value of a repeated field */
static const char *quarantine_append(struct quarantine_entry *e,
				     const struct quarantine_field *field, const char *value)
{
	char ***list = (char ***)(void *)((char *)e + field->value);
	size_t *n = (size_t *)(void *)((char *)e + field->count);

	/* The capacity is the count rounded up to a power of two, so it needs no field. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n == 0 ? 1 : 2 * *n;
		char **grown = realloc(*list, cap * sizeof(**list));
		if (grown == NULL)
			return "out of memory";
		*list = grown;
	}
	if (((*list)[*n] = quarantine_decode(value)) == NULL)
		return "out of memory";
	(*n)++;
	return NULL;
}

/* quarantine_keep_field - store one decoded field in the entry; unknown keys are later versions' */
static const char *quarantine_keep_field(struct quarantine_head *head, const char *key,
					 const char *value)
{
	struct quarantine_entry *e = head->entry;

	if (strcmp(key, "time") == 0) {
		if (!head->have_time)
			head->have_time = quarantine_parse_time(value, "%Y-%m-%dT%H:%M:%SZ", '\0',
								&e->when) == 0;
		return NULL;
	}
	for (size_t i = 0; i < QUARANTINE_NFIELDS; i++) {
		const struct quarantine_field *field = &quarantine_fields[i];
		if (strcmp(key, field->key) != 0)
			continue;
		if (field->count != QUARANTINE_ONE)
			return quarantine_append(e, field, value);
		char **one = (char **)(void *)((char *)e + field->value);
		if (*one != NULL)
			return NULL; /* our writer never repeats it; the first one counts */
		return (*one = quarantine_decode(value)) == NULL ? "out of memory" : NULL;
	}
	return NULL;
}

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
	} else if (head->entry != NULL) {
		return quarantine_keep_field(head, line, value);
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
					 struct quarantine_head *head, char *err, size_t errlen)
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
	head->body = body;
	return NULL;
}

/* quarantine_scan - parse dir/<id>.kq into head (and head->entry) and prove it whole */
static int quarantine_scan(const char *dir, const char *id, struct quarantine_head *head,
			   char *err, size_t errlen)
{
	char path[PATH_MAX];
	char detail[256] = "";

	if (quarantine_path(path, sizeof(path), dir, id, err, errlen) == -1)
		return -1;
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
	const char *why = quarantine_read_head(fp, id, head);
	if (why == NULL)
		why = quarantine_check_tail(fp, fd, id, head, detail, sizeof(detail));
	if (why != NULL)
		snprintf(err, errlen, "quarantine entry %s: %s", path, why);
	if (fclose(fp) == EOF && why == NULL) {
		snprintf(err, errlen, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return why == NULL ? 0 : -1;
}

/* quarantine_entry_check - is dir/<id>.kq a whole entry? */
int quarantine_entry_check(const char *dir, const char *id, char *err, size_t errlen)
{
	struct quarantine_head head = { 0 };

	return quarantine_scan(dir, id, &head, err, errlen);
}

/* quarantine_fill_absent - fields an older writer did not write read as empty, never NULL */
static int quarantine_fill_absent(struct quarantine_entry *e)
{
	for (size_t i = 0; i < QUARANTINE_NFIELDS; i++) {
		char **one = (char **)(void *)((char *)e + quarantine_fields[i].value);
		if (quarantine_fields[i].count == QUARANTINE_ONE && *one == NULL &&
		    (*one = strdup("")) == NULL)
			return -1;
	}
	return 0;
}

/* quarantine_read - the header fields of a whole entry, decoded; the body is not read */
int quarantine_read(const char *dir, const char *id, struct quarantine_entry *e, char *err,
		    size_t errlen)
{
	struct quarantine_head head = { .entry = e };

	memset(e, 0, sizeof(*e));
	if (quarantine_scan(dir, id, &head, err, errlen) == -1) {
		quarantine_entry_clear(e);
		return -1;
	}
	if (quarantine_fill_absent(e) == -1) {
		snprintf(err, errlen, "quarantine_read %s: %s", id, strerror(ENOMEM));
		quarantine_entry_clear(e);
		return -1;
	}
	/* The id carries the same second, so an entry with a bad time field still sorts. */
	if (!head.have_time && quarantine_parse_time(id, "%Y%m%dT%H%M%SZ", '-', &e->when) == -1)
		e->when = 0;
	memcpy(e->id, id, strlen(id) + 1); /* quarantine_path() bounds it below QUARANTINE_ID_MAX */
	e->size = head.size;
	e->body_offset = (long long)head.body;
	return 0;
}

/* quarantine_pread_all - exactly len bytes at off, riding out EINTR and short reads */
static int quarantine_pread_all(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* quarantine_same_file - is fd still the entry e was read from (same length)? */
static int quarantine_same_file(int fd, const struct quarantine_entry *e, const char *path,
				char *err, size_t errlen)
{
	struct stat st;
	unsigned long long tail = strlen(QUARANTINE_END) + strlen(e->id) + 1;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat %s: %s", path, strerror(errno));
		return -1;
	}
	if (e->body_offset < 0 || e->size >= SIZE_MAX ||
	    (unsigned long long)st.st_size != (unsigned long long)e->body_offset + e->size + tail) {
		snprintf(err, errlen, "quarantine entry %s: not the entry that was read", path);
		return -1;
	}
	return 0;
}

/* quarantine_read_message - the raw message of an entry read by quarantine_read() */
int quarantine_read_message(const char *dir, const struct quarantine_entry *e, char **msg,
			    size_t *len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *buf = NULL;

	*msg = NULL;
	*len = 0;
	if (quarantine_path(path, sizeof(path), dir, e->id, err, errlen) == -1)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (quarantine_same_file(fd, e, path, err, errlen) == -1)
		goto fail;
	/* One more byte for a NUL, so callers may treat a text message as a string. */
	if ((buf = malloc((size_t)e->size + 1)) == NULL) {
		snprintf(err, errlen, "malloc %llu bytes for %s: %s", e->size + 1, path,
			 strerror(errno));
		goto fail;
	}
	if (quarantine_pread_all(fd, buf, (size_t)e->size, (off_t)e->body_offset) == -1) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		goto fail;
	}
	buf[e->size] = '\0';
	if (close(fd) == -1) {
		snprintf(err, errlen, "close %s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	*msg = buf;
	*len = (size_t)e->size;
	return 0;

fail:
	free(buf);
	(void)close(fd); /* already failing with the error that matters */
	return -1;
}

/* quarantine_entry_clear - free what quarantine_read() filled; safe on a zeroed entry */
void quarantine_entry_clear(struct quarantine_entry *e)
{
	for (size_t i = 0; i < QUARANTINE_NFIELDS; i++) {
		const struct quarantine_field *field = &quarantine_fields[i];
		if (field->count == QUARANTINE_ONE) {
			free(*(char **)(void *)((char *)e + field->value));
			continue;
		}
		char **list = *(char ***)(void *)((char *)e + field->value);
		size_t n = *(size_t *)(void *)((char *)e + field->count);
		for (size_t j = 0; j < n; j++)
			free(list[j]);
		free(list);
	}
	memset(e, 0, sizeof(*e));
}
