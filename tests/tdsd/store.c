/* store.c: a DECIMAL(p,s), NUMERIC(p,s), MONEY or SMALLMONEY column keeps
 * its value rounded to its scale, as SQL Server stores it, and a value
 * past its precision fails (8115). SQLite stores what it is given, so
 * each connection has TEMP triggers that round what an INSERT or UPDATE
 * stored (tdsd_round), made again when the schema has changed. TEMP:
 * the database file stays plain SQLite for the sqlite3 shell. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

#define OVERFLOW_TEXT "Arithmetic overflow error converting numeric to " \
	"data type numeric."

/*
 * tdsd_round(value, scale, precision): a number rounded half away from
 * zero to scale, in decimal (a REAL as the decimal written); REAL when
 * 15 digits hold it, else text; anything not a number as it is.
 */
static void
round_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int scale = sqlite3_value_int(argv[1]), precision, negative, k;
	const char *text = NULL;
	char buf[512], out[80];
	unsigned __int128 mag, limit = 1;

	(void)argc;
	precision = sqlite3_value_int(argv[2]);
	switch (sqlite3_value_type(argv[0])) {
	case SQLITE_FLOAT:
		if (decimal_from_double(sqlite3_value_double(argv[0]), buf,
		    sizeof buf) < 0) {
			sqlite3_result_error(ctx, OVERFLOW_TEXT, -1);
			return;
		}
		text = buf;
		break;
	case SQLITE_INTEGER:
		snprintf(buf, sizeof buf, "%lld",
		    (long long)sqlite3_value_int64(argv[0]));
		text = buf;
		break;
	case SQLITE_TEXT:
		text = (const char *)sqlite3_value_text(argv[0]);
		break;
	default:
		break;
	}
	if (text == NULL || scale < 0 || scale > 38 || precision < scale ||
	    precision > 38) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	switch (decimal_parse(text, scale, &negative, &mag)) {
	case -1:
		/* not a number: sent as error 245 when read, as now */
		sqlite3_result_value(ctx, argv[0]);
		return;
	case -2:
		sqlite3_result_error(ctx, OVERFLOW_TEXT, -1);
		return;
	}
	for (k = 0; k < precision; k++)
		limit *= 10;
	if (mag >= limit) {
		sqlite3_result_error(ctx, OVERFLOW_TEXT, -1);
		return;
	}
	/* an integer needs no rounding: it stays as it is */
	if (sqlite3_value_type(argv[0]) == SQLITE_INTEGER) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	decimal_format(negative, mag, scale, out, sizeof out);
	if (strlen(out) <= 16)
		sqlite3_result_double(ctx, strtod(out, NULL));
	else
		sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

static void
quote_name(struct buf *b, const char *name)
{
	buf_u8(b, '"');
	for (; *name; name++) {
		if (*name == '"')
			buf_u8(b, '"');
		buf_u8(b, (unsigned char)*name);
	}
	buf_u8(b, '"');
}

/* The two triggers of one column: after INSERT, after UPDATE OF it. */
static void
add_triggers(sqlite3 *db, const char *table, const char *column,
    const struct column *col, unsigned id)
{
	static const char *const events[] = { "INSERT", "UPDATE OF" };
	int precision = col->type == CT_DECIMAL ? col->precision :
	    col->type == CT_MONEY ? 19 : 10;
	int scale = col->type == CT_DECIMAL ? col->scale : 4;
	struct buf b = { 0 };
	char head[96], args[32];
	int e;

	snprintf(args, sizeof args, ", %d, %d)", scale, precision);
	for (e = 0; e < 2; e++) {
		b.len = 0;
		snprintf(head, sizeof head, "CREATE TEMP TRIGGER tdsd_round_%u_%c "
		    "AFTER %s ", id, "iu"[e], events[e]);
		buf_put(&b, head, strlen(head));
		if (e == 1) {
			quote_name(&b, column);
			buf_u8(&b, ' ');
		}
		buf_put(&b, "ON main.", 8);
		quote_name(&b, table);
		buf_put(&b, " WHEN NEW.", 10);
		quote_name(&b, column);
		buf_put(&b, " IS NOT tdsd_round(NEW.", 23);
		quote_name(&b, column);
		buf_put(&b, args, strlen(args));
		buf_put(&b, " BEGIN UPDATE ", 14);
		quote_name(&b, table);
		buf_put(&b, " SET ", 5);
		quote_name(&b, column);
		buf_put(&b, " = tdsd_round(", 14);
		quote_name(&b, column);
		buf_put(&b, args, strlen(args));
		buf_put(&b, " WHERE rowid = NEW.rowid; END", 30);	/* NUL */
		if (sqlite3_exec(db, (const char *)b.data, NULL, NULL, NULL) !=
		    SQLITE_OK)
			warn("rounding trigger on %s.%s: %s", table, column,
			    sqlite3_errmsg(db));
	}
	buf_free(&b);
}

/* Drops this connection's rounding triggers and makes them anew. */
static void
make_triggers(struct conn *c)
{
	sqlite3_stmt *old = NULL, *cols = NULL;
	struct column col;
	unsigned id = 0;
	char *drop;

	if (sqlite3_prepare_v2(c->db, "SELECT name FROM temp.sqlite_master "
	    "WHERE type = 'trigger' AND name LIKE 'tdsd_round_%'", -1, &old,
	    NULL) == SQLITE_OK) {
		while (sqlite3_step(old) == SQLITE_ROW) {
			drop = xasprintf("DROP TRIGGER temp.\"%s\"",
			    (const char *)sqlite3_column_text(old, 0));
			sqlite3_exec(c->db, drop, NULL, NULL, NULL);
			free(drop);
		}
	}
	sqlite3_finalize(old);
	/* tables with a rowid: the trigger finds its row by it */
	if (sqlite3_prepare_v2(c->db, "SELECT t.name, i.name, i.type FROM "
	    "pragma_table_list AS t, pragma_table_info(t.name) AS i WHERE "
	    "t.schema = 'main' AND t.type = 'table' AND t.wr = 0 AND t.name "
	    "NOT LIKE 'sqlite_%'", -1, &cols, NULL) != SQLITE_OK) {
		sqlite3_finalize(cols);
		return;
	}
	while (sqlite3_step(cols) == SQLITE_ROW) {
		if (!column_from_decltype((const char *)sqlite3_column_text(cols,
		    2), &col) || (col.type != CT_DECIMAL &&
		    col.type != CT_MONEY && col.type != CT_SMALLMONEY))
			continue;
		add_triggers(c->db, (const char *)sqlite3_column_text(cols, 0),
		    (const char *)sqlite3_column_text(cols, 1), &col, ++id);
	}
	sqlite3_finalize(cols);
}

/*
 * Before a statement that may store: triggers for the schema as it is.
 * Not in a transaction that has read nothing yet: reading the schema's
 * version would take a snapshot before the transaction's first write,
 * and a writer committing meanwhile would then fail it (1205).
 */
void
store_check_schema(struct conn *c)
{
	sqlite3_stmt *stmt = NULL;
	int version = -1;

	if (!sqlite3_get_autocommit(c->db) &&
	    sqlite3_txn_state(c->db, "main") == SQLITE_TXN_NONE)
		return;

	if (sqlite3_prepare_v2(c->db, "PRAGMA main.schema_version", -1, &stmt,
	    NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (version == c->schema_version)
		return;
	c->schema_version = version;
	make_triggers(c);
}

void
store_open(struct conn *c)
{
	sqlite3_create_function(c->db, "tdsd_round", 3,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, round_func, NULL, NULL);
	c->schema_version = -2;
	store_check_schema(c);
}
