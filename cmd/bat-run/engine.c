/*
 * engine.c: one pass of the BAT engine over its tables.
 *
 * Every claim is a compare-and-set UPDATE whose row count says who won,
 * so two engines never take the same event or step. A step runs in one
 * transaction that first locks its instance row, then runs the pre rule,
 * the action and the post rule and moves the instance on: a crash rolls
 * all of it back, and the claim's lease running out hands the step to
 * the next pass, which runs it once more. The log rows of a transition
 * are written in the transaction that makes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bat.h"
#include "err.h"
#include "mem.h"

#define MAX_PARAMS 16

struct log_row {
	long long event_id;	/* 0: none */
	long long instance_id;	/* 0: none */
	const char *collection;
	long step;
	int has_step;
	const char *rule;	/* a rule kind, or "engine" */
	const char *outcome;
	const char *result;
	int error_number;
	const char *message;
	long duration_ms;
};

/* Parameters of the engine's own statements. */
struct plist {
	struct db_param p[MAX_PARAMS];
	char text[MAX_PARAMS][32];
	size_t n;
};

/* An instance as a step sees it. */
struct inst {
	long long id;
	long long event_id;
	char *collection;
	long step;
	long steps_run;
	long attempts;
	int collection_active;
	struct event ev;
	struct step_def def;
	struct rule_env env;
	struct rule_env calc;	/* what its parameter rules calculated */
	char context[96];
};

/* Which state an instance must still be in for an update to apply. */
enum guard {
	GUARD_PENDING,		/* waiting to be initialised */
	GUARD_INIT,		/* waiting to be initialised at this step */
	GUARD_OWNED,		/* claimed by this engine, this attempt */
	GUARD_IDLE		/* nobody is running it */
};

static const char *const guard_sql[] = {
	[GUARD_PENDING] = "status = 'init'",
	[GUARD_INIT] = "status = 'init' AND step = @step",
	[GUARD_OWNED] = "status = 'running' AND owner = @me "
	    "AND attempts = @attempts",
	[GUARD_IDLE] = "(status IN ('init', 'waiting') OR "
	    "(status = 'running' AND lease_until < @now))",
};

static void
p_text(struct plist *pl, const char *name, const char *value)
{
	struct db_param *pm = &pl->p[pl->n++];

	pm->name = name;
	pm->type = DB_NVARCHAR;
	pm->value = value;
	pm->len = value != NULL ? strlen(value) : 0;
}

static void
p_typed(struct plist *pl, const char *name, enum db_type type,
    const char *value)
{
	p_text(pl, name, value);
	pl->p[pl->n - 1].type = type;
}

static void
p_number(struct plist *pl, const char *name, enum db_type type, long long v)
{
	snprintf(pl->text[pl->n], sizeof pl->text[0], "%lld", v);
	p_typed(pl, name, type, pl->text[pl->n]);
}

/* The parameters every guard may name. */
static void
p_guard(struct plist *pl, struct engine *e, const struct inst *in)
{
	p_number(pl, "id", DB_BIGINT, in->id);
	p_number(pl, "step", DB_INT, in->step);
	p_text(pl, "me", e->me);
	p_number(pl, "attempts", DB_INT, in->attempts);
	p_typed(pl, "now", DB_DATETIME, e->now);
}

/* An engine statement failed: the pass ends with a status. */
static int
broken(struct engine *e)
{
	int number;

	db_last_error(e->db, &number);
	if (e->status == 0)
		e->status = db_dead(e->db) || number == 1205 ? EX_TEMPFAIL :
		    db_status(e->db) != 0 ? db_status(e->db) : EX_SOFTWARE;
	return -1;
}

static int
run(struct engine *e, const char *sql, struct plist *pl, long *changed)
{
	if (sql_exec(e->db, sql, pl->p, pl->n, changed) != 0)
		return broken(e);
	return 0;
}

static int
tx_begin(struct engine *e)
{
	return sql_batch(e->db, "BEGIN TRANSACTION") != 0 ? broken(e) : 0;
}

static void
tx_rollback(struct engine *e)
{
	if (!db_dead(e->db))
		sql_batch(e->db, "ROLLBACK TRANSACTION");
}

/* Fetches one integer (a count, an id); 1, 0 when no row or NULL, -1. */
static int
fetch_number(struct engine *e, const char *sql, struct plist *pl,
    long long *v)
{
	char *cell = NULL, *end;
	int rc, found = 0;

	if (db_execute(e->db, sql, pl->p, pl->n) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1)
				if (cell == NULL)
					cell = cell_dup(e->db, 1);
	if (db_drain(e->db) != 0) {
		free(cell);
		return broken(e);
	}
	if (cell != NULL) {
		*v = strtoll(cell, &end, 10);
		found = *end == '\0';
	}
	free(cell);
	return found;
}

