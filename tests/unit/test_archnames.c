/*
 * test_archnames - unit tests for the archive name lister.
 *
 * Test archives are built at run time, in memory, with libarchive's write
 * API. The ClamAV sample archives (package clamav-testfiles) are used
 * where libarchive cannot write the format (cab) or to pin behaviour on
 * real-world files; their expected names were taken once from
 * `bsdtar -tf`, python's zipfile/tarfile and `cpio -it`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <sys/resource.h>

#include "archnames.h"
#include "unit_fs.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TEST_MAX_NAMES 256
#define CLAM_DIR "/usr/share/clamav-testfiles/"

/* ---- building archives ---- */

struct test_buf {
	unsigned char *data;
	size_t len, cap;
};

/* test_buf_write - libarchive write callback appending to a test_buf */
static la_ssize_t test_buf_write(struct archive *a, void *arg, const void *p, size_t n)
{
	struct test_buf *b = arg;
	(void)a;
	if (b->len + n > b->cap) {
		size_t cap = (b->len + n) * 2;
		unsigned char *d = realloc(b->data, cap);
		if (d == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return (la_ssize_t)n;
}

/* One member of a test archive: data, then that many zero bytes more. */
struct test_member {
	const char *name;
	const void *data;
	size_t len;
	size_t zeros;
	bool dir;
};

/* What archive to write: format and filter by libarchive name, options. */
struct test_spec {
	const char *format;
	const char *filter;     /* NULL: none */
	const char *options;    /* NULL: none */
	const char *passphrase; /* NULL: none */
};

/*
 * test_build - the archive, malloc'd, with its length in *len. Names are
 * set as UTF-8 under a UTF-8 locale so that writers keep them as given.
 * Aborts the test on any libarchive error.
 */
static unsigned char *test_build(const struct test_spec *spec, const struct test_member *m,
				 size_t n, size_t *len)
{
	static const unsigned char zeros[65536];
	struct test_buf b = {0};
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	assert_non_null(utf8);
	locale_t saved = uselocale(utf8);
	struct archive *a = archive_write_new();

	assert_non_null(a);
	if (archive_write_set_format_by_name(a, spec->format) != ARCHIVE_OK)
		fail_msg("format %s: %s", spec->format, archive_error_string(a));
	if (spec->filter != NULL && archive_write_add_filter_by_name(a, spec->filter) != ARCHIVE_OK)
		fail_msg("filter %s: %s", spec->filter, archive_error_string(a));
	if (spec->options != NULL && archive_write_set_options(a, spec->options) != ARCHIVE_OK)
		fail_msg("options %s: %s", spec->options, archive_error_string(a));
	if (spec->passphrase != NULL &&
	    archive_write_set_passphrase(a, spec->passphrase) != ARCHIVE_OK)
		fail_msg("passphrase: %s", archive_error_string(a));
	(void)archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, &b, NULL, test_buf_write, NULL) != ARCHIVE_OK)
		fail_msg("open %s: %s", spec->format, archive_error_string(a));
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname_utf8(e, m[i].name);
		archive_entry_set_filetype(e, m[i].dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(e, m[i].dir ? 0755 : 0644);
		archive_entry_set_size(e, m[i].dir ? 0 : (la_int64_t)(m[i].len + m[i].zeros));
		archive_entry_set_mtime(e, 1700000000, 0);
		if (archive_write_header(a, e) < ARCHIVE_WARN)
			fail_msg("header %s in %s: %s", m[i].name, spec->format,
				 archive_error_string(a));
		if (!m[i].dir && m[i].len > 0 &&
		    archive_write_data(a, m[i].data, m[i].len) != (la_ssize_t)m[i].len)
			fail_msg("data %s: %s", m[i].name, archive_error_string(a));
		for (size_t z = 0; !m[i].dir && z < m[i].zeros;) {
			size_t k = m[i].zeros - z < sizeof(zeros) ? m[i].zeros - z : sizeof(zeros);
			if (archive_write_data(a, zeros, k) != (la_ssize_t)k)
				fail_msg("zeros %s: %s", m[i].name, archive_error_string(a));
			z += k;
		}
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		fail_msg("close %s: %s", spec->format, archive_error_string(a));
	archive_write_free(a);
	uselocale(saved);
	freelocale(utf8);
	*len = b.len;
	return b.data;
}

/* test_compress - data run through one write filter alone (format "raw") */
static unsigned char *test_compress(const char *filter, const void *data, size_t n, size_t *len)
{
	const struct test_member m = {"data", data, n, 0, false};
	const struct test_spec spec = {"raw", filter, NULL, NULL};
	return test_build(&spec, &m, 1, len);
}

/* ---- listing ---- */

struct test_names {
	size_t n;
	char *name[TEST_MAX_NAMES];
	unsigned depth[TEST_MAX_NAMES];
	size_t stop_after; /* 0: never stop */
};

static int test_collect(const char *name, unsigned depth, void *arg)
{
	struct test_names *t = arg;
	assert_non_null(name);
	assert_true(t->n < TEST_MAX_NAMES);
	t->name[t->n] = strdup(name);
	t->depth[t->n] = depth;
	t->n++;
	return t->stop_after != 0 && t->n >= t->stop_after;
}

static void test_names_free(struct test_names *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->name[i]);
	t->n = 0;
}

