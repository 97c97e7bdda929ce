/*
 * test_qindex - the SQLite index of the quarantine (qindex.h): sync adds
 * and removes, damaged entries are counted and never indexed, a deleted or
 * garbage index is rebuilt (never fatal), filters, statistics, per-class
 * expiry, digest state across reindexing, and the time a sync of 20 000
 * entries takes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "qindex.h"
#include "quarantine.h"
#include "unit_fs.h"

#define T0 1763632800 /* 2025-11-20T10:00:00Z */
#define DAY 86400

struct fixture {
	char root[PATH_MAX];
	char dir[PATH_MAX + 16];
	char err[512];
	int nfds;
	struct qindex *ix;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->root, sizeof(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/q", f->root);
	assert_int_equal(durable_mkdir(f->dir, 0700, f->err, sizeof(f->err)), 0);
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	qindex_close(f->ix);
	assert_int_equal(ufs_nfds(), f->nfds);
	ufs_rm_rf(f->root);
	free(f);
	return 0;
}

/* write_body - body_writer: a tiny message */
static int write_body(int fd, void *arg, char *err, size_t errlen)
{
	(void)arg;
	return durable_write_all(fd, "Subject: t\r\n\r\nbody\r\n", 21, err, errlen);
}

struct spec {
	time_t when;
	const char *class;
	const char *rcpts[3];
	const char *viruses[3];
	const char *subject;
};

/* count_set - how many of a NULL-terminated array of 3 are set */
static size_t count_set(const char *const v[3])
{
	size_t n = 0;

	while (n < 3 && v[n] != NULL)
		n++;
	return n;
}

/* put - quarantine one entry as described; its id goes to id */
static void put(struct fixture *f, const struct spec *s, char id[QUARANTINE_ID_MAX])
{
	const struct envelope env = {
		.client_addr = "192.0.2.1",
		.helo = "mx.example.net",
		.sender = "sender@example.net",
		.rcpts = s->rcpts,
		.nrcpts = count_set(s->rcpts),
		.queue_id = "4QX",
	};
	const struct quarantine_meta meta = {
		.env = &env,
		.class = s->class,
		.viruses = s->viruses,
		.nviruses = count_set(s->viruses),
		.when = s->when,
		.size = 21,
		.subject = s->subject,
	};
	if (quarantine_store(f->dir, &meta, write_body, NULL, id, QUARANTINE_ID_MAX, f->err,
			     sizeof(f->err)) != 0)
		fail_msg("quarantine_store: %s", f->err);
}

/* do_open - qindex_open, failing the test with its message */
static void do_open(struct fixture *f)
{
	if (qindex_open(f->dir, &f->ix, f->err, sizeof(f->err)) != 0)
		fail_msg("qindex_open: %s", f->err);
}

/* do_sync - qindex_sync, failing the test with its message */
static struct qindex_sync_stats do_sync(struct fixture *f)
{
	struct qindex_sync_stats st;

	if (qindex_sync(f->ix, &st, f->err, sizeof(f->err)) != 0)
		fail_msg("qindex_sync: %s", f->err);
	return st;
}

/* reopen - close and open the same index again */
static void reopen(struct fixture *f)
{
	qindex_close(f->ix);
	f->ix = NULL;
	do_open(f);
}

/* The rows a list produced, as one line each, for comparisons. */
struct rows {
	char line[32][512];
	char id[32][QUARANTINE_ID_MAX];
	int n;
	int stop_after;
};

/* collect - qindex_row_fn */
static int collect(const struct qindex_row *r, void *arg)
{
	struct rows *rs = arg;

	assert_true(rs->n < 32);
	snprintf(rs->id[rs->n], QUARANTINE_ID_MAX, "%s", r->id);
	snprintf(rs->line[rs->n], sizeof(rs->line[0]),
		 "%s %lld %d %s %s %s %s %s %s %s %s %s %s %s %s %u %llu", r->id,
		 (long long)r->when, r->class, r->origin, r->client_addr, r->client_name, r->helo,
		 r->auth_user, r->sender, r->queue_id, r->subject, r->payload, r->reason,
		 r->virus ? r->virus : "(none)", r->rcpt ? r->rcpt : "(none)", r->nrcpts, r->size);
	rs->n++;
	return rs->stop_after != 0 && rs->n >= rs->stop_after;
}

/* list - the rows for a filter */
static struct rows list(struct fixture *f, const struct qindex_filter *flt)
{
	struct rows rs = { .n = 0 };

