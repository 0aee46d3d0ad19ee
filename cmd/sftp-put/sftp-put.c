/* sftp-put: upload files over SFTP under a temporary name, then rename */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvio.h"
#include "digest.h"
#include "err.h"
#include "mem.h"
#include "receipt.h"
#include "sftp.h"

/*
 * Read-ahead buffer and the data in flight at once: libssh2 splits each
 * write into 30000-byte SFTP packets and sends them all before waiting for
 * the first acknowledgement, so keeping 2 MB in flight (as OpenSSH's sftp
 * does: 64 requests of 32 KB) keeps the
 * connection busy; memory stays at these two sizes whatever the file.
 */
#define BUF_SIZE	(8u * 1024 * 1024)
#define IN_FLIGHT	(2u * 1024 * 1024)
#define TMP_SUFFIX	".part"
#define TMP_RANDOM	6

struct source {
	const char *label;	/* the receipt's file column */
	const char *name;	/* the remote file's name */
	int fd;
};

struct put_opts {
	int mkdir;
	int no_clobber;
};

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-i key] [--known-hosts file] [--mkdir] "
	    "[--no-clobber]\n"
	    "       [--name name] [--retries n] [--timeout seconds]\n"
	    "       sftp://user@host[:port]/dir [file ...]\n", progname);
	exit(EX_USAGE);
}

/* stdin that cannot be re-read on a retry is spooled to an unnamed file. */
static int
seekable_stdin(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char buf[65536];
	ssize_t n;
	int fd;

	if (lseek(STDIN_FILENO, 0, SEEK_CUR) >= 0)
		return STDIN_FILENO;
	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		die(EX_CANTCREAT, "%s: cannot spool standard input:", tmpdir);
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(EX_IOERR, "standard input:");
		}
		if (write(fd, buf, (size_t)n) != n)
			die(EX_IOERR, "%s: cannot spool standard input:",
			    tmpdir);
	}
	return fd;
}

