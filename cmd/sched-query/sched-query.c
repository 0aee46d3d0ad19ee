/*
 * sched-query: run one SQL statement on SQL Server (TDS) or MySQL/MariaDB
 * and write its rows as pipe-dialect CSV.
 *
 * Parameters travel as typed @NAME values (sp_executesql, or session
 * variables set by a prepared statement), never spliced into the text. With --each-row the statement runs once per CSV
 * row on stdin, all rows in one transaction: one failing row rolls every
 * row back. Any failure, a dropped connection above all, ends in a
 * non-zero status, so a truncated result is never taken for a whole one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "db.h"
#include "dbopt.h"
#include "err.h"
#include "mem.h"
#include "opt.h"
#include "utf8.h"

#define SQL_MAX (16 * 1024 * 1024)

enum {
	OPT_ALL = 256,
	OPT_EACH_ROW,
	OPT_NULL,
	OPT_MAX_RECORD
};

/* A -v NAME[:TYPE][=VALUE] */
struct var {
	char *name;
	enum db_type type;
	int typed;		/* TYPE was given */
	char *value;		/* NULL: a type declaration for --each-row */
};

struct query {
	struct db *db;
	const char *sql;
	const char *null_text;
	int all;
	struct var *vars;
	size_t var_count;
	size_t max_record;	/* --each-row's reader; 0: its default */
	struct csv_writer out;
	unsigned long rows_written;
};

/* --each-row state */
struct each {
	struct query *q;
	struct db_param *params;	/* columns first, then the constants */
	size_t columns;		/* fields in the header */
	size_t param_count;
	FILE *report;		/* row,rows_affected lines until COMMIT */
	unsigned long rows_done;
	unsigned long failed_rows;
	int status;		/* worst failure */
	int begun;		/* BEGIN TRANSACTION went through */
	char context[64];
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s [--driver tds|mysql] [-S server] [-p port] "
	    "[-D database] [-U user]\n"
	    "       (-f file | -e sql)"
	    "       [-v name[:type]=value ...] [--each-row [--max-record bytes]]\n"
	    "       [--all] [--null text]\n"
	    "       [--login-timeout seconds] [--timeout seconds] "
	    "[--encrypt off|request|require]\n"
	    "       [--ca-file file] [--verbose]\n", progname);
	exit(EX_USAGE);
}

/* NAME[:TYPE][=VALUE] */
static void
parse_var(const char *arg, struct var *v)
{
	char *spec = xstrdup(arg), *eq, *colon;

	memset(v, 0, sizeof *v);
	v->type = DB_NVARCHAR;
	if ((eq = strchr(spec, '=')) != NULL) {
		*eq = '\0';
		v->value = xstrdup(eq + 1);
	}
	if ((colon = strchr(spec, ':')) != NULL) {
		*colon = '\0';
		if (db_type_parse(colon + 1, &v->type) != 0)
			die(EX_USAGE, "-v %s: unknown type %s (int, bigint, "
			    "decimal, date, datetime, nvarchar)", spec,
			    colon + 1);
		v->typed = 1;
	}
	if (!db_name_valid(spec))
		die(EX_USAGE, "-v: %s is not a parameter name "
		    "(letters, digits, _)", spec);
	v->name = spec;
}

static char *
read_sql(const char *path)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *sql;
	size_t len;

	if (fp == NULL)
		die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s: cannot open:",
		    path);
	sql = xmalloc(SQL_MAX + 1);
	len = fread(sql, 1, SQL_MAX + 1, fp);
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", path);
	if (len > SQL_MAX)
		die(EX_DATAERR, "%s: longer than %d bytes", path, SQL_MAX);
	if (fp != stdin)
		fclose(fp);
	sql[len] = '\0';
	if (memchr(sql, '\0', len) != NULL)
		die(EX_DATAERR, "%s: a NUL byte in the SQL", path);
	return sql;
}

static void
write_header(struct query *q)
{
	int columns = db_column_count(q->db);

	for (int i = 1; i <= columns; i++)
		csv_write_str(&q->out, db_column_name(q->db, i));
	csv_write_end(&q->out);
}

/* Copies the column names, to compare the next result set with. */
static char **
save_names(struct db *db, int *count)
{
	char **names;

	*count = db_column_count(db);
	names = xcalloc((size_t)*count, sizeof *names);
	for (int i = 0; i < *count; i++)
		names[i] = xstrdup(db_column_name(db, i + 1));
	return names;
}

