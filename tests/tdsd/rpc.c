/* rpc.c: RPC requests (MS-TDS 2.2.6.6). Only sp_executesql: its typed
 * parameters become SQLite values bound to the @names in the SQL. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

#define PROC_EXECUTESQL 10

/* TYPE_INFO type bytes a parameter may carry */
enum {
	T_NULL = 0x1f, T_IMAGE = 0x22, T_TEXT = 0x23, T_GUID = 0x24,
	T_VARBINARY = 0x25, T_INTN = 0x26, T_VARCHAR = 0x27, T_DATEN = 0x28,
	T_TIMEN = 0x29, T_DATETIME2N = 0x2a, T_DATETIMEOFFSETN = 0x2b,
	T_BINARY = 0x2d, T_CHAR = 0x2f, T_INT1 = 0x30, T_BIT = 0x32,
	T_INT2 = 0x34, T_DECIMAL = 0x37, T_INT4 = 0x38, T_DATETIM4 = 0x3a,
	T_FLT4 = 0x3b, T_MONEY = 0x3c, T_DATETIME = 0x3d, T_FLT8 = 0x3e,
	T_NUMERIC = 0x3f, T_NTEXT = 0x63, T_BITN = 0x68, T_DECIMALN = 0x6a,
	T_NUMERICN = 0x6c, T_FLTN = 0x6d, T_MONEYN = 0x6e, T_DATETIMN = 0x6f,
	T_MONEY4 = 0x7a, T_INT8 = 0x7f, T_BIGVARBINARY = 0xa5,
	T_BIGVARCHAR = 0xa7, T_BIGBINARY = 0xad, T_BIGCHAR = 0xaf,
	T_NVARCHAR = 0xe7, T_NCHAR = 0xef
};

static uint64_t
le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

static int
fixed_type(int type, struct typeinfo *ti)
{
	static const struct {
		unsigned char type;
		unsigned char size;
		unsigned char kind;
	} fixed[] = {
		{ T_NULL, 0, K_NULL }, { T_INT1, 1, K_UINT8 },
		{ T_BIT, 1, K_INT }, { T_INT2, 2, K_INT }, { T_INT4, 4, K_INT },
		{ T_INT8, 8, K_INT }, { T_FLT4, 4, K_FLOAT },
		{ T_FLT8, 8, K_FLOAT }, { T_MONEY, 8, K_MONEY },
		{ T_MONEY4, 4, K_MONEY }, { T_DATETIME, 8, K_DATETIME },
		{ T_DATETIM4, 4, K_DATETIME }
	};
	size_t k;

	for (k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
		if (fixed[k].type == type) {
			ti->kind = fixed[k].kind;
			ti->fixed = fixed[k].size;
			ti->length_size = 0;
			return 1;
		}
	}
	return 0;
}

