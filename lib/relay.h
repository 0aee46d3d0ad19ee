/* relay.h: rows handed from the CSV parser to a second thread, in batches,
 * so that parsing and the work on each row run on two cores with memory
 * still flat */
#ifndef SCHEDFEED_RELAY_H
#define SCHEDFEED_RELAY_H

#include "csvio.h"

struct relay;

/* Starts the thread, which calls fn for each row, in order, until fn
 * returns non-zero. fn may change the row's fields in place. */
struct relay *relay_start(csv_row_fn fn, void *ctx);
/* Copies row, as csv_read gave it (its fields back to back), into the
 * current batch. Returns 0, or the status fn stopped with (seen at a batch
 * boundary), after which nothing more is taken. */
int relay_push(struct relay *relay, const struct csv_row *row);
/* Hands over what has been pushed and waits until fn has seen all of it;
 * returns the status fn stopped with, or 0. Before a message about a
 * later row, so that messages come in input order. */
int relay_drain(struct relay *relay);
/* Hands over the last batch, waits for the thread, frees everything and
 * returns the status fn stopped with, or 0. */
int relay_finish(struct relay *relay);

#endif