static void
free_names(char **names, int count)
{
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static int
same_names(struct db *db, char **names, int count)
{
	if (db_column_count(db) != count)
		return 0;
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], db_column_name(db, i + 1)) != 0)
			return 0;
	return 1;
}

/* Writes rows of the current result set; 0, or -1 when reading failed. */
static int
write_rows(struct query *q)
{
	int columns = db_column_count(q->db), rc;

	while ((rc = db_next_row(q->db)) == 1) {
		for (int i = 1; i <= columns; i++) {
			size_t len;
			const char *cell = db_cell(q->db, i, &len);

			if (cell == NULL)
				csv_write_str(&q->out, q->null_text);
			else
				csv_write_field(&q->out, cell, len);
		}
		csv_write_end(&q->out);
		q->rows_written++;
	}
	return rc;
}

static int
run_once(struct query *q)
{
	struct db_param *params = xcalloc(q->var_count + 1, sizeof *params);
	char **names = NULL;
	int name_count = 0, sets = 0, status, rc;

	for (size_t i = 0; i < q->var_count; i++) {
		params[i].name = q->vars[i].name;
		params[i].type = q->vars[i].type;
		params[i].value = q->vars[i].value;
		params[i].len = strlen(q->vars[i].value);
	}
	status = db_execute(q->db, q->sql, params, q->var_count);
	while (status == 0 && (rc = db_next_result(q->db)) == 1) {
		if (db_column_count(q->db) == 0)
			continue;
		if (sets > 0 && !q->all && !same_names(q->db, names,
		    name_count)) {
			warn("result set %d has other columns than the first; "
			    "--all prints every result set", sets + 1);
			status = EX_DATAERR;
			break;
		}
		if (sets == 0 || q->all) {
			if (sets > 0)
				csv_write_end(&q->out);
			write_header(q);
		}
		if (sets == 0)
			names = save_names(q->db, &name_count);
		sets++;
		if (write_rows(q) < 0)
			break;
	}
	status = worst_status(status, db_status(q->db));
	if (status != 0 && q->rows_written > 0)
		warn("incomplete result: failed after %lu %s", q->rows_written,
		    q->rows_written == 1 ? "row" : "rows");
	free_names(names, name_count);
	free(params);
	return status;
}