/* Reads TYPE_INFO; returns -1 for a type tdsd does not take. */
int
read_typeinfo(struct rd *r, int type, struct typeinfo *ti)
{
	memset(ti, 0, sizeof *ti);
	if (fixed_type(type, ti))
		return 0;
	switch (type) {
	case T_INTN:
	case T_BITN:
	case T_FLTN:
	case T_MONEYN:
	case T_DATETIMN:
	case T_GUID:
		ti->max = rd_u8(r);
		ti->length_size = 1;
		ti->kind = type == T_FLTN ? K_FLOAT : type == T_MONEYN ?
		    K_MONEY : type == T_DATETIMN ? K_DATETIME : type == T_GUID ?
		    K_GUID : K_INT;
		return 0;
	case T_DECIMAL:
	case T_NUMERIC:
	case T_DECIMALN:
	case T_NUMERICN:
		rd_u8(r);
		ti->precision = rd_u8(r);
		ti->scale = rd_u8(r);
		ti->length_size = 1;
		ti->kind = K_DECIMAL;
		return 0;
	case T_DATEN:
		ti->length_size = 1;
		ti->kind = K_DATE;
		return 0;
	case T_TIMEN:
	case T_DATETIME2N:
	case T_DATETIMEOFFSETN:
		ti->scale = rd_u8(r);
		ti->length_size = 1;
		ti->kind = type == T_TIMEN ? K_TIME : type == T_DATETIME2N ?
		    K_DATETIME2 : K_DATETIMEOFFSET;
		return ti->scale > 7 ? -1 : 0;
	case T_BIGVARCHAR:
	case T_BIGCHAR:
	case T_NVARCHAR:
	case T_NCHAR:
	case T_BIGVARBINARY:
	case T_BIGBINARY:
		ti->max = rd_u16(r);
		ti->length_size = ti->max == 0xffff ? 8 : 2;
		if (type != T_BIGVARBINARY && type != T_BIGBINARY)
			rd_bytes(r, 5);		/* collation */
		ti->kind = type == T_NVARCHAR || type == T_NCHAR ? K_NCHAR :
		    type == T_BIGVARCHAR || type == T_BIGCHAR ? K_CHAR :
		    K_BINARY;
		return 0;
	case T_TEXT:
	case T_NTEXT:
	case T_IMAGE:
		rd_u32(r);
		ti->max = 0xffff;
		if (type != T_IMAGE)
			rd_bytes(r, 5);
		ti->length_size = 4;
		ti->kind = type == T_NTEXT ? K_NCHAR : type == T_TEXT ? K_CHAR :
		    K_BINARY;
		return 0;
	case T_VARCHAR:
	case T_CHAR:
	case T_VARBINARY:
	case T_BINARY:
		ti->max = rd_u8(r);
		if (type == T_VARCHAR || type == T_CHAR)
			rd_bytes(r, 5);
		ti->length_size = 1;
		ti->kind = type == T_VARCHAR || type == T_CHAR ? K_CHAR :
		    K_BINARY;
		return 0;
	default:
		return -1;
	}
}

/* The column a parameter makes in SELECT @name: the type it was sent
 * as, as SQL Server types it. Returns 0 for an untyped NULL. */
static int
param_column(int type, const struct typeinfo *ti, struct column *col)
{
	size_t size = ti->length_size == 0 ? ti->fixed : ti->max;
	int max = ti->max == 0xffff;

	memset(col, 0, sizeof *col);
	col->precision = ti->precision;
	col->scale = ti->scale;
	col->size = (int)size;
	switch (ti->kind) {
	case K_NULL:
		return 0;
	case K_UINT8:
		col->type = CT_INT1;
		break;
	case K_INT:
		col->type = type == T_BIT || type == T_BITN ? CT_BIT :
		    size == 1 ? CT_INT1 : size == 2 ? CT_INT2 : size == 4 ?
		    CT_INT4 : CT_INT8;
		break;
	case K_FLOAT:
		col->type = size == 4 ? CT_REAL : CT_FLOAT;
		break;
	case K_MONEY:
		col->type = size == 4 ? CT_SMALLMONEY : CT_MONEY;
		break;
	case K_DATETIME:
		col->type = size == 4 ? CT_SMALLDATETIME : CT_DATETIME;
		break;
	case K_DECIMAL:
		col->type = CT_DECIMAL;
		col->numeric = type == T_NUMERIC || type == T_NUMERICN;
		if (col->precision < 1 || col->precision > 38)
			col->precision = 38;
		break;
	case K_DATE:
		col->type = CT_DATE;
		break;
	case K_TIME:
		col->type = CT_TIME;
		break;
	case K_DATETIME2:
		col->type = CT_DATETIME2;
		break;
	case K_DATETIMEOFFSET:
		col->type = CT_DATETIMEOFFSET;
		break;
	case K_GUID:
		col->type = CT_GUID;
		break;
	case K_NCHAR:
		col->size = (int)size / 2;
		col->type = max || col->size < 1 ? CT_NVARCHAR_MAX :
		    type == T_NCHAR ? CT_NCHAR : CT_NVARCHAR;
		break;
	case K_CHAR:
		col->type = max || size < 1 ? CT_VARCHAR_MAX : type == T_BIGCHAR ||
		    type == T_CHAR ? CT_CHAR : CT_VARCHAR;
		break;
	case K_BINARY:
		col->type = max || size < 1 ? CT_VARBINARY_MAX :
		    type == T_BIGBINARY || type == T_BINARY ? CT_BINARY :
		    CT_VARBINARY;
		break;
	}
	return 1;
}

