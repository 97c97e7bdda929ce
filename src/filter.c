/*
 * filter - compile a filter once, make states, call callbacks, pool
 * states, and `klaxon filter --test`. See filter.h; the lua_State itself
 * is built in filter_sandbox.c.
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "filter_int.h"
#include "util.h"

const char *const filter_callback_names[] = {
	"filter_relay", "filter_helo", "filter_sender",    "filter_recipient",
	"filter_begin", "filter",      "filter_multipart", "filter_end",
	NULL,
};

/* filter_read_source - the whole file, NUL-terminated; a "#!" first line is blanked */
static int filter_read_source(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		util_errf(err, errlen, "%s: open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		util_errf(err, errlen, "%s: fstat: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)FILTER_SOURCE_MAX) {
		util_errf(err, errlen, "%s: not a regular file of at most %u bytes", path, FILTER_SOURCE_MAX);
		(void)close(fd);
		return -1;
	}
	size_t cap = (size_t)sb.st_size + 1, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		util_errf(err, errlen, "%s: out of memory", path);
		(void)close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			util_errf(err, errlen, "%s: read: %s", path, strerror(errno));
			free(buf);
			(void)close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap - 1)
			break; /* grew while we read: what fstat saw is what we compile */
	}
	(void)close(fd);
	buf[len] = '\0';
	if (len > 0 && buf[0] == '#') /* as lua(1): keep the newline, so line numbers hold */
		for (size_t i = 0; i < len && buf[i] != '\n'; i++)
			buf[i] = ' ';
	*out = buf;
	*outlen = len;
	return 0;
}

struct filter_dump {
	char *buf;
	size_t len, cap;
};

/* filter_dump_write - lua_Writer appending to a growing buffer */
static int filter_dump_write(lua_State *L, const void *p, size_t sz, void *ud)
{
	struct filter_dump *d = ud;

	(void)L;
	if (sz > d->cap - d->len) {
		size_t cap = d->cap == 0 ? 4096 : d->cap;
		while (sz > cap - d->len)
			cap *= 2;
		char *grown = realloc(d->buf, cap);
		if (grown == NULL)
			return 1;
		d->buf = grown;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, p, sz);
	d->len += sz;
	return 0;
}

/*
 * filter_compile_text - Lua source to bytecode. A syntax error is
 * reported again from a chunk named "=" so that the message starts with
 * ":LINE:" whatever Lua would have abbreviated the path to.
 */
static int filter_compile_text(struct filter_prog *prog, const char *src, size_t len, char *err,
			       size_t errlen)
{
	if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
		util_errf(err, errlen, "%s:1: a precompiled (binary) chunk is refused, give the Lua source",
			  prog->path);
		return -1;
	}
	lua_State *L = luaL_newstate();
	if (L == NULL) {
		util_errf(err, errlen, "%s: out of memory", prog->path);
		return -1;
	}
	size_t nlen = strlen(prog->path) + 2;
	char *chunkname = malloc(nlen);
	if (chunkname == NULL) {
		lua_close(L);
		util_errf(err, errlen, "%s: out of memory", prog->path);
		return -1;
	}
	snprintf(chunkname, nlen, "@%s", prog->path);
	struct filter_dump d = {0};
	int rc = -1;
	if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK) {
		lua_pop(L, 1);
		(void)luaL_loadbufferx(L, src, len, "=", "t");
		const char *msg = lua_tostring(L, -1);
		if (msg == NULL)
			msg = "cannot compile";
		util_errf(err, errlen, "%s%s%s", prog->path, *msg == ':' ? "" : ": ", msg);
		goto out;
	}
	if (lua_dump(L, filter_dump_write, &d, 0) != 0 || d.len == 0) {
		free(d.buf);
		util_errf(err, errlen, "%s: out of memory", prog->path);
		goto out;
	}
	prog->code = d.buf;
	prog->codelen = d.len;
	rc = 0;
out:
	free(chunkname);
	lua_close(L);
	return rc;
}

