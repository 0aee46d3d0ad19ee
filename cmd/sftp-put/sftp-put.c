/* sftp-put: upload files over SFTP under a temporary name, then rename */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
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
#include "opt.h"
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

/*
 * One connection is a pipeline (libssh2 1.10 encrypting each 16-byte block
 * with a separate cipher call, sshd decrypting, its SFTP server writing)
 * that keeps about one core busy, 150-180 MB/s on loopback. A large file
 * goes over several connections at once instead: the file is read once,
 * in CHUNK_SIZE pieces, and each connection writes whichever piece is next
 * at its offset in the same temporary. Each piece is written whole before
 * the connection moves on (a seek with writes outstanding would drop their
 * acknowledgements), so a larger piece loses less to the pause at its end;
 * two pieces a connection bound the memory.
 */
#define CHUNK_SIZE	(4u * 1024 * 1024)
#define STREAMS_DEFAULT	2
#define STREAMS_MAX	16
#define STREAM_MIN_DEFAULT	(64ull * 1024 * 1024)

/*
 * The final fsync of a large file waits while the server writes all of it
 * to disk: 0.3 to 0.5 s a GB on an SSD, seconds on a disk, with nothing
 * sent meanwhile. From FLUSH_MIN up, one more connection asks the server
 * to fsync the temporary after each FLUSH_STEP of acknowledged data, so
 * the disk works while the data connections keep sending and the final
 * fsync finds little left to write. A connection of its own, since an
 * SFTP server answers each connection's requests in order: an fsync among
 * the writes would stall them.
 */
#define FLUSH_STEP	(64ull * 1024 * 1024)
#define FLUSH_MIN	(4 * FLUSH_STEP)

struct source {
	const char *label;	/* the receipt's file column */
	const char *name;	/* the remote file's name */
	int fd;
};

struct put_opts {
	int mkdir;
	int no_clobber;
	int skip_same;		/* the final name holds this file: not sent */
	const char *temp;	/* the temporary's name, or NULL for a new one */
	int streams;		/* connections for one large file */
	uint64_t stream_min;	/* the size from which a file is "large" */
};

struct chunk {
	char *data;
	uint64_t offset;	/* where data goes in the file */
	size_t len;
};

/*
 * One file going over several connections. The main thread reads and
 * digests; the streams take the filled chunks in file order and give the
 * buffers back. The first failure stops everything.
 */
struct upload {
	const struct sftp_url *url;
	const struct sftp_opts *opts;
	const char *dir;
	const char *tmp;		/* the temporary every stream writes */
	uint64_t size;			/* as fstat saw it, for messages */
	pthread_mutex_t lock;
	pthread_cond_t filled;		/* a chunk is ready, or EOF, or failure */
	pthread_cond_t emptied;		/* a buffer came back, or failure */
	pthread_cond_t progress;	/* more acked, failure, or done */
	struct chunk *pool;
	size_t pool_size;
	struct chunk **ready;		/* a ring of pool_size, in file order */
	size_t ready_head, ready_count;
	struct chunk **spare;		/* a stack of unused buffers */
	size_t spare_count;
	uint64_t acked;			/* bytes the server has acknowledged */
	int eof;			/* no more chunks will be filled */
	int done;			/* every stream has stopped */
	int status;			/* the first failure, 0 until one */
};

struct stream {
	struct upload *up;
	int index;			/* 0 uses the main connection */
	int count;			/* of streams, for messages */
	pthread_t thread;
	int started;
	struct sftp_conn own;		/* the connection of streams 1... */
	struct sftp_conn *c;
	LIBSSH2_SFTP_HANDLE *h;
};

/* The connection that fsyncs the temporary as the upload goes on. */
struct flusher {
	struct upload *up;
	pthread_t thread;
	struct sftp_conn conn;
};

/* stream_write's answer when another stream's failure stopped it */
#define STREAM_STOPPED	(-1)

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-i key] [--known-hosts file] [--mkdir] "
	    "[--no-clobber]\n"
	    "       [--name name] [--temp name] [--skip-same] [--retries n]\n"
	    "       [--timeout seconds]\n"
	    "       [--streams n] [--stream-min size]\n"
	    "       sftp://user@host[:port]/dir [file ...]\n", progname);
	exit(EX_USAGE);
}