/* test_list - list data with limits, checking the result agrees with the callback */
static int test_list(const void *data, size_t len, unsigned entries, unsigned depth, size_t member,
		     struct test_names *t, bool *truncated)
{
	const struct archnames_limits lim = {entries, depth, member};
	char err[128] = "junk";

	int n = archnames_list(data, len, &lim, test_collect, t, truncated, err, sizeof(err));
	assert_int_equal(n, (int)t->n);
	assert_string_equal(err, "");
	return n;
}

/* A want list: "name" at depth 1, or "2:name" at depth 2, and so on. */
static void test_expect(const struct test_names *t, const char *const *want, size_t nwant,
			const char *what)
{
	if (t->n != nwant) {
		for (size_t i = 0; i < t->n; i++)
			print_message("  got %u:%s\n", t->depth[i], t->name[i]);
		fail_msg("%s: %zu names, want %zu", what, t->n, nwant);
	}
	for (size_t i = 0; i < nwant; i++) {
		unsigned d = 1;
		const char *w = want[i];
		if (w[0] >= '1' && w[0] <= '9' && w[1] == ':') {
			d = (unsigned)(w[0] - '0');
			w += 2;
		}
		if (strcmp(t->name[i], w) != 0 || t->depth[i] != d)
			fail_msg("%s: name %zu is %u:\"%s\", want %u:\"%s\"", what, i, t->depth[i],
				 t->name[i], d, w);
	}
}

static const char text[] = "Hello, this is a plain text file.\nNothing to see here.\n";
static const struct test_member three[] = {
	{"readme.txt", text, sizeof(text) - 1, 0, false},
	{"dir/tool.exe", "MZ\x90\x00", 4, 1000, false},
	{"r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.pdf", "%PDF-1.4\n", 9, 0, false},
};
static const char *const three_names[] = {
	"readme.txt", "dir/tool.exe", "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.pdf"};

/* test_formats - each writable format and filter lists its names, UTF-8 intact */
static void test_formats(void **state)
{
	(void)state;
	static const struct test_spec specs[] = {
		{"zip", NULL, NULL, NULL},
		{"zip", NULL, "zip:compression=store", NULL},
		{"7zip", NULL, NULL, NULL},
		{"7zip", NULL, "7zip:compression=bzip2", NULL},
		{"7zip", NULL, "7zip:compression=lzma2", NULL},
		{"pax", NULL, NULL, NULL},
		{"ustar", NULL, NULL, NULL},
		{"gnutar", NULL, NULL, NULL},
		{"newc", NULL, NULL, NULL},
		{"odc", NULL, NULL, NULL},
		{"xar", NULL, NULL, NULL},
		{"pax", "gzip", NULL, NULL},
		{"pax", "bzip2", NULL, NULL},
		{"pax", "xz", NULL, NULL},
		{"pax", "lzma", NULL, NULL},
		{"pax", "lzip", NULL, NULL},
		{"pax", "zstd", NULL, NULL},
		{"pax", "lz4", NULL, NULL},
		{"pax", "compress", NULL, NULL},
		{"pax", "uuencode", NULL, NULL},
		{"newc", "gzip", NULL, NULL},
		{"zip", "gzip", NULL, NULL},
	};
	for (size_t i = 0; i < NELEM(specs); i++) {
		size_t len;
		unsigned char *data = test_build(&specs[i], three, NELEM(three), &len);
		struct test_names t = {0};
		bool truncated = true;
		char what[64];
		snprintf(what, sizeof(what), "%s+%s %s", specs[i].format,
			 specs[i].filter ? specs[i].filter : "none",
			 specs[i].options ? specs[i].options : "");
		test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
		test_expect(&t, three_names, NELEM(three_names), what);
		assert_false(truncated);
		test_names_free(&t);
		free(data);
	}
}

