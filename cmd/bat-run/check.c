/*
 * check.c: bat-run --check compiles every active rule without running
 * it. The rules are sent as they would run, through sp_executesql with
 * every parameter declared, under SET FMTONLY ON: SQL Server compiles
 * and returns only metadata, tdsd prepares the statement and does not
 * step a command. All of it inside a transaction that is rolled back,
 * so a server that ignored FMTONLY still keeps nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bat.h"
#include "err.h"
#include "mem.h"

struct rule_ref {
	char *collection;
	long step;		/* -1 for the inclusion rule */
	enum rule_kind kind;
	char *sql;
};

struct rule_list {
	struct rule_ref *rules;
	size_t count;
	size_t cap;
};

static void
list_add(struct rule_list *l, const char *collection, long step,
    enum rule_kind kind, char *sql)
{
	struct rule_ref *r;

	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->rules = xreallocarray(l->rules, l->cap, sizeof *l->rules);
	}
	r = &l->rules[l->count++];
	r->collection = xstrdup(collection);
	r->step = step;
	r->kind = kind;
	r->sql = sql;
}

/* Every rule of the active collections and steps, in order. */
static int
load_rules(struct db *db, struct rule_list *l)
{
	static const char sql[] =
	    "SELECT c.code, s.step, c.inclusion_rule, s.parameter_rule, "
	    "s.available_rule, s.pre_rule, s.action_sql, s.post_rule\n"
	    "FROM bat_collection c LEFT JOIN bat_step s "
	    "ON s.collection_code = c.code AND s.active = 'Y'\n"
	    "WHERE c.active = 'Y' ORDER BY c.code, s.step";
	char *code, *last = NULL, *step_text;
	long step;
	int rc;

	if (db_execute(db, sql, NULL, 0) == 0)
		while ((rc = db_next_result(db)) == 1)
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1) {
				code = cell_dup(db, 1);
				if (code == NULL)
					continue;
				if (last == NULL || strcmp(last, code) != 0)
					list_add(l, code, -1, RULE_INCLUSION,
					    cell_dup(db, 3));
				free(last);
				last = code;
				step_text = cell_dup(db, 2);
				if (step_text == NULL ||
				    parse_step(step_text, &step) != 0) {
					free(step_text);
					continue;
				}
				free(step_text);
				for (int k = RULE_PARAMETER; k < RULE_KINDS;
				    k++)
					list_add(l, code, step, k,
					    cell_dup(db, 3 + k));
			}
	free(last);
	return db_drain(db);
}

/* The engine's parameters, typed, with no value. */
static void
env_builtin(struct rule_env *env)
{
	static const struct {
		const char *name;
		enum db_type type;
	} builtin[] = {
		{ "event_id", DB_BIGINT }, { "main_action", DB_NVARCHAR },
		{ "db_action", DB_NVARCHAR }, { "patient_key", DB_BIGINT },
		{ "order_key", DB_BIGINT }, { "study_key", DB_BIGINT },
		{ "now", DB_DATETIME }, { "instance_id", DB_BIGINT },
		{ "step", DB_INT },
	};

	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		env_set(env, builtin[i].name, builtin[i].type, NULL);
}

/* Compiles one rule; 0, or -1 with *number and *message set. */
static int
compile(struct db *db, const struct rule_ref *r, struct rule_env *env,
    int collect, int *number, char **message)
{
	char context[160];
	const char *text;
	int rc;

	*number = 0;
	*message = NULL;
	if (r->step < 0)
		snprintf(context, sizeof context, "collection %s %s rule: ",
		    r->collection, rule_kind_name(r->kind));
	else
		snprintf(context, sizeof context, "collection %s step %ld "
		    "%s rule: ", r->collection, r->step,
		    rule_kind_name(r->kind));
	db_set_context(db, context);
	if (db_execute(db, r->sql, env->params, env->count) == 0)
		while ((rc = db_next_result(db)) == 1) {
			/* a parameter rule's columns are later rules' names */
			for (int i = 1; collect && i <= db_column_count(db);
			    i++) {
				const char *name = db_column_name(db, i);

				if (db_name_valid(name) &&
				    !param_reserved(name) &&
				    !env_has(env, name))
					env_set(env, name, DB_NVARCHAR, NULL);
			}
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1)
				continue;
		}
	db_drain(db);
	db_set_context(db, NULL);
	if (db_status(db) == 0)
		return 0;
	text = db_last_error(db, number);
	*message = xstrdup(text != NULL ? text : db_dead(db) ?
	    "lost the connection to the server" : "the statement failed");
	return -1;
}

static void
problem(struct csv_writer *w, const struct rule_ref *r, int number,
    const char *message)
{
	char text[32];

	csv_write_str(w, r->collection);
	snprintf(text, sizeof text, "%ld", r->step);
	csv_write_str(w, r->step >= 0 ? text : "");
	csv_write_str(w, rule_kind_name(r->kind));
	snprintf(text, sizeof text, "%d", number);
	csv_write_str(w, number != 0 ? text : "");
	csv_write_str(w, message);
	csv_write_end(w);
}

int
check_rules(struct db *db, const char *queue)
{
	struct rule_list l = { 0 };
	struct csv_writer w;
	struct rule_env env = { 0 };
	size_t problems = 0, checked = 0, first = 0;
	char *message;
	int number, status;

	(void)queue;
	if ((status = load_rules(db, &l)) != 0)
		goto out;
	csv_writer_init(&w, stdout);
	fputs("collection,step,rule,error_number,message\n", stdout);
	if ((status = sql_batch(db, "BEGIN TRANSACTION")) != 0 ||
	    (status = sql_batch(db, "SET FMTONLY ON")) != 0)
		goto out;
	for (size_t i = 0; i < l.count; i = first) {
		/* one collection: its parameter rules first, for the names */
		env_free(&env);
		env_builtin(&env);
		for (first = i; first < l.count && strcmp(l.rules[first].
		    collection, l.rules[i].collection) == 0; first++)
			if (l.rules[first].kind == RULE_PARAMETER &&
			    !rule_empty(l.rules[first].sql)) {
				/* its errors are reported in the loop below */
				compile(db, &l.rules[first], &env, 1, &number,
				    &message);
				free(message);
			}
		for (size_t j = i; j < first; j++) {
			const struct rule_ref *r = &l.rules[j];

			if (rule_empty(r->sql)) {
				if (r->kind == RULE_INCLUSION ||
				    r->kind == RULE_ACTION) {
					problem(&w, r, 0, "empty, and it is "
					    "not optional");
					problems++;
				}
				continue;
			}
			checked++;
			if (compile(db, r, &env, 0, &number, &message) != 0) {
				problem(&w, r, number, message);
				problems++;
			}
			free(message);
			if (db_dead(db)) {
				status = EX_TEMPFAIL;
				goto out;
			}
		}
	}
	sql_batch(db, "SET FMTONLY OFF");
	sql_batch(db, "ROLLBACK TRANSACTION");
	if (problems > 0) {
		warn("%zu %s in %zu rules checked", problems,
		    problems == 1 ? "problem" : "problems", checked);
		status = EX_DATAERR;
	}
out:
	env_free(&env);
	for (size_t i = 0; i < l.count; i++) {
		free(l.rules[i].collection);
		free(l.rules[i].sql);
	}
	free(l.rules);
	return status;
}
