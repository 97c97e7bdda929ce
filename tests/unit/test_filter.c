/*
 * test_filter - the Lua filter sandbox (src/filter.h is the spec): compile
 * errors, refused binary chunks, refused escapes, read-only globals, the
 * instruction budget and the memory cap (neither catchable), the pool
 * under threads, and `klaxon filter --test`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "filter.h"
#include "unit_fs.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TEST_BUDGET 1000000UL  /* instructions: some milliseconds */
#define TEST_MEM (8u << 20)    /* bytes per state in these tests */
#define TEST_TIME_MS 300u      /* per call */

static char tdir[64]; /* /tmp/klaxon-unit-XXXXXX */
static unsigned tseq;

/* tfile - write text to a fresh file in the test directory; returns its path (static) */
static const char *tfile(const char *text, size_t len)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/f%u.lua", tdir, tseq++);
	if (ufs_write(path, text, len) != 0)
		fail_msg("cannot write %s", path);
	return path;
}

/* tcompile_ms - compile text that must compile, with this time limit per call */
static struct filter_prog *tcompile_ms(const char *text, unsigned ms)
{
	struct filter_prog *prog = NULL;
	struct filter_opts opts = {.mem_limit = TEST_MEM, .time_limit_ms = ms};
	char err[1024] = "";
	const char *path = tfile(text, strlen(text));

	if (filter_prog_compile(path, &opts, &prog, err, sizeof(err)) != 0)
		fail_msg("compile failed: %s\n--- source:\n%s", err, text);
	return prog;
}

/* tcompile - compile text that must compile; the time limit is wide, so the budget decides */
static struct filter_prog *tcompile(const char *text)
{
	return tcompile_ms(text, 10000);
}

/* tstate - a state from a compiled prog */
static struct filter_state *tstate(const struct filter_prog *prog)
{
	struct filter_state *st = NULL;
	char err[1024] = "";

	if (filter_state_new(prog, &st, err, sizeof(err)) != 0)
		fail_msg("state: %s", err);
	return st;
}

/* The first result of a call, as text. */
struct tres {
	char text[512];
	int n;
};

static void tpull(lua_State *L, int nres, void *arg)
{
	struct tres *r = arg;

	r->n = nres;
	if (nres == 0) {
		snprintf(r->text, sizeof(r->text), "(none)");
		return;
	}
	int i = lua_gettop(L) - nres + 1;
	if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER)
		snprintf(r->text, sizeof(r->text), "%s", lua_tostring(L, i));
	else if (lua_type(L, i) == LUA_TBOOLEAN)
		snprintf(r->text, sizeof(r->text), "%s", lua_toboolean(L, i) ? "true" : "false");
	else
		snprintf(r->text, sizeof(r->text), "(%s)", luaL_typename(L, i));
}

/* tcall - call name with no arguments; the first result lands in r */
static enum filter_status tcall(struct filter_state *st, const char *name, struct tres *r, char *err,
				size_t errlen)
{
	memset(r, 0, sizeof(*r));
	err[0] = '\0';
	return filter_call(st, name, NULL, tpull, r, TEST_BUDGET, err, errlen);
}

/* tassert_ok - the state still runs a trivial callback ("alive", defined by every test filter) */
static void tassert_alive(struct filter_state *st, const char *after)
{
	struct tres r;
	char err[1024];
	enum filter_status s = tcall(st, "alive", &r, err, sizeof(err));

	if (s != FILTER_OK || strcmp(r.text, "yes") != 0)
		fail_msg("after %s: state not usable: %s %s %s", after, filter_status_name(s), r.text, err);
}

#define ALIVE "function alive() return 'yes' end\n"

static double tnow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup_dir(void **state)
{
	(void)state;
	ufs_tmpdir(tdir, sizeof(tdir));
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	ufs_rm_rf(tdir);
	return 0;
}

/* Sources that do not compile or fail at load: the line, and a piece of the message. */
static const struct {
	const char *src;
	int line;
	const char *want;
} compile_bad[] = {
	{"x = = 1\n", 1, "unexpected symbol near '='"},
	{"local a = 1\n\nfunction f(\n", 4, "<eof>"},
	{"function filter_begin()\n  return 1 +\nend\n", 3, "unexpected symbol near 'end'"},
	{"local s = 'abc\n", 1, "unfinished string"},
	{"goto nowhere\n", 2, "no visible label 'nowhere'"},
	{"local x <const> = 1\nx = 2\n", 2, "attempt to assign to const variable 'x'"},
	/* compiles, but the chunk fails when it runs */
	{"local a = 1\nerror('boom')\n", 2, "boom"},
	{"\n\nos.execute('true')\n", 3, "attempt to index a nil value (global 'os')"},
	{"local f = io.open('/etc/passwd')\n", 1, "global 'io'"},
	{"require('os')\n", 1, "global 'require'"},
	{"string.rep()\n", 1, "bad argument #1 to 'rep'"},
	{"while true do end\n", 1, "instruction budget"},
	{"local t = {} while true do t[#t+1] = string.rep('x', 1e6) end\n", 0, "memory limit"},
};

