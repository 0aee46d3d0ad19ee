/* db.h: SQL Server over FreeTDS db-lib: login, typed parameters, rows */
#ifndef SCHEDFEED_DB_H
#define SCHEDFEED_DB_H

#include <stddef.h>

/*
 * Where and how to connect. db_settings_init fills it from the
 * SCHEDFEED_DB_* environment; options then override single fields.
 */
struct db_settings {
	const char *server;	/* host name, address or freetds.conf name */
	int port;		/* 0: freetds.conf's, else 1433 */
	const char *database;	/* NULL: the login's default database */
	const char *user;
	const char *encrypt;	/* "off", "request", "require" or NULL */
	const char *ca_file;	/* PEM file, "system", or NULL */
	int login_timeout;	/* seconds for connect and login */
	int query_timeout;	/* seconds of server silence; 0: wait */
	int verbose;		/* server INFO messages to stderr */
	const char *app_name;	/* shown in the server's session list */
};

/*
 * Reads SCHEDFEED_DB_SERVER, _PORT, _DATABASE, _USER, _ENCRYPT and
 * _CA_FILE. A malformed value dies with EX_CONFIG.
 */
void db_settings_init(struct db_settings *s);
/* 1 when mode is off, request or require. */
int db_encrypt_valid(const char *mode);

/* The types a parameter can be declared with. */
enum db_type {
	DB_NVARCHAR,
	DB_INT,
	DB_BIGINT,
	DB_DECIMAL,
	DB_DATE,
	DB_DATETIME
};

struct db_param {
	const char *name;	/* without the '@' */
	enum db_type type;
	const char *value;	/* NULL or empty binds NULL */
	size_t len;
};

/* Parses a type name (case-insensitive); 0, or -1 when unknown. */
int db_type_parse(const char *s, enum db_type *type);
const char *db_type_name(enum db_type type);
/* 1 when name is a usable parameter name: [A-Za-z_][A-Za-z0-9_]*. */
int db_name_valid(const char *name);
/*
 * 1 when value[0..len) is a literal of type: int and bigint in range,
 * decimal [-]digits[.digits] (38 digits at most), date YYYY-MM-DD,
 * datetime YYYY-MM-DD[ T]HH:MM[:SS[.fraction]] from 1753 on, nvarchar
 * valid UTF-8. Empty (NULL) is always valid.
 */
int db_value_valid(enum db_type type, const char *value, size_t len);

struct db;

/*
 * Connects and logs in (client charset UTF-8, TDS 7.4 unless TDSVER is
 * set). Returns 0, or after one message an exit status: EX_TEMPFAIL (server
 * unreachable, refused, timed out), EX_NOPERM (login refused, TLS
 * required but not possible), EX_CONFIG (unknown server name, bad
 * FreeTDS settings). The password is SCHEDFEED_DB_PASSWORD[_FILE].
 */
int db_connect(const struct db_settings *s, struct db **dbp);
void db_close(struct db *db);

/* Text put before each server message, e.g. "row 3: "; NULL for none. */
void db_set_context(struct db *db, const char *context);

/*
 * Sends sql through sp_executesql with the parameters bound by name and
 * type, never spliced into the text. Returns 0 or an exit status.
 */
int db_execute(struct db *db, const char *sql, const struct db_param *params,
    size_t count);
/* Sends sql as a plain batch (BEGIN TRANSACTION and the like). */
int db_batch(struct db *db, const char *sql);

/*
 * Steps to the next result of the statement sent: 1 when there is one
 * (db_column_count may be 0), 0 when none remain, -1 on failure.
 */
int db_next_result(struct db *db);
int db_column_count(const struct db *db);
/* Column names, 1-based. */
const char *db_column_name(struct db *db, int column);
/*
 * The type a column's values bind back as, 1-based: whole numbers int or
 * bigint, decimal/money/float decimal, date, datetime (datetime2 too),
 * anything else nvarchar.
 */
enum db_type db_column_type(const struct db *db, int column);
/* 1 when a row was read, 0 at the end of the result, -1 on failure. */
int db_next_row(struct db *db);
/*
 * The current row's column as text (see sched-query(1) for the formats),
 * or NULL for SQL NULL. Valid until the next call.
 */
const char *db_cell(struct db *db, int column, size_t *len);
/* Rows the finished result affected or returned; -1 when not known. */
long db_result_count(struct db *db);
/* Reads and discards what remains of the results; returns db_status. */
int db_drain(struct db *db);
/*
 * 0 while everything succeeded, else the exit status of what failed:
 * EX_DATAERR for a server error, EX_TEMPFAIL for a timeout or a lost
 * connection. Sending a new statement resets it unless the connection
 * is dead.
 */
int db_status(const struct db *db);
/* 1 when the connection is unusable. */
int db_dead(const struct db *db);
/*
 * The last server error of the statement sent (its text redacted as in
 * the messages on stderr) and its number; NULL and 0 when none.
 */
const char *db_last_error(const struct db *db, int *number);

#endif
