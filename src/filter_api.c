/*
 * filter_api - the Lua-facing API of the policy filter: MIMEDefang's
 * callbacks, the actions and the outcome they record, and the notice
 * rule. See filter_api.h for the contract; the message object and the
 * functions that only ask are filter_msgobj.c, what both share is
 * filter_api_int.h; the sandbox itself is filter.c and filter_sandbox.c.
 *
 * Every registered function finds its call through filter_call_arg():
 * a struct fa_call, tagged, which says whether a message is on (ctx) or
 * an early callback runs (early).
 */
#include "filter_api_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "util.h"

#define FA_ADDR_MAX 320           /* bytes of an envelope address */
#define FA_EDITS_MAX 1000         /* entries per outcome list: C memory, outside the Lua cap */
#define FA_INDEX_MAX 1000         /* header index for change and delete */
#define FA_NAME_SHOWN 200         /* bytes of a filename quoted in a warning */

/* A checked SMTP reply: where fa_reply() writes. */
struct fa_reply {
	char *code;  /* [4] */
	char *dsn;   /* [16] */
	char *text;  /* [FILTER_TEXT_MAX + 1] */
};

const char *filter_early_kind_name(enum filter_early_kind k)
{
	static const char *const names[] = {"continue", "accept", "reject", "tempfail", "discard"};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *filter_msg_action_name(enum filter_msg_action a)
{
	static const char *const names[] = {"none", "accept", "discard", "bounce", "tempfail"};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

const char *filter_part_action_name(enum filter_part_action a)
{
	static const char *const names[] = {"keep", "drop", "drop_with_warning", "replace_with_warning"};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/* ---- checks shared by the early results and the actions ---- */

static bool fa_is_ctl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

/* fa_clean - copy for a log or a warning: controls become '?', cut on a UTF-8 boundary */
char *fa_clean(char *dst, size_t dstlen, const char *src, size_t len)
{
	if (len >= dstlen) {
		len = dstlen - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++)
		dst[i] = fa_is_ctl((unsigned char)src[i]) ? '?' : src[i];
	dst[len] = '\0';
	return dst;
}

/* fa_opt_str - the string (or number) at idx, NULL for nil or none */
static const char *fa_opt_str(lua_State *L, int idx, const char *fname, const char *what, size_t *len)
{
	int t = lua_type(L, idx);

	if (t == LUA_TNONE || t == LUA_TNIL)
		return NULL;
	if (t != LUA_TSTRING && t != LUA_TNUMBER)
		luaL_error(L, "%s: %s must be a string, not a %s", fname, what, lua_typename(L, t));
	return lua_tolstring(L, idx, len);
}

/*
 * fa_clean_into - a safe copy of a text: in a one-line text (a reply,
 * reason or header value) CR and LF become spaces, because they would
 * split it; a note (a warning or notice, a body text) keeps LF and drops
 * CR. TAB stays, other controls (NUL too) become '?'. Longer than max:
 * cut on a UTF-8 boundary. dst holds max + 1 bytes. Cleaning rather than
 * refusing, because texts are often built from what the sender chose
 * (file names, subjects), and refusing would tempfail that message on
 * every retry. Returns the length written.
 */
static size_t fa_clean_into(char *dst, const char *s, size_t len, size_t max, bool note)
{
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r' && note)
			continue;
		if (ch == '\r' || (ch == '\n' && !note))
			ch = ' ';
		else if (fa_is_ctl(ch) && ch != '\t' && ch != '\n')
			ch = '?';
		dst[n++] = (char)ch;
	}
	dst[n] = '\0';
	return n;
}

/* fa_clean_arg - clean the string argument at idx in place (it stays alive there) */
static const char *fa_clean_arg(lua_State *L, int idx, const char *s, size_t len, size_t max, bool note)
{
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, (len < max ? len : max) + 1);
	size_t n = fa_clean_into(out, s, len, max, note);
	luaL_pushresultsize(&b, n);
	lua_replace(L, idx); /* not left on top: that would look like one more argument */
	return lua_tostring(L, idx);
}

/* fa_text - a text argument, cleaned (fa_clean_text); NULL if absent and optional */
static const char *fa_text(lua_State *L, int idx, const char *fname, const char *what, size_t max,
			   bool required)
{
	size_t len;
	const char *s = fa_opt_str(L, idx, fname, what, &len);

	if (s == NULL) {
		if (required)
			luaL_error(L, "%s: %s is required", fname, what);
		return NULL;
	}
	return fa_clean_arg(L, idx, s, len, max, max == FILTER_NOTE_MAX);
}

static bool fa_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* fa_dsn_ok - "d.d{1,3}.d{1,3}" */
static bool fa_dsn_ok(const char *s)
{
	if (!fa_digit(s[0]) || s[1] != '.')
		return false;
	s += 2;
	for (int field = 0; field < 2; field++) {
		int n = 0;
		while (fa_digit(*s) && n < 4)
			s++, n++;
		if (n < 1 || n > 3 || *s != (field == 0 ? '.' : '\0'))
			return false;
		s++;
	}
	return true;
}

/*
 * fa_reply - check a text, SMTP code and DSN of class cls ('5' or '4')
 * and write them, with the defaults for what is nil or "".
 */
static void fa_reply(lua_State *L, const char *fname, char cls, const char *text, size_t textlen,
		     const char *code, const char *dsn, struct fa_reply *r)
{
	if (code != NULL && *code != '\0') {
		if (strlen(code) != 3 || !fa_digit(code[0]) || !fa_digit(code[1]) || !fa_digit(code[2]))
			luaL_error(L, "%s: the SMTP code must be three digits", fname);
		if (code[0] != cls)
			luaL_error(L, "%s: SMTP code %s is not a %cxx code", fname, code, cls);
	} else {
		code = cls == '5' ? "554" : "451";
	}
	if (dsn != NULL && *dsn != '\0') {
		if (strlen(dsn) > 9 || !fa_dsn_ok(dsn))
			luaL_error(L, "%s: the DSN code must be d.ddd.ddd", fname);
		if (dsn[0] != cls)
			luaL_error(L, "%s: DSN code %s is not a %c.x.x code", fname, dsn, cls);
	} else {
		dsn = cls == '5' ? "5.7.1" : "4.7.1";
	}
	snprintf(r->code, 4, "%s", code);
	snprintf(r->dsn, 16, "%s", dsn);
	if (text != NULL && textlen > 0)
		fa_clean_into(r->text, text, textlen, FILTER_TEXT_MAX, false);
	else
		snprintf(r->text, FILTER_TEXT_MAX + 1, "%s", cls == '5' ? "Rejected by policy" : "Try again later");
}

/* fa_reply_args - text, code, dsn at idx, idx+1, idx+2, checked */
static void fa_reply_args(lua_State *L, int idx, const char *fname, char cls, struct fa_reply *r)
{
	size_t len;
	const char *text = fa_opt_str(L, idx, fname, "the text", &len);

	const char *code = fa_opt_str(L, idx + 1, fname, "the SMTP code", NULL);
	const char *dsn = fa_opt_str(L, idx + 2, fname, "the DSN code", NULL);
	fa_reply(L, fname, cls, text, text ? len : 0, code, dsn, r);
}

/* ---- the outcome ---- */

int filter_outcome_init(struct filter_outcome *out, size_t nparts)
{
	size_t n = nparts > 0 ? nparts : 1;

	memset(out, 0, sizeof(*out));
	out->nparts = nparts;
	out->part_action = calloc(n, sizeof(*out->part_action));
	out->part_text = calloc(n, sizeof(*out->part_text));
	out->part_quarantine = calloc(n, sizeof(*out->part_quarantine));
	out->part_reason = calloc(n, sizeof(*out->part_reason));
	if (out->part_action == NULL || out->part_text == NULL || out->part_quarantine == NULL ||
	    out->part_reason == NULL) {
		filter_outcome_clear(out);
		return -1;
	}
	return 0;
}

void filter_outcome_clear(struct filter_outcome *out)
{
	for (size_t i = 0; i < out->nparts; i++) {
		if (out->part_text != NULL)
			free(out->part_text[i]);
		if (out->part_reason != NULL)
			free(out->part_reason[i]);
	}
	free(out->part_action);
	free(out->part_text);
	free(out->part_quarantine);
	free(out->part_reason);
	for (size_t i = 0; i < out->nhdrs; i++) {
		free(out->hdrs[i].name);
		free(out->hdrs[i].value);
	}
	free(out->hdrs);
	for (size_t i = 0; i < out->nrcpts; i++)
		free(out->rcpts[i].addr);
	free(out->rcpts);
	free(out->new_sender);
	for (size_t i = 0; i < out->nnotices; i++) {
		free(out->notices[i].text);
		free(out->notices[i].callback);
	}
	free(out->notices);
	memset(out, 0, sizeof(*out));
}

/*
 * fa_grow - arr with room for one more element of size elem: the same
 * pointer or a grown one, or a Lua error with arr untouched. Bounded:
 * this is C memory, outside the state's cap.
 */
static void *fa_grow(lua_State *L, const char *fname, void *arr, size_t n, size_t *cap, size_t elem)
{
	if (n >= FA_EDITS_MAX)
		luaL_error(L, "%s: more than %d of these in one message", fname, FA_EDITS_MAX);
	if (n < *cap)
		return arr;
	size_t ncap = *cap == 0 ? 8 : *cap * 2;
	void *p = realloc(arr, ncap * elem);
	if (p == NULL)
		luaL_error(L, "%s: out of memory", fname);
	*cap = ncap;
	return p;
}

/* fa_strdup - strdup, or a Lua error (after freeing also, which may be NULL) */
static char *fa_strdup(lua_State *L, const char *fname, const char *s, char *also)
{
	char *d = strdup(s);

	if (d == NULL) {
		free(also);
		luaL_error(L, "%s: out of memory", fname);
	}
	return d;
}

/* ---- message actions ---- */

/* fa_msg_action - record a message action; the strongest wins, a later one of equal strength replaces */
static int fa_msg_action(lua_State *L, const char *fname, enum filter_msg_action a)
{
	struct filter_msg_ctx *ctx = fmo_need(L, fname);
	struct filter_outcome *out = &ctx->out;
	char code[4] = "", dsn[16] = "", text[FILTER_TEXT_MAX + 1] = "";
	struct fa_reply r = {code, dsn, text};

	if (a == FILTER_MSG_BOUNCE || a == FILTER_MSG_TEMPFAIL)
		fa_reply_args(L, 1, fname, a == FILTER_MSG_BOUNCE ? '5' : '4', &r);
	if (a < out->action || (a == out->action && code[0] == '\0'))
		return 0;
	out->action = a;
	memcpy(out->code, code, sizeof(code));
	memcpy(out->dsn, dsn, sizeof(dsn));
	memcpy(out->text, text, sizeof(text));
	return 0;
}

static int l_action_accept(lua_State *L)
{
	return fa_msg_action(L, "action_accept", FILTER_MSG_ACCEPT);
}

static int l_action_bounce(lua_State *L)
{
	return fa_msg_action(L, "action_bounce", FILTER_MSG_BOUNCE);
}

static int l_action_tempfail(lua_State *L)
{
	return fa_msg_action(L, "action_tempfail", FILTER_MSG_TEMPFAIL);
}

static int l_action_discard(lua_State *L)
{
	return fa_msg_action(L, "action_discard", FILTER_MSG_DISCARD);
}

/* l_action_quarantine_entire_message - keep a durable copy; the reason is cut to fit */
static int l_action_quarantine_entire_message(lua_State *L)
{
	struct filter_msg_ctx *ctx = fmo_need(L, "action_quarantine_entire_message");
	const char *reason = fa_text(L, 1, "action_quarantine_entire_message", "the reason", FILTER_TEXT_MAX,
				     false);

	const char *class = luaL_optstring(L, 2, "policy");
	/* A filter may hold mail as policy or spam; virus, banned and ambiguous are klaxon's findings. */
	if (strcmp(class, "policy") != 0 && strcmp(class, "spam") != 0)
		return luaL_error(L, "action_quarantine_entire_message: the class must be \"policy\" or \"spam\"");
	ctx->out.quarantine_message = true;
	snprintf(ctx->out.quarantine_class, sizeof(ctx->out.quarantine_class), "%s", class);
	if (reason != NULL)
		fa_clean(ctx->out.quarantine_reason, sizeof(ctx->out.quarantine_reason), reason, strlen(reason));
	return 0;
}

/* ---- part actions ---- */

/* fa_part_set - one part's action; the last one called for a part stands. Takes text and reason. */
static void fa_part_set(struct filter_outcome *out, size_t i, enum filter_part_action a, char *text,
			bool quarantine, char *reason)
{
	free(out->part_text[i]);
	free(out->part_reason[i]);
	out->part_action[i] = (unsigned char)a;
	out->part_text[i] = text;
	out->part_quarantine[i] = quarantine;
	out->part_reason[i] = reason;
	out->parts_changed = false;
	for (size_t k = 0; k < out->nparts; k++)
		if (out->part_action[k] != FILTER_PART_KEEP)
			out->parts_changed = true;
}

/* fa_part_action - drop, drop with a warning, replace with a warning, or keep */
static int fa_part_action(lua_State *L, const char *fname, enum filter_part_action a, int text_idx,
			  int part_idx)
{
	struct filter_msg_ctx *ctx = fmo_need(L, fname);
	const char *text = text_idx > 0 ? fa_text(L, text_idx, fname, "the warning", FILTER_NOTE_MAX, true) : NULL;
	size_t i = fmo_part_arg(L, ctx, part_idx, fname);
	char *t = text != NULL ? fa_strdup(L, fname, text, NULL) : NULL;

	fa_part_set(&ctx->out, i, a, t, false, NULL);
	return 0;
}

static int l_action_drop(lua_State *L)
{
	return fa_part_action(L, "action_drop", FILTER_PART_DROP, 0, 1);
}

static int l_action_drop_with_warning(lua_State *L)
{
	return fa_part_action(L, "action_drop_with_warning", FILTER_PART_DROP_WARN, 1, 2);
}

static int l_action_replace_with_warning(lua_State *L)
{
	return fa_part_action(L, "action_replace_with_warning", FILTER_PART_REPLACE_WARN, 1, 2);
}

static int l_action_accept_part(lua_State *L)
{
	return fa_part_action(L, "action_accept_part", FILTER_PART_KEEP, 0, 1);
}

/*
 * l_action_quarantine - MIMEDefang's: a durable copy of the part, then
 * the part is dropped and a warning says so (naming it, with the reason).
 */
static int l_action_quarantine(lua_State *L)
{
	static const char fname[] = "action_quarantine";
	struct filter_msg_ctx *ctx = fmo_need(L, fname);
	size_t i = fmo_part_arg(L, ctx, 1, fname);
	const char *reason = fa_text(L, 2, fname, "the reason", FILTER_TEXT_MAX, false);
	const struct mime_part *p = &ctx->mime->parts[i];
	char what[FA_NAME_SHOWN + 128], why[FILTER_TEXT_MAX + 8] = "", warn[1024];

	if (p->filename != NULL && *p->filename != '\0') {
		char name[FA_NAME_SHOWN + 1];
		snprintf(what, sizeof(what), "An attachment named \"%s\"",
			 fa_clean(name, sizeof(name), p->filename, strlen(p->filename)));
	} else {
		snprintf(what, sizeof(what), "An attachment (part %s, %.80s)", p->path,
			 p->content_type != NULL ? p->content_type : "text/plain");
	}
	if (reason != NULL && *reason != '\0')
		snprintf(why, sizeof(why), " (%s)", reason);
	snprintf(warn, sizeof(warn),
		 "%s was removed from this message and kept in quarantine%s, because it was judged a "
		 "security risk.  If you need it, please contact the sender and arrange another way "
		 "to receive it.",
		 what, why);
	char *t = fa_strdup(L, fname, warn, NULL);
	char *r = reason != NULL ? fa_strdup(L, fname, reason, t) : NULL;
	fa_part_set(&ctx->out, i, FILTER_PART_DROP_WARN, t, true, r);
	return 0;
}

/* ---- header edits ---- */

/* fa_hdr - record one header edit, its arguments checked */
static int fa_hdr(lua_State *L, const char *fname, enum filter_hdr_op op)
{
	struct filter_msg_ctx *ctx = fmo_need(L, fname);
	struct filter_outcome *out = &ctx->out;
	size_t nlen;
	const char *name = fa_opt_str(L, 1, fname, "the header name", &nlen);
	const char *value = NULL;
	lua_Integer index = 0;
	int index_idx = op == FILTER_HDR_CHANGE ? 3 : op == FILTER_HDR_DELETE ? 2 : 0;

	if (name == NULL || nlen > FA_HDR_NAME_MAX || !fmo_field_name_ok(name, nlen))
		return luaL_error(L, "%s: the header name must be 1 to %d bytes of printable ASCII without "
				  "':' or space", fname, FA_HDR_NAME_MAX);
	if (op == FILTER_HDR_ADD || op == FILTER_HDR_CHANGE)
		value = fa_text(L, 2, fname, "the header value", FILTER_TEXT_MAX, true);
	if (index_idx > 0) {
		int isint = 1;
		index = lua_isnoneornil(L, index_idx) ? 1 : lua_tointegerx(L, index_idx, &isint);
		if (!isint || index < 1 || index > FA_INDEX_MAX)
			return luaL_error(L, "%s: the index must be a whole number from 1 to %d", fname,
					  FA_INDEX_MAX);
	}
	out->hdrs = fa_grow(L, fname, out->hdrs, out->nhdrs, &out->hdrcap, sizeof(*out->hdrs));
	char *n = fa_strdup(L, fname, name, NULL);
	char *v = value != NULL ? fa_strdup(L, fname, value, n) : NULL;
	out->hdrs[out->nhdrs++] = (struct filter_hdr_edit){.op = op, .name = n, .value = v, .index = (unsigned)index};
	return 0;
}

static int l_action_add_header(lua_State *L)
{
	return fa_hdr(L, "action_add_header", FILTER_HDR_ADD);
}

static int l_action_change_header(lua_State *L)
{
	return fa_hdr(L, "action_change_header", FILTER_HDR_CHANGE);
}

static int l_action_delete_header(lua_State *L)
{
	return fa_hdr(L, "action_delete_header", FILTER_HDR_DELETE);
}

static int l_action_delete_all_headers(lua_State *L)
{
	return fa_hdr(L, "action_delete_all_headers", FILTER_HDR_DELETE_ALL);
}

/* ---- envelope edits ---- */

/* fa_addr - an address argument: no angle brackets, controls or spaces, 1..FA_ADDR_MAX bytes */
static const char *fa_addr(lua_State *L, const char *fname)
{
	size_t len;
	const char *a = fa_opt_str(L, 1, fname, "the address", &len);

	if (a == NULL || len == 0 || len > FA_ADDR_MAX)
		luaL_error(L, "%s: the address must be 1 to %d bytes", fname, FA_ADDR_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)a[i] <= 0x20 || a[i] == 0x7f || a[i] == '<' || a[i] == '>')
			luaL_error(L, "%s: the address has a space, control character or angle bracket", fname);
	return a;
}

