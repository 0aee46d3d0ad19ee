/* csvio.c: strict streaming CSV reader on libcsv, minimal-quoting writer */
#include <csv.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvio.h"
#include "err.h"
#include "mem.h"
#include "utf8.h"

#define READ_CHUNK (256 * 1024)
/*
 * libcsv grows its field buffer by this much at a time, 128 bytes unless
 * told: a field of megabytes was then thousands of reallocs, each a copy
 * where realloc cannot grow in place (under AddressSanitizer, minutes).
 */
#define FIELD_STEP (64 * 1024)
#define FIELD_SLACK 17		/* on_field's sixteen-byte copy and a NUL */

struct reader {
	const struct csv_read_opts *opts;
	const char *name;
	csv_row_fn fn;
	void *ctx;
	int status;		/* first non-zero status, stops the parse */
	int utf8_ok;		/* the input parsed now is known valid */
	size_t max_record;	/* opts->max_record, or the default */
	char *buf;		/* field bytes of the current record */
	size_t buf_used, buf_cap;
	size_t *len;
	char **field;		/* into buf */
	const struct csv_parser *parser;	/* whose fields these are */
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

static size_t
max_record(const struct csv_read_opts *opts)
{
	return opts->max_record != 0 ? opts->max_record : CSV_MAX_RECORD;
}

/*
 * The record being read holds more than the limit: said, naming it (the
 * one after the last record handed out), and the parse stops.
 */
static void
record_too_long(struct reader *r)
{
	struct csv_row at = r->row;
	char why[96];

	at.record++;
	at.row = r->opts->has_header ? at.record - 1 : at.record;
	snprintf(why, sizeof why, "a record longer than %zu bytes, the limit "
	    "(--max-record raises it)", r->max_record);
	if (at.chunk != NULL)
		csv_row_warn(&at, 0, ": %s", why);
	else if ((r->status = settle(r)) != 0)
		return;
	else if (r->opts->has_header && at.record == 1)
		warn("%s: header: %s", r->name, why);
	else
		warn("%s: row %lu: %s", r->name, at.row, why);
	r->status = EX_DATAERR;
}

/* Whether the record being read, with the field libcsv holds, is over. */
static int
record_over(struct reader *r, const struct csv_parser *parser)
{
	return parser->entry_pos > r->max_record ||
	    r->buf_used > r->max_record - parser->entry_pos;
}

/* Room in r for one more field of len bytes and the slack on_field uses. */
static void __attribute__((noinline))
reader_grow(struct reader *r, size_t len)
{
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->len = xreallocarray(r->len, r->cap, sizeof *r->len);
		r->field = xreallocarray(r->field, r->cap, sizeof *r->field);
	}
	if (r->buf_cap - r->buf_used < len + FIELD_SLACK) {
		char *old = r->buf;

		while (r->buf_cap - r->buf_used < len + FIELD_SLACK)
			r->buf_cap = r->buf_cap ? r->buf_cap * 2 : 4096;
		r->buf = xrealloc(r->buf, r->buf_cap);
		/* the fields so far moved with it */
		for (size_t i = 0; i < r->count; i++)
			r->field[i] = r->buf + (r->field[i] - old);
	}
}

/*
 * libcsv's field, copied after the record's earlier ones and ended with a
 * NUL. A short field is copied as sixteen bytes, one move: libcsv's field
 * buffer holds at least that many, and FIELD_SLACK leaves room here.
 */
