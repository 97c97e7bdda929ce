/*
 * test_filter_api - the Lua filter API (src/filter_api.h is the spec):
 * the message object built from the real MIME parser and a fabricated
 * inspect result, every function and action and what it records, the
 * precedence of message actions, argument checks, the early callbacks,
 * one budget per message, the notice refusal, and escapes through the
 * API surface.
 *
 * Most checks run inside the filter: eq() raises an error naming the
 * field, and the C side asserts FILTER_OK (printing that error).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "filter_api.h"
#include "log.h"
#include "unit_fs.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TEST_MEM (8u << 20)
#define TEST_BUDGET 2000000UL

static char tdir[64];
static unsigned tseq;

/* The helper every test filter starts with. */
#define EQ                                                                                     \
	"local function eq(a, b, what)\n"                                                      \
	"  if a ~= b then error((what or '?') .. ': got ' .. tostring(a) .. ', want ' .. "    \
	"tostring(b), 2) end\n"                                                                \
	"end\n"

/* A message with a folded header, a nested multipart and a base64 attachment. */
static const char msg_main[] =
	"Return-Path: <alice@example.com>\r\n"
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.org\r\n"
	"Subject: Quarterly\r\n"
	" report\r\n"
	"X-Tab:\tvalue\twith tab\r\n"
	"Received: from a\r\n"
	"\tby b\r\n"
	"Received: from c\r\n"
	"X-Empty:\r\n"
	"X-Fold:\r\n"
	"   folded later\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=UTF-8\r\n"
	"\r\n"
	"Hello\r\n"
	"--XX\r\n"
	"Content-Type: multipart/alternative; boundary=\"YY\"\r\n"
	"\r\n"
	"--YY\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"alt\r\n"
	"--YY\r\n"
	"Content-Type: text/html; charset=us-ascii\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<p>alt=3D</p>\r\n"
	"--YY--\r\n"
	"--XX\r\n"
	"Content-Type: application/octet-stream; name=\"tool.EXE\"\r\n"
	"Content-Disposition: attachment; filename=\"tool.EXE\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"SGVsbG8gd29ybGQ=\r\n"
	"--XX--\r\n";

/* Three leaves: 1.1, 1.2, 1.3 (parts[1..3]). */
static const char msg_three[] = "Subject: three\n"
				"Content-Type: multipart/mixed; boundary=b\n"
				"\n"
				"--b\n"
				"\n"
				"one\n"
				"--b\n"
				"\n"
				"two\n"
				"--b\n"
				"Content-Type: application/octet-stream; name=\"x.com\"\n"
				"\n"
				"three\n"
				"--b--\n";

/* One test message and everything around it. */
struct tmsg {
	struct mime_message *m;
	struct inspect_result insp;
	struct envelope env;
	const char *rcpts[2];
	struct filter_msg_ctx ctx;
	struct filter_prog *prog;
	struct filter_state *st;
	char err[2048];
};

/* tfile - write text to a fresh file in the test directory; returns its path (static) */
static const char *tfile(const char *text)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/f%u.lua", tdir, tseq++);
	if (ufs_write(path, text, strlen(text)) != 0)
		fail_msg("cannot write %s", path);
	return path;
}

static struct filter_prog *tcompile_mem(const char *src, size_t mem)
{
	struct filter_opts opts = {.funcs = filter_api_funcs, .mem_limit = mem, .time_limit_ms = 20000};
	struct filter_prog *prog = NULL;
	char err[2048];

	if (filter_prog_compile(tfile(src), &opts, &prog, err, sizeof(err)) != 0)
		fail_msg("compile failed: %s\n--- source:\n%s", err, src);
	return prog;
}

static struct filter_state *tstate(const struct filter_prog *prog)
{
	struct filter_state *st = NULL;
	char err[2048];

	if (filter_state_new(prog, &st, err, sizeof(err)) != 0)
		fail_msg("state: %s", err);
	return st;
}

/* tinsp_fill - an inspect result for m as inspect.c records it: all clean */
static void tinsp_fill(struct inspect_result *r, const struct mime_message *m)
{
	memset(r, 0, sizeof(*r));
	r->parts = calloc(m->nparts, sizeof(*r->parts));
	assert_non_null(r->parts);
	r->nparts = m->nparts;
	for (size_t i = 0; i < m->nparts; i++) {
		struct inspect_part *o = &r->parts[i];
		snprintf(o->path, sizeof(o->path), "%s", m->parts[i].path);
		o->content_type = strdup(m->parts[i].content_type);
		o->filename = strdup(m->parts[i].filename);
		o->verdict = m->parts[i].leaf ? "clean" : "container";
		o->detail = strdup("");
	}
}

/* tinsp_virus - part i has these viruses (inspect_join's "a, b") */
static void tinsp_virus(struct inspect_result *r, size_t i, const char *names)
{
	r->parts[i].verdict = "virus";
	free(r->parts[i].detail);
	r->parts[i].detail = strdup(names);
}

/* tinsp_scan - the union verdict names these */
static void tinsp_scan(struct inspect_result *r, const char *const *names, size_t n)
{
	r->scan.status = SCAN_VIRUS;
	r->scan.viruses = calloc(n, sizeof(char *));
	assert_non_null(r->scan.viruses);
	for (size_t i = 0; i < n; i++)
		r->scan.viruses[i] = strdup(names[i]);
	r->scan.nviruses = n;
}

static void tinsp_free(struct inspect_result *r)
{
	for (size_t i = 0; i < r->scan.nviruses; i++)
		free(r->scan.viruses[i]);
	free(r->scan.viruses);
	for (size_t i = 0; i < r->nparts; i++) {
		free(r->parts[i].content_type);
		free(r->parts[i].filename);
		free(r->parts[i].detail);
	}
	free(r->parts);
	memset(r, 0, sizeof(*r));
}

static struct mime_message *tparse(const char *raw, size_t len)
{
	struct mime_parser *p = mime_parser_new(NULL, NULL);

	assert_non_null(p);
	assert_int_equal(mime_parser_feed(p, raw, len), 0);
	struct mime_message *m = mime_parser_finish(p);
	assert_non_null(m);
	return m;
}

/* tmsg_open - parse raw, a clean inspect result, a full envelope, an empty outcome */
static void tmsg_open(struct tmsg *t, const char *raw)
{
	memset(t, 0, sizeof(*t));
	t->m = tparse(raw, strlen(raw));
	tinsp_fill(&t->insp, t->m);
	t->rcpts[0] = "bob@example.org";
	t->rcpts[1] = "carol@example.org";
	t->env = (struct envelope){
		.client_addr = "192.0.2.1",
		.client_name = "mx.example.com",
		.helo = "helo.example.com",
		.auth_user = "alice",
		.sender = "alice@example.com",
		.rcpts = t->rcpts,
		.nrcpts = 2,
		.queue_id = "4AbCdE",
		.origin = ORIGIN_INTERNAL,
	};
	t->ctx = (struct filter_msg_ctx){
		.env = &t->env, .mime = t->m, .insp = &t->insp, .verdict = VERDICT_CLEAN, .size = 12345};
	assert_int_equal(filter_outcome_init(&t->ctx.out, t->m->nparts), 0);
}

/* trun - compile src (once per tmsg) and run the message callbacks */
static enum filter_status trun(struct tmsg *t, const char *src, unsigned long budget)
{
	if (t->prog == NULL) {
		t->prog = tcompile_mem(src, TEST_MEM);
		t->st = tstate(t->prog);
	}
	t->err[0] = '\0';
	return filter_api_message(t->st, &t->ctx, budget, t->err, sizeof(t->err));
}

/* trun_ok - trun that must succeed */
static void trun_ok(struct tmsg *t, const char *src)
{
	enum filter_status s = trun(t, src, TEST_BUDGET);

	if (s != FILTER_OK)
		fail_msg("%s: %s\n--- source:\n%s", filter_status_name(s), t->err, src);
	assert_int_equal(t->ctx.msg_ref, LUA_NOREF);
	assert_int_equal(t->ctx.parts_ref, LUA_NOREF);
	assert_int_equal(t->ctx.current_part, -1);
}

