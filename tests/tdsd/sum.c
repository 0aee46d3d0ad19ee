/* sum.c: SUM and AVG in exact decimal. SQLite keeps a DECIMAL column's
 * values as REAL, and its own sum() adds them in binary (0.10 + 0.20 is
 * 0.30000000000000004); SQL Server adds decimals exactly. These replace
 * sum() and avg() on each connection: each REAL is taken as the shortest
 * decimal that reads back as it (what was written), and the result is
 * marked with a subtype that types its column DECIMAL(38, s). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdsd.h"

#define MAX_SCALE 18

typedef __int128 i128;

struct acc {
	sqlite3_int64 count;	/* non-NULL values */
	int decimal;		/* a REAL or decimal text came: not integers */
	int inexact;		/* beyond 38 digits or scale 18: added as double */
	int scale;
	i128 sum;		/* scaled by 10^scale */
	double fsum;		/* the same, in binary, for inexact */
	int int_overflow;
};

static i128
pow10_128(int n)
{
	i128 p = 1;

	while (n-- > 0)
		p *= 10;
	return p;
}

static int
too_big(i128 v)
{
	static const i128 limit = (i128)1000000000000000000LL *
	    (i128)1000000000000000000LL * 100;	/* 10^38 */

	return v >= limit || v <= -limit;
}

/* "-12.345" as a scaled integer; -1 when it is no plain decimal */
static int
parse_plain(const char *s, i128 *v, int *scale)
{
	int neg = 0, frac = -1, digits = 0;
	i128 x = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -1;
		if (++digits > 38 || (frac >= 0 && ++frac > MAX_SCALE))
			return -1;
		x = x * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	*v = neg ? -x : x;
	*scale = frac < 0 ? 0 : frac;
	return 0;
}

/* Is |v| * 10^shift past 38 digits? */
static int
too_big_scaled(i128 v, int shift)
{
	i128 limit = pow10_128(38 - shift);

	return v >= limit || v <= -limit;
}

static void
add_scaled(struct acc *a, i128 v, int scale, int sign)
{
	if (scale > a->scale) {
		if (too_big_scaled(a->sum, scale - a->scale)) {
			a->inexact = 1;
			return;
		}
		a->sum *= pow10_128(scale - a->scale);
		a->scale = scale;
	} else {
		if (too_big_scaled(v, a->scale - scale)) {
			a->inexact = 1;
			return;
		}
		v *= pow10_128(a->scale - scale);
	}
	a->sum += sign * v;
	if (too_big(a->sum))
		a->inexact = 1;
}

static void
step(struct acc *a, sqlite3_value *value, int sign)
{
	char text[512];
	const char *s = text;
	i128 v;
	int scale, type = sqlite3_value_numeric_type(value);

	if (type == SQLITE_NULL)
		return;
	a->count += sign;
	a->fsum += sign * sqlite3_value_double(value);
	if (type == SQLITE_INTEGER) {
		add_scaled(a, sqlite3_value_int64(value), 0, sign);
		return;
	}
	a->decimal = 1;
	if (type == SQLITE_FLOAT && sqlite3_value_type(value) == SQLITE_TEXT)
		s = (const char *)sqlite3_value_text(value);
	else if (type != SQLITE_FLOAT ||
	    decimal_from_double(sqlite3_value_double(value), text,
	    sizeof text) < 0)
		s = "";
	if (parse_plain(s, &v, &scale) < 0)
		a->inexact = 1;
	else
		add_scaled(a, v, scale, sign);
}

/* SQLite's aggregate context is 8-byte aligned; an __int128 wants 16 */
static struct acc *
acc_of(sqlite3_context *ctx, int create)
{
	unsigned char *p = sqlite3_aggregate_context(ctx, create ?
	    (int)sizeof(struct acc) + 16 : 0);

	return p ? (struct acc *)(((uintptr_t)p + 15) & ~(uintptr_t)15) : NULL;
}

static void
sum_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct acc *a = acc_of(ctx, 1);

	(void)argc;
	if (a)
		step(a, argv[0], 1);
}

static void
sum_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct acc *a = acc_of(ctx, 1);

	(void)argc;
	if (a)
		step(a, argv[0], -1);
}

/* The exact result: REAL when 15 digits hold it (it then reads back as
 * the same decimal), text beyond; the subtype tells its scale. */
static void
result_decimal(sqlite3_context *ctx, i128 v, int scale)
{
	char text[80];

	decimal_format(v < 0, v < 0 ? -(unsigned __int128)v :
	    (unsigned __int128)v, scale, text, sizeof text);
	if (strlen(text) <= 16)
		sqlite3_result_double(ctx, strtod(text, NULL));
	else
		sqlite3_result_text(ctx, text, -1, SQLITE_TRANSIENT);
	sqlite3_result_subtype(ctx, DECIMAL_SUBTYPE | (unsigned)scale);
}

static void
sum_value(sqlite3_context *ctx)
{
	struct acc *a = acc_of(ctx, 0);

	if (a == NULL || a->count == 0) {
		sqlite3_result_null(ctx);
	} else if (a->inexact) {
		sqlite3_result_double(ctx, a->fsum);
	} else if (!a->decimal) {
		if (a->sum > INT64_MAX || a->sum < INT64_MIN)
			sqlite3_result_error(ctx, "integer overflow", -1);
		else
			sqlite3_result_int64(ctx, (sqlite3_int64)a->sum);
	} else {
		result_decimal(ctx, a->sum, a->scale);
	}
}

/* AVG of decimals: SQL Server's scale, at least 6, rounded half away
 * from zero. Of integers: REAL, as SQLite's avg(). */
static void
avg_value(sqlite3_context *ctx)
{
	struct acc *a = acc_of(ctx, 0);
	int scale;
	i128 v, q;

	if (a == NULL || a->count == 0) {
		sqlite3_result_null(ctx);
		return;
	}
	if (a->inexact || !a->decimal) {
		sqlite3_result_double(ctx, a->fsum / (double)a->count);
		return;
	}
	scale = a->scale < 6 ? 6 : a->scale;
	v = a->sum;
	if (too_big_scaled(v, scale - a->scale)) {
		sqlite3_result_double(ctx, a->fsum / (double)a->count);
		return;
	}
	v *= pow10_128(scale - a->scale);
	q = v / a->count;
	if ((v % a->count) * 2 >= a->count)
		q++;
	else if ((v % a->count) * 2 <= -a->count)
		q--;
	result_decimal(ctx, q, scale);
}

void
register_sum(sqlite3 *db)
{
	sqlite3_create_window_function(db, "sum", 1,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sum_step, sum_value,
	    sum_value, sum_inverse, NULL);
	sqlite3_create_window_function(db, "avg", 1,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sum_step, avg_value,
	    avg_value, sum_inverse, NULL);
}
