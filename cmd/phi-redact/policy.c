/* policy.c: the rule words, policy files and the safe-harbor profile */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "err.h"
#include "mem.h"
#include "policy.h"
#include "wordfile.h"

#define SHIFT_DAYS_MAX 3650

static const char *const rule_names[] = {
	[RULE_NONE] = "none",
	[RULE_KEEP] = "keep",
	[RULE_DROP] = "drop",
	[RULE_HASH] = "hash",
	[RULE_MASK] = "mask",
	[RULE_YEAR] = "year",
	[RULE_SHIFT] = "shift",
	[RULE_ZIP3] = "zip3",
	[RULE_AGE] = "age",
};

/*
 * The safe-harbor profile: common column names of our feeds (MTP files,
 * iQueue, MOSAIQ) matched after lower-casing and turning every run of other
 * characters than letters and digits into '_'. The man page lists the same
 * table; keep them together.
 */
static const struct {
	const char *name;
	enum rule rule;
} safe_harbor[] = {
	/* (A) names */
	{ "name", RULE_DROP }, { "first_name", RULE_DROP },
	{ "last_name", RULE_DROP }, { "middle_name", RULE_DROP },
	{ "middle_initial", RULE_DROP }, { "full_name", RULE_DROP },
	{ "patient_name", RULE_DROP }, { "pat_name", RULE_DROP },
	{ "last_name_abbrv", RULE_DROP },
	/* (B) geography smaller than a state; ZIP to its first 3 digits */
	{ "address", RULE_DROP }, { "address1", RULE_DROP },
	{ "address2", RULE_DROP }, { "street", RULE_DROP },
	{ "street_address", RULE_DROP }, { "apt", RULE_DROP },
	{ "city", RULE_DROP }, { "county", RULE_DROP },
	{ "zip", RULE_ZIP3 }, { "zip_code", RULE_ZIP3 },
	{ "zipcode", RULE_ZIP3 }, { "postal_code", RULE_ZIP3 },
	/* (C) dates: birth by the 90+ rule, the others to their year */
	{ "dob", RULE_AGE }, { "date_of_birth", RULE_AGE },
	{ "birth_date", RULE_AGE }, { "age", RULE_AGE },
	{ "book_datetime", RULE_YEAR }, { "start_datetime", RULE_YEAR },
	{ "end_datetime", RULE_YEAR }, { "rx_date", RULE_YEAR },
	{ "appt_dttm", RULE_YEAR }, { "appt_made_dttm", RULE_YEAR },
	{ "appt_changed_dttm", RULE_YEAR }, { "admit_date", RULE_YEAR },
	{ "discharge_date", RULE_YEAR }, { "death_date", RULE_YEAR },
	{ "visit_date", RULE_YEAR }, { "app_start", RULE_DROP },
	/* (D, E, F) telephone, fax, e-mail */
	{ "phone", RULE_DROP }, { "phone_number", RULE_DROP },
	{ "mobile_number", RULE_DROP }, { "mobile_phone", RULE_DROP },
	{ "home_phone", RULE_DROP }, { "work_phone", RULE_DROP },
	{ "fax", RULE_DROP }, { "fax_number", RULE_DROP },
	{ "email", RULE_DROP }, { "email_address", RULE_DROP },
	/* (G) social security numbers */
	{ "ssn", RULE_DROP },
	/* (H, I, R) record, account and other identifying numbers: tokens */
	{ "mrn", RULE_HASH }, { "patient_id", RULE_HASH },
	{ "pat_id1", RULE_HASH }, { "ida", RULE_HASH },
	{ "internal_patient_id", RULE_HASH },
	{ "provider_patient_id", RULE_HASH },
	{ "account_number", RULE_HASH }, { "member_id", RULE_HASH },
	{ "ereqnumber", RULE_HASH },
};

const char *
rule_name(enum rule rule)
{
	return rule_names[rule];
}

static enum rule
rule_from_word(const char *word)
{
	for (size_t i = RULE_KEEP; i < sizeof rule_names / sizeof *rule_names;
	    i++)
		if (strcmp(word, rule_names[i]) == 0)
			return (enum rule)i;
	return RULE_NONE;
}

static int
bad_status(enum layer layer)
{
	return layer == LAYER_OPTION ? EX_USAGE : EX_CONFIG;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static void
add_rule(struct policy *policy, enum layer layer, enum rule rule,
    const char *column, const char *where)
{
	for (size_t i = 0; i < policy->rule_count; i++) {
		struct rule_entry *e = &policy->rule[i];

		if (e->layer != layer || strcmp(e->column, column) != 0)
			continue;
		if (e->rule != rule)
			die(bad_status(layer), "%s: column %s has two rules: "
			    "%s (%s) and %s", where, column, rule_name(e->rule),
			    e->origin, rule_name(rule));
		return;
	}
	if (policy->rule_count == policy->rule_cap) {
		policy->rule_cap = policy->rule_cap ? policy->rule_cap * 2 : 32;
		policy->rule = xreallocarray(policy->rule, policy->rule_cap,
		    sizeof *policy->rule);
	}
	policy->rule[policy->rule_count++] = (struct rule_entry){
		.column = xstrdup(column),
		.rule = rule,
		.layer = layer,
		.origin = xstrdup(where),
	};
}

static void
add_rules(struct policy *policy, enum layer layer, enum rule rule,
    const char *columns, const char *where)
{
	char *list = xstrdup(columns), *rest = list, *name;

	while ((name = strsep(&rest, ",")) != NULL) {
		name = trim(name);
		if (*name == '\0')
			die(bad_status(layer), "%s: empty column name in the "
			    "list", where);
		add_rule(policy, layer, rule, name, where);
	}
	free(list);
}

static long
parse_shift_days(const char *value, enum layer layer, const char *where)
{
	char *end;
	long days;

	errno = 0;
	days = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || days < 1 ||
	    days > SHIFT_DAYS_MAX)
		die(bad_status(layer), "%s: want a number of days from 1 to %d",
		    where, SHIFT_DAYS_MAX);
	return days;
}

