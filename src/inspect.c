/*
 * inspect - the MIME-aware scan of one message. See inspect.h.
 */
#include "inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archnames.h"
#include "banned.h"
#include "vcache.h"

/* A payload already judged in this message, so other readings reuse it. */
struct inspect_seen {
	unsigned char sha[32];
	const char *verdict;
	char *detail;
	bool cached;
};

struct inspect_ctx {
	struct snapshot *snap;
	struct inspect_result *r;
	struct inspect_seen *seen;
	size_t nseen, cap;
	bool any_error;
	char error[256];
};

/* inspect_add_virus - add a name to the union, once */
static void inspect_add_virus(struct inspect_ctx *c, const char *name)
{
	struct scan_verdict *v = &c->r->scan;
	for (size_t i = 0; i < v->nviruses; i++)
		if (strcmp(v->viruses[i], name) == 0)
			return;
	char **bigger = realloc(v->viruses, (v->nviruses + 1) * sizeof(*bigger));
	char *copy = strdup(name);
	if (bigger == NULL || copy == NULL) {
		free(copy);
		if (bigger)
			v->viruses = bigger;
		/* Out of memory: a name we cannot keep must still count as a virus. */
		c->any_error = true;
		snprintf(c->error, sizeof(c->error), "out of memory recording a virus name");
		return;
	}
	v->viruses = bigger;
	v->viruses[v->nviruses++] = copy;
}

/* inspect_join - "a, b" of a verdict's names, malloc'd */
static char *inspect_join(char *const *names, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 2;
	char *s = malloc(len);
	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, names[i]);
	}
	return s;
}

/* inspect_remember - note a payload's verdict for the rest of this message */
static void inspect_remember(struct inspect_ctx *c, const unsigned char sha[32], const char *verdict,
			     const char *detail, bool cached)
{
	if (c->nseen == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct inspect_seen *bigger = realloc(c->seen, cap * sizeof(*bigger));
		if (bigger == NULL)
			return; /* forgetting only costs a second scan */
		c->seen = bigger;
		c->cap = cap;
	}
	struct inspect_seen *s = &c->seen[c->nseen];
	if ((s->detail = strdup(detail)) == NULL)
		return;
	memcpy(s->sha, sha, 32);
	s->verdict = verdict;
	s->cached = cached;
	c->nseen++;
}

static const struct inspect_seen *inspect_seen_find(const struct inspect_ctx *c, const unsigned char sha[32])
{
	for (size_t i = 0; i < c->nseen; i++)
		if (memcmp(c->seen[i].sha, sha, 32) == 0)
			return &c->seen[i];
	return NULL;
}

/* inspect_scan_bytes - scan bytes that are not cached (header block, whole message) */
static void inspect_scan_bytes(struct inspect_ctx *c, const void *buf, size_t len, int fd)
{
	struct scan_verdict v = {0};
	if (buf)
		scanner_scan_memory(c->snap->scanner, buf, len, &v);
	else
		scanner_scan_fd(c->snap->scanner, fd, &v);
	c->r->scans++;
	for (size_t i = 0; i < v.nviruses; i++)
		inspect_add_virus(c, v.viruses[i]);
	if (v.status == SCAN_ERROR) {
		c->any_error = true;
		snprintf(c->error, sizeof(c->error), "%s", v.error);
	}
	scan_verdict_clear(&v);
}

