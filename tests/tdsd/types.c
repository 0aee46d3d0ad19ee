/* types.c: SQL Server types for SQLite values: result column types from
 * declared types, and each value encoded on the wire (MS-TDS 2.2.5.4) */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

/* TYPE_INFO type bytes */
enum {
	T_GUID = 0x24,
	T_INTN = 0x26,
	T_DATEN = 0x28,
	T_TIMEN = 0x29,
	T_DATETIME2N = 0x2a,
	T_DATETIMEOFFSETN = 0x2b,
	T_BITN = 0x68,
	T_DECIMALN = 0x6a,
	T_NUMERICN = 0x6c,
	T_FLTN = 0x6d,
	T_MONEYN = 0x6e,
	T_DATETIMN = 0x6f,
	T_BIGVARBINARY = 0xa5,
	T_BIGVARCHAR = 0xa7,
	T_BIGBINARY = 0xad,
	T_BIGCHAR = 0xaf,
	T_NVARCHAR = 0xe7,
	T_NCHAR = 0xef
};

#define NVARCHAR_LIMIT 4000	/* characters; beyond is NVARCHAR(MAX) */
#define VARCHAR_LIMIT 8000	/* bytes; beyond is VARCHAR(MAX) */
#define VARBINARY_LIMIT 8000
#define UNITS_PER_DAY 864000000000ull	/* 100 ns */
#define TICKS_PER_DAY 25920000u		/* DATETIME: 1/300 s */

struct datetime {
	int64_t days;		/* since 0001-01-01 */
	uint64_t frac;		/* 100 ns units since midnight */
	int has_date;
	int has_time;
};

/* Howard Hinnant's days_from_civil: days since 1970-01-01. */
int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
day_zero(void)
{
	return days_from_civil(1, 1, 1);
}

char *
format_date(int64_t days)
{
	int64_t y;
	unsigned m, d;

	civil_from_days(days + day_zero(), &y, &m, &d);
	return xasprintf("%04lld-%02u-%02u", (long long)y, m, d);
}

/* 'YYYY-MM-DD HH:MM:SS', or the time alone; a fraction only when it is
 * not zero, at least milliseconds, trailing zeros beyond trimmed. */
char *
format_datetime(int64_t days, uint64_t frac, int with_date)
{
	char fraction[16] = "", *date, *s;
	uint64_t secs = frac / 10000000u, sub = frac % 10000000u;
	int digits = 7;

	if (sub != 0) {
		snprintf(fraction, sizeof fraction, ".%07llu",
		    (unsigned long long)sub);
		while (digits > 3 && fraction[digits] == '0')
			fraction[digits--] = '\0';
	}
	date = with_date ? format_date(days) : xstrdup("");
	s = xasprintf("%s%s%02u:%02u:%02u%s", date, with_date ? " " : "",
	    (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
	    (unsigned)(secs % 60), fraction);
	free(date);
	return s;
}

static unsigned
digits_at(const char *s, size_t len, size_t *pos, size_t count)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < count; i++) {
		if (*pos >= len || !isdigit((unsigned char)s[*pos]))
			return ~0u;
		v = v * 10 + (s[(*pos)++] - '0');
	}
	return v;
}

static int
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* HH:MM[:SS[.fffffff]], the hour one or two digits */
static int
parse_time(const char *s, size_t len, size_t *pos, uint64_t *frac)
{
	unsigned h, mi, se = 0, scale = 1000000;
	uint64_t sub = 0;

	h = digits_at(s, len, pos, 1);
	if (*pos < len && isdigit((unsigned char)s[*pos]))
		h = h * 10 + (s[(*pos)++] - '0');
	if (h > 23 || *pos >= len || s[(*pos)++] != ':')
		return -1;
	mi = digits_at(s, len, pos, 2);
	if (mi > 59)
		return -1;
	if (*pos < len && s[*pos] == ':') {
		(*pos)++;
		se = digits_at(s, len, pos, 2);
		if (se > 59)
			return -1;
		if (*pos < len && s[*pos] == '.') {
			(*pos)++;
			if (*pos >= len || !isdigit((unsigned char)s[*pos]))
				return -1;
			/* 100 ns is all we keep; further digits truncate */
			while (*pos < len && isdigit((unsigned char)s[*pos])) {
				sub += (s[(*pos)++] - '0') * (uint64_t)scale;
				scale /= 10;
			}
		}
	}
	*frac = ((uint64_t)h * 3600 + mi * 60 + se) * 10000000u + sub;
	return 0;
}