/* test_iso_ar - formats whose writers shape names: ISO 9660 (Rock Ridge), ar */
static void test_iso_ar(void **state)
{
	(void)state;
	const struct test_member iso[] = {
		{"readme.txt", text, sizeof(text) - 1, 0, false},
		{"Invoice March.pdf.lnk", "L\0\0\0", 4, 0, false},
	};
	const struct test_spec iso_spec = {"iso9660", NULL, NULL, NULL};
	/* The root directory comes first, as ".". */
	const char *const iso_want[] = {".", "readme.txt", "Invoice March.pdf.lnk"};
	const struct test_member ar[] = {
		{"a.o", "x", 1, 0, false},
		{"setup.exe", "MZ", 2, 0, false},
	};
	const struct test_spec ar_spec = {"arbsd", NULL, NULL, NULL};
	const char *const ar_want[] = {"a.o", "setup.exe"};
	struct test_names t = {0};
	bool truncated;
	size_t len;

	unsigned char *data = test_build(&iso_spec, iso, NELEM(iso), &len);
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	test_expect(&t, iso_want, NELEM(iso_want), "iso9660");
	test_names_free(&t);
	free(data);

	data = test_build(&ar_spec, ar, NELEM(ar), &len);
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	test_expect(&t, ar_want, NELEM(ar_want), "ar");
	test_names_free(&t);
	free(data);
}

/* test_nested - a zip inside a tar.gz, and the depth bound */
static void test_nested(void **state)
{
	(void)state;
	const struct test_member inner[] = {
		{"payload.exe", "MZ", 2, 5000, false},
		{"notes.txt", text, sizeof(text) - 1, 0, false},
	};
	const struct test_spec zip = {"zip", NULL, NULL, NULL};
	size_t zlen, len;
	unsigned char *z = test_build(&zip, inner, NELEM(inner), &zlen);
	const struct test_member outer[] = {
		{"docs", NULL, 0, 0, true},
		{"docs/readme.txt", text, sizeof(text) - 1, 0, false},
		{"docs/inner.zip", z, zlen, 0, false},
		{"last.txt", text, sizeof(text) - 1, 0, false},
	};
	const struct test_spec tgz = {"pax", "gzip", NULL, NULL};
	unsigned char *data = test_build(&tgz, outer, NELEM(outer), &len);
	struct test_names t = {0};
	bool truncated;

	const char *const deep[] = {"docs/",         "docs/readme.txt", "docs/inner.zip",
				    "2:payload.exe", "2:notes.txt",   "last.txt"};
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	test_expect(&t, deep, NELEM(deep), "tar.gz(zip) depth 2");
	assert_false(truncated);
	test_names_free(&t);

	const char *const shallow[] = {"docs/", "docs/readme.txt", "docs/inner.zip", "last.txt"};
	test_list(data, len, 100, 1, 1 << 20, &t, &truncated);
	test_expect(&t, shallow, NELEM(shallow), "tar.gz(zip) depth 1");
	assert_true(truncated);
	test_names_free(&t);

	/* The inner zip is larger than max_member_size: not expanded. */
	test_list(data, len, 100, 2, zlen - 1, &t, &truncated);
	test_expect(&t, shallow, NELEM(shallow), "tar.gz(zip) member bound");
	assert_true(truncated);
	test_names_free(&t);

	/* Exactly max_member_size is allowed. */
	test_list(data, len, 100, 2, zlen, &t, &truncated);
	test_expect(&t, deep, NELEM(deep), "tar.gz(zip) member at bound");
	assert_false(truncated);
	test_names_free(&t);

	/* max_depth 0: nothing may be listed, and that is a truncation. */
	test_list(data, len, 100, 0, 1 << 20, &t, &truncated);
	assert_int_equal(t.n, 0);
	assert_true(truncated);
	free(data);
	free(z);
}

