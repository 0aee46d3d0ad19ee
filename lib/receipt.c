/* receipt.c: one CSV row per transferred file */
#include <inttypes.h>
#include <stdio.h>

#include "receipt.h"

void
receipt_header(struct csv_writer *w)
{
	csv_write_str(w, "file");
	csv_write_str(w, "bytes");
	csv_write_str(w, "sha256");
	csv_write_str(w, "target");
	csv_write_end(w);
}

void
receipt_row(struct csv_writer *w, const char *file, uint64_t bytes,
    const char *sha256_hex, const char *target)
{
	char num[32];

	snprintf(num, sizeof num, "%" PRIu64, bytes);
	csv_write_str(w, file);
	csv_write_str(w, num);
	csv_write_str(w, sha256_hex);
	csv_write_str(w, target);
	csv_write_end(w);
}
