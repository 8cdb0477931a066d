/* The one validation of a config file that `serve`, `check-config` and a
 * SIGHUP reload share: the typed schema of config_load, then what only the
 * daemon's parts know (a storage backend this build has, OIDC URLs that
 * may be fetched, gateway certificate and key that load, listeners that do
 * not collide).  check-config therefore accepts exactly what serve
 * accepts; only what needs the running system (a port someone else holds,
 * a locked store, an unreachable IdP) can still stop a start. */
#ifndef JG_SERVER_STARTCHECK_H
#define JG_SERVER_STARTCHECK_H

#include <stddef.h>

#include "config/config.h"
#include "util/crypto.h"
#include "util/err.h"

/* Loads and validates path.  On success *out is the config (caller frees)
 * and digest the SHA-256 of the file; otherwise err says what is wrong
 * (file:line for schema errors; never a secret). */
int startcheck_load(const char *path, struct config **out,
		    char digest[SHA256_HEX_LEN + 1], char *err,
		    size_t errlen) JG_WUR;

#endif