/* test_compile_errors - every error names FILE:LINE (FILE alone when there is no line) */
static void test_compile_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(compile_bad); i++) {
		struct filter_prog *prog = NULL;
		struct filter_opts opts = {.mem_limit = TEST_MEM, .load_budget = TEST_BUDGET};
		char err[1024] = "", want[256];
		const char *path = tfile(compile_bad[i].src, strlen(compile_bad[i].src));

		if (filter_prog_compile(path, &opts, &prog, err, sizeof(err)) != -1)
			fail_msg("row %zu compiled: %s", i, compile_bad[i].src);
		assert_null(prog);
		if (compile_bad[i].line > 0)
			snprintf(want, sizeof(want), "%s:%d: ", path, compile_bad[i].line);
		else
			snprintf(want, sizeof(want), "%s: ", path);
		if (strncmp(err, want, strlen(want)) != 0 || strstr(err, compile_bad[i].want) == NULL)
			fail_msg("row %zu: error \"%s\", want prefix \"%s\" and \"%s\"", i, err, want,
				 compile_bad[i].want);
	}
}

/* test_compile_paths - a missing file, a directory, and a path longer than Lua's LUA_IDSIZE */
static void test_compile_paths(void **state)
{
	(void)state;
	struct filter_prog *prog = NULL;
	char err[1024], path[256], want[512];

	snprintf(path, sizeof(path), "%s/missing.lua", tdir);
	assert_int_equal(filter_prog_compile(path, NULL, &prog, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: open: No such file", path);
	assert_non_null(strstr(err, want));

	assert_int_equal(filter_prog_compile(tdir, NULL, &prog, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));

	/* Lua shortens a chunk name past 59 bytes to "...tail"; klaxon says the whole path */
	snprintf(path, sizeof(path), "%s/a-directory-name-long-enough-to-be-abbreviated-by-lua", tdir);
	assert_int_equal(mkdir(path, 0700), 0);
	strcat(path, "/filter.lua");
	const char *rt = "local x = 1\nfunction filter_begin()\n  local y = nil\n  return y.z\nend\n" ALIVE;
	assert_int_equal(ufs_write(path, rt, strlen(rt)), 0);
	struct filter_opts opts = {.mem_limit = TEST_MEM};
	assert_int_equal(filter_prog_compile(path, &opts, &prog, err, sizeof(err)), 0);
	struct filter_state *st = tstate(prog);
	struct tres r;
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_ERROR);
	snprintf(want, sizeof(want), "%s:4: attempt to index a nil value (local 'y')", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("runtime error \"%s\", want \"%s\"", err, want);
	filter_state_free(st);
	filter_prog_free(prog);

	const char *syn = "\n\nlocal = 1\n";
	assert_int_equal(ufs_write(path, syn, strlen(syn)), 0);
	assert_int_equal(filter_prog_compile(path, NULL, &prog, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("syntax error \"%s\", want prefix \"%s\"", err, want);
}

/* twriter - lua_Writer into a tres buffer (small chunks only) */
static int twriter(lua_State *L, const void *p, size_t sz, void *ud)
{
	struct tres *b = ud;
	(void)L;
	if (sz > sizeof(b->text) - (size_t)b->n)
		return 1;
	memcpy(b->text + b->n, p, sz);
	b->n += (int)sz;
	return 0;
}

/* test_binary_refused - luac output, bare or behind a "#!" line, never loads */
static void test_binary_refused(void **state)
{
	(void)state;
	lua_State *L = luaL_newstate();
	struct tres bin = {0};
	assert_int_equal(luaL_loadstring(L, "function filter_begin() return 'x' end"), LUA_OK);
	assert_int_equal(lua_dump(L, twriter, &bin, 1), 0);
	lua_close(L);
	assert_true(bin.n > 4);

	struct filter_prog *prog = NULL;
	char err[1024];
	const char *path = tfile(bin.text, (size_t)bin.n);
	assert_int_equal(filter_prog_compile(path, NULL, &prog, err, sizeof(err)), -1);
	assert_null(prog);
	assert_non_null(strstr(err, "binary"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);

	char withbang[600];
	int hl = snprintf(withbang, sizeof(withbang), "#!/usr/bin/lua\n");
	memcpy(withbang + hl, bin.text, (size_t)bin.n);
	path = tfile(withbang, (size_t)hl + (size_t)bin.n);
	assert_int_equal(filter_prog_compile(path, NULL, &prog, err, sizeof(err)), -1);
	assert_null(prog);

	/* a "#!" line on source is fine, and line numbers still count it */
	const char *bang = "#!/usr/bin/env lua\nfunction filter_begin()\n  error('two')\nend\n";
	prog = tcompile(bang);
	struct filter_state *st = tstate(prog);
	struct tres r;
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_ERROR);
	assert_non_null(strstr(err, ".lua:3: two"));
	filter_state_free(st);
	filter_prog_free(prog);
}

/*
 * Escapes: each body runs as filter_begin and must fail with an error
 * containing want. Each must fail inside pcall too (second pass).
 */
static const struct {
	const char *body;
	const char *want;
} escapes[] = {
	{"os.execute('touch /tmp/klaxon-pwned')", "global 'os'"},
	{"io.open('/etc/passwd')", "global 'io'"},
	{"require('os')", "global 'require'"},
	{"load('return 1')()", "global 'load'"},
	{"loadstring('return 1')()", "global 'loadstring'"},
	{"dofile('/etc/passwd')", "global 'dofile'"},
	{"loadfile('/etc/passwd')", "global 'loadfile'"},
	{"string.dump(alive)", "field 'dump'"},
	{"return ('').dump(alive)", "field 'dump'"},
	{"return (''):dump()", "method 'dump'"},
	{"return getmetatable('').__index.dump(alive)", "index a boolean value"},
	{"setmetatable(getmetatable(''), nil)", "bad argument #1 to 'setmetatable'"},
	{"rawset(_G, 'os', {})", "global 'rawset'"},
	{"debug.getregistry()", "global 'debug'"},
	{"debug.sethook()", "global 'debug'"},
	{"return package.loaded.os", "global 'package'"},
	{"collectgarbage('stop')", "collectgarbage(\"stop\") is not allowed"},
	{"collectgarbage()", "collectgarbage(\"collect\") is not allowed"},
	{"coroutine.wrap(alive)()", "global 'coroutine'"},
	{"print('x')", "global 'print'"},
	{"setmetatable({}, {__gc = function() end})", "__gc is not allowed"},
	{"setmetatable({}, {__gc = false})", "__gc is not allowed"},
	{"setmetatable(_G, nil)", "cannot change a protected metatable"},
	{"setmetatable(string, {})", "cannot change a protected metatable"},
	{"local f, t = pairs(_G) f(t, nil) t.os = 1", "attempt to set global 'os'"},
	{"getmetatable(_G).__newindex = nil", "index a boolean value"},
	/* the freeze: new and existing globals, through every door */
	{"x = 1", "attempt to set global 'x'"},
	{"_G.x = 1", "attempt to set global 'x'"},
	{"filter_begin = nil", "attempt to set global 'filter_begin'"},
	{"alive = function() return 'no' end", "attempt to set global 'alive'"},
	{"_G[1] = true", "attempt to set a global (with a number key)"},
	{"table.insert(_G, 1)", "attempt to set a global"},
	{"string.rep = nil", "attempt to set read-only field 'string.rep'"},
	{"string.dump = function() end", "attempt to set read-only field 'string.dump'"},
	{"math.floor = nil", "read-only field 'math.floor'"},
	{"table.concat = nil", "read-only field 'table.concat'"},
	{"utf8.char = nil", "read-only field 'utf8.char'"},
	{"pcall = nil", "attempt to set global 'pcall'"},
};

/* test_escapes - refused, with FILE:LINE, caught or not; the state survives each */
static void test_escapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(escapes); i++) {
		for (int wrapped = 0; wrapped < 2; wrapped++) {
			char src[1024], err[1024];
			if (wrapped)
				snprintf(src, sizeof(src),
					 ALIVE "function filter_begin()\n"
					       "  local ok, e = pcall(function() %s end)\n"
					       "  if ok then return 'escaped' end\n"
					       "  return e\n"
					       "end\n",
					 escapes[i].body);
			else
				snprintf(src, sizeof(src), ALIVE "function filter_begin()\n  %s\nend\n",
					 escapes[i].body);
			struct filter_prog *prog = tcompile(src);
			struct filter_state *st = tstate(prog);
			struct tres r;
			enum filter_status s = tcall(st, "filter_begin", &r, err, sizeof(err));
			if (wrapped) {
				/* caught by the filter: refused all the same */
				if (s != FILTER_OK || strstr(r.text, escapes[i].want) == NULL)
					fail_msg("row %zu in pcall: %s \"%s\" \"%s\", want \"%s\"", i,
						 filter_status_name(s), r.text, err, escapes[i].want);
			} else {
				const char *line = strstr(err, ".lua:3: ");
				if (s != FILTER_ERROR || strstr(err, escapes[i].want) == NULL || line == NULL ||
				    strncmp(err, filter_prog_path(prog), strlen(filter_prog_path(prog))) != 0)
					fail_msg("row %zu: %s \"%s\", want FILE:3: and \"%s\"", i,
						 filter_status_name(s), err, escapes[i].want);
			}
			tassert_alive(st, escapes[i].body);
			filter_state_free(st);
			filter_prog_free(prog);
		}
	}
	assert_int_equal(access("/tmp/klaxon-pwned", F_OK), -1);
}

/* What the sandbox does allow: each body returns a value, compared as text. */
static const struct {
	const char *body;
	const char *want;
} allowed[] = {
	{"return type(os)", "nil"},
	{"return type(rawset)", "nil"},
	{"return type(string.dump)", "nil"},
	{"return getmetatable('')", "false"},
	{"return getmetatable(_G)", "false"},
	{"return type(rawget(_G, 'os'))", "nil"},
	{"return type(next(_G))", "nil"},
	{"return tostring(rawequal(_G, _G))", "true"},
	{"return type(collectgarbage('count'))", "number"},
	{"return ('ab'):rep(3)", "ababab"},
	{"return ('%d-%s'):format(7, 'x')", "7-x"},
	{"return string.upper('abc') .. math.floor(2.5) .. utf8.char(72) .. #table.concat({1, 2})", "ABC2H2"},
	{"return limit + #banned", "7"},
	{"banned[#banned + 1] = 'scr' return #banned", "3"}, /* the filter's own tables are its own */
	{"local n = 0 for k in pairs(_G) do if k == 'string' or k == 'alive' then n = n + 1 end end return n",
	 "2"},
	{"local n = 0 for k in pairs(string) do if k == 'rep' then n = n + 1 end end return n", "1"},
	{"return select(2, pcall(error, 'plain', 0))", "plain"},
	{"return select(2, pcall(error, {}))", "(table)"},
	{"return select(2, xpcall(function() error('e', 0) end, function(m) return 'h:' .. m end))", "h:e"},
	{"return select('#', xpcall(function(a, b) return a, b, 3 end, tostring, 1, 2))", "4"},
	{"local t = setmetatable({}, {__index = function() return 5 end}) return t.x", "5"},
	{"local x <close> = setmetatable({}, {__close = function() end}) return 'closed'", "closed"},
	{"return _VERSION", "Lua 5.4"},
};

/* test_allowed - the parts of the language a filter keeps */
static void test_allowed(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(allowed); i++) {
		char src[1024], err[1024];
		snprintf(src, sizeof(src),
			 ALIVE "limit = 5\nbanned = {'exe', 'pif'}\nfunction filter_begin()\n  %s\nend\n",
			 allowed[i].body);
		struct filter_prog *prog = tcompile(src);
		struct filter_state *st = tstate(prog);
		struct tres r;
		enum filter_status s = tcall(st, "filter_begin", &r, err, sizeof(err));
		if (s != FILTER_OK || strcmp(r.text, allowed[i].want) != 0)
			fail_msg("row %zu: %s: %s \"%s\", want \"%s\"", i, allowed[i].body, filter_status_name(s),
				 s == FILTER_OK ? r.text : err, allowed[i].want);
		filter_state_free(st);
		filter_prog_free(prog);
	}
}

/* Runaway code: each body must end in FILTER_BUDGET, fast, and leave a usable state. */
static const char *const runaway[] = {
	"while true do end",
	"while true do pcall(function() while true do end end) end",
	"local f = function() while true do end end while true do pcall(f) end",
	"while true do pcall(pcall, function() while true do end end) end",
	"while true do xpcall(function() while true do end end, function() while true do end end) end",
	"while true do xpcall(function() error('x') end, function() while true do end end) end",
	"local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end",
	"while true do local ok = pcall(string.rep, 'x', 10) end",
	"local function f() return f() end return f()", /* a proper tail call: no stack growth */
	"for i = 1, 1e12 do local s = tostring(i) end",
	"table.sort({3, 2, 1, 5, 4}, function(a, b) while true do end end)",
	"local s = ('x'):rep(100) s:gsub('x', function() while true do end end)",
	"local t = setmetatable({}, {__index = function(t, k) while true do end end}) return t.x",
	"::top:: goto top",
	"local function f() pcall(f) end while true do f() end", /* C stack overflows, caught, again */
	"local t = setmetatable({}, {__index = function(t, k) return t[k] end}) while true do pcall(function() return t.x end) end",
};

/* Deep recursion: a plain error (stack overflow) or the memory cap, never a crash. */
static const char *const deep[] = {
	"local function f() return 1 + f() end return f()",
	"local function f() return pcall(f) end return f()",
	"local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
	"return string.rep('(', 1000)",
	"local t = {} t.__index = t setmetatable(t, t) return t.x",
	"return table.unpack({}, 1, 1e8)",
	"return select('#', table.unpack({}, 1, 1e6))",
	"return string.format('%099999d', 1)",
	"return ('x'):rep(1e6):find(('x?'):rep(1e5))",
};

/* test_deep - stack and C-stack exhaustion are ordinary errors; the state survives */
static void test_deep(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(deep); i++) {
		char src[1024], err[1024];
		snprintf(src, sizeof(src), ALIVE "function filter_begin()\n  %s\nend\n", deep[i]);
		struct filter_prog *prog = tcompile(src);
		struct filter_state *st = tstate(prog);
		struct tres r;
		enum filter_status s = tcall(st, "filter_begin", &r, err, sizeof(err));
		if (s == FILTER_UNDEFINED)
			fail_msg("row %zu: %s: undefined?", i, deep[i]);
		tassert_alive(st, deep[i]);
		filter_state_free(st);
		filter_prog_free(prog);
	}
}

