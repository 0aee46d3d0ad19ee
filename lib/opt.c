/* opt.c: checking the values of command-line options */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
opt_size_parse(const char *arg, size_t min, size_t max, size_t *out)
{
	unsigned long long v, unit = 1;
	const char *units = "KMG", *u;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (end != arg && *end != '\0' && end[1] == '\0' &&
	    (u = strchr(units, *end)) != NULL) {
		unit = 1ULL << (10 * (u - units + 1));
		end++;
	}
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > max / unit || v * unit < min)
		return -1;
	*out = (size_t)(v * unit);
	return 0;
}

size_t
opt_size(const char *option, const char *arg, size_t min, size_t max)
{
	size_t v;

	if (opt_size_parse(arg, min, max, &v) != 0)
		die(EX_USAGE, "%s: want a size from %zu to %zu bytes "
		    "(K, M or G may follow)", option, min, max);
	return v;
}

/*
 * "--name=value" or "--name": what is wrong, named by at most 60
 * characters of the name. getopt's optopt cannot tell (options whose
 * val is 0 leave it 0), so the table is read again.
 */
static void
long_problem(const char *word, const struct option *longopts)
{
	size_t len = strcspn(word + 2, "=");
	int shown = len > 60 ? 60 : (int)len, matches = 0;
	const struct option *o, *match = NULL;
	char names[512] = "";

	for (o = longopts; o != NULL && o->name != NULL; o++) {
		size_t used = strlen(names);

		if (strncmp(o->name, word + 2, len) != 0)
			continue;
		if (strlen(o->name) == len) {
			match = o;
			matches = 1;
			break;
		}
		match = o;
		matches++;
		snprintf(names + used, sizeof names - used, "%s--%s",
		    used > 0 ? ", " : "", o->name);
	}
	if (matches > 1)
		warn("--%.*s: ambiguous option (%s)", shown, word + 2, names);
	else if (match == NULL)
		warn("--%.*s: unknown option", shown, word + 2);
	else
		warn("--%.*s: %s", shown, word + 2, word[2 + len] == '=' ?
		    "takes no value" : "needs a value");
}

int
opt_next(int argc, char *const argv[], const char *optstring,
    const struct option *longopts, int *longindex)
{
	/* The word being read; '+' in optstring: no permutation. */
	const char *word = optind > 0 && optind < argc ? argv[optind] : NULL;
	const char *known;
	int ch;

	opterr = 0;
	ch = getopt_long(argc, argv, optstring, longopts, longindex);
	if (ch != '?')
		return ch;
	if (word != NULL && strncmp(word, "--", 2) == 0)
		long_problem(word, longopts);
	else if (optopt > 0 && optopt < 256 && optopt != ':' &&
	    (known = strchr(optstring, optopt)) != NULL && known[1] == ':')
		warn("-%c: needs a value", optopt);
	else if (optopt > 0x20 && optopt < 0x7f)
		warn("-%c: unknown option", optopt);
	else
		warn("unknown option");
	return ch;
}
