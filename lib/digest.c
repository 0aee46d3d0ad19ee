/* digest.c: message digests through OpenSSL's EVP interface */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "digest.h"
#include "err.h"
#include "mem.h"

struct digest {
	EVP_MD_CTX *ctx;
};

struct digest *
digest_new(const char *algo)
{
	struct digest *d = xmalloc(sizeof *d);
	const EVP_MD *md = EVP_get_digestbyname(algo);

	d->ctx = EVP_MD_CTX_new();
	if (md == NULL || d->ctx == NULL ||
	    EVP_DigestInit_ex(d->ctx, md, NULL) != 1)
		die(EX_SOFTWARE, "cannot start a %s digest", algo);
	return d;
}

void
digest_update(struct digest *d, const void *data, size_t len)
{
	if (EVP_DigestUpdate(d->ctx, data, len) != 1)
		die(EX_SOFTWARE, "digest update failed");
}

size_t
digest_final(struct digest *d, char *hex, unsigned char *raw)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(d->ctx, md, &len) != 1)
		die(EX_SOFTWARE, "digest final failed");
	EVP_MD_CTX_free(d->ctx);
	free(d);
	for (unsigned int i = 0; i < len; i++) {
		if (hex != NULL) {
			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
		}
		if (raw != NULL)
			raw[i] = md[i];
	}
	if (hex != NULL)
		hex[2 * len] = '\0';
	return len;
}

int
digest_file(const char *algo, const char *path, char *hex, uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf;
	struct digest *d;
	uint64_t total = 0;
	ssize_t got;

	if (fd < 0)
		return -1;
	buf = xmalloc(1 << 20);
	d = digest_new(algo);
	while ((got = read(fd, buf, 1 << 20)) > 0) {
		digest_update(d, buf, (size_t)got);
		total += (uint64_t)got;
	}
	if (got < 0) {
		int saved = errno;
		digest_final(d, NULL, NULL);
		free(buf);
		close(fd);
		errno = saved;
		return -1;
	}
	free(buf);
	close(fd);
	digest_final(d, hex, NULL);
	if (bytes != NULL)
		*bytes = total;
	return 0;
}
