/*
 * policy - the built-in policy table. See policy.h for the contract.
 */
#include "policy.h"

/* policy_defaults - the klaxon policy, as in the mission statement */
void policy_defaults(struct policy_table *t)
{
	for (int o = 0; o < 2; o++) {
		t->cell[o][VERDICT_CLEAN] = (struct policy_cell){ACTION_ACCEPT, false, false};
		t->cell[o][VERDICT_OVERSIZE] = (struct policy_cell){ACTION_REJECT, false, false};
		t->cell[o][VERDICT_BANNED] = (struct policy_cell){ACTION_REJECT, false, false};
		t->cell[o][VERDICT_LIMIT] = (struct policy_cell){ACTION_REJECT, false, false};
		t->cell[o][VERDICT_ANOMALY] = (struct policy_cell){ACTION_REJECT, false, false};
		t->cell[o][VERDICT_ERROR] = (struct policy_cell){ACTION_TEMPFAIL, false, false};
	}
	t->cell[ORIGIN_EXTERNAL][VERDICT_VIRUS] = (struct policy_cell){ACTION_REJECT, false, false};
	t->cell[ORIGIN_INTERNAL][VERDICT_VIRUS] = (struct policy_cell){ACTION_DISCARD, true, true};
}

/* policy_decide - look up a cell, then apply the invariants no config may break */
struct policy_cell policy_decide(const struct policy_table *t, enum origin origin, enum verdict v)
{
	if (v >= VERDICT_COUNT || v == VERDICT_ERROR)
		return (struct policy_cell){ACTION_TEMPFAIL, false, false};

	struct policy_cell c = t->cell[origin == ORIGIN_INTERNAL][v];

	/* Mail that is not known clean is never accepted. */
	if (c.action == ACTION_ACCEPT && v != VERDICT_CLEAN)
		c.action = ACTION_TEMPFAIL;
	/* A discard without a durable copy would lose mail. */
	if (c.action == ACTION_DISCARD)
		c.quarantine = true;
	/* Clean mail has nothing to quarantine or alert about. */
	if (v == VERDICT_CLEAN)
		c = (struct policy_cell){ACTION_ACCEPT, false, false};
	return c;
}

const char *policy_action_name(enum action a)
{
	switch (a) {
	case ACTION_ACCEPT:
		return "accept";
	case ACTION_REJECT:
		return "reject";
	case ACTION_TEMPFAIL:
		return "tempfail";
	case ACTION_DISCARD:
		return "discard";
	}
	return "tempfail";
}

const char *policy_verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_CLEAN:
		return "clean";
	case VERDICT_VIRUS:
		return "virus";
	case VERDICT_OVERSIZE:
		return "oversize";
	case VERDICT_BANNED:
		return "banned";
	case VERDICT_LIMIT:
		return "limit";
	case VERDICT_ANOMALY:
		return "anomaly";
	case VERDICT_ERROR:
	case VERDICT_COUNT:
		break;
	}
	return "error";
}
