/* fname.c: names from a remote listing, which are never paths */
#include <stdio.h>
#include <string.h>

#include "fname.h"
#include "mem.h"

const char *
fname_refusal(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return "an empty name";
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return "a directory's name, not a file's";
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '/')
			return "a path, not a file name ('/')";
		if (ch == '\0')
			return "a NUL inside the name";
		if (ch < 0x20 || ch == 0x7f)
			return "a control character inside the name";
	}
	return NULL;
}

char *
fname_quote(const char *name, size_t len)
{
	char *out = xmalloc(4 * len + 1), *p = out;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			p += sprintf(p, "\\x%02x", ch);
		else
			*p++ = (char)ch;
	}
	*p = '\0';
	return out;
}
