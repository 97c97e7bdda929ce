/*
 * submit - hand a message to the local MTA. See submit.h for the contract.
 *
 * One loop does everything after the spawn: it writes stdin, reads stderr
 * and polls for the exit, all against one deadline. Writing and reading
 * together matters: a child that fills its stderr pipe before it reads
 * stdin would otherwise deadlock with us until the timeout.
 */
#include "submit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long one poll may sleep before we look at the child again. */
#define SUBMIT_SLICE_MS 10
#define SUBMIT_CHUNK 65536
#define SUBMIT_LINE_MAX 256

struct submit_run {
	const char *prog;
	pid_t pid;
	bool exited;
	int status;
	int in_fd;             /* our end of the child's stdin, -1 once closed */
	int err_fd;            /* our end of the child's stderr, -1 once closed */
	const char *msg;
	size_t len;
	size_t off;
	char line[SUBMIT_LINE_MAX]; /* first stderr line, sanitised */
	size_t linelen;
	bool line_done;
};

/* submit_now_ms - monotonic milliseconds, immune to clock steps */
static long long submit_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* submit_close - close *fd once; -1 afterwards so cleanup never closes it twice */
static int submit_close(int *fd)
{
	int rc = 0;

	if (*fd != -1) {
		rc = close(*fd);
		*fd = -1;
	}
	return rc;
}

/* submit_lift - move a pipe end above 2, so the dup2 actions cannot clobber each other */
static int submit_lift(int *fd)
{
	if (*fd > 2)
		return 0;
	int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (moved == -1)
		return -1;
	(void)close(*fd); /* a duplicate exists; nothing is lost if this fails */
	*fd = moved;
	return 0;
}

/* submit_pipe - a close-on-exec pipe whose ends are both above stderr */
static int submit_pipe(int p[2], char *err, size_t errlen)
{
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		return -1;
	}
	if (submit_lift(&p[0]) == -1 || submit_lift(&p[1]) == -1) {
		snprintf(err, errlen, "fcntl F_DUPFD_CLOEXEC: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* submit_spawn_setup - child fds 0/1/2 and a clean signal state (we may ignore SIGPIPE) */
static int submit_spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int in_r,
			      int err_w)
{
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((rc = posix_spawn_file_actions_adddup2(fa, in_r, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(fa, err_w, 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(fa, 3)) != 0 ||
	    (rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(at, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(at, &all)) != 0)
		return rc;
	return 0;
}

/* submit_spawn - start argv with the given pipe ends as its stdin and stderr */
static int submit_spawn(char *const argv[], int in_r, int err_w, pid_t *pid, char *err,
			size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		snprintf(err, errlen, "posix_spawn_file_actions_init: %s", strerror(rc));
		return -1;
	}
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		snprintf(err, errlen, "posix_spawnattr_init: %s", strerror(rc));
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	rc = submit_spawn_setup(&fa, &at, in_r, err_w);
	if (rc != 0)
		snprintf(err, errlen, "posix_spawn setup for %s: %s", argv[0], strerror(rc));
	else if ((rc = posix_spawn(pid, argv[0], &fa, &at, argv, environ)) != 0)
		snprintf(err, errlen, "spawn %s: %s", argv[0], strerror(rc));
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? 0 : -1;
}

/* submit_pump - write what the pipe takes now; close stdin once the message is out */
static int submit_pump(struct submit_run *r, char *err, size_t errlen)
{
	size_t want = r->len - r->off < SUBMIT_CHUNK ? r->len - r->off : SUBMIT_CHUNK;
	ssize_t n = want > 0 ? write(r->in_fd, r->msg + r->off, want) : 0;

	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		if (errno != EPIPE) {
			snprintf(err, errlen, "write %s stdin: %s", r->prog, strerror(errno));
			return -1;
		}
		/* It stopped reading; its exit status says whether that was fine. */
		r->off = r->len;
	} else {
		r->off += (size_t)n;
	}
	if (r->off == r->len && submit_close(&r->in_fd) == -1) {
		snprintf(err, errlen, "close %s stdin: %s", r->prog, strerror(errno));
		return -1;
	}
	return 0;
}

/* submit_keep_line - keep the first stderr line (sanitised for logs), drop the rest */
static void submit_keep_line(struct submit_run *r, const char *buf, size_t n)
{
	for (size_t i = 0; i < n && !r->line_done; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n' || r->linelen == sizeof(r->line) - 1) {
			r->line_done = true;
			break;
		}
		if (c == '\r')
			continue; /* CRLF-speaking tools: the CR is not part of the text */
		r->line[r->linelen++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	r->line[r->linelen] = '\0';
}

/* submit_read_err - read what stderr has now; EOF closes our end */
static int submit_read_err(struct submit_run *r, char *err, size_t errlen)
{
	char buf[4096];
	ssize_t n = read(r->err_fd, buf, sizeof(buf));

	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		snprintf(err, errlen, "read %s stderr: %s", r->prog, strerror(errno));
		return -1;
	}
	if (n == 0) {
		if (submit_close(&r->err_fd) == -1) {
			snprintf(err, errlen, "close %s stderr: %s", r->prog, strerror(errno));
			return -1;
		}
		return 0;
	}
	submit_keep_line(r, buf, (size_t)n);
	return 0;
}

/* submit_poll_once - one bounded wait for stdin space or stderr data */
static int submit_poll_once(struct submit_run *r, long long left_ms, char *err, size_t errlen)
{
	struct pollfd p[2];
	nfds_t n = 0;
	int in_slot = -1, err_slot = -1;

	if (r->in_fd != -1) {
		in_slot = (int)n;
		p[n++] = (struct pollfd){ .fd = r->in_fd, .events = POLLOUT };
	}
	if (r->err_fd != -1) {
		err_slot = (int)n;
		p[n++] = (struct pollfd){ .fd = r->err_fd, .events = POLLIN };
	}
	/* With no fds left this is the small sleep between exit checks. */
	int rc = poll(p, n, (int)(left_ms < SUBMIT_SLICE_MS ? left_ms : SUBMIT_SLICE_MS));
	if (rc == -1) {
		if (errno == EINTR)
			return 0;
		snprintf(err, errlen, "poll: %s", strerror(errno));
		return -1;
	}
	if (in_slot != -1 && p[in_slot].revents != 0 && submit_pump(r, err, errlen) == -1)
		return -1;
	if (err_slot != -1 && p[err_slot].revents != 0 && submit_read_err(r, err, errlen) == -1)
		return -1;
	return 0;
}

/* submit_drain - after the exit, take whatever stderr text is already in the pipe */
static void submit_drain(struct submit_run *r)
{
	char buf[4096];
	ssize_t n;

	/* A grandchild may hold stderr open, so read only what is there now. */
	while (r->err_fd != -1 && !r->line_done &&
	       (n = read(r->err_fd, buf, sizeof(buf))) > 0)
		submit_keep_line(r, buf, (size_t)n);
}

/* submit_loop - 0 when the child exited, 1 on timeout, -1 on a local error */
static int submit_loop(struct submit_run *r, unsigned timeout_s, char *err, size_t errlen)
{
	long long deadline = submit_now_ms() + (long long)timeout_s * 1000;

	for (;;) {
		pid_t w = waitpid(r->pid, &r->status, WNOHANG);
		if (w == -1 && errno != EINTR) {
			snprintf(err, errlen, "waitpid %ld: %s", (long)r->pid, strerror(errno));
			return -1;
		}
		if (w == r->pid) {
			r->exited = true;
			submit_drain(r);
			return 0;
		}
		long long left = deadline - submit_now_ms();
		if (left <= 0)
			return 1;
		if (submit_poll_once(r, left, err, errlen) == -1)
			return -1;
	}
}

/* submit_verdict - turn the exit status into 0 or a reason */
static int submit_verdict(const struct submit_run *r, char *err, size_t errlen)
{
	const char *sep = r->linelen > 0 ? ": " : "";

	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return 0;
	if (WIFEXITED(r->status))
		snprintf(err, errlen, "%s exited with status %d%s%s", r->prog,
			 WEXITSTATUS(r->status), sep, r->line);
	else
		snprintf(err, errlen, "%s killed by signal %d%s%s", r->prog, WTERMSIG(r->status),
			 sep, r->line);
	return -1;
}

/* submit_reap - kill a child we gave up on and collect it, so no zombie is left */
static void submit_reap(struct submit_run *r)
{
	if (r->pid <= 0 || r->exited)
		return;
	/* Failure here means it is already gone; waitpid below collects it either way. */
	(void)kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &r->status, 0) == -1 && errno == EINTR)
		;
	r->exited = true;
}

