/* relay.c: a bounded queue of row batches between two threads (phi-redact;
 * csv-shape spreads whole chunks instead, with csv_read_chunks) */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "relay.h"

/* Four batches of about 256 KiB: the memory in flight never grows. Larger
 * ones were no faster. The prefetch distance: a few rows ahead. */
#define BATCH_COUNT 4
#define BATCH_BYTES (256 * 1024)
#define PREFETCH_AHEAD 512
#define BATCH_ROWS 4096

struct batch {
	char *bytes;		/* every field, each NUL-terminated */
	size_t bytes_used, bytes_cap;
	size_t prefetched;	/* bytes asked for ahead of the copy */
	size_t *len;		/* per field */
	size_t field_used, field_cap;
	size_t *start;		/* per row: where its bytes start */
	size_t *first, *count;	/* per row: its fields */
	unsigned long *record, *row_number;
	size_t row_used;
};

struct relay {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct batch batch[BATCH_COUNT];
	unsigned long produced, consumed;	/* batches handed over, done */
	int done;		/* no more batches will come */
	int status;		/* what fn stopped with */
	csv_row_fn fn;
	void *ctx;
	char **field;		/* the row fn is given, on the thread */
	size_t field_cap;
};

static void
batch_init(struct batch *b)
{
	b->bytes_cap = BATCH_BYTES + 4096;
	b->bytes = xmalloc(b->bytes_cap);
	b->field_cap = 1024;
	b->len = xreallocarray(NULL, b->field_cap, sizeof *b->len);
	b->start = xreallocarray(NULL, BATCH_ROWS, sizeof *b->start);
	b->first = xreallocarray(NULL, BATCH_ROWS, sizeof *b->first);
	b->count = xreallocarray(NULL, BATCH_ROWS, sizeof *b->count);
	b->record = xreallocarray(NULL, BATCH_ROWS, sizeof *b->record);
	b->row_number = xreallocarray(NULL, BATCH_ROWS, sizeof *b->row_number);
}

static void
batch_free(struct batch *b)
{
	free(b->bytes);
	free(b->start);
	free(b->len);
	free(b->first);
	free(b->count);
	free(b->record);
	free(b->row_number);
}

/* Runs on the thread: fn on each row of the batch, in order. */
static int
batch_run(struct relay *relay, struct batch *b)
{
	struct csv_row row = { .chunk = NULL };
	int status;

	for (size_t r = 0; r < b->row_used; r++) {
		char *p = b->bytes + b->start[r];

		row.count = b->count[r];
		if (row.count > relay->field_cap) {
			relay->field_cap = row.count;
			relay->field = xreallocarray(relay->field,
			    relay->field_cap, sizeof *relay->field);
		}
		row.field = relay->field;
		row.len = b->len + b->first[r];
		row.record = b->record[r];
		row.row = b->row_number[r];
		/* The fields lie back to back, as csv_read gave them. */
		for (size_t i = 0; i < row.count; i++) {
			row.field[i] = p;
			p += row.len[i] + 1;
		}
		if ((status = relay->fn(&row, relay->ctx)) != 0)
			return status;
	}
	return 0;
}

static void *
relay_thread(void *arg)
{
	struct relay *relay = arg;

	for (;;) {
		struct batch *b;
		int status;

		pthread_mutex_lock(&relay->lock);
		while (relay->consumed == relay->produced && !relay->done)
			pthread_cond_wait(&relay->changed, &relay->lock);
		if (relay->consumed == relay->produced) {
			pthread_mutex_unlock(&relay->lock);
			return NULL;
		}
		b = &relay->batch[relay->consumed % BATCH_COUNT];
		pthread_mutex_unlock(&relay->lock);

		status = batch_run(relay, b);

		pthread_mutex_lock(&relay->lock);
		relay->consumed++;
		relay->status = status;
		pthread_cond_signal(&relay->changed);
		pthread_mutex_unlock(&relay->lock);
		if (status != 0)
			return NULL;
	}
}

struct relay *
relay_start(csv_row_fn fn, void *ctx)
{
	struct relay *relay = xcalloc(1, sizeof *relay);

	relay->fn = fn;
	relay->ctx = ctx;
	for (int i = 0; i < BATCH_COUNT; i++)
		batch_init(&relay->batch[i]);
	pthread_mutex_init(&relay->lock, NULL);
	pthread_cond_init(&relay->changed, NULL);
	if (pthread_create(&relay->thread, NULL, relay_thread, relay) != 0)
		die(EX_OSERR, "cannot start a thread");
	return relay;
}

