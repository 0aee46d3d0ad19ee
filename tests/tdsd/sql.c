/* sql.c: a T-SQL batch on SQLite. The batch is split with
 * sqlite3_prepare_v2's tail; SET, BEGIN TRAN, COMMIT, ROLLBACK, USE and
 * PRINT are T-SQL's and handled here; everything else is SQLite's. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

/* CURCMD of DONE tokens */
enum {
	CMD_SELECT = 0xc1,
	CMD_INSERT = 0xc3,
	CMD_DELETE = 0xc4,
	CMD_UPDATE = 0xc5
};

#define NVARCHAR_CHARS 4000	/* past it, an expression is NVARCHAR(MAX) */

enum { TM_BEGIN = 5, TM_COMMIT = 7, TM_ROLLBACK = 8, TM_SAVE = 9 };

/* A result column's type that the select list itself says: a literal,
 * a parameter, a CAST. */
struct hint {
	int known;
	struct column col;
};

struct batch {
	struct conn *c;
	int in_proc;		/* inside an RPC: DONEINPROC */
	int have_pending;	/* a DONE waits to learn if more follows */
	unsigned pending_status;
	unsigned pending_cmd;
	uint64_t pending_count;
	int failed;		/* an error ended the batch */
	int errors;		/* any statement failed */
	int checking;		/* the parse before running: nothing runs */
	const char *orig;	/* the batch as sent: N'...' still there */
	const struct param *params;
	size_t param_count;
	struct column *columns;
	size_t column_cap;
	struct hint *hints;
	int hint_count;		/* -1: the select list says nothing */
	size_t hint_cap;
	const char *sql;	/* the batch for SQLite */
	size_t from_at;		/* the select list's FROM, or 0 */
	const char *prepared;	/* the statement being prepared */
	size_t stmt_end;
};

/* Words that start a statement: they end a SET's list of options. */
static const char *const statement_words[] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "SET", "BEGIN",
	"COMMIT", "ROLLBACK", "CREATE", "DROP", "ALTER", "PRINT", "USE",
	"EXEC", "EXECUTE", "REPLACE", "VALUES", "PRAGMA", "DECLARE", "IF",
	"WHILE", "RETURN", "TRUNCATE", "MERGE", "SAVE", "END", "GO", NULL
};

void
sqlmsg_set(struct sqlmsg *m, int number, const char *fmt, ...)
{
	va_list ap;

	m->number = number;
	m->severity = 16;
	va_start(ap, fmt);
	vsnprintf(m->text, sizeof m->text, fmt, ap);
	va_end(ap);
}

/* Skips white space, comments and empty statements. */
static size_t
skip_blank(const char *s, size_t pos)
{
	for (;;) {
		if (isspace((unsigned char)s[pos]) || s[pos] == ';') {
			pos++;
		} else if (s[pos] == '-' && s[pos + 1] == '-') {
			while (s[pos] && s[pos] != '\n')
				pos++;
		} else if (s[pos] == '/' && s[pos + 1] == '*') {
			pos += 2;
			while (s[pos] && !(s[pos] == '*' && s[pos + 1] == '/'))
				pos++;
			if (s[pos])
				pos += 2;
		} else {
			return pos;
		}
	}
}

static int
word_char(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '@' || ch == '#' ||
	    ch == '$' || ch >= 0x80;
}

/* The word at pos, upper-cased into out; returns the position after. */
static size_t
word_at(const char *s, size_t pos, char *out, size_t size)
{
	size_t n = 0;

	while (word_char((unsigned char)s[pos])) {
		if (n + 1 < size)
			out[n++] = toupper((unsigned char)s[pos]);
		pos++;
	}
	out[n] = '\0';
	return pos;
}

static int
is_statement_word(const char *word)
{
	const char *const *w;

	for (w = statement_words; *w; w++)
		if (strcmp(word, *w) == 0)
			return 1;
	return 0;
}

/*
 * After BEGIN TRAN, SAVE TRAN, COMMIT, ROLLBACK: an optional name (a
 * word or [quoted]), copied as written into name, then ';'.
 */
static size_t
skip_name(const char *s, size_t pos, char *name, size_t size)
{
	char word[64];
	size_t p = pos, end, n;

	if (name)
		name[0] = '\0';
	while (s[p] == ' ' || s[p] == '\t')
		p++;
	if (s[p] == '[') {
		for (end = p + 1; s[end] && s[end] != ']'; end++)
			continue;
		n = end - p - 1;
		if (name)
			snprintf(name, size, "%.*s", (int)n, s + p + 1);
		p = s[end] ? end + 1 : end;
	} else {
		end = word_at(s, p, word, sizeof word);
		if (end > p && !is_statement_word(word)) {
			if (name)
				snprintf(name, size, "%.*s", (int)(end - p),
				    s + p);
			p = end;
		} else {
			p = pos;
		}
	}
	while (s[p] == ' ' || s[p] == '\t')
		p++;
	return s[p] == ';' ? p + 1 : p;
}

static void
flush_pending(struct batch *bt)
{
	if (!bt->have_pending)
		return;
	tok_done(bt->c, bt->in_proc ? TOK_DONEINPROC : TOK_DONE,
	    bt->pending_status | DONE_MORE, bt->pending_cmd,
	    bt->pending_count);
	bt->have_pending = 0;
}

/* Each statement ends in DONE; whether more follows is known later. */
static void
statement_done(struct batch *bt, unsigned status, unsigned cmd,
    uint64_t count)
{
	flush_pending(bt);
	bt->have_pending = 1;
	bt->pending_status = status;
	bt->pending_cmd = cmd;
	bt->pending_count = count;
}

/* An error that ends the batch. */
static void
statement_error(struct batch *bt, const struct sqlmsg *m, unsigned line)
{
	flush_pending(bt);
	tok_message(bt->c, TOK_ERROR, m, line);
	statement_done(bt, DONE_ERROR, 0, 0);
	bt->failed = 1;
	bt->errors = 1;
	if (bt->c->opt->verbose)
		warn("connection %u: line %u: error %d: %s", bt->c->spid, line,
		    m->number, m->text);
}

/* An error that ends only its statement (a constraint violation): SQL
 * Server adds INFO 3621, and the batch goes on. */
static void
statement_terminated(struct batch *bt, const struct sqlmsg *m,
    unsigned line)
{
	struct sqlmsg info = { .number = 3621, .severity = 0,
	    .text = "The statement has been terminated." };

	flush_pending(bt);
	tok_message(bt->c, TOK_ERROR, m, line);
	tok_message(bt->c, TOK_INFO, &info, line);
	statement_done(bt, DONE_ERROR | DONE_COUNT, 0, 0);
	bt->errors = 1;
	if (bt->c->opt->verbose)
		warn("connection %u: line %u: error %d: %s (statement "
		    "terminated)", bt->c->spid, line, m->number, m->text);
}

/* What sqlite3_prepare reports for text that does not parse. */
static int
is_syntax_error(const char *text)
{
	return strstr(text, "syntax error") != NULL ||
	    strstr(text, "incomplete input") != NULL ||
	    strstr(text, "unrecognized token") != NULL;
}

