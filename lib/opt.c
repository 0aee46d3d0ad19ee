/* opt.c: checking the values of command-line options */
#include <errno.h>
#include <stdlib.h>

#include "err.h"
#include "opt.h"

long
opt_number(const char *option, const char *arg, long min, long max)
{
	char *end;
	long v;

	/* strtol alone takes "", "12x" and " 12", and clamps on overflow. */
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		die(EX_USAGE, "%s: want a whole number from %ld to %ld",
		    option, min, max);
	return v;
}
