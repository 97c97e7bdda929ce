/*
 * digest_mime - the digest as a message: the text/plain and text/html
 * parts of a planned digest, quoted-printable, inside a
 * multipart/alternative with its header (RFC 2047 Subject, Date,
 * Message-ID). See digest.h for the contract; digest.c cleans, groups and
 * plans, and calls digest_render() and digest_assemble() from
 * digest_compose().
 *
 * The values it writes were cleaned when they were added (digest.c). The
 * HTML part is written only through digest_html(), which escapes every
 * "%s" argument. Both parts are quoted-printable, whose output never
 * contains "=_" or a line that starts with "====" (every '=' is encoded as
 * "=3D"), so the boundary "=_klaxon_..." cannot occur in a body and
 * `klaxon digest --stdout` can separate messages with such lines.
 *
 * Lines end in LF only: the message goes to the local sendmail command,
 * which takes local line endings, as alert.c's messages do.
 *
 * Ownership: the parts and the message are malloc'd (open_memstream);
 * digest_compose() frees the parts, also after an error, and its caller
 * the message. Thread safety: reads the digest and the plan, never writes
 * them; a digest belongs to one thread. Does not log.
 */
#include "digest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest_int.h"
#include "ident.h"
#include "text.h"

#define DIGEST_QP_LINE 76       /* RFC 2045 6.7 (5) */

/* ---- composing: the words ---- */

/* digest_fmt_time - "03:12", or "Nov 27 03:12" when the items span days; UTC, no locale */
static void digest_fmt_time(char *buf, size_t len, time_t t, bool with_day)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	if (with_day)
		snprintf(buf, len, "%s %02d %02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
			 tm.tm_min);
	else
		snprintf(buf, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

/* digest_fmt_stamp - "2026-11-27 09:00" (UTC), for the period in the header line */
static void digest_fmt_stamp(char *buf, size_t len, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}

/* digest_summary - "497 copies, 03:12 to 22:40, from 412 different senders" */
static void digest_summary(char *buf, size_t len, const struct digest_group *g, bool with_day)
{
	char a[32], b[32], when[80], who[DIGEST_SENDER_MAX + 32];

	digest_fmt_time(a, sizeof(a), g->first, with_day);
	digest_fmt_time(b, sizeof(b), g->last, with_day);
	if (strcmp(a, b) == 0)
		snprintf(when, sizeof(when), "at %s", a);
	else
		snprintf(when, sizeof(when), "%s to %s", a, b);
	if (g->senders.n == 1)
		snprintf(who, sizeof(who), "from <%s>", g->sender ? g->sender : "");
	else
		snprintf(who, sizeof(who), "from %zu different senders", g->senders.n);
	snprintf(buf, len, "%lu %s, %s, %s", g->count, g->count == 1 ? "copy" : "copies", when, who);
}

/* digest_put_html - a cleaned value, HTML-escaped */
static void digest_put_html(FILE *fp, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		default: fputc(*s, fp);
		}
	}
}

/*
 * digest_html - fmt with each "%s" argument HTML-escaped (no other conversion). It is the one
 * way text reaches the HTML part, so no value can reach it unescaped.
 */
__attribute__((format(printf, 2, 3))) static void digest_html(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			digest_put_html(fp, va_arg(ap, const char *));
			p++;
		} else {
			fputc(*p, fp);
		}
	}
	va_end(ap);
}

/* digest_put_single - one singular row in both parts */
static void digest_put_single(FILE *txt, FILE *html, const struct digest_item *it, bool with_day)
{
	char when[32];
	const char *label = digest_class_label(it->class), *sep = *it->reason ? ": " : "";

	digest_fmt_time(when, sizeof(when), it->when, with_day);
	fprintf(txt, "  %s  <%s>  \"%s\"  %s%s%s  id %s\n", when, it->sender, it->subject, label,
		sep, it->reason, it->id);
	digest_html(html, "<tr><td>%s</td><td>&lt;%s&gt;</td><td>%s</td><td>%s%s%s</td>"
			  "<td><code>%s</code></td></tr>\n",
		    when, it->sender, it->subject, label, sep, it->reason, it->id);
}

/* digest_put_group - one group row in both parts; a payload group quotes its subject */
static void digest_put_group(FILE *txt, FILE *html, const struct digest_group *g, bool with_day)
{
	char summary[256];
	const char *open = g->subject ? " (\"" : "", *close = g->subject ? "\")" : "";
	const char *subject = g->subject ? g->subject : "";

	digest_summary(summary, sizeof(summary), g, with_day);
	fprintf(txt, "  %s%s%s%s: %s\n", g->name, open, subject, close, summary);
	digest_html(html, "<tr><td>%s%s%s%s</td><td>%s</td></tr>\n", g->name, open, subject, close,
		    summary);
}

