/* An exclusive lock held for the life of a process (flock on a file next
 * to what it protects).  The kernel drops it when the process dies, so a
 * crash never leaves a stale lock behind. */
#ifndef JG_UTIL_LOCKFILE_H
#define JG_UTIL_LOCKFILE_H

#include <stddef.h>

#include "util/err.h"

/* Creates path if needed and locks it without waiting; writes our pid into
 * it.  JG_ERR_CONFLICT when another process holds it (err names the file
 * and, when it wrote one, that process's pid); JG_ERR_IO when the file
 * cannot be opened.  *fd is -1 on failure. */
int lockfile_take(const char *path, int *fd, char *err, size_t errlen) JG_WUR;
/* Releases a lock taken by lockfile_take (fd -1: nothing). */
void lockfile_release(int fd);

#endif
