/*
 * filter_msgobj - what a Lua filter reads: the message object (msg) and
 * its part tables, as filter_api.h describes them (envelope, headers
 * parsed from the top-level header block, verdicts, parts linked to
 * their parent and children), and the functions that only ask
 * (message_contains_virus, entity_contains_virus, part_body, md_syslog).
 * The actions, the callbacks and the outcome are filter_api.c; what both
 * share is filter_api_int.h.
 *
 * The tables are built once per message run, in the first push
 * (fmo_push_msg or fmo_push_part, in protected mode, so running out of
 * memory is a Lua error), and live in the Lua registry: ctx->msg_ref and
 * ctx->parts_ref, held for the whole run (the globals are frozen, and the
 * filter must not be able to swap them anyway). The same tables go to
 * every callback of the run; fmo_unref() drops both refs when it ends, so
 * the state's collector can take them. Every string in them is a Lua
 * copy: nothing points back into the ctx's env, mime or insp, which are
 * borrowed only while the run is on. Functions that read the message
 * read the C side (ctx), not the tables, which the filter may have
 * changed: only a part table's index is taken back, and range-checked.
 *
 * Thread safety: a ctx and its lua_State belong to one thread; nothing
 * here has state of its own. Logs only from md_syslog.
 */
#include "filter_api_int.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "log.h"

#define FMO_HEADERS_MAX 1000 /* header fields in msg.headers */
#define FMO_LOG_MAX 1000     /* bytes of an md_syslog text */
#define FMO_WHOLE SIZE_MAX   /* fmo_push_viruses: the whole message, not one part */

/* ---- where a registered function runs ---- */

/* fmo_call - the fa_call of the running filter_call(), or NULL if it is not ours */
struct fa_call *fmo_call(lua_State *L)
{
	struct fa_call *c = filter_call_arg(L);

	return c != NULL && c->magic == FA_MAGIC ? c : NULL;
}

/* fmo_need - the message, or an error: outside a message run there is nothing to act on */
struct filter_msg_ctx *fmo_need(lua_State *L, const char *fname)
{
	struct fa_call *c = fmo_call(L);

	if (c == NULL || c->ctx == NULL)
		luaL_error(L, "%s: no message here (only in filter_begin, filter, filter_multipart, filter_end)",
			   fname);
	return c->ctx;
}

/* fmo_nparts - parts in the message (0 without one) */
size_t fmo_nparts(const struct filter_msg_ctx *ctx)
{
	return ctx->mime != NULL ? ctx->mime->nparts : 0;
}

/* fmo_ipart - the inspect record of part i, if there is one that matches it */
static const struct inspect_part *fmo_ipart(const struct filter_msg_ctx *ctx, size_t i)
{
	const struct inspect_result *r = ctx->insp;

	if (r == NULL || r->parts == NULL || i >= r->nparts || r->parts[i].verdict == NULL ||
	    strcmp(r->parts[i].path, ctx->mime->parts[i].path) != 0)
		return NULL;
	return &r->parts[i];
}

/* fmo_part_verdict - what inspect said of part i; nothing said is "unscanned", never clean */
static const char *fmo_part_verdict(const struct filter_msg_ctx *ctx, size_t i)
{
	const struct inspect_part *ip = fmo_ipart(ctx, i);

	return ip != NULL ? ip->verdict : "unscanned";
}

/*
 * fmo_part_arg - the part index for the argument at idx: a part table
 * (its index field, read raw and range-checked: the filter may have
 * changed it), or, when absent, the part of the running filter().
 */
size_t fmo_part_arg(lua_State *L, struct filter_msg_ctx *ctx, int idx, const char *fname)
{
	int t = lua_type(L, idx);

	if (t == LUA_TNONE || t == LUA_TNIL) {
		if (ctx->current_part < 0)
			luaL_error(L, "%s: give the part: %s has no current part", fname,
				   ctx->callback != NULL ? ctx->callback : "this callback");
		return (size_t)ctx->current_part;
	}
	if (t != LUA_TTABLE)
		luaL_error(L, "%s: the part must be a part table, not a %s", fname, lua_typename(L, t));
	lua_pushliteral(L, "index");
	lua_rawget(L, idx);
	int isint = 0;
	lua_Integer i = lua_tointegerx(L, -1, &isint);
	lua_pop(L, 1);
	if (!isint || i < 1 || (lua_Unsigned)i > fmo_nparts(ctx))
		luaL_error(L, "%s: the part table has no valid index (1..%d)", fname, (int)fmo_nparts(ctx));
	return (size_t)(i - 1);
}

