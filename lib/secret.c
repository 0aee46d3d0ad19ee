/* secret.c: secrets from the environment or from a file (Docker secrets) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "mem.h"
#include "secret.h"

#define SECRET_MAX (1024 * 1024)

static char *
read_secret_file(const char *var, const char *path)
{
	FILE *fp = fopen(path, "re");
	char *buf;
	size_t len;

	if (fp == NULL)
		die(EX_CONFIG, "%s: cannot read the secret file named by %s:",
		    path, var);
	buf = xmalloc(SECRET_MAX + 1);
	len = fread(buf, 1, SECRET_MAX + 1, fp);
	if (ferror(fp))
		die(EX_CONFIG, "%s: cannot read the secret file named by %s:",
		    path, var);
	fclose(fp);
	if (len > SECRET_MAX)
		die(EX_CONFIG, "%s: secret file named by %s is too large",
		    path, var);
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0)
		die(EX_CONFIG, "%s: secret file named by %s is empty", path,
		    var);
	return buf;
}

char *
secret_get(const char *name)
{
	char *file_var = xasprintf("%s_FILE", name);
	const char *value = getenv(name), *path = getenv(file_var);
	char *secret = NULL;

	if (value != NULL && *value != '\0' && path != NULL && *path != '\0')
		die(EX_CONFIG, "both %s and %s are set; set one", name,
		    file_var);
	if (path != NULL && *path != '\0')
		secret = read_secret_file(file_var, path);
	else if (value != NULL && *value != '\0')
		secret = xstrdup(value);
	free(file_var);
	return secret;
}

char *
secret_require(const char *name)
{
	char *secret = secret_get(name);

	if (secret == NULL)
		die(EX_CONFIG, "no secret: set %s or %s_FILE", name, name);
	return secret;
}

void
secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

void
secret_refuse_option(const char *option, const char *name)
{
	die(EX_USAGE, "%s: secrets are not accepted on the command line; "
	    "set %s or %s_FILE", option, name, name);
}
