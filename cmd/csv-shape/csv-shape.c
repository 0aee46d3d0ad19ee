/* csv-shape: turn CSV into the dialect and columns a partner expects */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "csvio.h"
#include "err.h"
#include "mem.h"
#include "opt.h"
#include "schema.h"
#include "wordfile.h"

#define DEFAULT_MAX_ERRORS 100
#define DATE_BUF 256

struct rename {
	char *from, *to;
};

/* A column csv-shape adds (--set, --row-number) or overwrites. */
struct added {
	char *name;
	char *value;		/* NULL for the row counter */
	size_t index;
};

struct date_opt {
	char *column;
	char *format;
	size_t index;
	char buf[DATE_BUF];
};

struct shape {
	/* input */
	unsigned char in_delim;
	int no_header, skip_empty, trim, pad, truncate;
	char **names;
	size_t names_count;
	/* columns */
	char **select;
	size_t select_count;
	struct rename *rename;
	size_t rename_count;
	struct added *added;
	size_t added_count;
	struct date_opt *date;
	size_t date_count;
	char *date_in;
	struct schema schema;
	int have_schema;
	unsigned long max_errors;
	size_t max_record;	/* 0: the reader's default */
	/* output */
	unsigned char out_delim;
	int no_header_out, crlf, bom, quote_all, excel_safe;
	char *write_path;

	/* the plan, made from the header */
	const char *input_name;
	int planned;
	char **column;		/* input columns, then added ones */
	size_t in_count, ext_count;
	size_t *out_index;
	size_t out_count;
	size_t *used;		/* the input columns a row reads, in order */
	size_t used_count;
	const char **value;	/* the current row, by column */
	size_t *value_len;
	char counter[24];
	size_t counter_len;
	unsigned long out_rows;
	unsigned long errors;
	struct csv_writer w;
	char *scratch;
	size_t scratch_cap;
};

enum {
	OPT_NO_HEADER = 256,
	OPT_NAMES,
	OPT_SKIP_EMPTY,
	OPT_TRIM,
	OPT_PAD,
	OPT_TRUNCATE,
	OPT_SET,
	OPT_ROW_NUMBER,
	OPT_DATE,
	OPT_DATE_IN,
	OPT_SCHEMA,
	OPT_MAX_ERRORS,
	OPT_NO_HEADER_OUT,
	OPT_CRLF,
	OPT_BOM,
	OPT_QUOTE,
	OPT_EXCEL_SAFE,
	OPT_MAX_RECORD
};

static const char optstring[] = "+c:d:F:o:r:w:";

static const struct option long_options[] = {
	{ "columns", required_argument, NULL, 'c' },
	{ "delimiter", required_argument, NULL, 'd' },
	{ "profile", required_argument, NULL, 'F' },
	{ "output-delimiter", required_argument, NULL, 'o' },
	{ "rename", required_argument, NULL, 'r' },
	{ "write", required_argument, NULL, 'w' },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "names", required_argument, NULL, OPT_NAMES },
	{ "skip-empty", no_argument, NULL, OPT_SKIP_EMPTY },
	{ "trim", no_argument, NULL, OPT_TRIM },
	{ "pad", no_argument, NULL, OPT_PAD },
	{ "truncate", no_argument, NULL, OPT_TRUNCATE },
	{ "set", required_argument, NULL, OPT_SET },
	{ "row-number", required_argument, NULL, OPT_ROW_NUMBER },
	{ "date", required_argument, NULL, OPT_DATE },
	{ "date-in", required_argument, NULL, OPT_DATE_IN },
	{ "schema", required_argument, NULL, OPT_SCHEMA },
	{ "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
	{ "no-header-out", no_argument, NULL, OPT_NO_HEADER_OUT },
	{ "crlf", no_argument, NULL, OPT_CRLF },
	{ "bom", no_argument, NULL, OPT_BOM },
	{ "quote", required_argument, NULL, OPT_QUOTE },
	{ "excel-safe", no_argument, NULL, OPT_EXCEL_SAFE },
	{ "max-record", required_argument, NULL, OPT_MAX_RECORD },
	{ NULL, 0, NULL, 0 }
};

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: %s [-F profile] [-d delim] [--no-header [--names a,b,...]]\n"
	    "       [--skip-empty] [--trim] [--pad] [--truncate]\n"
	    "       [-r old=new]... [--set name=value]... [--row-number name]...\n"
	    "       [--date column=format]... [--date-in format]\n"
	    "       [--schema file] [--max-errors n] [--max-record bytes]\n"
	    "       [-c a,b,...]\n"
	    "       [-o delim] [--no-header-out] [--crlf] [--bom]\n"
	    "       [--quote minimal|all] [--excel-safe] [-w file] [file]\n",
	    progname);
	exit(EX_USAGE);
}