/* SQLite's error as SQL Server's number, with SQLite's own text. */
static void
sqlite_error(struct batch *bt, unsigned line)
{
	sqlite3 *db = bt->c->db;
	int code = sqlite3_extended_errcode(db);
	const char *text = sqlite3_errmsg(db);
	struct sqlmsg m;
	int number = 50000, offset, k;

	/* a cancelled statement is acknowledged, not reported */
	if (bt->c->attention || bt->c->broken)
		return;
	if ((code & 0xff) == SQLITE_CONSTRAINT) {
		/* 2627 is severity 14 in SQL Server, 547 severity 16 */
		number = code == SQLITE_CONSTRAINT_UNIQUE ||
		    code == SQLITE_CONSTRAINT_PRIMARYKEY ? 2627 : 547;
		sqlmsg_set(&m, number, "%s", text);
		m.severity = number == 2627 ? 14 : 16;
		statement_terminated(bt, &m, line);
		return;
	} else if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		number = 1205;	/* like a deadlock victim: worth a retry */
	else if (strncmp(text, "no such table", 13) == 0)
		number = 208;
	else if (strncmp(text, "no such column", 14) == 0)
		number = 207;
	else if (strncmp(text, "Arithmetic overflow", 19) == 0) {
		/* a stored value past its precision (store.c): SQL Server
		 * ends the statement, the batch goes on */
		sqlmsg_set(&m, 8115, "%s", text);
		statement_terminated(bt, &m, line);
		return;
	}
	else if (is_syntax_error(text)) {
		number = 102;
		/* the line of the error itself, as SQL Server gives it */
		offset = bt->prepared ? sqlite3_error_offset(db) : -1;
		for (k = 0; k < offset && bt->prepared[k]; k++)
			line += bt->prepared[k] == '\n';
	}
	sqlmsg_set(&m, number, "%s", text);
	statement_error(bt, &m, line);
}

/* Tells the client when SQLite's transaction state moved under it. */
static void
sync_transaction(struct batch *bt, int end_type)
{
	struct conn *c = bt->c;
	int in_transaction = !sqlite3_get_autocommit(c->db);

	if (in_transaction && c->trancount == 0) {
		c->trancount = 1;
		c->tran_id++;
		flush_pending(bt);
		tok_envchange_tran(c, ENV_BEGINTRAN, c->tran_id);
	} else if (!in_transaction && c->trancount > 0) {
		c->trancount = 0;
		flush_pending(bt);
		tok_envchange_tran(c, end_type, c->tran_id);
	}
}