/* Reads every row's first column as an id. */
static long long *
fetch_ids(struct engine *e, const char *sql, struct plist *pl, size_t *count)
{
	long long *ids = NULL;
	size_t cap = 0;
	char *cell;
	int rc;

	*count = 0;
	if (db_execute(e->db, sql, pl->p, pl->n) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1) {
				if ((cell = cell_dup(e->db, 1)) == NULL)
					continue;
				if (*count == cap) {
					cap = cap ? cap * 2 : 64;
					ids = xreallocarray(ids, cap,
					    sizeof *ids);
				}
				ids[(*count)++] = strtoll(cell, NULL, 10);
				free(cell);
			}
	if (db_drain(e->db) != 0) {
		free(ids);
		*count = 0;
		broken(e);
		return NULL;
	}
	return ids;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
log_add(struct engine *e, const struct log_row *row)
{
	struct log_row *l;

	if (e->log_count == e->log_cap) {
		e->log_cap = e->log_cap ? e->log_cap * 2 : 16;
		e->logs = xreallocarray(e->logs, e->log_cap, sizeof *e->logs);
	}
	l = &e->logs[e->log_count++];
	*l = *row;
	l->collection = dup_or_null(row->collection);
	l->result = dup_or_null(row->result);
	l->message = dup_or_null(row->message);
}

/* A rule's row of the log, from what it returned. */
static void
log_rule(struct engine *e, const struct inst *in, enum rule_kind kind,
    const struct rule_result *r, int failed)
{
	char *result = failed ? NULL : result_text(kind, r);

	log_add(e, &(struct log_row){
	    .event_id = in->event_id, .instance_id = in->id,
	    .collection = in->collection, .step = in->step,
	    .has_step = kind != RULE_INCLUSION, .rule = rule_kind_name(kind),
	    .outcome = failed ? "error" : "ok", .result = result,
	    .error_number = failed ? r->error_number : 0,
	    .message = failed ? r->message : NULL,
	    .duration_ms = r->duration_ms });
	free(result);
}

/* An instance's move to a state, as a row of the log. */
static void
log_state(struct engine *e, const struct inst *in, const char *outcome,
    const char *result, const char *message)
{
	log_add(e, &(struct log_row){
	    .event_id = in->event_id, .instance_id = in->id,
	    .collection = in->collection, .step = in->step,
	    .has_step = in->step >= 0 || in->def.exists, .rule = "engine",
	    .outcome = outcome, .result = result, .message = message });
}

static void
log_clear(struct engine *e)
{
	for (size_t i = 0; i < e->log_count; i++) {
		free((char *)e->logs[i].collection);
		free((char *)e->logs[i].result);
		free((char *)e->logs[i].message);
	}
	e->log_count = 0;
}

/* Writes the pending rows into bat_log, in the caller's transaction. */
static int
log_write(struct engine *e)
{
	static const char sql[] =
	    "INSERT INTO bat_log (logged_at, engine, event_id, instance_id, "
	    "collection_code, step, rule_kind, outcome, result, error_number, "
	    "message, duration_ms)\n"
	    "VALUES (@now, @me, @event_id, @instance_id, @collection, @step, "
	    "@rule, @outcome, @result, @error_number, @message, @duration_ms)";

	for (size_t i = 0; i < e->log_count; i++) {
		const struct log_row *l = &e->logs[i];
		struct plist pl = { 0 };

		p_typed(&pl, "now", DB_DATETIME, e->now);
		p_text(&pl, "me", e->me);
		if (l->event_id > 0)
			p_number(&pl, "event_id", DB_BIGINT, l->event_id);
		else
			p_typed(&pl, "event_id", DB_BIGINT, NULL);
		if (l->instance_id > 0)
			p_number(&pl, "instance_id", DB_BIGINT,
			    l->instance_id);
		else
			p_typed(&pl, "instance_id", DB_BIGINT, NULL);
		p_text(&pl, "collection", l->collection);
		if (l->has_step)
			p_number(&pl, "step", DB_INT, l->step);
		else
			p_typed(&pl, "step", DB_INT, NULL);
		p_text(&pl, "rule", l->rule);
		p_text(&pl, "outcome", l->outcome);
		p_text(&pl, "result", l->result);
		if (l->error_number != 0)
			p_number(&pl, "error_number", DB_INT, l->error_number);
		else
			p_typed(&pl, "error_number", DB_INT, NULL);
		p_text(&pl, "message", l->message);
		p_number(&pl, "duration_ms", DB_INT, l->duration_ms);
		if (run(e, sql, &pl, NULL) != 0)
			return -1;
	}
	return 0;
}

static void
write_number(struct csv_writer *w, int present, long long v)
{
	char text[32];

	if (present) {
		snprintf(text, sizeof text, "%lld", v);
		csv_write_str(w, text);
	} else {
		csv_write_str(w, "");
	}
}

/* After COMMIT: the same rows on stdout. */
static void
log_print(struct engine *e)
{
	struct csv_writer *w = &e->out;

	if (e->log_quiet) {
		log_clear(e);
		return;
	}
	if (!e->header_written && e->log_count > 0) {
		fputs("logged_at,event_id,instance_id,collection,step,rule,"
		    "outcome,result,error_number,message,duration_ms\n",
		    stdout);
		e->header_written = 1;
	}
	for (size_t i = 0; i < e->log_count; i++) {
		const struct log_row *l = &e->logs[i];

		csv_write_str(w, e->now);
		write_number(w, l->event_id > 0, l->event_id);
		write_number(w, l->instance_id > 0, l->instance_id);
		csv_write_str(w, l->collection != NULL ? l->collection : "");
		write_number(w, l->has_step, l->step);
		csv_write_str(w, l->rule);
		csv_write_str(w, l->outcome);
		csv_write_str(w, l->result != NULL ? l->result : "");
		write_number(w, l->error_number != 0, l->error_number);
		csv_write_str(w, l->message != NULL ? l->message : "");
		write_number(w, 1, l->duration_ms);
		csv_write_end(w);
	}
	fflush(stdout);
	log_clear(e);
}

/* Writes the log rows and commits; 0, or -1 with nothing kept. */
static int
tx_commit(struct engine *e)
{
	if (log_write(e) != 0) {
		tx_rollback(e);
		log_clear(e);
		return -1;
	}
	if (sql_batch(e->db, "COMMIT TRANSACTION") != 0) {
		if (db_dead(e->db))
			warn("connection lost at COMMIT: the transition is "
			    "redone after the lease if it did not commit");
		log_clear(e);
		return broken(e);
	}
	log_print(e);
	return 0;
}

static void
now_refresh(struct engine *e)
{
	if (e->fixed_now != NULL)
		snprintf(e->now, sizeof e->now, "%s", e->fixed_now);
	else
		stamp_now(e->now);
}

static void
inst_free(struct inst *in)
{
	free(in->collection);
	event_free(&in->ev);
	step_free(&in->def);
	env_free(&in->env);
	env_free(&in->calc);
	memset(in, 0, sizeof *in);
}

/* Loads an instance, its event, step and parameters; 1, 0 gone, -1. */
static int
inst_load(struct engine *e, struct inst *in)
{
	static const char sql[] =
	    "SELECT i.collection_code, i.step, i.event_id, i.steps_run, "
	    "i.attempts, c.active\n"
	    "FROM bat_instance i LEFT JOIN bat_collection c "
	    "ON c.code = i.collection_code\n"
	    "WHERE i.id = @id";
	static const char params_sql[] =
	    "SELECT name, value, type FROM bat_instance_param "
	    "WHERE instance_id = @id ORDER BY name";
	struct plist pl = { 0 };
	char *cell[6] = { 0 }, *name, *value, *type_name;
	enum db_type type;
	int rc, found = 0;

	p_number(&pl, "id", DB_BIGINT, in->id);
	if (db_execute(e->db, sql, pl.p, pl.n) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1)
				if (cell[0] == NULL)
					for (int i = 0; i < 6; i++)
						cell[i] = cell_dup(e->db, i + 1);
	found = cell[0] != NULL;
	if (db_drain(e->db) != 0) {
		found = broken(e);
		goto out;
	}
	if (!found)
		goto out;
	in->collection = cell[0];
	cell[0] = NULL;
	in->step = -1;
	if (cell[1] != NULL)
		parse_step(cell[1], &in->step);
	in->event_id = cell[2] != NULL ? strtoll(cell[2], NULL, 10) : 0;
	in->steps_run = cell[3] != NULL ? strtol(cell[3], NULL, 10) : 0;
	in->attempts = cell[4] != NULL ? strtol(cell[4], NULL, 10) : 0;
	in->collection_active = cell[5] != NULL && strcmp(cell[5], "Y") == 0;
	if (event_load(e->db, in->event_id, e->queue, &in->ev) < 0 ||
	    (in->step >= 0 && step_load(e->db, in->collection, in->step,
	    &in->def) < 0)) {
		found = broken(e);
		goto out;
	}
	env_from_event(&in->env, &in->ev, e->now);
	env_set(&in->env, "instance_id", DB_BIGINT, pl.text[0]);
	env_set(&in->env, "step", DB_INT, cell[1]);
	/* calculated parameters keep their column's type; they may
	 * shadow the event's keys */
	if (db_execute(e->db, params_sql, pl.p, pl.n) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1) {
				name = cell_dup(e->db, 1);
				value = cell_dup(e->db, 2);
				type_name = cell_dup(e->db, 3);
				if (type_name == NULL ||
				    db_type_parse(type_name, &type) != 0)
					type = DB_NVARCHAR;
				if (name != NULL) {
					env_set(&in->env, name, type, value);
					env_set(&in->calc, name, type, value);
				}
				free(name);
				free(value);
				free(type_name);
			}
	if (db_drain(e->db) != 0)
		found = broken(e);
	snprintf(in->context, sizeof in->context, "instance %lld step %ld ",
	    in->id, in->step);
out:
	for (int i = 0; i < 6; i++)
		free(cell[i]);
	return found;
}

/* Runs a rule of the instance's step, traced, with its log row. */
static int
inst_rule(struct engine *e, struct inst *in, enum rule_kind kind,
    const char *sql, struct rule_result *r)
{
	char context[160];
	int rc;

	snprintf(context, sizeof context, "%s%s rule: ", in->context,
	    rule_kind_name(kind));
	if (e->trace)
		warn("instance %lld step %ld: %s", in->id, in->step,
		    rule_kind_name(kind));
	rc = rule_run(e->db, kind, sql, &in->env, context, r);
	log_rule(e, in, kind, r, rc != 0);
	return rc;
}

/*
 * After a rolled-back transaction: puts the instance in a final state
 * (failed, disabled) if it is still as guard says, with the log rows
 * gathered so far. 1 when it moved, 0 when not, -1 when it could not.
 */
static int
inst_finish(struct engine *e, struct inst *in, enum guard guard,
    const char *status, const char *message)
{
	char *sql = xasprintf("UPDATE bat_instance SET status = @status, "
	    "last_error = @error, owner = NULL, lease_until = NULL, "
	    "updated_at = @now WHERE id = @id AND %s", guard_sql[guard]);
	struct plist pl = { 0 };
	long changed = 0;
	int rc = -1;

	p_guard(&pl, e, in);
	p_text(&pl, "status", status);
	p_text(&pl, "error", message);
	if (tx_begin(e) == 0 && run(e, sql, &pl, &changed) == 0) {
		if (changed == 1) {
			log_state(e, in, status, NULL, message);
			rc = tx_commit(e) == 0 ? 1 : -1;
		} else {
			tx_rollback(e);
			rc = 0;
		}
	}
	if (rc < 0)
		tx_rollback(e);
	log_clear(e);
	free(sql);
	if (rc == 1 && strcmp(status, "failed") == 0)
		warn("instance %lld: failed at step %ld", in->id, in->step);
	return rc;
}

/* A rule failed inside the step's transaction: undo, then record. */
static int
inst_rule_failed(struct engine *e, struct inst *in, enum guard guard,
    const struct rule_result *r)
{
	struct plist pl = { 0 };
	size_t keep = e->log_count;

	/* keep the rows that say what failed; the rest rolls back */
	tx_rollback(e);
	if (keep > 0) {
		struct log_row last = e->logs[keep - 1];

		e->logs[keep - 1] = e->logs[0];
		e->logs[0] = last;
		for (size_t i = 1; i < keep; i++) {
			free((char *)e->logs[i].collection);
			free((char *)e->logs[i].result);
			free((char *)e->logs[i].message);
		}
		e->log_count = 1;
	}
	if (db_dead(e->db))
		return broken(e);
	if (r->transient && guard == GUARD_OWNED) {
		/* a deadlock victim: hand the step back for a later pass */
		log_clear(e);
		p_guard(&pl, e, in);
		return run(e, "UPDATE bat_instance SET status = 'waiting', "
		    "owner = NULL, lease_until = NULL WHERE id = @id AND "
		    "status = 'running' AND owner = @me AND attempts = @attempts",
		    &pl, NULL) == 0 ? 0 : -1;
	}
	return inst_finish(e, in, guard, "failed", r->message);
}

/*
 * An engine statement of one instance's transition failed with a server
 * error (a constraint, a trigger of the site's): the transition is rolled
 * back and the instance fails with that error, so one broken instance
 * never stops the others. A lost connection or a deadlock still ends
 * the pass: a later one retries. open: the transaction is still open.
 */
static int
inst_broken(struct engine *e, struct inst *in, enum guard guard, int open)
{
	int number = 0, rc;
	const char *text = db_last_error(e->db, &number);
	char *why = xasprintf("the engine could not record the step: %s",
	    text != NULL ? text : "an engine statement failed");

	if (open)
		tx_rollback(e);
	log_clear(e);
	rc = -1;
	if (!db_dead(e->db) && number != 1205 && in->collection != NULL) {
		e->status = 0;
		rc = inst_finish(e, in, guard, "failed", why);
	}
	free(why);
	return rc;
}

/* Locks the instance row for this transaction; 1 when still ours. */
static int
inst_lock(struct engine *e, struct inst *in, enum guard guard)
{
	char *sql = xasprintf("UPDATE bat_instance SET updated_at = @now "
	    "WHERE id = @id AND %s", guard_sql[guard]);
	struct plist pl = { 0 };
	long changed = 0;
	int rc;

	p_guard(&pl, e, in);
	rc = run(e, sql, &pl, &changed);
	free(sql);
	if (rc != 0 || changed != 1)
		tx_rollback(e);
	return rc != 0 ? -1 : changed == 1;
}

/*
 * Keeps the new calculated parameters: a name calculated before (a loop,
 * a later step) keeps its first value and is not written again.
 */
static int
inst_save_params(struct engine *e, struct inst *in,
    const struct rule_result *r)
{
	static const char sql[] =
	    "INSERT INTO bat_instance_param (instance_id, name, value, type) "
	    "VALUES (@id, @name, @value, @type)";
	struct plist pl;
	int *taken = xcalloc(r->columns > 0 ? r->columns : 1, sizeof *taken);
	int rc = 0;

	params_take(&in->env, &in->calc, r, taken);
	for (size_t i = 0; i < r->columns && rc == 0; i++) {
		if (!taken[i])
			continue;
		memset(&pl, 0, sizeof pl);
		p_number(&pl, "id", DB_BIGINT, in->id);
		p_text(&pl, "name", r->names[i]);
		p_text(&pl, "value", r->values[i]);
		p_text(&pl, "type", db_type_name(r->types[i]));
		rc = run(e, sql, &pl, NULL);
	}
	free(taken);
	return rc;
}

/*
 * Initialises the instance's step: parameter rule, available datetime
 * rule, then it waits. 1 when it moved on, 0 when not, -1 on failure.
 */
static int
init_one(struct engine *e, long long id)
{
	static const char wait_sql[] =
	    "UPDATE bat_instance SET status = 'waiting', due_at = @due, "
	    "updated_at = @now WHERE id = @id";
	struct inst in = { .id = id, .step = -1 };
	struct rule_result r = { 0 };
	struct plist pl = { 0 };
	char due[STAMP_LEN + 1];
	int rc;

	if (tx_begin(e) != 0)
		return -1;
	if ((rc = inst_lock(e, &in, GUARD_PENDING)) != 1)
		return rc;
	if ((rc = inst_load(e, &in)) != 1)
		goto undo;
	if (!in.collection_active || !in.def.exists || !in.def.active) {
		const char *why = !in.collection_active ?
		    "the collection is inactive" : !in.def.exists ?
		    "the collection has no such step" : "the step is inactive";

		tx_rollback(e);
		rc = inst_finish(e, &in, GUARD_INIT, in.def.exists &&
		    !in.def.active ? "disabled" : !in.collection_active ?
		    "disabled" : "failed", why);
		goto out;
	}
	if (in.def.rule[RULE_PARAMETER] != NULL) {
		if (inst_rule(e, &in, RULE_PARAMETER,
		    in.def.rule[RULE_PARAMETER], &r) != 0) {
			rc = inst_rule_failed(e, &in, GUARD_INIT, &r);
			goto out;
		}
		if (inst_save_params(e, &in, &r) != 0)
			goto broken;
		result_free(&r);
	}
	snprintf(due, sizeof due, "%s", e->now);
	if (in.def.rule[RULE_AVAILABLE] != NULL) {
		if (inst_rule(e, &in, RULE_AVAILABLE,
		    in.def.rule[RULE_AVAILABLE], &r) != 0) {
			rc = inst_rule_failed(e, &in, GUARD_INIT, &r);
			goto out;
		}
		if (r.when[0] != '\0')
			snprintf(due, sizeof due, "%s", r.when);
	}
	p_number(&pl, "id", DB_BIGINT, in.id);
	p_typed(&pl, "now", DB_DATETIME, e->now);
	p_typed(&pl, "due", DB_DATETIME, due);
	if (run(e, wait_sql, &pl, NULL) != 0)
		goto broken;
	log_state(e, &in, "waiting", due, NULL);
	rc = tx_commit(e) == 0 ? 1 : inst_broken(e, &in, GUARD_INIT, 0);
	goto out;
broken:
	rc = inst_broken(e, &in, GUARD_INIT, 1);
	goto out;
undo:
	tx_rollback(e);
	log_clear(e);
	rc = rc == 0 ? 0 : -1;
out:
	result_free(&r);
	inst_free(&in);
	return rc;
}

/* Claims a due step (or one whose claim ran out); 1 when ours. */
static int
claim_step(struct engine *e, struct inst *in)
{
	static const char sql[] =
	    "UPDATE bat_instance SET status = 'running', owner = @me, "
	    "lease_until = @lease, attempts = attempts + 1, updated_at = @now\n"
	    "WHERE id = @id AND ((status = 'waiting' AND due_at <= @now) OR "
	    "(status = 'running' AND lease_until < @now))";
	static const char read_sql[] =
	    "SELECT attempts FROM bat_instance WHERE id = @id AND "
	    "owner = @me AND status = 'running'";
	struct plist pl = { 0 };
	char lease[STAMP_LEN + 1];
	long long attempts = 0;
	long changed = 0;
	int rc;

	stamp_add(e->now, e->lease, lease);
	p_number(&pl, "id", DB_BIGINT, in->id);
	p_text(&pl, "me", e->me);
	p_typed(&pl, "now", DB_DATETIME, e->now);
	p_typed(&pl, "lease", DB_DATETIME, lease);
	if (run(e, sql, &pl, &changed) != 0)
		return -1;
	if (changed != 1)
		return 0;
	pl.n = 2;
	if ((rc = fetch_number(e, read_sql, &pl, &attempts)) != 1)
		return rc;
	in->attempts = (long)attempts;
	return 1;
}

/* The instance's move at the end of a step, in its transaction. */
static int
step_move(struct engine *e, struct inst *in, const char *status, long next)
{
	static const char sql[] =
	    "UPDATE bat_instance SET status = @status, step = @next, "
	    "due_at = NULL, owner = NULL, lease_until = NULL, attempts = 0, "
	    "steps_run = steps_run + @ran, last_error = NULL, "
	    "updated_at = @now WHERE id = @id";
	struct plist pl = { 0 };

	p_number(&pl, "id", DB_BIGINT, in->id);
	p_typed(&pl, "now", DB_DATETIME, e->now);
	p_text(&pl, "status", status);
	p_number(&pl, "next", DB_INT, next);
	p_number(&pl, "ran", DB_INT, strcmp(status, "aborted") == 0 ? 0 : 1);
	return run(e, sql, &pl, NULL);
}

/*
 * Runs a due step: pre rule, action, post rule and the move to the next
 * step, all in one transaction. 1 when it moved on, 0 when not, -1.
 */
static int
run_one(struct engine *e, long long id)
{
	struct inst in = { .id = id, .step = -1 };
	struct rule_result r = { 0 };
	char result[32];
	long next;
	int rc;

	if ((rc = claim_step(e, &in)) != 1)
		return rc;
	if (in.attempts > 1) {
		warn("instance %lld: its step is claimed again (attempt %ld): "
		    "the last claim ran out", id, in.attempts);
	}
	if (tx_begin(e) != 0)
		return -1;
	if ((rc = inst_lock(e, &in, GUARD_OWNED)) != 1)
		return rc;
	if ((rc = inst_load(e, &in)) != 1)
		goto undo;
	if (in.attempts > 1) {
		snprintf(result, sizeof result, "attempt %ld", in.attempts);
		log_state(e, &in, "retry", result, NULL);
	}
	if (in.attempts > e->max_attempts || in.steps_run >= e->max_steps ||
	    !in.collection_active || !in.def.exists || !in.def.active) {
		char *why = in.attempts > e->max_attempts ? xasprintf(
		    "the step was claimed %ld times without finishing",
		    in.attempts) : in.steps_run >= e->max_steps ? xasprintf(
		    "step budget of %ld steps spent", e->max_steps) :
		    xstrdup(!in.collection_active ? "the collection is inactive"
		    : !in.def.exists ? "the collection has no such step" :
		    "the step is inactive");
		int disabled = in.attempts <= e->max_attempts &&
		    in.steps_run < e->max_steps && (!in.collection_active ||
		    (in.def.exists && !in.def.active));

		tx_rollback(e);
		rc = inst_finish(e, &in, GUARD_OWNED, disabled ? "disabled" :
		    "failed", why);
		free(why);
		goto out;
	}
	if (in.def.rule[RULE_PRE] != NULL) {
		if (inst_rule(e, &in, RULE_PRE, in.def.rule[RULE_PRE],
		    &r) != 0) {
			rc = inst_rule_failed(e, &in, GUARD_OWNED, &r);
			goto out;
		}
		if (r.number <= 0) {
			/* only a positive number runs the action */
			if (step_move(e, &in, "aborted", in.step) != 0)
				goto broken;
			log_state(e, &in, "aborted", NULL, NULL);
			rc = tx_commit(e) == 0 ? 1 : inst_broken(e, &in,
			    GUARD_OWNED, 0);
			goto out;
		}
		result_free(&r);
	}
	if (inst_rule(e, &in, RULE_ACTION, in.def.rule[RULE_ACTION] != NULL ?
	    in.def.rule[RULE_ACTION] : "", &r) != 0) {
		rc = inst_rule_failed(e, &in, GUARD_OWNED, &r);
		goto out;
	}
	result_free(&r);
	if (in.def.rule[RULE_POST] != NULL) {
		if (inst_rule(e, &in, RULE_POST, in.def.rule[RULE_POST],
		    &r) != 0) {
			rc = inst_rule_failed(e, &in, GUARD_OWNED, &r);
			goto out;
		}
		next = r.number;
	} else if ((rc = step_next(e->db, in.collection, in.step,
	    &next)) < 0) {
		broken(e);
		goto broken;
	} else if (rc == 0) {
		next = -1;
	}
	if (next <= 0) {
		if (step_move(e, &in, "done", in.step) != 0)
			goto broken;
		log_state(e, &in, "done", NULL, NULL);
	} else {
		if (step_move(e, &in, "init", next) != 0)
			goto broken;
		snprintf(result, sizeof result, "step %ld", next);
		log_state(e, &in, "next", result, NULL);
	}
	rc = tx_commit(e) == 0 ? 1 : inst_broken(e, &in, GUARD_OWNED, 0);
	goto out;
broken:
	rc = inst_broken(e, &in, GUARD_OWNED, 1);
	goto out;
undo:
	tx_rollback(e);
	log_clear(e);
	rc = -1;
out:
	result_free(&r);
	inst_free(&in);
	return rc;
}

/* A new instance (or a failed one) of a collection for an event. */
static int
inst_create(struct engine *e, const struct event *ev, const char *code,
    const struct rule_result *r, int failed)
{
	static const char sql[] =
	    "INSERT INTO bat_instance (event_id, collection_code, step, "
	    "status, attempts, steps_run, last_error, created_at, updated_at)\n"
	    "VALUES (@event_id, @collection, @step, @status, 0, 0, @error, "
	    "@now, @now)";
	static const char id_sql[] =
	    "SELECT id FROM bat_instance WHERE event_id = @event_id AND "
	    "collection_code = @collection";
	struct inst in = { .event_id = ev->id, .collection = (char *)code,
	    .step = failed ? -1 : r->number };
	struct plist pl = { 0 };
	char result[32];

	p_number(&pl, "event_id", DB_BIGINT, ev->id);
	p_text(&pl, "collection", code);
	if (failed)
		p_typed(&pl, "step", DB_INT, NULL);
	else
		p_number(&pl, "step", DB_INT, r->number);
	p_text(&pl, "status", failed ? "failed" : "init");
	p_text(&pl, "error", failed ? r->message : NULL);
	p_typed(&pl, "now", DB_DATETIME, e->now);
	if (run(e, sql, &pl, NULL) != 0)
		return -1;
	pl.n = 2;
	if (fetch_number(e, id_sql, &pl, &in.id) != 1)
		return broken(e);
	log_rule(e, &in, RULE_INCLUSION, r, failed);
	snprintf(result, sizeof result, "step %ld", r->number);
	log_state(e, &in, failed ? "failed" : "started", failed ? NULL :
	    result, failed ? r->message : NULL);
	if (failed)
		warn("instance %lld: failed: its inclusion rule failed",
		    in.id);
	return 0;
}

struct inclusion {
	char *code;
	char *rule;
	struct rule_result r;
	int failed;
};

/* The active collections and their inclusion rules. */
static struct inclusion *
collections_load(struct engine *e, size_t *count)
{
	static const char sql[] =
	    "SELECT code, inclusion_rule FROM bat_collection "
	    "WHERE active = 'Y' ORDER BY code";
	struct inclusion *list = NULL;
	size_t cap = 0;
	int rc;

	*count = 0;
	if (db_execute(e->db, sql, NULL, 0) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1) {
				if (*count == cap) {
					cap = cap ? cap * 2 : 8;
					list = xreallocarray(list, cap,
					    sizeof *list);
				}
				memset(&list[*count], 0, sizeof *list);
				list[*count].code = cell_dup(e->db, 1);
				list[*count].rule = cell_dup(e->db, 2);
				(*count)++;
			}
	if (db_drain(e->db) != 0)
		broken(e);
	return list;
}

static void
collections_free(struct inclusion *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(list[i].code);
		free(list[i].rule);
		result_free(&list[i].r);
	}
	free(list);
}

