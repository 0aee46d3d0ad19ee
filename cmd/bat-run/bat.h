/* bat.h: bat-run's parts: rules, the engine, --check, --dry-run */
#ifndef BAT_RUN_BAT_H
#define BAT_RUN_BAT_H

#include <signal.h>
#include <stddef.h>

#include "csvio.h"
#include "db.h"

/* YYYY-MM-DD HH:MM:SS, the one form times take in the tables */
#define STAMP_LEN 19

enum rule_kind {
	RULE_INCLUSION,
	RULE_PARAMETER,
	RULE_AVAILABLE,
	RULE_PRE,
	RULE_ACTION,
	RULE_POST,
	RULE_KINDS
};

/* "inclusion", "parameter", "available", "pre", "action", "post" */
const char *rule_kind_name(enum rule_kind kind);
/* The kind a name (or "available-datetime") means; -1 when none. */
int rule_kind_parse(const char *name);
/* 1 when a rule's text is missing or only blanks: the default applies. */
int rule_empty(const char *sql);

struct rule_result;

/* The @parameters a rule sees, bound through sp_executesql. */
struct rule_env {
	struct db_param *params;
	size_t count;
	size_t cap;
};

void env_free(struct rule_env *env);
/* Adds @name, or replaces its type and value; value is copied. */
void env_set(struct rule_env *env, const char *name, enum db_type type,
    const char *value);
/* 1 when @name is set. */
int env_has(const struct rule_env *env, const char *name);
/* 1 for a name only the engine sets (@event_id, @now...). */
int param_reserved(const char *name);
/*
 * Takes a parameter rule's row: a name calculated before keeps its first
 * value (read-only for the instance's life), a new one (patient_key too,
 * over the event's) goes into env and calculated with its column's type.
 * taken[i] is set to 1 for each column taken, 0 for one kept.
 */
void params_take(struct rule_env *env, struct rule_env *calculated,
    const struct rule_result *r, int *taken);

/* What a rule returned, or why it failed. */
struct rule_result {
	long number;		/* inclusion, pre, post */
	char when[STAMP_LEN + 1];	/* available; "" for now */
	char **names;		/* parameter: the columns... */
	char **values;		/* ...their values (NULL for NULL)... */
	enum db_type *types;	/* ...and the types they bind as */
	size_t columns;
	int empty;		/* inclusion, pre, post: 1 no row, 2 NULL */
	long rows;		/* action: rows it changed */
	int error_number;	/* the server's, 0 for the engine's own */
	char *message;		/* why it failed */
	int transient;		/* lost connection or deadlock: retry it */
	long duration_ms;
};

/*
 * Runs one rule with env bound. Returns 0, or -1 with r->message set:
 * a server error, or a result of the wrong shape (not one row of one
 * integer, datetime...). context prefixes the server's messages.
 */
int rule_run(struct db *db, enum rule_kind kind, const char *sql,
    const struct rule_env *env, const char *context, struct rule_result *r);
void result_free(struct rule_result *r);
/* What a rule returned, short, for the log: "2", "3 rows", "a,b". */
char *result_text(enum rule_kind kind, const struct rule_result *r);
/* Reads an integer step number; 0, or -1 when s is not one. */
int parse_step(const char *s, long *v);

/* An event of the queue, with what the rules see of it. */
struct event {
	long long id;
	char *main_action;
	char *db_action;
	char *key[5];		/* patient_key, order_key, study_key,
				 * report_key, action_id */
	int subscribed;		/* a subscription takes it, none excludes it */
};

/* Loads event id; 1, 0 when there is none, or -1 when the query failed. */
int event_load(struct db *db, long long id, const char *queue,
    struct event *ev);
void event_free(struct event *ev);
/* The event's parameters and @now into env. */
void env_from_event(struct rule_env *env, const struct event *ev,
    const char *now);

/* A step's definition. */
struct step_def {
	int exists;
	int active;
	char *rule[RULE_KINDS];	/* all but RULE_INCLUSION; NULL when empty */
};

/* Loads a step of a collection; 0, or -1 when the query failed. */
int step_load(struct db *db, const char *collection, long step,
    struct step_def *def);
void step_free(struct step_def *def);
/* The next higher step number after step: 1, 0 for none, -1 on failure. */
int step_next(struct db *db, const char *collection, long step, long *next);

/* Runs sql, drains it; *count gets the rows changed. 0 or a status. */
int sql_exec(struct db *db, const char *sql, const struct db_param *params,
    size_t count, long *changed);
/* A plain batch (BEGIN TRANSACTION...), drained: 0 or a status. */
int sql_batch(struct db *db, const char *sql);
/* A cell's copy, NULL for SQL NULL. */
char *cell_dup(struct db *db, int column);

/* Times: now (local time) and now + seconds. */
void stamp_now(char out[STAMP_LEN + 1]);
void stamp_add(const char *stamp, long seconds, char out[STAMP_LEN + 1]);
/* Normalises a datetime to STAMP_LEN form; 0, or -1 when it is not one. */
int stamp_parse(const char *text, size_t len, char out[STAMP_LEN + 1]);

struct log_row;

struct engine {
	struct db *db;
	char me[128];		/* host:pid, the owner of claims */
	const char *fixed_now;	/* --now, or NULL for the clock */
	char now[STAMP_LEN + 1];
	const char *queue;
	long lease;		/* seconds a claim holds */
	long batch;		/* events claimed per pass */
	long max_steps;		/* steps an instance may run */
	long max_attempts;	/* claims of one step before it fails */
	int trace;		/* each rule on stderr */
	volatile sig_atomic_t *stopping;
	struct csv_writer out;
	int header_written;
	int log_quiet;		/* --list: the log rows not on stdout */
	struct log_row *logs;	/* written at COMMIT, printed after */
	size_t log_count;
	size_t log_cap;
	int status;		/* a failure that ends the pass */
};

/* One pass: events, disabled collections, due steps. 0 or a status. */
int engine_pass(struct engine *e);
void engine_free(struct engine *e);

/* The engine's transaction (@now refreshed), log rows and statements,
 * for the operator's actions; -1 with e->status set on failure. */
int engine_begin(struct engine *e);
int engine_commit(struct engine *e);
void engine_rollback(struct engine *e);
/* An engine row of bat_log, written at engine_commit; step < 0: none. */
void engine_log(struct engine *e, long long event_id, long long instance_id,
    const char *collection, long step, const char *outcome,
    const char *result);
int engine_run(struct engine *e, const char *sql, const struct db_param *params,
    size_t count, long *changed);

/* --retry ID, --resume COLLECTION, --list [--status S]: 0 or a status. */
int op_retry(struct engine *e, long long instance_id);
int op_resume(struct engine *e, const char *collection);
int op_list(struct engine *e, const char *status);

/* --check: compiles every active rule; 0, or EX_DATAERR for problems. */
int check_rules(struct db *db, const char *queue);
/* --dry-run: one event's workflows, rolled back. */
int dry_run(struct db *db, const char *queue, long long event_id,
    const char *now, long max_steps, int show_values);
/* --template: a starting rule of a kind, T-SQL or (sqlite) tdsd's. */
void template_print(enum rule_kind kind, int sqlite);

#endif
