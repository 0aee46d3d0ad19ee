/*
 * check.c: bat-run --check compiles every active rule without running
 * it. Under SET PARSEONLY ON, which SQL Server, Babelfish and tdsd all
 * honour, the server parses each rule and runs nothing: SET FMTONLY ON
 * is not enough (Babelfish runs all but SELECT *), and a rollback is no
 * safety net (a failed conversion ends the transaction on Babelfish and
 * what follows commits). A probe after every rule proves PARSEONLY is
 * still on, and a rule that names PARSEONLY is never sent.
 *
 * The rules go through sp_executesql as they would run, with the
 * engine's parameters and the ones the collection's parameter rules
 * name (AS alias) declared; a rule using any other @name is a problem
 * found here, on every engine. PARSEONLY checks syntax only, on every
 * engine: a missing table or column is found when the rule runs (SQL
 * Server's deferred name resolution: an earlier statement may make it)
 * and fails only its own instance. sp_describe_first_result_set is not
 * used: it compiles only what makes the first result set, and refuses
 * temporary tables and EXEC, which rules may rightly use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
		{ "report_key", DB_BIGINT }, { "action_id", DB_BIGINT },
		{ "now", DB_DATETIME }, { "instance_id", DB_BIGINT },
		{ "step", DB_INT },
	};

	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		env_set(env, builtin[i].name, builtin[i].type, NULL);
}

static int
word_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* Skips a string, quoted name or comment at p; where it ends, or p. */
static const char *
skip_quoted(const char *p)
{
	char close;

	if (p[0] == '-' && p[1] == '-')
		return p + strcspn(p, "\n");
	if (p[0] == '/' && p[1] == '*') {
		const char *end = strstr(p + 2, "*/");

		return end != NULL ? end + 2 : p + strlen(p);
	}
	if (*p != '\'' && *p != '"' && *p != '[')
		return p;
	close = *p == '[' ? ']' : *p;
	for (p++; *p != '\0'; p++)
		if (*p == close) {
			if (p[1] != close)
				return p + 1;
			p++;
		}
	return p;
}

static int
word_is(const char *p, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

/*
 * Walks a rule's words outside strings and comments. aliases: the names
 * after AS go into env (a parameter rule's columns). Otherwise the first
 * @name neither in env nor DECLAREd by the rule is copied to unknown;
 * returns 1 then.
 */
static int
scan_names(const char *sql, struct rule_env *env, int aliases,
    char *unknown, size_t size)
{
	struct rule_env local = { 0 };
	const char *p = sql, *q;
	int after_as = 0, declaring = 0, depth = 0, found = 0;
	size_t len;
	char name[129];

	while (*p != '\0' && !found) {
		if ((q = skip_quoted(p)) != p) {
			if (after_as && *p == '[') {
				len = (size_t)(q - p) - 2;
				snprintf(name, sizeof name, "%.*s", (int)len,
				    p + 1);
				if (db_name_valid(name) && !env_has(env, name))
					env_set(env, name, DB_NVARCHAR, NULL);
			}
			after_as = 0;
			p = q;
			continue;
		}
		if (*p == '(' || *p == ')') {
			depth += *p == '(' ? 1 : -1;
			p++;
			continue;
		}
		if (*p == ';') {
			declaring = 0;
			p++;
			continue;
		}
		if (*p == '@' && p[1] == '@') {
			for (p += 2; word_char(*p); p++)
				continue;
			continue;
		}
		if (*p == '@' || word_char(*p)) {
			int var = *p == '@';

			for (q = p + var; word_char(*q); q++)
				continue;
			len = (size_t)(q - p) - (size_t)var;
			snprintf(name, sizeof name, "%.*s",
			    (int)(len < 128 ? len : 128), p + var);
			if (var && declaring)
				env_set(&local, name, DB_NVARCHAR, NULL);
			else if (var && !aliases && !env_has(env, name) &&
			    !env_has(&local, name)) {
				snprintf(unknown, size, "%s", name);
				found = 1;
			} else if (!var && aliases && after_as &&
			    !env_has(env, name) && !param_reserved(name))
				env_set(env, name, DB_NVARCHAR, NULL);
			after_as = !var && word_is(p, len, "AS");
			if (!var && word_is(p, len, "DECLARE"))
				declaring = 1;
			else if (!var && depth == 0 && declaring &&
			    !after_as && strchr(",", p[-1]) == NULL &&
			    (word_is(p, len, "SELECT") ||
			    word_is(p, len, "SET") || word_is(p, len, "IF") ||
			    word_is(p, len, "INSERT") ||
			    word_is(p, len, "UPDATE") ||
			    word_is(p, len, "DELETE") ||
			    word_is(p, len, "EXEC") ||
			    word_is(p, len, "WHILE") ||
			    word_is(p, len, "RETURN")))
				declaring = 0;
			p = q;
			continue;
		}
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			after_as = 0;
		p++;
	}
	env_free(&local);
	return found;
}

/* 1 when text names word anywhere, case-insensitive. */
static int
mentions(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = text; *p != '\0'; p++)
		if (strncasecmp(p, word, len) == 0)
			return 1;
	return 0;
}