/* A size in bytes, or with a K, M or G suffix (binary multiples). */
static uint64_t
size_arg(const char *option, const char *arg)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end != '\0' && end[1] == '\0')
		switch (*end++) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		default:
			end--;
		}
	if (errno != 0 || *arg < '0' || *arg > '9' || *end != '\0' ||
	    v > (UINT64_MAX >> shift))
		die(EX_USAGE, "%s: want a size in bytes, or with a K, M or G "
		    "suffix", option);
	return (uint64_t)v << shift;
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

/*
 * After a failed write: a full disk is said as such, "no space left on
 * the server", when the server says so (SSH_FX_NO_SPACE_ON_FILESYSTEM,
 * SSH_FX_QUOTA_EXCEEDED) or when its bare "failure" comes with no room
 * left in statvfs@openssh.com's figures (OpenSSH's sftp-server answers
 * ENOSPC with "failure").
 */
static int
write_failed(struct sftp_conn *c, const char *dir, const char *what,
    uint64_t remaining)
{
	LIBSSH2_SFTP_STATVFS vfs;
	unsigned long code;
	char *msg;

	if (sftp_transient(c) || c->sftp == NULL ||
	    libssh2_session_last_error(c->session, &msg, NULL, 0) !=
	    LIBSSH2_ERROR_SFTP_PROTOCOL)
		return sftp_fail(c, what);
	code = libssh2_sftp_last_error(c->sftp);
	if (code == LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM ||
	    code == LIBSSH2_FX_QUOTA_EXCEEDED) {
		warn("%s: %s: no space left on the server (%s)", c->url->where,
		    what, code == LIBSSH2_FX_QUOTA_EXCEEDED ? "quota exceeded" :
		    "no space on the filesystem");
		return EX_IOERR;
	}
	if (code == LIBSSH2_FX_FAILURE &&
	    libssh2_sftp_statvfs(c->sftp, dir, strlen(dir), &vfs) == 0 &&
	    (vfs.f_bavail == 0 || vfs.f_bavail * vfs.f_frsize < remaining)) {
		warn("%s: %s: no space left on the server (%llu bytes free)",
		    c->url->where, what,
		    (unsigned long long)(vfs.f_bavail * vfs.f_frsize));
		return EX_IOERR;
	}
	return sftp_fail(c, what);
}

/* The serial upload: one connection, buf[start, end) read but not yet
 * acknowledged by the server. */
static int
send_serial(struct sftp_conn *c, struct source *src, LIBSSH2_SFTP_HANDLE *h,
    char *buf, struct digest *dg, uint64_t size, uint64_t *total)
{
	uint64_t sent = 0;
	size_t start = 0, end = 0;
	int eof = 0;

	for (;;) {
		ssize_t n;

		if (!eof && end < BUF_SIZE && end - start < IN_FLIGHT) {
			n = read(src->fd, buf + end, BUF_SIZE - end);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				warn("%s:", src->label);
				return EX_IOERR;
			}
			if (n == 0)
				eof = 1;
			digest_update(dg, buf + end, (size_t)n);
			end += (size_t)n;
			*total += (uint64_t)n;
			continue;
		}
		if (start == end)
			return 0;
		n = libssh2_sftp_write(h, buf + start,
		    end - start < IN_FLIGHT ? end - start : IN_FLIGHT);
		if (n < 0)
			return write_failed(c, c->url->path, "write",
			    size > sent ? size - sent : 0);
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
}

/* Records the first failure and wakes everyone to see it. */
static void
upload_fail(struct upload *up, int status)
{
	pthread_mutex_lock(&up->lock);
	if (up->status == 0)
		up->status = status;
	pthread_cond_broadcast(&up->filled);
	pthread_cond_broadcast(&up->emptied);
	pthread_cond_broadcast(&up->progress);
	pthread_mutex_unlock(&up->lock);
}

/* The first failure or 0; *acked (unless NULL) gets the bytes delivered. */
static int
upload_status(struct upload *up, uint64_t *acked)
{
	int status;

	pthread_mutex_lock(&up->lock);
	status = up->status;
	if (acked != NULL)
		*acked = up->acked;
	pthread_mutex_unlock(&up->lock);
	return status;
}

