/*
 * scan - the virus scanner interface, with two backends behind it.
 *
 * SYNOPSIS
 *	scan_global_init(err, errlen);               once per process
 *	struct scanner *s;
 *	scanner_open(&opts, &s, err, errlen);       loads signatures / checks clamd
 *	scanner_scan_memory(s, buf, len, &verdict);
 *	scanner_scan_fd(s, fd, &verdict);
 *	scan_verdict_clear(&verdict);
 *	scanner_close(s);
 *
 * DESCRIPTION
 *	SCAN_BACKEND_LIBCLAMAV loads one cl_engine from opts.db_dir at open and
 *	shares it between all threads. Scans run with ClamAV's mail parsing on
 *	(the input is a whole RFC 5322 message), archive parsing on, and in
 *	all-match mode, so the verdict lists every virus name found (unique,
 *	in the order found). opts.timeout_ms bounds one scan
 *	(CL_ENGINE_MAX_SCANTIME); running out gives SCAN_ERROR.
 *
 *	SCAN_BACKEND_CLAMD streams the bytes to clamd with zINSTREAM over
 *	opts.clamd_socket ("unix:/path" or "inet:PORT@HOST"), one connection
 *	per scan, with opts.timeout_ms bounding connect, each send and the
 *	reply. "stream: NAME FOUND" gives SCAN_VIRUS; "OK" gives SCAN_CLEAN;
 *	anything else (ERROR, size limit, garbled reply, refused, timeout)
 *	gives SCAN_ERROR with the reason. scanner_open() for clamd only checks
 *	that the socket address parses; clamd may be down at start.
 *
 *	scanner_scan_fd() scans the whole file from offset 0 (it uses pread or
 *	its own lseek; the caller's offset is not relied upon).
 *
 *	scanner_describe() gives a one-line description for logs and
 *	`klaxon version`, such as "libclamav 1.4.6, 3 signatures from tests/sigs"
 *	or "clamd at unix:/run/clamav/clamd.ctl".
 *
 * OWNERSHIP
 *	The verdict owns its name strings; scan_verdict_clear() frees them and
 *	may be called on a zeroed verdict. The scanner must outlive every scan
 *	using it (klaxon pins it in the refcounted config snapshot).
 *
 * ERRORS
 *	scanner_open returns 0 or -1 with err set. The scan functions always
 *	fill the verdict: status SCAN_ERROR carries the reason in verdict.error.
 *	They never treat an error as clean.
 *
 * THREAD SAFETY
 *	scanner_scan_* may run concurrently on one scanner. Does not log.
 */
#ifndef KLAXON_SCAN_H
#define KLAXON_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum scan_backend { SCAN_BACKEND_LIBCLAMAV = 0, SCAN_BACKEND_CLAMD = 1 };
enum scan_status { SCAN_CLEAN = 0, SCAN_VIRUS = 1, SCAN_ERROR = 2 };

struct scan_options {
	enum scan_backend backend;
	const char *db_dir;        /* libclamav: signature directory */
	const char *clamd_socket;  /* clamd: unix:/path or inet:PORT@HOST */
	unsigned timeout_ms;       /* one scan, whole */
	unsigned long long max_scan_size; /* bytes; bigger input is SCAN_ERROR */
};

struct scan_verdict {
	enum scan_status status;
	size_t nviruses;
	char **viruses;            /* nviruses unique names */
	char error[256];           /* reason, when status == SCAN_ERROR */
};

struct scanner;

int scan_global_init(char *err, size_t errlen);
int scanner_open(const struct scan_options *opts, struct scanner **out, char *err, size_t errlen);
void scanner_scan_memory(struct scanner *s, const void *buf, size_t len, struct scan_verdict *v);
void scanner_scan_fd(struct scanner *s, int fd, struct scan_verdict *v);
const char *scanner_describe(const struct scanner *s);
uint64_t scanner_db_version(const struct scanner *s); /* changes when the signatures do */
void scanner_close(struct scanner *s);
void scan_verdict_clear(struct scan_verdict *v);

#endif
