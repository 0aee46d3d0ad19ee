/* sftp-get: download matching files over SFTP, each atomically */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "csvio.h"
#include "digest.h"
#include "err.h"
#include "fname.h"
#include "mem.h"
#include "opt.h"
#include "receipt.h"
#include "sftp.h"

/* libssh2 asks for up to this much ahead in 30000-byte reads. */
#define BUF_SIZE	(1024u * 1024)

struct get_opts {
	const char *localdir;
	const char *glob;
	int dirfd;		/* localdir, open: files are created in it */
	int remove;
};

struct names {
	char **name;
	size_t count;
	int refused;		/* matching names that are not file names */
};

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-i key] [--known-hosts file] [--remove] "
	    "[--require]\n"
	    "       [--retries n] [--timeout seconds]\n"
	    "       sftp://user@host[:port]/dir/glob localdir\n", progname);
	exit(EX_USAGE);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files in dir whose names match the glob, sorted. */
static int
list_matches(struct sftp_conn *c, const char *dir, const char *glob,
    struct names *out)
{
	LIBSSH2_SFTP_HANDLE *d;
	LIBSSH2_SFTP_ATTRIBUTES st;
	char entry[1024];
	int n;

	out->name = NULL;
	out->count = 0;
	out->refused = 0;
	d = libssh2_sftp_opendir(c->sftp, dir);
	if (d == NULL) {
		char *what = xasprintf("cannot list %s", dir);
		int status = sftp_fail(c, what);

		free(what);
		return status;
	}
	while ((n = libssh2_sftp_readdir(d, entry, sizeof entry - 1, &st)) >
	    0) {
		const char *why;

		entry[n] = '\0';
		/* Not FNM_PATHNAME: "/../x.pdf" matches *.pdf, to be refused. */
		if (fnmatch(glob, entry, FNM_PERIOD) != 0)
			continue;
		if (!(st.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
		    !LIBSSH2_SFTP_S_ISREG(st.permissions))
			continue;
		if ((why = fname_refusal(entry, (size_t)n)) != NULL) {
			char *quoted = fname_quote(entry, (size_t)n);

			warn("%s: %s: the server lists \"%s\", %s; refused, "
			    "not downloaded", c->url->where, dir, quoted, why);
			free(quoted);
			out->refused++;
			continue;
		}
		out->name = xreallocarray(out->name, out->count + 1,
		    sizeof *out->name);
		out->name[out->count++] = xstrdup(entry);
	}
	libssh2_sftp_closedir(d);
	if (n < 0)
		return sftp_fail(c, "readdir");
	/* qsort's array may not be NULL, even for no elements */
	if (out->count > 1)
		qsort(out->name, out->count, sizeof *out->name, by_name);
	return 0;
}

static void
free_names(struct names *n)
{
	size_t i;

	for (i = 0; i < n->count; i++)
		free(n->name[i]);
	free(n->name);
	n->name = NULL;
	n->count = 0;
}

/* One attempt at one file: download, fsync, rename, then --remove. */
static int
get_file(struct sftp_conn *c, const struct get_opts *go, const char *name,
    char *buf, uint64_t *bytes, char *hex)
{
	char *remote = sftp_join(c->url->path, name);
	char *local = sftp_join(go->localdir, name);
	LIBSSH2_SFTP_HANDLE *h;
	LIBSSH2_SFTP_ATTRIBUTES st;
	struct atomic_file af;
	struct digest *dg;
	uint64_t total = 0;
	int status = 0;
	ssize_t n;

	h = libssh2_sftp_open(c->sftp, remote, LIBSSH2_FXF_READ, 0);
	if (h == NULL) {
		status = sftp_fail(c, remote);
		goto out_names;
	}
	if (atomic_openat(&af, go->dirfd, name, 0600) != 0) {
		warn("%s: cannot create a temporary:", local);
		status = EX_CANTCREAT;
		libssh2_sftp_close_handle(h);
		goto out_names;
	}
	dg = digest_new("sha256");
	while ((n = libssh2_sftp_read(h, buf, BUF_SIZE)) > 0) {
		digest_update(dg, buf, (size_t)n);
		if (fwrite(buf, 1, (size_t)n, af.fp) != (size_t)n) {
			warn("%s:", af.tmp);
			status = EX_IOERR;
			break;
		}
		total += (uint64_t)n;
	}
	if (n < 0)
		status = sftp_fail(c, remote);
	if (status == 0 && libssh2_sftp_fstat(h, &st) != 0)
		status = sftp_fail(c, remote);
	libssh2_sftp_close_handle(h);
	if (status == 0 && (st.flags & LIBSSH2_SFTP_ATTR_SIZE) &&
	    st.filesize != total) {
		warn("%s: %s: the server holds %llu bytes, %llu arrived",
		    c->url->where, remote, (unsigned long long)st.filesize,
		    (unsigned long long)total);
		status = EX_IOERR;
	}
	digest_final(dg, hex, NULL);
	if (status != 0) {
		atomic_abort(&af);
		goto out_names;
	}
	if (atomic_commit(&af, 0) != 0) {
		int saved = errno;

		warn("%s:", local);
		status = saved == ENOSPC || saved == EIO || saved == EDQUOT ?
		    EX_IOERR : EX_CANTCREAT;
		goto out_names;
	}
	*bytes = total;
	if (go->remove && libssh2_sftp_unlink(c->sftp, remote) != 0) {
		char *what = xasprintf("%s: downloaded but not removed",
		    remote);

		status = sftp_fail(c, what);
		free(what);
		/* The local copy is whole: report it, and fail afterwards. */
		if (status == EX_TEMPFAIL)
			status = EX_IOERR;
		status = -status;
	}
out_names:
	free(remote);
	free(local);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		SFTPOPT_LONG,
		{ "remove", no_argument, NULL, 'R' },
		{ "require", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	struct sftp_opts so;
	struct get_opts go = { 0 };
	struct sftp_url url;
	struct sftp_conn conn = { .sock = -1 };
	struct names matches = { NULL, 0, 0 };
	struct csv_writer w;
	char *slash, *buf;
	int ch, require = 0, status = 0, attempt, st;
	size_t i;

	setprogname(argv[0]);
	sftp_opts_init(&so);
	while ((ch = opt_next(argc, argv, "+" SFTPOPT_SHORT, longopts,
	    NULL)) != -1) {
		if (sftp_opts_apply(&so, ch, optarg))
			continue;
		switch (ch) {
		case 'R':
			go.remove = 1;
			break;
		case 'q':
			require = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	sftp_url_parse(argv[0], &url);
	go.localdir = argv[1];
	/* Split /dir/glob: the URL's path names the directory for receipts. */
	slash = strrchr(url.path, '/');
	if (slash == NULL) {
		go.glob = xstrdup(url.path);
		free(url.path);
		url.path = xstrdup(".");
	} else {
		go.glob = xstrdup(slash + 1);
		slash[slash == url.path] = '\0';
	}
	slash = strrchr(url.url_path, '/');
	slash[slash == url.url_path] = '\0';
	if (*go.glob == '\0')
		die(EX_USAGE, "%s: the URL ends in '/': name the files "
		    "(dir/*.csv)", argv[0]);
	go.dirfd = open(go.localdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (go.dirfd < 0)
		die(EX_CANTCREAT, "%s: not a directory", go.localdir);
	if (so.key_file != NULL && access(so.key_file, R_OK) != 0)
		die(EX_NOINPUT, "%s: cannot read the key:", so.key_file);

	signal(SIGPIPE, SIG_IGN);
	buf = xmalloc(BUF_SIZE);
	csv_writer_init(&w, stdout);
	receipt_header(&w);
	fflush(stdout);
	attempt = 0;
	do {
		if ((st = sftp_ensure_open(&conn, &url, &so)) == 0)
			st = list_matches(&conn, url.path, go.glob, &matches);
	} while (sftp_retry(&conn, st, &attempt));
	if (st != 0) {
		status = st;
		goto done;
	}
	if (matches.refused > 0)
		status = EX_DATAERR;
	if (matches.count == 0 && matches.refused == 0) {
		warn("%s: no file matches %s in %s", url.where, go.glob,
		    url.path);
		status = require ? EX_NOINPUT : 0;
	}
	for (i = 0; i < matches.count; i++) {
		char hex[2 * 32 + 1];
		uint64_t bytes = 0;

		attempt = 0;
		do {
			if ((st = sftp_ensure_open(&conn, &url, &so)) == 0)
				st = get_file(&conn, &go, matches.name[i], buf,
				    &bytes, hex);
		} while (sftp_retry(&conn, st, &attempt));
		if (st <= 0) {
			char *local = sftp_join(go.localdir, matches.name[i]);
			char *source = sftp_url_of(&url, matches.name[i]);

			receipt_row(&w, local, bytes, hex, source);
			fflush(stdout);
			free(local);
			free(source);
			st = -st;
		}
		status = worst_status(status, st);
		if (st != 0 && (conn.sftp == NULL || st == EX_TEMPFAIL))
			break;
	}
done:
	sftp_close(&conn);
	free_names(&matches);
	free(buf);
	close(go.dirfd);
	finish_stdout();
	return status;
}
