/*
 * test_policy - unit tests for the policy module (src/policy.h is the spec).
 *
 * The default table is checked cell by cell against the table in policy.h.
 * The invariants of policy_decide() are checked for every content a cell
 * can have (each action, including out-of-range values a corrupt table
 * could hold, times quarantine times alert), in every position, over every
 * combination of the four cells of a row (the other row holds a shifted
 * copy). policy_decide() reads one cell, so this covers every table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "policy.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* test_defaults - policy_defaults() is the table in policy.h */
static void test_defaults(void **state)
{
	(void)state;
	static const struct {
		enum origin origin;
		enum verdict verdict;
		struct policy_cell want;
	} rows[] = {
		{ORIGIN_EXTERNAL, VERDICT_CLEAN, {ACTION_ACCEPT, false, false}},
		{ORIGIN_INTERNAL, VERDICT_CLEAN, {ACTION_ACCEPT, false, false}},
		{ORIGIN_EXTERNAL, VERDICT_VIRUS, {ACTION_REJECT, false, false}},
		{ORIGIN_INTERNAL, VERDICT_VIRUS, {ACTION_DISCARD, true, true}},
		/* "reply_oversize code": the default reply_oversize is 552, a reject. */
		{ORIGIN_EXTERNAL, VERDICT_OVERSIZE, {ACTION_REJECT, false, false}},
		{ORIGIN_INTERNAL, VERDICT_OVERSIZE, {ACTION_REJECT, false, false}},
		/* Banned names are rejected for both origins, so the sender learns of it. */
		{ORIGIN_EXTERNAL, VERDICT_BANNED, {ACTION_REJECT, false, false}},
		{ORIGIN_INTERNAL, VERDICT_BANNED, {ACTION_REJECT, false, false}},
		/* "reply_mime_limit / reply_anomaly code": the defaults are 554. */
		{ORIGIN_EXTERNAL, VERDICT_LIMIT, {ACTION_REJECT, false, false}},
		{ORIGIN_INTERNAL, VERDICT_LIMIT, {ACTION_REJECT, false, false}},
		{ORIGIN_EXTERNAL, VERDICT_ANOMALY, {ACTION_REJECT, false, false}},
		{ORIGIN_INTERNAL, VERDICT_ANOMALY, {ACTION_REJECT, false, false}},
		{ORIGIN_EXTERNAL, VERDICT_ERROR, {ACTION_TEMPFAIL, false, false}},
		{ORIGIN_INTERNAL, VERDICT_ERROR, {ACTION_TEMPFAIL, false, false}},
	};
	struct policy_table t;
	memset(&t, 0xa5, sizeof(t)); /* every cell must be written */
	policy_defaults(&t);
	assert_int_equal(NELEM(rows), 2 * VERDICT_COUNT);
	for (size_t i = 0; i < NELEM(rows); i++) {
		const struct policy_cell *c = &t.cell[rows[i].origin][rows[i].verdict];
		struct policy_cell d = policy_decide(&t, rows[i].origin, rows[i].verdict);
		const struct policy_cell *w = &rows[i].want;
		if (c->action != w->action || c->quarantine != w->quarantine || c->alert != w->alert ||
		    d.action != w->action || d.quarantine != w->quarantine || d.alert != w->alert)
			fail_msg("%s %s: cell %s q=%d a=%d, decided %s q=%d a=%d, want %s q=%d a=%d",
				 origin_name(rows[i].origin), policy_verdict_name(rows[i].verdict),
				 policy_action_name(c->action), c->quarantine, c->alert,
				 policy_action_name(d.action), d.quarantine, d.alert,
				 policy_action_name(w->action), w->quarantine, w->alert);
	}
}

/* Every content a cell can take: 4 actions plus two corrupt values, x quarantine x alert. */
static const enum action actions[] = {ACTION_ACCEPT, ACTION_REJECT, ACTION_TEMPFAIL, ACTION_DISCARD,
				      (enum action)4, (enum action)77};
#define NCELL (NELEM(actions) * 4)

static struct policy_cell cell_n(size_t n)
{
	return (struct policy_cell){actions[n / 4], (n & 2) != 0, (n & 1) != 0};
}

