/* date.c: parsing the date layouts of our feeds, day arithmetic */
#include "date.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads between min and max digits at s[*pos]; -1 when there are fewer. */
static int
read_number(const char *s, size_t len, size_t *pos, int min, int max,
    int *width)
{
	int value = 0, count = 0;

	while (*pos < len && count < max && is_digit(s[*pos])) {
		value = value * 10 + (s[*pos] - '0');
		(*pos)++;
		count++;
	}
	if (count < min)
		return -1;
	if (width != NULL)
		*width = count;
	return value;
}

static int
expect(const char *s, size_t len, size_t *pos, char c)
{
	if (*pos < len && s[*pos] == c) {
		(*pos)++;
		return 1;
	}
	return 0;
}

/* The zone after a time: Z, +HH, +HH:MM or +HHMM ('-' too). */
static int
parse_zone(const char *s, size_t len, size_t *pos)
{
	int hours, minutes;

	if (expect(s, len, pos, 'Z'))
		return 0;
	if (!expect(s, len, pos, '+') && !expect(s, len, pos, '-'))
		return 0;
	if ((hours = read_number(s, len, pos, 2, 2, NULL)) < 0 || hours > 23)
		return -1;
	expect(s, len, pos, ':');
	if (*pos == len)
		return 0;
	if ((minutes = read_number(s, len, pos, 2, 2, NULL)) < 0 ||
	    minutes > 59)
		return -1;
	return 0;
}

/* The time part after the date, separator included. */
static int
parse_time(const char *s, size_t len, size_t pos, int iso)
{
	int hour, minute, second, hour_width;

	if (pos == len)
		return 0;
	if (!expect(s, len, &pos, ' ') && !(iso && expect(s, len, &pos, 'T')))
		return -1;
	if ((hour = read_number(s, len, &pos, 1, 2, &hour_width)) < 0 ||
	    !expect(s, len, &pos, ':') ||
	    (minute = read_number(s, len, &pos, 2, 2, NULL)) < 0 ||
	    minute > 59)
		return -1;
	if (expect(s, len, &pos, ':')) {
		if ((second = read_number(s, len, &pos, 2, 2, NULL)) < 0 ||
		    second > 60)
			return -1;
		if (expect(s, len, &pos, '.') &&
		    read_number(s, len, &pos, 1, 9, NULL) < 0)
			return -1;
	}
	expect(s, len, &pos, ' ');
	if (pos + 2 <= len && (s[pos + 1] == 'M' || s[pos + 1] == 'm') &&
	    (s[pos] == 'A' || s[pos] == 'a' || s[pos] == 'P' ||
	    s[pos] == 'p')) {
		if (hour < 1 || hour > 12)
			return -1;
		pos += 2;
	} else if (hour > 23 || (iso && hour_width != 2))
		return -1;
	if (parse_zone(s, len, &pos) < 0)
		return -1;
	return pos == len ? 0 : -1;
}

int
date_parse(const char *s, size_t len, struct date_text *dt)
{
	size_t pos = 0;
	int month_width, day_width;

	if (len >= 10 && s[4] == '-') {
		dt->layout = DATE_ISO;
		dt->us_pad = 0;
		if ((dt->year = read_number(s, len, &pos, 4, 4, NULL)) < 0 ||
		    !expect(s, len, &pos, '-') ||
		    (dt->month = read_number(s, len, &pos, 2, 2, NULL)) < 0 ||
		    !expect(s, len, &pos, '-') ||
		    (dt->day = read_number(s, len, &pos, 2, 2, NULL)) < 0)
			return -1;
	} else {
		dt->layout = DATE_US;
		if ((dt->month = read_number(s, len, &pos, 1, 2,
		    &month_width)) < 0 || !expect(s, len, &pos, '/') ||
		    (dt->day = read_number(s, len, &pos, 1, 2,
		    &day_width)) < 0 || !expect(s, len, &pos, '/') ||
		    (dt->year = read_number(s, len, &pos, 4, 4, NULL)) < 0)
			return -1;
		/* Padded unless a one-digit month or day was written bare. */
		dt->us_pad = !((month_width == 1) || (day_width == 1));
	}
	if (!date_valid(dt->year, dt->month, dt->day))
		return -1;
	dt->date_len = pos;
	return parse_time(s, len, pos, dt->layout == DATE_ISO);
}

