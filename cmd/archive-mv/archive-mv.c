/*
 * archive-mv: move delivered files into DIR/YYYY/MM/DD/, never overwriting.
 *
 * Files come as operands, or as receipt rows (file,bytes,sha256,target) on
 * stdin. A receipt's size and SHA-256 are checked first: a file changed
 * since it was delivered stays where it is. Within one filesystem the file
 * is renamed without replacing (renameat2 RENAME_NOREPLACE); across
 * filesystems it is copied to a temporary beside the target, fsynced,
 * linked into place (link() never replaces) and only then unlinked.
 *
 * A file no longer where it was, whose copy is already in the day
 * directory (the receipt's size and SHA-256 when there is a receipt, the
 * name alone for an operand), counts as archived: a run killed after the
 * move and run again must not fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "csvio.h"
#include "date.h"
#include "digest.h"
#include "err.h"
#include "mem.h"
#include "opt.h"
#include "receipt.h"

#define COPY_CHUNK (1 << 20)
/* name, name.1, ... name.MAX_SUFFIX, then give up */
#define MAX_SUFFIX 9999

/* What a receipt says about a file; nothing is checked for an operand. */
struct expect {
	int have_bytes;
	uint64_t bytes;
	char sha256[SHA256_HEX_LEN + 1];	/* "" when not checked */
};

struct archive {
	char *day_dir;		/* DIR/YYYY/MM/DD */
	int day_dir_ready;
	dev_t day_dev;
	char **done;		/* sources archived by this run */
	size_t done_count, done_cap;
	int status;		/* worst seen */
};

struct receipt_reader {
	struct archive *ar;
	const char *name;	/* what messages call the input */
	size_t fields;		/* columns in the header */
	long col_file, col_bytes, col_sha256;	/* -1 when absent */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s --to DIR [--date YYYY-MM-DD] [file ...]\n", progname);
	exit(EX_USAGE);
}

/* Creates the day directory once, and makes its new entries durable. */
static void
ready_day_dir(struct archive *ar)
{
	struct stat st;
	char *path;

	if (ar->day_dir_ready)
		return;
	/* 0777 less the umask: a job's umask 077 keeps the archive private */
	if (mkdir_p(ar->day_dir, 0777) != 0 || stat(ar->day_dir, &st) != 0)
		die(EX_CANTCREAT, "%s: cannot create:", ar->day_dir);
	/* DD in MM, MM in YYYY, YYYY in DIR */
	path = xstrdup(ar->day_dir);
	for (int level = 0; level < 3; level++) {
		char *slash = strrchr(path, '/');

		if (fsync_parent_dir(path) != 0)
			die(EX_IOERR, "%s: cannot sync directory:", path);
		if (slash == NULL || slash == path)
			break;
		*slash = '\0';
	}
	free(path);
	ar->day_dev = st.st_dev;
	ar->day_dir_ready = 1;
}

static char *
candidate(const struct archive *ar, const char *base, int suffix)
{
	if (suffix == 0)
		return xasprintf("%s/%s", ar->day_dir, base);
	return xasprintf("%s/%s.%d", ar->day_dir, base, suffix);
}

/* The first name, from suffix on, that nothing holds right now. */
static char *
free_name(const struct archive *ar, const char *base, int *suffix)
{
	struct stat st;

	for (; *suffix <= MAX_SUFFIX; (*suffix)++) {
		char *path = candidate(ar, base, *suffix);

		if (lstat(path, &st) != 0 && errno == ENOENT)
			return path;
		free(path);
	}
	return NULL;
}

static int
was_done(const struct archive *ar, const char *src)
{
	for (size_t i = 0; i < ar->done_count; i++)
		if (strcmp(ar->done[i], src) == 0)
			return 1;
	return 0;
}

static void
mark_done(struct archive *ar, const char *src, const char *dst)
{
	if (ar->done_count == ar->done_cap) {
		ar->done_cap = ar->done_cap ? ar->done_cap * 2 : 16;
		ar->done = xreallocarray(ar->done, ar->done_cap,
		    sizeof *ar->done);
	}
	ar->done[ar->done_count++] = xstrdup(src);
	/* each path as soon as it moved: a killed run still tells the truth */
	puts(dst);
	fflush(stdout);
}

static int
digest_differs(const struct expect *want, const char *hex)
{
	return want->sha256[0] != '\0' && strcasecmp(want->sha256, hex) != 0;
}