	if (qindex_list(f->ix, flt, collect, &rs, f->err, sizeof(f->err)) != 0)
		fail_msg("qindex_list: %s", f->err);
	unsigned long n = 0;
	assert_int_equal(qindex_count(f->ix, flt, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, (unsigned long)rs.n);
	return rs;
}

/* all_rows - every row, oldest first */
static struct rows all_rows(struct fixture *f)
{
	const struct qindex_filter any = { .class = -1 };

	return list(f, &any);
}

/* kq_path - dir/<id>.kq */
static void kq_path(const struct fixture *f, const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.kq", f->dir, id);
}

static void test_sync_adds_and_removes(void **state)
{
	struct fixture *f = *state;
	char id[4][QUARANTINE_ID_MAX];
	const struct spec s = { .when = T0, .class = "virus", .rcpts = { "a@x" } };

	for (int i = 0; i < 3; i++)
		put(f, &s, id[i]);
	do_open(f);
	assert_int_equal(ufs_mode(f->dir), 0700);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt); /* a new index counts as rebuilt */
	assert_int_equal(st.added, 3);
	assert_int_equal(st.removed, 0);
	assert_int_equal(st.damaged, 0);
	assert_int_equal(st.total, 3);

	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.sqlite", f->dir);
	assert_int_equal(ufs_mode(path), 0600);
	snprintf(path, sizeof(path), "%s/index.sqlite-wal", f->dir);
	assert_int_equal(ufs_mode(path), 0600);
	snprintf(path, sizeof(path), "%s/index.sqlite-shm", f->dir);
	assert_int_equal(ufs_mode(path), 0600);

	st = do_sync(f);
	assert_false(st.rebuilt);
	assert_int_equal(st.added + st.removed + st.damaged, 0);
	assert_int_equal(st.total, 3);

	assert_int_equal(quarantine_delete(f->dir, id[1], f->err, sizeof(f->err)), 0);
	put(f, &s, id[3]);
	st = do_sync(f);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.total, 3);
	struct rows rs = all_rows(f);
	assert_int_equal(rs.n, 3);
	for (int i = 0; i < rs.n; i++)
		assert_string_not_equal(rs.id[i], id[1]);

	/* A second handle sees the same rows and has nothing to add. */
	struct qindex *other;
	assert_int_equal(qindex_open(f->dir, &other, f->err, sizeof(f->err)), 0);
	assert_int_equal(qindex_sync(other, &st, f->err, sizeof(f->err)), 0);
	assert_false(st.rebuilt);
	assert_int_equal(st.added + st.removed, 0);
	assert_int_equal(st.total, 3);
	qindex_close(other);
}

static void test_half_entry_is_damaged(void **state)
{
	struct fixture *f = *state;
	char good[QUARANTINE_ID_MAX], cut[QUARANTINE_ID_MAX], path[2 * PATH_MAX];
	const struct spec s = { .when = T0, .class = "virus", .rcpts = { "a@x" } };
	size_t len;

	put(f, &s, good);
	put(f, &s, cut);
	kq_path(f, cut, path, sizeof(path));
	free(ufs_read(path, &len));
	assert_int_equal(truncate(path, (off_t)len - 10), 0);
	/* What a crash before the rename leaves: never listed, never counted. */
	snprintf(path, sizeof(path), "%s/.tmp.%s.kq.0123456789abcdef", f->dir, good);
	assert_int_equal(ufs_write(path, "KLAXON-QUARANTINE 1\n", 20), 0);

	do_open(f);
	struct qindex_sync_stats st = do_sync(f);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.damaged, 1);
	assert_int_equal(st.total, 1);
	struct rows rs = all_rows(f);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.id[0], good);

	/* Still damaged next time, still not indexed. */
	st = do_sync(f);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.damaged, 1);
	assert_int_equal(st.total, 1);
}