/*
 * Writing an event's instances failed with a server error (a constraint,
 * a trigger of the site's): the event is marked done with that error in
 * the log, so it is not claimed again after every lease and never stops
 * the pass. A lost connection or a deadlock still ends the pass, and the
 * claim running out hands the event to a later one.
 */
static int
event_broken(struct engine *e, long long id)
{
	static const char sql[] =
	    "UPDATE bat_event SET done_at = @now WHERE id = @id AND "
	    "claimed_by = @me AND done_at IS NULL";
	struct inst in = { .event_id = id, .step = -1 };
	int number = 0, rc = -1;
	const char *text = db_last_error(e->db, &number);
	char *why = xasprintf("the engine could not record the event's "
	    "instances: %s", text != NULL ? text : "an engine statement "
	    "failed");
	struct plist pl = { 0 };
	long changed = 0;

	tx_rollback(e);
	log_clear(e);
	if (db_dead(e->db) || number == 1205)
		goto out;
	e->status = 0;
	p_number(&pl, "id", DB_BIGINT, id);
	p_text(&pl, "me", e->me);
	p_typed(&pl, "now", DB_DATETIME, e->now);
	if (tx_begin(e) != 0 || run(e, sql, &pl, &changed) != 0) {
		tx_rollback(e);
		goto out;
	}
	log_state(e, &in, "failed", NULL, why);
	if (tx_commit(e) == 0) {
		warn("event %lld: failed: the engine could not record its "
		    "instances", id);
		rc = 0;
	}
out:
	free(why);
	return rc;
}

