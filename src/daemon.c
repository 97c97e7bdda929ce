/*
 * daemon - `klaxon serve` and `klaxon reload`. See daemon.h.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "alertagg.h"
#include "durable.h"
#include "filter.h"
#include "filter_api.h"
#include "log.h"
#include "milter.h"
#include "pipeline.h"
#include "snapshot.h"
#include "vcache.h"

/* Seconds a stop waits for messages in flight. */
#define DAEMON_STOP_GRACE 20
/* Milliseconds between alert rounds: a window's summary goes out this soon after the window ends. */
#define DAEMON_ALERT_ROUND_MS 2000
/* Milliseconds at least between rounds, however often the milter kicks (an alert per message in a flood). */
#define DAEMON_ALERT_GAP_MS 200

/* Shared with the alert thread; set before threads start or under daemon_lock. */
static pthread_mutex_t daemon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t daemon_wake = PTHREAD_COND_INITIALIZER;
static bool daemon_stopping;
static bool daemon_alert_kicked;

/* daemon_kick_alerts - the milter spooled an alert: send it now */
static void daemon_kick_alerts(void)
{
	pthread_mutex_lock(&daemon_lock);
	daemon_alert_kicked = true;
	pthread_cond_signal(&daemon_wake);
	pthread_mutex_unlock(&daemon_lock);
}

/* daemon_flush_alerts - one pass over the alert spool, logged */
static void daemon_flush_alerts(const struct config *cfg)
{
	struct alert_flush_stats st = {0};
	char err[512];
	int rc = alert_flush(cfg->alert_spool_dir, cfg->sendmail_argv, cfg->sendmail_timeout, &st, err,
			     sizeof(err));
	if (st.sent)
		log_info("alerts: %u sent", st.sent);
	if (rc == -1)
		log_warn("alerts: %u pending, will retry in %u s: %s", st.pending, cfg->alert_retry_interval, err);
}

/* What the alert thread keeps from one round to the next. */
struct daemon_alert_state {
	time_t last_flush;
	time_t last_warn;      /* summary trouble is logged once per alert_retry_interval, not per round */
	const struct snapshot *snap;
	unsigned spooled;
};

/* daemon_spool_summary - alertagg_summary_fn: compose a window's summary, spool it under its key */
static int daemon_spool_summary(const struct alertagg_summary *s, void *arg)
{
	struct daemon_alert_state *st = arg;
	const struct config *cfg = st->snap->cfg;
	char from[320], label[200], err[512];
	snapshot_alert_from(st->snap, from, sizeof(from));
	const struct alert_summary_info info = {
		.key = s->key, .label = s->label, .client_addr = s->client_addr, .auth_user = s->auth_user,
		.origin = s->origin, .count = s->count, .alerted = s->alerted, .first = s->first,
		.last = s->last, .viruses = s->viruses, .virus_counts = s->virus_counts,
		.nviruses = s->nviruses, .from = from, .to = (const char *const *)cfg->alert_to_list,
		.nto = cfg->alert_to_count, .hostname = st->snap->hostname, .when = time(NULL),
	};
	char *msg = NULL;
	size_t len = 0;
	int rc = alert_compose_summary(&info, &msg, &len, err, sizeof(err));
	if (rc == 0)
		rc = alert_enqueue_named(cfg->alert_spool_dir, s->key, msg, len, err, sizeof(err));
	free(msg);
	pipeline_sanitize(label, sizeof(label), s->label);
	if (rc == -1) {
		log_warn("alerts: summary for %s not spooled, kept for the next round: %s", label, err);
		return -1;
	}
	log_info("alerts: summary %s: %lu infected messages from %s, %lu alerted at once", s->key, s->count,
		 label, s->alerted);
	st->spooled++;
	return 0;
}