/* A PLP value, chunks joined; NULL stays NULL. */
static unsigned char *
read_plp(struct rd *r, size_t *len, int *is_null)
{
	uint64_t total = rd_u64(r);
	struct buf b = { 0 };
	uint32_t chunk;

	*is_null = total == UINT64_MAX;
	*len = 0;
	if (*is_null)
		return NULL;
	while (!r->bad && (chunk = rd_u32(r)) != 0) {
		const unsigned char *p = rd_bytes(r, chunk);

		if (p != NULL)
			buf_put(&b, p, chunk);
	}
	buf_u8(&b, 0);	/* room for nothing more: keeps data non-NULL */
	*len = b.len - 1;
	return b.data;
}

static char *
decimal_text(int negative, unsigned __int128 mag, int scale)
{
	char text[96];

	decimal_format(negative, mag, scale, text, sizeof text);
	return xstrdup(text);
}

static char *
money_text(int64_t v)
{
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
	char *s = decimal_text(v < 0, mag, 4);
	size_t len = strlen(s);

	/* 12.5000 reads as 12.50: cents kept, zeros beyond trimmed */
	while (s[len - 1] == '0' && s[len - 3] != '.')
		s[--len] = '\0';
	return s;
}

static void
set_text(struct param *p, char *text)
{
	p->type = SQLITE_TEXT;
	p->bytes = text;
	p->len = strlen(text);
}

/* 100 ns units from a TIME's value at its scale */
static uint64_t
time_units(uint64_t value, int scale)
{
	while (scale++ < 7)
		value *= 10;
	return value;
}

