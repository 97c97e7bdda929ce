/*
 * rebuild_tool - apply rebuild ops to a message file, for tests/rebuild.
 *
 * SYNOPSIS
 *	rebuild_tool [-l] FILE [INDEX=OP[:TEXT] ...] > rebuilt.eml
 *
 * DESCRIPTION
 *	Parses FILE with the default view, applies the ops (INDEX is the part
 *	index in m->parts, 0 the root; OP is drop, dropwarn or replace) and
 *	writes out->message to stdout, or FILE unchanged when nothing
 *	changed. On stderr, one line each: "changed", "unchanged" or
 *	"refused: why"; then "content-type: V", "cte: V" (V "-" for none) and
 *	"mime-version: 0|1". With -l, first one line per part on stderr:
 *	"part INDEX PATH TYPE RAWKNOWN".
 *
 * ERRORS
 *	Exit 0 changed or unchanged, 2 refused, 1 any other failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "rebuild.h"

/* tool_read - the whole file */
static char *tool_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL) {
		perror(path);
		return NULL;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	for (size_t k; buf != NULL && (k = fread(buf + n, 1, cap - n, fp)) > 0;) {
		n += k;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (nb == NULL)
				free(buf);
			buf = nb;
		}
	}
	if (buf == NULL || ferror(fp)) {
		fprintf(stderr, "%s: read failed\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

/* tool_op - one INDEX=OP[:TEXT] argument */
static int tool_op(const char *arg, size_t nparts, unsigned char *op, const char **text)
{
	char *end;
	unsigned long i = strtoul(arg, &end, 10);
	if (end == arg || *end != '=' || i >= nparts) {
		fprintf(stderr, "bad op %s (%zu parts)\n", arg, nparts);
		return -1;
	}
	const char *o = end + 1, *colon = strchr(o, ':');
	size_t ol = colon ? (size_t)(colon - o) : strlen(o);
	if (ol == 4 && strncmp(o, "drop", 4) == 0)
		op[i] = REBUILD_DROP;
	else if (ol == 8 && strncmp(o, "dropwarn", 8) == 0)
		op[i] = REBUILD_DROP_WARN;
	else if (ol == 7 && strncmp(o, "replace", 7) == 0)
		op[i] = REBUILD_REPLACE_WARN;
	else {
		fprintf(stderr, "bad op %s\n", arg);
		return -1;
	}
	text[i] = colon ? colon + 1 : NULL;
	return 0;
}

int main(int argc, char **argv)
{
	int a = 1;
	bool list = argc > 1 && strcmp(argv[1], "-l") == 0;
	if (list)
		a++;
	if (a >= argc) {
		fprintf(stderr, "usage: rebuild_tool [-l] FILE [INDEX=OP[:TEXT] ...]\n");
		return 1;
	}
	size_t len;
	char *raw = tool_read(argv[a], &len);
	struct mime_parser *p = raw ? mime_parser_new(NULL, NULL) : NULL;
	if (p == NULL || mime_parser_feed(p, raw, len) == -1)
		return 1;
	struct mime_message *m = mime_parser_finish(p);
	if (m == NULL)
		return 1;
	for (size_t i = 0; list && i < m->nparts; i++)
		fprintf(stderr, "part %zu %s %s %d\n", i, m->parts[i].path, m->parts[i].content_type,
			m->parts[i].raw_known);
	unsigned char *op = calloc(m->nparts, 1);
	const char **text = calloc(m->nparts, sizeof(*text));
	if (op == NULL || text == NULL)
		return 1;
	for (int k = a + 1; k < argc; k++)
		if (tool_op(argv[k], m->nparts, op, text) == -1)
			return 1;

	struct rebuild_out out;
	char err[512] = "";
	int rc = rebuild_message(raw, len, m, op, text, &out, err, sizeof(err));
	if (rc == -1) {
		fprintf(stderr, "%s: %s\n", out.refused ? "refused" : "error", err);
		return out.refused ? 2 : 1;
	}
	fprintf(stderr, "%s\ncontent-type: %s\ncte: %s\nmime-version: %d\n",
		out.changed ? "changed" : "unchanged", out.content_type ? out.content_type : "-",
		out.cte ? (out.cte[0] ? out.cte : "(delete)") : "-", out.add_mime_version);
	const char *bytes = out.changed ? out.message : raw;
	size_t n = out.changed ? out.msglen : len;
	if (fwrite(bytes, 1, n, stdout) != n || fflush(stdout) != 0) {
		perror("write");
		return 1;
	}
	rebuild_out_clear(&out);
	mime_message_free(m);
	free(op);
	free(text);
	free(raw);
	return 0;
}
