/*
 * filter - the Lua policy filter's sandbox: a filter file compiled once,
 * sandboxed Lua states made from it, a pool of states, and one call.
 *
 * SYNOPSIS
 *	static const struct filter_reg api[] = {
 *		{"action_bounce", l_action_bounce}, {NULL, NULL}};
 *	struct filter_opts opts = {.funcs = api, .mem_limit = 32u << 20};
 *	struct filter_prog *prog;
 *	if (filter_prog_compile("/etc/klaxon/filter.lua", &opts, &prog, err, sizeof err) == -1)
 *		... keep the old snapshot, log err ("FILE:LINE: message") ...
 *	if (filter_prog_defines(prog, "filter_sender")) ...
 *
 *	struct filter_pool *pool = filter_pool_new(prog, nworkers);
 *	struct filter_state *st;
 *	if (filter_pool_get(pool, &st, err, sizeof err) == -1) ... 4xx ...
 *	switch (filter_call(st, "filter_sender", push, pull, msgctx, budget, err, sizeof err)) ...
 *	filter_pool_put(pool, st);
 *	filter_pool_free(pool);
 *	filter_prog_free(prog);
 *
 *	return filter_test_main(argc - 1, argv + 1);	(klaxon filter --test FILE.lua)
 *
 * DESCRIPTION
 *	filter_prog_compile() reads a Lua source file, compiles it in text
 *	mode (a precompiled, binary chunk is refused: bytecode can crash the
 *	VM), and keeps the bytecode (lua_dump, with line information) in
 *	memory. It then runs the chunk once in a sandbox, as a pool state
 *	would, so that an error at load time is a compile error, and records
 *	which of filter_callback_names[] the filter defines as functions.
 *	A leading "#!" line is ignored, as lua(1) does.
 *
 *	A state (filter_state_new(), or the pool) is one lua_State with:
 *	  - only the base, string, table, math and utf8 libraries. Removed
 *	    from base: load, loadfile, dofile, print, warn, rawset (the one
 *	    way around read-only globals; rawget, rawequal, rawlen stay, they
 *	    only read). Removed from string: dump. Replaced: collectgarbage
 *	    (only "count"; "stop", "collect", ... raise an error), pcall and
 *	    xpcall (see below), setmetatable (refuses a metatable with a
 *	    __gc field: no finalizers, so no filter code runs inside the
 *	    collector or at lua_close). Not present at all: io, os, package,
 *	    require, debug, coroutine.
 *	  - the string metatable locked (getmetatable("") is false), so the
 *	    string table is reachable only as it is through globals;
 *	  - the functions of opts->funcs set as globals before the chunk runs;
 *	  - after the chunk has run (it may define its functions, tables and
 *	    locals freely), _G and the string, table, math and utf8 tables
 *	    are frozen: their contents move to a hidden table read through
 *	    __index, every store raises "FILE:LINE: attempt to set global 'x'"
 *	    (or "... read-only field 'string.x'"), the metatable is locked,
 *	    and pairs() still lists them. Tables a filter keeps in globals or
 *	    in locals of the chunk stay writable: that is the filter's own
 *	    state, and it lives as long as the Lua state (several messages).
 *	    Read-only globals catch accidents (a missing "local"); they do
 *	    not stop a filter from confusing itself (say, by assigning _ENV).
 *	    Nothing a filter does reaches beyond its own state.
 *	  - an instruction budget per call: a count hook raises "instruction
 *	    budget exhausted" after budget VM instructions, or once the call
 *	    has run opts->time_limit_ms of wall-clock time (checked every 256
 *	    instructions and at every allocation of 64 KiB or more: some
 *	    single instructions, such as a call with 100 000 values in "...",
 *	    or upper() of a large string, cost far more than others), and
 *	    from then on on every instruction. The sandbox's pcall and xpcall re-raise a
 *	    budget or memory error instead of returning it, and xpcall runs
 *	    its handler after unwinding (never inside the hook, where hooks
 *	    are off), so a filter can neither catch nor outlast either error.
 *	  - a memory cap (opts->mem_limit bytes, all of the state's memory)
 *	    enforced by the state's allocator. Lua first runs an emergency
 *	    collection; if that does not help, the allocation fails with a
 *	    memory error (unswallowable, as above).
 *	Time spent inside one library function (a pathological string.find
 *	pattern on a large string) cannot be interrupted: the clock is read
 *	between instructions. The memory cap bounds the size of such strings,
 *	and Lua bounds pattern recursion, not backtracking.
 *
 *	filter_call() calls the global function name: push() pushes its
 *	arguments (their number is what it pushed; use luaL_checkstack past
 *	20), and pull() reads the nres results, on top of the stack. Both run
 *	in protected mode and may raise Lua errors (luaL_error), which become
 *	FILTER_ERROR; either may be NULL. arg is given to both, and to the
 *	registered C functions through filter_call_arg(L) for the duration
 *	of the call (NULL at load time: a registered function that needs a
 *	message must raise an error then). A name that is not defined (nil)
 *	is FILTER_UNDEFINED; a defined non-function is an error. budget is in
 *	VM instructions (0: FILTER_BUDGET_DEFAULT). filter_state_used() tells
 *	how many the last call ran (to within the hook's step of 256), so a
 *	caller can spread one budget over several calls.
 *
 * OWNERSHIP
 *	filter_prog_compile() allocates the prog; filter_prog_free() frees it.
 *	The prog keeps opts->funcs by pointer (normally a static table): it
 *	must outlive the prog. States and pools keep the prog by pointer: it
 *	must outlive them (free the pool, then the prog, when the config
 *	snapshot goes). A state from filter_pool_get() goes back with
 *	filter_pool_put(), once, and every state must be back before
 *	filter_pool_free(). Strings pull() reads are Lua's: copy them.
 *
 * ERRORS
 *	Compile and state errors: -1, with err "FILE:LINE: message" (or
 *	"FILE: message" when there is no line: a missing file, memory).
 *	filter_call() returns:
 *	  FILTER_OK        the function ran; pull() has read its results;
 *	  FILTER_UNDEFINED the filter does not define name (not an error);
 *	  FILTER_ERROR     a Lua error (also from push/pull/registered C);
 *	  FILTER_BUDGET    the instruction budget or the time limit ran out;
 *	  FILTER_MEMORY    the memory cap was hit.
 *	For the last three err holds "FILE:LINE: message" on its first line
 *	and, for FILTER_ERROR when the filter's frames are known, a second
 *	line "traceback: line 3 in function 'helper' < line 9 in function
 *	<filter.lua:8>". Log the first line; the second helps the author.
 *	After any result the state is usable: its stack is emptied and, after
 *	an error, garbage is collected. A state that hit the memory cap is
 *	closed by filter_pool_put() instead of being kept (its filter may
 *	hold memory in its own tables, and a fresh state starts clean).
 *
 * THREAD SAFETY
 *	A compiled prog is immutable: any number of threads may make states
 *	from it. A state is used by one thread at a time. The pool is safe
 *	from any thread; filter_pool_get() blocks while max_states states are
 *	checked out (size the pool with the worker count). Does not log.
 */