/* 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.f]]' (or T), or a time alone. */
static int
parse_datetime(const char *s, size_t len, struct datetime *dt)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	size_t pos = 0;
	unsigned y, m, d;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	while (pos < len && isspace((unsigned char)s[pos]))
		pos++;
	memset(dt, 0, sizeof *dt);
	if (len - pos >= 10 && s[pos + 4] == '-') {
		y = digits_at(s, len, &pos, 4);
		if (y == ~0u || y < 1 || s[pos++] != '-')
			return -1;
		m = digits_at(s, len, &pos, 2);
		if (m < 1 || m > 12 || pos >= len || s[pos++] != '-')
			return -1;
		d = digits_at(s, len, &pos, 2);
		if (d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
			return -1;
		dt->days = days_from_civil(y, m, d) - day_zero();
		dt->has_date = 1;
		if (pos < len && (s[pos] == ' ' || s[pos] == 'T')) {
			pos++;
			if (parse_time(s, len, &pos, &dt->frac) < 0)
				return -1;
			dt->has_time = 1;
		}
	} else {
		if (parse_time(s, len, &pos, &dt->frac) < 0)
			return -1;
		dt->has_time = 1;
		/* SQL Server's default date */
		dt->days = days_from_civil(1900, 1, 1) - day_zero();
	}
	if (pos < len && s[pos] == 'Z')
		pos++;
	return pos == len ? 0 : -1;
}

/* Splits a declared type into its upper-cased name and arguments. */
static void
split_decltype(const char *decl, char *name, size_t name_size, char *args,
    size_t args_size)
{
	size_t n = 0, a = 0;
	const char *p = decl;
	int space = 0;

	while (*p && *p != '(') {
		if (isspace((unsigned char)*p)) {
			space = n > 0;
		} else if (n + 2 < name_size) {
			if (space)
				name[n++] = ' ';
			space = 0;
			name[n++] = toupper((unsigned char)*p);
		}
		p++;
	}
	name[n] = '\0';
	if (*p == '(')
		p++;
	while (*p && *p != ')') {
		if (!isspace((unsigned char)*p) && a + 1 < args_size)
			args[a++] = toupper((unsigned char)*p);
		p++;
	}
	args[a] = '\0';
}

