/*
 * fuzz.h: what every libFuzzer target here shares. The code under test is
 * built with -Dexit=fuzz_exit, so a die() or usage() on bad input returns
 * to the target (FUZZ_TRY) instead of ending the fuzzer: exiting on bad
 * input is the programs' contract, not a finding.
 */
#ifndef SCHEDFEED_FUZZ_H
#define SCHEDFEED_FUZZ_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

extern jmp_buf fuzz_jump;
extern int fuzz_armed;

/* exit() of the code under test: back to FUZZ_TRY, never a real exit. */
_Noreturn void fuzz_exit(int status);

/* Runs the statement; 0 when it returned, else the status it exited with. */
#define FUZZ_TRY(stmt) \
	(fuzz_armed = 1, setjmp(fuzz_jump) == 0 ? \
	    ((stmt), fuzz_armed = 0, 0) : (fuzz_armed = 0, 1))

/* The input as a file to read (a memfd: no disk, no name to clean up):
 * its path /proc/self/fd/N and the descriptor, which the caller closes. */
int fuzz_file(const uint8_t *data, size_t size, char *path, size_t path_size);

/*
 * The lowest free descriptor now, and later: closes every stream and
 * descriptor a run left open (a die() leaves its file open behind it, and
 * the stream's buffer, which made the schema target run out of its 2 GB
 * after 100,000 inputs that fail).
 */
int fuzz_fd_mark(void);
void fuzz_fd_release(int mark);

/* fopen and fclose of the code under test (-Dfopen=fuzz_fopen
 * -Dfclose=fuzz_fclose): streams kept track of for fuzz_fd_release. */
#include <stdio.h>
FILE *fuzz_fopen(const char *path, const char *mode);
int fuzz_fclose(FILE *fp);

#endif
