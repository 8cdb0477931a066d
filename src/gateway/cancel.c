/* CancelRequest: the client holds a key the gateway made up; the
 * gateway maps it to the session and cancels upstream with the upstream's
 * own key.  Also used to stop a running statement when a grant ends. */
#include "gateway/session.h"
#include "gateway/session_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/principal.h"
#include "gateway/pgproto.h"
#include "gateway/scram.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

struct cancel_req {
	struct gw_ctx *gw;
	uint8_t msg[16];
};

static void cancel_event(struct bufferevent *bev, short what, void *arg)
{
	struct cancel_req *req = arg;
	struct gw_ctx *gw = req->gw;

	if ((what & BEV_EVENT_CONNECTED) &&
	    bufferevent_write(bev, req->msg, 16) == 0) {
		free(req);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		closer_after_flush(gw, bev, false);
		return;
	}
	free(req);
	bufferevent_free(bev);
}

/* Opens a connection to t's upstream and sends it a CancelRequest with
 * the upstream's own key (best effort: failures are only logged). */
void cancel_send(struct gw_ctx *gw, const struct session *t)
{
	struct timeval tv = {5, 0};
	struct cancel_req *req = calloc(1, sizeof(*req));
	struct bufferevent *bev = bufferevent_socket_new(gw->base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (!req || !bev) {
		free(req);
		if (bev)
			bufferevent_free(bev);
		log_warn(t->tag, "cannot send a cancel upstream: out of memory");
		return;
	}
	req->gw = gw;
	pgproto_put_be32(req->msg, 16);
	pgproto_put_be32(req->msg + 4, PGPROTO_CANCEL_CODE);
	pgproto_put_be32(req->msg + 8, t->up_pid);
	pgproto_put_be32(req->msg + 12, t->up_key);
	bufferevent_setcb(bev, NULL, NULL, cancel_event, req);
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (bufferevent_socket_connect_hostname(bev, gw->dns, AF_UNSPEC, t->up_host,
						t->up_port) != 0) {
		free(req);
		bufferevent_free(bev);
		log_warn(t->tag, "cannot send a cancel upstream");
	}
}

void cancel_handle(struct session *s, uint32_t pid, uint32_t key)
{
	struct registry_link *l[4];
	struct session *t = NULL;
	size_t n = registry_find(s->gw->by_cancel, (int64_t)pid, l, 4);

	for (size_t i = 0; i < n && i < 4; i++) {
		struct session *c = (struct session *)(void *)
			((char *)l[i] - offsetof(struct session, by_cancel));

		if (crypto_ct_equal(&c->my_key, &key, sizeof(key)))
			t = c;
	}
	/* like PostgreSQL: the canceller learns nothing either way */
	if (!t || t->state != SS_RELAY) {
		session_close(s, "cancel request with unknown key");
		return;
	}
	log_info(t->tag, "cancel request from %s", s->peer);
	cancel_send(s->gw, t);
	session_close(s, "cancel request forwarded");
}