static int
name_is(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* Sizes (N)VARCHAR/(N)CHAR/VARBINARY: (n), (MAX) or none. */
static void
sized(struct column *col, const char *args, int limit, enum coltype normal,
    enum coltype max)
{
	long n;

	col->type = normal;
	col->size = limit;
	if (strcmp(args, "MAX") == 0) {
		col->type = max;
		return;
	}
	if (*args == '\0')
		return;
	n = strtol(args, NULL, 10);
	/* SQLite takes (MAX) only quoted, "NVARCHAR(MAX)": -1 means it too */
	if (n > limit || n < 0)
		col->type = max;
	else if (n >= 1)
		col->size = (int)n;
}

/*
 * The SQL Server type for a column SQLite declared; returns 0 when the
 * declared type is none we know (the caller infers from the value).
 */
int
column_from_decltype(const char *decl, struct column *col)
{
	static const char *const ints[] = { "INT", "INTEGER", "MEDIUMINT",
	    NULL };
	static const char *const bigints[] = { "BIGINT", "INT8",
	    "UNSIGNED BIG INT", NULL };
	static const char *const smallints[] = { "SMALLINT", "INT2", NULL };
	static const char *const bits[] = { "BIT", "BOOLEAN", "BOOL", NULL };
	static const char *const decimals[] = { "DECIMAL", "NUMERIC", "DEC",
	    NULL };
	static const char *const floats[] = { "FLOAT", "DOUBLE",
	    "DOUBLE PRECISION", NULL };
	static const char *const nvarchars[] = { "NVARCHAR", "NCHAR VARYING",
	    "NATIONAL CHARACTER VARYING", "NATIVE CHARACTER", NULL };
	static const char *const varchars[] = { "VARCHAR", "VARYING CHARACTER",
	    "CHAR VARYING", "CHARACTER VARYING", NULL };
	static const char *const chars[] = { "CHAR", "CHARACTER", NULL };
	static const char *const texts[] = { "TEXT", "NTEXT", "CLOB", NULL };
	static const char *const blobs[] = { "BLOB", "IMAGE", NULL };
	char name[64], args[32], *comma;

	if (decl == NULL)
		return 0;
	split_decltype(decl, name, sizeof name, args, sizeof args);
	memset(col, 0, sizeof *col);
	if (name_is(name, ints))
		col->type = CT_INT4;
	else if (name_is(name, bigints))
		col->type = CT_INT8;
	else if (name_is(name, smallints))
		col->type = CT_INT2;
	else if (strcmp(name, "TINYINT") == 0)
		col->type = CT_INT1;
	else if (name_is(name, bits))
		col->type = CT_BIT;
	else if (name_is(name, decimals)) {
		/* T-SQL's defaults: DECIMAL means DECIMAL(18,0) */
		col->type = CT_DECIMAL;
		col->numeric = strcmp(name, "NUMERIC") == 0;
		col->precision = 18;
		if (*args) {
			col->precision = atoi(args);
			comma = strchr(args, ',');
			col->scale = comma ? atoi(comma + 1) : 0;
		}
		if (col->precision < 1 || col->precision > 38)
			col->precision = 38;
		if (col->scale < 0 || col->scale > col->precision)
			col->scale = 0;
	} else if (strcmp(name, "MONEY") == 0)
		col->type = CT_MONEY;
	else if (strcmp(name, "SMALLMONEY") == 0)
		col->type = CT_SMALLMONEY;
	else if (name_is(name, floats))
		col->type = CT_FLOAT;
	else if (strcmp(name, "REAL") == 0)
		col->type = CT_REAL;
	else if (strcmp(name, "DATE") == 0)
		col->type = CT_DATE;
	else if (strcmp(name, "DATETIME") == 0)
		col->type = CT_DATETIME;
	else if (strcmp(name, "SMALLDATETIME") == 0)
		col->type = CT_SMALLDATETIME;
	else if (strcmp(name, "DATETIME2") == 0 || strcmp(name, "TIME") == 0 ||
	    strcmp(name, "DATETIMEOFFSET") == 0) {
		col->type = name[1] == 'I' ? CT_TIME : name[8] == 'O' ?
		    CT_DATETIMEOFFSET : CT_DATETIME2;
		col->scale = *args ? atoi(args) : 7;
		if (col->scale < 0 || col->scale > 7)
			col->scale = 7;
	} else if (name_is(name, nvarchars))
		sized(col, args, NVARCHAR_LIMIT, CT_NVARCHAR, CT_NVARCHAR_MAX);
	else if (strcmp(name, "NCHAR") == 0)
		sized(col, args, NVARCHAR_LIMIT, *args ? CT_NCHAR : CT_NVARCHAR,
		    CT_NVARCHAR_MAX);
	else if (name_is(name, varchars))
		sized(col, args, VARCHAR_LIMIT, CT_VARCHAR, CT_VARCHAR_MAX);
	else if (name_is(name, chars))
		sized(col, args, VARCHAR_LIMIT, *args ? CT_CHAR : CT_VARCHAR,
		    CT_VARCHAR_MAX);
	else if (name_is(name, texts))
		col->type = CT_NVARCHAR_MAX;
	else if (strcmp(name, "UNIQUEIDENTIFIER") == 0)
		col->type = CT_GUID;
	else if (strcmp(name, "VARBINARY") == 0)
		sized(col, args, VARBINARY_LIMIT, CT_VARBINARY,
		    CT_VARBINARY_MAX);
	else if (strcmp(name, "BINARY") == 0)
		sized(col, args, VARBINARY_LIMIT, *args ? CT_BINARY :
		    CT_VARBINARY, CT_VARBINARY_MAX);
	else if (name_is(name, blobs))
		col->type = CT_VARBINARY_MAX;
	else
		return 0;
	return 1;
}

/* An expression column: the type of its first value. */
void
column_from_value(int storage_class, struct column *col)
{
	memset(col, 0, sizeof *col);
	switch (storage_class) {
	case SQLITE_INTEGER:
		col->type = CT_INT8;
		break;
	case SQLITE_FLOAT:
		col->type = CT_FLOAT;
		break;
	case SQLITE_BLOB:
		col->type = CT_VARBINARY_MAX;
		break;
	default:
		col->type = CT_NVARCHAR;
		col->size = NVARCHAR_LIMIT;
		break;
	}
}

/* DATE, TIME and DATETIME2 came with TDS 7.3: older clients get text. */
void
column_downgrade(struct column *col, uint32_t tds_version)
{
	if (tds_version >= TDS73)
		return;
	if (col->type == CT_DATE || col->type == CT_TIME ||
	    col->type == CT_DATETIME2 || col->type == CT_DATETIMEOFFSET) {
		col->size = col->type == CT_DATETIMEOFFSET ? 34 : 27;
		col->type = CT_NVARCHAR;
	}
}

static int
decimal_bytes(int precision)
{
	if (precision <= 9)
		return 5;
	if (precision <= 19)
		return 9;
	if (precision <= 28)
		return 13;
	return 17;
}

static int
time_bytes(int scale)
{
	return scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
}

void
put_type_info(struct buf *b, const struct column *col)
{
	static const unsigned char int_size[] = {
		[CT_INT1] = 1, [CT_INT2] = 2, [CT_INT4] = 4, [CT_INT8] = 8
	};

	switch (col->type) {
	case CT_INT1:
	case CT_INT2:
	case CT_INT4:
	case CT_INT8:
		buf_u8(b, T_INTN);
		buf_u8(b, int_size[col->type]);
		break;
	case CT_BIT:
		buf_u8(b, T_BITN);
		buf_u8(b, 1);
		break;
	case CT_DECIMAL:
		buf_u8(b, col->numeric ? T_NUMERICN : T_DECIMALN);
		buf_u8(b, decimal_bytes(col->precision));
		buf_u8(b, col->precision);
		buf_u8(b, col->scale);
		break;
	case CT_MONEY:
	case CT_SMALLMONEY:
		buf_u8(b, T_MONEYN);
		buf_u8(b, col->type == CT_MONEY ? 8 : 4);
		break;
	case CT_FLOAT:
	case CT_REAL:
		buf_u8(b, T_FLTN);
		buf_u8(b, col->type == CT_FLOAT ? 8 : 4);
		break;
	case CT_DATE:
		buf_u8(b, T_DATEN);
		break;
	case CT_DATETIME:
	case CT_SMALLDATETIME:
		buf_u8(b, T_DATETIMN);
		buf_u8(b, col->type == CT_DATETIME ? 8 : 4);
		break;
	case CT_DATETIME2:
	case CT_DATETIMEOFFSET:
	case CT_TIME:
		buf_u8(b, col->type == CT_TIME ? T_TIMEN : col->type ==
		    CT_DATETIME2 ? T_DATETIME2N : T_DATETIMEOFFSETN);
		buf_u8(b, col->scale);
		break;
	case CT_GUID:
		buf_u8(b, T_GUID);
		buf_u8(b, 16);
		break;
	case CT_NVARCHAR:
	case CT_NCHAR:
	case CT_NVARCHAR_MAX:
		buf_u8(b, col->type == CT_NCHAR ? T_NCHAR : T_NVARCHAR);
		buf_u16(b, col->type == CT_NVARCHAR_MAX ? 0xffff :
		    col->size * 2);
		buf_put(b, collation, sizeof collation);
		break;
	case CT_VARCHAR:
	case CT_CHAR:
	case CT_VARCHAR_MAX:
		buf_u8(b, col->type == CT_CHAR ? T_BIGCHAR : T_BIGVARCHAR);
		buf_u16(b, col->type == CT_VARCHAR_MAX ? 0xffff : col->size);
		buf_put(b, collation, sizeof collation);
		break;
	case CT_VARBINARY:
	case CT_BINARY:
	case CT_VARBINARY_MAX:
		buf_u8(b, col->type == CT_BINARY ? T_BIGBINARY :
		    T_BIGVARBINARY);
		buf_u16(b, col->type == CT_VARBINARY_MAX ? 0xffff : col->size);
		break;
	}
}

static int
conversion_failed(struct sqlmsg *err, const char *type)
{
	/* the value itself stays out of the message: it may be PHI */
	sqlmsg_set(err, 245, "Conversion failed when converting a value to "
	    "data type %s.", type);
	return -1;
}

static int
overflow(struct sqlmsg *err, const char *type)
{
	sqlmsg_set(err, 8115, "Arithmetic overflow error converting "
	    "expression to data type %s.", type);
	return -1;
}

/* A whole string as a number: strtod/strtoll with nothing left over. */
static int
text_to_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	return end == s || *end != '\0' || errno == ERANGE ? -1 : 0;
}