/*
 * Under PARSEONLY nothing runs, so a SELECT returns no row: 1 while
 * that holds, 0 when PARSEONLY is off, -1 when the probe failed.
 */
static int
parseonly_holds(struct db *db)
{
	long rows = 0;
	int rc;

	if (db_batch(db, "SELECT 1 AS parseonly_probe") != 0)
		return -1;
	while ((rc = db_next_result(db)) == 1)
		while (db_column_count(db) > 0 && db_next_row(db) == 1)
			rows++;
	if (db_drain(db) != 0)
		return -1;
	return rows == 0;
}

/*
 * "DECLARE @a bigint, ...; " for the parameters, no values: what a rule
 * is parsed behind as a batch.
 */
static char *
declarations(const struct rule_env *env)
{
	char *s = xstrdup("DECLARE "), *t;

	for (size_t i = 0; i < env->count; i++) {
		const struct db_param *pm = &env->params[i];

		t = xasprintf("%s%s@%s %s", s, i > 0 ? ", " : "", pm->name,
		    pm->type == DB_NVARCHAR ? "nvarchar(max)" :
		    pm->type == DB_DECIMAL ? "decimal(38,10)" :
		    db_type_name(pm->type));
		free(s);
		s = t;
	}
	t = xasprintf("%s; ", s);
	free(s);
	return t;
}

/*
 * 1 for a T-SQL engine (SQL Server, Babelfish), where a rule is checked
 * as a batch behind its declarations: under PARSEONLY, Babelfish does
 * not parse the statement an sp_executesql call carries. 0 for tdsd,
 * which parses that statement and has no DECLARE. Told apart by a statement both run without an error: T-SQL
 * joins the strings, SQLite adds them as numbers. Run before PARSEONLY.
 */
static int
tsql_engine(struct db *db)
{
	char *cell = NULL;
	int tsql, rc;

	if (db_batch(db, "SELECT 'a' + 'b' AS dialect_probe") == 0)
		while ((rc = db_next_result(db)) == 1)
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1)
				if (cell == NULL)
					cell = cell_dup(db, 1);
	tsql = cell != NULL && strcmp(cell, "ab") == 0;
	free(cell);
	return db_drain(db) == 0 ? tsql : -1;
}

/* Compiles one rule; 0, or -1 with *number and *message set. */
static int
compile(struct db *db, const struct rule_ref *r, struct rule_env *env,
    int batch, int *number, char **message)
{
	char context[160], *sql;
	const char *text;

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
	if (batch) {
		/* one line: the rule's line numbers stay its own */
		char *decl = declarations(env);

		sql = xasprintf("%s%s", decl, r->sql);
		free(decl);
		if (db_batch(db, sql) == 0)
			db_drain(db);
		free(sql);
	} else if (db_execute(db, r->sql, env->params, env->count) == 0) {
		db_drain(db);
	}
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
	char *message, unknown[130], why[400];
	int number, status, holds, batch;

	(void)queue;
	if ((status = load_rules(db, &l)) != 0)
		goto out;
	if ((batch = tsql_engine(db)) < 0) {
		status = db_status(db);
		goto out;
	}
	if ((status = sql_batch(db, "SET PARSEONLY ON")) != 0)
		goto out;
	if ((holds = parseonly_holds(db)) != 1) {
		status = holds < 0 ? db_status(db) : EX_UNAVAILABLE;
		if (holds == 0)
			warn("the server runs statements under SET PARSEONLY "
			    "ON: nothing checked");
		goto out;
	}
	csv_writer_init(&w, stdout);
	fputs("collection,step,rule,error_number,message\n", stdout);
	for (size_t i = 0; i < l.count; i = first) {
		/* one collection: the names its parameter rules calculate */
		env_free(&env);
		env_builtin(&env);
		for (first = i; first < l.count && strcmp(l.rules[first].
		    collection, l.rules[i].collection) == 0; first++)
			if (l.rules[first].kind == RULE_PARAMETER &&
			    !rule_empty(l.rules[first].sql))
				scan_names(l.rules[first].sql, &env, 1, NULL,
				    0);
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
			if (mentions(r->sql, "PARSEONLY")) {
				problem(&w, r, 0, "names PARSEONLY, which no "
				    "rule may set: not sent to the server");
				problems++;
				continue;
			}
			if (scan_names(r->sql, &env, 0, unknown,
			    sizeof unknown)) {
				snprintf(why, sizeof why, "@%s is not a "
				    "parameter: no parameter rule of the "
				    "collection calculates it (AS %s)",
				    unknown, unknown);
				problem(&w, r, 0, why);
				problems++;
				continue;
			}
			if (compile(db, r, &env, batch, &number, &message) !=
			    0) {
				problem(&w, r, number, message);
				problems++;
			}
			free(message);
			if (db_dead(db)) {
				status = EX_TEMPFAIL;
				goto out;
			}
			if ((holds = parseonly_holds(db)) != 1) {
				warn("collection %s: PARSEONLY was turned off: "
				    "--check stopped", r->collection);
				status = holds < 0 ? db_status(db) :
				    EX_SOFTWARE;
				goto out;
			}
		}
	}
	if ((status = sql_batch(db, "SET PARSEONLY OFF")) != 0)
		goto out;
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
