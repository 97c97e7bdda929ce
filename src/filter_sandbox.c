/*
 * filter_sandbox - one sandboxed lua_State: the libraries a filter gets,
 * the frozen globals, the instruction hook, the capped allocator and the
 * message handler. See filter.h for the contract, filter_int.h for the
 * state.
 */
#include "filter_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "util.h"

#define FILTER_TRACE_FRAMES 8
#define FILTER_HOOK_STEP 256          /* instructions between clock checks */
#define FILTER_ALLOC_CHECK (64u << 10) /* and at allocations this large */

static void filter_sb_hook(lua_State *L, lua_Debug *ar);

/* filter_sb_state - the state that owns L (it is the allocator's ud) */
struct filter_state *filter_sb_state(lua_State *L)
{
	void *ud = NULL;

	(void)lua_getallocf(L, &ud);
	return ud;
}

/* filter_sb_now - CLOCK_MONOTONIC in seconds (vDSO: cheap enough for the hook) */
static double filter_sb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * filter_sb_clock - on a large allocation: when the time is up, make the
 * hook fire at the next instruction rather than up to FILTER_HOOK_STEP
 * expensive ones later. lua_sethook is safe anywhere (lua.c calls it
 * from a signal handler); it only sets fields and trap flags.
 */
static void filter_sb_clock(struct filter_state *st)
{
	if (st->L == NULL || st->budget_out || st->step == 1 || filter_sb_now() <= st->deadline)
		return;
	st->step = 1;
	lua_sethook(st->L, filter_sb_hook, LUA_MASKCOUNT, 1);
}

/*
 * filter_sb_alloc - lua_Alloc with a cap: growth past mem_limit fails.
 * Lua then collects garbage and tries once more before raising a memory
 * error, so a filter near its cap with garbage to spare keeps working.
 */
static void *filter_sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct filter_state *st = ud;

	if (ptr == NULL)
		osize = 0; /* osize is then a type tag */
	if (nsize == 0) {
		free(ptr);
		st->mem_used -= osize;
		return NULL;
	}
	if (nsize > osize && nsize - osize > st->mem_limit - st->mem_used)
		return NULL;
	void *p = realloc(ptr, nsize);
	if (p == NULL)
		return NULL;
	st->mem_used = st->mem_used - osize + nsize;
	if (nsize >= osize + FILTER_ALLOC_CHECK)
		filter_sb_clock(st);
	return p;
}

/* filter_sb_panic - an error outside any protected call: a klaxon bug */
static int filter_sb_panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);

	fprintf(stderr, "klaxon: panic: unprotected Lua error: %s\n", msg != NULL ? msg : "?");
	abort();
}

/* filter_sb_rearm - the hook fires after the next step of at most FILTER_HOOK_STEP instructions */
static void filter_sb_rearm(struct filter_state *st, lua_State *L)
{
	int step = st->left < FILTER_HOOK_STEP ? (int)st->left : FILTER_HOOK_STEP;

	if (step != st->step) {
		st->step = step;
		lua_sethook(L, filter_sb_hook, LUA_MASKCOUNT, step);
	}
}

/*
 * filter_sb_hook - the count hook, every FILTER_HOOK_STEP instructions.
 * It counts the budget down and watches the clock: one instruction can
 * cost far more than another (a vararg call copying 100 000 values, an
 * upper() of a large string), so the instruction count alone does not
 * bound the time. When either runs out it raises an error, and re-arms
 * itself for every instruction, so that whatever Lua code still runs (a
 * __close handler, say) fails at once.
 */
static void filter_sb_hook(lua_State *L, lua_Debug *ar)
{
	struct filter_state *st = filter_sb_state(L);

	if (!st->budget_out) {
		st->left -= st->left < (unsigned long)st->step ? st->left : (unsigned long)st->step;
		st->timed_out = filter_sb_now() > st->deadline;
		if (st->left > 0 && !st->timed_out) {
			filter_sb_rearm(st, L);
			return;
		}
		st->budget_out = true;
		if (lua_getinfo(L, "l", ar))
			st->budget_line = ar->currentline;
		st->step = 1;
		lua_sethook(L, filter_sb_hook, LUA_MASKCOUNT, 1);
	}
	lua_pushliteral(L, "instruction budget exhausted");
	lua_error(L);
}

/* filter_sb_arm - a fresh budget and clear error flags for the next call */
void filter_sb_arm(struct filter_state *st, unsigned long budget)
{
	st->budget = budget == 0 ? FILTER_BUDGET_DEFAULT : budget;
	st->left = st->budget;
	st->budget_out = false;
	st->timed_out = false;
	st->budget_line = 0;
	st->mem_failed = false;
	st->deadline = filter_sb_now() + st->prog->time_limit_ms / 1000.0;
	st->step = 0;
	filter_sb_rearm(st, st->L);
}