static int fa_rcpt(lua_State *L, const char *fname, bool add)
{
	struct filter_msg_ctx *ctx = fmo_need(L, fname);
	struct filter_outcome *out = &ctx->out;
	const char *a = fa_addr(L, fname);

	out->rcpts = fa_grow(L, fname, out->rcpts, out->nrcpts, &out->rcptcap, sizeof(*out->rcpts));
	out->rcpts[out->nrcpts].addr = fa_strdup(L, fname, a, NULL);
	out->rcpts[out->nrcpts++].add = add;
	return 0;
}

static int l_add_recipient(lua_State *L)
{
	return fa_rcpt(L, "add_recipient", true);
}

static int l_delete_recipient(lua_State *L)
{
	return fa_rcpt(L, "delete_recipient", false);
}

static int l_change_sender(lua_State *L)
{
	struct filter_msg_ctx *ctx = fmo_need(L, "change_sender");
	char *a = fa_strdup(L, "change_sender", fa_addr(L, "change_sender"), NULL);

	free(ctx->out.new_sender);
	ctx->out.new_sender = a;
	return 0;
}

/* ---- notices ---- */

static int fa_notice(lua_State *L, const char *fname, bool to_sender)
{
	struct filter_msg_ctx *ctx = fmo_need(L, fname);
	struct filter_outcome *out = &ctx->out;
	const char *text = fa_text(L, 1, fname, "the text", FILTER_NOTE_MAX, true);

	out->notices = fa_grow(L, fname, out->notices, out->nnotices, &out->noticecap, sizeof(*out->notices));
	char *t = fa_strdup(L, fname, text, NULL);
	char *cb = fa_strdup(L, fname, ctx->callback != NULL ? ctx->callback : "?", t);
	out->notices[out->nnotices++] = (struct filter_notice){.to_sender = to_sender, .text = t, .callback = cb};
	return 0;
}

