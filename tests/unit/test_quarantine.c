/*
 * test_quarantine - the durable quarantine writer, its entry format and
 * its reader (quarantine.h): round trip with hostile values, modes, byte
 * counts, whole versus cut entries, entries from before the newer fields,
 * delete, list, and what a crash leaves behind.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mime.h"
#include "quarantine.h"
#include "unit_fs.h"

struct fixture {
	char root[PATH_MAX];
	char dir[PATH_MAX + 16]; /* the quarantine, not yet created */
	char err[512];
	char id[QUARANTINE_ID_MAX];
	int nfds;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ufs_tmpdir(f->root, sizeof(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/q/sub", f->root);
	f->nfds = ufs_nfds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ufs_nfds(), f->nfds);
	ufs_rm_rf(f->root);
	free(f);
	return 0;
}

struct body {
	const char *data;
	size_t len;
};

/* write_body - body_writer: the raw message, as the spool would hand it over */
static int write_body(int fd, void *arg, char *err, size_t errlen)
{
	const struct body *b = arg;

	return durable_write_all(fd, b->data, b->len, err, errlen);
}

static const char *const hostile_rcpts[] = { "a@example.org", "b\r\nrcpt: forged@x" };
static const char *const hostile_viruses[] = { "Eicar-Signature", "Evil%0A\n" };

static const struct envelope hostile_env = {
	.client_addr = "10.1.2.3",
	.client_name = "host\x01.example",
	.helo = "helo\r\nsize: 1\r\n\r\nKLAXON-END x",
	.auth_user = NULL,
	.sender = "evil@x\r\nvirus: none\x7f",
	.rcpts = hostile_rcpts,
	.nrcpts = 2,
	.queue_id = "4AbCd",
	.origin = ORIGIN_INTERNAL,
};

/* store - quarantine body with meta derived from env; size may lie on purpose */
static int store(struct fixture *f, const struct body *b, unsigned long long size)
{
	const struct quarantine_meta meta = {
		.env = &hostile_env,
		.class = "virus",
		.viruses = hostile_viruses,
		.nviruses = 2,
		.reason = NULL,
		.when = 1764233400,
		.size = size,
	};
	return quarantine_store(f->dir, &meta, write_body, (void *)b, f->id, sizeof(f->id), f->err,
				sizeof(f->err));
}

/* entry_path - dir/<id>.kq */
static void entry_path(const struct fixture *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.kq", f->dir, f->id);
}

/* decode - undo the percent-encoding of one value, in place */
static void decode(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 };
			*out++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static const char message[] = "From: a@b\r\nSubject: x\r\n\r\nbody\n.\nKLAXON-END fake\n\0tail";

static void test_round_trip_hostile(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	char path[2 * PATH_MAX];
	size_t len;

	assert_int_equal(store(f, &b, b.len), 0);
	regex_t re;
	assert_int_equal(regcomp(&re, "^20251127T085000Z-[0-9a-f]{16}$", REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, f->id, 0, NULL, 0), 0);
	regfree(&re);

	entry_path(f, path, sizeof(path));
	char *text = ufs_read(path, &len);
	assert_non_null(text);

	/* Header block: every line "key: value", exactly the fields we expect, in order. */
	const struct {
		const char *key;
		const char *value;
	} want[] = {
		{ "id", f->id },
		{ "time", "2025-11-27T08:50:00Z" },
		{ "class", "virus" },
		{ "origin", "internal" },
		{ "client-addr", hostile_env.client_addr },
		{ "client-name", hostile_env.client_name },
		{ "helo", hostile_env.helo },
		{ "auth-user", "" },
		{ "sender", hostile_env.sender },
		{ "rcpt", hostile_rcpts[0] },
		{ "rcpt", hostile_rcpts[1] },
		{ "queue-id", hostile_env.queue_id },
		{ "subject", "" },
		{ "virus", hostile_viruses[0] },
		{ "virus", hostile_viruses[1] },
		{ "payload", "" },
		{ "reason", "" },
		{ "size", "53" },
	};
	assert_int_equal(b.len, 53);
	char *p = text;
	char *nl = strchr(p, '\n');
	assert_non_null(nl);
	assert_memory_equal(p, "KLAXON-QUARANTINE 1\n", 20);
	p = nl + 1;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		assert_null(strchr(p, '\r'));
		char *colon = strstr(p, ": ");
		assert_non_null(colon);
		*colon = '\0';
		assert_string_equal(p, want[i].key);
		char *value = colon + 2;
		for (char *c = value; *c; c++)
			assert_true((unsigned char)*c >= 0x20 && *c != 0x7f);
		decode(value);
		assert_string_equal(value, want[i].value);
		p = nl + 1;
	}
	assert_int_equal(*p, '\n'); /* the empty line ends the header block */
	p++;
	assert_memory_equal(p, message, b.len);
	p += b.len;
	char trailer[128];
	snprintf(trailer, sizeof(trailer), "\nKLAXON-END %s\n", f->id);
	assert_int_equal((size_t)(text + len - p), strlen(trailer));
	assert_memory_equal(p, trailer, strlen(trailer));
	free(text);

	assert_int_equal(quarantine_entry_check(f->dir, f->id, f->err, sizeof(f->err)), 0);
}

