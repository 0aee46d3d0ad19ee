/*
 * csv-shape's two parsers of files: the schema (--schema) and the -F
 * profile, through csv-shape.c itself (its main renamed). The first byte
 * picks which; the rest is the file.
 */
#define main csv_shape_main
#include "../../cmd/csv-shape/csv-shape.c"
#undef main

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd, mark;

	if (size < 1)
		return 0;
	mark = fuzz_fd_mark();
	fd = fuzz_file(data + 1, size - 1, path, sizeof path);
	if (data[0] & 1) {
		struct schema schema = { 0 };

		if (FUZZ_TRY(schema_load(&schema, path)) == 0) {
			/* each rule judged against a value, as rows are */
			for (size_t i = 0; i < schema.count; i++)
				rule_check(&schema.rule[i], "2024-02-29", 10);
			schema_free(&schema);
		}
	} else {
		struct shape s = { 0 };

		if (FUZZ_TRY(load_profile(&s, path)) == 0)
			free_shape(&s);
	}
	close(fd);
	fuzz_fd_release(mark);
	return 0;
}
