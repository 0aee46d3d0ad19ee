/*
 * ops.c: the operator's actions on instances that no pass moves again:
 * --retry a failed instance from its failed step, --resume the instances
 * an inactive collection disabled, --list instances. Each is one
 * transaction with its row in bat_log; none shows a parameter value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bat.h"
#include "err.h"
#include "mem.h"

#define INACTIVE "the collection is inactive"

/* The first row's cells of a query; 1, 0 for no row, -1 on failure. */
static int
fetch_row(struct engine *e, const char *sql, const struct db_param *params,
    size_t count, char **cells, int columns)
{
	int rc, found = 0;

	memset(cells, 0, sizeof *cells * (size_t)columns);
	if (db_execute(e->db, sql, params, count) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1)
				if (found++ == 0)
					for (int i = 0; i < columns; i++)
						cells[i] = cell_dup(e->db, i + 1);
	if (db_drain(e->db) != 0) {
		for (int i = 0; i < columns; i++)
			free(cells[i]);
		return -1;
	}
	return found > 0;
}

static void
free_cells(char **cells, int columns)
{
	for (int i = 0; i < columns; i++)
		free(cells[i]);
}

static int
failed_status(struct engine *e)
{
	int status = e->status != 0 ? e->status : db_status(e->db);

	engine_rollback(e);
	return status != 0 ? status : EX_SOFTWARE;
}

int
op_retry(struct engine *e, long long instance_id)
{
	static const char read_sql[] =
	    "SELECT status, step, collection_code, event_id FROM bat_instance "
	    "WHERE id = @id";
	static const char sql[] =
	    "UPDATE bat_instance SET status = 'init', attempts = 0, "
	    "steps_run = 0, due_at = NULL, owner = NULL, lease_until = NULL, "
	    "last_error = NULL, updated_at = @now "
	    "WHERE id = @id AND status = 'failed'";
	char id_text[32], result[32], *cell[4];
	struct db_param p[2] = {
		{ "id", DB_BIGINT, id_text, 0 },
		{ "now", DB_DATETIME, e->now, STAMP_LEN },
	};
	long step, changed = 0;
	int rc, status = EX_DATAERR;

	p[0].len = (size_t)snprintf(id_text, sizeof id_text, "%lld",
	    instance_id);
	if (engine_begin(e) != 0)
		return failed_status(e);
	if ((rc = fetch_row(e, read_sql, p, 1, cell, 4)) < 0)
		return failed_status(e);
	if (rc == 0) {
		warn("instance %lld: no such instance", instance_id);
		engine_rollback(e);
		return EX_NOINPUT;
	}
	if (cell[0] == NULL || strcmp(cell[0], "failed") != 0)
		warn("instance %lld is %s, not failed: nothing to retry",
		    instance_id, cell[0] != NULL ? cell[0] : "NULL");
	else if (cell[1] == NULL || parse_step(cell[1], &step) != 0)
		warn("instance %lld failed in its inclusion rule: there is "
		    "no step to retry from", instance_id);
	else if (engine_run(e, sql, p, 2, &changed) != 0)
		status = e->status;
	else if (changed != 1)
		warn("instance %lld changed meanwhile: not retried",
		    instance_id);
	else {
		snprintf(result, sizeof result, "step %ld", step);
		engine_log(e, strtoll(cell[3], NULL, 10), instance_id,
		    cell[2], step, "retried", result);
		status = engine_commit(e) == 0 ? 0 : e->status;
	}
	if (status != 0)
		engine_rollback(e);
	free_cells(cell, 4);
	return status;
}

