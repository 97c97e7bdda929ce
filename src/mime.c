/*
 * mime - the one-pass streaming MIME parser (see mime.h for the contract).
 *
 * The input is cut into lines (memchr for each LF; a line split between
 * chunks is assembled in a buffer no longer than the line limit) and each
 * line goes through one state machine, in the manner of Postfix's
 * mime_state.c:
 *
 *	ST_HEADER   a part's header: fields are unfolded, and Content-Type,
 *	            Content-Transfer-Encoding and Content-Disposition are kept
 *	            for mimehdr_parse(); a blank line (or a line that is not a
 *	            header field) ends it and chooses the body's state;
 *	ST_LEAF     a leaf body: decoded into the part as its lines come;
 *	ST_TEXT     a multipart's preamble or epilogue;
 *	ST_ENCODED  the body of a multipart/ or message/ part with a base64 or
 *	            QP encoding, when view.decode_multipart asks to read it
 *	            decoded: each line is decoded and the bytes are fed to the
 *	            next layer, a second instance of this machine whose input
 *	            is that decoded stream.
 *
 * The header state is in mime_head.c, the part tree, leaf buffers and
 * limits in mime_tree.c; mime_int.h holds what the three share.
 *
 * Open containers are a stack of frames per layer: a multipart with its
 * boundary, or a message/rfc822 whose one child is being read. A line that
 * starts with "--" is first matched against the multipart frames, from the
 * innermost out; a match ends whatever was open above that frame.
 *
 * Line endings. The line ending before a boundary line belongs to the
 * boundary (RFC 2046 5.1.1), so a leaf holds a line's ending only once
 * the next line of the same leaf arrives; at the end of the input (or of a
 * decoded stream) the pending ending is kept. 7bit, 8bit, binary and
 * unknown encodings keep the original bytes, CRLF or LF as they came;
 * quoted-printable writes CRLF for each hard line break (decode.h).
 *
 * Raw offsets (mime.h). Layer 0 counts the bytes it has read as lines
 * (pos), so each line knows its own offset and the length of the line
 * ending before it: a delimiter line at offset D ends the parts it closes
 * at D minus that ending. Counting per line keeps the offsets independent
 * of chunking and costs two additions a line; the bulk path counts its run.
 *
 * The hot path is a leaf in base64 or an identity encoding: runs of whole
 * lines that cannot be boundaries (no leading '-' while a boundary is open)
 * are found with memchr and decoded or copied in one call, up to
 * MIME_BULK_MAX bytes at a time. Bulk and line-at-a-time give the same
 * bytes and flags, so the result never depends on how the input was cut.
 * Near the decoded-size limit the parser goes line by line, so the point
 * where it stops does not depend on the cut either.
 *
 * Choices the contract leaves open:
 *  - An encoded multipart or message (MIME_ENCODED_MULTIPART) is read raw,
 *    as if its encoding were 7bit, unless view.decode_multipart; then its
 *    body is decoded and parsed as the body (up to MIME_MAX_LAYERS nested
 *    decodings; deeper ones are read raw).
 *  - A multipart with no usable boundary (and no guess) is a leaf holding
 *    its decoded body, so its bytes are still scanned.
 *  - A header line that is not a field ("no colon") ends the header and is
 *    read as the first body line (Postfix does the same), with
 *    MIME_BAD_HEADER_SYNTAX; a leading "From " line of the message is
 *    skipped silently. A line of white space only inside a header is read
 *    as a continuation and flagged MIME_BAD_HEADER_SYNTAX.
 *  - A nested boundary equal to an enclosing one, or a prefix of it (or it
 *    of the nested one), sets MIME_BOUNDARY_REUSED: a reader that matches
 *    boundaries by prefix sees another tree.
 *  - A closed multipart's boundary met again in its epilogue is epilogue
 *    text (MIME_EPILOGUE_CONTENT), unless an enclosing multipart reuses
 *    that boundary: then it is the enclosing one's delimiter.
 *  - A part that ends after its header without a blank line is not
 *    flagged (RFC 2046 allows a body part of header fields only).
 *  - uuencode blocks are found in text/plain leaves in 7bit, 8bit, binary,
 *    unknown or quoted-printable encoding (not base64). The child is an
 *    application/octet-stream leaf; a missing "end" ends at the part's end.
 *  - The top-level header block is capped at max_header_length bytes.
 *  - mime_parser_new(NULL, NULL) means the built-in limits (depth 20, 1000
 *    parts, 64 KB header field, 4 MB line, 256 MB decoded) and the default
 *    view; max_parts below 1 counts as 1 (part 0 always exists).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime_int.h"

#define MIME_BULK_MAX (128 * 1024)
#define MIME_UU_NAME_MAX 256

static void mime_layer_feed(struct mime_parser *p, struct mime_layer *L, const char *buf, size_t len);
static void mime_layer_finish(struct mime_parser *p, struct mime_layer *L);

/* mime_is_blank - only spaces and tabs */
bool mime_is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* mime_scratch - the layer's scratch buffer, at least n bytes */
static unsigned char *mime_scratch(struct mime_parser *p, struct mime_layer *L, size_t n)
{
	if (n > L->scap) {
		size_t ncap = L->scap ? L->scap : 256;
		while (ncap < n)
			ncap *= 2;
		unsigned char *ns = realloc(L->scratch, ncap);
		if (ns == NULL) {
			p->oom = true;
			return NULL;
		}
		L->scratch = ns;
		L->scap = ncap;
	}
	return L->scratch;
}

