/* fuzz.c: the shared part of the fuzz targets, built without -Dexit */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

jmp_buf fuzz_jump;
int fuzz_armed;

_Noreturn void
fuzz_exit(int status)
{
	if (!fuzz_armed) {
		fprintf(stderr, "fuzz: exit(%d) outside FUZZ_TRY\n", status);
		abort();
	}
	longjmp(fuzz_jump, 1);
}

int
fuzz_file(const uint8_t *data, size_t size, char *path, size_t path_size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		abort();
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	snprintf(path, path_size, "/proc/self/fd/%d", fd);
	return fd;
}

int
fuzz_fd_mark(void)
{
	int fd = dup(0);

	if (fd < 0)
		abort();
	close(fd);
	return fd;
}

/* the streams the code under test has open (few: one file at a time) */
#define FUZZ_STREAMS 64
static FILE *fuzz_stream[FUZZ_STREAMS];

FILE *
fuzz_fopen(const char *path, const char *mode)
{
	FILE *fp = fopen(path, mode);

	if (fp == NULL)
		return NULL;
	for (int i = 0; i < FUZZ_STREAMS; i++)
		if (fuzz_stream[i] == NULL) {
			fuzz_stream[i] = fp;
			break;
		}
	return fp;	/* untracked past FUZZ_STREAMS: only a leak */
}

int
fuzz_fclose(FILE *fp)
{
	for (int i = 0; i < FUZZ_STREAMS; i++)
		if (fuzz_stream[i] == fp)
			fuzz_stream[i] = NULL;
	return fclose(fp);
}

void
fuzz_fd_release(int mark)
{
	for (int i = 0; i < FUZZ_STREAMS; i++)
		if (fuzz_stream[i] != NULL) {
			fclose(fuzz_stream[i]);
			fuzz_stream[i] = NULL;
		}
	for (int fd = mark; fd < mark + 256; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
}
