/* relay.h: rows handed from the CSV parser to a second thread, in batches,
 * so that parsing and redacting run on two cores with memory still flat */
#ifndef PHI_REDACT_RELAY_H
#define PHI_REDACT_RELAY_H

#include "csvio.h"

struct relay;

/* Starts the thread, which calls fn for each row, in order, until fn
 * returns non-zero. */
struct relay *relay_start(csv_row_fn fn, void *ctx);
/* Copies row into the current batch. Returns 0, or the status fn stopped
 * with (seen at a batch boundary), after which nothing more is taken. */
int relay_push(struct relay *relay, const struct csv_row *row);
/* Hands over the last batch, waits for the thread, frees everything and
 * returns the status fn stopped with, or 0. */
int relay_finish(struct relay *relay);

#endif
