/*
 * qcli_release - `klaxon quarantine release` and `delete`, and the audit
 * log both append to. See qcli.h for the contract; qcli.c parses the
 * command line and calls qcli_release() and qcli_delete() from its table.
 *
 * release leaves the release token (release.h) before it hands the raw
 * message to sendmail_command, so the copy it re-injects is not held
 * again. A virus-class entry without --force, a recipient or sender with
 * control characters, or no recipient at all is refused before the token
 * or sendmail. Every attempt, refused, failed or done, is one line in
 * audit.log (O_APPEND, one write, fsync).
 *
 * Ownership: all that is read is freed before the command returns.
 * Thread safety: a command of its own; logs releases and deletions.
 */
#include "qcli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "durable.h"
#include "ident.h"
#include "log.h"
#include "qcli_int.h"
#include "qindex.h"
#include "quarantine.h"
#include "release.h"
#include "submit.h"

/* ------------------------------------------------------------------ */
/* The audit log                                                       */
/* ------------------------------------------------------------------ */

/* qcli_word - a value for an audit field or a token: printable, no spaces */
static void qcli_word(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; src != NULL && *src && n + 1 < len; src++) {
		unsigned char c = (unsigned char)*src;
		dst[n++] = (c <= 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (n == 0 && len > 1)
		dst[n++] = '-';
	dst[n] = '\0';
}

struct qcli_who {
	char name[64];          /* login name, else SUDO_USER, else LOGNAME, else uid<N> */
	char sudo[64];          /* SUDO_USER, "" if unset */
	unsigned long uid;
};

/* qcli_who - who is at the keyboard, as far as we can tell; for the audit and the token */
static void qcli_whoami(struct qcli_who *w)
{
	char login[64] = "";
	const char *sudo = getenv("SUDO_USER");
	const char *logname = getenv("LOGNAME");

	w->uid = (unsigned long)getuid();
	/* getlogin_r fails without a controlling terminal (cron, tests): fall back. */
	if (getlogin_r(login, sizeof(login)) != 0)
		login[0] = '\0';
	const char *name = login[0] ? login : sudo && *sudo ? sudo : logname && *logname ? logname : NULL;
	if (name != NULL)
		qcli_word(w->name, sizeof(w->name), name);
	else
		snprintf(w->name, sizeof(w->name), "uid%lu", w->uid);
	w->sudo[0] = '\0';
	if (sudo != NULL && *sudo)
		qcli_word(w->sudo, sizeof(w->sudo), sudo);
}

/* qcli_rcpt_list - "a@x,b@y", each cleaned to a word */
static void qcli_rcpt_list(char *buf, size_t len, const char *const *rcpts, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 2 < len; i++) {
		char w[512];
		qcli_word(w, sizeof(w), rcpts[i]);
		int k = snprintf(buf + used, len - used, "%s%s", i ? "," : "", w);
		if (k < 0 || (size_t)k >= len - used)
			break;
		used += (size_t)k;
	}
	if (n == 0)
		snprintf(buf, len, "-");
}

/*
 * qcli_audit - one line in quarantine_dir/audit.log: time, command, id,
 * recipients, who, result. One write(2) with O_APPEND, so concurrent
 * writers never interleave; fsync, because an audit trail that a crash
 * can take back is not one.
 */