static int
value_to_integer(sqlite3_stmt *stmt, int i, sqlite3_int64 *v)
{
	const char *s;
	char *end;
	double d;

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		*v = sqlite3_column_int64(stmt, i);
		return 0;
	case SQLITE_FLOAT:
		d = sqlite3_column_double(stmt, i);
		goto real;
	case SQLITE_TEXT:
		s = (const char *)sqlite3_column_text(stmt, i);
		errno = 0;
		*v = strtoll(s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (end != s && *end == '\0' && errno == 0)
			return 0;
		if (text_to_double(s, &d) < 0)
			return -1;
		goto real;
	default:
		return -1;
	}
real:
	/* as CAST(real AS INT): toward zero */
	if (!isfinite(d) || d >= 9223372036854775808.0 ||
	    d < -9223372036854775808.0)
		return -2;
	*v = (sqlite3_int64)d;
	return 0;
}

static int
put_integer(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	static const char *const names[] = { [CT_INT1] = "tinyint",
	    [CT_INT2] = "smallint", [CT_INT4] = "int", [CT_INT8] = "bigint" };
	sqlite3_int64 v;
	int size, k, rc;

	rc = value_to_integer(stmt, i, &v);
	if (rc == -1)
		return conversion_failed(err, names[col->type]);
	switch (col->type) {
	case CT_INT1:
		size = 1;
		if (rc < 0 || v < 0 || v > 255)
			return overflow(err, names[col->type]);
		break;
	case CT_INT2:
		size = 2;
		if (rc < 0 || v < -32768 || v > 32767)
			return overflow(err, names[col->type]);
		break;
	case CT_INT4:
		size = 4;
		if (rc < 0 || v < INT32_MIN || v > INT32_MAX)
			return overflow(err, names[col->type]);
		break;
	default:
		size = 8;
		if (rc < 0)
			return overflow(err, names[col->type]);
		break;
	}
	buf_u8(b, size);
	for (k = 0; k < size; k++)
		buf_u8(b, (unsigned)((uint64_t)v >> (8 * k)));
	return 0;
}

static int
put_bit(struct buf *b, sqlite3_stmt *stmt, int i, struct sqlmsg *err)
{
	const char *s;
	sqlite3_int64 v;
	int bit;

	if (sqlite3_column_type(stmt, i) == SQLITE_TEXT) {
		s = (const char *)sqlite3_column_text(stmt, i);
		if (strcasecmp(s, "true") == 0) {
			bit = 1;
			goto put;
		}
		if (strcasecmp(s, "false") == 0) {
			bit = 0;
			goto put;
		}
	}
	if (value_to_integer(stmt, i, &v) == -1)
		return conversion_failed(err, "bit");
	bit = v != 0 || sqlite3_column_double(stmt, i) != 0;
put:
	buf_u8(b, 1);
	buf_u8(b, bit);
	return 0;
}

