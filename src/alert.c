/*
 * alert - internal-virus alerts: compose, spool durably, submit, retry.
 * See alert.h for the contract.
 *
 * Every untrusted byte reaches the message through alert_put_clean(), the
 * one place that decides what may pass: no control character (so no CR or
 * LF, so no injected header or line), only ASCII in headers (we send no
 * RFC 2047 words), only valid UTF-8 in the body, and a length cap.
 */
#include "alert.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "ident.h"
#include "submit.h"
#include "text.h"

#define ALERT_HEADER_MAX 200 /* bytes of one untrusted value in a header */
#define ALERT_BODY_MAX 900   /* bytes of one value in a body line; lines stay under 998 */
#define ALERT_SUFFIX ".alert"
#define ALERT_FILE_MAX (16u << 20) /* a spool file larger than this is not ours */
#define ALERT_LABEL_WIDTH 17

/* alert_put_clean - copy an untrusted value: controls become '?', at most max bytes */
static void alert_put_clean(FILE *fp, const char *value, size_t max, bool ascii_only)
{
	const unsigned char *p = (const unsigned char *)(value ? value : "");
	size_t used = 0;

	while (*p != '\0' && used < max) {
		size_t n = *p < 0x80 ? 1 : ascii_only ? 0 : text_utf8_len(p, TEXT_TO_NUL);
		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			fputc('?', fp);
			p++;
			used++;
			continue;
		}
		if (used + n > max)
			break;
		fwrite(p, 1, n, fp);
		p += n;
		used += n;
	}
	if (*p != '\0')
		fputs("...", fp); /* say that it was cut, so nobody takes it for the whole value */
}

/* alert_put_subject - "klaxon: virus from <origin> host <addr> (<viruses>)", cleaned as one */
static int alert_put_subject(FILE *fp, const struct alert_info *info)
{
	char *raw = NULL;
	size_t rawlen = 0;
	FILE *s = open_memstream(&raw, &rawlen);

	if (s == NULL)
		return -1;
	fprintf(s, "klaxon: %s from %s host %s (", info->note && info->nviruses == 0 ? "policy notice" : "virus",
		origin_name(info->env->origin),
		info->env->client_addr && *info->env->client_addr ? info->env->client_addr
								  : "unknown");
	for (size_t i = 0; i < info->nviruses && rawlen < ALERT_HEADER_MAX; i++) {
		fprintf(s, "%s%s", i ? ", " : "", info->viruses[i] ? info->viruses[i] : "");
		fflush(s); /* updates rawlen, which stops the loop on a long list */
	}
	fputc(')', s);
	bool bad = ferror(s) != 0;
	if (fclose(s) == EOF || bad) {
		free(raw);
		return -1;
	}
	fputs("Subject: ", fp);
	alert_put_clean(fp, raw, ALERT_HEADER_MAX, true);
	fputc('\n', fp);
	free(raw);
	return 0;
}

/* alert_put_from_to - From and To; only the addresses in to ever receive what is written */
static void alert_put_from_to(FILE *fp, const char *from, const char *const *to, size_t nto)
{
	fputs("From: ", fp);
	alert_put_clean(fp, from, ALERT_HEADER_MAX, true);
	fputs("\nTo: ", fp);
	for (size_t i = 0; i < nto; i++) {
		/* One address per folded line keeps a long list under the line limit. */
		fputs(i ? ",\n " : "", fp);
		alert_put_clean(fp, to[i], ALERT_HEADER_MAX, true);
	}
	fputc('\n', fp);
}

/* alert_put_trailer - Date, Message-ID and the fixed fields that end a header (RFC 3834 keyword) */
static void alert_put_trailer(FILE *fp, time_t when, const char *msgid, const char *hostname,
			      const char *auto_submitted)
{
	fputs("Date: ", fp);
	text_put_date(fp, when);
	fprintf(fp, "\nMessage-ID: <%s@", msgid);
	text_put_msgid_host(fp, hostname);
	fprintf(fp, ">\nAuto-Submitted: %s\n", auto_submitted);
	fputs("MIME-Version: 1.0\n"
	      "Content-Type: text/plain; charset=utf-8\n"
	      "Content-Transfer-Encoding: 8bit\n"
	      "\n",
	      fp);
}

