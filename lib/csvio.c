/* csvio.c: strict streaming CSV reader on libcsv, minimal-quoting writer */
#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "err.h"
#include "mem.h"
#include "utf8.h"

#define READ_CHUNK (256 * 1024)

struct reader {
	const struct csv_read_opts *opts;
	const char *name;
	csv_row_fn fn;
	void *ctx;
	int status;		/* first non-zero status, stops the parse */
	char *buf;		/* field bytes of the current record */
	size_t buf_used, buf_cap;
	size_t *offset;		/* start of each field in buf */
	size_t *len;
	char **field;
	size_t count, cap;
	struct csv_row row;
};

static int
space_is_data(unsigned char c)
{
	(void)c;
	return 0;
}

/* Zero when csv_read may say what is wrong with the input now. */
static int
settle(struct reader *r)
{
	if (r->opts->before_message == NULL)
		return 0;
	return r->opts->before_message(r->ctx);
}

static void
on_field(void *s, size_t len, void *data)
{
	struct reader *r = data;

	if (r->status != 0)
		return;
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->offset = xreallocarray(r->offset, r->cap, sizeof *r->offset);
		r->len = xreallocarray(r->len, r->cap, sizeof *r->len);
		r->field = xreallocarray(r->field, r->cap, sizeof *r->field);
	}
	if (r->buf_cap - r->buf_used < len + 1) {
		while (r->buf_cap - r->buf_used < len + 1)
			r->buf_cap = r->buf_cap ? r->buf_cap * 2 : 4096;
		r->buf = xrealloc(r->buf, r->buf_cap);
	}
	if (len > 0)
		memcpy(r->buf + r->buf_used, s, len);
	r->buf[r->buf_used + len] = '\0';
	r->offset[r->count] = r->buf_used;
	r->len[r->count] = len;
	r->buf_used += len + 1;
	r->count++;
}

/*
 * utf8_valid, faster on mostly ASCII text: ASCII is skipped eight bytes
 * at a time and utf8_valid judges each multibyte sequence alone.
 */
static int
text_utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t word;
		size_t need;

		if (i + 8 <= len) {
			memcpy(&word, s + i, sizeof word);
			if ((word & UINT64_C(0x8080808080808080)) == 0) {
				i += 8;
				continue;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		need = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
		if (need > len - i || !utf8_valid(s + i, need))
			return 0;
		i += need;
	}
	return 1;
}

/*
 * The fields sit back to back separated by NULs, which are ASCII, so the
 * whole record is valid UTF-8 exactly when every field is: check it at
 * once and look for the culprit only when it fails. Its index, or count.
 */
static size_t
bad_utf8_field(const struct csv_row *row)
{
	size_t last = row->count - 1, i;

	if (row->count == 0 || text_utf8_ok((const unsigned char *)
	    row->field[0], (size_t)(row->field[last] - row->field[0]) +
	    row->len[last]))
		return row->count;
	for (i = 0; i < row->count; i++)
		if (!utf8_valid((const unsigned char *)row->field[i],
		    row->len[i]))
			break;
	return i;
}

static void
say_bad_utf8(const struct csv_row *row, const char *name, int has_header,
    size_t column)
{
	if (has_header && row->record == 1)
		warn("%s: header, column %zu: invalid UTF-8", name, column + 1);
	else
		warn("%s: row %lu, column %zu: invalid UTF-8", name, row->row,
		    column + 1);
}

int
csv_row_utf8_ok(const struct csv_row *row, const char *name, int has_header)
{
	size_t bad = bad_utf8_field(row);

	if (bad == row->count)
		return 1;
	say_bad_utf8(row, name, has_header, bad);
	return 0;
}

static void
on_row(int terminator, void *data)
{
	struct reader *r = data;
	(void)terminator;

	if (r->status != 0)
		return;
	r->row.record++;
	r->row.row = r->opts->has_header ? r->row.record - 1 : r->row.record;
	for (size_t i = 0; i < r->count; i++)
		r->field[i] = r->buf + r->offset[i];
	r->row.count = r->count;
	r->row.field = r->field;
	r->row.len = r->len;
	if (!r->opts->no_utf8_check) {
		size_t bad = bad_utf8_field(&r->row);

		if (bad != r->count) {
			if ((r->status = settle(r)) == 0) {
				say_bad_utf8(&r->row, r->name,
				    r->opts->has_header, bad);
				r->status = EX_DATAERR;
			}
			return;
		}
	}
	r->status = r->fn(&r->row, r->ctx);
	r->count = 0;
	r->buf_used = 0;
}

static unsigned long
count_lines(const char *p, size_t len)
{
	unsigned long lines = 0;
	const char *end = p + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	return lines;
}