/* Converts one value's bytes to what SQLite binds (see tdsd usage). */
static int
convert(struct param *p, const struct typeinfo *ti, const unsigned char *v,
    size_t len)
{
	static const int64_t days_1900 = 693595;	/* 0001-01-01 to 1900 */
	unsigned __int128 mag = 0;
	size_t time_len, k;
	int64_t days, offset;
	uint64_t frac;
	double d;
	float f;

	switch (ti->kind) {
	case K_NULL:
		p->type = SQLITE_NULL;
		return 0;
	case K_UINT8:
		p->type = SQLITE_INTEGER;
		p->i = v[0];
		return len == 1 ? 0 : -1;
	case K_INT:
		if (len != 1 && len != 2 && len != 4 && len != 8)
			return -1;
		p->type = SQLITE_INTEGER;
		p->i = (int64_t)(le(v, len) << (64 - 8 * len)) >> (64 - 8 * len);
		if (len == 1)
			p->i = v[0];	/* tinyint and bit are unsigned */
		return 0;
	case K_FLOAT:
		p->type = SQLITE_FLOAT;
		if (len == 4) {
			uint32_t bits = (uint32_t)le(v, 4);

			memcpy(&f, &bits, 4);
			p->d = f;
		} else if (len == 8) {
			uint64_t bits = le(v, 8);

			memcpy(&d, &bits, 8);
			p->d = d;
		} else {
			return -1;
		}
		return 0;
	case K_MONEY:
		if (len == 8)
			set_text(p, money_text((int64_t)(le(v, 4) << 32 |
			    le(v + 4, 4))));
		else if (len == 4)
			set_text(p, money_text((int32_t)le(v, 4)));
		else
			return -1;
		return 0;
	case K_DATETIME:
		if (len == 8) {
			/* 1/300 s ticks, shown to the millisecond */
			days = (int32_t)le(v, 4) + days_1900;
			frac = (le(v + 4, 4) * 10 + 1) / 3 * 10000;
		} else if (len == 4) {
			days = (int64_t)le(v, 2) + days_1900;
			frac = le(v + 2, 2) * 600000000ull;
		} else {
			return -1;
		}
		set_text(p, format_datetime(days, frac, 1));
		return 0;
	case K_DECIMAL:
		if (len < 2 || len > 17)
			return -1;
		for (k = len - 1; k >= 1; k--)
			mag = mag << 8 | v[k];
		set_text(p, decimal_text(v[0] == 0 && mag != 0, mag, ti->scale));
		return 0;
	case K_DATE:
		if (len != 3)
			return -1;
		set_text(p, format_date((int64_t)le(v, 3)));
		return 0;
	case K_TIME:
		if (len < 3 || len > 5)
			return -1;
		set_text(p, format_datetime(0, time_units(le(v, len), ti->scale),
		    0));
		return 0;
	case K_DATETIME2:
	case K_DATETIMEOFFSET:
		time_len = len - (ti->kind == K_DATETIME2 ? 3 : 5);
		if (len < 6 || time_len > 5)
			return -1;
		frac = time_units(le(v, time_len), ti->scale);
		days = (int64_t)le(v + time_len, 3);
		if (ti->kind == K_DATETIME2) {
			set_text(p, format_datetime(days, frac, 1));
			return 0;
		} else {
			/* stored as UTC: shown in its own offset */
			const int64_t day = 864000000000LL;
			int64_t t;
			char *local, *s;

			offset = (int16_t)le(v + time_len + 3, 2);
			t = (int64_t)frac + offset * 600000000LL;
			if (t < 0) {
				t += day;
				days--;
			} else if (t >= day) {
				t -= day;
				days++;
			}
			local = format_datetime(days, (uint64_t)t, 1);
			s = xasprintf("%s %c%02d:%02d", local,
			    offset < 0 ? '-' : '+', (int)(llabs(offset) / 60),
			    (int)(llabs(offset) % 60));
			free(local);
			set_text(p, s);
			return 0;
		}
	case K_GUID:
		if (len != 16)
			return -1;
		set_text(p, xasprintf("%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X"
		    "%02X%02X", (unsigned)le(v, 4), (unsigned)le(v + 4, 2),
		    (unsigned)le(v + 6, 2), v[8], v[9], v[10], v[11], v[12],
		    v[13], v[14], v[15]));
		return 0;
	case K_NCHAR:
		set_text(p, ucs2_to_utf8(v, len));
		return 0;
	case K_CHAR:
		set_text(p, latin1_to_utf8(v, len));
		return 0;
	case K_BINARY:
		p->type = SQLITE_BLOB;
		p->bytes = xmalloc(len ? len : 1);
		memcpy(p->bytes, v, len);
		p->len = len;
		return 0;
	}
	return -1;
}

/*
 * A value of the type ti says (its length, then its bytes) into p, as
 * SQLite binds it; p->col is the SQL Server type it came as. Returns -1
 * when the bytes are malformed.
 */
int
read_value(struct rd *r, int type, const struct typeinfo *ti,
    struct param *p)
{
	const unsigned char *v = NULL;
	unsigned char *plp = NULL;
	size_t len = 0;
	int is_null = 0, rc;

	switch (ti->length_size) {
	case 0:
		len = ti->fixed;
		break;
	case 1:
		len = rd_u8(r);
		is_null = len == 0 && ti->kind != K_CHAR && ti->kind != K_BINARY;
		break;
	case 2:
		len = rd_u16(r);
		is_null = len == 0xffff;
		break;
	case 4:
		len = rd_u32(r);
		is_null = len == 0xffffffffu;
		break;
	case 8:
		plp = read_plp(r, &len, &is_null);
		v = plp;
		break;
	}
	if (ti->length_size != 8 && !is_null)
		v = rd_bytes(r, len);
	if (r->bad)
		return -1;
	p->typed = param_column(type, ti, &p->col);
	if (is_null) {
		p->type = SQLITE_NULL;
		free(plp);
		return 0;
	}
	rc = convert(p, ti, v ? v : (const unsigned char *)"", len);
	free(plp);
	return rc;
}

