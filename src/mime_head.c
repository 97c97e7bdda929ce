/*
 * mime_head - the header state of mime.c: unfolding fields against the
 * header length limit, the byte checks (NUL, bare CR, 8-bit), reading
 * Content-Type, Content-Transfer-Encoding and Content-Disposition with
 * mimehdr_parse() (first and last of duplicates kept, every filename
 * source collected), and, at the end of a header, settling the part and
 * choosing how its body is read.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_int.h"

/* mime_hdr_clear - forget a header collection */
void mime_hdr_clear(struct mime_hdr *h)
{
	for (unsigned i = 0; i < h->nct; i++)
		mimehdr_field_free(&h->ct[i]);
	for (unsigned i = 0; i < h->ncte; i++)
		free(h->cte[i]);
	if (h->ncd)
		mimehdr_field_free(&h->cd);
	h->nct = h->ncte = h->ncd = 0;
	h->field = HF_NONE;
	h->flen = h->ftotal = 0;
}

/* mime_field_kind - which MIME field a header name is */
static enum mime_field mime_field_kind(const char *s, size_t n)
{
	if (n == 12 && strncasecmp(s, "content-type", 12) == 0)
		return HF_CT;
	if (n == 25 && strncasecmp(s, "content-transfer-encoding", 25) == 0)
		return HF_CTE;
	if (n == 19 && strncasecmp(s, "content-disposition", 19) == 0)
		return HF_CD;
	return HF_OTHER;
}

/* mime_field_append - more of the field in progress, against the header length limit */
static void mime_field_append(struct mime_parser *p, struct mime_layer *L, size_t linelen,
			      const char *v, size_t vn)
{
	struct mime_hdr *h = &L->h;

	h->ftotal += linelen;
	if (h->ftotal > p->lim.max_header_length) {
		mime_tree_limit(p, MIME_LIMIT_HEADER_LENGTH,
				"header field over mime_max_header_length %zu",
				p->lim.max_header_length);
		return;
	}
	if (h->field == HF_OTHER || h->field == HF_NONE || vn == 0)
		return;
	if (h->flen + vn > h->fcap) {
		size_t ncap = h->fcap ? h->fcap : 256;
		while (ncap < h->flen + vn)
			ncap *= 2;
		char *nb = realloc(h->fbuf, ncap);
		if (nb == NULL) {
			p->oom = true;
			return;
		}
		h->fbuf = nb;
		h->fcap = ncap;
	}
	memcpy(h->fbuf + h->flen, v, vn);
	h->flen += vn;
}

/*
 * mime_field_names - every reading of a filename parameter is a name: a
 * client that ignores RFC 2231, or takes the last duplicate, sees another
 * one, and a banned-name check must see them all.
 */
static void mime_field_names(struct mime_parser *p, size_t part, const struct mimehdr_field *f,
			     const char *param, enum mime_name_source src)
{
	size_t readings = 0;
	for (size_t i = 0; i < f->nparams; i++) {
		if (strcmp(f->params[i].name, param) != 0)
			continue;
		mime_tree_add_name(p, part, src, f->params[i].value, strlen(f->params[i].value));
		readings++;
	}
	if (readings > 1)
		mime_tree_flag(p, part, MIME_DUP_PARAMETER);
}

/* mime_boundary - the first reading of the boundary, or the last one in that view */
static const char *mime_boundary(struct mime_parser *p, size_t part, const struct mimehdr_field *ct)
{
	const char *first = NULL, *last = NULL;
	for (size_t i = 0; i < ct->nparams; i++) {
		if (strcmp(ct->params[i].name, "boundary") != 0)
			continue;
		if (first == NULL)
			first = ct->params[i].value;
		last = ct->params[i].value;
	}
	if (first != last)
		mime_tree_flag(p, part, MIME_DUP_PARAMETER);
	return p->view.last_content_type ? last : first;
}

/* mime_field_end - the field in progress is complete: read it if it is a MIME field */
static void mime_field_end(struct mime_parser *p, struct mime_layer *L)
{
	struct mime_hdr *h = &L->h;
	enum mime_field kind = h->field;
	struct mimehdr_field f;

	h->field = HF_NONE;
	if (kind == HF_NONE || kind == HF_OTHER || mime_stopped(p))
		return;
	if (mimehdr_parse(h->fbuf ? h->fbuf : "", h->flen, &f) != 0) {
		mimehdr_field_free(&f);
		p->oom = true;
		return;
	}
	if (f.flags & (MIMEHDR_SYNTAX | MIMEHDR_DUP_PARAM | MIMEHDR_BAD_2231 | MIMEHDR_TRUNCATED))
		mime_tree_flag(p, L->cur, MIME_BAD_HEADER_SYNTAX);
	switch (kind) {
	case HF_CT:
		mime_field_names(p, L->cur, &f, "name", MIME_NAME_CONTENT_TYPE);
		if (h->nct == 2)
			mimehdr_field_free(&h->ct[1]);
		else
			h->nct++;
		h->ct[h->nct - 1] = f;
		if (h->nct == 2)
			mime_tree_flag(p, L->cur, MIME_DUP_CONTENT_TYPE);
		return;
	case HF_CTE: {
		char *tok = mime_tree_strdup(p, f.token, strlen(f.token), true);
		mimehdr_field_free(&f);
		if (tok == NULL)
			return;
		if (h->ncte == 2)
			free(h->cte[1]);
		else
			h->ncte++;
		h->cte[h->ncte - 1] = tok;
		if (h->ncte == 2)
			mime_tree_flag(p, L->cur, MIME_DUP_CTE);
		return;
	}
	default:
		mime_field_names(p, L->cur, &f, "filename", MIME_NAME_DISPOSITION);
		if (h->ncd == 0) {
			h->cd = f;
			h->ncd = 1;
		} else {
			mimehdr_field_free(&f);
		}
		return;
	}
}