/* mime_layer_get - layer k, allocated on first use; ready to read from its start */
struct mime_layer *mime_layer_get(struct mime_parser *p, unsigned k)
{
	if (k >= p->nlayers) {
		struct mime_layer **nl = realloc(p->layers, (k + 1) * sizeof(*nl));
		if (nl == NULL) {
			p->oom = true;
			return NULL;
		}
		p->layers = nl;
		while (p->nlayers <= k) {
			struct mime_layer *L = calloc(1, sizeof(*L));
			if (L == NULL) {
				p->oom = true;
				return NULL;
			}
			L->idx = (unsigned)p->nlayers;
			p->layers[p->nlayers++] = L;
		}
	}
	struct mime_layer *L = p->layers[k];
	L->llen = 0;
	L->nlines = 0;
	L->eolseen = 0;
	L->pos = L->lstart = L->prev_eoln = L->mark = 0;
	L->st = ST_TEXT;
	return L;
}

/* mime_layer_free - release a layer and what it still holds */
static void mime_layer_free(struct mime_layer *L)
{
	for (size_t i = 0; i < L->nfr; i++)
		free(L->fr[i].bnd);
	free(L->fr);
	mime_hdr_clear(&L->h);
	free(L->h.fbuf);
	free(L->lbuf);
	free(L->scratch);
	EVP_MD_CTX_free(L->sink.sha);
	EVP_MD_CTX_free(L->uu.sha);
	free(L);
}

/* mime_check_reuse - flag a boundary equal to, or a prefix of, an enclosing one */
static void mime_check_reuse(struct mime_parser *p, const struct mime_layer *L, size_t part,
			     const char *b, size_t blen)
{
	for (unsigned k = 0; k <= L->idx; k++) {
		const struct mime_layer *E = p->layers[k];
		for (size_t i = 0; i < E->nfr; i++) {
			const struct mime_frame *f = &E->fr[i];
			if (f->part == part || f->kind != FR_MULTIPART || f->bnd == NULL)
				continue;
			size_t n = f->blen < blen ? f->blen : blen;
			if (memcmp(f->bnd, b, n) == 0) {
				mime_tree_flag(p, part, MIME_BOUNDARY_REUSED);
				return;
			}
		}
	}
}

/* mime_push - open a container frame; bnd NULL for a guessing multipart */
struct mime_frame *mime_push(struct mime_parser *p, struct mime_layer *L, size_t part,
			     enum mime_frame_kind kind, const char *bnd, size_t blen)
{
	if (L->nfr == L->frcap) {
		size_t ncap = L->frcap ? L->frcap * 2 : 4;
		struct mime_frame *nf = realloc(L->fr, ncap * sizeof(*nf));
		if (nf == NULL) {
			p->oom = true;
			return NULL;
		}
		L->fr = nf;
		L->frcap = ncap;
	}
	struct mime_frame *f = &L->fr[L->nfr];
	memset(f, 0, sizeof(*f));
	f->part = part;
	f->kind = kind;
	f->phase = PH_PREAMBLE;
	if (bnd != NULL) {
		f->bnd = mime_tree_strdup(p, bnd, blen, false);
		if (f->bnd == NULL)
			return NULL;
		f->blen = blen;
	}
	L->nfr++;
	if (kind == FR_MULTIPART)
		L->nmulti++;
	if (bnd != NULL)
		mime_check_reuse(p, L, part, bnd, blen);
	return f;
}