static void tmsg_close(struct tmsg *t)
{
	filter_outcome_clear(&t->ctx.out);
	filter_state_free(t->st);
	filter_prog_free(t->prog);
	tinsp_free(&t->insp);
	mime_message_free(t->m);
	memset(t, 0, sizeof(*t));
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

/* test_message_object - every field of msg and of a part, the tables shared by every call, the order */
static void test_message_object(void **state)
{
	(void)state;
	static const char src[] =
		EQ "local M, order = nil, {}\n"
		"function filter_begin(msg)\n"
		"  M = msg\n"
		"  order[#order + 1] = 'begin'\n"
		"  eq(msg.sender, 'alice@example.com', 'sender')\n"
		"  eq(#msg.recipients, 2, '#recipients') eq(msg.recipients[1], 'bob@example.org', 'rcpt 1')\n"
		"  eq(msg.recipients[2], 'carol@example.org', 'rcpt 2')\n"
		"  eq(msg.client_addr, '192.0.2.1', 'client_addr') eq(msg.client_name, 'mx.example.com', 'name')\n"
		"  eq(msg.helo, 'helo.example.com', 'helo') eq(msg.auth_user, 'alice', 'auth_user')\n"
		"  eq(msg.queue_id, '4AbCdE', 'queue_id') eq(msg.origin, 'internal', 'origin')\n"
		"  eq(msg.size, 12345, 'size') eq(msg.subject, 'Quarterly report', 'subject')\n"
		"  eq(#msg.headers, 11, '#headers')\n"
		"  eq(msg.headers[1].name, 'Return-Path', 'h1') eq(msg.headers[1].value, '<alice@example.com>', 'v1')\n"
		"  eq(msg.headers[4].name, 'Subject', 'h4') eq(msg.headers[4].value, 'Quarterly report', 'v4')\n"
		"  eq(msg.headers[5].value, 'value\\twith tab', 'tab kept inside, trimmed ahead')\n"
		"  eq(msg.headers[6].value, 'from a\\tby b', 'unfolded with its TAB')\n"
		"  eq(msg.headers[7].value, 'from c', 'second Received')\n"
		"  eq(msg.headers[8].name, 'X-Empty', 'h8') eq(msg.headers[8].value, '', 'empty value')\n"
		"  eq(msg.headers[9].value, 'folded later', 'value on the continuation line')\n"
		"  eq(msg.headers[11].name, 'Content-Type', 'h11')\n"
		"  eq(msg.header.received, 'from a\\tby b', 'first Received') eq(msg.header['mime-version'], '1.0', 'mv')\n"
		"  eq(msg.header.Subject, nil, 'map keys are lower case') eq(msg.header.subject, 'Quarterly report', 's')\n"
		"  eq(msg.verdict, 'clean', 'verdict') eq(#msg.viruses, 0, '#viruses')\n"
		"  eq(msg.banned, nil, 'banned') eq(msg.limit, nil, 'limit') eq(#msg.flags, 0, '#flags')\n"
		"  eq(#msg.parts, 6, '#parts') eq(msg.root, msg.parts[1], 'root')\n"
		"  local r = msg.root\n"
		"  eq(r.index, 1, 'r.index') eq(r.path, '1', 'r.path') eq(r.type, 'multipart/mixed', 'r.type')\n"
		"  eq(r.parent, nil, 'r.parent') eq(#r.children, 3, '#r.children') eq(r.children[1], msg.parts[2], 'c1')\n"
		"  eq(r.children[2], msg.parts[3], 'c2') eq(r.children[3], msg.parts[6], 'c3')\n"
		"  eq(r.leaf, false, 'r.leaf') eq(r.sha256, '', 'r.sha256') eq(r.verdict, 'container', 'r.verdict')\n"
		"  eq(r.filename, '', 'r.filename') eq(r.extension, '', 'r.extension') eq(r.encoding, '7bit', 'r.enc')\n"
		"  local t = msg.parts[2]\n"
		"  eq(t.index, 2, 't.index') eq(t.path, '1.1', 't.path') eq(t.type, 'text/plain', 't.type')\n"
		"  eq(t.charset, 'utf-8', 't.charset') eq(t.parent, r, 't.parent') eq(t.leaf, true, 't.leaf')\n"
		"  eq(t.size, 5, 't.size') eq(t.verdict, 'clean', 't.verdict') eq(#t.children, 0, '#t.children')\n"
		"  eq(#t.filenames, 0, '#t.filenames') eq(#t.viruses, 0, '#t.viruses') eq(#t.flags, 0, '#t.flags')\n"
		"  eq(t.disposition, '', 't.disposition') eq(#t.sha256, 64, '#t.sha256')\n"
		"  local alt = msg.parts[3]\n"
		"  eq(alt.type, 'multipart/alternative', 'alt') eq(#alt.children, 2, '#alt.children')\n"
		"  local h = msg.parts[5]\n"
		"  eq(h.path, '1.2.2', 'h.path') eq(h.type, 'text/html', 'h.type') eq(h.charset, 'us-ascii', 'h.cs')\n"
		"  eq(h.encoding, 'quoted-printable', 'h.enc') eq(h.parent, alt, 'h.parent')\n"
		"  eq(h.parent.parent, r, 'grandparent') eq(alt.children[2], h, 'alt.children[2]')\n"
		"  local a = msg.parts[6]\n"
		"  eq(a.path, '1.3', 'a.path') eq(a.filename, 'tool.EXE', 'a.filename') eq(a.extension, '.exe', 'a.ext')\n"
		"  eq(a.filenames[1], 'tool.EXE', 'a.filenames[1]') eq(#a.filenames >= 1, true, '#a.filenames')\n"
		"  eq(a.disposition, 'attachment', 'a.disp') eq(a.encoding, 'base64', 'a.enc') eq(a.size, 11, 'a.size')\n"
		"  eq(a.sha256, '64ec88ca00b268e5ba1a35678a1b5316d212f4f366b2477232534a8aeca37f3c', 'a.sha256')\n"
		"  eq(a.type, 'application/octet-stream', 'a.type')\n"
		"  msg.note = 'from begin'\n"
		"end\n"
		"function filter(part, filename, ext, ty)\n"
		"  eq(part, M.parts[part.index], 'the same part table')\n"
		"  eq(filename, part.filename, 'filename') eq(ext, part.extension, 'ext') eq(ty, part.type, 'type')\n"
		"  eq(part.leaf, true, 'leaf')\n"
		"  order[#order + 1] = 'filter:' .. part.path\n"
		"  part.seen = true\n"
		"end\n"
		"function filter_multipart(part, filename, ext, ty)\n"
		"  eq(part.leaf, false, 'container') eq(ty, part.type, 'type') eq(ext, '', 'ext')\n"
		"  order[#order + 1] = 'multipart:' .. part.path\n"
		"end\n"
		"function filter_end(msg)\n"
		"  eq(msg, M, 'the same msg') eq(msg.note, 'from begin', 'a note kept') eq(msg.parts[6].seen, true, 'seen')\n"
		"  order[#order + 1] = 'end'\n"
		"  eq(table.concat(order, ','), 'begin,multipart:1,filter:1.1,multipart:1.2,filter:1.2.1,"
		"filter:1.2.2,filter:1.3,end', 'order')\n"
		"  order = {}\n"
		"end\n";
	struct tmsg t;

	tmsg_open(&t, msg_main);
	assert_int_equal(t.m->nparts, 6);
	trun_ok(&t, src);
	/* a second message on the same state gets fresh tables */
	trun_ok(&t, src);
	assert_int_equal(t.ctx.out.action, FILTER_MSG_NONE);
	assert_false(t.ctx.out.parts_changed);
	tmsg_close(&t);
}

/* test_message_absent - absent envelope values, the pipeline's subject, verdict fields and flags */
static void test_message_absent(void **state)
{
	(void)state;
	char src[2048];
	struct tmsg t;

	tmsg_open(&t, msg_main);
	t.env = (struct envelope){.sender = NULL, .rcpts = NULL, .nrcpts = 0, .origin = ORIGIN_EXTERNAL,
				  .queue_id = ""};
	t.ctx.subject = "Décodé";
	t.ctx.verdict = VERDICT_BANNED;
	t.insp.banned = true;
	snprintf(t.insp.banned_reason, sizeof(t.insp.banned_reason), "banned extension .exe in part 1.3");
	t.insp.limit = MIME_LIMIT_DEPTH;
	snprintf(t.insp.limit_detail, sizeof(t.insp.limit_detail), "nesting depth 21 over 20");
	t.insp.flags = MIME_DUP_CTE | MIME_PARTIAL;
	t.insp.parts[2].verdict = "banned";
	free(t.insp.parts[2].detail);
	t.insp.parts[2].detail = strdup("a reason, with a comma");
	snprintf(src, sizeof(src),
		 EQ "function filter_begin(msg)\n"
		 "  eq(msg.sender, '', 'sender') eq(#msg.recipients, 0, 'rcpts') eq(msg.client_addr, '', 'addr')\n"
		 "  eq(msg.client_name, '', 'name') eq(msg.helo, '', 'helo') eq(msg.auth_user, nil, 'auth')\n"
		 "  eq(msg.queue_id, nil, 'qid') eq(msg.origin, 'external', 'origin') eq(msg.subject, 'Décodé', 'subj')\n"
		 "  eq(msg.verdict, 'banned', 'verdict') eq(msg.banned, 'banned extension .exe in part 1.3', 'banned')\n"
		 "  eq(msg.limit, 'nesting depth 21 over 20', 'limit')\n"
		 "  eq(#msg.flags, 2, '#flags') eq(msg.flags[1], '%s', 'flag 1') eq(msg.flags[2], '%s', 'flag 2')\n"
		 "  eq(msg.parts[3].verdict, 'banned', 'part verdict') eq(#msg.parts[3].viruses, 0, 'no viruses')\n"
		 "end\n",
		 mime_flag_name(MIME_DUP_CTE), mime_flag_name(MIME_PARTIAL));
	trun_ok(&t, src);
	tmsg_close(&t);
}

/* test_headers - LF endings, folding, an mbox "From " line (no field), and the cap of 1000 fields */
static void test_headers(void **state)
{
	(void)state;
	static const char raw[] = "From sender@example.com Mon Jan  1 00:00:00 2024\n"
				  "Subject:\n"
				  "\tfolded\n"
				  "  twice\n"
				  "X-Colon-Later: a: b\n"
				  "x-lower: one\n"
				  "X-LOWER: two\n"
				  "X-Trail :  spaced  \n"
				  "\n"
				  "body\n";
	static const char src[] =
		EQ "function filter_begin(msg)\n"
		"  eq(#msg.headers, 5, '#headers')\n"
		"  eq(msg.headers[1].name, 'Subject', 'n1') eq(msg.headers[1].value, 'folded  twice', 'v1')\n"
		"  eq(msg.headers[2].value, 'a: b', 'v2')\n"
		"  eq(msg.header['x-lower'], 'one', 'first value') eq(msg.headers[4].value, 'two', 'v4')\n"
		"  eq(msg.headers[5].name, 'X-Trail', 'name trimmed') eq(msg.headers[5].value, 'spaced  ', 'v5')\n"
		"  eq(msg.subject, 'folded  twice', 'subject from the header')\n"
		"end\n";
	struct tmsg t;

	tmsg_open(&t, raw);
	trun_ok(&t, src);
	tmsg_close(&t);

	/* 1100 fields: the first 1000 */
	size_t cap = 1100 * 24 + 64, o = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	for (int i = 1; i <= 1100; i++)
		o += (size_t)snprintf(big + o, cap - o, "X-H%d: %d\n", i, i);
	snprintf(big + o, cap - o, "\nbody\n");
	tmsg_open(&t, big);
	trun_ok(&t, EQ "function filter_begin(msg)\n"
		       "  eq(#msg.headers, 1000, '#headers') eq(msg.headers[1000].value, '1000', 'last')\n"
		       "  eq(msg.header['x-h1001'], nil, 'past the cap')\n"
		       "end\n");
	tmsg_close(&t);
	free(big);
}

/* test_virus_queries - message_contains_virus, entity_contains_virus, part viruses, msg.viruses */
static void test_virus_queries(void **state)
{
	(void)state;
	static const char *const scanned[] = {"Eicar-Test", "Header.Virus"};
	static const char src[] =
		EQ "local function names(t) return table.concat(t, '|') end\n"
		"function filter_begin(msg)\n"
		"  local inf, n = message_contains_virus()\n"
		"  eq(inf, true, 'infected') eq(names(n), 'Eicar-Test|Header.Virus|Other.Virus', 'names')\n"
		"  eq(names(msg.viruses), 'Eicar-Test|Header.Virus|Other.Virus', 'msg.viruses')\n"
		"  eq(msg.parts[6].verdict, 'virus', 'verdict')\n"
		"  eq(names(msg.parts[6].viruses), 'Eicar-Test|Other.Virus', 'part viruses, split')\n"
		"  inf, n = entity_contains_virus(msg.parts[3])\n"
		"  eq(inf, false, 'alternative clean') eq(#n, 0, 'no names')\n"
		"  inf, n = entity_contains_virus(msg.root)\n"
		"  eq(inf, true, 'root') eq(names(n), 'Eicar-Test|Other.Virus', 'root names')\n"
		"end\n"
		"function filter(part)\n"
		"  local inf, n = entity_contains_virus()\n"
		"  eq(inf, part.index == 6, 'the current part ' .. part.path)\n"
		"end\n";
	struct tmsg t;

	tmsg_open(&t, msg_main);
	tinsp_scan(&t.insp, scanned, NELEM(scanned));
	tinsp_virus(&t.insp, 5, "Eicar-Test, Other.Virus");
	trun_ok(&t, src);
	tmsg_close(&t);

	/* clean: false and no names */
	tmsg_open(&t, msg_main);
	trun_ok(&t, EQ "function filter_begin(msg)\n"
		       "  local inf, n = message_contains_virus() eq(inf, false, 'clean') eq(#n, 0, 'no names')\n"
		       "end\n");
	tmsg_close(&t);

	/* inspect knows fewer parts, or other paths: those are unscanned, never clean */
	tmsg_open(&t, msg_main);
	snprintf(t.insp.parts[1].path, sizeof(t.insp.parts[1].path), "9.9");
	t.insp.nparts = 4; /* tinsp_free frees what it counts; restore below */
	trun_ok(&t, EQ "function filter_begin(msg)\n"
		       "  eq(msg.parts[1].verdict, 'container', 'p1') eq(msg.parts[2].verdict, 'unscanned', 'path differs')\n"
		       "  eq(msg.parts[4].verdict, 'clean', 'p4') eq(msg.parts[5].verdict, 'unscanned', 'p5')\n"
		       "  eq(msg.parts[6].verdict, 'unscanned', 'p6')\n"
		       "end\n");
	t.insp.nparts = 6;
	tmsg_close(&t);

	/* no inspect result at all */
	tmsg_open(&t, msg_main);
	t.ctx.insp = NULL;
	trun_ok(&t, EQ "function filter_begin(msg)\n"
		       "  eq(msg.parts[6].verdict, 'unscanned', 'p6') eq(#msg.viruses, 0, 'viruses')\n"
		       "  eq(message_contains_virus(), false, 'nothing known')\n"
		       "end\n");
	tmsg_close(&t);
}

/* test_part_body - decoded bytes, a max, containers, the default part, bad max */
static void test_part_body(void **state)
{
	(void)state;
	static const char src[] = EQ "function filter_begin(msg)\n"
				     "  eq(part_body(msg.parts[2]), 'Hello', 'text')\n"
				     "  eq(part_body(msg.parts[6]), 'Hello world', 'base64 decoded')\n"
				     "  eq(part_body(msg.parts[6], 5), 'Hello', 'max')\n"
				     "  eq(part_body(msg.parts[6], 0), '', 'max 0')\n"
				     "  eq(part_body(msg.parts[5]), '<p>alt=</p>', 'quoted-printable decoded')\n"
				     "  eq(part_body(msg.parts[3]), '', 'container')\n"
				     "end\n"
				     "function filter(part)\n"
				     "  eq(#part_body(), part.size, 'the current part')\n"
				     "end\n";
	struct tmsg t;

	tmsg_open(&t, msg_main);
	trun_ok(&t, src);
	tmsg_close(&t);
}

/* Message actions: the strongest wins, a later one of equal strength replaces. */
static const struct {
	const char *begin, *end;
	enum filter_msg_action action;
	const char *code, *dsn, *text;
} msg_actions[] = {
	{"", "", FILTER_MSG_NONE, "", "", ""},
	{"action_accept()", "", FILTER_MSG_ACCEPT, "", "", ""},
	{"action_discard()", "action_accept()", FILTER_MSG_DISCARD, "", "", ""},
	{"action_accept()", "action_discard()", FILTER_MSG_DISCARD, "", "", ""},
	{"action_bounce('no')", "action_discard() action_accept()", FILTER_MSG_BOUNCE, "554", "5.7.1", "no"},
	{"action_bounce()", "", FILTER_MSG_BOUNCE, "554", "5.7.1", "Rejected by policy"},
	{"action_bounce('', '', '')", "", FILTER_MSG_BOUNCE, "554", "5.7.1", "Rejected by policy"},
	{"action_bounce('first')", "action_bounce('second', '550', '5.7.0')", FILTER_MSG_BOUNCE, "550", "5.7.0",
	 "second"},
	{"action_bounce('n', 550, '5.1.10')", "", FILTER_MSG_BOUNCE, "550", "5.1.10", "n"},
	{"action_bounce('tab\\there')", "", FILTER_MSG_BOUNCE, "554", "5.7.1", "tab\there"},
	/* texts are cleaned, never refused: the sender chooses much of them */
	{"action_bounce('a\\r\\nb')", "", FILTER_MSG_BOUNCE, "554", "5.7.1", "a  b"},
	{"action_bounce('a\\0b\\27c')", "", FILTER_MSG_BOUNCE, "554", "5.7.1", "a?b?c"},
	{"action_bounce(string.rep('x', 399) .. '\\u{e9}')", "", FILTER_MSG_BOUNCE, "554", "5.7.1",
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	{"action_tempfail('x\\ry')", "", FILTER_MSG_TEMPFAIL, "451", "4.7.1", "x y"},
	{"action_tempfail()", "action_bounce('x') action_accept()", FILTER_MSG_TEMPFAIL, "451", "4.7.1",
	 "Try again later"},
	{"action_bounce('x')", "action_tempfail('later', 421, '4.3.2')", FILTER_MSG_TEMPFAIL, "421", "4.3.2", "later"},
	{"action_tempfail('a')", "action_tempfail('b', '452', '4.2.123')", FILTER_MSG_TEMPFAIL, "452", "4.2.123", "b"},
	{"action_discard()", "action_bounce('late')", FILTER_MSG_BOUNCE, "554", "5.7.1", "late"},
};

/* test_message_actions - what is recorded, across filter_begin, filter and filter_end */
static void test_message_actions(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(msg_actions); i++) {
		char src[1024];
		struct tmsg t;
		snprintf(src, sizeof(src),
			 "function filter_begin(msg)\n  %s\nend\n"
			 "function filter(part) if part.index == 2 then action_accept() end end\n"
			 "function filter_end(msg)\n  %s\nend\n",
			 msg_actions[i].begin, msg_actions[i].end);
		tmsg_open(&t, msg_main);
		enum filter_status s = trun(&t, src, TEST_BUDGET);
		const struct filter_outcome *o = &t.ctx.out;
		enum filter_msg_action want = msg_actions[i].action == FILTER_MSG_NONE ? FILTER_MSG_ACCEPT
											  : msg_actions[i].action;
		if (s != FILTER_OK || o->action != want || strcmp(o->code, msg_actions[i].code) != 0 ||
		    strcmp(o->dsn, msg_actions[i].dsn) != 0 || strcmp(o->text, msg_actions[i].text) != 0)
			fail_msg("row %zu: %s %s: %s %s %s \"%s\", want %s %s %s \"%s\"", i, filter_status_name(s), t.err,
				 filter_msg_action_name(o->action), o->code, o->dsn, o->text,
				 filter_msg_action_name(want), msg_actions[i].code, msg_actions[i].dsn,
				 msg_actions[i].text);
		tmsg_close(&t);
	}

	/* no action at all */
	struct tmsg t;
	tmsg_open(&t, msg_main);
	trun_ok(&t, "function filter_end(msg) end\n");
	assert_int_equal(t.ctx.out.action, FILTER_MSG_NONE);
	tmsg_close(&t);
}

/* Bad arguments: each body in filter_begin (line 1) fails, the error names the function. */
static const struct {
	const char *body;
	const char *want;
} bad_args[] = {
	{"action_bounce('x', '451')", "action_bounce: SMTP code 451 is not a 5xx code"},
	{"action_bounce('x', '55')", "action_bounce: the SMTP code must be three digits"},
	{"action_bounce('x', '5500')", "action_bounce: the SMTP code must be three digits"},
	{"action_bounce('x', 'abc')", "action_bounce: the SMTP code must be three digits"},
	{"action_bounce('x', 550.5)", "action_bounce: the SMTP code must be three digits"},
	{"action_bounce('x', '550', '4.7.1')", "action_bounce: DSN code 4.7.1 is not a 5.x.x code"},
	{"action_bounce('x', '550', '5.7')", "action_bounce: the DSN code must be d.ddd.ddd"},
	{"action_bounce('x', '550', '5.1234.1')", "action_bounce: the DSN code must be d.ddd.ddd"},
	{"action_bounce('x', '550', '5.1.1.')", "action_bounce: the DSN code must be d.ddd.ddd"},
	{"action_bounce('x', '550', '55.1.1')", "action_bounce: the DSN code must be d.ddd.ddd"},
	{"action_bounce('x', '550', {})", "action_bounce: the DSN code must be a string"},
	{"action_bounce({})", "action_bounce: the text must be a string, not a table"},
	{"action_tempfail('x', '550')", "action_tempfail: SMTP code 550 is not a 4xx code"},
	{"action_tempfail('x', '451', '5.7.1')", "action_tempfail: DSN code 5.7.1 is not a 4.x.x code"},
	{"action_add_header('X Bad', 'v')", "action_add_header: the header name must be"},
	{"action_add_header('X:Bad', 'v')", "action_add_header: the header name must be"},
	{"action_add_header('', 'v')", "action_add_header: the header name must be"},
	{"action_add_header(nil, 'v')", "action_add_header: the header name must be"},
	{"action_add_header('X-\\200', 'v')", "action_add_header: the header name must be"},
	{"action_add_header(string.rep('a', 129), 'v')", "action_add_header: the header name must be"},
	{"action_add_header('X-Ok')", "action_add_header: the header value is required"},
	{"action_change_header('X-Ok', 'v', 0)", "action_change_header: the index must be"},
	{"action_change_header('X-Ok', 'v', 1.5)", "action_change_header: the index must be"},
	{"action_change_header('X-Ok', 'v', 'x')", "action_change_header: the index must be"},
	{"action_delete_header('X-Ok', -1)", "action_delete_header: the index must be"},
	{"action_delete_all_headers('X Ok')", "action_delete_all_headers: the header name must be"},
	{"add_recipient('<a@example.com>')", "add_recipient: the address has a space"},
	{"add_recipient('a b@example.com')", "add_recipient: the address has a space"},
	{"add_recipient('a\\n@example.com')", "add_recipient: the address has a space"},
	{"add_recipient('')", "add_recipient: the address must be 1 to 320 bytes"},
	{"add_recipient()", "add_recipient: the address must be 1 to 320 bytes"},
	{"add_recipient(string.rep('a', 321))", "add_recipient: the address must be 1 to 320 bytes"},
	{"delete_recipient('a>')", "delete_recipient: the address has a space"},
	{"change_sender('a\\tb@example.com')", "change_sender: the address has a space"},
	{"action_drop_with_warning()", "action_drop_with_warning: the warning is required"},
	{"action_drop({index = 99})", "action_drop: the part table has no valid index (1..6)"},
	{"action_drop({index = 0})", "action_drop: the part table has no valid index"},
	{"action_drop({})", "action_drop: the part table has no valid index"},
	{"action_drop('1.2')", "action_drop: the part must be a part table, not a string"},
	{"action_drop()", "action_drop: give the part: filter_begin has no current part"},
	{"action_accept_part()", "action_accept_part: give the part"},
	{"action_quarantine(nil, 'why')", "action_quarantine: give the part"},
	{"entity_contains_virus()", "entity_contains_virus: give the part"},
	{"part_body()", "part_body: give the part"},
	{"part_body(msg.parts[2], -1)", "part_body: max must be a whole number >= 0"},
	{"part_body(msg.parts[2], 'x')", "part_body: max must be a whole number >= 0"},
	{"action_notify_sender()", "action_notify_sender: the text is required"},
	{"md_syslog('loud', 'x')", "md_syslog: unknown priority"},
	{"md_syslog('info')", "bad argument #2 to 'md_syslog'"},
};

/* test_bad_args - FILTER_ERROR, "FILE:1: function: why", nothing recorded */
static void test_bad_args(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(bad_args); i++) {
		char src[1024], want[1200];
		struct tmsg t;
		snprintf(src, sizeof(src), "function filter_begin(msg) %s end\n", bad_args[i].body);
		tmsg_open(&t, msg_main);
		enum filter_status s = trun(&t, src, TEST_BUDGET);
		snprintf(want, sizeof(want), "%s:1: %s", filter_prog_path(t.prog), bad_args[i].want);
		if (s != FILTER_ERROR || strncmp(t.err, want, strlen(want)) != 0)
			fail_msg("row %zu: %s: %s \"%s\", want \"%s\"", i, bad_args[i].body, filter_status_name(s), t.err,
				 want);
		assert_int_equal(t.ctx.out.action, FILTER_MSG_NONE);
		assert_int_equal(t.ctx.out.nhdrs + t.ctx.out.nrcpts + t.ctx.out.nnotices, 0);
		assert_false(t.ctx.out.parts_changed);
		assert_int_equal(t.ctx.msg_ref, LUA_NOREF);
		tmsg_close(&t);
	}
}