/* test_budget - the instruction budget ends loops the filter tries to catch */
static void test_budget(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(runaway); i++) {
		char src[1024], err[1024];
		snprintf(src, sizeof(src), ALIVE "function filter_begin()\n  %s\nend\n", runaway[i]);
		struct filter_prog *prog = tcompile(src);
		struct filter_state *st = tstate(prog);
		struct tres r;
		double t0 = tnow();
		enum filter_status s = tcall(st, "filter_begin", &r, err, sizeof(err));
		double dt = tnow() - t0;
		if (s != FILTER_BUDGET || strstr(err, "instruction budget of 1000000 exhausted") == NULL ||
		    strncmp(err, filter_prog_path(prog), strlen(filter_prog_path(prog))) != 0)
			fail_msg("row %zu: %s: %s \"%s\"", i, runaway[i], filter_status_name(s), err);
		if (dt >= 1.0)
			fail_msg("row %zu: %s: took %.2f s", i, runaway[i], dt);
		tassert_alive(st, runaway[i]);
		/* the next call has a fresh budget */
		s = tcall(st, "filter_begin", &r, err, sizeof(err));
		assert_int_equal(s, FILTER_BUDGET);
		tassert_alive(st, runaway[i]);
		filter_state_free(st);
		filter_prog_free(prog);
	}
}