static void test_modes(void **state)
{
	struct fixture *f = *state;
	struct body b = { "x", 1 };
	char path[2 * PATH_MAX], parent[PATH_MAX + 16];

	assert_int_equal(store(f, &b, 1), 0);
	snprintf(parent, sizeof(parent), "%s/q", f->root);
	assert_int_equal(ufs_mode(f->dir), 0700);
	assert_int_equal(ufs_mode(parent), 0700);
	entry_path(f, path, sizeof(path));
	assert_int_equal(ufs_mode(path), 0600);
	assert_int_equal(ufs_count(f->dir, ""), 1);
}

static void test_empty_message(void **state)
{
	struct fixture *f = *state;
	struct body b = { "", 0 };

	assert_int_equal(store(f, &b, 0), 0);
	assert_int_equal(quarantine_entry_check(f->dir, f->id, f->err, sizeof(f->err)), 0);
}

static void test_wrong_byte_count(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	const unsigned long long lies[] = { 0, b.len - 1, b.len + 1, 1ULL << 40 };

	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		f->err[0] = '\0';
		assert_int_equal(store(f, &b, lies[i]), -1);
		assert_non_null(strstr(f->err, "expected"));
		assert_int_equal(ufs_count(f->dir, ""), 0);
	}
}

/* write_seek_trick - writes the right count but leaves a hole: size and offset disagree */
static int write_seek_trick(int fd, void *arg, char *err, size_t errlen)
{
	(void)arg;
	if (pwrite(fd, "zz", 2, 100000) != 2) {
		snprintf(err, errlen, "pwrite: %s", strerror(errno));
		return -1;
	}
	return durable_write_all(fd, "abc", 3, err, errlen);
}

static void test_writer_tricks_and_failures(void **state)
{
	struct fixture *f = *state;
	const struct quarantine_meta meta = { .env = &hostile_env, .class = "virus", .size = 3 };

	assert_int_equal(quarantine_store(f->dir, &meta, write_seek_trick, NULL, f->id,
					  sizeof(f->id), f->err, sizeof(f->err)),
			 -1);
	assert_int_equal(ufs_count(f->dir, ""), 0);

	struct body b = { "abc", 3 };
	char small[8];
	assert_int_equal(quarantine_store(f->dir, &meta, write_body, &b, small, sizeof(small),
					  f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "too small"));
}

static void test_unusable_dir(void **state)
{
	struct fixture *f = *state;
	struct body b = { "abc", 3 };
	char file[PATH_MAX + 16];

	snprintf(file, sizeof(file), "%s/file", f->root);
	assert_int_equal(ufs_write(file, "x", 1), 0);
	snprintf(f->dir, sizeof(f->dir), "%s/file/q", f->root);
	assert_int_equal(store(f, &b, 3), -1);
	assert_non_null(strstr(f->err, "mkdir "));
	assert_non_null(strstr(f->err, "Not a directory"));
}

