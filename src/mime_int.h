/*
 * mime_int - what mime.c (the line state machine) and mime_tree.c (the
 * part tree, leaf buffers, names, limits) share. Not a public interface:
 * only those two files include it.
 *
 * Parts are always named by their index in m->parts, never by pointer,
 * because creating a part may move the array.
 */
#ifndef KLAXON_MIME_INT_H
#define KLAXON_MIME_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "decode.h"
#include "mime.h"
#include "mimehdr.h"

/* A leaf being written: its decoded bytes go to the part and to SHA-256. */
struct mime_sink {
	size_t part;
	bool open;
	EVP_MD_CTX *sha;            /* owned by the layer and reused; NULL until first use */
};

/* Parser-side bookkeeping per part, parallel to m->parts. */
struct mime_pextra {
	size_t cap;                 /* bytes allocated at part->data */
	unsigned nkids;             /* children so far, for their paths */
	bool hashed;                /* part->sha256 is final */
};

struct mime_layer;

struct mime_parser {
	struct mime_limits lim;
	struct mime_view view;
	struct mime_message *m;
	struct mime_pextra *px;
	size_t pcap;                /* room in m->parts and px */
	unsigned long long decoded; /* leaf bytes so far, against lim.max_decoded_size */
	bool oom;
	size_t hbcap;               /* room at m->header_block */
	struct mime_layer **layers; /* [0] reads the input; [k+1] the decoded body of an encoded
				       container in [k] (view.decode_multipart) */
	size_t nlayers;             /* allocated */
	size_t fed;                 /* input bytes so far: the bound of every raw offset */
};

/* At most this many nested decodings of encoded containers; deeper ones are read raw. */
#define MIME_MAX_LAYERS 8

/* What the current line of a layer is (mime.c explains the states). */
enum mime_state { ST_HEADER, ST_LEAF, ST_TEXT, ST_ENCODED };
enum mime_frame_kind { FR_MULTIPART, FR_MESSAGE };
enum mime_phase { PH_PREAMBLE, PH_PART, PH_EPILOGUE };
enum mime_field { HF_NONE, HF_OTHER, HF_CT, HF_CTE, HF_CD };
enum mime_hline { HL_MORE, HL_END, HL_BODY };

struct mime_frame {
	size_t part;
	char *bnd; /* NULL: a multipart still guessing its boundary */
	size_t blen;
	enum mime_frame_kind kind;
	enum mime_phase phase;
};

/* The header of the part in ST_HEADER. */
struct mime_hdr {
	enum mime_field field; /* the field in progress */
	size_t ftotal;         /* its unfolded length so far */
	char *fbuf;            /* its value, for the three MIME fields only */
	size_t flen, fcap;
	struct mimehdr_field ct[2]; /* first and last Content-Type */
	unsigned nct;               /* 0, 1 or 2 (two or more) */
	char *cte[2];
	unsigned ncte;
	struct mimehdr_field cd; /* first Content-Disposition */
	unsigned ncd;
};

struct mime_layer {
	unsigned idx;
	size_t root; /* part whose body this layer reads */
	char *lbuf;  /* a line cut by a chunk end */
	size_t llen, lcap;
	unsigned char *scratch;
	size_t scap;
	struct mime_frame *fr;
	size_t nfr, frcap;
	unsigned nmulti; /* multipart frames: "--" lines may be boundaries */
	enum mime_state st;
	size_t cur;
	struct mime_hdr h;
	unsigned long nlines;
	unsigned eolseen; /* 1: CRLF, 2: LF */

	/* Raw offsets. Every layer counts them (cheaper than asking which layer it is);
	 * only layer 0's are read, as the others read decoded bytes. */
	size_t pos;         /* offset of the next byte to be read as a line */
	size_t lstart;      /* offset of the line being processed */
	size_t prev_eoln;   /* line ending length of the line before it */
	size_t mark;        /* where the body of a header that ends now begins */

	/* ST_LEAF */
	struct mime_sink sink;
	enum mime_cte cte;
	struct decode_b64 b64;
	unsigned qpflags;
	char eol[2]; /* the line ending not yet written */
	size_t neol;
	bool uu_ok, in_uu;
	struct mime_sink uu;
	unsigned uuflags;

	/* ST_ENCODED */
	enum mime_cte ecte;
	struct decode_b64 eb64;
	unsigned eqpflags;
};

/* mime_tree.c */
int mime_tree_init(struct mime_parser *p);
long mime_tree_new_part(struct mime_parser *p, size_t parent);
void mime_tree_add_name(struct mime_parser *p, size_t part, enum mime_name_source src,
			const char *name, size_t len);
void mime_tree_flag(struct mime_parser *p, size_t part, unsigned flags);
void mime_tree_limit(struct mime_parser *p, enum mime_limit_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
char *mime_tree_strdup(struct mime_parser *p, const char *s, size_t n, bool lower);
void mime_tree_outside(struct mime_parser *p, const char *s, size_t n);
void mime_tree_header_block(struct mime_parser *p, const char *s, size_t n);
void mime_tree_raw_end(struct mime_parser *p, size_t part, size_t end);
void mime_tree_finish(struct mime_parser *p);

int mime_sink_open(struct mime_parser *p, struct mime_sink *s, size_t part);
unsigned char *mime_sink_reserve(struct mime_parser *p, struct mime_sink *s, size_t n);
void mime_sink_commit(struct mime_parser *p, struct mime_sink *s, size_t n);
void mime_sink_write(struct mime_parser *p, struct mime_sink *s, const void *buf, size_t n);
void mime_sink_close(struct mime_parser *p, struct mime_sink *s);
unsigned long long mime_sink_room(const struct mime_parser *p);

/* mime.c */
bool mime_is_blank(const char *s, size_t n);
struct mime_layer *mime_layer_get(struct mime_parser *p, unsigned k);
struct mime_frame *mime_push(struct mime_parser *p, struct mime_layer *L, size_t part,
			     enum mime_frame_kind kind, const char *bnd, size_t blen);
void mime_leaf_begin(struct mime_parser *p, struct mime_layer *L, size_t part, enum mime_cte cte,
		     bool text_plain);

/* mime_head.c */
void mime_hdr_clear(struct mime_hdr *h);
enum mime_hline mime_header_line(struct mime_parser *p, struct mime_layer *L, const char *s,
				 size_t n, size_t eoln);
void mime_header_end(struct mime_parser *p, struct mime_layer *L);

/* mime_stopped - a limit or an allocation failure ended the parse */
static inline bool mime_stopped(const struct mime_parser *p)
{
	return p->oom || p->m->limit != MIME_LIMIT_NONE;
}

#endif
