#include "gateway/gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/kdfpool.h"
#include "gateway/session.h"
#include "gateway/session_int.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/timeutil.h"

#define GW_WHY_MAX 32
#define GW_QUEUE_MAX 1000000 /* ended grants waiting for the loop */
#define GW_ACCEPT_PAUSE_MS 100 /* listener off after running out of fds */
#define GW_SHED_MAX 64         /* pending connections shed per pause */

struct ended {
	struct ended *next;
	int64_t request_id;
	char why[GW_WHY_MAX];
};

struct gateway {
	struct gw_ctx ctx;
	struct evconnlistener *listener;
	int efd;                 /* eventfd: other threads wake the loop */
	struct event *wake_ev;
	pthread_mutex_t lock;    /* guards the queue below */
	struct ended *head, *tail;
	size_t queued;
	atomic_bool resume;      /* the audit writer caught up */
	int reserve_fd;          /* spent to shed a connection at EMFILE */
	struct event *accept_ev; /* re-enables the listener */
	struct connlimit_ratelog accept_log;
};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct gateway *gw = arg;

	(void)l;
	session_accept(&gw->ctx, fd, sa, salen);
}

static void answer_53300(int fd, void *arg)
{
	(void)arg;
	session_refuse_fd(fd, "53300", "sorry, too many clients "
			  "already (out of file descriptors)");
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct gateway *gw = arg;
	struct timeval tv = {0, GW_ACCEPT_PAUSE_MS * 1000};
	int err = errno;
	unsigned shed = 0;
	uint64_t n;

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		/* Out of descriptors (or memory): the pending connection stays
		 * readable, so the listener would fire again at once, forever.
		 * Turn the waiting ones away with a message, stop listening
		 * briefly, and let sessions end meanwhile. */
		shed = netaddr_shed(evconnlistener_get_fd(l), &gw->reserve_fd,
				    GW_SHED_MAX, answer_53300, NULL);
		if (evconnlistener_disable(l) == 0 && gw->accept_ev)
			evtimer_add(gw->accept_ev, &tv);
	}
	if (connlimit_log_due(&gw->accept_log, time_now_ms(), &n))
		log_warn("gateway", "accept: %s (%llu times in the last %d s; "
			 "%u waiting connections turned away now; %zu open)",
			 strerror(err), (unsigned long long)n,
			 CONNLIMIT_LOG_EVERY_MS / 1000, shed,
			 session_count(&gw->ctx));
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gateway *gw = arg;

	(void)fd;
	(void)what;
	if (gw->reserve_fd < 0)
		gw->reserve_fd = netaddr_reserve_open();
	if (gw->listener)
		evconnlistener_enable(gw->listener);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_reap(arg);
}

static void graves_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	closer_graves_close(arg);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gateway *gw = arg;
	struct ended *list;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("gateway", "eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&gw->lock);
	list = gw->head;
	gw->head = gw->tail = NULL;
	gw->queued = 0;
	pthread_mutex_unlock(&gw->lock);
	if (atomic_exchange(&gw->resume, false))
		session_audit_resume(&gw->ctx);
	while (list) {
		struct ended *e = list;

		list = e->next;
		session_grant_ended(&gw->ctx, e->request_id, e->why);
		free(e);
	}
}

