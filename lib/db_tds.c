/*
 * db_tds.c: the TDS back end of lib/db.c, SQL Server and Sybase through
 * FreeTDS db-lib: login (UTF-8, TDS 7.4, TLS checked), sp_executesql with
 * typed @parameters, rows in the text forms sched-query(1) gives.
 */
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
#include "db_driver.h"
#include "err.h"
#include "mem.h"

/* FreeTDS's XSYBNVARCHAR: sybdb.h does not name it, dbrpcparam takes it. */
#define TDS_NVARCHAR 231
#define TDS_NCHAR 239
#define TDS_XVARCHAR 167
#define TDS_XCHAR 175

#define PACKET_SIZE 16384

enum phase { PHASE_CONNECT, PHASE_QUERY };

union param_value {
	DBINT i;
	DBBIGINT big;
	DBDECIMAL dec;
	DBDATETIME dt;
};

/* What encryption and ca file come to for this login. */
struct tls_conf {
	char *encryption;	/* NULL: not set */
	char *ca_file;
};

struct tds {
	DBPROCESS *proc;
	enum phase phase;
	int connect_status;	/* first failure while logging in */
	char *connect_message;
	int tls_required;	/* by the options or freetds.conf */
	int iconv_reported;
	int timeouts;		/* SYBETIME calls for this statement */
	int *coltype;
};

/* The db being logged in, for handler calls that carry no DBPROCESS. */
static struct db *connecting;
static int dblib_ready;

static struct tds *
T(const struct db *db)
{
	return db->impl;
}

static struct db *
db_of(DBPROCESS *proc)
{
	struct db *db = NULL;

	if (proc != NULL)
		db = (struct db *)dbgetuserdata(proc);
	return db != NULL ? db : connecting;
}

static void
connect_failure(struct db *db, int status, char *message)
{
	if (T(db)->connect_message != NULL) {
		free(message);
		return;
	}
	T(db)->connect_status = status;
	T(db)->connect_message = message;
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
		if (T(db)->tls_required)
			connect_failure(db, EX_NOPERM, xasprintf(
			    "login to %s failed: TLS was required and could "
			    "not be negotiated (no TLS on the server, or its "
			    "certificate not trusted or not for that name)",
			    db->where));
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
	if (T(db)->phase == PHASE_CONNECT) {
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
		if (T(db)->timeouts++ > 0)
			return INT_CANCEL;
		what = xasprintf("query timed out: nothing from the server "
		    "for %d s", db->s.query_timeout);
		warn("%s%s", db_context(db), what);
		free(what);
		db->timed_out = 1;
		db->status = worst_status(db->status, EX_TEMPFAIL);
		return INT_TIMEOUT;
	case SYBESEOF:
	case SYBEREAD:
	case SYBEWRIT:
	case SYBECONN:
	case SYBEFCON:
		db_mark_lost(db, "lost the connection to the server");
		break;
	case SYBESMSG:
		/* "check messages from the server": on_message did */
		db->status = worst_status(db->status, EX_DATAERR);
		break;
	case SYBEICONVIU:
	case SYBEICONVI:
	case SYBEICONVO:
	case SYBEICONV2BIG:
		if (!T(db)->iconv_reported)
			warn("%scharacters not convertible to or from UTF-8",
			    db_context(db));
		T(db)->iconv_reported = 1;
		db->status = worst_status(db->status, EX_DATAERR);
		break;
	default:
		warn("%sdb-lib error %d: %s", db_context(db), dberr,
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
	if (severity <= 10) {
		/* INFO: PRINT output, "changed database context" */
		if (db->s.verbose) {
			text = db_redact(db, msgtext != NULL ? msgtext : "");
			warn("%sserver: %s", db_context(db), text);
			free(text);
		}
	} else if (T(db)->phase == PHASE_CONNECT) {
		message_while_connecting(db, msgno);
	} else {
		db_server_error(db, (int)msgno, line, msgtext);
	}
	return 0;
}

/* Days from 1900-01-01, db-lib's epoch for dates. */
static long
days_since_1900(int year, int month, int day)
{
	return date_to_days(year, month, day) - date_to_days(1900, 1, 1);
}

/* The freetds.conf db-lib reads: $FREETDSCONF, ~/.freetds.conf, the system's. */
static FILE *
open_freetds_conf(void)
{
	const char *env = getenv("FREETDSCONF"), *home = getenv("HOME");
	FILE *fp;

	if (env != NULL && *env != '\0')
		return fopen(env, "re");
	if (home != NULL && *home != '\0') {
		char *path = xasprintf("%s/.freetds.conf", home);

		fp = fopen(path, "re");
		free(path);
		if (fp != NULL)
			return fp;
	}
	return fopen("/etc/freetds/freetds.conf", "re");
}

static char *
trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n", end[-1]) != NULL)
		*--end = '\0';
	return s;
}

/*
 * Reads encryption and ca file as db-lib will see them for this server:
 * [global], then the server's own section. Only to tell a TLS failure
 * (77) from a network one (75) and to refuse TLS without checking; db-lib
 * still reads the file itself.
 */
static void
read_tls_conf(const struct db *db, struct tls_conf *conf)
{
	FILE *fp = open_freetds_conf();
	char *line = NULL;
	size_t cap = 0;
	int in_section = 0;

	memset(conf, 0, sizeof *conf);
	if (fp == NULL)
		return;
	while (getline(&line, &cap, fp) >= 0) {
		char *s = trim(line), *eq, *key, *value, **field;

		if (*s == ';' || *s == '#' || *s == '\0')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end != NULL)
				*end = '\0';
			s = trim(s + 1);
			in_section = strcasecmp(s, "global") == 0 ||
			    strcasecmp(s, db->s.server) == 0;
			continue;
		}
		if (!in_section || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (strcasecmp(key, "encryption") == 0)
			field = &conf->encryption;
		else if (strcasecmp(key, "ca file") == 0)
			field = &conf->ca_file;
		else
			continue;
		free(*field);
		*field = *value != '\0' ? xstrdup(value) : NULL;
	}
	free(line);
	fclose(fp);
}

