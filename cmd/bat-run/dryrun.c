/*
 * dryrun.c: bat-run --dry-run runs one event's workflows inside a
 * transaction that is rolled back: every rule as the engine would run
 * it, waits ignored, each rule's answer printed. The instances live in
 * memory only, so an event already processed can be tried again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bat.h"
#include "err.h"
#include "mem.h"

struct dry {
	struct db *db;
	struct csv_writer w;
	const char *collection;
	long step;		/* -1: none yet */
	long max_steps;
	int show_values;	/* --show-values: patient data on stdout */
	struct rule_env calc;	/* the instance's calculated parameters */
};

static void
row(struct dry *d, const char *rule, const char *outcome, const char *result,
    const char *message)
{
	char text[32];

	csv_write_str(&d->w, d->collection != NULL ? d->collection : "");
	snprintf(text, sizeof text, "%ld", d->step);
	csv_write_str(&d->w, d->step >= 0 ? text : "");
	csv_write_str(&d->w, rule);
	csv_write_str(&d->w, outcome);
	csv_write_str(&d->w, result != NULL ? result : "");
	csv_write_str(&d->w, message != NULL ? message : "");
	csv_write_end(&d->w);
}

/* Runs a rule and prints its row; 0, or -1 when it failed. */
static int
dry_rule(struct dry *d, enum rule_kind kind, const char *sql,
    struct rule_env *env, struct rule_result *r)
{
	char context[160], *text;

	snprintf(context, sizeof context, "collection %s step %ld %s rule: ",
	    d->collection, d->step, rule_kind_name(kind));
	if (rule_run(d->db, kind, sql, env, context, r) != 0) {
		row(d, rule_kind_name(kind), "error", NULL, r->message);
		row(d, "engine", "failed", NULL, NULL);
		return -1;
	}
	if (kind == RULE_PARAMETER) {
		/* one row each: name and type; the value (patient data)
		 * only when asked for; a name calculated before keeps its
		 * first value, as in a real pass */
		int *taken = xcalloc(r->columns > 0 ? r->columns : 1,
		    sizeof *taken);

		params_take(env, &d->calc, r, taken);
		for (size_t i = 0; i < r->columns; i++) {
			if (d->show_values)
				text = xasprintf("%s %s=%s", r->names[i],
				    db_type_name(r->types[i]), r->values[i] !=
				    NULL ? r->values[i] : "NULL");
			else
				text = xasprintf("%s %s", r->names[i],
				    db_type_name(r->types[i]));
			row(d, "parameter", "ok", text, taken[i] ? NULL :
			    "calculated before: keeps its first value");
			free(text);
		}
		free(taken);
		return 0;
	}
	text = result_text(kind, r);
	row(d, rule_kind_name(kind), "ok", text, kind == RULE_AVAILABLE ?
	    "not waited for" : NULL);
	free(text);
	return 0;
}

/* One collection's instance, from its first step to its end. */
static int
dry_instance(struct dry *d, struct rule_env *env, long step)
{
	struct rule_result r = { 0 };
	struct step_def def = { 0 };
	char text[32], *why = NULL;
	long steps = 0, next;
	int failed = 0, rc;

	for (d->step = step;; d->step = next, steps++) {
		snprintf(text, sizeof text, "%ld", d->step);
		env_set(env, "step", DB_INT, text);
		step_free(&def);
		result_free(&r);
		if (step_load(d->db, d->collection, d->step, &def) != 0)
			return -1;
		if (!def.exists || !def.active || steps >= d->max_steps) {
			free(why);
			why = !def.exists ? xstrdup("the collection has no "
			    "such step") : !def.active ? xstrdup("the step is "
			    "inactive") : xasprintf("step budget of %ld steps "
			    "spent", d->max_steps);
			row(d, "engine", def.exists && def.active ? "failed" :
			    !def.exists ? "failed" : "disabled", NULL, why);
			failed = !def.exists || def.active;
			break;
		}
		if (def.rule[RULE_PARAMETER] != NULL) {
			if (dry_rule(d, RULE_PARAMETER,
			    def.rule[RULE_PARAMETER], env, &r) != 0) {
				failed = 1;
				break;
			}
			result_free(&r);
		}
		if (def.rule[RULE_AVAILABLE] != NULL &&
		    dry_rule(d, RULE_AVAILABLE, def.rule[RULE_AVAILABLE], env,
		    &r) != 0) {
			failed = 1;
			break;
		}
		if (def.rule[RULE_PRE] != NULL) {
			if (dry_rule(d, RULE_PRE, def.rule[RULE_PRE], env,
			    &r) != 0) {
				failed = 1;
				break;
			}
			if (r.number <= 0) {
				/* only a positive number runs the action */
				row(d, "engine", "aborted", NULL, NULL);
				break;
			}
		}
		if (dry_rule(d, RULE_ACTION, def.rule[RULE_ACTION] != NULL ?
		    def.rule[RULE_ACTION] : "", env, &r) != 0) {
			failed = 1;
			break;
		}
		if (def.rule[RULE_POST] != NULL) {
			if (dry_rule(d, RULE_POST, def.rule[RULE_POST], env,
			    &r) != 0) {
				failed = 1;
				break;
			}
			next = r.number;
		} else if ((rc = step_next(d->db, d->collection, d->step,
		    &next)) < 0) {
			return -1;
		} else if (rc == 0) {
			next = -1;
		}
		if (next <= 0) {
			row(d, "engine", "done", NULL, NULL);
			break;
		}
		snprintf(text, sizeof text, "step %ld", next);
		row(d, "engine", "next", text, NULL);
	}
	free(why);
	step_free(&def);
	result_free(&r);
	return failed;
}