static int l_action_notify_administrator(lua_State *L)
{
	return fa_notice(L, "action_notify_administrator", false);
}

static int l_action_notify_sender(lua_State *L)
{
	return fa_notice(L, "action_notify_sender", true);
}

const struct filter_reg filter_api_funcs[] = {
	{"message_contains_virus", fmo_message_contains_virus},
	{"entity_contains_virus", fmo_entity_contains_virus},
	{"part_body", fmo_part_body},
	{"md_syslog", fmo_md_syslog},
	{"action_accept", l_action_accept},
	{"action_bounce", l_action_bounce},
	{"action_tempfail", l_action_tempfail},
	{"action_discard", l_action_discard},
	{"action_quarantine_entire_message", l_action_quarantine_entire_message},
	{"action_drop", l_action_drop},
	{"action_drop_with_warning", l_action_drop_with_warning},
	{"action_replace_with_warning", l_action_replace_with_warning},
	{"action_quarantine", l_action_quarantine},
	{"action_accept_part", l_action_accept_part},
	{"action_add_header", l_action_add_header},
	{"action_change_header", l_action_change_header},
	{"action_delete_header", l_action_delete_header},
	{"action_delete_all_headers", l_action_delete_all_headers},
	{"add_recipient", l_add_recipient},
	{"delete_recipient", l_delete_recipient},
	{"change_sender", l_change_sender},
	{"action_notify_administrator", l_action_notify_administrator},
	{"action_notify_sender", l_action_notify_sender},
	{NULL, NULL},
};