/* mime_pop - close the innermost frame, flagging a multipart left open */
static void mime_pop(struct mime_parser *p, struct mime_layer *L)
{
	struct mime_frame *f = &L->fr[--L->nfr];

	if (f->kind == FR_MULTIPART) {
		L->nmulti--;
		if (!mime_stopped(p) && f->phase == PH_PREAMBLE)
			mime_tree_flag(p, f->part, MIME_BOUNDARY_NOT_FOUND);
		else if (!mime_stopped(p) && f->phase == PH_PART)
			mime_tree_flag(p, f->part, MIME_BOUNDARY_UNCLOSED);
	}
	free(f->bnd);
	f->bnd = NULL;
}

/* mime_eol_seen - note a line ending kind (1 CRLF, 2 LF); both kinds flag the layer's root */
static void mime_eol_seen(struct mime_parser *p, struct mime_layer *L, unsigned kinds)
{
	if ((L->eolseen | kinds) != L->eolseen) {
		L->eolseen |= kinds;
		if (L->eolseen == 3)
			mime_tree_flag(p, L->root, MIME_MIXED_EOL);
	}
}

/* mime_leaf_begin - the body of part is a leaf */
void mime_leaf_begin(struct mime_parser *p, struct mime_layer *L, size_t part, enum mime_cte cte,
		     bool text_plain)
{
	L->st = ST_LEAF;
	L->cur = part;
	L->cte = cte;
	decode_b64_init(&L->b64, p->view.strict_base64);
	L->qpflags = 0;
	L->neol = 0;
	L->uu_ok = text_plain && cte != MIME_CTE_BASE64;
	L->in_uu = false;
	L->uuflags = 0;
	(void)mime_sink_open(p, &L->sink, part);
}

/* mime_leaf_end - a leaf is complete; eof: its last line ending is content */
static void mime_leaf_end(struct mime_parser *p, struct mime_layer *L, bool eof)
{
	if (L->cte == MIME_CTE_BASE64) {
		unsigned char tail[4];
		size_t k = decode_b64_final(&L->b64, tail);
		mime_sink_write(p, &L->sink, tail, k);
		if (L->b64.flags)
			mime_tree_flag(p, L->cur, MIME_BASE64_INVALID);
	} else if (eof && L->neol) {
		mime_sink_write(p, &L->sink, L->eol, L->neol);
	}
	if (L->cte == MIME_CTE_QP && L->qpflags)
		mime_tree_flag(p, L->cur, MIME_QP_INVALID);
	if (L->in_uu)
		mime_sink_close(p, &L->uu);
	L->in_uu = false;
	L->neol = 0;
	mime_sink_close(p, &L->sink);
}

/* mime_uu_line - a line of a text/plain leaf: uuencode begin, body or end */
static void mime_uu_line(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n)
{
	if (!L->in_uu) {
		char name[MIME_UU_NAME_MAX];
		if (n < 9 || s[0] != 'b' || !decode_uu_begin(s, n, name, sizeof(name)))
			return;
		long c = mime_tree_new_part(p, L->cur);
		if (c < 0)
			return;
		struct mime_part *cp = &p->m->parts[c];
		cp->content_type = mime_tree_strdup(p, "application/octet-stream", 24, false);
		mime_tree_add_name(p, (size_t)c, MIME_NAME_UUENCODE, name, strlen(name));
		if (mime_sink_open(p, &L->uu, (size_t)c) == 0)
			L->in_uu = true;
		return;
	}
	size_t t = n;
	while (t > 0 && (s[t - 1] == ' ' || s[t - 1] == '\t'))
		t--;
	if (t == 3 && memcmp(s, "end", 3) == 0) {
		mime_sink_close(p, &L->uu);
		L->in_uu = false;
		return;
	}
	unsigned char *out = mime_sink_reserve(p, &L->uu, n + 1);
	if (out != NULL)
		mime_sink_commit(p, &L->uu, decode_uu_line(s, n, out, &L->uuflags));
}