/*
 * Parses a decimal number ("-12.5", " 3 ") into sign and magnitude
 * scaled by 10^scale, rounding half away from zero. Returns 0, -1 when
 * the text is not a plain decimal, -2 when it has over 38 digits.
 */
int
decimal_parse(const char *s, int scale, int *negative,
    unsigned __int128 *magnitude)
{
	unsigned __int128 mag = 0, limit = 1;
	int digits = 0, frac = -1, k;

	for (k = 0; k < 38; k++)
		limit *= 10;
	while (isspace((unsigned char)*s))
		s++;
	*negative = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s) &&
	    !(*s == '.' && isdigit((unsigned char)s[1])))
		return -1;
	for (; *s; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (!isdigit((unsigned char)*s))
			break;
		if (frac >= 0 && frac == scale) {
			/* the first digit past the scale rounds */
			if (*s >= '5')
				mag++;
			frac++;
			continue;
		}
		if (frac > scale)
			continue;
		if (frac >= 0)
			frac++;
		mag = mag * 10 + (*s - '0');
		if (mag >= limit)
			return -2;
		digits++;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		return -1;
	for (k = frac < 0 ? 0 : frac > scale ? scale : frac; k < scale; k++) {
		mag *= 10;
		if (mag >= limit)
			return -2;
	}
	*magnitude = mag;
	if (mag == 0)
		*negative = 0;
	return 0;
}

/*
 * The shortest decimal that reads back as d, written out without an
 * exponent: what the value was written as before SQLite kept it as a
 * REAL, so 1.0005 rounds as the decimal 1.0005 would, not as the binary
 * 1.000499999... Returns -1 when d is not finite.
 */
int
decimal_from_double(double d, char *out, size_t size)
{
	char e[40], digits[24];
	int prec, exp, n = 0, k, o = 0;
	const char *p;

	if (!isfinite(d) || size < 48 || fabs(d) >= 1e38)
		return -1;
	if (fabs(d) < 1e-40) {
		snprintf(out, size, "0");
		return 0;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	snprintf(e, sizeof e, "%.*e", prec - 1, d);
	p = e;
	if (*p == '-')
		out[o++] = *p++;
	for (; *p && *p != 'e'; p++)
		if (isdigit((unsigned char)*p))
			digits[n++] = *p;
	exp = *p == 'e' ? atoi(p + 1) : 0;
	/* the value is d1.d2d3... times 10^exp */
	if (exp < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (k = -1; k > exp; k--)
			out[o++] = '0';
		for (k = 0; k < n; k++)
			out[o++] = digits[k];
	} else {
		for (k = 0; k <= exp; k++)
			out[o++] = k < n ? digits[k] : '0';
		if (n > exp + 1) {
			out[o++] = '.';
			for (k = exp + 1; k < n; k++)
				out[o++] = digits[k];
		}
	}
	out[o] = '\0';
	return 0;
}

/* Sign and magnitude scaled by 10^scale as text: "-0.30". */
void
decimal_format(int negative, unsigned __int128 mag, int scale, char *out,
    size_t size)
{
	char digits[48];
	int n = 0;
	size_t o = 0;

	do {
		digits[n++] = '0' + (int)(mag % 10);
		mag /= 10;
	} while (mag > 0 && n < 40);
	while (n <= scale && n < 47)
		digits[n++] = '0';
	if (negative && o + 1 < size)
		out[o++] = '-';
	while (n > 0 && o + 2 < size) {
		if (n == scale)
			out[o++] = '.';
		out[o++] = digits[--n];
	}
	out[o] = '\0';
}

/* Any SQLite value as sign and magnitude scaled by 10^scale. */
static int
value_to_decimal(sqlite3_stmt *stmt, int i, int scale, int *negative,
    unsigned __int128 *magnitude)
{
	const char *text_value;
	char text[512];
	double d;
	int rc;

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		snprintf(text, sizeof text, "%lld",
		    (long long)sqlite3_column_int64(stmt, i));
		return decimal_parse(text, scale, negative, magnitude);
	case SQLITE_FLOAT:
		d = sqlite3_column_double(stmt, i);
		break;
	case SQLITE_TEXT:
		text_value = (const char *)sqlite3_column_text(stmt, i);
		rc = decimal_parse(text_value, scale, negative, magnitude);
		if (rc != -1)
			return rc;
		/* 1.5e3 and the like */
		if (text_to_double(text_value, &d) < 0)
			return -1;
		break;
	default:
		return -1;
	}
	if (decimal_from_double(d, text, sizeof text) < 0)
		return -2;
	return decimal_parse(text, scale, negative, magnitude);
}

