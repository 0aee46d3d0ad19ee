/* db.c: SQL Server over FreeTDS db-lib: login, typed parameters, rows */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sybfront.h>
#include <sybdb.h>

#include "date.h"
#include "db.h"
#include "err.h"
#include "mem.h"
#include "secret.h"
#include "utf8.h"

/* FreeTDS's XSYBNVARCHAR: sybdb.h does not name it, dbrpcparam takes it. */
#define TDS_NVARCHAR 231
#define TDS_NCHAR 239
#define TDS_XVARCHAR 167
#define TDS_XCHAR 175

#define DEFAULT_LOGIN_TIMEOUT 30
#define PACKET_SIZE 16384
/* Server values shorter than this are not searched for in messages. */
#define REDACT_MIN 3

enum phase { PHASE_CONNECT, PHASE_QUERY };

union param_value {
	DBINT i;
	DBBIGINT big;
	DBDECIMAL dec;
	DBDATETIME dt;
};

struct db {
	DBPROCESS *proc;
	struct db_settings s;
	char *where;		/* host:port or the name, for messages */
	enum phase phase;
	int status;		/* worst failure since the last statement */
	int connect_status;	/* first failure while logging in */
	char *connect_message;
	int lost;		/* the connection loss was reported */
	int dead;
	int iconv_reported;
	int timeouts;		/* SYBETIME calls for this statement */
	int timed_out;		/* reported; the cancel may keep the link */
	const char *context;
	int error_number;	/* the last server error since the statement */
	char *error_text;	/* its text, redacted */
	const struct db_param *params;	/* in flight, for redaction */
	size_t param_count;
	int columns;
	int *coltype;
	char *buf;		/* a cell's text */
	size_t cap;
};

/* The db being logged in, for handler calls that carry no DBPROCESS. */
static struct db *connecting;
static int dblib_ready;

static struct db *
db_of(DBPROCESS *proc)
{
	struct db *db = NULL;

	if (proc != NULL)
		db = (struct db *)dbgetuserdata(proc);
	return db != NULL ? db : connecting;
}

static const char *
context_of(const struct db *db)
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

/*
 * Server messages can quote the data that failed ("The duplicate key
 * value is (...)", "converting the nvarchar value '...'"), and no
 * diagnostic may carry a cell's value: blank those, and any bound value.
 */
static char *
redact(const struct db *db, const char *text)
{
	char *s = xstrdup(text);
	char *p, *end;

	for (size_t i = 0; i < db->param_count; i++) {
		const struct db_param *pm = &db->params[i];
		size_t from = 0;

		if (pm->value == NULL || pm->len < REDACT_MIN)
			continue;
		while ((p = memmem(s + from, strlen(s + from), pm->value,
		    pm->len)) != NULL) {
			from = (size_t)(p - s) + 3;
			s = blank_out(s, (size_t)(p - s), pm->len);
		}
	}
	if ((p = strstr(s, "value is (")) != NULL &&
	    (end = strrchr(p, ')')) != NULL && end > p + 10)
		s = blank_out(s, (size_t)(p - s) + 10, (size_t)(end - p) - 10);
	for (size_t from = 0; (p = strstr(s + from, "value '")) != NULL;) {
		end = strchr(p + 7, '\'');
		if (end == NULL)
			break;
		from = (size_t)(p - s) + 7 + 4;
		s = blank_out(s, (size_t)(p - s) + 7, (size_t)(end - p) - 7);
	}
	return s;
}

static void
connect_failure(struct db *db, int status, char *message)
{
	if (db->connect_message != NULL) {
		free(message);
		return;
	}
	db->connect_status = status;
	db->connect_message = message;
}

static int
tls_required(const struct db *db)
{
	return db->s.encrypt != NULL && strcmp(db->s.encrypt, "require") == 0;
}