/* mime_qp_soft - does this quoted-printable line end in a soft break (decode_qp_line's rule) */
static bool mime_qp_soft(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n > 0 && s[n - 1] == '=';
}

/* mime_leaf_line - one body line of a leaf */
static void mime_leaf_line(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n,
			   size_t eoln)
{
	unsigned char *out;

	switch (L->cte) {
	case MIME_CTE_BASE64:
		out = mime_sink_reserve(p, &L->sink, DECODE_B64_MAX(n));
		if (out != NULL)
			mime_sink_commit(p, &L->sink, decode_b64_update(&L->b64, s, n, out));
		break;
	case MIME_CTE_QP:
		if ((out = mime_scratch(p, L, n + 2)) == NULL)
			return;
		mime_sink_write(p, &L->sink, L->eol, L->neol);
		size_t k = decode_qp_line(s, n, false, out, &L->qpflags);
		mime_sink_write(p, &L->sink, out, k);
		L->neol = eoln > 0 && !mime_qp_soft(s, n) ? 2 : 0;
		memcpy(L->eol, "\r\n", 2);
		if (L->uu_ok && !mime_stopped(p))
			mime_uu_line(p, L, (const char *)out, k);
		break;
	default:
		mime_sink_write(p, &L->sink, L->eol, L->neol);
		mime_sink_write(p, &L->sink, s, n);
		memcpy(L->eol, s + n, eoln);
		L->neol = eoln;
		if (L->uu_ok && !mime_stopped(p))
			mime_uu_line(p, L, s, n);
		break;
	}
}

/*
 * mime_bulk - from the start of a line in a leaf: decode or copy a run of
 * whole lines that cannot be boundaries or uuencode lines, in one call.
 * Returns the bytes consumed (0: go line by line).
 */
static size_t mime_bulk(struct mime_parser *p, struct mime_layer *L, const char *buf, size_t len)
{
	const char *e = buf, *end = buf + len;
	size_t maxl = p->lim.max_line_length, lastn = 0;
	unsigned long long room = mime_sink_room(p);
	size_t cap = MIME_BULK_MAX;
	bool dash = L->nmulti > 0, bee = L->uu_ok;
	unsigned kinds = 0;

	if (L->cte == MIME_CTE_QP || L->in_uu)
		return 0;
	/* The run may decode to its length + 3; stay below the decoded-size limit. */
	if (room < (unsigned long long)cap + 8)
		cap = room > 8 ? (size_t)room - 8 : 0;
	while (e < end) {
		if ((dash && *e == '-') || (bee && *e == 'b'))
			break;
		size_t look = (size_t)(end - e);
		if (look > 2 && maxl < look - 2)
			look = maxl + 2;
		const char *nl = memchr(e, '\n', look);
		if (nl == NULL)
			break;
		size_t cl = (size_t)(nl - e), en = 1;
		if (cl > 0 && nl[-1] == '\r')
			cl--, en = 2;
		if (cl > maxl || (size_t)(nl + 1 - buf) > cap)
			break;
		kinds |= en == 2 ? 1 : 2;
		lastn = en;
		e = nl + 1;
	}
	size_t run = (size_t)(e - buf);
	if (run == 0)
		return 0;
	mime_eol_seen(p, L, kinds);
	L->nlines++;
	L->pos += run;
	L->prev_eoln = lastn;
	if (L->cte == MIME_CTE_BASE64) {
		unsigned char *out = mime_sink_reserve(p, &L->sink, DECODE_B64_MAX(run));
		if (out != NULL)
			mime_sink_commit(p, &L->sink, decode_b64_update(&L->b64, buf, run, out));
	} else {
		mime_sink_write(p, &L->sink, L->eol, L->neol);
		mime_sink_write(p, &L->sink, buf, run - lastn);
		memcpy(L->eol, e - lastn, lastn);
		L->neol = lastn;
	}
	return run;
}

/* mime_text_line - a preamble or epilogue line of the innermost multipart */
static void mime_text_line(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n)
{
	if (L->nfr == 0 || mime_is_blank(s, n))
		return;
	const struct mime_frame *f = &L->fr[L->nfr - 1];
	if (f->kind != FR_MULTIPART)
		return;
	if (f->phase == PH_PREAMBLE)
		mime_tree_flag(p, f->part, MIME_PREAMBLE_CONTENT);
	else if (f->phase == PH_EPILOGUE)
		mime_tree_flag(p, f->part, MIME_EPILOGUE_CONTENT);
	else
		return;
	mime_tree_outside(p, s, n);
}

