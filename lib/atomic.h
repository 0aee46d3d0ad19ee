/* atomic.h: files that appear whole under their final name or not at all */
#ifndef SCHEDFEED_ATOMIC_H
#define SCHEDFEED_ATOMIC_H

#include <stdio.h>
#include <sys/types.h>

struct atomic_file {
	char *path;	/* final name */
	char *tmp;	/* temporary in the same directory */
	int fd;
	FILE *fp;	/* write through this, or through fd */
	int dirfd;	/* atomic_openat's directory (path, tmp relative), or -1 */
};

/*
 * Creates a temporary beside path (".NAME.XXXXXX", mode 0600 unless mode
 * says otherwise). Returns 0, or -1 with errno set.
 */
int atomic_open(struct atomic_file *af, const char *path, mode_t mode);
/*
 * Like atomic_open, for the file name (never a path: see fname.h) in the
 * open directory dirfd: the temporary is created there with O_EXCL and
 * O_NOFOLLOW, so neither a planted symlink nor a name from a server
 * leads outside it. dirfd stays the caller's to close, after the commit.
 */
int atomic_openat(struct atomic_file *af, int dirfd, const char *name,
    mode_t mode);
/*
 * Flushes, fsyncs, renames onto the final name (replacing it unless
 * no_clobber, which fails with EEXIST) and fsyncs the directory.
 * Returns 0, or -1 with errno set and the temporary removed.
 */
int atomic_commit(struct atomic_file *af, int no_clobber);
/* Removes the temporary and frees; safe after a failed commit. */
void atomic_abort(struct atomic_file *af);
/* fsync the directory holding path. */
int fsync_parent_dir(const char *path);
/* mkdir -p with mode for each directory created. Returns 0 or -1. */
int mkdir_p(const char *dir, mode_t mode);

#endif
