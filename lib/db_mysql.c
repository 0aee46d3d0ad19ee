/*
 * db_mysql.c: the MySQL/MariaDB back end of lib/db.c, through MariaDB
 * Connector/C. Parameters become the session variables @NAME, set by one
 * prepared "SET @a = ?, @b = ?" with typed binds, so the statement text
 * reads them as it would on SQL Server and no value is ever in the SQL.
 * Rows are read unbuffered (mysql_use_result): one row in memory at a time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mariadb/mysql.h>
#include <mariadb/errmsg.h>
#include <mariadb/mysqld_error.h>

#include "db.h"
#include "db_driver.h"
#include "err.h"
#include "mem.h"

#define MYSQL_DEFAULT_PORT 3306
/* The character set MySQL calls binary: BLOB and VARBINARY, not text. */
#define BINARY_CHARSET 63

struct my {
	MYSQL *m;
	MYSQL_STMT *set;	/* the SET of the parameters, prepared */
	char *set_names;	/* the names it was prepared for */
	MYSQL_RES *res;		/* the result being read */
	MYSQL_FIELD *fields;
	MYSQL_ROW row;
	unsigned long *lengths;
	int pending;		/* the statement's first result not yet taken */
	long count;		/* rows affected or read by the last result */
	long rows;		/* rows read of this result */
	time_t last_read;	/* when the server last sent something */
};

static struct my *
M(const struct db *db)
{
	return db->impl;
}

static int
lost_error(unsigned int number)
{
	return number == CR_SERVER_GONE_ERROR || number == CR_SERVER_LOST ||
	    number == CR_SERVER_LOST_EXTENDED || number == CR_ERR_NET_READ ||
	    number == CR_ERR_NET_WRITE;
}

/* A client error numbers 2000-2999 and 5000 on; the rest are the server's. */
static int
client_error(unsigned int number)
{
	return (number >= CR_MIN_ERROR && number <= CR_MAX_ERROR) ||
	    number >= 5000;
}

/* After a failed call on the connection or the SET: the status it means. */
static void
report(struct db *db, unsigned int number, const char *text)
{
	int timeout = db->s.query_timeout;

	if (lost_error(number)) {
		if (timeout > 0 && time(NULL) - M(db)->last_read >= timeout) {
			warn("%squery timed out: nothing from the server for "
			    "%d s", db_context(db), timeout);
			db->timed_out = 1;
		}
		db_mark_lost(db, "lost the connection to the server");
	} else if (client_error(number)) {
		warn("%sMariaDB client error %u: %s", db_context(db), number,
		    text);
		db->status = worst_status(db->status, EX_SOFTWARE);
	} else {
		db_server_error(db, (int)number, 0, text);
	}
}

static void
report_conn(struct db *db)
{
	report(db, mysql_errno(M(db)->m), mysql_error(M(db)->m));
}

/* The OS error libmariadb puts last in "Can't connect ... (111)". */
static const char *
os_reason(const char *text)
{
	const char *open = strrchr(text, '(');
	int number;

	if (open != NULL && sscanf(open, "(%d)", &number) == 1 && number > 0)
		return strerror(number);
	return "server unavailable";
}

