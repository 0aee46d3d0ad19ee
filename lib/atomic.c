/* atomic.c: temporary in the same directory, fsync, rename, fsync dir */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "mem.h"

static int
fsync_dir_fd(int fd)
{
	/* Some filesystems refuse fsync on a directory; that is not a loss. */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		return -1;
	return 0;
}

/* The rename (or, for no_clobber, link and unlink) inside af->dirfd. */
static int
commit_at(struct atomic_file *af, int no_clobber)
{
	if (!no_clobber)
		return renameat(af->dirfd, af->tmp, af->dirfd, af->path);
	if (linkat(af->dirfd, af->tmp, af->dirfd, af->path, 0) != 0)
		return -1;
	unlinkat(af->dirfd, af->tmp, 0);
	return 0;
}

int
fsync_parent_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	rc = fsync_dir_fd(fd);
	close(fd);
	return rc;
}

int
mkdir_p(const char *dir, mode_t mode)
{
	char *path = xstrdup(dir);
	int rc = 0;

	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (rc == 0) {
		struct stat st;
		if (stat(dir, &st) != 0)
			rc = -1;
		else if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			rc = -1;
		}
	}
	free(path);
	return rc;
}

/* The temporary's mode and stream, once af->fd is open (or -1, failed). */
static int
finish_open(struct atomic_file *af, mode_t mode)
{
	if (af->fd < 0 || fchmod(af->fd, mode) != 0)
		goto fail;
	af->fp = fdopen(af->fd, "w");
	if (af->fp == NULL)
		goto fail;
	return 0;
fail:
	atomic_abort(af);
	return -1;
}

int
atomic_open(struct atomic_file *af, const char *path, mode_t mode)
{
	char *copy = xstrdup(path), *copy2 = xstrdup(path);
	const char *dir = dirname(copy), *base = basename(copy2);

	memset(af, 0, sizeof *af);
	af->fd = -1;
	af->dirfd = -1;
	af->path = xstrdup(path);
	af->tmp = xasprintf("%s/.%s.XXXXXX", dir, base);
	free(copy);
	free(copy2);
	af->fd = mkostemp(af->tmp, O_CLOEXEC);
	return finish_open(af, mode);
}

int
atomic_commit(struct atomic_file *af, int no_clobber)
{
	int saved;

	if (af->fp != NULL) {
		if (fflush(af->fp) != 0 || ferror(af->fp))
			goto fail;
	}
	if (fsync(af->fd) != 0)
		goto fail;
	if (af->fp != NULL) {
		FILE *fp = af->fp;
		af->fp = NULL;
		af->fd = -1;
		if (fclose(fp) != 0)
			goto fail;
	} else {
		int fd = af->fd;
		af->fd = -1;
		if (close(fd) != 0)
			goto fail;
	}
	if (af->dirfd >= 0) {
		if (commit_at(af, no_clobber) != 0)
			goto fail;
	} else if (no_clobber) {
		/* link() fails with EEXIST instead of replacing */
		if (link(af->tmp, af->path) != 0)
			goto fail;
		unlink(af->tmp);
	} else if (rename(af->tmp, af->path) != 0)
		goto fail;
	free(af->tmp);
	af->tmp = NULL;
	if (af->dirfd >= 0 ? fsync_dir_fd(af->dirfd) != 0 :
	    fsync_parent_dir(af->path) != 0)
		goto fail;
	free(af->path);
	af->path = NULL;
	return 0;
fail:
	saved = errno;
	atomic_abort(af);
	errno = saved;
	return -1;
}

void
atomic_abort(struct atomic_file *af)
{
	int saved = errno;

	if (af->fp != NULL)
		fclose(af->fp);
	else if (af->fd >= 0)
		close(af->fd);
	af->fp = NULL;
	af->fd = -1;
	if (af->tmp != NULL && af->dirfd >= 0)
		unlinkat(af->dirfd, af->tmp, 0);
	else if (af->tmp != NULL)
		unlink(af->tmp);
	free(af->tmp);
	free(af->path);
	af->tmp = NULL;
	af->path = NULL;
	errno = saved;
}

int
atomic_openat(struct atomic_file *af, int dirfd, const char *name,
    mode_t mode)
{
	static const char chars[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	int tries;

	memset(af, 0, sizeof *af);
	af->fd = -1;
	af->dirfd = dirfd;
	af->path = xstrdup(name);
	af->tmp = xasprintf(".%s.XXXXXX", name);
	/* mkostemp has no directory descriptor: the same name, by hand. */
	for (tries = 0; tries < 100; tries++) {
		char *x = af->tmp + strlen(af->tmp) - sizeof rnd;
		size_t i;

		if (getentropy(rnd, sizeof rnd) != 0)
			break;
		for (i = 0; i < sizeof rnd; i++)
			x[i] = chars[rnd[i] % (sizeof chars - 1)];
		af->fd = openat(dirfd, af->tmp, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (af->fd >= 0 || errno != EEXIST)
			break;
	}
	if (af->fd < 0) {
		/* nothing of ours to remove */
		free(af->tmp);
		af->tmp = NULL;
	}
	return finish_open(af, mode);
}