/*
 * A bad option value: a usage error on the command line (origin NULL),
 * a configuration error in a profile (origin "path:line").
 */
static _Noreturn void
bad_value(const char *origin, const char *option, const char *why)
{
	if (origin != NULL)
		die(EX_CONFIG, "%s: %s: %s", origin, option, why);
	warn("%s: %s", option, why);
	usage();
}

static char **
split_list(const char *arg, size_t *count)
{
	char **item = NULL;
	const char *p = arg;

	*count = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

		item = xreallocarray(item, *count + 1, sizeof *item);
		item[(*count)++] = xstrndup(p, len);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return item;
}

static void
free_list(char **item, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(item[i]);
	free(item);
}

/* Splits NAME=VALUE; the name must not be empty. */
static int
split_pair(const char *arg, char **name, char **value)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return -1;
	*name = xstrndup(arg, (size_t)(eq - arg));
	*value = xstrdup(eq + 1);
	return 0;
}

static void load_profile(struct shape *s, const char *path);

static void
apply_option(struct shape *s, int opt, const char *arg, const char *option,
    const char *origin)
{
	char *name, *value;

	switch (opt) {
	case 'c':
		free_list(s->select, s->select_count);
		s->select = split_list(arg, &s->select_count);
		for (size_t i = 0; i < s->select_count; i++)
			if (*s->select[i] == '\0')
				bad_value(origin, option, "empty column name");
		break;
	case 'd':
		if ((s->in_delim = csv_parse_delim(arg)) == 0)
			bad_value(origin, option, "not a delimiter");
		break;
	case 'o':
		if ((s->out_delim = csv_parse_delim(arg)) == 0)
			bad_value(origin, option, "not a delimiter");
		break;
	case 'F':
		if (origin != NULL)
			bad_value(origin, option, "not allowed in a profile");
		load_profile(s, arg);
		break;
	case 'r':
		if (split_pair(arg, &name, &value) != 0 || *value == '\0')
			bad_value(origin, option, "expected old=new");
		s->rename = xreallocarray(s->rename, s->rename_count + 1,
		    sizeof *s->rename);
		s->rename[s->rename_count].from = name;
		s->rename[s->rename_count++].to = value;
		break;
	case 'w':
		free(s->write_path);
		s->write_path = xstrdup(arg);
		break;
	case OPT_NO_HEADER:
		s->no_header = 1;
		break;
	case OPT_NAMES:
		free_list(s->names, s->names_count);
		s->names = split_list(arg, &s->names_count);
		break;
	case OPT_SKIP_EMPTY:
		s->skip_empty = 1;
		break;
	case OPT_TRIM:
		s->trim = 1;
		break;
	case OPT_PAD:
		s->pad = 1;
		break;
	case OPT_TRUNCATE:
		s->truncate = 1;
		break;
	case OPT_SET:
	case OPT_ROW_NUMBER:
		if (opt == OPT_SET) {
			if (split_pair(arg, &name, &value) != 0)
				bad_value(origin, option, "expected name=value");
		} else {
			if (*arg == '\0')
				bad_value(origin, option, "empty column name");
			name = xstrdup(arg);
			value = NULL;
		}
		s->added = xreallocarray(s->added, s->added_count + 1,
		    sizeof *s->added);
		s->added[s->added_count].name = name;
		s->added[s->added_count++].value = value;
		break;
	case OPT_DATE: {
		struct date_opt *d;
		struct tm tm;
		char probe[DATE_BUF];

		if (split_pair(arg, &name, &value) != 0 || *value == '\0')
			bad_value(origin, option, "expected column=format");
		parse_iso("2000-01-01 00:00:00", ISO_DATETIME, &tm);
		if (strftime(probe, sizeof probe, value, &tm) == 0)
			bad_value(origin, option, "format gives nothing or "
			    "too much");
		s->date = xreallocarray(s->date, s->date_count + 1,
		    sizeof *s->date);
		d = &s->date[s->date_count++];
		d->column = name;
		d->format = value;
		break;
	}
	case OPT_DATE_IN:
		if (*arg == '\0')
			bad_value(origin, option, "empty format");
		free(s->date_in);
		s->date_in = xstrdup(arg);
		break;
	case OPT_SCHEMA:
		if (s->have_schema)
			bad_value(origin, option, "only one schema");
		if (origin != NULL && arg[0] != '/') {
			/* Relative to the profile, which sits beside it. */
			char *copy = xstrdup(origin);
			char *path = xasprintf("%s/%s", dirname(copy), arg);

			schema_load(&s->schema, path);
			free(path);
			free(copy);
		} else
			schema_load(&s->schema, arg);
		s->have_schema = 1;
		break;
	case OPT_MAX_RECORD:
		if (opt_size_parse(arg, OPT_RECORD_MIN, OPT_RECORD_MAX,
		    &s->max_record) != 0)
			bad_value(origin, option, "want a size in bytes from "
			    "1K to 4G (K, M or G may follow)");
		break;
	case OPT_MAX_ERRORS: {
		char *end;

		errno = 0;
		s->max_errors = strtoul(arg, &end, 10);
		if (errno != 0 || *end != '\0' || *arg < '0' || *arg > '9')
			bad_value(origin, option, "not a number");
		break;
	}
	case OPT_NO_HEADER_OUT:
		s->no_header_out = 1;
		break;
	case OPT_CRLF:
		s->crlf = 1;
		break;
	case OPT_BOM:
		s->bom = 1;
		break;
	case OPT_QUOTE:
		if (strcmp(arg, "minimal") == 0)
			s->quote_all = 0;
		else if (strcmp(arg, "all") == 0)
			s->quote_all = 1;
		else
			bad_value(origin, option, "expected minimal or all");
		break;
	case OPT_EXCEL_SAFE:
		s->excel_safe = 1;
		break;
	default:
		usage();
	}
}