/* digest_put_head - the header line of both parts */
static void digest_put_head(FILE *txt, FILE *html, const struct digest *d,
			    const struct digest_plan *p)
{
	char a[32], b[32], line[160];

	digest_fmt_stamp(a, sizeof(a), d->since ? d->since : p->lo);
	digest_fmt_stamp(b, sizeof(b), d->until ? d->until : p->hi);
	snprintf(line, sizeof(line), "%zu message%s held for you between %s and %s (UTC).",
		 d->total, d->total == 1 ? "" : "s", a, b);
	fprintf(txt, "%s\n", line);
	digest_html(html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			  "<title>Quarantine digest</title></head><body>\n<p>%s</p>\n", line);
}

/* digest_put_title - a section title and, in HTML, the start of its table */
static void digest_put_title(FILE *txt, FILE *html, const char *title, const char *columns)
{
	fprintf(txt, "\n%s:\n", title);
	digest_html(html, "<h3>%s</h3>\n<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n",
		    title);
	fprintf(html, "<tr>%s</tr>\n", columns);
}

/* digest_put_rows - singular rows, then groups, at most max_rows; returns the items not shown */
static unsigned long digest_put_rows(FILE *txt, FILE *html, const struct digest *d,
				     const struct digest_plan *p)
{
	size_t left = d->max_rows, nsingle = p->nsingle < left ? p->nsingle : left;
	unsigned long hidden = p->nsingle - nsingle;

	if (nsingle > 0) {
		digest_put_title(txt, html, "Held for you (one each; ask for any you expected)",
				 "<th>Time</th><th>Sender</th><th>Subject</th><th>Reason</th><th>ID</th>");
		for (size_t i = 0; i < nsingle; i++)
			digest_put_single(txt, html, p->single[i], p->with_day);
		fputs("</table>\n", html);
	}
	left -= nsingle;
	size_t ngroups = p->nrows < left ? p->nrows : left;
	for (size_t i = ngroups; i < p->nrows; i++)
		hidden += p->rows[i]->count;
	if (ngroups > 0) {
		digest_put_title(txt, html, "Outbreaks and repeated copies (one row each)",
				 "<th>What</th><th>Copies</th>");
		for (size_t i = 0; i < ngroups; i++)
			digest_put_group(txt, html, p->rows[i], p->with_day);
		fputs("</table>\n", html);
	}
	return hidden;
}

/* digest_put_body - both parts, unencoded */
static void digest_put_body(FILE *txt, FILE *html, const struct digest *d,
			    const struct digest_plan *p)
{
	static const char release[] = "klaxon quarantine release ID";
	char more[32];

	digest_put_head(txt, html, d, p);
	unsigned long hidden = digest_put_rows(txt, html, d, p);
	if (hidden > 0) {
		snprintf(more, sizeof(more), "%lu", hidden);
		fprintf(txt, "... and %s more: klaxon quarantine list --rcpt %s\n", more, d->rcpt);
		digest_html(html, "<p>... and %s more: <code>klaxon quarantine list --rcpt %s</code></p>\n",
			    more, d->rcpt);
	}
	fprintf(txt, "\nTo get a message back, ask your postmaster to run: %s\n", release);
	digest_html(html, "<p>To get a message back, ask your postmaster to run: <code>%s</code></p>\n"
			  "</body></html>\n", release);
}

/* ---- composing: the message ---- */

/* digest_put_qp - text as quoted-printable (RFC 2045 6.7); LF ends a line */
static void digest_put_qp(FILE *fp, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			fputc('\n', fp);
			col = 0;
			continue;
		}
		bool at_eol = i + 1 == len || s[i + 1] == '\n';
		/* Space and tab are literal except at the end of a line, where transport may eat them. */
		bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
		size_t need = literal ? 1 : 3;
		/* Keep room for the soft break '=', unless this is the line's last character. */
		if (col + need > (at_eol ? DIGEST_QP_LINE : DIGEST_QP_LINE - 1)) {
			fputs("=\n", fp);
			col = 0;
		}
		if (literal) {
			fputc(c, fp);
		} else {
			fputc('=', fp);
			fputc(hex[c >> 4], fp);
			fputc(hex[c & 0xf], fp);
		}
		col += need;
	}
}

/* digest_put_b64word - one RFC 2047 "B" encoded word of n bytes */
static void digest_put_b64word(FILE *fp, const unsigned char *s, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	fputs("=?UTF-8?B?", fp);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		fputc(b64[v >> 18 & 63], fp);
		fputc(b64[v >> 12 & 63], fp);
		fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', fp);
		fputc(i + 2 < n ? b64[v & 63] : '=', fp);
	}
	fputs("?=", fp);
}

