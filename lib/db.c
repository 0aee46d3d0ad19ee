/*
 * db.c: the database contract, whatever the back end: settings, parameter
 * types and their literals, what a server message may show, statement
 * state and exit statuses. The protocols are lib/db_tds.c (SQL Server,
 * Sybase) and lib/db_mysql.c (MySQL, MariaDB).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "db.h"
#include "db_driver.h"
#include "err.h"
#include "mem.h"
#include "secret.h"
#include "utf8.h"

#define DEFAULT_LOGIN_TIMEOUT 30
/* Bound values shorter than this are not searched for in messages. */
#define REDACT_MIN 3

const char *
db_context(const struct db *db)
{
	return db->context != NULL ? db->context : "";
}

/* Replaces s[at..at+len) with "***"; returns the new string. */
static char *
blank_out(char *s, size_t at, size_t len)
{
	char *out = xasprintf("%.*s***%s", (int)at, s, s + at + len);

	free(s);
	return out;
}

static int
word_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || (c & 0x80) != 0;
}

/*
 * 1 when s[i] is c as a delimiter: an apostrophe between two letters
 * ("doesn't") is a word's, not a quote's.
 */
static int
delimiter_at(const char *s, size_t len, size_t i, char c)
{
	if (s[i] != c)
		return 0;
	return !(c == '\'' && i > 0 && i + 1 < len && word_char(s[i - 1]) &&
	    word_char(s[i + 1]));
}

/*
 * Marks what lies between the first open and the last close after it (to
 * the end when there is none). Greedy on purpose: a value may itself hold
 * the delimiters ('O'Brien, Pat', "a) b"), so only the outermost pair is
 * sure to enclose it.
 */
/*
 * 1 when s[0..len) is a name the statement's own text uses outside its
 * string literals ("near "SELEC"", "expects the parameter '@when'",
 * "Invalid object name 'nowhere'"): our SQL, not the data.
 */
static int
sql_name(const struct db *db, const char *s, size_t len)
{
	int quoted = 0;

	if (db->sql == NULL || len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!word_char(s[i]) && !(i == 0 && (s[0] == '@' ||
		    s[0] == '#')))
			return 0;
	for (const char *p = db->sql; *p != '\0'; p++) {
		if (*p == '\'') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && strncmp(p, s, len) == 0 && !word_char(p[len]) &&
		    (p == db->sql || (!word_char(p[-1]) && p[-1] != '@')))
			return 1;
	}
	return 0;
}

static void
mark_enclosed(const struct db *db, unsigned char *mask, const char *s,
    size_t len, char open, char close)
{
	size_t from, to = len, i;

	for (i = 0; i < len && !delimiter_at(s, len, i, open); i++)
		continue;
	if (i == len)
		return;
	from = i + 1;
	for (i = len; i > from; i--)
		if (delimiter_at(s, len, i - 1, close)) {
			to = i - 1;
			break;
		}
	if (to < len && sql_name(db, s + from, to - from))
		return;
	memset(mask + from, 1, to - from);
}

/*
 * Server messages quote the data that failed: SQL Server's "Truncated
 * value: '...'" (2628), "The duplicate key value is (...)" (2627, 2601),
 * "converting the varchar value '...'" (245), MySQL's "Duplicate entry
 * '...' for key" (1062), "Incorrect integer value: '...'" (1366). No
 * diagnostic may carry a cell's value, and no list of message texts is
 * ever complete: every bound value is blanked, then everything quoted or
 * in parentheses, whatever the message.
 */
