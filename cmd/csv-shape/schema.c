/* schema.c: csv-shape's schema file, value checks and date parsing */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "date.h"
#include "err.h"
#include "mem.h"
#include "schema.h"

/* The schema is itself a CSV file; these are its columns. */
enum schema_field {
	SF_COLUMN,
	SF_TYPE,
	SF_ARG,
	SF_REQUIRED,
	SF_NOT_EMPTY,
	SF_MAX_LENGTH,
	SF_COUNT
};

static const char *const schema_field_name[SF_COUNT] = {
	"column", "type", "arg", "required", "not_empty", "max_length"
};

static const char *const type_name[] = {
	[TYPE_TEXT] = "text",
	[TYPE_INT] = "int",
	[TYPE_DECIMAL] = "decimal",
	[TYPE_DATE] = "date",
	[TYPE_DATETIME] = "datetime",
	[TYPE_TIME] = "time",
	[TYPE_ENUM] = "enum",
	[TYPE_REGEX] = "regex",
};

struct schema_reader {
	struct schema *schema;
	const char *path;
	size_t where[SF_COUNT];	/* field index of each schema column */
	int have[SF_COUNT];
	char *error;		/* what stopped the read, said by schema_load */
};

/*
 * A bad schema stops the read (EX_CONFIG from the row function) and is
 * said once csv_read has freed its buffers and the file is closed: a
 * die() from inside the read would leave them behind it (the fuzz target
 * ran out of memory on that).
 */
static int __attribute__((format(printf, 2, 3)))
schema_stop(struct schema_reader *sr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&sr->error, fmt, ap) < 0)
		die(EX_OSERR, "out of memory");
	va_end(ap);
	return EX_CONFIG;
}

static int
schema_error(struct schema_reader *sr, unsigned long row, const char *what,
    const char *detail)
{
	return schema_stop(sr, "%s: row %lu: %s%s", sr->path, row, what,
	    detail != NULL ? detail : "");
}

static int
parse_yes_no(const char *s, int fallback, int *out)
{
	if (*s == '\0')
		*out = fallback;
	else if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
schema_header(struct schema_reader *sr, struct csv_row *row)
{
	for (size_t i = 0; i < row->count; i++) {
		size_t f;

		for (f = 0; f < SF_COUNT; f++)
			if (strcmp(row->field[i], schema_field_name[f]) == 0)
				break;
		if (f == SF_COUNT)
			return schema_stop(sr, "%s: header: unknown column %s "
			    "(column, type, arg, required, not_empty, "
			    "max_length)", sr->path, row->field[i]);
		if (sr->have[f])
			return schema_stop(sr, "%s: header: column %s twice",
			    sr->path, row->field[i]);
		sr->have[f] = 1;
		sr->where[f] = i;
	}
	if (!sr->have[SF_COLUMN])
		return schema_stop(sr, "%s: header: no column named column",
		    sr->path);
	return 0;
}

static void
split_enum(struct rule *rule, const char *arg)
{
	const char *p = arg;

	for (;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);

		rule->values = xreallocarray(rule->values,
		    rule->value_count + 1, sizeof *rule->values);
		rule->values[rule->value_count++] = xstrndup(p, len);
		if (bar == NULL)
			break;
		p = bar + 1;
	}
}

