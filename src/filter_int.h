/*
 * filter_int - what filter.c (compile, call, pool, --test) and
 * filter_sandbox.c (the lua_State: libraries, freeze, hook, allocator)
 * share. Not a public interface: only those two files include it.
 */
#ifndef KLAXON_FILTER_INT_H
#define KLAXON_FILTER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "filter.h"

struct filter_prog {
	char *path;
	char *code;                     /* bytecode from lua_dump, with debug info */
	size_t codelen;
	const struct filter_reg *funcs; /* the caller's table, or NULL */
	size_t mem_limit;
	unsigned long load_budget;
	unsigned time_limit_ms;
	unsigned defined;               /* bit i: filter_callback_names[i] is a function */
};

struct filter_state {
	lua_State *L;
	const struct filter_prog *prog;
	size_t mem_used;
	size_t mem_limit;
	bool budget_out;  /* the hook fired in this call: errors on every instruction now */
	bool mem_failed;  /* a memory error was raised in this call */
	bool tainted;     /* hit the memory cap once: the pool closes it */
	bool timed_out;   /* budget_out because of the time limit */
	unsigned long budget; /* instructions for this call */
	unsigned long left;   /* instructions left when the hook next fires */
	int step;             /* instructions between two firings of the hook */
	double deadline;      /* CLOCK_MONOTONIC seconds */
	int budget_line;      /* where the budget ran out, 0 if unknown */
	unsigned defined; /* as prog->defined, from this state's globals */
	void *call_arg;   /* filter_call()'s arg while a call runs */
	const char *call_name; /* the callback running, for the traceback */
	char short_src[LUA_IDSIZE]; /* how Lua abbreviates the chunk name in messages */
	struct filter_state *next;  /* pool's idle list */
};

int filter_sb_open(struct filter_state *st, char *err, size_t errlen);
void filter_sb_arm(struct filter_state *st, unsigned long budget);
int filter_sb_msgh(lua_State *L);
enum filter_status filter_sb_result(struct filter_state *st, int status, char *err, size_t errlen);
struct filter_state *filter_sb_state(lua_State *L);

#endif