/* inspect_leaf - a decoded leaf: this message's memory, the cache, or a scan */
static const struct inspect_seen *inspect_leaf(struct inspect_ctx *c, const struct mime_part *p)
{
	const struct inspect_seen *s = inspect_seen_find(c, p->sha256);
	if (s)
		return s;
	uint64_t dbver = scanner_db_version(c->snap->scanner);
	struct vcache_entry e;
	c->r->cache_lookups++;
	if (vcache_get(c->snap->cache, p->sha256, dbver, &e)) {
		c->r->cache_hits++;
		for (size_t i = 0; i < e.nnames; i++)
			inspect_add_virus(c, e.names[i]);
		char *detail = inspect_join(e.names, e.nnames);
		inspect_remember(c, p->sha256, e.status == VCACHE_VIRUS ? "virus" : "clean", detail ? detail : "", true);
		free(detail);
		vcache_entry_clear(&e);
		return inspect_seen_find(c, p->sha256);
	}
	struct scan_verdict v = {0};
	scanner_scan_memory(c->snap->scanner, p->data ? (const void *)p->data : "", p->size, &v);
	c->r->scans++;
	const char *verdict = "clean";
	if (v.status == SCAN_VIRUS) {
		verdict = "virus";
		for (size_t i = 0; i < v.nviruses; i++)
			inspect_add_virus(c, v.viruses[i]);
		vcache_put(c->snap->cache, p->sha256, dbver, VCACHE_VIRUS, v.viruses, v.nviruses);
	} else if (v.status == SCAN_CLEAN) {
		vcache_put(c->snap->cache, p->sha256, dbver, VCACHE_CLEAN, NULL, 0);
	} else {
		verdict = "error";
		c->any_error = true;
		snprintf(c->error, sizeof(c->error), "%s", v.error);
	}
	char *detail = v.status == SCAN_ERROR ? strdup(v.error) : inspect_join(v.viruses, v.nviruses);
	inspect_remember(c, p->sha256, verdict, detail ? detail : "", false);
	free(detail);
	scan_verdict_clear(&v);
	return inspect_seen_find(c, p->sha256);
}

struct inspect_arch {
	const struct banned_list *banned;
	char why[200];
	const char *archive;
};

/* inspect_arch_name - archnames callback: stop at the first banned member */
static int inspect_arch_name(const char *name, unsigned depth, void *arg)
{
	struct inspect_arch *a = arg;
	(void)depth;
	return banned_name_check(a->banned, name, a->why, sizeof(a->why)) ? 1 : 0;
}

/* inspect_banned - the part's own names, message/partial, and archive members */
static bool inspect_banned(struct inspect_ctx *c, const struct mime_part *p, char *why, size_t whylen)
{
	const struct config *cfg = c->snap->cfg;
	if (strcmp(p->content_type, "message/partial") == 0) {
		snprintf(why, whylen, "message/partial (a message in fragments) is not accepted");
		return true;
	}
	for (size_t i = 0; i < p->nnames; i++)
		if (banned_name_check(cfg->banned, p->names[i].name, why, whylen))
			return true;
	if (!p->leaf || p->size == 0 || cfg->banned_archive_depth == 0)
		return false;
	struct archnames_limits lim = {
		.max_entries = cfg->banned_archive_entries,
		.max_depth = cfg->banned_archive_depth,
		.max_member_size = (size_t)16 << 20,
	};
	struct inspect_arch a = {.banned = cfg->banned};
	bool truncated = false;
	char err[128];
	if (archnames_list(p->data, p->size, &lim, inspect_arch_name, &a, &truncated, err, sizeof(err)) > 0 &&
	    a.why[0]) {
		/* Bounded parts, so the reason always fits the reply line. */
		snprintf(why, whylen, "%.160s inside %s%.60s%s", a.why, p->filename[0] ? "\"" : "part ",
			 p->filename[0] ? p->filename : p->path, p->filename[0] ? "\"" : "");
		return true;
	}
	return false;
}

/* inspect_reading - check and scan every part of one reading */
static void inspect_reading(struct inspect_ctx *c, const struct mime_message *m, bool record)
{
	struct inspect_result *r = c->r;
	r->readings++;
	r->flags |= m->flags;
	if (m->limit != MIME_LIMIT_NONE && r->limit == MIME_LIMIT_NONE) {
		r->limit = m->limit;
		snprintf(r->limit_detail, sizeof(r->limit_detail), "%s", m->limit_detail);
	}
	if (record && m->header_len)
		inspect_scan_bytes(c, m->header_block, m->header_len, -1);
	if (record && m->outside_len && !m->outside_truncated)
		inspect_scan_bytes(c, m->outside, m->outside_len, -1);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		struct inspect_part *out = record && i < r->nparts ? &r->parts[i] : NULL;
		char why[256];
		if (inspect_banned(c, p, why, sizeof(why))) {
			if (!r->banned) {
				r->banned = true;
				snprintf(r->banned_reason, sizeof(r->banned_reason), "%s", why);
			}
			if (out) {
				out->verdict = "banned";
				free(out->detail);
				out->detail = strdup(why);
			}
		}
		if (!p->leaf)
			continue;
		const struct inspect_seen *s = inspect_leaf(c, p);
		/* A virus outranks a banned name, as in the message's verdict. */
		if (out && s && (strcmp(out->verdict, "banned") != 0 || strcmp(s->verdict, "virus") == 0)) {
			out->verdict = s->verdict;
			free(out->detail);
			out->detail = strdup(s->detail);
			out->cached = s->cached;
		}
	}
}

