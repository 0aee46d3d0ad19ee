/* box-upload: upload files into a Box folder, as new files or versions */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "box.h"
#include "csvio.h"
#include "digest.h"
#include "err.h"
#include "jwt.h"
#include "mem.h"
#include "opt.h"
#include "receipt.h"
#include "secret.h"

/* Larger files go up in an upload session (Box: "over 50MB"). */
#define SESSION_THRESHOLD	50000000ull
/* A part size beyond this is not one Box would choose. */
#define PART_SIZE_MAX		(512ull * 1024 * 1024)
/* How many 202 "still processing" answers a commit may get. */
#define COMMIT_WAITS		60
/* list_parts asked for this many parts a page (Box's most). */
#define PARTS_PAGE		1000

/*
 * --resume DIR (or BOX_RESUME_DIR): an upload session's endpoints are kept
 * there while its parts go up, so that a run killed or cut off half-way is
 * continued by the next one from the parts Box already has.
 */
static const char *resume_dir;

struct upload {
	const char *path;	/* as given, for messages and the receipt */
	const char *name;	/* the Box name */
	const char *folder_id;
	int fd;
	struct box_hashes local;
	char *file_id;		/* the existing file, for a new version */
	char *box_name;		/* its name on Box (the case may differ) */
	char *prev_version;	/* its current version before ours, or NULL */
	json_t *result;		/* Box's file object after the upload */
	char *resume_path;	/* its session's file under resume_dir */
};

static void
usage(void)
{
	fprintf(stderr, "usage: %s (--folder id | --folder-path a/b/c "
	    "[--mkdir])\n"
	    "       [--resume dir] " BOXOPT_USAGE " file ...\n", progname);
	exit(EX_USAGE);
}

/* Box refuses these names; say so before sending anything. */
static int
valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= 255 && strchr(name, '\\') == NULL &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	    name[len - 1] != ' ';
}

/* The conflict of a 409 when it is a file: its id, for a new version. */
static int
take_conflict(struct upload *up, const struct box_response *rs,
    const char *what)
{
	const json_t *c = box_conflict(rs->json);
	const char *type = box_str(c, "type"), *id = box_str(c, "id");

	if (type != NULL && strcmp(type, "file") == 0 && id != NULL) {
		const json_t *version = json_object_get(c, "file_version");

		free(up->file_id);
		free(up->box_name);
		free(up->prev_version);
		up->prev_version = box_str(version, "id") != NULL ?
		    xstrdup(box_str(version, "id")) : NULL;
		up->file_id = xstrdup(id);
		up->box_name = box_str(c, "name") != NULL ?
		    xstrdup(box_str(c, "name")) : NULL;
		return 0;
	}
	if (type != NULL && strcmp(type, "folder") == 0) {
		warn("%s: a folder of that name is in the way", what);
		return EX_CANTCREAT;
	}
	return box_http_fail(rs, what);
}

/* OPTIONS /files/content: a new file, a new version, or a refusal. */
static int
preflight(struct box *b, struct upload *up, const char *what)
{
	struct box_request rq = { .method = "OPTIONS", .out_fd = -1 };
	struct box_response rs = { 0 };
	char *url = box_api_url(b, "/files/content");
	int status;

	rq.url = url;
	rq.json = json_pack("{s:s, s:{s:s}, s:I}", "name", up->name, "parent",
	    "id", up->folder_id, "size", (json_int_t)up->local.bytes);
	status = box_request(b, &rq, &rs, what);
	if (status == 0 && rs.http == 409)
		status = take_conflict(up, &rs, what);
	else if (status == 0 && rs.http != 200)
		status = box_http_fail(&rs, what);
	box_response_free(&rs);
	json_decref(rq.json);
	free(url);
	return status;
}

