/* Shared between the API's plumbing (http.c) and its endpoints
 * (handlers.c, audit_api.c).  Not for use outside src/api. */
#ifndef JG_API_INTERNAL_H
#define JG_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "api/api.h"
#include "api/body.h"
#include "identity/auth.h"

enum conn_state { CONN_NEW, CONN_READING, CONN_SUSPENDED, CONN_RESUMED };

/* One HTTP request in flight. */
struct conn {
	struct api_deps *deps;
	struct MHD_Connection *mhd;
	enum conn_state state;
	char *body;
	size_t len;
	bool too_big;
	struct cfgref *ref;
	const struct config *cfg;
	bool authed;
	struct authn who;
	/* the answer to send once the engine is done */
	int status;
	json_t *resp;
	/* engine work */
	struct engine_cmd cmd;
	json_t *args; /* the parsed body: cmd borrows strings from it */
	/* what to answer when the engine is done; NULL = render cmd */
	void (*after)(struct conn *c);
};

/* Sets the answer (resp stolen). */
void conn_reply(struct conn *c, int status, json_t *resp);
/* Sets an error answer in the design's shape. */
void conn_error(struct conn *c, int status, const char *code, const char *fmt,
		...) JG_PRINTF(4, 5);
/* Maps a JG_ERR_* and message to the HTTP answer. */
void conn_fail(struct conn *c, int err, const char *message);
/* Hands cmd to the engine and suspends the connection; after runs when it
 * is done (or NULL: answer with the request, 201 for create). */
void conn_submit(struct conn *c, void (*after)(struct conn *c));
/* Queues an audit event to be durable before the answer goes out. */
void conn_audit_then_reply(struct conn *c, json_t *event, int status,
			   json_t *resp);

const char *conn_arg(struct conn *c, const char *name);
/* Reads an optional integer query argument into *out (untouched when
 * absent); answers 400 naming it and returns false when it is not an
 * integer in [lo, hi]. */
bool conn_arg_long(struct conn *c, const char *name, long lo, long hi, long *out);

/* Endpoints (handlers.c). */
void handle_create(struct conn *c);
void handle_action(struct conn *c, int64_t id, const char *verb);
void handle_get_request(struct conn *c, int64_t id);
void handle_list(struct conn *c);
void handle_check(struct conn *c);
void handle_whoami(struct conn *c);
/* catalog.c */
void handle_catalog(struct conn *c);
/* audit_api.c */
void handle_audit_list(struct conn *c);
void handle_audit_verify(struct conn *c);
struct MHD_Response *audit_export_response(struct conn *c);

#endif