static int
exec_simple(struct batch *bt, const char *sql, unsigned line)
{
	if (sqlite3_exec(bt->c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		sqlite_error(bt, line);
		return -1;
	}
	return 0;
}

static int
tran_begin(struct batch *bt, const char *name, unsigned line)
{
	struct conn *c = bt->c;

	if (c->trancount > 0) {
		c->trancount++;
		return 0;
	}
	/* deferred: the first write takes the lock, waiting its turn */
	if (exec_simple(bt, "BEGIN", line) < 0)
		return -1;
	snprintf(c->tran_name, sizeof c->tran_name, "%s", name ? name : "");
	sync_transaction(bt, ENV_ROLLBACKTRAN);
	return 0;
}

/* A savepoint's name for SQLite: quoted, quotes doubled */
static char *
savepoint_sql(const char *verb, const char *name)
{
	struct buf b = { 0 };
	const char *p;

	buf_put(&b, verb, strlen(verb));
	buf_put(&b, " \"", 2);
	for (p = name; *p; p++) {
		if (*p == '"')
			buf_u8(&b, '"');
		buf_u8(&b, (unsigned char)*p);
	}
	buf_put(&b, "\"", 2);	/* and the NUL */
	return (char *)b.data;
}

/* SAVE TRAN name, or transaction manager request 9 */
static int
tran_save(struct batch *bt, const char *name, unsigned line)
{
	struct sqlmsg m;
	char *sql;
	int rc;

	if (bt->c->trancount == 0) {
		sqlmsg_set(&m, 628, "Cannot issue SAVE TRANSACTION when there "
		    "is no active transaction.");
		statement_error(bt, &m, line);
		return -1;
	}
	if (*name == '\0') {
		sqlmsg_set(&m, 102, "SAVE TRANSACTION needs a savepoint name.");
		statement_error(bt, &m, line);
		return -1;
	}
	sql = savepoint_sql("SAVEPOINT", name);
	rc = exec_simple(bt, sql, line);
	free(sql);
	return rc;
}

static int
tran_commit(struct batch *bt, int all, unsigned line)
{
	struct conn *c = bt->c;
	struct sqlmsg m;

	if (c->trancount == 0) {
		sqlmsg_set(&m, 3902, "The COMMIT TRANSACTION request has no "
		    "corresponding BEGIN TRANSACTION.");
		statement_error(bt, &m, line);
		return -1;
	}
	if (c->trancount > 1 && !all) {
		c->trancount--;
		return 0;
	}
	if (exec_simple(bt, "COMMIT", line) < 0)
		return -1;
	sync_transaction(bt, ENV_COMMITTRAN);
	return 0;
}

/* ROLLBACK [TRAN [name]]: the name of a savepoint rolls back to it and
 * leaves the transaction open; no name, or the transaction's, undoes
 * all. */
static int
tran_rollback(struct batch *bt, const char *name, unsigned line)
{
	struct conn *c = bt->c;
	struct sqlmsg m;
	char *sql;
	int rc;

	if (c->trancount == 0) {
		sqlmsg_set(&m, 3903, "The ROLLBACK TRANSACTION request has no "
		    "corresponding BEGIN TRANSACTION.");
		statement_error(bt, &m, line);
		return -1;
	}
	if (name && *name && strcmp(name, c->tran_name) != 0) {
		sql = savepoint_sql("ROLLBACK TO", name);
		rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
		free(sql);
		if (rc == SQLITE_OK)
			return 0;
		if (strncmp(sqlite3_errmsg(c->db), "no such savepoint", 17) != 0) {
			sqlite_error(bt, line);
			return -1;
		}
		sqlmsg_set(&m, 6401, "Cannot roll back %s. No transaction or "
		    "savepoint of that name was found.", name);
		statement_error(bt, &m, line);
		return -1;
	}
	if (exec_simple(bt, "ROLLBACK", line) < 0)
		return -1;
	sync_transaction(bt, ENV_ROLLBACKTRAN);
	return 0;
}

static const struct param *
find_param(const struct batch *bt, const char *name, size_t *positional)
{
	size_t k;

	if (name == NULL)
		return *positional < bt->param_count ?
		    &bt->params[(*positional)++] : NULL;
	if (name[0] == '?') {
		k = strtoul(name + 1, NULL, 10);
		return k >= 1 && k <= bt->param_count ? &bt->params[k - 1] :
		    NULL;
	}
	/* @name, :name, $name all match the client's @name, any case */
	for (k = 0; k < bt->param_count; k++)
		if (bt->params[k].name[0] != '\0' &&
		    strcasecmp(bt->params[k].name + 1, name + 1) == 0)
			return &bt->params[k];
	return NULL;
}

/* Binds one value; the value must outlive the statement's step. */
int
bind_value(sqlite3_stmt *stmt, int i, const struct param *p)
{
	switch (p->type) {
	case SQLITE_INTEGER:
		return sqlite3_bind_int64(stmt, i, p->i);
	case SQLITE_FLOAT:
		return sqlite3_bind_double(stmt, i, p->d);
	case SQLITE_TEXT:
		return sqlite3_bind_text(stmt, i, p->bytes, (int)p->len,
		    SQLITE_STATIC);
	case SQLITE_BLOB:
		return sqlite3_bind_blob(stmt, i, p->bytes, (int)p->len,
		    SQLITE_STATIC);
	default:
		return sqlite3_bind_null(stmt, i);
	}
}

static int
bind_params(struct batch *bt, sqlite3_stmt *stmt, unsigned line)
{
	int count = sqlite3_bind_parameter_count(stmt), i, rc = SQLITE_OK;
	const struct param *p;
	size_t positional = 0;
	const char *name;
	struct sqlmsg m;

	for (i = 1; i <= count; i++) {
		name = sqlite3_bind_parameter_name(stmt, i);
		p = find_param(bt, name, &positional);
		if (p == NULL) {
			sqlmsg_set(&m, 8178, "The parameterized query expects "
			    "the parameter '%s', which was not supplied.",
			    name ? name : "?");
			statement_error(bt, &m, line);
			return -1;
		}
		rc = bind_value(stmt, i, p);
		if (rc != SQLITE_OK) {
			sqlite_error(bt, line);
			return -1;
		}
	}
	return 0;
}

static void
send_colmetadata(struct conn *c, sqlite3_stmt *stmt,
    const struct column *columns, int count)
{
	struct buf *b = &c->tok;
	const char *name;
	int i;

	buf_u8(b, TOK_COLMETADATA);
	buf_u16(b, count);
	for (i = 0; i < count; i++) {
		buf_u32(b, 0);		/* user type */
		buf_u16(b, 0x0001);	/* nullable */
		put_type_info(b, &columns[i]);
		name = sqlite3_column_name(stmt, i);
		buf_bvarchar(b, name ? name : "");
	}
	out_token(c);
}

/* Sleeps --row-delay-ms, or now and then looks: has the client
 * cancelled? */
static int
cancelled(struct conn *c)
{
	if (c->opt->row_delay_ms > 0)
		return poll_attention(c, c->opt->row_delay_ms);
	if (++c->rows_since_poll < 256)
		return c->broken;
	c->rows_since_poll = 0;
	return poll_attention(c, 0);
}

/*
 * The type of result column i: its declared type; else what the select
 * list says (select_hints); else an exact SUM or AVG's DECIMAL(38, s);
 * else the type of the first row's value (has_row), NVARCHAR(MAX) for
 * text too long for NVARCHAR(4000).
 */
static void
result_column(const struct batch *bt, sqlite3_stmt *stmt, int i,
    int has_row, int count, struct column *col)
{
	unsigned subtype = has_row ?
	    sqlite3_value_subtype(sqlite3_column_value(stmt, i)) : 0;

	if (column_from_decltype(sqlite3_column_decltype(stmt, i), col))
		return;
	if (bt->hint_count == count && bt->hints[i].known) {
		*col = bt->hints[i].col;
	} else if ((subtype & 0xc0) == DECIMAL_SUBTYPE) {
		memset(col, 0, sizeof *col);
		col->type = CT_DECIMAL;
		col->precision = 38;
		col->scale = (int)(subtype & 0x3f);
	} else {
		column_from_value(has_row ? sqlite3_column_type(stmt, i) :
		    SQLITE_NULL, col);
		if (col->type == CT_NVARCHAR && has_row &&
		    sqlite3_column_bytes(stmt, i) > NVARCHAR_CHARS)
			col->type = CT_NVARCHAR_MAX;
	}
}

/* A statement with result columns: COLMETADATA, ROWs, DONE. */
static void
run_query(struct batch *bt, sqlite3_stmt *stmt, unsigned line)
{
	struct conn *c = bt->c;
	int count = sqlite3_column_count(stmt), rc, i;
	uint64_t rows = 0;
	struct sqlmsg m;

	/* an expression column's type is its first value's: step first */
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_error(bt, line);
		return;
	}
	if ((size_t)count > bt->column_cap) {
		bt->columns = xreallocarray(bt->columns, count,
		    sizeof *bt->columns);
		bt->column_cap = count;
	}
	for (i = 0; i < count; i++) {
		result_column(bt, stmt, i, rc == SQLITE_ROW, count,
		    &bt->columns[i]);
		column_downgrade(&bt->columns[i], c->tds_version);
	}
	flush_pending(bt);
	send_colmetadata(c, stmt, bt->columns, count);
	if (c->fmtonly) {
		statement_done(bt, 0, CMD_SELECT, 0);
		return;
	}
	while (rc == SQLITE_ROW) {
		if (cancelled(c))
			return;
		c->tok.len = 0;
		buf_u8(&c->tok, TOK_ROW);
		for (i = 0; i < count; i++) {
			if (put_value(&c->tok, &bt->columns[i], stmt, i,
			    &m) < 0) {
				c->tok.len = 0;
				statement_error(bt, &m, line);
				return;
			}
		}
		out_token(c);
		rows++;
		if (c->opt->drop_after_rows > 0 &&
		    rows == (uint64_t)c->opt->drop_after_rows) {
			if (c->opt->verbose)
				warn("connection %u: dropped after %llu rows",
				    c->spid, (unsigned long long)rows);
			out_abort(c);
			return;
		}
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_DONE) {
		sqlite_error(bt, line);
		return;
	}
	statement_done(bt, DONE_COUNT, CMD_SELECT, rows);
}

/* A statement without result columns: DONE, with the count of rows an
 * INSERT, UPDATE or DELETE changed. */
static void
run_command(struct batch *bt, sqlite3_stmt *stmt, const char *first_word,
    unsigned line)
{
	static const struct {
		const char *word;
		unsigned cmd;
	} dml[] = {
		{ "INSERT", CMD_INSERT }, { "REPLACE", CMD_INSERT },
		{ "UPDATE", CMD_UPDATE }, { "DELETE", CMD_DELETE },
		{ "WITH", CMD_UPDATE }
	};
	unsigned cmd = 0;
	size_t k;
	int rc;

	if (bt->c->fmtonly)
		return;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		continue;
	if (rc != SQLITE_DONE) {
		sqlite_error(bt, line);
		return;
	}
	for (k = 0; k < sizeof dml / sizeof dml[0]; k++)
		if (strcmp(first_word, dml[k].word) == 0)
			cmd = dml[k].cmd;
	if (cmd != 0 && !sqlite3_stmt_readonly(stmt))
		statement_done(bt, DONE_COUNT, cmd,
		    (uint64_t)sqlite3_changes64(bt->c->db));
	else
		statement_done(bt, 0, 0, 0);
}

