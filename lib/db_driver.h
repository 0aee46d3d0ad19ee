/*
 * db_driver.h: what lib/db.c (the contract) shares with its back ends,
 * lib/db_tds.c (FreeTDS db-lib) and lib/db_mysql.c (MariaDB Connector/C).
 * Programs include db.h only.
 */
#ifndef SCHEDFEED_DB_DRIVER_H
#define SCHEDFEED_DB_DRIVER_H

#include <stddef.h>

#include "db.h"

/*
 * One back end. db.c has checked the settings, reset the statement state
 * and set db->params before execute; the back end reports server errors
 * through db_server_error and losses through db_mark_lost.
 */
struct db_driver {
	const char *name;
	/* Logs in; 0, or an exit status after one message. */
	int (*connect)(struct db *db, const char *password);
	void (*close)(struct db *db);
	/* The statement with db->params bound by name; 0 or a status. */
	int (*execute)(struct db *db, const char *sql);
	int (*batch)(struct db *db, const char *sql);
	/* The SQL of db_begin, db_commit, db_rollback. */
	const char *begin_sql, *commit_sql, *rollback_sql;
	/* As db_next_result, setting db->columns. */
	int (*next_result)(struct db *db);
	const char *(*column_name)(struct db *db, int column);
	int (*next_row)(struct db *db);
	const char *(*cell)(struct db *db, int column, size_t *len);
	long (*result_count)(struct db *db);
};

extern const struct db_driver db_tds_driver;
extern const struct db_driver db_mysql_driver;

struct db {
	const struct db_driver *drv;
	void *impl;		/* the back end's own state */
	struct db_settings s;
	char *where;		/* host:port or the name, for messages */
	int status;		/* worst failure since the last statement */
	int lost;		/* the connection loss was reported */
	int dead;
	int timed_out;		/* reported; the closing is no news */
	const char *context;
	int error_number;	/* the last server error since the statement */
	char *error_text;	/* its text, redacted */
	const struct db_param *params;	/* in flight, for redaction */
	size_t param_count;
	int columns;
	char *buf;		/* a cell's text */
	size_t cap;
};

/* "row 3: " or "", for messages. */
const char *db_context(const struct db *db);
/*
 * A copy of a server message fit for stderr: every bound value blanked,
 * and every quoted or parenthesised stretch (where servers put the data
 * that failed) reduced to '***' or (***).
 */
char *db_redact(const struct db *db, const char *text);
/* Reports a server error (line 0: none known) and records it; status 65. */
void db_server_error(struct db *db, int number, int line, const char *text);
/* The connection is gone: status 75, one message. */
void db_mark_lost(struct db *db, const char *what);
/* A cell buffer of at least need bytes. */
char *db_scratch(struct db *db, size_t need);
/* 0x and two upper-case hex digits a byte; returns the length. */
size_t db_format_hex(char *out, const unsigned char *data, size_t len);

/* A parsed date, datetime or time value. */
struct db_stamp {
	int year, month, day;
	int hour, minute, second;
	long nanos;
};

/* The parsers behind db_value_valid, for the back ends' binding. */
int db_parse_integer(const char *s, size_t len, long long min, long long max,
    long long *v);
int db_parse_decimal(const char *s, size_t len, int *scale);
int db_parse_stamp(const char *s, size_t len, int with_time,
    struct db_stamp *t);

#endif