static int
put_decimal(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	unsigned __int128 mag, limit = 1;
	int negative, size, k, rc;

	rc = value_to_decimal(stmt, i, col->scale, &negative, &mag);
	if (rc == -1)
		return conversion_failed(err, "numeric");
	for (k = 0; k < col->precision; k++)
		limit *= 10;
	if (rc < 0 || mag >= limit)
		return overflow(err, "numeric");
	size = decimal_bytes(col->precision);
	buf_u8(b, size);
	buf_u8(b, negative ? 0 : 1);
	for (k = 0; k < size - 1; k++)
		buf_u8(b, (unsigned)(mag >> (8 * k)) & 0xff);
	return 0;
}

static int
put_money(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	const char *name = col->type == CT_MONEY ? "money" : "smallmoney";
	unsigned __int128 mag;
	int negative, rc;
	int64_t v;

	rc = value_to_decimal(stmt, i, 4, &negative, &mag);
	if (rc == -1)
		return conversion_failed(err, name);
	if (rc < 0 || mag > (col->type == CT_MONEY ?
	    (unsigned __int128)INT64_MAX : (unsigned __int128)INT32_MAX))
		return overflow(err, name);
	v = negative ? -(int64_t)mag : (int64_t)mag;
	if (col->type == CT_SMALLMONEY) {
		buf_u8(b, 4);
		buf_u32(b, (uint32_t)(int32_t)v);
		return 0;
	}
	buf_u8(b, 8);
	buf_u32(b, (uint32_t)((uint64_t)v >> 32));
	buf_u32(b, (uint32_t)v);
	return 0;
}

static int
put_float(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	uint64_t bits;
	uint32_t bits4;
	double d;
	float f;

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
	case SQLITE_FLOAT:
		d = sqlite3_column_double(stmt, i);
		break;
	case SQLITE_TEXT:
		if (text_to_double((const char *)sqlite3_column_text(stmt, i),
		    &d) == 0)
			break;
		/* fall through */
	default:
		return conversion_failed(err, col->type == CT_REAL ? "real" :
		    "float");
	}
	if (col->type == CT_REAL) {
		if (isfinite(d) && fabs(d) > 3.40282346638528859812e+38)
			return overflow(err, "real");
		f = (float)d;
		memcpy(&bits4, &f, sizeof bits4);
		buf_u8(b, 4);
		buf_u32(b, bits4);
		return 0;
	}
	memcpy(&bits, &d, sizeof bits);
	buf_u8(b, 8);
	buf_u64(b, bits);
	return 0;
}

/*
 * A DATETIMEOFFSET's trailing "+hh:mm", "-hh:mm" or "Z": its minutes,
 * and *len shortened to the date and time before it. No offset is UTC;
 * INT64_MIN when the offset is malformed.
 */
static int64_t
parse_offset(const char *s, size_t *len)
{
	size_t n = *len;
	int64_t minutes;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= 1 && s[n - 1] == 'Z') {
		*len = n - 1;
		return 0;
	}
	if (n < 6 || (s[n - 6] != '+' && s[n - 6] != '-') || s[n - 3] != ':')
		return 0;
	if (!isdigit((unsigned char)s[n - 5]) || !isdigit((unsigned char)s[n - 4]) ||
	    !isdigit((unsigned char)s[n - 2]) || !isdigit((unsigned char)s[n - 1]))
		return INT64_MIN;
	minutes = ((s[n - 5] - '0') * 10 + (s[n - 4] - '0')) * 60 +
	    (s[n - 2] - '0') * 10 + (s[n - 1] - '0');
	if (minutes > 14 * 60)
		return INT64_MIN;
	*len = n - 6;
	return s[n - 6] == '-' ? -minutes : minutes;
}

/* "6F9619FF-8B86-D011-B42D-00C04FC964FF", braces allowed, or 16 bytes */
static int
put_guid(struct buf *b, sqlite3_stmt *stmt, int i, struct sqlmsg *err)
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11,
	    12, 13, 14, 15 };
	const unsigned char *s;
	unsigned char g[16];
	size_t len, pos = 0, n = 0;
	int k, hi;

	if (sqlite3_column_type(stmt, i) == SQLITE_BLOB &&
	    sqlite3_column_bytes(stmt, i) == 16) {
		buf_u8(b, 16);
		buf_put(b, sqlite3_column_blob(stmt, i), 16);
		return 0;
	}
	s = sqlite3_column_text(stmt, i);
	len = (size_t)sqlite3_column_bytes(stmt, i);
	if (len == 38 && s[0] == '{' && s[37] == '}') {
		pos = 1;
		len = 37;
	}
	for (; pos < len && n < 32; pos++) {
		if (s[pos] == '-' && (n == 8 || n == 12 || n == 16 || n == 20))
			continue;
		if (!isxdigit(s[pos]))
			break;
		hi = isdigit(s[pos]) ? s[pos] - '0' : tolower(s[pos]) - 'a' + 10;
		g[n / 2] = n % 2 ? (unsigned char)(g[n / 2] | hi) :
		    (unsigned char)(hi << 4);
		n++;
	}
	if (n != 32 || pos != len) {
		sqlmsg_set(err, 8169, "Conversion failed when converting from "
		    "a character string to uniqueidentifier.");
		return -1;
	}
	/* the first three groups go little-endian */
	buf_u8(b, 16);
	for (k = 0; k < 16; k++)
		buf_u8(b, g[order[k]]);
	return 0;
}