#ifndef KLAXON_FILTER_H
#define KLAXON_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <lua.h>

#define FILTER_MEM_DEFAULT (32u << 20)         /* bytes per state */
#define FILTER_LOAD_BUDGET_DEFAULT 10000000UL  /* instructions for the chunk at load */
#define FILTER_BUDGET_DEFAULT 10000000UL       /* instructions per call */
#define FILTER_TIME_DEFAULT_MS 2000u           /* wall-clock milliseconds per call */
#define FILTER_SOURCE_MAX (8u << 20)           /* bytes of Lua source */

enum filter_status {
	FILTER_OK = 0,
	FILTER_UNDEFINED,
	FILTER_ERROR,
	FILTER_BUDGET,
	FILTER_MEMORY,
};

/* A C function made a global of every state, before the chunk runs. */
struct filter_reg {
	const char *name;
	lua_CFunction fn;
};

struct filter_opts {
	const struct filter_reg *funcs; /* ends with {NULL, NULL}; NULL: none */
	size_t mem_limit;               /* 0: FILTER_MEM_DEFAULT */
	unsigned long load_budget;      /* 0: FILTER_LOAD_BUDGET_DEFAULT */
	unsigned time_limit_ms;         /* per call and at load; 0: FILTER_TIME_DEFAULT_MS */
};

typedef void (*filter_push_fn)(lua_State *L, void *arg);
typedef void (*filter_pull_fn)(lua_State *L, int nres, void *arg);

struct filter_prog;
struct filter_state;
struct filter_pool;

/* MIMEDefang's callbacks, in the order a message meets them; NULL-terminated. */
extern const char *const filter_callback_names[];

int filter_prog_compile(const char *path, const struct filter_opts *opts, struct filter_prog **out,
			char *err, size_t errlen);
bool filter_prog_defines(const struct filter_prog *prog, const char *name);
const char *filter_prog_path(const struct filter_prog *prog);
void filter_prog_free(struct filter_prog *prog);

int filter_state_new(const struct filter_prog *prog, struct filter_state **out, char *err, size_t errlen);
size_t filter_state_memory(const struct filter_state *st);
void filter_state_free(struct filter_state *st);

enum filter_status filter_call(struct filter_state *st, const char *name, filter_push_fn push,
			       filter_pull_fn pull, void *arg, unsigned long budget, char *err,
			       size_t errlen);
void *filter_call_arg(lua_State *L);
unsigned long filter_state_used(const struct filter_state *st); /* last call, +- 256 */
const char *filter_status_name(enum filter_status s);

struct filter_pool *filter_pool_new(const struct filter_prog *prog, unsigned max_states);
int filter_pool_get(struct filter_pool *pool, struct filter_state **out, char *err, size_t errlen);
void filter_pool_put(struct filter_pool *pool, struct filter_state *st);
void filter_pool_free(struct filter_pool *pool);

/*
 * `klaxon filter --test FILE.lua...`, argv[0] being "filter". Prints
 * "FILE: syntax OK" and the callbacks FILE defines on out, or the error
 * on errout. Exit status 0, 1 on an error, 2 on a usage error.
 * filter_test_run() takes the opts the daemon uses (its C functions).
 */
int filter_test_run(int argc, char **argv, const struct filter_opts *opts, FILE *out, FILE *errout);
int filter_test_main(int argc, char **argv);

#endif
