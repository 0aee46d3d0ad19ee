/* rule.c: running one BAT rule with its parameters, and what rules read */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bat.h"
#include "err.h"
#include "mem.h"

/* SQL Server's "Transaction was deadlocked": retry, do not fail. */
#define ERR_DEADLOCK 1205

static const char *const kind_names[RULE_KINDS] = {
	[RULE_INCLUSION] = "inclusion",
	[RULE_PARAMETER] = "parameter",
	[RULE_AVAILABLE] = "available",
	[RULE_PRE] = "pre",
	[RULE_ACTION] = "action",
	[RULE_POST] = "post",
};

/* Set by the engine alone: a parameter rule may not return them. */
static const char *const reserved[] = {
	"event_id", "main_action", "db_action", "now", "instance_id", "step",
	"action_id", NULL
};

static const char *const key_names[5] = {
	"patient_key", "order_key", "study_key", "report_key", "action_id"
};

const char *
rule_kind_name(enum rule_kind kind)
{
	return kind_names[kind];
}

int
rule_kind_parse(const char *name)
{
	if (strcmp(name, "available-datetime") == 0)
		return RULE_AVAILABLE;
	for (int i = 0; i < RULE_KINDS; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

int
rule_empty(const char *sql)
{
	return sql == NULL || sql[strspn(sql, " \t\r\n")] == '\0';
}

int
param_reserved(const char *name)
{
	for (const char *const *r = reserved; *r != NULL; r++)
		if (strcasecmp(name, *r) == 0)
			return 1;
	return 0;
}

void
env_free(struct rule_env *env)
{
	for (size_t i = 0; i < env->count; i++) {
		free((char *)env->params[i].name);
		free((char *)env->params[i].value);
	}
	free(env->params);
	memset(env, 0, sizeof *env);
}

void
env_set(struct rule_env *env, const char *name, enum db_type type,
    const char *value)
{
	struct db_param *pm = NULL;

	for (size_t i = 0; i < env->count; i++)
		if (strcasecmp(env->params[i].name, name) == 0)
			pm = &env->params[i];
	if (pm == NULL) {
		if (env->count == env->cap) {
			env->cap = env->cap ? env->cap * 2 : 16;
			env->params = xreallocarray(env->params, env->cap,
			    sizeof *env->params);
		}
		pm = &env->params[env->count++];
		pm->name = xstrdup(name);
	} else {
		free((char *)pm->value);
	}
	pm->type = type;
	pm->value = value != NULL ? xstrdup(value) : NULL;
	pm->len = value != NULL ? strlen(value) : 0;
}

int
env_has(const struct rule_env *env, const char *name)
{
	for (size_t i = 0; i < env->count; i++)
		if (strcasecmp(env->params[i].name, name) == 0)
			return 1;
	return 0;
}

void
params_take(struct rule_env *env, struct rule_env *calculated,
    const struct rule_result *r, int *taken)
{
	for (size_t i = 0; i < r->columns; i++) {
		taken[i] = !env_has(calculated, r->names[i]);
		if (!taken[i])
			continue;
		env_set(env, r->names[i], r->types[i], r->values[i]);
		env_set(calculated, r->names[i], r->types[i], r->values[i]);
	}
}

void
env_from_event(struct rule_env *env, const struct event *ev, const char *now)
{
	char id[32];

	snprintf(id, sizeof id, "%lld", ev->id);
	env_set(env, "event_id", DB_BIGINT, id);
	env_set(env, "main_action", DB_NVARCHAR, ev->main_action);
	env_set(env, "db_action", DB_NVARCHAR, ev->db_action);
	for (int i = 0; i < 5; i++)
		env_set(env, key_names[i], DB_BIGINT, ev->key[i]);
	env_set(env, "now", DB_DATETIME, now);
}

void
result_free(struct rule_result *r)
{
	for (size_t i = 0; i < r->columns; i++) {
		free(r->names[i]);
		free(r->values[i]);
	}
	free(r->names);
	free(r->values);
	free(r->types);
	free(r->message);
	memset(r, 0, sizeof *r);
}

int
parse_step(const char *s, long *v)
{
	char *end;
	long n;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < -2147483647L - 1 ||
	    n > 2147483647L)
		return -1;
	*v = n;
	return 0;
}

int
stamp_parse(const char *text, size_t len, char out[STAMP_LEN + 1])
{
	if (text == NULL || len < 10 || !db_value_valid(DB_DATETIME, text,
	    len))
		return -1;
	/* YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]]: seconds kept, fraction not */
	memcpy(out, "0000-00-00 00:00:00", STAMP_LEN + 1);
	memcpy(out, text, 10);
	if (len >= 16)
		memcpy(out + 11, text + 11, 5);
	if (len >= 19)
		memcpy(out + 17, text + 17, 2);
	return 0;
}

void
stamp_now(char out[STAMP_LEN + 1])
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, STAMP_LEN + 1, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Wall-clock arithmetic: the stamp read as UTC, so no DST jumps. */
void
stamp_add(const char *stamp, long seconds, char out[STAMP_LEN + 1])
{
	struct tm tm = { 0 };
	time_t t;

	sscanf(stamp, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm) + seconds;
	gmtime_r(&t, &tm);
	strftime(out, STAMP_LEN + 1, "%Y-%m-%d %H:%M:%S", &tm);
}

char *
cell_dup(struct db *db, int column)
{
	size_t len;
	const char *cell = db_cell(db, column, &len);

	return cell != NULL ? xstrndup(cell, len) : NULL;
}

int
sql_exec(struct db *db, const char *sql, const struct db_param *params,
    size_t count, long *changed)
{
	int status, rc;
	long n;

	if (changed != NULL)
		*changed = 0;
	if ((status = db_execute(db, sql, params, count)) != 0)
		return status;
	while ((rc = db_next_result(db)) == 1) {
		if (db_column_count(db) > 0) {
			while ((rc = db_next_row(db)) == 1)
				continue;
			if (rc < 0)
				break;
		} else if (changed != NULL && (n = db_result_count(db)) > 0) {
			*changed += n;
		}
	}
	/* db-lib ends an RPC of one UPDATE without a result: its count
	 * is there at the end */
	if (rc == 0 && changed != NULL && *changed == 0 &&
	    (n = db_result_count(db)) > 0)
		*changed = n;
	return db_drain(db);
}

int
sql_batch(struct db *db, const char *sql)
{
	int status;

	if ((status = db_batch(db, sql)) != 0)
		return status;
	return db_drain(db);
}

static void
fail(struct rule_result *r, const char *why)
{
	free(r->message);
	r->message = xstrdup(why);
}

/* Keeps the first row of the first result set, by kind. */
static void
take_row(struct db *db, enum rule_kind kind, int columns,
    struct rule_result *r)
{
	char text[32];
	size_t len;
	const char *cell;

	if (kind == RULE_PARAMETER) {
		r->columns = (size_t)columns;
		r->names = xcalloc(r->columns, sizeof *r->names);
		r->values = xcalloc(r->columns, sizeof *r->values);
		r->types = xcalloc(r->columns, sizeof *r->types);
		for (int i = 0; i < columns; i++) {
			r->names[i] = xstrdup(db_column_name(db, i + 1));
			r->values[i] = cell_dup(db, i + 1);
			/* bound as the column's type, so rules compare as the
			 * server would; text when the value does not read as
			 * one (a float in exponent form) */
			r->types[i] = db_column_type(db, i + 1);
			if (r->values[i] != NULL && !db_value_valid(r->types[i],
			    r->values[i], strlen(r->values[i])))
				r->types[i] = DB_NVARCHAR;
		}
		return;
	}
	cell = db_cell(db, 1, &len);
	if (kind == RULE_AVAILABLE) {
		if (cell == NULL || len == 0)
			r->when[0] = '\0';
		else if (stamp_parse(cell, len, r->when) != 0)
			fail(r, "returned something that is not a datetime");
		return;
	}
	if (cell == NULL) {
		/* NULL, like no row: not included, abort, finish */
		r->number = 0;
		r->empty = 2;
		return;
	}
	if (len >= sizeof text) {
		fail(r, "returned something that is not an integer");
		return;
	}
	memcpy(text, cell, len);
	text[len] = '\0';
	if (parse_step(text, &r->number) != 0)
		fail(r, "returned something that is not an integer");
}

/* The columns of a parameter rule must be usable @names. */
static void
check_names(struct rule_result *r)
{
	for (size_t i = 0; i < r->columns && r->message == NULL; i++) {
		if (!db_name_valid(r->names[i]))
			r->message = xasprintf("column %zu is not named as a "
			    "parameter (letters, digits, _)", i + 1);
		else if (param_reserved(r->names[i]))
			r->message = xasprintf("column %zu: @%s is the "
			    "engine's", i + 1, r->names[i]);
		for (size_t j = 0; j < i && r->message == NULL; j++)
			if (strcasecmp(r->names[i], r->names[j]) == 0)
				r->message = xasprintf("column %zu: @%s "
				    "twice", i + 1, r->names[i]);
	}
}

int
rule_run(struct db *db, enum rule_kind kind, const char *sql,
    const struct rule_env *env, const char *context, struct rule_result *r)
{
	struct timespec t0, t1;
	int sets = 0, columns = 0, rc, number;
	long rows = 0, n;
	const char *text;

	memset(r, 0, sizeof *r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	db_set_context(db, context);
	if (db_execute(db, sql, env->params, env->count) == 0) {
		while ((rc = db_next_result(db)) == 1) {
			if (db_column_count(db) == 0) {
				if (kind == RULE_ACTION &&
				    (n = db_result_count(db)) > 0)
					r->rows += n;
				continue;
			}
			if (++sets == 1)
				columns = db_column_count(db);
			while ((rc = db_next_row(db)) == 1)
				if (sets == 1 && ++rows == 1 &&
				    kind != RULE_ACTION)
					take_row(db, kind, columns, r);
			if (rc < 0)
				break;
		}
		if (rc == 0 && kind == RULE_ACTION && r->rows == 0 &&
		    (n = db_result_count(db)) > 0)
			r->rows = n;
		db_drain(db);
	}
	db_set_context(db, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->duration_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (db_status(db) != 0) {
		text = db_last_error(db, &number);
		free(r->message);
		r->error_number = number;
		r->transient = db_dead(db) || number == ERR_DEADLOCK;
		if (text != NULL)
			r->message = xstrdup(text);
		else if (db_dead(db))
			r->message = xstrdup("lost the connection to the "
			    "server");
		else
			r->message = xstrdup("the statement failed");
		return -1;
	}
	if (kind == RULE_ACTION)
		return 0;
	if (r->message == NULL) {
		if (sets == 0)
			r->message = xstrdup("returned no result set");
		else if (sets > 1)
			r->message = xasprintf("returned %d result sets, not "
			    "one", sets);
		else if (rows == 0 && kind == RULE_PARAMETER)
			r->message = xstrdup("returned no row");
		else if (rows == 0)
			/* SELECT 1 WHERE ...: not included, abort, finish,
			 * or for an available rule now */
			r->empty = 1;
		else if (rows > 1)
			r->message = xasprintf("returned %ld rows, not one",
			    rows);
		else if (kind != RULE_PARAMETER && columns != 1)
			r->message = xasprintf("returned %d columns, not one",
			    columns);
		else if (kind == RULE_PARAMETER)
			check_names(r);
	}
	return r->message == NULL ? 0 : -1;
}

char *
result_text(enum rule_kind kind, const struct rule_result *r)
{
	char *s, *t;

	switch (kind) {
	case RULE_PARAMETER:
		/* the names only: the values may be a patient's */
		s = xstrdup("");
		for (size_t i = 0; i < r->columns; i++) {
			t = xasprintf("%s%s%s", s, i > 0 ? "," : "",
			    r->names[i]);
			free(s);
			s = t;
		}
		return s;
	case RULE_AVAILABLE:
		return xstrdup(r->when[0] != '\0' ? r->when : "now");
	case RULE_INCLUSION:
	case RULE_PRE:
	case RULE_POST:
		if (r->empty)
			return xstrdup(r->empty == 1 ? "no row" : "NULL");
		return xasprintf("%ld", r->number);
	case RULE_ACTION:
		return xasprintf("%ld %s", r->rows, r->rows == 1 ? "row" :
		    "rows");
	default:
		return xasprintf("%ld", r->number);
	}
}

/* A subscription with exclusion_flag N takes the event, none with Y
 * excludes it; <All> matches any action. */
static const char event_sql[] =
    "SELECT e.main_action, e.db_action, e.patient_key, e.order_key, "
    "e.study_key, e.report_key, e.action_id,\n"
    "    CASE WHEN EXISTS (SELECT 1 FROM bat_queue_subscription s\n"
    "        WHERE s.queue_name = @queue AND s.exclusion_flag = 'N'\n"
    "        AND (s.main_action = e.main_action OR s.main_action = '<All>')\n"
    "        AND (s.db_action = e.db_action OR s.db_action = '<All>'))\n"
    "    AND NOT EXISTS (SELECT 1 FROM bat_queue_subscription s\n"
    "        WHERE s.queue_name = @queue AND s.exclusion_flag = 'Y'\n"
    "        AND (s.main_action = e.main_action OR s.main_action = '<All>')\n"
    "        AND (s.db_action = e.db_action OR s.db_action = '<All>'))\n"
    "    THEN 1 ELSE 0 END\n"
    "FROM bat_event e WHERE e.id = @id";

int
event_load(struct db *db, long long id, const char *queue, struct event *ev)
{
	char text[32];
	struct db_param params[2] = {
		{ "id", DB_BIGINT, text, 0 },
		{ "queue", DB_NVARCHAR, queue, strlen(queue) },
	};
	int found = 0, rc;
	char *subscribed;

	memset(ev, 0, sizeof *ev);
	ev->id = id;
	params[0].len = (size_t)snprintf(text, sizeof text, "%lld", id);
	if (db_execute(db, event_sql, params, 2) == 0)
		while ((rc = db_next_result(db)) == 1)
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1) {
				if (found++)
					continue;
				ev->main_action = cell_dup(db, 1);
				ev->db_action = cell_dup(db, 2);
				for (int i = 0; i < 5; i++)
					ev->key[i] = cell_dup(db, 3 + i);
				subscribed = cell_dup(db, 8);
				ev->subscribed = subscribed != NULL &&
				    strcmp(subscribed, "1") == 0;
				free(subscribed);
			}
	if (db_drain(db) != 0)
		return -1;
	return found > 0;
}

void
event_free(struct event *ev)
{
	free(ev->main_action);
	free(ev->db_action);
	for (int i = 0; i < 5; i++)
		free(ev->key[i]);
	memset(ev, 0, sizeof *ev);
}

int
step_load(struct db *db, const char *collection, long step,
    struct step_def *def)
{
	static const char sql[] =
	    "SELECT active, parameter_rule, available_rule, pre_rule, "
	    "action_sql, post_rule\n"
	    "FROM bat_step WHERE collection_code = @collection "
	    "AND step = @step";
	char text[32];
	struct db_param params[2] = {
		{ "collection", DB_NVARCHAR, collection, strlen(collection) },
		{ "step", DB_INT, text, 0 },
	};
	char *active;
	int rc;

	memset(def, 0, sizeof *def);
	params[1].len = (size_t)snprintf(text, sizeof text, "%ld", step);
	if (db_execute(db, sql, params, 2) == 0)
		while ((rc = db_next_result(db)) == 1)
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1) {
				if (def->exists++)
					continue;
				active = cell_dup(db, 1);
				def->active = active != NULL &&
				    strcmp(active, "Y") == 0;
				free(active);
				for (int k = RULE_PARAMETER; k < RULE_KINDS;
				    k++) {
					def->rule[k] = cell_dup(db, k + 1);
					if (rule_empty(def->rule[k])) {
						free(def->rule[k]);
						def->rule[k] = NULL;
					}
				}
			}
	return db_drain(db) != 0 ? -1 : 0;
}

void
step_free(struct step_def *def)
{
	for (int k = 0; k < RULE_KINDS; k++)
		free(def->rule[k]);
	memset(def, 0, sizeof *def);
}

int
step_next(struct db *db, const char *collection, long step, long *next)
{
	static const char sql[] =
	    "SELECT MIN(step) FROM bat_step "
	    "WHERE collection_code = @collection AND step > @step";
	char text[32], *cell = NULL;
	struct db_param params[2] = {
		{ "collection", DB_NVARCHAR, collection, strlen(collection) },
		{ "step", DB_INT, text, 0 },
	};
	int rc, found;

	params[1].len = (size_t)snprintf(text, sizeof text, "%ld", step);
	if (db_execute(db, sql, params, 2) == 0)
		while ((rc = db_next_result(db)) == 1)
			while (db_column_count(db) > 0 &&
			    (rc = db_next_row(db)) == 1)
				if (cell == NULL)
					cell = cell_dup(db, 1);
	if (db_drain(db) != 0) {
		free(cell);
		return -1;
	}
	found = cell != NULL && parse_step(cell, next) == 0;
	free(cell);
	return found;
}