/*
 * Whether this login must have TLS, and a refusal (EX_CONFIG) of a
 * freetds.conf that asks for TLS without naming what to check the
 * certificate against: db-lib would then check nothing.
 */
static int
check_tls_conf(struct db *db)
{
	struct tls_conf conf;
	int status = 0;

	/* The options make a freetds.conf of their own. */
	if (db->s.encrypt != NULL || db->s.ca_file != NULL) {
		T(db)->tls_required = db->s.encrypt != NULL &&
		    strcmp(db->s.encrypt, "require") == 0;
		return 0;
	}
	read_tls_conf(db, &conf);
	if (conf.encryption != NULL && (strcasecmp(conf.encryption,
	    "require") == 0 || strcasecmp(conf.encryption, "required") == 0 ||
	    strcasecmp(conf.encryption, "strict") == 0))
		T(db)->tls_required = 1;
	/* a value db-lib does not know is its own error (78) */
	if ((T(db)->tls_required || (conf.encryption != NULL &&
	    strcasecmp(conf.encryption, "request") == 0)) &&
	    conf.ca_file == NULL) {
		warn("freetds.conf asks for encryption = %s without a ca file: "
		    "the certificate would go unchecked; add ca file = system "
		    "(or a CA file)", conf.encryption);
		status = EX_CONFIG;
	}
	free(conf.encryption);
	free(conf.ca_file);
	return status;
}

/*
 * Writes a private freetds.conf with the TLS settings; FREETDSCONF names
 * it. TLS asked for without a CA file is checked against the system's
 * store: db-lib checks nothing unless a ca file is set.
 */
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
	else if (db->s.encrypt != NULL && strcmp(db->s.encrypt, "off") != 0)
		fprintf(fp, "\tca file = system\n");
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
tds_close(struct db *db)
{
	struct tds *t = T(db);

	if (t == NULL)
		return;
	if (t->proc != NULL)
		dbclose(t->proc);
	free(t->connect_message);
	free(t->coltype);
	free(t);
	db->impl = NULL;
}

static int
tds_connect(struct db *db, const char *password)
{
	const struct db_settings *s = &db->s;
	LOGINREC *login;
	char *conf_dir = NULL, *conf_path = NULL;
	int status;

	db->impl = xcalloc(1, sizeof(struct tds));
	if ((status = check_tls_conf(db)) != 0)
		goto out;
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
	T(db)->phase = PHASE_CONNECT;
	connecting = db;
	T(db)->proc = dbopen(login, db->where);
	connecting = NULL;
	remove_tls_conf(conf_dir, conf_path);
	dbloginfree(login);
	if (T(db)->proc == NULL) {
		if (T(db)->connect_message == NULL)
			connect_failure(db, EX_TEMPFAIL,
			    xasprintf("login to %s failed", db->where));
		warn("%s", T(db)->connect_message);
		status = T(db)->connect_status;
		goto out;
	}
	dbsetuserdata(T(db)->proc, (BYTE *)db);
	T(db)->phase = PHASE_QUERY;
	return 0;
out:
	tds_close(db);
	return status;
}

