/*
 * fuzz_config - libFuzzer target for the config file parser.
 *
 * Writes the input to a file in a private temporary directory, loads it with
 * config_load(), dumps a loaded config with config_dump() and frees it with
 * config_free(), so ASan, UBSan and LeakSanitizer watch every path, the error
 * paths included. Cheap contract checks run on each result:
 *   - a refused file leaves *out alone and err is "PATH..." and terminated;
 *   - a loaded config keeps the policy invariants the table promises (a
 *     virus is never accepted, oversize follows the reply_oversize class),
 *     an absolute sendmail argv, memory_spool_limit <= max_message_size.
 *
 * With FUZZ_CONFIG_ROUNDTRIP=1 in the environment it also checks that the
 * dump loads again and dumps the same. That is off by default because
 * config_dump has known quoting bugs (see tests/unit/test_config.c,
 * test_bug_dump_*) that would stop every run at once; with
 * FUZZ_CONFIG_ROUNDTRIP=2 configs that hit those known bugs (a value with a
 * '"' inside, trailing white space, or over 1000 bytes) are left out, so the
 * fuzzer can look for other ones.
 */
// fuzz-sources: src/config.c src/cidr.c src/policy.c src/banned.c src/mime.c src/mime_head.c src/mime_tree.c src/mimehdr.c src/decode.c src/text.c src/util.c
// fuzz-pkgs: libcrypto
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"

/* Config lines are at most 4096 bytes; a few lines more are enough. */
#define FUZZ_MAX_INPUT 16384

static char fuzz_dir[64];
static char fuzz_in[128];
static char fuzz_dump[128];
static int fuzz_roundtrip;

static int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fuzz_cleanup(void)
{
	if (fuzz_dir[0])
		(void)nftw(fuzz_dir, fuzz_rm_one, 4, FTW_DEPTH | FTW_PHYS);
}

/* fuzz_check - abort with a message, so libFuzzer records the input */
static void fuzz_check(int ok, const char *what, const char *detail)
{
	if (!ok) {
		fprintf(stderr, "fuzz_config: %s: %s\n", what, detail);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/klaxon-fuzz-config-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 24 ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		exit(2);
	}
	atexit(fuzz_cleanup);
	snprintf(fuzz_in, sizeof(fuzz_in), "%s/in.conf", fuzz_dir);
	snprintf(fuzz_dump, sizeof(fuzz_dump), "%s/dump.conf", fuzz_dir);
	const char *rt = getenv("FUZZ_CONFIG_ROUNDTRIP");
	fuzz_roundtrip = rt != NULL ? atoi(rt) : 0;
	return 0;
}

/* fuzz_write - the bytes into path, replacing what was there */
static void fuzz_write(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fuzz_check(fd != -1, "open", path);
	const char *p = data;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		fuzz_check(n > 0, "write", path);
		p += n;
		size -= (size_t)n;
	}
	fuzz_check(close(fd) == 0, "close", path);
}

/* fuzz_dump_text - config_dump into a malloc'ed string, without its first (path) line */
static char *fuzz_dump_text(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	fuzz_check(fp != NULL, "open_memstream", "");
	config_dump(cfg, fp);
	fuzz_check(fclose(fp) == 0, "fclose", "");
	char *nl = strchr(buf, '\n');
	fuzz_check(buf[0] == '#' && nl != NULL, "dump has no header line", buf);
	memmove(buf, nl + 1, strlen(nl + 1) + 1);
	return buf;
}

/* fuzz_known_dump_bug - does a dump line hold a value config_dump is known to mangle? */
static int fuzz_known_dump_bug(const char *dump)
{
	for (const char *line = dump; *line;) {
		size_t len = strcspn(line, "\n");
		const char *v = memchr(line, '=', len);
		if (v != NULL) {
			v += 2;
			size_t vlen = (size_t)(line + len - v);
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
				v++, vlen -= 2;
			if (vlen >= 1000 || memchr(v, '"', vlen) ||
			    (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')))
				return 1;
		}
		line += len + (line[len] == '\n');
	}
	return 0;
}

/* fuzz_check_loaded - what every loaded config promises */
static void fuzz_check_loaded(const struct config *cfg, const char *text)
{
	for (int o = 0; o < 2; o++) {
		enum action virus = cfg->policy.cell[o][VERDICT_VIRUS].action;
		fuzz_check(virus == ACTION_REJECT || virus == ACTION_DISCARD, "virus cell", text);
		enum action big = cfg->policy.cell[o][VERDICT_OVERSIZE].action;
		fuzz_check(big == (cfg->reply_oversize[0] == '4' ? ACTION_TEMPFAIL : ACTION_REJECT),
			   "oversize cell does not follow reply_oversize", text);
		struct policy_cell d = policy_decide(&cfg->policy, (enum origin)o, VERDICT_VIRUS);
		fuzz_check(d.action != ACTION_ACCEPT, "virus accepted", text);
	}
	fuzz_check(cfg->reply_virus[0] == '5' && cfg->reply_tempfail[0] == '4', "reply class", text);
	fuzz_check(cfg->sendmail_argv != NULL && cfg->sendmail_argv[0] != NULL &&
			   cfg->sendmail_argv[0][0] == '/',
		   "sendmail argv", text);
	fuzz_check(cfg->alert_to_list != NULL && cfg->alert_to_list[cfg->alert_to_count] == NULL,
		   "alert_to_list", text);
	fuzz_check(cfg->internal != NULL, "internal list", text);
	fuzz_check(cfg->memory_spool_limit <= cfg->max_message_size, "spool limit", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_write(fuzz_in, data, size);

	/* For messages only: the input as text, up to its first NUL. */
	char *text = malloc(size + 1);
	fuzz_check(text != NULL, "malloc", "");
	memcpy(text, data, size);
	text[size] = '\0';

	struct config *cfg = NULL;
	char err[512];
	memset(err, 'x', sizeof(err));
	if (config_load(fuzz_in, &cfg, err, sizeof(err)) != 0) {
		fuzz_check(cfg == NULL, "failed load set *out", text);
		fuzz_check(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated", text);
		fuzz_check(strncmp(err, fuzz_in, strlen(fuzz_in)) == 0 && err[strlen(fuzz_in)] == ':',
			   "err does not start with the path", err);
		free(text);
		return 0;
	}
	fuzz_check(cfg != NULL, "loaded config is NULL", text);
	fuzz_check_loaded(cfg, text);
	char *one = fuzz_dump_text(cfg);

	if (fuzz_roundtrip == 1 || (fuzz_roundtrip == 2 && !fuzz_known_dump_bug(one))) {
		FILE *fp = fopen(fuzz_dump, "we");
		fuzz_check(fp != NULL, "fopen", fuzz_dump);
		config_dump(cfg, fp);
		fuzz_check(fclose(fp) == 0, "fclose", fuzz_dump);
		struct config *again = NULL;
		fuzz_check(config_load(fuzz_dump, &again, err, sizeof(err)) == 0,
			   "the dump does not load", err);
		char *two = fuzz_dump_text(again);
		fuzz_check(strcmp(one, two) == 0, "dump changed after a round trip", text);
		free(two);
		config_free(again);
	}

	free(one);
	config_free(cfg);
	free(text);
	return 0;
}
