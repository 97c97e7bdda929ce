/*
 * config - table-driven configuration. See config.h for the contract.
 *
 * Every key is one row of config_keys[]: its name, its type, where it lives
 * in struct config, its default, its bounds and one line of help. Parsing,
 * defaults, validation, `config --dump` and the README reference all walk
 * that one table, so they cannot disagree.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "quarantine.h"
#include "cidr.h"
#include "mime.h"

enum config_type {
	CT_STRING,   /* any text, may be empty */
	CT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	CT_UINT,     /* decimal within [min, max] */
	CT_SIZE,     /* bytes, with optional K, M or G suffix, within [min, max] */
	CT_OCTAL,    /* file mode */
	CT_SCANNER,  /* libclamav | clamd */
	CT_VACTION,  /* reject | discard: what to do with a virus */
	CT_SOCKET,   /* unix:/path | inet:PORT@ADDR | inet6:PORT@ADDR */
	CT_CIDRS,    /* IPv4 and IPv6 networks */
	CT_ADDRS,    /* mail addresses, comma or space separated */
	CT_ARGV,     /* a command line, split on white space, run without a shell */
	CT_REPLY,    /* "CODE X.Y.Z text"; min/max bound the first digit */
	CT_EXTS,     /* file name extensions (banned attachments) */
	CT_FLAGS,    /* MIME anomaly flag names */
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	const char *defval;
	unsigned long long min, max;
	const char *help;
};

#define F(field) offsetof(struct config, field)
#define CELL(o, v, m) offsetof(struct config, policy.cell[o][v].m)
#define SZ(n) ((unsigned long long)(n))