/* Keeps Box's file object from {entries:[file]}. */
static int
keep_result(struct upload *up, struct box_response *rs, const char *what)
{
	json_t *file = json_array_get(json_object_get(rs->json, "entries"),
	    0);

	if (!json_is_object(file) || box_str(file, "id") == NULL) {
		warn("%s: Box's answer names no file", what);
		return EX_UNAVAILABLE;
	}
	json_decref(up->result);
	up->result = json_incref(file);
	return 0;
}

/* Status for a 400 that says the bytes did not arrive as sent. */
static int
digest_refused(const struct box_response *rs, const char *what)
{
	const char *code = box_str(rs->json, "code");

	if (rs->http == 400 && code != NULL && strstr(code, "digest") !=
	    NULL) {
		box_http_fail(rs, what);
		return EX_IOERR;
	}
	return box_http_fail(rs, what);
}

struct form {
	const char *attrs;	/* the attributes part, JSON */
	const char *name;
	char fdpath[64];	/* the very file hashed, by its descriptor */
};

/* attributes first, then file: Box refuses them the other way round. */
static curl_mime *
make_form(CURL *curl, void *ctx)
{
	const struct form *f = ctx;
	curl_mime *mime = curl_mime_init(curl);
	curl_mimepart *part;

	if (mime == NULL)
		die(EX_OSERR, "out of memory");
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "attributes");
	curl_mime_data(part, f->attrs, CURL_ZERO_TERMINATED);
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "file");
	curl_mime_filedata(part, f->fdpath);
	curl_mime_filename(part, f->name);
	curl_mime_type(part, "application/octet-stream");
	return mime;
}

/* A multipart POST of the whole file, with its SHA-1 as Content-MD5. */
static int
upload_simple(struct box *b, struct upload *up, const char *what,
    int *conflict)
{
	struct box_request rq = { .method = "POST", .out_fd = -1 };
	struct box_response rs = { 0 };
	struct form form = { .name = up->name };
	json_t *attrs;
	char *attrs_text, *url, *md5 = xasprintf("Content-MD5: %s",
	    up->local.sha1);
	const char *headers[] = { md5, NULL };
	int status;

	if (up->file_id != NULL) {
		/* A new version keeps the name the file has on Box. */
		url = box_upload_url(b, "/files/%s/content", up->file_id);
		attrs = json_pack("{s:s}", "name", up->box_name != NULL ?
		    up->box_name : up->name);
	} else {
		url = box_upload_url(b, "/files/content");
		attrs = json_pack("{s:s, s:{s:s}}", "name", up->name, "parent",
		    "id", up->folder_id);
	}
	attrs_text = json_dumps(attrs, JSON_COMPACT);
	json_decref(attrs);
	form.attrs = attrs_text;
	snprintf(form.fdpath, sizeof form.fdpath, "/proc/self/fd/%d", up->fd);
	rq.url = url;
	rq.mime = make_form;
	rq.mime_ctx = &form;
	rq.headers = headers;
	status = box_request(b, &rq, &rs, what);
	if (status != 0)
		goto out;
	if (rs.http == 409 && up->file_id == NULL) {
		/* Created by someone else since the pre-flight check. */
		status = take_conflict(up, &rs, what);
		if (status == 0)
			*conflict = 1;
	} else if (rs.http == 201 || rs.http == 200)
		status = keep_result(up, &rs, what);
	else
		status = digest_refused(&rs, what);
out:
	box_response_free(&rs);
	free(attrs_text);
	free(url);
	free(md5);
	return status;
}

static char *
digest_header(const unsigned char *sha1_raw)
{
	char *b64 = base64_encode(sha1_raw, 20);
	char *header = xasprintf("Digest: sha=%s", b64);

	free(b64);
	return header;
}

