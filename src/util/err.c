#include "util/err.h"

const char *jg_strerror(int err)
{
	switch (err) {
	case JG_OK: return "success";
	case JG_ERR_NOMEM: return "out of memory";
	case JG_ERR_INVALID: return "invalid input";
	case JG_ERR_NOTFOUND: return "not found";
	case JG_ERR_FORBIDDEN: return "forbidden";
	case JG_ERR_CONFLICT: return "conflict";
	case JG_ERR_IO: return "i/o error";
	case JG_ERR_STORE: return "store not writable";
	case JG_ERR_AUTH: return "authentication failed";
	case JG_ERR_TOOBIG: return "input too large";
	case JG_ERR_PARSE: return "parse error";
	case JG_ERR_CRYPTO: return "cryptographic failure";
	case JG_ERR_UNAVAILABLE: return "unavailable";
	case JG_ERR_TIMEOUT: return "timed out";
	case JG_ERR_INTERNAL: return "internal error";
	case JG_ERR_LIMIT: return "too many attempts";
	}
	return "unknown error";
}