/* Finds a profile line's option in the same tables getopt uses. */
static int
lookup_option(const char *token, int *has_arg)
{
	if (token[0] == '-' && token[1] == '-') {
		for (const struct option *o = long_options; o->name; o++)
			if (strcmp(token + 2, o->name) == 0) {
				*has_arg = o->has_arg == required_argument;
				return o->val;
			}
		return -1;
	}
	if (token[0] == '-' && token[1] != '\0' && token[1] != ':' &&
	    token[2] == '\0') {
		const char *p = strchr(optstring + 1, token[1]);

		if (p == NULL)
			return -1;
		*has_arg = p[1] == ':';
		return token[1];
	}
	return -1;
}

/*
 * A profile holds one option a line, as on the command line: the option,
 * blanks, then the rest of the line is its value ("--name=value" works
 * too). Blank lines and lines starting with # are skipped.
 */
static void
load_profile(struct shape *s, const char *path)
{
	struct wordfile wf;
	char *p;

	wordfile_open(&wf, path);
	while ((p = wordfile_next(&wf)) != NULL) {
		char *value = p + strcspn(p, " \t=");
		int opt, has_arg = 0;

		if (*value == '=' && p[1] == '-') {
			*value++ = '\0';
		} else if (*value == '=') {
			die(EX_CONFIG, "%s: expected an option", wf.where);
		} else {
			value = wordfile_split(p);
			if (*value == '\0')
				value = NULL;
		}
		if ((opt = lookup_option(p, &has_arg)) < 0)
			die(EX_CONFIG, "%s: unknown option %s", wf.where, p);
		if (has_arg && value == NULL)
			die(EX_CONFIG, "%s: %s needs a value", wf.where, p);
		if (!has_arg && value != NULL)
			die(EX_CONFIG, "%s: %s takes no value", wf.where, p);
		apply_option(s, opt, value, p, wf.where);
	}
	wordfile_close(&wf);
}

