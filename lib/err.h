/* err.h: the one way schedfeed programs report errors */
#ifndef SCHEDFEED_ERR_H
#define SCHEDFEED_ERR_H

#include <sysexits.h>

extern const char *progname;

void setprogname(const char *argv0);
/* A format ending in ':' gets ": strerror(errno)" appended. */
_Noreturn void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Flush and close stdout; a full disk or closed pipe is EX_IOERR. */
void finish_stdout(void);
/* Keep the worst (highest non-zero) of two exit statuses. */
int worst_status(int a, int b);

#endif