/* test_part_actions - each part action, the default part, the last one standing, accept_part */
static void test_part_actions(void **state)
{
	(void)state;
	static const char src[] =
		"function filter(part, filename, ext, ty)\n"
		"  if part.path == '1.1' then action_drop()\n"
		"  elseif part.path == '1.2.1' then action_replace_with_warning('replaced\\there')\n"
		"  elseif part.path == '1.2.2' then action_drop_with_warning('html removed')\n"
		"  elseif ext == '.exe' then action_drop() end\n"
		"end\n"
		"function filter_multipart(part) if part.path == '1.2' then action_drop(part) end end\n"
		"function filter_end(msg)\n"
		"  action_accept_part(msg.parts[3])\n"
		"  action_quarantine(msg.parts[6], 'executable attachment')\n"
		"end\n";
	struct tmsg t;

	tmsg_open(&t, msg_main);
	trun_ok(&t, src);
	const struct filter_outcome *o = &t.ctx.out;
	assert_int_equal(o->nparts, 6);
	assert_true(o->parts_changed);
	assert_int_equal(o->part_action[0], FILTER_PART_KEEP);
	assert_int_equal(o->part_action[1], FILTER_PART_DROP);
	assert_null(o->part_text[1]);
	assert_int_equal(o->part_action[2], FILTER_PART_KEEP);
	assert_int_equal(o->part_action[3], FILTER_PART_REPLACE_WARN);
	assert_string_equal(o->part_text[3], "replaced\there");
	assert_int_equal(o->part_action[4], FILTER_PART_DROP_WARN);
	assert_string_equal(o->part_text[4], "html removed");
	assert_false(o->part_quarantine[4]);
	assert_int_equal(o->part_action[5], FILTER_PART_DROP_WARN);
	assert_true(o->part_quarantine[5]);
	assert_string_equal(o->part_reason[5], "executable attachment");
	assert_non_null(strstr(o->part_text[5], "\"tool.EXE\""));
	assert_non_null(strstr(o->part_text[5], "(executable attachment)"));
	assert_non_null(strstr(o->part_text[5], "quarantine"));
	assert_string_equal(filter_part_action_name(FILTER_PART_DROP_WARN), "drop_with_warning");
	assert_int_equal(o->action, FILTER_MSG_NONE);
	tmsg_close(&t);

	/* every action undone: nothing changed; a part without a name is described by path and type */
	tmsg_open(&t, msg_main);
	trun_ok(&t, "function filter(part) action_drop_with_warning('w') action_accept_part() end\n"
		    "function filter_end(msg)\n"
		    "  action_quarantine(msg.parts[2])\n"
		    "  action_drop(msg.parts[4]) action_accept_part(msg.parts[4])\n"
		    "end\n");
	assert_true(t.ctx.out.parts_changed);
	assert_int_equal(t.ctx.out.part_action[1], FILTER_PART_DROP_WARN);
	assert_null(t.ctx.out.part_reason[1]);
	assert_non_null(strstr(t.ctx.out.part_text[1], "part 1.1, text/plain"));
	for (size_t i = 2; i < 6; i++)
		assert_int_equal(t.ctx.out.part_action[i], FILTER_PART_KEEP);
	tmsg_close(&t);

	tmsg_open(&t, msg_main);
	trun_ok(&t, "function filter(part) action_quarantine(nil, 'x') action_accept_part() end\n");
	assert_false(t.ctx.out.parts_changed);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(t.ctx.out.part_action[i], FILTER_PART_KEEP);
		assert_false(t.ctx.out.part_quarantine[i]);
		assert_null(t.ctx.out.part_text[i]);
		assert_null(t.ctx.out.part_reason[i]);
	}
	tmsg_close(&t);
}