/*
 * A claimed event: every active collection's inclusion rule, then in
 * one transaction the instances they start and the event marked done.
 */
static int
process_event(struct engine *e, long long id)
{
	static const char done_sql[] =
	    "UPDATE bat_event SET done_at = @now WHERE id = @id AND "
	    "claimed_by = @me AND done_at IS NULL";
	struct inst in = { .event_id = id, .step = -1 };
	struct inclusion *list = NULL;
	struct rule_env env = { 0 };
	struct event ev;
	struct plist pl = { 0 };
	size_t count = 0;
	long changed = 0;
	char context[64];
	int rc;

	if ((rc = event_load(e->db, id, e->queue, &ev)) != 1)
		return rc < 0 ? broken(e) : 0;
	env_from_event(&env, &ev, e->now);
	env_set(&env, "instance_id", DB_BIGINT, NULL);
	env_set(&env, "step", DB_INT, NULL);
	if (ev.subscribed && (list = collections_load(e, &count)) == NULL &&
	    e->status != 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		snprintf(context, sizeof context, "event %lld collection "
		    "%s inclusion rule: ", id, list[i].code);
		if (e->trace)
			warn("event %lld collection %s: inclusion", id,
			    list[i].code);
		list[i].failed = rule_run(e->db, RULE_INCLUSION,
		    rule_empty(list[i].rule) ? "" : list[i].rule, &env,
		    context, &list[i].r) != 0;
		if (list[i].failed && list[i].r.transient) {
			/* the claim runs out and a later pass retries */
			rc = broken(e);
			goto out;
		}
	}
	p_number(&pl, "id", DB_BIGINT, id);
	p_text(&pl, "me", e->me);
	p_typed(&pl, "now", DB_DATETIME, e->now);
	if (tx_begin(e) != 0 || run(e, done_sql, &pl, &changed) != 0) {
		rc = -1;
		goto undo;
	}
	if (changed != 1) {
		rc = 0;
		goto undo;
	}
	for (size_t i = 0; i < count; i++) {
		in.collection = list[i].code;
		/* no row, NULL, 0 or negative: not included */
		if (!list[i].failed && list[i].r.number <= 0)
			log_rule(e, &in, RULE_INCLUSION, &list[i].r, 0);
		else if (inst_create(e, &ev, list[i].code, &list[i].r,
		    list[i].failed) != 0) {
			rc = event_broken(e, id);
			goto out;
		}
	}
	if (!ev.subscribed) {
		in.collection = NULL;
		log_state(e, &in, "unsubscribed", NULL, NULL);
	}
	rc = tx_commit(e) == 0 ? 1 : event_broken(e, id);
	goto out;
undo:
	tx_rollback(e);
	log_clear(e);
out:
	collections_free(list, count);
	env_free(&env);
	event_free(&ev);
	return rc;
}

