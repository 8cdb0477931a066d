#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max, char **buf, size_t *len,
		  char *err, size_t errlen)
{
	char *b = NULL;
	size_t n = 0;
	struct stat st;
	int fd, rc = JG_OK;

	*buf = NULL;
	*len = 0;
	if (errlen > 0)
		err[0] = '\0';
	/* non-blocking: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return JG_ERR_IO;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		rc = JG_ERR_IO;
		goto out;
	}
	/* one byte past the limit tells "too big" from "exactly max" */
	b = malloc(max + 2);
	if (b == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, b + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(errno));
			rc = JG_ERR_IO;
			goto out;
		}
		if (r == 0 || (n += (size_t)r) > max)
			break;
	}
	if (n > max) {
		snprintf(err, errlen, "%s:1: file larger than %zu bytes", path, max);
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}