/* test_edits - header and envelope edits, notices, the whole-message quarantine, and the caps */
static void test_edits(void **state)
{
	(void)state;
	static const char src[] = "function filter_begin(msg)\n"
				  "  action_add_header('X-Scanned', 'yes\\tindeed')\n"
				  "  action_change_header('Subject', '[ext] ' .. msg.subject)\n"
				  "  action_change_header('Received', 'x', 2)\n"
				  "  action_delete_header('X-Tab')\n"
				  "  action_delete_header('Received', 3)\n"
				  "  action_delete_all_headers('X-Empty')\n"
				  "  add_recipient('archive@example.com')\n"
				  "  delete_recipient('carol@example.org')\n"
				  "  change_sender('first@example.com')\n"
				  "  change_sender('bounces@example.com')\n"
				  "  action_notify_administrator('look at this')\n"
				  "  action_quarantine_entire_message()\n"
				  "end\n"
				  "function filter(part) if part.index == 2 then action_notify_sender('sorry') end end\n"
				  "function filter_end(msg) action_quarantine_entire_message('kept for audit') end\n";
	struct tmsg t;

	tmsg_open(&t, msg_main);
	trun_ok(&t, src);
	const struct filter_outcome *o = &t.ctx.out;
	assert_int_equal(o->nhdrs, 6);
	assert_int_equal(o->hdrs[0].op, FILTER_HDR_ADD);
	assert_string_equal(o->hdrs[0].name, "X-Scanned");
	assert_string_equal(o->hdrs[0].value, "yes\tindeed");
	assert_int_equal(o->hdrs[1].op, FILTER_HDR_CHANGE);
	assert_string_equal(o->hdrs[1].value, "[ext] Quarterly report");
	assert_int_equal(o->hdrs[1].index, 1);
	assert_int_equal(o->hdrs[2].index, 2);
	assert_int_equal(o->hdrs[3].op, FILTER_HDR_DELETE);
	assert_null(o->hdrs[3].value);
	assert_int_equal(o->hdrs[3].index, 1);
	assert_int_equal(o->hdrs[4].index, 3);
	assert_int_equal(o->hdrs[5].op, FILTER_HDR_DELETE_ALL);
	assert_string_equal(o->hdrs[5].name, "X-Empty");
	assert_int_equal(o->nrcpts, 2);
	assert_true(o->rcpts[0].add);
	assert_string_equal(o->rcpts[0].addr, "archive@example.com");
	assert_false(o->rcpts[1].add);
	assert_string_equal(o->rcpts[1].addr, "carol@example.org");
	assert_string_equal(o->new_sender, "bounces@example.com");
	assert_int_equal(o->nnotices, 2);
	assert_false(o->notices[0].to_sender);
	assert_string_equal(o->notices[0].text, "look at this");
	assert_string_equal(o->notices[0].callback, "filter_begin");
	assert_true(o->notices[1].to_sender);
	assert_string_equal(o->notices[1].callback, "filter");
	assert_true(o->quarantine_message);
	assert_string_equal(o->quarantine_reason, "kept for audit");
	tmsg_close(&t);

	/* each list is bounded: its memory is outside the state's cap */
	static const char *const caps[] = {"action_add_header('X-A', 'v')", "add_recipient('a@example.com')",
					   "action_notify_administrator('n')"};
	for (size_t i = 0; i < NELEM(caps); i++) {
		char loop[256];
		snprintf(loop, sizeof(loop), "function filter_begin(msg) for i = 1, 1001 do %s end end\n", caps[i]);
		tmsg_open(&t, msg_main);
		assert_int_equal(trun(&t, loop, TEST_BUDGET), FILTER_ERROR);
		assert_non_null(strstr(t.err, "more than 1000"));
		assert_int_equal(t.ctx.out.nhdrs + t.ctx.out.nrcpts + t.ctx.out.nnotices, 1000);
		tmsg_close(&t);
	}

	/* a reason longer than the field is cut on a character boundary */
	tmsg_open(&t, msg_main);
	trun_ok(&t, "function filter_begin(msg) action_quarantine_entire_message(string.rep('é', 200)) end\n");
	assert_int_equal(strlen(t.ctx.out.quarantine_reason), 254);
	tmsg_close(&t);
}