static const struct config_key config_keys[] = {
	{"milter_socket", CT_SOCKET, F(milter_socket), "unix:var/run/klaxon.sock", 0, 0,
	 "where the MTA connects: unix:/path or inet:PORT@ADDR"},
	{"milter_socket_mode", CT_OCTAL, F(milter_socket_mode), "0660", 0, 0777,
	 "permissions of a unix milter socket (the MTA's user must be able to connect)"},
	{"milter_timeout", CT_UINT, F(milter_timeout), "300", 1, 86400,
	 "seconds libmilter waits for the MTA before giving up on a connection"},
	{"pid_file", CT_STRING, F(pid_file), "var/run/klaxon.pid", 0, 0,
	 "where `klaxon serve` writes its pid; `klaxon reload` reads it"},
	{"user", CT_STRING, F(user), "", 0, 0,
	 "drop root privileges to this user after opening the socket (empty: stay as started)"},
	{"hostname", CT_STRING, F(hostname), "", 0, 0,
	 "this host's name in headers and alerts (empty: gethostname)"},
	{"debug", CT_BOOL, F(debug), "no", 0, 0, "log debug records"},

	{"scanner", CT_SCANNER, F(scanner), "libclamav", 0, 0,
	 "libclamav (in-process engine) or clamd (INSTREAM over clamd_socket)"},
	{"clamav_db", CT_STRING, F(clamav_db), "auto", 0, 0,
	 "signature directory for libclamav; auto: /var/lib/clamav if it holds a database, "
	 "else the built-in test signatures (EICAR, clamav-testfiles) with a warning"},
	{"clamd_socket", CT_SOCKET, F(clamd_socket), "unix:/run/clamav/clamd.ctl", 0, 0,
	 "clamd address for scanner = clamd"},
	{"scan_timeout", CT_UINT, F(scan_timeout), "60", 1, 3600,
	 "seconds one scan may take; then the message is tempfailed"},
	{"max_concurrent_scans", CT_UINT, F(max_concurrent_scans), "8", 1, 1024,
	 "scans running at once; more messages wait for a slot"},
	{"scan_wait_timeout", CT_UINT, F(scan_wait_timeout), "30", 0, 3600,
	 "seconds a message waits for a scan slot before it is tempfailed"},
	{"max_message_size", CT_SIZE, F(max_message_size), "50M", SZ(1024), SZ(4) << 30,
	 "larger messages get reply_oversize, never accepted unscanned"},
	{"memory_spool_limit", CT_SIZE, F(memory_spool_limit), "1M", 0, SZ(1) << 30,
	 "messages up to this size stay in memory; larger ones go to a 0600 file in spool_dir"},
	{"spool_dir", CT_STRING, F(spool_dir), "var/spool/tmp", 0, 0,
	 "private directory for spooled messages (files are unlinked as soon as opened)"},

	{"internal_networks", CT_CIDRS, F(internal_networks), "127.0.0.0/8, ::1/128", 0, 0,
	 "clients in these IPv4/IPv6 networks are internal"},
	{"trust_authenticated", CT_BOOL, F(trust_authenticated), "yes", 0, 0,
	 "an SMTP-authenticated session ({auth_authen}) is internal"},

	{"on_virus_external", CT_VACTION, CELL(0, VERDICT_VIRUS, action), "reject", 0, 0,
	 "virus from outside: reject (5xx, reply_virus) or discard (quarantine copy first)"},
	{"on_virus_internal", CT_VACTION, CELL(1, VERDICT_VIRUS, action), "discard", 0, 0,
	 "virus from inside: discard (quarantine copy first) or reject"},
	{"quarantine_virus_external", CT_BOOL, CELL(0, VERDICT_VIRUS, quarantine), "no", 0, 0,
	 "also keep a quarantine copy of rejected external viruses (discard always keeps one)"},
	{"quarantine_virus_internal", CT_BOOL, CELL(1, VERDICT_VIRUS, quarantine), "yes", 0, 0,
	 "keep a quarantine copy of internal viruses (discard always keeps one)"},
	{"alert_virus_external", CT_BOOL, CELL(0, VERDICT_VIRUS, alert), "no", 0, 0,
	 "alert alert_to about viruses from outside"},
	{"alert_virus_internal", CT_BOOL, CELL(1, VERDICT_VIRUS, alert), "yes", 0, 0,
	 "alert alert_to about viruses from inside, so the infected host can be found"},
	{"scanned_header", CT_STRING, F(scanned_header), "X-Virus-Scanned", 0, 0,
	 "header added to clean mail (empty: none)"},

	{"mime_max_depth", CT_UINT, F(mime_max_depth), "20", 1, 1000,
	 "deepest nesting of multipart and message parts"},
	{"mime_max_parts", CT_UINT, F(mime_max_parts), "1000", 1, 1000000, "most MIME parts in one message"},
	{"mime_max_header_length", CT_SIZE, F(mime_max_header_length), "100K", SZ(1024), SZ(64) << 20,
	 "longest header field, unfolded"},
	{"mime_max_line_length", CT_SIZE, F(mime_max_line_length), "4M", SZ(1024), SZ(1) << 30,
	 "longest line of the message"},
	{"mime_max_decoded_size", CT_SIZE, F(mime_max_decoded_size), "200M", SZ(1024), SZ(16) << 30,
	 "most decoded bytes of all parts together"},
	{"reply_mime_limit", CT_REPLY, F(reply_mime_limit),
	 "554 5.6.0 Message rejected: MIME structure over a limit (%r)", 4, 5,
	 "reply when a MIME limit is reached (never accepted unscanned); 4xx tempfails, 5xx rejects"},
	{"banned_extensions", CT_EXTS, F(banned_extensions), BANNED_DEFAULT_EXTENSIONS, 0, 0,
	 "attachment name extensions that are refused (also inside archives, in double extensions; "
	 "CLSID names always)"},
	{"on_banned_external", CT_VACTION, CELL(0, VERDICT_BANNED, action), "reject", 0, 0,
	 "banned attachment from outside: reject (reply_banned) or discard (quarantine copy first)"},
	{"on_banned_internal", CT_VACTION, CELL(1, VERDICT_BANNED, action), "reject", 0, 0,
	 "banned attachment from inside: reject, so the sender learns it was not delivered, or discard"},
	{"quarantine_banned", CT_BOOL, F(quarantine_banned), "no", 0, 0,
	 "also keep a quarantine copy of rejected banned attachments (discard always keeps one)"},
	{"reply_banned", CT_REPLY, F(reply_banned), "554 5.7.1 Message rejected: %r", 5, 5,
	 "reply to a banned attachment or message/partial; %r names the attachment and the reason"},
	{"banned_archive_depth", CT_UINT, F(banned_archive_depth), "2", 0, 8,
	 "archive levels whose member names are checked (0: do not look inside archives)"},
	{"banned_archive_entries", CT_UINT, F(banned_archive_entries), "2000", 1, 1000000,
	 "most archive member names checked per attachment"},
	{"anomalies_refuse", CT_FLAGS, F(anomalies_refuse), "", 0, 0,
	 "MIME anomaly flags that make klaxon refuse the message with reply_anomaly (default: none; "
	 "every anomaly is logged, scanned in every reading, and named in anomaly_header)"},
	{"reply_anomaly", CT_REPLY, F(reply_anomaly), "554 5.6.0 Message rejected: malformed MIME (%r)", 4, 5,
	 "reply to a refused anomaly; 4xx tempfails, 5xx rejects"},
	{"anomaly_header", CT_STRING, F(anomaly_header), "X-Klaxon-MIME-Anomalies", 0, 0,
	 "header that lists the anomalies of an accepted message (empty: none)"},
	{"verdict_cache_size", CT_UINT, F(verdict_cache_size), "20000", 0, 10000000,
	 "decoded parts whose verdict is remembered by SHA-256, for outbreaks (0: off)"},
	{"verdict_cache_ttl", CT_UINT, F(verdict_cache_ttl), "3600", 1, 604800,
	 "seconds a cached verdict is trusted (signature reloads clear the cache anyway)"},
	{"always_scan_whole_message", CT_BOOL, F(always_scan_whole_message), "no", 0, 0,
	 "also hand every whole message to ClamAV's own mail parser (it always is when the MIME "
	 "is ambiguous)"},

	{"filter", CT_STRING, F(filter), "", 0, 0,
	 "Lua policy filter with MIMEDefang's callbacks and actions (docs/filter.md); empty: the "
	 "built-in policy above. Compiled at start and on reload; a filter that does not compile "
	 "stops the start, or keeps the old configuration and filter on reload"},
	{"filter_instruction_budget", CT_UINT, F(filter_instruction_budget), "20000000", 10000,
	 2000000000, "Lua VM instructions one message may use over all its callbacks; then 4xx"},
	{"filter_time_limit", CT_UINT, F(filter_time_limit), "5", 1, 300,
	 "seconds of wall-clock time one filter callback may run; then 4xx"},
	{"filter_memory_limit", CT_SIZE, F(filter_memory_limit), "32M", SZ(1) << 20, SZ(1) << 30,
	 "memory of one Lua state (the filter's tables included); past it the message gets a 4xx "
	 "and the state is replaced"},
	{"filter_pool_size", CT_UINT, F(filter_pool_size), "32", 1, 4096,
	 "Lua states at most, one per thread running a callback; more threads wait their turn"},

	{"quarantine_dir", CT_STRING, F(quarantine_dir), "var/quarantine", 0, 0,
	 "durable quarantine copies, mode 0700"},
	{"quarantine_retention_virus", CT_UINT, F(quarantine_retention[QUARANTINE_VIRUS]), "30", 0, 36500,
	 "days `klaxon quarantine expire` keeps virus entries (0: for ever)"},
	{"quarantine_retention_banned", CT_UINT, F(quarantine_retention[QUARANTINE_BANNED]), "30", 0, 36500,
	 "days banned-attachment entries are kept (0: for ever)"},
	{"quarantine_retention_ambiguous", CT_UINT, F(quarantine_retention[QUARANTINE_AMBIGUOUS]), "30", 0,
	 36500, "days entries held for a MIME limit or refused anomaly are kept (0: for ever)"},
	{"quarantine_retention_policy", CT_UINT, F(quarantine_retention[QUARANTINE_POLICY]), "90", 0, 36500,
	 "days entries held by the Lua filter are kept (0: for ever)"},
	{"quarantine_retention_spam", CT_UINT, F(quarantine_retention[QUARANTINE_SPAM]), "14", 0, 36500,
	 "days entries a filter held as spam are kept (0: for ever)"},
	{"release_window", CT_UINT, F(release_window), "3600", 60, 604800,
	 "seconds a released message may pass klaxon again after `klaxon quarantine release`"},
	{"digest_from", CT_STRING, F(digest_from), "", 0, 0,
	 "From of quarantine digests (empty: alert_from, or klaxon@hostname)"},
	{"digest_max_rows", CT_UINT, F(digest_max_rows), "25", 5, 30,
	 "rows per digest (one screen); past it, \"and N more\" points to `klaxon quarantine list`"},
	{"alert_spool_dir", CT_STRING, F(alert_spool_dir), "var/spool/alerts", 0, 0,
	 "alerts wait here until sendmail_command accepts them"},
	{"alert_to", CT_ADDRS, F(alert_to), "postmaster", 0, 0,
	 "who receives internal-virus alerts (one or more addresses)"},
	{"alert_from", CT_STRING, F(alert_from), "", 0, 0,
	 "From of alerts (empty: klaxon@hostname)"},
	{"alert_retry_interval", CT_UINT, F(alert_retry_interval), "60", 1, 86400,
	 "seconds between retries of spooled alerts"},
	{"alert_window", CT_UINT, F(alert_window), "900", 10, 86400,
	 "seconds one infected source gets one alert: the first copy alerts at once, later ones are "
	 "counted and summed up in one summary when the window ends"},
	{"alert_max_per_hour", CT_UINT, F(alert_max_per_hour), "30", 1, 100000,
	 "alert mails at most in any hour; past it alerts wait (counted, never dropped)"},
	{"sendmail_command", CT_ARGV, F(sendmail_command), "/usr/sbin/sendmail -oi -t", 0, 0,
	 "how klaxon submits mail it writes (an argv, run without a shell)"},
	{"sendmail_timeout", CT_UINT, F(sendmail_timeout), "60", 1, 3600,
	 "seconds sendmail_command may take"},

	{"reply_virus", CT_REPLY, F(reply_virus), "550 5.7.1 Message rejected: virus found: %v",
	 5, 5, "reply to a rejected virus; %v is the virus names"},
	{"reply_tempfail", CT_REPLY, F(reply_tempfail),
	 "451 4.7.1 Message could not be processed (%r), please try again later", 4, 4,
	 "reply when klaxon cannot decide; %r is the reason"},
	{"reply_oversize", CT_REPLY, F(reply_oversize),
	 "552 5.3.4 Message too big to be scanned (limit %l)", 4, 5,
	 "reply to a message over max_message_size; a 4xx code tempfails, a 5xx rejects; %l is the limit"},
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

_Static_assert(QUARANTINE_CLASS_COUNT == sizeof(((struct config *)0)->quarantine_retention) / sizeof(unsigned),
	       "one retention key per quarantine class");

/* Parse state: which line set each key, for duplicates and cross-field errors. */
struct config_parse {
	const char *file;
	unsigned line[NKEYS];
	char *err;
	size_t errlen;
};

static int config_fail(struct config_parse *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* config_fail - put "file:line: reason" (or "file: reason") into err */
static int config_fail(struct config_parse *p, unsigned line, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->file, line, reason);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->file, reason);
	return -1;
}

