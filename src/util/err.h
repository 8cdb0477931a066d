/* Project-wide error codes: fallible functions return 0 or one of these. */
#ifndef JG_UTIL_ERR_H
#define JG_UTIL_ERR_H

#define JG_WUR __attribute__((warn_unused_result))
#define JG_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum jg_err {
	JG_OK = 0,
	JG_ERR_NOMEM = -1,      /* allocation failed */
	JG_ERR_INVALID = -2,    /* bad input (400) */
	JG_ERR_NOTFOUND = -3,   /* no such object (404) */
	JG_ERR_FORBIDDEN = -4,  /* authenticated but not allowed (403) */
	JG_ERR_CONFLICT = -5,   /* wrong state (409) */
	JG_ERR_IO = -6,         /* file or socket error */
	JG_ERR_STORE = -7,      /* store not writable (503) */
	JG_ERR_AUTH = -8,       /* missing or bad credentials (401) */
	JG_ERR_TOOBIG = -9,     /* input over its limit (413) */
	JG_ERR_PARSE = -10,     /* malformed syntax */
	JG_ERR_CRYPTO = -11,    /* signature / key failure */
	JG_ERR_UNAVAILABLE = -12, /* dependency down (503) */
	JG_ERR_TIMEOUT = -13,
	JG_ERR_INTERNAL = -14,
	JG_ERR_LIMIT = -15,     /* too many attempts from this client (429) */
};

/* Static string for an error code; never NULL. */
const char *jg_strerror(int err);

#endif