/* ---- early callbacks ---- */

/*
 * The early callbacks and their arguments, one letter each: i ip, n name,
 * h helo, s sender, r rcpt, f first, I the info table.
 */
static const struct {
	const char *name;
	const char *args;
} fa_early_cbs[] = {
	{"filter_relay", "in"},
	{"filter_helo", "inh"},
	{"filter_sender", "sinhI"},
	{"filter_recipient", "rsinfhI"},
};

/* fa_early_push - the callback's arguments, absent values "" */
static void fa_early_push(lua_State *L, void *arg)
{
	struct fa_call *c = arg;
	const struct filter_early_args *a = c->early;

	c->L = L;
	luaL_checkstack(L, 12, "early arguments");
	for (const char *k = c->args; *k != '\0'; k++) {
		switch (*k) {
		case 'i':
			fmo_pushstr(L, a->ip);
			break;
		case 'n':
			fmo_pushstr(L, a->name);
			break;
		case 'h':
			fmo_pushstr(L, a->helo);
			break;
		case 's':
			fmo_pushstr(L, a->sender);
			break;
		case 'r':
			fmo_pushstr(L, a->rcpt);
			break;
		case 'f':
			fmo_pushstr(L, a->first);
			break;
		default:
			lua_createtable(L, 0, 3);
			fmo_setstr(L, "auth_user", fmo_nonempty(a->auth_user));
			fmo_setstr(L, "origin", origin_name(a->origin));
			fmo_setstr(L, "queue_id", fmo_nonempty(a->queue_id));
			break;
		}
	}
}