/* Cheap in instructions, dear in time: the clock stops them. */
static const char *const slow[] = {
	"local s = ('x'):rep(2e6) while true do local u = s:upper() end",
	"local function f(...) return f(1, ...) end return f()",
	"local t = {} for i = 1, 1e5 do t[i] = i end while true do local n = select('#', table.unpack(t)) end",
	"local s = ('x'):rep(1e6) while true do pcall(string.rep, s, 2) end",
};

/* test_time_limit - FILTER_BUDGET once the call has used its time, whatever the instruction count */
static void test_time_limit(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(slow); i++) {
		char src[1024], err[1024];
		snprintf(src, sizeof(src), ALIVE "function filter_begin()\n  %s\nend\n", slow[i]);
		struct filter_prog *prog = tcompile_ms(src, TEST_TIME_MS);
		struct filter_state *st = tstate(prog);
		struct tres r;
		double t0 = tnow();
		enum filter_status s = filter_call(st, "filter_begin", NULL, tpull, &r, 1000000000000UL, err, sizeof(err));
		double dt = tnow() - t0;
		if (s != FILTER_BUDGET || strstr(err, ".lua:3: time limit of 300 ms exhausted") == NULL)
			fail_msg("row %zu: %s: %s \"%s\"", i, slow[i], filter_status_name(s), err);
		if (dt >= 1.0)
			fail_msg("row %zu: %s: took %.2f s", i, slow[i], dt);
		tassert_alive(st, slow[i]);
		filter_state_free(st);
		filter_prog_free(prog);
	}
}

