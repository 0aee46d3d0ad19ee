/* opt.h: checking the values of command-line options */
#ifndef SCHEDFEED_OPT_H
#define SCHEDFEED_OPT_H

#include <stddef.h>

/*
 * The whole number arg from min to max, for option (as the user wrote it,
 * "--retries"); anything else dies with EX_USAGE naming the option.
 */
long opt_number(const char *option, const char *arg, long min, long max);
/*
 * A size in bytes, with an optional K, M or G (powers of 1024): "64M".
 * From min to max, else dies with EX_USAGE naming the option.
 */
size_t opt_size(const char *option, const char *arg, size_t min,
    size_t max);
/* The same, without dying: 0, or -1 when arg is not such a size. */
int opt_size_parse(const char *arg, size_t min, size_t max, size_t *out);
/* The bounds every --max-record takes. */
#define OPT_RECORD_MIN	((size_t)1024)
#define OPT_RECORD_MAX	((size_t)1 << 32)

struct option;
/*
 * getopt_long, except that a mistyped, unknown or ambiguous option is
 * reported here by its name alone: getopt's own message echoes the
 * whole word, "--ke=SECRET" with its value. Returns '?' after the
 * message, for the program's usage().
 */
int opt_next(int argc, char *const argv[], const char *optstring,
    const struct option *longopts, int *longindex);

#endif