/* Early callbacks: the status words, defaults and checks. */
static const struct {
	const char *ret;
	enum filter_status status;
	enum filter_early_kind kind;
	const char *code, *dsn, *text; /* or, for an error, a piece of err */
} early_rows[] = {
	{"", FILTER_OK, FILTER_EARLY_CONTINUE, "", "", ""},
	{"return nil", FILTER_OK, FILTER_EARLY_CONTINUE, "", "", ""},
	{"return 'CONTINUE'", FILTER_OK, FILTER_EARLY_CONTINUE, "", "", ""},
	{"return 'accept'", FILTER_OK, FILTER_EARLY_ACCEPT, "", "", ""},
	{"return 'Discard', 'ignored\\n', 'x'", FILTER_OK, FILTER_EARLY_DISCARD, "", "", ""},
	{"return 'reject'", FILTER_OK, FILTER_EARLY_REJECT, "554", "5.7.1", "Rejected by policy"},
	{"return 'REJECT', 'go away', '550', '5.7.26'", FILTER_OK, FILTER_EARLY_REJECT, "550", "5.7.26", "go away"},
	{"return 'reject', 'n', 521", FILTER_OK, FILTER_EARLY_REJECT, "521", "5.7.1", "n"},
	{"return 'tempfail'", FILTER_OK, FILTER_EARLY_TEMPFAIL, "451", "4.7.1", "Try again later"},
	{"return 'tempfail', 'busy', 421, '4.3.2'", FILTER_OK, FILTER_EARLY_TEMPFAIL, "421", "4.3.2", "busy"},
	{"return 'reject', 'x', '451'", FILTER_ERROR, 0, "filter_sender: SMTP code 451 is not a 5xx code", 0, 0},
	{"return 'tempfail', 'x', '550'", FILTER_ERROR, 0, "filter_sender: SMTP code 550 is not a 4xx code", 0, 0},
	{"return 'reject', 'x', '550', '4.7.1'", FILTER_ERROR, 0, "filter_sender: DSN code 4.7.1 is not a 5.x.x", 0,
	 0},
	{"return 'tempfail', 'x', '451', '5.7.1'", FILTER_ERROR, 0, "filter_sender: DSN code 5.7.1 is not a 4.x.x",
	 0, 0},
	{"return 'reject', 'x', '5x0'", FILTER_ERROR, 0, "filter_sender: the SMTP code must be three digits", 0, 0},
	{"return 'reject', 'x', '550', '5.7.1.1'", FILTER_ERROR, 0, "filter_sender: the DSN code must be", 0, 0},
	{"return 'bogus'", FILTER_ERROR, 0, "filter_sender: unknown status \"bogus\"", 0, 0},
	{"return 'accept '", FILTER_ERROR, 0, "filter_sender: unknown status", 0, 0},
	{"return 'acc\\0ept'", FILTER_ERROR, 0, "filter_sender: unknown status \"acc?ept\"", 0, 0},
	{"return 42", FILTER_ERROR, 0, "filter_sender: the status must be a string", 0, 0},
	{"return 'reject', 'a\\r\\n250 ok'", FILTER_OK, FILTER_EARLY_REJECT, "554", "5.7.1", "a  250 ok"},
	{"return 'tempfail', 'x\\27y'", FILTER_OK, FILTER_EARLY_TEMPFAIL, "451", "4.7.1", "x?y"},
	{"return 'reject', {}", FILTER_ERROR, 0, "filter_sender: the text must be a string", 0, 0},
	{"action_bounce('x')", FILTER_ERROR, 0, "action_bounce: no message here", 0, 0},
	{"message_contains_virus()", FILTER_ERROR, 0, "message_contains_virus: no message here", 0, 0},
	{"while true do end", FILTER_BUDGET, 0, "instruction budget", 0, 0},
};