/* An empty buffer for the reader; NULL once the upload failed. */
static struct chunk *
upload_spare(struct upload *up)
{
	struct chunk *ch = NULL;

	pthread_mutex_lock(&up->lock);
	while (up->spare_count == 0 && up->status == 0)
		pthread_cond_wait(&up->emptied, &up->lock);
	if (up->status == 0)
		ch = up->spare[--up->spare_count];
	pthread_mutex_unlock(&up->lock);
	return ch;
}

static void
upload_push(struct upload *up, struct chunk *ch)
{
	pthread_mutex_lock(&up->lock);
	up->ready[(up->ready_head + up->ready_count) % up->pool_size] = ch;
	up->ready_count++;
	pthread_cond_signal(&up->filled);
	pthread_mutex_unlock(&up->lock);
}

/* The next chunk to write; NULL when there is none left or on failure. */
static struct chunk *
upload_take(struct upload *up)
{
	struct chunk *ch = NULL;

	pthread_mutex_lock(&up->lock);
	while (up->ready_count == 0 && !up->eof && up->status == 0)
		pthread_cond_wait(&up->filled, &up->lock);
	if (up->status == 0 && up->ready_count > 0) {
		ch = up->ready[up->ready_head];
		up->ready_head = (up->ready_head + 1) % up->pool_size;
		up->ready_count--;
	}
	pthread_mutex_unlock(&up->lock);
	return ch;
}

/* A buffer back to the reader, its acked bytes of data delivered. */
static void
upload_give_back(struct upload *up, struct chunk *ch, size_t acked)
{
	pthread_mutex_lock(&up->lock);
	up->spare[up->spare_count++] = ch;
	up->acked += acked;
	pthread_cond_signal(&up->emptied);
	if (acked > 0)
		pthread_cond_signal(&up->progress);
	pthread_mutex_unlock(&up->lock);
}

static void
upload_end(struct upload *up)
{
	pthread_mutex_lock(&up->lock);
	up->eof = 1;
	pthread_cond_broadcast(&up->filled);
	pthread_mutex_unlock(&up->lock);
}

/*
 * Writes one chunk at its offset, whole: 0, an exit status after a message,
 * or STREAM_STOPPED, quietly, when another stream failed first (a lost
 * connection fails every stream at once, and one message says it).
 */