/* daemon_due_summaries - spool the summaries of windows that have ended; how many were spooled */
static unsigned daemon_due_summaries(struct daemon_alert_state *st, time_t now)
{
	struct alertagg *ag = alertagg_global();
	if (ag == NULL)
		return 0;
	char err[512];
	st->spooled = 0;
	if (alertagg_due(ag, now, daemon_spool_summary, st, err, sizeof(err)) == -1 &&
	    now - st->last_warn >= (time_t)st->snap->cfg->alert_retry_interval) {
		log_warn("alerts: window summaries: %s", err);
		st->last_warn = now;
	}
	alertagg_close(ag);
	return st->spooled;
}

/* daemon_alert_round - due summaries every round; the spool when kicked, summaries wait, or on retry */
static void daemon_alert_round(struct daemon_alert_state *st, bool kicked)
{
	struct snapshot *snap = snapshot_acquire();
	if (snap == NULL)
		return;
	time_t now = time(NULL);
	st->snap = snap;
	unsigned spooled = daemon_due_summaries(st, now);
	if (kicked || spooled || now - st->last_flush >= (time_t)snap->cfg->alert_retry_interval) {
		daemon_flush_alerts(snap->cfg);
		st->last_flush = now;
	}
	st->snap = NULL;
	snapshot_release(snap);
}

/* daemon_alert_wait - sleep ms under daemon_lock; a stop ends it, and a kick too if kick_ends */
static void daemon_alert_wait(long ms, bool kick_ends)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (!daemon_stopping && !(kick_ends && daemon_alert_kicked) &&
	       pthread_cond_timedwait(&daemon_wake, &daemon_lock, &deadline) != ETIMEDOUT)
		;
}

/* daemon_alert_thread - send alerts when kicked, summaries when windows end, retry pending ones */
static void *daemon_alert_thread(void *arg)
{
	(void)arg;
	struct daemon_alert_state st = {0};
	bool kicked = true; /* alerts left from the last run go out at start */
	pthread_mutex_lock(&daemon_lock);
	while (!daemon_stopping) {
		pthread_mutex_unlock(&daemon_lock);
		daemon_alert_round(&st, kicked);
		pthread_mutex_lock(&daemon_lock);
		/* A flood of counted copies kicks us thousands of times: rounds stay at most 5 a second. */
		daemon_alert_wait(DAEMON_ALERT_GAP_MS, false);
		daemon_alert_wait(DAEMON_ALERT_ROUND_MS - DAEMON_ALERT_GAP_MS, true);
		kicked = daemon_alert_kicked;
		daemon_alert_kicked = false;
	}
	pthread_mutex_unlock(&daemon_lock);
	return NULL;
}

/*
 * daemon_alertagg_open - one alert per infected source and window from now on.
 * Without it every infected copy has its own alert: more mail, nothing lost.
 */
static void daemon_alertagg_open(const struct config *cfg)
{
	const struct alertagg_opts opts = {cfg->alert_window, cfg->alert_max_per_hour};
	struct alertagg *ag;
	char err[1024];
	if (alertagg_open(cfg->alert_spool_dir, &opts, &ag, err, sizeof(err)) == -1) {
		log_error("alert aggregation unavailable, one alert per infected message: %s", err);
		return;
	}
	alertagg_set_global(ag);
	alertagg_close(ag); /* the global reference keeps it */
	log_info("alerts: one per infected source every %u s, at most %u alert mails an hour (%s/aggregate.sqlite)",
		 cfg->alert_window, cfg->alert_max_per_hour, cfg->alert_spool_dir);
}

/* daemon_alertagg_reload - another aggregator when its directory or limits changed */
static void daemon_alertagg_reload(const struct config *old, const struct config *fresh)
{
	if (old && strcmp(old->alert_spool_dir, fresh->alert_spool_dir) == 0 &&
	    old->alert_window == fresh->alert_window && old->alert_max_per_hour == fresh->alert_max_per_hour)
		return;
	daemon_alertagg_open(fresh);
}

/* daemon_log_cache - the outbreak cache's counts, as a snapshot is retired */
static void daemon_log_cache(struct snapshot *snap, const char *why)
{
	if (snap == NULL)
		return;
	unsigned long long hits, misses;
	vcache_stats(snap->cache, &hits, &misses);
	log_info("verdict cache (%s): %llu hits, %llu misses, %zu entries", why, hits, misses,
		 vcache_size(snap->cache));
}

