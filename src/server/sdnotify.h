/* systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).  Without
 * $NOTIFY_SOCKET (not started by systemd) every call does nothing. */
#ifndef JG_SERVER_SDNOTIFY_H
#define JG_SERVER_SDNOTIFY_H

#include "util/err.h"

/* Sends state ("READY=1", "STOPPING=1", "STATUS=...").  0 when sent or
 * when there is no socket to send to; JG_ERR_IO otherwise.  Never blocks. */
int sdnotify_send(const char *state) JG_WUR;

#endif