/* Best effort: a failed session should not hold Box's parts. */
static void
abort_session(struct box *b, const char *abort_url, const char *what)
{
	struct box_request rq = { .method = "DELETE", .out_fd = -1 };
	struct box_response rs = { 0 };
	int saved_retries = b->opts.retries;

	if (abort_url == NULL)
		return;
	rq.url = abort_url;
	b->opts.retries = 0;
	if (box_request(b, &rq, &rs, what) == 0 && rs.http != 204)
		warn("%s: the upload session was not aborted (HTTP %ld)",
		    what, rs.http);
	b->opts.retries = saved_retries;
	box_response_free(&rs);
}

/* PUT one part; Box's record of it is appended to parts. */
static int
put_part(struct box *b, const char *part_url, const unsigned char *buf,
    uint64_t offset, size_t len, uint64_t total, json_t *parts,
    const char *what)
{
	struct box_request rq = { .method = "PUT", .out_fd = -1 };
	struct box_response rs = { 0 };
	struct digest *d = digest_new("sha1");
	unsigned char raw[20];
	char hex[41], *digest, *range;
	const char *headers[4];
	json_t *part;
	int status;

	digest_update(d, buf, len);
	digest_final(d, hex, raw);
	digest = digest_header(raw);
	range = xasprintf("Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%"
	    PRIu64, offset, offset + len - 1, total);
	headers[0] = digest;
	headers[1] = range;
	headers[2] = "Content-Type: application/octet-stream";
	headers[3] = NULL;
	rq.url = part_url;
	rq.data = buf;
	rq.data_len = len;
	rq.headers = headers;
	status = box_request(b, &rq, &rs, what);
	if (status != 0)
		goto out;
	if (rs.http != 200) {
		status = digest_refused(&rs, what);
		goto out;
	}
	part = json_object_get(rs.json, "part");
	if (!json_is_object(part) || box_str(part, "part_id") == NULL) {
		warn("%s: Box's answer names no part", what);
		status = EX_UNAVAILABLE;
		goto out;
	}
	if (box_str(part, "sha1") != NULL &&
	    strcasecmp(box_str(part, "sha1"), hex) != 0) {
		warn("%s: Box holds SHA-1 %s for the part at %" PRIu64
		    ", %s was sent", what, box_str(part, "sha1"), offset, hex);
		status = EX_IOERR;
		goto out;
	}
	json_array_append(parts, part);
out:
	box_response_free(&rs);
	free(digest);
	free(range);
	return status;
}

static int
commit_session(struct box *b, struct upload *up, const char *commit_url,
    json_t *parts, const unsigned char *sha1_raw, const char *what,
    int *conflict)
{
	struct box_request rq = { .method = "POST", .out_fd = -1 };
	struct box_response rs = { 0 };
	char *digest = digest_header(sha1_raw);
	const char *headers[] = { digest, NULL };
	int status;

	rq.url = commit_url;
	rq.json = json_pack("{s:O}", "parts", parts);
	rq.headers = headers;
	/* Parts still being processed: Box says when to ask again. */
	status = box_request_ready(b, &rq, &rs, what, COMMIT_WAITS,
	    "Box is still processing the parts; giving up");
	if (status == 0) {
		if (rs.http == 201 || rs.http == 200)
			status = keep_result(up, &rs, what);
		else if (rs.http == 409 && up->file_id == NULL) {
			status = take_conflict(up, &rs, what);
			if (status == 0)
				*conflict = 1;
		} else
			status = digest_refused(&rs, what);
	}
	box_response_free(&rs);
	json_decref(rq.json);
	free(digest);
	return status;
}

/*
 * The session file of an upload: named by the SHA-256 of what it is for
 * (folder, name, the file's SHA-1 and size, the file it versions), so that
 * no file name is written to disk and other content starts afresh.
 */
static char *
resume_path(const struct upload *up)
{
	struct digest *d = digest_new("sha256");
	char hex[65], size[24];

	snprintf(size, sizeof size, "%" PRIu64, up->local.bytes);
	digest_update(d, up->folder_id, strlen(up->folder_id) + 1);
	digest_update(d, up->name, strlen(up->name) + 1);
	digest_update(d, up->local.sha1, strlen(up->local.sha1) + 1);
	digest_update(d, size, strlen(size) + 1);
	if (up->file_id != NULL)
		digest_update(d, up->file_id, strlen(up->file_id) + 1);
	digest_final(d, hex, NULL);
	return xasprintf("%s/box-session-%s.json", resume_dir, hex);
}