/* daemon_reload_now - build a new snapshot; keep the old one on any error */
static void daemon_reload_now(const char *config_path)
{
	struct snapshot *fresh;
	char err[1024];
	if (snapshot_build(config_path, &fresh, err, sizeof(err)) == -1) {
		log_error("reload failed, keeping the running configuration: %s", err);
		return;
	}
	struct snapshot *old = snapshot_acquire();
	if (old && strcmp(old->cfg->milter_socket, fresh->cfg->milter_socket) != 0)
		log_warn("reload: milter_socket changed; that takes a restart, still listening on %s",
			 old->cfg->milter_socket);
	daemon_log_cache(old, "reload: a new, empty cache for the new snapshot");
	daemon_alertagg_reload(old ? old->cfg : NULL, fresh->cfg);
	snapshot_release(old);
	if (fresh->builtin_sigs)
		log_warn("reload: using the BUILT-IN TEST SIGNATURES only (no database in %s)", "/var/lib/clamav");
	if (fresh->filter)
		log_info("reload: policy filter %s compiled", fresh->cfg->filter);
	log_info("reloaded configuration from %s; scanner: %s", fresh->cfg->path,
		 scanner_describe(fresh->scanner));
	snapshot_install(fresh);
}

struct daemon_reloader {
	const char *config_path;
};

/* daemon_signal_thread - SIGUSR1 reloads, SIGUSR2 (from us) ends the thread */
static void *daemon_signal_thread(void *arg)
{
	const struct daemon_reloader *r = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR2)
			return NULL;
		log_info("SIGUSR1: reloading");
		daemon_reload_now(r->config_path);
	}
}

/* daemon_prepare_dirs - the private directories, owned by the daemon user */
static void daemon_prepare_dirs(const struct config *cfg, const struct passwd *pw)
{
	const char *dirs[] = {cfg->quarantine_dir, cfg->spool_dir, cfg->alert_spool_dir};
	char err[512];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (durable_mkdir(dirs[i], 0700, err, sizeof(err)) == -1)
			log_fatal("%s", err);
		/* An existing directory keeps whatever mode it had; these hold mail. */
		if (chmod(dirs[i], 0700) == -1)
			log_fatal("chmod %s: %s", dirs[i], strerror(errno));
		if (pw && chown(dirs[i], pw->pw_uid, pw->pw_gid) == -1)
			log_fatal("chown %s: %s", dirs[i], strerror(errno));
	}
}

/* daemon_parent_dir - make the directory that will hold path (pid file, socket) */
static void daemon_parent_dir(const char *path)
{
	char dir[4096], err[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (durable_mkdir(dir, 0755, err, sizeof(err)) == -1)
		log_fatal("%s", err);
}

/* daemon_socket_path - the file of a unix: socket, or NULL for inet */
static const char *daemon_socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/* daemon_running_pid - the pid in pid_file if that process is a klaxon, else 0 */
static pid_t daemon_running_pid(const char *pid_file)
{
	FILE *fp = fopen(pid_file, "re");
	if (fp == NULL)
		return 0;
	long pid = 0;
	int n = fscanf(fp, "%ld", &pid);
	fclose(fp);
	if (n != 1 || pid <= 1)
		return 0;
	char path[64], comm[64] = "";
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), fp) == NULL)
		comm[0] = '\0';
	fclose(fp);
	return strncmp(comm, "klaxon", 6) == 0 ? (pid_t)pid : 0;
}

