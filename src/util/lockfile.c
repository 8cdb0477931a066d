#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int lockfile_take(const char *path, int *fd, char *err, size_t errlen)
{
	char pid[24] = "";
	ssize_t n;
	int f, e;

	*fd = -1;
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0) {
		snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
		return JG_ERR_IO;
	}
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		if (e == EWOULDBLOCK) {
			n = pread(f, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? (size_t)n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			if (pid[0] != '\0' && strspn(pid, "0123456789") == strlen(pid))
				snprintf(err, errlen, "%s is locked by another jitgate (pid %s)",
					 path, pid);
			else
				snprintf(err, errlen, "%s is locked by another process", path);
			close(f);
			return JG_ERR_CONFLICT;
		}
		snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
		close(f);
		return JG_ERR_IO;
	}
	/* the pid is only a hint for the error above; the lock is the flock */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		/* a full disk must not stop a start that can otherwise proceed */
	}
	*fd = f;
	return JG_OK;
}

void lockfile_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}
