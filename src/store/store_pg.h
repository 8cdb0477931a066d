/* Internals of the PostgreSQL backend shared by its files. */
#ifndef JG_STORE_STORE_PG_H
#define JG_STORE_STORE_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "util/err.h"

/* Brings the schema on c to the version this jitgate knows, one
 * transaction per version, recorded in table schema_version.  Several
 * nodes starting at once take turns (the version row is the lock).  A
 * schema newer than this jitgate is refused. */
int store_pg_migrate(PGconn *c, int timeout_ms, char *err, size_t errlen) JG_WUR;

#endif