/* daemon_open_socket - register with libmilter and bind the socket */
static void daemon_open_socket(const struct config *cfg, const struct passwd *pw)
{
	const char *path = daemon_socket_path(cfg->milter_socket);
	if (path)
		daemon_parent_dir(path);
	if (milter_register() == -1)
		log_fatal("smfi_register failed");
	if (smfi_setconn(cfg->milter_socket) != MI_SUCCESS)
		log_fatal("smfi_setconn %s failed", cfg->milter_socket);
	if (smfi_settimeout((int)cfg->milter_timeout) != MI_SUCCESS)
		log_fatal("smfi_settimeout failed");
	if (smfi_opensocket(true) != MI_SUCCESS)
		log_fatal("cannot open milter socket %s (in use, or a bad address?)", cfg->milter_socket);
	if (path && chmod(path, cfg->milter_socket_mode) == -1)
		log_fatal("chmod %s: %s", path, strerror(errno));
	if (path && pw && chown(path, pw->pw_uid, pw->pw_gid) == -1)
		log_fatal("chown %s: %s", path, strerror(errno));
}

/* daemon_drop_privileges - become the configured user, for good */
static void daemon_drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return;
	if (initgroups(pw->pw_name, pw->pw_gid) == -1)
		log_fatal("initgroups %s: %s", pw->pw_name, strerror(errno));
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1)
		log_fatal("setresgid %u: %s", (unsigned)pw->pw_gid, strerror(errno));
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		log_fatal("setresuid %u: %s", (unsigned)pw->pw_uid, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) != -1)
		log_fatal("privileges were not dropped: setuid(0) still works");
	log_info("running as user %s (uid %u)", pw->pw_name, (unsigned)pw->pw_uid);
}

/* daemon_detach - the classic fork and setsid, before any thread exists */
static void daemon_detach(void)
{
	pid_t pid = fork();
	if (pid == -1)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		log_fatal("setsid: %s", strerror(errno));
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		log_fatal("open /dev/null: %s", strerror(errno));
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		log_fatal("dup2 /dev/null: %s", strerror(errno));
	close(fd);
	log_open("klaxon", false);
}

/* daemon_write_pid - the pid file, owned by the user we drop to so it can be cleared at exit */
static void daemon_write_pid(const char *pid_file, const struct passwd *pw)
{
	daemon_parent_dir(pid_file);
	FILE *fp = fopen(pid_file, "we");
	if (fp == NULL)
		log_fatal("open %s: %s", pid_file, strerror(errno));
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) == EOF)
		log_fatal("write %s: %s", pid_file, strerror(errno));
	if (pw && chown(pid_file, pw->pw_uid, pw->pw_gid) == -1)
		log_fatal("chown %s: %s", pid_file, strerror(errno));
}

/* daemon_clear_pid - remove the pid file; an unprivileged daemon may only empty it */
static void daemon_clear_pid(const char *pid_file)
{
	if (unlink(pid_file) == 0 || errno == ENOENT)
		return;
	if (errno == EACCES || errno == EPERM) {
		FILE *fp = fopen(pid_file, "we"); /* truncates: an empty pid file names no one */
		if (fp != NULL && fclose(fp) == 0)
			return;
	}
	log_warn("cannot remove or empty %s: %s", pid_file, strerror(errno));
}

/* daemon_user - the passwd entry to drop to, or NULL to stay as we are */
static const struct passwd *daemon_user(const struct config *cfg)
{
	if (cfg->user[0] == '\0') {
		if (geteuid() == 0)
			log_warn("running as root: set `user` to drop privileges after opening the socket");
		return NULL;
	}
	if (geteuid() != 0) {
		log_warn("user = %s is ignored: not started as root", cfg->user);
		return NULL;
	}
	struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL)
		log_fatal("%s: user '%s' does not exist", cfg->path, cfg->user);
	return pw;
}

/* daemon_block_signals - every thread we create leaves these to sigwait */
static void daemon_block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	/* libmilter's signal thread sigwaits for these; no other thread may take them. */
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		log_fatal("pthread_sigmask failed");
	signal(SIGPIPE, SIG_IGN);
}