/* mutate_* - damage an entry the way a crash, a bad disk or a wrong copy would */
static void mutate_truncate_one(const char *path, size_t len)
{
	assert_int_equal(truncate(path, (off_t)len - 1), 0);
}

static void mutate_truncate_body(const char *path, size_t len)
{
	/* 46 bytes of end marker, so this cuts inside the 53-byte body. */
	assert_int_equal(truncate(path, (off_t)len - 60), 0);
}

static void mutate_truncate_header(const char *path, size_t len)
{
	(void)len;
	assert_int_equal(truncate(path, 30), 0);
}

static void mutate_empty(const char *path, size_t len)
{
	(void)len;
	assert_int_equal(truncate(path, 0), 0);
}

static void mutate_append(const char *path, size_t len)
{
	(void)len;
	FILE *fp = fopen(path, "ab");
	assert_non_null(fp);
	fputs("junk", fp);
	fclose(fp);
}

static void mutate_marker(const char *path, size_t len)
{
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, (long)len - 5, SEEK_SET);
	fputc('X', fp);
	fclose(fp);
}

static void mutate_magic(const char *path, size_t len)
{
	(void)len;
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fputc('k', fp);
	fclose(fp);
}

static void mutate_size_field(const char *path, size_t len)
{
	size_t n;
	char *text = ufs_read(path, &n);
	char *size = strstr(text, "\nsize: 53\n");
	(void)len;
	assert_non_null(size);
	size[8] = '2'; /* 52: the body then runs one byte into the marker */
	assert_int_equal(ufs_write(path, text, n), 0);
	free(text);
}

static void test_check_detects_damage(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	char path[2 * PATH_MAX];
	const struct {
		const char *name;
		void (*mutate)(const char *path, size_t len);
		const char *want;
	} cases[] = {
		{ "cut by one byte", mutate_truncate_one, "truncated" },
		{ "cut in the body", mutate_truncate_body, "truncated" },
		{ "cut in the header", mutate_truncate_header, "header cut short" },
		{ "empty", mutate_empty, "empty file" },
		{ "trailing junk", mutate_append, "trailing bytes" },
		{ "damaged marker", mutate_marker, "end marker" },
		{ "damaged magic", mutate_magic, "magic" },
		{ "size field lies", mutate_size_field, "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		assert_int_equal(store(f, &b, b.len), 0);
		entry_path(f, path, sizeof(path));
		free(ufs_read(path, &len));
		assert_int_equal(quarantine_entry_check(f->dir, f->id, f->err, sizeof(f->err)), 0);
		cases[i].mutate(path, len);
		assert_int_equal(quarantine_entry_check(f->dir, f->id, f->err, sizeof(f->err)), -1);
		if (strstr(f->err, cases[i].want) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name, f->err, cases[i].want);
		assert_non_null(strstr(f->err, path));
	}
}

static void test_check_id_must_match(void **state)
{
	struct fixture *f = *state;
	struct body b = { "abc", 3 };
	char from[2 * PATH_MAX], to[2 * PATH_MAX];
	const char *other = "20251127T085000Z-0000000000000000";

	assert_int_equal(store(f, &b, 3), 0);
	entry_path(f, from, sizeof(from));
	snprintf(to, sizeof(to), "%s/%s.kq", f->dir, other);
	assert_int_equal(link(from, to), 0);
	assert_int_equal(quarantine_entry_check(f->dir, other, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "id field"));

	const char *bad_ids[] = { "", "../x", "a/b", "x\n" };
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		assert_int_equal(quarantine_entry_check(f->dir, bad_ids[i], f->err, sizeof(f->err)),
				 -1);
		assert_non_null(strstr(f->err, "bad id"));
	}
}

