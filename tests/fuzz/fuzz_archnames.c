/*
 * fuzz_archnames - libFuzzer target for the archive name lister, and the
 * banned-name matcher on every name it finds.
 *
 * Lists the input with small bounds (so that bombs stay cheap and deep
 * nesting is reached), checks that the callback's view agrees with the
 * return value and the bounds, and runs each name, and the raw input as a
 * name, through banned_name_check() with the default list.
 */
// fuzz-sources: src/archnames.c src/banned.c src/text.c src/util.c
// fuzz-pkgs: libarchive
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archnames.h"
#include "banned.h"

#define FUZZ_MAX_INPUT (1u << 20)
#define FUZZ_MAX_ENTRIES 64u
#define FUZZ_MAX_DEPTH 3u

struct fuzz_state {
	const struct banned_list *banned;
	unsigned seen;
};

/* fuzz_check - abort with a message, so libFuzzer records the input */
static void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_archnames: %s\n", what);
		abort();
	}
}

/* fuzz_name - one name through the matcher; the reason must be printable ASCII */
static void fuzz_name(const struct banned_list *b, const char *name)
{
	char why[96];
	bool banned = banned_name_check(b, name, why, sizeof(why));
	size_t n = strnlen(why, sizeof(why));
	fuzz_check(n < sizeof(why), "why not terminated");
	fuzz_check(banned == (n > 0), "why disagrees with the verdict");
	for (size_t i = 0; i < n; i++)
		fuzz_check(why[i] >= 0x20 && why[i] <= 0x7e, "why not printable ASCII");
}

static int fuzz_each(const char *name, unsigned depth, void *arg)
{
	struct fuzz_state *st = arg;
	fuzz_check(name != NULL, "NULL name");
	fuzz_check(depth >= 1 && depth <= FUZZ_MAX_DEPTH, "depth out of bounds");
	st->seen++;
	fuzz_check(st->seen <= FUZZ_MAX_ENTRIES, "more names than max_entries");
	fuzz_name(st->banned, name);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct banned_list *banned;
	if (banned == NULL) {
		char err[128];
		fuzz_check(banned_list_parse(BANNED_DEFAULT_EXTENSIONS, &banned, err, sizeof(err)) == 0,
			   "default list rejected");
	}
	if (size > FUZZ_MAX_INPUT)
		return 0;

	const struct archnames_limits lim = {FUZZ_MAX_ENTRIES, FUZZ_MAX_DEPTH, 1u << 20};
	struct fuzz_state st = {banned, 0};
	bool truncated = false;
	char err[64];
	int n = archnames_list(data, size, &lim, fuzz_each, &st, &truncated, err, sizeof(err));
	fuzz_check(n == (int)st.seen, "return value is not the number of names");

	/* The input itself as a file name. */
	char *name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	fuzz_name(banned, name);
	free(name);
	return 0;
}