static int
login_failure(struct db *db, time_t started)
{
	MYSQL *m = M(db)->m;
	unsigned int number = mysql_errno(m);
	const char *text = mysql_error(m);

	switch (number) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_HOST_NOT_PRIVILEGED:
	case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
	case ER_MUST_CHANGE_PASSWORD_LOGIN:
		warn("login failed for user %s on %s (server error %u)",
		    db->s.user, db->where, number);
		return EX_NOPERM;
	case ER_BAD_DB_ERROR:
		warn("cannot open database %s on %s (server error %u)",
		    db->s.database != NULL ? db->s.database : "(default)",
		    db->where, number);
		return EX_CONFIG;
	case CR_UNKNOWN_HOST:
		warn("unknown server %s: not a host name that resolves",
		    db->s.server);
		return EX_CONFIG;
	case CR_CONN_HOST_ERROR:
	case CR_CONNECTION_ERROR:
		if (time(NULL) - started >= db->s.login_timeout)
			warn("login to %s timed out after %d s", db->where,
			    db->s.login_timeout);
		else
			warn("cannot connect to %s: %s", db->where,
			    os_reason(text));
		return EX_TEMPFAIL;
	case CR_SSL_CONNECTION_ERROR:
		/* libmariadb's own words: the TLS library's reason */
		warn("login to %s failed: TLS: %s", db->where, text);
		return EX_NOPERM;
	}
	if (lost_error(number)) {
		if (time(NULL) - started >= db->s.login_timeout)
			warn("login to %s timed out after %d s", db->where,
			    db->s.login_timeout);
		else
			warn("connection to %s lost during login", db->where);
		return EX_TEMPFAIL;
	}
	if (client_error(number))
		warn("login to %s failed (MariaDB client error %u)", db->where,
		    number);
	else
		warn("login to %s refused (server error %u)", db->where,
		    number);
	return EX_TEMPFAIL;
}

/*
 * TLS when asked for, or when a CA file is named: the certificate and the
 * host name always checked, against the CA file or the system's store.
 */
static void
set_tls(struct db *db)
{
	MYSQL *m = M(db)->m;
	const char *mode = db->s.encrypt, *ca = db->s.ca_file;
	my_bool on = 1;

	if (mode != NULL && strcmp(mode, "off") == 0)
		return;
	if (mode == NULL && ca == NULL)
		return;
	mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
	if (mode != NULL && strcmp(mode, "require") == 0)
		mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
	if (ca != NULL && strcmp(ca, "system") != 0)
		mysql_optionsv(m, MYSQL_OPT_SSL_CA, ca);
	else
		mysql_optionsv(m, MYSQL_OPT_SSL_CAPATH, "/etc/ssl/certs");
}

static void
my_close(struct db *db)
{
	struct my *my = M(db);

	if (my == NULL)
		return;
	if (my->res != NULL)
		mysql_free_result(my->res);
	if (my->set != NULL)
		mysql_stmt_close(my->set);
	if (my->m != NULL)
		mysql_close(my->m);
	free(my->set_names);
	free(my);
	db->impl = NULL;
}

