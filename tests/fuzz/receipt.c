/*
 * The receipt reader: archive-mv's header and row parsing (read_header,
 * parse_expect, through archive-mv.c, its main renamed) on csv_read, as
 * archive-mv reads a transfer program's receipts; nothing is moved.
 */
#define main archive_mv_main
#include "../../cmd/archive-mv/archive-mv.c"
#undef main

#include "fuzz.h"

static int
on_row(struct csv_row *row, void *ctx)
{
	struct receipt_reader *r = ctx;
	struct expect want;

	if (row->record == 1)
		return read_header(r, row);
	if (row->count == r->fields && row->len[r->col_file] > 0)
		parse_expect(r, row, &want);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_read_opts opts = { .has_header = 1 };
	struct archive ar = { 0 };
	struct receipt_reader r = { .ar = &ar, .name = "fuzz" };
	FILE *in;

	if (size == 0)
		return 0;
	in = fmemopen((void *)data, size, "r");
	if (in == NULL)
		return 0;
	FUZZ_TRY(csv_read(in, r.name, &opts, on_row, &r));
	fclose(in);
	return 0;
}