static int
changed(const char *src, const char *what)
{
	warn("%s: %s differs from the receipt: changed since delivery, "
	    "left in place", src, what);
	return EX_DATAERR;
}

/* Same filesystem: check the digest, then rename without replacing. */
static int
move_by_rename(struct archive *ar, const char *src, const char *base,
    const struct expect *want)
{
	char hex[SHA256_HEX_LEN + 1];
	int suffix = 0;
	char *dst;

	if (want->sha256[0] != '\0') {
		if (digest_file("sha256", src, hex, NULL) != 0) {
			warn("%s:", src);
			return EX_NOINPUT;
		}
		if (digest_differs(want, hex))
			return changed(src, "SHA-256");
	}
	while ((dst = free_name(ar, base, &suffix)) != NULL) {
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dst,
		    RENAME_NOREPLACE) == 0)
			break;
		if (errno == EINVAL && link(src, dst) == 0) {
			/* a filesystem without RENAME_NOREPLACE */
			if (unlink(src) != 0) {
				warn("%s: cannot remove, left in place:", src);
				unlink(dst);
				free(dst);
				return EX_IOERR;
			}
			break;
		}
		if (errno == EXDEV) {
			free(dst);
			return -1;
		}
		if (errno != EEXIST) {
			int status = errno == ENOENT ? EX_NOINPUT :
			    EX_CANTCREAT;

			warn("%s: cannot move to %s:", src, dst);
			free(dst);
			return status;
		}
		free(dst);
		suffix++;
	}
	if (dst == NULL) {
		warn("%s: no free name in %s", src, ar->day_dir);
		return EX_CANTCREAT;
	}
	if (fsync_parent_dir(dst) != 0 || fsync_parent_dir(src) != 0) {
		warn("%s: moved to %s, but cannot sync the directories:",
		    src, dst);
		mark_done(ar, src, dst);
		free(dst);
		return EX_IOERR;
	}
	mark_done(ar, src, dst);
	free(dst);
	return 0;
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t put = write(fd, buf, len);

		if (put < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += put;
		len -= (size_t)put;
	}
	return 0;
}

/*
 * Copies in to a temporary beside dst with the source's mode and times,
 * checking the digest on the way. Returns 0 with the temporary open in af,
 * or an exit status after a message.
 */
static int
copy_to_temp(int in, const char *src, const struct stat *st,
    const struct expect *want, const char *dst, struct atomic_file *af)
{
	unsigned char *buf;
	struct digest *d = NULL;
	char hex[SHA256_HEX_LEN + 1];
	ssize_t got;
	int status = 0;

	if (lseek(in, 0, SEEK_SET) != 0) {
		warn("%s:", src);
		return EX_IOERR;
	}
	if (atomic_open(af, dst, st->st_mode & 07777) != 0) {
		warn("%s: cannot create a temporary for %s:", src, dst);
		return EX_CANTCREAT;
	}
	if (want->sha256[0] != '\0')
		d = digest_new("sha256");
	buf = xmalloc(COPY_CHUNK);
	while ((got = read(in, buf, COPY_CHUNK)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			warn("%s:", src);
			status = EX_IOERR;
			break;
		}
		if (d != NULL)
			digest_update(d, buf, (size_t)got);
		if (write_all(af->fd, buf, (size_t)got) != 0) {
			warn("%s: cannot copy to %s:", src, dst);
			status = EX_IOERR;
			break;
		}
	}
	free(buf);
	if (d != NULL) {
		digest_final(d, hex, NULL);
		if (status == 0 && digest_differs(want, hex))
			status = changed(src, "SHA-256");
	}
	if (status == 0) {
		struct timespec times[2] = { st->st_atim, st->st_mtim };

		if (futimens(af->fd, times) != 0) {
			warn("%s: cannot set times:", dst);
			status = EX_IOERR;
		}
	}
	if (status != 0)
		atomic_abort(af);
	return status;
}

