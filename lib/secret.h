/* secret.h: passwords and keys from NAME or NAME_FILE, never argv */
#ifndef SCHEDFEED_SECRET_H
#define SCHEDFEED_SECRET_H

#include <stddef.h>

/*
 * Returns the secret from the environment variable NAME, or from the file
 * named by NAME_FILE (one trailing newline removed), or NULL when neither
 * is set. Both set, an unreadable or empty file: dies with EX_CONFIG.
 * The caller frees it with secret_free().
 */
char *secret_get(const char *name);
/* Like secret_get but dies with EX_CONFIG when it is not set. */
char *secret_require(const char *name);
/* Zeroes and frees. */
void secret_free(char *secret);
/* For an option that would carry a secret: refuses it (EX_USAGE). */
_Noreturn void secret_refuse_option(const char *option, const char *name);

#endif
