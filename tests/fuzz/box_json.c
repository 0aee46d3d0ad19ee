/*
 * Box's JSON as box-upload and box-get take it: an answer body read with
 * jansson as lib/box.c does, its error text (box_http_fail), the conflict
 * it names, the SHA-1 and size check, and each folder entry through
 * box-get's own listing code (box-get.c, its main renamed), which turns
 * entries into local file names.
 */
#define main box_get_main
#include "../../cmd/box-get/box-get.c"
#undef main

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct box_response rs = { .retry_after = -1 };
	struct listing list = { .pattern = "*" };
	struct box_hashes h = { .bytes = 3 };
	const json_t *entries, *conflict, *entry;
	size_t i;

	if (size < 1)
		return 0;
	rs.json = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (rs.json == NULL)
		return 0;
	rs.http = 400 + data[0] % 200;
	FUZZ_TRY(box_http_fail(&rs, "fuzz"));
	conflict = box_conflict(rs.json);
	if (conflict != NULL)
		box_str(conflict, "id");
	memcpy(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d", 41);
	entries = json_object_get(rs.json, "entries");
	json_array_foreach(entries, i, entry) {
		json_t *size_v = json_object_get(entry, "size");

		FUZZ_TRY(box_verify("fuzz", box_str(entry, "sha1"),
		    json_is_integer(size_v) ? json_integer_value(size_v) : -1,
		    &h, "fuzz"));
		if (FUZZ_TRY(collect(entry, &list)) != 0)
			break;
	}
	free_listing(&list);
	json_decref(rs.json);
	return 0;
}