/* put_mix - five entries over two days, classes, recipients in mixed case, viruses */
static void put_mix(struct fixture *f, char id[5][QUARANTINE_ID_MAX])
{
	const struct spec mix[5] = {
		{ T0, "virus", { "Bob@Example.org", "carol@x" }, { "Eicar-Test", "Other" }, "one" },
		{ T0 + 100, "banned", { "bob@example.org" }, { NULL }, "two" },
		{ T0 + 200, "policy", { "dave@x" }, { NULL }, "three" },
		{ T0 + 300, "virus", { "BOB@EXAMPLE.ORG" }, { "Eicar-Test" }, "four" },
		{ T0 + DAY, "spam", { "eve@x" }, { NULL }, NULL },
	};

	for (int i = 0; i < 5; i++)
		put(f, &mix[i], id[i]);
}

static void test_deleted_index_rebuilt(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], path[2 * PATH_MAX];

	put_mix(f, id);
	do_open(f);
	do_sync(f);
	struct rows before = all_rows(f);
	assert_int_equal(before.n, 5);
	qindex_close(f->ix);
	f->ix = NULL;

	snprintf(path, sizeof(path), "%s/index.sqlite", f->dir);
	assert_int_equal(unlink(path), 0);
	do_open(f);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt);
	assert_int_equal(st.added, 5);
	assert_int_equal(st.total, 5);
	struct rows after = all_rows(f);
	assert_int_equal(after.n, before.n);
	for (int i = 0; i < before.n; i++)
		assert_string_equal(after.line[i], before.line[i]);
}

/* aside_count - index.sqlite.corrupt-* files in the quarantine */
static int aside_count(const struct fixture *f)
{
	return ufs_count(f->dir, "index.sqlite.corrupt-");
}

static void test_garbage_index_moved_aside(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], path[2 * PATH_MAX];
	unsigned char junk[16384];

	put_mix(f, id);
	assert_int_equal(getrandom(junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	snprintf(path, sizeof(path), "%s/index.sqlite", f->dir);
	assert_int_equal(ufs_write(path, junk, sizeof(junk)), 0);

	do_open(f);
	assert_int_equal(aside_count(f), 1);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt);
	assert_int_equal(st.added, 5);
	assert_int_equal(st.total, 5);
	assert_int_equal(all_rows(f).n, 5);
	assert_int_equal(ufs_mode(path), 0600);
}

/* wreck_pages - keep page 1 (header and schema), so an open succeeds; randomise the rest */
static void wreck_pages(struct fixture *f)
{
	char path[2 * PATH_MAX];
	unsigned char junk[4096];
	size_t len;

	snprintf(path, sizeof(path), "%s/index.sqlite", f->dir);
	free(ufs_read(path, &len));
	assert_true(len > 4096);
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 4096, SEEK_SET), 0);
	for (size_t at = 4096; at < len; at += sizeof(junk)) {
		assert_int_equal(getrandom(junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
		assert_int_equal(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	}
	assert_int_equal(fclose(fp), 0);
}

/* indexed_then_wrecked - five entries indexed, the handle closed (WAL folded in), pages wrecked */
static void indexed_then_wrecked(struct fixture *f, char id[5][QUARANTINE_ID_MAX])
{
	put_mix(f, id);
	do_open(f);
	do_sync(f);
	qindex_close(f->ix);
	f->ix = NULL;
	wreck_pages(f);
	do_open(f);
	assert_int_equal(aside_count(f), 0); /* page 1 is fine: nothing noticed yet */
}

static void test_corrupt_pages_found_by_sync(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX];

	indexed_then_wrecked(f, id);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt);
	assert_int_equal(st.added, 5);
	assert_int_equal(st.total, 5);
	assert_int_equal(aside_count(f), 1);
	assert_int_equal(all_rows(f).n, 5);
}

static void test_corrupt_pages_found_by_a_query(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX];
	unsigned long n = 0;
	const struct qindex_filter flt = { .rcpt = "bob@example.org", .class = -1 };

	indexed_then_wrecked(f, id);
	/* No sync first: the query itself finds the damage, and answers from a rebuilt index. */
	assert_int_equal(qindex_count(f->ix, &flt, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(aside_count(f), 1);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt); /* still reported, by the next sync */
	assert_int_equal(st.added, 0);
	assert_int_equal(st.total, 5);
}

static void test_unknown_schema_version(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], path[2 * PATH_MAX];
	sqlite3 *db;

	put_mix(f, id);
	snprintf(path, sizeof(path), "%s/index.sqlite", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE entries (x); PRAGMA user_version = 99",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	do_open(f);
	assert_int_equal(aside_count(f), 1);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt);
	assert_int_equal(st.total, 5);
}