static int
stream_write(struct stream *s, struct chunk *ch)
{
	struct upload *up = s->up;
	size_t done = 0;

	libssh2_sftp_seek64(s->h, ch->offset);
	while (done < ch->len) {
		size_t want = ch->len - done;
		uint64_t acked;
		ssize_t n;

		if (upload_status(up, NULL) != 0)
			return STREAM_STOPPED;
		n = libssh2_sftp_write(s->h, ch->data + done,
		    want < IN_FLIGHT ? want : IN_FLIGHT);
		if (n < 0) {
			if (upload_status(up, &acked) != 0)
				return STREAM_STOPPED;
			return write_failed(s->c, up->dir, "write",
			    up->size > acked ? up->size - acked : 0);
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * One more connection for the upload (streams 1..., the flusher): logs in
 * (host key and login checked as for the first) and opens the temporary
 * the first one created. When that fails the upload goes on without it:
 * 0 with *h NULL, after a warning that names what. Only a host key that
 * does not match, or missing credentials, fail the upload, since the first
 * may mean an attacker on the path; a server that limits logins or
 * connections per user refuses the extra ones, and should still get the
 * file.
 */
static int
extra_open(struct upload *up, struct sftp_conn *c, LIBSSH2_SFTP_HANDLE **h,
    const char *what)
{
	int status;

	*h = NULL;
	status = sftp_open(c, up->url, up->opts);
	if (status != 0) {
		if (c->host_key_refused || status == EX_CONFIG)
			return status;
	} else {
		*h = libssh2_sftp_open_ex(c->sftp, up->tmp,
		    (unsigned int)strlen(up->tmp), LIBSSH2_FXF_WRITE, 0,
		    LIBSSH2_SFTP_OPENFILE);
		if (*h != NULL)
			return 0;
		/* e.g. a cluster whose nodes do not share a disk */
		sftp_fail(c, "cannot open the temporary");
		sftp_close(c);
	}
	if (upload_status(up, NULL) == 0)
		warn("%s: %s failed; the upload goes on without it",
		    up->url->where, what);
	return 0;
}

static int
stream_open(struct stream *s)
{
	char what[64];

	snprintf(what, sizeof what, "connection %d of %d", s->index + 1,
	    s->count);
	s->c = &s->own;
	return extra_open(s->up, &s->own, &s->h, what);
}

static void *
stream_main(void *arg)
{
	struct stream *s = arg;
	struct upload *up = s->up;
	struct chunk *ch;
	int status = 0;

	if (s->index > 0) {
		pthread_mutex_lock(&up->lock);
		status = up->eof && up->ready_count == 0 ? -1 : up->status;
		pthread_mutex_unlock(&up->lock);
		if (status != 0)
			return NULL;	/* nothing left to do */
		if ((status = stream_open(s)) != 0) {
			upload_fail(up, status);
			return NULL;
		}
		if (s->h == NULL)
			return NULL;
	}
	while ((ch = upload_take(up)) != NULL) {
		status = stream_write(s, ch);
		upload_give_back(up, ch, status == 0 ? ch->len : 0);
		if (status != 0)
			break;
	}
	if (status > 0)
		upload_fail(up, status);
	if (s->index > 0) {
		/* The close answers only after every write before it. */
		if (libssh2_sftp_close_handle(s->h) != 0 && status == 0 &&
		    upload_status(up, NULL) == 0)
			upload_fail(up, write_failed(s->c, up->dir, "close", 0));
		s->h = NULL;
		sftp_close(&s->own);
	}
	return NULL;
}

/*
 * Logs in like a stream, opens the temporary and fsyncs it after each
 * FLUSH_STEP the streams have delivered, until they stop. A failure of
 * its own only ends the early flushing (the final fsync still comes),
 * except a host key that does not match or missing credentials, which
 * fail the upload as they would for a stream.
 */
static void *
flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct upload *up = f->up;
	LIBSSH2_SFTP_HANDLE *h;
	uint64_t flushed = 0, acked;
	int status, stop;

	status = extra_open(up, &f->conn, &h,
	    "the connection that flushes during the upload");
	if (status != 0)
		upload_fail(up, status);
	if (h == NULL)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&up->lock);
		while (up->acked - flushed < FLUSH_STEP && !up->done &&
		    up->status == 0)
			pthread_cond_wait(&up->progress, &up->lock);
		acked = up->acked;
		stop = up->done || up->status != 0;
		pthread_mutex_unlock(&up->lock);
		if (stop || sftp_fsync(&f->conn, h) != 0 || f->conn.no_fsync)
			break;
		flushed = acked;
	}
	libssh2_sftp_close_handle(h);
	sftp_close(&f->conn);
	return NULL;
}

/*
 * The parallel upload into h, the temporary c created: reads src once,
 * digesting it, and hands its chunks to po->streams connections, the
 * first of them c. Returns 0 when every byte is acknowledged, or the
 * first failure's exit status; all streams have stopped either way.
 */
static int
send_streams(struct sftp_conn *c, const struct put_opts *po,
    struct source *src, const char *tmp, LIBSSH2_SFTP_HANDLE *h,
    struct digest *dg, uint64_t size, uint64_t *total)
{
	struct upload up = {
		.url = c->url, .opts = c->opts, .dir = c->url->path,
		.tmp = tmp, .size = size,
	};
	struct stream *streams = xcalloc((size_t)po->streams, sizeof *streams);
	struct flusher flusher = { .up = &up, .conn = { .sock = -1 } };
	size_t i;
	int eof = 0, flushing = 0, status;

