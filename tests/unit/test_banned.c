/*
 * test_banned - unit tests for the banned-name module, one table per behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banned.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* test_parse_or_fail - parse text that must be valid, reporting the error if not */
static struct banned_list *test_parse_or_fail(const char *text)
{
	struct banned_list *b = NULL;
	char err[256] = "";

	if (banned_list_parse(text, &b, err, sizeof(err)) != 0)
		fail_msg("parse \"%s\" failed: %s", text, err);
	assert_non_null(b);
	return b;
}

/* Valid lists: how many distinct extensions, and a name each must ban. */
static const struct {
	const char *text;
	size_t count;
	const char *banned; /* NULL: nothing to check */
} parse_ok[] = {
	{"", 0, NULL},
	{"  \t\r\n ,, ,", 0, NULL},
	{"exe", 1, "x.exe"},
	{".exe", 1, "x.exe"},
	{".EXE", 1, "x.exe"},
	{"ExE", 1, "x.EXE"},
	{"exe,EXE .exe\t.Exe", 1, "x.eXe"},
	{"exe,pif", 2, "x.pif"},
	{"exe\npif\r\nscr", 3, "x.scr"},
	{",exe,", 1, "x.exe"},
	{"a_b c-d", 2, "x.A_B"},
	{"0123456789abcdef", 1, "x.0123456789ABCDEF"},
	{".0123456789abcdef", 1, "x.0123456789abcdef"},
	{"7z", 1, "x.7z"},
	{"-", 1, "x.-"},
};

/* test_parse_ok - valid lists parse, count distinct items, and match */
static void test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_ok); i++) {
		struct banned_list *b = test_parse_or_fail(parse_ok[i].text);
		if (banned_list_count(b) != parse_ok[i].count)
			fail_msg("\"%s\": count %zu, want %zu", parse_ok[i].text,
				 banned_list_count(b), parse_ok[i].count);
		if (parse_ok[i].banned != NULL && !banned_name_check(b, parse_ok[i].banned, NULL, 0))
			fail_msg("\"%s\": does not ban %s", parse_ok[i].text, parse_ok[i].banned);
		banned_list_free(b);
	}
}

/* Invalid lists: a substring the error must contain (it names the item). */
static const struct {
	const char *text;
	const char *want;
} parse_bad[] = {
	{"exe ..com", "banned extension \"..com\": only letters"},
	{"exe x$e", "\"x$e\": only letters, digits, '_' and '-' are allowed"},
	{"ex.e", "\"ex.e\""},
	{"ex/e", "\"ex/e\""},
	{"exe;pif", "\"exe;pif\""},
	{"exe \"pif\"", "\"?pif?\""},
	{"\xc3\xa9xe", "\"??xe\""},
	{"ex\x01", "\"ex?\""},
	{".", "banned extension \".\": empty extension"},
	{"exe . pif", "\".\": empty"},
	{"0123456789abcdefg", "\"0123456789abcdefg\": longer than 16 bytes"},
	{".0123456789abcdefg", "longer than 16 bytes"},
	{"exe aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": longer than 16"},
};

/* test_parse_bad - invalid lists fail, name the item, and leave *out alone */
static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(parse_bad); i++) {
		struct banned_list *sentinel = (struct banned_list *)&parse_bad[i];
		struct banned_list *b = sentinel;
		char err[256] = "";
		if (banned_list_parse(parse_bad[i].text, &b, err, sizeof(err)) != -1)
			fail_msg("\"%s\": parsed", parse_bad[i].text);
		if (b != sentinel)
			fail_msg("\"%s\": *out changed on failure", parse_bad[i].text);
		if (strstr(err, parse_bad[i].want) == NULL)
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", parse_bad[i].text, err,
				 parse_bad[i].want);
	}
	/* A NULL or short error buffer is fine. */
	struct banned_list *b = NULL;
	char small[8];
	assert_int_equal(banned_list_parse("x$", &b, NULL, 0), -1);
	assert_int_equal(banned_list_parse("x$", &b, small, sizeof(small)), -1);
	assert_non_null(memchr(small, '\0', sizeof(small)));
	assert_null(b);
}

