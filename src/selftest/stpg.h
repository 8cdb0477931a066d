/* A PostgreSQL session through the gateway for `jitgate selftest`
 * (libpq): open, run SELECT 1, and wait for the gateway to cut it. */
#ifndef JG_SELFTEST_STPG_H
#define JG_SELFTEST_STPG_H

#include <stddef.h>

#include "util/err.h"

struct stpg;

/* Connects to host:port as user with password to dbname (sslmode=prefer,
 * connect timeout 5 s).  On failure err holds the server's or libpq's
 * message (never the password). */
int stpg_open(const char *host, const char *port, const char *user,
	      const char *password, const char *dbname, struct stpg **out,
	      char *err, size_t errlen) JG_WUR;
/* SELECT 1 round trip. */
int stpg_select1(struct stpg *p, char *err, size_t errlen) JG_WUR;
/* Waits up to timeout_ms for the server to end the session; 0 when it did
 * (its FATAL message in msg), JG_ERR_TIMEOUT otherwise. */
int stpg_wait_cut(struct stpg *p, int timeout_ms, char *msg, size_t len) JG_WUR;
void stpg_close(struct stpg *p);

#endif