static int qcli_audit(struct qcli *q, const char *cmd, const char *rcpts, const char *result,
		      const char *detail)
{
	struct qcli_who w;
	char path[PATH_MAX], stamp[40], id[QUARANTINE_ID_MAX + 8], line[4096], err[512];

	qcli_whoami(&w);
	qcli_stamp(q->now, stamp, sizeof(stamp));
	qcli_word(id, sizeof(id), q->o.id);
	char *why = detail != NULL ? qcli_clean(detail, strlen(detail), false) : NULL;
	int n = snprintf(line, sizeof(line), "%s %s id=%s rcpts=%s who=%s%s%s uid=%lu result=%s%s%s\n",
			 stamp, cmd, id, rcpts, w.name, w.sudo[0] ? " sudo_user=" : "", w.sudo, w.uid,
			 result, why ? " error=" : "", why ? why : "");
	free(why);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	snprintf(path, sizeof(path), "%s/audit.log", q->cfg->quarantine_dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		fprintf(stderr, "klaxon quarantine: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Like everything in the quarantine, the log belongs to the daemon's user, who owns the directory. */
	struct stat dst;
	if (geteuid() == 0 && stat(q->cfg->quarantine_dir, &dst) == 0 && dst.st_uid != 0 &&
	    fchown(fd, dst.st_uid, dst.st_gid) == -1)
		fprintf(stderr, "klaxon quarantine: fchown %s: %s\n", path, strerror(errno));
	int rc = durable_write_all(fd, line, (size_t)n, err, sizeof(err));
	if (rc == -1)
		fprintf(stderr, "klaxon quarantine: %s: %s\n", path, err);
	else if ((rc = fsync(fd)) == -1)
		fprintf(stderr, "klaxon quarantine: fsync %s: %s\n", path, strerror(errno));
	if (close(fd) == -1 && rc == 0) {
		fprintf(stderr, "klaxon quarantine: close %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* release                                                             */
/* ------------------------------------------------------------------ */

/* qcli_addr_ok - an address we may put in an argv for sendmail: no controls, not empty */
static bool qcli_addr_ok(const char *a, bool may_be_empty)
{
	if (*a == '\0')
		return may_be_empty;
	for (; *a; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f)
			return false;
	return true;
}

/*
 * qcli_release_argv - sendmail_command without -t (the recipients are the
 * envelope's, never the header's), with -i (a lone "." line is body, so
 * the body goes out byte for byte), then -f SENDER -- RCPT...
 */
static char **qcli_release_argv(const struct config *cfg, const char *sender,
				const char *const *rcpts, size_t nrcpts)
{
	size_t n = 0, k = 0;
	bool have_i = false;

	while (cfg->sendmail_argv[n] != NULL)
		n++;
	char **argv = calloc(n + nrcpts + 6, sizeof(*argv));
	if (argv == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(cfg->sendmail_argv[i], "-t") == 0)
			continue;
		have_i |= strcmp(cfg->sendmail_argv[i], "-i") == 0 ||
			  strcmp(cfg->sendmail_argv[i], "-oi") == 0;
		argv[k++] = cfg->sendmail_argv[i];
	}
	if (!have_i)
		argv[k++] = "-i";
	argv[k++] = "-f";
	/* "<>" is the null sender to Postfix (tok822), Sendmail and Exim alike. */
	argv[k++] = sender[0] ? (char *)sender : "<>";
	argv[k++] = "--";
	for (size_t i = 0; i < nrcpts; i++)
		argv[k++] = (char *)rcpts[i];
	return argv;
}

/* qcli_release_refuse - say why, audit it, and give the exit status */
static int qcli_release_refuse(struct qcli *q, const char *rcpts, const char *why)
{
	fprintf(stderr, "klaxon quarantine release: %s\n", why);
	(void)qcli_audit(q, "release", rcpts, "refused", why);
	return QCLI_ERR;
}

/* qcli_release_send - token first (else the message is held again), then sendmail */
static int qcli_release_send(struct qcli *q, const struct quarantine_entry *e,
			     const char *const *rcpts, size_t nrcpts, const char *rlist)
{
	char hash[RELEASE_HASH_LEN], err[1024];
	char *msg = NULL;
	size_t len = 0;
	struct qcli_who w;
	const char *qdir = q->cfg->quarantine_dir;

	qcli_whoami(&w);
	if (quarantine_read_message(qdir, e, &msg, &len, err, sizeof(err)) == -1)
		return qcli_release_refuse(q, rlist, err);
	release_body_hash(msg, len, hash);
	if (hash[0] == '\0' ||
	    release_mark(qdir, hash, e->id, w.name, q->now + (time_t)q->cfg->release_window, err,
			 sizeof(err)) == -1) {
		free(msg);
		return qcli_release_refuse(q, rlist, hash[0] ? err : "SHA-256 failed (libcrypto)");
	}
	char **argv = qcli_release_argv(q->cfg, e->sender, rcpts, nrcpts);
	int rc = argv == NULL ? -1 : 0;
	if (argv == NULL)
		snprintf(err, sizeof(err), "out of memory");
	else
		rc = submit_message(argv, msg, len, q->cfg->sendmail_timeout, err, sizeof(err));
	free(argv);
	free(msg);
	if (rc == -1) {
		log_warn("quarantine release: %s to %s by %s (uid %lu) failed: %s", e->id, rlist, w.name,
			 w.uid, err);
		fprintf(stderr, "klaxon quarantine release: %s: sendmail_command failed: %s\n", e->id, err);
		(void)qcli_audit(q, "release", rlist, "failed", err);
		return QCLI_ERR;
	}
	log_info("quarantine release: %s class=%s to %s by %s (uid %lu)", e->id, e->class, rlist,
		 w.name, w.uid);
	printf("released %s to %s\n", e->id, rlist);
	if (qcli_audit(q, "release", rlist, "ok", NULL) == -1) {
		fprintf(stderr, "klaxon quarantine release: %s was released, but the audit line was not written\n",
			e->id);
		return QCLI_ERR;
	}
	return 0;
}

/* qcli_release - re-inject a held message to its recipients (or --to) */
int qcli_release(struct qcli *q)
{
	struct quarantine_entry e;
	char rlist[2048];

	if (qcli_read(q, "release", &e) == -1) {
		(void)qcli_audit(q, "release", "-", "failed", "no such entry or damaged");
		return QCLI_ERR;
	}
	const char *const *rcpts = q->o.nto ? q->o.to : (const char *const *)e.rcpts;
	size_t nrcpts = q->o.nto ? q->o.nto : e.nrcpts;
	qcli_rcpt_list(rlist, sizeof(rlist), rcpts, nrcpts);
	int rc = QCLI_ERR;
	bool rcpts_ok = nrcpts > 0;
	for (size_t i = 0; i < nrcpts; i++)
		rcpts_ok &= qcli_addr_ok(rcpts[i], false);
	if (strcmp(e.class, quarantine_class_name(QUARANTINE_VIRUS)) == 0 && !q->o.force)
		rc = qcli_release_refuse(q, rlist, "the entry is in class virus: it holds a virus "
						   "(add --force to release it anyway)");
	else if (!rcpts_ok)
		rc = qcli_release_refuse(q, rlist, nrcpts ? "a recipient is empty or has control characters"
							  : "the entry has no recipients (use --to)");
	else if (!qcli_addr_ok(e.sender ? e.sender : "", true))
		rc = qcli_release_refuse(q, rlist, "the envelope sender has control characters");
	else
		rc = qcli_release_send(q, &e, rcpts, nrcpts, rlist);
	quarantine_entry_clear(&e);
	return rc;
}

/* ------------------------------------------------------------------ */
/* delete                                                              */
/* ------------------------------------------------------------------ */

/* qcli_delete - the file, then the row; a damaged entry can be deleted too */
int qcli_delete(struct qcli *q)
{
	struct quarantine_entry e;
	char rlist[2048] = "-", err[1024];

	if (!ident_valid(q->o.id)) {
		(void)qcli_read(q, "delete", &e); /* says why */
		return QCLI_ERR;
	}
	memset(&e, 0, sizeof(e));
	if (quarantine_read(q->cfg->quarantine_dir, q->o.id, &e, err, sizeof(err)) == 0)
		qcli_rcpt_list(rlist, sizeof(rlist), (const char *const *)e.rcpts, e.nrcpts);
	quarantine_entry_clear(&e);
	if (quarantine_delete(q->cfg->quarantine_dir, q->o.id, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon quarantine delete: %s\n", err);
		(void)qcli_audit(q, "delete", rlist, "failed", err);
		return QCLI_ERR;
	}
	int rc = 0;
	if (qindex_remove(q->ix, q->o.id, err, sizeof(err)) == -1) {
		/* The file is gone; the next sync drops the row anyway. */
		fprintf(stderr, "klaxon quarantine delete: %s\n", err);
		rc = QCLI_ERR;
	}
	log_info("quarantine delete: %s", q->o.id);
	printf("deleted %s\n", q->o.id);
	if (qcli_audit(q, "delete", rlist, "ok", NULL) == -1)
		rc = QCLI_ERR;
	return rc;
}