/* mime_header_bytes - NUL, bare CR and 8-bit bytes in a header line */
static void mime_header_bytes(struct mime_parser *p, size_t part, const char *s, size_t n)
{
	unsigned fl = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			fl |= MIME_HEADER_NUL;
		else if (c == '\r')
			fl |= MIME_HEADER_BARE_CR;
		else if (c >= 0x80)
			fl |= MIME_HEADER_8BIT;
	}
	if (fl)
		mime_tree_flag(p, part, fl);
}

/* mime_field_name - see mime.h */
size_t mime_field_name(const char *s, size_t n, size_t *colon)
{
	const char *c = memchr(s, ':', n);
	if (c == NULL)
		return 0;
	size_t nl = (size_t)(c - s);
	while (nl > 0 && (s[nl - 1] == ' ' || s[nl - 1] == '\t'))
		nl--;
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127)
			return 0;
	*colon = (size_t)(c - s);
	return nl;
}

static enum mime_hline mime_header_line1(struct mime_parser *p, struct mime_layer *L, const char *s,
					 size_t n, size_t eoln);

/*
 * mime_header_line - one line in ST_HEADER. In the view that reads a bare
 * CR as a line ending, the line is first cut there: "A: x\rB: y" is then
 * two fields, which is how a hidden second Content-Type gets seen.
 */
enum mime_hline mime_header_line(struct mime_parser *p, struct mime_layer *L, const char *s,
				 size_t n, size_t eoln)
{
	const char *cr = p->view.bare_cr_breaks_header && n > 0 ? memchr(s, '\r', n) : NULL;
	if (cr == NULL)
		return mime_header_line1(p, L, s, n, eoln);
	mime_tree_flag(p, L->cur, MIME_HEADER_BARE_CR);
	enum mime_hline r = HL_MORE;
	for (const char *end = s + n; s < end && r == HL_MORE;) {
		const char *stop = memchr(s, '\r', (size_t)(end - s));
		size_t len = (size_t)((stop ? stop : end) - s);
		if (len > 0)
			r = mime_header_line1(p, L, s, len, stop ? 1 : eoln);
		s += len + (stop ? 1 : 0);
	}
	return r;
}

/* mime_header_line1 - one header line, after any bare CR split */
static enum mime_hline mime_header_line1(struct mime_parser *p, struct mime_layer *L, const char *s,
					 size_t n, size_t eoln)
{
	bool top = L->idx == 0 && L->cur == 0;
	struct mime_hdr *h = &L->h;

	if (n == 0)
		return HL_END;
	if (s[0] == ' ' || s[0] == '\t') {
		mime_header_bytes(p, L->cur, s, n);
		if (top)
			mime_tree_header_block(p, s, n + eoln);
		if (h->field == HF_NONE || mime_is_blank(s, n))
			mime_tree_flag(p, L->cur, MIME_BAD_HEADER_SYNTAX);
		if (h->field != HF_NONE)
			mime_field_append(p, L, n, s, n);
		return HL_MORE;
	}
	size_t colon = 0, nl = mime_field_name(s, n, &colon);
	if (nl == 0) {
		if (top && L->nlines == 0 && n >= 5 && memcmp(s, "From ", 5) == 0) {
			mime_tree_header_block(p, s, n + eoln);
			return HL_MORE;
		}
		mime_tree_flag(p, L->cur, MIME_BAD_HEADER_SYNTAX);
		return HL_BODY;
	}
	mime_header_bytes(p, L->cur, s, n);
	if (top)
		mime_tree_header_block(p, s, n + eoln);
	mime_field_end(p, L);
	h->field = mime_field_kind(s, nl);
	h->ftotal = 0;
	h->flen = 0;
	size_t voff = colon + 1;
	mime_field_append(p, L, n, s + voff, n - voff);
	return HL_MORE;
}

