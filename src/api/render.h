/* JSON shapes of the API (design section 4). */
#ifndef JG_API_RENDER_H
#define JG_API_RENDER_H

#include <jansson.h>

#include "core/request.h"

/* The request object; NULL on allocation failure. */
json_t *render_request(const struct request *r);
/* {"error": {"code": code, "message": message}} */
json_t *render_error(const char *code, const char *message);
/* RFC 3339 string, or JSON null for 0. */
json_t *render_time(int64_t ms);

#endif