int
dry_run(struct db *db, const char *queue, long long event_id,
    const char *now, long max_steps, int show_values)
{
	static const char sql[] =
	    "SELECT code, inclusion_rule FROM bat_collection "
	    "WHERE active = 'Y' ORDER BY code";
	struct dry d = { .db = db, .step = -1, .max_steps = max_steps,
	    .show_values = show_values };
	struct rule_env env = { 0 };
	struct rule_result r = { 0 };
	struct event ev = { 0 };
	char **codes = NULL, **rules = NULL, text[32];
	size_t count = 0, cap = 0;
	int status, rc, failures = 0;

	csv_writer_init(&d.w, stdout);
	if ((status = sql_batch(db, "BEGIN TRANSACTION")) != 0)
		return status;
	if ((rc = event_load(db, event_id, queue, &ev)) <= 0) {
		if (rc == 0)
			warn("event %lld: no such event", event_id);
		status = rc == 0 ? EX_NOINPUT : db_status(db);
		goto out;
	}
	fputs("collection,step,rule,outcome,result,message\n", stdout);
	if (!ev.subscribed) {
		row(&d, "engine", "unsubscribed", NULL, NULL);
		goto out;
	}
	if (db_execute(db, sql, NULL, 0) == 0)
		while ((rc = db_next_result(db)) == 1)
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1) {
				if (count == cap) {
					cap = cap ? cap * 2 : 8;
					codes = xreallocarray(codes, cap,
					    sizeof *codes);
					rules = xreallocarray(rules, cap,
					    sizeof *rules);
				}
				codes[count] = cell_dup(db, 1);
				rules[count++] = cell_dup(db, 2);
			}
	if ((status = db_drain(db)) != 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		env_free(&env);
		env_from_event(&env, &ev, now);
		env_set(&env, "instance_id", DB_BIGINT, NULL);
		env_set(&env, "step", DB_INT, NULL);
		env_free(&d.calc);
		d.collection = codes[i];
		d.step = -1;
		result_free(&r);
		if (dry_rule(&d, RULE_INCLUSION, rules[i] != NULL ? rules[i] :
		    "", &env, &r) != 0) {
			failures++;
			continue;
		}
		/* no row, NULL, 0 or negative: not included */
		if (r.number <= 0)
			continue;
		/* as the log has it: the step it starts at */
		snprintf(text, sizeof text, "step %ld", r.number);
		d.step = r.number;
		row(&d, "engine", "started", text, NULL);
		if ((rc = dry_instance(&d, &env, r.number)) < 0) {
			status = db_status(db) != 0 ? db_status(db) :
			    EX_SOFTWARE;
			goto out;
		}
		failures += rc;
	}
	if (failures > 0) {
		warn("event %lld: %d %s failed", event_id, failures,
		    failures == 1 ? "workflow" : "workflows");
		status = EX_DATAERR;
	}
out:
	if (!db_dead(db))
		sql_batch(db, "ROLLBACK TRANSACTION");
	for (size_t i = 0; i < count; i++) {
		free(codes[i]);
		free(rules[i]);
	}
	free(codes);
	free(rules);
	result_free(&r);
	env_free(&env);
	env_free(&d.calc);
	event_free(&ev);
	return status;
}