/*
 * T-SQL needs no ';' between statements ("SET FMTONLY ON SELECT ... SET
 * FMTONLY OFF", as freebcp sends): when SQLite's syntax error falls on
 * a word that starts a statement, the statement ends there. Returns its
 * length, or 0.
 */
static int
statement_boundary(sqlite3 *db, const char *sql)
{
	int offset = sqlite3_error_offset(db);
	char word[64];

	if (offset <= 0 || strstr(sqlite3_errmsg(db), "syntax error") == NULL)
		return 0;
	word_at(sql, (size_t)offset, word, sizeof word);
	return is_statement_word(word) ? offset : 0;
}

/*
 * SQLite takes COMMIT, ROLLBACK, PRINT... for a table alias, so
 * "SELECT * FROM t\nROLLBACK" would be one statement. A line at
 * nesting depth 0 that starts with a word only T-SQL uses to start a
 * statement ends the statement before it. Returns the length of the
 * statement at sql, or -1 when nothing cuts it short.
 */
static int
tsql_boundary(const char *sql)
{
	static const char *const cutters[] = { "COMMIT", "ROLLBACK", "PRINT",
	    "USE", "GO", "DECLARE", "EXEC", "EXECUTE", NULL };
	const char *const *w;
	char word[64], second[64];
	int depth = 0, line_start = 0;
	size_t p = 0, end;
	char quote;

	while (sql[p]) {
		if (sql[p] == '\n') {
			line_start = 1;
			p++;
			continue;
		}
		if (isspace((unsigned char)sql[p])) {
			p++;
			continue;
		}
		if ((sql[p] == '-' && sql[p + 1] == '-') ||
		    (sql[p] == '/' && sql[p + 1] == '*')) {
			end = skip_blank(sql, p);
			for (; p < end; p++)
				if (sql[p] == '\n')
					line_start = 1;
			continue;
		}
		if (line_start && depth == 0) {
			end = word_at(sql, p, word, sizeof word);
			for (w = cutters; *w; w++)
				if (strcmp(word, *w) == 0)
					return (int)p;
			if (strcmp(word, "BEGIN") == 0) {
				word_at(sql, skip_blank(sql, end), second,
				    sizeof second);
				if (strncmp(second, "TRAN", 4) == 0)
					return (int)p;
			}
			if (strcmp(word, "SAVE") == 0) {
				word_at(sql, skip_blank(sql, end), second,
				    sizeof second);
				if (strncmp(second, "TRAN", 4) == 0)
					return (int)p;
			}
		}
		line_start = 0;
		/* SQLite stops at the ';' itself: no need to look further */
		if (sql[p] == ';' && depth == 0)
			return -1;
		quote = sql[p++];
		if (quote == '(')
			depth++;
		else if (quote == ')')
			depth--;
		else if (quote == '\'' || quote == '"' || quote == '`' ||
		    quote == '[') {
			if (quote == '[')
				quote = ']';
			while (sql[p] && sql[p] != quote)
				p++;
			if (sql[p])
				p++;
		} else {
			while (word_char((unsigned char)sql[p]))
				p++;
		}
	}
	return -1;
}

/* A token of a select list, for select_hints */
struct token {
	size_t at, len;
	int depth;	/* parentheses around it */
	char kind;	/* w word, q quoted name, s 'text', n N'text', x blob,
			 * 9 number, @ parameter, p punctuation */
};

static size_t
lex(const char *s, size_t p, size_t end, struct token *t)
{
	char quote;

	t->kind = 0;
	p = skip_blank(s, p);
	if (p >= end)
		return end;
	t->at = p;
	if ((s[p] == 'N' || s[p] == 'n' || s[p] == 'X' || s[p] == 'x') &&
	    s[p + 1] == '\'') {
		t->kind = s[p] == 'N' || s[p] == 'n' ? 'n' : 'x';
		p++;
	}
	if (s[p] == '\'') {
		if (t->at == p)
			t->kind = 's';
		for (p++; p < end; p++) {
			if (s[p] == '\'' && s[p + 1] == '\'')
				p++;
			else if (s[p] == '\'')
				break;
		}
		p = p < end ? p + 1 : end;
	} else if (s[p] == '"' || s[p] == '[' || s[p] == '`') {
		quote = s[p] == '[' ? ']' : s[p];
		t->kind = 'q';
		for (p++; p < end && s[p] != quote; p++)
			continue;
		p = p < end ? p + 1 : end;
	} else if (isdigit((unsigned char)s[p]) || (s[p] == '.' &&
	    isdigit((unsigned char)s[p + 1]))) {
		t->kind = '9';
		while (p < end && (isalnum((unsigned char)s[p]) || s[p] == '.' ||
		    ((s[p] == '+' || s[p] == '-') && (s[p - 1] == 'e' ||
		    s[p - 1] == 'E'))))
			p++;
	} else if (s[p] == '@' || word_char((unsigned char)s[p])) {
		t->kind = s[p] == '@' ? '@' : 'w';
		for (p++; p < end && word_char((unsigned char)s[p]); p++)
			continue;
	} else {
		t->kind = 'p';
		p++;
	}
	t->len = p - t->at;
	return p;
}

static int
token_is(const char *s, const struct token *t, const char *word)
{
	return t->kind == 'w' && strlen(word) == t->len &&
	    strncasecmp(s + t->at, word, t->len) == 0;
}

/* A numeric literal's type, as SQL Server gives it: int, numeric(p,s)
 * or float. */
static int
number_column(const char *s, const struct token *t, struct column *col)
{
	size_t k, digits = 0, frac = 0, lead = 1;
	int dot = 0;
	char text[64];

	memset(col, 0, sizeof *col);
	for (k = t->at; k < t->at + t->len; k++) {
		if (s[k] == 'e' || s[k] == 'E') {
			col->type = CT_FLOAT;
			return 1;
		}
		if (s[k] == '.') {
			dot = 1;
		} else if (!isdigit((unsigned char)s[k])) {
			return 0;
		} else if (dot) {
			frac++;
		} else if (s[k] != '0' || !lead) {
			lead = 0;
			digits++;
		}
	}
	if (!dot && digits <= 10) {
		snprintf(text, sizeof text, "%.*s", (int)t->len, s + t->at);
		if (strtoll(text, NULL, 10) <= INT32_MAX) {
			col->type = CT_INT4;
			return 1;
		}
	}
	if (digits + frac > 38) {
		col->type = CT_FLOAT;
		return 1;
	}
	col->type = CT_DECIMAL;
	col->numeric = 1;
	col->precision = (int)(digits + frac > 0 ? digits + frac : 1);
	col->scale = (int)frac;
	return 1;
}