static int
schema_row(struct csv_row *row, void *ctx)
{
	struct schema_reader *sr = ctx;
	const char *value[SF_COUNT];
	struct schema *schema = sr->schema;
	struct rule *rule;
	size_t t;

	if (row->record == 1)
		return schema_header(sr, row);
	for (size_t f = 0; f < SF_COUNT; f++) {
		value[f] = "";
		if (sr->have[f] && sr->where[f] < row->count)
			value[f] = row->field[sr->where[f]];
	}
	if (*value[SF_COLUMN] == '\0')
		return schema_error(sr, row->row, "no column name", NULL);
	schema->rule = xreallocarray(schema->rule, schema->count + 1,
	    sizeof *schema->rule);
	rule = &schema->rule[schema->count++];
	memset(rule, 0, sizeof *rule);
	rule->column = xstrdup(value[SF_COLUMN]);

	for (t = 0; t < sizeof type_name / sizeof type_name[0]; t++)
		if (strcmp(value[SF_TYPE], type_name[t]) == 0)
			break;
	if (*value[SF_TYPE] == '\0')
		t = TYPE_TEXT;
	else if (t == sizeof type_name / sizeof type_name[0])
		return schema_error(sr, row->row, "unknown type ",
		    value[SF_TYPE]);
	rule->type = t;

	switch (rule->type) {
	case TYPE_DATE:
	case TYPE_DATETIME:
	case TYPE_TIME:
		if (*value[SF_ARG] != '\0')
			rule->format = xstrdup(value[SF_ARG]);
		break;
	case TYPE_ENUM:
		split_enum(rule, value[SF_ARG]);
		break;
	case TYPE_REGEX: {
		char *anchored = xasprintf("^(%s)$", value[SF_ARG]);
		int rc = regcomp(&rule->re, anchored,
		    REG_EXTENDED | REG_NOSUB);

		free(anchored);
		if (rc != 0) {
			char why[128];

			regerror(rc, &rule->re, why, sizeof why);
			rule->type = TYPE_TEXT;	/* no compiled regex to free */
			return schema_error(sr, row->row, "bad regex: ", why);
		}
		break;
	}
	default:
		if (*value[SF_ARG] != '\0')
			return schema_error(sr, row->row, "arg given for type ",
			    type_name[rule->type]);
		break;
	}
	if (parse_yes_no(value[SF_REQUIRED], 1, &rule->required) != 0)
		return schema_error(sr, row->row, "required is not yes or no",
		    NULL);
	if (parse_yes_no(value[SF_NOT_EMPTY], 0, &rule->not_empty) != 0)
		return schema_error(sr, row->row, "not_empty is not yes or no",
		    NULL);
	if (*value[SF_MAX_LENGTH] != '\0') {
		char *end;
		unsigned long max;

		errno = 0;
		max = strtoul(value[SF_MAX_LENGTH], &end, 10);
		if (errno != 0 || *end != '\0' || max == 0 ||
		    value[SF_MAX_LENGTH][0] == '-')
			return schema_error(sr, row->row,
			    "max_length is not a positive number", NULL);
		rule->max_length = max;
	}
	return 0;
}

void
schema_load(struct schema *schema, const char *path)
{
	struct csv_read_opts opts = { .has_header = 1 };
	struct schema_reader sr = { .schema = schema, .path = path };
	FILE *fp;
	int status;

	memset(schema, 0, sizeof *schema);
	if ((fp = fopen(path, "r")) == NULL)
		die(EX_NOINPUT, "%s:", path);
	status = csv_read(fp, path, &opts, schema_row, &sr);
	fclose(fp);
	if (sr.error != NULL) {
		schema_free(schema);
		die(EX_CONFIG, "%s", sr.error);
	}
	if (status != 0)
		die(status == EX_DATAERR ? EX_CONFIG : status,
		    "%s: unusable schema", path);
	if (!sr.have[SF_COLUMN])
		die(EX_CONFIG, "%s: empty schema", path);
}

void
schema_free(struct schema *schema)
{
	for (size_t i = 0; i < schema->count; i++) {
		struct rule *rule = &schema->rule[i];

		free(rule->column);
		free(rule->format);
		for (size_t v = 0; v < rule->value_count; v++)
			free(rule->values[v]);
		free(rule->values);
		if (rule->type == TYPE_REGEX)
			regfree(&rule->re);
	}
	free(schema->rule);
	memset(schema, 0, sizeof *schema);
}

static int
is_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int
is_decimal(const char *s)
{
	size_t digits = 0;

	if (*s == '-' || *s == '+')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		digits++;
	if (*s == '.') {
		/* "1." is not a number a partner will parse; ".5" is */
		if (s[1] < '0' || s[1] > '9')
			return 0;
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits++;
	}
	return digits > 0 && *s == '\0';
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			chars++;
	return chars;
}