/* Keeps Box's session answer for the next run (0600, atomically). */
static void
resume_save(const struct upload *up, const json_t *session)
{
	struct atomic_file af;

	if (up->resume_path == NULL)
		return;
	if (mkdir_p(resume_dir, 0700) != 0 ||
	    atomic_open(&af, up->resume_path, 0600) != 0) {
		warn("%s: cannot keep the upload session for --resume:",
		    resume_dir);
		return;
	}
	if (json_dumpf(session, af.fp, JSON_COMPACT) != 0 ||
	    atomic_commit(&af, 0) != 0) {
		warn("%s: cannot keep the upload session for --resume:",
		    resume_dir);
		atomic_abort(&af);
	}
}

static void
resume_forget(const struct upload *up)
{
	if (up->resume_path != NULL && unlink(up->resume_path) != 0 &&
	    errno != ENOENT)
		warn("%s:", up->resume_path);
}

/*
 * The session a killed or cut-off run left, when Box still has it: its
 * JSON (the caller frees it), and the parts already uploaded into *have.
 * NULL when there is none to go on with.
 */
static json_t *
resume_load(struct box *b, const struct upload *up, json_t **have,
    const char *what)
{
	struct box_request rq = { .method = "GET", .out_fd = -1 };
	struct box_response rs = { 0 };
	json_t *session;
	const json_t *ends;
	const char *status_url, *parts_url;

	*have = NULL;
	if (up->resume_path == NULL ||
	    (session = json_load_file(up->resume_path, 0, NULL)) == NULL)
		return NULL;
	ends = json_object_get(session, "session_endpoints");
	status_url = box_str(ends, "status");
	parts_url = box_str(ends, "list_parts");
	if (status_url == NULL || parts_url == NULL)
		goto gone;
	rq.url = status_url;
	if (box_request(b, &rq, &rs, what) != 0 || rs.http != 200)
		goto gone;
	box_response_free(&rs);
	*have = json_array();
	for (json_int_t offset = 0;;) {
		char *url = xasprintf("%s%soffset=%" JSON_INTEGER_FORMAT
		    "&limit=%d", parts_url, strchr(parts_url, '?') ? "&" : "?",
		    offset, PARTS_PAGE);
		const json_t *entries;
		json_int_t total;

		rq.url = url;
		memset(&rs, 0, sizeof rs);
		if (box_request(b, &rq, &rs, what) != 0 || rs.http != 200) {
			free(url);
			goto gone;
		}
		free(url);
		entries = json_object_get(rs.json, "entries");
		total = json_integer_value(json_object_get(rs.json,
		    "total_count"));
		if (!json_is_array(entries))
			goto gone;
		json_array_extend(*have, (json_t *)entries);
		offset += (json_int_t)json_array_size(entries);
		box_response_free(&rs);
		if (json_array_size(entries) == 0 || offset >= total)
			break;
	}
	return session;
gone:
	/* expired, committed or aborted meanwhile: start again */
	box_response_free(&rs);
	json_decref(*have);
	*have = NULL;
	json_decref(session);
	resume_forget(up);
	return NULL;
}

/* Box's record of the part at offset, when it is the bytes we hold. */
static json_t *
part_already_there(const json_t *have, uint64_t offset, size_t len,
    const unsigned char *buf)
{
	size_t i;
	json_t *part;

	json_array_foreach(have, i, part) {
		struct digest *d;
		char hex[41];

		if (json_integer_value(json_object_get(part, "offset")) !=
		    (json_int_t)offset ||
		    json_integer_value(json_object_get(part, "size")) !=
		    (json_int_t)len || box_str(part, "sha1") == NULL)
			continue;
		d = digest_new("sha1");
		digest_update(d, buf, len);
		digest_final(d, hex, NULL);
		return strcasecmp(box_str(part, "sha1"), hex) == 0 ? part :
		    NULL;
	}
	return NULL;
}

