/* CancelRequest: the client holds a key the gateway made up; the
 * gateway maps it to the session and cancels upstream with the upstream's
 * own key.  Also used to stop a running statement when a grant ends.
 * With upstream.tls the cancel goes inside TLS, as the login did. */
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
#include <openssl/x509.h>
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
	char tag[24];
	/* with upstream.tls the key goes inside TLS, checked as the login
	 * was (PostgreSQL takes a CancelRequest after SSLRequest) */
	enum upstream_tls_mode tls_mode;
	char *host, *server_name;
	X509_STORE *ca;
};

static void req_free(struct cancel_req *req)
{
	free(req->host);
	free(req->server_name);
	X509_STORE_free(req->ca);
	OPENSSL_cleanse(req->msg, sizeof(req->msg));
	free(req);
}

static void cancel_tls_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev),
		       evbuffer_get_length(bufferevent_get_input(bev)));
}

/* The upstream closes the connection once it has read the cancel (or
 * the handshake failed, or the time ran out): then it is done.  Not a
 * closer: freeing a TLS filter as soon as its own output is empty would
 * drop the encrypted bytes still queued below it. */
static void cancel_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct gw_ctx *gw = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	/* mode require records a result too, but checks nothing */
	long vr = ssl && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) ?
		SSL_get_verify_result(ssl) : X509_V_OK;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (vr != X509_V_OK)
		log_warn("gateway", "cancel request not sent: upstream "
			 "certificate not accepted (%s)",
			 X509_verify_cert_error_string(vr));
	closer_bev_free(gw, bev);
}

/* The upstream's answer to our SSLRequest: 'S', then TLS and the cancel;
 * anything else drops the cancel rather than send the key in clear. */
static void cancel_read(struct bufferevent *bev, void *arg)
{
	struct cancel_req *req = arg;
	struct gw_ctx *gw = req->gw;
	struct timeval tv = {5, 0};
	struct bufferevent *tls;
	uint8_t c;
	SSL *ssl;

	if (bufferevent_read(bev, &c, 1) != 1)
		return;
	if (c != 'S' || evbuffer_get_length(bufferevent_get_input(bev)) != 0) {
		log_warn(req->tag, "upstream declined TLS for a cancel request; "
			 "not sent");
		goto drop;
	}
	ssl = upstream_ssl_new(req->gw, req->tls_mode, req->host,
			       req->server_name, req->ca);
	if (!ssl)
		goto drop;
	tls = bufferevent_openssl_filter_new(req->gw->base, bev, ssl,
					     BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		goto drop;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_set_timeouts(tls, &tv, &tv);
	bufferevent_setcb(tls, cancel_tls_read, NULL, cancel_tls_event, req->gw);
	if (bufferevent_write(tls, req->msg, sizeof(req->msg)) != 0 ||
	    bufferevent_enable(tls, EV_READ | EV_WRITE) != 0) {
		closer_bev_free(gw, tls);
		req_free(req);
		return;
	}
	log_debug(req->tag, "cancel request to the upstream over TLS");
	req_free(req);
	return;
drop:
	req_free(req);
	closer_bev_free(gw, bev);
}

static void cancel_event(struct bufferevent *bev, short what, void *arg)
{
	struct cancel_req *req = arg;
	struct gw_ctx *gw = req->gw;
	uint8_t ssl_req[8];

	if ((what & BEV_EVENT_CONNECTED) && req->tls_mode != UPSTREAM_TLS_OFF) {
		pgproto_put_be32(ssl_req, 8);
		pgproto_put_be32(ssl_req + 4, PGPROTO_SSL_CODE);
		if (bufferevent_write(bev, ssl_req, sizeof(ssl_req)) == 0) {
			bufferevent_setcb(bev, cancel_read, NULL, cancel_event,
					  req);
			bufferevent_enable(bev, EV_READ);
			return;
		}
	} else if ((what & BEV_EVENT_CONNECTED) &&
		   bufferevent_write(bev, req->msg, 16) == 0) {
		req_free(req);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		closer_after_flush(gw, bev, false);
		return;
	}
	req_free(req);
	closer_bev_free(gw, bev);
}

/* Opens a connection to t's upstream and sends it a CancelRequest with
 * the upstream's own key (best effort: failures are only logged). */
void cancel_send(struct gw_ctx *gw, const struct session *t)
{
	struct timeval tv = {5, 0};
	struct cancel_req *req = calloc(1, sizeof(*req));
	struct bufferevent *bev = bufferevent_socket_new(gw->base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (req) {
		req->gw = gw;
		req->tls_mode = t->up_tls_mode;
		snprintf(req->tag, sizeof(req->tag), "%s", t->tag);
		req->host = strdup(t->up_host);
		req->server_name = t->up_server_name ?
			strdup(t->up_server_name) : NULL;
		if (t->up_ca && X509_STORE_up_ref(t->up_ca) == 1)
			req->ca = t->up_ca;
	}
	if (!req || !bev || !req->host ||
	    (t->up_server_name && !req->server_name) ||
	    (t->up_ca && !req->ca)) {
		if (req)
			req_free(req);
		if (bev)
			closer_bev_free(gw, bev);
		log_warn(t->tag, "cannot send a cancel upstream: out of memory");
		return;
	}
	pgproto_put_be32(req->msg, 16);
	pgproto_put_be32(req->msg + 4, PGPROTO_CANCEL_CODE);
	pgproto_put_be32(req->msg + 8, t->up_pid);
	pgproto_put_be32(req->msg + 12, t->up_key);
	bufferevent_setcb(bev, NULL, NULL, cancel_event, req);
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (bufferevent_socket_connect_hostname(bev, gw->dns, AF_UNSPEC, t->up_host,
						t->up_port) != 0) {
		req_free(req);
		closer_bev_free(gw, bev);
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