static void *config_field(struct config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

/* config_parse_bool - the spellings people use */
static int config_parse_bool(const char *v, bool *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* config_parse_number - decimal with an optional K/M/G suffix when sized */
static int config_parse_number(const char *v, bool sized, int base, unsigned long long *out)
{
	if (!isdigit((unsigned char)v[0]))
		return -1;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, base);
	if (errno != 0)
		return -1;
	unsigned shift = 0;
	if (sized && *end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		default: return -1;
		}
		end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
	}
	if (*end != '\0' || (shift && n > (ULLONG_MAX >> shift)))
		return -1;
	*out = n << shift;
	return 0;
}

/* config_check_socket - unix:/path, inet:PORT@ADDR or inet6:PORT@ADDR */
static const char *config_check_socket(const char *v)
{
	if (strncmp(v, "unix:", 5) == 0 || strncmp(v, "local:", 6) == 0)
		return v[strcspn(v, ":") + 1] ? NULL : "unix: needs a path";
	const char *rest = NULL;
	if (strncmp(v, "inet:", 5) == 0)
		rest = v + 5;
	else if (strncmp(v, "inet6:", 6) == 0)
		rest = v + 6;
	if (rest == NULL)
		return "expected unix:/path or inet:PORT@ADDR";
	if (!isdigit((unsigned char)rest[0]))
		return "expected inet:PORT@ADDR with a port from 1 to 65535";
	char *end;
	unsigned long port = strtoul(rest, &end, 10);
	if (end == rest || port == 0 || port > 65535 || (*end != '@' && *end != '\0'))
		return "expected inet:PORT@ADDR with a port from 1 to 65535";
	if (*end == '@' && end[1] == '\0')
		return "inet: address after '@' is empty";
	return NULL;
}