/* An upload session: parts of Box's part_size, each with its SHA-1. */
static int
upload_session(struct box *b, struct upload *up, const char *what,
    int *conflict)
{
	struct box_request rq = { .method = "POST", .out_fd = -1 };
	struct box_response rs = { 0 };
	const json_t *ends;
	json_t *parts = json_array(), *session, *have = NULL, *found;
	struct digest *whole = NULL;
	unsigned char *buf = NULL, raw[20];
	char hex[41], *url, *part_url = NULL, *commit_url = NULL,
	    *abort_url = NULL;
	json_int_t part_size;
	uint64_t offset;
	size_t reused = 0;
	int status;

	if (resume_dir != NULL)
		up->resume_path = resume_path(up);
	if ((session = resume_load(b, up, &have, what)) != NULL) {
		rs.http = 201;
		rs.json = session;
		status = 0;
		goto have_session;
	}
	if (up->file_id != NULL) {
		url = box_upload_url(b, "/files/%s/upload_sessions",
		    up->file_id);
		rq.json = json_pack("{s:I}", "file_size",
		    (json_int_t)up->local.bytes);
	} else {
		url = box_upload_url(b, "/files/upload_sessions");
		rq.json = json_pack("{s:s, s:I, s:s}", "folder_id",
		    up->folder_id, "file_size", (json_int_t)up->local.bytes,
		    "file_name", up->name);
	}
	rq.url = url;
	status = box_request(b, &rq, &rs, what);
	json_decref(rq.json);
	free(url);
	if (status != 0)
		goto out;
	if (rs.http == 409 && up->file_id == NULL) {
		status = take_conflict(up, &rs, what);
		if (status == 0)
			*conflict = 1;
		goto out;
	}
	if (rs.http != 201) {
		status = box_http_fail(&rs, what);
		goto out;
	}
	resume_save(up, rs.json);
have_session:
	part_size = json_integer_value(json_object_get(rs.json, "part_size"));
	ends = json_object_get(rs.json, "session_endpoints");
	if (box_str(ends, "abort") != NULL)
		abort_url = xstrdup(box_str(ends, "abort"));
	if (box_str(ends, "upload_part") != NULL)
		part_url = xstrdup(box_str(ends, "upload_part"));
	if (box_str(ends, "commit") != NULL)
		commit_url = xstrdup(box_str(ends, "commit"));
	if (part_size <= 0 || (uint64_t)part_size > PART_SIZE_MAX ||
	    part_url == NULL || commit_url == NULL) {
		warn("%s: Box's upload session has no usable part_size or "
		    "endpoints", what);
		status = EX_UNAVAILABLE;
		goto out;
	}
	buf = xmalloc((size_t)part_size);
	whole = digest_new("sha1");
	for (offset = 0; offset < up->local.bytes; ) {
		uint64_t left = up->local.bytes - offset;
		size_t want = left < (uint64_t)part_size ? (size_t)left :
		    (size_t)part_size, got = 0;

		while (got < want) {
			ssize_t n = pread(up->fd, buf + got, want - got,
			    (off_t)(offset + got));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					errno = EIO;
				warn("%s: read error:", up->path);
				status = EX_IOERR;
				goto out;
			}
			got += (size_t)n;
		}
		digest_update(whole, buf, want);
		if (have != NULL && (found = part_already_there(have, offset,
		    want, buf)) != NULL) {
			json_array_append(parts, found);
			reused++;
		} else if ((status = put_part(b, part_url, buf, offset, want,
		    up->local.bytes, parts, what)) != 0)
			goto out;
		offset += want;
	}
	if (have != NULL)
		warn("%s: went on with Box's upload session of an earlier run: "
		    "%zu of %zu parts were already there", what, reused,
		    json_array_size(parts));
	digest_final(whole, hex, raw);
	whole = NULL;
	if (strcmp(hex, up->local.sha1) != 0) {
		warn("%s: changed while it was being uploaded", up->path);
		status = EX_IOERR;
		goto out;
	}
	status = commit_session(b, up, commit_url, parts, raw, what,
	    conflict);