/* test_depth_chain - six archives nested in one another; the bound counts them */
static void test_depth_chain(void **state)
{
	(void)state;
	static const struct test_spec fmts[] = {
		{"pax", "gzip", NULL, NULL}, {"zip", NULL, NULL, NULL},
		{"7zip", NULL, NULL, NULL},  {"newc", "bzip2", NULL, NULL},
		{"zip", NULL, NULL, NULL},   {"ustar", "xz", NULL, NULL},
	};
	unsigned char *cur = NULL;
	size_t curlen = 0;

	/* Build from the inside out: level k holds "levelk.txt" and "next". */
	for (int k = (int)NELEM(fmts); k >= 1; k--) {
		char name[32];
		snprintf(name, sizeof(name), "level%d.txt", k);
		struct test_member m[2] = {
			{name, text, sizeof(text) - 1, 0, false},
			{"next", cur, curlen, 0, false},
		};
		size_t len;
		unsigned char *next = test_build(&fmts[k - 1], m, cur ? 2 : 1, &len);
		free(cur);
		cur = next;
		curlen = len;
	}
	for (unsigned depth = 1; depth <= NELEM(fmts) + 2; depth++) {
		struct test_names t = {0};
		bool truncated;
		test_list(cur, curlen, 100, depth, 1 << 20, &t, &truncated);
		unsigned levels = depth < NELEM(fmts) ? depth : (unsigned)NELEM(fmts);
		/* Two names per level, one in the innermost. */
		size_t want = levels * 2 - (levels == NELEM(fmts) ? 1 : 0);
		if (t.n != want)
			fail_msg("depth %u: %zu names, want %zu", depth, t.n, want);
		for (size_t i = 0; i < t.n; i++) {
			char name[32];
			unsigned d = (unsigned)(i / 2 + 1);
			snprintf(name, sizeof(name), "level%u.txt", d);
			assert_int_equal(t.depth[i], d);
			assert_string_equal(t.name[i], i % 2 ? "next" : name);
		}
		assert_int_equal(truncated, depth < NELEM(fmts));
		test_names_free(&t);
	}
	/* A huge max_depth is capped, not trusted. */
	struct test_names t = {0};
	bool truncated;
	test_list(cur, curlen, 100, UINT32_MAX, 1 << 20, &t, &truncated);
	assert_int_equal(t.n, NELEM(fmts) * 2 - 1);
	test_names_free(&t);
	free(cur);
}

/* test_max_entries - the name bound, across levels, and the callback's stop */
static void test_max_entries(void **state)
{
	(void)state;
	struct test_member m[10];
	char names[10][24];
	const struct test_spec spec = {"zip", NULL, NULL, NULL};

	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "file%d.txt", i);
		m[i] = (struct test_member){names[i], text, sizeof(text) - 1, 0, false};
	}
	size_t len;
	unsigned char *data = test_build(&spec, m, 10, &len);
	struct test_names t = {0};
	bool truncated;

	for (unsigned max = 0; max <= 11; max++) {
		test_list(data, len, max, 2, 1 << 20, &t, &truncated);
		assert_int_equal(t.n, max < 10 ? max : 10);
		assert_int_equal(truncated, max < 10);
		for (size_t i = 0; i < t.n; i++)
			assert_string_equal(t.name[i], names[i]);
		test_names_free(&t);
	}

	/* The callback asks to stop at the third name: not a truncation. */
	const struct archnames_limits lim = {100, 2, 1 << 20};
	t.stop_after = 3;
	int n = archnames_list(data, len, &lim, test_collect, &t, &truncated, NULL, 0);
	assert_int_equal(n, 3);
	assert_false(truncated);
	test_names_free(&t);

	/* The bound counts names at every depth: 2 outer + 10 inner = 12. */
	const struct test_member outer[] = {
		{"a.txt", text, sizeof(text) - 1, 0, false},
		{"inner.zip", data, len, 0, false},
	};
	const struct test_spec tar = {"ustar", NULL, NULL, NULL};
	size_t olen;
	unsigned char *o = test_build(&tar, outer, NELEM(outer), &olen);
	t.stop_after = 0;
	test_list(o, olen, 11, 2, 1 << 20, &t, &truncated);
	assert_int_equal(t.n, 11);
	assert_true(truncated);
	assert_string_equal(t.name[10], "file8.txt");
	test_names_free(&t);
	test_list(o, olen, 12, 2, 1 << 20, &t, &truncated);
	assert_int_equal(t.n, 12);
	assert_false(truncated);
	assert_string_equal(t.name[11], "file9.txt");
	test_names_free(&t);
	test_list(o, olen, 11, 2, 1 << 20, &t, NULL);
	assert_int_equal(t.n, 11);
	test_names_free(&t);
	free(o);
	free(data);
}