const char *
rule_check(const struct rule *rule, const char *value, size_t len)
{
	struct tm tm;

	if (len == 0)
		return rule->not_empty ? "empty" : NULL;
	if (rule->max_length > 0 && len > rule->max_length &&
	    utf8_chars(value, len) > rule->max_length)
		return "longer than max_length";
	switch (rule->type) {
	case TYPE_TEXT:
		break;
	case TYPE_INT:
		if (!is_int(value))
			return "not an integer";
		break;
	case TYPE_DECIMAL:
		if (!is_decimal(value))
			return "not a decimal number";
		break;
	case TYPE_DATE:
		if (rule->format != NULL ? !parse_format(value, rule->format,
		    &tm) : !parse_iso(value, ISO_DATE, &tm))
			return "not a date";
		break;
	case TYPE_DATETIME:
		if (rule->format != NULL ? !parse_format(value, rule->format,
		    &tm) : !parse_iso(value, ISO_DATETIME, &tm))
			return "not a date-time";
		break;
	case TYPE_TIME:
		if (rule->format != NULL ? !parse_format(value, rule->format,
		    &tm) : !parse_iso(value, ISO_TIME, &tm))
			return "not a time";
		break;
	case TYPE_ENUM:
		for (size_t i = 0; i < rule->value_count; i++)
			if (strcmp(value, rule->values[i]) == 0)
				return NULL;
		return "not one of the allowed values";
	case TYPE_REGEX:
		if (regexec(&rule->re, value, 0, NULL, 0) != 0)
			return "does not match the pattern";
		break;
	}
	return NULL;
}

/* Reads exactly count digits; -1 when they are not there. */
static int
digits(const char **sp, int count)
{
	const char *s = *sp;
	int n = 0;

	for (int i = 0; i < count; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*sp = s + count;
	return n;
}

/* Fills wday and yday, and rejects 31 February and its kind. */
static int
finish_tm(struct tm *tm)
{
	struct tm copy;

	if (!date_valid(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday))
		return 0;
	if (tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 ||
	    tm->tm_min > 59 || tm->tm_sec < 0 || tm->tm_sec > 59)
		return 0;
	copy = *tm;
	copy.tm_isdst = 0;
	if (timegm(&copy) == (time_t)-1 && errno == EOVERFLOW)
		return 0;
	tm->tm_wday = copy.tm_wday;
	tm->tm_yday = copy.tm_yday;
	tm->tm_isdst = 0;
	return 1;
}

static int
parse_time_part(const char **sp, struct tm *tm)
{
	const char *s = *sp;

	if ((tm->tm_hour = digits(&s, 2)) < 0 || *s++ != ':' ||
	    (tm->tm_min = digits(&s, 2)) < 0)
		return 0;
	if (*s == ':') {
		s++;
		if ((tm->tm_sec = digits(&s, 2)) < 0)
			return 0;
		if (*s == '.') {
			/* strftime has no fractions: they are dropped. */
			if (*++s < '0' || *s > '9')
				return 0;
			while (*s >= '0' && *s <= '9')
				s++;
		}
	}
	*sp = s;
	return 1;
}

int
parse_iso(const char *s, int forms, struct tm *tm)
{
	memset(tm, 0, sizeof *tm);
	tm->tm_mday = 1;
	tm->tm_year = 70;
	if (forms & ISO_TIME && s[0] != '\0' && s[1] != '\0' && s[2] == ':')
		return parse_time_part(&s, tm) && *s == '\0' && finish_tm(tm);
	if (!(forms & (ISO_DATE | ISO_DATETIME)))
		return 0;
	if ((tm->tm_year = digits(&s, 4)) < 0 || *s++ != '-' ||
	    (tm->tm_mon = digits(&s, 2)) < 0 || *s++ != '-' ||
	    (tm->tm_mday = digits(&s, 2)) < 0)
		return 0;
	tm->tm_year -= 1900;
	tm->tm_mon -= 1;
	if (*s == '\0')
		return forms & ISO_DATE && finish_tm(tm);
	if (!(forms & ISO_DATETIME) || (*s != ' ' && *s != 'T'))
		return 0;
	s++;
	return parse_time_part(&s, tm) && *s == '\0' && finish_tm(tm);
}

int
parse_format(const char *s, const char *format, struct tm *tm)
{
	const char *end;

	memset(tm, 0, sizeof *tm);
	tm->tm_mday = 1;
	tm->tm_year = 70;
	end = strptime(s, format, tm);
	return end != NULL && *end == '\0' && finish_tm(tm);
}