/* test_budget_line - the error names the line where the budget ran out */
static void test_budget_line(void **state)
{
	(void)state;
	struct filter_prog *prog = tcompile(ALIVE "function filter_begin()\n"
						  "  local n = 0\n"
						  "  while true do\n"
						  "    n = n + 1\n"
						  "  end\n"
						  "end\n");
	struct filter_state *st = tstate(prog);
	struct tres r;
	char err[1024];
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_BUDGET);
	if (strstr(err, ".lua:4:") == NULL && strstr(err, ".lua:5:") == NULL && strstr(err, ".lua:6:") == NULL)
		fail_msg("no loop line in \"%s\"", err);
	/* a big budget really is bigger: this loop of 10 000 steps fits in 1e6, not in 1e3 */
	filter_state_free(st);
	filter_prog_free(prog);

	prog = tcompile(ALIVE "function filter_begin() local n = 0 for i = 1, 10000 do n = n + i end return n end\n");
	st = tstate(prog);
	memset(&r, 0, sizeof(r));
	assert_int_equal(filter_call(st, "filter_begin", NULL, tpull, &r, 1000, err, sizeof(err)), FILTER_BUDGET);
	assert_int_equal(filter_call(st, "filter_begin", NULL, tpull, &r, 1000000, err, sizeof(err)), FILTER_OK);
	assert_string_equal(r.text, "50005000");
	filter_state_free(st);
	filter_prog_free(prog);
}

/* Memory bombs: each must end in FILTER_MEMORY, with the state under its cap and usable after. */
static const char *const bombs[] = {
	"local t = {} while true do t[#t+1] = string.rep('x', 1e6) end",
	"while true do pcall(function() local t = {} while true do t[#t+1] = string.rep('x', 1e6) end end) end",
	"local t = {} local f = function() t[#t+1] = string.rep('x', 1e6) end while true do pcall(f) end",
	"return string.rep('x', 1e9)",
	"while true do pcall(string.rep, 'x', 1e9) end",
	"local t = {} for i = 1, 1e9 do t[i] = i end",
	"local s = 'x' while true do s = s .. s end",
	"local t = {} while true do xpcall(function() t[#t+1] = ('y'):rep(1e6) end, function() end) end",
};

/* test_memory - the memory cap holds and cannot be caught */
static void test_memory(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(bombs); i++) {
		char src[1024], err[1024];
		snprintf(src, sizeof(src), ALIVE "function filter_begin()\n  %s\nend\n", bombs[i]);
		struct filter_prog *prog = tcompile(src);
		struct filter_state *st = tstate(prog);
		struct tres r;
		double t0 = tnow();
		enum filter_status s = filter_call(st, "filter_begin", NULL, tpull, &r, 100000000UL, err, sizeof(err));
		double dt = tnow() - t0;
		if (s != FILTER_MEMORY || strstr(err, "memory limit of 8388608 bytes exceeded") == NULL)
			fail_msg("row %zu: %s: %s \"%s\"", i, bombs[i], filter_status_name(s), err);
		if (dt >= 2.0)
			fail_msg("row %zu: %s: took %.2f s", i, bombs[i], dt);
		assert_true(filter_state_memory(st) <= TEST_MEM);
		tassert_alive(st, bombs[i]);
		assert_true(filter_state_memory(st) < TEST_MEM / 4); /* the garbage is gone */
		filter_state_free(st);
		filter_prog_free(prog);
	}
}