/* test_default_list - every default extension is banned, in any case */
static void test_default_list(void **state)
{
	(void)state;
	struct banned_list *b = test_parse_or_fail(BANNED_DEFAULT_EXTENSIONS);
	char *copy = strdup(BANNED_DEFAULT_EXTENSIONS);
	size_t n = 0;

	assert_non_null(copy);
	for (char *save = NULL, *ext = strtok_r(copy, " ", &save); ext != NULL;
	     ext = strtok_r(NULL, " ", &save), n++) {
		char name[64], upper[64], why[128], want[128];
		snprintf(name, sizeof(name), "file.%s", ext);
		for (size_t i = 0; i <= strlen(name); i++)
			upper[i] = (name[i] >= 'a' && name[i] <= 'z') ? (char)(name[i] - 32) : name[i];
		if (!banned_name_check(b, name, why, sizeof(why)))
			fail_msg("%s not banned", name);
		snprintf(want, sizeof(want), "banned extension .%s in \"%s\"", ext, name);
		if (strcmp(why, want) != 0)
			fail_msg("%s: why \"%s\", want \"%s\"", name, why, want);
		if (!banned_name_check(b, upper, NULL, 0))
			fail_msg("%s not banned", upper);
		/* As an inner extension too. */
		snprintf(name, sizeof(name), "file.%s.txt", ext);
		if (!banned_name_check(b, name, NULL, 0))
			fail_msg("%s not banned", name);
		/* Without the dot it is only a name. */
		if (banned_name_check(b, ext, NULL, 0))
			fail_msg("bare \"%s\" banned", ext);
	}
	assert_int_equal(n, banned_list_count(b));
	assert_int_equal(n, 56);
	free(copy);
	banned_list_free(b);
}

/*
 * Names against the default list: banned or not, and the exact reason (or a
 * NULL reason to skip that check). Names are C strings: "\0" ends them.
 */