/* Another filesystem: copy, fsync, link into place, unlink the source. */
static int
move_by_copy(struct archive *ar, const char *src, const char *base,
    const struct expect *want)
{
	struct atomic_file af;
	struct stat st;
	int in, suffix = 0, status = 0;
	char *dst = NULL;

	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		warn("%s:", src);
		return EX_NOINPUT;
	}
	if (fstat(in, &st) != 0) {
		warn("%s:", src);
		close(in);
		return EX_NOINPUT;
	}
	if (want->have_bytes && (uint64_t)st.st_size != want->bytes) {
		close(in);
		return changed(src, "size");
	}
	for (;;) {
		dst = free_name(ar, base, &suffix);
		if (dst == NULL) {
			warn("%s: no free name in %s", src, ar->day_dir);
			status = EX_CANTCREAT;
			break;
		}
		status = copy_to_temp(in, src, &st, want, dst, &af);
		if (status != 0)
			break;
		/* link(): a name taken meanwhile fails EEXIST, never replaced */
		if (atomic_commit(&af, 1) == 0)
			break;
		if (errno != EEXIST) {
			warn("%s: cannot create %s:", src, dst);
			status = EX_CANTCREAT;
			break;
		}
		free(dst);
		suffix++;
	}
	close(in);
	if (status != 0) {
		free(dst);
		return status;
	}
	if (unlink(src) != 0) {
		/* undo the copy: the file is archived whole or not at all */
		warn("%s: cannot remove, left in place:", src);
		unlink(dst);
		fsync_parent_dir(dst);
		free(dst);
		return EX_IOERR;
	}
	if (fsync_parent_dir(src) != 0) {
		warn("%s: moved to %s, but cannot sync the directory:",
		    src, dst);
		status = EX_IOERR;
	}
	mark_done(ar, src, dst);
	free(dst);
	return status;
}

/* A copy of what *want describes (or, unchecked, of that name at all). */
static int
is_copy(const char *path, const struct stat *st, const struct expect *want)
{
	char hex[SHA256_HEX_LEN + 1];

	if (!S_ISREG(st->st_mode))
		return 0;
	if (want->have_bytes && (uint64_t)st->st_size != want->bytes)
		return 0;
	if (want->sha256[0] == '\0')
		return 1;
	return digest_file("sha256", path, hex, NULL) == 0 &&
	    !digest_differs(want, hex);
}

/*
 * src is gone: archived already by an earlier run (killed before it could
 * say so) when the day directory holds its copy under base, base.1, ...
 * Prints that path, as a move would have. 1 when found, else 0.
 */
static int
already_archived(struct archive *ar, const char *src,
    const struct expect *want)
{
	const char *slash = strrchr(src, '/');
	const char *base = slash != NULL ? slash + 1 : src;
	struct stat st;

	if (*base == '\0')
		return 0;
	for (int suffix = 0; suffix <= MAX_SUFFIX; suffix++) {
		char *path = candidate(ar, base, suffix);

		if (lstat(path, &st) != 0) {
			free(path);
			break;		/* names are taken in order: no more */
		}
		if (is_copy(path, &st, want)) {
			warn("%s: not there; archived already as %s", src,
			    path);
			mark_done(ar, src, path);
			free(path);
			return 1;
		}
		free(path);
	}
	return 0;
}

static int
archive_file(struct archive *ar, const char *src, const struct expect *want)
{
	char *copy, *base;
	struct stat st;
	int status;

	/* the same file delivered to two targets is one move */
	if (was_done(ar, src))
		return 0;
	if (lstat(src, &st) != 0) {
		int saved = errno;

		if (saved == ENOENT && already_archived(ar, src, want))
			return 0;
		errno = saved;
		warn("%s:", src);
		return EX_NOINPUT;
	}
	if (!S_ISREG(st.st_mode)) {
		warn("%s: not a regular file, left in place", src);
		return EX_DATAERR;
	}
	if (want->have_bytes && (uint64_t)st.st_size != want->bytes)
		return changed(src, "size");
	ready_day_dir(ar);
	/* a regular file's path never ends in '/': base is not empty */
	copy = xstrdup(src);
	base = strrchr(copy, '/') != NULL ? strrchr(copy, '/') + 1 : copy;
	status = -1;
	if (st.st_dev == ar->day_dev)
		status = move_by_rename(ar, src, base, want);
	/* -1: another filesystem (or a bind mount of the same one) */
	if (status == -1)
		status = move_by_copy(ar, src, base, want);
	free(copy);
	return status;
}

static int
read_header(struct receipt_reader *r, const struct csv_row *row)
{
	r->fields = row->count;
	r->col_file = r->col_bytes = r->col_sha256 = -1;
	for (size_t i = 0; i < row->count; i++) {
		if (strcmp(row->field[i], "file") == 0)
			r->col_file = (long)i;
		else if (strcmp(row->field[i], "bytes") == 0)
			r->col_bytes = (long)i;
		else if (strcmp(row->field[i], "sha256") == 0)
			r->col_sha256 = (long)i;
	}
	if (r->col_file < 0) {
		warn("%s: header has no file column", r->name);
		return EX_DATAERR;
	}
	return 0;
}

