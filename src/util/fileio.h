/* Reading a whole file that comes from outside, with a hard size limit. */
#ifndef JG_UTIL_FILEIO_H
#define JG_UTIL_FILEIO_H

#include <stddef.h>

#include "util/err.h"

/* Reads the regular file path into *buf (NUL-terminated, *len bytes
 * without the NUL; caller frees).  At most max bytes are read whatever
 * stat says, since the file may grow meanwhile.  On failure *buf is NULL
 * and err holds "PATH: why" (JG_ERR_IO), or "PATH:1: file larger than MAX
 * bytes" (JG_ERR_TOOBIG), or nothing for JG_ERR_NOMEM. */
int file_read_all(const char *path, size_t max, char **buf, size_t *len,
		  char *err, size_t errlen) JG_WUR;

#endif