/* mime_cte_of - the encoding a token names */
static enum mime_cte mime_cte_of(const char *t)
{
	if (*t == '\0' || strcmp(t, "7bit") == 0)
		return MIME_CTE_7BIT;
	if (strcmp(t, "8bit") == 0)
		return MIME_CTE_8BIT;
	if (strcmp(t, "binary") == 0)
		return MIME_CTE_BINARY;
	if (strcmp(t, "base64") == 0)
		return MIME_CTE_BASE64;
	if (strcmp(t, "quoted-printable") == 0)
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

/* mime_type_ok - "type/subtype" with both halves present */
static bool mime_type_ok(const char *t)
{
	const char *slash = strchr(t, '/');
	return slash != NULL && slash != t && slash[1] != '\0' && strchr(slash + 1, '/') == NULL;
}

/* mime_open_container - start reading part's body as a multipart or an enclosed message */
static void mime_open_container(struct mime_parser *p, struct mime_layer *T, size_t part,
				bool multipart, const char *bnd)
{
	if (multipart) {
		if (mime_push(p, T, part, FR_MULTIPART, bnd, bnd ? strlen(bnd) : 0) != NULL)
			T->st = ST_TEXT;
		return;
	}
	if (mime_push(p, T, part, FR_MESSAGE, NULL, 0) == NULL)
		return;
	long c = mime_tree_new_part(p, part);
	if (c < 0)
		return;
	if (T->idx == 0) {
		/* The enclosed message starts where its container's body does. */
		p->m->parts[c].raw_start = T->mark;
		p->m->parts[c].raw_known = true;
	}
	T->cur = (size_t)c;
	T->st = ST_HEADER;
}

/*
 * mime_header_end - the header of L->cur is complete: settle its type,
 * encoding, disposition and names, and choose the state of its body. In
 * layer 0, L->mark is the raw offset where that body starts.
 */
void mime_header_end(struct mime_parser *p, struct mime_layer *L)
{
	struct mime_hdr *h = &L->h;
	size_t cur = L->cur;

	if (L->idx == 0)
		p->m->parts[cur].raw_body = L->mark;
	mime_field_end(p, L);
	if (mime_stopped(p))
		return;

	const struct mimehdr_field *ct = NULL;
	if (h->nct > 0)
		ct = &h->ct[p->view.last_content_type ? h->nct - 1 : 0];
	bool valid = ct != NULL && mime_type_ok(ct->token);
	if (ct != NULL && !valid)
		mime_tree_flag(p, cur, MIME_BAD_HEADER_SYNTAX);
	const char *type = "text/plain";
	int parent = p->m->parts[cur].parent;
	if (valid)
		type = ct->token;
	else if (parent >= 0 && p->m->parts[parent].content_type != NULL &&
		 strcmp(p->m->parts[parent].content_type, "multipart/digest") == 0)
		type = "message/rfc822";
	const char *charset = valid ? mimehdr_param(ct, "charset") : NULL;
	const char *bnd = valid ? mime_boundary(p, cur, ct) : NULL;

	enum mime_cte cte = MIME_CTE_7BIT;
	if (h->ncte > 0) {
		const char *t = h->cte[p->view.last_cte ? h->ncte - 1 : 0];
		cte = mime_cte_of(t);
		if (*t == '\0')
			mime_tree_flag(p, cur, MIME_BAD_HEADER_SYNTAX);
		if (cte == MIME_CTE_UNKNOWN)
			mime_tree_flag(p, cur, MIME_UNKNOWN_CTE);
	}
	const char *disp = "";
	if (h->ncd > 0 && h->cd.token[0] != '\0')
		disp = strcmp(h->cd.token, "inline") == 0 ? "inline" : "attachment";

	struct mime_part *pt = &p->m->parts[cur];
	pt->content_type = mime_tree_strdup(p, type, strlen(type), true);
	pt->charset = mime_tree_strdup(p, charset ? charset : "", charset ? strlen(charset) : 0, true);
	pt->disposition = mime_tree_strdup(p, disp, strlen(disp), false);
	pt->cte = cte;
	if (pt->content_type == NULL) {
		mime_hdr_clear(h);
		return;
	}
	type = pt->content_type;

	bool multipart = strncmp(type, "multipart/", 10) == 0;
	bool message = strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0;
	bool encoded = cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP;
	if (strcmp(type, "message/partial") == 0)
		mime_tree_flag(p, cur, MIME_PARTIAL);
	if ((multipart || message) && encoded)
		mime_tree_flag(p, cur, MIME_ENCODED_MULTIPART);
	if (multipart && (bnd == NULL || *bnd == '\0')) {
		mime_tree_flag(p, cur, MIME_BOUNDARY_MISSING);
		bnd = NULL;
		if (!p->view.guess_boundary)
			multipart = false;
	}
	if (!multipart && !message) {
		mime_hdr_clear(h);
		mime_leaf_begin(p, L, cur, cte, strcmp(type, "text/plain") == 0);
		return;
	}

	struct mime_layer *T = L;
	if (encoded && p->view.decode_multipart && L->idx + 1 < MIME_MAX_LAYERS) {
		T = mime_layer_get(p, L->idx + 1);
		if (T == NULL) {
			mime_hdr_clear(h);
			return;
		}
		T->root = cur;
		L->st = ST_ENCODED;
		L->ecte = cte;
		decode_b64_init(&L->eb64, p->view.strict_base64);
		L->eqpflags = 0;
	}
	/* bnd points into h->ct, which the frame copies before the clear. */
	mime_open_container(p, T, cur, multipart, bnd);
	mime_hdr_clear(h);
}