	pthread_mutex_init(&up.lock, NULL);
	pthread_cond_init(&up.filled, NULL);
	pthread_cond_init(&up.emptied, NULL);
	pthread_cond_init(&up.progress, NULL);
	/* One chunk being written and one waiting a stream, one being read. */
	up.pool_size = 2 * (size_t)po->streams + 1;
	up.pool = xcalloc(up.pool_size, sizeof *up.pool);
	up.ready = xcalloc(up.pool_size, sizeof *up.ready);
	up.spare = xcalloc(up.pool_size, sizeof *up.spare);
	for (i = 0; i < up.pool_size; i++) {
		up.pool[i].data = xmalloc(CHUNK_SIZE);
		up.spare[up.spare_count++] = &up.pool[i];
	}
	for (i = 0; i < (size_t)po->streams; i++) {
		struct stream *s = &streams[i];

		s->up = &up;
		s->index = (int)i;
		s->count = po->streams;
		s->own.sock = -1;
		if (i == 0) {
			s->c = c;
			s->h = h;
		}
		errno = pthread_create(&s->thread, NULL, stream_main, s);
		if (errno == 0) {
			s->started = 1;
			continue;
		}
		warn("cannot start a thread:");
		if (i == 0)
			upload_fail(&up, EX_OSERR);
		break;
	}
	if (size >= FLUSH_MIN && upload_status(&up, NULL) == 0) {
		/* Without it the upload goes on as before. */
		errno = pthread_create(&flusher.thread, NULL, flusher_main,
		    &flusher);
		flushing = errno == 0;
	}

	while (!eof) {
		struct chunk *ch = upload_spare(&up);
		size_t got = 0;

		if (ch == NULL)
			break;
		while (got < CHUNK_SIZE) {
			ssize_t n = read(src->fd, ch->data + got,
			    CHUNK_SIZE - got);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				warn("%s:", src->label);
				upload_give_back(&up, ch, 0);
				upload_fail(&up, EX_IOERR);
				ch = NULL;
				break;
			}
			if (n == 0) {
				eof = 1;
				break;
			}
			got += (size_t)n;
		}
		if (ch == NULL)
			break;
		if (got == 0) {
			upload_give_back(&up, ch, 0);
			continue;
		}
		digest_update(dg, ch->data, got);
		ch->offset = *total;
		ch->len = got;
		*total += got;
		upload_push(&up, ch);
	}
	upload_end(&up);
	for (i = 0; i < (size_t)po->streams; i++)
		if (streams[i].started)
			pthread_join(streams[i].thread, NULL);
	if (flushing) {
		pthread_mutex_lock(&up.lock);
		up.done = 1;
		pthread_cond_broadcast(&up.progress);
		pthread_mutex_unlock(&up.lock);
		pthread_join(flusher.thread, NULL);
	}

	status = up.status;
	for (i = 0; i < up.pool_size; i++)
		free(up.pool[i].data);
	free(up.pool);
	free(up.ready);
	free(up.spare);
	free(streams);
	pthread_cond_destroy(&up.progress);
	pthread_cond_destroy(&up.emptied);
	pthread_cond_destroy(&up.filled);
	pthread_mutex_destroy(&up.lock);
	return status;
}

/*
 * --skip-same: 1 when the final name holds a regular file of size bytes
 * whose SHA-256, read back from the server, is the local file's (hex,
 * which this works out), else 0; an exit status (> 1) when the server
 * could not be asked.
 */