int
op_resume(struct engine *e, const char *collection)
{
	static const char active_sql[] =
	    "SELECT active FROM bat_collection WHERE code = @collection";
	static const char list_sql[] =
	    "SELECT id, event_id, step FROM bat_instance "
	    "WHERE collection_code = @collection AND status = 'disabled' "
	    "AND last_error = @why ORDER BY id";
	/* a waiting step keeps its due time; one never initialised is */
	static const char sql[] =
	    "UPDATE bat_instance SET status = CASE WHEN due_at IS NULL "
	    "THEN 'init' ELSE 'waiting' END, owner = NULL, "
	    "lease_until = NULL, attempts = 0, last_error = NULL, "
	    "updated_at = @now WHERE id = @id AND status = 'disabled'";
	struct db_param p[4] = {
		{ "collection", DB_NVARCHAR, collection, strlen(collection) },
		{ "why", DB_NVARCHAR, INACTIVE, strlen(INACTIVE) },
		{ "now", DB_DATETIME, e->now, STAMP_LEN },
		{ "id", DB_BIGINT, NULL, 0 },
	};
	char *active = NULL, **rows = NULL, result[32];
	size_t count = 0, cap = 0, resumed = 0;
	long changed, step;
	int rc, status = 0;

	if (engine_begin(e) != 0)
		return failed_status(e);
	if ((rc = fetch_row(e, active_sql, p, 1, &active, 1)) < 0)
		return failed_status(e);
	if (rc == 0 || active == NULL || strcmp(active, "Y") != 0) {
		if (rc == 0)
			warn("collection %s: no such collection", collection);
		else
			warn("collection %s is still inactive: set its active "
			    "to Y first", collection);
		free(active);
		engine_rollback(e);
		return rc == 0 ? EX_NOINPUT : EX_DATAERR;
	}
	free(active);
	if (db_execute(e->db, list_sql, p, 2) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1) {
				if (count + 3 > cap) {
					cap = cap ? cap * 2 : 48;
					rows = xreallocarray(rows, cap,
					    sizeof *rows);
				}
				for (int i = 0; i < 3; i++)
					rows[count++] = cell_dup(e->db, i + 1);
			}
	if (db_drain(e->db) != 0) {
		status = failed_status(e);
		goto out;
	}
	for (size_t i = 0; i < count; i += 3) {
		p[3].value = rows[i];
		p[3].len = strlen(rows[i]);
		if (engine_run(e, sql, &p[2], 2, &changed) != 0) {
			status = failed_status(e);
			goto out;
		}
		if (changed != 1)
			continue;
		step = -1;
		if (rows[i + 2] != NULL)
			parse_step(rows[i + 2], &step);
		snprintf(result, sizeof result, "step %ld", step);
		engine_log(e, rows[i + 1] != NULL ? strtoll(rows[i + 1], NULL,
		    10) : 0, strtoll(rows[i], NULL, 10), collection, step,
		    "resumed", step >= 0 ? result : NULL);
		resumed++;
	}
	if (resumed == 0)
		engine_log(e, 0, 0, collection, -1, "resumed", "0 instances");
	if (engine_commit(e) != 0)
		status = e->status;
	else
		warn("collection %s: %zu %s resumed", collection, resumed,
		    resumed == 1 ? "instance" : "instances");
out:
	for (size_t i = 0; i < count; i++)
		free(rows[i]);
	free(rows);
	return status;
}

int
op_list(struct engine *e, const char *status_filter)
{
	static const char sql[] =
	    "SELECT id, event_id, collection_code, step, status, due_at, "
	    "attempts, steps_run, updated_at, last_error FROM bat_instance\n"
	    "WHERE @status IS NULL OR status = @status ORDER BY id";
	struct db_param p[1] = {
		{ "status", DB_NVARCHAR, status_filter,
		    status_filter != NULL ? strlen(status_filter) : 0 },
	};
	char result[64];
	size_t len;
	long listed = 0;
	int rc, status;

	if (engine_begin(e) != 0)
		return failed_status(e);
	fputs("instance_id,event_id,collection,step,status,due_at,attempts,"
	    "steps_run,updated_at,last_error\n", stdout);
	if (db_execute(e->db, sql, p, 1) == 0)
		while ((rc = db_next_result(e->db)) == 1)
			while (db_column_count(e->db) > 0 &&
			    (rc = db_next_row(e->db)) == 1) {
				for (int i = 1; i <= 10; i++) {
					const char *cell = db_cell(e->db, i,
					    &len);
					char stamp[STAMP_LEN + 1];

					/* times as the tables hold them */
					if (cell != NULL && (i == 6 || i == 9) &&
					    stamp_parse(cell, len, stamp) == 0) {
						cell = stamp;
						len = STAMP_LEN;
					}
					csv_write_field(&e->out, cell != NULL ?
					    cell : "", cell != NULL ? len : 0);
				}
				csv_write_end(&e->out);
				listed++;
			}
	if ((status = db_drain(e->db)) != 0) {
		engine_rollback(e);
		return status;
	}
	snprintf(result, sizeof result, "%ld %s%s%s", listed,
	    status_filter != NULL ? status_filter : "",
	    status_filter != NULL ? " " : "",
	    listed == 1 ? "instance" : "instances");
	engine_log(e, 0, 0, NULL, -1, "listed", result);
	e->log_quiet = 1;
	return engine_commit(e) == 0 ? 0 : e->status;
}