/* mime_encoded_line - a body line of an encoded container: decode, feed the next layer */
static void mime_encoded_line(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n,
			      size_t eoln)
{
	unsigned char *out;
	size_t k;

	if (L->ecte == MIME_CTE_BASE64) {
		if ((out = mime_scratch(p, L, DECODE_B64_MAX(n))) == NULL)
			return;
		k = decode_b64_update(&L->eb64, s, n, out);
	} else {
		if ((out = mime_scratch(p, L, n + 2)) == NULL)
			return;
		k = decode_qp_line(s, n, eoln > 0, out, &L->eqpflags);
	}
	if (k > 0)
		mime_layer_feed(p, p->layers[L->idx + 1], (const char *)out, k);
}

/* mime_encoded_end - the encoded container ends: finish the layer reading it */
static void mime_encoded_end(struct mime_parser *p, struct mime_layer *L)
{
	struct mime_layer *C = p->layers[L->idx + 1];

	if (L->ecte == MIME_CTE_BASE64) {
		unsigned char tail[4];
		size_t k = decode_b64_final(&L->eb64, tail);
		if (k > 0)
			mime_layer_feed(p, C, (const char *)tail, k);
		if (L->eb64.flags)
			mime_tree_flag(p, L->cur, MIME_BASE64_INVALID);
	} else if (L->eqpflags) {
		mime_tree_flag(p, L->cur, MIME_QP_INVALID);
	}
	if (!mime_stopped(p))
		mime_layer_finish(p, C);
}

/* mime_end_current - end whatever part is open at the top of the layer */
static void mime_end_current(struct mime_parser *p, struct mime_layer *L, bool eof)
{
	while (L->st == ST_HEADER && !mime_stopped(p))
		mime_header_end(p, L);
	if (mime_stopped(p))
		return;
	if (L->st == ST_LEAF)
		mime_leaf_end(p, L, eof);
	else if (L->st == ST_ENCODED)
		mime_encoded_end(p, L);
	L->st = ST_TEXT;
}

/*
 * mime_raw_close - layer 0 meets a delimiter of the frame of part top: the
 * open parts below top (the current one and its ancestors; after a nested
 * close, the current one has ended already) end before the delimiter's
 * line ending. The root never ends at a delimiter.
 */
static void mime_raw_close(struct mime_parser *p, struct mime_layer *L, size_t top, size_t end)
{
	const struct mime_part *parts = p->m->parts;

	for (size_t q = L->cur; q != top && parts[q].parent >= 0; q = (size_t)parts[q].parent)
		mime_tree_raw_end(p, q, end);
}

/* mime_on_boundary - a delimiter line of frame i (close: "--b--") */
static void mime_on_boundary(struct mime_parser *p, struct mime_layer *L, size_t i, bool close)
{
	size_t end = L->lstart - (L->prev_eoln <= L->lstart ? L->prev_eoln : L->lstart);

	/* A header cut here has its body (empty) here, never before its start. */
	if (L->idx == 0)
		L->mark = end > p->m->parts[L->cur].raw_start ? end : p->m->parts[L->cur].raw_start;
	mime_end_current(p, L, false);
	if (mime_stopped(p))
		return;
	if (L->idx == 0)
		mime_raw_close(p, L, L->fr[i].part, end);
	while (L->nfr > i + 1)
		mime_pop(p, L);
	struct mime_frame *f = &L->fr[i];
	L->st = ST_TEXT;
	if (close) {
		f->phase = PH_EPILOGUE;
		return;
	}
	f->phase = PH_PART;
	long c = mime_tree_new_part(p, f->part);
	if (c < 0)
		return;
	if (L->idx == 0) {
		struct mime_part *cp = &p->m->parts[c];
		cp->raw_delim = L->lstart;
		cp->raw_start = L->pos;
		cp->raw_known = true;
	}
	L->cur = (size_t)c;
	L->st = ST_HEADER;
}

