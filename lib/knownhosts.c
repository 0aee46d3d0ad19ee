/* knownhosts.c: OpenSSH's known_hosts, read as OpenSSH reads it */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "err.h"
#include "knownhosts.h"
#include "mem.h"

/* The word after *p (blanks skipped), its end stored in *p. */
static const char *
word(const char **p, size_t *len)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	*len = strcspn(s, " \t\r\n");
	*p = s + *len;
	return *len > 0 ? s : NULL;
}

/* "@revoked HOSTS TYPE BASE64 [COMMENT]": the decoded key, or -1. */
static int
add_revoked(struct known_hosts *k, const char *rest)
{
	const char *b64;
	unsigned char *blob;
	size_t len;
	int n;

	if (word(&rest, &len) == NULL || word(&rest, &len) == NULL ||
	    (b64 = word(&rest, &len)) == NULL || len % 4 != 0 ||
	    len > 64 * 1024)
		return -1;
	blob = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(blob);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as bytes of the key */
	while (len > 0 && b64[len - 1] == '=' && n > 0) {
		len--;
		n--;
	}
	k->revoked = xreallocarray(k->revoked, k->revoked_count + 1,
	    sizeof *k->revoked);
	k->revoked[k->revoked_count].blob = blob;
	k->revoked[k->revoked_count++].len = (size_t)n;
	return 0;
}

int
known_hosts_load(LIBSSH2_SESSION *s, const char *path,
    struct known_hosts *k)
{
	FILE *fp;
	char *line = NULL;
	size_t size = 0, line_no = 0;
	ssize_t n;
	int rc = 0;

	memset(k, 0, sizeof *k);
	k->kh = libssh2_knownhost_init(s);
	if (k->kh == NULL)
		die(EX_SOFTWARE, "libssh2_knownhost_init failed");
	fp = fopen(path, "re");
	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		warn("%s: cannot read known hosts:", path);
		known_hosts_free(k);
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &size, fp)) > 0) {
		const char *p = line + strspn(line, " \t");

		line_no++;
		if (strncmp(p, "@revoked", 8) == 0 && isblank(p[8]))
			rc = add_revoked(k, p + 8);
		else if (strncmp(p, "@cert-authority", 15) == 0 &&
		    isblank(p[15]))
			continue;
		else if (*p == '@')
			rc = -1;
		else if (libssh2_knownhost_readline(k->kh, line, (size_t)n,
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			rc = -1;
		if (rc != 0)
			warn("%s: line %zu: cannot parse known hosts", path,
			    line_no);
	}
	if (rc == 0 && ferror(fp)) {
		warn("%s: cannot read known hosts:", path);
		rc = -1;
	}
	free(line);
	fclose(fp);
	if (rc != 0)
		known_hosts_free(k);
	return rc;
}

void
known_hosts_free(struct known_hosts *k)
{
	size_t i;

	if (k->kh != NULL)
		libssh2_knownhost_free(k->kh);
	for (i = 0; i < k->revoked_count; i++)
		free(k->revoked[i].blob);
	free(k->revoked);
	memset(k, 0, sizeof *k);
}

int
known_hosts_revoked(const struct known_hosts *k, const char *key,
    size_t len)
{
	size_t i;

	for (i = 0; i < k->revoked_count; i++)
		if (k->revoked[i].len == len &&
		    memcmp(k->revoked[i].blob, key, len) == 0)
			return 1;
	return 0;
}

int
known_hosts_check(const struct known_hosts *k, const char *host,
    int port, const char *key, size_t len, int typemask)
{
	char *bracketed;
	int rc;

	/* libssh2 given a port also tries the line without one: not so */
	if (port == 22)
		return libssh2_knownhost_checkp(k->kh, host, -1, key, len,
		    typemask, NULL);
	bracketed = xasprintf("[%s]:%d", host, port);
	rc = libssh2_knownhost_checkp(k->kh, bracketed, -1, key, len,
	    typemask, NULL);
	free(bracketed);
	return rc;
}
