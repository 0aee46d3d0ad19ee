/*
 * csv_read_chunks as csv-shape drives it: one worker or two, rows spread
 * once the header has been seen, each worker writing its own output; the
 * first byte picks the options as in csv_read.c.
 */
#include <stdio.h>
#include <string.h>

#include "csvio.h"
#include "fuzz.h"

static const unsigned char delims[] = { ',', ';', '\t', '|' };

struct sink {
	FILE *fp;
	int header_seen;
	size_t fields;
};

static int
on_row(struct csv_row *row, void *ctx)
{
	struct sink *s = ctx;

	if (row->count > 0 && row->len[0] > 0 && row->field[0][0] == '!')
		csv_row_warn(row, 1, ": a counted complaint");
	s->header_seen = 1;
	s->fields += row->count;
	if (s->fp != NULL && row->count > 0)
		fwrite(row->field[0], 1, row->len[0], s->fp);
	return 0;
}

static void
output(void *ctx, FILE *fp)
{
	((struct sink *)ctx)->fp = fp;
}

static int
ready(void *ctx)
{
	return ((struct sink *)ctx)->header_seen;
}

static struct sink workers[2];
static int next_worker;

static void *
fork_ctx(void *ctx)
{
	struct sink *w = &workers[next_worker++ % 2];

	*w = *(struct sink *)ctx;
	return w;
}

static void
unfork(void *worker_ctx)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct csv_chunk_ops ops = {
		.row = on_row, .output = output, .ready = ready,
		.fork = fork_ctx, .unfork = unfork
	};
	struct csv_chunks_opts opts = { 0 };
	struct sink s = { 0 };
	unsigned long counted = 0;
	FILE *in, *out;

	if (size < 1)
		return 0;
	opts.read.delim = delims[data[0] & 3];
	opts.read.has_header = (data[0] >> 2) & 1;
	opts.read.max_record = (data[0] >> 4) & 1 ? 1024 : 0;
	opts.workers = (data[0] >> 5) & 1 ? 2 : 1;
	opts.max_counted = (data[0] >> 6) & 1 ? 3 : 0;
	next_worker = 0;
	in = fmemopen((void *)(data + 1), size - 1, "r");
	out = fopen("/dev/null", "w");
	if (in == NULL || out == NULL)
		return 0;
	if (size == 1)
		fgetc(in);
	FUZZ_TRY(csv_read_chunks(in, "fuzz", out, &opts, &ops, &s, &counted));
	fclose(in);
	fclose(out);
	return 0;
}