static int
check_dead(struct db *db)
{
	if (!db->dead && DBDEAD(T(db)->proc))
		db_mark_lost(db, "lost the connection to the server");
	return db->dead;
}

/* Sends and checks: the status, or EX_TEMPFAIL/EX_SOFTWARE. */
static int
sent(struct db *db, RETCODE rc)
{
	if (rc == SUCCEED && !check_dead(db))
		return 0;
	if (!check_dead(db))
		dbcancel(T(db)->proc);
	if (db->status == 0) {
		warn("%scannot send the statement to the server",
		    db_context(db));
		db->status = EX_SOFTWARE;
	}
	return db->status;
}

/* The binary form a declared parameter travels in. */
static int
bind_value(struct db *db, const struct db_param *pm, union param_value *v,
    int *type, DBINT *len)
{
	struct db_stamp t;
	long long n;
	int scale;

	switch (pm->type) {
	case DB_NVARCHAR:
		*type = TDS_NVARCHAR;
		*len = (DBINT)pm->len;
		return 0;
	case DB_INT:
		if (db_parse_integer(pm->value, pm->len, INT32_MIN, INT32_MAX,
		    &n) != 0)
			return -1;
		v->i = (DBINT)n;
		*type = SYBINT4;
		*len = -1;
		return 0;
	case DB_BIGINT:
		if (db_parse_integer(pm->value, pm->len, INT64_MIN, INT64_MAX,
		    &n) != 0)
			return -1;
		v->big = (DBBIGINT)n;
		*type = SYBINT8;
		*len = -1;
		return 0;
	case DB_DECIMAL: {
		DBTYPEINFO info;

		if (db_parse_decimal(pm->value, pm->len, &scale) != 0)
			return -1;
		info.precision = 38;
		info.scale = scale;
		if (dbconvert_ps(T(db)->proc, SYBVARCHAR,
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
		if (db_parse_stamp(pm->value, pm->len, 0, &t) != 0)
			return -1;
		*type = TDS_NVARCHAR;
		*len = (DBINT)pm->len;
		return 0;
	case DB_DATETIME: {
		long ms;

		if (db_parse_stamp(pm->value, pm->len, 1, &t) != 0)
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

static int
tds_execute(struct db *db, const char *sql)
{
	const struct db_param *params = db->params;
	size_t count = db->param_count;
	union param_value *values;
	char *decl = NULL, *name;
	size_t decl_len = 0, decl_cap = 0;
	RETCODE rc;

	values = xcalloc(count > 0 ? count : 1, sizeof *values);
	decl_append(&decl, &decl_len, &decl_cap, "");
	for (size_t i = 0; i < count; i++) {
		char part[64];
		int scale = 0;

		if (params[i].type == DB_DECIMAL && params[i].len > 0)
			db_parse_decimal(params[i].value, params[i].len, &scale);
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

	rc = dbrpcinit(T(db)->proc, "sp_executesql", 0);
	if (rc == SUCCEED)
		/*
		 * As NTEXT: FreeTDS cuts an NVARCHAR parameter at 4000
		 * characters, and the server takes NTEXT for @stmt.
		 */
		rc = dbrpcparam(T(db)->proc, "", 0, SYBNTEXT, -1,
		    (DBINT)strlen(sql), (BYTE *)sql);
	if (rc == SUCCEED && count > 0)
		rc = dbrpcparam(T(db)->proc, "", 0, TDS_NVARCHAR, -1,
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
			rc = dbrpcparam(T(db)->proc, name, 0,
			    null_types[pm->type], -1, 0, NULL);
			free(name);
			continue;
		}
		if (bind_value(db, pm, &values[i], &type, &len) != 0) {
			warn("%sparameter @%s: not a valid %s", db_context(db),
			    pm->name, db_type_name(pm->type));
			dbrpcinit(T(db)->proc, "", DBRPCRESET);
			free(values);
			free(decl);
			db->status = EX_DATAERR;
			return EX_DATAERR;
		}
		data = type == TDS_NVARCHAR ? (BYTE *)pm->value :
		    (BYTE *)&values[i];
		name = xasprintf("@%s", pm->name);
		rc = dbrpcparam(T(db)->proc, name, 0, type, -1, len, data);
		free(name);
	}
	if (rc == SUCCEED)
		rc = dbrpcsend(T(db)->proc);
	else
		dbrpcinit(T(db)->proc, "", DBRPCRESET);
	free(values);
	free(decl);
	return sent(db, rc);
}

static int
tds_batch(struct db *db, const char *sql)
{
	RETCODE rc;

	rc = dbcmd(T(db)->proc, sql);
	if (rc == SUCCEED)
		rc = dbsqlexec(T(db)->proc);
	return sent(db, rc);
}

static int
tds_next_result(struct db *db)
{
	RETCODE rc;

	rc = dbresults(T(db)->proc);
	if (rc == NO_MORE_RESULTS)
		return check_dead(db) ? -1 : 0;
	if (rc != SUCCEED) {
		if (!check_dead(db)) {
			dbcancel(T(db)->proc);
			if (db->status == 0) {
				warn("%sthe statement failed", db_context(db));
				db->status = EX_DATAERR;
			}
		}
		return -1;
	}
	db->columns = dbnumcols(T(db)->proc);
	if (db->columns > 0) {
		T(db)->coltype = xreallocarray(T(db)->coltype,
		    (size_t)db->columns, sizeof *T(db)->coltype);
		for (int i = 0; i < db->columns; i++)
			T(db)->coltype[i] = dbcoltype(T(db)->proc, i + 1);
	}
	return 1;
}

static const char *
tds_column_name(struct db *db, int column)
{
	return dbcolname(T(db)->proc, column);
}

static int
tds_next_row(struct db *db)
{
	STATUS rc;

	for (;;) {
		rc = dbnextrow(T(db)->proc);
		if (rc == REG_ROW)
			return 1;
		if (rc == NO_MORE_ROWS)
			return check_dead(db) ? -1 : 0;
		if (rc == FAIL || rc == BUF_FULL) {
			if (!check_dead(db) && db->status == 0) {
				warn("%scannot read a row from the server",
				    db_context(db));
				db->status = EX_SOFTWARE;
			}
			return -1;
		}
		/* a COMPUTE row: not part of the result's table */
	}
}

static long
tds_result_count(struct db *db)
{
	return (long)dbcount(T(db)->proc);
}

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

/*
 * A datetimeoffset travels as UTC and its offset; SQL Server and tsql
 * show the local time beside the offset, and so do we.
 */
static void
to_local_time(DBDATETIMEALL *dta)
{
	const long long day = 864000000000LL;	/* in 100 ns units */
	long long t = (long long)dta->time + (long long)dta->offset * 600000000LL;
	long days = dta->date;

	while (t < 0) {
		t += day;
		days--;
	}
	while (t >= day) {
		t -= day;
		days++;
	}
	dta->time = (unsigned long long)t;
	dta->date = (int)days;
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

static const char *
tds_cell(struct db *db, int column, size_t *len)
{
	BYTE *data = dbdata(T(db)->proc, column);
	size_t data_len;
	int type = T(db)->coltype[column - 1];
	char *out;

	if (data == NULL) {
		*len = 0;
		return NULL;
	}
	data_len = (size_t)dbdatlen(T(db)->proc, column);
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
	out = db_scratch(db, 128);
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
		if (type == SYBMSDATETIMEOFFSET)
			to_local_time(&dta);
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

			n += (size_t)sprintf(out + n, " %c%02d:%02d",
			    off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
		}
		*len = n;
		break;
	}
	case SYBBINARY:
	case SYBVARBINARY:
	case SYBIMAGE:
		out = db_scratch(db, data_len * 2 + 3);
		*len = db_format_hex(out, data, data_len);
		break;
	default: {
		/* decimal, numeric, uniqueidentifier: db-lib's own text */
		DBINT n;

		out = db_scratch(db, data_len * 4 + 128);
		n = dbconvert(T(db)->proc, type, data, (DBINT)data_len, SYBCHAR,
		    (BYTE *)out, (DBINT)db->cap - 1);
		if (n < 0) {
			warn("%scolumn %d: cannot convert type %d to text",
			    db_context(db), column, type);
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

const struct db_driver db_tds_driver = {
	.name = "tds",
	.connect = tds_connect,
	.close = tds_close,
	.execute = tds_execute,
	.batch = tds_batch,
	.begin_sql = "BEGIN TRANSACTION",
	.commit_sql = "COMMIT TRANSACTION",
	.rollback_sql = "ROLLBACK TRANSACTION",
	.next_result = tds_next_result,
	.column_name = tds_column_name,
	.next_row = tds_next_row,
	.cell = tds_cell,
	.result_count = tds_result_count,
};