/* FNV-1a, for the header's names. */
static size_t
name_hash(const char *s)
{
	size_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * The first column whose name an earlier column has, 0-based, or count
 * when none: one pass over a hash table, so a long header costs its
 * length, not its square.
 */
static size_t
duplicate_column(struct csv_row *row)
{
	size_t size = 16, found = row->count;
	const char **slot;

	while (size < row->count * 2)
		size *= 2;
	slot = xcalloc(size, sizeof *slot);
	for (size_t i = 0; i < row->count && found == row->count; i++) {
		size_t at = name_hash(row->field[i]) & (size - 1);

		for (; slot[at] != NULL; at = (at + 1) & (size - 1))
			if (strcmp(slot[at], row->field[i]) == 0) {
				found = i;
				break;
			}
		slot[at] = row->field[i];
	}
	free(slot);
	return found;
}

/* Header: each column becomes @column, typed by a -v NAME:TYPE. */
static int
each_header(struct each *e, struct csv_row *row)
{
	struct query *q = e->q;
	size_t n = 0, constants = 0, dup;

	for (size_t j = 0; j < q->var_count; j++)
		if (q->vars[j].value != NULL)
			constants++;
	if (row->count + constants > DB_PARAM_MAX) {
		warn("stdin: header: %zu columns and %zu -v values make %zu "
		    "parameters; at most %d", row->count, constants,
		    row->count + constants, DB_PARAM_MAX);
		return EX_DATAERR;
	}
	for (size_t i = 0; i < row->count; i++)
		if (!db_name_valid(row->field[i])) {
			warn("stdin: header, column %zu: not a parameter name "
			    "(letters, digits, _)", i + 1);
			return EX_DATAERR;
		}
	if ((dup = duplicate_column(row)) < row->count) {
		warn("stdin: header, column %zu: %s appears twice", dup + 1,
		    row->field[dup]);
		return EX_DATAERR;
	}
	e->columns = row->count;
	e->params = xcalloc(row->count + q->var_count, sizeof *e->params);
	for (size_t i = 0; i < row->count; i++) {
		struct db_param *pm = &e->params[n++];

		pm->name = xstrdup(row->field[i]);
		pm->type = DB_NVARCHAR;
		for (size_t j = 0; j < q->var_count; j++) {
			if (strcmp(q->vars[j].name, pm->name) != 0)
				continue;
			if (q->vars[j].value != NULL) {
				warn("stdin: header, column %zu: %s is also "
				    "given a value with -v", i + 1, pm->name);
				return EX_DATAERR;
			}
			pm->type = q->vars[j].type;
		}
	}
	for (size_t j = 0; j < q->var_count; j++) {
		if (q->vars[j].value == NULL)
			continue;
		e->params[n].name = q->vars[j].name;
		e->params[n].type = q->vars[j].type;
		e->params[n].value = q->vars[j].value;
		e->params[n].len = strlen(q->vars[j].value);
		n++;
	}
	e->param_count = n;
	if (db_begin(q->db) != 0)
		return db_status(q->db) != 0 ? db_status(q->db) : EX_SOFTWARE;
	e->begun = 1;
	return 0;
}

static int
each_row(struct csv_row *row, void *ctx)
{
	struct each *e = ctx;
	struct db *db = e->q->db;
	long affected = 0;
	int bad = 0;

	if (row->record == 1)
		return each_header(e, row);
	if (row->count != e->columns) {
		warn("stdin: row %lu: %zu fields where the header has %zu",
		    row->row, row->count, e->columns);
		e->failed_rows++;
		e->status = worst_status(e->status, EX_DATAERR);
		return 0;
	}
	for (size_t i = 0; i < e->columns; i++) {
		struct db_param *pm = &e->params[i];

		pm->value = row->field[i];
		pm->len = row->len[i];
		if (!db_value_valid(pm->type, pm->value, pm->len)) {
			warn("stdin: row %lu, column %s: not a valid %s",
			    row->row, pm->name, db_type_name(pm->type));
			bad = 1;
		}
	}
	if (bad) {
		e->failed_rows++;
		e->status = worst_status(e->status, EX_DATAERR);
		return 0;
	}
	/* After a failure the rest is only checked: it all rolls back. */
	if (e->status != 0)
		return 0;
	snprintf(e->context, sizeof e->context, "row %lu: ", row->row);
	db_set_context(db, e->context);
	if (db_execute(db, e->q->sql, e->params, e->param_count) == 0 &&
	    db_drain(db) == 0)
		affected = db_result_count(db);
	db_set_context(db, NULL);
	if (db_status(db) != 0) {
		e->failed_rows++;
		e->status = worst_status(e->status, db_status(db));
		/* The server rolls back what it cannot confirm: stop. */
		return db_dead(db) ? EX_TEMPFAIL : 0;
	}
	if (affected < 0)
		fprintf(e->report, "%lu,\n", row->row);
	else
		fprintf(e->report, "%lu,%ld\n", row->row, affected);
	e->rows_done++;
	return 0;
}

static int
copy_report(FILE *report)
{
	char buf[8192];
	size_t n;

	rewind(report);
	fputs("row,rows_affected\n", stdout);
	while ((n = fread(buf, 1, sizeof buf, report)) > 0)
		fwrite(buf, 1, n, stdout);
	if (ferror(report)) {
		warn("cannot read back the row report:");
		return EX_IOERR;
	}
	return 0;
}

static int
run_each_row(struct query *q)
{
	struct csv_read_opts opts = { .has_header = 1,
	    .max_record = q->max_record };
	struct each e = { .q = q };
	int status;

	if ((e.report = tmpfile()) == NULL) {
		warn("cannot create a temporary file:");
		return EX_CANTCREAT;
	}
	status = csv_read(stdin, "stdin", &opts, each_row, &e);
	if (e.params == NULL && status == 0) {
		warn("stdin: no header row");
		status = EX_DATAERR;
	}
	status = worst_status(status, e.status);
	if (e.begun && status == 0) {
		if (db_commit(q->db) != 0) {
			status = db_status(q->db);
			if (db_dead(q->db))
				warn("connection lost during COMMIT: whether "
				    "the %lu rows were committed is unknown",
				    e.rows_done);
			else
				warn("COMMIT failed: no row was committed");
		} else {
			status = copy_report(e.report);
		}
	} else if (e.begun) {
		if (!db_dead(q->db) && db_rollback(q->db) != 0)
			status = worst_status(status, db_status(q->db));
		if (e.failed_rows > 0)
			warn("%lu %s failed: every row rolled back, nothing "
			    "committed", e.failed_rows,
			    e.failed_rows == 1 ? "row" : "rows");
		else
			warn("every row rolled back, nothing committed");
	}
	fclose(e.report);
	if (e.params != NULL)
		for (size_t i = 0; i < e.columns; i++)
			free((char *)e.params[i].name);
	free(e.params);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		DBOPT_LONG,
		{ "file", required_argument, NULL, 'f' },
		{ "execute", required_argument, NULL, 'e' },
		{ "var", required_argument, NULL, 'v' },
		{ "each-row", no_argument, NULL, OPT_EACH_ROW },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "null", required_argument, NULL, OPT_NULL },
		{ "max-record", required_argument, NULL, OPT_MAX_RECORD },
		{ NULL, 0, NULL, 0 }
	};
	struct db_settings settings;
	struct query q = { .null_text = "" };
	const char *file = NULL, *text = NULL;
	int each = 0, c, status;
	size_t var_cap = 0;

	setprogname(argv[0]);
	db_settings_init(&settings);
	while ((c = opt_next(argc, argv, "+" DBOPT_SHORT "f:e:v:", longopts,
	    NULL)) != -1) {
		if (dbopt_apply(&settings, c, optarg))
			continue;
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'e':
			text = optarg;
			break;
		case 'v':
			if (q.var_count == var_cap) {
				var_cap = var_cap ? var_cap * 2 : 8;
				q.vars = xreallocarray(q.vars, var_cap,
				    sizeof *q.vars);
			}
			parse_var(optarg, &q.vars[q.var_count++]);
			break;
		case OPT_EACH_ROW:
			each = 1;
			break;
		case OPT_ALL:
			q.all = 1;
			break;
		case OPT_NULL:
			q.null_text = optarg;
			break;
		case OPT_MAX_RECORD:
			q.max_record = opt_size("--max-record", optarg,
			    OPT_RECORD_MIN, OPT_RECORD_MAX);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || (file == NULL) == (text == NULL))
		usage();
	if (q.var_count > DB_PARAM_MAX)
		die(EX_DATAERR, "%zu -v parameters; at most %d", q.var_count,
		    DB_PARAM_MAX);
	for (size_t i = 0; i < q.var_count; i++) {
		struct var *v = &q.vars[i];

		for (size_t j = 0; j < i; j++)
			if (strcmp(q.vars[j].name, v->name) == 0)
				die(EX_USAGE, "-v %s: given twice", v->name);
		if (v->value == NULL && !each)
			die(EX_USAGE, "-v %s: needs =VALUE (a bare NAME:TYPE "
			    "is for --each-row)", v->name);
		if (v->value == NULL && !v->typed)
			die(EX_USAGE, "-v %s: needs :TYPE or =VALUE", v->name);
		if (v->value != NULL && !db_value_valid(v->type, v->value,
		    strlen(v->value)))
			die(EX_DATAERR, "-v %s: not a valid %s", v->name,
			    db_type_name(v->type));
	}
	if (each && file != NULL && strcmp(file, "-") == 0)
		die(EX_USAGE, "-f -: stdin carries the rows with --each-row");
	q.sql = file != NULL ? read_sql(file) : text;
	if (!utf8_valid((const unsigned char *)q.sql, strlen(q.sql)))
		die(EX_DATAERR, "%s: the SQL is not valid UTF-8",
		    file != NULL ? file : "-e");
	if (q.sql[strspn(q.sql, " \t\r\n")] == '\0')
		die(EX_DATAERR, "%s: no SQL", file != NULL ? file : "-e");

	if ((status = db_connect(&settings, &q.db)) != 0)
		return status;
	csv_writer_init(&q.out, stdout);
	status = each ? run_each_row(&q) : run_once(&q);
	db_close(q.db);
	if (file != NULL)
		free((char *)q.sql);
	for (size_t i = 0; i < q.var_count; i++) {
		free(q.vars[i].name);
		free(q.vars[i].value);
	}
	free(q.vars);
	finish_stdout();
	return status;
}
