/* wordfile.c: reading a settings file of one "word value" a line */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "wordfile.h"

void
wordfile_open(struct wordfile *wf, const char *path)
{
	memset(wf, 0, sizeof *wf);
	wf->path = path;
	if ((wf->fp = fopen(path, "re")) == NULL)
		die(EX_NOINPUT, "%s:", path);
}

char *
wordfile_next(struct wordfile *wf)
{
	ssize_t got;

	while ((got = getline(&wf->line, &wf->cap, wf->fp)) != -1) {
		char *p = wf->line, *end = wf->line + got;

		wf->line_number++;
		/* A file saved on Windows ends its lines in CR LF. */
		while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		free(wf->where);
		wf->where = xasprintf("%s:%lu", wf->path, wf->line_number);
		return p;
	}
	if (ferror(wf->fp))
		die(EX_IOERR, "%s:", wf->path);
	return NULL;
}

void
wordfile_close(struct wordfile *wf)
{
	fclose(wf->fp);
	free(wf->line);
	free(wf->where);
	memset(wf, 0, sizeof *wf);
}

char *
wordfile_split(char *line)
{
	char *rest = line + strcspn(line, " \t");

	if (*rest != '\0')
		*rest++ = '\0';
	while (*rest == ' ' || *rest == '\t')
		rest++;
	return rest;
}