/* Claims up to --batch events, each by a compare-and-set on its row. */
static int
claim_events(struct engine *e)
{
	static const char next_sql[] =
	    "SELECT MIN(id) FROM bat_event WHERE queue_name = @queue AND "
	    "done_at IS NULL AND id > @after AND "
	    "(claimed_by IS NULL OR claimed_at < @stale)";
	static const char claim_sql[] =
	    "UPDATE bat_event SET claimed_by = @me, claimed_at = @now "
	    "WHERE id = @id AND done_at IS NULL AND "
	    "(claimed_by IS NULL OR claimed_at < @stale)";
	char stale[STAMP_LEN + 1];
	long long after = 0, id;
	long claimed = 0, changed;
	struct plist pl;
	int rc, moved = 0;

	stamp_add(e->now, -e->lease, stale);
	while (claimed < e->batch && !*e->stopping && e->status == 0) {
		memset(&pl, 0, sizeof pl);
		p_text(&pl, "queue", e->queue);
		p_number(&pl, "after", DB_BIGINT, after);
		p_typed(&pl, "stale", DB_DATETIME, stale);
		if ((rc = fetch_number(e, next_sql, &pl, &id)) != 1)
			break;
		after = id;
		memset(&pl, 0, sizeof pl);
		p_number(&pl, "id", DB_BIGINT, id);
		p_text(&pl, "me", e->me);
		p_typed(&pl, "now", DB_DATETIME, e->now);
		p_typed(&pl, "stale", DB_DATETIME, stale);
		if (run(e, claim_sql, &pl, &changed) != 0)
			break;
		if (changed != 1)
			continue;
		claimed++;
		if (process_event(e, id) > 0)
			moved++;
	}
	return moved;
}