/* alert_put_headers - the header block; only info->to ever receives the alert */
static int alert_put_headers(FILE *fp, const struct alert_info *info, const char *msgid)
{
	alert_put_from_to(fp, info->from, info->to, info->nto);
	if (alert_put_subject(fp, info) == -1)
		return -1;
	alert_put_trailer(fp, info->when, msgid, info->hostname, "auto-generated");
	return 0;
}

/* alert_put_field - "Label:   value" on one body line */
static void alert_put_field(FILE *fp, const char *label, const char *value)
{
	fprintf(fp, "%-*s", ALERT_LABEL_WIDTH, label);
	alert_put_clean(fp, value && *value ? value : "(none)", ALERT_BODY_MAX, false);
	fputc('\n', fp);
}

/* alert_put_list - a label with one value per line, later lines aligned under the first */
static void alert_put_list(FILE *fp, const char *label, const char *const *values, size_t n)
{
	if (n == 0)
		alert_put_field(fp, label, NULL);
	for (size_t i = 0; i < n; i++)
		alert_put_field(fp, i == 0 ? label : "", values[i]);
}

/* alert_put_body - every fact about the infected message, one per line */
static void alert_put_body(FILE *fp, const struct alert_info *info)
{
	const struct envelope *env = info->env;
	char stamp[32] = "";
	struct tm tm;

	if (gmtime_r(&info->when, &tm) != NULL)
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (info->note) {
		fputs("The policy filter says:\n\n", fp);
		alert_put_clean(fp, info->note, ALERT_BODY_MAX, false);
		fputs("\n\n", fp);
	}
	if (info->note == NULL || info->nviruses)
		fprintf(fp, "klaxon found a virus in a message from an %s host.\n\n",
			origin_name(env->origin));
	else
		fprintf(fp, "About a message from an %s host:\n\n", origin_name(env->origin));
	alert_put_field(fp, "Time:", stamp);
	alert_put_field(fp, "Client address:", env->client_addr);
	alert_put_field(fp, "Client name:", env->client_name);
	alert_put_field(fp, "HELO:", env->helo);
	alert_put_field(fp, "Auth user:", env->auth_user);
	fprintf(fp, "%-*s<", ALERT_LABEL_WIDTH, "Sender:");
	alert_put_clean(fp, env->sender, ALERT_BODY_MAX, false);
	fputs(">\n", fp);
	alert_put_list(fp, "Recipients:", env->rcpts, env->nrcpts);
	alert_put_field(fp, "Subject:", info->subject);
	alert_put_list(fp, "Viruses:", info->viruses, info->nviruses);
	alert_put_field(fp, "Queue ID:", env->queue_id);
	alert_put_field(fp, "Quarantine ID:", info->quarantine_id);
	if (info->outcome) {
		fputs("\nThe message was ", fp);
		alert_put_clean(fp, info->outcome, 64, true);
		fputs(".\n", fp);
		return;
	}
	if (info->quarantine_id == NULL || *info->quarantine_id == '\0') {
		/* Without a copy, policy did not discard (klaxon never discards uncopied mail). */
		fputs("\nNo copy of the message was kept in the quarantine.\n", fp);
		return;
	}
	fputs("\nThe message was discarded.\nA copy is kept in the quarantine under id ", fp);
	alert_put_clean(fp, info->quarantine_id, ALERT_BODY_MAX, true);
	fputs(".\n", fp);
}

/* alert_put_fn - write one whole message to fp; -1 if it cannot be written */
typedef int alert_put_fn(FILE *fp, const void *arg, const char *msgid);

