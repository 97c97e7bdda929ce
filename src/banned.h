/*
 * banned - banned attachment names: the extension list and its matcher.
 *
 * SYNOPSIS
 *	struct banned_list *b;
 *	banned_list_parse("exe pif scr ...", &b, err, errlen);
 *	char why[128];
 *	if (banned_name_check(b, "invoice.pdf.pif", why, sizeof why)) ...
 *	banned_list_free(b);
 *
 * DESCRIPTION
 *	The list is extensions separated by white space or commas, case
 *	insensitive, with or without a leading dot ("exe", ".EXE"). The empty
 *	list bans nothing. BANNED_DEFAULT_EXTENSIONS is MIMEDefang's classic
 *	list of Windows executable and script types.
 *
 *	banned_name_check() looks at one filename (UTF-8) as Windows would
 *	treat it:
 *	  - trailing dots and white space (including Unicode spaces such as
 *	    U+00A0 and U+3000) are stripped first ("x.exe. . " is x.exe);
 *	  - the last extension is compared with the list ("x.pif");
 *	  - a CLSID extension, "x.{3050F4D8-98B5-11CF-BB82-00AA00BDCE0B}", is
 *	    banned whatever the list says (Windows runs the class it names);
 *	  - a name with more than one extension is banned when any extension
 *	    between the stem and the last one is banned, such as "x.exe.zip",
 *	    "x.scr.txt" or "x.exe.notes.txt" (the inner one is what a user sees
 *	    when the outer one is hidden, or what an unpacker gives). The stem,
 *	    the first dot-separated segment, never counts: "exe.txt" is fine.
 *	    The price: "www.example.com.pdf" is banned, as com is;
 *	  - names with a NUL, a path ("dir/x.exe", "dir\x.exe") are judged by
 *	    their last path component.
 *	why receives a short reason naming the name and the rule, e.g.
 *	"banned extension .pif in \"invoice.pdf.pif\"" (the name sanitised:
 *	control characters become '?', cut to fit).
 *
 * OWNERSHIP
 *	banned_list_parse() allocates; banned_list_free() releases.
 *
 * ERRORS
 *	banned_list_parse returns 0 or -1 with err naming the bad item (an
 *	extension with characters other than [A-Za-z0-9_-], or over 16 bytes).
 *
 * THREAD SAFETY
 *	A parsed list is immutable and may be read from any thread. Does not log.
 */
#ifndef KLAXON_BANNED_H
#define KLAXON_BANNED_H

#include <stdbool.h>
#include <stddef.h>

#define BANNED_DEFAULT_EXTENSIONS                                                            \
	"ade adp app asd asf asx bas bat chm cmd com cpl crt dll exe fxp hlp hta hto inf ini "  \
	"ins isp js jse lib lnk mdb mde msc msi msp mst ocx pcd pif prg reg scr sct sh shb shs " \
	"sys url vb vbe vbs vcs vxd wmd wms wmz wsc wsf wsh"

struct banned_list;

int banned_list_parse(const char *text, struct banned_list **out, char *err, size_t errlen);
bool banned_name_check(const struct banned_list *b, const char *name, char *why, size_t whylen);
size_t banned_list_count(const struct banned_list *b);
void banned_list_free(struct banned_list *b);

#endif