/* mime_boundary - is this "--..." line a delimiter of an open multipart? (then handled) */
static bool mime_boundary(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n)
{
	for (size_t i = L->nfr; i-- > 0;) {
		const struct mime_frame *f = &L->fr[i];
		/* A closed multipart's own boundary in its epilogue may close an enclosing
		 * multipart that reuses it; otherwise the line is epilogue text. */
		if (f->kind != FR_MULTIPART || f->bnd == NULL || f->phase == PH_EPILOGUE ||
		    n < 2 + f->blen || memcmp(s + 2, f->bnd, f->blen) != 0)
			continue;
		const char *r = s + 2 + f->blen;
		size_t rn = n - 2 - f->blen;
		bool close = rn >= 2 && r[0] == '-' && r[1] == '-';
		if (close)
			r += 2, rn -= 2;
		if (!mime_is_blank(r, rn))
			continue;
		mime_on_boundary(p, L, i, close);
		return true;
	}
	struct mime_frame *top = L->nfr ? &L->fr[L->nfr - 1] : NULL;
	if (top == NULL || top->kind != FR_MULTIPART || top->bnd != NULL)
		return false;
	size_t bl = n - 2;
	while (bl > 0 && (s[2 + bl - 1] == ' ' || s[2 + bl - 1] == '\t'))
		bl--;
	if (bl == 0)
		return false;
	if ((top->bnd = mime_tree_strdup(p, s + 2, bl, false)) == NULL)
		return true;
	top->blen = bl;
	mime_check_reuse(p, L, top->part, top->bnd, bl);
	mime_on_boundary(p, L, L->nfr - 1, false);
	return true;
}

/* mime_process - one line (without its ending of eoln bytes at s + n) */
static void mime_process(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n,
			 size_t eoln)
{
	for (;;) {
		if (L->nmulti > 0 && n >= 2 && s[0] == '-' && s[1] == '-' && mime_boundary(p, L, s, n))
			return;
		switch (L->st) {
		case ST_HEADER: {
			enum mime_hline r = mime_header_line(p, L, s, n, eoln);
			if (r == HL_MORE)
				return;
			/* A blank line is the header's; a line that is no field is the body's. */
			L->mark = r == HL_END ? L->pos : L->lstart;
			mime_header_end(p, L);
			if (r == HL_END || mime_stopped(p))
				return;
			continue; /* not a header field: the body's first line */
		}
		case ST_LEAF:
			mime_leaf_line(p, L, s, n, eoln);
			return;
		case ST_TEXT:
			mime_text_line(p, L, s, n);
			return;
		case ST_ENCODED:
			mime_encoded_line(p, L, s, n, eoln);
			return;
		}
		return;
	}
}

/* mime_line - one raw line, with its LF or CRLF if it has one */
static void mime_line(struct mime_parser *p, struct mime_layer *L, const char *s, size_t len)
{
	size_t n = len, eoln = 0;

	if (n > 0 && s[n - 1] == '\n') {
		n--, eoln = 1;
		if (n > 0 && s[n - 1] == '\r')
			n--, eoln = 2;
	}
	L->lstart = L->pos;
	L->pos += len;
	if (n > p->lim.max_line_length) {
		mime_tree_limit(p, MIME_LIMIT_LINE_LENGTH, "line over mime_max_line_length %zu",
				p->lim.max_line_length);
		return;
	}
	if (eoln > 0)
		mime_eol_seen(p, L, eoln == 2 ? 1 : 2);
	mime_process(p, L, s, n, eoln);
	L->nlines++;
	L->prev_eoln = eoln;
}

/* mime_hold - keep the start of a line cut by the end of a chunk */
static bool mime_hold(struct mime_parser *p, struct mime_layer *L, const char *s, size_t n)
{
	if (L->llen + n > L->lcap) {
		size_t ncap = L->lcap ? L->lcap : 256;
		while (ncap < L->llen + n)
			ncap *= 2;
		char *nb = realloc(L->lbuf, ncap);
		if (nb == NULL) {
			p->oom = true;
			return false;
		}
		L->lbuf = nb;
		L->lcap = ncap;
	}
	memcpy(L->lbuf + L->llen, s, n);
	L->llen += n;
	return true;
}

/* mime_line_limit - the line being assembled is already too long */
static void mime_line_limit(struct mime_parser *p)
{
	mime_tree_limit(p, MIME_LIMIT_LINE_LENGTH, "line over mime_max_line_length %zu",
			p->lim.max_line_length);
}