static void
on_field(void *s, size_t len, void *data)
{
	struct reader *r = data;
	char *to;

	if (r->status != 0)
		return;
	/* buf_used counts a NUL per field, as the separators were */
	if (__builtin_expect(r->buf_used >= r->max_record ||
	    len >= r->max_record - r->buf_used, 0)) {
		record_too_long(r);
		return;
	}
	if (__builtin_expect(r->count == r->cap ||
	    r->buf_cap - r->buf_used < len + FIELD_SLACK, 0))
		reader_grow(r, len);
	to = r->buf + r->buf_used;
	if (len <= 16 && r->parser->entry_size >= 16)
		memcpy(to, s, 16);
	else if (len > 0)
		memcpy(to, s, len);
	to[len] = '\0';
	r->field[r->count] = to;
	r->len[r->count++] = len;
	r->buf_used += len + 1;
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
		uint64_t word, w[4];
		size_t need;

		if (i + 32 <= len) {
			/* rows are mostly ASCII: 32 bytes a step */
			memcpy(w, s + i, sizeof w);
			if (((w[0] | w[1] | w[2] | w[3]) &
			    UINT64_C(0x8080808080808080)) == 0) {
				i += 32;
				continue;
			}
		}
		if (i + 8 <= len) {
			uint64_t high;

			memcpy(&word, s + i, sizeof word);
			high = word & UINT64_C(0x8080808080808080);
			if (high == 0) {
				i += 8;
				continue;
			}
			/* straight to the first byte that is not ASCII */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			i += (size_t)__builtin_clzll(high) / 8;
#else
			i += (size_t)__builtin_ctzll(high) / 8;
#endif
		} else if (s[i] < 0x80) {
			i++;
			continue;
		}
		/* two bytes, the usual accented letter: judged here */
		if (s[i] >= 0xC2 && s[i] <= 0xDF && i + 1 < len &&
		    (s[i + 1] & 0xC0) == 0x80) {
			i += 2;
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
	r->row.count = r->count;
	r->row.field = r->field;
	r->row.len = r->len;
	if (!r->opts->no_utf8_check && !r->utf8_ok) {
		size_t bad = bad_utf8_field(&r->row);

		if (bad != r->count && r->row.chunk != NULL) {
			csv_row_warn(&r->row, 0, ", column %zu: invalid UTF-8",
			    bad + 1);
			r->status = EX_DATAERR;
			return;
		}
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

/*
 * How many bytes of s are b: thirty-two at a time (GCC's vector types;
 * with AVX2 where the processor has it, else two SSE2 halves), each byte
 * lane counting up to 255 before it is added up.
 */
typedef unsigned char bytes16 __attribute__((vector_size(16)));
typedef unsigned char bytes32 __attribute__((vector_size(32)));

__attribute__((target_clones("avx2", "default")))
static size_t
count_byte(const char *s, size_t len, unsigned char b)
{
	bytes32 want;
	size_t n = 0, i = 0;

	memset(&want, b, sizeof want);
	while (len - i >= sizeof(bytes32)) {
		bytes32 lanes = { 0 };

		for (int k = 0; k < 255 && len - i >= sizeof(bytes32);
		    k++, i += sizeof(bytes32)) {
			bytes32 v;

			memcpy(&v, s + i, sizeof v);
			lanes -= (bytes32)(v == want);	/* true is -1 */
		}
		for (size_t j = 0; j < sizeof(bytes32); j++)
			n += lanes[j];
	}
	for (; i < len; i++)
		n += (unsigned char)s[i] == b;
	return n;
}

static unsigned long
count_lines(const char *p, size_t len)
{
	return count_byte(p, len, '\n');
}

int
csv_read(FILE *in, const char *name, const struct csv_read_opts *opts,
    csv_row_fn fn, void *ctx)
{
	struct csv_parser parser;
	struct reader r = { .opts = opts, .name = name, .fn = fn, .ctx = ctx,
	    .max_record = max_record(opts) };
	char *chunk = xmalloc(READ_CHUNK);
	unsigned long lines_before = 0;
	int first = 1;
	size_t got;

	if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
		die(EX_OSERR, "cannot initialise the CSV parser");
	csv_set_space_func(&parser, space_is_data);
	csv_set_blk_size(&parser, FIELD_STEP);
	if (opts->delim != 0)
		csv_set_delim(&parser, opts->delim);
	r.parser = &parser;

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
		if (r.status == 0 && record_over(&r, &parser))
			record_too_long(&r);
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
	free(r.len);
	free(r.field);
	return r.status;
}

/*
 * csv_read_chunks. A chunk is about CHUNK_BYTES of input ending at a record
 * end; a record longer than CHUNK_MAX makes the rest of the input one
 * thread's stream. Each worker has two chunks in flight, and one more is
 * being filled.
 */
#define CHUNK_BYTES (256 * 1024)
#define CHUNK_MAX (8 * 1024 * 1024)
#define SLOTS_PER_WORKER 2

enum msg_kind { MSG_ROW, MSG_LINE };

struct chunk_msg {
	enum msg_kind kind;
	int counted;
	long long n;		/* record or line, from the chunk's start */
	char *text;
};

struct csv_chunk {
	char *in;
	size_t len, cap;
	int last;		/* the input ends here: finish the parser */
	int stream;		/* may end inside a record; the next chunk
				 * goes on with the same parser */
	int busy;		/* handed out, not yet said */
	int done;		/* parsed and run */
	void *ctx;
	char *out;		/* what its rows wrote; kept for the next */
	size_t out_len, out_cap;
	struct chunk_msg *msg;
	size_t msg_count, msg_cap;
	unsigned long records, lines;
	int status;
};

struct chunks;

struct chunk_worker {
	struct chunks *p;
	pthread_t thread;
	struct csv_parser parser;
	struct reader r;
	void *ctx;
	FILE *fp;		/* writes into the chunk being run */
	struct csv_chunk *target;
};

struct chunks {
	const struct csv_chunks_opts *opts;
	const struct csv_chunk_ops *ops;
	const char *name;
	FILE *out;
	void *ctx;
	struct csv_chunk *slot;
	size_t slot_count;
	struct chunk_worker main, *worker;
	unsigned worker_count;
	int started;		/* the workers run */
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct csv_chunk **queue;
	unsigned long queued, taken;
	int quit;
	unsigned long records, lines, counted;	/* said so far */
};

/* The worker's stream: appends to the output of the chunk it runs. */
static ssize_t
chunk_write(void *cookie, const char *buf, size_t len)
{
	struct csv_chunk *c = ((struct chunk_worker *)cookie)->target;

	if (c->out_cap - c->out_len < len) {
		while (c->out_cap - c->out_len < len)
			c->out_cap = c->out_cap ? 2 * c->out_cap : 64 * 1024;
		c->out = xrealloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return (ssize_t)len;
}

static void
chunk_worker_init(struct chunks *p, struct chunk_worker *w, void *ctx)
{
	static const cookie_io_functions_t io = { .write = chunk_write };

	if ((w->fp = fopencookie(w, "w", io)) == NULL)
		die(EX_OSERR, "fopencookie:");
	setvbuf(w->fp, NULL, _IOFBF, 64 * 1024);
	w->p = p;
	w->ctx = ctx;
	if (csv_init(&w->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
		die(EX_OSERR, "cannot initialise the CSV parser");
	csv_set_space_func(&w->parser, space_is_data);
	csv_set_blk_size(&w->parser, FIELD_STEP);
	if (p->opts->read.delim != 0)
		csv_set_delim(&w->parser, p->opts->read.delim);
	w->r.opts = &p->opts->read;
	w->r.max_record = max_record(&p->opts->read);
	w->r.parser = &w->parser;
	w->r.name = p->name;
	w->r.fn = p->ops->row;
}

static void
chunk_worker_free(struct chunk_worker *w)
{
	fclose(w->fp);
	csv_free(&w->parser);
	free(w->r.buf);
	free(w->r.len);
	free(w->r.field);
}

static void
chunk_say(struct csv_chunk *c, enum msg_kind kind, int counted, long long n,
    const char *fmt, va_list ap)
{
	struct chunk_msg *m;

	if (c->msg_count == c->msg_cap) {
		c->msg_cap = c->msg_cap ? c->msg_cap * 2 : 16;
		c->msg = xreallocarray(c->msg, c->msg_cap, sizeof *c->msg);
	}
	m = &c->msg[c->msg_count++];
	m->kind = kind;
	m->counted = counted;
	m->n = n;
	if (vasprintf(&m->text, fmt, ap) < 0)
		die(EX_OSERR, "out of memory");
}

static void
chunk_say_line(struct csv_chunk *c, long long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	chunk_say(c, MSG_LINE, 0, line, fmt, ap);
	va_end(ap);
}

void
csv_row_warn(const struct csv_row *row, int counted, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	chunk_say(row->chunk, MSG_ROW, counted, (long long)row->record, fmt,
	    ap);
	va_end(ap);
}

/* Parses one chunk and runs its rows, output into memory. */
static void
chunk_run(struct chunk_worker *w, struct csv_chunk *c)
{
	struct reader *r = &w->r;
	size_t used;

	w->target = c;
	c->out_len = 0;
	w->p->ops->output(c->ctx, w->fp);
	r->ctx = c->ctx;
	r->row.chunk = c;
	r->row.record = 0;
	r->status = 0;
	/*
	 * Structure is ASCII and quotes are only dropped, never joined
	 * across, so the fields are valid UTF-8 exactly when the raw bytes
	 * are: one fast pass, and rows are checked one by one (to name the
	 * culprit) only in a chunk that fails it. Not in a stream, where a
	 * record may have begun in an earlier chunk.
	 */
	r->utf8_ok = !r->opts->no_utf8_check && !c->stream &&
	    text_utf8_ok((const unsigned char *)c->in, c->len);
	used = csv_parse(&w->parser, c->in, c->len, on_field, on_row, r);
	c->lines = count_lines(c->in, c->len);
	if (r->status == 0 && record_over(r, &w->parser))
		record_too_long(r);
	if (r->status == 0 && used != c->len) {
		chunk_say_line(c, (long long)count_lines(c->in, used) + 1,
		    ": malformed CSV (%s)", csv_strerror(csv_error(&w->parser)));
		r->status = EX_DATAERR;
	} else if (r->status == 0 && c->last) {
		/* The open field holds every line since its quote opened. */
		unsigned long open_lines = w->parser.entry_pos == 0 ? 0 :
		    count_lines((const char *)w->parser.entry_buf,
		    w->parser.entry_pos);

		if (csv_fini(&w->parser, on_field, on_row, r) != 0 &&
		    r->status == 0) {
			chunk_say_line(c, (long long)c->lines + 1 -
			    (long long)open_lines, ": malformed CSV "
			    "(unterminated quoted field)");
			r->status = EX_DATAERR;
		}
	} else if (r->status == 0 && !c->stream && w->parser.pstate != 0) {
		/* Not a record end after all: only malformed CSV can do that. */
		chunk_say_line(c, (long long)c->lines + 1,
		    ": malformed CSV (a quote out of place)");
		r->status = EX_DATAERR;
	}
	c->records = r->row.record;
	c->status = r->status;
	w->p->ops->output(c->ctx, NULL);
	fflush_unlocked(w->fp);
	if (!c->stream) {
		r->count = 0;
		r->buf_used = 0;
	}
}

/* Writes a run chunk's output and says its messages; its status. */
static int
chunk_emit(struct chunks *p, struct csv_chunk *c)
{
	int has_header = p->opts->read.has_header;
	unsigned long max = p->opts->max_counted;

	if (c->out_len > 0)
		fwrite_unlocked(c->out, 1, c->out_len, p->out);
	c->out_len = 0;
	for (size_t i = 0; i < c->msg_count; i++) {
		struct chunk_msg *m = &c->msg[i];
		long long at = m->n;

		if (m->counted)
			p->counted++;
		if (!m->counted || max == 0 || p->counted <= max) {
			if (m->kind == MSG_LINE)
				warn("%s: line %lld%s", p->name,
				    (long long)p->lines + at, m->text);
			else if (has_header && p->records + at == 1)
				warn("%s: header%s", p->name, m->text);
			else
				warn("%s: row %lld%s", p->name,
				    (long long)p->records + at - has_header,
				    m->text);
		}
		free(m->text);
	}
	c->msg_count = 0;
	p->records += c->records;
	p->lines += c->lines;
	c->busy = c->done = 0;
	return c->status;
}

static void *
chunk_worker_main(void *arg)
{
	struct chunk_worker *w = arg;
	struct chunks *p = w->p;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct csv_chunk *c;

		while (!p->quit && p->taken == p->queued)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->taken == p->queued)
			break;
		c = p->queue[p->taken++ % p->slot_count];
		pthread_mutex_unlock(&p->lock);
		c->ctx = w->ctx;
		chunk_run(w, c);
		pthread_mutex_lock(&p->lock);
		c->done = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Waits until a handed-out chunk has been run. */
static void
chunk_wait(struct chunks *p, struct csv_chunk *c)
{
	pthread_mutex_lock(&p->lock);
	while (!c->done)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Settles every chunk still handed out, oldest first (the one after slot
 * seq's), and returns status, or the first a chunk stopped with. After a
 * stop the rest are waited for and said by no one.
 */
static int
chunks_drain(struct chunks *p, unsigned long seq, int status)
{
	for (size_t k = 1; k <= p->slot_count; k++) {
		struct csv_chunk *c = &p->slot[(seq + k) % p->slot_count];

		if (!c->busy)
			continue;
		chunk_wait(p, c);
		if (status == 0) {
			status = chunk_emit(p, c);
			continue;
		}
		for (size_t i = 0; i < c->msg_count; i++)
			free(c->msg[i].text);
		c->msg_count = 0;
		c->busy = c->done = 0;
	}
	return status;
}

static void
chunks_start(struct chunks *p)
{
	p->worker = xcalloc(p->worker_count, sizeof *p->worker);
	for (unsigned i = 0; i < p->worker_count; i++) {
		chunk_worker_init(p, &p->worker[i], p->ops->fork(p->ctx));
		if ((errno = pthread_create(&p->worker[i].thread, NULL,
		    chunk_worker_main, &p->worker[i])) != 0)
			die(EX_OSERR, "pthread_create:");
	}
	p->started = 1;
}

static void
chunks_stop(struct chunks *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->worker_count; i++) {
		pthread_join(p->worker[i].thread, NULL);
		p->ops->unfork(p->worker[i].ctx);
		chunk_worker_free(&p->worker[i]);
	}
	free(p->worker);
}

/*
 * Where the last whole record in buf ends: just after a newline that has
 * an even number of quotes before it in buf, which starts at a record's
 * start. 0 when there is none.
 */
static size_t
record_end(const char *buf, size_t len)
{
	size_t quotes = count_byte(buf, len, '"');
	const char *end = buf + len, *p = end;

	/*
	 * Back a byte at a time, not with memrchr: the newline is usually a
	 * row back, and under AddressSanitizer each memrchr checks all of
	 * buf, which a field of many lines made quadratic.
	 */
	while (p > buf) {
		if (*--p != '\n')
			continue;
		quotes -= count_byte(p, (size_t)(end - p), '"');
		if (quotes % 2 == 0)
			return (size_t)(p - buf) + 1;
		end = p;
	}
	return 0;
}

/* Reads into c until it holds want bytes or the input ends. */
static void
chunk_fill(struct csv_chunk *c, FILE *in, size_t want)
{
	if (c->cap < want) {
		c->cap = want;
		c->in = xrealloc(c->in, c->cap);
	}
	while (c->len < want) {
		size_t got = fread(c->in + c->len, 1, want - c->len, in);

		if (got == 0)
			break;
		c->len += got;
	}
}

unsigned
csv_workers(void)
{
	const char *env = getenv("SCHEDFEED_THREADS");
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (env != NULL && *env != '\0') {
		char *end;
		long n = strtol(env, &end, 10);

		if (*end == '\0' && n >= 1 && n <= 64)
			return (unsigned)n;
		warn("SCHEDFEED_THREADS=%s is not a number from 1 to 64; "
		    "ignored", env);
	}
	return cores < 1 ? 1 : cores > 4 ? 4 : (unsigned)cores;
}

int
csv_read_chunks(FILE *in, const char *name, FILE *out,
    const struct csv_chunks_opts *opts, const struct csv_chunk_ops *ops,
    void *ctx, unsigned long *counted)
{
	struct chunks p = { .opts = opts, .ops = ops, .name = name,
	    .out = out, .ctx = ctx };
	const char *carry = NULL;
	size_t carry_len = 0;
	int status = 0, first = 1, stream = 0, read_errno = 0;
	unsigned long seq;

	p.worker_count = opts->workers > 0 ? opts->workers : 1;
	p.slot_count = SLOTS_PER_WORKER * p.worker_count + 1;
	p.slot = xcalloc(p.slot_count, sizeof *p.slot);
	p.queue = xcalloc(p.slot_count, sizeof *p.queue);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	chunk_worker_init(&p, &p.main, ctx);

	for (seq = 0; status == 0; seq++) {
		struct csv_chunk *c = &p.slot[seq % p.slot_count];
		size_t end, want = CHUNK_BYTES;

		if (c->busy) {
			chunk_wait(&p, c);
			if ((status = chunk_emit(&p, c)) != 0)
				break;
		}
		if (carry_len >= want)
			want = 2 * carry_len;
		if (c->cap < want) {
			c->cap = want;
			c->in = xrealloc(c->in, c->cap);
		}
		if (carry_len > 0)
			memcpy(c->in, carry, carry_len);
		c->len = carry_len;
		c->last = 0;
		for (;;) {
			chunk_fill(c, in, want);
			if (first) {
				first = 0;
				if (c->len >= 3 &&
				    memcmp(c->in, "\xEF\xBB\xBF", 3) == 0) {
					memmove(c->in, c->in + 3, c->len - 3);
					c->len -= 3;
					continue;
				}
			}
			if (c->len < want) {
				if (ferror(in))
					read_errno = errno;
				c->last = 1;
				end = c->len;
				break;
			}
			if (!stream && (end = record_end(c->in, c->len)) > 0)
				break;
			if (stream || c->len >= CHUNK_MAX) {
				stream = 1;
				end = c->len;
				break;
			}
			want *= 2;
		}
		if (read_errno != 0)
			break;
		carry = c->in + end;
		carry_len = c->len - end;
		c->len = end;
		c->stream = stream;
		if (!stream && !p.started && ops->ready(ctx))
			chunks_start(&p);
		if (p.started && !stream) {
			pthread_mutex_lock(&p.lock);
			c->busy = 1;
			c->done = 0;
			p.queue[p.queued++ % p.slot_count] = c;
			pthread_cond_signal(&p.work);
			pthread_mutex_unlock(&p.lock);
		} else {
			/* One thread from here: what is in flight goes first. */
			if ((status = chunks_drain(&p, seq, 0)) != 0)
				break;
			c->ctx = p.started ? p.worker[0].ctx : ctx;
			chunk_run(&p.main, c);
			status = chunk_emit(&p, c);
		}
		if (c->last)
			break;
	}
	status = chunks_drain(&p, seq, status);
	if (status == 0 && read_errno != 0) {
		errno = read_errno;
		warn("%s: read error:", name);
		status = EX_IOERR;
	}
	chunks_stop(&p);
	chunk_worker_free(&p.main);
	for (size_t i = 0; i < p.slot_count; i++) {
		free(p.slot[i].in);
		free(p.slot[i].out);
		free(p.slot[i].msg);
	}
	free(p.slot);
	free(p.queue);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.work);
	pthread_cond_destroy(&p.done);
	*counted = p.counted;
	return status;
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

static inline bytes16
splat(unsigned char b)
{
	return (bytes16){ b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b };
}

/* Whether any of the sixteen bytes in v forces quoting. */
static inline int
any_special(bytes16 v, bytes16 delim)
{
	bytes16 hit = (bytes16)((v == delim) | (v == splat('"')) |
	    (v == splat('\n')) | (v == splat('\r')));
	uint64_t half[2];

	memcpy(half, &hit, sizeof half);
	return (half[0] | half[1]) != 0;
}

/*
 * How many bytes at the start of s need no quoting: sixteen at a time
 * while sixteen are left, then eight (in a zeroed vector: NUL is never
 * special), then one by one against the table.
 */
static size_t
plain_len(const struct csv_writer *w, const char *s, size_t len)
{
	const bytes16 delim = splat(w->delim);
	size_t i = 0;
	bytes16 v;

	for (; len - i >= 16; i += 16) {
		memcpy(&v, s + i, 16);
		if (any_special(v, delim))
			break;
	}
	if (len - i >= 8) {
		v = (bytes16){ 0 };
		memcpy(&v, s + i, 8);
		if (!any_special(v, delim))
			i += 8;
	}
	while (i < len && !w->special[(unsigned char)s[i]])
		i++;
	return i;
}

/* Writes the row gathered so far to fp. */
static void
row_flush(struct csv_writer *w)
{
	if (w->row_len > 0)
		fwrite_unlocked(w->row, 1, w->row_len, w->fp);
	w->row_len = 0;
}

/* A field too long for the row buffer: straight to fp, after the row. */
static void
write_field_direct(struct csv_writer *w, const char *s, size_t len)
{
	FILE *fp = w->fp;

	row_flush(w);
	if (w->fields_in_row++ > 0)
		putc_unlocked(w->delim, fp);
	if (!w->quote_all && plain_len(w, s, len) == len) {
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
csv_write_field(struct csv_writer *w, const char *s, size_t len)
{
	char *o;

	/* room for a delimiter, two quotes, every byte doubled, a CRLF */
	if (len > (sizeof w->row - 5) / 2) {
		write_field_direct(w, s, len);
		return;
	}
	if (!w->quote_all && plain_len(w, s, len) == len) {
		/* nothing to quote, which is most fields */
		csv_write_plain(w, s, len);
		return;
	}
	if (sizeof w->row - w->row_len < 2 * len + 5)
		row_flush(w);
	o = w->row + w->row_len;
	if (w->fields_in_row++ > 0)
		*o++ = (char)w->delim;
	*o++ = '"';
	for (;;) {
		const char *q = memchr(s, '"', len);
		size_t part = q != NULL ? (size_t)(q - s) + 1 : len;

		memcpy(o, s, part);
		o += part;
		if (q == NULL)
			break;
		*o++ = '"';
		s += part;
		len -= part;
	}
	*o++ = '"';
	w->row_len = (size_t)(o - w->row);
}

int
csv_writer_quotes_any(const struct csv_writer *w, const char *alphabet)
{
	if (w->quote_all)
		return 1;
	for (const char *a = alphabet; *a != '\0'; a++)
		if (w->special[(unsigned char)*a])
			return 1;
	return 0;
}

void
csv_write_plain(struct csv_writer *w, const char *s, size_t len)
{
	char *o;

	if (len > (sizeof w->row - 5) / 2) {
		write_field_direct(w, s, len);
		return;
	}
	if (sizeof w->row - w->row_len < len + 3)
		row_flush(w);
	o = w->row + w->row_len;
	if (w->fields_in_row++ > 0)
		*o++ = (char)w->delim;
	memcpy(o, s, len);
	w->row_len = (size_t)(o + len - w->row);
}

void
csv_write_str(struct csv_writer *w, const char *s)
{
	csv_write_field(w, s, strlen(s));
}

void
csv_write_end(struct csv_writer *w)
{
	if (sizeof w->row - w->row_len < 2)
		row_flush(w);
	if (w->crlf)
		w->row[w->row_len++] = '\r';
	w->row[w->row_len++] = '\n';
	if (!w->hold)
		row_flush(w);
	w->fields_in_row = 0;
}

void
csv_writer_flush(struct csv_writer *w)
{
	row_flush(w);
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