/* config_check_reply - "CODE X.Y.Z text" with CODE's first digit in [lo, hi] */
static const char *config_check_reply(const char *v, unsigned lo, unsigned hi)
{
	if (!(isdigit((unsigned char)v[0]) && isdigit((unsigned char)v[1]) &&
	      isdigit((unsigned char)v[2]) && v[3] == ' '))
		return "expected 'CODE X.Y.Z text', such as '550 5.7.1 Virus found'";
	unsigned first = (unsigned)(v[0] - '0');
	if (first < lo || first > hi)
		return lo != hi ? "reply code must be 4xx or 5xx"
		       : lo == 4 ? "reply code must be 4xx (a temporary failure)"
				 : "reply code must be 5xx (a permanent rejection)";
	const char *x = v + 4;
	if (x[0] != v[0] || x[1] != '.' || !isdigit((unsigned char)x[2]))
		return "the enhanced status code (X.Y.Z) must follow the code and share its class";
	x += strspn(x + 2, "0123456789.") + 2;
	if (*x != ' ' || x[1] == '\0')
		return "a reply needs a text after the enhanced status code";
	if (strlen(v) > 400)
		return "reply text longer than 400 characters";
	return NULL;
}

/* config_split - split on separators into a NULL-terminated vector */
static char **config_split(const char *v, const char *seps, size_t *count)
{
	size_t n = 0, cap = 4;
	char **vec = calloc(cap, sizeof(*vec));
	char *copy = strdup(v);
	if (vec == NULL || copy == NULL)
		goto oom;
	char *save = NULL;
	for (char *tok = strtok_r(copy, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
		if (n + 2 > cap) {
			char **bigger = realloc(vec, (cap *= 2) * sizeof(*vec));
			if (bigger == NULL)
				goto oom;
			vec = bigger;
		}
		if ((vec[n++] = strdup(tok)) == NULL)
			goto oom;
		vec[n] = NULL;
	}
	free(copy);
	if (count)
		*count = n;
	return vec;
oom:
	for (size_t i = 0; vec && i < n; i++)
		free(vec[i]);
	free(vec);
	free(copy);
	return NULL;
}

static void config_free_vector(char **vec)
{
	for (size_t i = 0; vec && vec[i]; i++)
		free(vec[i]);
	free(vec);
}

/* config_check_addrs - each alert address is one plausible mailbox */
static const char *config_check_addrs(const char *v)
{
	for (const char *c = v; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == '<' || *c == '>' || *c == '"' || *c == ';')
			return "addresses must be plain (user or user@domain), without <>, quotes or control characters";
	return NULL;
}

/* config_check_exts - a list banned_list_parse() accepts */
static const char *config_check_exts(const char *v)
{
	struct banned_list *b = NULL;
	char why[128];
	if (banned_list_parse(v, &b, why, sizeof(why)) == -1)
		return "expected extensions such as 'exe pif scr', letters, digits, '-' and '_' only";
	banned_list_free(b);
	return NULL;
}

/* config_check_flags - MIME anomaly flag names; the mask into *mask when given */
static const char *config_check_flags(const char *v, unsigned *mask)
{
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", v);
	unsigned m = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned f = 0;
		for (unsigned bit = 0; bit < MIME_FLAG_COUNT && f == 0; bit++)
			if (strcmp(mime_flag_name((enum mime_flag)(1u << bit)), tok) == 0)
				f = 1u << bit;
		if (f == 0)
			return "unknown MIME anomaly name (see the flag list in README.md)";
		m |= f;
	}
	if (mask)
		*mask = m;
	return NULL;
}