/* alert_build - what put writes, in a malloc'd *msg the caller frees; nothing on failure */
static int alert_build(alert_put_fn *put, const void *arg, const char *msgid, char **msg,
		       size_t *len, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t buflen = 0;
	FILE *fp = open_memstream(&buf, &buflen);

	if (fp == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	bool bad = put(fp, arg, msgid) == -1 || ferror(fp) != 0;
	if (fclose(fp) == EOF || bad) {
		snprintf(err, errlen, "open_memstream: %s", strerror(ENOMEM));
		free(buf);
		return -1;
	}
	*msg = buf;
	*len = buflen;
	return 0;
}

/* alert_put_alert - alert_put_fn: the header block, then the body */
static int alert_put_alert(FILE *fp, const void *arg, const char *msgid)
{
	const struct alert_info *info = arg;

	if (alert_put_headers(fp, info, msgid) == -1)
		return -1;
	alert_put_body(fp, info);
	return 0;
}

/* alert_compose - build the alert message; the caller frees *msg */
int alert_compose(const struct alert_info *info, char **msg, size_t *len, char *err, size_t errlen)
{
	char msgid[IDENT_MAX];

	if (info->env == NULL || info->nto == 0 || info->from == NULL || *info->from == '\0') {
		snprintf(err, errlen, "alert_compose: %s",
			 info->env == NULL ? "no envelope" : "alert_from and alert_to are required");
		return -1;
	}
	if (ident_new(msgid, sizeof(msgid), info->when, err, errlen) == -1)
		return -1;
	return alert_build(alert_put_alert, info, msgid, msg, len, err, errlen);
}

/* alert_put_notice - alert_put_fn: header and body of a sender notice; only n->to receives it */
static int alert_put_notice(FILE *fp, const void *arg, const char *msgid)
{
	const struct alert_notice *n = arg;

	alert_put_from_to(fp, n->from, &n->to, 1);
	fputs("Subject: Notice about your message\n", fp);
	alert_put_trailer(fp, n->when, msgid, n->hostname, "auto-replied");
	alert_put_clean(fp, n->text, ALERT_BODY_MAX, false);
	fputs("\n\n", fp);
	alert_put_field(fp, "Subject:", n->subject);
	alert_put_field(fp, "Queue ID:", n->queue_id);
	return 0;
}

/* alert_compose_notice - a filter's notice to the sender; the caller frees *msg */
int alert_compose_notice(const struct alert_notice *n, char **msg, size_t *len, char *err,
			 size_t errlen)
{
	char msgid[IDENT_MAX];

	if (n->to == NULL || *n->to == '\0' || n->from == NULL || *n->from == '\0' || n->text == NULL) {
		snprintf(err, errlen, "alert_compose_notice: from, to and text are required");
		return -1;
	}
	if (ident_new(msgid, sizeof(msgid), n->when, err, errlen) == -1)
		return -1;
	return alert_build(alert_put_notice, n, msgid, msg, len, err, errlen);
}

/* alert_fmt_count - "3,412": thousands separators, whatever the locale */
static void alert_fmt_count(unsigned long n, char *out, size_t outlen)
{
	char digits[32];
	int nd = snprintf(digits, sizeof(digits), "%lu", n);
	size_t used = 0;

	for (int i = 0; i < nd && used + 2 < outlen; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			out[used++] = ',';
		out[used++] = digits[i];
	}
	out[used] = '\0';
}

/* alert_fmt_span - "09:00 to 09:15" in UTC, with dates when the window spans days */
static void alert_fmt_span(time_t first, time_t last, char *out, size_t outlen)
{
	struct tm a, b;
	char from[32] = "?", to[32] = "?";

	bool ok = gmtime_r(&first, &a) != NULL && gmtime_r(&last, &b) != NULL;
	bool same_day = ok && a.tm_year == b.tm_year && a.tm_yday == b.tm_yday;
	const char *fmt = same_day ? "%H:%M" : "%Y-%m-%d %H:%M";
	if (ok) {
		strftime(from, sizeof(from), fmt, &a);
		strftime(to, sizeof(to), fmt, &b);
	}
	snprintf(out, outlen, "%s to %s", from, to);
}

/* alert_fmt_stamp - RFC 3339 UTC, as `klaxon quarantine list --since` takes it */
static void alert_fmt_stamp(time_t when, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "?");
}

/* alert_put_summary_subject - "klaxon: N infected messages from internal host LABEL", cleaned */
static void alert_put_summary_subject(FILE *fp, const struct alert_summary_info *s)
{
	char count[40], raw[ALERT_HEADER_MAX + 160];

	alert_fmt_count(s->count, count, sizeof(count));
	snprintf(raw, sizeof(raw), "klaxon: %s infected message%s from %s host %.*s", count,
		 s->count == 1 ? "" : "s", origin_name(s->origin), ALERT_HEADER_MAX,
		 s->label && *s->label ? s->label : "unknown");
	fputs("Subject: ", fp);
	alert_put_clean(fp, raw, ALERT_HEADER_MAX, true);
	fputc('\n', fp);
}