/*
 * SUM(x), AVG(x), MIN(x), MAX(x) of a column: typed from the column's
 * declared type as SQL Server types them (SUM of DECIMAL(p,s) is
 * DECIMAL(38,s), of INT an INT, of FLOAT a FLOAT; AVG of INT an INT).
 * The argument's type comes from preparing "SELECT x FROM ..." with the
 * statement's own FROM clause.
 */
static int
aggregate_column(struct batch *bt, const char *s, struct token *t, int n,
    struct column *col)
{
	struct conn *c = bt->c;
	sqlite3_stmt *stmt = NULL;
	struct column arg;
	char *sql;
	int i, ok = 0, is_sum = token_is(s, &t[0], "SUM"),
	    is_avg = token_is(s, &t[0], "AVG");

	if (!is_sum && !is_avg && !token_is(s, &t[0], "MIN") &&
	    !token_is(s, &t[0], "MAX"))
		return 0;
	if (bt->from_at == 0 || n < 4 || t[1].kind != 'p' ||
	    s[t[1].at] != '(' || t[n - 1].kind != 'p' ||
	    s[t[n - 1].at] != ')' || t[n - 1].depth != 0)
		return 0;
	for (i = 2; i < n - 1; i++)
		if (t[i].depth == 0 || token_is(s, &t[i], "DISTINCT"))
			return 0;
	sql = xasprintf("SELECT %.*s %.*s", (int)(t[n - 1].at - t[2].at),
	    bt->sql + t[2].at, (int)(bt->stmt_end - bt->from_at),
	    bt->sql + bt->from_at);
	if (sqlite3_prepare_v2(c->db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    stmt != NULL && sqlite3_column_count(stmt) == 1 &&
	    column_from_decltype(sqlite3_column_decltype(stmt, 0), &arg)) {
		ok = 1;
		*col = arg;
		if (is_sum || is_avg) {
			switch (arg.type) {
			case CT_DECIMAL:
				col->precision = 38;
				if (is_avg && col->scale < 6)
					col->scale = 6;
				break;
			case CT_SMALLMONEY:
				col->type = CT_MONEY;
				break;
			case CT_INT1:
			case CT_INT2:
				col->type = CT_INT4;
				break;
			case CT_REAL:
				col->type = CT_FLOAT;
				break;
			case CT_MONEY:
			case CT_INT4:
			case CT_INT8:
			case CT_FLOAT:
				break;
			default:
				ok = 0;
			}
		}
	}
	sqlite3_finalize(stmt);
	free(sql);
	return ok;
}

/* What one item of a select list says of its type. */
static int
item_column(struct batch *bt, const char *s, struct token *t, int n,
    struct column *col)
{
	const struct param *p;
	char name[130], decl[64];
	size_t positional = 0, units = 0, k;
	int as = -1, i;