int
date_valid(int year, int month, int day)
{
	static const int month_days[] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap, last;

	if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
		return 0;
	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	last = month_days[month - 1] + (month == 2 && leap);
	return day <= last;
}

/* Counts through 400-year eras of 146097 days, the year starting in March
 * so that the leap day falls last. */
long
date_to_days(int year, int month, int day)
{
	long y = year - (month <= 2);
	long era = (y >= 0 ? y : y - 399) / 400;
	long year_of_era = y - era * 400;
	long day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 +
	    day - 1;
	long day_of_era = year_of_era * 365 + year_of_era / 4 -
	    year_of_era / 100 + day_of_year;

	return era * 146097 + day_of_era - 719468;
}

void
date_from_days(long days, int *year, int *month, int *day)
{
	long z = days + 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long day_of_era = z - era * 146097;
	long year_of_era = (day_of_era - day_of_era / 1460 +
	    day_of_era / 36524 - day_of_era / 146096) / 365;
	long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 -
	    year_of_era / 100);
	long month_index = (5 * day_of_year + 2) / 153;	/* March is 0 */

	*day = (int)(day_of_year - (153 * month_index + 2) / 5 + 1);
	*month = (int)(month_index < 10 ? month_index + 3 : month_index - 9);
	*year = (int)(year_of_era + era * 400 + (*month <= 2));
}

int
date_age(int birth_year, int birth_month, int birth_day, int on_year,
    int on_month, int on_day)
{
	int age = on_year - birth_year;

	/* Not yet had this year's birthday (29 February counts from 1 March). */
	if (on_month < birth_month ||
	    (on_month == birth_month && on_day < birth_day))
		age--;
	return age;
}

/* Writes value with at least width digits; returns the digits written. */
static size_t
put_number(char *buf, int value, int width)
{
	char tmp[8];
	size_t len = 0, i;

	/* a date's fields, the common case: no loop */
	if (width == 2 && value >= 0 && value < 100) {
		buf[0] = (char)('0' + value / 10);
		buf[1] = (char)('0' + value % 10);
		return 2;
	}
	if (width == 4 && value >= 0 && value < 10000) {
		buf[0] = (char)('0' + value / 1000);
		buf[1] = (char)('0' + value / 100 % 10);
		buf[2] = (char)('0' + value / 10 % 10);
		buf[3] = (char)('0' + value % 10);
		return 4;
	}
	do {
		tmp[len++] = (char)('0' + value % 10);
		value /= 10;
	} while (value > 0 || len < (size_t)width);
	for (i = 0; i < len; i++)
		buf[i] = tmp[len - 1 - i];
	return len;
}

size_t
date_format(const struct date_text *dt, int year, int month, int day,
    char *buf)
{
	int pad = dt->layout == DATE_ISO || dt->us_pad ? 2 : 1;
	size_t len = 0;

	if (year < 1 || year > 9999)
		return 0;
	if (dt->layout == DATE_ISO) {
		len += put_number(buf + len, year, 4);
		buf[len++] = '-';
		len += put_number(buf + len, month, 2);
		buf[len++] = '-';
		len += put_number(buf + len, day, 2);
	} else {
		len += put_number(buf + len, month, pad);
		buf[len++] = '/';
		len += put_number(buf + len, day, pad);
		buf[len++] = '/';
		len += put_number(buf + len, year, 4);
	}
	buf[len] = '\0';
	return len;
}

size_t
date_format_year(int year, char *buf)
{
	size_t len;

	if (year < 1 || year > 9999)
		return 0;
	len = put_number(buf, year, 4);
	buf[len] = '\0';
	return len;
}