/* test_early - each status word, the defaults, every check, the result reset on errors */
static void test_early(void **state)
{
	(void)state;
	struct filter_early_args a = {.ip = "192.0.2.1", .name = "mx.example.com", .helo = "helo",
				      .sender = "alice@example.com"};

	for (size_t i = 0; i < NELEM(early_rows); i++) {
		char src[512], err[1024] = "";
		struct filter_early_result res;
		snprintf(src, sizeof(src), "function filter_sender(s, ip, name, helo, info)\n  %s\nend\n",
			 early_rows[i].ret);
		struct filter_prog *prog = tcompile_mem(src, TEST_MEM);
		struct filter_state *st = tstate(prog);
		memset(&res, 0x55, sizeof(res));
		enum filter_status s = filter_api_early(st, "filter_sender", &a, &res, 100000, err, sizeof(err));
		if (s != early_rows[i].status)
			fail_msg("row %zu: %s: %s %s", i, early_rows[i].ret, filter_status_name(s), err);
		if (s == FILTER_OK) {
			if (res.kind != early_rows[i].kind || strcmp(res.code, early_rows[i].code) != 0 ||
			    strcmp(res.dsn, early_rows[i].dsn) != 0 || strcmp(res.text, early_rows[i].text) != 0)
				fail_msg("row %zu: %s: %s %s %s \"%s\"", i, early_rows[i].ret,
					 filter_early_kind_name(res.kind), res.code, res.dsn, res.text);
		} else {
			if (strstr(err, early_rows[i].code) == NULL ||
			    strncmp(err, filter_prog_path(prog), strlen(filter_prog_path(prog))) != 0)
				fail_msg("row %zu: %s: err \"%s\", want \"%s\"", i, early_rows[i].ret, err,
					 early_rows[i].code);
			assert_int_equal(res.kind, FILTER_EARLY_CONTINUE);
			assert_string_equal(res.code, "");
			assert_string_equal(res.text, "");
		}
		filter_state_free(st);
		filter_prog_free(prog);
	}
	assert_string_equal(filter_early_kind_name(FILTER_EARLY_TEMPFAIL), "tempfail");
}

/* test_early_args - every callback's arguments, in MIMEDefang's order; undefined; not a callback */
static void test_early_args(void **state)
{
	(void)state;
	static const char src[] =
		EQ "function filter_relay(ip, name, extra)\n"
		"  eq(ip, '192.0.2.1', 'ip') eq(name, 'mx.example.com', 'name') eq(extra, nil, 'two args')\n"
		"  return 'accept'\n"
		"end\n"
		"function filter_helo(ip, name, helo)\n"
		"  eq(ip, '192.0.2.1', 'ip') eq(name, '', 'absent name') eq(helo, 'helo.example', 'helo')\n"
		"  return 'discard'\n"
		"end\n"
		"function filter_sender(sender, ip, name, helo, info)\n"
		"  eq(sender, '', 'null sender') eq(ip, '192.0.2.1', 'ip') eq(helo, 'helo.example', 'helo')\n"
		"  eq(info.auth_user, 'alice', 'auth') eq(info.origin, 'internal', 'origin') eq(info.queue_id, nil, 'qid')\n"
		"  return 'tempfail'\n"
		"end\n"
		"function filter_recipient(rcpt, sender, ip, name, first, helo, info)\n"
		"  eq(rcpt, 'bob@example.org', 'rcpt') eq(sender, '', 'sender') eq(ip, '192.0.2.1', 'ip')\n"
		"  eq(name, '', 'name') eq(first, 'alice@example.org', 'first') eq(helo, 'helo.example', 'helo')\n"
		"  eq(info.queue_id, 'Q1', 'qid') eq(info.origin, 'internal', 'origin')\n"
		"  return 'reject', 'no such user', '550', '5.1.1'\n"
		"end\n";
	struct filter_early_args a = {.ip = "192.0.2.1",
				      .name = NULL,
				      .helo = "helo.example",
				      .sender = "",
				      .rcpt = "bob@example.org",
				      .first = "alice@example.org",
				      .auth_user = "alice",
				      .queue_id = NULL,
				      .origin = ORIGIN_INTERNAL};
	struct filter_prog *prog = tcompile_mem(src, TEST_MEM);
	struct filter_state *st = tstate(prog);
	struct filter_early_result res;
	char err[1024];

	a.name = "mx.example.com";
	assert_int_equal(filter_api_early(st, "filter_relay", &a, &res, 0, err, sizeof(err)), FILTER_OK);
	assert_int_equal(res.kind, FILTER_EARLY_ACCEPT);
	a.name = NULL;
	if (filter_api_early(st, "filter_helo", &a, &res, 0, err, sizeof(err)) != FILTER_OK)
		fail_msg("filter_helo: %s", err);
	assert_int_equal(res.kind, FILTER_EARLY_DISCARD);
	if (filter_api_early(st, "filter_sender", &a, &res, 0, err, sizeof(err)) != FILTER_OK)
		fail_msg("filter_sender: %s", err);
	assert_int_equal(res.kind, FILTER_EARLY_TEMPFAIL);
	a.queue_id = "Q1";
	if (filter_api_early(st, "filter_recipient", &a, &res, 0, err, sizeof(err)) != FILTER_OK)
		fail_msg("filter_recipient: %s", err);
	assert_int_equal(res.kind, FILTER_EARLY_REJECT);
	assert_string_equal(res.code, "550");
	assert_string_equal(res.dsn, "5.1.1");
	assert_string_equal(res.text, "no such user");
	filter_state_free(st);
	filter_prog_free(prog);

	/* undefined: continue; not an early callback: an error; NULL args: all "" */
	prog = tcompile_mem("function filter_begin(msg) end\n"
			    "function filter_relay(ip, name) if ip == '' and name == '' then return 'accept' end end\n",
			    TEST_MEM);
	st = tstate(prog);
	memset(&res, 0x55, sizeof(res));
	assert_int_equal(filter_api_early(st, "filter_sender", &a, &res, 0, err, sizeof(err)), FILTER_UNDEFINED);
	assert_int_equal(res.kind, FILTER_EARLY_CONTINUE);
	assert_int_equal(filter_api_early(st, "filter_begin", &a, &res, 0, err, sizeof(err)), FILTER_ERROR);
	assert_non_null(strstr(err, "filter_begin: not an early callback"));
	assert_int_equal(res.kind, FILTER_EARLY_CONTINUE);
	assert_int_equal(filter_api_early(st, "filter_relay", NULL, &res, 0, err, sizeof(err)), FILTER_OK);
	assert_int_equal(res.kind, FILTER_EARLY_ACCEPT);
	filter_state_free(st);
	filter_prog_free(prog);
}