	/* [AS] alias */
	if (n >= 3 && t[n - 2].depth == 0 && token_is(s, &t[n - 2], "AS"))
		n -= 2;
	else if (n >= 2 && (t[n - 1].kind == 'w' || t[n - 1].kind == 'q') &&
	    (strchr("sn9@x", t[n - 2].kind) || (t[n - 2].kind == 'p' &&
	    s[t[n - 2].at] == ')')))
		n -= 1;
	memset(col, 0, sizeof *col);
	if (n == 1 && (t[0].kind == 's' || t[0].kind == 'n')) {
		/* characters between the quotes, '' as one */
		for (k = t[0].at + (t[0].kind == 'n') + 1;
		    k + 1 < t[0].at + t[0].len; k++) {
			if ((s[k] & 0xc0) == 0x80)
				continue;
			if (s[k] == '\'')
				k++;
			units++;
		}
		col->type = t[0].kind == 'n' ? CT_NVARCHAR : CT_VARCHAR;
		col->size = units > 0 ? (int)units : 1;
		if (col->size > (t[0].kind == 'n' ? 4000 : 8000))
			col->type = t[0].kind == 'n' ? CT_NVARCHAR_MAX :
			    CT_VARCHAR_MAX;
		return 1;
	}
	if (n == 1 && t[0].kind == '@') {
		snprintf(name, sizeof name, "%.*s", (int)t[0].len, s + t[0].at);
		p = find_param(bt, name, &positional);
		if (p == NULL || !p->typed)
			return 0;
		*col = p->col;
		return 1;
	}
	if (n == 1 && t[0].kind == '9')
		return number_column(s, &t[0], col);
	if (n == 2 && t[0].kind == 'p' && s[t[0].at] == '-' && t[1].kind == '9')
		return number_column(s, &t[1], col);
	if (n == 1 && token_is(s, &t[0], "NULL")) {
		col->type = CT_INT4;
		return 1;
	}
	/* COUNT(...) is an int in T-SQL, COUNT_BIG a bigint */
	if (n >= 3 && (token_is(s, &t[0], "COUNT") ||
	    token_is(s, &t[0], "COUNT_BIG")) && t[1].kind == 'p' &&
	    s[t[1].at] == '(' && t[n - 1].kind == 'p' &&
	    s[t[n - 1].at] == ')' && t[n - 1].depth == 0) {
		for (i = 2; i < n - 1; i++)
			if (t[i].depth == 0)
				return 0;
		col->type = t[0].len == 5 ? CT_INT4 : CT_INT8;
		return 1;
	}
	if (n >= 4 && t[0].kind == 'w' && aggregate_column(bt, s, t, n, col))
		return 1;
	/* CAST(expr AS type) */
	if (n >= 6 && token_is(s, &t[0], "CAST") && t[1].kind == 'p' &&
	    s[t[1].at] == '(' && t[n - 1].kind == 'p' &&
	    s[t[n - 1].at] == ')' && t[n - 1].depth == 0) {
		for (i = 2; i < n - 1; i++)
			if (t[i].depth == 1 && token_is(s, &t[i], "AS"))
				as = i;
		if (as < 0 || as + 1 >= n - 1)
			return 0;
		snprintf(decl, sizeof decl, "%.*s",
		    (int)(t[n - 1].at - t[as + 1].at), s + t[as + 1].at);
		return column_from_decltype(decl, col);
	}
	return 0;
}

/*
 * SQLite declares no type for an expression; SQL Server types a literal
 * ('x' is varchar(1), N'x' nvarchar(1), 1.5 numeric(2,1)), a parameter
 * (SELECT @p is @p's type) and a CAST by what they are. Reads the
 * select list of a SELECT as the client sent it into bt->hints, one per
 * item; hint_count is -1 when the statement is no simple SELECT.
 */
static void
select_hints(struct batch *bt, size_t start, size_t end)
{
	static const char *const stops[] = { "FROM", "WHERE", "GROUP",
	    "HAVING", "ORDER", "LIMIT", "WINDOW", NULL };
	const char *s = bt->orig;
	struct token t[64], tok;
	const char *const *w;
	size_t p = start, q;
	int n = 0, depth = 0, items = 0, overflow = 0;

	bt->hint_count = -1;
	bt->from_at = 0;
	bt->stmt_end = end;
	p = lex(s, p, end, &tok);
	if (!token_is(s, &tok, "SELECT"))
		return;
	/* where the FROM clause starts, for aggregate_column */
	for (q = p; q < end; ) {
		q = lex(s, q, end, &tok);
		if (tok.kind == 'p' && s[tok.at] == '(')
			depth++;
		else if (tok.kind == 'p' && s[tok.at] == ')')
			depth--;
		else if (depth == 0 && token_is(s, &tok, "FROM")) {
			bt->from_at = tok.at;
			break;
		}
	}
	depth = 0;
	for (;;) {
		q = lex(s, p, end, &tok);

		if (tok.kind == 'w' && depth == 0 && n == 0 && items == 0 &&
		    (token_is(s, &tok, "DISTINCT") || token_is(s, &tok, "ALL"))) {
			p = q;
			continue;
		}
		if (tok.kind == 'w' && depth == 0)
			for (w = stops; *w; w++)
				if (token_is(s, &tok, *w))
					tok.kind = 0;
		/* UNION and the like: the first SELECT's literals need not be
		 * the result's types */
		if (tok.kind == 'w' && (token_is(s, &tok, "UNION") ||
		    token_is(s, &tok, "INTERSECT") ||
		    token_is(s, &tok, "EXCEPT")))
			return;
		if (tok.kind == 0 || (tok.kind == 'p' && depth == 0 &&
		    s[tok.at] == ',')) {
			if ((size_t)items >= bt->hint_cap) {
				bt->hint_cap = bt->hint_cap ? bt->hint_cap * 2 : 16;
				bt->hints = xreallocarray(bt->hints,
				    bt->hint_cap, sizeof *bt->hints);
			}
			bt->hints[items].known = !overflow && n > 0 &&
			    item_column(bt, s, t, n, &bt->hints[items].col);
			items++;
			n = 0;
			overflow = 0;
			if (tok.kind == 0)
				break;
			p = q;
			continue;
		}
		if (tok.kind == 'p' && s[tok.at] == ')')
			depth--;
		tok.depth = depth;
		if (tok.kind == 'p' && s[tok.at] == '(')
			depth++;
		if (n < (int)(sizeof t / sizeof t[0]))
			t[n++] = tok;
		else
			overflow = 1;
		p = q;
	}
	/* the rest of the statement: a UNION further on counts too */
	while (p < end) {
		p = lex(s, p, end, &tok);
		if (tok.kind == 'w' && (token_is(s, &tok, "UNION") ||
		    token_is(s, &tok, "INTERSECT") ||
		    token_is(s, &tok, "EXCEPT")))
			return;
	}
	bt->hint_count = items;
}

/* A statement that failed to prepare: its length, to the first ';'
 * outside quotes and brackets, or to limit (-1: the end). */
static size_t
statement_extent(const char *sql, int limit)
{
	size_t p = 0, end = limit < 0 ? strlen(sql) : (size_t)limit;
	char quote;

	while (p < end) {
		if ((sql[p] == '-' && sql[p + 1] == '-') ||
		    (sql[p] == '/' && sql[p + 1] == '*')) {
			p = skip_blank(sql, p);
			continue;
		}
		quote = sql[p++];
		if (quote == ';')
			return p;
		if (quote == '\'' || quote == '"' || quote == '`' ||
		    quote == '[') {
			if (quote == '[')
				quote = ']';
			while (p < end && sql[p] != quote)
				p++;
			if (p < end)
				p++;
		}
	}
	return end;
}

/* One statement for SQLite; returns where the next one starts. */
static size_t
run_sqlite(struct batch *bt, const char *sql, size_t start, unsigned line,
    const char *first_word)
{
	struct conn *c = bt->c;
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	size_t next;
	int split;

	int limit = tsql_boundary(sql + start), rc;

	if (!bt->checking && !c->parseonly)
		store_check_schema(c);
	bt->prepared = sql + start;
	rc = sqlite3_prepare_v2(c->db, sql + start, limit, &stmt, &tail);
	if (rc != SQLITE_OK &&
	    (split = statement_boundary(c->db, sql + start)) > 0) {
		limit = split;
		rc = sqlite3_prepare_v2(c->db, sql + start, split, &stmt,
		    &tail);
	}
	if (rc != SQLITE_OK) {
		/*
		 * The parse before running fails the batch only for a syntax
		 * error; a table that is not there yet may be made by an
		 * earlier statement (SQL Server's deferred name resolution).
		 * SQLite reports syntax first, so such a statement parsed to
		 * its ';' or its end.
		 */
		if ((bt->checking || c->parseonly) &&
		    !is_syntax_error(sqlite3_errmsg(c->db)))
			return start + statement_extent(sql + start, limit);
		sqlite_error(bt, line);
		bt->prepared = NULL;
		return strlen(sql);
	}
	bt->prepared = NULL;
	next = tail ? (size_t)(tail - sql) : strlen(sql);
	if (stmt == NULL)
		return next;
	if (bt->checking || c->parseonly) {
		/*
		 * SET PARSEONLY ON: SQL Server checks the syntax and neither
		 * compiles nor runs the statement, so a table or column that
		 * is not there goes unreported.
		 */
		sqlite3_finalize(stmt);
		if (!bt->checking)
			statement_done(bt, 0, 0, 0);
		return next;
	}
	select_hints(bt, start, next);
	if (c->opt->verbose)
		warn("connection %u: line %u: %.*s", c->spid, line,
		    (int)(next - start > 200 ? 200 : next - start), sql + start);
	if (bind_params(bt, stmt, line) == 0) {
		if (sqlite3_column_count(stmt) > 0)
			run_query(bt, stmt, line);
		else
			run_command(bt, stmt, first_word, line);
	}
	sqlite3_finalize(stmt);
	sync_transaction(bt, strcmp(first_word, "END") == 0 ||
	    strcmp(first_word, "COMMIT") == 0 ? ENV_COMMITTRAN :
	    ENV_ROLLBACKTRAN);
	return next;
}

/* SET option[, ...] value: accepted and ignored, but for FMTONLY and
 * PARSEONLY. */
static size_t
run_set(struct batch *bt, const char *sql, size_t pos, unsigned line)
{
	char word[64], last[64] = "";
	int fmtonly = 0, parseonly = 0;
	struct sqlmsg m;
	size_t p, end;
	char quote;

	p = skip_blank(sql, pos);
	if (sql[p] == '@' && !bt->checking) {
		sqlmsg_set(&m, 50000, "tdsd does not support SET @variable.");
		statement_error(bt, &m, line);
		return strlen(sql);
	}
	/* the options end at ON or OFF, a ';', the end of the line or a
	 * word that starts a statement */
	for (;;) {
		while (isspace((unsigned char)sql[p]) &&
		    (sql[p] != '\n' || last[0] == '\0'))
			p++;
		if (sql[p] == '\0' || sql[p] == '\n')
			break;
		if (sql[p] == ';') {
			p++;
			break;
		}
		end = word_at(sql, p, word, sizeof word);
		if (end == p) {
			/* a quoted value, or punctuation */
			quote = sql[p++];
			if (quote == '\'' || quote == '"')
				while (sql[p] && sql[p++] != quote)
					continue;
			continue;
		}
		if (is_statement_word(word))
			break;
		if (strcmp(word, "FMTONLY") == 0)
			fmtonly = 1;
		if (strcmp(word, "PARSEONLY") == 0)
			parseonly = 1;
		snprintf(last, sizeof last, "%s", word);
		p = end;
		if (strcmp(word, "ON") == 0 || strcmp(word, "OFF") == 0) {
			while (sql[p] == ' ' || sql[p] == '\t')
				p++;
			if (sql[p] == ';')
				p++;
			break;
		}
	}
	if (fmtonly && !bt->checking)
		bt->c->fmtonly = strcmp(last, "ON") == 0;
	/* PARSEONLY takes effect as the batch is parsed: both passes */
	if (parseonly)
		bt->c->parseonly = strcmp(last, "ON") == 0;
	return p;
}

static size_t
run_use(struct batch *bt, const char *sql, size_t pos)
{
	struct conn *c = bt->c;
	size_t p = pos, start;
	char *name, close = '\0';

	while (sql[p] == ' ' || sql[p] == '\t')
		p++;
	if (sql[p] == '[')
		close = ']';
	else if (sql[p] == '"')
		close = '"';
	if (close)
		p++;
	start = p;
	while (sql[p] && (close ? sql[p] != close : word_char((unsigned char)
	    sql[p])))
		p++;
	if (bt->checking || c->parseonly)
		return skip_name(sql, close && sql[p] ? p + 1 : p, NULL, 0);
	name = xstrndup(sql + start, p - start);
	if (close && sql[p])
		p++;
	/* one database in the file: every name is it */
	if (*name && strcmp(name, c->database) != 0) {
		flush_pending(bt);
		tok_envchange(c, ENV_DATABASE, name, c->database);
		free(c->database);
		c->database = name;
	} else {
		free(name);
	}
	statement_done(bt, 0, 0, 0);
	return skip_name(sql, p, NULL, 0);
}

/* PRINT expression: the expression, evaluated by SQLite, as INFO. */
static size_t
run_print(struct batch *bt, const char *sql, size_t pos, unsigned line)
{
	struct conn *c = bt->c;
	size_t p = pos, next;
	sqlite3_stmt *stmt = NULL;
	const unsigned char *text;
	struct sqlmsg m;
	char quote = 0, *query;

	/* to the end of the line or a ';', outside quotes */
	for (; sql[p]; p++) {
		if (quote) {
			if (sql[p] == quote)
				quote = 0;
		} else if (sql[p] == '\'' || sql[p] == '"') {
			quote = sql[p];
		} else if (sql[p] == '\n' || sql[p] == ';') {
			break;
		}
	}
	next = sql[p] == ';' ? p + 1 : p;
	if (bt->checking || c->parseonly)
		return next;
	query = xasprintf("SELECT %.*s", (int)(p - pos), sql + pos);
	if (sqlite3_prepare_v2(c->db, query, -1, &stmt, NULL) != SQLITE_OK ||
	    stmt == NULL) {
		sqlite_error(bt, line);
		goto out;
	}
	if (bind_params(bt, stmt, line) < 0)
		goto out;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		sqlite_error(bt, line);
		goto out;
	}
	text = sqlite3_column_text(stmt, 0);
	snprintf(m.text, sizeof m.text, "%s", text ? (const char *)text : "");
	m.number = 0;
	m.severity = 0;
	flush_pending(bt);
	tok_message(c, TOK_INFO, &m, line);
out:
	sqlite3_finalize(stmt);
	free(query);
	return next;
}