/* test_memory_near_cap - garbage near the cap is collected, not a failure */
static void test_memory_near_cap(void **state)
{
	(void)state;
	struct filter_prog *prog = tcompile(ALIVE "function filter_begin()\n"
						  "  for i = 1, 60 do local s = string.rep('z', 1e6 + i) end\n"
						  "  return 'fine'\n"
						  "end\n");
	struct filter_state *st = tstate(prog);
	struct tres r;
	char err[1024];
	assert_int_equal(filter_call(st, "filter_begin", NULL, tpull, &r, 100000000UL, err, sizeof(err)), FILTER_OK);
	assert_string_equal(r.text, "fine");
	filter_state_free(st);
	filter_prog_free(prog);
}

/* test_undefined - a missing callback is not an error; a non-function is */
static void test_undefined(void **state)
{
	(void)state;
	struct filter_prog *prog = tcompile(ALIVE "filter_relay = 5\nfunction filter_end() end\n");
	struct filter_state *st = tstate(prog);
	struct tres r;
	char err[1024];

	assert_int_equal(tcall(st, "filter_sender", &r, err, sizeof(err)), FILTER_UNDEFINED);
	assert_int_equal(tcall(st, "filter_relay", &r, err, sizeof(err)), FILTER_ERROR);
	assert_non_null(strstr(err, "global 'filter_relay' is a number, not a function"));
	assert_int_equal(tcall(st, "filter_end", &r, err, sizeof(err)), FILTER_OK);
	assert_int_equal(r.n, 0);
	assert_false(filter_prog_defines(prog, "filter_relay"));
	assert_true(filter_prog_defines(prog, "filter_end"));
	assert_false(filter_prog_defines(prog, "alive"));
	filter_state_free(st);
	filter_prog_free(prog);
}

/* A message context, as the lead's actions will have one. */
struct tmsg {
	const char *sender;
	char bounced[128];
	int pulled;
};

static void tpush_sender(lua_State *L, void *arg)
{
	struct tmsg *m = arg;
	lua_pushstring(L, m->sender);
	lua_pushinteger(L, 42);
}

static void tpull_code(lua_State *L, int nres, void *arg)
{
	struct tmsg *m = arg;
	if (nres != 2)
		luaL_error(L, "filter_sender must return 2 values, not %d", nres);
	m->pulled = (int)luaL_checkinteger(L, -2);
	if (m->pulled < 400 || m->pulled > 599)
		luaL_error(L, "filter_sender returned code %d, not 4xx or 5xx", m->pulled);
}

/* l_action_bounce - a registered C function that reaches the call's context */
static int l_action_bounce(lua_State *L)
{
	struct tmsg *m = filter_call_arg(L);
	const char *text = luaL_checkstring(L, 1);
	if (m == NULL)
		return luaL_error(L, "action_bounce: no message at load time");
	snprintf(m->bounced, sizeof(m->bounced), "%s", text);
	return 0;
}

/* test_push_pull_register - arguments in, results out, C functions with the call's context */
static void test_push_pull_register(void **state)
{
	(void)state;
	static const struct filter_reg api[] = {{"action_bounce", l_action_bounce}, {NULL, NULL}};
	struct filter_opts opts = {.funcs = api, .mem_limit = TEST_MEM};
	const char *src = ALIVE "function filter_sender(s, n)\n"
				"  if s == 'bad@example.com' then action_bounce('no ' .. s) return 550, n end\n"
				"  return 250, n\n"
				"end\n"
				"function filter_end() action_bounce = nil end\n";
	const char *path = tfile(src, strlen(src));
	struct filter_prog *prog = NULL;
	char err[1024];
	assert_int_equal(filter_prog_compile(path, &opts, &prog, err, sizeof(err)), 0);
	struct filter_state *st = tstate(prog);

	struct tmsg m = {.sender = "bad@example.com"};
	assert_int_equal(filter_call(st, "filter_sender", tpush_sender, tpull_code, &m, 0, err, sizeof(err)),
			 FILTER_OK);
	assert_string_equal(m.bounced, "no bad@example.com");
	assert_int_equal(m.pulled, 550);

	struct tmsg ok = {.sender = "good@example.com"};
	assert_int_equal(filter_call(st, "filter_sender", tpush_sender, tpull_code, &ok, 0, err, sizeof(err)),
			 FILTER_ERROR);
	assert_non_null(strstr(err, "returned code 250, not 4xx or 5xx"));
	assert_string_equal(ok.bounced, "");

	/* registered functions are frozen like the rest */
	assert_int_equal(filter_call(st, "filter_end", NULL, NULL, &m, 0, err, sizeof(err)), FILTER_ERROR);
	assert_non_null(strstr(err, "attempt to set global 'action_bounce'"));
	filter_state_free(st);
	filter_prog_free(prog);

	/* at load time there is no message */
	src = "action_bounce('early')\n";
	path = tfile(src, strlen(src));
	assert_int_equal(filter_prog_compile(path, &opts, &prog, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".lua:1: action_bounce: no message at load time"));
}