static int
put_temporal(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	const char *text = (const char *)sqlite3_column_text(stmt, i);
	size_t len = (size_t)sqlite3_column_bytes(stmt, i);
	struct datetime dt;
	uint64_t units, div = 1, ticks;
	int64_t minutes = 0;
	int k, n;

	if (col->type == CT_DATETIMEOFFSET)
		minutes = parse_offset(text, &len);
	if (sqlite3_column_type(stmt, i) != SQLITE_TEXT || minutes == INT64_MIN ||
	    parse_datetime(text, len, &dt) < 0) {
		sqlmsg_set(err, 241, "Conversion failed when converting date "
		    "and/or time from character string.");
		return -1;
	}
	switch (col->type) {
	case CT_DATE:
		buf_u8(b, 3);
		for (k = 0; k < 3; k++)
			buf_u8(b, (unsigned)(dt.days >> (8 * k)) & 0xff);
		return 0;
	case CT_DATETIME:
		ticks = (dt.frac * 3 + 50000) / 100000;
		if (ticks >= TICKS_PER_DAY) {
			ticks -= TICKS_PER_DAY;
			dt.days++;
		}
		dt.days -= days_from_civil(1900, 1, 1) - day_zero();
		if (dt.days < -53690 || dt.days > 2958463) {
			sqlmsg_set(err, 242, "The conversion of a nvarchar data "
			    "type to a datetime data type resulted in an "
			    "out-of-range value.");
			return -1;
		}
		buf_u8(b, 8);
		buf_u32(b, (uint32_t)(int32_t)dt.days);
		buf_u32(b, (uint32_t)ticks);
		return 0;
	case CT_SMALLDATETIME:
		/* to the minute, 29.998 s and more rounding up */
		units = (dt.frac + 300000000u - 20000) / 600000000u;
		if (units >= 1440) {
			units -= 1440;
			dt.days++;
		}
		dt.days -= days_from_civil(1900, 1, 1) - day_zero();
		if (dt.days < 0 || dt.days > 65535) {
			sqlmsg_set(err, 242, "The conversion of a nvarchar data "
			    "type to a smalldatetime data type resulted in an "
			    "out-of-range value.");
			return -1;
		}
		buf_u8(b, 4);
		buf_u16(b, (unsigned)dt.days);
		buf_u16(b, (unsigned)units);
		return 0;
	default:
		for (k = col->scale; k < 7; k++)
			div *= 10;
		units = (dt.frac + div / 2) / div;
		if (col->type == CT_DATETIMEOFFSET) {
			/* sent as UTC and the offset */
			int64_t t = (int64_t)dt.frac - minutes * 600000000LL;

			dt.days += t < 0 ? -1 : t >= (int64_t)UNITS_PER_DAY;
			t = ((t % (int64_t)UNITS_PER_DAY) + (int64_t)UNITS_PER_DAY) %
			    (int64_t)UNITS_PER_DAY;
			dt.frac = (uint64_t)t;
		}
		units = (dt.frac + div / 2) / div;
		if (units >= UNITS_PER_DAY / div) {
			/* rounded up past midnight */
			units = col->type == CT_TIME ? UNITS_PER_DAY / div - 1 :
			    0;
			if (col->type != CT_TIME)
				dt.days++;
		}
		n = time_bytes(col->scale);
		buf_u8(b, n + (col->type == CT_DATETIME2 ? 3 : col->type ==
		    CT_DATETIMEOFFSET ? 5 : 0));
		for (k = 0; k < n; k++)
			buf_u8(b, (unsigned)(units >> (8 * k)) & 0xff);
		if (col->type != CT_TIME)
			for (k = 0; k < 3; k++)
				buf_u8(b, (unsigned)(dt.days >> (8 * k)) &
				    0xff);
		if (col->type == CT_DATETIMEOFFSET)
			buf_u16(b, (unsigned)(minutes & 0xffff));
		return 0;
	}
}

/* The text of any value, as CONVERT(nvarchar, value) would give it. */
static const char *
value_text(sqlite3_stmt *stmt, int i, char *scratch, size_t size,
    size_t *len)
{
	double d;

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		*len = (size_t)snprintf(scratch, size, "%lld",
		    (long long)sqlite3_column_int64(stmt, i));
		return scratch;
	case SQLITE_FLOAT:
		/* the shortest form that reads back the same */
		d = sqlite3_column_double(stmt, i);
		*len = (size_t)snprintf(scratch, size, "%.15g", d);
		if (strtod(scratch, NULL) != d)
			*len = (size_t)snprintf(scratch, size, "%.17g", d);
		return scratch;
	default:
		/* text, and a blob taken as UTF-8 */
		*len = (size_t)sqlite3_column_bytes(stmt, i);
		return (const char *)sqlite3_column_text(stmt, i);
	}
}

