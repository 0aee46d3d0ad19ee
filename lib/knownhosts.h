/* knownhosts.h: OpenSSH's known_hosts, read as OpenSSH reads it */
#ifndef SCHEDFEED_KNOWNHOSTS_H
#define SCHEDFEED_KNOWNHOSTS_H

#include <stddef.h>
#include <libssh2.h>

struct revoked_key {
	unsigned char *blob;	/* the key as the server sends it */
	size_t len;
};

struct known_hosts {
	LIBSSH2_KNOWNHOSTS *kh;	/* the host lines, for libssh2 to match */
	struct revoked_key *revoked;
	size_t revoked_count;
};

/*
 * Reads the OpenSSH known_hosts file at path; a missing file is an empty
 * one. libssh2 knows no markers: "@revoked" lines are kept here (their
 * keys are refused for every host), "@cert-authority" lines are skipped
 * (host certificates are not used). Returns 0, or -1 after a message.
 */
int known_hosts_load(LIBSSH2_SESSION *s, const char *path,
    struct known_hosts *k);
void known_hosts_free(struct known_hosts *k);
/* Whether the len bytes of key are on an @revoked line. */
int known_hosts_revoked(const struct known_hosts *k, const char *key,
    size_t len);
/*
 * libssh2_knownhost_checkp for host and port, as OpenSSH matches: a line
 * without a port ("host key") is port 22's only, another port is found
 * only on "[host]:port" lines. typemask as libssh2 takes it.
 */
int known_hosts_check(const struct known_hosts *k, const char *host,
    int port, const char *key, size_t len, int typemask);

#endif