/* Error messages: the first line FILE:LINE: message, then a traceback line. */
static const struct {
	const char *body;
	const char *first; /* after FILE */
	const char *trace; /* NULL: no check */
} errors[] = {
	{"inner()", ":2: boom\ntraceback: line 2 in function 'inner' < line 5 in function 'filter_begin'", NULL},
	{"error('no position', 0)", ":5: no position\n", "traceback: line 5 in"},
	{"error({})", ":5: (error object is a table value)\n", NULL},
	{"string.rep()", ":5: bad argument #1 to 'rep'", NULL},
	{"local t = nil; return t.x", ":5: attempt to index a nil value (local 't')", NULL},
	{"error('level two', 2)", ":5: level two", NULL},
	{"helper()", ":3: attempt to call a nil value (global 'nothing')", "line 3 in upvalue 'helper' < line 5 in function 'filter_begin'"},
};

/* test_error_messages - positions for Lua and C errors, and the traceback */
static void test_error_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(errors); i++) {
		char src[1024], err[1024], want[512];
		snprintf(src, sizeof(src),
			 "function inner()\n  error('boom')\n  local function helper() nothing() end\nend\n"
			 "function filter_begin() %s end\n" ALIVE,
			 errors[i].body);
		if (strcmp(errors[i].body, "helper()") == 0)
			snprintf(src, sizeof(src),
				 "\n\nlocal function helper() nothing() end\n\nfunction filter_begin() %s end\n" ALIVE,
				 errors[i].body);
		struct filter_prog *prog = tcompile(src);
		struct filter_state *st = tstate(prog);
		struct tres r;
		assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_ERROR);
		snprintf(want, sizeof(want), "%s%s", filter_prog_path(prog), errors[i].first);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("row %zu: \"%s\"\nwant prefix \"%s\"", i, err, want);
		if (errors[i].trace != NULL && strstr(err, errors[i].trace) == NULL)
			fail_msg("row %zu: \"%s\"\nwant \"%s\"", i, err, errors[i].trace);
		filter_state_free(st);
		filter_prog_free(prog);
	}
}

/* Threads: each checks a state out, and counts in it. */
#define TTHREADS 4
#define TCALLS 200

struct tthread {
	struct filter_pool *pool;
	pthread_barrier_t *barrier;
	struct filter_state *st;
	int failures;
	char err[2048];
};

static void *tworker(void *arg)
{
	struct tthread *t = arg;

	if (filter_pool_get(t->pool, &t->st, t->err, sizeof(t->err)) != 0) {
		t->failures++;
		pthread_barrier_wait(t->barrier);
		pthread_barrier_wait(t->barrier);
		return NULL;
	}
	pthread_barrier_wait(t->barrier); /* all four are out at once: they must be distinct */
	for (int i = 1; i <= TCALLS; i++) {
		struct tres r;
		char err[1024];
		enum filter_status s = tcall(t->st, "filter_begin", &r, err, sizeof(err));
		char want[32];
		snprintf(want, sizeof(want), "%d", i);
		if (s != FILTER_OK || strcmp(r.text, want) != 0) {
			snprintf(t->err, sizeof(t->err), "call %d: %s %s %s", i, filter_status_name(s), r.text, err);
			t->failures++;
			break;
		}
	}
	pthread_barrier_wait(t->barrier);
	filter_pool_put(t->pool, t->st);
	return NULL;
}

/* test_pool_threads - distinct states for concurrent threads, each counting on its own */
static void test_pool_threads(void **state)
{
	(void)state;
	struct filter_prog *prog = tcompile(ALIVE "local n = 0\nfunction filter_begin() n = n + 1 return n end\n");
	struct filter_pool *pool = filter_pool_new(prog, TTHREADS);
	assert_non_null(pool);
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, TTHREADS);
	struct tthread t[TTHREADS];
	pthread_t tid[TTHREADS];

	memset(t, 0, sizeof(t));
	for (int i = 0; i < TTHREADS; i++) {
		t[i].pool = pool;
		t[i].barrier = &barrier;
		assert_int_equal(pthread_create(&tid[i], NULL, tworker, &t[i]), 0);
	}
	for (int i = 0; i < TTHREADS; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < TTHREADS; i++) {
		if (t[i].failures != 0)
			fail_msg("thread %d: %s", i, t[i].err);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(t[i].st, t[j].st);
	}
	pthread_barrier_destroy(&barrier);

	/* the states went back: a get now reuses one, whose count goes on */
	struct filter_state *st;
	char err[1024];
	struct tres r;
	assert_int_equal(filter_pool_get(pool, &st, err, sizeof(err)), 0);
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_OK);
	assert_string_equal(r.text, "201");
	filter_pool_put(pool, st);
	filter_pool_free(pool);
	filter_prog_free(prog);
}

struct tblock {
	struct filter_pool *pool;
	int got;
};

static void *tblocked(void *arg)
{
	struct tblock *b = arg;
	struct filter_state *st;
	char err[256];

	if (filter_pool_get(b->pool, &st, err, sizeof(err)) == 0) {
		__atomic_store_n(&b->got, 1, __ATOMIC_SEQ_CST);
		filter_pool_put(b->pool, st);
	}
	return NULL;
}