static const struct {
	const char *name;
	bool banned;
	const char *why;
} names[] = {
	/* The last extension, and case. */
	{"invoice.pdf.pif", true, "banned extension .pif in \"invoice.pdf.pif\""},
	{"x.exe", true, "banned extension .exe in \"x.exe\""},
	{"X.EXE", true, "banned extension .EXE in \"X.EXE\""},
	{"x.ExE", true, "banned extension .ExE in \"x.ExE\""},
	{"setup.Msi", true, NULL},
	{"a.b.c.d.vbs", true, "banned extension .vbs in \"a.b.c.d.vbs\""},
	/* Trailing dots and white space. */
	{"x.exe.", true, "banned extension .exe in \"x.exe.\""},
	{"x.exe...", true, NULL},
	{"x.exe ", true, NULL},
	{"x.exe. . ", true, "banned extension .exe in \"x.exe. . \""},
	{"x.exe\t", true, "banned extension .exe in \"x.exe?\""},
	{"x.exe\r\n", true, NULL},
	{"x.exe\v\f", true, NULL},
	/* Unicode spaces and invisible characters, valid UTF-8. */
	{"x.exe\xc2\xa0", true, "banned extension .exe in \"x.exe?\""}, /* U+00A0 */
	{"x.exe\xc2\x85", true, NULL},                                   /* U+0085 */
	{"x.exe\xe1\x9a\x80", true, NULL},                               /* U+1680 */
	{"x.exe\xe2\x80\x80", true, NULL},                               /* U+2000 */
	{"x.exe\xe2\x80\x8a", true, NULL},                               /* U+200A */
	{"x.exe\xe2\x80\x8b", true, NULL},                               /* U+200B */
	{"x.exe\xe2\x80\x8d", true, NULL},                               /* U+200D */
	{"x.exe\xe2\x80\xa8", true, NULL},                               /* U+2028 */
	{"x.exe\xe2\x80\xae", true, NULL},                               /* U+202E */
	{"x.exe\xe2\x80\xaf", true, NULL},                               /* U+202F */
	{"x.exe\xe2\x81\x9f", true, NULL},                               /* U+205F */
	{"x.exe\xe2\x81\xa0", true, NULL},                               /* U+2060 */
	{"x.exe\xe3\x80\x80", true, "banned extension .exe in \"x.exe?\""}, /* U+3000 */
	{"x.exe\xef\xbb\xbf", true, NULL},                                  /* U+FEFF */
	{"x.exe. \xc2\xa0.\xe3\x80\x80.\xef\xbb\xbf ", true,
	 "banned extension .exe in \"x.exe. ?.?.? \""},
	/* Not spaces: U+FFFD, U+00AD, a letter. */
	{"x.exe\xef\xbf\xbd", false, ""},
	{"x.exe\xc2\xad", false, ""},
	{"x.exe\xc3\xa9", false, ""},
	/* Invalid UTF-8 is opaque: never stripped, never a space. */
	{"x.exe\xa0", false, ""},         /* lone continuation byte */
	{"x.exe\xc2", false, ""},         /* cut sequence */
	{"x.exe\xc0\xa0", false, ""},     /* overlong U+0020 */
	{"x.exe\xe0\x80\xa0", false, ""}, /* overlong U+0020 */
	{"x.exe\xed\xa0\x80", false, ""}, /* surrogate */
	{"x.exe\xf4\x90\x80\x80", false, ""}, /* above U+10FFFF */
	{"x.exe\xe3\x80", false, ""},     /* U+3000 cut short */
	{"\xff\xfe.exe", true, "banned extension .exe in \"??.exe\""},
	/* CLSID extensions: banned whatever the list says. */
	{"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}", true,
	 "CLSID extension .{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B} in "
	 "\"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}\""},
	{"readme.txt.{3050f4d8-98b5-11cf-bb82-00aa00bdce0b}", true, NULL},
	{"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B} . ", true, NULL},
	{".{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}", true, NULL},
	{"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}.txt", true,
	 "CLSID extension .{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B} in "
	 "\"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}.txt\""},
	{"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0}", false, ""},
	{"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0BA}", false, ""},
	{"x.{3050F4D8_98B5-11CF-BB82-00AA00BDCE0B}", false, ""},
	{"x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0G}", false, ""},
	{"x.3050F4D8-98B5-11CF-BB82-00AA00BDCE0B", false, ""},
	{"x.[3050F4D8-98B5-11CF-BB82-00AA00BDCE0B]", false, ""},
	{"{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}", false, ""},
	/* Double extensions: any extension between the stem and the last. */
	{"x.exe.zip", true, "banned double extension .exe in \"x.exe.zip\""},
	{"x.scr.txt", true, "banned double extension .scr in \"x.scr.txt\""},
	{"x.EXE.pdf", true, "banned double extension .EXE in \"x.EXE.pdf\""},
	{"x.exe.tar.gz", true, "banned double extension .exe in \"x.exe.tar.gz\""},
	{"x..exe.txt", true, NULL},
	{"x.exe..txt", true, NULL},
	{"x.exe .txt", true, "banned double extension .exe in \"x.exe .txt\""},
	{"x.exe\xc2\xa0.pdf", true, NULL},
	{"x.exe.txt. ", true, NULL},
	{"jquery.min.js.map", true, NULL},
	{"www.example.com.pdf", true, "banned double extension .com in \"www.example.com.pdf\""},
	{"x. exe.txt", false, ""},
	{"x.ex e.txt", false, ""},
	/* The stem is never an inner extension, with or without leading dots. */
	{"exe.txt", false, ""},
	{".exe.txt", false, ""},
	{"..exe.txt", false, ""},
	{".bashrc", false, ""},
	{".bashrc.txt", false, ""},
	{".scr.old", false, ""},
	/* A leading-dot name has its last extension, as on Windows. */
	{".exe", true, "banned extension .exe in \".exe\""},
	{"..exe", true, NULL},
	{". .exe", true, NULL},
	/* Paths: only the last component counts, with / or \. */
	{"dir/x.exe", true, "banned extension .exe in \"x.exe\""},
	{"dir\\x.exe", true, "banned extension .exe in \"x.exe\""},
	{"C:\\Users\\me\\Desktop\\x.exe", true, NULL},
	{"a/b\\c/d\\x.pif", true, NULL},
	{"../../x.bat", true, NULL},
	{"x.exe/", false, ""},
	{"x.exe\\", false, ""},
	{"x.exe/readme.txt", false, ""},
	{"dir.exe\\readme.txt", false, ""},
	{"x.exe\\.", false, ""},
	/* NUL: the name ends there. */
	{"x.exe\0.pdf", true, "banned extension .exe in \"x.exe\""},
	{"x.pdf\0.exe", false, ""},
	{"\0x.exe", false, ""},
	/* Empty and degenerate names. */
	{"", false, ""},
	{".", false, ""},
	{"...", false, ""},
	{" ", false, ""},
	{". . .", false, ""},
	{"\xe3\x80\x80", false, ""},
	{"exe", false, ""},
	{"x.", false, ""},
	/* Innocuous names. */
	{"report.pdf", false, ""},
	{"archive.tar.gz", false, ""},
	{"file.executable", false, ""},
	{"x.exex", false, ""},
	{"x.ex", false, ""},
	{"x.e", false, ""},
	{"x.exe_", false, ""},
	{"x.exe-", false, ""},
	{"x.e xe", false, ""},
	{"comexe", false, ""},
	{"photo.jpeg", false, ""},
	{"report.2024.pdf", false, ""},
	{"v1.2.3.zip", false, ""},
	{"x.\xef\xbd\x85\xef\xbd\x98\xef\xbd\x85", false, ""}, /* fullwidth "exe" */
	{"x.ex\xc3\xa9", false, ""},
	/* Non-ASCII names: each character shows as one '?'. */
	{"r\xc3\xa9sum\xc3\xa9.exe", true, "banned extension .exe in \"r?sum?.exe\""},
	{"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.scr", true, "banned extension .scr in \"???.scr\""},
	{"\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.pdf", false, ""},
	{"\xf0\x9f\x98\x80.vbs", true, "banned extension .vbs in \"?.vbs\""},
	/* Quotes and controls in the name cannot break the reason. */
	{"a\"b.exe", true, "banned extension .exe in \"a?b.exe\""},
	{"a\x01\x1b[31mb.exe", true, "banned extension .exe in \"a??[31mb.exe\""},
	{"a\x7f.exe", true, "banned extension .exe in \"a?.exe\""},
};