/* mime_layer_feed - bytes into a layer, cut anywhere */
static void mime_layer_feed(struct mime_parser *p, struct mime_layer *L, const char *buf, size_t len)
{
	size_t maxl = p->lim.max_line_length;
	/* The most a line without its LF may hold: its content and a CR. */
	size_t hold = maxl < SIZE_MAX - 2 ? maxl + 1 : SIZE_MAX - 1;

	while (len > 0 && !mime_stopped(p)) {
		if (L->llen > 0) {
			const char *nl = memchr(buf, '\n', len);
			size_t take = nl ? (size_t)(nl - buf) + 1 : len;
			if (take > hold + 1 - L->llen) {
				mime_line_limit(p);
				return;
			}
			if (!mime_hold(p, L, buf, take))
				return;
			buf += take, len -= take;
			if (nl == NULL) {
				if (L->llen > hold)
					mime_line_limit(p);
				return;
			}
			size_t ll = L->llen;
			L->llen = 0;
			mime_line(p, L, L->lbuf, ll);
			continue;
		}
		if (L->st == ST_LEAF) {
			size_t k = mime_bulk(p, L, buf, len);
			if (k > 0) {
				buf += k, len -= k;
				continue;
			}
		}
		const char *nl = memchr(buf, '\n', len);
		if (nl == NULL) {
			if (len > hold)
				mime_line_limit(p);
			else
				(void)mime_hold(p, L, buf, len);
			return;
		}
		mime_line(p, L, buf, (size_t)(nl - buf) + 1);
		len -= (size_t)(nl + 1 - buf);
		buf = nl + 1;
	}
}

/* mime_layer_finish - the layer's input ended: its last line, then close everything */
static void mime_layer_finish(struct mime_parser *p, struct mime_layer *L)
{
	if (L->llen > 0) {
		size_t ll = L->llen;
		L->llen = 0;
		mime_line(p, L, L->lbuf, ll);
	}
	if (mime_stopped(p))
		return;
	L->mark = L->pos;
	mime_end_current(p, L, true);
	while (L->nfr > 0)
		mime_pop(p, L);
	L->nmulti = 0;
}

/* mime_parser_new - a parser for one message; NULL limits or view: the defaults */
struct mime_parser *mime_parser_new(const struct mime_limits *limits, const struct mime_view *view)
{
	static const struct mime_limits defaults = {
		.max_depth = 20,
		.max_parts = 1000,
		.max_header_length = 64 * 1024,
		.max_line_length = 4 * 1024 * 1024,
		.max_decoded_size = 256ull * 1024 * 1024,
	};
	struct mime_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->lim = limits ? *limits : defaults;
	if (p->lim.max_parts < 1)
		p->lim.max_parts = 1;
	if (view != NULL)
		p->view = *view;
	struct mime_layer *L = NULL;
	if (mime_tree_init(p) == 0)
		L = mime_layer_get(p, 0);
	if (L == NULL) {
		p->oom = true;
		mime_message_free(mime_parser_finish(p));
		return NULL;
	}
	L->root = 0;
	L->cur = 0;
	L->st = ST_HEADER;
	return p;
}

/* mime_parser_feed - the next chunk of the message; -1 only when out of memory */
int mime_parser_feed(struct mime_parser *p, const char *buf, size_t len)
{
	p->fed = len < SIZE_MAX - p->fed ? p->fed + len : SIZE_MAX - 1;
	if (!mime_stopped(p))
		mime_layer_feed(p, p->layers[0], buf, len);
	return p->oom ? -1 : 0;
}

/* mime_parser_finish - end of input: the message (NULL when out of memory); frees p */
struct mime_message *mime_parser_finish(struct mime_parser *p)
{
	struct mime_message *m;

	if (p->m != NULL && p->nlayers > 0 && !mime_stopped(p))
		mime_layer_finish(p, p->layers[0]);
	for (size_t k = 0; k < p->nlayers; k++) {
		struct mime_layer *L = p->layers[k];
		if (p->m != NULL && !p->oom) {
			mime_sink_close(p, &L->sink);
			mime_sink_close(p, &L->uu);
		}
		mime_layer_free(L);
	}
	free(p->layers);
	if (p->m != NULL && !p->oom)
		mime_tree_finish(p);
	m = p->m;
	if (p->oom) {
		mime_message_free(m);
		m = NULL;
	}
	free(p->px);
	free(p);
	return m;
}