/* config_set - parse one value into its field; returns NULL or the reason */
static const char *config_set(struct config *cfg, const struct config_key *k, const char *v)
{
	void *field = config_field(cfg, k);
	unsigned long long n;
	const char *why = NULL;

	switch (k->type) {
	case CT_BOOL:
		return config_parse_bool(v, field) ? "expected yes or no" : NULL;
	case CT_UINT:
	case CT_SIZE:
	case CT_OCTAL:
		if (config_parse_number(v, k->type == CT_SIZE, k->type == CT_OCTAL ? 8 : 10, &n))
			return k->type == CT_SIZE ? "expected a size such as 512K, 50M or 1G"
			       : k->type == CT_OCTAL ? "expected an octal mode such as 0660"
						     : "expected a whole number";
		if (n < k->min || n > k->max)
			return "value out of range";
		if (k->type == CT_SIZE)
			*(unsigned long long *)field = n;
		else
			*(unsigned *)field = (unsigned)n;
		return NULL;
	case CT_SCANNER:
		if (strcmp(v, "libclamav") == 0)
			*(enum scan_backend *)field = SCAN_BACKEND_LIBCLAMAV;
		else if (strcmp(v, "clamd") == 0)
			*(enum scan_backend *)field = SCAN_BACKEND_CLAMD;
		else
			return "expected libclamav or clamd";
		return NULL;
	case CT_VACTION:
		if (strcmp(v, "reject") == 0)
			*(enum action *)field = ACTION_REJECT;
		else if (strcmp(v, "discard") == 0)
			*(enum action *)field = ACTION_DISCARD;
		else
			return "expected reject or discard (a virus is never accepted)";
		return NULL;
	case CT_SOCKET:
		why = config_check_socket(v);
		break;
	case CT_REPLY:
		why = config_check_reply(v, (unsigned)k->min, (unsigned)k->max);
		break;
	case CT_ADDRS:
		why = config_check_addrs(v);
		break;
	case CT_EXTS:
		why = config_check_exts(v);
		break;
	case CT_FLAGS:
		why = config_check_flags(v, NULL);
		break;
	case CT_STRING:
	case CT_CIDRS:
	case CT_ARGV:
		break;
	}
	if (why)
		return why;
	char *copy = strdup(v);
	if (copy == NULL)
		return "out of memory";
	free(*(char **)field);
	*(char **)field = copy;
	return NULL;
}