/* digest_put_subject - plain when ASCII, else RFC 2047 words cut at character boundaries */
static void digest_put_subject(FILE *fp, const char *subject)
{
	const unsigned char *p = (const unsigned char *)subject;
	bool ascii = true;

	for (size_t i = 0; p[i]; i++)
		ascii = ascii && p[i] < 0x80;
	fputs("Subject: ", fp);
	if (ascii) {
		fprintf(fp, "%s\n", subject);
		return;
	}
	/* 45 bytes make 60 base64 characters: each word stays under RFC 2047's 75. */
	for (size_t i = 0, word = 0; p[i]; word++) {
		size_t n = 0;
		while (p[i + n]) {
			size_t c = text_utf8_len(p + i + n, TEXT_TO_NUL);
			c = c ? c : 1;
			if (n + c > 45)
				break;
			n += c;
		}
		fputs(word ? "\n " : "", fp);
		digest_put_b64word(fp, p + i, n);
		i += n;
	}
	fputc('\n', fp);
}

/* digest_put_headers - the top-level header block; values are cleaned or validated already */
static int digest_put_headers(FILE *fp, const struct digest *d, const struct digest_plan *p,
			      const char *boundary, time_t when, char *err, size_t errlen)
{
	char msgid[IDENT_MAX], *subject;

	if (ident_new(msgid, sizeof(msgid), when, err, errlen) == -1)
		return -1;
	if (asprintf(&subject, "Quarantine digest for %s: %zu held (%lu outbreak copies)", d->rcpt,
		     d->total, p->grouped) == -1) {
		snprintf(err, errlen, "digest_compose: %s", strerror(ENOMEM));
		return -1;
	}
	fprintf(fp, "From: %s\nTo: %s\n", d->from, d->rcpt);
	digest_put_subject(fp, subject);
	free(subject);
	fputs("Date: ", fp);
	text_put_date(fp, when);
	fprintf(fp, "\nMessage-ID: <%s@", msgid);
	text_put_msgid_host(fp, d->hostname);
	fprintf(fp, ">\nAuto-Submitted: auto-generated\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: multipart/alternative; boundary=\"%s\"\n"
		    "\n"
		    "This is a multi-part message in MIME format.\n",
		boundary);
	return 0;
}

/* digest_put_part - one quoted-printable part of the alternative */
static void digest_put_part(FILE *fp, const char *boundary, const char *type, const char *body,
			    size_t len)
{
	fprintf(fp, "\n--%s\nContent-Type: %s; charset=utf-8\n"
		    "Content-Transfer-Encoding: quoted-printable\n\n",
		boundary, type);
	digest_put_qp(fp, body, len);
}

/* digest_memstream_close - close a memstream; -1 if anything written to it failed */
static int digest_memstream_close(FILE *fp, char **buf, char *err, size_t errlen)
{
	bool bad = ferror(fp) != 0;

	if (fclose(fp) == EOF || bad) {
		snprintf(err, errlen, "open_memstream: %s", strerror(ENOMEM));
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

/* digest_render - the two parts, unencoded, into *txt and *html */
int digest_render(const struct digest *d, const struct digest_plan *p, char **txt,
			 size_t *tlen, char **html, size_t *hlen, char *err, size_t errlen)
{
	*txt = *html = NULL;
	FILE *tf = open_memstream(txt, tlen);
	FILE *hf = tf ? open_memstream(html, hlen) : NULL;

	if (hf == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		if (tf != NULL)
			digest_memstream_close(tf, txt, err, errlen);
		return -1;
	}
	digest_put_body(tf, hf, d, p);
	int rc = digest_memstream_close(tf, txt, err, errlen);
	if (digest_memstream_close(hf, html, err, errlen) == -1 || rc == -1) {
		free(*txt);
		*txt = NULL;
		return -1;
	}
	return 0;
}

/* digest_assemble - headers and both parts into one message */
int digest_assemble(const struct digest *d, const struct digest_plan *p, const char *txt,
			   size_t tlen, const char *html, size_t hlen, char **msg, size_t *len,
			   char *err, size_t errlen)
{
	char hexb[17], boundary[40];
	time_t when = d->when ? d->when : time(NULL);

	if (ident_hex(hexb, 16, err, errlen) == -1)
		return -1;
	/* "=_" never appears in quoted-printable output, so no body line can be the boundary. */
	snprintf(boundary, sizeof(boundary), "=_klaxon_%s", hexb);
	*msg = NULL;
	FILE *fp = open_memstream(msg, len);
	if (fp == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -1;
	}
	int rc = digest_put_headers(fp, d, p, boundary, when, err, errlen);
	if (rc == 0) {
		digest_put_part(fp, boundary, "text/plain", txt, tlen);
		digest_put_part(fp, boundary, "text/html", html, hlen);
		fprintf(fp, "\n--%s--\n", boundary);
	}
	if (digest_memstream_close(fp, msg, err, errlen) == -1 || rc == -1) {
		free(*msg);
		*msg = NULL;
		return -1;
	}
	return 0;
}
