/* box-get: download the files of a Box folder, each atomically */
#include <dirent.h>
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
#include "box.h"
#include "csvio.h"
#include "err.h"
#include "fname.h"
#include "mem.h"
#include "opt.h"
#include "receipt.h"
#include "secret.h"

/* How many 202 "not ready yet" answers a download may get. */
#define DOWNLOAD_WAITS	30

struct item {
	char *id;
	char *name;
	char *sha1;
	char *etag;
	json_int_t size;	/* -1 when Box did not say */
};

struct listing {
	const char *pattern;
	struct item *item;
	size_t count;
	int bad_names;
};

static void
usage(void)
{
	fprintf(stderr, "usage: %s (--folder id | --folder-path a/b/c) "
	    "[--pattern glob] --to dir\n"
	    "       [--delete-after] [--require]\n"
	    "       %s (--folder id | --folder-path a/b/c) "
	    "[--pattern glob] --list\n"
	    "       " BOXOPT_USAGE "\n", progname, progname);
	exit(EX_USAGE);
}

static int
collect(const json_t *entry, void *ctx)
{
	struct listing *l = ctx;
	const char *type = box_str(entry, "type"), *name = box_str(entry,
	    "name"), *id = box_str(entry, "id");
	json_t *size = json_object_get(entry, "size");
	struct item *it;
	const char *why;

	if (type == NULL || strcmp(type, "file") != 0 || name == NULL ||
	    id == NULL || fnmatch(l->pattern, name, FNM_PERIOD) != 0)
		return 0;
	/* A name that stays inside --to, whatever the server lists. */
	if ((why = fname_refusal(name, strlen(name))) != NULL) {
		char *quoted = fname_quote(name, strlen(name));

		warn("folder item %s: Box lists \"%s\", %s; refused, not "
		    "downloaded", id, quoted, why);
		free(quoted);
		l->bad_names = 1;
		return 0;
	}
	l->item = xreallocarray(l->item, l->count + 1, sizeof *l->item);
	it = &l->item[l->count++];
	it->id = xstrdup(id);
	it->name = xstrdup(name);
	it->sha1 = box_str(entry, "sha1") != NULL ?
	    xstrdup(box_str(entry, "sha1")) : NULL;
	it->etag = box_str(entry, "etag") != NULL ?
	    xstrdup(box_str(entry, "etag")) : NULL;
	it->size = json_is_integer(size) ? json_integer_value(size) : -1;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->name,
	    ((const struct item *)b)->name);
}

static void
free_listing(struct listing *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->item[i].id);
		free(l->item[i].name);
		free(l->item[i].sha1);
		free(l->item[i].etag);
	}
	free(l->item);
}

/* GET /files/ID/content (following the 302) into fd. */
static int
fetch(struct box *b, const struct item *it, int fd, const char *what)
{
	struct box_request rq = { .method = "GET", .out_fd = fd };
	struct box_response rs = { 0 };
	char *url = box_api_url(b, "/files/%s/content", it->id);
	int status;

	rq.url = url;
	/* Uploaded a moment ago: Box says when it is ready. */
	status = box_request_ready(b, &rq, &rs, what, DOWNLOAD_WAITS,
	    "Box kept saying the file is not ready");
	if (status == 0 && rs.http != 200)
		status = box_http_fail(&rs, what);
	box_response_free(&rs);
	free(url);
	return status;
}

/* DELETE /files/ID, only if it is still the version downloaded. */
static int
delete_original(struct box *b, const struct item *it, const char *what)
{
	struct box_request rq = { .method = "DELETE", .out_fd = -1 };
	struct box_response rs = { 0 };
	char *url = box_api_url(b, "/files/%s", it->id);
	char *if_match = it->etag != NULL ? xasprintf("If-Match: %s",
	    it->etag) : NULL;
	const char *headers[] = { if_match, NULL };
	int status;

	rq.url = url;
	rq.headers = headers;
	status = box_request(b, &rq, &rs, what);
	if (status != 0)
		;
	else if (rs.http == 412) {
		warn("%s: changed on Box since it was listed; the Box file is "
		    "kept", what);
		status = EX_TEMPFAIL;
	} else if (rs.http == 404)
		warn("%s: already gone from Box", what);
	else if (rs.http != 204)
		status = box_http_fail(&rs, what);
	box_response_free(&rs);
	free(url);
	free(if_match);
	return status;
}

/*
 * The temporaries .NAME.XXXXXX (atomic_open's) of name in dir that a
 * killed run left: removed before name is fetched again, whatever their
 * age (they hold what was downloaded, patient data perhaps).
 */
static void
remove_leftovers(const char *dir, const char *name)
{
	size_t nlen = strlen(name);
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;

		if (n[0] == '.' && strlen(n) == nlen + 8 &&
		    strncmp(n + 1, name, nlen) == 0 && n[nlen + 1] == '.' &&
		    unlinkat(dirfd(d), n, 0) != 0 && errno != ENOENT)
			warn("%s/%s: cannot remove a killed run's temporary:",
			    dir, n);
	}
	closedir(d);
}