static void
patch_le(unsigned char *p, uint64_t v, int bytes)
{
	int k;

	for (k = 0; k < bytes; k++)
		p[k] = (v >> (8 * k)) & 0xff;
}

static int
put_nvarchar(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	char scratch[64];
	const char *text;
	size_t len, at = b->len, units;

	int wide = col->type == CT_NVARCHAR || col->type == CT_NCHAR ||
	    col->type == CT_NVARCHAR_MAX;
	int max = col->type == CT_NVARCHAR_MAX || col->type == CT_VARCHAR_MAX;

	text = value_text(stmt, i, scratch, sizeof scratch, &len);
	if (!max) {
		buf_u16(b, 0);
		units = wide ? buf_ucs2(b, text, len) : buf_cp1252(b, text, len);
		if (units > (size_t)col->size) {
			sqlmsg_set(err, 8152, "String or binary data would be "
			    "truncated: a value is longer than its column's "
			    "%d %s.", col->size, wide ? "characters" : "bytes");
			return -1;
		}
		/* CHAR and NCHAR are padded with spaces, as SQL Server keeps
		 * them */
		for (; (col->type == CT_CHAR || col->type == CT_NCHAR) &&
		    units < (size_t)col->size; units++)
			wide ? buf_u16(b, ' ') : buf_u8(b, ' ');
		patch_le(b->data + at, units * (wide ? 2 : 1), 2);
		return 0;
	}
	/* (N)VARCHAR(MAX): PLP, total length then one chunk then 0 */
	buf_u64(b, 0);
	buf_u32(b, 0);
	units = wide ? buf_ucs2(b, text, len) * 2 : buf_cp1252(b, text, len);
	if (units == 0) {
		b->len = at + 8;
	} else {
		patch_le(b->data + at, units, 8);
		patch_le(b->data + at + 8, units, 4);
	}
	buf_u32(b, 0);
	return 0;
}

static int
put_varbinary(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	const void *p = sqlite3_column_blob(stmt, i);
	size_t len = (size_t)sqlite3_column_bytes(stmt, i);

	if (col->type != CT_VARBINARY_MAX) {
		if (len > (size_t)col->size) {
			sqlmsg_set(err, 8152, "String or binary data would be "
			    "truncated: a value is longer than its column's "
			    "%d bytes.", col->size);
			return -1;
		}
		buf_u16(b, col->type == CT_BINARY ? (size_t)col->size : len);
		buf_put(b, p, len);
		/* BINARY(n) is padded with zeros */
		for (; col->type == CT_BINARY && len < (size_t)col->size; len++)
			buf_u8(b, 0);
		return 0;
	}
	buf_u64(b, len);
	if (len > 0) {
		buf_u32(b, (uint32_t)len);
		buf_put(b, p, len);
	}
	buf_u32(b, 0);
	return 0;
}

static void
put_null(struct buf *b, const struct column *col)
{
	switch (col->type) {
	case CT_NVARCHAR:
	case CT_NCHAR:
	case CT_VARCHAR:
	case CT_CHAR:
	case CT_VARBINARY:
	case CT_BINARY:
		buf_u16(b, 0xffff);
		break;
	case CT_NVARCHAR_MAX:
	case CT_VARCHAR_MAX:
	case CT_VARBINARY_MAX:
		buf_u64(b, UINT64_MAX);
		break;
	default:
		buf_u8(b, 0);
		break;
	}
}

/*
 * Appends column i of the current row in its column's type. A value
 * that does not fit (text in an INT column, a number too large, text
 * longer than declared) fails with the error SQL Server would give.
 */
int
put_value(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int i, struct sqlmsg *err)
{
	if (sqlite3_column_type(stmt, i) == SQLITE_NULL) {
		put_null(b, col);
		return 0;
	}
	switch (col->type) {
	case CT_INT1:
	case CT_INT2:
	case CT_INT4:
	case CT_INT8:
		return put_integer(b, col, stmt, i, err);
	case CT_BIT:
		return put_bit(b, stmt, i, err);
	case CT_DECIMAL:
		return put_decimal(b, col, stmt, i, err);
	case CT_MONEY:
	case CT_SMALLMONEY:
		return put_money(b, col, stmt, i, err);
	case CT_FLOAT:
	case CT_REAL:
		return put_float(b, col, stmt, i, err);
	case CT_DATE:
	case CT_DATETIME:
	case CT_SMALLDATETIME:
	case CT_DATETIME2:
	case CT_DATETIMEOFFSET:
	case CT_TIME:
		return put_temporal(b, col, stmt, i, err);
	case CT_GUID:
		return put_guid(b, stmt, i, err);
	case CT_NVARCHAR:
	case CT_NCHAR:
	case CT_NVARCHAR_MAX:
	case CT_VARCHAR:
	case CT_CHAR:
	case CT_VARCHAR_MAX:
		return put_nvarchar(b, col, stmt, i, err);
	default:
		return put_varbinary(b, col, stmt, i, err);
	}
}