void
policy_word(struct policy *policy, enum layer layer, const char *word,
    const char *value, const char *where)
{
	struct settings *set = &policy->layer[layer];
	enum rule rule = rule_from_word(word);
	int status = bad_status(layer);

	if (strcmp(word, "pass-unknown") == 0) {
		if (value != NULL && *value != '\0')
			die(status, "%s: pass-unknown takes no value", where);
		set->pass_unknown = 1;
		return;
	}
	if (strcmp(word, "key") == 0 || strcmp(word, "key-file") == 0)
		die(status, "%s: keys are not accepted here; set "
		    "PHI_REDACT_KEY or PHI_REDACT_KEY_FILE", where);
	if (value == NULL || *value == '\0')
		die(status, "%s: %s needs a value", where, word);
	if (rule != RULE_NONE)
		add_rules(policy, layer, rule, value, where);
	else if (strcmp(word, "profile") == 0) {
		if (strcmp(value, "safe-harbor") != 0)
			die(status, "%s: unknown profile (the one built in is "
			    "safe-harbor)", where);
		set->profile = 1;
	} else if (strcmp(word, "shift-days") == 0)
		set->shift_days = parse_shift_days(value, layer, where);
	else if (strcmp(word, "subject") == 0) {
		free(set->subject);
		set->subject = xstrdup(value);
	} else if (strcmp(word, "as-of") == 0) {
		struct date_text dt;

		if (date_parse(value, strlen(value), &dt) != 0 ||
		    dt.layout != DATE_ISO || dt.date_len != strlen(value))
			die(status, "%s: want a date as YYYY-MM-DD", where);
		set->as_of_set = 1;
		set->as_of_year = dt.year;
		set->as_of_month = dt.month;
		set->as_of_day = dt.day;
	} else if (strcmp(word, "on-error") == 0) {
		if (strcmp(value, "stop") == 0)
			set->on_error = ON_ERROR_STOP;
		else if (strcmp(value, "mask") == 0)
			set->on_error = ON_ERROR_MASK;
		else
			die(status, "%s: want stop or mask", where);
	} else if (strcmp(word, "mask-text") == 0) {
		free(set->mask_text);
		set->mask_text = xstrdup(value);
	} else
		die(status, "%s: unknown word %s", where, word);
}

void
policy_load(struct policy *policy, const char *path)
{
	struct wordfile wf;
	char *word;

	wordfile_open(&wf, path);
	while ((word = wordfile_next(&wf)) != NULL) {
		char *value = wordfile_split(word);

		policy_word(policy, LAYER_FILE, word, value, wf.where);
	}
	wordfile_close(&wf);
}

void
policy_finish(struct policy *policy)
{
	struct settings *m = &policy->merged;

	memset(m, 0, sizeof *m);
	for (int layer = LAYER_FILE; layer <= LAYER_OPTION; layer++) {
		const struct settings *s = &policy->layer[layer];

		m->profile |= s->profile;
		m->pass_unknown |= s->pass_unknown;
		if (s->shift_days != 0)
			m->shift_days = s->shift_days;
		if (s->subject != NULL)
			m->subject = s->subject;
		if (s->as_of_set) {
			m->as_of_set = 1;
			m->as_of_year = s->as_of_year;
			m->as_of_month = s->as_of_month;
			m->as_of_day = s->as_of_day;
		}
		if (s->on_error != ON_ERROR_UNSET)
			m->on_error = s->on_error;
		if (s->mask_text != NULL)
			m->mask_text = s->mask_text;
	}
}

/* Lower case, every run of other bytes than [a-z0-9] one '_', none at the
 * ends: "Pat_ID1" and "Patient ID" become "pat_id1" and "patient_id". */
static void
normalise(const char *name, char *out, size_t size)
{
	size_t len = 0;
	int gap = 0;

	for (; *name != '\0' && len + 2 < size; name++) {
		unsigned char c = (unsigned char)*name;

		if (isascii(c) && isalnum(c)) {
			if (gap && len > 0)
				out[len++] = '_';
			out[len++] = (char)tolower(c);
			gap = 0;
		} else
			gap = 1;
	}
	out[len] = '\0';
}

enum rule
policy_rule(const struct policy *policy, const char *column,
    const char **origin)
{
	const struct rule_entry *best = NULL;
	char key[64];

	for (size_t i = 0; i < policy->rule_count; i++) {
		const struct rule_entry *e = &policy->rule[i];

		if (strcmp(e->column, column) == 0 &&
		    (best == NULL || e->layer > best->layer))
			best = e;
	}
	if (best != NULL) {
		*origin = best->origin;
		return best->rule;
	}
	if (!policy->merged.profile)
		return RULE_NONE;
	normalise(column, key, sizeof key);
	for (size_t i = 0; i < sizeof safe_harbor / sizeof *safe_harbor; i++)
		if (strcmp(key, safe_harbor[i].name) == 0) {
			*origin = "--profile safe-harbor";
			return safe_harbor[i].rule;
		}
	return RULE_NONE;
}

int
policy_uses(const struct policy *policy, enum rule rule)
{
	for (size_t i = 0; i < policy->rule_count; i++)
		if (policy->rule[i].rule == rule)
			return 1;
	if (policy->merged.profile)
		for (size_t i = 0; i < sizeof safe_harbor / sizeof *safe_harbor;
		    i++)
			if (safe_harbor[i].rule == rule)
				return 1;
	return 0;
}
