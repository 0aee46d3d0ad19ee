/* csv-bare.c: the floor for csv-shape's benchmark: libcsv alone, strict,
 * spaces as data, parsing stdin and counting fields and rows. */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>

struct counts {
	unsigned long fields, rows, bytes;
};

static int
space_is_data(unsigned char c)
{
	(void)c;
	return 0;
}

static void
on_field(void *s, size_t len, void *data)
{
	struct counts *c = data;

	(void)s;
	c->fields++;
	c->bytes += len;
}

static void
on_row(int terminator, void *data)
{
	struct counts *c = data;

	(void)terminator;
	c->rows++;
}

int
main(void)
{
	static char buf[256 * 1024];
	struct csv_parser parser;
	struct counts c = { 0 };
	size_t got;

	if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return 70;
	csv_set_space_func(&parser, space_is_data);
	while ((got = fread(buf, 1, sizeof buf, stdin)) > 0)
		if (csv_parse(&parser, buf, got, on_field, on_row, &c) != got) {
			fprintf(stderr, "csv-bare: %s\n",
			    csv_strerror(csv_error(&parser)));
			return 65;
		}
	csv_fini(&parser, on_field, on_row, &c);
	csv_free(&parser);
	printf("%lu rows, %lu fields, %lu bytes\n", c.rows, c.fields, c.bytes);
	return 0;
}
