/* csvio.h: streaming CSV reading (on libcsv) and pipe-dialect writing */
#ifndef SCHEDFEED_CSVIO_H
#define SCHEDFEED_CSVIO_H

#include <stdio.h>
#include <stddef.h>

/*
 * The largest record (and so cell) a reader takes unless told otherwise:
 * beyond it the input is refused (65, naming the row), so that memory
 * stays bounded whatever the input holds.
 */
#define CSV_MAX_RECORD	((size_t)16 << 20)

struct csv_row {
	size_t count;		/* fields in this record */
	char **field;		/* each NUL-terminated, writable in place;
				 * csv_read puts them back to back, each
				 * after the one before's NUL */
	size_t *len;		/* byte length of each field */
	unsigned long record;	/* 1-based record number, header included */
	unsigned long row;	/* data row number: record - 1 with a header */
	struct csv_chunk *chunk;	/* from csv_read_chunks: the piece of
					 * input the row is in; record and row
					 * then count from its start */
};

/* Return 0 to go on, or a non-zero exit status to stop reading. */
typedef int (*csv_row_fn)(struct csv_row *row, void *ctx);

struct csv_read_opts {
	unsigned char delim;	/* ',' when 0 */
	int has_header;		/* only for numbering rows in messages */
	int no_utf8_check;	/* skip the UTF-8 validation */
	size_t max_record;	/* bytes a record may hold, its fields and
				 * separators; 0: CSV_MAX_RECORD */
	/*
	 * When set, called with ctx before any message about the input, so
	 * that rows fn handed to another thread are dealt with (and their
	 * own messages said) first. A non-zero return is the status those
	 * rows stopped with: csv_read then returns it and says nothing.
	 */
	int (*before_message)(void *ctx);
};

/*
 * Parses the whole stream strictly (RFC 4180; spaces are data; a leading
 * UTF-8 BOM and CRLF line ends accepted), calling fn once per record.
 * Returns 0, the callback's non-zero status, or an exit status after a
 * message naming the line or the row and column (never the value):
 * EX_DATAERR for malformed CSV, invalid UTF-8 or a record over
 * max_record bytes, EX_IOERR for a read error.
 * name is what messages call the input ("stdin", a path).
 */
int csv_read(FILE *in, const char *name, const struct csv_read_opts *opts,
    csv_row_fn fn, void *ctx);

/*
 * The UTF-8 check csv_read makes (unless no_utf8_check) on a row it gave,
 * for a caller that makes it later, on another thread: 1 when every field
 * is valid, else 0 after the same message.
 */
int csv_row_utf8_ok(const struct csv_row *row, const char *name,
    int has_header);

/*
 * csv_read_chunks: the same strict reading, on several threads. The input
 * is cut into chunks at record ends (a newline after an even number of
 * quotes: strict CSV has a quote only at a field's edges or doubled inside
 * one), each chunk is parsed by its own libcsv parser on one of the
 * workers, and its output and messages are put back in input order.
 * Memory stays flat: a few chunks are in flight at a time.
 *
 * Chunks run one at a time, on the calling thread and with ctx, until
 * ready(ctx) says rows may be spread (for csv-shape, once the header is
 * planned); then fork(ctx) makes a context for each worker, and rows run
 * with those. A record longer than a few megabytes turns the rest of the
 * input back into one thread's work, with the first worker's context.
 */
struct csv_chunk;

struct csv_chunk_ops {
	csv_row_fn row;
	/* where rows write next; NULL after a chunk: put out what is held */
	void (*output)(void *ctx, FILE *fp);
	int (*ready)(void *ctx);
	void *(*fork)(void *ctx);
	void (*unfork)(void *worker_ctx);
};

struct csv_chunks_opts {
	struct csv_read_opts read;	/* before_message is not used */
	unsigned workers;	/* 1 keeps every row on one context, in
				 * order (a running count); 0 is 1 */
	unsigned long max_counted;	/* counted messages said; 0: all */
};

/*
 * How many workers a program gives csv_read_chunks: one per core, at most
 * four, or SCHEDFEED_THREADS when it is set to a number from 1 to 64 (1
 * for a run on one thread, to compare with).
 */
unsigned csv_workers(void);

/*
 * Returns as csv_read does. Each chunk's output goes to out in order;
 * *counted is set to the number of counted messages (see csv_row_warn).
 */
int csv_read_chunks(FILE *in, const char *name, FILE *out,
    const struct csv_chunks_opts *opts, const struct csv_chunk_ops *ops,
    void *ctx, unsigned long *counted);

/*
 * For a row from csv_read_chunks: a message said in input order as
 * "NAME: row N" (or "NAME: header") followed by fmt. A counted message is
 * an error that does not stop the input: only the first max_counted are
 * said, all are counted.
 */
void csv_row_warn(const struct csv_row *row, int counted, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

struct csv_writer {
	FILE *fp;
	unsigned char delim;
	int quote_all;
	int crlf;
	int hold;		/* rows wait for a full buffer or a flush */
	size_t fields_in_row;
	unsigned char special[256];	/* bytes that force quoting */
	size_t row_len;
	char row[4096];		/* gathered, not yet written to fp */
};

/*
 * Pipe dialect by default: comma, minimal quoting, LF. A row is gathered
 * in the writer and reaches fp whole at csv_write_end (a field too long
 * for the buffer goes straight after what is gathered), so write nothing
 * else to fp in the middle of a row.
 */
void csv_writer_init(struct csv_writer *w, FILE *fp);
void csv_writer_set_delim(struct csv_writer *w, unsigned char delim);
void csv_write_field(struct csv_writer *w, const char *s, size_t len);
void csv_write_str(struct csv_writer *w, const char *s);
/*
 * Whether the writer would quote a field made of bytes of alphabet (a NUL-
 * terminated set): any of them special, or every field quoted. When it
 * would not, fields known to be made of those bytes (tokens, digits) may
 * go through csv_write_plain, which writes them without looking.
 */
int csv_writer_quotes_any(const struct csv_writer *w, const char *alphabet);
void csv_write_plain(struct csv_writer *w, const char *s, size_t len);
void csv_write_end(struct csv_writer *w);
/*
 * With hold set, csv_write_end leaves whole rows gathered until the buffer
 * is full (one write for many rows); csv_writer_flush then hands fp what
 * is gathered, and must be called before fp is changed or closed.
 */
void csv_writer_flush(struct csv_writer *w);
/* Parses a delimiter argument: one byte, or "\t" / "tab". 0 when bad. */
unsigned char csv_parse_delim(const char *arg);

#endif
