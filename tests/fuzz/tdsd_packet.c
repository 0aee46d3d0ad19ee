/*
 * tdsd's packet parser (tests/tdsd/proto.c): the TDS framing read_message
 * puts back together from a client's bytes, then the message walked with
 * the rd_* readers and text converters the request parsers use (a byte
 * says what to read next). tdsd itself is untouched: its functions are
 * called as they are.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tdsd/tdsd.h"
#include "fuzz.h"

static void
walk(const unsigned char *msg, size_t len)
{
	struct rd r = { .data = msg, .len = len };

	while (!r.bad && r.pos < r.len) {
		unsigned op = rd_u8(&r);
		size_t n;

		switch (op % 6) {
		case 0:
			rd_u16(&r);
			break;
		case 1:
			rd_u32(&r);
			break;
		case 2:
			rd_u64(&r);
			break;
		case 3:	/* B_VARCHAR-style: a count of UCS-2 characters */
			free(rd_ucs2(&r, rd_u8(&r)));
			break;
		case 4:	/* US_VARCHAR-style */
			free(rd_ucs2(&r, rd_u16(&r)));
			break;
		default: {
			const unsigned char *p;

			n = rd_u16(&r);
			if ((p = rd_bytes(&r, n)) != NULL)
				free(latin1_to_utf8(p, n));
		}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn c;
	char path[64];
	int type;

	memset(&c, 0, sizeof c);
	c.fd = fuzz_file(data, size, path, sizeof path);
	while ((type = read_message(&c)) >= 0)
		walk(c.in, c.in_len);
	close(c.fd);
	free(c.in);
	return 0;
}
