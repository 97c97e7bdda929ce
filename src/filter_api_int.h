/*
 * filter_api_int - what filter_api.c (the actions, the callbacks, the
 * outcome, the notice rule) and filter_msgobj.c (the message object and
 * the functions that only ask) share. Not a public interface: only those
 * two files include it.
 *
 * Names say where a function lives: fa_ in filter_api.c, fmo_ in
 * filter_msgobj.c. Parts are named by their index in ctx->mime->parts,
 * as in the Lua tables (minus one).
 */
#ifndef KLAXON_FILTER_API_INT_H
#define KLAXON_FILTER_API_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "filter_api.h"

#define FA_MAGIC 0x6b6c6170u /* "klap": this arg is ours */
#define FA_HDR_NAME_MAX 128  /* bytes of a header name: to edit, and lower-cased in msg.header */

/* The arg of every filter_call() made by filter_api.c. */
struct fa_call {
	unsigned magic;
	lua_State *L;                          /* seen in the first push; for the unref */
	struct filter_msg_ctx *ctx;            /* a message run, or NULL */
	const struct filter_early_args *early; /* an early callback, or NULL */
	struct filter_early_result *res;
	const char *callback;
	const char *args;                      /* early: argument letters, see fa_early_cbs */
};

/* ---- filter_api.c ---- */

char *fa_clean(char *dst, size_t dstlen, const char *src, size_t len);

/* ---- filter_msgobj.c ---- */

/* Where a registered function runs. */
struct fa_call *fmo_call(lua_State *L);
struct filter_msg_ctx *fmo_need(lua_State *L, const char *fname);

size_t fmo_nparts(const struct filter_msg_ctx *ctx);
size_t fmo_part_arg(lua_State *L, struct filter_msg_ctx *ctx, int idx, const char *fname);
bool fmo_field_name_ok(const char *s, size_t len);

/* Table helpers, also for the early callbacks' arguments. */
void fmo_setstr(lua_State *L, const char *key, const char *val);
void fmo_pushstr(lua_State *L, const char *s);
const char *fmo_nonempty(const char *s);

/* filter_call() push functions of a message run, and its end. */
void fmo_push_msg(lua_State *L, void *arg);
void fmo_push_part(lua_State *L, void *arg);
void fmo_unref(struct fa_call *c);

/* The functions that only ask, for filter_api_funcs. */
int fmo_message_contains_virus(lua_State *L);
int fmo_entity_contains_virus(lua_State *L);
int fmo_part_body(lua_State *L);
int fmo_md_syslog(lua_State *L);

#endif