/* tmsg_many - a multipart/mixed with n text leaves */
static char *tmsg_many(int n)
{
	size_t cap = (size_t)n * 64 + 256, o = 0;
	char *raw = malloc(cap);

	assert_non_null(raw);
	o += (size_t)snprintf(raw + o, cap - o, "Subject: many\nContent-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(raw + o, cap - o, "--b\n\npart %d\n", i);
	snprintf(raw + o, cap - o, "--b--\n");
	return raw;
}

/* test_budget - one budget for the whole message; a loop in filter_begin; the state lives on */
static void test_budget(void **state)
{
	(void)state;
	static const char burn[] = "local seen = 0\n"
				   "function filter_begin(msg) seen = 0 end\n"
				   "function filter(part) seen = seen + 1 for i = 1, 5000 do end end\n"
				   "function filter_end(msg) action_bounce('parts ' .. seen) seen = 0 end\n";
	char *raw = tmsg_many(50);
	struct tmsg t;

	/* every call fits in 100 000 instructions; 50 of them do not */
	tmsg_open(&t, raw);
	assert_int_equal(t.m->nparts, 51);
	enum filter_status s = trun(&t, burn, 100000);
	if (s != FILTER_BUDGET)
		fail_msg("want budget, got %s %s", filter_status_name(s), t.err);
	assert_non_null(strstr(t.err, "instruction budget"));
	assert_int_equal(t.ctx.out.action, FILTER_MSG_NONE); /* filter_end never ran */
	assert_int_equal(t.ctx.msg_ref, LUA_NOREF);
	assert_int_equal(t.ctx.current_part, -1);
	assert_null(t.ctx.callback);
	/* the same state, a budget for all 50 */
	s = trun(&t, burn, 10000000);
	if (s != FILTER_OK)
		fail_msg("want ok, got %s %s", filter_status_name(s), t.err);
	assert_string_equal(t.ctx.out.text, "parts 50");
	tmsg_close(&t);
	free(raw);

	/* an endless loop in filter_begin, then in filter_end after filters that used some */
	static const char *const loops[] = {
		"function filter_begin(msg) while true do end end\n",
		"function filter(p) for i = 1, 1000 do end end\nfunction filter_end(msg) while true do end end\n",
		"function filter_begin(msg) local t = {} while true do t[#t % 10 + 1] = msg.parts end end\n",
	};
	for (size_t i = 0; i < NELEM(loops); i++) {
		tmsg_open(&t, msg_main);
		s = trun(&t, loops[i], 200000);
		if (s != FILTER_BUDGET || strstr(t.err, "instruction budget") == NULL)
			fail_msg("loop %zu: %s %s", i, filter_status_name(s), t.err);
		assert_int_equal(t.ctx.msg_ref, LUA_NOREF);
		tmsg_close(&t);
	}

	/* budget 0 means the default */
	tmsg_open(&t, msg_main);
	assert_int_equal(trun(&t, "function filter_begin(msg) for i = 1, 100000 do end end\n", 0), FILTER_OK);
	tmsg_close(&t);
}

/* test_memory - the message object is built in protected mode: the cap is an error, not a crash */
static void test_memory(void **state)
{
	(void)state;
	size_t cap = 1000 * 80 + 64, o = 0;
	char *raw = malloc(cap);
	assert_non_null(raw);
	for (int i = 0; i < 900; i++)
		o += (size_t)snprintf(raw + o, cap - o, "X-Long-Header-%03d: %050d\n", i, i);
	snprintf(raw + o, cap - o, "\nbody\n");

	struct tmsg t;
	tmsg_open(&t, raw);
	t.prog = tcompile_mem("function filter_begin(msg) action_accept() end\n", 160u << 10);
	t.st = tstate(t.prog);
	enum filter_status s = trun(&t, NULL, TEST_BUDGET);
	if (s != FILTER_MEMORY)
		fail_msg("want memory, got %s %s", filter_status_name(s), t.err);
	assert_int_equal(t.ctx.out.action, FILTER_MSG_NONE);
	tmsg_close(&t);
	free(raw);

	/* part_body of a leaf larger than the cap */
	size_t big = 600u << 10;
	raw = malloc(big + 128);
	assert_non_null(raw);
	o = (size_t)snprintf(raw, 128, "Subject: big\n\n");
	memset(raw + o, 'a', big);
	for (size_t k = 76; k < big; k += 77)
		raw[o + k] = '\n';
	strcpy(raw + o + big, "\n");
	tmsg_open(&t, raw);
	t.prog = tcompile_mem("function filter_begin(msg) local a, b = part_body(msg.root), part_body(msg.root) "
			      "return a .. b end\n",
			      1u << 20);
	t.st = tstate(t.prog);
	s = trun(&t, NULL, TEST_BUDGET);
	if (s != FILTER_MEMORY)
		fail_msg("part_body: want memory, got %s %s", filter_status_name(s), t.err);
	tmsg_close(&t);
	free(raw);
}

/* Functions that need a message, called while the chunk loads: a compile error at FILE:LINE. */
static const char *const load_time[] = {
	"message_contains_virus()",    "entity_contains_virus({index = 1})", "part_body({index = 1})",
	"action_accept()",             "action_bounce('x')",                 "action_tempfail()",
	"action_discard()",            "action_quarantine_entire_message()", "action_drop({index = 1})",
	"action_drop_with_warning('w')", "action_replace_with_warning('w')", "action_quarantine({index = 1})",
	"action_accept_part()",        "action_add_header('X-A', 'v')",      "action_change_header('X-A', 'v')",
	"action_delete_header('X-A')", "action_delete_all_headers('X-A')",   "add_recipient('a@example.com')",
	"delete_recipient('a@example.com')", "change_sender('a@example.com')", "action_notify_administrator('x')",
	"action_notify_sender('x')",
};

/* test_load_time - every such function refuses at load; md_syslog may log */
static void test_load_time(void **state)
{
	(void)state;
	struct filter_opts opts = {.funcs = filter_api_funcs, .mem_limit = TEST_MEM};

	for (size_t i = 0; i < NELEM(load_time); i++) {
		char src[512], err[1024] = "", want[256];
		struct filter_prog *prog = NULL;
		snprintf(src, sizeof(src), "local x = 1\n%s\n", load_time[i]);
		const char *path = tfile(src);
		if (filter_prog_compile(path, &opts, &prog, err, sizeof(err)) != -1)
			fail_msg("%s compiled", load_time[i]);
		snprintf(want, sizeof(want), "%s:2: %.*s: no message here", path,
			 (int)strcspn(load_time[i], "("), load_time[i]);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", load_time[i], err, want);
	}
	/* every function in the header is registered */
	for (size_t i = 0; i < NELEM(load_time); i++) {
		bool found = false;
		for (const struct filter_reg *r = filter_api_funcs; r->name != NULL; r++)
			if (strncmp(r->name, load_time[i], strcspn(load_time[i], "(")) == 0 &&
			    r->name[strcspn(load_time[i], "(")] == '\0')
				found = true;
		assert_true(found);
	}
	size_t n = 0;
	for (const struct filter_reg *r = filter_api_funcs; r->name != NULL; r++)
		n++;
	assert_int_equal(n, NELEM(load_time) + 1); /* and md_syslog */
	struct filter_prog *prog = tcompile_mem("md_syslog('debug', 'loaded')\n", TEST_MEM);
	filter_prog_free(prog);
}

/* tcapture - run fn with stderr going to a file; returns what it wrote (malloc'd) */
static char *tcapture(void (*fn)(void *), void *arg)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/stderr%u", tdir, tseq++);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	return ufs_read(path, NULL);
}

static void tsyslog_run(void *arg)
{
	struct tmsg *t = arg;
	enum filter_status s = trun(t, "function filter_begin(msg)\n"
				       "  md_syslog('info', 'hello\\nworld\\r\\27[31m')\n"
				       "  md_syslog('warning', 'careful')\n"
				       "  md_syslog('err', string.rep('x', 5000))\n"
				       "end\n"
				       "function filter_relay(ip) md_syslog('info', 'relay ' .. ip) end\n",
				    TEST_BUDGET);
	if (s != FILTER_OK)
		fail_msg("%s", t->err);
	struct filter_early_args a = {.ip = "192.0.2.9", .queue_id = "EARLY1"};
	struct filter_early_result res;
	assert_int_equal(filter_api_early(t->st, "filter_relay", &a, &res, 0, t->err, sizeof(t->err)), FILTER_OK);
	t->env.queue_id = NULL;
	assert_int_equal(trun(t, NULL, TEST_BUDGET), FILTER_OK);
}

/* test_md_syslog - one line per call, the queue id first, controls made harmless */
static void test_md_syslog(void **state)
{
	(void)state;
	struct tmsg t;

	log_open("klaxon-test", true);
	tmsg_open(&t, msg_main);
	char *out = tcapture(tsyslog_run, &t);
	tmsg_close(&t);
	assert_non_null(out);
	assert_non_null(strstr(out, "info: 4AbCdE: filter: hello?world??[31m\n"));
	assert_non_null(strstr(out, "warning: 4AbCdE: filter: careful\n"));
	assert_non_null(strstr(out, "EARLY1: filter: relay 192.0.2.9\n"));
	assert_non_null(strstr(out, "info: filter: hello?world")); /* no queue id */
	const char *x = strstr(out, "4AbCdE: filter: xxx");
	assert_non_null(x);
	assert_int_equal(strcspn(x + strlen("4AbCdE: filter: "), "\n"), 1000);
	free(out);
}