static int
is_temporary_of(const char *entry, const char *name)
{
	size_t nlen = strlen(name), elen = strlen(entry);
	size_t want = 1 + nlen + 1 + TMP_RANDOM + strlen(TMP_SUFFIX);

	return elen == want && entry[0] == '.' &&
	    strncmp(entry + 1, name, nlen) == 0 && entry[1 + nlen] == '.' &&
	    strcmp(entry + elen - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0;
}

/*
 * Temporaries of this name that an interrupted run left behind (the
 * connection died before it could remove them) and that nobody has
 * written to since our own upload began: removed, quietly.
 */
static void
remove_stale(struct sftp_conn *c, const char *dir, const char *name,
    const char *ours, unsigned long since)
{
	LIBSSH2_SFTP_HANDLE *d;
	LIBSSH2_SFTP_ATTRIBUTES st;
	char entry[1024];
	int n;

	d = libssh2_sftp_opendir(c->sftp, dir);
	if (d == NULL)
		return;
	while ((n = libssh2_sftp_readdir(d, entry, sizeof entry - 1, &st)) >
	    0) {
		char *path;

		entry[n] = '\0';
		if (!is_temporary_of(entry, name) || strcmp(entry, ours) == 0)
			continue;
		if (!(st.flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ||
		    st.mtime >= since)
			continue;
		path = sftp_join(dir, entry);
		libssh2_sftp_unlink(c->sftp, path);
		free(path);
	}
	libssh2_sftp_closedir(d);
}

static char *
temporary_name(const char *name)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[TMP_RANDOM];
	char suffix[TMP_RANDOM + 1];
	size_t i;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		die(EX_OSERR, "getrandom:");
	for (i = 0; i < TMP_RANDOM; i++)
		suffix[i] = set[rnd[i] % (sizeof set - 1)];
	suffix[TMP_RANDOM] = '\0';
	return xasprintf(".%s.%s%s", name, suffix, TMP_SUFFIX);
}

/* After a failed write: say so, naming a full disk when statvfs shows one. */
static int
write_failed(struct sftp_conn *c, const char *dir, const char *what,
    uint64_t remaining)
{
	LIBSSH2_SFTP_STATVFS vfs;
	int status;

	if (sftp_transient(c))
		return sftp_fail(c, what);
	status = sftp_fail(c, what);
	if (status == EX_NOPERM)
		return status;
	if (libssh2_sftp_statvfs(c->sftp, dir, strlen(dir), &vfs) == 0 &&
	    (vfs.f_bavail == 0 || vfs.f_bavail * vfs.f_frsize < remaining))
		warn("%s: the remote disk is full (%llu bytes free)",
		    c->url->where,
		    (unsigned long long)(vfs.f_bavail * vfs.f_frsize));
	return EX_IOERR;
}

/*
 * One attempt at one file. On a transient failure (75) *leftover names the
 * temporary that could not be removed, for the next attempt to remove.
 */
static int
put_file(struct sftp_conn *c, const struct put_opts *po,
    struct source *src, char *buf, uint64_t *bytes, char *hex,
    char **leftover)
{
	const char *dir = c->url->path;
	char *tmpname = NULL, *tmp = NULL, *final = sftp_join(dir, src->name);
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP_ATTRIBUTES st;
	struct digest *dg = digest_new("sha256");
	uint64_t sent = 0, total = 0, size;
	size_t start = 0, end = 0;
	unsigned long since = 0;
	int status = 0, eof = 0;
	struct stat lst;

	if (*leftover != NULL) {
		libssh2_sftp_unlink(c->sftp, *leftover);
		free(*leftover);
		*leftover = NULL;
	}
	if (po->mkdir && (status = sftp_mkdir_p(c, dir, 0755)) != 0)
		goto out;
	if (po->no_clobber && libssh2_sftp_lstat(c->sftp, final, &st) == 0) {
		warn("%s: %s exists; not replaced (--no-clobber)",
		    c->url->where, final);
		status = EX_CANTCREAT;
		goto out;
	}
	if (lseek(src->fd, 0, SEEK_SET) < 0 || fstat(src->fd, &lst) != 0) {
		warn("%s:", src->label);
		status = EX_IOERR;
		goto out;
	}
	size = (uint64_t)lst.st_size;
	tmpname = temporary_name(src->name);
	tmp = sftp_join(dir, tmpname);
	h = libssh2_sftp_open_ex(c->sftp, tmp, (unsigned int)strlen(tmp),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0600,
	    LIBSSH2_SFTP_OPENFILE);
	if (h == NULL) {
		char *what = xasprintf("cannot create a file in %s", dir);

		status = sftp_fail(c, what);
		free(what);
		if (status == EX_NOINPUT) {
			warn("%s: no directory %s (--mkdir creates it)",
			    c->url->where, dir);
			status = EX_CANTCREAT;
		}
		free(tmp);
		tmp = NULL;	/* nothing to remove */
		goto out;
	}
	if (libssh2_sftp_fstat(h, &st) == 0 &&
	    (st.flags & LIBSSH2_SFTP_ATTR_ACMODTIME))
		since = st.mtime;

	/* buf[start, end) is read but not yet acknowledged by the server. */
	for (;;) {
		ssize_t n;

		if (!eof && end < BUF_SIZE && end - start < IN_FLIGHT) {
			n = read(src->fd, buf + end, BUF_SIZE - end);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				warn("%s:", src->label);
				status = EX_IOERR;
				goto out;
			}
			if (n == 0)
				eof = 1;
			digest_update(dg, buf + end, (size_t)n);
			end += (size_t)n;
			total += (uint64_t)n;
			continue;
		}
		if (start == end)
			break;
		n = libssh2_sftp_write(h, buf + start,
		    end - start < IN_FLIGHT ? end - start : IN_FLIGHT);
		if (n < 0) {
			status = write_failed(c, dir, "write",
			    size > sent ? size - sent : 0);
			goto out;
		}
		start += (size_t)n;
		sent += (uint64_t)n;
		if (start == end) {
			start = end = 0;
		} else if (end == BUF_SIZE && !eof) {
			memmove(buf, buf + start, end - start);
			end -= start;
			start = 0;
		}
	}
	if (sftp_fsync(c, h) != 0) {
		status = write_failed(c, dir, "fsync", 0);
		goto out;
	}
	if (libssh2_sftp_fstat(h, &st) != 0) {
		status = sftp_fail(c, "stat");
		goto out;
	}
	if (!(st.flags & LIBSSH2_SFTP_ATTR_SIZE) || st.filesize != total) {
		warn("%s: %s: the server holds %llu bytes, %llu were sent",
		    c->url->where, tmp, (unsigned long long)st.filesize,
		    (unsigned long long)total);
		status = EX_IOERR;
		goto out;
	}
	if (libssh2_sftp_close_handle(h) != 0) {
		h = NULL;
		status = write_failed(c, dir, "close", 0);
		goto out;
	}
	h = NULL;
	switch (sftp_rename(c, tmp, final, po->no_clobber)) {
	case 0:
		break;
	case EEXIST:
		warn("%s: %s exists; not replaced (--no-clobber)",
		    c->url->where, final);
		status = EX_CANTCREAT;
		goto out;
	default:
		status = sftp_fail(c, "rename");
		goto out;
	}
	free(tmp);
	tmp = NULL;
	remove_stale(c, dir, src->name, tmpname, since);
	*bytes = total;
out:
	if (h != NULL)
		libssh2_sftp_close_handle(h);
	if (tmp != NULL) {
		if (status == EX_TEMPFAIL) {
			*leftover = tmp;
			tmp = NULL;
		} else
			libssh2_sftp_unlink(c->sftp, tmp);
	}
	if (status == 0)
		digest_final(dg, hex, NULL);
	else {
		char scratch[2 * 32 + 1];

		digest_final(dg, scratch, NULL);
	}
	free(tmp);
	free(tmpname);
	free(final);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		SFTPOPT_LONG,
		{ "mkdir", no_argument, NULL, 'm' },
		{ "no-clobber", no_argument, NULL, 'n' },
		{ "name", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	struct sftp_opts so;
	struct put_opts po = { 0 };
	struct sftp_url url;
	struct sftp_conn conn = { .sock = -1 };
	struct source *src;
	struct csv_writer w;
	const char *name = NULL;
	char *buf, *leftover = NULL;
	int ch, i, nsrc, status = 0;

	setprogname(argv[0]);
	sftp_opts_init(&so);
	while ((ch = getopt_long(argc, argv, "+" SFTPOPT_SHORT, longopts,
	    NULL)) != -1) {
		if (sftp_opts_apply(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'm':
			po.mkdir = 1;
			break;
		case 'n':
			po.no_clobber = 1;
			break;
		case 'N':
			name = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	sftp_url_parse(argv[0], &url);
	argc--;
	argv++;
	if (name != NULL && (*name == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		die(EX_USAGE, "%s: --name takes a file name without '/'", name);
	if (name != NULL && argc > 1)
		die(EX_USAGE, "--name needs exactly one file");
	if (so.key_file != NULL && access(so.key_file, R_OK) != 0)
		die(EX_NOINPUT, "%s: cannot read the key:", so.key_file);

	nsrc = argc > 0 ? argc : 1;
	src = xcalloc((size_t)nsrc, sizeof *src);
	for (i = 0; i < nsrc; i++) {
		const char *path = argc > 0 ? argv[i] : "-";
		const char *slash;
		struct stat st;

		src[i].label = path;
		if (strcmp(path, "-") == 0) {
			if (name == NULL)
				die(EX_USAGE, "standard input needs --name");
			src[i].fd = seekable_stdin();
			src[i].name = name;
			continue;
		}
		src[i].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (src[i].fd < 0)
			die(errno == EACCES ? EX_NOPERM : EX_NOINPUT, "%s:",
			    path);
		if (fstat(src[i].fd, &st) != 0 || !S_ISREG(st.st_mode))
			die(EX_NOINPUT, "%s: not a regular file", path);
		slash = strrchr(path, '/');
		src[i].name = name != NULL ? name :
		    slash != NULL ? slash + 1 : path;
		if (*src[i].name == '\0')
			die(EX_USAGE, "%s: no file name", path);
	}

	/* A dead connection must be an error to handle, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	buf = xmalloc(BUF_SIZE);
	csv_writer_init(&w, stdout);
	receipt_header(&w);
	fflush(stdout);
	for (i = 0; i < nsrc; i++) {
		char hex[2 * 32 + 1];
		uint64_t bytes = 0;
		int attempt = 0, st;

		do {
			if ((st = sftp_ensure_open(&conn, &url, &so)) == 0)
				st = put_file(&conn, &po, &src[i], buf, &bytes,
				    hex, &leftover);
		} while (sftp_retry(&conn, st, &attempt));
		if (st == 0) {
			char *target = sftp_url_of(&url, src[i].name);

			receipt_row(&w, src[i].label, bytes, hex, target);
			fflush(stdout);
			free(target);
			continue;
		}
		status = worst_status(status, st);
		/* Without a working connection no other file can go. */
		if (conn.sftp == NULL || st == EX_TEMPFAIL || st == EX_CONFIG)
			break;
	}
	sftp_close(&conn);
	free(leftover);
	free(buf);
	finish_stdout();
	return status;
}