/* fa_early_pull - status word [, text [, code [, dsn]]], checked into c->res */
static void fa_early_pull(lua_State *L, int nres, void *arg)
{
	struct fa_call *c = arg;
	struct filter_early_result *res = c->res;
	int base = lua_gettop(L) - nres + 1;
	size_t len;

	luaL_checkstack(L, 4, "early results");
	if (nres < 4)
		lua_settop(L, lua_gettop(L) + 4 - nres);
	if (lua_isnil(L, base))
		return;
	if (lua_type(L, base) != LUA_TSTRING)
		luaL_error(L, "%s: the status must be a string (continue, accept, reject, tempfail, discard), not a %s",
			   c->callback, luaL_typename(L, base));
	const char *word = lua_tolstring(L, base, &len);
	int kind = -1;
	for (int k = FILTER_EARLY_CONTINUE; k <= FILTER_EARLY_DISCARD; k++)
		if (strlen(word) == len && strcasecmp(word, filter_early_kind_name((enum filter_early_kind)k)) == 0)
			kind = k;
	if (kind < 0) {
		char shown[33];
		luaL_error(L, "%s: unknown status \"%s\" (continue, accept, reject, tempfail, discard)", c->callback,
			   fa_clean(shown, sizeof(shown), word, len));
	}
	if (kind == FILTER_EARLY_REJECT || kind == FILTER_EARLY_TEMPFAIL) {
		struct fa_reply r = {res->code, res->dsn, res->text};
		fa_reply_args(L, base + 1, c->callback, kind == FILTER_EARLY_REJECT ? '5' : '4', &r);
	}
	res->kind = (enum filter_early_kind)kind;
}

