/* sftp.h: SFTP sessions for sftp-put and sftp-get (libssh2) */
#ifndef SCHEDFEED_SFTP_H
#define SCHEDFEED_SFTP_H

#include <stdint.h>
#include <libssh2.h>
#include <libssh2_sftp.h>

/* sftp://USER@HOST[:PORT]/PATH, percent-decoded */
struct sftp_url {
	char *user;
	char *host;		/* without the brackets of an IPv6 literal */
	int port;		/* 22 unless given */
	char *url_path;		/* the path as the URL spells it: "/~/in" */
	char *path;		/* as sent to the server: "in" ("/~/" = home) */
	char *prefix;		/* "sftp://USER@HOST[:PORT]" for receipts */
	char *where;		/* "USER@HOST:PORT" for messages */
};

/* Dies with EX_USAGE when url is not an sftp:// URL with a user. */
void sftp_url_parse(const char *url, struct sftp_url *u);
/* The URL of a file named name in url_path (percent-encoded), for receipts. */
char *sftp_url_of(const struct sftp_url *u, const char *name);
/* dir joined with name ("." joins to name alone). */
char *sftp_join(const char *dir, const char *name);

struct sftp_opts {
	const char *key_file;		/* -i, or NULL */
	const char *known_hosts;	/* NULL: ~/.ssh/known_hosts */
	int timeout;			/* seconds, for connect and each reply */
	int retries;			/* reconnections after a transient failure */
};

struct sftp_conn {
	const struct sftp_url *url;
	const struct sftp_opts *opts;
	int sock;
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp;
	int no_fsync;		/* the server answered fsync with "unsupported" */
	int no_posix_rename;	/* likewise for posix-rename@openssh.com */
};

/*
 * Connects, verifies the host key, logs in and starts SFTP. Returns 0, or
 * an exit status after a message: 75 for network trouble worth a retry,
 * 77 for host key and login failures, 78 for missing credentials.
 */
int sftp_open(struct sftp_conn *c, const struct sftp_url *u,
    const struct sftp_opts *o);
/* Closes the session (politely when it still works) and the socket. */
void sftp_close(struct sftp_conn *c);

/*
 * Reports the last libssh2 failure of c ("what: reason") and returns its
 * exit status: 75 (connection lost, timeout), 77 (permission denied),
 * 66 (no such file), 74 (other remote failures, disk full).
 */
int sftp_fail(struct sftp_conn *c, const char *what);
/* Whether the failure sftp_fail would report is worth a reconnection. */
int sftp_transient(struct sftp_conn *c);

/* mkdir -p on the server. Returns 0 or an exit status after a message. */
int sftp_mkdir_p(struct sftp_conn *c, const char *dir, long mode);
/*
 * Renames from onto to: atomically replacing to through
 * posix-rename@openssh.com when the server offers it; with no_clobber,
 * through a plain SFTP rename, which fails when to exists.
 * Returns 0, EEXIST (no_clobber and to exists) or -1 (see sftp_fail).
 */
int sftp_rename(struct sftp_conn *c, const char *from, const char *to,
    int no_clobber);
/* fsync@openssh.com when offered. 0, or -1 (see sftp_fail). */
int sftp_fsync(struct sftp_conn *c, LIBSSH2_SFTP_HANDLE *h);

/* Sleeps before retry number attempt (1, 2, 4... seconds, at most 60). */
void sftp_backoff(int attempt);
/* OpenSSH-style "SHA256:base64" fingerprint of the server's host key. */
char *sftp_fingerprint(LIBSSH2_SESSION *session);

#endif
