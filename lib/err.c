/* err.c: die() and warn(), prefixed with the program name */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *progname = "schedfeed";

void
setprogname(const char *argv0)
{
	const char *slash;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	slash = strrchr(argv0, '/');
	progname = slash != NULL ? slash + 1 : argv0;
}

static void
vreport(const char *fmt, va_list ap)
{
	int saved_errno = errno;
	size_t len = strlen(fmt);

	/* One line, whole, even when threads report at once. */
	flockfile(stderr);
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (len > 0 && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved_errno));
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	exit(status);
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

void
finish_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fclose(stdout);
		die(EX_IOERR, "write error on standard output:");
	}
	if (fclose(stdout) != 0)
		die(EX_IOERR, "write error on standard output:");
}

int
worst_status(int a, int b)
{
	return a > b ? a : b;
}