/* A name wins; otherwise a 1-based number. SIZE_MAX when neither. */
static size_t
find_column(char *const *column, size_t count, const char *name)
{
	char *end;
	unsigned long n;

	for (size_t i = 0; i < count; i++)
		if (strcmp(column[i], name) == 0)
			return i;
	if (*name < '1' || *name > '9')
		return SIZE_MAX;
	errno = 0;
	n = strtoul(name, &end, 10);
	if (errno != 0 || *end != '\0' || n > count)
		return SIZE_MAX;
	return n - 1;
}

static void
put_cell(struct shape *s, const char *value, size_t len)
{
	if (s->excel_safe && len > 0 && strchr("=+-@\t\r", *value) != NULL) {
		/* CSV injection: a spreadsheet would run it as a formula. */
		if (s->scratch_cap < len + 1) {
			s->scratch_cap = len + 1;
			s->scratch = xrealloc(s->scratch, s->scratch_cap);
		}
		s->scratch[0] = '\'';
		memcpy(s->scratch + 1, value, len);
		value = s->scratch;
		len++;
	}
	csv_write_field(&s->w, value, len);
}

static void
trim(char **field, size_t *len)
{
	char *p = *field;
	size_t n = *len;

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	p[n] = '\0';
	*field = p;
	*len = n;
}

static void
missing(struct shape *s, const char *name, const char *why)
{
	warn("%s: no column %s%s", s->input_name, name, why);
}

/* Which input columns each row reads: written, checked or reformatted. */
static void
plan_used(struct shape *s)
{
	unsigned char *read = xcalloc(s->in_count + 1, 1);

	for (size_t i = 0; i < s->out_count; i++)
		if (s->out_index[i] < s->in_count)
			read[s->out_index[i]] = 1;
	for (size_t i = 0; i < s->schema.count; i++)
		if (s->schema.rule[i].present &&
		    s->schema.rule[i].index < s->in_count)
			read[s->schema.rule[i].index] = 1;
	for (size_t i = 0; i < s->date_count; i++)
		if (s->date[i].index < s->in_count)
			read[s->date[i].index] = 1;
	s->used = xcalloc(s->in_count + 1, sizeof *s->used);
	s->used_count = 0;
	for (size_t i = 0; i < s->in_count; i++)
		if (read[i])
			s->used[s->used_count++] = i;
	free(read);
}

/*
 * Names the columns (from the header, --names or by number), then works
 * out once where each option's column is. Returns an exit status.
 */