out:
	if (whole != NULL)
		digest_final(whole, NULL, NULL);
	if (status == EX_TEMPFAIL && up->resume_path != NULL)
		/* worth a retry: the parts stay on Box for the next run */
		warn("%s: the upload session is kept for the next run "
		    "(--resume)", what);
	else if (status != 0) {
		abort_session(b, abort_url, what);
		resume_forget(up);
	} else
		resume_forget(up);
	box_response_free(&rs);
	json_decref(have);
	json_decref(parts);
	free(buf);
	free(part_url);
	free(commit_url);
	free(abort_url);
	return status;
}

/* Box's SHA-1 and size of what it now holds must be the local file's. */
static int
verify(const struct upload *up, const char *what)
{
	json_t *size = json_object_get(up->result, "size");

	return box_verify(what, box_str(up->result, "sha1"),
	    json_is_integer(size) ? json_integer_value(size) : -1, &up->local,
	    "the local file");
}

/*
 * What failed the check must not stay under the name: the version before
 * ours is made current again (Box copies it to the top), or a file that
 * is new goes to the trash. Says what was done; 0, or a status.
 */
static int
withdraw(struct box *b, const struct upload *up, const char *what)
{
	struct box_request rq = { .out_fd = -1 };
	struct box_response rs = { 0 };
	const char *id = box_str(up->result, "id");
	json_t *body = NULL;
	char *url;
	int status;

	if (id == NULL || !box_is_id(id)) {
		warn("%s: Box named no file id: check the folder by hand", what);
		return EX_IOERR;
	}
	if (up->prev_version != NULL) {
		rq.method = "POST";
		url = box_api_url(b, "/files/%s/versions/current", id);
		body = json_pack("{s:s, s:s}", "type", "file_version", "id",
		    up->prev_version);
		rq.json = body;
	} else {
		rq.method = "DELETE";
		url = box_api_url(b, "/files/%s", id);
	}
	rq.url = url;
	status = box_request(b, &rq, &rs, what);
	if (status == 0 && rs.http != (up->prev_version != NULL ? 201 : 204))
		status = box_http_fail(&rs, what);
	if (status == 0)
		warn("%s: %s", what, up->prev_version != NULL ?
		    "the version before is current again on Box" :
		    "the unverified upload was moved to Box's trash");
	else
		warn("%s: the unverified upload is still on Box as file %s: "
		    "remove it by hand", what, id);
	box_response_free(&rs);
	json_decref(body);
	free(url);
	return status;
}

/* GET /folders/ID: a wrong id fails once, not once per file. */
static int
check_folder(struct box *b, const char *folder_id)
{
	struct box_request rq = { .method = "GET", .out_fd = -1 };
	struct box_response rs = { 0 };
	char *url = box_api_url(b, "/folders/%s?fields=id,name", folder_id);
	char *what = xasprintf("folder %s", folder_id);
	int status;

	rq.url = url;
	status = box_request(b, &rq, &rs, what);
	if (status == 0 && rs.http != 200)
		status = box_http_fail(&rs, what);
	box_response_free(&rs);
	free(url);
	free(what);
	return status;
}

static int
upload_file(struct box *b, const char *folder_id, const char *path,
    struct csv_writer *w)
{
	struct upload up = { .path = path, .folder_id = folder_id, .fd = -1 };
	char *copy = xstrdup(path), *target;
	const char *what = path;
	struct stat st;
	int status, conflict, tries;

