/* wordfile.h: reading a settings file of one "word value" a line */
#ifndef SCHEDFEED_WORDFILE_H
#define SCHEDFEED_WORDFILE_H

#include <stdio.h>

/*
 * csv-shape's profiles and phi-redact's policies: one setting a line,
 * blank lines and lines starting with # skipped, and every message
 * about a line naming it as "path:line".
 */
struct wordfile {
	FILE *fp;
	const char *path;
	char *line;
	size_t cap;
	unsigned long line_number;
	char *where;		/* "path:line" of the line last returned */
};

/* Opens path, or dies with EX_NOINPUT. */
void wordfile_open(struct wordfile *wf, const char *path);
/*
 * The next line that is neither blank nor a comment, without the blanks
 * and line end around it; NULL at the end of the file. A read error
 * dies with EX_IOERR. The line and wf->where last until the next call.
 */
char *wordfile_next(struct wordfile *wf);
void wordfile_close(struct wordfile *wf);

/*
 * Ends line's first word at the first blank; returns the rest without
 * its leading blanks, "" when the line is one word.
 */
char *wordfile_split(char *line);

#endif