static int
remote_same(struct sftp_conn *c, struct source *src, const char *final,
    uint64_t size, char *buf, char *hex)
{
	char theirs[SHA256_HEX_LEN + 1];
	LIBSSH2_SFTP_ATTRIBUTES st;
	LIBSSH2_SFTP_HANDLE *h;
	struct digest *dg;
	ssize_t n;

	if (libssh2_sftp_stat(c->sftp, final, &st) != 0)
		return 0;	/* nothing there (or nothing we may see) */
	if (!(st.flags & LIBSSH2_SFTP_ATTR_SIZE) || st.filesize != size ||
	    !LIBSSH2_SFTP_S_ISREG(st.permissions))
		return 0;
	if (lseek(src->fd, 0, SEEK_SET) < 0) {
		warn("%s:", src->label);
		return EX_IOERR;
	}
	dg = digest_new("sha256");
	while ((n = read(src->fd, buf, BUF_SIZE)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warn("%s:", src->label);
			digest_final(dg, hex, NULL);
			return EX_IOERR;
		}
		digest_update(dg, buf, (size_t)n);
	}
	digest_final(dg, hex, NULL);
	h = libssh2_sftp_open(c->sftp, final, LIBSSH2_FXF_READ, 0);
	if (h == NULL)
		return sftp_fail(c, "open to read back");
	dg = digest_new("sha256");
	while ((n = libssh2_sftp_read(h, buf, BUF_SIZE)) > 0)
		digest_update(dg, buf, (size_t)n);
	digest_final(dg, theirs, NULL);
	libssh2_sftp_close_handle(h);
	if (n < 0)
		return sftp_fail(c, "read back");
	return strcmp(hex, theirs) == 0;
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
	uint64_t total = 0, size;
	unsigned long since = 0;
	int status = 0, skipped = 0;
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
	tmpname = po->temp != NULL ? xstrdup(po->temp) :
	    temporary_name(src->name);
	tmp = sftp_join(dir, tmpname);
	if (po->skip_same) {
		status = remote_same(c, src, final, size, buf, hex);
		if (status == 1) {
			/* an interrupted run's temporary goes all the same */
			if (po->temp != NULL)
				libssh2_sftp_unlink(c->sftp, tmp);
			warn("%s: %s holds this file already (%llu bytes, "
			    "SHA-256 read back): not sent", c->url->where,
			    final, (unsigned long long)size);
			*bytes = size;
			free(tmp);
			tmp = NULL;
			status = 0;
			skipped = 1;
			goto out;
		}
		if (status != 0) {
			free(tmp);
			tmp = NULL;
			goto out;
		}
		if (lseek(src->fd, 0, SEEK_SET) < 0) {
			warn("%s:", src->label);
			status = EX_IOERR;
			goto out;
		}
	}
	/*
	 * A temporary named by the caller may be an interrupted run's (its
	 * name was recorded before that run sent a byte): it is replaced.
	 */
	h = libssh2_sftp_open_ex(c->sftp, tmp, (unsigned int)strlen(tmp),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | (po->temp != NULL ?
	    LIBSSH2_FXF_TRUNC : LIBSSH2_FXF_EXCL), 0600,
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

	if (po->streams > 1 && size >= po->stream_min)
		status = send_streams(c, po, src, tmp, h, dg, size, &total);
	else
		status = send_serial(c, src, h, buf, dg, size, &total);
	if (status != 0)
		goto out;
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
	if (status == 0 && !skipped)
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
		{ "temp", required_argument, NULL, 'T' },
		{ "skip-same", no_argument, NULL, 's' },
		{ "streams", required_argument, NULL, 'S' },
		{ "stream-min", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 }
	};
	struct sftp_opts so;
	struct put_opts po = {
		.streams = STREAMS_DEFAULT, .stream_min = STREAM_MIN_DEFAULT
	};
	struct sftp_url url;
	struct sftp_conn conn = { .sock = -1 };
	struct source *src;
	struct csv_writer w;
	const char *name = NULL;
	char *buf, *leftover = NULL;
	int ch, i, nsrc, status = 0;

	setprogname(argv[0]);
	sftp_opts_init(&so);
	while ((ch = opt_next(argc, argv, "+" SFTPOPT_SHORT, longopts,
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
		case 'T':
			po.temp = optarg;
			break;
		case 's':
			po.skip_same = 1;
			break;
		case 'S':
			po.streams = (int)opt_number("--streams", optarg, 1,
			    STREAMS_MAX);
			break;
		case 'M':
			po.stream_min = size_arg("--stream-min", optarg);
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
	if (po.temp != NULL && (po.temp[0] != '.' || strchr(po.temp, '/') ||
	    strcmp(po.temp, ".") == 0 || strcmp(po.temp, "..") == 0 ||
	    strlen(po.temp) >= 1024))
		die(EX_USAGE, "%s: --temp takes a hidden file name (.NAME) "
		    "without '/'", po.temp);
	if (po.temp != NULL && argc != 1)
		die(EX_USAGE, "--temp needs exactly one file");
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
	/*
	 * libssh2 allocates each 30000-byte write request and frees it when
	 * the server acknowledges it: with glibc's defaults the heap of each
	 * stream's thread is trimmed and grown again all the time, some
	 * 50000 page faults a GB sent. Keep what was freed; the data in
	 * flight bounds it.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	/* Once, before any thread opens a session of its own. */
	if (libssh2_init(0) != 0)
		die(EX_SOFTWARE, "libssh2_init failed");
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
	libssh2_exit();
	free(leftover);
	free(buf);
	finish_stdout();
	return status;
}
