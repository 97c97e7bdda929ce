/*
 * intake - spool and parser fed together. See intake.h.
 */
#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct intake {
	struct spool *spool;
	struct mime_parser *parser;    /* NULL once finished, overflowed or out of memory */
	struct mime_message *msg;
	struct mime_limits limits;
	bool parser_failed;
	bool finished;
};

/* intake_limits - the parser's limits from the config */
void intake_limits(const struct config *cfg, struct mime_limits *lim)
{
	lim->max_depth = cfg->mime_max_depth;
	lim->max_parts = cfg->mime_max_parts;
	lim->max_header_length = (size_t)cfg->mime_max_header_length;
	lim->max_line_length = (size_t)cfg->mime_max_line_length;
	lim->max_decoded_size = cfg->mime_max_decoded_size;
}

int intake_open(const struct config *cfg, struct intake **out, char *err, size_t errlen)
{
	struct intake *in = calloc(1, sizeof(*in));
	if (in == NULL) {
		snprintf(err, errlen, "intake: out of memory");
		return -1;
	}
	if (spool_open(&in->spool, cfg->spool_dir, cfg->memory_spool_limit, cfg->max_message_size, err,
		       errlen) == -1) {
		free(in);
		return -1;
	}
	intake_limits(cfg, &in->limits);
	static const struct mime_view fast_path = {0};
	in->parser = mime_parser_new(&in->limits, &fast_path);
	if (in->parser == NULL) {
		spool_close(in->spool);
		free(in);
		snprintf(err, errlen, "mime parser: out of memory");
		return -1;
	}
	*out = in;
	return 0;
}

int intake_append(struct intake *in, const void *buf, size_t len, char *err, size_t errlen)
{
	if (spool_append(in->spool, buf, len, err, errlen) == -1)
		return -1;
	if (in->parser == NULL)
		return 0;
	if (spool_overflowed(in->spool)) {
		/* Refused unparsed at the end; no point in parsing the rest. */
		mime_message_free(mime_parser_finish(in->parser));
		in->parser = NULL;
		return 0;
	}
	if (mime_parser_feed(in->parser, buf, len) == -1) {
		mime_message_free(mime_parser_finish(in->parser));
		in->parser = NULL;
		in->parser_failed = true;
	}
	return 0;
}

const struct mime_message *intake_finish(struct intake *in)
{
	if (!in->finished && in->parser != NULL) {
		in->msg = mime_parser_finish(in->parser);
		in->parser = NULL;
	}
	in->finished = true;
	return in->msg;
}

/* intake_reparse - another reading of the whole message, from the spool */
struct mime_message *intake_reparse(struct intake *in, const struct mime_view *view)
{
	struct mime_parser *p = mime_parser_new(&in->limits, view);
	if (p == NULL)
		return NULL;
	size_t len;
	const char *mem = spool_memory(in->spool, &len);
	if (mem != NULL) {
		if (mime_parser_feed(p, mem, len) == -1)
			goto fail;
		return mime_parser_finish(p);
	}
	char chunk[65536];
	for (off_t off = 0;;) {
		ssize_t n = pread(spool_fd(in->spool), chunk, sizeof(chunk), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			return mime_parser_finish(p);
		if (mime_parser_feed(p, chunk, (size_t)n) == -1)
			goto fail;
		off += n;
	}
fail:
	mime_message_free(mime_parser_finish(p));
	return NULL;
}

struct spool *intake_spool(struct intake *in)
{
	return in->spool;
}

void intake_close(struct intake *in)
{
	if (in == NULL)
		return;
	if (in->parser)
		mime_message_free(mime_parser_finish(in->parser));
	mime_message_free(in->msg);
	spool_close(in->spool);
	free(in);
}