/* config_unquote - trim white space, then one pair of surrounding quotes */
static char *config_unquote(char *v)
{
	while (isspace((unsigned char)*v))
		v++;
	char *end = v + strlen(v);
	while (end > v && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (end - v >= 2 && v[0] == '"' && end[-1] == '"') {
		end[-1] = '\0';
		v++;
	}
	return v;
}

/* config_strip_comment - a '#' at the start or after white space, outside quotes */
static void config_strip_comment(char *s)
{
	bool quoted = false;
	for (char *c = s; *c; c++) {
		if (*c == '"')
			quoted = !quoted;
		else if (*c == '#' && !quoted && (c == s || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			return;
		}
	}
}

static const struct config_key *config_find(const char *name, size_t *index)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return *index = i, &config_keys[i];
	return NULL;
}

/* config_parse_line - one "key = value" line */
static int config_parse_line(struct config *cfg, struct config_parse *p, char *s, unsigned line)
{
	config_strip_comment(s);
	char *key = config_unquote(s);
	if (*key == '\0')
		return 0;
	char *eq = strchr(key, '=');
	if (eq == NULL)
		return config_fail(p, line, "expected 'key = value'");
	*eq = '\0';
	char *value = config_unquote(eq + 1);
	key = config_unquote(key);

	size_t i;
	const struct config_key *k = config_find(key, &i);
	if (k == NULL)
		return config_fail(p, line, "unknown key '%s'", key);
	if (p->line[i])
		return config_fail(p, line, "'%s' is already set on line %u", key, p->line[i]);
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return config_fail(p, line, "control character in the value of '%s'", key);
	/* Quotes only wrap a whole value, so every value can be written back
	 * (config --dump) and read again unchanged. */
	if (strchr(value, '"'))
		return config_fail(p, line, "'%s': a double quote may only wrap the whole value", key);
	const char *why = config_set(cfg, k, value);
	if (why)
		return config_fail(p, line, "%s: %s: '%s'", key, why, value);
	p->line[i] = line;
	return 0;
}

/* config_read_file - parse every line of the file */
static int config_read_file(struct config *cfg, struct config_parse *p, const char *path)
{
	FILE *fp = fopen(path, "re");
	if (fp == NULL)
		return config_fail(p, 0, "cannot open: %s", strerror(errno));
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned line = 0;
	int rc = 0;
	while (rc == 0 && (len = getline(&buf, &cap, fp)) != -1) {
		line++;
		if (memchr(buf, '\0', (size_t)len) != NULL)
			rc = config_fail(p, line, "NUL byte in line");
		else if (len > 4096)
			rc = config_fail(p, line, "line longer than 4096 bytes");
		else
			rc = config_parse_line(cfg, p, buf, line);
	}
	if (rc == 0 && ferror(fp))
		rc = config_fail(p, line, "read error: %s", strerror(errno));
	free(buf);
	fclose(fp);
	return rc;
}

static unsigned config_line_of(const struct config_parse *p, const char *name)
{
	size_t i;
	return config_find(name, &i) ? p->line[i] : 0;
}

/* config_derive - compute derived values and check rules across keys */
static int config_derive(struct config *cfg, struct config_parse *p)
{
	char why[256];
	if (cidr_list_parse(cfg->internal_networks, &cfg->internal, why, sizeof(why)) == -1)
		return config_fail(p, config_line_of(p, "internal_networks"), "internal_networks: %s", why);

	cfg->sendmail_argv = config_split(cfg->sendmail_command, " \t", NULL);
	if (cfg->sendmail_argv == NULL)
		return config_fail(p, 0, "out of memory");
	if (cfg->sendmail_argv[0] == NULL || cfg->sendmail_argv[0][0] != '/')
		return config_fail(p, config_line_of(p, "sendmail_command"),
				   "sendmail_command must start with an absolute path");

	cfg->alert_to_list = config_split(cfg->alert_to, ", \t", &cfg->alert_to_count);
	if (cfg->alert_to_list == NULL)
		return config_fail(p, 0, "out of memory");
	bool alerts = cfg->policy.cell[0][VERDICT_VIRUS].alert || cfg->policy.cell[1][VERDICT_VIRUS].alert;
	if (alerts && cfg->alert_to_count == 0)
		return config_fail(p, config_line_of(p, "alert_to"),
				   "alert_to is empty but alerts are enabled");

	/* Where a reply may be 4xx or 5xx, its code decides the action. */
	const struct {
		enum verdict v;
		const char *reply;
	} by_code[] = {
		{VERDICT_OVERSIZE, cfg->reply_oversize},
		{VERDICT_LIMIT, cfg->reply_mime_limit},
		{VERDICT_ANOMALY, cfg->reply_anomaly},
	};
	for (size_t i = 0; i < sizeof(by_code) / sizeof(by_code[0]); i++) {
		enum action a = by_code[i].reply[0] == '4' ? ACTION_TEMPFAIL : ACTION_REJECT;
		cfg->policy.cell[0][by_code[i].v].action = a;
		cfg->policy.cell[1][by_code[i].v].action = a;
	}
	/* quarantine_banned covers both origins; a discard keeps a copy anyway. */
	cfg->policy.cell[0][VERDICT_BANNED].quarantine = cfg->quarantine_banned;
	cfg->policy.cell[1][VERDICT_BANNED].quarantine = cfg->quarantine_banned;

	if (banned_list_parse(cfg->banned_extensions, &cfg->banned, why, sizeof(why)) == -1)
		return config_fail(p, config_line_of(p, "banned_extensions"), "banned_extensions: %s", why);
	(void)config_check_flags(cfg->anomalies_refuse, &cfg->anomalies_refuse_mask);
	for (const char *c = cfg->anomaly_header; *c; c++)
		if (*c <= ' ' || *c == ':' || (unsigned char)*c >= 0x7f)
			return config_fail(p, config_line_of(p, "anomaly_header"),
					   "anomaly_header must be a header name");

	if (cfg->memory_spool_limit > cfg->max_message_size)
		cfg->memory_spool_limit = cfg->max_message_size;
	for (const char *c = cfg->scanned_header; *c; c++)
		if (*c <= ' ' || *c == ':' || (unsigned char)*c >= 0x7f)
			return config_fail(p, config_line_of(p, "scanned_header"),
					   "scanned_header must be a header name");
	return 0;
}

/* config_load - defaults, then the file, then derived values */
int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config_parse p = {.file = path ? path : "(defaults)", .err = err, .errlen = errlen};
	struct config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return config_fail(&p, 0, "out of memory");
	policy_defaults(&cfg->policy);

	int rc = 0;
	for (size_t i = 0; rc == 0 && i < NKEYS; i++) {
		const char *why = config_set(cfg, &config_keys[i], config_keys[i].defval);
		if (why) /* a broken default is a bug in this table */
			rc = config_fail(&p, 0, "default of %s: %s", config_keys[i].name, why);
	}
	if (rc == 0 && path)
		rc = config_read_file(cfg, &p, path);
	if (rc == 0)
		rc = config_derive(cfg, &p);
	if (rc == 0 && (cfg->path = strdup(p.file)) == NULL)
		rc = config_fail(&p, 0, "out of memory");
	if (rc != 0) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

/* config_format - one value back in the syntax the file takes */
static void config_format(const struct config *cfg, const struct config_key *k, char *buf, size_t len)
{
	const void *field = (const char *)cfg + k->offset;
	unsigned long long n;
	switch (k->type) {
	case CT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no");
		return;
	case CT_UINT:
		snprintf(buf, len, "%u", *(const unsigned *)field);
		return;
	case CT_OCTAL:
		snprintf(buf, len, "0%o", *(const unsigned *)field);
		return;
	case CT_SIZE:
		n = *(const unsigned long long *)field;
		if (n && n % (1ULL << 30) == 0)
			snprintf(buf, len, "%lluG", n >> 30);
		else if (n && n % (1ULL << 20) == 0)
			snprintf(buf, len, "%lluM", n >> 20);
		else if (n && n % 1024 == 0)
			snprintf(buf, len, "%lluK", n >> 10);
		else
			snprintf(buf, len, "%llu", n);
		return;
	case CT_SCANNER:
		snprintf(buf, len, "%s", *(const enum scan_backend *)field == SCAN_BACKEND_CLAMD ? "clamd" : "libclamav");
		return;
	case CT_VACTION:
		snprintf(buf, len, "%s", policy_action_name(*(const enum action *)field));
		return;
	default:
		snprintf(buf, len, "%s", *(char *const *)field);
		return;
	}
}

/* config_dump - the effective config, loadable again as a file */
void config_dump(const struct config *cfg, FILE *fp)
{
	fprintf(fp, "# klaxon effective configuration (from %s)\n", cfg->path);
	for (size_t i = 0; i < NKEYS; i++) {
		char value[4200]; /* a line holds at most 4096 bytes */
		config_format(cfg, &config_keys[i], value, sizeof(value));
		size_t n = strlen(value);
		bool quote = n == 0 || strchr(value, '#') || isspace((unsigned char)value[0]) ||
			     isspace((unsigned char)value[n - 1]);
		fprintf(fp, "%-26s = %s%s%s\n", config_keys[i].name, quote ? "\"" : "", value, quote ? "\"" : "");
	}
}

/* config_reference - a markdown table of every key, for README.md */
void config_reference(FILE *fp)
{
	fprintf(fp, "| key | default | meaning |\n|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(fp, "| `%s` | `%s` | %s |\n", config_keys[i].name, config_keys[i].defval,
			config_keys[i].help);
}

/* config_free - release a config and everything derived from it */
void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		enum config_type t = config_keys[i].type;
		if (t == CT_STRING || t == CT_SOCKET || t == CT_CIDRS || t == CT_ADDRS || t == CT_ARGV ||
		    t == CT_REPLY || t == CT_EXTS || t == CT_FLAGS)
			free(*(char **)config_field(cfg, &config_keys[i]));
	}
	cidr_list_free(cfg->internal);
	banned_list_free(cfg->banned);
	config_free_vector(cfg->sendmail_argv);
	config_free_vector(cfg->alert_to_list);
	free(cfg->path);
	free(cfg);
}