/* The T-SQL statements tdsd handles itself; -1 when it is SQLite's. */
static long
run_tsql(struct batch *bt, const char *sql, size_t after,
    const char *first_word, unsigned line)
{
	char second[64], name[128];
	size_t p, next;
	int rc;

	if (strcmp(first_word, "SET") == 0)
		return (long)run_set(bt, sql, after, line);
	if (strcmp(first_word, "USE") == 0)
		return (long)run_use(bt, sql, after);
	if (strcmp(first_word, "PRINT") == 0)
		return (long)run_print(bt, sql, after, line);
	p = word_at(sql, skip_blank(sql, after), second, sizeof second);
	if (strcmp(second, "TRANSACTION") == 0 || strcmp(second, "WORK") == 0)
		strcpy(second, "TRAN");
	if (strcmp(first_word, "INSERT") == 0 && strcmp(second, "BULK") == 0)
		return run_insert_bulk(bt, sql, p);
	if ((strcmp(first_word, "BEGIN") == 0 ||
	    strcmp(first_word, "SAVE") == 0) && strcmp(second, "TRAN") == 0) {
		next = skip_name(sql, p, name, sizeof name);
		if (bt->checking || bt->c->parseonly)
			return (long)next;
		rc = first_word[0] == 'B' ? tran_begin(bt, name, line) :
		    tran_save(bt, name, line);
		if (rc == 0)
			statement_done(bt, 0, 0, 0);
		return (long)next;
	}
	if (strcmp(first_word, "COMMIT") != 0 &&
	    strcmp(first_word, "ROLLBACK") != 0)
		return -1;
	if (strcmp(second, "TRAN") != 0)
		p = after;
	next = skip_name(sql, p, name, sizeof name);
	if (bt->checking || bt->c->parseonly)
		return (long)next;
	if ((first_word[0] == 'C' ? tran_commit(bt, 0, line) :
	    tran_rollback(bt, name, line)) == 0)
		statement_done(bt, 0, 0, 0);
	return (long)next;
}

/* A request that fails before any statement runs (a bad RPC). */
void
batch_fail(struct batch *bt, const struct sqlmsg *m)
{
	statement_error(bt, m, 1);
}

/* For requests other than batches (a bulk load): SQLite's last error,
 * and a statement's DONE. */
void
batch_sqlite_error(struct batch *bt)
{
	sqlite_error(bt, 1);
}

void
batch_done(struct batch *bt, unsigned status, uint64_t count)
{
	statement_done(bt, status, CMD_INSERT, count);
}

struct conn *
batch_conn(const struct batch *bt)
{
	return bt->c;
}

int
batch_checking(const struct batch *bt)
{
	return bt->checking || bt->c->parseonly;
}

struct batch *
batch_begin(struct conn *c, int in_proc)
{
	struct batch *bt = xcalloc(1, sizeof *bt);

	bt->c = c;
	bt->in_proc = in_proc;
	return bt;
}

/*
 * Runs every statement of sql until one fails, the client cancels or
 * goes away. Returns -1 when the batch stopped short.
 */