void gateway_grant_ended(struct gateway *gw, int64_t request_id,
			 const char *why)
{
	struct ended *e = calloc(1, sizeof(*e));
	uint64_t one = 1;

	if (!e) {
		/* the sessions' expiry timer still cuts at expiry; a
		 * revocation lost here is logged loudly */
		log_error("gateway", "out of memory: grant %lld end not "
			  "delivered", (long long)request_id);
		return;
	}
	e->request_id = request_id;
	snprintf(e->why, sizeof(e->why), "%s", why ? why : "ended");
	pthread_mutex_lock(&gw->lock);
	if (gw->queued >= GW_QUEUE_MAX) {
		pthread_mutex_unlock(&gw->lock);
		free(e);
		log_error("gateway", "queue full: grant %lld end not delivered",
			  (long long)request_id);
		return;
	}
	if (gw->tail)
		gw->tail->next = e;
	else
		gw->head = e;
	gw->tail = e;
	gw->queued++;
	pthread_mutex_unlock(&gw->lock);
	if (write(gw->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("gateway", "eventfd write: %s", strerror(errno));
}

void gateway_audit_resume(struct gateway *gw)
{
	uint64_t one = 1;

	atomic_store(&gw->resume, true);
	if (write(gw->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("gateway", "eventfd write: %s", strerror(errno));
}

/* Each session holds a client and an upstream descriptor. */
static void check_fd_limit(const struct config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	if ((uint64_t)cfg->limits.gateway_connections * 2 + 64 > rl.rlim_cur)
		log_warn("gateway", "limits.gateway_connections %lld needs about "
			 "%lld file descriptors, RLIMIT_NOFILE is %llu: logins "
			 "may fail before the limit (raise LimitNOFILE)",
			 (long long)cfg->limits.gateway_connections,
			 (long long)cfg->limits.gateway_connections * 2 + 64,
			 (unsigned long long)rl.rlim_cur);
}

static int make_tls(struct gateway *gw, const struct config *cfg)
{
	gw->ctx.tls_client = SSL_CTX_new(TLS_client_method());
	if (!gw->ctx.tls_client)
		return JG_ERR_CRYPTO;
	SSL_CTX_set_min_proto_version(gw->ctx.tls_client, TLS1_2_VERSION);
	SSL_CTX_set_mode(gw->ctx.tls_client, SSL_MODE_RELEASE_BUFFERS);
	/* The config has no CA for upstreams: TLS there protects against
	 * passive eavesdropping (libpq's sslmode=require), see docs. */
	SSL_CTX_set_verify(gw->ctx.tls_client, SSL_VERIFY_NONE, NULL);
	if (!cfg->gateway.tls_cert)
		return 0;
	gw->ctx.tls_server = SSL_CTX_new(TLS_server_method());
	if (!gw->ctx.tls_server)
		return JG_ERR_CRYPTO;
	SSL_CTX_set_min_proto_version(gw->ctx.tls_server, TLS1_2_VERSION);
	/* an idle session gives back its two ~17 KiB record buffers
	 * (docs/benchmarks.md: memory per TLS session) */
	SSL_CTX_set_mode(gw->ctx.tls_server, SSL_MODE_RELEASE_BUFFERS);
	/* a client's TLS 1.2 renegotiation is answered no_renegotiation
	 * (OpenSSL 3's default too, said here for any version) */
	SSL_CTX_set_options(gw->ctx.tls_server, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(gw->ctx.tls_server,
					       cfg->gateway.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(gw->ctx.tls_server,
					cfg->gateway.tls_key,
					SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(gw->ctx.tls_server) != 1) {
		log_error("gateway", "cannot load TLS certificate %s / key: %s",
			  cfg->gateway.tls_cert,
			  ERR_reason_error_string(ERR_get_error()));
		return JG_ERR_CRYPTO;
	}
	return 0;
}

int gateway_tls_check(const struct config *cfg, char *err, size_t errlen)
{
	struct gateway gw;
	int rc;

	memset(&gw, 0, sizeof(gw));
	ERR_clear_error();
	rc = make_tls(&gw, cfg);
	if (rc != 0)
		snprintf(err, errlen, "gateway.tls: cannot load certificate %s / key %s: %s",
			 cfg->gateway.tls_cert ? cfg->gateway.tls_cert : "-",
			 cfg->gateway.tls_key ? cfg->gateway.tls_key : "-",
			 ERR_reason_error_string(ERR_peek_last_error())
				 ? ERR_reason_error_string(ERR_peek_last_error())
				 : "unknown error");
	SSL_CTX_free(gw.ctx.tls_client);
	SSL_CTX_free(gw.ctx.tls_server);
	ERR_clear_error();
	return rc;
}

/* Binds postgres_listen when the caller has not bound it already. */
static int bind_listener(const struct config *cfg, int *fd)
{
	struct netaddr a;
	char why[160];

	if (netaddr_parse(cfg->gateway.postgres_listen, 0, &a, why,
			  sizeof(why)) != JG_OK) {
		log_error("gateway", "bad postgres_listen: %s", why);
		return JG_ERR_INVALID;
	}
	if (netaddr_listen(&a, 1024, fd, why, sizeof(why)) != JG_OK) {
		log_error("gateway", "%s", why);
		return JG_ERR_IO;
	}
	return 0;
}

struct event_base *gateway_base_new(void)
{
	struct event_config *c = event_config_new();
	struct event_base *base = NULL;

	if (!c)
		return NULL;
	/* the changelist only changes what epoll does (other backends
	 * ignore the flag) */
	if (event_config_set_flag(c, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(c);
	event_config_free(c);
	return base;
}

int gateway_start(struct event_base *base, const struct config *cfg,
		  const struct gateway_hooks *hooks, int listen_fd,
		  struct gateway **out)
{
	struct gateway *gw;
	int rc;

	*out = NULL;
	if (!cfg->gateway.postgres_listen || !hooks->authenticate ||
	    !hooks->find_grant) {
		if (listen_fd >= 0)
			close(listen_fd);
		return JG_ERR_INVALID;
	}
	gw = calloc(1, sizeof(*gw));
	if (!gw) {
		if (listen_fd >= 0)
			close(listen_fd);
		return JG_ERR_NOMEM;
	}
	gw->efd = -1;
	gw->reserve_fd = -1;
	pthread_mutex_init(&gw->lock, NULL);
	gw->ctx.base = base;
	gw->ctx.cfg = cfg;
	gw->ctx.hooks = *hooks;
	rc = JG_ERR_NOMEM;
	if (registry_new(4096, &gw->ctx.by_request) != 0 ||
	    registry_new(4096, &gw->ctx.by_cancel) != 0 ||
	    connlimit_new(&gw->ctx.preauth_by_addr) != 0)
		goto out;
	gw->ctx.reap_ev = event_new(base, -1, 0, reap_cb, &gw->ctx);
	gw->accept_ev = evtimer_new(base, accept_resume_cb, gw);
	gw->ctx.grave_ev = evtimer_new(base, graves_cb, &gw->ctx);
	if (!gw->ctx.reap_ev || !gw->accept_ev || !gw->ctx.grave_ev)
		goto out;
	gw->ctx.dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
					   EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!gw->ctx.dns) /* no resolv.conf: numeric upstreams still work */
		gw->ctx.dns = evdns_base_new(base, 0);
	if (!gw->ctx.dns)
		goto out;
	rc = make_tls(gw, cfg);
	if (rc != 0)
		goto out;
	rc = kdfpool_new(base, KDFPOOL_THREADS, &gw->ctx.kdf);
	if (rc != 0)
		goto out;
	rc = expiry_new(base, &gw->ctx.expiry);
	if (rc != 0)
		goto out;
	rc = JG_ERR_IO;
	gw->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gw->efd < 0)
		goto out;
	gw->wake_ev = event_new(base, gw->efd, EV_READ | EV_PERSIST, wake_cb,
				gw);
	if (!gw->wake_ev || event_add(gw->wake_ev, NULL) != 0)
		goto out;
	/* one descriptor kept back to turn connections away at EMFILE */
	gw->reserve_fd = netaddr_reserve_open();
	if (gw->reserve_fd < 0)
		goto out;
	if (listen_fd < 0) {
		rc = bind_listener(cfg, &listen_fd);
		if (rc != 0)
			goto out;
	}
	/* no address reuse: the socket was bound by netaddr_listen */
	gw->listener = evconnlistener_new(
		base, accept_cb, gw, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
		0 /* already listening */, listen_fd);
	if (!gw->listener) {
		log_error("gateway", "cannot watch the listener on %s: %s",
			  cfg->gateway.postgres_listen, strerror(errno));
		rc = JG_ERR_IO;
		goto out;
	}
	listen_fd = -1;
	evconnlistener_set_error_cb(gw->listener, accept_error_cb);
	check_fd_limit(cfg);
	log_info("gateway", "PostgreSQL gateway listening on %s%s",
		 cfg->gateway.postgres_listen,
		 gw->ctx.tls_server ? " (TLS offered)" : "");
	rc = 0;
	*out = gw;
	gw = NULL;
out:
	if (listen_fd >= 0)
		close(listen_fd);
	gateway_free(gw);
	return rc;
}

void gateway_set_config(struct gateway *gw, const struct config *cfg)
{
	/* sessions copied what they need at admission; new logins see the
	 * new resources and roles */
	gw->ctx.cfg = cfg;
}

int gateway_port(const struct gateway *gw)
{
	return netaddr_local_port(evconnlistener_get_fd(gw->listener));
}

size_t gateway_session_count(const struct gateway *gw)
{
	return session_count(&gw->ctx);
}

void gateway_test_force_remote(struct gateway *gw, bool on)
{
	atomic_store(&gw->ctx.force_remote, on);
}

void gateway_test_hold_kdf(struct gateway *gw, bool hold)
{
	kdfpool_test_hold(gw->ctx.kdf, hold);
}

void gateway_free(struct gateway *gw)
{
	struct ended *e;

	if (!gw)
		return;
	session_close_all(&gw->ctx);
	/* one non-blocking turn lets the FATALs just queued go out */
	event_base_loop(gw->ctx.base, EVLOOP_NONBLOCK);
	session_reap(&gw->ctx);
	session_free_closers(&gw->ctx);
	kdfpool_free(gw->ctx.kdf);
	expiry_free(gw->ctx.expiry);
	if (gw->listener)
		evconnlistener_free(gw->listener);
	if (gw->accept_ev)
		event_free(gw->accept_ev);
	if (gw->ctx.reap_ev)
		event_free(gw->ctx.reap_ev);
	if (gw->ctx.grave_ev)
		event_free(gw->ctx.grave_ev);
	free(gw->ctx.graves);
	if (gw->reserve_fd >= 0)
		close(gw->reserve_fd);
	connlimit_free(gw->ctx.preauth_by_addr);
	if (gw->wake_ev)
		event_free(gw->wake_ev);
	if (gw->efd >= 0)
		close(gw->efd);
	while ((e = gw->head) != NULL) {
		gw->head = e->next;
		free(e);
	}
	registry_free(gw->ctx.by_request);
	registry_free(gw->ctx.by_cancel);
	if (gw->ctx.dns)
		evdns_base_free(gw->ctx.dns, 0);
	SSL_CTX_free(gw->ctx.tls_server);
	SSL_CTX_free(gw->ctx.tls_client);
	pthread_mutex_destroy(&gw->lock);
	free(gw);
}
