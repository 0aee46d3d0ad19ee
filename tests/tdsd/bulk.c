/* bulk.c: bulk load (MS-TDS 2.2.6.1). The client sends "INSERT BULK
 * table (columns)" as a batch, then a BULK_LOAD message: COLMETADATA,
 * ROW tokens, DONE (tedious's newBulkLoad, freebcp ... in). The rows go
 * into the table by the names COLMETADATA gives, all or none. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

/* "[dbo].[t]", "dbo.t", "t": the last part, unquoted, into a new string */
static char *
table_name(const char *sql, size_t *pos)
{
	size_t p = *pos, start, end;
	char close;

	for (;;) {
		while (isspace((unsigned char)sql[p]))
			p++;
		close = sql[p] == '[' ? ']' : sql[p] == '"' ? '"' : '\0';
		if (close)
			p++;
		start = p;
		while (sql[p] && (close ? sql[p] != close :
		    !isspace((unsigned char)sql[p]) && sql[p] != '(' &&
		    sql[p] != '.'))
			p++;
		end = p;
		if (close && sql[p])
			p++;
		if (sql[p] != '.')
			break;
		p++;
	}
	*pos = p;
	return xstrndup(sql + start, end - start);
}

/* INSERT BULK table (...) [WITH (...)]: the rest of the batch. The next
 * message is the bulk load. */
long
run_insert_bulk(struct batch *bt, const char *sql, size_t after)
{
	struct conn *c = batch_conn(bt);
	char *name;

	name = table_name(sql, &after);
	if (batch_checking(bt)) {
		free(name);
		return (long)strlen(sql);
	}
	free(c->bulk_table);
	c->bulk_table = name;
	batch_done(bt, 0, 0);
	return (long)strlen(sql);
}

static void
quoted(struct buf *b, const char *name)
{
	buf_u8(b, '"');
	for (; *name; name++) {
		if (*name == '"')
			buf_u8(b, '"');
		buf_u8(b, (unsigned char)*name);
	}
	buf_u8(b, '"');
}

static void
malformed(struct batch *bt, const char *what)
{
	struct sqlmsg m;

	sqlmsg_set(&m, 4804, "The bulk load stream is incorrect: %s.", what);
	batch_fail(bt, &m);
}

struct bulk_column {
	int type;
	struct typeinfo ti;
	char *name;
};

/* COLMETADATA: the columns, and the INSERT that takes a row of them */
static struct bulk_column *
read_columns(struct conn *c, struct rd *r, unsigned *count, struct buf *sql)
{
	struct bulk_column *cols;
	unsigned k;

	if (rd_u8(r) != TOK_COLMETADATA)
		return NULL;
	*count = rd_u16(r);
	if (*count == 0 || *count == 0xffff)
		return NULL;
	cols = xcalloc(*count, sizeof *cols);
	buf_put(sql, "INSERT INTO ", 12);
	quoted(sql, c->bulk_table);
	buf_put(sql, " (", 2);
	for (k = 0; k < *count && !r->bad; k++) {
		if (c->tds_version >= TDS72)
			rd_u32(r);	/* user type */
		else
			rd_u16(r);
		rd_u16(r);		/* flags */
		cols[k].type = rd_u8(r);
		if (read_typeinfo(r, cols[k].type, &cols[k].ti) < 0) {
			r->bad = 1;
			break;
		}
		if (cols[k].ti.length_size == 4)	/* TEXT, NTEXT, IMAGE */
			rd_bytes(r, rd_u16(r) * 2u);	/* the table's name */
		cols[k].name = rd_ucs2(r, rd_u8(r));
		if (k > 0)
			buf_put(sql, ", ", 2);
		quoted(sql, cols[k].name);
	}
	buf_put(sql, ") VALUES (", 10);
	for (k = 0; k < *count; k++)
		buf_put(sql, k ? ", ?" : "?", k ? 3 : 1);
	buf_put(sql, ")", 2);	/* and the NUL */
	return cols;
}

static void
free_columns(struct bulk_column *cols, unsigned count)
{
	unsigned k;

	for (k = 0; cols && k < count; k++)
		free(cols[k].name);
	free(cols);
}