/* test_corrupt - damaged archives report the names before the damage, no error */
static void test_corrupt(void **state)
{
	(void)state;
	struct test_member m[8];
	char names[8][24];
	/* Incompressible and large enough that a cut tar.gz still has whole
	 * 64 KiB blocks before the cut: libarchive's gzip reader drops a
	 * partial last block. */
	static unsigned char body[32 * 1024];
	const struct test_spec specs[] = {
		{"ustar", NULL, NULL, NULL},
		{"zip", NULL, "zip:compression=store", NULL},
		{"zip", NULL, NULL, NULL},
		{"pax", "gzip", NULL, NULL},
		{"newc", NULL, NULL, NULL},
		{"7zip", NULL, NULL, NULL},
	};

	uint32_t seed = 42;
	for (size_t i = 0; i < sizeof(body); i++) {
		seed = seed * 1103515245u + 12345u;
		body[i] = (unsigned char)(seed >> 16);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "part%d.bin", i);
		m[i] = (struct test_member){names[i], body, sizeof(body), 0, false};
	}
	for (size_t s = 0; s < NELEM(specs); s++) {
		size_t len;
		unsigned char *data = test_build(&specs[s], m, 8, &len);
		size_t most = 0;
		/* Cut at every eighth of the length, and flip bytes in the middle. */
		for (size_t cut = 0; cut <= 8; cut++) {
			struct test_names t = {0};
			bool truncated;
			size_t n = len * cut / 8;
			test_list(data, n, 100, 2, 1 << 20, &t, &truncated);
			assert_true(t.n <= 8);
			for (size_t i = 0; i < t.n; i++)
				assert_string_equal(t.name[i], names[i]);
			if (cut == 8)
				assert_int_equal(t.n, 8);
			if (cut == 5 && t.n > most)
				most = t.n;
			test_names_free(&t);
		}
		/* Streamed formats list what precedes a cut at five eighths. */
		if (strcmp(specs[s].format, "7zip") != 0 && most < 3)
			fail_msg("%s: only %zu names before the cut", specs[s].format, most);

		unsigned char *bad = malloc(len);
		assert_non_null(bad);
		for (size_t at = 0; at < len; at += len / 64 + 1) {
			struct test_names t = {0};
			bool truncated;
			memcpy(bad, data, len);
			for (size_t k = at; k < len && k < at + 16; k++)
				bad[k] ^= 0x5a;
			test_list(bad, len, 100, 2, 1 << 20, &t, &truncated);
			test_names_free(&t);
		}
		free(bad);
		free(data);
	}
}

/* test_not_archives - data that is not an archive gives no names and no error */
static void test_not_archives(void **state)
{
	(void)state;
	static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02";
	static const char mtree[] = "#mtree\n./x.exe type=file size=3\n./y.scr type=file\n";
	static unsigned char zero[4096];
	unsigned char rnd[8192];
	uint32_t seed = 12345;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		seed = seed * 1103515245u + 12345u;
		rnd[i] = (unsigned char)(seed >> 16);
	}
	const struct {
		const char *what;
		const void *data;
		size_t len;
	} plain[] = {
		{"text", text, sizeof(text) - 1},
		{"png", png, sizeof(png) - 1},
		{"random", rnd, sizeof(rnd)},
		{"mtree", mtree, sizeof(mtree) - 1},
		{"zeros", zero, sizeof(zero)},
		{"one byte", "P", 1},
		{"PK", "PK\x03\x04", 4},
		{"empty", "", 0},
		{"NULL", NULL, 0},
		{"NULL with a length", NULL, 100},
	};
	for (size_t i = 0; i < NELEM(plain); i++) {
		struct test_names t = {0};
		bool truncated = true;
		if (test_list(plain[i].data, plain[i].len, 100, 2, 1 << 20, &t, &truncated) != 0)
			fail_msg("%s: %zu names, first \"%s\"", plain[i].what, t.n, t.name[0]);
		assert_false(truncated);
	}
	/* Compressed non-archives: the "raw" format is not enabled. */
	static const char *const filters[] = {"gzip", "bzip2", "xz", "lzma", "zstd", "lz4",
					      "compress", "uuencode"};
	const struct {
		const char *what;
		const void *data;
		size_t len;
	} inner[] = {
		{"text", text, sizeof(text) - 1},
		{"hello", "hello\n", 6}, /* looks like mtree to libarchive */
		{"mtree", mtree, sizeof(mtree) - 1},
		{"random", rnd, sizeof(rnd)},
	};
	for (size_t f = 0; f < NELEM(filters); f++) {
		for (size_t i = 0; i < NELEM(inner); i++) {
			size_t len;
			unsigned char *c = test_compress(filters[f], inner[i].data, inner[i].len, &len);
			struct test_names t = {0};
			bool truncated = true;
			if (test_list(c, len, 100, 2, 1 << 20, &t, &truncated) != 0)
				fail_msg("%s of %s: \"%s\"", filters[f], inner[i].what, t.name[0]);
			assert_false(truncated);
			free(c);
		}
	}
	/* An archive whose members are all non-archives of these kinds lists only itself. */
	size_t gzlen;
	unsigned char *gz = test_compress("gzip", "hello\n", 6, &gzlen);
	const struct test_member m[] = {
		{"hello.gz", gz, gzlen, 0, false},
		{"image.png", png, sizeof(png) - 1, 0, false},
		{"zeros.bin", zero, sizeof(zero), 0, false},
		{"empty", "", 0, 0, false},
	};
	const struct test_spec spec = {"zip", NULL, NULL, NULL};
	size_t len;
	unsigned char *data = test_build(&spec, m, NELEM(m), &len);
	struct test_names t = {0};
	bool truncated;
	const char *const want[] = {"hello.gz", "image.png", "zeros.bin", "empty"};
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	test_expect(&t, want, NELEM(want), "zip of non-archives");
	assert_false(truncated);
	test_names_free(&t);
	free(data);
	free(gz);
}