static void test_empty_index_file(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], path[2 * PATH_MAX];

	put_mix(f, id);
	snprintf(path, sizeof(path), "%s/index.sqlite", f->dir);
	assert_int_equal(ufs_write(path, "", 0), 0);
	do_open(f);
	assert_int_equal(aside_count(f), 0);
	struct qindex_sync_stats st = do_sync(f);
	assert_true(st.rebuilt);
	assert_int_equal(st.total, 5);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char path[2 * PATH_MAX];
	struct qindex *ix = (struct qindex *)1;

	snprintf(path, sizeof(path), "%s/missing", f->root);
	assert_int_equal(qindex_open(path, &ix, f->err, sizeof(f->err)), -1);
	assert_null(ix);
	assert_non_null(strstr(f->err, "index.sqlite: "));
	assert_non_null(strstr(f->err, strerror(ENOENT)));

	snprintf(path, sizeof(path), "%s/file", f->root);
	assert_int_equal(ufs_write(path, "x", 1), 0);
	assert_int_equal(qindex_open(path, &ix, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, strerror(ENOTDIR)));
}

static void test_root_chowns_to_directory_owner(void **state)
{
	struct fixture *f = *state;
	char path[2 * PATH_MAX];
	struct stat st;
	const uid_t nobody = 65534;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(f->dir, nobody, nobody), 0);
	do_open(f);
	do_sync(f);
	const char *names[] = { "index.sqlite", "index.sqlite-wal", "index.sqlite-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_uid, nobody);
		assert_int_equal(st.st_gid, nobody);
		assert_int_equal(st.st_mode & 07777, 0600);
	}
}

/* ids_are - the rows' ids are exactly these entries of id, in this order */
static void ids_are(const struct rows *rs, char id[5][QUARANTINE_ID_MAX], const char *want)
{
	char got[16] = "";

	for (int i = 0; i < rs->n; i++)
		for (int k = 0; k < 5; k++)
			if (strcmp(rs->id[i], id[k]) == 0)
				got[strlen(got)] = (char)('A' + k);
	if (strcmp(got, want) != 0 || (int)strlen(want) != rs->n)
		fail_msg("rows %s, want %s", got, want);
}

static void test_list_filters(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX];

	put_mix(f, id);
	do_open(f);
	do_sync(f);

	struct rows rs = all_rows(f);
	ids_are(&rs, id, "ABCDE");

	struct qindex_filter flt = { .rcpt = "bob@EXAMPLE.org", .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "ABD");
	/* With a rcpt filter, the row names that recipient as it was written. */
	assert_non_null(strstr(rs.line[0], " Bob@Example.org 2 "));
	assert_non_null(strstr(rs.line[2], " BOB@EXAMPLE.ORG 1 "));

	flt = (struct qindex_filter){ .rcpt = "bob@example.org", .class = QUARANTINE_BANNED };
	rs = list(f, &flt);
	ids_are(&rs, id, "B");

	flt = (struct qindex_filter){ .class = QUARANTINE_VIRUS };
	rs = list(f, &flt);
	ids_are(&rs, id, "AD");
	/* Without one, the first recipient and the first virus. */
	assert_non_null(strstr(rs.line[0], " Eicar-Test Bob@Example.org 2 "));

	flt = (struct qindex_filter){ .virus = "Other", .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "A");
	flt.virus = "Eicar-Test";
	rs = list(f, &flt);
	ids_are(&rs, id, "AD");
	flt.virus = "eicar-test"; /* virus names are exact */
	rs = list(f, &flt);
	ids_are(&rs, id, "");

	flt = (struct qindex_filter){ .since = T0 + 100, .until = T0 + 300, .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "BC");

	flt = (struct qindex_filter){ .limit = 2, .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "ED");

	flt = (struct qindex_filter){ .newest_first = true, .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "EDCBA");

	flt = (struct qindex_filter){ .id = id[2], .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "C");

	flt = (struct qindex_filter){ .rcpt = "nobody@x", .class = -1 };
	rs = list(f, &flt);
	ids_are(&rs, id, "");

	/* No filter at all: every entry. */
	rs = (struct rows){ 0 };
	assert_int_equal(qindex_list(f->ix, NULL, collect, &rs, f->err, sizeof(f->err)), 0);
	ids_are(&rs, id, "ABCDE");
	unsigned long n = 0;
	assert_int_equal(qindex_count(f->ix, NULL, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 5);

	/* A callback that says stop. */
	flt = (struct qindex_filter){ .class = -1 };
	rs = (struct rows){ .stop_after = 2 };
	assert_int_equal(qindex_list(f->ix, &flt, collect, &rs, f->err, sizeof(f->err)), 0);
	assert_int_equal(rs.n, 2);
}