/* submit_message - run argv, feed it msg, wait up to timeout_s; 0 only on exit status 0 */
int submit_message(char *const argv[], const void *msg, size_t len, unsigned timeout_s,
		   char *err, size_t errlen)
{
	struct submit_run r = { .pid = -1, .in_fd = -1, .err_fd = -1, .msg = msg, .len = len };
	int in[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int rc = -1;

	if (argv == NULL || argv[0] == NULL) {
		snprintf(err, errlen, "submit_message: empty command");
		return -1;
	}
	r.prog = argv[0];
	if (submit_pipe(in, err, errlen) == -1 || submit_pipe(errp, err, errlen) == -1)
		goto done;
	if (submit_spawn(argv, in[0], errp[1], &r.pid, err, errlen) == -1)
		goto done;
	r.in_fd = in[1];
	r.err_fd = errp[0];
	in[1] = errp[0] = -1;
	/* The child has its copies; ours would keep stdin's EOF from ever arriving. */
	if (submit_close(&in[0]) == -1 || submit_close(&errp[1]) == -1) {
		snprintf(err, errlen, "close pipe: %s", strerror(errno));
		goto done;
	}
	if (fcntl(r.in_fd, F_SETFL, O_NONBLOCK) == -1 || fcntl(r.err_fd, F_SETFL, O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl O_NONBLOCK: %s", strerror(errno));
		goto done;
	}
	int state = submit_loop(&r, timeout_s, err, errlen);
	if (state == 1)
		snprintf(err, errlen, "timed out after %u s", timeout_s);
	else if (state == 0)
		rc = submit_verdict(&r, err, errlen);
done:
	submit_reap(&r);
	/* Errors from these closes change nothing: the outcome is already decided. */
	(void)submit_close(&r.in_fd);
	(void)submit_close(&r.err_fd);
	for (int i = 0; i < 2; i++) {
		(void)submit_close(&in[i]);
		(void)submit_close(&errp[i]);
	}
	return rc;
}