static int
plan(struct shape *s, char **field, size_t count)
{
	int status = 0;
	size_t i;

	s->planned = 1;
	s->in_count = count;
	s->column = xcalloc(count + s->added_count, sizeof *s->column);
	for (i = 0; i < count; i++)
		s->column[i] = field != NULL ? xstrdup(field[i]) :
		    xasprintf("%zu", i + 1);

	for (i = 0; i < s->rename_count; i++) {
		size_t at = find_column(s->column, count, s->rename[i].from);

		if (at == SIZE_MAX) {
			missing(s, s->rename[i].from, " to rename");
			status = EX_DATAERR;
			continue;
		}
		free(s->column[at]);
		s->column[at] = xstrdup(s->rename[i].to);
	}

	s->ext_count = count;
	for (i = 0; i < s->added_count; i++) {
		struct added *a = &s->added[i];
		size_t at;

		for (at = 0; at < s->ext_count; at++)
			if (strcmp(s->column[at], a->name) == 0)
				break;
		if (at == s->ext_count)
			s->column[s->ext_count++] = xstrdup(a->name);
		a->index = at;
	}

	for (i = 0; i < s->schema.count; i++) {
		struct rule *r = &s->schema.rule[i];

		r->index = find_column(s->column, s->ext_count, r->column);
		r->present = r->index != SIZE_MAX;
		if (!r->present && r->required) {
			missing(s, r->column, " (required by the schema)");
			status = EX_DATAERR;
		}
	}

	for (i = 0; i < s->date_count; i++) {
		struct date_opt *d = &s->date[i];

		d->index = find_column(s->column, s->ext_count, d->column);
		if (d->index == SIZE_MAX) {
			missing(s, d->column, " for --date");
			status = EX_DATAERR;
		}
	}

	if (s->select_count > 0) {
		s->out_count = s->select_count;
		s->out_index = xcalloc(s->out_count, sizeof *s->out_index);
		for (i = 0; i < s->select_count; i++) {
			s->out_index[i] = find_column(s->column, s->ext_count,
			    s->select[i]);
			if (s->out_index[i] == SIZE_MAX) {
				missing(s, s->select[i], "");
				status = EX_DATAERR;
			}
		}
	} else {
		s->out_count = s->ext_count;
		s->out_index = xcalloc(s->out_count, sizeof *s->out_index);
		for (i = 0; i < s->out_count; i++)
			s->out_index[i] = i;
	}
	if (status != 0)
		return status;

	s->value = xcalloc(s->ext_count, sizeof *s->value);
	s->value_len = xcalloc(s->ext_count, sizeof *s->value_len);
	plan_used(s);
	if (s->bom) {
		csv_writer_flush(&s->w);
		fwrite_unlocked("\xEF\xBB\xBF", 1, 3, s->w.fp);
	}
	if (!s->no_header_out) {
		for (i = 0; i < s->out_count; i++)
			put_cell(s, s->column[s->out_index[i]],
			    strlen(s->column[s->out_index[i]]));
		csv_write_end(&s->w);
	}
	return 0;
}

/* A bad value: counted, said in input order (the first --max-errors). */
static void
report(struct shape *s, const struct csv_row *row, size_t column,
    const char *why)
{
	csv_row_warn(row, 1, ", column %s: %s", s->column[column], why);
}

static void
reformat_date(struct shape *s, struct date_opt *d, const struct csv_row *row)
{
	const char *value = s->value[d->index];
	struct tm tm;
	int ok;

	if (s->value_len[d->index] == 0)
		return;
	if (s->date_in != NULL)
		ok = parse_format(value, s->date_in, &tm);
	else
		ok = parse_iso(value, ISO_DATE | ISO_DATETIME, &tm);
	if (!ok) {
		report(s, row, d->index, s->date_in != NULL ?
		    "does not match --date-in" : "not an ISO 8601 date");
		return;
	}
	s->value_len[d->index] = strftime(d->buf, sizeof d->buf, d->format,
	    &tm);
	s->value[d->index] = d->buf;
}

/*
 * Every record, the header too; in input order within a chunk, on the
 * chunk's worker, with that worker's copy of the shape.
 */