/* filter_api_early - one early callback; see filter_api.h */
enum filter_status filter_api_early(struct filter_state *st, const char *callback,
				    const struct filter_early_args *a, struct filter_early_result *res,
				    unsigned long budget, char *err, size_t errlen)
{
	static const struct filter_early_args none;
	struct fa_call c = {.magic = FA_MAGIC, .early = a != NULL ? a : &none, .res = res};

	memset(res, 0, sizeof(*res));
	res->kind = FILTER_EARLY_CONTINUE;
	for (size_t k = 0; k < sizeof(fa_early_cbs) / sizeof(fa_early_cbs[0]); k++)
		if (strcmp(callback, fa_early_cbs[k].name) == 0) {
			c.callback = fa_early_cbs[k].name;
			c.args = fa_early_cbs[k].args;
		}
	if (c.callback == NULL) {
		util_errf(err, errlen, "%s: not an early callback", callback);
		return FILTER_ERROR;
	}
	enum filter_status s = filter_call(st, callback, fa_early_push, fa_early_pull, &c, budget, err, errlen);
	if (s != FILTER_OK) {
		memset(res, 0, sizeof(*res));
		res->kind = FILTER_EARLY_CONTINUE;
	}
	return s;
}

/* ---- message callbacks ---- */

/* fa_run - one message callback on what is left of the message's budget; undefined is fine */
static enum filter_status fa_run(struct filter_state *st, struct fa_call *c, const char *name, int part,
				 unsigned long budget, unsigned long *used, char *err, size_t errlen)
{
	struct filter_msg_ctx *ctx = c->ctx;

	if (*used >= budget) {
		util_errf(err, errlen, "%s: instruction budget exhausted (%lu for the whole message)", name, budget);
		return FILTER_BUDGET;
	}
	ctx->callback = name;
	ctx->current_part = part;
	enum filter_status s = filter_call(st, name, part < 0 ? fmo_push_msg : fmo_push_part, NULL, c,
					   budget - *used, err, errlen);
	*used += filter_state_used(st);
	ctx->callback = NULL;
	ctx->current_part = -1;
	return s == FILTER_UNDEFINED ? FILTER_OK : s;
}