/* The refusal: (scan status, part with a virus, final, sender) -> allowed, and a word of why. */
static const struct {
	enum scan_status scan;
	int virus_part;
	enum action final;
	const char *sender;
	bool allowed;
	const char *why;
} refusals[] = {
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "alice@example.com", true, "allowed"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "requester@example.com", true, "allowed"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "owner@example.com", true, "allowed"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "postmaster-not@example.com", true, "allowed"},
	{SCAN_VIRUS, -1, ACTION_ACCEPT, "alice@example.com", false, "virus"},
	{SCAN_CLEAN, 3, ACTION_ACCEPT, "alice@example.com", false, "virus"},
	{SCAN_CLEAN, -1, ACTION_REJECT, "alice@example.com", false, "reject"},
	{SCAN_CLEAN, -1, ACTION_DISCARD, "alice@example.com", false, "discard"},
	{SCAN_CLEAN, -1, ACTION_TEMPFAIL, "alice@example.com", false, "tempfail"},
	{SCAN_ERROR, -1, ACTION_TEMPFAIL, "alice@example.com", false, "tempfail"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, NULL, false, "null sender"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "", false, "null sender"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "<>", false, "null sender"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "MAILER-DAEMON@example.com", false, "mailer-daemon"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "mailer-daemon", false, "mailer-daemon"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "Postmaster@example.com", false, "postmaster"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "owner-list@example.com", false, "list"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "OWNER-list@example.com", false, "list"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "list-request@example.com", false, "list"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "LIST-REQUEST@EXAMPLE.COM", false, "list"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "a\nb@example.com", false, "control"},
	{SCAN_CLEAN, -1, ACTION_ACCEPT, "a\x7f@example.com", false, "control"},
};

/* test_notice_rule - filter_notice_to_sender_allowed, every rule */
static void test_notice_rule(void **state)
{
	(void)state;
	struct mime_message *m = tparse(msg_three, strlen(msg_three));
	char why[200];

	for (size_t i = 0; i < NELEM(refusals); i++) {
		struct inspect_result r;
		tinsp_fill(&r, m);
		r.scan.status = refusals[i].scan;
		if (refusals[i].virus_part >= 0)
			tinsp_virus(&r, (size_t)refusals[i].virus_part, "Eicar");
		why[0] = '\0';
		bool ok = filter_notice_to_sender_allowed(&r, refusals[i].final, refusals[i].sender, why, sizeof(why));
		if (ok != refusals[i].allowed || strstr(why, refusals[i].why) == NULL)
			fail_msg("row %zu: %s \"%s\"", i, ok ? "allowed" : "refused", why);
		tinsp_free(&r);
	}
	/* names alone count as a virus, and no result at all is a refusal */
	struct inspect_result r;
	static const char *const one[] = {"Eicar"};
	tinsp_fill(&r, m);
	tinsp_scan(&r, one, 1);
	r.scan.status = SCAN_CLEAN;
	assert_false(filter_notice_to_sender_allowed(&r, ACTION_ACCEPT, "alice@example.com", why, sizeof(why)));
	tinsp_free(&r);
	assert_false(filter_notice_to_sender_allowed(NULL, ACTION_ACCEPT, "alice@example.com", why, sizeof(why)));
	mime_message_free(m);
}

/* test_notice_virus_later - queued in filter() of part 1, the virus only in part 3: refused */
static void test_notice_virus_later(void **state)
{
	(void)state;
	struct tmsg t;
	char why[200];

	tmsg_open(&t, msg_three);
	assert_int_equal(t.m->nparts, 4);
	tinsp_virus(&t.insp, 3, "Eicar-Test");
	trun_ok(&t, "function filter(part)\n"
		    "  if part.path == '1.1' then action_notify_sender('your message was filtered') end\n"
		    "end\n"
		    "function filter_end(msg) action_accept() end\n");
	assert_int_equal(t.ctx.out.nnotices, 1);
	assert_true(t.ctx.out.notices[0].to_sender);
	assert_string_equal(t.ctx.out.notices[0].callback, "filter");
	assert_int_equal(t.ctx.out.action, FILTER_MSG_ACCEPT);
	assert_false(filter_notice_to_sender_allowed(&t.insp, ACTION_ACCEPT, t.env.sender, why, sizeof(why)));
	assert_non_null(strstr(why, "virus"));
	tmsg_close(&t);
}

/* Escapes through the API surface: never a success, at load or when called. */
static const char *const api_escapes[] = {
	"os.execute('touch /tmp/klaxon-api-pwned')",
	"io.open('/tmp/klaxon-api-pwned', 'w')",
	"require('os')",
	"load('return 1')()",
	"loadfile('/etc/passwd')",
	"dofile('/etc/passwd')",
	"string.dump(action_accept)",
	"debug.getregistry()",
	"package.loadlib('libc.so.6', 'system')",
	"getmetatable(msg).__index = nil",
	"action_bounce(string.dump(action_accept))",
	"md_syslog('info', io)",
	"collectgarbage('collect')",
	"setmetatable(msg, {__gc = function() end})",
};

/* test_api_escapes - at load time and in filter_begin (with a message object in hand) */
static void test_api_escapes(void **state)
{
	(void)state;
	struct filter_opts opts = {.funcs = filter_api_funcs, .mem_limit = TEST_MEM};

	for (size_t i = 0; i < NELEM(api_escapes); i++) {
		char src[512], err[1024];
		struct filter_prog *prog = NULL;
		snprintf(src, sizeof(src), "local msg = {}\n%s\n", api_escapes[i]);
		if (filter_prog_compile(tfile(src), &opts, &prog, err, sizeof(err)) != -1)
			fail_msg("load %zu: %s compiled", i, api_escapes[i]);

		struct tmsg t;
		snprintf(src, sizeof(src), "function filter_begin(msg)\n  %s\nend\n", api_escapes[i]);
		tmsg_open(&t, msg_main);
		enum filter_status s = trun(&t, src, TEST_BUDGET);
		if (s != FILTER_ERROR || strstr(t.err, ":2: ") == NULL)
			fail_msg("call %zu: %s: %s %s", i, api_escapes[i], filter_status_name(s), t.err);
		assert_int_equal(t.ctx.out.action, FILTER_MSG_NONE);
		tmsg_close(&t);
	}
	assert_int_equal(access("/tmp/klaxon-api-pwned", F_OK), -1);
}

/* test_outcome - init and clear, a mismatched outcome refused, the names */
static void test_outcome(void **state)
{
	(void)state;
	struct filter_outcome o;

	assert_int_equal(filter_outcome_init(&o, 0), 0);
	assert_non_null(o.part_action);
	filter_outcome_clear(&o);
	assert_null(o.part_action);
	assert_int_equal(o.nparts, 0);
	filter_outcome_clear(&o); /* twice is harmless */

	struct tmsg t;
	tmsg_open(&t, msg_main);
	filter_outcome_clear(&t.ctx.out);
	assert_int_equal(filter_outcome_init(&t.ctx.out, 3), 0);
	assert_int_equal(trun(&t, "function filter_begin(msg) end\n", TEST_BUDGET), FILTER_ERROR);
	assert_non_null(strstr(t.err, "filter_outcome_init"));
	tmsg_close(&t);

	/* no message at all (never parsed): no parts, no headers */
	tmsg_open(&t, msg_main);
	filter_outcome_clear(&t.ctx.out);
	assert_int_equal(filter_outcome_init(&t.ctx.out, 0), 0);
	t.ctx.mime = NULL;
	trun_ok(&t, EQ "function filter_begin(msg) eq(#msg.parts, 0, 'parts') eq(msg.root, nil, 'root')\n"
		       "  eq(#msg.headers, 0, 'headers') eq(msg.subject, '', 'subject') action_accept() end\n");
	assert_int_equal(t.ctx.out.action, FILTER_MSG_ACCEPT);
	tmsg_close(&t);

	assert_string_equal(filter_msg_action_name(FILTER_MSG_BOUNCE), "bounce");
	assert_string_equal(filter_msg_action_name(FILTER_MSG_NONE), "none");
	assert_string_equal(filter_part_action_name(FILTER_PART_REPLACE_WARN), "replace_with_warning");
	assert_string_equal(filter_early_kind_name(FILTER_EARLY_CONTINUE), "continue");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_object),
		cmocka_unit_test(test_message_absent),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_virus_queries),
		cmocka_unit_test(test_part_body),
		cmocka_unit_test(test_message_actions),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_part_actions),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_early),
		cmocka_unit_test(test_early_args),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_load_time),
		cmocka_unit_test(test_md_syslog),
		cmocka_unit_test(test_notice_rule),
		cmocka_unit_test(test_notice_virus_later),
		cmocka_unit_test(test_api_escapes),
		cmocka_unit_test(test_outcome),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