/* One parameter: name, status, TYPE_INFO, value. */
static int
read_param(struct rd *r, struct param *p, struct sqlmsg *err)
{
	struct typeinfo ti;
	int type;

	p->name = rd_ucs2(r, rd_u8(r));
	rd_u8(r);	/* status: an OUTPUT parameter is taken as input */
	type = rd_u8(r);
	if (read_typeinfo(r, type, &ti) < 0) {
		sqlmsg_set(err, 8016, "The incoming tabular data stream (TDS) "
		    "remote procedure call (RPC) protocol stream is incorrect: "
		    "parameter %s has data type 0x%02x, which tdsd does not "
		    "take.", p->name, type);
		return -1;
	}
	if (read_value(r, type, &ti, p) == 0)
		return 0;
	sqlmsg_set(err, 8016, "The incoming tabular data stream (TDS) remote "
	    "procedure call (RPC) protocol stream is incorrect: parameter %s "
	    "is malformed.", p->name);
	return -1;
}

/* "@a int, @b nvarchar(10)": the names, for values sent unnamed. */
static void
name_positional(struct param *values, size_t count, const char *decl)
{
	size_t k = 0, n;
	const char *p = decl;
	int depth = 0, want = 1;

	for (; *p && k < count; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (*p == ',' && depth == 0)
			want = 1;
		else if (*p == '@' && want) {
			for (n = 1; isalnum((unsigned char)p[n]) || p[n] == '_' ||
			    p[n] == '@' || p[n] == '#' || p[n] == '$'; n++)
				continue;
			if (values[k].name[0] == '\0') {
				free(values[k].name);
				values[k].name = xstrndup(p, n);
			}
			k++;
			want = 0;
		}
	}
}

static int
is_executesql(const char *name)
{
	const char *dot = strrchr(name, '.');

	return strcasecmp(dot ? dot + 1 : name, "sp_executesql") == 0;
}

static void
free_params(struct param *params, size_t count)
{
	size_t k;

	for (k = 0; k < count; k++) {
		free(params[k].name);
		free(params[k].bytes);
	}
	free(params);
}

/* One RPC of the message; returns 1 when another follows. */
static int
serve_one(struct conn *c, struct rd *r)
{
	struct param *params = NULL;
	size_t count = 0, cap = 0;
	struct batch *bt = batch_begin(c, 1);
	unsigned name_len, next;
	char *proc;
	struct sqlmsg m;
	int more = 0, failed = 0;

	name_len = rd_u16(r);
	if (name_len == 0xffff) {
		unsigned id = rd_u16(r);

		proc = id == PROC_EXECUTESQL ? xstrdup("sp_executesql") :
		    xasprintf("procedure id %u", id);
	} else {
		proc = rd_ucs2(r, name_len);
	}
	rd_u16(r);	/* option flags */
	while (r->pos < r->len && !r->bad) {
		next = r->data[r->pos];
		if (next == 0x80 || next == 0xfe || next == 0xff) {
			r->pos++;
			more = r->pos < r->len;
			break;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			params = xreallocarray(params, cap, sizeof *params);
		}
		memset(&params[count], 0, sizeof *params);
		if (read_param(r, &params[count++], &m) < 0) {
			failed = 1;
			more = 0;	/* lost our place in the stream */
			break;
		}
	}
	if (!failed && !is_executesql(proc)) {
		sqlmsg_set(&m, 2812, "Could not find stored procedure '%s'.",
		    proc);
		failed = 1;
	}
	if (!failed && (count < 1 || params[0].type != SQLITE_TEXT)) {
		sqlmsg_set(&m, 214, "Procedure expects parameter '@statement' "
		    "of type 'ntext/nchar/nvarchar'.");
		failed = 1;
	}
	if (failed) {
		batch_fail(bt, &m);
	} else {
		if (count >= 2 && params[1].type == SQLITE_TEXT)
			name_positional(params + 2, count - 2, params[1].bytes);
		batch_run(bt, params[0].bytes, count >= 2 ? params + 2 : NULL,
		    count >= 2 ? count - 2 : 0);
	}
	batch_end(bt, more && !c->attention);
	free_params(params, count);
	free(proc);
	return more && !c->attention && !c->broken;
}

void
serve_rpc(struct conn *c)
{
	struct rd r = { c->in, c->in_len, skip_all_headers(c), 0 };

	while (serve_one(c, &r))
		continue;
	reply_end(c);
}