int daemon_serve(const char *config_path, bool foreground)
{
	log_open("klaxon", true);
	char err[1024];
	if (scan_global_init(err, sizeof(err)) == -1)
		log_fatal("%s", err);
	struct snapshot *snap;
	if (snapshot_build(config_path, &snap, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon: %s\n", err);
		return 1;
	}
	const struct config *cfg = snap->cfg;
	log_set_debug(cfg->debug);
	if (daemon_running_pid(cfg->pid_file))
		log_fatal("already running as pid %ld (%s)", (long)daemon_running_pid(cfg->pid_file), cfg->pid_file);

	const struct passwd *pw = daemon_user(cfg);
	daemon_prepare_dirs(cfg, pw);
	daemon_open_socket(cfg, pw);
	if (!foreground)
		daemon_detach();
	daemon_write_pid(cfg->pid_file, pw);
	daemon_drop_privileges(pw);
	/* After the fork and the drop: the database is the daemon user's, and no connection crosses a fork. */
	daemon_alertagg_open(cfg);
	if (snap->builtin_sigs)
		log_warn("using the BUILT-IN TEST SIGNATURES only: they catch EICAR and the clamav-testfiles "
			 "samples, not real viruses. Install a database in /var/lib/clamav (freshclam).");
	log_info("klaxon %s listening on %s; scanner: %s; policy: %s", KLAXON_VERSION, cfg->milter_socket,
		 scanner_describe(snap->scanner), snap->filter ? cfg->filter : "built-in");
	char pid_file[4096];
	snprintf(pid_file, sizeof(pid_file), "%s", cfg->pid_file);
	snapshot_install(snap);

	daemon_block_signals();
	milter_set_alert_hook(daemon_kick_alerts);
	struct daemon_reloader reloader = {config_path};
	pthread_t sig_tid, alert_tid;
	if (pthread_create(&sig_tid, NULL, daemon_signal_thread, &reloader) != 0 ||
	    pthread_create(&alert_tid, NULL, daemon_alert_thread, NULL) != 0)
		log_fatal("pthread_create failed");

	int rc = smfi_main();
	log_info("stopping (libmilter returned %d)", rc);
	/* libmilter does not wait for sessions in progress; give their messages
	 * time to finish, so they are answered rather than cut off (which the
	 * MTA would turn into a tempfail anyway). */
	unsigned left = snapshot_wait_idle(DAEMON_STOP_GRACE);
	if (left)
		log_warn("stopping with %u message(s) still in flight: the MTA will tempfail them", left);

	pthread_mutex_lock(&daemon_lock);
	daemon_stopping = true;
	pthread_cond_signal(&daemon_wake);
	pthread_mutex_unlock(&daemon_lock);
	pthread_join(alert_tid, NULL);
	pthread_kill(sig_tid, SIGUSR2);
	pthread_join(sig_tid, NULL);
	alertagg_set_global(NULL);
	daemon_clear_pid(pid_file);
	struct snapshot *last = snapshot_acquire();
	daemon_log_cache(last, "stop");
	snapshot_release(last);
	snapshot_install(NULL);
	log_info("stopped");
	return rc == MI_SUCCESS ? 0 : 1;
}

int daemon_reload(const char *config_path)
{
	struct config *cfg;
	char err[1024];
	if (config_load(config_path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon: not reloading: %s\n", err);
		return 1;
	}
	/* The daemon would refuse a filter that does not compile; say so here, where someone reads it. */
	struct filter_opts fopts = {.funcs = filter_api_funcs};
	struct filter_prog *prog = NULL;
	if (cfg->filter[0] && filter_prog_compile(cfg->filter, &fopts, &prog, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon: not reloading: filter: %s\n", err);
		config_free(cfg);
		return 1;
	}
	filter_prog_free(prog);
	pid_t pid = daemon_running_pid(cfg->pid_file);
	if (pid == 0) {
		fprintf(stderr, "klaxon: no running klaxon found through %s\n", cfg->pid_file);
		config_free(cfg);
		return 1;
	}
	config_free(cfg);
	if (kill(pid, SIGUSR1) == -1) {
		fprintf(stderr, "klaxon: kill %ld: %s\n", (long)pid, strerror(errno));
		return 1;
	}
	printf("klaxon: asked pid %ld to reload\n", (long)pid);
	return 0;
}