/* filter_prog_compile - read, compile, dump, and run once in a sandbox */
int filter_prog_compile(const char *path, const struct filter_opts *opts, struct filter_prog **out, char *err,
			size_t errlen)
{
	struct filter_prog *prog = calloc(1, sizeof(*prog));
	char *src = NULL;
	size_t len = 0;

	*out = NULL;
	if (prog == NULL || (prog->path = strdup(path)) == NULL) {
		free(prog);
		util_errf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	prog->funcs = opts != NULL ? opts->funcs : NULL;
	prog->mem_limit = opts != NULL && opts->mem_limit != 0 ? opts->mem_limit : FILTER_MEM_DEFAULT;
	prog->load_budget = opts != NULL && opts->load_budget != 0 ? opts->load_budget : FILTER_LOAD_BUDGET_DEFAULT;
	prog->time_limit_ms = opts != NULL && opts->time_limit_ms != 0 ? opts->time_limit_ms : FILTER_TIME_DEFAULT_MS;

	if (filter_read_source(path, &src, &len, err, errlen) == -1)
		goto fail;
	int rc = filter_compile_text(prog, src, len, err, errlen);
	free(src);
	if (rc == -1)
		goto fail;

	struct filter_state *st;
	if (filter_state_new(prog, &st, err, errlen) == -1)
		goto fail;
	prog->defined = st->defined;
	filter_state_free(st);
	*out = prog;
	return 0;
fail:
	filter_prog_free(prog);
	return -1;
}

bool filter_prog_defines(const struct filter_prog *prog, const char *name)
{
	for (unsigned i = 0; filter_callback_names[i] != NULL; i++)
		if (strcmp(filter_callback_names[i], name) == 0)
			return (prog->defined >> i) & 1u;
	return false;
}

const char *filter_prog_path(const struct filter_prog *prog)
{
	return prog->path;
}

void filter_prog_free(struct filter_prog *prog)
{
	if (prog == NULL)
		return;
	free(prog->path);
	free(prog->code);
	free(prog);
}

/* filter_state_new - one sandboxed state, its chunk run and its globals frozen */
int filter_state_new(const struct filter_prog *prog, struct filter_state **out, char *err, size_t errlen)
{
	struct filter_state *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (st == NULL) {
		util_errf(err, errlen, "%s: out of memory", prog->path);
		return -1;
	}
	st->prog = prog;
	st->mem_limit = prog->mem_limit;
	if (filter_sb_open(st, err, errlen) == -1) {
		free(st);
		return -1;
	}
	*out = st;
	return 0;
}

size_t filter_state_memory(const struct filter_state *st)
{
	return st->mem_used;
}

void filter_state_free(struct filter_state *st)
{
	if (st == NULL)
		return;
	if (st->L != NULL) {
		filter_sb_arm(st, FILTER_BUDGET_DEFAULT); /* no finalizers, but never run unbudgeted */
		lua_close(st->L);
	}
	free(st);
}

/* What filter_call_run needs from filter_call. */
struct filter_callctx {
	const char *name;
	filter_push_fn push;
	filter_pull_fn pull;
	void *arg;
	bool undefined;
};

/* filter_call_run - (protected) look the callback up, push, call, pull */
static int filter_call_run(lua_State *L)
{
	struct filter_callctx *c = lua_touserdata(L, 1);

	lua_settop(L, 0);
	int t = lua_getglobal(L, c->name);
	if (t == LUA_TNIL) {
		c->undefined = true;
		return 0;
	}
	if (t != LUA_TFUNCTION)
		return luaL_error(L, "global '%s' is a %s, not a function", c->name, lua_typename(L, t));
	if (c->push != NULL)
		c->push(L, c->arg);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	if (c->pull != NULL)
		c->pull(L, lua_gettop(L), c->arg);
	return 0;
}

/* filter_call - one callback under a fresh budget; see filter.h */
enum filter_status filter_call(struct filter_state *st, const char *name, filter_push_fn push,
			       filter_pull_fn pull, void *arg, unsigned long budget, char *err, size_t errlen)
{
	lua_State *L = st->L;
	struct filter_callctx c = {.name = name, .push = push, .pull = pull, .arg = arg};

	lua_settop(L, 0);
	filter_sb_arm(st, budget);
	st->call_arg = arg;
	st->call_name = name;
	lua_pushcfunction(L, filter_sb_msgh);
	lua_pushcfunction(L, filter_call_run);
	lua_pushlightuserdata(L, &c);
	int status = lua_pcall(L, 1, 0, 1);
	enum filter_status r = filter_sb_result(st, status, err, errlen);
	st->call_arg = NULL;
	st->call_name = NULL;
	lua_settop(L, 0);
	if (r != FILTER_OK)
		lua_gc(L, LUA_GCCOLLECT); /* the garbage of a failed call: a loop's, a bomb's */
	else if (c.undefined)
		r = FILTER_UNDEFINED;
	return r;
}

/* filter_state_used - instructions the last call ran, to a step of the hook */
unsigned long filter_state_used(const struct filter_state *st)
{
	return st->budget > st->left ? st->budget - st->left : 0;
}

void *filter_call_arg(lua_State *L)
{
	return filter_sb_state(L)->call_arg;
}

const char *filter_status_name(enum filter_status s)
{
	switch (s) {
	case FILTER_OK:
		return "ok";
	case FILTER_UNDEFINED:
		return "undefined";
	case FILTER_ERROR:
		return "error";
	case FILTER_BUDGET:
		return "budget";
	case FILTER_MEMORY:
		return "memory";
	}
	return "?";
}

struct filter_pool {
	const struct filter_prog *prog;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned max;  /* states in existence, at most */
	unsigned live; /* states in existence: idle or out */
	unsigned out;  /* states checked out */
	struct filter_state *idle;
};

struct filter_pool *filter_pool_new(const struct filter_prog *prog, unsigned max_states)
{
	struct filter_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->prog = prog;
	pool->max = max_states == 0 ? 1 : max_states;
	if (pthread_mutex_init(&pool->mu, NULL) != 0) {
		free(pool);
		return NULL;
	}
	if (pthread_cond_init(&pool->cv, NULL) != 0) {
		(void)pthread_mutex_destroy(&pool->mu);
		free(pool);
		return NULL;
	}
	return pool;
}

/* filter_pool_get - an idle state, or a new one while under max, or wait */
int filter_pool_get(struct filter_pool *pool, struct filter_state **out, char *err, size_t errlen)
{
	*out = NULL;
	pthread_mutex_lock(&pool->mu);
	while (pool->idle == NULL && pool->live >= pool->max)
		pthread_cond_wait(&pool->cv, &pool->mu);
	pool->out++;
	struct filter_state *st = pool->idle;
	if (st != NULL) {
		pool->idle = st->next;
		st->next = NULL;
		pthread_mutex_unlock(&pool->mu);
		*out = st;
		return 0;
	}
	pool->live++;
	pthread_mutex_unlock(&pool->mu);

	/* outside the lock: running the chunk takes a while */
	if (filter_state_new(pool->prog, &st, err, errlen) == -1) {
		pthread_mutex_lock(&pool->mu);
		pool->live--;
		pool->out--;
		pthread_cond_signal(&pool->cv);
		pthread_mutex_unlock(&pool->mu);
		return -1;
	}
	*out = st;
	return 0;
}

/* filter_pool_put - back to the idle list, or closed if it hit its memory cap */
void filter_pool_put(struct filter_pool *pool, struct filter_state *st)
{
	if (st == NULL)
		return;
	bool drop = st->tainted;
	if (drop)
		filter_state_free(st);
	pthread_mutex_lock(&pool->mu);
	if (drop) {
		pool->live--;
	} else {
		st->next = pool->idle;
		pool->idle = st;
	}
	pool->out--;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
}

void filter_pool_free(struct filter_pool *pool)
{
	if (pool == NULL)
		return;
	if (pool->out != 0) {
		fprintf(stderr, "klaxon: panic: filter_pool_free with %u states checked out\n", pool->out);
		abort();
	}
	while (pool->idle != NULL) {
		struct filter_state *st = pool->idle;
		pool->idle = st->next;
		filter_state_free(st);
	}
	(void)pthread_cond_destroy(&pool->cv);
	(void)pthread_mutex_destroy(&pool->mu);
	free(pool);
}

/* filter_test_one - compile one file and say what it defines */
static int filter_test_one(const char *path, const struct filter_opts *opts, FILE *out, FILE *errout)
{
	struct filter_prog *prog;
	char err[1024];

	if (filter_prog_compile(path, opts, &prog, err, sizeof(err)) == -1) {
		fprintf(errout, "%s\n", err);
		return 1;
	}
	fprintf(out, "%s: syntax OK\n", path);
	fprintf(out, "%s: callbacks:", path);
	unsigned n = 0;
	for (unsigned i = 0; filter_callback_names[i] != NULL; i++) {
		if (filter_prog_defines(prog, filter_callback_names[i])) {
			fprintf(out, " %s", filter_callback_names[i]);
			n++;
		}
	}
	fprintf(out, n == 0 ? " none (the filter changes nothing)\n" : "\n");
	filter_prog_free(prog);
	return 0;
}

int filter_test_run(int argc, char **argv, const struct filter_opts *opts, FILE *out, FILE *errout)
{
	if (argc < 3 || strcmp(argv[1], "--test") != 0) {
		fprintf(errout, "usage: klaxon filter --test FILE.lua...\n");
		return 2;
	}
	int rc = 0;
	for (int i = 2; i < argc; i++)
		if (filter_test_one(argv[i], opts, out, errout) != 0)
			rc = 1;
	return rc;
}

int filter_test_main(int argc, char **argv)
{
	return filter_test_run(argc, argv, NULL, stdout, stderr);
}