static void
error_while_connecting(struct db *db, int dberr, int oserr,
    const char *dberrstr)
{
	switch (dberr) {
	case SYBETIME:
		connect_failure(db, EX_TEMPFAIL, xasprintf(
		    "login to %s timed out after %d s", db->where,
		    db->s.login_timeout));
		break;
	case SYBECONN:
	case SYBESOCK:
		connect_failure(db, EX_TEMPFAIL, xasprintf(
		    "cannot connect to %s: %s", db->where,
		    oserr != 0 ? strerror(oserr) : "server unavailable"));
		break;
	case SYBEINTF:
	case SYBEUHST:
		connect_failure(db, EX_CONFIG, xasprintf(
		    "unknown server %s: not a freetds.conf name nor a host "
		    "name that resolves", db->s.server));
		break;
	case 20214:	/* TDSECONF: freetds.conf has a bad value */
		connect_failure(db, EX_CONFIG, xasprintf(
		    "bad FreeTDS configuration for %s (see freetds.conf)",
		    db->s.server));
		break;
	case SYBESEOF:
	case SYBEREAD:
	case SYBEWRIT:
		connect_failure(db, EX_TEMPFAIL, xasprintf(
		    "connection to %s lost during login", db->where));
		break;
	case SYBEFCON:
		if (tls_required(db))
			connect_failure(db, EX_NOPERM, xasprintf(
			    "login to %s failed: TLS was required and could "
			    "not be negotiated", db->where));
		else
			connect_failure(db, EX_TEMPFAIL, xasprintf(
			    "login to %s failed", db->where));
		break;
	default:
		connect_failure(db, EX_SOFTWARE, xasprintf(
		    "login to %s: db-lib error %d: %s", db->where, dberr,
		    dberrstr != NULL ? dberrstr : "unknown"));
		break;
	}
}

static void
mark_lost(struct db *db, const char *what)
{
	db->dead = 1;
	db->status = worst_status(db->status, EX_TEMPFAIL);
	/* After a timeout the closing is no news. */
	if (!db->lost && !db->timed_out)
		warn("%s%s", context_of(db), what);
	db->lost = 1;
}

static int
on_error(DBPROCESS *proc, int severity, int dberr, int oserr, char *dberrstr,
    char *oserrstr)
{
	struct db *db = db_of(proc);
	char *what;

	(void)severity;
	(void)oserrstr;
	if (db == NULL) {
		warn("db-lib error %d: %s", dberr,
		    dberrstr != NULL ? dberrstr : "unknown");
		return INT_CANCEL;
	}
	if (db->phase == PHASE_CONNECT) {
		error_while_connecting(db, dberr, oserr, dberrstr);
		/* INT_TIMEOUT would send a cancel and wait on: close. */
		return INT_CANCEL;
	}
	switch (dberr) {
	case SYBETIME:
		/*
		 * The first time, INT_TIMEOUT sends the server a cancel and
		 * waits once more; a server that does not answer even that
		 * gets the connection closed.
		 */
		if (db->timeouts++ > 0)
			return INT_CANCEL;
		what = xasprintf("query timed out: nothing from the server "
		    "for %d s", db->s.query_timeout);
		warn("%s%s", context_of(db), what);
		free(what);
		db->timed_out = 1;
		db->status = worst_status(db->status, EX_TEMPFAIL);
		return INT_TIMEOUT;
	case SYBESEOF:
	case SYBEREAD:
	case SYBEWRIT:
	case SYBECONN:
	case SYBEFCON:
		mark_lost(db, "lost the connection to the server");
		break;
	case SYBESMSG:
		/* "check messages from the server": on_message did */
		db->status = worst_status(db->status, EX_DATAERR);
		break;
	case SYBEICONVIU:
	case SYBEICONVI:
	case SYBEICONVO:
	case SYBEICONV2BIG:
		if (!db->iconv_reported)
			warn("%scharacters not convertible to or from UTF-8",
			    context_of(db));
		db->iconv_reported = 1;
		db->status = worst_status(db->status, EX_DATAERR);
		break;
	default:
		warn("%sdb-lib error %d: %s", context_of(db), dberr,
		    dberrstr != NULL ? dberrstr : "unknown");
		db->status = worst_status(db->status, EX_SOFTWARE);
		break;
	}
	return INT_CANCEL;
}

static void
message_while_connecting(struct db *db, DBINT msgno)
{
	if (msgno >= 18450 && msgno <= 18499)
		connect_failure(db, EX_NOPERM, xasprintf(
		    "login failed for user %s on %s (server error %d)",
		    db->s.user, db->where, (int)msgno));
	else if (msgno == 4060)
		connect_failure(db, EX_CONFIG, xasprintf(
		    "cannot open database %s on %s (server error 4060)",
		    db->s.database != NULL ? db->s.database : "(default)",
		    db->where));
	else
		connect_failure(db, EX_TEMPFAIL, xasprintf(
		    "login to %s refused (server error %d)", db->where,
		    (int)msgno));
}