/* ---- the message object ---- */

/* fmo_setstr - t[key] = val in the table on top; nothing for NULL */
void fmo_setstr(lua_State *L, const char *key, const char *val)
{
	if (val == NULL)
		return;
	lua_pushstring(L, val);
	lua_setfield(L, -2, key);
}

static void fmo_setint(lua_State *L, const char *key, unsigned long long v)
{
	lua_pushinteger(L, v > (unsigned long long)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)v);
	lua_setfield(L, -2, key);
}

/* fmo_nonempty - s, or NULL for NULL and "" */
const char *fmo_nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

/* fmo_names_add - append name to the array at arr, once if set (a table used as a set) is not 0 */
static void fmo_names_add(lua_State *L, int arr, int set, const char *name, size_t len)
{
	if (set != 0) {
		lua_pushlstring(L, name, len);
		if (lua_rawget(L, set) != LUA_TNIL) {
			lua_pop(L, 1);
			return;
		}
		lua_pop(L, 1);
		lua_pushlstring(L, name, len);
		lua_pushboolean(L, 1);
		lua_rawset(L, set);
	}
	lua_pushlstring(L, name, len);
	lua_rawseti(L, arr, (lua_Integer)lua_rawlen(L, arr) + 1);
}

/* fmo_names_split - the names of inspect's detail ("a, b", inspect_join) into arr */
static void fmo_names_split(lua_State *L, int arr, int set, const char *detail)
{
	const char *p = detail;

	while (p != NULL && *p != '\0') {
		const char *e = strstr(p, ", ");
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > 0)
			fmo_names_add(L, arr, set, p, n);
		p = e != NULL ? e + 2 : p + n;
	}
}

/* fmo_part_viruses - the virus names inspect gave part i, into arr */
static void fmo_part_viruses(lua_State *L, const struct filter_msg_ctx *ctx, size_t i, int arr, int set)
{
	const struct inspect_part *ip = fmo_ipart(ctx, i);

	if (ip != NULL && strcmp(ip->verdict, "virus") == 0)
		fmo_names_split(L, arr, set, ip->detail);
}

/* fmo_within - whether part j is part i or below it */
static bool fmo_within(const struct filter_msg_ctx *ctx, size_t j, size_t i)
{
	size_t n = fmo_nparts(ctx);

	for (size_t hops = 0; hops <= n; hops++) {
		if (j == i)
			return true;
		int parent = ctx->mime->parts[j].parent;
		if (parent < 0 || (size_t)parent >= n)
			return false;
		j = (size_t)parent;
	}
	return false;
}

/*
 * fmo_push_viruses - push an array of the virus names of part root and the
 * parts below it, each name once; FMO_WHOLE for every part and the reading
 * of the whole message. Whether any of those parts has the verdict virus.
 */
static bool fmo_push_viruses(lua_State *L, const struct filter_msg_ctx *ctx, size_t root)
{
	const struct inspect_result *r = ctx->insp;
	bool infected = false;

	lua_newtable(L);
	int arr = lua_gettop(L);
	lua_newtable(L);
	if (root == FMO_WHOLE) {
		for (size_t i = 0; r != NULL && r->scan.viruses != NULL && i < r->scan.nviruses; i++)
			if (r->scan.viruses[i] != NULL)
				fmo_names_add(L, arr, arr + 1, r->scan.viruses[i], strlen(r->scan.viruses[i]));
	}
	for (size_t i = root == FMO_WHOLE ? 0 : root; i < fmo_nparts(ctx); i++) {
		if (root != FMO_WHOLE && !fmo_within(ctx, i, root))
			continue;
		infected = infected || strcmp(fmo_part_verdict(ctx, i), "virus") == 0;
		fmo_part_viruses(L, ctx, i, arr, arr + 1);
	}
	lua_pop(L, 1);
	return infected;
}