/*
 * filter_sb_rethrow - after a pcall inside the sandbox: a budget or
 * memory error is not the filter's to catch, so raise it again.
 */
static void filter_sb_rethrow(lua_State *L, int status)
{
	struct filter_state *st = filter_sb_state(L);

	if (status == LUA_ERRMEM)
		st->mem_failed = true;
	if (status != LUA_OK && (st->mem_failed || st->budget_out))
		lua_error(L);
}

/* filter_sb_pcall - pcall(f, ...), but budget and memory errors go through */
static int filter_sb_pcall(lua_State *L)
{
	luaL_checkany(L, 1);
	int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	filter_sb_rethrow(L, status);
	lua_pushboolean(L, status == LUA_OK);
	lua_insert(L, 1);
	return lua_gettop(L);
}

/*
 * filter_sb_xpcall - xpcall(f, h, ...) with h called after unwinding.
 * Lua calls a message handler at the point of the error; for an error
 * raised by the count hook that is inside the hook, where hooks are off,
 * and a looping handler would never be stopped. Without the debug library
 * a handler cannot look at the stack anyway, so calling it afterwards
 * only changes what "error in error handling" looks like.
 */
static int filter_sb_xpcall(lua_State *L)
{
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_rotate(L, 1, 1); /* h f h args... */
	lua_remove(L, 3);    /* h f args... */
	int status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
	filter_sb_rethrow(L, status);
	if (status == LUA_OK) {
		lua_pushboolean(L, 1);
		lua_replace(L, 1);
		return lua_gettop(L);
	}
	status = lua_pcall(L, 1, 1, 0); /* h(err) */
	filter_sb_rethrow(L, status);
	lua_pushboolean(L, 0);
	lua_insert(L, 1);
	return 2;
}

/* filter_sb_setmetatable - setmetatable without finalizers (__gc) */
static int filter_sb_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (t == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc is not allowed in the filter sandbox");
		lua_pop(L, 1);
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* filter_sb_collectgarbage - only collectgarbage("count"): the rest steers the collector */
static int filter_sb_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");

	if (strcmp(opt, "count") != 0)
		return luaL_error(L, "collectgarbage(\"%s\") is not allowed in the filter sandbox, only \"count\"",
				  opt);
	lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) + (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024);
	return 1;
}

/* filter_sb_newindex - __newindex of a frozen table; upvalue 1 names it ("" for _G) */
static int filter_sb_newindex(lua_State *L)
{
	const char *table = lua_tostring(L, lua_upvalueindex(1));
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;

	if (table == NULL || *table == '\0') {
		if (key != NULL)
			return luaL_error(L, "attempt to set global '%s'", key);
		return luaL_error(L, "attempt to set a global (with a %s key)", luaL_typename(L, 2));
	}
	if (key != NULL)
		return luaL_error(L, "attempt to set read-only field '%s.%s'", table, key);
	return luaL_error(L, "attempt to set a field of read-only table '%s'", table);
}

/* filter_sb_ro_next - next() over the hidden table (upvalue 1) of a frozen one */
static int filter_sb_ro_next(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)))
		return 2;
	lua_pushnil(L);
	return 1;
}

/* filter_sb_ro_pairs - __pairs of a frozen table: its iterator is upvalue 1 */
static int filter_sb_ro_pairs(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/*
 * filter_sb_freeze - make the table at idx read-only, in place (whoever
 * holds it, such as the string metatable's __index or the chunk's _ENV,
 * sees the change): its contents move to a hidden table read through
 * __index, so that every store, even to an existing key, meets
 * __newindex. The hidden table is reachable from C only.
 */
static void filter_sb_freeze(lua_State *L, int idx, const char *name)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L);
	int hidden = lua_gettop(L);

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, hidden);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) { /* clearing fields during traversal is allowed */
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		lua_pushnil(L);
		lua_rawset(L, idx);
	}

	lua_createtable(L, 0, 4);
	lua_pushvalue(L, hidden);
	lua_setfield(L, -2, "__index");
	lua_pushstring(L, name);
	lua_pushcclosure(L, filter_sb_newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushvalue(L, hidden);
	lua_pushcclosure(L, filter_sb_ro_next, 1);
	lua_pushcclosure(L, filter_sb_ro_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, idx);
	lua_pop(L, 1);
}