/* test_encrypted - encrypted zip members are listed by name, not opened */
static void test_encrypted(void **state)
{
	(void)state;
	const struct test_member inner[] = {{"hidden.exe", "MZ", 2, 0, false}};
	const struct test_spec zip = {"zip", NULL, NULL, NULL};
	size_t zlen;
	unsigned char *z = test_build(&zip, inner, 1, &zlen);
	const struct test_member m[] = {
		{"invoice.pdf.exe", "MZ", 2, 100, false},
		{"nested.zip", z, zlen, 0, false},
	};
	static const char *const methods[] = {"zip:encryption=zipcrypt", "zip:encryption=aes128",
					      "zip:encryption=aes256"};
	const char *const want[] = {"invoice.pdf.exe", "nested.zip"};

	for (size_t i = 0; i < NELEM(methods); i++) {
		const struct test_spec spec = {"zip", NULL, methods[i], "secret"};
		size_t len;
		unsigned char *data = test_build(&spec, m, NELEM(m), &len);
		struct test_names t = {0};
		bool truncated;
		test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
		test_expect(&t, want, NELEM(want), methods[i]);
		assert_false(truncated);
		test_names_free(&t);
		free(data);
	}
	free(z);
}

/* test_maxrss_kb - the process's peak resident size */
static long test_maxrss_kb(void)
{
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/*
 * test_bomb - a member that inflates far past max_member_size is not read
 * past the bound, whether its size is declared or a lie. Runs first, so the
 * peak resident size still means something.
 */
static void test_bomb(void **state)
{
	(void)state;
	const size_t big = 64u << 20;
	const struct test_member tarm[] = {{"inner.exe", "MZ", 2, big, false}};
	const struct test_spec tar = {"ustar", NULL, NULL, NULL};
	const struct test_spec zip = {"zip", NULL, NULL, NULL};
	/* The member is a 64 MiB tar: a real archive, so only the bound stops it. */
	size_t tlen, len;
	unsigned char *t64 = test_build(&tar, tarm, 1, &tlen);
	const struct test_member zipm[] = {{"bomb.tar", t64, tlen, 0, false}};
	unsigned char *data = test_build(&zip, zipm, 1, &len);
	free(t64);
	assert_true(len < (1u << 20));

	long before = test_maxrss_kb();
	struct test_names t = {0};
	bool truncated;
	const char *const want[] = {"bomb.tar"};
	test_list(data, len, 100, 2, 1u << 20, &t, &truncated);
	test_expect(&t, want, NELEM(want), "bomb");
	assert_true(truncated);
	test_names_free(&t);

	/* Now the sizes lie: the central directory and local header say 1000. */
	unsigned char *lie = malloc(len);
	assert_non_null(lie);
	memcpy(lie, data, len);
	int patched = 0;
	for (size_t i = 0; i + 46 <= len; i++) {
		if (memcmp(lie + i, "PK\x01\x02", 4) == 0) {
			memcpy(lie + i + 24, "\xe8\x03\0\0", 4);
			patched++;
		} else if (memcmp(lie + i, "PK\x03\x04", 4) == 0 &&
			   memcmp(lie + i + 22, "\0\0\0\0", 4) != 0) {
			memcpy(lie + i + 22, "\xe8\x03\0\0", 4);
		}
	}
	assert_int_equal(patched, 1);
	test_list(lie, len, 100, 2, 1u << 20, &t, &truncated);
	test_expect(&t, want, NELEM(want), "lying bomb");
	/* libarchive inflates past the declared size; only our bound stops it. */
	assert_true(truncated);
	test_names_free(&t);
	long after = test_maxrss_kb();
	/* Both listings together stayed far below the 64 MiB an expansion needs. */
	if (after - before > 24 * 1024)
		fail_msg("peak resident size grew by %ld KiB", after - before);

	/* With a bound above its size, the same bomb is listed inside. */
	const char *const inside[] = {"bomb.tar", "2:inner.exe"};
	test_list(data, len, 100, 2, big + 4096, &t, &truncated);
	test_expect(&t, inside, NELEM(inside), "bomb within bounds");
	assert_false(truncated);
	test_names_free(&t);
	free(lie);
	free(data);
}

/* test_budget - many nested archives: the work budget stops the reading */
static void test_budget(void **state)
{
	(void)state;
	const size_t max = 64 * 1024;
	static unsigned char filler[60 * 1024];
	const struct test_member innerm[] = {
		{"deep.exe", "MZ", 2, 0, false},
		{"filler.bin", filler, sizeof(filler), 0, false},
	};
	const struct test_spec tar = {"ustar", NULL, NULL, NULL};
	size_t ilen;
	unsigned char *inner = test_build(&tar, innerm, NELEM(innerm), &ilen);
	assert_true(ilen <= max);

	struct test_member m[20];
	char names[20][24];
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "t%02d.tar", i);
		m[i] = (struct test_member){names[i], inner, ilen, 0, false};
	}
	const struct test_spec zip = {"zip", NULL, NULL, NULL};
	size_t len;
	unsigned char *data = test_build(&zip, m, 20, &len);
	struct test_names t = {0};
	bool truncated;
	test_list(data, len, 1000, 2, max, &t, &truncated);
	assert_true(truncated);
	size_t outer = 0, deep = 0;
	for (size_t i = 0; i < t.n; i++)
		*(t.depth[i] == 1 ? &outer : &deep) += 1;
	/*
	 * Every outer name, but the inner ones only while the budget lasted:
	 * 8 * 64 KiB, and each inner tar costs about 125 KB (its own 64 KB,
	 * then 60 KiB to probe filler.bin), so 4 of the 20 are listed.
	 */
	assert_int_equal(outer, 20);
	if (deep < 2 * 3 || deep > 2 * 5)
		fail_msg("%zu inner names, want 6 to 10", deep);
	test_names_free(&t);
	free(data);
	free(inner);
}

