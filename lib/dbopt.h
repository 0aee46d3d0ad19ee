/* dbopt.h: the connection options every database program takes */
#ifndef SCHEDFEED_DBOPT_H
#define SCHEDFEED_DBOPT_H

#include <getopt.h>

#include "db.h"

/* For getopt_long's option string, after the program's own '+'. */
#define DBOPT_SHORT "S:p:D:U:P:"

enum {
	DBOPT_LOGIN_TIMEOUT = 0x400,
	DBOPT_TIMEOUT,
	DBOPT_ENCRYPT,
	DBOPT_CA_FILE,
	DBOPT_VERBOSE,
	DBOPT_PASSWORD,
	DBOPT_DRIVER
};

/* The rows of a program's struct option table for the options above. */
#define DBOPT_LONG \
	{ "server", required_argument, NULL, 'S' }, \
	{ "port", required_argument, NULL, 'p' }, \
	{ "database", required_argument, NULL, 'D' }, \
	{ "user", required_argument, NULL, 'U' }, \
	{ "login-timeout", required_argument, NULL, DBOPT_LOGIN_TIMEOUT }, \
	{ "timeout", required_argument, NULL, DBOPT_TIMEOUT }, \
	{ "encrypt", required_argument, NULL, DBOPT_ENCRYPT }, \
	{ "ca-file", required_argument, NULL, DBOPT_CA_FILE }, \
	{ "verbose", no_argument, NULL, DBOPT_VERBOSE }, \
	{ "password", required_argument, NULL, DBOPT_PASSWORD }, \
	{ "driver", required_argument, NULL, DBOPT_DRIVER }

/* The synopsis of those options, for usage(). */
#define DBOPT_USAGE \
	"[--driver tds|mysql] [-S server] [-p port] [-D database] [-U user]\n" \
	"       [--login-timeout seconds] [--timeout seconds]\n" \
	"       [--encrypt off|request|require] [--ca-file file] [--verbose]"

/*
 * Applies getopt_long's answer c with its argument to the settings:
 * 1 when c was a connection option, 0 when it is the program's own.
 * A bad value dies with EX_USAGE; -P and --password are refused.
 */
int dbopt_apply(struct db_settings *s, int c, const char *arg);

#endif
