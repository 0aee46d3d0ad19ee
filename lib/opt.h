/* opt.h: checking the values of command-line options */
#ifndef SCHEDFEED_OPT_H
#define SCHEDFEED_OPT_H

/*
 * The whole number arg from min to max, for option (as the user wrote it,
 * "--retries"); anything else dies with EX_USAGE naming the option.
 */
long opt_number(const char *option, const char *arg, long min, long max);

#endif