/* alert_put_summary_line - "LABEL: 3,412 infected messages, Sobig.F, 09:00 to 09:15" */
static void alert_put_summary_line(FILE *fp, const struct alert_summary_info *s)
{
	char count[40], span[80];

	alert_fmt_count(s->count, count, sizeof(count));
	alert_fmt_span(s->first, s->last, span, sizeof(span));
	alert_put_clean(fp, s->label && *s->label ? s->label : "unknown", ALERT_HEADER_MAX, false);
	fprintf(fp, ": %s infected message%s, ", count, s->count == 1 ? "" : "s");
	alert_put_clean(fp, s->nviruses ? s->viruses[0] : "unnamed virus", ALERT_HEADER_MAX, false);
	if (s->nviruses > 1)
		fprintf(fp, " and %zu other virus%s", s->nviruses - 1, s->nviruses == 2 ? "" : "es");
	fprintf(fp, ", %s\n\n", span);
}

/* alert_put_summary_alerted - which of the counted messages already had an alert */
static void alert_put_summary_alerted(FILE *fp, const struct alert_summary_info *s)
{
	char rest[40];

	alert_fmt_count(s->count > s->alerted ? s->count - s->alerted : 0, rest, sizeof(rest));
	if (s->alerted == 0)
		fputs("None of them had an alert of its own: the hourly limit of alert mails\n"
		      "(alert_max_per_hour) had been reached.\n\n",
		      fp);
	else
		fprintf(fp, "The first of them had an alert of its own; the other %s had none.\n\n", rest);
}

/* alert_put_summary_viruses - one line per virus with its count, the most frequent first */
static void alert_put_summary_viruses(FILE *fp, const struct alert_summary_info *s)
{
	enum { SHOWN = 20 }; /* a summary names the main culprits, the quarantine has the rest */
	char count[40];

	fputs("Viruses:\n", fp);
	for (size_t i = 0; i < s->nviruses && i < SHOWN; i++) {
		alert_fmt_count(s->virus_counts ? s->virus_counts[i] : 0, count, sizeof(count));
		fprintf(fp, "  %13s  ", count);
		alert_put_clean(fp, s->viruses[i], ALERT_HEADER_MAX, false);
		fputc('\n', fp);
	}
	if (s->nviruses > SHOWN)
		fprintf(fp, "  and %zu more\n", s->nviruses - SHOWN);
}

/* alert_put_summary_body - the summary line, the counts, the times and where the copies are */
static void alert_put_summary_body(FILE *fp, const struct alert_summary_info *s)
{
	char count[40], first[32], last[32], since[32], until[32];

	alert_fmt_count(s->count, count, sizeof(count));
	fprintf(fp, "klaxon counted %s infected message%s from an %s host in one alert window.\n\n", count,
		s->count == 1 ? "" : "s", origin_name(s->origin));
	alert_put_summary_line(fp, s);
	alert_put_summary_alerted(fp, s);
	alert_put_summary_viruses(fp, s);
	fputc('\n', fp);
	alert_fmt_stamp(s->first, first, sizeof(first));
	alert_fmt_stamp(s->last, last, sizeof(last));
	alert_put_field(fp, "First:", first);
	alert_put_field(fp, "Last:", last);
	alert_put_field(fp, "Client address:", s->client_addr);
	alert_put_field(fp, "Auth user:", s->auth_user);
	/* Whole minutes around the window: a copy is stored a moment before it is counted. */
	alert_fmt_stamp(s->first - s->first % 60, since, sizeof(since));
	alert_fmt_stamp(s->last - s->last % 60 + 60, until, sizeof(until));
	fprintf(fp, "\nWhere the policy keeps copies, they are in the quarantine:\n"
		    "  klaxon quarantine list --since %s --until %s --class virus\n",
		since, until);
}

/* alert_put_summary - alert_put_fn: header and body of a summary */
static int alert_put_summary(FILE *fp, const void *arg, const char *msgid)
{
	const struct alert_summary_info *s = arg;

	alert_put_from_to(fp, s->from, s->to, s->nto);
	alert_put_summary_subject(fp, s);
	alert_put_trailer(fp, s->when, msgid, s->hostname, "auto-generated");
	alert_put_summary_body(fp, s);
	return 0;
}