/* fmo_push_flags - an array of the flag names in flags */
static void fmo_push_flags(lua_State *L, unsigned flags)
{
	lua_createtable(L, 4, 0);
	for (unsigned b = 0; b < MIME_FLAG_COUNT; b++)
		if (flags & (1u << b)) {
			lua_pushstring(L, mime_flag_name((enum mime_flag)(1u << b)));
			lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
		}
}

/* fmo_build_part - the table of part i, without parent and children links */
static void fmo_build_part(lua_State *L, const struct filter_msg_ctx *ctx, size_t i)
{
	const struct mime_part *p = &ctx->mime->parts[i];
	char hex[65] = "";

	lua_createtable(L, 0, 20);
	fmo_setint(L, "index", i + 1);
	fmo_setstr(L, "path", p->path);
	fmo_setstr(L, "type", p->content_type != NULL ? p->content_type : "text/plain");
	fmo_setstr(L, "charset", p->charset != NULL ? p->charset : "");
	fmo_setstr(L, "disposition", p->disposition != NULL ? p->disposition : "");
	fmo_setstr(L, "encoding", mime_cte_name(p->cte));
	fmo_setstr(L, "filename", p->filename != NULL ? p->filename : "");
	lua_createtable(L, (int)p->nnames, 0);
	for (size_t k = 0; k < p->nnames; k++)
		if (p->names[k].name != NULL) {
			lua_pushstring(L, p->names[k].name);
			lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
		}
	lua_setfield(L, -2, "filenames");
	if (p->extension[0] != '\0')
		lua_pushfstring(L, ".%s", p->extension);
	else
		lua_pushliteral(L, "");
	lua_setfield(L, -2, "extension");
	fmo_setint(L, "size", p->size);
	if (p->leaf)
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", p->sha256[k]);
	fmo_setstr(L, "sha256", hex);
	fmo_push_flags(L, p->flags);
	lua_setfield(L, -2, "flags");
	fmo_setstr(L, "verdict", fmo_part_verdict(ctx, i));
	lua_newtable(L);
	fmo_part_viruses(L, ctx, i, lua_gettop(L), 0);
	lua_setfield(L, -2, "viruses");
	lua_pushboolean(L, p->leaf);
	lua_setfield(L, -2, "leaf");
	lua_newtable(L);
	lua_setfield(L, -2, "children");
}

/* fmo_link_parts - parent and children fields, in the parts array at idx */
static void fmo_link_parts(lua_State *L, const struct filter_msg_ctx *ctx, int parts)
{
	size_t n = fmo_nparts(ctx);

	for (size_t i = 0; i < n; i++) {
		int parent = ctx->mime->parts[i].parent;
		if (parent < 0 || (size_t)parent >= n || (size_t)parent == i)
			continue;
		lua_rawgeti(L, parts, (lua_Integer)i + 1);
		lua_rawgeti(L, parts, (lua_Integer)parent + 1);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, "parent");
		lua_getfield(L, -1, "children");
		lua_pushvalue(L, -3);
		lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
		lua_pop(L, 3);
	}
}

static bool fmo_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* fmo_line_next - the offset after the line at pos (after its LF, or len) */
static size_t fmo_line_next(const char *buf, size_t len, size_t pos)
{
	const char *nl = memchr(buf + pos, '\n', len - pos);

	return nl != NULL ? (size_t)(nl - buf) + 1 : len;
}

/* fmo_field_name_ok - printable ASCII without ':' or space, as RFC 5322 and the header edits want */
bool fmo_field_name_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ':')
			return false;
	return true;
}

/*
 * fmo_push_value - the unfolded value of a field: from pos (after the
 * colon) to end, each line's CR LF removed and the WSP that folds it
 * kept; leading white space trimmed.
 */