/* filter_sb_libs - open the allowed libraries and trim them */
static void filter_sb_libs(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{LUA_GNAME, luaopen_base},         {LUA_STRLIBNAME, luaopen_string},
		{LUA_TABLIBNAME, luaopen_table},   {LUA_MATHLIBNAME, luaopen_math},
		{LUA_UTF8LIBNAME, luaopen_utf8},   {NULL, NULL},
	};
	static const char *const gone[] = {"dofile", "loadfile", "load", "print", "warn", "rawset", NULL};
	static const luaL_Reg replaced[] = {
		{"collectgarbage", filter_sb_collectgarbage},
		{"pcall", filter_sb_pcall},
		{"xpcall", filter_sb_xpcall},
		{"setmetatable", filter_sb_setmetatable},
		{NULL, NULL},
	};

	for (const luaL_Reg *l = libs; l->name != NULL; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	for (const char *const *g = gone; *g != NULL; g++) {
		lua_pushnil(L);
		lua_setglobal(L, *g);
	}
	for (const luaL_Reg *r = replaced; r->name != NULL; r++)
		lua_register(L, r->name, r->func);

	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);

	/* getmetatable("") gives false: the metatable and its __index stay out of reach */
	lua_pushliteral(L, "");
	if (lua_getmetatable(L, -1)) {
		lua_pushboolean(L, 0);
		lua_setfield(L, -2, "__metatable");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* filter_sb_freeze_all - the libraries (as opened, whatever the chunk did to their names), then _G */
static void filter_sb_freeze_all(lua_State *L)
{
	static const char *const libs[] = {LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME,
					   NULL};

	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	for (const char *const *l = libs; *l != NULL; l++) {
		if (lua_getfield(L, -1, *l) == LUA_TTABLE)
			filter_sb_freeze(L, -1, *l);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_pushglobaltable(L);
	filter_sb_freeze(L, -1, "");
	lua_pop(L, 1);
}

/* filter_sb_setup - (protected) build the sandbox, run the chunk, freeze */
static int filter_sb_setup(lua_State *L)
{
	struct filter_state *st = filter_sb_state(L);
	const struct filter_prog *prog = st->prog;
	lua_Debug ar;

	filter_sb_libs(L);
	for (const struct filter_reg *r = prog->funcs; r != NULL && r->name != NULL; r++)
		lua_register(L, r->name, r->fn);

	/* our own lua_dump output: the one place binary chunks are loaded */
	if (luaL_loadbufferx(L, prog->code, prog->codelen, prog->path, "b") != LUA_OK)
		return lua_error(L);
	lua_pushvalue(L, -1);
	if (lua_getinfo(L, ">S", &ar))
		snprintf(st->short_src, sizeof(st->short_src), "%s", ar.short_src);
	lua_call(L, 0, 0);

	st->defined = 0;
	for (unsigned i = 0; filter_callback_names[i] != NULL; i++) {
		if (lua_getglobal(L, filter_callback_names[i]) == LUA_TFUNCTION)
			st->defined |= 1u << i;
		lua_pop(L, 1);
	}
	filter_sb_freeze_all(L);
	return 0;
}

/*
 * filter_sb_open - create st->L from st->prog: libraries, registered
 * functions, the chunk run under the load budget, globals frozen.
 */
int filter_sb_open(struct filter_state *st, char *err, size_t errlen)
{
	st->L = lua_newstate(filter_sb_alloc, st);
	if (st->L == NULL) {
		util_errf(err, errlen, "%s: cannot create a Lua state within the memory limit of %zu bytes",
			  st->prog->path, st->mem_limit);
		return -1;
	}
	lua_State *L = st->L;

	lua_atpanic(L, filter_sb_panic);
	filter_sb_arm(st, st->prog->load_budget);
	lua_pushcfunction(L, filter_sb_msgh);
	lua_pushcfunction(L, filter_sb_setup);
	int status = lua_pcall(L, 0, 0, 1);
	enum filter_status r = filter_sb_result(st, status, err, errlen);
	lua_settop(L, 0);
	if (r != FILTER_OK) {
		lua_close(L);
		st->L = NULL;
		return -1;
	}
	lua_gc(L, LUA_GCCOLLECT);
	return 0;
}

/*
 * filter_sb_result - map a lua_pcall status and the state's flags to a
 * filter status, with err "FILE:LINE: message". The error object, if
 * any, is on top of the stack.
 */
enum filter_status filter_sb_result(struct filter_state *st, int status, char *err, size_t errlen)
{
	const char *path = st->prog->path;

	if (status == LUA_ERRMEM || st->mem_failed) {
		st->mem_failed = true;
		st->tainted = true;
		util_errf(err, errlen, "%s: memory limit of %zu bytes exceeded", path, st->mem_limit);
		return FILTER_MEMORY;
	}
	if (st->budget_out) {
		char pos[32] = "";
		if (st->budget_line > 0)
			snprintf(pos, sizeof(pos), ":%d", st->budget_line);
		if (st->timed_out)
			util_errf(err, errlen, "%s%s: time limit of %u ms exhausted", path, pos,
				  st->prog->time_limit_ms);
		else
			util_errf(err, errlen, "%s%s: instruction budget of %lu exhausted", path, pos, st->budget);
		return FILTER_BUDGET;
	}
	if (status == LUA_OK)
		return FILTER_OK;

	const char *msg = lua_type(st->L, -1) == LUA_TSTRING ? lua_tostring(st->L, -1) : NULL;
	size_t plen = strlen(path);
	if (msg == NULL)
		util_errf(err, errlen, "%s: (error object is not a string)", path);
	else if (strncmp(msg, path, plen) == 0 && msg[plen] == ':')
		util_errf(err, errlen, "%s", msg); /* from filter_sb_msgh */
	else
		util_errf(err, errlen, "%s: %s", path, msg); /* "error in error handling" and such */
	return FILTER_ERROR;
}

/* A Lua frame, for the message and its traceback. */
struct filter_frame {
	int line;
	int defined;
	const char *what;
	const char *name;
	const char *namewhat;
};

/* filter_sb_frames - the Lua (not C) frames on the stack, innermost first */
static int filter_sb_frames(lua_State *L, struct filter_frame *f, int max, bool *more)
{
	lua_Debug ar;
	int n = 0;

	*more = false;
	for (int level = 0; lua_getstack(L, level, &ar); level++) {
		if (!lua_getinfo(L, "Sln", &ar) || strcmp(ar.what, "C") == 0)
			continue;
		if (n == max) {
			*more = true;
			break;
		}
		f[n].line = ar.currentline;
		f[n].defined = ar.linedefined;
		f[n].what = ar.what;
		f[n].name = ar.name;
		f[n].namewhat = ar.namewhat;
		n++;
	}
	return n;
}

/*
 * filter_sb_addframe - " line 3 in function 'helper'". Lua has no name
 * for a function called from C; the outermost frame of a call is the
 * callback, whose name we know.
 */
static void filter_sb_addframe(luaL_Buffer *b, const struct filter_frame *f, const char *callback)
{
	char buf[256];

	if (strcmp(f->what, "main") == 0)
		snprintf(buf, sizeof(buf), "line %d in the main chunk", f->line);
	else if (f->name != NULL)
		snprintf(buf, sizeof(buf), "line %d in %s '%s'", f->line,
			 *f->namewhat == '\0' || strcmp(f->namewhat, "global") == 0 ? "function" : f->namewhat,
			 f->name);
	else if (callback != NULL)
		snprintf(buf, sizeof(buf), "line %d in function '%s'", f->line, callback);
	else
		snprintf(buf, sizeof(buf), "line %d in the function defined at line %d", f->line, f->defined);
	luaL_addstring(b, buf);
}

/*
 * filter_sb_msgh - the message handler of every call: the error becomes
 * "FILE:LINE: message" (the full path, where Lua abbreviates long ones,
 * and a position even for errors raised by C functions) and a second
 * line "traceback: ...". Budget and memory errors are left alone: they
 * are reported from the state's flags, and building a string could
 * fail anyway.
 */
int filter_sb_msgh(lua_State *L)
{
	struct filter_state *st = filter_sb_state(L);
	struct filter_frame f[FILTER_TRACE_FRAMES];
	bool more;
	const char *msg;

	if (st->budget_out || st->mem_failed)
		return 1;
	if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
		msg = lua_tostring(L, 1);
	else
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));

	int nf = filter_sb_frames(L, f, FILTER_TRACE_FRAMES, &more);
	long line = 0;
	const char *rest = msg;
	size_t sl = strlen(st->short_src);
	if (sl > 0 && strncmp(msg, st->short_src, sl) == 0 && msg[sl] == ':' &&
	    isdigit((unsigned char)msg[sl + 1])) {
		char *end;
		long n = strtol(msg + sl + 1, &end, 10);
		if (*end == ':') {
			line = n;
			rest = end + 1;
			if (*rest == ' ')
				rest++;
		}
	}
	if (line == 0 && nf > 0 && f[0].line > 0)
		line = f[0].line;

	luaL_Buffer b;
	char pos[64];
	luaL_buffinit(L, &b);
	luaL_addstring(&b, st->prog->path);
	if (line > 0) {
		snprintf(pos, sizeof(pos), ":%ld", line);
		luaL_addstring(&b, pos);
	}
	luaL_addstring(&b, ": ");
	luaL_addstring(&b, rest);
	if (nf > 0) {
		luaL_addstring(&b, "\ntraceback: ");
		for (int i = 0; i < nf; i++) {
			if (i > 0)
				luaL_addstring(&b, " < ");
			filter_sb_addframe(&b, &f[i], i == nf - 1 && !more ? st->call_name : NULL);
		}
		if (more)
			luaL_addstring(&b, " < ...");
	}
	luaL_pushresult(&b);
	return 1;
}