int
csv_read(FILE *in, const char *name, const struct csv_read_opts *opts,
    csv_row_fn fn, void *ctx)
{
	struct csv_parser parser;
	struct reader r = { .opts = opts, .name = name, .fn = fn, .ctx = ctx };
	char *chunk = xmalloc(READ_CHUNK);
	unsigned long lines_before = 0;
	int first = 1;
	size_t got;

	if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
		die(EX_OSERR, "cannot initialise the CSV parser");
	csv_set_space_func(&parser, space_is_data);
	if (opts->delim != 0)
		csv_set_delim(&parser, opts->delim);

	while (r.status == 0 && (got = fread(chunk, 1, READ_CHUNK, in)) > 0) {
		char *p = chunk;
		size_t len = got, used;

		if (first) {
			first = 0;
			if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
				p += 3;
				len -= 3;
			}
		}
		used = csv_parse(&parser, p, len, on_field, on_row, &r);
		if (r.status != 0)
			break;
		if (used != len) {
			if ((r.status = settle(&r)) != 0)
				break;
			warn("%s: line %lu: malformed CSV (%s)", name,
			    lines_before + count_lines(p, used) + 1,
			    csv_strerror(csv_error(&parser)));
			r.status = EX_DATAERR;
			break;
		}
		lines_before += count_lines(p, len);
	}
	if (r.status == 0 && ferror(in)) {
		int saved_errno = errno;

		if ((r.status = settle(&r)) == 0) {
			errno = saved_errno;
			warn("%s: read error:", name);
			r.status = EX_IOERR;
		}
	}
	if (r.status == 0) {
		/* The open field holds every line since its quote opened. */
		unsigned long open_lines = parser.entry_pos == 0 ? 0 :
		    count_lines((const char *)parser.entry_buf,
		    parser.entry_pos);

		if (csv_fini(&parser, on_field, on_row, &r) != 0 &&
		    r.status == 0 && (r.status = settle(&r)) == 0) {
			warn("%s: line %lu: malformed CSV (unterminated "
			    "quoted field)", name,
			    lines_before + 1 - open_lines);
			r.status = EX_DATAERR;
		}
	}
	csv_free(&parser);
	free(chunk);
	free(r.buf);
	free(r.offset);
	free(r.len);
	free(r.field);
	return r.status;
}

void
csv_writer_set_delim(struct csv_writer *w, unsigned char delim)
{
	w->special[w->delim] = 0;
	w->delim = delim;
	w->special[delim] = 1;
	w->special['"'] = 1;
	w->special['\n'] = 1;
	w->special['\r'] = 1;
}

void
csv_writer_init(struct csv_writer *w, FILE *fp)
{
	memset(w, 0, sizeof *w);
	w->fp = fp;
	w->delim = ',';
	csv_writer_set_delim(w, ',');
}

void
csv_write_field(struct csv_writer *w, const char *s, size_t len)
{
	FILE *fp = w->fp;
	int quote = w->quote_all;

	if (w->fields_in_row++ > 0)
		putc_unlocked(w->delim, fp);
	if (!quote)
		for (size_t i = 0; i < len; i++)
			if (w->special[(unsigned char)s[i]]) {
				quote = 1;
				break;
			}
	if (!quote) {
		/* Most fields are short: putc is a macro, fwrite a call. */
		if (len <= 32)
			for (size_t i = 0; i < len; i++)
				putc_unlocked(s[i], fp);
		else
			fwrite_unlocked(s, 1, len, fp);
		return;
	}
	putc_unlocked('"', fp);
	for (;;) {
		const char *q = memchr(s, '"', len);
		size_t part = q != NULL ? (size_t)(q - s) + 1 : len;

		fwrite_unlocked(s, 1, part, fp);
		if (q == NULL)
			break;
		putc_unlocked('"', fp);
		s += part;
		len -= part;
	}
	putc_unlocked('"', fp);
}

void
csv_write_str(struct csv_writer *w, const char *s)
{
	csv_write_field(w, s, strlen(s));
}

void
csv_write_end(struct csv_writer *w)
{
	if (w->crlf)
		putc_unlocked('\r', w->fp);
	putc_unlocked('\n', w->fp);
	w->fields_in_row = 0;
}

unsigned char
csv_parse_delim(const char *arg)
{
	if (strcmp(arg, "\\t") == 0 || strcmp(arg, "tab") == 0 ||
	    strcmp(arg, "\t") == 0)
		return '\t';
	if (strlen(arg) != 1 || arg[0] == '"' || arg[0] == '\n' ||
	    arg[0] == '\r')
		return 0;
	return (unsigned char)arg[0];
}