static void
run_statements(struct batch *bt, const char *sql)
{
	struct conn *c = bt->c;
	size_t pos = 0, start, counted = 0, after;
	unsigned line = 1;
	char first[64];
	long next;

	while (!bt->failed && !c->broken && !c->attention) {
		start = skip_blank(sql, pos);
		if (sql[start] == '\0')
			break;
		for (; counted < start; counted++)
			if (sql[counted] == '\n')
				line++;
		after = word_at(sql, start, first, sizeof first);
		next = run_tsql(bt, sql, after, first, line);
		pos = next >= 0 ? (size_t)next :
		    run_sqlite(bt, sql, start, line, first);
	}
}

/*
 * N'...' is T-SQL's Unicode literal; SQLite's text is Unicode already.
 * The N becomes a space, so offsets (error positions, the select list
 * read from the batch as sent) stay the same.
 */
static char *
tsql_rewrite(const char *orig)
{
	char *sql = xstrdup(orig), quote;
	size_t p = 0;

	while (sql[p]) {
		if ((sql[p] == '-' && sql[p + 1] == '-') ||
		    (sql[p] == '/' && sql[p + 1] == '*')) {
			p = skip_blank(sql, p);
			continue;
		}
		if ((sql[p] == 'N' || sql[p] == 'n') && sql[p + 1] == '\'' &&
		    (p == 0 || !word_char((unsigned char)sql[p - 1])))
			sql[p++] = ' ';
		quote = sql[p++];
		if (quote == '\'' || quote == '"' || quote == '`' ||
		    quote == '[') {
			if (quote == '[')
				quote = ']';
			while (sql[p] && sql[p] != quote)
				p++;
			if (sql[p])
				p++;
		} else if (word_char((unsigned char)quote)) {
			while (word_char((unsigned char)sql[p]))
				p++;
		}
	}
	return sql;
}

/*
 * Runs every statement of sql until one fails, the client cancels or
 * goes away. As SQL Server compiles a batch before it runs it, a syntax
 * error anywhere fails the batch with nothing run. Returns -1 when the
 * batch stopped short.
 */
int
batch_run(struct batch *bt, const char *orig, const struct param *params,
    size_t param_count)
{
	struct conn *c = bt->c;
	char *sql = tsql_rewrite(orig);
	int parseonly = c->parseonly, parsed;

	bt->orig = orig;
	bt->sql = sql;
	bt->params = params;
	bt->param_count = param_count;
	bt->checking = 1;
	run_statements(bt, sql);
	bt->checking = 0;
	/* the run replays the parse's SET PARSEONLY; after it, the state
	 * is the parse's, even when an error stopped the run short; a
	 * batch that did not parse set nothing */
	parsed = bt->failed ? parseonly : c->parseonly;
	c->parseonly = parseonly;
	if (!bt->failed)
		run_statements(bt, sql);
	c->parseonly = parsed;
	free(sql);
	return bt->failed || c->broken || c->attention ? -1 : 0;
}

/*
 * Ends the batch's tokens: the last DONE without DONE_MORE, or for an
 * RPC the statements' DONEINPROC, RETURNSTATUS and DONEPROC; after a
 * cancel, only the DONE that acknowledges it.
 */
void
batch_end(struct batch *bt, int more)
{
	struct conn *c = bt->c;
	unsigned status;

	if (c->attention) {
		/* the reply ends here; reply_end acknowledges the cancel in a
		 * message of its own */
		tok_done(c, TOK_DONE, bt->errors ? DONE_ERROR : 0, 0, 0);
	} else if (!bt->in_proc) {
		status = bt->have_pending ? bt->pending_status : 0;
		tok_done(c, TOK_DONE, status | (more ? DONE_MORE : 0),
		    bt->have_pending ? bt->pending_cmd : 0,
		    bt->have_pending ? bt->pending_count : 0);
	} else {
		flush_pending(bt);
		c->tok.len = 0;
		buf_u8(&c->tok, TOK_RETURNSTATUS);
		buf_u32(&c->tok, bt->errors ? 1 : 0);
		out_token(c);
		tok_done(c, TOK_DONEPROC, (bt->errors ? DONE_ERROR : 0) |
		    (more ? DONE_MORE : 0), 0, 0);
	}
	free(bt->columns);
	free(bt->hints);
	free(bt);
}

/*
 * Sends the last packet of a reply. A request the client cancelled is
 * acknowledged after it, in a message of its own (DONE with the
 * attention bit), as SQL Server does and tedious waits for.
 */
void
reply_end(struct conn *c)
{
	out_end(c);
	if (c->attention && !c->broken) {
		tok_done(c, TOK_DONE, DONE_ATTN, 0, 0);
		out_end(c);
	}
}

/* ALL_HEADERS (TDS 7.2+) precede a batch, an RPC, a TM request. */
size_t
skip_all_headers(const struct conn *c)
{
	uint32_t total;

	if (c->tds_version < TDS72 || c->in_len < 4)
		return 0;
	total = c->in[0] | (uint32_t)c->in[1] << 8 |
	    (uint32_t)c->in[2] << 16 | (uint32_t)c->in[3] << 24;
	return total >= 4 && total <= c->in_len ? total : 0;
}

void
serve_sql_batch(struct conn *c)
{
	size_t at = skip_all_headers(c);
	char *sql = ucs2_to_utf8(c->in + at, c->in_len - at);
	struct batch *bt = batch_begin(c, 0);

	batch_run(bt, sql, NULL, 0);
	batch_end(bt, 0);
	reply_end(c);
	free(sql);
}

/* Transaction manager requests: what pytds sends when not autocommit. */
void
serve_transaction(struct conn *c)
{
	struct rd r = { c->in, c->in_len, skip_all_headers(c), 0 };
	struct batch *bt = batch_begin(c, 0);
	unsigned request = rd_u16(&r), flags;
	struct sqlmsg m;
	char *name;
	int rc = 0;

	switch (request) {
	case TM_BEGIN:
		rd_u8(&r);	/* isolation level: SQLite's is serializable */
		name = rd_ucs2(&r, rd_u8(&r) / 2);	/* length in bytes */
		rc = tran_begin(bt, name, 1);
		free(name);
		break;
	case TM_SAVE:
		name = rd_ucs2(&r, rd_u8(&r) / 2);	/* length in bytes */
		rc = tran_save(bt, name, 1);
		free(name);
		break;
	case TM_COMMIT:
	case TM_ROLLBACK:
		name = rd_ucs2(&r, rd_u8(&r) / 2);	/* length in bytes */
		flags = rd_u8(&r);
		if (request == TM_ROLLBACK && *name)
			rc = tran_rollback(bt, name, 1);
		else if (c->trancount > 0)
			rc = request == TM_COMMIT ? tran_commit(bt, 1, 1) :
			    tran_rollback(bt, NULL, 1);
		/* fBeginXact: a new transaction straight after */
		if (rc == 0 && (flags & 1) && c->trancount == 0)
			rc = tran_begin(bt, NULL, 1);
		free(name);
		break;
	default:
		sqlmsg_set(&m, 50000, "tdsd does not support transaction "
		    "manager request %u.", request);
		statement_error(bt, &m, 1);
		break;
	}
	(void)rc;
	batch_end(bt, 0);
	reply_end(c);
}