static int
shape_row(struct csv_row *row, void *ctx)
{
	struct shape *s = ctx;
	size_t count = row->count, i;
	int status;

	if (s->trim)
		for (i = 0; i < count; i++)
			trim(&row->field[i], &row->len[i]);
	if (!s->planned && !s->no_header)
		return plan(s, row->field, count);
	if (s->skip_empty) {
		for (i = 0; i < count && row->len[i] == 0; i++)
			;
		if (i == count)
			return 0;
	}
	if (!s->planned) {
		status = s->names_count > 0 ? plan(s, s->names, s->names_count)
		    : plan(s, NULL, count);
		if (status != 0)
			return status;
	}
	if (count != s->in_count &&
	    !(count < s->in_count && s->pad) &&
	    !(count > s->in_count && s->truncate)) {
		csv_row_warn(row, 0, ": %zu fields, the header has %zu",
		    count, s->in_count);
		return EX_DATAERR;
	}
	for (size_t k = 0; k < s->used_count; k++) {
		i = s->used[k];
		if (i < count) {
			s->value[i] = row->field[i];
			s->value_len[i] = row->len[i];
		} else {	/* --pad */
			s->value[i] = "";
			s->value_len[i] = 0;
		}
	}
	s->out_rows++;
	for (i = 0; i < s->added_count; i++)
		if (s->added[i].value != NULL) {
			/* again each row: --date may have replaced it */
			s->value[s->added[i].index] = s->added[i].value;
			s->value_len[s->added[i].index] =
			    strlen(s->added[i].value);
		} else {
			if (s->counter_len == 0)
				s->counter_len = (size_t)snprintf(s->counter,
				    sizeof s->counter, "%lu", s->out_rows);
			s->value[s->added[i].index] = s->counter;
			s->value_len[s->added[i].index] = s->counter_len;
		}
	s->counter_len = 0;
	for (i = 0; i < s->schema.count; i++) {
		const struct rule *r = &s->schema.rule[i];
		const char *why;

		if (r->present && (why = rule_check(r, s->value[r->index],
		    s->value_len[r->index])) != NULL)
			report(s, row, r->index, why);
	}
	for (i = 0; i < s->date_count; i++)
		reformat_date(s, &s->date[i], row);
	for (i = 0; i < s->out_count; i++)
		put_cell(s, s->value[s->out_index[i]],
		    s->value_len[s->out_index[i]]);
	csv_write_end(&s->w);
	return 0;
}

/* csv_read_chunks' hooks: where rows write, and a copy per worker. */
static void
shape_output(void *ctx, FILE *fp)
{
	struct shape *s = ctx;

	if (fp == NULL) {
		csv_writer_flush(&s->w);
		return;
	}
	s->w.fp = fp;
	s->w.fields_in_row = 0;
}

static int
shape_ready(void *ctx)
{
	return ((struct shape *)ctx)->planned;
}

/* The plan is shared and read only; the row's working space is not. */
static void *
shape_fork(void *ctx)
{
	struct shape *s = ctx, *t = xmalloc(sizeof *t);

	*t = *s;
	t->value = xcalloc(s->ext_count, sizeof *t->value);
	t->value_len = xcalloc(s->ext_count, sizeof *t->value_len);
	t->date = xreallocarray(NULL, s->date_count + 1, sizeof *t->date);
	if (s->date_count > 0)
		memcpy(t->date, s->date, s->date_count * sizeof *t->date);
	t->scratch = NULL;
	t->scratch_cap = 0;
	return t;
}

static void
shape_unfork(void *ctx)
{
	struct shape *t = ctx;

	free(t->value);
	free(t->value_len);
	free(t->date);
	free(t->scratch);
	free(t);
}

/* Workers: csv_workers(); one when rows are numbered, since the count
 * runs through every row. */
static unsigned
shape_workers(const struct shape *s)
{
	for (size_t i = 0; i < s->added_count; i++)
		if (s->added[i].value == NULL)
			return 1;
	return csv_workers();
}

