/* fname.h: names from a remote listing, which are never paths */
#ifndef SCHEDFEED_FNAME_H
#define SCHEDFEED_FNAME_H

#include <stddef.h>

/*
 * NULL when the len bytes of name are a plain file name to create in a
 * local directory; else why not: empty, ".", "..", a '/', a NUL or a
 * control character (below 0x20, or 0x7f). A server's listing is input
 * like any other: a name is never joined to a path unchecked.
 */
const char *fname_refusal(const char *name, size_t len);
/* name for a message: '\\', bytes below 0x20 and 0x7f as \xHH. */
char *fname_quote(const char *name, size_t len);

#endif