char *
db_redact(const struct db *db, const char *text)
{
	char *s = xstrdup(text), *p, *out;
	unsigned char *mask;
	size_t len, n = 0;

	for (size_t i = 0; i < db->param_count; i++) {
		const struct db_param *pm = &db->params[i];
		size_t from = 0, at;

		if (pm->value == NULL || pm->len < REDACT_MIN)
			continue;
		while ((p = memmem(s + from, strlen(s + from), pm->value,
		    pm->len)) != NULL) {
			at = (size_t)(p - s);
			/* "Dup" is not blanked out of "Duplicate entry" */
			if ((at > 0 && word_char(s[at - 1]) &&
			    word_char(pm->value[0])) || (word_char(p[pm->len]) &&
			    word_char(pm->value[pm->len - 1]))) {
				from = at + 1;
				continue;
			}
			from = at + 3;
			s = blank_out(s, at, pm->len);
		}
	}
	len = strlen(s);
	mask = xcalloc(len + 1, 1);
	mark_enclosed(db, mask, s, len, '\'', '\'');
	mark_enclosed(db, mask, s, len, '"', '"');
	mark_enclosed(db, mask, s, len, '(', ')');
	mark_enclosed(db, mask, s, len, '[', ']');
	out = xmalloc(len + 4);
	for (size_t i = 0; i < len; i++) {
		if (!mask[i]) {
			out[n++] = s[i];
			continue;
		}
		memcpy(out + n, "***", 3);
		n += 3;
		while (i + 1 < len && mask[i + 1])
			i++;
	}
	out[n] = '\0';
	free(mask);
	free(s);
	return out;
}

void
db_server_error(struct db *db, int number, int line, const char *text)
{
	char *shown = db_redact(db, text != NULL ? text : "");

	if (line > 0)
		warn("%sserver error %d, line %d: %s", db_context(db), number,
		    line, shown);
	else
		warn("%sserver error %d: %s", db_context(db), number, shown);
	db->status = worst_status(db->status, EX_DATAERR);
	db->error_number = number;
	free(db->error_text);
	db->error_text = shown;
}

void
db_mark_lost(struct db *db, const char *what)
{
	db->dead = 1;
	db->status = worst_status(db->status, EX_TEMPFAIL);
	/* After a timeout the closing is no news. */
	if (!db->lost && !db->timed_out)
		warn("%s%s", db_context(db), what);
	db->lost = 1;
}

int
db_encrypt_valid(const char *mode)
{
	return strcmp(mode, "off") == 0 || strcmp(mode, "request") == 0 ||
	    strcmp(mode, "require") == 0;
}

int
db_driver_valid(const char *name)
{
	return strcmp(name, "tds") == 0 || strcmp(name, "mysql") == 0;
}

static const char *
env_value(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

void
db_settings_init(struct db_settings *s)
{
	const char *port;

	memset(s, 0, sizeof *s);
	s->driver = env_value("SCHEDFEED_DB_DRIVER");
	s->server = env_value("SCHEDFEED_DB_SERVER");
	s->database = env_value("SCHEDFEED_DB_DATABASE");
	s->user = env_value("SCHEDFEED_DB_USER");
	s->encrypt = env_value("SCHEDFEED_DB_ENCRYPT");
	s->ca_file = env_value("SCHEDFEED_DB_CA_FILE");
	s->login_timeout = DEFAULT_LOGIN_TIMEOUT;
	if ((port = env_value("SCHEDFEED_DB_PORT")) != NULL) {
		char *end;
		long v;

		errno = 0;
		v = strtol(port, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
			die(EX_CONFIG, "SCHEDFEED_DB_PORT: not a port number");
		s->port = (int)v;
	}
	if (s->encrypt != NULL && !db_encrypt_valid(s->encrypt))
		die(EX_CONFIG, "SCHEDFEED_DB_ENCRYPT: want off, request or "
		    "require");
	if (s->driver != NULL && !db_driver_valid(s->driver))
		die(EX_CONFIG, "SCHEDFEED_DB_DRIVER: want tds or mysql");
}

static const char *const type_names[] = {
	[DB_NVARCHAR] = "nvarchar",
	[DB_INT] = "int",
	[DB_BIGINT] = "bigint",
	[DB_DECIMAL] = "decimal",
	[DB_DATE] = "date",
	[DB_DATETIME] = "datetime",
};

int
db_type_parse(const char *s, enum db_type *type)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcasecmp(s, type_names[i]) == 0) {
			*type = (enum db_type)i;
			return 0;
		}
	return -1;
}

const char *
db_type_name(enum db_type type)
{
	return type_names[type];
}

int
db_name_valid(const char *name)
{
	if (!(*name == '_' || (*name >= 'A' && *name <= 'Z') ||
	    (*name >= 'a' && *name <= 'z')))
		return 0;
	for (name++; *name != '\0'; name++)
		if (!(*name == '_' || (*name >= 'A' && *name <= 'Z') ||
		    (*name >= 'a' && *name <= 'z') ||
		    (*name >= '0' && *name <= '9')))
			return 0;
	return 1;
}