/* Instances of inactive collections stop where they are. */
static void
disable_inactive(struct engine *e)
{
	static const char sql[] =
	    "SELECT i.id FROM bat_instance i JOIN bat_collection c "
	    "ON c.code = i.collection_code\n"
	    "WHERE c.active <> 'Y' AND (i.status IN ('init', 'waiting') OR "
	    "(i.status = 'running' AND i.lease_until < @now)) ORDER BY i.id";
	struct plist pl = { 0 };
	long long *ids;
	size_t count;

	p_typed(&pl, "now", DB_DATETIME, e->now);
	ids = fetch_ids(e, sql, &pl, &count);
	for (size_t i = 0; i < count && e->status == 0 && !*e->stopping;
	    i++) {
		struct inst in = { .id = ids[i] };

		if (inst_load(e, &in) == 1)
			inst_finish(e, &in, GUARD_IDLE, "disabled",
			    "the collection is inactive");
		inst_free(&in);
	}
	free(ids);
}

/* Initialises every instance waiting for it; how many moved on. */
static int
init_pending(struct engine *e)
{
	static const char sql[] =
	    "SELECT id FROM bat_instance WHERE status = 'init' "
	    "ORDER BY id";
	struct plist pl = { 0 };
	long long *ids;
	size_t count;
	int moved = 0;

	ids = fetch_ids(e, sql, &pl, &count);
	for (size_t i = 0; i < count && e->status == 0 && !*e->stopping;
	    i++) {
		now_refresh(e);
		if (init_one(e, ids[i]) > 0)
			moved++;
	}
	free(ids);
	return moved;
}

