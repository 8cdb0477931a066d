/* The gateway's login to the upstream server: TCP, optional TLS, the
 * startup packet, SCRAM-SHA-256 / md5 / trust with the role's brokered
 * credentials, then the parameters up to ReadyForQuery. */
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

void upstream_fail(struct session *s, const char *what)
{
	char msg[512];

	log_warn(s->tag, "upstream %s:%d for %s as %s: %s", s->up_host,
		 s->up_port, s->resource, s->role, what);
	snprintf(msg, sizeof(msg), "jitgate: cannot log in to %s as %s: %s",
		 s->resource, s->role, what);
	session_audit(s, "check.denied", json_pack("{s:s, s:s, s:s}", "via", "gateway",
					   "reason", "upstream_failed",
					   "client", s->peer));
	session_fatal(s, "08006", msg, "upstream login failed");
}

static int send_upstream_startup(struct session *s)
{
	const char *names[PGPROTO_STARTUP_PARAMS_MAX + 2];
	const char *values[PGPROTO_STARTUP_PARAMS_MAX + 2];
	size_t n = 0;

	names[n] = "user";
	values[n++] = s->up_user;
	names[n] = "database";
	values[n++] = s->up_dbname;
	for (size_t i = 0; i < s->startup.nparams; i++) {
		const char *k = s->startup.params[i].name;

		/* identity and protocol options are ours to set */
		if (strcmp(k, "user") == 0 || strcmp(k, "database") == 0 ||
		    strcmp(k, "replication") == 0 ||
		    strncmp(k, "_pq_.", 5) == 0)
			continue;
		names[n] = k;
		values[n++] = s->startup.params[i].value;
	}
	return pgproto_put_startup(bufferevent_get_output(s->ubev), names,
				   values, n);
}

void upstream_connect(struct session *s)
{
	s->state = SS_UP_CONNECT;
	s->ubev = bufferevent_socket_new(s->gw->base, -1,
					 BEV_OPT_CLOSE_ON_FREE);
	if (!s->ubev) {
		session_free(s, "out of memory");
		return;
	}
	bufferevent_setcb(s->ubev, session_upstream_read, session_relay_write, session_upstream_event,
			  s);
	bufferevent_enable(s->ubev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(s->ubev, s->gw->dns, AF_UNSPEC,
						s->up_host, s->up_port) != 0)
		upstream_fail(s, "cannot connect");
}

void upstream_connected(struct session *s)
{
	uint8_t req[8];

	if (session_set_nodelay(s->ubev) != 0)
		log_debug(s->tag, "TCP_NODELAY: %s", strerror(errno));
	if (s->up_tls) {
		pgproto_put_be32(req, 8);
		pgproto_put_be32(req + 4, PGPROTO_SSL_CODE);
		if (bufferevent_write(s->ubev, req, sizeof(req)) != 0) {
			session_free(s, "out of memory");
			return;
		}
		s->state = SS_UP_SSL;
		return;
	}
	if (send_upstream_startup(s) != 0) {
		session_free(s, "out of memory");
		return;
	}
	s->state = SS_UP_AUTH;
}

void upstream_start_tls(struct session *s)
{
	struct bufferevent *tls;
	struct in6_addr tmp;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(s->ubev)) != 0) {
		upstream_fail(s, "unexpected data after SSLRequest");
		return;
	}
	ssl = SSL_new(s->gw->tls_client);
	if (!ssl) {
		session_free(s, "out of memory");
		return;
	}
	if (inet_pton(AF_INET, s->up_host, &tmp) != 1 &&
	    inet_pton(AF_INET6, s->up_host, &tmp) != 1)
		SSL_set_tlsext_host_name(ssl, s->up_host);
	tls = session_tls_filter(s, s->ubev, ssl, BUFFEREVENT_SSL_CONNECTING);
	if (!tls)
		return;
	s->ubev = tls;
	bufferevent_setcb(tls, session_upstream_read, session_relay_write, session_upstream_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	if (send_upstream_startup(s) != 0) {
		session_free(s, "out of memory");
		return;
	}
	s->state = SS_UP_AUTH;
}

static int send_password_msg(struct session *s, const void *body, size_t len)
{
	return pgproto_put_msg(bufferevent_get_output(s->ubev), 'p', body, len);
}

