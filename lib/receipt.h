/* receipt.h: the receipt row every transfer prints (file,bytes,sha256,target) */
#ifndef SCHEDFEED_RECEIPT_H
#define SCHEDFEED_RECEIPT_H

#include <stdint.h>
#include <stdio.h>

#include "csvio.h"

#define SHA256_HEX_LEN 64

/* Prints the header line "file,bytes,sha256,target". */
void receipt_header(struct csv_writer *w);
void receipt_row(struct csv_writer *w, const char *file, uint64_t bytes,
    const char *sha256_hex, const char *target);

#endif
