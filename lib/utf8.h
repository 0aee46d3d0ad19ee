/* utf8.h: UTF-8 validation */
#ifndef SCHEDFEED_UTF8_H
#define SCHEDFEED_UTF8_H

#include <stddef.h>

/* Returns 1 when s[0..len) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF), else 0. */
int utf8_valid(const unsigned char *s, size_t len);

#endif