/* test_names - the table above, against the default list */
static void test_names(void **state)
{
	(void)state;
	struct banned_list *b = test_parse_or_fail(BANNED_DEFAULT_EXTENSIONS);

	for (size_t i = 0; i < NELEM(names); i++) {
		char why[256];
		memset(why, 'X', sizeof(why));
		bool got = banned_name_check(b, names[i].name, why, sizeof(why));
		if (got != names[i].banned)
			fail_msg("#%zu \"%s\": banned %d, want %d (%s)", i, names[i].name, got,
				 names[i].banned, why);
		if (names[i].why != NULL && strcmp(why, names[i].why) != 0)
			fail_msg("#%zu \"%s\": why \"%s\", want \"%s\"", i, names[i].name, why,
				 names[i].why);
		/* The reason is printable ASCII, whatever the name. */
		for (const char *p = why; *p != '\0'; p++)
			if (*p < 0x20 || *p > 0x7e)
				fail_msg("#%zu: byte 0x%02x in why", i, (unsigned char)*p);
	}
	banned_list_free(b);
}

/* test_long_names - long names are judged whole; the reason is cut in the middle */
static void test_long_names(void **state)
{
	(void)state;
	struct banned_list *b = test_parse_or_fail(BANNED_DEFAULT_EXTENSIONS);
	char name[5000];
	char why[128];

	memset(name, 'a', sizeof(name));
	memcpy(name + sizeof(name) - 5, ".exe", 5);
	assert_true(banned_name_check(b, name, why, sizeof(why)));
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_true(strncmp(why, "banned extension .exe in \"aaa", 29) == 0);
	assert_non_null(strstr(why, "a...a"));
	assert_string_equal(why + strlen(why) - 6, "a.exe\"");

	/* Long multibyte names: each character is one '?'; the end survives. */
	char mb[3 * 1000 + 8];
	size_t n = 0;
	for (int i = 0; i < 1000; i++) {
		memcpy(mb + n, "\xe6\x97\xa5", 3);
		n += 3;
	}
	memcpy(mb + n, ".scr", 5);
	assert_true(banned_name_check(b, mb, why, sizeof(why)));
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_string_equal(why + strlen(why) - 8, "???.scr\"");

	/* An overlong extension is never on the list. */
	memset(name, 'x', sizeof(name));
	name[10] = '.';
	name[sizeof(name) - 1] = '\0';
	assert_false(banned_name_check(b, name, why, sizeof(why)));
	assert_string_equal(why, "");

	/* Thousands of segments: still found, and linear. */
	for (size_t i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "a.", 2);
	memcpy(name + 2000, "exe.", 4);
	name[sizeof(name) - 1] = '\0';
	name[sizeof(name) - 2] = 'z';
	assert_true(banned_name_check(b, name, why, sizeof(why)));
	assert_non_null(strstr(why, "banned double extension .exe"));
	banned_list_free(b);
}