/* filter_api_message - every message callback under one budget; see filter_api.h */
enum filter_status filter_api_message(struct filter_state *st, struct filter_msg_ctx *ctx,
				      unsigned long budget, char *err, size_t errlen)
{
	struct fa_call c = {.magic = FA_MAGIC, .ctx = ctx};
	size_t n = fmo_nparts(ctx);
	unsigned long used = 0;

	ctx->msg_ref = ctx->parts_ref = LUA_NOREF;
	ctx->current_part = -1;
	ctx->callback = NULL;
	if (ctx->out.nparts != n || ctx->out.part_action == NULL || n > INT_MAX) {
		util_errf(err, errlen, "filter: the outcome is for %zu parts, the message has %zu "
			  "(filter_outcome_init)", ctx->out.nparts, n);
		return FILTER_ERROR;
	}
	if (budget == 0)
		budget = FILTER_BUDGET_DEFAULT;
	enum filter_status s = fa_run(st, &c, "filter_begin", -1, budget, &used, err, errlen);
	for (size_t i = 0; i < n && s == FILTER_OK; i++)
		s = fa_run(st, &c, ctx->mime->parts[i].leaf ? "filter" : "filter_multipart", (int)i, budget,
			   &used, err, errlen);
	if (s == FILTER_OK)
		s = fa_run(st, &c, "filter_end", -1, budget, &used, err, errlen);
	fmo_unref(&c);
	return s;
}