static void
free_shape(struct shape *s)
{
	free_list(s->names, s->names_count);
	free_list(s->select, s->select_count);
	for (size_t i = 0; i < s->rename_count; i++) {
		free(s->rename[i].from);
		free(s->rename[i].to);
	}
	free(s->rename);
	for (size_t i = 0; i < s->added_count; i++) {
		free(s->added[i].name);
		free(s->added[i].value);
	}
	free(s->added);
	for (size_t i = 0; i < s->date_count; i++) {
		free(s->date[i].column);
		free(s->date[i].format);
	}
	free(s->date);
	free(s->date_in);
	free(s->write_path);
	if (s->column != NULL)
		free_list(s->column, s->ext_count);
	free(s->out_index);
	free(s->value);
	free(s->value_len);
	free(s->used);
	free(s->scratch);
	schema_free(&s->schema);
}

int
main(int argc, char *argv[])
{
	static const struct csv_chunk_ops ops = {
		.row = shape_row,
		.output = shape_output,
		.ready = shape_ready,
		.fork = shape_fork,
		.unfork = shape_unfork
	};
	struct shape s = { .max_errors = DEFAULT_MAX_ERRORS };
	struct csv_chunks_opts read_opts = { 0 };
	struct atomic_file af;
	FILE *in = stdin, *out;
	int opt, status;

	setprogname(argv[0]);
	while ((opt = opt_next(argc, argv, optstring, long_options,
	    NULL)) != -1) {
		char option[32] = "-?";

		if (opt == '?')
			usage();
		if (opt < 256)
			option[1] = (char)opt;
		else
			for (const struct option *o = long_options; o->name; o++)
				if (o->val == opt)
					snprintf(option, sizeof option, "--%s",
					    o->name);
		apply_option(&s, opt, optarg, option, NULL);
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (s.names_count > 0 && !s.no_header) {
		warn("--names needs --no-header");
		usage();
	}

	s.input_name = "stdin";
	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		s.input_name = argv[0];
		if ((in = fopen(argv[0], "r")) == NULL)
			die(EX_NOINPUT, "%s:", argv[0]);
	}
	if (s.write_path != NULL) {
		if (atomic_open(&af, s.write_path, 0600) != 0)
			die(EX_CANTCREAT, "%s:", s.write_path);
		out = af.fp;
	} else {
		setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
		out = stdout;
	}
	csv_writer_init(&s.w, out);
	if (s.out_delim != 0)
		csv_writer_set_delim(&s.w, s.out_delim);
	s.w.quote_all = s.quote_all;
	s.w.crlf = s.crlf;
	s.w.hold = 1;	/* each chunk's rows, flushed at its end */

	read_opts.read.delim = s.in_delim;
	read_opts.read.has_header = !s.no_header;
	read_opts.read.max_record = s.max_record;
	read_opts.workers = shape_workers(&s);
	read_opts.max_counted = s.max_errors;
	status = csv_read_chunks(in, s.input_name, out, &read_opts, &ops, &s,
	    &s.errors);
	if (in != stdin)
		fclose(in);
	/* A plan made at the end (--names, no rows) writes the header here. */
	s.w.fp = out;

	if (status == 0 && !s.planned) {
		if (!s.no_header) {
			warn("%s: no header row", s.input_name);
			status = EX_DATAERR;
		} else if (s.names_count > 0)
			status = plan(&s, s.names, s.names_count);
	}
	csv_writer_flush(&s.w);
	if (s.max_errors > 0 && s.errors > s.max_errors)
		warn("%s: %lu more errors not shown", s.input_name,
		    s.errors - s.max_errors);
	if (status == 0 && s.errors > 0)
		status = EX_DATAERR;

	if (s.write_path != NULL) {
		if (status != 0)
			atomic_abort(&af);
		else if (atomic_commit(&af, 0) != 0)
			die(EX_IOERR, "%s:", s.write_path);
	}
	free_shape(&s);
	finish_stdout();
	return status;
}