/* inspect_record_parts - the default reading's tree, for logs and JSON */
static void inspect_record_parts(struct inspect_result *r, const struct mime_message *m)
{
	r->parts = calloc(m->nparts ? m->nparts : 1, sizeof(*r->parts));
	if (r->parts == NULL)
		return;
	r->nparts = m->nparts;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		struct inspect_part *o = &r->parts[i];
		snprintf(o->path, sizeof(o->path), "%s", p->path);
		o->content_type = strdup(p->content_type ? p->content_type : "");
		o->filename = strdup(p->filename ? p->filename : "");
		o->size = p->size;
		o->flags = p->flags;
		o->verdict = p->leaf ? "unscanned" : "container";
		o->detail = strdup("");
		if (p->leaf)
			for (int k = 0; k < 32; k++)
				snprintf(o->sha256 + 2 * k, 3, "%02x", p->sha256[k]);
	}
}

/* inspect_other_readings - the ambiguity defense: every plausible reading */
static void inspect_other_readings(struct inspect_ctx *c, struct intake *in)
{
	static const struct mime_view views[] = {
		{.last_content_type = true, .last_cte = true},
		{.strict_base64 = true},
		{.guess_boundary = true},
		{.decode_multipart = true},
		{.bare_cr_breaks_header = true, .last_content_type = true, .last_cte = true},
		{.last_content_type = true, .last_cte = true, .guess_boundary = true, .decode_multipart = true,
		 .bare_cr_breaks_header = true},
	};
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		struct mime_message *m = intake_reparse(in, &views[i]);
		if (m == NULL) {
			c->any_error = true;
			snprintf(c->error, sizeof(c->error), "out of memory reading the message another way");
			continue;
		}
		inspect_reading(c, m, false);
		mime_message_free(m);
	}
}

/* inspect_whole - the raw message through ClamAV's own mail parser */
static void inspect_whole(struct inspect_ctx *c, struct intake *in)
{
	struct spool *sp = intake_spool(in);
	size_t len;
	const void *mem = spool_memory(sp, &len);
	inspect_scan_bytes(c, mem, len, mem ? -1 : spool_fd(sp));
	c->r->whole_scanned = true;
}

void inspect_message(struct snapshot *snap, struct intake *in, struct inspect_result *r)
{
	memset(r, 0, sizeof(*r));
	struct inspect_ctx c = {.snap = snap, .r = r};
	const struct mime_message *m = intake_finish(in);
	if (m == NULL) {
		r->scan.status = SCAN_ERROR;
		snprintf(r->scan.error, sizeof(r->scan.error), "MIME parser out of memory");
		return;
	}
	inspect_record_parts(r, m);
	inspect_reading(&c, m, true);
	bool ambiguous = (r->flags & MIME_AMBIGUOUS) != 0;
	if (ambiguous && r->limit == MIME_LIMIT_NONE)
		inspect_other_readings(&c, in);
	if (ambiguous || m->outside_truncated || r->limit != MIME_LIMIT_NONE ||
	    snap->cfg->always_scan_whole_message)
		inspect_whole(&c, in);

	if (r->scan.nviruses > 0)
		r->scan.status = SCAN_VIRUS;
	else if (c.any_error) {
		r->scan.status = SCAN_ERROR;
		snprintf(r->scan.error, sizeof(r->scan.error), "%s", c.error);
	} else
		r->scan.status = SCAN_CLEAN;
	for (size_t i = 0; i < c.nseen; i++)
		free(c.seen[i].detail);
	free(c.seen);
}

void inspect_result_clear(struct inspect_result *r)
{
	scan_verdict_clear(&r->scan);
	for (size_t i = 0; i < r->nparts; i++) {
		free(r->parts[i].content_type);
		free(r->parts[i].filename);
		free(r->parts[i].detail);
	}
	free(r->parts);
	r->parts = NULL;
	r->nparts = 0;
}
