/* dbopt.c: the connection options every database program takes */
#include <limits.h>

#include "dbopt.h"
#include "err.h"
#include "opt.h"
#include "secret.h"

int
dbopt_apply(struct db_settings *s, int c, const char *arg)
{
	switch (c) {
	case 'S':
		s->server = arg;
		return 1;
	case 'p':
		s->port = (int)opt_number("-p", arg, 1, 65535);
		return 1;
	case 'D':
		s->database = arg;
		return 1;
	case 'U':
		s->user = arg;
		return 1;
	case DBOPT_LOGIN_TIMEOUT:
		s->login_timeout = (int)opt_number("--login-timeout", arg, 1,
		    3600);
		return 1;
	case DBOPT_TIMEOUT:
		s->query_timeout = (int)opt_number("--timeout", arg, 0,
		    INT_MAX);
		return 1;
	case DBOPT_ENCRYPT:
		if (!db_encrypt_valid(arg))
			die(EX_USAGE, "--encrypt: want off, request or require");
		s->encrypt = arg;
		return 1;
	case DBOPT_CA_FILE:
		s->ca_file = arg;
		return 1;
	case DBOPT_DRIVER:
		if (!db_driver_valid(arg))
			die(EX_USAGE, "--driver: want tds or mysql");
		s->driver = arg;
		return 1;
	case DBOPT_VERBOSE:
		s->verbose = 1;
		return 1;
	case 'P':
		secret_refuse_option("-P", "SCHEDFEED_DB_PASSWORD");
	case DBOPT_PASSWORD:
		secret_refuse_option("--password", "SCHEDFEED_DB_PASSWORD");
	}
	return 0;
}