static void test_row_fields(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], want[512];

	put_mix(f, id);
	do_open(f);
	do_sync(f);
	struct rows rs = all_rows(f);
	snprintf(want, sizeof(want),
		 "%s %d 0 external 192.0.2.1  mx.example.net  sender@example.net 4QX one   "
		 "Eicar-Test Bob@Example.org 2 21",
		 id[0], T0);
	assert_string_equal(rs.line[0], want);
	snprintf(want, sizeof(want),
		 "%s %d 4 external 192.0.2.1  mx.example.net  sender@example.net 4QX    "
		 "(none) eve@x 1 21",
		 id[4], T0 + DAY);
	assert_string_equal(rs.line[4], want);
}

/* rcpt_collect - qindex_rcpt_fn: one line per recipient */
static int rcpt_collect(const char *rcpt, void *arg)
{
	char *buf = arg;

	strcat(buf, rcpt);
	strcat(buf, ";");
	return 0;
}

static void test_recipients(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], buf[512] = "";

	put_mix(f, id);
	do_open(f);
	do_sync(f);
	assert_int_equal(qindex_recipients(f->ix, 0, rcpt_collect, buf, f->err, sizeof(f->err)), 0);
	assert_string_equal(buf, "bob@example.org;carol@x;dave@x;eve@x;");
	buf[0] = '\0';
	assert_int_equal(
		qindex_recipients(f->ix, T0 + 150, rcpt_collect, buf, f->err, sizeof(f->err)), 0);
	assert_string_equal(buf, "bob@example.org;dave@x;eve@x;");
}

/* stat_collect - qindex_stat_fn: "group key count;" */
static int stat_collect(const char *group, const char *key, unsigned long count, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 1024 - n, "%s %s %lu;", group, key, count);
	return 0;
}

static void test_stats(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX], buf[1024] = "";

	put_mix(f, id);
	do_open(f);
	do_sync(f);
	assert_int_equal(qindex_stats(f->ix, 0, stat_collect, buf, f->err, sizeof(f->err)), 0);
	assert_string_equal(buf, "class virus 2;class banned 1;class policy 1;class spam 1;"
				 "virus Eicar-Test 2;virus Other 1;"
				 "day 2025-11-20 4;day 2025-11-21 1;");
	buf[0] = '\0';
	assert_int_equal(qindex_stats(f->ix, T0 + 250, stat_collect, buf, f->err, sizeof(f->err)),
			 0);
	/* Equal counts keep the order of enum quarantine_class. */
	assert_string_equal(buf, "class virus 1;class spam 1;virus Eicar-Test 1;"
				 "day 2025-11-20 1;day 2025-11-21 1;");
}

struct expiry {
	struct fixture *f;
	struct rows rows;
};

/* expire_one - qindex_row_fn: what a caller of qindex_expire_candidates does */
static int expire_one(const struct qindex_row *r, void *arg)
{
	struct expiry *x = arg;

	collect(r, &x->rows);
	assert_int_equal(quarantine_delete(x->f->dir, r->id, x->f->err, sizeof(x->f->err)), 0);
	assert_int_equal(qindex_remove(x->f->ix, r->id, x->f->err, sizeof(x->f->err)), 0);
	return 0;
}

