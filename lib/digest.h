/* digest.h: SHA-256 / SHA-1 of streams and files (OpenSSL EVP) */
#ifndef SCHEDFEED_DIGEST_H
#define SCHEDFEED_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct digest;

/* algo: "sha256" or "sha1" */
struct digest *digest_new(const char *algo);
void digest_update(struct digest *d, const void *data, size_t len);
/* Writes lowercase hex (+NUL) into hex, which holds 2*size+1 bytes;
 * raw (if not NULL) gets the binary digest. Frees d. Returns size. */
size_t digest_final(struct digest *d, char *hex, unsigned char *raw);
/* Digest of a whole file; returns 0 or -1 with errno; bytes gets size. */
int digest_file(const char *algo, const char *path, char *hex,
    uint64_t *bytes);

#endif