/* check_one - the invariants of policy.h for one decision */
static void check_one(const struct policy_table *t, enum origin o, enum verdict v, unsigned long combo)
{
	struct policy_cell d = policy_decide(t, o, v);
	const char *who = origin_name(o);

	if (v == VERDICT_ERROR || v >= VERDICT_COUNT) {
		if (d.action != ACTION_TEMPFAIL)
			fail_msg("table %lu, %s verdict %d: %s, want tempfail", combo, who, (int)v,
				 policy_action_name(d.action));
		return;
	}
	const struct policy_cell c = t->cell[o == ORIGIN_INTERNAL][v];
	if (v == VERDICT_CLEAN) {
		if (d.action != ACTION_ACCEPT || d.quarantine || d.alert)
			fail_msg("table %lu, %s clean: %s q=%d a=%d, want accept, no quarantine/alert",
				 combo, who, policy_action_name(d.action), d.quarantine, d.alert);
		return;
	}
	/* Virus or oversize: never accepted, a discard always keeps a copy. */
	if (d.action == ACTION_ACCEPT)
		fail_msg("table %lu, %s %s: accepted", combo, who, policy_verdict_name(v));
	if (d.action == ACTION_DISCARD && !d.quarantine)
		fail_msg("table %lu, %s %s: discard without quarantine", combo, who,
			 policy_verdict_name(v));
	/* A cell that breaks no invariant is obeyed as it is. */
	if (c.action == ACTION_REJECT || c.action == ACTION_TEMPFAIL || c.action == ACTION_DISCARD) {
		bool q = c.quarantine || c.action == ACTION_DISCARD;
		if (d.action != c.action || d.quarantine != q || d.alert != c.alert)
			fail_msg("table %lu, %s %s: cell %s q=%d a=%d decided as %s q=%d a=%d", combo,
				 who, policy_verdict_name(v), policy_action_name(c.action), c.quarantine,
				 c.alert, policy_action_name(d.action), d.quarantine, d.alert);
	}
}

/* test_invariants_every_table - all NCELL^4 rows, each origin, every verdict */
static void test_invariants_every_table(void **state)
{
	(void)state;
	static const enum verdict verdicts[] = {VERDICT_CLEAN,	VERDICT_VIRUS, VERDICT_OVERSIZE,
						VERDICT_BANNED, VERDICT_LIMIT, VERDICT_ANOMALY,
						VERDICT_ERROR,	VERDICT_COUNT, (enum verdict)42};
	static const enum origin origins[] = {ORIGIN_EXTERNAL, ORIGIN_INTERNAL};
	unsigned long tables = 0;

	for (unsigned long combo = 0; combo < NCELL * NCELL * NCELL * NCELL; combo++) {
		struct policy_table t;
		unsigned long k = combo;
		for (int v = 0; v < VERDICT_COUNT; v++) {
			t.cell[0][v] = cell_n(k % NCELL);
			t.cell[1][(v + 1) % VERDICT_COUNT] = cell_n((k % NCELL + 7 * (size_t)v) % NCELL);
			k /= NCELL;
		}
		for (size_t o = 0; o < NELEM(origins); o++)
			for (size_t v = 0; v < NELEM(verdicts); v++)
				check_one(&t, origins[o], verdicts[v], combo);
		/* And with the rows swapped, so the internal row sees every combination too. */
		struct policy_table s;
		memcpy(s.cell[0], t.cell[1], sizeof(s.cell[0]));
		memcpy(s.cell[1], t.cell[0], sizeof(s.cell[1]));
		for (size_t o = 0; o < NELEM(origins); o++)
			for (size_t v = 0; v < NELEM(verdicts); v++)
				check_one(&s, origins[o], verdicts[v], combo);
		tables += 2;
	}
	assert_true(tables == 2UL * NCELL * NCELL * NCELL * NCELL);
}

/* test_decide_reads_its_origin - each origin reads its own row */
static void test_decide_reads_its_origin(void **state)
{
	(void)state;
	struct policy_table t;
	policy_defaults(&t);
	t.cell[ORIGIN_EXTERNAL][VERDICT_VIRUS] = (struct policy_cell){ACTION_REJECT, false, true};
	t.cell[ORIGIN_INTERNAL][VERDICT_VIRUS] = (struct policy_cell){ACTION_TEMPFAIL, true, false};
	struct policy_cell e = policy_decide(&t, ORIGIN_EXTERNAL, VERDICT_VIRUS);
	struct policy_cell i = policy_decide(&t, ORIGIN_INTERNAL, VERDICT_VIRUS);
	assert_int_equal(e.action, ACTION_REJECT);
	assert_false(e.quarantine);
	assert_true(e.alert);
	assert_int_equal(i.action, ACTION_TEMPFAIL);
	assert_true(i.quarantine);
	assert_false(i.alert);
}

/* test_names - every action and verdict has its name; unknown ones fall to the safe side */
static void test_names(void **state)
{
	(void)state;
	assert_string_equal(policy_action_name(ACTION_ACCEPT), "accept");
	assert_string_equal(policy_action_name(ACTION_REJECT), "reject");
	assert_string_equal(policy_action_name(ACTION_TEMPFAIL), "tempfail");
	assert_string_equal(policy_action_name(ACTION_DISCARD), "discard");
	assert_string_not_equal(policy_action_name((enum action)99), "accept");
	assert_string_equal(policy_verdict_name(VERDICT_CLEAN), "clean");
	assert_string_equal(policy_verdict_name(VERDICT_VIRUS), "virus");
	assert_string_equal(policy_verdict_name(VERDICT_OVERSIZE), "oversize");
	assert_string_equal(policy_verdict_name(VERDICT_ERROR), "error");
	assert_string_not_equal(policy_verdict_name((enum verdict)99), "clean");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_invariants_every_table),
		cmocka_unit_test(test_decide_reads_its_origin),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