/* Handles one AuthenticationRequest from the upstream. */
static int upstream_auth(struct session *s, const uint8_t *body, uint32_t len)
{
	const char *password;
	char buf[SCRAM_MSG_MAX + 64];
	size_t n;
	uint32_t code;
	int rc;

	if (len < 4)
		return JG_ERR_PARSE;
	code = pgproto_be32(body);
	if (code == 0)
		return 1; /* AuthenticationOk */
	if (code == 12) { /* SASLFinal */
		if (!s->scram ||
		    scram_verify_final(s->scram, (const char *)body + 4,
				       len - 4) != 0)
			return JG_ERR_AUTH;
		return 0;
	}
	password = s->password_env ? getenv(s->password_env) : NULL;
	if (!password) {
		log_error(s->tag, "upstream wants a password for role %s of "
			  "%s but $%s is not set", s->role, s->resource,
			  s->password_env ? s->password_env : "(none)");
		return JG_ERR_NOTFOUND;
	}
	switch (code) {
	case 3: /* cleartext */
		return send_password_msg(s, password, strlen(password) + 1);
	case 5: { /* md5 */
		char md5[36];

		if (len != 8)
			return JG_ERR_PARSE;
		scram_md5_password(s->up_user, password, body + 4, md5);
		rc = send_password_msg(s, md5, strlen(md5) + 1);
		OPENSSL_cleanse(md5, sizeof(md5));
		return rc;
	}
	case 10: { /* SASL: list of mechanisms */
		bool found = false;
		size_t i = 4;

		while (i < len && body[i]) {
			size_t l = strnlen((const char *)body + i, len - i);

			if (l == 13 && memcmp(body + i, "SCRAM-SHA-256", 13) == 0)
				found = true;
			i += l + 1;
		}
		if (!found || s->scram)
			return JG_ERR_AUTH;
		rc = scram_new(password, &s->scram);
		if (rc != 0)
			return rc;
		memcpy(buf, "SCRAM-SHA-256", 14);
		rc = scram_client_first(s->scram, buf + 18, sizeof(buf) - 18,
					&n);
		if (rc != 0)
			return rc;
		pgproto_put_be32((uint8_t *)buf + 14, (uint32_t)n);
		return send_password_msg(s, buf, 18 + n);
	}
	case 11: /* SASLContinue */
		if (!s->scram)
			return JG_ERR_AUTH;
		rc = scram_client_final(s->scram, (const char *)body + 4,
					len - 4, buf, sizeof(buf), &n);
		if (rc != 0)
			return rc;
		rc = send_password_msg(s, buf, n);
		OPENSSL_cleanse(buf, sizeof(buf));
		return rc;
	default:
		return JG_ERR_AUTH; /* GSS, SSPI, Kerberos: not supported */
	}
}

/* Runs the login-phase messages the upstream sent.  Returns once the
 * input is exhausted, the relay started, or the session is gone (1). */
int upstream_login_msgs(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->ubev);
	struct evbuffer *cout = bufferevent_get_output(s->cbev);

	while (s->state == SS_UP_AUTH || s->state == SS_UP_PARAMS) {
		uint8_t *p, type;
		uint32_t len;
		int rc;

		p = evbuffer_pullup(in, 5);
		if (!p)
			return 0;
		rc = pgproto_msg_header(p, 5, PGPROTO_LOGIN_MSG_MAX, &type,
					&len);
		if (rc < 0) {
			upstream_fail(s, "malformed message from upstream");
			return 1;
		}
		if (evbuffer_get_length(in) < 5 + (size_t)len)
			return 0;
		p = evbuffer_pullup(in, 5 + (ssize_t)len);
		if (type == 'E') {
			char code[8], m[256], msg[400];

			pgproto_error_field(p + 5, len, 'C', code, sizeof(code));
			pgproto_error_field(p + 5, len, 'M', m, sizeof(m));
			snprintf(msg, sizeof(msg), "upstream refused (%s): %s",
				 code, m);
			upstream_fail(s, msg);
			return 1;
		}
		if (s->state == SS_UP_AUTH) {
			if (type == 'R') {
				rc = upstream_auth(s, p + 5, len);
				if (rc < 0) {
					upstream_fail(s, rc == JG_ERR_NOTFOUND ?
						      "no upstream password configured" :
						      "upstream authentication failed");
					return 1;
				}
				if (rc == 1) {
					if (pgproto_put_auth(cout, 0, NULL, 0)) {
						session_free(s, "out of memory");
						return 1;
					}
					s->state = SS_UP_PARAMS;
				}
			} else if (type != 'N' && type != 'v') {
				upstream_fail(s, "unexpected message from upstream");
				return 1;
			}
			evbuffer_drain(in, 5 + len);
			continue;
		}
		/* SS_UP_PARAMS */
		if (type == 'K' && len == 8) {
			s->up_pid = pgproto_be32(p + 5);
			s->up_key = pgproto_be32(p + 9);
			evbuffer_drain(in, 5 + len);
			if (crypto_random(&s->my_pid, 4) != 0 ||
			    crypto_random(&s->my_key, 4) != 0) {
				session_free(s, "no randomness");
				return 1;
			}
			s->my_pid &= 0x7fffffff; /* looks like a pid to libpq */
			registry_insert(s->gw->by_cancel, &s->by_cancel,
					s->my_pid);
			if (pgproto_put_backend_key(cout, s->my_pid, s->my_key)) {
				session_free(s, "out of memory");
				return 1;
			}
			continue;
		}
		if (evbuffer_remove_buffer(in, cout, 5 + len) != (int)(5 + len)) {
			session_free(s, "out of memory");
			return 1;
		}
		if (type == 'Z') {
			session_start_relay(s);
			bufferevent_enable(s->cbev, EV_READ);
		}
	}
	return 0;
}