static int
parse_expect(const struct receipt_reader *r, const struct csv_row *row,
    struct expect *want)
{
	memset(want, 0, sizeof *want);
	if (r->col_bytes >= 0) {
		const char *s = row->field[r->col_bytes];
		char *end;

		errno = 0;
		want->bytes = strtoumax(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno != 0) {
			warn("%s: row %lu, column bytes: not a byte count",
			    r->name, row->row);
			return EX_DATAERR;
		}
		want->have_bytes = 1;
	}
	if (r->col_sha256 >= 0) {
		const char *s = row->field[r->col_sha256];
		size_t len = row->len[r->col_sha256];

		if (len != SHA256_HEX_LEN ||
		    strspn(s, "0123456789abcdefABCDEF") != len) {
			warn("%s: row %lu, column sha256: not a SHA-256",
			    r->name, row->row);
			return EX_DATAERR;
		}
		memcpy(want->sha256, s, len + 1);
	}
	return 0;
}

static int
on_receipt(struct csv_row *row, void *ctx)
{
	struct receipt_reader *r = ctx;
	struct expect want;
	int status;

	if (row->record == 1)
		return read_header(r, row);
	if (row->count != r->fields) {
		warn("%s: row %lu: %zu fields, the header has %zu", r->name,
		    row->row, row->count, r->fields);
		status = EX_DATAERR;
	} else if (row->len[r->col_file] == 0) {
		warn("%s: row %lu, column file: empty", r->name, row->row);
		status = EX_DATAERR;
	} else if (memchr(row->field[r->col_file], '\0',
	    row->len[r->col_file]) != NULL) {
		/* C would see a shorter name: another file, not this one */
		warn("%s: row %lu, column file: holds a NUL byte", r->name,
		    row->row);
		status = EX_DATAERR;
	} else if ((status = parse_expect(r, row, &want)) == 0)
		status = archive_file(r->ar, row->field[r->col_file], &want);
	/* a bad row stops only itself: the others still move */
	r->ar->status = worst_status(r->ar->status, status);
	return 0;
}

static void
archive_receipts(struct archive *ar)
{
	struct csv_read_opts opts = { .has_header = 1 };
	struct receipt_reader r = { .ar = ar, .name = "stdin" };
	int status;

	status = csv_read(stdin, r.name, &opts, on_receipt, &r);
	ar->status = worst_status(ar->status, status);
}

/* --to without trailing slashes, and the day directory under it */
static char *
day_dir_for(const char *to, const char *date)
{
	struct date_text dt;
	size_t len = strlen(to);
	int year, month, day;

	if (len == 0)
		die(EX_USAGE, "--to: empty directory name");
	while (len > 1 && to[len - 1] == '/')
		len--;
	if (date != NULL) {
		if (date_parse(date, strlen(date), &dt) != 0 ||
		    dt.layout != DATE_ISO || dt.date_len != strlen(date))
			die(EX_USAGE, "--date: %s: not a date (YYYY-MM-DD)",
			    date);
		year = dt.year;
		month = dt.month;
		day = dt.day;
	} else {
		time_t now = time(NULL);
		struct tm tm;

		if (localtime_r(&now, &tm) == NULL)
			die(EX_OSERR, "cannot read the clock:");
		year = tm.tm_year + 1900;
		month = tm.tm_mon + 1;
		day = tm.tm_mday;
	}
	return xasprintf("%.*s%s%04d/%02d/%02d", (int)len, to,
	    to[len - 1] == '/' ? "" : "/", year, month, day);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "date", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct archive ar = { 0 };
	const char *to = NULL, *date = NULL;
	static const struct expect unchecked;
	int c;

	setprogname(argv[0]);
	while ((c = opt_next(argc, argv, "+t:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			to = optarg;
			break;
		case 'd':
			date = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (to == NULL)
		usage();
	ar.day_dir = day_dir_for(to, date);

	if (argc == 0)
		archive_receipts(&ar);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			archive_receipts(&ar);
		else
			ar.status = worst_status(ar.status,
			    archive_file(&ar, argv[i], &unchecked));
	}

	for (size_t i = 0; i < ar.done_count; i++)
		free(ar.done[i]);
	free(ar.done);
	free(ar.day_dir);
	finish_stdout();
	return ar.status;
}