/* Parses [-+]digits into *v within [min, max]; 0, or -1. */
int
db_parse_integer(const char *s, size_t len, long long min, long long max,
    long long *v)
{
	char text[32], *end;

	if (len == 0 || len >= sizeof text)
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	if (!(text[0] == '-' || text[0] == '+' ||
	    (text[0] >= '0' && text[0] <= '9')))
		return -1;
	errno = 0;
	*v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || *v < min || *v > max)
		return -1;
	return 0;
}

/* [-+]digits[.digits] or [-+].digits, 38 significant digits at most. */
int
db_parse_decimal(const char *s, size_t len, int *scale)
{
	size_t i = 0, digits = 0, lead = 1;
	int frac = -1;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < len; i++) {
		if (s[i] == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (frac >= 0)
			frac++;
		if (s[i] != '0' || !lead || frac >= 0) {
			lead = 0;
			digits++;
		}
	}
	if (frac == 0 || digits > 38 || len == 0 ||
	    !(s[len - 1] >= '0' && s[len - 1] <= '9'))
		return -1;
	*scale = frac < 0 ? 0 : frac;
	return 0;
}

/* HH:MM[:SS[.fraction]] exactly, the fraction up to 9 digits. */
static int
parse_time(const char *s, size_t len, struct db_stamp *t)
{
	size_t i;

	if (len < 5 || s[2] != ':')
		return -1;
	for (i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	t->hour = (s[0] - '0') * 10 + s[1] - '0';
	t->minute = (s[3] - '0') * 10 + s[4] - '0';
	t->second = 0;
	t->nanos = 0;
	if (len > 5) {
		if (len < 8 || s[5] != ':' || s[6] < '0' || s[6] > '9' ||
		    s[7] < '0' || s[7] > '9')
			return -1;
		t->second = (s[6] - '0') * 10 + s[7] - '0';
		if (len > 8) {
			long scale = 100000000;

			if (s[8] != '.' || len == 9 || len > 18)
				return -1;
			for (i = 9; i < len; i++, scale /= 10) {
				if (s[i] < '0' || s[i] > '9')
					return -1;
				t->nanos += (s[i] - '0') * scale;
			}
		}
	}
	if (t->hour > 23 || t->minute > 59 || t->second > 59)
		return -1;
	return 0;
}

int
db_parse_stamp(const char *s, size_t len, int with_time, struct db_stamp *t)
{
	struct date_text dt;

	memset(t, 0, sizeof *t);
	if (date_parse(s, len, &dt) != 0 || dt.layout != DATE_ISO ||
	    dt.date_len != 10)
		return -1;
	t->year = dt.year;
	t->month = dt.month;
	t->day = dt.day;
	if (!with_time)
		return dt.date_len == len ? 0 : -1;
	if (len == 10)
		return 0;
	if (s[10] != ' ' && s[10] != 'T')
		return -1;
	if (parse_time(s + 11, len - 11, t) != 0)
		return -1;
	return t->year >= 1753 ? 0 : -1;
}

int
db_value_valid(enum db_type type, const char *value, size_t len)
{
	long long v;
	int scale;
	struct db_stamp t;

	if (value == NULL || len == 0)
		return 1;
	switch (type) {
	case DB_NVARCHAR:
		return utf8_valid((const unsigned char *)value, len);
	case DB_INT:
		return db_parse_integer(value, len, INT32_MIN, INT32_MAX, &v) == 0;
	case DB_BIGINT:
		return db_parse_integer(value, len, INT64_MIN, INT64_MAX, &v) == 0;
	case DB_DECIMAL:
		return db_parse_decimal(value, len, &scale) == 0;
	case DB_DATE:
		return db_parse_stamp(value, len, 0, &t) == 0;
	case DB_DATETIME:
		return db_parse_stamp(value, len, 1, &t) == 0;
	}
	return 0;
}

static void
db_free(struct db *db)
{
	free(db->where);
	free(db->sql);
	free(db->buf);
	free(db->error_text);
	free(db);
}

int
db_connect(const struct db_settings *s, struct db **dbp)
{
	struct db *db;
	char *password;
	int status;

	if (s->server == NULL || *s->server == '\0') {
		warn("no server: give -S or set SCHEDFEED_DB_SERVER");
		return EX_CONFIG;
	}
	if (s->user == NULL || *s->user == '\0') {
		warn("no user: give -U or set SCHEDFEED_DB_USER");
		return EX_CONFIG;
	}
	db = xcalloc(1, sizeof *db);
	db->s = *s;
	db->drv = s->driver != NULL && strcmp(s->driver, "mysql") == 0 ?
	    &db_mysql_driver : &db_tds_driver;
	if (s->port != 0)
		db->where = xasprintf(strchr(s->server, ':') != NULL &&
		    s->server[0] != '[' ? "[%s]:%d" : "%s:%d", s->server,
		    s->port);
	else
		db->where = xstrdup(s->server);
	password = secret_require("SCHEDFEED_DB_PASSWORD");
	status = db->drv->connect(db, password);
	secret_free(password);
	if (status != 0) {
		db_free(db);
		return status;
	}
	*dbp = db;
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db->drv->close(db);
	db_free(db);
}

void
db_set_context(struct db *db, const char *context)
{
	db->context = context;
}

int
db_status(const struct db *db)
{
	return db->status;
}

int
db_dead(const struct db *db)
{
	return db->dead;
}

const char *
db_last_error(const struct db *db, int *number)
{
	*number = db->error_number;
	return db->error_text;
}

static int
begin_statement(struct db *db, const char *sql, const struct db_param *params,
    size_t count)
{
	if (db->dead)
		return db->status != 0 ? db->status : EX_TEMPFAIL;
	free(db->sql);
	db->sql = xstrdup(sql);
	db->status = 0;
	db->error_number = 0;
	free(db->error_text);
	db->error_text = NULL;
	db->params = params;
	db->param_count = count;
	db->columns = 0;
	return 0;
}

int
db_execute(struct db *db, const char *sql, const struct db_param *params,
    size_t count)
{
	int status;

	if ((status = begin_statement(db, sql, params, count)) != 0)
		return status;
	if (count > DB_PARAM_MAX) {
		warn("%s%zu parameters: at most %d in one statement",
		    db_context(db), count, DB_PARAM_MAX);
		db->status = EX_DATAERR;
		return EX_DATAERR;
	}
	return db->drv->execute(db, sql);
}

int
db_batch(struct db *db, const char *sql)
{
	int status;

	if ((status = begin_statement(db, sql, NULL, 0)) != 0)
		return status;
	return db->drv->batch(db, sql);
}

static int
transaction(struct db *db, const char *sql)
{
	if (db_batch(db, sql) != 0 || db_drain(db) != 0)
		return db->status != 0 ? db->status : EX_SOFTWARE;
	return 0;
}

int
db_begin(struct db *db)
{
	return transaction(db, db->drv->begin_sql);
}

int
db_commit(struct db *db)
{
	return transaction(db, db->drv->commit_sql);
}

int
db_rollback(struct db *db)
{
	return transaction(db, db->drv->rollback_sql);
}

int
db_next_result(struct db *db)
{
	if (db->dead)
		return -1;
	db->columns = 0;
	return db->drv->next_result(db);
}

int
db_column_count(const struct db *db)
{
	return db->columns;
}

const char *
db_column_name(struct db *db, int column)
{
	const char *name = db->drv->column_name(db, column);

	return name != NULL ? name : "";
}

enum db_type
db_column_type(const struct db *db, int column)
{
	return db->drv->column_type(db, column);
}

int
db_next_row(struct db *db)
{
	if (db->dead)
		return -1;
	return db->drv->next_row(db);
}

const char *
db_cell(struct db *db, int column, size_t *len)
{
	return db->drv->cell(db, column, len);
}

long
db_result_count(struct db *db)
{
	return db->drv->result_count(db);
}

int
db_drain(struct db *db)
{
	int rc;

	while ((rc = db_next_result(db)) == 1)
		while (db->columns > 0 && (rc = db_next_row(db)) == 1)
			continue;
	return db->status;
}

char *
db_scratch(struct db *db, size_t need)
{
	if (db->cap < need) {
		db->cap = need < 256 ? 256 : need;
		db->buf = xrealloc(db->buf, db->cap);
	}
	return db->buf;
}

size_t
db_format_hex(char *out, const unsigned char *data, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	out[n++] = '0';
	out[n++] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[n++] = hex[data[i] >> 4];
		out[n++] = hex[data[i] & 15];
	}
	out[n] = '\0';
	return n;
}
