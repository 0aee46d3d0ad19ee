/* phi-redact's policy file parser (cmd/phi-redact/policy.c), then the
 * rule it gives a few header names, as phi-redact asks it. */
#include <string.h>
#include <unistd.h>

#include "../../cmd/phi-redact/policy.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *names[] = { "mrn", "dob", "zip", "name", "" };
	static struct policy policy;
	const char *origin;
	char path[64];
	int fd, mark = fuzz_fd_mark();

	memset(&policy, 0, sizeof policy);
	fd = fuzz_file(data, size, path, sizeof path);
	if (FUZZ_TRY(policy_load(&policy, path)) == 0 &&
	    FUZZ_TRY(policy_finish(&policy)) == 0)
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			policy_rule(&policy, names[i], &origin);
	close(fd);
	fuzz_fd_release(mark);
	return 0;
}
