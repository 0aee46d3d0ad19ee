/* opt.h: checking the values of command-line options */
#ifndef SCHEDFEED_OPT_H
#define SCHEDFEED_OPT_H

/*
 * The whole number arg from min to max, for option (as the user wrote it,
 * "--retries"); anything else dies with EX_USAGE naming the option.
 */
long opt_number(const char *option, const char *arg, long min, long max);

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