static void fmo_push_value(lua_State *L, const char *buf, size_t len, size_t pos, size_t end)
{
	luaL_Buffer b;
	bool started = false;

	luaL_buffinit(L, &b);
	while (pos < end) {
		size_t next = fmo_line_next(buf, len, pos), stop = next;
		if (stop > pos && buf[stop - 1] == '\n')
			stop--;
		if (stop > pos && buf[stop - 1] == '\r')
			stop--;
		if (!started)
			while (pos < stop && fmo_wsp(buf[pos]))
				pos++;
		if (pos < stop) {
			started = true;
			luaL_addlstring(&b, buf + pos, stop - pos);
		}
		pos = next;
	}
	luaL_pushresult(&b);
}

/*
 * fmo_push_headers - msg.headers and msg.header from the top-level header
 * block: lines that are not a field (no colon, a bad name, a stray
 * continuation) are skipped, and at most FMO_HEADERS_MAX fields are kept.
 */
static void fmo_push_headers(lua_State *L, const char *buf, size_t len)
{
	size_t pos = 0;
	int n = 0;

	lua_createtable(L, 16, 0);
	int arr = lua_gettop(L);
	lua_createtable(L, 0, 16);
	int map = lua_gettop(L);
	while (buf != NULL && pos < len && n < FMO_HEADERS_MAX) {
		size_t end = fmo_line_next(buf, len, pos);
		while (end < len && fmo_wsp(buf[end]))
			end = fmo_line_next(buf, len, end);
		const char *colon = memchr(buf + pos, ':', end - pos);
		const char *nl = memchr(buf + pos, '\n', end - pos);
		size_t nlen = colon != NULL ? (size_t)(colon - (buf + pos)) : 0;
		while (nlen > 0 && fmo_wsp(buf[pos + nlen - 1]))
			nlen--;
		if (colon == NULL || (nl != NULL && nl < colon) || !fmo_field_name_ok(buf + pos, nlen)) {
			pos = end;
			continue;
		}
		lua_createtable(L, 0, 2);
		lua_pushlstring(L, buf + pos, nlen);
		lua_setfield(L, -2, "name");
		fmo_push_value(L, buf, len, (size_t)(colon - buf) + 1, end);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, "value");
		lua_insert(L, -2);
		lua_rawseti(L, arr, ++n);

		char lname[FA_HDR_NAME_MAX + 1];
		if (nlen <= FA_HDR_NAME_MAX) {
			for (size_t i = 0; i < nlen; i++) {
				char ch = buf[pos + i];
				lname[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
			}
			lua_pushlstring(L, lname, nlen);
			if (lua_rawget(L, map) == LUA_TNIL) {
				lua_pushlstring(L, lname, nlen);
				lua_pushvalue(L, -3);
				lua_rawset(L, map);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		pos = end;
	}
}

/* fmo_build_envelope - the envelope fields of msg (on top); absent strings are "", ids nil */
static void fmo_build_envelope(lua_State *L, const struct envelope *env)
{
	static const struct envelope none = {.sender = ""};

	if (env == NULL)
		env = &none;
	fmo_setstr(L, "sender", env->sender != NULL ? env->sender : "");
	lua_createtable(L, (int)env->nrcpts, 0);
	for (size_t i = 0; env->rcpts != NULL && i < env->nrcpts; i++)
		if (env->rcpts[i] != NULL) {
			lua_pushstring(L, env->rcpts[i]);
			lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
		}
	lua_setfield(L, -2, "recipients");
	fmo_setstr(L, "client_addr", env->client_addr != NULL ? env->client_addr : "");
	fmo_setstr(L, "client_name", env->client_name != NULL ? env->client_name : "");
	fmo_setstr(L, "helo", env->helo != NULL ? env->helo : "");
	fmo_setstr(L, "auth_user", fmo_nonempty(env->auth_user));
	fmo_setstr(L, "queue_id", fmo_nonempty(env->queue_id));
	fmo_setstr(L, "origin", origin_name(env->origin));
}

/* fmo_build_verdicts - verdict, viruses, banned, limit and flags of msg (on top) */
static void fmo_build_verdicts(lua_State *L, const struct filter_msg_ctx *ctx)
{
	const struct inspect_result *r = ctx->insp;

	fmo_setstr(L, "verdict", policy_verdict_name(ctx->verdict));
	(void)fmo_push_viruses(L, ctx, FMO_WHOLE);
	lua_setfield(L, -2, "viruses");
	if (r != NULL && r->banned)
		fmo_setstr(L, "banned", r->banned_reason);
	if (r != NULL && r->limit != MIME_LIMIT_NONE)
		fmo_setstr(L, "limit", r->limit_detail[0] != '\0' ? r->limit_detail : mime_limit_name(r->limit));
	fmo_push_flags(L, r != NULL ? r->flags : ctx->mime != NULL ? ctx->mime->flags : 0);
	lua_setfield(L, -2, "flags");
	if (ctx->reason != NULL && ctx->reason[0] != '\0')
		fmo_setstr(L, "reason", ctx->reason);
}

/*
 * fmo_build - (protected, in a push) the message and parts tables, once
 * per run, referenced from the registry.
 */
static void fmo_build(lua_State *L, struct fa_call *c)
{
	struct filter_msg_ctx *ctx = c->ctx;
	size_t n = fmo_nparts(ctx);

	c->L = L;
	if (ctx->msg_ref != LUA_NOREF && ctx->parts_ref != LUA_NOREF)
		return;
	if (ctx->msg_ref != LUA_NOREF || ctx->parts_ref != LUA_NOREF) /* a failed build ends the run */
		luaL_error(L, "filter: the message object is incomplete");
	luaL_checkstack(L, 16, "the message object");
	lua_createtable(L, (int)n, 0);
	int parts = lua_gettop(L);
	for (size_t i = 0; i < n; i++) {
		fmo_build_part(L, ctx, i);
		lua_rawseti(L, parts, (lua_Integer)i + 1);
	}
	fmo_link_parts(L, ctx, parts);

	lua_createtable(L, 0, 24);
	fmo_build_envelope(L, ctx->env);
	fmo_setint(L, "size", ctx->size);
	fmo_push_headers(L, ctx->mime != NULL ? ctx->mime->header_block : NULL,
			ctx->mime != NULL ? ctx->mime->header_len : 0);
	if (ctx->subject != NULL)
		lua_pushstring(L, ctx->subject);
	else if (lua_getfield(L, -1, "subject") == LUA_TNIL) {
		lua_pop(L, 1);
		lua_pushliteral(L, "");
	}
	lua_setfield(L, -4, "subject");
	lua_setfield(L, -3, "header");
	lua_setfield(L, -2, "headers");
	fmo_build_verdicts(L, ctx);
	lua_pushvalue(L, parts);
	lua_setfield(L, -2, "parts");
	lua_rawgeti(L, parts, 1);
	lua_setfield(L, -2, "root");

	ctx->msg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	ctx->parts_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ---- a run: its pushes and its end ---- */

/* fmo_pushstr - s, or "" for NULL */
void fmo_pushstr(lua_State *L, const char *s)
{
	lua_pushstring(L, s != NULL ? s : "");
}

/* fmo_push_msg - msg, for filter_begin and filter_end */
void fmo_push_msg(lua_State *L, void *arg)
{
	struct fa_call *c = arg;

	fmo_build(L, c);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ctx->msg_ref);
}

/* fmo_push_part - part, filename, extension (with its dot), type: from the parser, whatever the filter wrote */
void fmo_push_part(lua_State *L, void *arg)
{
	struct fa_call *c = arg;
	size_t i = (size_t)c->ctx->current_part;
	const struct mime_part *p = &c->ctx->mime->parts[i];

	fmo_build(L, c);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->ctx->parts_ref);
	lua_rawgeti(L, -1, (lua_Integer)i + 1);
	lua_remove(L, -2);
	fmo_pushstr(L, p->filename);
	if (p->extension[0] != '\0')
		lua_pushfstring(L, ".%s", p->extension);
	else
		lua_pushliteral(L, "");
	fmo_pushstr(L, p->content_type != NULL ? p->content_type : "text/plain");
}

/* fmo_unref_run - (protected) drop the run's registry references */
static int fmo_unref_run(lua_State *L)
{
	struct filter_msg_ctx *ctx = lua_touserdata(L, 1);

	luaL_unref(L, LUA_REGISTRYINDEX, ctx->msg_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, ctx->parts_ref);
	return 0;
}

/* fmo_unref - after the run, so the message can be collected; protected, the state may be at its cap */
void fmo_unref(struct fa_call *c)
{
	if (c->L != NULL && (c->ctx->msg_ref != LUA_NOREF || c->ctx->parts_ref != LUA_NOREF)) {
		lua_settop(c->L, 0);
		lua_pushcfunction(c->L, fmo_unref_run);
		lua_pushlightuserdata(c->L, c->ctx);
		(void)lua_pcall(c->L, 1, 0, 0);
		lua_settop(c->L, 0);
	}
	c->ctx->msg_ref = c->ctx->parts_ref = LUA_NOREF;
}

/* ---- functions that ask ---- */

/* fmo_message_contains_virus - any reading, any part: infected, names */
int fmo_message_contains_virus(lua_State *L)
{
	struct filter_msg_ctx *ctx = fmo_need(L, "message_contains_virus");
	const struct inspect_result *r = ctx->insp;

	lua_settop(L, 0);
	bool infected = fmo_push_viruses(L, ctx, FMO_WHOLE) || (r != NULL && r->scan.status == SCAN_VIRUS);
	lua_pushboolean(L, infected || lua_rawlen(L, 1) > 0);
	lua_insert(L, 1);
	return 2;
}

/* fmo_entity_contains_virus - the part and everything below it: infected, names */
int fmo_entity_contains_virus(lua_State *L)
{
	struct filter_msg_ctx *ctx = fmo_need(L, "entity_contains_virus");
	size_t i = fmo_part_arg(L, ctx, 1, "entity_contains_virus");

	lua_settop(L, 0);
	bool infected = fmo_push_viruses(L, ctx, i);
	lua_pushboolean(L, infected || lua_rawlen(L, 1) > 0);
	lua_insert(L, 1);
	return 2;
}

/* fmo_part_body - a leaf's decoded bytes, up to max; "" for a container */
int fmo_part_body(lua_State *L)
{
	struct filter_msg_ctx *ctx = fmo_need(L, "part_body");
	const struct mime_part *p = &ctx->mime->parts[fmo_part_arg(L, ctx, 1, "part_body")];
	size_t n = p->data != NULL ? p->size : 0;

	if (!lua_isnoneornil(L, 2)) {
		int isint = 0;
		lua_Integer max = lua_tointegerx(L, 2, &isint);
		if (!isint || max < 0)
			return luaL_error(L, "part_body: max must be a whole number >= 0");
		if ((lua_Unsigned)max < n)
			n = (size_t)max;
	}
	lua_pushlstring(L, n > 0 ? (const char *)p->data : "", n);
	return 1;
}

/* fmo_md_syslog - one log line, "QID: filter: text", controls made harmless */
int fmo_md_syslog(lua_State *L)
{
	static const struct {
		const char *name;
		void (*fn)(const char *fmt, ...);
	} prio[] = {
		{"debug", log_debug}, {"info", log_info},   {"notice", log_info}, {"warning", log_warn},
		{"warn", log_warn},   {"err", log_error},   {"error", log_error}, {"crit", log_error},
		{"alert", log_error}, {"emerg", log_error},
	};
	const char *p = luaL_checkstring(L, 1);
	size_t len;
	const char *text = luaL_checklstring(L, 2, &len);
	struct fa_call *c = fmo_call(L);
	const char *qid = NULL;
	char clean[FMO_LOG_MAX + 1], cqid[64];

	if (c != NULL && c->ctx != NULL && c->ctx->env != NULL)
		qid = fmo_nonempty(c->ctx->env->queue_id);
	else if (c != NULL && c->early != NULL)
		qid = fmo_nonempty(c->early->queue_id);
	for (size_t i = 0; i < sizeof(prio) / sizeof(prio[0]); i++) {
		if (strcmp(p, prio[i].name) != 0)
			continue;
		fa_clean(clean, sizeof(clean), text, len);
		if (qid != NULL)
			prio[i].fn("%s: filter: %s", fa_clean(cqid, sizeof(cqid), qid, strlen(qid)), clean);
		else
			prio[i].fn("filter: %s", clean);
		return 0;
	}
	return luaL_error(L, "md_syslog: unknown priority (use \"info\", \"warning\" or \"err\")");
}
