/* policy.h: phi-redact's column rules, from options, policy files and the
 * built-in profile */
#ifndef PHI_REDACT_POLICY_H
#define PHI_REDACT_POLICY_H

#include <stddef.h>

enum rule {
	RULE_NONE,
	RULE_KEEP,
	RULE_DROP,
	RULE_HASH,
	RULE_MASK,
	RULE_YEAR,
	RULE_SHIFT,
	RULE_ZIP3,
	RULE_AGE
};

/* Where a rule or setting came from; a higher layer wins. */
enum layer {
	LAYER_PROFILE,
	LAYER_FILE,
	LAYER_OPTION,
	LAYER_COUNT
};

enum on_error {
	ON_ERROR_UNSET,
	ON_ERROR_STOP,
	ON_ERROR_MASK
};

struct rule_entry {
	char *column;
	enum rule rule;
	enum layer layer;
	char *origin;		/* "--hash", "vendor.policy:3" */
};

struct settings {
	int profile;		/* 1: safe-harbor */
	long shift_days;	/* 0 when unset */
	char *subject;
	int as_of_set, as_of_year, as_of_month, as_of_day;
	enum on_error on_error;
	char *mask_text;
	int pass_unknown;
};

struct policy {
	struct rule_entry *rule;
	size_t rule_count, rule_cap;
	struct settings layer[LAYER_COUNT];	/* LAYER_PROFILE unused */
	struct settings merged;			/* after policy_finish */
};

const char *rule_name(enum rule rule);
/*
 * Applies one policy word ("hash", "shift-days", ...) with its value, as
 * the option --WORD or a policy file line does. where names the source for
 * messages; a bad word or value dies with EX_USAGE for LAYER_OPTION and
 * EX_CONFIG for LAYER_FILE.
 */
void policy_word(struct policy *policy, enum layer layer, const char *word,
    const char *value, const char *where);
/* Reads a policy file; dies EX_NOINPUT when it cannot be opened. */
void policy_load(struct policy *policy, const char *path);
/* Merges the settings of the layers, options over files over defaults. */
void policy_finish(struct policy *policy);
/* The rule for a header name, or RULE_NONE; origin gets its source. */
enum rule policy_rule(const struct policy *policy, const char *column,
    const char **origin);
/* 1 when some explicit rule or the profile may use rule. */
int policy_uses(const struct policy *policy, enum rule rule);

#endif
