/* PostgreSQL frontend/backend protocol v3: framing, parsing and builders.
 *
 * Pure functions over byte buffers, no I/O: this is what the session state
 * machine and the fuzz target drive.  Every length taken from the wire is
 * checked against a limit here, before anyone allocates for it. */
#ifndef JG_GATEWAY_PGPROTO_H
#define JG_GATEWAY_PGPROTO_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define PGPROTO_STARTUP_MAX 10000u /* PostgreSQL's own startup limit */
#define PGPROTO_STARTUP_PARAMS_MAX 64u
#define PGPROTO_PASSWORD_MAX 16384u /* a JWT fits */
#define PGPROTO_LOGIN_MSG_MAX 65536u /* upstream messages during login */
#define PGPROTO_RELAY_MSG_MAX 0x40000000u /* PostgreSQL's 1 GB message cap */

#define PGPROTO_V3 196608u /* 3.0 */
#define PGPROTO_CANCEL_CODE 80877102u
#define PGPROTO_SSL_CODE 80877103u
#define PGPROTO_GSSENC_CODE 80877104u

enum pgproto_startup_kind {
	PGPROTO_STARTUP,
	PGPROTO_SSL_REQUEST,
	PGPROTO_GSSENC_REQUEST,
	PGPROTO_CANCEL_REQUEST,
};

struct pgproto_param {
	const char *name; /* points into the parsed packet copy */
	const char *value;
};

/* A parsed startup-phase packet.  Strings point into buf, which the
 * parser owns; pgproto_startup_clear releases it. */
struct pgproto_startup {
	enum pgproto_startup_kind kind;
	uint32_t version;
	uint32_t cancel_pid, cancel_key;
	struct pgproto_param params[PGPROTO_STARTUP_PARAMS_MAX];
	size_t nparams;
	char *buf;
};

/* Looks at the first bytes of a startup-phase packet.  Returns 0 and sets
 * *len to the whole packet's length once 4 bytes are there (1 when more
 * bytes are needed: *len 0), JG_ERR_TOOBIG / JG_ERR_PARSE for a length
 * outside [8, PGPROTO_STARTUP_MAX]. */
int pgproto_startup_len(const uint8_t *p, size_t n, uint32_t *len) JG_WUR;
/* Parses one complete startup-phase packet of exactly n bytes.  out is
 * zeroed first; on success the caller clears it. */
int pgproto_startup_parse(const uint8_t *p, size_t n,
			  struct pgproto_startup *out) JG_WUR;
void pgproto_startup_clear(struct pgproto_startup *s);
/* Value of a startup parameter or NULL. */
const char *pgproto_startup_get(const struct pgproto_startup *s,
				const char *name);

/* Reads a regular message header (type byte + 4-byte length that counts
 * itself).  Returns 1 when fewer than 5 bytes are there, 0 with *type and
 * *bodylen set, JG_ERR_PARSE / JG_ERR_TOOBIG when the length is below 4 or
 * the body above max. */
int pgproto_msg_header(const uint8_t *p, size_t n, size_t max,
		       uint8_t *type, uint32_t *bodylen) JG_WUR;

/* Walks message boundaries of a byte stream without buffering it.
 * Optionally keeps a prefix of messages whose type is in capture_types and
 * reports each complete message of those types (and only those) to on_msg.
 * A Parse ('P') is captured as its statement name, cut to
 * PGPROTO_CAPTURE_NAME_MAX bytes however long it is, a NUL, then the start
 * of its text: a long name cannot push the text out of the capture. */
#define PGPROTO_CAPTURE_MAX 4352u /* 4 KiB of text plus a statement name */
#define PGPROTO_CAPTURE_NAME_MAX 64u

typedef void (*pgproto_msg_fn)(void *arg, uint8_t type, const uint8_t *prefix,
			       size_t prefixlen, uint32_t bodylen);

struct pgproto_framer {
	uint8_t hdr[5];
	uint8_t hdrlen;      /* header bytes of the next message seen so far */
	uint8_t type;        /* type of the message in progress */
	uint32_t bodylen;    /* its body length */
	uint32_t remaining;  /* its body bytes still to come */
	bool in_body;
	const char *capture_types; /* NULL: capture nothing */
	uint8_t cap[PGPROTO_CAPTURE_MAX];
	size_t caplen;
	bool cap_in_name;    /* a Parse whose name has not ended yet */
	pgproto_msg_fn on_msg; /* NULL: report nothing */
	void *arg;
	/* Set by on_msg to make pgproto_framer_feed return right after the
	 * message it reports; the caller clears it to go on. */
	bool hold;
	uint64_t nmsgs;
	const char *count_types; /* NULL: count nothing */
	uint64_t ncounted;       /* messages begun whose type is in count_types */
};

/* Feeds n bytes.  With stop_at_boundary (or when on_msg sets hold) the walk
 * stops right after the first message end it reaches (or at once when
 * already on a boundary or held, then returning 0).  Returns the number of bytes consumed, or a negative code
 * on a malformed header (the stream cannot be trusted further). */
long pgproto_framer_feed(struct pgproto_framer *f, const uint8_t *p, size_t n,
			 bool stop_at_boundary);
/* True when the stream sits between two messages. */
bool pgproto_framer_at_boundary(const struct pgproto_framer *f);

/* Builders append one message to out. */
/* ErrorResponse (or NoticeResponse when notice) with severity S/V, code C,
 * message M. */
int pgproto_put_error(struct evbuffer *out, bool notice, const char *severity,
		      const char *sqlstate, const char *message) JG_WUR;
int pgproto_put_auth(struct evbuffer *out, uint32_t code, const void *extra,
		     size_t extralen) JG_WUR;
int pgproto_put_backend_key(struct evbuffer *out, uint32_t pid,
			    uint32_t key) JG_WUR;
int pgproto_put_param_status(struct evbuffer *out, const char *name,
			     const char *value) JG_WUR;
/* A message of the given type whose body is body (type 0: no type byte,
 * as in startup packets). */
int pgproto_put_msg(struct evbuffer *out, uint8_t type, const void *body,
		    size_t bodylen) JG_WUR;
/* A startup packet from NULL-terminated name/value arrays. */
int pgproto_put_startup(struct evbuffer *out, const char *const *names,
			const char *const *values, size_t n) JG_WUR;
int pgproto_put_cancel(struct evbuffer *out, uint32_t pid,
		       uint32_t key) JG_WUR;

/* Field lookup in an ErrorResponse/NoticeResponse body: copies field code
 * (e.g. 'C', 'M') into buf; empty when absent. */
void pgproto_error_field(const uint8_t *body, size_t n, char code, char *buf,
			 size_t buflen);

/* Big-endian helpers. */
uint32_t pgproto_be32(const uint8_t *p);
void pgproto_put_be32(uint8_t *p, uint32_t v);

#endif