/* Hands the current batch over; waits while every batch is in use. */
static int
hand_over(struct relay *relay)
{
	struct batch *next;
	int status;

	pthread_mutex_lock(&relay->lock);
	relay->produced++;
	pthread_cond_signal(&relay->changed);
	while (relay->produced - relay->consumed == BATCH_COUNT &&
	    relay->status == 0)
		pthread_cond_wait(&relay->changed, &relay->lock);
	status = relay->status;
	pthread_mutex_unlock(&relay->lock);
	next = &relay->batch[relay->produced % BATCH_COUNT];
	next->bytes_used = next->field_used = next->row_used = 0;
	next->prefetched = 0;
	return status;
}

/*
 * The parser's side, so as little as can be: csv_read puts a record's
 * fields back to back, each after the last one's NUL, so the row is two
 * copies (its bytes, its lengths) and the other thread finds the fields.
 */
int
relay_push(struct relay *relay, const struct csv_row *row)
{
	struct batch *b = &relay->batch[relay->produced % BATCH_COUNT];
	size_t count = row->count, bytes = 0;

	if (count > 0)
		bytes = (size_t)(row->field[count - 1] - row->field[0]) +
		    row->len[count - 1] + 1;
	if (b->row_used > 0 && (b->row_used == BATCH_ROWS ||
	    b->bytes_used + bytes > BATCH_BYTES)) {
		int status = hand_over(relay);

		if (status != 0)
			return status;
		b = &relay->batch[relay->produced % BATCH_COUNT];
	}
	/* One row larger than a batch gets a batch of its own size. */
	if (b->bytes_cap - b->bytes_used < bytes) {
		b->bytes_cap = b->bytes_used + bytes;
		b->bytes = xrealloc(b->bytes, b->bytes_cap);
	}
	if (b->field_cap - b->field_used < count) {
		while (b->field_cap - b->field_used < count)
			b->field_cap *= 2;
		b->len = xreallocarray(b->len, b->field_cap, sizeof *b->len);
	}
	b->start[b->row_used] = b->bytes_used;
	b->first[b->row_used] = b->field_used;
	b->count[b->row_used] = count;
	b->record[b->row_used] = row->record;
	b->row_number[b->row_used] = row->row;
	b->row_used++;
	/* The other thread read these lines last time round: ask for them
	 * ahead of the copy, which would otherwise wait on each one. */
	while (b->prefetched < b->bytes_used + bytes + PREFETCH_AHEAD &&
	    b->prefetched < b->bytes_cap) {
		__builtin_prefetch(b->bytes + b->prefetched, 1);
		b->prefetched += 64;
	}
	if (count > 0) {
		memcpy(b->bytes + b->bytes_used, row->field[0], bytes);
		memcpy(b->len + b->field_used, row->len, count * sizeof *b->len);
	}
	b->bytes_used += bytes;
	b->field_used += count;
	return 0;
}

int
relay_drain(struct relay *relay)
{
	struct batch *b = &relay->batch[relay->produced % BATCH_COUNT];
	int status;

	pthread_mutex_lock(&relay->lock);
	if (b->row_used > 0 && relay->status == 0) {
		relay->produced++;
		pthread_cond_signal(&relay->changed);
	}
	while (relay->consumed != relay->produced && relay->status == 0)
		pthread_cond_wait(&relay->changed, &relay->lock);
	status = relay->status;
	pthread_mutex_unlock(&relay->lock);
	/* Every batch is free now, or the thread has stopped for good. */
	b = &relay->batch[relay->produced % BATCH_COUNT];
	b->bytes_used = b->field_used = b->row_used = 0;
	b->prefetched = 0;
	return status;
}

int
relay_finish(struct relay *relay)
{
	struct batch *b = &relay->batch[relay->produced % BATCH_COUNT];
	int status;

	pthread_mutex_lock(&relay->lock);
	if (b->row_used > 0 && relay->status == 0)
		relay->produced++;
	relay->done = 1;
	pthread_cond_signal(&relay->changed);
	pthread_mutex_unlock(&relay->lock);
	if (pthread_join(relay->thread, NULL) != 0)
		die(EX_SOFTWARE, "cannot join the thread");
	status = relay->status;
	pthread_mutex_destroy(&relay->lock);
	pthread_cond_destroy(&relay->changed);
	for (int i = 0; i < BATCH_COUNT; i++)
		batch_free(&relay->batch[i]);
	free(relay->field);
	free(relay);
	return status;
}
