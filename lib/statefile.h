/*
 * statefile - the small state files of /var/lib/sallyport that must
 * survive restarts (DESIGN.md 3: suspend state is state, not config):
 * listeners-suspended (master), delivery-suspended and workqueue-paused
 * (qmgr).  Each is a list of text lines; a missing file is an empty list.
 *
 * Writes are atomic and durable: a temporary file in the same directory,
 * fsync, rename.  An empty list removes the file, so "absent" and "empty"
 * mean the same.
 *
 * Not for: the queue (LMDB), counters, anything bigger than a few lines.
 */
#ifndef SP_STATEFILE_H
#define SP_STATEFILE_H
#include <stddef.h>

#define STATEFILE_LINE_MAX	512	/* longer lines are cut */
#define STATEFILE_LINES_MAX	10000

/* The file's non-empty lines (without line ends) into *lines (free with
 * statefile_free); 1 if the file exists, 0 if not (no lines), -1 if it
 * cannot be read (errno set; no lines). */
int	statefile_read(const char *path, char ***lines, size_t *n);
/* Replaces the file by these lines (n == 0: removes it).  0, or -1 with
 * errno set. */
int	statefile_write(const char *path, char *const *lines, size_t n);
void	statefile_free(char **lines, size_t n);

#endif
