/*
 * check_filter - the Lua filter's part of `klaxon check`: the early
 * callbacks as the milter would run them, and the filter's outcome in the
 * text and JSON reports.
 *
 * SYNOPSIS
 *	struct pipeline_early early = {0};
 *	char stage[32];
 *	if (check_filter_early(snap, &env, &early, &r, stage, sizeof stage))
 *		... r is the early reject or tempfail; print it ...
 *	else
 *		pipeline_run(snap, &env, in, &early, &r);
 *	check_filter_json(stdout, &r, stage);     ", \"filter\": {...}"
 *	check_filter_write(path, &r, in);         --rebuilt FILE
 *
 * DESCRIPTION
 *	check_filter_early() calls filter_relay, filter_helo, filter_sender
 *	and filter_recipient (once per recipient) in the milter's order, with
 *	the milter's rules: "accept" ends the early calls (from filter_relay
 *	or filter_helo: all of them, as for the connection in the milter), "discard" is noted
 *	in early, a reject or tempfail (of any one recipient, here) or a filter
 *	error stops the message; r then holds the reply and stage the callback.
 *
 *	check_filter_write() writes the message as the filter left its body:
 *	the rebuilt message when parts were dropped or replaced, else the
 *	original. Header and envelope edits are in the report, not applied.
 *
 * THREAD SAFETY
 *	For the single-threaded check command. Logs filter errors.
 */
#ifndef KLAXON_CHECK_FILTER_H
#define KLAXON_CHECK_FILTER_H

#include <stdbool.h>
#include <stdio.h>

#include "envelope.h"
#include "intake.h"
#include "pipeline.h"
#include "snapshot.h"

bool check_filter_early(struct snapshot *snap, const struct envelope *env, struct pipeline_early *early,
			struct pipeline_result *r, char *stage, size_t stagelen);
void check_filter_json(FILE *fp, const struct pipeline_result *r, const char *stage);
void check_filter_text(FILE *fp, const struct pipeline_result *r, const char *stage);
int check_filter_write(const char *path, const struct pipeline_result *r, struct intake *in);

#endif
