/*
 * csv_read with the option sets csv-shape and phi-redact use: the first
 * byte picks the delimiter, the header flag, the UTF-8 check and a small
 * --max-record; the rest is the input.
 */
#include <stdio.h>
#include <string.h>

#include "csvio.h"
#include "fuzz.h"

static const unsigned char delims[] = { ',', ';', '\t', '|' };

static int
on_row(struct csv_row *row, void *ctx)
{
	size_t *bytes = ctx;

	/* touch every byte the reader hands out */
	for (size_t i = 0; i < row->count; i++)
		*bytes += strlen(row->field[i]) == row->len[i] ? row->len[i] :
		    (size_t)1 << 40;
	return row->record > 100000 ? 65 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_read_opts opts = { 0 };
	size_t bytes = 0;
	FILE *in;

	if (size < 1)
		return 0;
	opts.delim = delims[data[0] & 3];
	opts.has_header = (data[0] >> 2) & 1;
	opts.no_utf8_check = (data[0] >> 3) & 1;
	opts.max_record = (data[0] >> 4) & 1 ? 1024 : 0;
	in = fmemopen((void *)(data + 1), size - 1, "r");
	if (in == NULL)
		return 0;
	if (size == 1)	/* fmemopen of 0 bytes: an empty stream */
		fgetc(in);
	FUZZ_TRY(csv_read(in, "fuzz", &opts, on_row, &bytes));
	fclose(in);
	return 0;
}