/* test_locale - the caller's locale is untouched; names do not depend on it */
static void test_locale(void **state)
{
	(void)state;
	const struct test_spec spec = {"zip", NULL, NULL, NULL};
	size_t len;
	unsigned char *data = test_build(&spec, three, NELEM(three), &len);
	struct test_names t = {0};
	bool truncated;

	assert_true(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	test_expect(&t, three_names, NELEM(three_names), "C locale");
	test_names_free(&t);
	assert_true(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);

	locale_t mine = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	assert_non_null(mine);
	uselocale(mine);
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	test_expect(&t, three_names, NELEM(three_names), "thread locale");
	test_names_free(&t);
	assert_true(uselocale((locale_t)0) == mine);
	uselocale(LC_GLOBAL_LOCALE);
	freelocale(mine);

	/* A raw Latin-1 name in a tar comes through as its bytes. */
	static const char hdr_name[] = "r\xe9sum\xe9.exe";
	unsigned char tar[1536] = {0};
	memcpy(tar, hdr_name, sizeof(hdr_name) - 1);
	memcpy(tar + 100, "0000644", 7);
	memcpy(tar + 108, "0000000", 7);
	memcpy(tar + 116, "0000000", 7);
	memcpy(tar + 124, "00000000000", 11);
	memcpy(tar + 136, "14000000000", 11);
	tar[156] = '0';
	memcpy(tar + 257, "ustar\00000", 8);
	memset(tar + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += tar[i];
	snprintf((char *)tar + 148, 8, "%06o", sum);
	test_list(tar, sizeof(tar), 100, 2, 1 << 20, &t, &truncated);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.name[0], hdr_name);
	test_names_free(&t);
	free(data);
}

/* test_args - optional arguments: NULL limits, callback, truncated, err */
static void test_args(void **state)
{
	(void)state;
	const struct test_spec spec = {"zip", NULL, NULL, NULL};
	size_t len;
	unsigned char *data = test_build(&spec, three, NELEM(three), &len);
	struct test_names t = {0};
	bool truncated = true;
	char err[8] = "junk";

	assert_int_equal(archnames_list(data, len, NULL, NULL, NULL, NULL, NULL, 0), 3);
	assert_int_equal(archnames_list(data, len, NULL, test_collect, &t, &truncated, err, 1), 3);
	assert_false(truncated);
	assert_int_equal(err[0], '\0');
	test_expect(&t, three_names, NELEM(three_names), "defaults");
	test_names_free(&t);
	free(data);
}

/* The ClamAV samples, with the names bsdtar, zipfile, tarfile and cpio list. */
static const struct {
	const char *file;
	const char *names[3];
} clam[] = {
	{"clam.zip", {"clam.exe"}},
	{"clam.7z", {"clam.exe"}},
	{"clam.cab", {"clam.exe"}},
	{"clam.tar.gz", {"clam.exe"}},
	{"clam.bin-le.cpio", {"clam.exe"}},
	{"clam.bin-be.cpio", {"clam.exe"}},
	{"clam.newc.cpio", {"clam.exe"}},
	{"clam.odc.cpio", {"clam.exe"}},
	{"clam.bz2.zip", {"clam.exe"}},    /* bzip2 method: listed and read */
	{"clam.d64.zip", {"clam.exe"}},    /* deflate64: listed, not readable */
	{"clam.impl.zip", {"CLAM.EXE"}},   /* implode: listed, not readable */
	/* libarchive has no reader for these: no names, no error. */
	{"clam.arj", {NULL}},
	{"clam.chm", {NULL}},
	{"clam.sis", {NULL}},
	{"clam.exe", {NULL}},
	{"clam.exe.bz2", {NULL}}, /* a compressed file, not an archive */
	{"clam.exe.szdd", {NULL}},
	{"clam.exe.mbox.uu", {NULL}},
	{"clam.ole.doc", {NULL}},
	{"clam.pdf", {NULL}},
	{"clam_ISmsi_ext.exe", {NULL}},
	{"clam-upx.exe", {NULL}},
};

/* test_clamav_files - the sample archives from clamav-testfiles */
static void test_clamav_files(void **state)
{
	(void)state;
	size_t len;
	char *probe = ufs_read(CLAM_DIR "clam.zip", &len);
	if (probe == NULL)
		skip();
	free(probe);

	for (size_t i = 0; i < NELEM(clam); i++) {
		char path[256];
		snprintf(path, sizeof(path), CLAM_DIR "%s", clam[i].file);
		char *data = ufs_read(path, &len);
		if (data == NULL)
			fail_msg("cannot read %s", path);
		size_t nwant = 0;
		while (nwant < NELEM(clam[i].names) && clam[i].names[nwant] != NULL)
			nwant++;
		struct test_names t = {0};
		bool truncated;
		test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
		test_expect(&t, clam[i].names, nwant, clam[i].file);
		assert_false(truncated);
		test_names_free(&t);
		free(data);
	}

	/* clam_cache_emax.tgz (structure from python's tarfile): clam01.tgz holds
	 * clam02.tgz ... down to clam.exe at depth 9, then clam02.tgz the same from 2. */
	char *data = ufs_read(CLAM_DIR "clam_cache_emax.tgz", &len);
	assert_non_null(data);
	struct test_names t = {0};
	bool truncated;
	test_list(data, len, 100, 2, 1 << 20, &t, &truncated);
	const char *const two[] = {"clam01.tgz", "2:clam02.tgz", "clam02.tgz", "2:clam03.tgz"};
	test_expect(&t, two, NELEM(two), "clam_cache_emax depth 2");
	assert_true(truncated);
	test_names_free(&t);
	test_list(data, len, 100, 9, 1 << 20, &t, &truncated);
	assert_int_equal(t.n, 17);
	assert_false(truncated);
	assert_string_equal(t.name[8], "clam.exe");
	assert_int_equal(t.depth[8], 9);
	test_names_free(&t);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bomb),         cmocka_unit_test(test_formats),
		cmocka_unit_test(test_iso_ar),       cmocka_unit_test(test_nested),
		cmocka_unit_test(test_depth_chain),  cmocka_unit_test(test_max_entries),
		cmocka_unit_test(test_corrupt),      cmocka_unit_test(test_not_archives),
		cmocka_unit_test(test_encrypted),    cmocka_unit_test(test_budget),
		cmocka_unit_test(test_locale),       cmocka_unit_test(test_args),
		cmocka_unit_test(test_clamav_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