static int
my_connect(struct db *db, const char *password)
{
	const struct db_settings *s = &db->s;
	struct my *my = xcalloc(1, sizeof *my);
	unsigned int login_timeout = (unsigned int)s->login_timeout;
	unsigned int query_timeout = (unsigned int)s->query_timeout;
	unsigned int no = 0;
	time_t started;
	int status;

	db->impl = my;
	if (s->ca_file != NULL && strcmp(s->ca_file, "system") != 0 &&
	    access(s->ca_file, R_OK) != 0) {
		warn("%s: cannot read the CA file:", s->ca_file);
		my_close(db);
		return EX_CONFIG;
	}
	if ((my->m = mysql_init(NULL)) == NULL) {
		warn("cannot initialise the MariaDB client");
		my_close(db);
		return EX_OSERR;
	}
	mysql_optionsv(my->m, MYSQL_OPT_CONNECT_TIMEOUT, &login_timeout);
	/* the handshake is read with the read timeout: the login's first */
	mysql_optionsv(my->m, MYSQL_OPT_READ_TIMEOUT, &login_timeout);
	mysql_optionsv(my->m, MYSQL_OPT_WRITE_TIMEOUT, &login_timeout);
	mysql_optionsv(my->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* no LOAD DATA LOCAL: the server never reads our files */
	mysql_optionsv(my->m, MYSQL_OPT_LOCAL_INFILE, &no);
	mysql_optionsv(my->m, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name",
	    s->app_name != NULL ? s->app_name : progname);
	set_tls(db);
	started = time(NULL);
	if (mysql_real_connect(my->m, s->server, s->user, password,
	    s->database, s->port != 0 ? (unsigned int)s->port :
	    MYSQL_DEFAULT_PORT, NULL, CLIENT_MULTI_STATEMENTS |
	    CLIENT_MULTI_RESULTS) == NULL) {
		status = login_failure(db, started);
		my_close(db);
		return status;
	}
	if (s->encrypt != NULL && strcmp(s->encrypt, "require") == 0 &&
	    mysql_get_ssl_cipher(my->m) == NULL) {
		warn("login to %s failed: TLS was required and could not be "
		    "negotiated", db->where);
		my_close(db);
		return EX_NOPERM;
	}
	/* from now on the server's silence is measured by --timeout */
	mysql_optionsv(my->m, MYSQL_OPT_READ_TIMEOUT, &query_timeout);
	mysql_optionsv(my->m, MYSQL_OPT_WRITE_TIMEOUT, &query_timeout);
	return 0;
}

/* Reads and drops whatever the last statement still has to say. */
static void
discard_results(struct db *db)
{
	struct my *my = M(db);

	if (my->res != NULL) {
		mysql_free_result(my->res);
		my->res = NULL;
	}
	if (db->dead)
		return;
	if (my->pending) {
		MYSQL_RES *res = mysql_use_result(my->m);

		if (res != NULL)
			mysql_free_result(res);
		my->pending = 0;
	}
	while (mysql_more_results(my->m) && mysql_next_result(my->m) == 0) {
		MYSQL_RES *res = mysql_use_result(my->m);

		if (res != NULL)
			mysql_free_result(res);
	}
}

/* The names joined with commas, to know when the SET must be prepared anew. */
static char *
names_key(const struct db_param *params, size_t count)
{
	size_t len = 1;
	char *key, *p;

	for (size_t i = 0; i < count; i++)
		len += strlen(params[i].name) + 1;
	p = key = xmalloc(len);
	for (size_t i = 0; i < count; i++)
		p += sprintf(p, "%s,", params[i].name);
	*p = '\0';
	return key;
}

static int
prepare_set(struct db *db)
{
	struct my *my = M(db);
	char *key = names_key(db->params, db->param_count), *sql, *p;
	size_t len = 4;

	if (my->set != NULL && strcmp(key, my->set_names) == 0) {
		free(key);
		return 0;
	}
	if (my->set != NULL)
		mysql_stmt_close(my->set);
	free(my->set_names);
	my->set_names = key;
	for (size_t i = 0; i < db->param_count; i++)
		len += strlen(db->params[i].name) + 8;
	p = sql = xmalloc(len + 1);
	p += sprintf(p, "SET ");
	for (size_t i = 0; i < db->param_count; i++)
		p += sprintf(p, "%s@%s = ?", i > 0 ? ", " : "",
		    db->params[i].name);
	if ((my->set = mysql_stmt_init(my->m)) == NULL) {
		free(sql);
		report_conn(db);
		return -1;
	}
	if (mysql_stmt_prepare(my->set, sql, (unsigned long)strlen(sql)) != 0) {
		report(db, mysql_stmt_errno(my->set), mysql_stmt_error(my->set));
		mysql_stmt_close(my->set);
		my->set = NULL;
		free(sql);
		return -1;
	}
	free(sql);
	return 0;
}

union bound {
	int i;
	long long big;
	MYSQL_TIME t;
};

/* The typed bind of one parameter; -1 when the value is not of its type. */
static int
bind_param(const struct db_param *pm, MYSQL_BIND *b, union bound *v,
    unsigned long *len)
{
	struct db_stamp t;
	long long n;
	int scale;

	memset(b, 0, sizeof *b);
	if (pm->value == NULL || pm->len == 0) {
		b->buffer_type = MYSQL_TYPE_NULL;
		return 0;
	}
	*len = (unsigned long)pm->len;
	b->length = len;
	switch (pm->type) {
	case DB_NVARCHAR:
		b->buffer_type = MYSQL_TYPE_STRING;
		b->buffer = (void *)pm->value;
		b->buffer_length = *len;
		return 0;
	case DB_INT:
		if (db_parse_integer(pm->value, pm->len, INT32_MIN, INT32_MAX,
		    &n) != 0)
			return -1;
		v->i = (int)n;
		b->buffer_type = MYSQL_TYPE_LONG;
		b->buffer = &v->i;
		return 0;
	case DB_BIGINT:
		if (db_parse_integer(pm->value, pm->len, INT64_MIN, INT64_MAX,
		    &n) != 0)
			return -1;
		v->big = n;
		b->buffer_type = MYSQL_TYPE_LONGLONG;
		b->buffer = &v->big;
		return 0;
	case DB_DECIMAL:
		/* checked digits, sent as DECIMAL: exact, never a double */
		if (db_parse_decimal(pm->value, pm->len, &scale) != 0)
			return -1;
		b->buffer_type = MYSQL_TYPE_NEWDECIMAL;
		b->buffer = (void *)pm->value;
		b->buffer_length = *len;
		return 0;
	case DB_DATE:
	case DB_DATETIME:
		if (db_parse_stamp(pm->value, pm->len, pm->type == DB_DATETIME,
		    &t) != 0)
			return -1;
		memset(&v->t, 0, sizeof v->t);
		v->t.year = (unsigned int)t.year;
		v->t.month = (unsigned int)t.month;
		v->t.day = (unsigned int)t.day;
		if (pm->type == DB_DATE) {
			v->t.time_type = MYSQL_TIMESTAMP_DATE;
			b->buffer_type = MYSQL_TYPE_DATE;
		} else {
			v->t.hour = (unsigned int)t.hour;
			v->t.minute = (unsigned int)t.minute;
			v->t.second = (unsigned int)t.second;
			v->t.second_part = (unsigned long)(t.nanos / 1000);
			v->t.time_type = MYSQL_TIMESTAMP_DATETIME;
			b->buffer_type = MYSQL_TYPE_DATETIME;
		}
		b->buffer = &v->t;
		b->buffer_length = sizeof v->t;
		return 0;
	}
	return -1;
}

static int
set_params(struct db *db)
{
	struct my *my = M(db);
	size_t count = db->param_count;
	MYSQL_BIND *binds;
	union bound *values;
	unsigned long *lens;
	int status = 0;

	if (prepare_set(db) != 0)
		return db->status;
	binds = xcalloc(count, sizeof *binds);
	values = xcalloc(count, sizeof *values);
	lens = xcalloc(count, sizeof *lens);
	for (size_t i = 0; i < count; i++)
		if (bind_param(&db->params[i], &binds[i], &values[i],
		    &lens[i]) != 0) {
			warn("%sparameter @%s: not a valid %s", db_context(db),
			    db->params[i].name,
			    db_type_name(db->params[i].type));
			db->status = EX_DATAERR;
			status = EX_DATAERR;
			goto out;
		}
	my->last_read = time(NULL);
	if (mysql_stmt_bind_param(my->set, binds) != 0 ||
	    mysql_stmt_execute(my->set) != 0) {
		report(db, mysql_stmt_errno(my->set), mysql_stmt_error(my->set));
		status = db->status != 0 ? db->status : EX_SOFTWARE;
	}
out:
	free(lens);
	free(values);
	free(binds);
	return status;
}

static int
my_batch(struct db *db, const char *sql)
{
	struct my *my = M(db);

	discard_results(db);
	if (db->dead)
		return db->status != 0 ? db->status : EX_TEMPFAIL;
	my->count = -1;
	my->last_read = time(NULL);
	if (mysql_real_query(my->m, sql, (unsigned long)strlen(sql)) != 0) {
		report_conn(db);
		return db->status != 0 ? db->status : EX_SOFTWARE;
	}
	my->pending = 1;
	return 0;
}

static int
my_execute(struct db *db, const char *sql)
{
	int status;

	discard_results(db);
	if (db->param_count > 0 && (status = set_params(db)) != 0)
		return status;
	return my_batch(db, sql);
}

static int
my_next_result(struct db *db)
{
	struct my *my = M(db);

	if (my->res != NULL) {
		mysql_free_result(my->res);
		my->res = NULL;
	}
	if (!my->pending) {
		int rc = mysql_more_results(my->m) ? mysql_next_result(my->m) :
		    -1;

		if (rc < 0)
			return 0;
		if (rc > 0) {
			report_conn(db);
			return -1;
		}
	}
	my->pending = 0;
	my->rows = 0;
	if (mysql_field_count(my->m) == 0) {
		my->count = (long)mysql_affected_rows(my->m);
		return 1;
	}
	if ((my->res = mysql_use_result(my->m)) == NULL) {
		report_conn(db);
		return -1;
	}
	db->columns = (int)mysql_num_fields(my->res);
	my->fields = mysql_fetch_fields(my->res);
	my->count = -1;
	return 1;
}

static const char *
my_column_name(struct db *db, int column)
{
	return M(db)->fields[column - 1].name;
}

static int
my_next_row(struct db *db)
{
	struct my *my = M(db);

	if (my->res == NULL)
		return 0;
	if ((my->row = mysql_fetch_row(my->res)) != NULL) {
		my->lengths = mysql_fetch_lengths(my->res);
		my->rows++;
		return 1;
	}
	if (mysql_errno(my->m) != 0) {
		report_conn(db);
		return -1;
	}
	my->count = my->rows;
	return 0;
}

static const char *
my_cell(struct db *db, int column, size_t *len)
{
	struct my *my = M(db);
	const MYSQL_FIELD *f = &my->fields[column - 1];
	const char *data = my->row[column - 1];
	size_t n = my->lengths[column - 1];
	char *out;

	*len = 0;
	if (data == NULL)
		return NULL;
	switch (f->type) {
	case MYSQL_TYPE_BIT: {
		unsigned long long v = 0;

		for (size_t i = 0; i < n; i++)
			v = v << 8 | (unsigned char)data[i];
		out = db_scratch(db, 32);
		*len = (size_t)sprintf(out, "%llu", v);
		return out;
	}
	case MYSQL_TYPE_DATETIME:
	case MYSQL_TYPE_TIMESTAMP:
	case MYSQL_TYPE_TIME:
		/* a fraction without its trailing zeros, as from TDS */
		if (memchr(data, '.', n) != NULL) {
			while (n > 0 && data[n - 1] == '0')
				n--;
			if (n > 0 && data[n - 1] == '.')
				n--;
		}
		break;
	case MYSQL_TYPE_TINY_BLOB:
	case MYSQL_TYPE_MEDIUM_BLOB:
	case MYSQL_TYPE_LONG_BLOB:
	case MYSQL_TYPE_BLOB:
	case MYSQL_TYPE_VAR_STRING:
	case MYSQL_TYPE_STRING:
	case MYSQL_TYPE_VARCHAR:
	case MYSQL_TYPE_GEOMETRY:
		if (f->charsetnr == BINARY_CHARSET) {
			out = db_scratch(db, n * 2 + 3);
			*len = db_format_hex(out, (const unsigned char *)data,
			    n);
			return out;
		}
		break;
	default:
		break;
	}
	*len = n;
	return data;
}

static long
my_result_count(struct db *db)
{
	return M(db)->count;
}

const struct db_driver db_mysql_driver = {
	.name = "mysql",
	.connect = my_connect,
	.close = my_close,
	.execute = my_execute,
	.batch = my_batch,
	.begin_sql = "START TRANSACTION",
	.commit_sql = "COMMIT",
	.rollback_sql = "ROLLBACK",
	.next_result = my_next_result,
	.column_name = my_column_name,
	.next_row = my_next_row,
	.cell = my_cell,
	.result_count = my_result_count,
};
