/* date.h: calendar dates as our feeds write them, and day arithmetic */
#ifndef SCHEDFEED_DATE_H
#define SCHEDFEED_DATE_H

#include <stddef.h>

/* Room for the date part written by date_format, NUL included. */
#define DATE_TEXT_MAX 16

enum date_layout {
	DATE_ISO,	/* 2020-05-07 */
	DATE_US		/* 05/07/2020 or 5/7/2020 */
};

struct date_text {
	int year, month, day;
	enum date_layout layout;
	int us_pad;		/* DATE_US: month and day zero-padded */
	size_t date_len;	/* the date part is s[0..date_len) */
	/* s[date_len..len) is the time part, empty for a plain date */
};

/*
 * Parses s[0..len) as a date or a date-time:
 *   YYYY-MM-DD  or  M/D/YYYY (MM/DD/YYYY)
 * alone, or followed by 'T' or ' ' (ISO) or ' ' (US) and a time
 *   H:MM[:SS[.fraction]][ ][AM|PM][Z|+HH|+HH:MM|+HHMM] ('-' for '+' too)
 * The day must exist (2021-02-29 does not); years run 0001 to 9999.
 * Returns 0, or -1 when s is not such a date.
 */
int date_parse(const char *s, size_t len, struct date_text *dt);
/* Days since 1970-01-01 in the proleptic Gregorian calendar, and back. */
long date_to_days(int year, int month, int day);
void date_from_days(long days, int *year, int *month, int *day);
/* 1 when year-month-day names a real day, else 0. */
int date_valid(int year, int month, int day);
/* Whole years from birth to on (negative when on comes first). */
int date_age(int birth_year, int birth_month, int birth_day, int on_year,
    int on_month, int on_day);
/*
 * Writes year-month-day in dt's layout into buf (DATE_TEXT_MAX bytes) and
 * returns its length, or 0 when the year is outside 1..9999.
 */
size_t date_format(const struct date_text *dt, int year, int month, int day,
    char *buf);
/* Writes the year as YYYY (DATE_TEXT_MAX bytes); 0 outside 1..9999. */
size_t date_format_year(int year, char *buf);

#endif