/* alert_compose_summary - the summary of one alert window; the caller frees *msg */
int alert_compose_summary(const struct alert_summary_info *s, char **msg, size_t *len, char *err,
			  size_t errlen)
{
	char msgid[IDENT_MAX];

	if (s->nto == 0 || s->from == NULL || *s->from == '\0') {
		snprintf(err, errlen, "alert_compose_summary: alert_from and alert_to are required");
		return -1;
	}
	if (s->key && ident_valid(s->key))
		snprintf(msgid, sizeof(msgid), "%s", s->key);
	else if (ident_new(msgid, sizeof(msgid), s->when, err, errlen) == -1)
		return -1;
	return alert_build(alert_put_summary, s, msgid, msg, len, err, errlen);
}

struct alert_blob {
	const char *msg;
	size_t len;
};

/* alert_write_blob - durable_writer_fn for one spooled alert */
static int alert_write_blob(int fd, void *arg, char *err, size_t errlen)
{
	const struct alert_blob *blob = arg;

	return durable_write_all(fd, blob->msg, blob->len, err, errlen);
}

/* alert_enqueue - spool the alert durably before anyone tries to send it */
int alert_enqueue(const char *spool_dir, const char *msg, size_t len, char *id_out, size_t idlen,
		  char *err, size_t errlen)
{
	char id[IDENT_MAX];
	char name[IDENT_MAX + sizeof(ALERT_SUFFIX)];
	struct alert_blob blob = { msg, len };

	/* Microseconds in the id keep a burst of alerts in the order they were made. */
	if (ident_new_ordered(id, sizeof(id), err, errlen) == -1)
		return -1;
	if (strlen(id) >= idlen) {
		snprintf(err, errlen, "alert_enqueue: id buffer of %zu bytes is too small", idlen);
		return -1;
	}
	if (durable_mkdir(spool_dir, 0700, err, errlen) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s" ALERT_SUFFIX, id);
	if (durable_write(spool_dir, name, alert_write_blob, &blob, err, errlen) == -1)
		return -1;
	memcpy(id_out, id, strlen(id) + 1);
	return 0;
}

/* alert_enqueue_named - spool under name; a name already spooled is left alone (idempotence) */
int alert_enqueue_named(const char *spool_dir, const char *name, const char *msg, size_t len, char *err,
			size_t errlen)
{
	char file[IDENT_MAX + sizeof(ALERT_SUFFIX)];
	char path[4096 + sizeof(file)];
	struct alert_blob blob = { msg, len };
	struct stat st;

	if (name == NULL || !ident_valid(name)) {
		snprintf(err, errlen, "alert_enqueue_named: not a valid spool name");
		return -1;
	}
	if (durable_mkdir(spool_dir, 0700, err, errlen) == -1)
		return -1;
	snprintf(file, sizeof(file), "%s" ALERT_SUFFIX, name);
	snprintf(path, sizeof(path), "%s/%s", spool_dir, file);
	if (lstat(path, &st) == 0)
		return 0; /* spooled before a crash kept the caller from noting it */
	if (errno != ENOENT) {
		snprintf(err, errlen, "lstat %s: %s", path, strerror(errno));
		return -1;
	}
	return durable_write(spool_dir, file, alert_write_blob, &blob, err, errlen);
}

struct alert_list {
	char **names;
	size_t n;
	size_t cap;
};

/* alert_list_free - free the names and the array */
static void alert_list_free(struct alert_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	*l = (struct alert_list){ 0 };
}

/* alert_is_spooled - "<id>.alert"; temp files and the lock start with '.' and are skipped */
static bool alert_is_spooled(const char *name)
{
	size_t len = strlen(name), slen = strlen(ALERT_SUFFIX);

	return name[0] != '.' && len > slen && strcmp(name + len - slen, ALERT_SUFFIX) == 0;
}

/* alert_list_add - append a copy of name */
static int alert_list_add(struct alert_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **grown = realloc(l->names, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		l->names = grown;
		l->cap = cap;
	}
	if ((l->names[l->n] = strdup(name)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* alert_name_cmp - qsort order; ids start with the UTC time, so this is oldest first */
static int alert_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* alert_list_spool - the sorted names of every spooled alert */
static int alert_list_spool(const char *dir, struct alert_list *l, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		snprintf(err, errlen, "opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (alert_is_spooled(de->d_name) && alert_list_add(l, de->d_name) == -1) {
			snprintf(err, errlen, "readdir %s: %s", dir, strerror(ENOMEM));
			(void)closedir(d);
			return -1;
		}
		errno = 0;
	}
	int saved = errno;
	if (closedir(d) == -1 || saved != 0) {
		snprintf(err, errlen, "%s %s: %s", saved ? "readdir" : "closedir", dir,
			 strerror(saved ? saved : errno));
		return -1;
	}
	if (l->n > 1)
		qsort(l->names, l->n, sizeof(*l->names), alert_name_cmp);
	return 0;
}

/* alert_read_fd - read exactly size bytes into a new buffer */
static char *alert_read_fd(int fd, size_t size, const char *path, char *err, size_t errlen)
{
	char *buf = malloc(size ? size : 1);
	size_t got = 0;

	if (buf == NULL) {
		snprintf(err, errlen, "malloc for %s: %s", path, strerror(ENOMEM));
		return NULL;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "read %s: %s", path,
				 n == 0 ? "file shrank while reading" : strerror(errno));
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	return buf;
}

/* alert_read - the whole spooled message at path; the caller frees it */
static char *alert_read(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		snprintf(err, errlen, "fstat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > ALERT_FILE_MAX)
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path,
			 ALERT_FILE_MAX);
	else if ((buf = alert_read_fd(fd, (size_t)st.st_size, path, err, errlen)) != NULL)
		*len = (size_t)st.st_size;
	if (close(fd) == -1 && buf != NULL) {
		snprintf(err, errlen, "close %s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	return buf;
}

/* alert_send_one - submit one spooled alert and remove it only after exit status 0 */
static int alert_send_one(const char *dir, const char *name, char *const argv[],
			  unsigned timeout_s, char *err, size_t errlen)
{
	char path[4096];
	char why[4096 + 512];
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *msg = alert_read(path, &len, why, sizeof(why));
	int rc = msg ? submit_message(argv, msg, len, timeout_s, why, sizeof(why)) : -1;
	free(msg);
	if (rc == 0 && unlink(path) == -1) {
		/* Sent, but it will be sent again: say so rather than hide it. */
		snprintf(why, sizeof(why), "unlink %s: %s", path, strerror(errno));
		rc = -2;
	}
	if (rc != 0)
		snprintf(err, errlen, "alert %s: %s", name, why);
	return rc;
}

/* alert_lock - flock(2) spool_dir/.lock so two flushers never send one alert twice */
static int alert_lock(const char *dir, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "flock %s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* alert_send_all - try every listed alert in order; counts go into stats */
static bool alert_send_all(const char *dir, const struct alert_list *l, char *const argv[],
			   unsigned timeout_s, struct alert_flush_stats *stats, char *err,
			   size_t errlen)
{
	bool removed = false, failed = false;

	/* A failure does not stop the rest: one message the MTA refuses must not
	 * hold every later alert hostage. */
	for (size_t i = 0; i < l->n; i++) {
		int rc = alert_send_one(dir, l->names[i], argv, timeout_s, err, errlen);
		if (rc == -1) {
			stats->pending++;
			continue;
		}
		stats->sent++;
		removed |= rc == 0;
		failed |= rc == -2;
	}
	if (removed && durable_sync_dir(dir, err, errlen) == -1)
		failed = true;
	return !failed;
}

/* alert_flush - send every spooled alert, oldest first; -1 while any is still pending */
int alert_flush(const char *spool_dir, char *const sendmail_argv[], unsigned timeout_s,
		struct alert_flush_stats *stats, char *err, size_t errlen)
{
	struct alert_list l = { 0 };
	bool ok = false;

	*stats = (struct alert_flush_stats){ 0 };
	if (durable_mkdir(spool_dir, 0700, err, errlen) == -1)
		return -1;
	int lock = alert_lock(spool_dir, err, errlen);
	if (lock == -1)
		return -1;
	if (alert_list_spool(spool_dir, &l, err, errlen) == 0)
		ok = alert_send_all(spool_dir, &l, sendmail_argv, timeout_s, stats, err, errlen);
	alert_list_free(&l);
	/* Closing the fd drops the lock. */
	if (close(lock) == -1 && ok) {
		snprintf(err, errlen, "close %s/.lock: %s", spool_dir, strerror(errno));
		ok = false;
	}
	return ok && stats->pending == 0 ? 0 : -1;
}