/* test_pool_limits - get waits at max_states; a state that hit the memory cap is replaced */
static void test_pool_limits(void **state)
{
	(void)state;
	struct filter_prog *prog = tcompile(ALIVE "local n = 0\n"
						  "function filter_begin() n = n + 1 return n end\n"
						  "function filter_end() local t = {} while true do t[#t+1] = ('x'):rep(1e6) end end\n");
	struct filter_pool *pool = filter_pool_new(prog, 1);
	struct filter_state *st;
	char err[1024];
	struct tres r;

	assert_int_equal(filter_pool_get(pool, &st, err, sizeof(err)), 0);
	struct tblock b = {.pool = pool};
	pthread_t tid;
	assert_int_equal(pthread_create(&tid, NULL, tblocked, &b), 0);
	usleep(100000);
	assert_int_equal(__atomic_load_n(&b.got, __ATOMIC_SEQ_CST), 0); /* waiting for ours */
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_OK);
	assert_string_equal(r.text, "1");
	filter_pool_put(pool, st);
	pthread_join(tid, NULL);
	assert_int_equal(b.got, 1);

	assert_int_equal(filter_pool_get(pool, &st, err, sizeof(err)), 0);
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_OK);
	assert_string_equal(r.text, "2"); /* the same state */
	assert_int_equal(tcall(st, "filter_end", &r, err, sizeof(err)), FILTER_MEMORY);
	filter_pool_put(pool, st);
	assert_int_equal(filter_pool_get(pool, &st, err, sizeof(err)), 0);
	assert_int_equal(tcall(st, "filter_begin", &r, err, sizeof(err)), FILTER_OK);
	assert_string_equal(r.text, "1"); /* a fresh one */
	filter_pool_put(pool, st);
	filter_pool_free(pool);
	filter_prog_free(prog);
}

/* trun_test - filter_test_run with its output captured */
static int trun_test(int argc, char **argv, char *out, size_t outlen, char *errout, size_t errlen)
{
	memset(out, 0, outlen);
	memset(errout, 0, errlen);
	FILE *o = fmemopen(out, outlen, "w"), *e = fmemopen(errout, errlen, "w");
	assert_non_null(o);
	assert_non_null(e);
	int rc = filter_test_run(argc, argv, NULL, o, e);
	fclose(o);
	fclose(e);
	return rc;
}

/* test_test_main - `klaxon filter --test FILE.lua` */
static void test_test_main(void **state)
{
	(void)state;
	char out[2048], errout[2048], want[1024], good[128], bad[128], empty[128];
	const char *g = "function filter_sender(s) return 'continue' end\n"
			"function filter(part) end\n"
			"function filter_end() end\n"
			"local function helper() end\n";

	snprintf(good, sizeof(good), "%s", tfile(g, strlen(g)));
	snprintf(bad, sizeof(bad), "%s", tfile("function filter_end()\n  x = \nend\n", 32));
	snprintf(empty, sizeof(empty), "%s", tfile("-- nothing\n", 11));

	char *a1[] = {"filter", "--test", good};
	assert_int_equal(trun_test(3, a1, out, sizeof(out), errout, sizeof(errout)), 0);
	snprintf(want, sizeof(want), "%s: syntax OK\n%s: callbacks: filter_sender filter filter_end\n", good, good);
	assert_string_equal(out, want);
	assert_string_equal(errout, "");

	char *a2[] = {"filter", "--test", bad};
	assert_int_equal(trun_test(3, a2, out, sizeof(out), errout, sizeof(errout)), 1);
	assert_string_equal(out, "");
	snprintf(want, sizeof(want), "%s:3: unexpected symbol near 'end'\n", bad);
	assert_string_equal(errout, want);

	char *a3[] = {"filter", "--test", empty, bad};
	assert_int_equal(trun_test(4, a3, out, sizeof(out), errout, sizeof(errout)), 1);
	snprintf(want, sizeof(want), "%s: syntax OK\n%s: callbacks: none (the filter changes nothing)\n", empty,
		 empty);
	assert_string_equal(out, want);

	char *a4[] = {"filter", "--test"};
	assert_int_equal(trun_test(2, a4, out, sizeof(out), errout, sizeof(errout)), 2);
	assert_non_null(strstr(errout, "usage: klaxon filter --test FILE.lua"));
	char *a5[] = {"filter", "--check", good};
	assert_int_equal(trun_test(3, a5, out, sizeof(out), errout, sizeof(errout)), 2);
	char *a6[] = {"filter"};
	assert_int_equal(trun_test(1, a6, out, sizeof(out), errout, sizeof(errout)), 2);

	/* the real entry point, on stdout */
	assert_int_equal(filter_test_main(3, a1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_compile_paths),
		cmocka_unit_test(test_binary_refused),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_budget_line),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_memory_near_cap),
		cmocka_unit_test(test_undefined),
		cmocka_unit_test(test_push_pull_register),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_pool_threads),
		cmocka_unit_test(test_pool_limits),
		cmocka_unit_test(test_test_main),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
