/* schema.h: csv-shape's value checks: schema rules and date parsing */
#ifndef CSV_SHAPE_SCHEMA_H
#define CSV_SHAPE_SCHEMA_H

#include <regex.h>
#include <stddef.h>
#include <time.h>

enum value_type {
	TYPE_TEXT,
	TYPE_INT,
	TYPE_DECIMAL,
	TYPE_DATE,
	TYPE_DATETIME,
	TYPE_TIME,
	TYPE_ENUM,
	TYPE_REGEX
};

struct rule {
	char *column;		/* name after renaming */
	enum value_type type;
	char *format;		/* date, datetime, time: strptime format */
	char **values;		/* enum */
	size_t value_count;
	regex_t re;		/* regex, anchored at both ends */
	int required;		/* the header must hold the column */
	int not_empty;
	size_t max_length;	/* in characters; 0 when unlimited */
	size_t index;		/* where the column is, once planned */
	int present;
};

struct schema {
	struct rule *rule;
	size_t count;
};

/* Reads a schema file; a bad one is fatal (EX_NOINPUT, EX_CONFIG). */
void schema_load(struct schema *schema, const char *path);
void schema_free(struct schema *schema);
/* NULL when value (NUL-terminated, len bytes) passes, else the reason. */
const char *rule_check(const struct rule *rule, const char *value, size_t len);

/* Forms parse_iso accepts. */
#define ISO_DATE	1	/* YYYY-MM-DD */
#define ISO_DATETIME	2	/* YYYY-MM-DD[ T]HH:MM[:SS[.fff]] */
#define ISO_TIME	4	/* HH:MM[:SS[.fff]] */

/* Each returns 1 and fills tm (wday and yday too) when s is a valid
 * date or time in one of the forms (or the whole of format), else 0. */
int parse_iso(const char *s, int forms, struct tm *tm);
int parse_format(const char *s, const char *format, struct tm *tm);

#endif