static void test_crash_before_rename(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	char tmp[PATH_MAX + 128];
	const char *id = "20251127T085000Z-0123456789abcdef";
	static const char half[] = "KLAXON-QUARANTINE 1\nid: 20251127T085000Z-0123456789abcdef\n"
				   "size: 53\n\nFrom: a@b\r\n";

	/* What a crash between the temp write and the rename leaves behind. */
	assert_int_equal(durable_mkdir(f->dir, 0700, f->err, sizeof(f->err)), 0);
	snprintf(tmp, sizeof(tmp), "%s/.tmp.%s.kq.fedcba9876543210", f->dir, id);
	assert_int_equal(ufs_write(tmp, half, sizeof(half) - 1), 0);

	/* It is not an entry under the id... */
	assert_int_equal(quarantine_entry_check(f->dir, id, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, strerror(ENOENT)));
	/* ...and it does not get in the way of the next store. */
	assert_int_equal(store(f, &b, b.len), 0);
	assert_int_equal(quarantine_entry_check(f->dir, f->id, f->err, sizeof(f->err)), 0);
	assert_int_equal(ufs_count_suffix(f->dir, ".kq"), 1);
	assert_int_equal(ufs_count(f->dir, ".tmp."), 1);
}

static const char *const new_banned[] = { "invoice.exe: banned extension .exe",
					   "a\r\nbanned: forged%41" };
static const char hostile_subject[] = "Re: 100% \"urgent\"\r\nX-Injected: yes\x01\x1f\x7f caf\xc3\xa9";
static const char payload_hex[] =
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/* store_full - an entry with every field of the current format set */
static int store_full(struct fixture *f, const struct body *b)
{
	const struct quarantine_meta meta = {
		.env = &hostile_env,
		.class = "banned",
		.viruses = hostile_viruses,
		.nviruses = 2,
		.reason = "reason with\nnewline and %",
		.when = 1764233400,
		.size = b->len,
		.subject = hostile_subject,
		.banned = new_banned,
		.nbanned = 2,
		.flags = MIME_DUP_CTE | MIME_HEADER_NUL | MIME_LIMIT,
		.payload = payload_hex,
	};
	return quarantine_store(f->dir, &meta, write_body, (void *)b, f->id, sizeof(f->id), f->err,
				sizeof(f->err));
}

static void test_new_fields_round_trip(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	struct quarantine_entry e;
	char path[2 * PATH_MAX];

	assert_int_equal(store_full(f, &b), 0);
	assert_int_equal(quarantine_read(f->dir, f->id, &e, f->err, sizeof(f->err)), 0);
	assert_string_equal(e.id, f->id);
	assert_int_equal(e.when, 1764233400);
	assert_string_equal(e.class, "banned");
	assert_string_equal(e.origin, "internal");
	assert_string_equal(e.client_addr, hostile_env.client_addr);
	assert_string_equal(e.client_name, hostile_env.client_name);
	assert_string_equal(e.helo, hostile_env.helo);
	assert_string_equal(e.auth_user, "");
	assert_string_equal(e.sender, hostile_env.sender);
	assert_string_equal(e.queue_id, hostile_env.queue_id);
	assert_string_equal(e.subject, hostile_subject);
	assert_string_equal(e.payload, payload_hex);
	assert_string_equal(e.reason, "reason with\nnewline and %");
	assert_int_equal(e.nrcpts, 2);
	assert_string_equal(e.rcpts[0], hostile_rcpts[0]);
	assert_string_equal(e.rcpts[1], hostile_rcpts[1]);
	assert_int_equal(e.nviruses, 2);
	assert_string_equal(e.viruses[0], hostile_viruses[0]);
	assert_string_equal(e.viruses[1], hostile_viruses[1]);
	assert_int_equal(e.nbanned, 2);
	assert_string_equal(e.banned[0], new_banned[0]);
	assert_string_equal(e.banned[1], new_banned[1]);
	assert_int_equal(e.nflags, 3);
	assert_string_equal(e.flags[0], mime_flag_name(MIME_DUP_CTE));
	assert_string_equal(e.flags[1], mime_flag_name(MIME_HEADER_NUL));
	assert_string_equal(e.flags[2], mime_flag_name(MIME_LIMIT));
	assert_int_equal(e.size, b.len);

	/* body_offset points at the raw message, and read_message returns exactly it. */
	size_t len;
	entry_path(f, path, sizeof(path));
	char *text = ufs_read(path, &len);
	assert_memory_equal(text + e.body_offset, message, b.len);
	/* Each value stayed on one line: the hostile subject did not add a header. */
	assert_null(strstr(text, "\nX-Injected"));
	assert_null(strstr(text, "\nbanned: forged"));
	assert_non_null(strstr(text, "\nflag: "));
	free(text);
	char *msg = NULL;
	assert_int_equal(quarantine_read_message(f->dir, &e, &msg, &len, f->err, sizeof(f->err)), 0);
	assert_int_equal(len, b.len);
	assert_memory_equal(msg, message, b.len);
	assert_int_equal(msg[len], '\0');
	free(msg);

	quarantine_entry_clear(&e);
	assert_null(e.class);
	assert_int_equal(e.nrcpts, 0);
	quarantine_entry_clear(&e); /* twice is harmless */
}