/* --list: what the folder holds that matches, without fetching it. */
static void
list_items(const struct listing *l)
{
	struct csv_writer w;
	char bytes[32];

	csv_writer_init(&w, stdout);
	csv_write_str(&w, "name");
	csv_write_str(&w, "id");
	csv_write_str(&w, "bytes");
	csv_write_str(&w, "sha1");
	csv_write_end(&w);
	for (size_t i = 0; i < l->count; i++) {
		const struct item *it = &l->item[i];

		if (it->size >= 0)
			snprintf(bytes, sizeof bytes, "%lld",
			    (long long)it->size);
		else
			bytes[0] = '\0';
		csv_write_str(&w, it->name);
		csv_write_str(&w, it->id);
		csv_write_str(&w, bytes);
		csv_write_str(&w, it->sha1 != NULL ? it->sha1 : "");
		csv_write_end(&w);
	}
	csv_writer_flush(&w);
}

/*
 * One file: temporary, download, check size and SHA-1, fsync and rename,
 * then the Box original deleted. Returns a status; *kept says the local
 * copy is in place (and gets a receipt) whatever the status.
 */
static int
get_file(struct box *b, const char *folder_id, const char *dir, int dirfd,
    const struct item *it, int delete_after, struct csv_writer *w)
{
	char *local = xasprintf("%s/%s", dir, it->name), *target;
	char *what = xasprintf("%s (file %s)", it->name, it->id);
	struct atomic_file af;
	struct box_hashes h;
	int status;

	remove_leftovers(dir, it->name);
	if (atomic_openat(&af, dirfd, it->name, 0600) != 0) {
		warn("%s: cannot create a temporary:", local);
		status = EX_CANTCREAT;
		goto out;
	}
	status = fetch(b, it, af.fd, what);
	if (status == 0 && box_hash_fd(af.fd, &h) != 0) {
		warn("%s: cannot read back:", af.tmp);
		status = EX_IOERR;
	}
	if (status == 0)
		status = box_verify(what, it->sha1, it->size, &h,
		    "the download");
	if (status != 0) {
		atomic_abort(&af);
		goto out;
	}
	if (atomic_commit(&af, 0) != 0) {
		int saved = errno;

		warn("%s:", local);
		status = saved == ENOSPC || saved == EIO || saved == EDQUOT ?
		    EX_IOERR : EX_CANTCREAT;
		goto out;
	}
	/* Verified and on disk: only now may the original go. */
	if (delete_after)
		status = delete_original(b, it, what);
	target = box_target(folder_id, it->name, it->id);
	receipt_row(w, local, h.bytes, h.sha256, target);
	fflush(stdout);
	free(target);
out:
	free(local);
	free(what);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "folder", required_argument, NULL, 'f' },
		{ "folder-path", required_argument, NULL, 'p' },
		{ "pattern", required_argument, NULL, 'P' },
		{ "to", required_argument, NULL, 'o' },
		{ "delete-after", no_argument, NULL, 'D' },
		{ "require", no_argument, NULL, 'q' },
		{ "list", no_argument, NULL, 'l' },
		BOXOPT_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct box_opts bo;
	struct listing list = { .pattern = "*" };
	struct box box;
	struct csv_writer w;
	const char *folder = NULL, *folder_path = NULL, *dir = NULL;
	char *folder_id = NULL;
	int ch, delete_after = 0, require = 0, list_only = 0, status = 0, rc;
	int idx = 0, dirfd = -1;

	setprogname(argv[0]);
	box_opts_init(&bo);
	while ((ch = opt_next(argc, argv, "+", longopts, &idx)) != -1) {
		switch (ch) {
		case 'f':
			folder = optarg;
			break;
		case 'p':
			folder_path = optarg;
			break;
		case 'P':
			list.pattern = optarg;
			break;
		case 'o':
			dir = optarg;
			break;
		case 'D':
			delete_after = 1;
			break;
		case 'q':
			require = 1;
			break;
		case 'l':
			list_only = 1;
			break;
		default:
			if (!box_opts_apply(&bo, ch, longopts[idx].name,
			    optarg))
				usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || (dir == NULL) != list_only ||
	    (list_only && delete_after) || (folder == NULL) ==
	    (folder_path == NULL))
		usage();
	if (folder != NULL && !box_is_id(folder))
		die(EX_USAGE, "%s: a Box folder id is a number", folder);
	if (dir != NULL &&
	    (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(EX_CANTCREAT, "%s: not a directory", dir);

	signal(SIGPIPE, SIG_IGN);
	box_open(&box, &bo);
	if (!list_only) {
		csv_writer_init(&w, stdout);
		receipt_header(&w);
		fflush(stdout);
	}
	if (folder_path != NULL)
		status = box_folder_path(&box, folder_path, 0, &folder_id);
	else
		folder_id = xstrdup(folder);
	if (status == 0)
		status = box_folder_items(&box, folder_id,
		    "type,id,name,size,sha1,etag", collect, &list);
	if (status == 0 && list.bad_names)
		status = EX_DATAERR;
	if (status == 0 && list.count == 0 && !list.bad_names) {
		warn("folder %s: no file matches %s", folder_id, list.pattern);
		status = require ? EX_NOINPUT : 0;
	}
	if (list.count > 0)
		qsort(list.item, list.count, sizeof *list.item, by_name);
	if (list_only) {
		if (status == 0 || status == EX_DATAERR)
			list_items(&list);
	}
	for (size_t i = 0; !list_only && i < list.count; i++) {
		rc = get_file(&box, folder_id, dir, dirfd, &list.item[i],
		    delete_after, &w);
		status = worst_status(status, rc);
		/* The service or the login failing fails every file alike. */
		if (box_fails_all(rc))
			break;
	}
	free_listing(&list);
	box_close(&box);
	free(folder_id);
	if (dirfd >= 0)
		close(dirfd);
	finish_stdout();
	return status;
}