static int
on_message(DBPROCESS *proc, DBINT msgno, int msgstate, int severity,
    char *msgtext, char *srvname, char *procname, int line)
{
	struct db *db = db_of(proc);
	char *text;

	(void)msgstate;
	(void)srvname;
	(void)procname;
	if (db == NULL)
		return 0;
	text = redact(db, msgtext != NULL ? msgtext : "");
	if (severity <= 10) {
		/* INFO: PRINT output, "changed database context" */
		if (db->s.verbose)
			warn("%sserver: %s", context_of(db), text);
	} else if (db->phase == PHASE_CONNECT) {
		message_while_connecting(db, msgno);
	} else {
		warn("%sserver error %d, line %d: %s", context_of(db),
		    (int)msgno, line, text);
		db->status = worst_status(db->status, EX_DATAERR);
		db->error_number = (int)msgno;
		free(db->error_text);
		db->error_text = xstrdup(text);
	}
	free(text);
	return 0;
}

int
db_encrypt_valid(const char *mode)
{
	return strcmp(mode, "off") == 0 || strcmp(mode, "request") == 0 ||
	    strcmp(mode, "require") == 0;
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
static int
parse_integer(const char *s, size_t len, long long min, long long max,
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
static int
parse_decimal(const char *s, size_t len, int *scale)
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

struct stamp {
	int year, month, day;
	int hour, minute, second;
	long nanos;
};

/* HH:MM[:SS[.fraction]] exactly, the fraction up to 9 digits. */
static int
parse_time(const char *s, size_t len, struct stamp *t)
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

static int
parse_stamp(const char *s, size_t len, int with_time, struct stamp *t)
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
	struct stamp t;

	if (value == NULL || len == 0)
		return 1;
	switch (type) {
	case DB_NVARCHAR:
		return utf8_valid((const unsigned char *)value, len);
	case DB_INT:
		return parse_integer(value, len, INT32_MIN, INT32_MAX, &v) == 0;
	case DB_BIGINT:
		return parse_integer(value, len, INT64_MIN, INT64_MAX, &v) == 0;
	case DB_DECIMAL:
		return parse_decimal(value, len, &scale) == 0;
	case DB_DATE:
		return parse_stamp(value, len, 0, &t) == 0;
	case DB_DATETIME:
		return parse_stamp(value, len, 1, &t) == 0;
	}
	return 0;
}

/* Days from 1900-01-01, db-lib's epoch for dates. */
static long
days_since_1900(int year, int month, int day)
{
	return date_to_days(year, month, day) - date_to_days(1900, 1, 1);
}

/* Writes a private freetds.conf with the TLS settings; FREETDSCONF names it. */
static int
write_tls_conf(struct db *db, char **dir_out, char **path_out)
{
	const char *tmp = getenv("TMPDIR");
	char *dir, *path;
	FILE *fp;
	int fd;

	if (getenv("FREETDSCONF") != NULL) {
		warn("FREETDSCONF is set: put encryption and ca file in that "
		    "file instead of the TLS options");
		return EX_CONFIG;
	}
	if (db->s.ca_file != NULL && (strchr(db->s.ca_file, '\n') != NULL ||
	    (strcmp(db->s.ca_file, "system") != 0 &&
	    access(db->s.ca_file, R_OK) != 0))) {
		warn("%s: cannot read the CA file:", db->s.ca_file);
		return EX_CONFIG;
	}
	dir = xasprintf("%s/schedfeed-db.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		warn("%s: cannot create a directory:", dir);
		free(dir);
		return EX_CANTCREAT;
	}
	path = xasprintf("%s/freetds.conf", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		warn("%s: cannot create:", path);
		if (fd >= 0)
			close(fd);
		rmdir(dir);
		free(path);
		free(dir);
		return EX_CANTCREAT;
	}
	fprintf(fp, "# written by %s for one login, then removed\n[global]\n",
	    progname);
	if (db->s.encrypt != NULL)
		fprintf(fp, "\tencryption = %s\n", db->s.encrypt);
	if (db->s.ca_file != NULL)
		fprintf(fp, "\tca file = %s\n", db->s.ca_file);
	if (fclose(fp) != 0) {
		warn("%s: cannot write:", path);
		unlink(path);
		rmdir(dir);
		free(path);
		free(dir);
		return EX_IOERR;
	}
	setenv("FREETDSCONF", path, 1);
	*dir_out = dir;
	*path_out = path;
	return 0;
}

static void
remove_tls_conf(char *dir, char *path)
{
	if (path == NULL)
		return;
	unsetenv("FREETDSCONF");
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

static void
db_free(struct db *db)
{
	free(db->where);
	free(db->connect_message);
	free(db->coltype);
	free(db->buf);
	free(db->error_text);
	free(db);
}

int
db_connect(const struct db_settings *s, struct db **dbp)
{
	struct db *db = xcalloc(1, sizeof *db);
	LOGINREC *login;
	char *password, *target, *conf_dir = NULL, *conf_path = NULL;
	int status;

	db->s = *s;
	if (s->server == NULL || *s->server == '\0') {
		warn("no server: give -S or set SCHEDFEED_DB_SERVER");
		db_free(db);
		return EX_CONFIG;
	}
	if (s->user == NULL || *s->user == '\0') {
		warn("no user: give -U or set SCHEDFEED_DB_USER");
		db_free(db);
		return EX_CONFIG;
	}
	if (s->port != 0)
		target = xasprintf(strchr(s->server, ':') != NULL &&
		    s->server[0] != '[' ? "[%s]:%d" : "%s:%d", s->server,
		    s->port);
	else
		target = xstrdup(s->server);
	db->where = xstrdup(target);
	password = secret_require("SCHEDFEED_DB_PASSWORD");

	if (!dblib_ready) {
		if (dbinit() == FAIL) {
			warn("cannot initialise db-lib");
			status = EX_SOFTWARE;
			goto out;
		}
		dberrhandle(on_error);
		dbmsghandle(on_message);
		dblib_ready = 1;
	}
	if ((login = dblogin()) == NULL) {
		warn("cannot allocate a db-lib login");
		status = EX_OSERR;
		goto out;
	}
	DBSETLUSER(login, s->user);
	DBSETLPWD(login, password);
	DBSETLAPP(login, s->app_name != NULL ? s->app_name : progname);
	DBSETLCHARSET(login, "UTF-8");
	DBSETLPACKET(login, PACKET_SIZE);
	if (s->database != NULL)
		DBSETLDBNAME(login, s->database);
	/* A pinned version: "auto" retries a timed-out login as TDS 5.0. */
	if (getenv("TDSVER") == NULL)
		DBSETLVERSION(login, DBVERSION_74);
	dbsetlogintime(s->login_timeout);
	dbsettime(s->query_timeout);

	if (s->encrypt != NULL || s->ca_file != NULL) {
		status = write_tls_conf(db, &conf_dir, &conf_path);
		if (status != 0) {
			dbloginfree(login);
			goto out;
		}
	}
	db->phase = PHASE_CONNECT;
	connecting = db;
	db->proc = dbopen(login, target);
	connecting = NULL;
	remove_tls_conf(conf_dir, conf_path);
	dbloginfree(login);
	if (db->proc == NULL) {
		if (db->connect_message == NULL)
			connect_failure(db, EX_TEMPFAIL,
			    xasprintf("login to %s failed", db->where));
		warn("%s", db->connect_message);
		status = db->connect_status;
		goto out;
	}
	dbsetuserdata(db->proc, (BYTE *)db);
	db->phase = PHASE_QUERY;
	*dbp = db;
	db = NULL;
	status = 0;
out:
	secret_free(password);
	free(target);
	if (db != NULL)
		db_free(db);
	return status;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	if (db->proc != NULL)
		dbclose(db->proc);
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
check_dead(struct db *db)
{
	if (!db->dead && DBDEAD(db->proc))
		mark_lost(db, "lost the connection to the server");
	return db->dead;
}

static int
begin_statement(struct db *db, const struct db_param *params, size_t count)
{
	if (db->dead)
		return db->status != 0 ? db->status : EX_TEMPFAIL;
	db->status = 0;
	db->error_number = 0;
	free(db->error_text);
	db->error_text = NULL;
	db->params = params;
	db->param_count = count;
	db->columns = 0;
	return 0;
}

/* Sends and checks: the status, or EX_TEMPFAIL/EX_SOFTWARE. */
static int
sent(struct db *db, RETCODE rc)
{
	if (rc == SUCCEED && !check_dead(db))
		return 0;
	if (!check_dead(db))
		dbcancel(db->proc);
	if (db->status == 0) {
		warn("%scannot send the statement to the server",
		    context_of(db));
		db->status = EX_SOFTWARE;
	}
	return db->status;
}

/* The binary form a declared parameter travels in. */
static int
bind_value(struct db *db, const struct db_param *pm, union param_value *v,
    int *type, DBINT *len)
{
	struct stamp t;
	long long n;
	int scale;

	switch (pm->type) {
	case DB_NVARCHAR:
		*type = TDS_NVARCHAR;
		*len = (DBINT)pm->len;
		return 0;
	case DB_INT:
		if (parse_integer(pm->value, pm->len, INT32_MIN, INT32_MAX,
		    &n) != 0)
			return -1;
		v->i = (DBINT)n;
		*type = SYBINT4;
		*len = -1;
		return 0;
	case DB_BIGINT:
		if (parse_integer(pm->value, pm->len, INT64_MIN, INT64_MAX,
		    &n) != 0)
			return -1;
		v->big = (DBBIGINT)n;
		*type = SYBINT8;
		*len = -1;
		return 0;
	case DB_DECIMAL: {
		DBTYPEINFO info;

		if (parse_decimal(pm->value, pm->len, &scale) != 0)
			return -1;
		info.precision = 38;
		info.scale = scale;
		if (dbconvert_ps(db->proc, SYBVARCHAR,
		    (const BYTE *)pm->value, (DBINT)pm->len, SYBDECIMAL,
		    (BYTE *)&v->dec, sizeof v->dec, &info) < 0)
			return -1;
		*type = SYBDECIMAL;
		*len = sizeof v->dec;
		return 0;
	}
	case DB_DATE:
		/*
		 * dbrpcparam takes no DATE value (it counts the type both
		 * fixed and nullable): the checked YYYY-MM-DD goes as text,
		 * which the declaration "@name date" converts exactly.
		 */
		if (parse_stamp(pm->value, pm->len, 0, &t) != 0)
			return -1;
		*type = TDS_NVARCHAR;
		*len = (DBINT)pm->len;
		return 0;
	case DB_DATETIME: {
		long ms;

		if (parse_stamp(pm->value, pm->len, 1, &t) != 0)
			return -1;
		ms = (((long)t.hour * 60 + t.minute) * 60 + t.second) * 1000 +
		    (t.nanos + 500000) / 1000000;
		if (ms > 86399997)
			ms = 86399997;
		v->dt.dtdays = (DBINT)days_since_1900(t.year, t.month, t.day);
		/* 1/300 s ticks, rounded as SQL Server rounds */
		v->dt.dttime = (DBINT)((ms * 3 + 5) / 10);
		*type = SYBDATETIME;
		*len = -1;
		return 0;
	}
	}
	return -1;
}

static void
decl_append(char **decl, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 256;
		*decl = xrealloc(*decl, *cap);
	}
	memcpy(*decl + *len, s, n + 1);
	*len += n;
}

int
db_execute(struct db *db, const char *sql, const struct db_param *params,
    size_t count)
{
	union param_value *values;
	char *decl = NULL, *name;
	size_t decl_len = 0, decl_cap = 0;
	int status;
	RETCODE rc;

	if ((status = begin_statement(db, params, count)) != 0)
		return status;
	values = xcalloc(count > 0 ? count : 1, sizeof *values);
	decl_append(&decl, &decl_len, &decl_cap, "");
	for (size_t i = 0; i < count; i++) {
		char part[64];
		int scale = 0;

		if (params[i].type == DB_DECIMAL && params[i].len > 0)
			parse_decimal(params[i].value, params[i].len, &scale);
		if (i > 0)
			decl_append(&decl, &decl_len, &decl_cap, ", ");
		decl_append(&decl, &decl_len, &decl_cap, "@");
		decl_append(&decl, &decl_len, &decl_cap, params[i].name);
		if (params[i].type == DB_DECIMAL)
			snprintf(part, sizeof part, " decimal(38,%d)", scale);
		else if (params[i].type == DB_NVARCHAR)
			snprintf(part, sizeof part, " nvarchar(max)");
		else
			snprintf(part, sizeof part, " %s",
			    db_type_name(params[i].type));
		decl_append(&decl, &decl_len, &decl_cap, part);
	}

	rc = dbrpcinit(db->proc, "sp_executesql", 0);
	if (rc == SUCCEED)
		/*
		 * As NTEXT: FreeTDS cuts an NVARCHAR parameter at 4000
		 * characters, and the server takes NTEXT for @stmt.
		 */
		rc = dbrpcparam(db->proc, "", 0, SYBNTEXT, -1,
		    (DBINT)strlen(sql), (BYTE *)sql);
	if (rc == SUCCEED && count > 0)
		rc = dbrpcparam(db->proc, "", 0, TDS_NVARCHAR, -1,
		    (DBINT)decl_len, (BYTE *)decl);
	for (size_t i = 0; rc == SUCCEED && i < count; i++) {
		const struct db_param *pm = &params[i];
		int type;
		DBINT len;
		BYTE *data;

		if (pm->value == NULL || pm->len == 0) {
			static const int null_types[] = {
				[DB_NVARCHAR] = TDS_NVARCHAR,
				[DB_INT] = SYBINT4,
				[DB_BIGINT] = SYBINT8,
				[DB_DECIMAL] = SYBDECIMAL,
				[DB_DATE] = TDS_NVARCHAR,
				[DB_DATETIME] = SYBDATETIME,
			};

			name = xasprintf("@%s", pm->name);
			rc = dbrpcparam(db->proc, name, 0,
			    null_types[pm->type], -1, 0, NULL);
			free(name);
			continue;
		}
		if (bind_value(db, pm, &values[i], &type, &len) != 0) {
			warn("%sparameter @%s: not a valid %s", context_of(db),
			    pm->name, db_type_name(pm->type));
			dbrpcinit(db->proc, "", DBRPCRESET);
			free(values);
			free(decl);
			db->status = EX_DATAERR;
			return EX_DATAERR;
		}
		data = type == TDS_NVARCHAR ? (BYTE *)pm->value :
		    (BYTE *)&values[i];
		name = xasprintf("@%s", pm->name);
		rc = dbrpcparam(db->proc, name, 0, type, -1, len, data);
		free(name);
	}
	if (rc == SUCCEED)
		rc = dbrpcsend(db->proc);
	else
		dbrpcinit(db->proc, "", DBRPCRESET);
	free(values);
	free(decl);
	return sent(db, rc);
}

int
db_batch(struct db *db, const char *sql)
{
	int status;
	RETCODE rc;

	if ((status = begin_statement(db, NULL, 0)) != 0)
		return status;
	rc = dbcmd(db->proc, sql);
	if (rc == SUCCEED)
		rc = dbsqlexec(db->proc);
	return sent(db, rc);
}

int
db_next_result(struct db *db)
{
	RETCODE rc;

	if (db->dead)
		return -1;
	rc = dbresults(db->proc);
	if (rc == NO_MORE_RESULTS)
		return check_dead(db) ? -1 : 0;
	if (rc != SUCCEED) {
		if (!check_dead(db)) {
			dbcancel(db->proc);
			if (db->status == 0) {
				warn("%sthe statement failed", context_of(db));
				db->status = EX_DATAERR;
			}
		}
		return -1;
	}
	db->columns = dbnumcols(db->proc);
	if (db->columns > 0) {
		db->coltype = xreallocarray(db->coltype, (size_t)db->columns,
		    sizeof *db->coltype);
		for (int i = 0; i < db->columns; i++)
			db->coltype[i] = dbcoltype(db->proc, i + 1);
	}
	return 1;
}

int
db_column_count(const struct db *db)
{
	return db->columns;
}

enum db_type
db_column_type(const struct db *db, int column)
{
	switch (db->coltype[column - 1]) {
	case SYBINT1:
	case SYBINT2:
	case SYBINT4:
	case SYBBIT:
	case SYBBITN:
		return DB_INT;
	case SYBINT8:
		return DB_BIGINT;
	case SYBDECIMAL:
	case SYBNUMERIC:
	case SYBMONEY:
	case SYBMONEY4:
	case SYBFLT8:
	case SYBREAL:
		return DB_DECIMAL;
	case SYBMSDATE:
		return DB_DATE;
	case SYBDATETIME:
	case SYBDATETIME4:
	case SYBMSDATETIME2:
		return DB_DATETIME;
	default:
		return DB_NVARCHAR;
	}
}

const char *
db_column_name(struct db *db, int column)
{
	const char *name = dbcolname(db->proc, column);

	return name != NULL ? name : "";
}

int
db_next_row(struct db *db)
{
	STATUS rc;

	for (;;) {
		rc = dbnextrow(db->proc);
		if (rc == REG_ROW)
			return 1;
		if (rc == NO_MORE_ROWS)
			return check_dead(db) ? -1 : 0;
		if (rc == FAIL || rc == BUF_FULL) {
			if (!check_dead(db) && db->status == 0) {
				warn("%scannot read a row from the server",
				    context_of(db));
				db->status = EX_SOFTWARE;
			}
			return -1;
		}
		/* a COMPUTE row: not part of the result's table */
	}
}

long
db_result_count(struct db *db)
{
	return (long)dbcount(db->proc);
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

static char *
scratch(struct db *db, size_t need)
{
	if (db->cap < need) {
		db->cap = need < 256 ? 256 : need;
		db->buf = xrealloc(db->buf, db->cap);
	}
	return db->buf;
}

/* Shortest text that reads back as the same double. */
static size_t
format_double(char *out, size_t cap, double v, int digits_min, int digits_max)
{
	int n = 0;

	for (int digits = digits_min; digits <= digits_max; digits++) {
		n = snprintf(out, cap, "%.*g", digits, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return (size_t)n;
}

static size_t
format_float(char *out, size_t cap, float v)
{
	int n = 0;

	for (int digits = 6; digits <= 9; digits++) {
		n = snprintf(out, cap, "%.*g", digits, (double)v);
		if (strtof(out, NULL) == v)
			break;
	}
	return (size_t)n;
}

/* Money is an integer count of 1/10000: exact, four places. */
static size_t
format_money(char *out, size_t cap, int64_t v)
{
	uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	return (size_t)snprintf(out, cap, "%s%llu.%04llu", v < 0 ? "-" : "",
	    (unsigned long long)(a / 10000), (unsigned long long)(a % 10000));
}

/* .fraction without trailing zeros, nothing when zero. */
static size_t
format_fraction(char *out, unsigned long frac, int digits)
{
	size_t n;

	if (frac == 0)
		return 0;
	while (digits > 0 && frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	n = (size_t)sprintf(out, ".%0*lu", digits, frac);
	return n;
}

static size_t
format_date(char *out, long days_1900)
{
	int y, m, d;

	date_from_days(days_1900 + date_to_days(1900, 1, 1), &y, &m, &d);
	return (size_t)sprintf(out, "%04d-%02d-%02d", y, m, d);
}

static size_t
format_clock(char *out, unsigned long seconds, unsigned long frac, int digits)
{
	size_t n = (size_t)sprintf(out, "%02lu:%02lu:%02lu", seconds / 3600,
	    seconds / 60 % 60, seconds % 60);

	return n + format_fraction(out + n, frac, digits);
}

static size_t
format_hex(char *out, const BYTE *data, size_t len)
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

const char *
db_cell(struct db *db, int column, size_t *len)
{
	BYTE *data = dbdata(db->proc, column);
	size_t data_len;
	int type = db->coltype[column - 1];
	char *out;

	if (data == NULL) {
		*len = 0;
		return NULL;
	}
	data_len = (size_t)dbdatlen(db->proc, column);
	switch (type) {
	case SYBCHAR:
	case SYBVARCHAR:
	case SYBTEXT:
	case SYBNTEXT:
	case SYBNVARCHAR:
	case TDS_NVARCHAR:
	case TDS_NCHAR:
	case TDS_XVARCHAR:
	case TDS_XCHAR:
		*len = data_len;
		return (const char *)data;
	}
	out = scratch(db, 128);
	switch (type) {
	case SYBINT1:
		*len = (size_t)sprintf(out, "%u", (unsigned)data[0]);
		break;
	case SYBINT2: {
		int16_t v;

		memcpy(&v, data, sizeof v);
		*len = (size_t)sprintf(out, "%d", (int)v);
		break;
	}
	case SYBINT4: {
		int32_t v;

		memcpy(&v, data, sizeof v);
		*len = (size_t)sprintf(out, "%ld", (long)v);
		break;
	}
	case SYBINT8: {
		int64_t v;

		memcpy(&v, data, sizeof v);
		*len = (size_t)sprintf(out, "%lld", (long long)v);
		break;
	}
	case SYBBIT:
	case SYBBITN:
		*len = 1;
		out[0] = data[0] ? '1' : '0';
		out[1] = '\0';
		break;
	case SYBFLT8: {
		double v;

		memcpy(&v, data, sizeof v);
		*len = format_double(out, 128, v, 15, 17);
		break;
	}
	case SYBREAL: {
		float v;

		memcpy(&v, data, sizeof v);
		*len = format_float(out, 128, v);
		break;
	}
	case SYBMONEY: {
		DBMONEY m;

		memcpy(&m, data, sizeof m);
		*len = format_money(out, 128,
		    (int64_t)(((uint64_t)(uint32_t)m.mnyhigh << 32) | m.mnylow));
		break;
	}
	case SYBMONEY4: {
		DBMONEY4 m;

		memcpy(&m, data, sizeof m);
		*len = format_money(out, 128, m.mny4);
		break;
	}
	case SYBDATETIME: {
		DBDATETIME dt;
		unsigned long ms;
		size_t n;

		memcpy(&dt, data, sizeof dt);
		/* 1/300 s ticks to milliseconds, as SQL Server shows them */
		ms = ((unsigned long)dt.dttime * 10 + 1) / 3;
		n = format_date(out, dt.dtdays);
		out[n++] = ' ';
		*len = n + format_clock(out + n, ms / 1000, ms % 1000, 3);
		break;
	}
	case SYBDATETIME4: {
		DBDATETIME4 dt;
		size_t n;

		memcpy(&dt, data, sizeof dt);
		n = format_date(out, dt.days);
		out[n++] = ' ';
		*len = n + format_clock(out + n,
		    (unsigned long)dt.minutes * 60, 0, 0);
		break;
	}
	case SYBMSDATE:
	case SYBMSTIME:
	case SYBMSDATETIME2:
	case SYBMSDATETIMEOFFSET: {
		DBDATETIMEALL dta;
		size_t n = 0;
		/* time counts 100 ns units */
		unsigned long seconds, frac;

		memcpy(&dta, data, sizeof dta);
		seconds = (unsigned long)(dta.time / 10000000u);
		frac = (unsigned long)(dta.time % 10000000u);
		if (type != SYBMSTIME)
			n = format_date(out, dta.date);
		if (type != SYBMSDATE) {
			if (n > 0)
				out[n++] = ' ';
			n += format_clock(out + n, seconds, frac, 7);
		}
		if (type == SYBMSDATETIMEOFFSET) {
			int off = dta.offset;

			n += (size_t)sprintf(out + n, "%c%02d:%02d",
			    off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
		}
		*len = n;
		break;
	}
	case SYBBINARY:
	case SYBVARBINARY:
	case SYBIMAGE:
		out = scratch(db, data_len * 2 + 3);
		*len = format_hex(out, data, data_len);
		break;
	default: {
		/* decimal, numeric, uniqueidentifier: db-lib's own text */
		DBINT n;

		out = scratch(db, data_len * 4 + 128);
		n = dbconvert(db->proc, type, data, (DBINT)data_len, SYBCHAR,
		    (BYTE *)out, (DBINT)db->cap - 1);
		if (n < 0) {
			warn("%scolumn %d: cannot convert type %d to text",
			    context_of(db), column, type);
			db->status = worst_status(db->status, EX_SOFTWARE);
			n = 0;
		}
		out[n] = '\0';
		*len = (size_t)n;
		break;
	}
	}
	return out;
}