/* One ROW: each value bound to its column; -1 when malformed. */
static int
bind_row(struct rd *r, const struct bulk_column *cols, unsigned count,
    sqlite3_stmt *stmt, struct param *values)
{
	unsigned k;
	int rc = 0;

	for (k = 0; k < count; k++) {
		memset(&values[k], 0, sizeof values[k]);
		if (cols[k].ti.length_size == 4) {
			/* TEXT, NTEXT, IMAGE: a text pointer and timestamp */
			unsigned n = rd_u8(r);

			if (n == 0) {
				values[k].type = SQLITE_NULL;
				bind_value(stmt, (int)k + 1, &values[k]);
				continue;
			}
			rd_bytes(r, n + 8u);
		}
		if (rc == 0 && read_value(r, cols[k].type, &cols[k].ti,
		    &values[k]) < 0)
			rc = -1;
		if (rc == 0 && bind_value(stmt, (int)k + 1, &values[k]) !=
		    SQLITE_OK)
			rc = -1;
	}
	return r->bad ? -1 : rc;
}

static void
free_values(struct param *values, unsigned count)
{
	unsigned k;

	for (k = 0; k < count; k++) {
		free(values[k].bytes);
		values[k].bytes = NULL;
	}
}

void
serve_bulk(struct conn *c)
{
	struct rd r = { c->in, c->in_len, 0, 0 };
	struct batch *bt = batch_begin(c, 0);
	struct bulk_column *cols = NULL;
	struct param *values = NULL;
	sqlite3_stmt *stmt = NULL;
	struct buf sql = { 0 };
	uint64_t rows = 0;
	unsigned count = 0;
	int tok, ok = 0;

	if (c->bulk_table == NULL) {
		malformed(bt, "no INSERT BULK came before it");
		goto out;
	}
	cols = read_columns(c, &r, &count, &sql);
	if (cols == NULL || r.bad) {
		malformed(bt, "its column metadata is malformed or of a type "
		    "tdsd does not take");
		goto out;
	}
	store_check_schema(c);
	if (sqlite3_prepare_v2(c->db, (const char *)sql.data, -1, &stmt,
	    NULL) != SQLITE_OK) {
		batch_sqlite_error(bt);
		goto out;
	}
	values = xcalloc(count, sizeof *values);
	/* all rows or none: a savepoint, inside the client's transaction
	 * when there is one */
	sqlite3_exec(c->db, "SAVEPOINT tdsd_bulk", NULL, NULL, NULL);
	for (;;) {
		/* FreeTDS ends the message after the last row, tedious with
		 * a DONE */
		if (r.pos == r.len) {
			ok = 1;
			break;
		}
		tok = rd_u8(&r);
		if (r.bad || tok == TOK_DONE) {
			ok = !r.bad;
			if (r.bad)
				malformed(bt, "it ends before its DONE");
			break;
		}
		if (tok != TOK_ROW) {
			malformed(bt, "a token that is no ROW");
			break;
		}
		if (bind_row(&r, cols, count, stmt, values) < 0) {
			malformed(bt, "a row's value is malformed");
			break;
		}
		if (sqlite3_step(stmt) != SQLITE_DONE) {
			batch_sqlite_error(bt);
			break;
		}
		sqlite3_reset(stmt);
		free_values(values, count);
		rows++;
	}
	free_values(values, count);
	if (ok) {
		sqlite3_exec(c->db, "RELEASE tdsd_bulk", NULL, NULL, NULL);
		batch_done(bt, DONE_COUNT, rows);
	} else {
		sqlite3_exec(c->db, "ROLLBACK TO tdsd_bulk; RELEASE tdsd_bulk",
		    NULL, NULL, NULL);
	}
	if (c->opt->verbose)
		warn("connection %u: bulk load into %s: %llu rows%s", c->spid,
		    c->bulk_table, (unsigned long long)rows, ok ? "" :
		    ", rolled back");
out:
	sqlite3_finalize(stmt);
	free(values);
	free_columns(cols, count);
	buf_free(&sql);
	free(c->bulk_table);
	c->bulk_table = NULL;
	batch_end(bt, 0);
	reply_end(c);
}