static void test_expiry_per_class(void **state)
{
	struct fixture *f = *state;
	time_t now = T0 + 100 * DAY;
	char id[6][QUARANTINE_ID_MAX];
	const struct spec specs[6] = {
		{ now - 40 * DAY, "virus", { "a@x" }, { "V" }, NULL },	 /* past 30 days: goes */
		{ now - 41 * DAY, "virus", { "a@x" }, { "V" }, NULL },	 /* goes, first */
		{ now - 1 * DAY, "virus", { "a@x" }, { "V" }, NULL },	 /* young: stays */
		{ now - 40 * DAY, "policy", { "a@x" }, { NULL }, NULL }, /* policy keeps 90 */
		{ now - 95 * DAY, "spam", { "a@x" }, { NULL }, NULL },	 /* spam: kept forever */
		{ now - 40 * DAY, "limit", { "a@x" }, { NULL }, NULL },	 /* old name: ambiguous */
	};
	const time_t cutoff[QUARANTINE_CLASS_COUNT] = {
		[QUARANTINE_VIRUS] = now - 30 * DAY,
		[QUARANTINE_BANNED] = now - 30 * DAY,
		[QUARANTINE_AMBIGUOUS] = now - 45 * DAY,
		[QUARANTINE_POLICY] = now - 90 * DAY,
		[QUARANTINE_SPAM] = 0,
	};

	for (int i = 0; i < 6; i++)
		put(f, &specs[i], id[i]);
	do_open(f);
	do_sync(f);

	struct expiry x = { .f = f };
	assert_int_equal(
		qindex_expire_candidates(f->ix, cutoff, expire_one, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.rows.n, 2);
	assert_string_equal(x.rows.id[0], id[1]);
	assert_string_equal(x.rows.id[1], id[0]);

	struct qindex_sync_stats st = do_sync(f);
	assert_int_equal(st.added + st.removed + st.damaged, 0);
	assert_int_equal(st.total, 4);

	/* The legacy "limit" entry is ambiguous: it goes once that cutoff passes it. */
	struct qindex_filter amb = { .class = QUARANTINE_AMBIGUOUS };
	assert_int_equal(list(f, &amb).n, 1);
	time_t later[QUARANTINE_CLASS_COUNT] = { [QUARANTINE_AMBIGUOUS] = now - 30 * DAY };
	x = (struct expiry){ .f = f };
	assert_int_equal(
		qindex_expire_candidates(f->ix, later, expire_one, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.rows.n, 1);
	assert_string_equal(x.rows.id[0], id[5]);

	/* Nothing to expire at all. */
	const time_t keep[QUARANTINE_CLASS_COUNT] = { 0 };
	x = (struct expiry){ .f = f };
	assert_int_equal(
		qindex_expire_candidates(f->ix, keep, expire_one, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.rows.n, 0);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX];

	put_mix(f, id);
	do_open(f);
	do_sync(f);
	assert_int_equal(qindex_remove(f->ix, id[0], f->err, sizeof(f->err)), 0);
	struct qindex_filter flt = { .virus = "Other", .class = -1 };
	assert_int_equal(list(f, &flt).n, 0);
	flt = (struct qindex_filter){ .rcpt = "carol@x", .class = -1 };
	assert_int_equal(list(f, &flt).n, 0);
	assert_int_equal(all_rows(f).n, 4);
	assert_int_equal(qindex_remove(f->ix, id[0], f->err, sizeof(f->err)), 0);

	/* The file is still there, so the next sync brings the row back. */
	struct qindex_sync_stats st = do_sync(f);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.total, 5);
}

static void test_digest_state_survives_reindex(void **state)
{
	struct fixture *f = *state;
	char id[5][QUARANTINE_ID_MAX];
	time_t when = 1;

	put_mix(f, id);
	do_open(f);
	do_sync(f);
	assert_int_equal(qindex_digest_last(f->ix, "bob@example.org", &when, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(when, 0);
	assert_int_equal(qindex_digest_mark(f->ix, "Bob@Example.ORG", T0 + 50, f->err,
					    sizeof(f->err)),
			 0);
	assert_int_equal(qindex_digest_mark(f->ix, "carol@x", T0 + 60, f->err, sizeof(f->err)), 0);
	assert_int_equal(qindex_digest_mark(f->ix, "bob@example.org", T0 + 500, f->err,
					    sizeof(f->err)),
			 0);

	assert_int_equal(quarantine_delete(f->dir, id[2], f->err, sizeof(f->err)), 0);
	struct qindex_sync_stats st;
	assert_int_equal(qindex_reindex(f->ix, &st, f->err, sizeof(f->err)), 0);
	assert_false(st.rebuilt);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.total, 4);
	assert_int_equal(all_rows(f).n, 4);

	reopen(f);
	assert_int_equal(qindex_digest_last(f->ix, "BOB@example.org", &when, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(when, T0 + 500);
	assert_int_equal(qindex_digest_last(f->ix, "carol@x", &when, f->err, sizeof(f->err)), 0);
	assert_int_equal(when, T0 + 60);
	assert_int_equal(qindex_digest_mark(f->ix, "", T0, f->err, sizeof(f->err)), -1);
	assert_int_equal(qindex_digest_last(f->ix, NULL, &when, f->err, sizeof(f->err)), -1);
}

/* sync_child - in a child process: open, sync, check the total; the exit status says how it went */
static void sync_child(const char *dir, unsigned long want)
{
	struct qindex *ix;
	struct qindex_sync_stats st;
	char err[512];
	int rc = 0;

	if (qindex_open(dir, &ix, err, sizeof(err)) != 0) {
		fprintf(stderr, "child open: %s\n", err);
		_exit(2);
	}
	if (qindex_sync(ix, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "child sync: %s\n", err);
		rc = 3;
	} else if (st.total != want) {
		fprintf(stderr, "child total %lu, want %lu\n", st.total, want);
		rc = 4;
	}
	qindex_close(ix);
	_exit(rc);
}

static void test_concurrent_syncs(void **state)
{
	struct fixture *f = *state;
	enum { N = 3000, KIDS = 4 };
	char id[QUARANTINE_ID_MAX];
	pid_t kid[KIDS];

	for (int i = 0; i < N; i++) {
		const struct spec s = { .when = T0 + i, .class = "virus", .rcpts = { "a@x", "b@x" },
					.viruses = { "V" } };
		put(f, &s, id);
	}
	/* Several CLIs at once on a new index: one creates it, all sync, none fails. */
	for (int k = 0; k < KIDS; k++) {
		kid[k] = fork();
		assert_true(kid[k] != -1);
		if (kid[k] == 0)
			sync_child(f->dir, N);
	}
	for (int k = 0; k < KIDS; k++) {
		int status;
		assert_int_equal(waitpid(kid[k], &status, 0), kid[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	do_open(f);
	struct qindex_sync_stats st = do_sync(f);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.total, N);
	unsigned long n = 0;
	const struct qindex_filter flt = { .rcpt = "b@x", .class = -1 };
	assert_int_equal(qindex_count(f->ix, &flt, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, N);
}

/* elapsed - seconds since a */
static double elapsed(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void test_sync_timing(void **state)
{
	struct fixture *f = *state;
	enum { N = 20000 };
	char id[QUARANTINE_ID_MAX], rcpt[64];
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < N; i++) {
		snprintf(rcpt, sizeof(rcpt), "user%d@example.org", i % 500);
		const struct spec s = { .when = T0 + i * 60,
					.class = i % 3 ? "virus" : "banned",
					.rcpts = { rcpt, "postmaster@example.org" },
					.viruses = { i % 3 ? "Eicar-Test" : NULL },
					.subject = "generated" };
		put(f, &s, id);
	}
	print_message("wrote %d entries in %.2f s\n", N, elapsed(&t));

	clock_gettime(CLOCK_MONOTONIC, &t);
	do_open(f);
	struct qindex_sync_stats st = do_sync(f);
	double first = elapsed(&t);
	print_message("first sync of %d entries: %.2f s\n", N, first);
	assert_int_equal(st.added, N);
	assert_int_equal(st.total, N);
	assert_true(first < 30.0);

	clock_gettime(CLOCK_MONOTONIC, &t);
	st = do_sync(f);
	double again = elapsed(&t);
	print_message("sync with nothing new: %.3f s\n", again);
	assert_int_equal(st.added, 0);
	assert_true(again < 5.0);

	clock_gettime(CLOCK_MONOTONIC, &t);
	struct qindex_filter flt = { .rcpt = "USER7@example.org", .class = -1 };
	unsigned long n = 0;
	assert_int_equal(qindex_count(f->ix, &flt, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, N / 500);
	struct rows rs = { 0 };
	flt.limit = 20;
	assert_int_equal(qindex_list(f->ix, &flt, collect, &rs, f->err, sizeof(f->err)), 0);
	assert_int_equal(rs.n, 20);
	print_message("one recipient's entries: %.4f s\n", elapsed(&t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_adds_and_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_entry_is_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_index_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_index_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_pages_found_by_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_pages_found_by_a_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_index_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_chowns_to_directory_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recipients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_per_class, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest_state_survives_reindex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_syncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_timing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
