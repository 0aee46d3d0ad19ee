/* sftp.h: SFTP sessions for sftp-put and sftp-get (libssh2) */
#ifndef SCHEDFEED_SFTP_H
#define SCHEDFEED_SFTP_H

#include <getopt.h>
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

/* getopt_long values of the options both SFTP programs take. */
enum {
	SFTPOPT_KNOWN_HOSTS = 0x600,
	SFTPOPT_RETRIES,
	SFTPOPT_TIMEOUT,
	SFTPOPT_PASSWORD
};

/* For getopt_long's option string, after the program's own '+'. */
#define SFTPOPT_SHORT "i:"

/* The rows of a program's struct option table for those options. */
#define SFTPOPT_LONG \
	{ "identity", required_argument, NULL, 'i' }, \
	{ "known-hosts", required_argument, NULL, SFTPOPT_KNOWN_HOSTS }, \
	{ "retries", required_argument, NULL, SFTPOPT_RETRIES }, \
	{ "timeout", required_argument, NULL, SFTPOPT_TIMEOUT }, \
	{ "password", required_argument, NULL, SFTPOPT_PASSWORD }

/* The defaults: 30 s, 3 retries, ~/.ssh/known_hosts, no key file. */
void sftp_opts_init(struct sftp_opts *o);
/*
 * Applies getopt_long's answer c with its argument to o: 1 when c was
 * an SFTP option, 0 when it is the program's own. A bad value dies with
 * EX_USAGE; --password is refused.
 */
int sftp_opts_apply(struct sftp_opts *o, int c, const char *arg);

struct sftp_conn {
	const struct sftp_url *url;
	const struct sftp_opts *opts;
	int sock;
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp;	/* NULL while the connection is closed */
	int no_fsync;		/* the server answered fsync with "unsupported" */
	int no_posix_rename;	/* likewise for posix-rename@openssh.com */
	int host_key_refused;	/* sftp_open failed on the host key check */
};

/*
 * Connects, verifies the host key, logs in and starts SFTP. Returns 0, or
 * an exit status after a message: 75 for network trouble worth a retry,
 * 77 for host key and login failures (host_key_refused tells them apart),
 * 78 for missing credentials, 69 for a server that offers no SFTP or no
 * key exchange, host key type, cipher or MAC this end has. Separate
 * connections may be opened and used in separate threads once
 * libssh2_init has run.
 */
int sftp_open(struct sftp_conn *c, const struct sftp_url *u,
    const struct sftp_opts *o);
/* Closes the session (politely when it still works) and the socket. */
void sftp_close(struct sftp_conn *c);

/*
 * The two halves of a retry loop around one attempt at a transfer:
 *
 *	attempt = 0;
 *	do {
 *		if ((status = sftp_ensure_open(c, u, o)) == 0)
 *			status = transfer(c, ...);
 *	} while (sftp_retry(c, status, &attempt));
 *
 * sftp_ensure_open opens c unless it is open already: 0 or sftp_open's
 * status. sftp_retry answers 1 when status was a transient failure (75)
 * and retries are left, after closing c, saying so and waiting; 0 when
 * status stands.
 */
int sftp_ensure_open(struct sftp_conn *c, const struct sftp_url *u,
    const struct sftp_opts *o);
int sftp_retry(struct sftp_conn *c, int status, int *attempt);

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

/* OpenSSH-style "SHA256:base64" fingerprint of the server's host key. */
char *sftp_fingerprint(LIBSSH2_SESSION *session);

#endif