/* Runs every due step; how many moved on. */
static int
run_due(struct engine *e)
{
	static const char sql[] =
	    "SELECT id FROM bat_instance WHERE (status = 'waiting' AND "
	    "due_at <= @now) OR (status = 'running' AND lease_until < @now) "
	    "ORDER BY id";
	struct plist pl = { 0 };
	long long *ids;
	size_t count;
	int moved = 0;

	p_typed(&pl, "now", DB_DATETIME, e->now);
	ids = fetch_ids(e, sql, &pl, &count);
	for (size_t i = 0; i < count && e->status == 0 && !*e->stopping;
	    i++) {
		now_refresh(e);
		if (run_one(e, ids[i]) > 0)
			moved++;
	}
	free(ids);
	return moved;
}

int
engine_pass(struct engine *e)
{
	int moved;

	e->status = 0;
	now_refresh(e);
	disable_inactive(e);
	claim_events(e);
	/* a step that moves on may make another due at once */
	do {
		moved = init_pending(e);
		moved += run_due(e);
		now_refresh(e);
	} while (moved > 0 && e->status == 0 && !*e->stopping);
	return e->status;
}

void
engine_free(struct engine *e)
{
	log_clear(e);
	free(e->logs);
	e->logs = NULL;
	e->log_cap = 0;
}

/* For the operator's actions (ops.c): the engine's transaction and log. */
int
engine_begin(struct engine *e)
{
	now_refresh(e);
	return tx_begin(e);
}

int
engine_commit(struct engine *e)
{
	return tx_commit(e);
}

void
engine_rollback(struct engine *e)
{
	tx_rollback(e);
	log_clear(e);
}

void
engine_log(struct engine *e, long long event_id, long long instance_id,
    const char *collection, long step, const char *outcome,
    const char *result)
{
	log_add(e, &(struct log_row){
	    .event_id = event_id, .instance_id = instance_id,
	    .collection = collection, .step = step, .has_step = step >= 0,
	    .rule = "engine", .outcome = outcome, .result = result });
}

int
engine_run(struct engine *e, const char *sql, const struct db_param *params,
    size_t count, long *changed)
{
	if (sql_exec(e->db, sql, params, count, changed) != 0)
		return broken(e);
	return 0;
}