/* ---- the refusal ---- */

/* fa_has_virus - any reading, any part */
static bool fa_has_virus(const struct inspect_result *insp)
{
	if (insp->scan.status == SCAN_VIRUS || insp->scan.nviruses > 0)
		return true;
	for (size_t i = 0; insp->parts != NULL && i < insp->nparts; i++)
		if (insp->parts[i].verdict != NULL && strcmp(insp->parts[i].verdict, "virus") == 0)
			return true;
	return false;
}

/* fa_robot_local - a local part that is a mailer, a postmaster or a list, ASCII case ignored */
static const char *fa_robot_local(const char *sender)
{
	const char *at = strrchr(sender, '@');
	size_t len = at != NULL ? (size_t)(at - sender) : strlen(sender);
	char local[FA_ADDR_MAX + 1];

	if (len > FA_ADDR_MAX)
		len = FA_ADDR_MAX;
	for (size_t i = 0; i < len; i++)
		local[i] = sender[i] >= 'A' && sender[i] <= 'Z' ? (char)(sender[i] - 'A' + 'a') : sender[i];
	local[len] = '\0';
	if (strcmp(local, "mailer-daemon") == 0 || strcmp(local, "postmaster") == 0)
		return "a mailer-daemon or postmaster address";
	if (strncmp(local, "owner-", 6) == 0 || (len >= 8 && strcmp(local + len - 8, "-request") == 0))
		return "a mailing list address (owner-*, *-request)";
	return NULL;
}

/* filter_notice_to_sender_allowed - the one rule for action_notify_sender; see filter_api.h */
bool filter_notice_to_sender_allowed(const struct inspect_result *insp, enum action final, const char *sender,
				     char *why, size_t whylen)
{
	const char *robot;

	if (insp == NULL) {
		util_errf(why, whylen, "refused: no scan result");
		return false;
	}
	if (fa_has_virus(insp)) {
		util_errf(why, whylen, "refused: the message has a virus (the sender is likely forged)");
		return false;
	}
	if (final != ACTION_ACCEPT) {
		util_errf(why, whylen, "refused: the final action is %s, not accept", policy_action_name(final));
		return false;
	}
	if (sender == NULL || *sender == '\0' || strcmp(sender, "<>") == 0) {
		util_errf(why, whylen, "refused: the null sender");
		return false;
	}
	for (const char *p = sender; *p != '\0'; p++)
		if (fa_is_ctl((unsigned char)*p)) {
			util_errf(why, whylen, "refused: the sender has control characters");
			return false;
		}
	if ((robot = fa_robot_local(sender)) != NULL) {
		util_errf(why, whylen, "refused: the sender is %s", robot);
		return false;
	}
	util_errf(why, whylen, "allowed");
	return true;
}