	up.name = basename(copy);
	if (!valid_name(up.name)) {
		warn("%s: not a name Box accepts (1 to 255 bytes, no '\\', "
		    "no trailing space, not . or ..)", path);
		status = EX_DATAERR;
		goto out;
	}
	up.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (up.fd < 0 || fstat(up.fd, &st) != 0) {
		warn("%s:", path);
		status = EX_NOINPUT;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		warn("%s: not a regular file", path);
		status = EX_NOINPUT;
		goto out;
	}
	if (box_hash_fd(up.fd, &up.local) != 0) {
		warn("%s: read error:", path);
		status = EX_IOERR;
		goto out;
	}
	status = preflight(b, &up, what);
	/* A name taken after the check: once more, as a new version. */
	for (tries = 0; status == 0 && tries < 2; tries++) {
		conflict = 0;
		if (up.local.bytes > SESSION_THRESHOLD)
			status = upload_session(b, &up, what, &conflict);
		else
			status = upload_simple(b, &up, what, &conflict);
		if (!conflict)
			break;
	}
	if (status == 0 && up.result == NULL) {
		warn("%s: the name kept changing hands on Box", what);
		status = EX_TEMPFAIL;
	}
	if (status == 0 && (status = verify(&up, what)) != 0)
		withdraw(b, &up, what);
	if (status != 0)
		goto out;
	target = box_target(folder_id, box_str(up.result, "name") != NULL ?
	    box_str(up.result, "name") : up.name, box_str(up.result, "id"));
	receipt_row(w, path, up.local.bytes, up.local.sha256, target);
	fflush(stdout);
	free(target);
out:
	if (up.fd >= 0)
		close(up.fd);
	json_decref(up.result);
	free(up.resume_path);
	free(up.file_id);
	free(up.box_name);
	free(up.prev_version);
	free(copy);
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "folder", required_argument, NULL, 'f' },
		{ "folder-path", required_argument, NULL, 'p' },
		{ "mkdir", no_argument, NULL, 'm' },
		{ "resume", required_argument, NULL, 'r' },
		BOXOPT_LONG,
		{ NULL, 0, NULL, 0 }
	};
	struct box_opts bo;
	struct box box;
	struct csv_writer w;
	const char *folder = NULL, *folder_path = NULL;
	char *folder_id = NULL;
	int ch, make = 0, status = 0, folder_ok, st, i, idx = 0;

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
		case 'm':
			make = 1;
			break;
		case 'r':
			resume_dir = optarg;
			break;
		default:
			if (!box_opts_apply(&bo, ch, longopts[idx].name,
			    optarg))
				usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (resume_dir == NULL && (resume_dir = getenv("BOX_RESUME_DIR")) !=
	    NULL && *resume_dir == '\0')
		resume_dir = NULL;
	if (argc < 1 || (folder == NULL) == (folder_path == NULL))
		usage();
	if (make && folder_path == NULL)
		die(EX_USAGE, "--mkdir goes with --folder-path");
	if (folder != NULL && !box_is_id(folder))
		die(EX_USAGE, "%s: a Box folder id is a number", folder);

	signal(SIGPIPE, SIG_IGN);
	box_open(&box, &bo);
	csv_writer_init(&w, stdout);
	receipt_header(&w);
	fflush(stdout);
	if (folder_path != NULL)
		status = box_folder_path(&box, folder_path, make, &folder_id);
	else {
		folder_id = xstrdup(folder);
		status = check_folder(&box, folder_id);
	}
	folder_ok = status == 0;
	for (i = 0; folder_ok && i < argc; i++) {
		st = upload_file(&box, folder_id, argv[i], &w);
		status = worst_status(status, st);
		/* The service or the login failing fails every file alike. */
		if (box_fails_all(st))
			break;
	}
	box_close(&box);
	free(folder_id);
	finish_stdout();
	return status;
}