/* test_why_buffers - any why size is safe and terminated; NULL is allowed */
static void test_why_buffers(void **state)
{
	(void)state;
	struct banned_list *b = test_parse_or_fail("exe");
	const char *full = "banned extension .exe in \"invoice-march-2024.exe\"";

	for (size_t len = 1; len <= strlen(full) + 8; len++) {
		char why[128];
		memset(why, 'X', sizeof(why));
		assert_true(banned_name_check(b, "invoice-march-2024.exe", why, len));
		assert_true(strlen(why) < len);
		assert_int_equal(why[len], 'X');
		if (len > strlen(full))
			assert_string_equal(why, full);
	}
	char one = 'X';
	assert_true(banned_name_check(b, "x.exe", &one, 1));
	assert_int_equal(one, '\0');
	assert_true(banned_name_check(b, "x.exe", NULL, 0));
	assert_true(banned_name_check(b, "x.exe", NULL, 100));
	one = 'X';
	assert_true(banned_name_check(b, "x.exe", &one, 0));
	assert_int_equal(one, 'X');
	banned_list_free(b);
}

/* test_empty_list - the empty or NULL list bans nothing, not even a CLSID */
static void test_empty_list(void **state)
{
	(void)state;
	struct banned_list *b = test_parse_or_fail("");
	char why[64] = "junk";
	const char *clsid = "x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}";

	assert_false(banned_name_check(b, "x.exe", why, sizeof(why)));
	assert_string_equal(why, "");
	assert_false(banned_name_check(b, clsid, NULL, 0));
	assert_false(banned_name_check(NULL, "x.exe", NULL, 0));
	assert_false(banned_name_check(NULL, clsid, NULL, 0));
	assert_int_equal(banned_list_count(NULL), 0);
	banned_list_free(b);
	banned_list_free(NULL);

	/* A NULL text is the empty list; a NULL name is banned by nothing. */
	b = test_parse_or_fail(NULL);
	assert_int_equal(banned_list_count(b), 0);
	banned_list_free(b);
	b = test_parse_or_fail("exe");
	assert_false(banned_name_check(b, NULL, why, sizeof(why)));
	/* A list without exe still bans CLSIDs. */
	banned_list_free(b);
	b = test_parse_or_fail("pif");
	assert_false(banned_name_check(b, "x.exe", NULL, 0));
	assert_true(banned_name_check(b, clsid, NULL, 0));
	banned_list_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),    cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_default_list), cmocka_unit_test(test_names),
		cmocka_unit_test(test_long_names),  cmocka_unit_test(test_why_buffers),
		cmocka_unit_test(test_empty_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