/* write_old_entry - an entry as written before subject, banned, flag and payload existed */
static void write_old_entry(struct fixture *f, const char *id, const char *time_field,
			    const char *extra)
{
	char path[2 * PATH_MAX], text[2048];
	static const char body[] = "Subject: old\r\n\r\nold body\r\n";

	assert_int_equal(durable_mkdir(f->dir, 0700, f->err, sizeof(f->err)), 0);
	int n = snprintf(text, sizeof(text),
			 "KLAXON-QUARANTINE 1\nid: %s\ntime: %s\nclass: limit\norigin: external\n"
			 "client-addr: 192.0.2.7\nclient-name: \nhelo: mx.example\nauth-user: \n"
			 "sender: a@example.net\nrcpt: One@Example.org\nrcpt: two@example.org\n"
			 "queue-id: 4Q1\nvirus: Eicar-Signature\n%sreason: too deep%%3A 20\n"
			 "size: %zu\n\n%s\nKLAXON-END %s\n",
			 id, time_field, extra, sizeof(body) - 1, body, id);
	snprintf(path, sizeof(path), "%s/%s.kq", f->dir, id);
	assert_int_equal(ufs_write(path, text, (size_t)n), 0);
}

static void test_old_format_reads(void **state)
{
	struct fixture *f = *state;
	const char *id = "20240102T030405Z-00112233445566aa";
	struct quarantine_entry e;

	write_old_entry(f, id, "2024-01-02T03:04:05Z", "x-later-field: ignored\n");
	assert_int_equal(quarantine_entry_check(f->dir, id, f->err, sizeof(f->err)), 0);
	assert_int_equal(quarantine_read(f->dir, id, &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e.when, 1704164645);
	assert_string_equal(e.class, "limit");
	assert_string_equal(e.client_name, "");
	assert_string_equal(e.subject, "");
	assert_string_equal(e.payload, "");
	assert_string_equal(e.reason, "too deep: 20");
	assert_int_equal(e.nbanned, 0);
	assert_null(e.banned);
	assert_int_equal(e.nflags, 0);
	assert_int_equal(e.nrcpts, 2);
	assert_string_equal(e.rcpts[0], "One@Example.org");
	assert_int_equal(e.nviruses, 1);

	char *msg;
	size_t len;
	assert_int_equal(quarantine_read_message(f->dir, &e, &msg, &len, f->err, sizeof(f->err)), 0);
	assert_string_equal(msg, "Subject: old\r\n\r\nold body\r\n");
	free(msg);
	quarantine_entry_clear(&e);

	/* A time field nobody can parse: the id still says when. */
	write_old_entry(f, id, "yesterday", "");
	assert_int_equal(quarantine_read(f->dir, id, &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e.when, 1704164645);
	quarantine_entry_clear(&e);
}

static void test_read_detects_damage(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	char path[2 * PATH_MAX];
	struct quarantine_entry e;
	void (*const mutate[])(const char *, size_t) = {
		mutate_truncate_one, mutate_truncate_body, mutate_truncate_header, mutate_empty,
		mutate_append,	     mutate_marker,	   mutate_magic,	   mutate_size_field,
	};

	for (size_t i = 0; i < sizeof(mutate) / sizeof(mutate[0]); i++) {
		size_t len;
		char check_err[512];
		assert_int_equal(store_full(f, &b), 0);
		entry_path(f, path, sizeof(path));
		free(ufs_read(path, &len));
		mutate[i](path, len);
		assert_int_equal(quarantine_entry_check(f->dir, f->id, check_err, sizeof(check_err)),
				 -1);
		memset(&e, 0x5a, sizeof(e));
		assert_int_equal(quarantine_read(f->dir, f->id, &e, f->err, sizeof(f->err)), -1);
		/* The same verdict, in the same words, as the check. */
		assert_string_equal(f->err, check_err);
		assert_null(e.class);
		assert_null(e.rcpts);
	}
	assert_int_equal(quarantine_read(f->dir, "../etc/passwd", &e, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "bad id"));
}

static void test_read_message_checks_file(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	struct quarantine_entry e;
	char path[2 * PATH_MAX];
	char *msg = (char *)"untouched";
	size_t len = 99;

	assert_int_equal(store_full(f, &b), 0);
	assert_int_equal(quarantine_read(f->dir, f->id, &e, f->err, sizeof(f->err)), 0);
	entry_path(f, path, sizeof(path));
	mutate_append(path, 0);
	assert_int_equal(quarantine_read_message(f->dir, &e, &msg, &len, f->err, sizeof(f->err)),
			 -1);
	assert_null(msg);
	assert_int_equal(len, 0);
	assert_non_null(strstr(f->err, "not the entry"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(quarantine_read_message(f->dir, &e, &msg, &len, f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, strerror(ENOENT)));
	quarantine_entry_clear(&e);
}

static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct body b = { "abc", 3 };
	char keep[QUARANTINE_ID_MAX];

	assert_int_equal(store(f, &b, 3), 0);
	memcpy(keep, f->id, sizeof(keep));
	assert_int_equal(store(f, &b, 3), 0);
	assert_int_equal(quarantine_delete(f->dir, f->id, f->err, sizeof(f->err)), 0);
	assert_int_equal(ufs_count_suffix(f->dir, ".kq"), 1);
	assert_int_equal(quarantine_entry_check(f->dir, keep, f->err, sizeof(f->err)), 0);
	assert_int_equal(quarantine_delete(f->dir, f->id, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "unlink"));
	assert_non_null(strstr(f->err, strerror(ENOENT)));
	assert_int_equal(quarantine_delete(f->dir, "../q", f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "bad id"));
}

struct seen {
	char ids[8][QUARANTINE_ID_MAX];
	int n;
	int stop_after;
};

/* collect - quarantine_list_fn: remember the ids; stop when told to */
static int collect(const char *id, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->ids[s->n++], QUARANTINE_ID_MAX, "%s", id);
	return s->stop_after != 0 && s->n >= s->stop_after;
}

/* seen_has - was id listed? */
static bool seen_has(const struct seen *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return true;
	return false;
}

static void test_list_skips_junk(void **state)
{
	struct fixture *f = *state;
	struct body b = { "abc", 3 };
	char ids[3][QUARANTINE_ID_MAX], path[2 * PATH_MAX];
	const char *junk[] = {
		".tmp.20251127T085000Z-0123456789abcdef.kq.fedcba9876543210", /* durable's temp name */
		".tmp.x.kq",
		"index.sqlite",
		"index.sqlite-wal",
		"notes.txt",
		".kq",
		"bad.id.kq",
		"20251127T085000Z-0123456789abcdef.kq~",
		"20251127T085000Z-0123456789abcdef.KQ",
		"20251127T085000Z-0123456789abcdef-0123456789abcdef-0123456789.kq", /* too long */
	};

	for (int i = 0; i < 3; i++) {
		assert_int_equal(store(f, &b, 3), 0);
		memcpy(ids[i], f->id, sizeof(ids[i]));
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, junk[i]);
		assert_int_equal(ufs_write(path, "x", 1), 0);
	}
	snprintf(path, sizeof(path), "%s/sub", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);

	struct seen s = { 0 };
	assert_int_equal(quarantine_list(f->dir, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++)
		assert_true(seen_has(&s, ids[i]));

	struct seen one = { .stop_after = 1 };
	assert_int_equal(quarantine_list(f->dir, collect, &one, f->err, sizeof(f->err)), 0);
	assert_int_equal(one.n, 1);

	snprintf(path, sizeof(path), "%s/missing", f->root);
	assert_int_equal(quarantine_list(path, collect, &s, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "opendir"));
}

static void test_crash_never_listed_as_whole(void **state)
{
	struct fixture *f = *state;
	struct body b = { message, sizeof(message) - 1 };
	char from[2 * PATH_MAX], tmp[2 * PATH_MAX], whole[QUARANTINE_ID_MAX];
	struct quarantine_entry e;

	assert_int_equal(store_full(f, &b), 0);
	memcpy(whole, f->id, sizeof(whole));

	/* A complete entry still under durable.c's temp name: the rename never happened. */
	assert_int_equal(store_full(f, &b), 0);
	entry_path(f, from, sizeof(from));
	snprintf(tmp, sizeof(tmp), "%s/.tmp.%s.kq.%s", f->dir, f->id, "0123456789abcdef");
	assert_int_equal(rename(from, tmp), 0);

	/* A .kq cut short (a disk that lied about fsync, a bad copy). */
	size_t len;
	assert_int_equal(store_full(f, &b), 0);
	entry_path(f, from, sizeof(from));
	free(ufs_read(from, &len));
	mutate_truncate_body(from, len);

	struct seen s = { 0 };
	assert_int_equal(quarantine_list(f->dir, collect, &s, f->err, sizeof(f->err)), 0);
	assert_int_equal(s.n, 2);
	assert_true(seen_has(&s, whole));
	assert_true(seen_has(&s, f->id));
	int readable = 0;
	for (int i = 0; i < s.n; i++) {
		if (quarantine_read(f->dir, s.ids[i], &e, f->err, sizeof(f->err)) == 0) {
			readable++;
			assert_string_equal(e.id, whole);
			quarantine_entry_clear(&e);
		} else {
			assert_non_null(strstr(f->err, "truncated"));
		}
	}
	assert_int_equal(readable, 1);
}

static void test_class_names(void **state)
{
	(void)state;
	const char *names[] = { "virus", "banned", "ambiguous", "policy", "spam" };

	for (int c = 0; c < QUARANTINE_CLASS_COUNT; c++) {
		assert_string_equal(quarantine_class_name((enum quarantine_class)c), names[c]);
		assert_int_equal(quarantine_class_parse(names[c]), c);
	}
	assert_int_equal(quarantine_class_parse("SPAM"), QUARANTINE_SPAM);
	assert_int_equal(quarantine_class_parse("limit"), -1);
	assert_int_equal(quarantine_class_parse(""), -1);
	assert_int_equal(quarantine_class_parse(NULL), -1);
	assert_string_equal(quarantine_class_name(QUARANTINE_CLASS_COUNT), "unknown");
	assert_string_equal(quarantine_class_name((enum quarantine_class)-1), "unknown");
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_byte_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_tricks_and_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_detects_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_id_must_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_before_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_fields_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_format_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_detects_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_message_checks_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_skips_junk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_never_listed_as_whole, setup, teardown),
		cmocka_unit_test(test_class_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
